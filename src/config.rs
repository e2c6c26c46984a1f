//! The plugin configuration: JSON in, a validated [`PolicySpec`] out, or every
//! problem found, each naming the field, the bad value and the fix.
//!
//! Validation is deliberately strict. A typo in a CORS policy is a security
//! bug or an outage, so unknown keys, wrong types and insecure combinations
//! are refused rather than guessed at.

use std::fmt;

use serde_json::{Map, Value};

use crate::origin::{OriginEntry, Port, Scheme};
use crate::token;

/// One refused piece of configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the problem is, e.g. `allow_origins[1]`.
    pub field: String,
    /// The offending value as it appeared (JSON, shortened).
    pub value: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}; fix: {}", self.field, self.value, self.problem, self.fix)
    }
}

/// Every problem in a configuration (never just the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid edge-cors configuration: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

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
}

pub const MAX_AGE_LIMIT: u64 = 86_400;

/// Methods allowed when `allow_methods` is absent or empty: the CORS-safelisted
/// ones, which browsers never need permission for anyway.
pub const DEFAULT_METHODS: [&str; 3] = crate::fetch::SAFELISTED_METHODS;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    AllowOrigins,
    AllowMethods,
    AllowHeaders,
    ExposeHeaders,
    MaxAge,
    AllowCredentials,
    AllowPrivateNetwork,
    AllowInsecureOrigins,
    TimingAllowOrigin,
    PreflightStatus,
}

/// Every accepted key: snake_case first, then AWS `CorsConfiguration`'s spelling.
const KEYS: [(&str, &str, Key); 10] = [
    ("allow_origins", "AllowOrigins", Key::AllowOrigins),
    ("allow_methods", "AllowMethods", Key::AllowMethods),
    ("allow_headers", "AllowHeaders", Key::AllowHeaders),
    ("expose_headers", "ExposeHeaders", Key::ExposeHeaders),
    ("max_age", "MaxAge", Key::MaxAge),
    ("allow_credentials", "AllowCredentials", Key::AllowCredentials),
    ("allow_private_network", "", Key::AllowPrivateNetwork),
    ("allow_insecure_origins", "", Key::AllowInsecureOrigins),
    ("timing_allow_origin", "", Key::TimingAllowOrigin),
    ("preflight_status", "", Key::PreflightStatus),
];

const EXAMPLE: &str = r#"{"allow_origins": ["https://app.example.com"]}"#;

/// A string as JSON writes it, for messages.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// A control character as `\uXXXX`; anything else as itself.
fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        out.push_str("\\u");
        let n = u32::from(c);
        for shift in [12, 8, 4, 0] {
            out.push(char::from_digit((n >> shift) & 0xf, 16).unwrap_or('0'));
        }
    } else {
        out.push(c);
    }
}

/// A value as JSON, shortened, for messages. Written by hand because
/// serde_json's serialiser would pull float formatting into the module.
fn show(v: &Value) -> String {
    let s = match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.to_string(),
            (_, Some(i)) => i.to_string(),
            _ => "(a fractional number)".to_string(),
        },
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let shown: Vec<String> = items.iter().take(8).map(show).collect();
            let more = if items.len() > 8 { ", ..." } else { "" };
            format!("[{}{more}]", shown.join(", "))
        }
        Value::Object(_) => "{...}".to_string(),
    };
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

struct Errors(Vec<ConfigError>);

/// Escapes control characters as `quote` does, so that a key or an origin
/// carrying a CR or LF cannot break the one-line message in the proxy's log.
fn one_line(s: String) -> String {
    if !s.chars().any(char::is_control) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

impl Errors {
    fn push(&mut self, field: impl Into<String>, value: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) {
        self.0.push(ConfigError { field: field.into(), value: value.into(), problem: problem.into(), fix: fix.into() });
    }
}

/// Parses and validates a plugin configuration, returning its top-level
/// (default) policy. Rules and mode are validated too; see [`parse_config`].
pub fn parse(bytes: &[u8]) -> Result<PolicySpec, ConfigErrors> {
    parse_config(bytes).map(|c| c.default)
}

/// Parses and validates a whole plugin configuration.
pub fn parse_config(bytes: &[u8]) -> Result<ConfigSpec, ConfigErrors> {
    let mut errs = Errors(Vec::new());
    let spec = parse_inner(bytes, &mut errs);
    match spec {
        Some(spec) if errs.0.is_empty() => Ok(spec),
        _ => {
            // Keys and origins can carry control characters: escape them in
            // one place, so no message ever spans lines.
            for e in &mut errs.0 {
                for part in [&mut e.field, &mut e.value, &mut e.problem, &mut e.fix] {
                    *part = one_line(std::mem::take(part));
                }
            }
            Err(ConfigErrors(errs.0))
        }
    }
}

/// `enforce` (the default) or `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Enforce,
    /// Change nothing; compare what would be sent with what the upstream sent.
    Report,
}

/// A `rules[].match.hosts` entry, matched against the request's authority
/// the way the proxy routes it: Envoy's virtual hosts compare the whole
/// `Host` value, port and trailing dot included (unless the listener strips
/// them), so `pay.example.com` matches no `pay.example.com:8443`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lower-case; a trailing dot is part of the name.
    pub name: String,
    /// `*.name`: any subdomain at any depth, never `name` itself.
    pub subdomains: bool,
    pub port: Port,
}

