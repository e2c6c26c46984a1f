//! The snippets and manifests `render` prints around a policy: Envoy's
//! HTTP filter (the wasm filter or the dynamic module's), Istio's
//! WasmPlugin, Envoy Gateway's EnvoyExtensionPolicy (with the EnvoyProxy
//! that orders it, or registers the dynamic module, and the Gateway that
//! uses that). Each is a typed value, printed from its template in
//! crates/cli/templates.

use serde_json::Value;

use super::{policy_json, policy_yaml, Shell};
use crate::template::fill;

const ENVOY_FILTER: &str = include_str!("../../../templates/envoy-filter.yaml");
const ENVOY_MODULE_FILTER: &str = include_str!("../../../templates/envoy-module-filter.yaml");
const ISTIO_WASM_PLUGIN: &str = include_str!("../../../templates/istio-wasmplugin.yaml");
const ENVOY_GATEWAY: &str = include_str!("../../../templates/envoy-gateway.yaml");
const ENVOY_GATEWAY_MODULE: &str = include_str!("../../../templates/envoy-gateway-module.yaml");
/// The Gateway that references the EnvoyProxy, in both Envoy Gateway forms.
const ENVOY_GATEWAY_GATEWAY: &str = include_str!("../../../templates/envoy-gateway-gateway.yaml");
/// The digest lines, in the manifest only when `--sha256` is given.
const ISTIO_PIN: &str = include_str!("../../../templates/istio-pin.yaml");
const ENVOY_GATEWAY_PIN: &str = include_str!("../../../templates/envoy-gateway-pin.yaml");

/// `--target envoy`: the HttpConnectionManager's `http_filters`, edge-cors
/// first, the policy as a StringValue: the wasm filter's `configuration`
/// or the dynamic module's `filter_config`.
pub struct EnvoyFilter<'a> {
    pub policy: &'a [(String, Value)],
    /// Where Envoy reads the module from (a local file: edge_cors.wasm or
    /// libedge_cors.so).
    pub module: &'a str,
    pub shell: Shell,
}

impl EnvoyFilter<'_> {
    pub fn yaml(&self) -> String {
        // The template, and the indent of the StringValue's `value: |` lines.
        let (template, indent) = match self.shell {
            Shell::Wasm => (ENVOY_FILTER, "          "),
            Shell::Module => (ENVOY_MODULE_FILTER, "        "),
        };
        fill(template, &[("module", self.module), ("policy", &policy_json(self.policy, indent))])
    }
}

/// `--target istio`: a WasmPlugin in phase AUTHN.
pub struct WasmPlugin<'a> {
    pub policy: &'a [(String, Value)],
    /// The image (oci://...) or URL.
    pub module: &'a str,
    pub namespace: &'a str,
    /// The module's digest, pinned when given.
    pub sha256: Option<&'a str>,
}

impl WasmPlugin<'_> {
    pub fn yaml(&self) -> String {
        let pin = self.sha256.map(|h| fill(ISTIO_PIN, &[("sha256", h)])).unwrap_or_default();
        let policy = policy_yaml(self.policy, "    ");
        fill(ISTIO_WASM_PLUGIN, &[("namespace", self.namespace), ("module", self.module), ("pin", &pin), ("policy", &policy)])
    }
}

/// How Envoy Gateway fetches the module (`spec.wasm[].code.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleCode {
    /// An http(s):// URL.
    Http,
    /// Anything else: an OCI image.
    Image,
}

impl ModuleCode {
    pub fn of(module: &str) -> ModuleCode {
        if module.starts_with("https://") || module.starts_with("http://") {
            ModuleCode::Http
        } else {
            ModuleCode::Image
        }
    }

    /// The `type` value and the key that holds the `url`.
    fn kind_and_key(self) -> (&'static str, &'static str) {
        match self {
            ModuleCode::Http => ("HTTP", "http"),
            ModuleCode::Image => ("Image", "image"),
        }
    }
}

/// `--target envoy-gateway`: the EnvoyExtensionPolicy on `gateway`, the
/// EnvoyProxy that moves the wasm filter before auth, and the Gateway that
/// references it.
pub struct GatewayPolicy<'a> {
    pub policy: &'a [(String, Value)],
    pub module: &'a str,
    pub namespace: &'a str,
    pub gateway: &'a str,
    pub sha256: Option<&'a str>,
}

impl GatewayPolicy<'_> {
    pub fn code(&self) -> ModuleCode {
        ModuleCode::of(self.module)
    }

    pub fn yaml(&self) -> String {
        let (kind, key) = self.code().kind_and_key();
        let pin = self.sha256.map(|h| fill(ENVOY_GATEWAY_PIN, &[("sha256", h)])).unwrap_or_default();
        let policy = policy_yaml(self.policy, "      ");
        fill(
            ENVOY_GATEWAY,
            &[
                ("namespace", self.namespace),
                ("gateway", self.gateway),
                ("kind", kind),
                ("key", key),
                ("module", self.module),
                ("pin", &pin),
                ("policy", &policy),
                ("gateway_object", &gateway_object(self.namespace, self.gateway)),
            ],
        )
    }
}

/// The Gateway `gateway` in `namespace`, referencing the EnvoyProxy `edge-cors-first`.
fn gateway_object(namespace: &str, gateway: &str) -> String {
    fill(ENVOY_GATEWAY_GATEWAY, &[("namespace", namespace), ("gateway", gateway)])
}

/// `--target envoy-gateway --shell module`: the EnvoyProxy that registers
/// the dynamic module (a file already in the Envoy container) and moves it
/// before auth, the Gateway that references that EnvoyProxy, and the
/// EnvoyExtensionPolicy that runs the module with the policy on `gateway`.
pub struct GatewayModulePolicy<'a> {
    pub policy: &'a [(String, Value)],
    /// The module's absolute path in the Envoy container.
    pub module: &'a str,
    pub namespace: &'a str,
    pub gateway: &'a str,
}

impl GatewayModulePolicy<'_> {
    pub fn yaml(&self) -> String {
        let policy = policy_yaml(self.policy, "      ");
        fill(
            ENVOY_GATEWAY_MODULE,
            &[
                ("namespace", self.namespace),
                ("gateway", self.gateway),
                ("module", self.module),
                ("policy", &policy),
                ("gateway_object", &gateway_object(self.namespace, self.gateway)),
            ],
        )
    }
}
