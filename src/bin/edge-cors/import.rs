//! `edge-cors import`: an Envoy `CorsPolicy`, an Istio `corsPolicy` or an AWS
//! `CorsConfiguration` as an edge-cors policy, with every behaviour
//! difference the user must know. Regexes are converted only when the
//! result is provably no wider than intended; anything else is refused.

use std::path::Path;

use serde_json::{Map, Value};

use crate::check::{self};
use crate::out::{self, Style};
use crate::render;
use crate::source::{self, Found};
use crate::{Fatal, From, Report};

/// One converted policy and what the user must know about it.
struct Imported {
    location: String,
    policy: Vec<(String, Value)>,
    differences: Vec<String>,
    refusals: Vec<String>,
}

pub fn run(from: From, path: &Path) -> Result<Report, Fatal> {
    let name = path.display().to_string();
    let imported: Vec<Imported> = match from {
        From::Envoy => {
            let (_, docs) = source::read_documents(path)?;
            let mut found = Vec::new();
            for (d, doc) in docs.iter().enumerate() {
                let prefix = if docs.len() > 1 { format!("document {}: ", d + 1) } else { String::new() };
                find_objects(
                    doc,
                    &prefix,
                    &mut |o| o.contains_key("allow_origin_string_match") || o.contains_key("allow_origin"),
                    &mut found,
                );
            }
            found.into_iter().map(|(loc, o)| from_envoy(&loc, &o)).collect()
        }
        From::Istio => {
            let (_, docs) = source::read_documents(path)?;
            let mut found = Vec::new();
            for (d, doc) in docs.iter().enumerate() {
                let prefix = if docs.len() > 1 { format!("document {}: ", d + 1) } else { String::new() };
                find_istio(doc, &prefix, &mut found);
            }
            found.into_iter().map(|(loc, o)| from_istio(&loc, &o)).collect()
        }
        From::Aws => source::load(path)?.into_iter().map(from_aws).collect(),
    };
    let what = match from {
        From::Envoy => "Envoy CorsPolicy",
        From::Istio => "Istio corsPolicy",
        From::Aws => "AWS CorsConfiguration",
    };
    if imported.is_empty() {
        return Err(Fatal(format!("{name}: no {what} found")));
    }
    let style = Style::stderr();
    // Several identical policies (one per route, say) are one policy.
    let first = &imported[0];
    if imported.iter().any(|i| i.policy != first.policy) {
        let mut s = String::new();
        s.push_str(&format!("{name} holds {} different CORS policies:\n", imported.len()));
        for i in &imported {
            s.push_str(&format!("  {}\n", i.location));
        }
        s.push_str(
            &style.fail(
                "not imported: one edge-cors filter applies one policy; import them one at a time (copy each into a file of its own)",
            ),
        );
        s.push('\n');
        return Ok(Report { stdout: String::new(), stderr: s, ok: false });
    }
    let i = first;
    let mut err = String::new();
    err.push_str(&format!("{} {what} at {}", style.bold("imported"), i.location));
    if imported.len() > 1 {
        err.push_str(&format!(" (and {} identical copies)", imported.len() - 1));
    }
    err.push('\n');
    if !i.refusals.is_empty() {
        for r in &i.refusals {
            err.push_str(&format!("  {} {r}\n", style.fail("refused:")));
        }
        err.push_str(
            &style.fail(&format!("not imported: {} cannot be converted safely", out::plural(i.refusals.len(), "entry", "entries"))),
        );
        err.push('\n');
        return Ok(Report { stdout: String::new(), stderr: err, ok: false });
    }
    // The result must pass the filter's own checks, public suffixes included.
    let object: Map<String, Value> = i.policy.iter().cloned().collect();
    let c = check::check_found(Found {
        location: i.location.clone(),
        kind: "edge-cors policy",
        object,
        raw: None,
        problems: vec![],
        suppressed: vec![],
        notes: vec![],
        renamed: vec![],
    });
    if !i.differences.is_empty() {
        err.push_str(&format!("{}\n", style.bold("behaviour differences to know:")));
        for (n, d) in i.differences.iter().enumerate() {
            let mut lines = d.lines();
            err.push_str(&format!("  {:>2}. {}\n", n + 1, lines.next().unwrap_or("")));
            for l in lines {
                err.push_str(&format!("      {l}\n"));
            }
        }
    }
    if !c.is_ok() {
        err.push_str(&check::describe("the converted policy", &c, &style));
        err.push_str(&style.fail("not imported: edge-cors refuses the converted policy (see the fixes above)"));
        err.push('\n');
        return Ok(Report { stdout: String::new(), stderr: err, ok: false });
    }
    err.push_str(&style.ok(&format!(
        "ok: valid edge-cors policy (checked with the filter's own code); {} to review",
        out::plural(i.differences.len(), "difference", "differences")
    )));
    err.push('\n');
    let json = render::policy_json(&i.policy, "");
    Ok(Report { stdout: format!("{json}\n"), stderr: err, ok: true })
}