/// Whether `host` is a subdomain of `domain` (at a dot, any depth), ignoring case.
fn is_subdomain(host: &str, domain: &str) -> bool {
    let Some(cut) = host.len().checked_sub(domain.len() + 1) else {
        return false;
    };
    cut > 0 && host.as_bytes().get(cut) == Some(&b'.') && host.get(cut + 1..).is_some_and(|tail| tail.eq_ignore_ascii_case(domain))
}

impl HostPattern {
    /// Whether every authority `other` matches, this pattern matches too.
    pub fn covers(&self, other: &HostPattern) -> bool {
        let names = match (self.subdomains, other.subdomains) {
            (false, false) => self.name == other.name,
            (false, true) => false,
            (true, false) => is_subdomain(&other.name, &self.name),
            (true, true) => self.name == other.name || is_subdomain(&other.name, &self.name),
        };
        names && self.port.covers(other.port)
    }

    /// `host` and `port` as split by [`split_authority`].
    pub fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let name_ok = if self.subdomains { is_subdomain(host, &self.name) } else { self.name.eq_ignore_ascii_case(host) };
        name_ok && self.port.admits(port)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", if self.subdomains { "*." } else { "" }, self.name, self.port)
    }
}

/// An authority as `host[:port]`: None when the port is not one a client
/// sends (empty, leading zero, out of range), so such a request matches no
/// host rule.
pub fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let port = match port {
        None => None,
        Some(p) => {
            let canonical = !p.is_empty() && !p.starts_with('0') && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            Some(p.parse::<u16>().ok().filter(|_| canonical)?)
        }
    };
    Some((host, port))
}

/// One `rules` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Used in logs and metric names.
    pub name: String,
    /// Empty: any host.
    pub hosts: Vec<HostPattern>,
    pub path_prefix: Option<String>,
    /// The proxy's route names (Envoy's `xds.route_name`); empty: any route.
    pub routes: Vec<String>,
    /// None: `"cors": "off"`, requests pass through untouched.
    pub policy: Option<PolicySpec>,
}

impl RuleSpec {
    /// Whether this rule matches every request `later` would.
    fn covers(&self, later: &RuleSpec) -> bool {
        let hosts =
            self.hosts.is_empty() || (!later.hosts.is_empty() && later.hosts.iter().all(|h| self.hosts.iter().any(|mine| mine.covers(h))));
        // Every path starts with "/", so no prefix is the prefix "/".
        let path = match &self.path_prefix {
            None => true,
            Some(mine) => later.path_prefix.as_deref().unwrap_or("/").starts_with(mine.as_str()),
        };
        let routes = self.routes.is_empty() || (!later.routes.is_empty() && later.routes.iter().all(|r| self.routes.contains(r)));
        hosts && path && routes
    }
}

/// A whole configuration: the default policy, the rules in order, the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSpec {
    pub default: PolicySpec,
    pub rules: Vec<RuleSpec>,
    pub mode: Mode,
}

fn policy_required(errs: &mut Errors, value: &str) {
    errs.push(
        "(configuration)",
        value,
        "no CORS policy given: the plugin configuration is empty",
        format!("set the plugin configuration to a JSON policy, at least {EXAMPLE}"),
    );
}

fn parse_inner(bytes: &[u8], errs: &mut Errors) -> Option<ConfigSpec> {
    if token::trim(bytes).iter().all(|b| b.is_ascii_whitespace()) {
        policy_required(errs, "\"\"");
        return None;
    }
    let root: Value = match crate::json::parse(bytes) {
        Ok(parsed) => {
            for (path, value) in &parsed.repeated {
                errs.push(
                    path.as_str(),
                    show(value),
                    "is given twice in the same object: only one value would apply, so the policy a reviewer reads may not be the one that runs",
                    "keep one of them",
                );
            }
            parsed.value
        }
        Err(e) => {
            let text = String::from_utf8_lossy(bytes);
            let shown: String = text.chars().take(60).collect();
            errs.push(
                "(configuration)",
                quote(&shown),
                format!("is not valid JSON ({e})"),
                format!("write a JSON object such as {EXAMPLE}"),
            );
            return None;
        }
    };
    let obj = match &root {
        Value::Object(m) => m,
        Value::Null => {
            policy_required(errs, "null");
            return None;
        }
        Value::String(s) if s.trim().is_empty() => {
            policy_required(errs, "\"\"");
            return None;
        }
        other => {
            errs.push("(configuration)", show(other), "must be a JSON object", format!("write a JSON object such as {EXAMPLE}"));
            return None;
        }
    };
    let default = parse_policy(obj, "", &["mode", "rules"], errs);
    let mode = match obj.get("mode") {
        None => Mode::Enforce,
        Some(Value::String(m)) if m == "enforce" => Mode::Enforce,
        Some(Value::String(m)) if m == "report" => Mode::Report,
        Some(other) => {
            errs.push(
                "mode",
                show(other),
                "must be \"enforce\" or \"report\"",
                "use \"report\" to compare with the upstream's CORS headers without changing anything, or leave it out",
            );
            Mode::Enforce
        }
    };
    // Rules a gateway injected (Higress: per-route and per-domain
    // configuration) come first, as the gateway means them to override.
    let mut placed: Vec<(String, RuleSpec)> = Vec::new();
    if let Some(v) = obj.get("_rules_") {
        higress_rules(v, &mut placed, errs);
    }
    match obj.get("rules") {
        None => {}
        Some(Value::Array(items)) => rules(items, &mut placed, errs),
        Some(other) => {
            errs.push("rules", show(other), "must be a list of rules", "write \"rules\": [{\"match\": {...}, ...}]");
        }
    }
    let rules = placed.into_iter().map(|(_, r)| r).collect();
    default.map(|default| ConfigSpec { default, rules, mode })
}

