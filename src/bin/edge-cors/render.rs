//! `edge-cors render`: ready-to-apply configuration with the policy
//! embedded, the filter placed before auth filters. Matches envoy/envoy.yaml:
//! the policy travels as a JSON string (Envoy: a StringValue; Istio and
//! Envoy Gateway turn their YAML object into that JSON string themselves).

use std::path::Path;

use clap::ValueEnum;
use serde_json::{Map, Value};

use crate::check;
use crate::out::Style;
use crate::{Fatal, Report};

/// The proxy a manifest is rendered for (`--target`).
#[derive(Clone, Copy, ValueEnum)]
pub enum RenderTarget {
    // Plain comments, not doc comments: clap would turn those into a
    // longer `--help`.
    // An HttpConnectionManager's `http_filters`.
    Envoy,
    // An Istio `WasmPlugin`.
    Istio,
    // An Envoy Gateway `EnvoyExtensionPolicy`, and the `EnvoyProxy` that orders it.
    EnvoyGateway,
}

/// Engine keys in the order people read them.
const ORDER: [&str; 8] = [
    "allow_origins",
    "allow_methods",
    "allow_headers",
    "expose_headers",
    "max_age",
    "allow_credentials",
    "allow_private_network",
    "allow_insecure_origins",
];

/// AWS spelling to the engine's.
const AWS: [(&str, &str); 6] = [
    ("AllowOrigins", "allow_origins"),
    ("AllowMethods", "allow_methods"),
    ("AllowHeaders", "allow_headers"),
    ("ExposeHeaders", "expose_headers"),
    ("MaxAge", "max_age"),
    ("AllowCredentials", "allow_credentials"),
];

/// The policy object with engine (snake_case) keys, `_` keys dropped.
pub fn canonical(object: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in object {
        if k.starts_with('_') {
            continue;
        }
        let key = AWS.iter().find(|(a, _)| a == k).map_or(k.as_str(), |(_, s)| s);
        out.push((key.to_string(), v.clone()));
    }
    out.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
    out
}

fn inline(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// Pretty JSON with one key per line and lists kept on one line.
pub fn policy_json(fields: &[(String, Value)], indent: &str) -> String {
    let mut s = format!("{indent}{{\n");
    for (i, (k, v)) in fields.iter().enumerate() {
        let comma = if i + 1 < fields.len() { "," } else { "" };
        s.push_str(&format!("{indent}  {}: {}{comma}\n", Value::String(k.clone()), inline(v)));
    }
    s.push_str(&format!("{indent}}}"));
    s
}

/// The policy as a YAML mapping (flow-style lists, JSON-compatible scalars).
fn policy_yaml(fields: &[(String, Value)], indent: &str) -> String {
    let mut s = String::new();
    for (k, v) in fields {
        s.push_str(&format!("{indent}{k}: {}\n", inline(v)));
    }
    s
}

pub fn run(target: RenderTarget, path: &Path, module: Option<&str>, namespace: Option<&str>, gateway: &str) -> Result<Report, Fatal> {
    let style = Style::stderr();
    let c = check::load_one(path, "render takes one")?;
    if !c.is_ok() {
        let mut s = check::describe(&path.display().to_string(), &c, &style);
        s.push_str(&style.fail("not rendered: the filter would refuse this policy"));
        s.push('\n');
        return Ok(Report { stdout: String::new(), stderr: s, ok: false });
    }
    let fields = canonical(&c.found.object);
    let text = match target {
        RenderTarget::Envoy => envoy(&fields, module.unwrap_or("/etc/envoy/edge_cors.wasm")),
        RenderTarget::Istio => {
            istio(&fields, module.unwrap_or("oci://registry.example.com/edge-cors:0.1.0"), namespace.unwrap_or("istio-system"))
        }
        RenderTarget::EnvoyGateway => {
            envoy_gateway(&fields, module.unwrap_or("registry.example.com/edge-cors:0.1.0"), namespace.unwrap_or("default"), gateway)
        }
    };
    let note = style.dim(&format!("# policy from {} checked with the filter's own code: valid", path.display()));
    Ok(Report { stdout: text, stderr: format!("{note}\n"), ok: true })
}

fn envoy(fields: &[(String, Value)], module: &str) -> String {
    format!(
        r#"# edge-cors for Envoy: put this first in the HttpConnectionManager's http_filters,
# before jwt_authn, ext_authz, rbac, basic_auth, oauth2..., so that preflights are
# answered before auth rejects them and auth's 401/403 replies get CORS headers.
# Do not also enable envoy.filters.http.cors or route cors policies.
http_filters:
- name: envoy.filters.http.wasm
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
    config:
      name: edge_cors
      root_id: edge_cors
      vm_config:
        runtime: envoy.wasm.runtime.v8
        code:
          local: {{ filename: {module} }}
      configuration:
        # A StringValue: a Struct would reach the module as protobuf bytes, not JSON.
        "@type": type.googleapis.com/google.protobuf.StringValue
        value: |
{policy}
# ... auth filters here ...
- name: envoy.filters.http.router
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#,
        policy = policy_json(fields, "          ")
    )
}

fn istio(fields: &[(String, Value)], module: &str, namespace: &str) -> String {
    format!(
        r#"# edge-cors for Istio: phase AUTHN runs it before Istio's authentication and
# authorization filters, so preflights are answered first and their 401/403
# replies get CORS headers. Do not also set a corsPolicy on the VirtualServices.
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: edge-cors
  namespace: {namespace}
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  url: {module}
  phase: AUTHN
  # Highest priority within the phase: before any other AUTHN plugin.
  priority: 1000
  # Refuse traffic rather than serve it without the policy.
  failStrategy: FAIL_CLOSE
  pluginConfig:
{policy}"#,
        policy = policy_yaml(fields, "    ")
    )
}

fn envoy_gateway(fields: &[(String, Value)], module: &str, namespace: &str, gateway: &str) -> String {
    format!(
        r#"# edge-cors for Envoy Gateway. Attached to the Gateway, so every route of it
# runs the filter. Envoy Gateway enables wasm filters per route: a request that
# matches no route (the proxy's own 404) never reaches it; give the Gateway a
# catch-all HTTPRoute if browsers must read those 404s. Do not also set cors in
# a SecurityPolicy.
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyExtensionPolicy
metadata:
  name: edge-cors
  namespace: {namespace}
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: {gateway}
  wasm:
  - name: edge-cors
    rootID: edge_cors
    code:
      type: Image
      image:
        url: {module}
    # Refuse traffic rather than serve it without the policy.
    failOpen: false
    config:
{policy}---
# Envoy Gateway orders wasm filters after ext_authz, api_key_auth, basic_auth,
# oauth2 and jwt_authn; this moves edge-cors before the first of them, so
# preflights are answered before auth and auth's 401/403 replies get CORS
# headers. Reference it from the Gateway (spec.infrastructure.parametersRef)
# or its GatewayClass (spec.parametersRef).
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata:
  name: edge-cors-first
  namespace: {namespace}
spec:
  filterOrder:
  - name: envoy.filters.http.wasm
    before: envoy.filters.http.ext_authz
"#,
        policy = policy_yaml(fields, "      ")
    )
}
