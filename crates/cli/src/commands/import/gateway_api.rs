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

use serde_json::{Map, Value};

use edge_cors_engine::origins::OriginEntry;

use super::envoy::{self, Fields};
use super::find::{self, Block};
use super::matcher::{refuse, Converted};
use super::Imported;

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

pub fn convert(location: &str, o: &Map<String, Value>) -> Imported {
    let mut differences = vec![
        format!(
            "the filter applied only to the requests of the HTTPRoute rule it sits in ({location}); edge-cors applies one policy to every request \
             it sees (a listener, a Gateway): make sure the other routes there want the same policy, or give them their own \
             with edge-cors's rules (matched by host and path)"
        ),
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
