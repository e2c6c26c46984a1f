//! Regex origin matchers as `allow_origins` entries. Only the shapes people
//! write for origins convert: a scheme, an optional wildcard-subdomain part,
//! a literal host and an optional literal port, with literal alternatives
//! (`(app|admin)`) expanded. Anything else could match origins the entries
//! would not, or the other way round, so it is refused.

use super::matcher::{refuse, Converted};
use super::push_new;

/// Regexes that match the string "*", which Envoy takes as "allow every
/// origin".
const MATCH_ALL: [&str; 6] = [".*", "^.*$", ".+", "\\*", "^\\*$", "(.*)"];

/// How deep literal alternatives may nest before the regex is refused.
const MAX_ALTERNATIVE_DEPTH: usize = 4;

/// Converts one regex; `product` names the proxy in notes.
pub fn convert(re: &str, product: &str) -> Result<Converted, String> {
    let what = format!("regex `{re}`");
    if MATCH_ALL.contains(&re) {
        return Ok(Converted {
            entries: vec!["*".into()],
            notes: vec![format!("{what} matched every origin ({product} allows all when a matcher matches \"*\"); it became \"*\"")],
            wider: vec![],
        });
    }
    let alternatives = expand_alternatives(re, 0).map_err(|e| format!("{what}: {e}"))?;
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut wider = Vec::new();
    for alt in &alternatives {
        let c = convert_one(alt, &what)?;
        c.entries.into_iter().for_each(|e| push_new(&mut entries, e));
        c.notes.into_iter().for_each(|n| push_new(&mut notes, n));
        c.wider.into_iter().for_each(|w| push_new(&mut wider, w));
    }
    let list: Vec<String> = entries.iter().map(|e| format!("{e:?}")).collect();
    notes.insert(0, format!("{what} became {}", list.join(", ")));
    Ok(Converted { entries, notes, wider })
}

