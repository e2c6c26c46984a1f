//! `rules` and gateway-injected `_rules_`: matching by host (as the proxy
//! routes the authority), path prefix and route name, and refusing a rule an
//! earlier one hides.

use std::fmt;

use serde_json::Value;

use super::errors::{quote, show, Errors};
use super::policy::{parse_policy, strings, PolicySpec};
use crate::origins::{port_number, split_host_port, HostPort, OriginEntry, Port};

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
pub(super) fn is_subdomain(host: &str, domain: &str) -> bool {
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
    let HostPort { host, port } = split_host_port(authority).ok()?;
    let port = match port {
        None => None,
        Some(p) => Some(port_number(p)?),
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
    /// `match.path_prefix`, or `match.path_separated_prefix` (then
    /// `separated`).
    pub path_prefix: Option<String>,
    /// `match.path_separated_prefix`: the prefix matches whole segments, as
    /// Envoy's route option of that name and Gateway API's `PathPrefix` do:
    /// the path is the prefix, or the prefix followed by `/`.
    pub separated: bool,
    /// `match.case_sensitive: false`: the prefix compares ignoring ASCII
    /// case, as an Envoy route with `case_sensitive: false` does.
    pub case_sensitive: bool,
    /// The proxy's route names (Envoy's `xds.route_name`); empty: any route.
    pub routes: Vec<String>,
    /// None: `"cors": "off"`, requests pass through untouched.
    pub policy: Option<PolicySpec>,
}

impl RuleSpec {
    /// Whether this rule matches every request `later` would.
    pub(super) fn covers(&self, later: &RuleSpec) -> bool {
        let hosts =
            self.hosts.is_empty() || (!later.hosts.is_empty() && later.hosts.iter().all(|h| self.hosts.iter().any(|mine| mine.covers(h))));
        // Every path starts with "/", so no prefix is the prefix "/".
        let later_path = later.path_prefix.as_deref().unwrap_or("/");
        // Whether every path the later prefix matches starts with `head`:
        // ignoring case, this rule covers every spelling of the later one;
        // a later rule ignoring case matches spellings this one does not.
        let starts = |head: &str| match self.case_sensitive {
            false => later_path.get(..head.len()).is_some_and(|h| h.eq_ignore_ascii_case(head)),
            true => later.case_sensitive && later_path.starts_with(head),
        };
        let path = match &self.path_prefix {
            None => true,
            Some(mine) if !self.separated => starts(mine),
            // Segments: the later paths are all `mine` or under `mine/`.
            Some(mine) => {
                let same = later.separated
                    && match self.case_sensitive {
                        false => later_path.eq_ignore_ascii_case(mine),
                        true => later.case_sensitive && later_path == mine,
                    };
                same || starts(&format!("{mine}/"))
            }
        };
        let routes = self.routes.is_empty() || (!later.routes.is_empty() && later.routes.iter().all(|r| self.routes.contains(r)));
        hosts && path && routes
    }
}

pub(super) const RULE_KEYS: [&str; 3] = ["match", "name", "cors"];

/// Adds a rule after the earlier ones (each with the field it came from),
/// refusing it when an earlier rule matches every request it would.
pub(super) fn place(out: &mut Vec<(String, RuleSpec)>, field: String, match_value: &Value, rule: RuleSpec, errs: &mut Errors) {
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
pub(super) fn higress_rules(v: &Value, out: &mut Vec<(String, RuleSpec)>, errs: &mut Errors) {
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
        let rule =
            RuleSpec { name: format!("higress-{i}"), hosts, path_prefix: None, separated: false, case_sensitive: true, routes, policy };
        place(out, field, item, rule, errs);
    }
}

pub(super) fn rules(items: &[Value], out: &mut Vec<(String, RuleSpec)>, errs: &mut Errors) {
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
        let RuleMatch { hosts, path_prefix, separated, case_sensitive, routes } = rule_match(&field, obj.get("match"), errs);
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
        let rule = RuleSpec { name, hosts, path_prefix, separated, case_sensitive, routes, policy };
        place(out, field, obj.get("match").unwrap_or(&Value::Null), rule, errs);
    }
}

