//! Istio's `corsPolicy`: a VirtualService's `spec.http[].corsPolicy`, or a
//! bare policy. Istio configures Envoy's CORS filter, so the conversion is
//! Envoy's, with Istio's key names and defaults.

use serde_json::{Map, Value};

use super::envoy::{self, Fields, UnmatchedPreflights};
use super::find::{self, Block};
use super::{envoy_gateway, gateway_api, Imported};

pub fn find(doc: &Value, path: &str, out: &mut Vec<Block>) {
    let mut holders = Vec::new();
    find::objects(doc, path, &mut |o| o.contains_key("corsPolicy"), &mut holders);
    if holders.is_empty() {
        // The file is the policy itself. OpenAPI's x-amazon-apigateway-cors
        // spells its keys the same way, but is AWS's (`--from aws`).
        // The Gateway API's CORS filter and Envoy Gateway's SecurityPolicy
        // do too (`--from gateway-api`, `--from envoy-gateway`).
        let mut bare = Vec::new();
        find::objects(doc, path, &mut |o| o.contains_key("allowOrigins") || o.contains_key("allowOrigin"), &mut bare);
        let mut theirs = Vec::new();
        gateway_api::find(doc, path, &mut theirs);
        envoy_gateway::find(doc, path, &mut theirs);
        out.extend(
            bare.into_iter()
                .filter(|b| !b.location.ends_with("x-amazon-apigateway-cors") && !theirs.iter().any(|t| t.location == b.location)),
        );
        return;
    }
    for holder in holders {
        if let Some(Value::Object(cors)) = holder.object.get("corsPolicy") {
            // At the document's root the policy's path is just its key, as
            // the second pass names it.
            out.push(Block { location: find::key_path(&holder.location, "corsPolicy"), object: cors.clone() });
        }
    }
    // Policies the first pass did not reach: one inside a holder's other keys.
    let mut more = Vec::new();
    find::under_key(doc, path, "corsPolicy", &mut more);
    for block in more {
        if !out.iter().any(|b| b.location == block.location) {
            out.push(block);
        }
    }
}

pub fn convert(location: &str, o: &Map<String, Value>) -> Imported {
    let unmatched = match o.get("unmatchedPreflights").and_then(Value::as_str) {
        Some("IGNORE") => UnmatchedPreflights::Answered(
            "unmatchedPreflights: IGNORE kept preflights from other origins away from the upstream without CORS headers",
        ),
        _ => UnmatchedPreflights::Forwarded { default: "unmatchedPreflights defaults to FORWARD" },
    };
    let fields = Fields::camel_case(o, "allowOrigin");
    envoy::convert_fields(location, fields, "Istio", vec![unmatched.difference("Istio")])
}