/// Every object anywhere in `v` that `want` accepts, with its path.
fn find_objects(v: &Value, path: &str, want: &mut dyn FnMut(&Map<String, Value>) -> bool, out: &mut Vec<(String, Map<String, Value>)>) {
    match v {
        Value::Object(m) => {
            if want(m) {
                let loc = if path.is_empty() || path.ends_with(": ") { format!("{path}(top level)") } else { path.to_string() };
                out.push((loc, m.clone()));
                return;
            }
            for (k, child) in m {
                let sep = if path.is_empty() || path.ends_with(": ") { "" } else { "." };
                find_objects(child, &format!("{path}{sep}{k}"), want, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                find_objects(child, &format!("{path}[{i}]"), want, out);
            }
        }
        _ => {}
    }
}

fn find_istio(doc: &Value, prefix: &str, out: &mut Vec<(String, Map<String, Value>)>) {
    // A VirtualService's spec.http[].corsPolicy, or a bare corsPolicy object.
    let mut found = Vec::new();
    find_objects(doc, prefix, &mut |o| o.contains_key("corsPolicy"), &mut found);
    if found.is_empty() {
        find_objects(doc, prefix, &mut |o| o.contains_key("allowOrigins") || o.contains_key("allowOrigin"), out);
        return;
    }
    for (loc, holder) in found {
        if let Some(Value::Object(cors)) = holder.get("corsPolicy") {
            out.push((format!("{loc}.corsPolicy"), cors.clone()));
        }
    }
    // Several http routes each with a corsPolicy.
    let mut more = Vec::new();
    find_nested_cors(doc, prefix, &mut more);
    for m in more {
        if !out.iter().any(|(l, _)| *l == m.0) {
            out.push(m);
        }
    }
}

fn find_nested_cors(v: &Value, path: &str, out: &mut Vec<(String, Map<String, Value>)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let sep = if path.is_empty() || path.ends_with(": ") { "" } else { "." };
                let p = format!("{path}{sep}{k}");
                if k == "corsPolicy" {
                    if let Value::Object(c) = child {
                        out.push((p, c.clone()));
                    }
                } else {
                    find_nested_cors(child, &p, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                find_nested_cors(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

// ------------------------------------------------------------ origins

/// The origins one matcher allowed, converted.
struct Converted {
    entries: Vec<String>,
    notes: Vec<String>,
}

fn refuse(what: &str, why: &str) -> Result<Converted, String> {
    Err(format!("{what}: {why}; list the origins (\"https://app.example.com\") or subdomain patterns (\"https://*.example.com\") by hand"))
}

/// Envoy's `StringMatcher` / Istio's `StringMatch`.
fn convert_matcher(m: &Value, product: &str) -> Result<Converted, String> {
    let Some(obj) = m.as_object() else {
        // Istio's deprecated allowOrigin: plain strings, exact matches.
        if let Some(s) = m.as_str() {
            return Ok(Converted { entries: vec![s.to_string()], notes: vec![] });
        }
        return refuse(&m.to_string(), "is not a string matcher");
    };
    let get = |k: &str| obj.get(k).and_then(Value::as_str);
    if let Some(s) = get("exact") {
        return Ok(Converted { entries: vec![s.to_string()], notes: vec![] });
    }
    if let Some(p) = get("prefix") {
        return convert_prefix(p, product);
    }
    if let Some(s) = get("suffix") {
        return convert_suffix(s, product);
    }
    if let Some(c) = get("contains") {
        return refuse(&format!("contains {c:?}"), "a substring match cannot be expressed as origins (it also matched look-alikes)");
    }
    let regex = obj.get("safe_regex").and_then(|r| r.get("regex")).and_then(Value::as_str).or_else(|| get("regex"));
    if let Some(re) = regex {
        return convert_regex(re, product);
    }
    refuse(&m.to_string(), "is not an exact, prefix, suffix or regex matcher")
}

fn convert_prefix(p: &str, product: &str) -> Result<Converted, String> {
    match p {
        "" | "*" => Ok(Converted {
            entries: vec!["*".into()],
            notes: vec![format!("prefix {p:?} matched every origin ({product} allows all when a matcher matches \"*\"); it became \"*\"")],
        }),
        "https://" | "http://" => Ok(Converted { entries: vec![format!("{p}*")], notes: vec![] }),
        _ => {
            // A prefix that is a whole origin also matched look-alikes
            // (https://app.example.com.evil.test, other ports): narrow it.
            match edge_cors::origin::OriginEntry::parse(p) {
                Ok(edge_cors::origin::OriginEntry::Exact(o)) => Ok(Converted {
                    entries: vec![o.clone()],
                    notes: vec![format!(
                        "prefix {p:?} became the exact origin \"{o}\": the prefix also matched look-alikes such as \
                         {p}.evil.test and {p}:8443, which edge-cors no longer allows"
                    )],
                }),
                _ => refuse(&format!("prefix {p:?}"), "is not a whole origin, so it matched hosts you may not own"),
            }
        }
    }
}

fn convert_suffix(s: &str, _product: &str) -> Result<Converted, String> {
    let (domain, dotted) = match s.strip_prefix('.') {
        Some(d) => (d, true),
        None => (s, false),
    };
    let labels_ok = !domain.is_empty()
        && domain.split('.').count() >= 2
        && domain.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !labels_ok {
        return refuse(&format!("suffix {s:?}"), "is not a domain name with at least two labels");
    }
    let domain = domain.to_ascii_lowercase();
    let mut entries = vec![format!("https://*.{domain}")];
    let mut notes = vec![format!(
        "suffix {s:?} became \"https://*.{domain}\"{}: the suffix also matched http:// origins (add \"http://*.{domain}\" if you serve plain HTTP)",
        if dotted { "" } else { " and \"https://{domain}\"" }
    )];
    if !dotted {
        entries.insert(0, format!("https://{domain}"));
        notes.push(format!(
            "suffix {s:?} has no leading dot, so it also matched look-alikes such as https://evil{domain}; edge-cors matches subdomains at a dot only"
        ));
    }
    Ok(Converted { entries, notes })
}

/// Literal alternatives `(a|b)` expanded, so `https://(app|admin)\.x\.com`
/// becomes two regexes.
fn expand_alternatives(re: &str, depth: usize) -> Result<Vec<String>, String> {
    if depth > 4 {
        return Err("too many alternatives".into());
    }
    // Top-level `a|b`.
    let mut level = 0i32;
    let mut in_class = false;
    let mut prev_escape = false;
    for (i, c) in re.char_indices() {
        if prev_escape {
            prev_escape = false;
            continue;
        }
        match c {
            '\\' => prev_escape = true,
            '[' => in_class = true,
            ']' => in_class = false,
            '(' if !in_class => level += 1,
            ')' if !in_class => level -= 1,
            '|' if !in_class && level == 0 => {
                let mut out = expand_alternatives(re.get(..i).unwrap_or(""), depth + 1)?;
                out.extend(expand_alternatives(re.get(i + 1..).unwrap_or(""), depth + 1)?);
                return Ok(out);
            }
            _ => {}
        }
    }
    // A group of literal alternatives, not quantified.
    let bytes = re.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == b'(' {
            let inner_start = if re[i..].starts_with("(?:") { i + 3 } else { i + 1 };
            if let Some(close) = re[inner_start..].find(')').map(|c| c + inner_start) {
                let inner = &re[inner_start..close];
                let literal = inner.split('|').all(|alt| {
                    !alt.is_empty()
                        && alt.replace("\\.", "").bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/' || b == b':')
                });
                let quantified = matches!(bytes.get(close + 1), Some(b'?' | b'*' | b'+' | b'{'));
                if inner.contains('|') && literal && !quantified {
                    let mut out = Vec::new();
                    for alt in inner.split('|') {
                        let joined = format!("{}{alt}{}", &re[..i], &re[close + 1..]);
                        out.extend(expand_alternatives(&joined, depth + 1)?);
                    }
                    return Ok(out);
                }
            }
        }
        i += 1;
    }
    Ok(vec![re.to_string()])
}

/// A regex's wildcard-subdomain prefix: (any depth?, includes the base
/// itself?, matched characters beyond a host's?).
fn wildcard_prefix(s: &str) -> Option<(usize, bool, bool, bool)> {
    // Returns (length consumed, any depth, base included, too broad).
    const LABEL_CLASSES: [&str; 12] = [
        "[a-z0-9-]",
        "[a-zA-Z0-9-]",
        "[a-z0-9\\-]",
        "[a-zA-Z0-9\\-]",
        "[-a-z0-9]",
        "[-a-zA-Z0-9]",
        "[0-9a-z-]",
        "[\\w-]",
        "[\\w\\-]",
        "\\w",
        "[a-z0-9]",
        "[a-z]",
    ];
    let atoms: Vec<(&str, bool)> =
        LABEL_CLASSES.iter().map(|c| (*c, false)).chain([(".", true), ("[^.]", false), ("[^./]", false), ("[^/.]", false)]).collect();
    for (atom, broad) in &atoms {
        for q in ["+", "*"] {
            // `atom+\.`: one label (or, for `.`, anything).
            let simple = format!("{atom}{q}\\.");
            if s.starts_with(&simple) {
                return Some((simple.len(), *broad, false, *broad));
            }
            for open in ["(", "(?:"] {
                for outer in ["?", "*", "+"] {
                    let group = format!("{open}{atom}{q}\\.){outer}");
                    if s.starts_with(&group) {
                        let any_depth = *broad || outer != "?";
                        let base_too = outer != "+";
                        return Some((group.len(), any_depth, base_too, *broad));
                    }
                }
            }
        }
    }
    None
}

fn convert_regex(re: &str, product: &str) -> Result<Converted, String> {
    let what = format!("regex `{re}`");
    // A matcher that matches the string "*" allows every origin in Envoy.
    if matches!(re, ".*" | "^.*$" | ".+" | "\\*" | "^\\*$" | "(.*)") {
        return Ok(Converted {
            entries: vec!["*".into()],
            notes: vec![format!("{what} matched every origin ({product} allows all when a matcher matches \"*\"); it became \"*\"")],
        });
    }
    let alternatives = expand_alternatives(re, 0).map_err(|e| format!("{what}: {e}"))?;
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for alt in &alternatives {
        let c = convert_one_regex(alt, &what)?;
        for e in c.entries {
            if !entries.contains(&e) {
                entries.push(e);
            }
        }
        for n in c.notes {
            if !notes.contains(&n) {
                notes.push(n);
            }
        }
    }
    let list: Vec<String> = entries.iter().map(|e| format!("{e:?}")).collect();
    notes.insert(0, format!("{what} became {}", list.join(", ")));
    Ok(Converted { entries, notes })
}

fn convert_one_regex(re: &str, what: &str) -> Result<Converted, String> {
    let mut s = re.strip_prefix('^').unwrap_or(re).to_string();
    if let Some(t) = s.strip_suffix('$') {
        s = t.to_string();
    }
    let s = s.replace("\\/", "/");
    let mut notes = Vec::new();
    // Scheme.
    let (schemes, rest): (Vec<&str>, &str) = if let Some(r) = s.strip_prefix("https://") {
        (vec!["https"], r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (vec!["http"], r)
    } else if let Some(r) =
        s.strip_prefix("https?://").or_else(|| s.strip_prefix("(https|http)://")).or_else(|| s.strip_prefix("(http|https)://"))
    {
        (vec!["https", "http"], r)
    } else {
        return refuse(what, "does not start with a scheme (https://, http:// or https?://)");
    };
    if rest == ".*" || rest == ".+" {
        return Ok(Converted { entries: schemes.iter().map(|s| format!("{s}://*")).collect(), notes });
    }
    // Wildcard subdomains.
    let (rest, wildcard) = match wildcard_prefix(rest) {
        Some((len, any_depth, base_too, broad)) => {
            if !any_depth {
                notes.push(format!(
                    "it matched one label (a.example.com); edge-cors's *.domain also matches deeper subdomains (a.b.example.com)"
                ));
            }
            if broad {
                notes.push(format!(
                    "its `.` matched any character, including ones no host name has; edge-cors matches well-formed subdomains only"
                ));
            }
            (rest.get(len..).unwrap_or(""), Some(base_too))
        }
        None => (rest, None),
    };
    // The base domain, then an optional literal port.
    let (host_re, port) = match rest.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => (h, Some(p)),
        Some(_) => return refuse(what, "matches a range of ports; edge-cors needs each port written out (\"http://localhost:3000\")"),
        None => (rest, None),
    };
    let mut host = String::new();
    let mut unescaped_dot = false;
    let mut chars = host_re.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('.') => host.push('.'),
                Some('-') => host.push('-'),
                _ => return refuse(what, "uses regex features that cannot be converted safely"),
            },
            '.' => {
                unescaped_dot = true;
                host.push('.');
            }
            c if c.is_ascii_alphanumeric() || c == '-' => host.push(c.to_ascii_lowercase()),
            _ => return refuse(what, "uses regex features that cannot be converted safely"),
        }
    }
    if host.is_empty() || host.split('.').any(str::is_empty) {
        return refuse(what, "has no host name edge-cors can match");
    }
    if unescaped_dot {
        notes.push(format!(
            "its unescaped `.` in {host:?} matched any character (look-alikes such as {}); edge-cors matches the dot only",
            host.replacen('.', "x", 1)
        ));
    }
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    let mut entries = Vec::new();
    for scheme in &schemes {
        match wildcard {
            Some(base_too) => {
                if base_too {
                    entries.push(format!("{scheme}://{host}{port}"));
                }
                entries.push(format!("{scheme}://*.{host}{port}"));
            }
            None => entries.push(format!("{scheme}://{host}{port}")),
        }
    }
    Ok(Converted { entries, notes })
}

// ------------------------------------------------------------ products

fn split_list(v: &Value) -> Vec<Value> {
    match v {
        Value::String(s) => s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(|x| Value::String(x.to_string())).collect(),
        Value::Array(a) => a.clone(),
        _ => vec![],
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        // BoolValue written in its message form.
        Value::Object(m) => m.get("value").and_then(Value::as_bool),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Seconds from an Envoy max_age string or an Istio duration ("24h", "1m30s", "3600s").
fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            if let Ok(n) = s.trim().parse::<u64>() {
                return Some(n);
            }
            let mut total = 0f64;
            let mut num = String::new();
            let mut chars = s.trim().chars().peekable();
            while let Some(c) = chars.next() {
                if c.is_ascii_digit() || c == '.' {
                    num.push(c);
                    continue;
                }
                let n: f64 = num.parse().ok()?;
                num.clear();
                let unit = if c == 'm' && chars.peek() == Some(&'s') {
                    chars.next();
                    0.001
                } else {
                    match c {
                        'h' => 3600.0,
                        'm' => 60.0,
                        's' => 1.0,
                        _ => return None,
                    }
                };
                total += n * unit;
            }
            if !num.is_empty() {
                return None;
            }
            Some(total.floor() as u64)
        }
        _ => None,
    }
}

