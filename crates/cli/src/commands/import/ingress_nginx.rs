//! ingress-nginx's CORS annotations (`--from ingress-nginx`): every
//! `networking.k8s.io/v1` Ingress of the file (multi-document YAML) becomes
//! part of one policy, a rule per host, and per path where the Ingresses of
//! one host differ; an Ingress without CORS on a host or path another one
//! configures becomes `"cors": "off"` there.
//!
//! What the conversion relies on (kubernetes/ingress-nginx,
//! internal/ingress/annotations/cors/main.go, and the annotations page
//! https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#enable-cors):
//! - `enable-cors` must parse as true; every other annotation then falls back
//!   to its default when absent or invalid: origin `*`, credentials true,
//!   methods `GET, PUT, POST, DELETE, PATCH, OPTIONS`, headers
//!   `DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization`,
//!   no expose headers, max age 1728000.
//! - `cors-allow-origin` is a comma-separated list; `*` anywhere makes it
//!   `*`; an entry must match `^(https?://(\*\.)?[A-Za-z0-9\-\.]*(:[0-9]+)?|\*)?$`
//!   or is skipped. The nginx template matches the list as a
//!   case-insensitive regex (`~*`) anchored at the end, the `*` of `*.` as
//!   one label (`[A-Za-z0-9\-]+`), and echoes the matched origin; `*` is
//!   answered as `*`, with `Access-Control-Allow-Credentials` as configured.
//! - methods must match `^([A-Za-z]+,?\s?)+$`, headers
//!   `^([A-Za-z0-9\-\_]+,?\s?)+$`, expose headers the same or `*`.
//! - Paths: `Prefix` matches whole segments (Kubernetes), `Exact` the path
//!   itself, `ImplementationSpecific` is an nginx prefix location (bytes),
//!   or a regex with `use-regex`/`rewrite-target`.

use std::path::Path;

use serde_json::{Map, Value};

use super::envoy::{self, Fields};
use super::find::{self, Block};
use super::matcher::{refuse, Converted};
use super::scoped::{self, PathMatch, Scope};
use super::{push_new, Imported};
use crate::Fatal;

const PREFIX: &str = "nginx.ingress.kubernetes.io/";
const DEFAULT_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS";
const DEFAULT_HEADERS: &str = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization";
const DEFAULT_MAX_AGE: u64 = 1_728_000;

/// Every Ingress object, CORS or not (the ones without CORS are "off").
pub fn find(doc: &Value, path: &str, out: &mut Vec<Block>) {
    find::objects(doc, path, &mut |o| o.get("kind").and_then(Value::as_str) == Some("Ingress"), out);
}

/// The Ingresses of the file as one policy (or why not).
pub fn import(path: &Path) -> Result<Vec<Imported>, Fatal> {
    let ingresses = find::in_file(path, find)?;
    if ingresses.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![convert(&ingresses)])
}

fn annotation<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get("metadata").and_then(|m| m.get("annotations")).and_then(|a| a.get(format!("{PREFIX}{key}"))).and_then(Value::as_str)
}

/// Go's strconv.ParseBool, which ingress-nginx's annotation parser uses.
fn go_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `namespace/name` of an Ingress, for people.
fn ingress_name(o: &Map<String, Value>) -> String {
    let field = |k: &str| o.get("metadata").and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_string);
    match (field("namespace"), field("name")) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n,
        _ => "(unnamed)".into(),
    }
}

/// The ingress-nginx list regexes: comma-separated names of `chars` (and
/// `*` where `star`), spaces after commas allowed.
fn valid_list(s: &str, chars: fn(char) -> bool, star: bool) -> bool {
    !s.trim().is_empty()
        && s.split(',').all(|e| {
            let e = e.trim();
            e.is_empty() || (star && e == "*") || e.chars().all(chars)
        })
        && !s.starts_with([',', ' '])
}

