//! One policy: each field read by one line of `parse_policy` that calls its
//! check. Every check adds its refusals to the list and returns what it
//! could read, so every problem is reported at once.

use serde_json::{Map, Value};

use super::errors::{quote, show, Errors, EXAMPLE};
use super::keys::{self, Key};
use super::source::{parse_source, SourceSpec};
use crate::origins::{OriginEntry, Port, Scheme};
use crate::token;

/// A list that is either explicit names or `["*"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Names {
    Any,
    List(Vec<String>),
}

/// A validated policy, before it is compiled for the request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub origins: Vec<OriginEntry>,
    /// Case-sensitive method tokens (the six Fetch normalises are upper-cased).
    pub methods: Names,
    /// Lower-cased header names.
    pub headers: Names,
    pub expose: Names,
    pub max_age: Option<u32>,
    pub credentials: bool,
    pub private_network: bool,
    /// `timing_allow_origin`: send `Timing-Allow-Origin` on actual responses.
    pub timing: bool,
    /// `preflight_status`: 204 (default) or 200 for an allowed preflight.
    pub preflight_status: u16,
    /// `debug`: every response this policy handles says why, in `x-edge-cors`.
    pub debug: bool,
    /// `allow_insecure_origins`: kept to check fetched origins by the same rule.
    pub insecure: bool,
    /// `allow_origins_from`: live origins, added to `origins`.
    pub source: Option<SourceSpec>,
    /// `block_cross_origin_writes`: refuse cross-origin requests with an
    /// unsafe method from origins this policy does not allow (CSRF).
    pub block_writes: bool,
}

pub const MAX_AGE_LIMIT: u64 = 86_400;

/// Methods allowed when `allow_methods` is absent or empty: the CORS-safelisted
/// ones, which browsers never need permission for anyway.
pub const DEFAULT_METHODS: [&str; 3] = crate::fetch::SAFELISTED_METHODS;

/// Parses the policy fields of one JSON object. `prefix` names where the
/// object sits, so the same code can validate nested policies.
/// `extra` lists the keys the caller handles itself.
pub(super) fn parse_policy(obj: &Map<String, Value>, prefix: &str, extra: &[&str], errs: &mut Errors) -> Option<PolicySpec> {
    let found = keys::policy_keys(obj, prefix, extra, errs);
    let get = |key: Key| found.get(key);

    let credentials = get(Key::AllowCredentials).is_some_and(|(f, v)| boolean(&f, v, errs));
    let private_network = get(Key::AllowPrivateNetwork).is_some_and(|(f, v)| boolean(&f, v, errs));
    let insecure = get(Key::AllowInsecureOrigins).is_some_and(|(f, v)| boolean(&f, v, errs));

    let source = get(Key::AllowOriginsFrom).and_then(|(f, v)| parse_source(&f, v, errs));
    let origins = match (get(Key::AllowOrigins), &source) {
        // With a source, the static list may be empty or absent: the
        // tenants' origins are all there is.
        // (A source refused above still counts: its own error says what is
        // wrong, and an empty list beside it is not a second problem.)
        (Some((_, Value::Array(a))), _) if a.is_empty() && get(Key::AllowOriginsFrom).is_some() => Vec::new(),
        (Some((f, v)), _) => origins(&f, v, Origins::Static { credentials, insecure }, errs),
        // A source given (even one refused above) is the policy's origins.
        (None, _) if get(Key::AllowOriginsFrom).is_some() => Vec::new(),
        (None, _) => required_origins(prefix, errs),
    };
    if source.is_some() && origins.contains(&OriginEntry::Any) {
        errs.push(
            format!("{prefix}allow_origins_from"),
            "{...}",
            "has no effect: allow_origins is [\"*\"], which already allows every origin",
            "remove allow_origins_from, or list the static origins instead of \"*\"",
        );
    }
    let methods = get(Key::AllowMethods).map_or_else(default_methods, |(f, v)| methods(&f, v, errs));
    let headers = get(Key::AllowHeaders).map_or(Names::List(Vec::new()), |(f, v)| names(&f, v, NameKind::Header, errs));
    let expose = get(Key::ExposeHeaders).map_or(Names::List(Vec::new()), |(f, v)| expose(&f, v, credentials, errs));
    let max_age = get(Key::MaxAge).and_then(|(f, v)| max_age(&f, v, errs));
    let timing = get(Key::TimingAllowOrigin).is_some_and(|(f, v)| boolean(&f, v, errs));
    let preflight_status = get(Key::PreflightStatus).map_or(204, |(f, v)| preflight_status(&f, v, errs));
    let debug = get(Key::Debug).is_some_and(|(f, v)| boolean(&f, v, errs));
    let block_writes = get(Key::BlockCrossOriginWrites).is_some_and(|(f, v)| boolean(&f, v, errs));
    if block_writes && origins.contains(&OriginEntry::Any) {
        errs.push(
            format!("{prefix}block_cross_origin_writes"),
            "true",
            "has no effect: allow_origins is [\"*\"], so every origin may write",
            "list the origins allowed to call this API, or remove block_cross_origin_writes",
        );
    }

    Some(PolicySpec {
        origins,
        methods,
        headers,
        expose,
        max_age,
        credentials,
        private_network,
        timing,
        preflight_status,
        debug,
        insecure,
        source,
        block_writes,
    })
}