/// Shared by Envoy and Istio (Istio configures Envoy's CORS filter).
struct Fields<'a> {
    origins: Vec<&'a Value>,
    methods: Option<&'a Value>,
    headers: Option<&'a Value>,
    expose: Option<&'a Value>,
    max_age: Option<&'a Value>,
    credentials: Option<&'a Value>,
    private_network: Option<&'a Value>,
}

fn convert_common(location: &str, f: Fields<'_>, product: &str, mut differences: Vec<String>) -> Imported {
    let mut refusals = Vec::new();
    let mut origins: Vec<Value> = Vec::new();
    for m in &f.origins {
        match convert_matcher(m, product) {
            Ok(c) => {
                for e in c.entries {
                    if !origins.contains(&Value::String(e.clone())) {
                        origins.push(Value::String(e));
                    }
                }
                if !c.notes.is_empty() {
                    differences.push(c.notes.join("\n"));
                }
            }
            Err(r) => refusals.push(r),
        }
    }
    if origins.len() > 1 && origins.contains(&Value::String("*".into())) {
        origins = vec![Value::String("*".into())];
        differences.push("one matcher allowed every origin, so the others had no effect; the policy is [\"*\"]".into());
    }
    let credentials = f.credentials.and_then(boolean).unwrap_or(false);
    let mut policy: Vec<(String, Value)> = vec![("allow_origins".into(), Value::Array(origins.clone()))];
    if let Some(m) = f.methods {
        let l = split_list(m);
        if !l.is_empty() {
            policy.push(("allow_methods".into(), Value::Array(l)));
        }
    }
    if let Some(h) = f.headers {
        let l = split_list(h);
        if !l.is_empty() {
            policy.push(("allow_headers".into(), Value::Array(l)));
        }
    }
    if let Some(h) = f.expose {
        let l = split_list(h);
        if !l.is_empty() {
            policy.push(("expose_headers".into(), Value::Array(l)));
        }
    }
    if let Some(a) = f.max_age {
        match seconds(a) {
            Some(n) if n > 86_400 => {
                differences.push(format!(
                    "max age {a} is above edge-cors's limit; it became 86400 (browsers cap it lower anyway: Chromium at 7200, Firefox at 86400)"
                ));
                policy.push(("max_age".into(), Value::from(86_400u64)));
            }
            Some(n) => policy.push(("max_age".into(), Value::from(n))),
            None => refusals.push(format!("max age {a}: not a number of seconds or a duration")),
        }
    }
    if credentials {
        policy.push(("allow_credentials".into(), Value::Bool(true)));
    }
    if f.private_network.and_then(boolean) == Some(true) {
        policy.push(("allow_private_network".into(), Value::Bool(true)));
    }
    if origins == [Value::String("*".into())] && !credentials {
        differences.push(format!(
            "{product} echoed the request's origin even for \"allow every origin\"; edge-cors answers Access-Control-Allow-Origin: * \
             (the same for browsers, and shared caches need no Vary)"
        ));
    }
    differences.push(format!("{product} answered allowed preflights with 200; edge-cors answers 204 (any 2xx is fine for browsers)"));
    differences.push(format!(
        "{product} did not check the requested method and headers (it sent its lists and left the verdict to the browser); \
         edge-cors refuses a preflight asking for anything else with 403 and a body naming the part (origin, method or header)"
    ));
    differences.push(format!(
        "{product} left the upstream's own Access-Control-* headers on responses to origins it did not match; \
         edge-cors removes them from every response, so no stray * or duplicate reaches the browser"
    ));
    differences
        .push(format!("{product} did not add Vary: Origin; edge-cors does, so shared caches keep answers for different origins apart"));
    differences.push(format!(
        "{product}'s CORS filter skipped requests without a route, so the proxy's 404 had no CORS headers; \
         edge-cors adds them to every response, local replies included"
    ));
    Imported { location: location.to_string(), policy, differences, refusals }
}

