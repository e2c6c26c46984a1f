//! `allow_origins_from`: where a policy's live origins come from, and what an
//! answer from there must look like to be applied.
//!
//! The source is trusted like the configuration, yet its answers are checked
//! with the rules of `allow_origins` (credentials and public suffixes
//! included), and more: a fetched entry is a tenant's site, never `*`,
//! `null` or a scheme wildcard. An answer with a bad entry never adds an
//! origin (a typo in the tenant database must never loosen the policy), but
//! its valid entries still say which origins are gone: the live set may
//! shrink to them (`live::judge`), so one bad entry cannot freeze revocation.

use serde_json::{Map, Value};

use super::errors::{one_line, quote, shortened, show, Errors};
use super::keys::edit_distance;
use super::policy::{origins, Origins};
use crate::origins::OriginEntry;

/// A validated `allow_origins_from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The proxy's upstream cluster the request goes to.
    pub cluster: String,
    pub path: String,
    /// `:authority` of the request (default: the cluster's name, or the
    /// host part of an Istio name: [`default_authority`]).
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
    let mut timeout_ms = number(obj, field, "timeout_ms", TIMEOUT_DEFAULT, TIMEOUT_MAX, "milliseconds to wait for an answer", errs);
    // The default never outlasts a short refresh; a written one must not.
    if !obj.contains_key("timeout_ms") {
        timeout_ms = timeout_ms.min(refresh_seconds.saturating_mul(1000));
    } else if timeout_ms > refresh_seconds.saturating_mul(1000) {
        errs.push(
            format!("{field}.timeout_ms"),
            timeout_ms.to_string(),
            format!("is longer than refresh_seconds ({refresh_seconds} s): the next fetch would be due while one still waits"),
            format!("lower timeout_ms to at most {} (refresh_seconds x 1000), or raise refresh_seconds", u64::from(refresh_seconds) * 1000),
        );
    }
    let (Some(cluster), Some(path)) = (cluster, path) else {
        return None;
    };
    let authority = match authority {
        Some(a) => a,
        None => match default_authority(&cluster) {
            Some(a) => a.to_string(),
            None => {
                errs.push(
                    format!("{field}.authority"),
                    "(absent)",
                    format!(
                        "is required: the cluster name {} is not a host name, so it cannot be sent as the request's Host",
                        quote(&cluster)
                    ),
                    "add \"authority\": the name the origin service expects in Host, such as \"tenants.internal\"",
                );
                return None;
            }
        },
    };
    (errs.0.len() == before).then_some(SourceSpec { cluster, path, authority, refresh_seconds, timeout_ms })
}

/// The `Host` a fetch carries when `authority` is not given: the cluster's
/// name when it is a host name; for Istio's `outbound|PORT|SUBSET|HOST` (and
/// `inbound|...`), the HOST part, as an Envoy in front of the service refuses
/// `Host: outbound|...` (400 `http.invalid_authority`); None otherwise.
pub fn default_authority(cluster: &str) -> Option<&str> {
    let host = match cluster.rsplit_once('|') {
        Some((_, host)) => host,
        None => cluster,
    };
    let is_host = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    is_host.then_some(host)
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

/// Why an answer of the origin service was refused: the first problem, and
/// the answer's valid entries when it was a readable list (None for an answer
/// that is not: invalid JSON, a repeated key, no "origins" list), from which
/// removals may still apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub valid: Option<Vec<OriginEntry>>,
}

impl Refusal {
    fn unreadable(why: String) -> Refusal {
        Refusal { why, valid: None }
    }
}

/// The origins of one answer body (`{"origins": [...]}`), checked like
/// `allow_origins` under the policy's `allow_credentials` and
/// `allow_insecure_origins`, and as tenants' sites (no `*`, `null` or scheme
/// wildcard); an empty list is a valid answer (no tenants). The first
/// problem refuses the answer.
pub fn fetched_origins(body: &[u8], credentials: bool, insecure: bool) -> Result<Vec<OriginEntry>, Refusal> {
    let parsed =
        crate::json::parse(body).map_err(|e| Refusal::unreadable(format!("the answer is not valid JSON ({e}){}", encoding_hint(body))))?;
    if let Some((path, _)) = parsed.repeated.first() {
        // The key is the service's: shortened, so a hostile answer cannot
        // write a line of megabytes into the proxy's log on every refresh.
        return Err(Refusal::unreadable(format!("{} is given twice in the answer", shortened(one_line(path.clone())))));
    }
    let list = match &parsed.value {
        Value::Object(obj) => obj.get("origins"),
        _ => None,
    };
    let Some(list) = list else {
        return Err(Refusal::unreadable(format!(
            "the answer must be a JSON object with a list \"origins\", such as {}",
            r#"{"origins": ["https://shop.example"]}"#
        )));
    };
    if matches!(list, Value::Array(a) if a.is_empty()) {
        return Ok(Vec::new());
    }
    let mut errs = Errors(Vec::new());
    let entries = origins("origins", list, Origins::Fetched { credentials, insecure }, &mut errs);
    match errs.0.into_iter().next() {
        None => Ok(entries),
        // Each part is one bounded line already (`Errors::push`).
        Some(error) => Err(Refusal { why: error.to_string(), valid: matches!(list, Value::Array(_)).then_some(entries) }),
    }
}

/// What an unreadable answer's first bytes say about why.
fn encoding_hint(body: &[u8]) -> &'static str {
    if body.starts_with(b"\xEF\xBB\xBF") {
        "; it starts with a byte-order mark: serve UTF-8 JSON without a BOM"
    } else if body.starts_with(b"\x1F\x8B") {
        "; it is gzip-compressed: the proxy does not decompress it, so serve it without Content-Encoding"
    } else {
        ""
    }
}