/// `allow_origins` is the one required key.
fn required_origins(prefix: &str, errs: &mut Errors) -> Vec<OriginEntry> {
    errs.push(
        format!("{prefix}allow_origins"),
        "(absent)",
        "is required: a CORS policy must say which origins are allowed",
        format!("add it, for example {EXAMPLE}"),
    );
    Vec::new()
}

fn default_methods() -> Names {
    Names::List(DEFAULT_METHODS.iter().map(|m| m.to_string()).collect())
}

/// `allow_methods`; an empty list means the default, like an absent one.
fn methods(field: &str, v: &Value, errs: &mut Errors) -> Names {
    match names(field, v, NameKind::Method, errs) {
        Names::List(l) if l.is_empty() => default_methods(),
        m => m,
    }
}

/// `expose_headers`; `["*"]` is refused with credentials, where browsers
/// read it as a header literally named `*`.
fn expose(field: &str, v: &Value, credentials: bool, errs: &mut Errors) -> Names {
    let expose = names(field, v, NameKind::Header, errs);
    if credentials && expose == Names::Any {
        errs.push(
            field,
            show(v),
            "is [\"*\"] with allow_credentials: true; browsers then read \"*\" as a header literally named *, exposing nothing",
            "list the response headers JavaScript may read",
        );
    }
    expose
}

pub(super) fn boolean(field: &str, v: &Value, errs: &mut Errors) -> bool {
    match v {
        Value::Bool(b) => *b,
        _ => {
            errs.push(field, show(v), "must be true or false", "write true or false without quotes");
            false
        }
    }
}

/// 204 or 200: a few old devices (and some proxies) mishandle a 204 answer.
pub(super) fn preflight_status(field: &str, v: &Value, errs: &mut Errors) -> u16 {
    match v.as_u64() {
        Some(200) => 200,
        Some(204) => 204,
        _ => {
            errs.push(
                field,
                show(v),
                "must be 204 or 200 (the status of an allowed preflight)",
                "leave it out for 204, or write 200 for clients that reject a 204 preflight",
            );
            204
        }
    }
}

pub(super) fn max_age(field: &str, v: &Value, errs: &mut Errors) -> Option<u32> {
    match v.as_u64() {
        Some(n) if n <= MAX_AGE_LIMIT => u32::try_from(n).ok(),
        _ => {
            errs.push(
                field,
                show(v),
                format!("must be a whole number of seconds from 0 to {MAX_AGE_LIMIT}"),
                format!("use a value such as 3600; browsers cap it anyway (Chromium at 7200, Firefox at {MAX_AGE_LIMIT})"),
            );
            None
        }
    }
}

