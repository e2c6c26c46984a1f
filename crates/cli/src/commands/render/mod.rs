//! `edge-cors render`: ready-to-apply configuration with the policy
//! embedded, the filter placed before auth filters. Matches envoy/envoy.yaml:
//! the policy travels as a JSON string (Envoy: a StringValue; Istio and
//! Envoy Gateway turn their YAML object into that JSON string themselves).
//! `--shell` picks the filter: the proxy-wasm module or the Envoy dynamic
//! module (Envoy and Envoy Gateway only).

use std::path::Path;

use clap::ValueEnum;
use serde_json::{Map, Value};

use crate::commands::check;

mod bootstrap;
mod manifests;

use crate::out::Style;
use crate::{Fatal, Report};
pub use bootstrap::{run_host, HostArgs};
use manifests::{EnvoyFilter, GatewayModulePolicy, GatewayPolicy, WasmPlugin};

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
    // A complete Envoy bootstrap: admin, listener (edge-cors, router), upstream cluster.
    EnvoyBootstrap,
    // The bootstrap for live reload (file-based LDS), and its LDS file.
    EnvoyLds,
}

/// Which build of the filter the configuration loads (`--shell`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    // Plain comments, as for RenderTarget.
    // The proxy-wasm module, edge_cors.wasm (every target).
    #[default]
    Wasm,
    // The Envoy 1.40 dynamic module, libedge_cors.so (envoy, envoy-bootstrap,
    // envoy-lds, envoy-gateway).
    Module,
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

/// What `--target envoy` names without `--module`, per shell.
const ENVOY_PLACEHOLDER_WASM: &str = "/etc/envoy/edge_cors.wasm";
const ENVOY_PLACEHOLDER_MODULE: &str = "/opt/edge-cors/libedge_cors.so";
/// Where Envoy Gateway's Envoy container has the dynamic module, without `--module`.
const GATEWAY_MODULE_PATH: &str = "/etc/envoy/dynamic-modules/libedge_cors.so";

/// `sha256`: the module's digest, pinned in the manifest (Istio, Envoy Gateway).
pub fn run(
    target: RenderTarget,
    shell: Shell,
    path: &Path,
    module: Option<&str>,
    namespace: Option<&str>,
    gateway: &str,
    sha256: Option<&str>,
) -> Result<Report, Fatal> {
    if shell == Shell::Module {
        // Istio and --sha256 refused (main says so before reading the policy).
        module_shell_notes(target, true, sha256.is_some())?;
    }
    let style = Style::stderr();
    let c = match load_valid(path, &style)? {
        Loaded::Valid(c) => c,
        Loaded::Refused(report) => return Ok(report),
    };
    let fields = canonical(&c.found.object);
    let text = match (target, shell) {
        (RenderTarget::Envoy, Shell::Wasm) => {
            EnvoyFilter { policy: &fields, module: module.unwrap_or(ENVOY_PLACEHOLDER_WASM), shell }.yaml()
        }
        (RenderTarget::Envoy, Shell::Module) => {
            EnvoyFilter { policy: &fields, module: module.unwrap_or(ENVOY_PLACEHOLDER_MODULE), shell }.yaml()
        }
        (RenderTarget::EnvoyGateway, Shell::Module) => GatewayModulePolicy {
            policy: &fields,
            module: module.unwrap_or(GATEWAY_MODULE_PATH),
            namespace: namespace.unwrap_or("default"),
            gateway,
        }
        .yaml(),
        // Refused above with the dynamic module.
        (RenderTarget::Istio, _) => WasmPlugin {
            policy: &fields,
            module: module.unwrap_or("oci://registry.example.com/edge-cors:0.1.0"),
            namespace: namespace.unwrap_or("istio-system"),
            sha256,
        }
        .yaml(),
        (RenderTarget::EnvoyGateway, Shell::Wasm) => GatewayPolicy {
            policy: &fields,
            module: module.unwrap_or("registry.example.com/edge-cors:0.1.0"),
            namespace: namespace.unwrap_or("default"),
            gateway,
            sha256,
        }
        .yaml(),
        (RenderTarget::EnvoyBootstrap | RenderTarget::EnvoyLds, _) => return run_host(target, shell, path, module, &HostArgs::default()),
    };
    let note = style.dim(&format!("# policy from {} checked with the filter's own code: valid", path.display()));
    let mut stderr = format!("{note}\n");
    stderr.push_str(&debug_warning(&c, &style));
    let clusters = source_clusters(&c);
    if !clusters.is_empty() {
        stderr.push_str(&format!("{} {}\n", style.dim("note:"), cluster_note(target, &clusters)));
    }
    Ok(Report { stdout: text, stderr, ok: true })
}

/// Every cluster the policy's `allow_origins_from` fetches from (top level
/// and rules), each once, in the order they appear.
fn source_clusters(c: &check::Checked) -> Vec<String> {
    let Some(config) = &c.config else { return Vec::new() };
    let mut out: Vec<String> = Vec::new();
    let policies = std::iter::once(&config.default).chain(config.rules.iter().filter_map(|r| r.policy.as_ref()));
    for cluster in policies.filter_map(|p| p.source.as_ref()).map(|s| &s.cluster) {
        if !out.contains(cluster) {
            out.push(cluster.clone());
        }
    }
    out
}

