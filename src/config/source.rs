//! `allow_origins_from`: where a policy's live origins come from, and what an
//! answer from there must look like to be applied.
//!
//! The source is trusted like the configuration, yet its answers are checked
//! with exactly the rules of `allow_origins` (credentials included), and an
//! answer with one bad entry is refused as a whole: a typo in the tenant
//! database must never half-apply or loosen the policy.

use serde_json::{Map, Value};

use super::errors::{one_line, quote, shortened, show, Errors};
use super::keys::edit_distance;
use super::policy::origins;
use crate::origin::OriginEntry;

/// A validated `allow_origins_from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The proxy's upstream cluster the request goes to.
    pub cluster: String,
    pub path: String,
    /// `:authority` of the request (default: the cluster's name).
    pub authority: String,
    pub refresh_seconds: u32,
    pub timeout_ms: u32,
}

pub const REFRESH_DEFAULT: u32 = 30;
pub const REFRESH_MAX: u32 = 86_400;
pub const TIMEOUT_DEFAULT: u32 = 2_000;
pub const TIMEOUT_MAX: u32 = 60_000;
/// Larger answers are refused unread: 10,000 origins take about 300 KB.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

const KEYS: [&str; 5] = ["cluster", "path", "authority", "refresh_seconds", "timeout_ms"];
const EXAMPLE: &str = r#"{"cluster": "tenant_origins", "path": "/cors/origins"}"#;

pub(super) fn parse_source(field: &str, v: &Value, errs: &mut Errors) -> Option<SourceSpec> {
    let Value::Object(obj) = v else {
        errs.push(field, show(v), "must be an object naming the origin service", format!("write {EXAMPLE}"));
        return None;
    };
    let before = errs.0.len();
    for (k, val) in obj {
        if !KEYS.contains(&k.as_str()) {
            let fix = match KEYS
                .iter()
                .map(|known| (if known.starts_with(k.as_str()) { 0 } else { edit_distance(k, known) }, known))
                .filter(|(d, _)| *d <= 3)
                .min_by_key(|(d, _)| *d)
            {
                Some((_, known)) => format!("did you mean \"{known}\"? (known keys: {})", KEYS.join(", ")),
                None => format!("remove it (known keys: {})", KEYS.join(", ")),
            };
            errs.push(format!("{field}.{k}"), show(val), "is not a known key", fix);
        }
    }
    let cluster = text(obj, field, "cluster", errs, |s| {
        (s.is_empty() || s.len() > 255 || s.chars().any(|c| c.is_control() || c == ' ')).then_some((
            "must be the name of an upstream cluster of the proxy (1 to 255 characters, no spaces)",
            "write the cluster's name as the proxy's configuration spells it",
        ))
    });
    let path = text(obj, field, "path", errs, |s| {
        (!s.starts_with('/') || s.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#'))
            .then_some(("must be a path starting with / (no spaces, no fragment)", "write the service's path, such as \"/cors/origins\""))
    });
    let authority = text(obj, field, "authority", errs, |s| {
        (s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))).then_some((
            "must be a host name, optionally with a port",
            "write the name the service expects in Host, such as \"tenants.internal\"",
        ))
    });
    let refresh_seconds = number(obj, field, "refresh_seconds", REFRESH_DEFAULT, REFRESH_MAX, "seconds between two fetches", errs);
    let timeout_ms = number(obj, field, "timeout_ms", TIMEOUT_DEFAULT, TIMEOUT_MAX, "milliseconds to wait for an answer", errs);
    let (Some(cluster), Some(path)) = (cluster, path) else {
        return None;
    };
    let authority = authority.unwrap_or_else(|| cluster.clone());
    (errs.0.len() == before).then_some(SourceSpec { cluster, path, authority, refresh_seconds, timeout_ms })
}

/// A required (cluster, path) or optional (authority) string field.
fn text(
    obj: &Map<String, Value>,
    field: &str,
    key: &str,
    errs: &mut Errors,
    bad: impl Fn(&str) -> Option<(&'static str, &'static str)>,
) -> Option<String> {
    let name = format!("{field}.{key}");
    match obj.get(key) {
        None if key == "authority" => None,
        None => {
            errs.push(name, "(absent)", "is required", format!("add it, for example {EXAMPLE}"));
            None
        }
        Some(Value::String(s)) => match bad(s) {
            None => Some(s.clone()),
            Some((problem, fix)) => {
                errs.push(name, quote(s), problem, fix);
                None
            }
        },
        Some(other) => {
            errs.push(name, show(other), "must be a string", "quote it");
            None
        }
    }
}

fn number(obj: &Map<String, Value>, field: &str, key: &str, default: u32, max: u32, what: &str, errs: &mut Errors) -> u32 {
    let Some(v) = obj.get(key) else {
        return default;
    };
    match v.as_u64() {
        Some(n) if (1..=u64::from(max)).contains(&n) => u32::try_from(n).unwrap_or(default),
        _ => {
            errs.push(
                format!("{field}.{key}"),
                show(v),
                format!("must be a whole number from 1 to {max} ({what})"),
                format!("leave it out for {default}, or write a value in range"),
            );
            default
        }
    }
}

/// Why an answer of the origin service was refused: the first problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// The origins of one answer body (`{"origins": [...]}`), checked like
/// `allow_origins` under the policy's `allow_credentials` and
/// `allow_insecure_origins`; an empty list is a valid answer (no tenants).
/// The first problem refuses the whole answer.
pub fn fetched_origins(body: &[u8], credentials: bool, insecure: bool) -> Result<Vec<OriginEntry>, Refusal> {
    let parsed = crate::json::parse(body).map_err(|e| Refusal(format!("the answer is not valid JSON ({e})")))?;
    if let Some((path, _)) = parsed.repeated.first() {
        // The key is the service's: shortened, so a hostile answer cannot
        // write a line of megabytes into the proxy's log on every refresh.
        return Err(Refusal(format!("{} is given twice in the answer", shortened(one_line(path.clone())))));
    }
    let list = match &parsed.value {
        Value::Object(obj) => obj.get("origins"),
        _ => None,
    };
    let Some(list) = list else {
        return Err(Refusal(format!(
            "the answer must be a JSON object with a list \"origins\", such as {}",
            r#"{"origins": ["https://shop.example"]}"#
        )));
    };
    if matches!(list, Value::Array(a) if a.is_empty()) {
        return Ok(Vec::new());
    }
    let mut errs = Errors(Vec::new());
    let entries = origins("origins", list, credentials, insecure, &mut errs);
    match errs.0.into_iter().next() {
        None => Ok(entries),
        // Each part is one bounded line already (`Errors::push`).
        Some(error) => Err(Refusal(error.to_string())),
    }
}