pub(super) fn is_rule_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What a rule's `match` says.
pub(super) struct RuleMatch {
    hosts: Vec<HostPattern>,
    path_prefix: Option<String>,
    separated: bool,
    case_sensitive: bool,
    routes: Vec<String>,
}

impl Default for RuleMatch {
    fn default() -> RuleMatch {
        RuleMatch { hosts: Vec::new(), path_prefix: None, separated: false, case_sensitive: true, routes: Vec::new() }
    }
}

/// The keys that select requests; `case_sensitive` only qualifies a path prefix.
pub(super) const MATCH_KEYS: [&str; 4] = ["hosts", "path_prefix", "path_separated_prefix", "routes"];

pub(super) fn rule_match(field: &str, v: Option<&Value>, errs: &mut Errors) -> RuleMatch {
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
        if !MATCH_KEYS.contains(&k.as_str()) && k != "case_sensitive" {
            errs.push(
                format!("{field}.match.{k}"),
                show(val),
                "is not a known key (known: hosts, path_prefix, path_separated_prefix, case_sensitive, routes)",
                "remove it",
            );
        }
    }
    let case_sensitive = match m.get("case_sensitive") {
        None => true,
        Some(Value::Bool(b)) if m.contains_key("path_prefix") || m.contains_key("path_separated_prefix") => *b,
        Some(Value::Bool(_)) => {
            errs.push(
                format!("{field}.match.case_sensitive"),
                show(m.get("case_sensitive").unwrap_or(&Value::Null)),
                "has no effect without match.path_prefix or path_separated_prefix (host names always compare ignoring case)",
                "remove it, or add the path_prefix it qualifies",
            );
            true
        }
        Some(other) => {
            errs.push(
                format!("{field}.match.case_sensitive"),
                show(other),
                "must be true or false",
                "write false when the proxy's route matches this prefix ignoring case (Envoy: case_sensitive: false)",
            );
            true
        }
    };
    let hosts = m.get("hosts").map(|h| host_patterns(&format!("{field}.match.hosts"), h, Port::Default, errs)).unwrap_or_default();
    let routes = m.get("routes").map(|r| route_names(&format!("{field}.match.routes"), r, errs)).unwrap_or_default();
    let path_like = |p: &str| p.starts_with('/') && !p.contains('?') && !p.contains('#') && p.bytes().all(|b| b > b' ' && b < 0x7f);
    let path_prefix = match m.get("path_prefix") {
        None => None,
        Some(Value::String(p)) if path_like(p) => Some(p.clone()),
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
    let separated_prefix = match m.get("path_separated_prefix") {
        None => None,
        Some(Value::String(p)) if path_like(p) && p.len() > 1 && !p.ends_with('/') => Some(p.clone()),
        Some(other) => {
            errs.push(
                format!("{field}.match.path_separated_prefix"),
                show(other),
                "must be a path starting with / and not ending with / (it matches the path itself and what is under it; no query, fragment, spaces or non-ASCII)",
                "write whole segments such as \"/api\" (matches /api and /api/..., not /apis); for every path, leave the path out",
            );
            None
        }
    };
    if m.contains_key("path_prefix") && m.contains_key("path_separated_prefix") {
        errs.push(
            format!("{field}.match.path_separated_prefix"),
            show(m.get("path_separated_prefix").unwrap_or(&Value::Null)),
            "is given together with match.path_prefix: a rule matches one path prefix",
            "keep the one the proxy's route uses (Envoy: prefix or path_separated_prefix)",
        );
    }
    let separated = separated_prefix.is_some() && path_prefix.is_none();
    let path_prefix = path_prefix.or(separated_prefix);
    if MATCH_KEYS.iter().all(|k| m.get(*k).is_none()) {
        errs.push(format!("{field}.match"), "{}", "matches every request (no hosts, path_prefix or routes)", example);
    }
    RuleMatch { hosts, path_prefix, separated, case_sensitive, routes }
}

/// `match.hosts`; `no_port` is what an entry without a port means.
pub(super) fn host_patterns(field: &str, v: &Value, no_port: Port, errs: &mut Errors) -> Vec<HostPattern> {
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
pub(super) fn route_names(field: &str, v: &Value, errs: &mut Errors) -> Vec<String> {
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

pub(super) fn host_pattern(raw: &str, no_port: Port) -> Result<HostPattern, (String, String)> {
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
