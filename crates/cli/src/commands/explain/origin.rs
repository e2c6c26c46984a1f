//! Where the origin stands: which `allow_origins` entry (or live origin)
//! matches, or precisely why none does; and why the engine refused a
//! preflight, in the policy's terms.

use edge_cors_engine::config::{fetched_origins, Names, PolicySpec, Refusal, SourceSpec};
use edge_cors_engine::origins::{OriginEntry, OriginSet, Port, Scheme};

use crate::commands::check::Checked;
use crate::fetch_check::Check;

/// What explain knows of the selected policy's live origins
/// (`allow_origins_from`).
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    /// The policy has no source; `ignored` is a `--live-origins` file given
    /// anyway (which changes nothing).
    NoSource { ignored: Option<String> },
    /// It has one, and no saved answer was given: the proxy fetches the list
    /// at run time, and explain cannot see it.
    Unknown(SourceSpec),
    /// `--live-origins FILE`: a saved answer, checked as the filter checks it.
    Given { file: String, entries: Vec<OriginEntry> },
}

/// How the origin fares: allowed, refused, or allowed only if the origin
/// service lists it (what follows is then explained as if it did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginStatus {
    Allowed,
    Refused,
    IfListed,
}

/// The origin's verdict: its status, the line saying why, and the live set
/// the filter would hold for this explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginVerdict {
    pub status: OriginStatus,
    pub line: String,
    pub live: Vec<OriginEntry>,
}

/// Which `allow_origins` entry (or live origin) matches, or precisely why
/// none does; and the live set the filter would hold for this explanation.
pub fn origin_verdict(spec: &PolicySpec, c: &Checked, origin: &str, live: &Live) -> OriginVerdict {
    let verdict = |status, line, live| OriginVerdict { status, line, live };
    let raw: Vec<String> = ["allow_origins", "AllowOrigins"]
        .iter()
        .filter_map(|k| c.found.object.get(*k))
        .filter_map(|v| v.as_array())
        .flat_map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)))
        .collect();
    let matches = |e: &OriginEntry| OriginSet::new(std::slice::from_ref(e)).allows(origin.as_bytes());
    let given = match live {
        Live::Given { entries, .. } => entries.clone(),
        _ => Vec::new(),
    };
    if let Some(e) = spec.origins.iter().find(|e| matches(e)) {
        let shown = raw.iter().find(|r| OriginEntry::parse(r).as_ref() == Ok(e)).cloned().unwrap_or_else(|| e.to_string());
        return verdict(OriginStatus::Allowed, format!("allowed: matches allow_origins entry {shown:?}"), given);
    }
    let static_list = if spec.origins.is_empty() {
        "empty".to_string()
    } else {
        spec.origins.iter().map(OriginEntry::to_string).collect::<Vec<_>>().join(", ")
    };
    match live {
        Live::Given { file, entries } => {
            if let Some(e) = entries.iter().find(|e| matches(e)) {
                return verdict(OriginStatus::Allowed, format!("allowed: matches \"{e}\" in the origin service's list ({file})"), given);
            }
            let near = spec.origins.iter().chain(entries).find_map(|e| near_miss(e, origin));
            let line = match near {
                Some(r) => format!("not allowed: {r}"),
                None => format!(
                    "not allowed: {origin} is not in allow_origins ({static_list}) nor in the origin service's list ({file}: {})",
                    crate::out::plural(entries.len(), "origin", "origins")
                ),
            };
            verdict(OriginStatus::Refused, line, given)
        }
        Live::Unknown(source) => {
            // Whether the service could list it at all: the filter refuses an
            // answer with an entry allow_origins could not hold.
            let answer = serde_json::json!({ "origins": [origin] }).to_string();
            match fetched_origins(answer.as_bytes(), spec.credentials, spec.insecure) {
                Ok(entries) => verdict(
                    OriginStatus::IfListed,
                    format!(
                        "not in allow_origins ({static_list}); allowed only if the origin service lists it: the proxy fetches \
                         GET {} from cluster {:?} every {} s at run time, and explain cannot see that list \
                         (--live-origins FILE decides with a saved answer)",
                        source.path, source.cluster, source.refresh_seconds
                    ),
                    entries,
                ),
                Err(Refusal { why, .. }) => verdict(
                    OriginStatus::Refused,
                    format!(
                        "not allowed: {origin} is not in allow_origins ({static_list}), and the origin service cannot add it: \
                         the filter refuses an answer that lists it ({why})"
                    ),
                    Vec::new(),
                ),
            }
        }
        Live::NoSource { .. } => {
            let near = spec.origins.iter().find_map(|e| near_miss(e, origin));
            let line = match near {
                Some(r) => format!("not allowed: {r}"),
                None => format!("not allowed: {origin} is not in allow_origins ({static_list})"),
            };
            verdict(OriginStatus::Refused, line, Vec::new())
        }
    }
}

