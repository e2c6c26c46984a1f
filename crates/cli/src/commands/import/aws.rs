//! AWS's `CorsConfiguration`, as `check` reads it (CloudFormation and SAM
//! templates, OpenAPI's `x-amazon-apigateway-cors`, `aws apigatewayv2
//! get-api` output). Its meaning is edge-cors's already: only the spelling
//! changes, and what API Gateway itself did differently is said.

use crate::commands::render;
use crate::source::Found;

use super::Imported;

pub fn convert(found: Found) -> Imported {
    let mut refusals: Vec<String> = found.problems.iter().map(|p| format!("{} = {}: {}", p.field, p.value, p.problem)).collect();
    let mut policy = render::canonical(&found.object);
    // Values CloudFormation computes are refusals above; unknown keys stay
    // for the filter's check to name.
    policy.retain(|(_, v)| !v.is_null());
    let mut differences: Vec<String> = found.notes.clone();
    differences.push(
        "the AWS spelling (AllowOrigins...) became edge-cors's (allow_origins...); edge-cors accepts both, the meaning is the same".into(),
    );
    differences
        .push("as in API Gateway, edge-cors answers preflights itself and replaces the backend's own CORS headers: no change there".into());
    differences
        .push("edge-cors refuses a preflight asking for a method or header outside the lists with 403 and a body naming the part".into());
    differences.push(
        "API Gateway sent preflights to a $default route's authorizer when the API had one (the browser then saw a CORS error); \
         edge-cors, placed before auth, answers every preflight first"
            .into(),
    );
    differences.push("edge-cors adds Vary: Origin whenever the answer depends on the origin".into());
    if found.object.is_empty() {
        refusals.push("the CORS configuration is empty".into());
    }
    let credentials = policy.iter().any(|(k, v)| k == "allow_credentials" && *v == serde_json::Value::Bool(true));
    let wider_headers = super::envoy::star_headers(&policy, "API Gateway", credentials, true);
    Imported { location: found.location, policy, differences, refusals, wider_headers, ..Imported::default() }
}