/// Literal alternatives expanded, so `https://(app|admin)\.x\.com` becomes
/// two regexes: a top-level `a|b`, and a group of literal alternatives that
/// no quantifier follows.
fn expand_alternatives(re: &str, depth: usize) -> Result<Vec<String>, String> {
    if depth > MAX_ALTERNATIVE_DEPTH {
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

/// A regex's leading wildcard-subdomain part, such as `[a-z0-9-]+\.` or
/// `(.*\.)?`, and what it matched.
#[derive(Debug, PartialEq)]
struct WildcardPrefix {
    /// Bytes of the regex it takes up.
    len: usize,
    /// Subdomains at any depth (a.b.example.com), not only one label.
    any_depth: bool,
    /// The base domain itself too (the part is optional).
    base_too: bool,
    /// Characters no host name has: an unescaped `.` matched any.
    too_broad: bool,
    /// Label characters edge-cors's `*.` matches that the class did not
    /// (empty: none), in words.
    missing: &'static str,
}

/// Character classes that match within one DNS label, and the label
/// characters edge-cors's `*.` matches (lower-case letters, digits, `-`,
/// `_`) that each one did not.
const LABEL_CLASSES: [(&str, &str); 16] = [
    ("[a-z0-9-]", "_"),
    ("[a-zA-Z0-9-]", "_"),
    ("[a-z0-9\\-]", "_"),
    ("[a-zA-Z0-9\\-]", "_"),
    ("[-a-z0-9]", "_"),
    ("[-a-zA-Z0-9]", "_"),
    ("[0-9a-z-]", "_"),
    ("[\\w-]", ""),
    ("[\\w\\-]", ""),
    ("\\w", "-"),
    ("[a-z0-9]", "- or _"),
    ("[a-z]", "digits, - or _"),
    ("[^.]", ""),
    ("[^./]", ""),
    ("[^/.]", ""),
    // Not a label class: any character, dots included.
    (".", ""),
];

fn wildcard_prefix(s: &str) -> Option<WildcardPrefix> {
    for (atom, missing) in LABEL_CLASSES {
        let too_broad = atom == ".";
        for q in ["+", "*"] {
            // `atom+\.`: one label (or, for `.`, anything).
            let simple = format!("{atom}{q}\\.");
            if s.starts_with(&simple) {
                return Some(WildcardPrefix { len: simple.len(), any_depth: too_broad, base_too: false, too_broad, missing });
            }
            // `(atom+\.)?`, `(?:atom+\.)*`...: the group's quantifier
            // says how many labels, and whether none.
            for open in ["(", "(?:"] {
                for outer in ["?", "*", "+"] {
                    let group = format!("{open}{atom}{q}\\.){outer}");
                    if s.starts_with(&group) {
                        let any_depth = too_broad || outer != "?";
                        return Some(WildcardPrefix { len: group.len(), any_depth, base_too: outer != "+", too_broad, missing });
                    }
                }
            }
        }
    }
    None
}

/// Converts one regex without top-level alternatives.
fn convert_one(re: &str, what: &str) -> Result<Converted, String> {
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
        return Ok(Converted { entries: schemes.iter().map(|s| format!("{s}://*")).collect(), notes, wider: vec![] });
    }
    // Wildcard subdomains.
    let wildcard = wildcard_prefix(rest);
    if let Some(w) = &wildcard {
        if !w.any_depth {
            notes.push(
                "it matched one label (a.example.com); edge-cors's *.domain also matches deeper subdomains (a.b.example.com)".to_string(),
            );
        }
        if w.too_broad {
            notes.push(
                "its `.` matched any character, including ones no host name has; edge-cors matches well-formed subdomains only".to_string(),
            );
        }
    }
    let rest = rest.get(wildcard.as_ref().map_or(0, |w| w.len)..).unwrap_or("");
    // The base domain, then an optional literal port.
    let (host_re, port) = match rest.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => (h, Some(p)),
        Some(_) => return refuse(what, "matches a range of ports; edge-cors needs each port written out (\"http://localhost:3000\")"),
        None => (rest, None),
    };
    let mut host = String::new();
    let mut unescaped_dot = false;
    let mut chars = host_re.chars();
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
    // What the `*.` entry matches that the regex did not.
    let mut wider = Vec::new();
    if let Some(w) = &wildcard {
        let entry = format!("{}://*.{host}{port}", schemes.first().copied().unwrap_or("https"));
        if !w.any_depth {
            wider
                .push(format!("{what} matched one label before {host} (a.{host}); \"{entry}\" also allows deeper subdomains (a.b.{host})"));
        }
        if !w.missing.is_empty() {
            wider.push(format!("{what} allowed no {} in the subdomain; \"{entry}\" allows them too (such as a_b-1.{host})", w.missing));
        }
    }
    let mut entries = Vec::new();
    for scheme in &schemes {
        match &wildcard {
            Some(w) => {
                if w.base_too {
                    entries.push(format!("{scheme}://{host}{port}"));
                }
                entries.push(format!("{scheme}://*.{host}{port}"));
            }
            None => entries.push(format!("{scheme}://{host}{port}")),
        }
    }
    Ok(Converted { entries, notes, wider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_convert_to_entries_or_are_refused() {
        // (regex, the entries, or a part of the refusal)
        let cases: [(&str, Result<&[&str], &str>); 34] = [
            (".*", Ok(&["*"])),
            ("^\\*$", Ok(&["*"])),
            ("(.*)", Ok(&["*"])),
            ("https://app\\.example\\.com", Ok(&["https://app.example.com"])),
            ("^https://app\\.example\\.com$", Ok(&["https://app.example.com"])),
            ("https:\\/\\/app\\.example\\.com", Ok(&["https://app.example.com"])),
            ("https://App\\.Example\\.COM", Ok(&["https://app.example.com"])),
            ("https://app.example.com", Ok(&["https://app.example.com"])),
            ("http://localhost:3000", Ok(&["http://localhost:3000"])),
            ("https?://app\\.example\\.com", Ok(&["https://app.example.com", "http://app.example.com"])),
            ("(https|http)://app\\.example\\.com:8080", Ok(&["https://app.example.com:8080", "http://app.example.com:8080"])),
            ("^(http|https)://localhost:3000$", Ok(&["http://localhost:3000", "https://localhost:3000"])),
            ("https://.+", Ok(&["https://*"])),
            ("https?://.*", Ok(&["https://*", "http://*"])),
            ("https://.*\\.example\\.com", Ok(&["https://*.example.com"])),
            ("https://[a-z0-9-]+\\.example\\.com", Ok(&["https://*.example.com"])),
            ("https://[^.]+\\.example\\.com", Ok(&["https://*.example.com"])),
            ("https://\\w+\\.example\\.com:8443", Ok(&["https://*.example.com:8443"])),
            ("https://([a-z0-9-]+\\.)+example\\.com", Ok(&["https://*.example.com"])),
            ("https://([a-z0-9-]+\\.)*example\\.com", Ok(&["https://example.com", "https://*.example.com"])),
            ("https://(?:[a-z0-9-]+\\.)?example\\.com", Ok(&["https://example.com", "https://*.example.com"])),
            ("https://(.*\\.)?example\\.com", Ok(&["https://example.com", "https://*.example.com"])),
            ("^https://(admin|ops)\\.corp\\.example$", Ok(&["https://admin.corp.example", "https://ops.corp.example"])),
            ("https://x\\.com|https://y\\.com", Ok(&["https://x.com", "https://y.com"])),
            ("https://(a|b|(c|d))\\.com", Ok(&["https://a.com", "https://b.com", "https://c.com", "https://d.com"])),
            ("https://(a|b)\\.com|https://a\\.com", Ok(&["https://a.com", "https://b.com"])),
            ("ftp://x\\.com", Err("does not start with a scheme")),
            ("app\\.example\\.com", Err("does not start with a scheme")),
            ("https://app\\.example\\.com:[0-9]+", Err("matches a range of ports")),
            ("https://a(b|c)+\\.com", Err("uses regex features that cannot be converted safely")),
            ("https://\\d+\\.example\\.com", Err("uses regex features that cannot be converted safely")),
            ("https://a\\.\\.com", Err("has no host name edge-cors can match")),
            ("https://", Err("has no host name edge-cors can match")),
            ("https://(a|b)\\.(c|d)\\.(e|f)\\.(g|h)\\.(i|j)\\.com", Err("too many alternatives")),
        ];
        for (re, want) in cases {
            match (convert(re, "Envoy"), want) {
                (Ok(got), Ok(entries)) => assert_eq!(got.entries, entries, "{re}"),
                (Err(got), Err(part)) => {
                    assert!(got.starts_with(&format!("regex `{re}`: ")), "{re}: {got}");
                    assert!(got.contains(part), "{re}: {got}");
                }
                (got, want) => panic!("{re}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn what_a_regex_also_matched_is_said() {
        // (regex, a part of one note)
        let cases = [
            (".*", "matched every origin (Envoy allows all when a matcher matches \"*\")"),
            ("^https://(a|b)\\.x\\.com$", "became \"https://a.x.com\", \"https://b.x.com\""),
            ("https://[a-z]+\\.example\\.com", "it matched one label (a.example.com)"),
            ("https://(?:[a-z]+\\.)?example\\.com", "it matched one label (a.example.com)"),
            ("https://.*\\.example\\.com", "its `.` matched any character, including ones no host name has"),
            (
                "https://app.example.com",
                "its unescaped `.` in \"app.example.com\" matched any character (look-alikes such as appxexample.com)",
            ),
        ];
        for (re, part) in cases {
            let got = convert(re, "Envoy").unwrap_or_else(|e| panic!("{re}: {e}"));
            assert!(got.notes.iter().any(|n| n.contains(part)), "{re}: {:?}", got.notes);
        }
        // Exactly what was written: nothing to say but the conversion.
        let got = convert("https://app\\.example\\.com", "Envoy").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(got.notes, ["regex `https://app\\.example\\.com` became \"https://app.example.com\""]);
    }

    #[test]
    fn wildcard_prefixes_are_measured() {
        let w = |len, any_depth, base_too, too_broad, missing| Some(WildcardPrefix { len, any_depth, base_too, too_broad, missing });
        let cases = [
            ("[a-z0-9-]+\\.example\\.com", w(12, false, false, false, "_")),
            ("\\w*\\.example\\.com", w(5, false, false, false, "-")),
            (".*\\.example\\.com", w(4, true, false, true, "")),
            ("([a-z]+\\.)?example\\.com", w(11, false, true, false, "digits, - or _")),
            ("(?:\\w*\\.)*example\\.com", w(10, true, true, false, "-")),
            ("([^.]+\\.)+example\\.com", w(10, true, false, false, "")),
            ("(.+\\.)?example\\.com", w(7, true, true, true, "")),
            ("app\\.example\\.com", None),
            ("[A-Z]+\\.example\\.com", None),
            ("([a-z]+\\.){2}example\\.com", None),
        ];
        for (re, want) in cases {
            assert_eq!(wildcard_prefix(re), want, "{re}");
        }
    }
}