/// The origin matchers: the list under the current key, else the list under
/// its deprecated predecessor (both Envoy and Istio renamed theirs).
fn origin_matchers<'a>(o: &'a Map<String, Value>, current: &str, deprecated: &str) -> Vec<&'a Value> {
    [current, deprecated].into_iter().find_map(|k| o.get(k).and_then(Value::as_array)).map(|a| a.iter().collect()).unwrap_or_default()
}

fn from_envoy(location: &str, o: &Map<String, Value>) -> Imported {
    let mut differences = Vec::new();
    let origins = origin_matchers(o, "allow_origin_string_match", "allow_origin");
    match o.get("forward_not_matching_preflights").and_then(boolean) {
        Some(false) => differences.push(
            "forward_not_matching_preflights: false made Envoy answer preflights from other origins with 200 and no CORS headers; \
             edge-cors answers them 403 with the reason"
                .into(),
        ),
        _ => differences.push(
            "Envoy forwarded preflights from origins it did not match to the upstream (forward_not_matching_preflights defaults to true); \
             edge-cors answers every preflight itself, refused ones with 403: the upstream no longer sees OPTIONS requests"
                .into(),
        ),
    }
    if o.contains_key("filter_enabled") || o.contains_key("shadow_enabled") {
        differences.push(
            "filter_enabled / shadow_enabled (runtime fractions) have no equivalent: edge-cors enforces the policy on every request".into(),
        );
    }
    let f = Fields {
        origins,
        methods: o.get("allow_methods"),
        headers: o.get("allow_headers"),
        expose: o.get("expose_headers"),
        max_age: o.get("max_age"),
        credentials: o.get("allow_credentials"),
        private_network: o.get("allow_private_network_access"),
    };
    convert_common(location, f, "Envoy", differences)
}

