//! Envoy Gateway's `SecurityPolicy` `spec.cors` (`--from envoy-gateway`).
//! Envoy Gateway programs Envoy's CORS filter with it, so the conversion is
//! Envoy's, with Envoy Gateway's origin strings (read as `gateway_api` reads
//! them) and settings.
//!
//! What the conversion relies on (envoyproxy/gateway):
//! - api/v1alpha1/cors_types.go: `allowOrigins` (`*`, `https://*`,
//!   `https://*.example.com`, an exact origin, a port or `*` after the
//!   colon), `allowMethods`, `allowHeaders`, `exposeHeaders`, `maxAge` (a
//!   duration such as "1h"), `allowCredentials`.
//! - internal/gatewayapi/securitypolicy.go (`wildcard2regex`): an origin with
//!   a `*` becomes an Envoy safe_regex with `.` escaped and `*` as `.*`; any
//!   other an exact, case-sensitive match.
//! - internal/xds/translator/cors.go: the policy is set per route, with
//!   forward_not_matching_preflights: false; an HTTPRoute CORS filter on the
//!   same route takes precedence over the SecurityPolicy.

use serde_json::{Map, Value};

use super::envoy::{self, Fields, UnmatchedPreflights};
use super::find::{self, Block};
use super::gateway_api::{self, Dialect};
use super::Imported;

/// Every SecurityPolicy with `spec.cors`; the block is the whole policy (its
/// targets are said in the notes), located at its `spec.cors`.
pub fn find(doc: &Value, path: &str, out: &mut Vec<Block>) {
    let mut policies = Vec::new();
    find::objects(doc, path, &mut |o| o.get("kind").and_then(Value::as_str) == Some("SecurityPolicy") && cors(o).is_some(), &mut policies);
    for p in policies {
        out.push(Block { location: find::key_path(&p.location, "spec.cors"), object: p.object });
    }
}

fn cors(policy: &Map<String, Value>) -> Option<&Map<String, Value>> {
    policy.get("spec").and_then(|s| s.get("cors")).and_then(Value::as_object)
}

pub fn convert(location: &str, policy: &Map<String, Value>) -> Imported {
    let empty = Map::new();
    let o = cors(policy).unwrap_or(&empty);
    let unmatched = UnmatchedPreflights::Answered(
        "Envoy Gateway sets forward_not_matching_preflights: false, so Envoy answered preflights from other origins with 200 \
         and no CORS headers",
    );
    let differences = vec![
        unmatched.difference("Envoy Gateway"),
        format!(
            "the SecurityPolicy applied to {}; edge-cors applies one policy to every request it sees (a listener, a Gateway): \
             make sure the other routes there want the same policy, or give them their own with edge-cors's rules \
             (matched by host and path)",
            targets(policy)
        ),
        "on a route that also had an HTTPRoute CORS filter, Envoy Gateway used that filter instead of this policy \
         (import it with --from gateway-api to compare)"
            .into(),
    ];
    let fields = Fields::camel_case(o, "allowOrigins");
    let origin = |v: &Value| gateway_api::origin(v, Dialect::EnvoyGateway);
    envoy::convert_with(location, fields, "Envoy Gateway", differences, &origin, true)
}

/// What the policy targets, for people: "the routes of Gateway/eg".
fn targets(policy: &Map<String, Value>) -> String {
    let spec = policy.get("spec");
    let refs: Vec<String> = ["targetRefs", "targetRef"]
        .iter()
        .filter_map(|k| spec.and_then(|s| s.get(*k)))
        .flat_map(|v| match v {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        })
        .map(|r| {
            let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
            format!("{}/{}", field("kind"), field("name"))
        })
        .collect();
    if refs.is_empty() {
        "the routes its targetSelectors chose".into()
    } else {
        format!("the routes of {}", refs.join(", "))
    }
}