/// Where the proxy must have the sources' clusters (`--target envoy`,
/// `istio`, `envoy-gateway`: edge-cors renders no cluster there).
fn cluster_note(target: RenderTarget, clusters: &[String]) -> String {
    let names: Vec<String> = clusters.iter().map(|c| format!("{c:?}")).collect();
    let (what, it) = if names.len() == 1 { ("cluster", "it") } else { ("clusters", "them") };
    let head = format!("allow_origins_from fetches from {what} {}", names.join(", "));
    match target {
        RenderTarget::Istio => format!(
            "{head}: the gateway's Envoy must have {it}, and Istio names a Service's cluster outbound|PORT||HOST, \
             e.g. outbound|8080||tenants.default.svc.cluster.local (istioctl proxy-config clusters POD lists them)"
        ),
        RenderTarget::EnvoyGateway => format!(
            "{head}: Envoy Gateway creates no such cluster; define {it} in your EnvoyProxy's bootstrap \
             (spec.bootstrap, type Merge) or with an EnvoyPatchPolicy"
        ),
        _ => format!(
            "{head}: define {it} in this Envoy's clusters (static_resources or CDS), or every fetch fails and only allow_origins applies"
        ),
    }
}

/// `--sha256`: a SHA-256 digest, 64 hex digits (a `sha256:` prefix allowed),
/// in lower case.
pub fn parse_sha256(s: &str) -> Result<String, String> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!(
            "{s:?} is not a SHA-256 digest: give 64 hex digits (`sha256sum edge_cors.wasm`, or the image's digest without \"sha256:\")"
        ))
    }
}

/// What stderr says about the module reference: a warning when it is a
/// placeholder (no `--module`), a note when an image is not pinned. Err
/// when `--sha256` is given for a target that loads a local file, and for
/// Istio with the dynamic module.
pub fn module_notes(target: RenderTarget, shell: Shell, module_given: bool, sha256_given: bool) -> Result<String, Fatal> {
    if shell == Shell::Module {
        return module_shell_notes(target, module_given, sha256_given);
    }
    let image = matches!(target, RenderTarget::Istio | RenderTarget::EnvoyGateway);
    if sha256_given && !image {
        return Err(Fatal(
            "--sha256 pins an image or a module downloaded over HTTP (--target istio, envoy-gateway); Envoy here loads a local file".into(),
        ));
    }
    if target.is_envoy_host() {
        // The checkout's release module by default: run_host warns itself
        // when it has to name a placeholder.
        return Ok(String::new());
    }
    let style = Style::stderr();
    Ok(match (module_given, image) {
        (false, true) => format!(
            "{} the image reference (registry.example.com) is a placeholder: give --module with your edge-cors image \
             and --sha256 with its digest to pin it\n",
            style.warn("warning:")
        ),
        (false, false) => format!(
            "{} the module path is a placeholder: give --module with the path of edge_cors.wasm on the proxy's machine\n",
            style.warn("warning:")
        ),
        (true, true) if !sha256_given => {
            format!("{} the module is not pinned: add --sha256 with its digest so the proxy loads no other\n", style.dim("note:"))
        }
        _ => String::new(),
    })
}

/// `module_notes` for `--shell module`: every target loads a local file.
fn module_shell_notes(target: RenderTarget, module_given: bool, sha256_given: bool) -> Result<String, Fatal> {
    if matches!(target, RenderTarget::Istio) {
        return Err(Fatal(
            "--target istio: Istio's WasmPlugin loads wasm only; for istio-proxy builds with dynamic modules, \
             use --target envoy --shell module in an EnvoyFilter patch"
                .into(),
        ));
    }
    if sha256_given {
        return Err(Fatal(
            "--sha256 with --shell module: the dynamic module is a local file, and a local file has no digest field to pin".into(),
        ));
    }
    let style = Style::stderr();
    Ok(match (module_given, target) {
        (false, RenderTarget::Envoy) => format!(
            "{} the module path is a placeholder: give --module with the path of libedge_cors.so on the proxy's machine\n",
            style.warn("warning:")
        ),
        (false, RenderTarget::EnvoyGateway) => format!(
            "{} the EnvoyProxy names {GATEWAY_MODULE_PATH}: put libedge_cors.so there in the Envoy container, \
             or give --module with where it is\n",
            style.dim("note:")
        ),
        // envoy-bootstrap and envoy-lds: run_host warns itself.
        _ => String::new(),
    })
}

/// `"debug": true` is for development: the rendered configuration would show
/// every caller why a request was refused. Said, not refused.
fn debug_warning(c: &check::Checked, style: &Style) -> String {
    let debug = c.debug_policies();
    if debug.is_empty() {
        return String::new();
    }
    let which = debug.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(", ");
    format!(
        "{}\n",
        style.warn(&format!(
            "warning: \"debug\": true in {which}: every response there carries x-edge-cors with the filter's decision; \
             remove it before production"
        ))
    )
}

/// A policy file as `render` finds it: one the filter accepts, or the
/// report to print instead (check's messages, and nothing rendered).
enum Loaded {
    Valid(Box<check::Checked>),
    Refused(Report),
}

/// The policy to render, checked with the filter's own code (an unreadable
/// file or several policies in one: the `Fatal`).
fn load_valid(path: &Path, style: &Style) -> Result<Loaded, Fatal> {
    let c = check::load_one(path, "render takes one")?;
    if c.is_ok() {
        return Ok(Loaded::Valid(Box::new(c)));
    }
    let mut s = check::describe(&path.display().to_string(), &c, style);
    s.push_str(&style.fail("not rendered: the filter would refuse this policy"));
    s.push('\n');
    Ok(Loaded::Refused(Report { stdout: String::new(), stderr: s, ok: false }))
}

#[cfg(test)]
mod tests;