const RULE_KEYS: [&str; 3] = ["match", "name", "cors"];

/// Adds a rule after the earlier ones (each with the field it came from),
/// refusing it when an earlier rule matches every request it would.
fn place(out: &mut Vec<(String, RuleSpec)>, field: String, match_value: &Value, rule: RuleSpec, errs: &mut Errors) {
    if let Some((at, earlier)) = out.iter().find(|(_, e)| e.covers(&rule)) {
        errs.push(
            format!("{field}.match"),
            show(match_value),
            format!("can never match: {at} (\"{}\") matches every request this rule would, and the first match wins", earlier.name),
            format!("move it before {at}, or narrow {at}'s match"),
        );
    }
    out.push((field, rule));
}

/// Higress's per-route and per-domain rules: `{"_match_route_": [...]}` or
/// `{"_match_domain_": [...]}` beside a policy. Honoured as rules (Higress
/// matches domains without the port, so these match any port); other match
/// kinds are refused rather than silently ignored.
fn higress_rules(v: &Value, out: &mut Vec<(String, RuleSpec)>, errs: &mut Errors) {
    let Value::Array(items) = v else {
        errs.push("_rules_", show(v), "must be a list (the gateway's per-route rules)", "check the gateway's plugin configuration");
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let field = format!("_rules_[{i}]");
        let Value::Object(obj) = item else {
            errs.push(field, show(item), "must be an object", "write {\"_match_route_\": [\"route-name\"], \"allow_origins\": [...]}");
            continue;
        };
        for (k, val) in obj {
            if k.starts_with("_match_") && k != "_match_route_" && k != "_match_domain_" {
                errs.push(
                    format!("{field}.{k}"),
                    show(val),
                    "is a gateway match that edge-cors cannot apply (it reads _match_route_ and _match_domain_)",
                    "match by route or domain, or write the rule in edge-cors's own \"rules\" with match.hosts/path_prefix/routes",
                );
            }
        }
        let routes = obj.get("_match_route_").map(|r| route_names(&format!("{field}._match_route_"), r, errs)).unwrap_or_default();
        let hosts =
            obj.get("_match_domain_").map(|h| host_patterns(&format!("{field}._match_domain_"), h, Port::Any, errs)).unwrap_or_default();
        if obj.get("_match_route_").is_none() && obj.get("_match_domain_").is_none() {
            errs.push(
                field.as_str(),
                "{...}",
                "has neither _match_route_ nor _match_domain_, so it would match every request",
                "add the route or domain it is for",
            );
        }
        let policy = parse_policy(obj, &format!("{field}."), &[], errs);
        let rule = RuleSpec { name: format!("higress-{i}"), hosts, path_prefix: None, routes, policy };
        place(out, field, item, rule, errs);
    }
}

fn rules(items: &[Value], out: &mut Vec<(String, RuleSpec)>, errs: &mut Errors) {
    for (i, item) in items.iter().enumerate() {
        let field = format!("rules[{i}]");
        let Value::Object(obj) = item else {
            errs.push(field, show(item), "must be an object", "write {\"match\": {\"path_prefix\": \"/api/\"}, \"allow_origins\": [...]}");
            continue;
        };
        let name = match obj.get("name") {
            None => format!("rule{i}"),
            Some(Value::String(n)) if is_rule_name(n) => n.clone(),
            Some(other) => {
                errs.push(
                    format!("{field}.name"),
                    show(other),
                    "must be 1 to 64 lower-case letters, digits, - or _ (it becomes part of metric names)",
                    "write a name such as \"payments-api\"",
                );
                format!("rule{i}")
            }
        };
        if out.iter().any(|(_, r)| r.name == name) || name == "default" {
            errs.push(format!("{field}.name"), quote(&name), "is used by another rule (or is \"default\")", "give each rule its own name");
        }
        let RuleMatch { hosts, path_prefix, routes } = rule_match(&field, obj.get("match"), errs);
        let policy = match obj.get("cors") {
            Some(Value::String(off)) if off == "off" => {
                let extra: Vec<&String> = obj.keys().filter(|k| !k.starts_with('_') && !RULE_KEYS.contains(&k.as_str())).collect();
                if let Some(k) = extra.first() {
                    errs.push(
                        format!("{field}.{k}"),
                        show(obj.get(k.as_str()).unwrap_or(&Value::Null)),
                        "has no effect in a rule with \"cors\": \"off\"",
                        "remove it, or remove \"cors\": \"off\"",
                    );
                }
                None
            }
            Some(other) => {
                errs.push(
                    format!("{field}.cors"),
                    show(other),
                    "must be \"off\" (the only value)",
                    "write \"cors\": \"off\" to pass matching requests through untouched, or remove it",
                );
                None
            }
            None => parse_policy(obj, &format!("{field}."), &RULE_KEYS, errs),
        };
        let rule = RuleSpec { name, hosts, path_prefix, routes, policy };
        place(out, field, obj.get("match").unwrap_or(&Value::Null), rule, errs);
    }
}