/// One `cors-allow-origin` entry as ingress-nginx validates it.
fn valid_origin(o: &str) -> bool {
    let rest = match o.strip_prefix("https://").or_else(|| o.strip_prefix("http://")) {
        Some(r) => r,
        None => return o == "*" || o.is_empty(),
    };
    let rest = rest.strip_prefix("*.").unwrap_or(rest);
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// One valid origin as `allow_origins` entries: ingress-nginx matched it
/// case-insensitively at the end of the Origin, a `*.` as one label.
pub fn origin(v: &Value) -> Result<Converted, String> {
    let Some(raw) = v.as_str() else {
        return refuse(&v.to_string(), "is not a string");
    };
    let what = format!("origin {raw:?}");
    if raw == "*" {
        return Ok(Converted { entries: vec!["*".into()], notes: vec![], wider: vec![] });
    }
    let lower = raw.to_ascii_lowercase();
    let mut notes = Vec::new();
    let mut wider = Vec::new();
    let entry = match edge_cors_engine::origins::OriginEntry::parse(&lower) {
        Ok(e) => e.to_string(),
        Err(e) => return refuse(&what, &format!("{} ({})", e.problem, e.fix)),
    };
    if let Some(base) = lower.split_once("://").and_then(|(_, h)| h.strip_prefix("*.")) {
        wider.push(format!(
            "{what}: ingress-nginx matched its * as one label ([A-Za-z0-9-]+, such as a.{base}); \"{entry}\" also allows \
             deeper subdomains (a.b.{base})"
        ));
    } else if entry != lower {
        // An explicit default port: browsers never send it, so it matched none.
        wider.push(format!(
            "{what}: ingress-nginx compared it with the Origin as written, and browsers send no default port, so it matched \
             none; edge-cors allows \"{entry}\""
        ));
    } else if entry != raw {
        notes.push(format!("{what} is matched as \"{entry}\": ingress-nginx compared origins ignoring case, as edge-cors does"));
    }
    Ok(Converted { entries: vec![entry], notes, wider })
}

/// One CORS-enabled Ingress's policy.
fn policy(o: &Map<String, Value>, name: &str) -> Imported {
    let mut differences = Vec::new();
    let mut defaults = Vec::new();
    let mut refusals = Vec::new();
    // Origins: `*` anywhere is `*`; invalid entries are skipped.
    let origins: Vec<Value> = match annotation(o, "cors-allow-origin") {
        None => {
            defaults.push("cors-allow-origin (*)");
            vec![Value::String("*".into())]
        }
        Some(list) => {
            let entries: Vec<&str> = list.split(',').map(str::trim).collect();
            if entries.contains(&"*") {
                if entries.len() > 1 {
                    differences.push(format!(
                        "Ingress {name}: cors-allow-origin lists *, so ingress-nginx allowed every origin; the others had no effect"
                    ));
                }
                vec![Value::String("*".into())]
            } else {
                let (good, bad): (Vec<&str>, Vec<&str>) = entries.into_iter().filter(|e| !e.is_empty()).partition(|e| valid_origin(e));
                for b in &bad {
                    differences.push(format!("Ingress {name}: cors-allow-origin entry {b:?} is not an origin ingress-nginx accepts; it skipped it, and so does the import"));
                }
                if good.is_empty() {
                    refusals.push(format!(
                        "Ingress {name}: cors-allow-origin {list:?} has no origin ingress-nginx accepts (https://host or http://host:port, or *); list the origins"
                    ));
                }
                good.into_iter().map(|e| Value::String(e.to_string())).collect()
            }
        }
    };
    let list = |key: &str,
                chars: fn(char) -> bool,
                star: bool,
                default: &'static str,
                differences: &mut Vec<String>,
                defaults: &mut Vec<String>|
     -> Option<Value> {
        match annotation(o, key) {
            Some(v) if valid_list(v, chars, star) => Some(Value::String(v.to_string())),
            Some(v) => {
                let used = if default.is_empty() { "none".to_string() } else { default.to_string() };
                differences.push(format!(
                    "Ingress {name}: {key} {v:?} is not a list ingress-nginx accepts, so it used its default ({used}), and so does the import"
                ));
                (!default.is_empty()).then(|| Value::String(default.into()))
            }
            None => {
                if !default.is_empty() {
                    defaults.push(format!("{key} ({default})"));
                }
                (!default.is_empty()).then(|| Value::String(default.into()))
            }
        }
    };
    let mut defaults: Vec<String> = defaults.into_iter().map(str::to_string).collect();
    let methods =
        list("cors-allow-methods", |c| c.is_ascii_alphabetic() || c == ' ', false, DEFAULT_METHODS, &mut differences, &mut defaults);
    let headers = list(
        "cors-allow-headers",
        |c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ' ',
        false,
        DEFAULT_HEADERS,
        &mut differences,
        &mut defaults,
    );
    let expose = list(
        "cors-expose-headers",
        |c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ' ',
        true,
        "",
        &mut differences,
        &mut defaults,
    );
    let credentials = match annotation(o, "cors-allow-credentials").map(|c| (c, go_bool(c))) {
        Some((_, Some(b))) => b,
        Some((c, None)) => {
            differences
                .push(format!("Ingress {name}: cors-allow-credentials {c:?} is not a boolean, so ingress-nginx used its default (true)"));
            true
        }
        None => {
            defaults.push("cors-allow-credentials (true)".into());
            true
        }
    };
    let max_age = match annotation(o, "cors-max-age").map(|m| (m, m.trim().parse::<u64>().ok())) {
        Some((_, Some(n))) => n,
        Some((m, None)) => {
            differences
                .push(format!("Ingress {name}: cors-max-age {m:?} is not a number, so ingress-nginx used its default ({DEFAULT_MAX_AGE})"));
            DEFAULT_MAX_AGE
        }
        None => {
            defaults.push(format!("cors-max-age ({DEFAULT_MAX_AGE})"));
            DEFAULT_MAX_AGE
        }
    };
    if !defaults.is_empty() {
        differences.push(format!("Ingress {name}: absent annotations took ingress-nginx's defaults: {}", defaults.join(", ")));
    }
    // `*` with credentials: ingress-nginx sent both, and browsers refuse a
    // credentialed request under `*`; what worked is `*` without them.
    let any = origins.iter().any(|o| o == "*");
    let credentials = if any && credentials {
        differences.push(format!(
            "Ingress {name}: ingress-nginx answered Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true, \
             which browsers refuse for a credentialed request (cookies, Authorization sent by the browser); only requests without \
             credentials worked, so the policy allows every origin without credentials, which is what browsers did"
        ));
        false
    } else {
        credentials
    };
    let credentials_value = Value::Bool(credentials);
    let max_age_value = Value::from(max_age);
    let fields = Fields {
        origins: origins.iter().collect(),
        methods: methods.as_ref(),
        headers: headers.as_ref(),
        expose: expose.as_ref(),
        max_age: Some(&max_age_value),
        credentials: Some(&credentials_value),
        private_network: None,
    };
    let mut imported = envoy::convert_with(name, fields, "ingress-nginx", differences, &origin, false);
    imported.refusals.extend(refusals);
    // ingress-nginx answered `*` as `*` (the note is Envoy's echo).
    imported.differences.retain(|d| !d.starts_with("ingress-nginx echoed"));
    imported
}

/// Where one Ingress applies: (host or none, path) pairs, and refusals.
fn paths(o: &Map<String, Value>, name: &str, refusals: &mut Vec<String>) -> Vec<(Option<String>, PathMatch, String)> {
    let regex = ["use-regex", "rewrite-target"].iter().any(|k| match *k {
        "use-regex" => annotation(o, k).and_then(go_bool) == Some(true),
        _ => annotation(o, k).is_some(),
    });
    let spec = o.get("spec");
    let rules: Vec<&Value> = spec.and_then(|s| s.get("rules")).and_then(Value::as_array).map(|r| r.iter().collect()).unwrap_or_default();
    let mut out = Vec::new();
    if rules.is_empty() {
        // Only a defaultBackend: every host, every path.
        out.push((None, PathMatch::Any, format!("Ingress {name} (spec.defaultBackend)")));
    }
    for (i, rule) in rules.iter().enumerate() {
        let host = rule.get("host").and_then(Value::as_str).map(str::to_ascii_lowercase);
        let list: Vec<&Value> =
            rule.get("http").and_then(|h| h.get("paths")).and_then(Value::as_array).map(|p| p.iter().collect()).unwrap_or_default();
        if list.is_empty() {
            out.push((host.clone(), PathMatch::Any, format!("Ingress {name} spec.rules[{i}]")));
        }
        for (j, p) in list.iter().enumerate() {
            let at = format!("Ingress {name} spec.rules[{i}].http.paths[{j}]");
            let value = p.get("path").and_then(Value::as_str).unwrap_or("/");
            let kind = p.get("pathType").and_then(Value::as_str).unwrap_or("ImplementationSpecific");
            let path = match kind {
                _ if regex => {
                    refusals.push(format!(
                        "{at}: path {value:?} is a regex (use-regex or rewrite-target), which edge-cors's path matches cannot express; \
                         write the rule by hand with match.routes or a path prefix"
                    ));
                    PathMatch::Any
                }
                "Prefix" => PathMatch::segments(value),
                "Exact" => PathMatch::Exact(value.to_string()),
                _ => PathMatch::bytes(value),
            };
            out.push((host.clone(), path, at));
        }
    }
    out
}

/// The Ingresses as one policy with a rule per host, per path where the
/// Ingresses of a host differ.
fn convert(ingresses: &[Block]) -> Imported {
    let names: Vec<String> = ingresses.iter().map(|b| ingress_name(&b.object)).collect();
    let location = format!("{} {}", if names.len() == 1 { "Ingress" } else { "Ingresses" }, names.join(", "));
    let mut out = Imported { location, ..Imported::default() };
    // (host, path, policy, location), in file order.
    let mut found: Vec<(Option<String>, PathMatch, Option<scoped::Keys>, String)> = Vec::new();
    let mut any_cors = false;
    let mut differences = Vec::new();
    for b in ingresses {
        let name = ingress_name(&b.object);
        let enabled = annotation(&b.object, "enable-cors");
        let policy = match enabled.and_then(go_bool) {
            Some(true) => {
                any_cors = true;
                let mut p = policy(&b.object, &name);
                out.refusals.append(&mut p.refusals);
                out.wider.append(&mut p.wider);
                out.wider_headers.append(&mut p.wider_headers);
                for d in p.differences {
                    push_new(&mut differences, d);
                }
                Some(p.policy)
            }
            _ => {
                let others = b
                    .object
                    .get("metadata")
                    .and_then(|m| m.get("annotations"))
                    .and_then(Value::as_object)
                    .is_some_and(|a| a.keys().any(|k| k.starts_with(&format!("{PREFIX}cors-"))));
                let why = match enabled {
                    None => format!("has no {PREFIX}enable-cors annotation"),
                    Some(v) => format!("has {PREFIX}enable-cors: {v:?}, not \"true\""),
                };
                let ignored = if others { "; ingress-nginx ignored its cors-* annotations" } else { "" };
                out.refusals.push(format!("Ingress {name} {why}, so ingress-nginx added no CORS headers there{ignored}"));
                None
            }
        };
        let mut refusals = Vec::new();
        for (host, path, at) in paths(&b.object, &name, &mut refusals) {
            found.push((host, path, policy.clone(), at));
        }
        if policy.is_some() {
            out.refusals.append(&mut refusals);
        }
    }
    if !any_cors {
        // Nothing to import: the refusals say why, per Ingress.
        return out;
    }
    // Ingresses without CORS are "off" rules where they share a host with
    // one that has it, not refusals.
    out.refusals.retain(|r| !r.contains("added no CORS headers there"));
    let off: Vec<String> = ingresses
        .iter()
        .filter(|b| annotation(&b.object, "enable-cors").and_then(go_bool) != Some(true))
        .map(|b| ingress_name(&b.object))
        .collect();
    // A rule per host, unless the host's Ingresses differ: then per path.
    let mut hosts: Vec<Option<String>> = Vec::new();
    for (h, ..) in &found {
        if !hosts.contains(h) {
            hosts.push(h.clone());
        }
    }
    let mut scopes = Vec::new();
    for host in &hosts {
        let mine: Vec<_> = found.iter().filter(|(h, ..)| h == host).collect();
        let uniform = mine.windows(2).all(|w| w[0].2 == w[1].2);
        let host_name = host.clone().unwrap_or_else(|| "any-host".into());
        if uniform {
            let locations: Vec<&str> = mine.iter().map(|(.., at)| at.as_str()).collect();
            scopes.push(Scope {
                name: host_name,
                hosts: host.iter().cloned().collect(),
                path: PathMatch::Any,
                policy: mine[0].2.clone(),
                location: locations.join(", "),
            });
            continue;
        }
        for (h, path, policy, at) in mine {
            let path_name = match path {
                PathMatch::Any => String::new(),
                PathMatch::Segments(p) | PathMatch::Bytes(p) | PathMatch::Exact(p) => p.clone(),
            };
            scopes.push(Scope {
                name: format!("{host_name}{path_name}"),
                hosts: h.iter().cloned().collect(),
                path: path.clone(),
                policy: policy.clone(),
                location: at.clone(),
            });
        }
    }
    let assembled = scoped::assemble(scopes, "ingress-nginx");
    let mut all = vec![
        "ingress-nginx applied each Ingress's annotations to its own hosts and paths; the import made a rule per host, and per \
         path where the Ingresses of one host differ (Prefix as path_separated_prefix, whole segments as Kubernetes \
         matches them; ImplementationSpecific as path_prefix, nginx's byte prefix); edge-cors tries the rules in order and \
         the first match wins"
            .to_string(),
        "a rule per host covers the host's every path, also the ones no Ingress names (ingress-nginx answered those 404 \
         without CORS headers)"
            .to_string(),
        "rules' hosts match requests without a port (Host: api.example.com); ingress-nginx ignored the port: write \
         \"api.example.com:*\" in match.hosts if clients send one"
            .to_string(),
    ];
    if !off.is_empty() {
        all.push(format!(
            "{} {} {} no enable-cors: \"true\", so ingress-nginx added no CORS headers where {} applied: there the rules say \
             \"cors\": \"off\" (the upstream's own headers pass through)",
            if off.len() == 1 { "Ingress" } else { "Ingresses" },
            off.join(", "),
            if off.len() == 1 { "has" } else { "have" },
            if off.len() == 1 { "it" } else { "they" }
        ));
    }
    all.extend(assembled.differences);
    for d in differences {
        push_new(&mut all, d);
    }
    all.extend([
        "ingress-nginx answered a preflight (OPTIONS from an allowed origin) itself with 204, sending its lists without \
         checking the requested method and headers; edge-cors refuses a preflight asking for anything else with 403 and a \
         body naming the part (origin, method or header)"
            .to_string(),
        "ingress-nginx passed preflights from origins it did not allow to the upstream; edge-cors answers every preflight \
         itself, refused ones with 403: the upstream no longer sees those OPTIONS requests"
            .to_string(),
        "ingress-nginx's headers (more_set_headers) replaced the upstream's own on 2xx and 3xx responses only, so a 4xx or \
         5xx reached the browser without them, and responses to origins it did not allow kept the upstream's; edge-cors \
         answers every response, removes the upstream's Access-Control-* headers, and adds Vary: Origin where the answer \
         depends on it"
            .to_string(),
    ]);
    out.differences = all;
    out.refusals.extend(assembled.refusals);
    out.wider_paths = assembled.wider_paths;
    out.policy = assembled.policy;
    if !out.refusals.is_empty() && out.policy.is_empty() {
        out.policy = vec![("rules".into(), Value::Array(vec![]))];
    }
    out
}

/// [`convert`] for unit tests.
#[cfg(test)]
pub fn convert_for_tests(ingresses: &[Block]) -> Imported {
    convert(ingresses)
}
