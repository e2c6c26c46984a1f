//! The ruleset: the configuration compiled for the request path (the
//! default policy, the rules in order, the mode), and routing a request to
//! its rule the way the proxy routes it.

use crate::config::{self, split_authority, ConfigErrors, ConfigSpec, HostPattern, Mode};
use crate::policy::{Decision, Forward, Policy, Request};

pub struct Rule {
    pub name: Box<str>,
    hosts: Vec<HostPattern>,
    path_prefix: Option<Box<str>>,
    /// The prefix matches whole segments (`match.path_separated_prefix`).
    separated: bool,
    case_sensitive: bool,
    routes: Vec<Box<str>>,
    pub policy: RulePolicy,
}

/// What a rule does: apply its own policy, or leave CORS to the upstream.
/// (One per rule, built once: `Off` being smaller than a policy costs a few
/// hundred bytes per rule, and a `Box` would add a pointer chase per request.)
#[allow(clippy::large_enum_variant)]
pub enum RulePolicy {
    Cors(Policy),
    /// `"cors": "off"`: requests and responses pass through untouched.
    Off,
}

/// Which policy a request falls under: the top-level one, or a rule's (by
/// its place in `Ruleset::rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Default,
    Rule(usize),
}

impl Route {
    /// The place of this route's counters: the default first, then each rule.
    pub fn counter_slot(self) -> usize {
        match self {
            Route::Default => 0,
            Route::Rule(i) => i + 1,
        }
    }
}

pub struct Ruleset {
    pub mode: Mode,
    pub default: Policy,
    pub rules: Vec<Rule>,
    /// Some rule matches on route names (known at configure time).
    route_names: bool,
    /// How to stamp a response whose request the filter never saw (the
    /// proxy replied before the request callback ran): as a request without
    /// `Origin` under the default policy; None in report mode. The same for
    /// every such response, so it is decided here, once.
    untouched: Option<Forward>,
}

/// `:authority` (or `Host`) split into host and port, exactly as sent: the
/// proxy routes `example.com:8443` and `example.com.` apart from
/// `example.com`, and so do rules.
fn host_of(authority: &[u8]) -> Option<(&str, Option<u16>)> {
    split_authority(std::str::from_utf8(authority).ok()?)
}

/// The same host patterns, each admitting any port.
fn any_port(mut hosts: Vec<HostPattern>) -> Vec<HostPattern> {
    for h in &mut hosts {
        h.port = crate::origins::Port::Any;
    }
    hosts
}

/// The path without its query string.
fn path_of(path: &[u8]) -> &[u8] {
    match path.iter().position(|&b| b == b'?') {
        Some(q) => path.get(..q).unwrap_or(path),
        None => path,
    }
}

impl Ruleset {
    pub fn from_json(bytes: &[u8]) -> Result<Ruleset, ConfigErrors> {
        config::parse_config(bytes).map(Ruleset::new)
    }

    pub fn new(spec: ConfigSpec) -> Ruleset {
        // `ignore_port_in_host_matching`: the request's port plays no part,
        // as in an Envoy route table with that option; every host pattern
        // then admits any port (one with a port of its own was refused).
        let ignore_port = spec.ignore_port_in_host_matching;
        let route_names = spec.rules.iter().any(|r| !r.routes.is_empty());
        let default = Policy::new(spec.default);
        let untouched = match (spec.mode, default.decide(&Request::default())) {
            (Mode::Report, _) | (_, Decision::Preflight(_)) => None,
            (Mode::Enforce, Decision::Forward(forward)) => Some(forward),
        };
        Ruleset {
            mode: spec.mode,
            untouched,
            default,
            route_names,
            rules: spec
                .rules
                .into_iter()
                .map(|r| Rule {
                    name: r.name.into_boxed_str(),
                    hosts: if ignore_port { any_port(r.hosts) } else { r.hosts },
                    path_prefix: r.path_prefix.map(String::into_boxed_str),
                    separated: r.separated,
                    case_sensitive: r.case_sensitive,
                    routes: r.routes.into_iter().map(String::into_boxed_str).collect(),
                    policy: r.policy.map_or(RulePolicy::Off, |p| RulePolicy::Cors(Policy::new(p))),
                })
                .collect(),
        }
    }