/// A JSON array of strings, or an error naming the field.
/// Where an item of a list sits (`allow_origins[3]`), spelled out only when a
/// message needs it: a list of 10,000 tenant origins is read without 10,000
/// field names.
#[derive(Clone, Copy)]
pub(super) struct At<'f> {
    list: &'f str,
    index: usize,
}

impl From<At<'_>> for String {
    fn from(at: At<'_>) -> String {
        format!("{}[{}]", at.list, at.index)
    }
}

impl From<&At<'_>> for String {
    fn from(at: &At<'_>) -> String {
        String::from(*at)
    }
}

pub(super) fn strings<'f, 'v>(field: &'f str, v: &'v Value, errs: &mut Errors) -> Vec<(At<'f>, &'v str)> {
    let Value::Array(items) = v else {
        let fix = match v {
            Value::String(s) => format!("write a list: [\"{s}\"]"),
            _ => "write a list of strings".to_string(),
        };
        errs.push(field, show(v), "must be a list of strings", fix);
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => out.push((At { list: field, index: i }, s.as_str())),
            // A list inside the list is a mistake of shape, not of quoting.
            Value::Array(_) | Value::Object(_) => errs.push(
                format!("{field}[{i}]"),
                show(item),
                "must be a string (lists do not nest)",
                "write each entry as a string of the one list",
            ),
            other => errs.push(format!("{field}[{i}]"), show(other), "must be a string", "quote it"),
        }
    }
    out
}

/// Where an origin list comes from: the checks differ only in what a fetched
/// list may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Origins {
    /// `allow_origins`, written by the policy's owner.
    Static { credentials: bool, insecure: bool },
    /// An answer of `allow_origins_from`: tenants' sites, so never `*`,
    /// `null` or a scheme wildcard, whatever the credentials (one such entry
    /// would make the rule public).
    Fetched { credentials: bool, insecure: bool },
}

impl Origins {
    fn flags(self) -> (bool, bool) {
        match self {
            Origins::Static { credentials, insecure } | Origins::Fetched { credentials, insecure } => (credentials, insecure),
        }
    }
}

/// An origin list, checked entry by entry. The entries returned are the
/// valid ones (for a fetched list, exactly those: a refused answer's
/// removals are applied from them).
pub(super) fn origins(field: &str, v: &Value, from: Origins, errs: &mut Errors) -> Vec<OriginEntry> {
    let (credentials, insecure) = from.flags();
    let fetched = matches!(from, Origins::Fetched { .. });
    let items = strings(field, v, errs);
    if items.is_empty() && matches!(v, Value::Array(a) if a.is_empty()) {
        errs.push(
            field,
            "[]",
            "is empty, so every cross-origin request would be refused",
            format!("list the allowed origins, for example {EXAMPLE}"),
        );
    }
    let mut out: Vec<OriginEntry> = Vec::with_capacity(items.len());
    // Tenant lists run to thousands: find duplicates by hash, not by scan,
    // and without a second copy of every entry (the configure step's peak is
    // the module's memory for good: wasm memory never shrinks).
    let mut seen: std::collections::HashMap<u64, usize, crate::origins::FastHash> =
        std::collections::HashMap::with_capacity_and_hasher(items.len(), Default::default());
    for (f, raw) in &items {
        let entry = match OriginEntry::parse(raw) {
            Ok(e) => e,
            Err(e) => {
                // "or \"*\"" is no advice for a tenant's entry.
                let fix = if fetched && e.fix.contains('*') { FETCHED_FIX.to_string() } else { e.fix };
                errs.push(f, quote(raw), e.problem, fix);
                continue;
            }
        };
        let before = errs.0.len();
        if fetched && matches!(entry, OriginEntry::Any | OriginEntry::Null | OriginEntry::AnyOfScheme(_)) {
            errs.push(
                f,
                quote(raw),
                "is not a site: fetched origins are tenants' sites, never \"*\", \"null\" or a scheme wildcard (one such entry would make the rule public)",
                format!("remove it from the service's answer and {FETCHED_FIX}; a public rule says \"*\" in its own allow_origins"),
            );
        } else if credentials && entry == OriginEntry::Null {
            errs.push(
                f,
                quote(raw),
                "allows the null origin while allow_credentials is true: any website can send Origin: null from a sandboxed iframe and read your users' credentialed responses",
                "remove \"null\" (give sandboxed pages a real origin), or set allow_credentials to false",
            );
        } else if credentials && entry.is_wildcard() {
            errs.push(
                f,
                quote(raw),
                "allows every origin while allow_credentials is true: any website could send your users' cookies and read the answer",
                "list the exact origins (or https://*.your-domain patterns) that may send credentials, or set allow_credentials to false",
            );
        } else if credentials && !insecure && entry.scheme() == Some(Scheme::Http) && !entry.is_loopback() {
            errs.push(
                f,
                quote(raw),
                "is a plain-HTTP origin while allow_credentials is true: cookies over HTTP can be read and forged on the network",
                "use the https:// origin, or add \"allow_insecure_origins\": true if you accept that risk",
            );
        }
        if let OriginEntry::Subdomains { scheme, base, port } = &entry {
            if let Some((section, children)) = crate::psl::open_for_registration(base) {
                public_suffix_error(errs, f.into(), raw, scheme.as_str(), base, *port, section, children);
            }
        }
        // A fetched list keeps only its valid entries (see above); a static
        // list with an error is refused whole anyway.
        if fetched && errs.0.len() > before {
            continue;
        }
        let hash = std::hash::BuildHasher::hash_one(&crate::origins::FastHash::default(), &entry);
        match seen.entry(hash) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(entry);
            }
            // The same hash: a duplicate, or (rarely) another entry, which a
            // scan tells apart.
            std::collections::hash_map::Entry::Occupied(_) => {
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
    }
    if out.len() > 1 && out.contains(&OriginEntry::Any) {
        errs.push(
            field,
            show(v),
            "mixes \"*\" with other entries; \"*\" already allows every origin, so the others have no effect",
            "keep [\"*\"] alone, or remove \"*\" and list the origins",
        );
    }
    out
}

