//! The snippets and manifests `render` prints around a policy: Envoy's
//! HTTP filter, Istio's WasmPlugin, Envoy Gateway's EnvoyExtensionPolicy.

use serde_json::Value;

use super::{policy_json, policy_yaml};

pub(super) fn envoy(fields: &[(String, Value)], module: &str) -> String {
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

pub(super) fn istio(fields: &[(String, Value)], module: &str, namespace: &str, sha256: Option<&str>) -> String {
    let pin = sha256.map(|h| format!("  # The module's digest: Istio refuses any other.\n  sha256: {h}\n")).unwrap_or_default();
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
{pin}  phase: AUTHN
  # Highest priority within the phase: before any other AUTHN plugin.
  priority: 1000
  # Refuse traffic rather than serve it without the policy.
  failStrategy: FAIL_CLOSE
  pluginConfig:
{policy}"#,
        policy = policy_yaml(fields, "    ")
    )
}

pub(super) fn envoy_gateway(fields: &[(String, Value)], module: &str, namespace: &str, gateway: &str, sha256: Option<&str>) -> String {
    // An http(s):// URL is a module served over HTTP; anything else an image.
    let (kind, key) = if module.starts_with("https://") || module.starts_with("http://") { ("HTTP", "http") } else { ("Image", "image") };
    let pin = sha256.map(|h| format!("\n        sha256: {h}")).unwrap_or_default();
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
      type: {kind}
      {key}:
        url: {module}{pin}
    # Refuse traffic rather than serve it without the policy.
    failOpen: false
    config:
{policy}---
# Envoy Gateway orders wasm filters after ext_authz, api_key_auth, basic_auth,
# oauth2 and jwt_authn; this moves edge-cors before the first of them, so
# preflights are answered before auth and auth's 401/403 replies get CORS
# headers. It takes effect only where it is referenced: the Gateway below does
# (spec.infrastructure.parametersRef). It comes first because Envoy Gateway
# recommends creating an EnvoyProxy before the Gateway that references it.
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyProxy
metadata:
  name: edge-cors-first
  namespace: {namespace}
spec:
  filterOrder:
  - name: envoy.filters.http.wasm
    before: envoy.filters.http.ext_authz
---
# The Gateway the policy attaches to, using the EnvoyProxy above (same
# namespace: a Gateway's parametersRef has none). Its EnvoyProxy takes
# precedence over one its GatewayClass names, and mergeGateways must not be
# set. If the Gateway exists already, add only spec.infrastructure to it:
# applying this one replaces its listeners with one HTTP listener on port 80
# (Envoy Gateway's quickstart class, eg). Alternatively reference the
# EnvoyProxy from the GatewayClass (spec.parametersRef, with a namespace).
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: {gateway}
  namespace: {namespace}
spec:
  gatewayClassName: eg
  infrastructure:
    parametersRef:
      group: gateway.envoyproxy.io
      kind: EnvoyProxy
      name: edge-cors-first
  listeners:
  - name: http
    protocol: HTTP
    port: 80
"#,
        policy = policy_yaml(fields, "      ")
    )
}
