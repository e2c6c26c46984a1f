//! The Gateway API's `HTTPRoute` CORS filter: a `spec.rules[].filters[]`
//! entry with `type: CORS` and a `cors` object (standard channel since
//! v1.5.0). Envoy Gateway's `SecurityPolicy` takes the same origin strings,
//! so [`origin`] serves it too (`envoy_gateway`).
//!
//! What the conversion relies on, from the specification itself
//! (kubernetes-sigs/gateway-api, apis/v1/httproute_types.go, `HTTPCORSFilter`;
//! the guide https://gateway-api.sigs.k8s.io/guides/http-cors/):
//! - `allowOrigins`: `<scheme>://<host>(:<port>)`, scheme `http` or `https`,
//!   port 80 or 443 assumed when none is written; a `*` in the host "is a
//!   greedy match to the left, including any number of DNS labels"; a
//!   wildcard by itself matches all hosts; `*` alone allows every origin (and
//!   may not sit beside other entries). A matched origin is echoed, even for
//!   `*`, and `*` with `allowCredentials` echoes any origin with credentials.
//! - `allowMethods` (`*` allowed; GET, HEAD and POST always pass),
//!   `allowHeaders` and `exposeHeaders` (`*` allowed), `allowCredentials`
//!   (bool), `maxAge` in seconds (minimum 1, default 5).
//! - A preflight from an origin not allowed gets 200/204 without CORS
//!   headers, or 403; an allowed one any OK status; the method and header
//!   lists are sent and the browser judges the request.

use std::path::Path;

use serde_json::{Map, Value};

use edge_cors_engine::origins::OriginEntry;

use super::envoy::{self, Fields};
use super::find::{self, Block};
use super::matcher::{refuse, Converted};
use super::scoped::{self, PathMatch, Scope};
use super::{push_new, Imported};
use crate::Fatal;

/// Every `cors` object of a filter with `type: CORS` (a rule's filters, or a
/// backendRef's), wherever it sits.
pub fn find(doc: &Value, path: &str, out: &mut Vec<Block>) {
    let mut filters = Vec::new();
    find::objects(
        doc,
        path,
        &mut |o| o.get("type").and_then(Value::as_str) == Some("CORS") && o.get("cors").is_some_and(Value::is_object),
        &mut filters,
    );
    for filter in filters {
        if let Some(Value::Object(cors)) = filter.object.get("cors") {
            out.push(Block { location: find::key_path(&filter.location, "cors"), object: cors.clone() });
        }
    }
}

/// Every CORS filter of the file: one policy when they are all the same and
/// every route rule has one (as before), else one policy with a rule per
/// HTTPRoute rule (and per path match), a rule without the filter as
/// `"cors": "off"`.
pub fn import(path: &Path) -> Result<Vec<Imported>, Fatal> {
    let blocks = find::in_file(path, find)?;
    let singles: Vec<Imported> = blocks.iter().map(|b| convert(&b.location, &b.object)).collect();
    let mut routes = Vec::new();
    for b in find::in_file(path, find_routes)? {
        routes.push(b);
    }
    let uniform = singles.windows(2).all(|w| w[0].policy == w[1].policy);
    let uncovered = routes.iter().any(|r| rules_of(&r.object).iter().any(|rule| cors_filters(rule).is_empty()));
    if singles.is_empty() || routes.is_empty() || (uniform && !uncovered) {
        return Ok(singles);
    }
    Ok(vec![convert_routes(&routes)])
}

/// Every route (an object with a `rules` list some rule of which has a CORS
/// filter): an HTTPRoute's `spec`.
fn find_routes(doc: &Value, path: &str, out: &mut Vec<Block>) {
    find::objects(
        doc,
        path,
        &mut |o| o.get("rules").and_then(Value::as_array).is_some_and(|r| r.iter().any(|rule| !cors_filters(rule).is_empty())),
        out,
    );
    // The route's name, from the object around its spec.
    let mut named = Vec::new();
    find::objects(doc, path, &mut |o| o.get("spec").and_then(|s| s.get("rules")).is_some(), &mut named);
    for b in out.iter_mut() {
        if let Some(n) = named.iter().find(|n| find::key_path(&n.location, "spec") == b.location) {
            if let Some(name) = n.object.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str) {
                b.object.insert("__name".into(), Value::String(name.to_string()));
            }
        }
    }
}

fn rules_of(route: &Map<String, Value>) -> Vec<&Value> {
    route.get("rules").and_then(Value::as_array).map(|r| r.iter().collect()).unwrap_or_default()
}