/// What to write instead of a bad fetched entry.
const FETCHED_FIX: &str = "list each tenant's origin, such as \"https://shop.example\" or \"https://*.shop.example\"";

/// `https://*.github.io`: anyone can register a name under a public suffix,
/// so the wildcard allows sites the owner does not control (static and
/// fetched entries alike; the command line says the same).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn public_suffix_error(
    errs: &mut Errors,
    field: String,
    raw: &str,
    scheme: &str,
    base: &str,
    port: Port,
    section: crate::psl::Section,
    children: bool,
) {
    let what = if children { format!("every name under \"{base}\" is a public suffix") } else { format!("\"{base}\" is a public suffix") };
    errs.push(
        field,
        quote(raw),
        format!(
            "{what} ({} section of the Public Suffix List): anyone can register a name under it, so this allows sites you do not control",
            section.as_str()
        ),
        format!("list your own sites, e.g. \"{scheme}://yours.{base}{port}\", or \"{scheme}://*.yours.{base}{port}\" for their subdomains"),
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum NameKind {
    Method,
    Header,
}

pub(super) fn names(field: &str, v: &Value, kind: NameKind, errs: &mut Errors) -> Names {
    let items = strings(field, v, errs);
    if items.iter().any(|(_, s)| *s == "*") {
        if items.len() > 1 {
            errs.push(field, show(v), "mixes \"*\" with other entries", "write [\"*\"] alone, or list the names without \"*\"");
        }
        return Names::Any;
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (f, raw) in items {
        if !token::is_token(raw.as_bytes()) {
            let what = if kind == NameKind::Method { "method" } else { "header name" };
            errs.push(
                f,
                quote(raw),
                format!("is not a valid {what}: it must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~, no spaces or commas)"),
                "write one name per list entry, without spaces",
            );
            continue;
        }
        let name = match kind {
            NameKind::Header => raw.to_ascii_lowercase(),
            // Fetch upper-cases six methods before comparing, so a lower-case
            // spelling of those would never match what a browser sends.
            NameKind::Method => crate::fetch::normalise_method(raw).to_string(),
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Names::List(out)
}