fn is_rule_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What a rule's `match` says.
#[derive(Default)]
struct RuleMatch {
    hosts: Vec<HostPattern>,
    path_prefix: Option<String>,
    routes: Vec<String>,
}

const MATCH_KEYS: [&str; 3] = ["hosts", "path_prefix", "routes"];

fn rule_match(field: &str, v: Option<&Value>, errs: &mut Errors) -> RuleMatch {
    let example =
        "write \"match\": {\"hosts\": [\"api.example.com\"], \"path_prefix\": \"/v1/\"} (hosts, path_prefix, routes: any of them)";
    let Some(Value::Object(m)) = v else {
        errs.push(
            format!("{field}.match"),
            v.map_or_else(|| "(absent)".to_string(), show),
            "is required: an object with \"hosts\", \"path_prefix\" and/or \"routes\" (the top-level policy already covers every request)",
            example,
        );
        return RuleMatch::default();
    };
    for (k, val) in m {
        if !MATCH_KEYS.contains(&k.as_str()) {
            errs.push(format!("{field}.match.{k}"), show(val), "is not a known key (known: hosts, path_prefix, routes)", "remove it");
        }
    }
    let hosts = m.get("hosts").map(|h| host_patterns(&format!("{field}.match.hosts"), h, Port::Default, errs)).unwrap_or_default();
    let routes = m.get("routes").map(|r| route_names(&format!("{field}.match.routes"), r, errs)).unwrap_or_default();
    let path_prefix = match m.get("path_prefix") {
        None => None,
        Some(Value::String(p)) if p.starts_with('/') && !p.contains('?') && !p.contains('#') && p.bytes().all(|b| b > b' ' && b < 0x7f) => {
            Some(p.clone())
        }
        Some(other) => {
            errs.push(
                format!("{field}.match.path_prefix"),
                show(other),
                "must be a path starting with / (no query, fragment, spaces or non-ASCII)",
                "write a prefix such as \"/api/\"",
            );
            None
        }
    };
    if MATCH_KEYS.iter().all(|k| m.get(*k).is_none()) {
        errs.push(format!("{field}.match"), "{}", "matches every request (no hosts, path_prefix or routes)", example);
    }
    RuleMatch { hosts, path_prefix, routes }
}

/// `match.hosts`; `no_port` is what an entry without a port means.
fn host_patterns(field: &str, v: &Value, no_port: Port, errs: &mut Errors) -> Vec<HostPattern> {
    let items = strings(field, v, errs);
    if items.is_empty() && matches!(v, Value::Array(a) if a.is_empty()) {
        errs.push(field, "[]", "is empty, so the rule would never match", "list host names, or remove it to match any host");
    }
    let mut hosts = Vec::new();
    for (f, raw) in items {
        match host_pattern(raw, no_port) {
            Ok(p) => {
                if !hosts.contains(&p) {
                    hosts.push(p);
                }
            }
            Err((problem, fix)) => errs.push(f, quote(raw), problem, fix),
        }
    }
    hosts
}

/// `match.routes`: the proxy's route names, compared exactly.
fn route_names(field: &str, v: &Value, errs: &mut Errors) -> Vec<String> {
    let items = strings(field, v, errs);
    if items.is_empty() && matches!(v, Value::Array(a) if a.is_empty()) {
        errs.push(field, "[]", "is empty, so the rule would never match", "list route names, or remove it to match any route");
    }
    let mut out: Vec<String> = Vec::new();
    for (f, raw) in items {
        if raw.is_empty() || raw.len() > 256 || raw.chars().any(char::is_control) {
            errs.push(
                f,
                quote(raw),
                "is not a route name (1 to 256 characters, no control characters)",
                "write the route's name as the proxy's route table gives it",
            );
        } else if !out.iter().any(|r| r == raw) {
            out.push(raw.to_string());
        }
    }
    out
}