fn from_istio(location: &str, o: &Map<String, Value>) -> Imported {
    let mut differences = Vec::new();
    let origins = origin_matchers(o, "allowOrigins", "allowOrigin");
    match o.get("unmatchedPreflights").and_then(Value::as_str) {
        Some("IGNORE") => differences.push(
            "unmatchedPreflights: IGNORE kept preflights from other origins away from the upstream without CORS headers; \
             edge-cors answers them 403 with the reason"
                .into(),
        ),
        _ => differences.push(
            "Istio forwarded preflights from origins it did not match to the upstream (unmatchedPreflights defaults to FORWARD); \
             edge-cors answers every preflight itself, refused ones with 403: the upstream no longer sees OPTIONS requests"
                .into(),
        ),
    }
    let f = Fields {
        origins,
        methods: o.get("allowMethods"),
        headers: o.get("allowHeaders"),
        expose: o.get("exposeHeaders"),
        max_age: o.get("maxAge"),
        credentials: o.get("allowCredentials"),
        private_network: None,
    };
    convert_common(location, f, "Istio", differences)
}

fn from_aws(found: Found) -> Imported {
    let mut refusals: Vec<String> = found.problems.iter().map(|p| format!("{} = {}: {}", p.field, p.value, p.problem)).collect();
    let mut policy = render::canonical(&found.object);
    // Values CloudFormation computes are refusals above; unknown keys stay
    // for the filter's check to name.
    policy.retain(|(_, v)| !v.is_null());
    let mut differences: Vec<String> = found.notes.clone();
    differences.push(
        "the AWS spelling (AllowOrigins...) became edge-cors's (allow_origins...); edge-cors accepts both, the meaning is the same".into(),
    );
    differences
        .push("as in API Gateway, edge-cors answers preflights itself and replaces the backend's own CORS headers: no change there".into());
    differences
        .push("edge-cors refuses a preflight asking for a method or header outside the lists with 403 and a body naming the part".into());
    differences.push(
        "API Gateway sent preflights to a $default route's authorizer when the API had one (the browser then saw a CORS error); \
         edge-cors, placed before auth, answers every preflight first"
            .into(),
    );
    differences.push("edge-cors adds Vary: Origin whenever the answer depends on the origin".into());
    if found.object.is_empty() {
        refusals.push("the CORS configuration is empty".into());
    }
    Imported { location: found.location, policy, differences, refusals }
}
