//! Origin matchers as `allow_origins` entries: Envoy's `StringMatcher` and
//! Istio's `StringMatch` (exact, prefix, suffix, contains, regex), and
//! Istio's deprecated plain strings. A matcher converts only to entries that
//! allow no more than it did; what it also matched (look-alikes, plain
//! HTTP) is said in notes; what they allow beyond it is said in `wider`,
//! which `import` refuses unless told to accept it.

use serde_json::Value;

use super::regex;

/// The origins one matcher allowed, converted.
#[derive(Debug, PartialEq)]
pub struct Converted {
    pub entries: Vec<String>,
    /// What changed, for the user; empty when nothing did.
    pub notes: Vec<String>,
    /// What the entries allow that the matcher did not, each in words;
    /// empty when they allow no more.
    pub wider: Vec<String>,
}

impl Converted {
    fn exact(origin: &str) -> Converted {
        Converted { entries: vec![origin.to_string()], notes: vec![], wider: vec![] }
    }
}

/// A refusal of `what`, with the way to write it by hand.
pub fn refuse(what: &str, why: &str) -> Result<Converted, String> {
    Err(format!("{what}: {why}; list the origins (\"https://app.example.com\") or subdomain patterns (\"https://*.example.com\") by hand"))
}

/// Converts one matcher; `product` names the proxy in notes.
pub fn convert(m: &Value, product: &str) -> Result<Converted, String> {
    let Some(obj) = m.as_object() else {
        // Istio's deprecated allowOrigin: plain strings, exact matches.
        if let Some(s) = m.as_str() {
            return Ok(Converted::exact(s));
        }
        return refuse(&m.to_string(), "is not a string matcher");
    };
    let get = |k: &str| obj.get(k).and_then(Value::as_str);
    if let Some(s) = get("exact") {
        return Ok(Converted::exact(s));
    }
    if let Some(p) = get("prefix") {
        return prefix(p, product);
    }
    if let Some(s) = get("suffix") {
        return suffix(s);
    }
    if let Some(c) = get("contains") {
        return refuse(&format!("contains {c:?}"), "a substring match cannot be expressed as origins (it also matched look-alikes)");
    }
    // Envoy's safe_regex, Istio's regex.
    let re = obj.get("safe_regex").and_then(|r| r.get("regex")).and_then(Value::as_str).or_else(|| get("regex"));
    if let Some(re) = re {
        return regex::convert(re, product);
    }
    refuse(&m.to_string(), "is not an exact, prefix, suffix or regex matcher")
}

fn prefix(p: &str, product: &str) -> Result<Converted, String> {
    match p {
        "" | "*" => Ok(Converted {
            entries: vec!["*".into()],
            notes: vec![format!("prefix {p:?} matched every origin ({product} allows all when a matcher matches \"*\"); it became \"*\"")],
            wider: vec![],
        }),
        "https://" | "http://" => Ok(Converted::exact(&format!("{p}*"))),
        _ => {
            // A prefix that is a whole origin also matched look-alikes
            // (https://app.example.com.evil.test, other ports): narrow it.
            match edge_cors_engine::origins::OriginEntry::parse(p) {
                Ok(edge_cors_engine::origins::OriginEntry::Exact(o)) => Ok(Converted {
                    entries: vec![o.clone()],
                    notes: vec![format!(
                        "prefix {p:?} became the exact origin \"{o}\": the prefix also matched look-alikes such as \
                         {p}.evil.test and {p}:8443, which edge-cors no longer allows"
                    )],
                    wider: vec![],
                }),
                _ => refuse(&format!("prefix {p:?}"), "is not a whole origin, so it matched hosts you may not own"),
            }
        }
    }
}

fn suffix(s: &str) -> Result<Converted, String> {
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
        if dotted { String::new() } else { format!(" and \"https://{domain}\"") }
    )];
    if !dotted {
        entries.insert(0, format!("https://{domain}"));
        notes.push(format!(
            "suffix {s:?} has no leading dot, so it also matched look-alikes such as https://evil{domain}; edge-cors matches subdomains at a dot only"
        ));
    }
    Ok(Converted { entries, notes, wider: vec![] })
}