fn host_pattern(raw: &str, no_port: Port) -> Result<HostPattern, (String, String)> {
    let fix = || {
        "write a host as the proxy sees it: \"api.example.com\", \"api.example.com:8443\", \"api.example.com:*\" or \"*.example.com\" (no scheme or path)".to_string()
    };
    if !raw.is_ascii() {
        return Err(("contains non-ASCII characters".into(), "write the host in its xn-- (punycode) form".into()));
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains('/') || lower.contains('@') {
        return Err(("is not a host: hosts are matched without scheme or path".into(), fix()));
    }
    let (name, port) = match lower.strip_suffix(":*") {
        Some(name) => (name, Port::Any),
        None => match split_authority(&lower) {
            Some((name, Some(p))) => (name, Port::Is(p)),
            Some((name, None)) => (name, no_port),
            None => return Err(("has an invalid port".into(), "write the port as a number from 1 to 65535, or * for any port".into())),
        },
    };
    // A trailing dot is part of the name (the proxy routes it apart); the
    // rest must be a host name, checked as an origin's host is.
    let bare = name.strip_suffix('.').unwrap_or(name);
    if let Some(base) = bare.strip_prefix("*.") {
        if OriginEntry::parse(&format!("https://*.{base}")).is_err() {
            return Err((format!("is not a valid wildcard host (\"{base}\" must be a domain with at least two labels)"), fix()));
        }
        return Ok(HostPattern { name: name.get(2..).unwrap_or(base).to_string(), subdomains: true, port });
    }
    match OriginEntry::parse(&format!("https://{bare}")) {
        Ok(OriginEntry::Exact(o)) if o.len() == "https://".len() + bare.len() => {
            Ok(HostPattern { name: name.to_string(), subdomains: false, port })
        }
        _ => Err(("is not a valid host name".into(), fix())),
    }
}

/// Parses the policy fields of one JSON object. `prefix` names where the
/// object sits, so the same code can validate nested policies.
/// `extra` lists the keys the caller handles itself.
fn parse_policy(obj: &Map<String, Value>, prefix: &str, extra: &[&str], errs: &mut Errors) -> Option<PolicySpec> {
    let mut found: [Option<(&str, &Value)>; KEYS.len()] = [None; KEYS.len()];
    for (name, value) in obj {
        // Gateways such as Higress inject their own `_`-prefixed keys.
        if name.starts_with('_') || extra.contains(&name.as_str()) {
            continue;
        }
        let Some(i) = KEYS.iter().position(|(snake, aws, _)| name == snake || (!aws.is_empty() && name == aws)) else {
            errs.push(
                format!("{prefix}{name}"),
                show(value),
                "is not a known key",
                match suggest(name) {
                    Some(k) => format!("did you mean \"{k}\"? (known keys: {})", known_keys()),
                    None => format!("remove it (known keys: {})", known_keys()),
                },
            );
            continue;
        };
        if let Some(slot) = found.get_mut(i) {
            if let Some((first, _)) = slot {
                errs.push(format!("{prefix}{name}"), show(value), format!("is given twice (also as \"{first}\")"), "keep one spelling");
            } else {
                *slot = Some((name.as_str(), value));
            }
        }
    }
    let get = |key: Key| {
        KEYS.iter()
            .position(|(_, _, k)| *k == key)
            .and_then(|i| found.get(i).copied().flatten())
            .map(|(name, v)| (format!("{prefix}{name}"), v))
    };

    let credentials = get(Key::AllowCredentials).is_some_and(|(f, v)| boolean(&f, v, errs));
    let private_network = get(Key::AllowPrivateNetwork).is_some_and(|(f, v)| boolean(&f, v, errs));
    let insecure = get(Key::AllowInsecureOrigins).is_some_and(|(f, v)| boolean(&f, v, errs));

    let origins = match get(Key::AllowOrigins) {
        Some((f, v)) => origins(&f, v, credentials, insecure, errs),
        None => {
            errs.push(
                format!("{prefix}allow_origins"),
                "(absent)",
                "is required: a CORS policy must say which origins are allowed",
                format!("add it, for example {EXAMPLE}"),
            );
            Vec::new()
        }
    };
    let methods = get(Key::AllowMethods).map_or(Names::List(Vec::new()), |(f, v)| names(&f, v, NameKind::Method, errs));
    let methods = match methods {
        Names::List(l) if l.is_empty() => Names::List(DEFAULT_METHODS.iter().map(|m| m.to_string()).collect()),
        m => m,
    };
    let headers = get(Key::AllowHeaders).map_or(Names::List(Vec::new()), |(f, v)| names(&f, v, NameKind::Header, errs));
    let expose = get(Key::ExposeHeaders).map_or(Names::List(Vec::new()), |(f, v)| names(&f, v, NameKind::Header, errs));
    if credentials && expose == Names::Any {
        if let Some((f, v)) = get(Key::ExposeHeaders) {
            errs.push(
                f,
                show(v),
                "is [\"*\"] with allow_credentials: true; browsers then read \"*\" as a header literally named *, exposing nothing",
                "list the response headers JavaScript may read",
            );
        }
    }
    let max_age = get(Key::MaxAge).and_then(|(f, v)| max_age(&f, v, errs));
    let timing = get(Key::TimingAllowOrigin).is_some_and(|(f, v)| boolean(&f, v, errs));
    let preflight_status = get(Key::PreflightStatus).map_or(204, |(f, v)| preflight_status(&f, v, errs));

    Some(PolicySpec { origins, methods, headers, expose, max_age, credentials, private_network, timing, preflight_status })
}

fn known_keys() -> String {
    let names: Vec<&str> = KEYS.iter().map(|(s, _, _)| *s).collect();
    names.join(", ")
}

/// The known key closest to a mistyped one, if any is close.
fn suggest(name: &str) -> Option<&'static str> {
    let squash = |s: &str| s.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase();
    let wanted = squash(name);
    KEYS.iter()
        .map(|(snake, _, _)| (edit_distance(&wanted, &squash(snake)), *snake))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

fn boolean(field: &str, v: &Value, errs: &mut Errors) -> bool {
    match v {
        Value::Bool(b) => *b,
        _ => {
            errs.push(field, show(v), "must be true or false", "write true or false without quotes");
            false
        }
    }
}

/// 204 or 200: a few old devices (and some proxies) mishandle a 204 answer.
fn preflight_status(field: &str, v: &Value, errs: &mut Errors) -> u16 {
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

fn max_age(field: &str, v: &Value, errs: &mut Errors) -> Option<u32> {
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
fn strings<'v>(field: &str, v: &'v Value, errs: &mut Errors) -> Vec<(String, &'v str)> {
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
            Value::String(s) => out.push((format!("{field}[{i}]"), s.as_str())),
            other => errs.push(format!("{field}[{i}]"), show(other), "must be a string", "quote it"),
        }
    }
    out
}