    /// Whether decisions need the request's host and path at all.
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The rule for a request, as the filter routes it. The two closures
    /// are host calls, made only when needed: `authority_by_name` when the
    /// header list has no `:authority` (APISIX leaves it out of the list but
    /// answers it by name; `Host` is the last resort), `route_name` when a
    /// rule matches on route names.
    pub fn route_request(
        &self,
        req: &Request<'_>,
        authority_by_name: impl FnOnce() -> Option<Vec<u8>>,
        route_name: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Route {
        self.route_request_with(req, &mut (), |()| authority_by_name(), |()| route_name())
    }

    /// [`Ruleset::route_request`] whose two host calls share one context
    /// (the shell's host, borrowed by each in turn).
    pub fn route_request_with<C: ?Sized>(
        &self,
        req: &Request<'_>,
        host: &mut C,
        authority_by_name: impl FnOnce(&mut C) -> Option<Vec<u8>>,
        route_name: impl FnOnce(&mut C) -> Option<Vec<u8>>,
    ) -> Route {
        if !self.has_rules() {
            return Route::Default;
        }
        let by_name = if req.authority.is_none() { authority_by_name(host) } else { None };
        let name = if self.uses_route_names() { route_name(host) } else { None };
        self.route(req.authority.or(by_name.as_deref()).or(req.host), req.path, name.as_deref())
    }

    /// Whether some rule matches on the proxy's route name, so the adapter
    /// must ask the host for it (only then: it is a host call).
    pub fn uses_route_names(&self) -> bool {
        self.route_names
    }

    /// The first rule matching the request, or the default. `route_name` is
    /// the proxy's name for the route (None: unknown, and then no rule with
    /// `match.routes` matches).
    pub fn route(&self, authority: Option<&[u8]>, path: Option<&[u8]>, route_name: Option<&[u8]>) -> Route {
        if self.rules.is_empty() {
            return Route::Default;
        }
        let host = authority.and_then(host_of);
        let path = path.map(path_of).unwrap_or(b"/");
        let found = self.rules.iter().position(|r| {
            let host_ok = r.hosts.is_empty() || host.is_some_and(|(h, port)| r.hosts.iter().any(|p| p.matches(h, port)));
            let path_ok = r.path_prefix.as_deref().is_none_or(|p| {
                let head_ok = match r.case_sensitive {
                    true => path.starts_with(p.as_bytes()),
                    false => path.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
                };
                // Whole segments: the prefix is the path, or a `/` follows it.
                head_ok && (!r.separated || matches!(path.get(p.len()), None | Some(b'/')))
            });
            let route_ok = r.routes.is_empty() || route_name.is_some_and(|n| r.routes.iter().any(|want| want.as_bytes() == n));
            host_ok && path_ok && route_ok
        });
        found.map_or(Route::Default, Route::Rule)
    }

    /// The policy for a route; None when CORS is off there.
    pub fn policy(&self, route: Route) -> Option<&Policy> {
        match route {
            Route::Default => Some(&self.default),
            Route::Rule(i) => match self.rules.get(i).map(|r| &r.policy) {
                Some(RulePolicy::Cors(p)) => Some(p),
                Some(RulePolicy::Off) | None => None,
            },
        }
    }

    pub fn rule_name(&self, route: Route) -> &str {
        match route {
            Route::Default => "default",
            Route::Rule(i) => self.rules.get(i).map_or("default", |r| &r.name),
        }
    }

    /// How to stamp a response the request callback never saw: see the field.
    pub fn untouched(&self) -> Option<Forward> {
        self.untouched
    }

    /// Every route with a policy of its own (the default, then each rule),
    /// for what is set up per policy (live-origin sources).
    pub fn routes(&self) -> impl Iterator<Item = Route> {
        std::iter::once(Route::Default).chain((0..self.rules.len()).map(Route::Rule))
    }
}

// Case tables are slices of tuples; naming each tuple type would not help.
#[cfg(test)]
#[allow(clippy::type_complexity)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
        "allow_origins": ["https://app.example.com"],
        "rules": [
            {"name": "legacy", "match": {"path_prefix": "/legacy/"}, "cors": "off"},
            {"name": "tenants", "match": {"hosts": ["*.tenant.test"]}, "allow_origins": ["https://*.tenant.test"]},
            {"name": "payments", "match": {"hosts": ["pay.example.com"], "path_prefix": "/v1/"},
             "allow_origins": ["https://checkout.example.com"], "allow_credentials": true}
        ]
    }"#;

    #[test]
    fn first_match_wins_and_default_catches_the_rest() {
        let c = Ruleset::from_json(CONFIG.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let cases: [(&str, &str, &str); 9] = [
            ("api.example.com", "/legacy/x", "legacy"),
            ("a.tenant.test", "/legacy/x", "legacy"),
            ("a.tenant.test", "/v1/x", "tenants"),
            ("A.Tenant.Test", "/", "tenants"),
            ("tenant.test", "/", "default"),
            ("pay.example.com", "/v1/charge?x=1", "payments"),
            ("PAY.example.com", "/v1/", "payments"),
            ("pay.example.com", "/v2/", "default"),
            ("pay.example.com", "/v1", "default"),
        ];
        for (host, path, want) in cases {
            let r = c.route(Some(host.as_bytes()), Some(path.as_bytes()), None);
            assert_eq!(c.rule_name(r), want, "{host} {path}");
        }
        assert_eq!(c.rule_name(c.route(None, None, None)), "default");
        let legacy = c.route(Some(b"x"), Some(b"/legacy/"), None);
        assert!(c.policy(legacy).is_none(), "cors off has no policy");
        assert!(c.policy(Route::Default).is_some());
        assert!(c.policy(c.route(Some(b"pay.example.com"), Some(b"/v1/"), None)).is_some_and(|p| p.allows_credentials()));
    }

    /// Contract: rules[].match.path_separated_prefix matches whole segments,
    /// as Envoy's route option and Gateway API's PathPrefix do: "/cors-1"
    /// is not under "/cors"; the query is not part of the path.
    /// A segment-wise rule does not hide a later byte prefix that reaches
    /// past its segment ("/cors" then "/cors-1": both reachable).
    #[test]
    fn a_separated_prefix_covers_only_its_segments() {
        for later in [r#"{"path_prefix": "/cors-1"}"#, r#"{"path_prefix": "/cors"}"#, r#"{"path_separated_prefix": "/cors-1"}"#] {
            let json = format!(
                r#"{{"allow_origins": ["https://a.example"], "rules": [
                    {{"name": "a", "match": {{"path_separated_prefix": "/cors"}}, "cors": "off"}},
                    {{"name": "b", "match": {later}, "cors": "off"}}]}}"#
            );
            assert!(Ruleset::from_json(json.as_bytes()).is_ok(), "{later} is reachable");
        }
    }

    #[test]
    fn separated_prefixes_match_whole_segments() {
        let c = Ruleset::from_json(
            br#"{"allow_origins": ["https://a.example"], "rules": [
                {"name": "one", "match": {"path_separated_prefix": "/cors-1"}, "cors": "off"},
                {"name": "api", "match": {"path_separated_prefix": "/API", "case_sensitive": false}, "cors": "off"},
                {"name": "bytes", "match": {"path_prefix": "/cors"}, "cors": "off"}
            ]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let cases: [(&str, &str); 9] = [
            ("/cors-1", "one"),
            ("/cors-1/", "one"),
            ("/cors-1/x?y=1", "one"),
            ("/cors-1?y=1", "one"),
            ("/cors-10", "bytes"),
            ("/cors-1x/y", "bytes"),
            ("/api/v1", "api"),
            ("/Api", "api"),
            ("/apis", "default"),
        ];
        for (path, want) in cases {
            assert_eq!(c.rule_name(c.route(Some(b"h"), Some(path.as_bytes()), None)), want, "{path}");
        }
    }

    /// Contract: rules[].match.hosts match the authority as the proxy routes
    /// it: no port in the entry, no port in the request; host:8443 that
    /// port; host:* any port; a trailing dot is part of the name.
    #[test]
    fn hosts_match_the_authority_as_the_proxy_routes_it() {
        let c = Ruleset::from_json(
            br#"{"allow_origins": ["https://a.example"], "rules": [
                {"name": "plain", "match": {"hosts": ["pay.example.com"]}, "cors": "off"},
                {"name": "port", "match": {"hosts": ["pay.example.com:8443"]}, "cors": "off"},
                {"name": "dotted", "match": {"hosts": ["pay.example.com."]}, "cors": "off"},
                {"name": "anyport", "match": {"hosts": ["api.example.com:*", "*.tenant.example:*"]}, "cors": "off"},
                {"name": "subs", "match": {"hosts": ["*.example.com"]}, "cors": "off"},
                {"name": "v6", "match": {"hosts": ["[::1]:8080"]}, "cors": "off"}
            ]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            ("pay.example.com", "plain"),
            ("Pay.Example.COM", "plain"),
            ("pay.example.com:8443", "port"),
            ("pay.example.com:443", "default"),
            ("pay.example.com:80", "default"),
            ("pay.example.com:08443", "default"),
            ("pay.example.com:", "default"),
            ("pay.example.com.", "dotted"),
            ("pay.example.com.:8443", "default"),
            ("api.example.com", "anyport"),
            ("api.example.com:1", "anyport"),
            ("api.example.com:65535", "anyport"),
            ("api.example.com:65536", "default"),
            ("a.tenant.example:9000", "anyport"),
            ("a.b.tenant.example", "anyport"),
            ("tenant.example:9000", "default"),
            ("x.example.com", "subs"),
            ("x.example.com:8443", "default"),
            ("x.example.com.", "default"),
            ("[::1]:8080", "v6"),
            ("[::1]", "default"),
        ];
        for (authority, want) in cases {
            assert_eq!(c.rule_name(c.route(Some(authority.as_bytes()), Some(b"/"), None)), want, "{authority}");
        }
    }

    /// Contract: rules[].match.routes matches the proxy's route name; where
    /// the host gives none, such a rule never matches.
    #[test]
    fn routes_match_the_proxys_route_name() {
        let c = Ruleset::from_json(
            br#"{"allow_origins": ["https://a.example"], "rules": [
                {"name": "pay", "match": {"routes": ["payments", "refunds"]}, "allow_origins": ["https://pay.example"]},
                {"name": "pay-v2", "match": {"routes": ["payments-v2"], "path_prefix": "/v2/"}, "cors": "off"}
            ]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.uses_route_names());
        let cases: [(Option<&[u8]>, &[u8], &str); 7] = [
            (Some(b"payments"), b"/", "pay"),
            (Some(b"refunds"), b"/x", "pay"),
            (Some(b"Payments"), b"/", "default"),
            (Some(b"payments-v2"), b"/v2/a", "pay-v2"),
            (Some(b"payments-v2"), b"/v1/a", "default"),
            (Some(b""), b"/", "default"),
            (None, b"/", "default"),
        ];
        for (name, path, want) in cases {
            assert_eq!(c.rule_name(c.route(Some(b"h.example"), Some(path), name)), want, "{name:?} {path:?}");
        }
        let plain = Ruleset::from_json(CONFIG.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!plain.uses_route_names(), "the route name is read only when a rule uses it");
    }

    /// Contract: gateway-injected per-route rules (Higress `_rules_`) are
    /// honoured, before the configuration's own rules.
    #[test]
    fn higress_rules_are_honoured() {
        let c = Ruleset::from_json(
            br#"{"allow_origins": ["https://a.example"], "_ignored_": 1,
                "_rules_": [
                    {"_match_route_": ["route-a"], "allow_origins": ["https://route-a.example"]},
                    {"_match_domain_": ["*.shop.example", "admin.example"], "allow_origins": ["https://admin.example"], "allow_credentials": true}
                ],
                "rules": [{"name": "api", "match": {"path_prefix": "/api/"}, "cors": "off"}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let cases: [(&[u8], Option<&[u8]>, &str); 6] = [
            (b"x.example", Some(b"route-a"), "higress-0"),
            (b"a.shop.example:8080", None, "higress-1"),
            (b"admin.example", Some(b"route-b"), "higress-1"),
            (b"admin.example:443", None, "higress-1"),
            (b"x.example", Some(b"route-b"), "api"),
            (b"shop.example", None, "api"),
        ];
        for (authority, route, want) in cases {
            assert_eq!(c.rule_name(c.route(Some(authority), Some(b"/api/x"), route)), want, "{authority:?} {route:?}");
        }
        assert!(c.policy(c.route(Some(b"admin.example"), None, None)).is_some_and(|p| p.allows_credentials()));
    }

    #[test]
    fn requests_route_by_authority_then_by_name_then_host() {
        let c = Ruleset::from_json(CONFIG.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let never = || -> Option<Vec<u8>> { panic!("asked the host although the list had :authority") };
        let none = || None;
        let h: [(&[u8], &[u8]); 3] = [(b"Host", b"h.example"), (b":path", b"/v1/x?q"), (b":authority", b"pay.example.com")];
        assert_eq!(c.rule_name(c.route_request(&Request::from_headers(h), never, none)), "payments");
        // APISIX: no `:authority` in the list; the filter asks by name first.
        let h: [(&[u8], &[u8]); 2] = [(b":path", b"/v1/x"), (b"host", b"h.example")];
        assert_eq!(c.rule_name(c.route_request(&Request::from_headers(h), || Some(b"pay.example.com".to_vec()), none)), "payments");
        assert_eq!(c.rule_name(c.route_request(&Request::from_headers(h), none, none)), "default", "Host is the last resort");
        let h: [(&[u8], &[u8]); 2] = [(b":path", b"/v1/x"), (b"host", b"pay.example.com")];
        assert_eq!(c.rule_name(c.route_request(&Request::from_headers(h), none, none)), "payments");
        // Without rules nothing is read at all.
        let plain = Ruleset::from_json(br#"{"allow_origins": ["*"]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.route_request(&Request::from_headers(h), never, never), Route::Default);
    }

    #[test]
    fn hostile_authority_never_matches_by_accident() {
        let c = Ruleset::from_json(CONFIG.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        for host in [&b"\xff.tenant.test"[..], b"evil-tenant.test", b"tenant.test.evil", b"[::1]:80", b"", b":::"] {
            assert_eq!(c.rule_name(c.route(Some(host), Some(b"/"), None)), "default", "{host:?}");
        }
    }

    #[test]
    fn rules_are_validated_like_the_policy() {
        let cases: &[(&str, &str, &str)] = &[
            (r#"[{"match": {"path_prefix": "/a/"}}]"#, "rules[0].allow_origins", "is required"),
            (r#"[{"allow_origins": ["*"]}]"#, "rules[0].match", "is required"),
            (r#"[{"match": {}, "allow_origins": ["*"]}]"#, "rules[0].match", "matches every request"),
            (r#"[{"match": {"path": "/a"}, "allow_origins": ["*"]}]"#, "rules[0].match.path", "not a known key"),
            (r#"[{"match": {"path_prefix": "a"}, "allow_origins": ["*"]}]"#, "rules[0].match.path_prefix", "starting with /"),
            (
                r#"[{"match": {"path_separated_prefix": "/a/"}, "cors": "off"}]"#,
                "rules[0].match.path_separated_prefix",
                "not ending with /",
            ),
            (r#"[{"match": {"path_separated_prefix": "/"}, "cors": "off"}]"#, "rules[0].match.path_separated_prefix", "not ending with /"),
            (
                r#"[{"match": {"path_separated_prefix": "/a", "path_prefix": "/a"}, "cors": "off"}]"#,
                "rules[0].match.path_separated_prefix",
                "together with match.path_prefix",
            ),
            (
                r#"[{"match": {"path_separated_prefix": "/a"}, "cors": "off"}, {"match": {"path_prefix": "/a/b"}, "cors": "off"}]"#,
                "rules[1].match",
                "can never match",
            ),
            (
                r#"[{"match": {"path_prefix": "/a"}, "cors": "off"}, {"match": {"path_separated_prefix": "/ab"}, "cors": "off"}]"#,
                "rules[1].match",
                "can never match",
            ),
            (
                r#"[{"match": {"hosts": ["https://a.example"]}, "allow_origins": ["*"]}]"#,
                "rules[0].match.hosts[0]",
                "without scheme or path",
            ),
            (r#"[{"match": {"hosts": ["a.example:0"]}, "allow_origins": ["*"]}]"#, "rules[0].match.hosts[0]", "invalid port"),
            (r#"[{"match": {"hosts": ["a.example:x"]}, "allow_origins": ["*"]}]"#, "rules[0].match.hosts[0]", "invalid port"),
            (r#"[{"match": {"hosts": ["a..example"]}, "allow_origins": ["*"]}]"#, "rules[0].match.hosts[0]", "not a valid host"),
            (r#"[{"match": {"routes": []}, "allow_origins": ["*"]}]"#, "rules[0].match.routes", "never match"),
            (r#"[{"match": {"routes": ["a\u0000b"]}, "allow_origins": ["*"]}]"#, "rules[0].match.routes[0]", "not a route name"),
            (r#"[{"match": {"routes": "r"}, "allow_origins": ["*"]}]"#, "rules[0].match.routes", "list of strings"),
            (
                r#"[{"match": {"routes": ["a", "b"]}, "cors": "off"}, {"match": {"routes": ["b"], "path_prefix": "/x"}, "cors": "off"}]"#,
                "rules[1].match",
                "can never match",
            ),
            (
                r#"[{"match": {"hosts": ["a.example:*"]}, "cors": "off"}, {"match": {"hosts": ["a.example:8443"]}, "cors": "off"}]"#,
                "rules[1].match",
                "can never match",
            ),
            (r#"[{"match": {"hosts": ["*.com"]}, "allow_origins": ["*"]}]"#, "rules[0].match.hosts[0]", "two labels"),
            (r#"[{"match": {"hosts": []}, "allow_origins": ["*"]}]"#, "rules[0].match.hosts", "never match"),
            (r#"[{"match": {"path_prefix": "/a/"}, "cors": "on"}]"#, "rules[0].cors", "\"off\""),
            (r#"[{"match": {"path_prefix": "/a/"}, "cors": "off", "allow_origins": ["*"]}]"#, "rules[0].allow_origins", "no effect"),
            (
                r#"[{"match": {"path_prefix": "/a/"}, "allow_origins": ["*"], "allow_credentials": true}]"#,
                "rules[0].allow_origins[0]",
                "every origin",
            ),
            (r#"[{"match": {"path_prefix": "/a/"}, "allow_origin": ["*"]}]"#, "rules[0].allow_origin", "not a known key"),
            (r#"[{"name": "Bad Name", "match": {"path_prefix": "/a/"}, "cors": "off"}]"#, "rules[0].name", "metric names"),
            (
                r#"[{"name": "x", "match": {"path_prefix": "/a/"}, "cors": "off"}, {"name": "x", "match": {"path_prefix": "/b/"}, "cors": "off"}]"#,
                "rules[1].name",
                "another rule",
            ),
            (
                r#"[{"match": {"path_prefix": "/api/"}, "cors": "off"}, {"match": {"path_prefix": "/api/v1/"}, "cors": "off"}]"#,
                "rules[1].match",
                "can never match: rules[0]",
            ),
            (
                r#"[{"match": {"hosts": ["*.example.com"]}, "cors": "off"}, {"match": {"hosts": ["a.b.example.com"], "path_prefix": "/x"}, "cors": "off"}]"#,
                "rules[1].match",
                "can never match",
            ),
            (
                r#"[{"match": {"path_prefix": "/"}, "cors": "off"}, {"match": {"hosts": ["a.example"]}, "cors": "off"}]"#,
                "rules[1].match",
                "can never match",
            ),
            (r#"{"match": {"path_prefix": "/"}}"#, "rules", "list of rules"),
        ];
        for (rules, field, problem) in cases {
            let json = format!(r#"{{"allow_origins": ["https://a.example"], "rules": {rules}}}"#);
            let errs = match config::parse_config(json.as_bytes()) {
                Ok(_) => panic!("{rules} accepted"),
                Err(e) => e.0,
            };
            let e = errs.iter().find(|e| e.field == *field).unwrap_or_else(|| panic!("{rules}: no error for {field} in {errs:?}"));
            assert!(e.problem.contains(problem), "{rules}: {:?} lacks {problem:?}", e.problem);
        }
        // Not shadowed: a narrower rule before a wider one, different hosts, a wildcard after an exact host.
        for rules in [
            r#"[{"match": {"path_prefix": "/api/v1/"}, "cors": "off"}, {"match": {"path_prefix": "/api/"}, "cors": "off"}]"#,
            r#"[{"match": {"hosts": ["a.example"]}, "cors": "off"}, {"match": {"hosts": ["b.example"]}, "cors": "off"}]"#,
            r#"[{"match": {"hosts": ["a.example.com"]}, "cors": "off"}, {"match": {"hosts": ["*.example.com"]}, "cors": "off"}]"#,
            r#"[{"match": {"hosts": ["a.example"], "path_prefix": "/x"}, "cors": "off"}, {"match": {"hosts": ["a.example"]}, "cors": "off"}]"#,
            r#"[{"match": {"hosts": ["a.example"]}, "cors": "off"}, {"match": {"hosts": ["a.example:8443"]}, "cors": "off"}]"#,
            r#"[{"match": {"hosts": ["a.example:8443"]}, "cors": "off"}, {"match": {"hosts": ["a.example:*"]}, "cors": "off"}]"#,
            r#"[{"match": {"routes": ["a"]}, "cors": "off"}, {"match": {"routes": ["a", "b"]}, "cors": "off"}]"#,
            r#"[{"match": {"routes": ["a"]}, "cors": "off"}, {"match": {"path_prefix": "/"}, "cors": "off"}]"#,
        ] {
            let json = format!(r#"{{"allow_origins": ["https://a.example"], "rules": {rules}}}"#);
            if let Err(e) = config::parse_config(json.as_bytes()) {
                panic!("{rules} refused: {e}");
            }
        }
        // Higress's `_rules_`: honoured or refused, never dropped.
        for (json, field, problem) in [
            (r#"{"allow_origins": ["*"], "_rules_": {"x": 1}}"#, "_rules_", "must be a list"),
            (
                r#"{"allow_origins": ["*"], "_rules_": [{"allow_origins": ["*"]}]}"#,
                "_rules_[0]",
                "neither _match_route_ nor _match_domain_",
            ),
            (
                r#"{"allow_origins": ["*"], "_rules_": [{"_match_service_": ["s"], "allow_origins": ["*"]}]}"#,
                "_rules_[0]._match_service_",
                "cannot apply",
            ),
            (r#"{"allow_origins": ["*"], "_rules_": [{"_match_route_": ["r"]}]}"#, "_rules_[0].allow_origins", "is required"),
            (
                r#"{"allow_origins": ["*"], "_rules_": [{"_match_route_": ["r"], "allow_origins": ["*"], "allow_credentials": true}]}"#,
                "_rules_[0].allow_origins[0]",
                "every origin",
            ),
            (
                r#"{"allow_origins": ["*"], "_rules_": [{"_match_domain_": ["a.example"], "allow_origins": ["*"], "max_age": "1"}]}"#,
                "_rules_[0].max_age",
                "whole number",
            ),
        ] {
            let errs = config::parse_config(json.as_bytes()).expect_err(json).0;
            let e = errs.iter().find(|e| e.field == field).unwrap_or_else(|| panic!("{json}: no error for {field} in {errs:?}"));
            assert!(e.problem.contains(problem), "{json}: {:?} lacks {problem:?}", e.problem);
        }
        let bad_mode = config::parse_config(br#"{"allow_origins": ["*"], "mode": "audit"}"#).expect_err("mode");
        assert!(bad_mode.0.iter().any(|e| e.field == "mode" && e.problem.contains("\"report\"")));
    }

    /// A response whose request the filter never saw is stamped as a
    /// request without `Origin` under the default policy, decided once when
    /// the configuration is compiled; report mode changes nothing.
    #[test]
    fn the_untouched_stamp_is_decided_at_configure_time() {
        let of = |json: &str| Ruleset::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}")).untouched();
        assert_eq!(of(r#"{"allow_origins": ["*"]}"#), Some(Forward::Allowed), "public: Access-Control-Allow-Origin: *");
        assert_eq!(of(r#"{"allow_origins": ["https://a.example"]}"#), Some(Forward::NoOrigin), "Vary: Origin only");
        assert_eq!(of(r#"{"mode": "report", "allow_origins": ["*"]}"#), None);
    }
}