/// The `cors` objects of one route rule's CORS filters (its own and its
/// backendRefs'), each with its path inside the rule.
fn cors_filters(rule: &Value) -> Vec<Block> {
    let mut out = Vec::new();
    find(rule, "", &mut out);
    out
}

/// The routes' rules as edge-cors rules.
fn convert_routes(routes: &[Block]) -> Imported {
    let mut scopes = Vec::new();
    let mut out = Imported { location: String::new(), ..Imported::default() };
    let mut locations = Vec::new();
    for route in routes {
        let name = route.object.get("__name").and_then(Value::as_str).unwrap_or("route").to_string();
        let hosts: Vec<String> = route
            .object
            .get("hostnames")
            .and_then(Value::as_array)
            .map(|h| h.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        locations.push(format!("HTTPRoute {name} ({})", route.location));
        for (i, rule) in rules_of(&route.object).into_iter().enumerate() {
            let at = find::key_path(&route.location, &format!("rules[{i}]"));
            let filters = cors_filters(rule);
            let policy = match filters.first() {
                None => None,
                Some(first) => {
                    let location = find::key_path(&at, first.location.trim_end_matches("(top level)"));
                    let mut converted = convert_policy(&location, &first.object);
                    let backend_only = rule
                        .get("filters")
                        .and_then(Value::as_array)
                        .is_none_or(|f| !f.iter().any(|f| f.get("type").and_then(Value::as_str) == Some("CORS")));
                    let backends = rule.get("backendRefs").and_then(Value::as_array).map_or(0, Vec::len);
                    let differ = filters.iter().skip(1).any(|f| f.object != first.object);
                    if differ || (backend_only && filters.len() < backends) {
                        out.refusals.push(format!(
                            "{at}: CORS filters on some backendRefs only, or different ones, apply to each backend's share of the \
                             traffic, which edge-cors cannot express; put one CORS filter on the rule"
                        ));
                    }
                    out.refusals.append(&mut converted.refusals);
                    out.wider.append(&mut converted.wider);
                    out.wider_headers.append(&mut converted.wider_headers);
                    for d in converted.differences {
                        push_new(&mut out.differences, d);
                    }
                    Some(converted.policy)
                }
            };
            let matches: Vec<Value> = rule.get("matches").and_then(Value::as_array).cloned().unwrap_or_default();
            let matches = if matches.is_empty() { vec![Value::Object(Map::new())] } else { matches };
            let several = matches.len() > 1;
            for (j, m) in matches.iter().enumerate() {
                let mat = if several { format!("{at}.matches[{j}]") } else { at.clone() };
                let extra: Vec<&str> =
                    ["headers", "queryParams", "method"].into_iter().filter(|k| m.get(*k).is_some_and(|v| !v.is_null())).collect();
                if !extra.is_empty() {
                    out.refusals.push(format!(
                        "{mat}: matches by {} as well, which edge-cors's rules cannot (they match host and path); \
                         give those requests their own path, or write the rule by hand with match.routes (the route's name)",
                        extra.join(", ")
                    ));
                }
                let p = m.get("path");
                let kind = p.and_then(|p| p.get("type")).and_then(Value::as_str).unwrap_or("PathPrefix");
                let value = p.and_then(|p| p.get("value")).and_then(Value::as_str).unwrap_or("/");
                let path = match kind {
                    "PathPrefix" => PathMatch::segments(value),
                    "Exact" => PathMatch::Exact(value.to_string()),
                    other => {
                        out.refusals.push(format!(
                            "{mat}: path type {other} ({value:?}) cannot be expressed as an edge-cors path match; \
                             write the rule by hand with match.routes (the route's name)"
                        ));
                        PathMatch::Any
                    }
                };
                let base = if several { format!("{name}-rule{i}-match{j}") } else { format!("{name}-rule{i}") };
                scopes.push(Scope { name: base, hosts: hosts.clone(), path, policy: policy.clone(), location: mat });
            }
        }
    }
    out.location = locations.join(", ");
    let assembled = scoped::assemble(scopes, "the HTTPRoute");
    let mut differences =
        vec!["each HTTPRoute rule became an edge-cors rule (hostnames and path matches; PathPrefix as path_separated_prefix, \
         which matches whole segments as the Gateway API does), and a rule without a CORS filter \"cors\": \"off\" \
         (the gateway added no CORS headers there)"
            .to_string()];
    differences.extend(assembled.differences);
    for d in std::mem::take(&mut out.differences) {
        push_new(&mut differences, d);
    }
    out.differences = differences;
    out.refusals.extend(assembled.refusals);
    out.wider_paths = assembled.wider_paths;
    out.policy = if out.refusals.is_empty() { assembled.policy } else { vec![("rules".into(), Value::Array(vec![]))] };
    out
}

/// [`convert_routes`] of one route, for unit tests.
#[cfg(test)]
pub fn convert_routes_for_tests(route: Map<String, Value>) -> Imported {
    convert_routes(&[Block { location: "spec".into(), object: route }])
}

pub fn convert(location: &str, o: &Map<String, Value>) -> Imported {
    let mut imported = convert_policy(location, o);
    imported.differences.insert(
        0,
        format!(
            "the filter applied only to the requests of the HTTPRoute rule it sits in ({location}); edge-cors applies one policy to every request \
             it sees (a listener, a Gateway): make sure the other routes there want the same policy, or give them their own \
             with edge-cors's rules (matched by host and path)"
        ),
    );
    imported
}

/// One CORS filter's policy and what the gateway did differently, without
/// where it applied.
fn convert_policy(location: &str, o: &Map<String, Value>) -> Imported {
    let mut differences = vec![
        "the Gateway API lets a gateway answer a preflight from an origin it does not allow with 200/204 and no CORS headers, \
         or with 403 (Envoy Gateway answers 200); edge-cors answers 403 with a body naming the reason"
            .to_string(),
        "the gateway sent allowMethods and allowHeaders and left the verdict to the browser; edge-cors refuses a preflight \
         asking for another method or header itself, with 403 and a body naming it (the browser fails the same call)"
            .to_string(),
    ];
    if !o.contains_key("maxAge") {
        differences.push(
            "maxAge was not set, so the Gateway API default of 5 seconds applied; edge-cors sends no Access-Control-Max-Age, \
             which browsers also read as 5 seconds"
                .into(),
        );
    }
    let fields = Fields::camel_case(o, "allowOrigins");
    let product = "the HTTPRoute CORS filter";
    let mut imported = envoy::convert_with(location, fields, product, differences, &|v| origin(v, Dialect::GatewayApi), false);
    imported.differences.push(
        "edge-cors answers allowed preflights with 204, adds Vary: Origin, and removes the backend's own Access-Control-* \
         headers from every response (what a gateway does there is up to its implementation)"
            .into(),
    );
    if o.get("exposeHeaders").and_then(Value::as_array).is_some_and(|e| !e.is_empty()) {
        imported.differences.push(
            "the Gateway API conformance suite expects Access-Control-Expose-Headers on preflight answers too; edge-cors sends \
             it on actual responses only, where browsers read it (the same for browsers)"
                .into(),
        );
    }
    let star_methods = o.get("allowMethods").and_then(Value::as_array).is_some_and(|m| m.iter().any(|m| m == "*"));
    if star_methods {
        imported.differences.push(
            "allowMethods [\"*\"]: a gateway may answer a preflight with the list of methods it supports (as the conformance \
             suite's cases show); edge-cors answers Access-Control-Allow-Methods: *, or the requested method when credentials \
             are allowed (browsers allow the call either way)"
                .into(),
        );
    }
    imported
}

/// Whose origin strings: the two differ only where the specification is
/// stricter than Envoy Gateway's regexes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The specification: a port is assumed when none is written.
    GatewayApi,
    /// Envoy Gateway: a `*` becomes the regex `.*`, anything else an exact
    /// match (envoy_gateway.rs cites the code).
    EnvoyGateway,
}