fn origins(field: &str, v: &Value, credentials: bool, insecure: bool, errs: &mut Errors) -> Vec<OriginEntry> {
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
    // Tenant lists run to thousands: find duplicates by hash, not by scan.
    let mut seen: std::collections::HashSet<OriginEntry, crate::origin::FastHash> =
        std::collections::HashSet::with_capacity_and_hasher(items.len(), Default::default());
    for (f, raw) in &items {
        let entry = match OriginEntry::parse(raw) {
            Ok(e) => e,
            Err(e) => {
                errs.push(f, quote(raw), e.problem, e.fix);
                continue;
            }
        };
        if credentials && entry == OriginEntry::Null {
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
        if seen.insert(entry.clone()) {
            out.push(entry);
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Method,
    Header,
}

fn names(field: &str, v: &Value, kind: NameKind, errs: &mut Errors) -> Names {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(json: &str) -> PolicySpec {
        parse(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn errors(json: &str) -> Vec<ConfigError> {
        match parse(json.as_bytes()) {
            Ok(spec) => panic!("{json} accepted as {spec:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn contract_example_parses() {
        let spec = ok(r#"{
            "allow_origins": ["https://app.example.com", "https://*.example.com"],
            "allow_methods": ["GET", "POST"],
            "allow_headers": ["content-type", "authorization"],
            "expose_headers": ["etag", "x-request-id"],
            "max_age": 3600,
            "allow_credentials": false,
            "allow_private_network": false
        }"#);
        assert_eq!(spec.origins.len(), 2);
        assert_eq!(spec.methods, Names::List(vec!["GET".into(), "POST".into()]));
        assert_eq!(spec.headers, Names::List(vec!["content-type".into(), "authorization".into()]));
        assert_eq!(spec.expose, Names::List(vec!["etag".into(), "x-request-id".into()]));
        assert_eq!(spec.max_age, Some(3600));
        assert!(!spec.credentials);
    }

    #[test]
    fn aws_spelling_is_the_same_policy() {
        let aws = ok(r#"{"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET","PUT"],
            "AllowHeaders": ["Authorization"], "ExposeHeaders": ["ETag"], "MaxAge": 600, "AllowCredentials": true}"#);
        let snake = ok(r#"{"allow_origins": ["https://app.example.com"], "allow_methods": ["GET","PUT"],
            "allow_headers": ["authorization"], "expose_headers": ["etag"], "max_age": 600, "allow_credentials": true}"#);
        assert_eq!(aws, snake);
    }

    #[test]
    fn defaults() {
        let spec = ok(r#"{"allow_origins": ["https://a.example"]}"#);
        assert_eq!(spec.methods, Names::List(vec!["GET".into(), "HEAD".into(), "POST".into()]));
        assert_eq!(spec.headers, Names::List(vec![]));
        assert_eq!(spec.expose, Names::List(vec![]));
        assert_eq!(spec.max_age, None);
        assert!(!spec.credentials && !spec.private_network);
        let spec = ok(r#"{"allow_origins": ["https://a.example"], "allow_methods": []}"#);
        assert_eq!(spec.methods, Names::List(vec!["GET".into(), "HEAD".into(), "POST".into()]));
    }

    #[test]
    fn normalisation() {
        let spec = ok(r#"{"allow_origins": ["https://A.example:443", "https://a.example"],
            "allow_methods": ["get", "patch", "PATCH", "Delete"], "allow_headers": ["X-Token", "x-token"]}"#);
        assert_eq!(spec.origins, vec![OriginEntry::Exact("https://a.example".into())]);
        // `patch` is not normalised by browsers, so both spellings stay distinct.
        assert_eq!(spec.methods, Names::List(vec!["GET".into(), "patch".into(), "PATCH".into(), "DELETE".into()]));
        assert_eq!(spec.headers, Names::List(vec!["x-token".into()]));
    }

    #[test]
    fn underscore_keys_are_ignored() {
        ok(r#"{"_rules_": [], "_match_route_": ["x"], "allow_origins": ["https://a.example"]}"#);
    }

    #[test]
    fn wildcard_lists() {
        let spec = ok(r#"{"allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": ["*"], "expose_headers": ["*"]}"#);
        assert_eq!(spec.origins, vec![OriginEntry::Any]);
        assert_eq!((spec.methods, spec.headers, spec.expose), (Names::Any, Names::Any, Names::Any));
    }

    #[test]
    fn credentials_with_loopback_http_is_fine() {
        ok(r#"{"allow_origins": ["http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]"], "allow_credentials": true}"#);
        ok(r#"{"allow_origins": ["http://app.example.com"], "allow_credentials": true, "allow_insecure_origins": true}"#);
        ok(r#"{"allow_origins": ["http://app.example.com"], "allow_credentials": false}"#);
    }

    /// Every refusal of the contract: (config, field, words in the problem, words in the fix).
    #[test]
    fn refusals_name_field_value_and_fix() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("", "(configuration)", "no CORS policy", "allow_origins"),
            ("   \n", "(configuration)", "no CORS policy", "allow_origins"),
            ("\"\"", "(configuration)", "no CORS policy", "allow_origins"),
            ("null", "(configuration)", "no CORS policy", "allow_origins"),
            ("{}", "allow_origins", "is required", "allow_origins"),
            (r#"{"allow_methods": ["GET"]}"#, "allow_origins", "is required", "allow_origins"),
            ("{not json", "(configuration)", "not valid JSON", "JSON object"),
            ("[1,2]", "(configuration)", "must be a JSON object", "JSON object"),
            (r#"{"allow_origins": []}"#, "allow_origins", "is empty", "list"),
            (r#"{"allow_origins": "https://a.example"}"#, "allow_origins", "list of strings", "[\"https://a.example\"]"),
            (r#"{"allow_origins": [7]}"#, "allow_origins[0]", "must be a string", "quote"),
            (r#"{"allow_origins": ["*"], "allow_credentials": true}"#, "allow_origins[0]", "every origin", "allow_credentials to false"),
            (r#"{"allow_origins": ["https://*"], "allow_credentials": true}"#, "allow_origins[0]", "every origin", "exact origins"),
            (
                r#"{"allow_origins": ["http://app.example.com"], "allow_credentials": true}"#,
                "allow_origins[0]",
                "plain-HTTP",
                "allow_insecure_origins",
            ),
            (r#"{"allow_origins": ["http://*.example.com"], "allow_credentials": true}"#, "allow_origins[0]", "plain-HTTP", "https://"),
            (r#"{"allow_origins": ["https://a.example/"]}"#, "allow_origins[0]", "trailing slash", "\"https://a.example\""),
            (r#"{"allow_origins": ["https://a.example/x"]}"#, "allow_origins[0]", "no path", "\"https://a.example\""),
            (r#"{"allow_origins": ["ftp://a.example"]}"#, "allow_origins[0]", "https://", "origin such as"),
            (r#"{"allow_origins": ["https://a.example:70000"]}"#, "allow_origins[0]", "invalid port", "1 to 65535"),
            (r#"{"allow_origins": ["https://*.com"]}"#, "allow_origins[0]", "top-level domain", "*.example.com"),
            (r#"{"allow_origins": ["*", "https://a.example"]}"#, "allow_origins", "mixes", "[\"*\"] alone"),
            (
                r#"{"allow_origins": ["*"], "allow_methods": ["GET POST"]}"#,
                "allow_methods[0]",
                "not a valid method",
                "one name per list entry",
            ),
            (r#"{"allow_origins": ["*"], "allow_methods": ["GET,POST"]}"#, "allow_methods[0]", "not a valid method", "one name"),
            (r#"{"allow_origins": ["*"], "allow_headers": ["x token"]}"#, "allow_headers[0]", "not a valid header", "without spaces"),
            (r#"{"allow_origins": ["*"], "allow_headers": ["*", "x"]}"#, "allow_headers", "mixes", "alone"),
            (r#"{"allow_origins": ["*"], "expose_headers": ["é"]}"#, "expose_headers[0]", "not a valid header", "without spaces"),
            (
                r#"{"allow_origins": ["https://a.example"], "expose_headers": ["*"], "allow_credentials": true}"#,
                "expose_headers",
                "literally",
                "list the response headers",
            ),
            (r#"{"allow_origins": ["*"], "max_age": 86401}"#, "max_age", "0 to 86400", "3600"),
            (r#"{"allow_origins": ["*"], "max_age": -1}"#, "max_age", "0 to 86400", "3600"),
            (r#"{"allow_origins": ["*"], "max_age": 1.5}"#, "max_age", "whole number", "3600"),
            (r#"{"allow_origins": ["*"], "max_age": "3600"}"#, "max_age", "whole number", "3600"),
            (r#"{"allow_origins": ["*"], "allow_credentials": "false"}"#, "allow_credentials", "true or false", "without quotes"),
            (r#"{"allow_origins": ["*"], "allow_orgins": ["x"]}"#, "allow_orgins", "not a known key", "did you mean \"allow_origins\""),
            (r#"{"allow_origins": ["*"], "allowOrigins": ["x"]}"#, "allowOrigins", "not a known key", "did you mean \"allow_origins\""),
            (r#"{"allow_origins": ["*"], "credentials": true}"#, "credentials", "not a known key", "known keys"),
            (
                r#"{"allow_origins": ["*"], "AllowOrigins": ["*"]}"#,
                "allow_origins",
                "given twice (also as \"AllowOrigins\")",
                "one spelling",
            ),
            // Contract: null with credentials is refused like * with credentials.
            (r#"{"allow_origins": ["null"], "allow_credentials": true}"#, "allow_origins[0]", "null origin", "allow_credentials to false"),
            (
                r#"{"allow_origins": ["https://a.example", "NULL"], "allow_credentials": true}"#,
                "allow_origins[1]",
                "sandboxed iframe",
                "remove \"null\"",
            ),
            // Contract: a key given twice in one object is refused at any depth.
            (
                r#"{"allow_origins": ["https://a.example"], "allow_origins": ["*"]}"#,
                "allow_origins",
                "given twice in the same object",
                "keep one",
            ),
            (r#"{"allow_origins": ["*"], "max_age": 1, "max_age": 2}"#, "max_age", "given twice", "keep one"),
            (r#"{"allow_origins": ["*"], "_x_": 1, "_x_": 2}"#, "_x_", "given twice", "keep one"),
            (
                r#"{"allow_origins": ["*"], "rules": [{"match": {"path_prefix": "/a/"}, "cors": "off"}, {"match": {"path_prefix": "/b/"}, "allow_origins": ["https://a.example"], "allow_credentials": true, "allow_credentials": false}]}"#,
                "rules[1].allow_credentials",
                "given twice",
                "keep one",
            ),
            (
                r#"{"allow_origins": ["*"], "rules": [{"match": {"hosts": ["a.example"], "hosts": ["b.example"]}, "cors": "off"}]}"#,
                "rules[0].match.hosts",
                "given twice",
                "keep one",
            ),
            (
                r#"{"allow_origins": ["*"], "rules": [{"match": {"path_prefix": "/a/"}, "AllowOrigins": ["https://a.example"], "allow_origins": ["https://b.example"]}]}"#,
                "rules[0].allow_origins",
                "given twice (also as \"AllowOrigins\")",
                "one spelling",
            ),
            // Other schemes: exact only.
            (r#"{"allow_origins": ["chrome-extension://*.x"]}"#, "allow_origins[0]", "chrome-extension://", "<extension-id>"),
            (
                r#"{"allow_origins": ["http://app.example.com:*"], "allow_credentials": true}"#,
                "allow_origins[0]",
                "plain-HTTP",
                "allow_insecure_origins",
            ),
            (r#"{"allow_origins": ["http://*.example.com:*"], "allow_credentials": true}"#, "allow_origins[0]", "plain-HTTP", "https://"),
            (r#"{"allow_origins": ["*"], "timing_allow_origin": "yes"}"#, "timing_allow_origin", "true or false", "without quotes"),
            (r#"{"allow_origins": ["*"], "preflight_status": 201}"#, "preflight_status", "204 or 200", "200"),
            (r#"{"allow_origins": ["*"], "preflight_status": "200"}"#, "preflight_status", "204 or 200", "200"),
        ];
        for (json, field, problem, fix) in cases {
            let errs = errors(json);
            let e = errs.iter().find(|e| e.field == *field).unwrap_or_else(|| panic!("{json}: no error for {field} in {errs:?}"));
            assert!(e.problem.contains(problem), "{json}: problem {:?} lacks {problem:?}", e.problem);
            assert!(e.fix.contains(fix), "{json}: fix {:?} lacks {fix:?}", e.fix);
            assert!(!e.value.is_empty(), "{json}: no value shown");
        }
    }

    #[test]
    fn new_origin_forms_and_options_load() {
        let spec = ok(r#"{"allow_origins": ["null"], "allow_credentials": false}"#);
        assert_eq!(spec.origins, vec![OriginEntry::Null], "null without credentials stays allowed");
        ok(r#"{"allow_origins": ["http://localhost:*", "http://[::1]:*", "https://*.example.com:*", "capacitor://localhost",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop"], "allow_credentials": true}"#);
        let spec = ok(r#"{"allow_origins": ["*"], "timing_allow_origin": true, "preflight_status": 200}"#);
        assert!(spec.timing);
        assert_eq!(spec.preflight_status, 200);
        let spec = ok(r#"{"allow_origins": ["*"]}"#);
        assert!(!spec.timing);
        assert_eq!(spec.preflight_status, 204);
    }

    /// The message names the path of the second occurrence, in one line.
    #[test]
    fn a_key_given_twice_is_named_by_its_path() {
        let err = parse_config(br#"{"allow_origins": ["*"], "rules": [{"match": {"path_prefix": "/a/"}, "cors": "off"},
            {"match": {"path_prefix": "/b/"}, "allow_origins": ["https://a.example"], "allow_credentials": true, "allow_credentials": false}]}"#)
            .expect_err("twice");
        assert_eq!(
            err.to_string(),
            "invalid edge-cors configuration: rules[1].allow_credentials = false: is given twice in the same object: only one value \
             would apply, so the policy a reviewer reads may not be the one that runs; fix: keep one of them"
        );
    }

    #[test]
    fn every_problem_is_reported_in_one_line() {
        let err = parse(br#"{"allow_origins": ["https://a.example/", "ftp://b"], "max_age": -5, "colour": 1}"#).expect_err("invalid");
        assert_eq!(err.0.len(), 4, "{err}");
        let line = err.to_string();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("invalid edge-cors configuration: "));
        assert!(line.contains("allow_origins[0] = \"https://a.example/\""), "{line}");
        assert!(line.contains("max_age = -5"), "{line}");
        assert!(line.contains("colour = 1: is not a known key"), "{line}");
    }

    /// Found by `cargo fuzz` (target `config`): a key or an origin with a
    /// CR or LF in it went into the message raw, splitting the log line.
    #[test]
    fn control_characters_never_split_the_message() {
        let err = parse(b"{\"allow_origins\": [\"https://[::1]\\r\\nx\", \"http://loca\\nhost\"], \"allow_\\rcredentials\": true}")
            .expect_err("invalid");
        let line = err.to_string();
        assert!(!line.contains(['\r', '\n']), "{line:?}");
        assert!(line.contains("allow_\\u000dcredentials = true: is not a known key"), "{line}");
        assert!(line.contains("has junk after the IPv6 address: \"\\u000d\\u000ax\""), "{line}");
        assert_eq!(err.0.len(), 3, "{line}");
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(500);
        let errs = errors(&format!(r#"{{"allow_origins": ["*"], "max_age": "{long}"}}"#));
        assert!(errs.iter().all(|e| e.value.len() < 100), "{errs:?}");
    }
}