/// (scheme, host, port) of a canonical origin.
fn parts(origin: &str) -> Option<(Scheme, String, Option<u16>)> {
    let (scheme, rest) =
        if let Some(r) = origin.strip_prefix("https://") { (Scheme::Https, r) } else { (Scheme::Http, origin.strip_prefix("http://")?) };
    let hp = edge_cors_engine::origins::split_host_port(rest).ok()?;
    Some((scheme, hp.host.to_string(), hp.port.and_then(edge_cors_engine::origins::port_number)))
}

fn port_text(p: Option<u16>) -> String {
    p.map_or("the default port".into(), |p| format!("port {p}"))
}

fn port_words(p: Port) -> String {
    match p {
        Port::Default => port_text(None),
        Port::Is(n) => port_text(Some(n)),
        Port::Any => "any port".into(),
    }
}

fn near_miss(e: &OriginEntry, origin: &str) -> Option<String> {
    if origin == "null" {
        return Some("the null origin is only allowed by the literal entry \"null\" (no pattern matches it)".into());
    }
    let (scheme, host, port) = parts(origin)?;
    match e {
        OriginEntry::Exact(o) => {
            let (s2, h2, p2) = parts(o)?;
            if h2 != host {
                return None;
            }
            if s2 != scheme {
                Some(format!("origin differs by scheme from allowed {o} ({} vs {})", scheme.as_str(), s2.as_str()))
            } else if p2 != port {
                Some(format!("origin differs by port from allowed {o} ({} vs {})", port_text(port), port_text(p2)))
            } else {
                None
            }
        }
        OriginEntry::Subdomains { scheme: s2, base, port: p2 } => {
            let pat = e.to_string();
            if host == *base {
                return Some(format!("{pat} matches subdomains of {base}, never {base} itself: add \"{}://{base}\"", s2.as_str()));
            }
            if host.ends_with(&format!(".{base}")) {
                if *s2 != scheme {
                    return Some(format!("origin differs by scheme from {pat} ({} vs {})", scheme.as_str(), s2.as_str()));
                }
                if !p2.admits(port) {
                    return Some(format!("origin differs by port from {pat} ({} vs {})", port_text(port), port_words(*p2)));
                }
                return None;
            }
            if host.ends_with(base.as_str()) {
                return Some(format!("{host} is not a subdomain of {base} (a look-alike): {pat} matches only at a dot"));
            }
            None
        }
        OriginEntry::AnyOfScheme(s2) if *s2 != scheme => {
            Some(format!("{}://* allows only {} origins; this one is {}", s2.as_str(), s2.as_str(), scheme.as_str()))
        }
        _ => None,
    }
}

pub fn method_reason(spec: &PolicySpec, method: &str) -> String {
    match &spec.methods {
        Names::List(l) => match l.iter().find(|m| m.eq_ignore_ascii_case(method)) {
            Some(m) => format!("{method} is not in allow_methods: {m} differs by case, and methods are case-sensitive"),
            None => format!("{method} is not in allow_methods ({})", l.join(", ")),
        },
        Names::Any => format!("{method} is not a valid method"),
    }
}

pub fn header_reason(spec: &PolicySpec, requested: &[String]) -> String {
    match &spec.headers {
        Names::List(l) => {
            let missing: Vec<&str> = requested.iter().filter(|h| !l.contains(h)).map(String::as_str).collect();
            let listed = if l.is_empty() { "none".to_string() } else { l.join(", ") };
            format!(
                "{} not in allow_headers ({listed})",
                if missing.len() == 1 { format!("{} is", missing[0]) } else { format!("{} are", missing.join(", ")) }
            )
        }
        Names::Any => "a requested header is not a valid header name".into(),
    }
}

/// Why the browser blocks the call: the engine's refusal, else the origin,
/// else the first blocking check.
pub fn verdict_reason(refusal: Option<String>, origin_allowed: bool, origin_line: &str, checks: &[Check]) -> String {
    refusal
        .or_else(|| (!origin_allowed).then(|| origin_line.to_string()))
        .map(|w| w.trim_start_matches("not allowed: ").to_string())
        .or_else(|| checks.iter().find(|c| c.blocks).map(|c| c.message.clone()))
        .unwrap_or_default()
}