/// One `allowOrigins` string as `allow_origins` entries: exact origins and
/// `*.` subdomain patterns convert, with what edge-cors matches differently
/// in notes and what it allows beyond the source in `wider`; any other
/// wildcard is refused.
pub fn origin(v: &Value, dialect: Dialect) -> Result<Converted, String> {
    let Some(raw) = v.as_str() else {
        return refuse(&v.to_string(), "is not a string");
    };
    let what = format!("origin {raw:?}");
    if raw == "*" {
        return Ok(Converted { entries: vec!["*".into()], notes: vec![], wider: vec![] });
    }
    let lower = raw.to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://").filter(|(s, _)| *s == "https" || *s == "http") else {
        return refuse(&what, "is not an origin: it must be \"*\" or start with https:// or http://");
    };
    // The engine's splitter (a bracketed IPv6 host stays whole).
    let Ok(edge_cors_engine::origins::HostPort { host, port }) = edge_cors_engine::origins::split_host_port(rest) else {
        return refuse(&what, "has an IPv6 address with an unclosed bracket or junk after it");
    };
    let port_text = match port {
        None => String::new(),
        Some(p) if p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) => format!(":{p}"),
        Some(p) => return refuse(&what, &format!("has the port {p:?}, which is not a number or *")),
    };
    let mut notes = Vec::new();
    let mut wider = Vec::new();
    if host == "*" {
        if port.is_some() {
            return refuse(&what, "allows any host on one port, which edge-cors cannot express");
        }
        let entry = format!("{scheme}://*");
        if dialect == Dialect::GatewayApi {
            let default = if scheme == "https" { 443 } else { 80 };
            wider.push(format!(
                "{what}: the Gateway API assumes port {default} when an origin names none, so it matched every host on port \
                 {default} only; \"{entry}\" also allows other ports (such as {scheme}://app.example:8443)"
            ));
        }
        return Ok(Converted { entries: vec![entry], notes, wider });
    }
    if host.contains('*') {
        let whole_label = host.strip_prefix("*.").is_some_and(|base| !base.contains('*'));
        if !whole_label {
            return refuse(&what, "has a * that is not a whole first label (https://*.example.com), which edge-cors cannot express");
        }
        if dialect == Dialect::EnvoyGateway {
            notes.push(format!(
                "{what}: Envoy Gateway matched its * as the regex .* (any characters, dots included); edge-cors's *. matches \
                 well-formed subdomains at any depth, never the domain itself"
            ));
        }
    }
    let candidate = format!("{scheme}://{host}{port_text}");
    let entry = match OriginEntry::parse(&candidate) {
        Ok(e @ (OriginEntry::Exact(_) | OriginEntry::ExactAnyPort(_) | OriginEntry::Subdomains { .. })) => e.to_string(),
        Ok(_) => return refuse(&what, "is not an origin or a subdomain pattern"),
        Err(e) => return refuse(&what, &format!("{} ({})", e.problem, e.fix)),
    };
    if port == Some("*") {
        let bare = entry.strip_suffix(":*").unwrap_or(&entry);
        wider.push(format!(
            "{what} matched only origins that name a port (its * follows the colon); \"{entry}\" also allows the default \
             port ({bare})"
        ));
    }
    if entry != raw && port != Some("*") {
        match dialect {
            // The specification assumes the default port, and host names
            // know no case: the same origins.
            Dialect::GatewayApi => notes.push(format!(
                "{what} is matched as \"{entry}\": browsers send origins in lower case and without the default port, as \
                 edge-cors compares them"
            )),
            // A case-sensitive match (exact, or its regex): what browsers
            // send never matched it.
            Dialect::EnvoyGateway => wider.push(format!(
                "{what}: Envoy Gateway compared it as written (case and port), and browsers send origins in lower case \
                 without the default port, so it matched none; edge-cors allows \"{entry}\""
            )),
        }
    }
    Ok(Converted { entries: vec![entry], notes, wider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_convert_narrow_or_are_refused() {
        // (origin, dialect, entries or a part of the refusal, says wider)
        use Dialect::{EnvoyGateway as Eg, GatewayApi as Api};
        let cases: [(&str, Dialect, Result<&str, &str>, bool); 17] = [
            ("*", Api, Ok("*"), false),
            ("https://app.example.com", Api, Ok("https://app.example.com"), false),
            ("https://App.Example.com:443", Api, Ok("https://app.example.com"), false),
            ("https://App.Example.com:443", Eg, Ok("https://app.example.com"), true),
            ("http://localhost:3000", Api, Ok("http://localhost:3000"), false),
            ("https://*.example.com", Api, Ok("https://*.example.com"), false),
            ("https://*.example.com:8443", Eg, Ok("https://*.example.com:8443"), false),
            ("https://*", Eg, Ok("https://*"), false),
            ("https://*", Api, Ok("https://*"), true),
            ("https://localhost:*", Eg, Ok("https://localhost:*"), true),
            ("https://*:8443", Eg, Err("any host on one port"), false),
            ("https://app*.example.com", Api, Err("not a whole first label"), false),
            ("https://*.*.example.com", Eg, Err("not a whole first label"), false),
            ("*.example.com", Api, Err("must be \"*\" or start with https://"), false),
            ("ftp://example.com", Api, Err("must be \"*\" or start with https://"), false),
            ("https://app.example.com/", Api, Err("an origin has no path"), false),
            ("https://app.example.com:x", Api, Err("not a number or *"), false),
        ];
        for (raw, dialect, want, wider) in cases {
            match (origin(&Value::String(raw.into()), dialect), want) {
                (Ok(got), Ok(entry)) => {
                    assert_eq!(got.entries, [entry], "{raw}");
                    assert_eq!(!got.wider.is_empty(), wider, "{raw}: {:?}", got.wider);
                }
                (Err(got), Err(part)) => assert!(got.contains(part), "{raw}: {got}"),
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        }
    }
}
