//! `edge-cors import`: an Envoy `CorsPolicy`, an Istio `corsPolicy`, an AWS
//! `CorsConfiguration`, a Gateway API `HTTPRoute` CORS filter or an Envoy
//! Gateway `SecurityPolicy`'s `cors` as an edge-cors policy, with every
//! behaviour difference the user must know. Regexes are converted only to entries
//! whose difference is known; a policy wider than its source is refused
//! unless `--accept-wider` (and always with credentials), anything that
//! cannot be converted is refused.
//!
//! `find` locates the CORS blocks in a document; `envoy`, `istio`, `aws`,
//! `gateway_api` and `envoy_gateway` each convert their own; `matcher`,
//! `regex` and `gateway_api::origin` turn origin matchers into
//! `allow_origins` entries. This module reports the result.

mod aws;
mod envoy;
mod envoy_gateway;
mod find;
mod gateway_api;
mod ingress_nginx;
mod istio;
mod matcher;
mod regex;
mod scoped;

use std::path::Path;

use clap::ValueEnum;
use serde_json::{Map, Value};

use crate::commands::check;
use crate::commands::render;
use crate::out::{self, Style};
use crate::source::{self, Found};
use crate::{Fatal, Report};

/// Where the configuration to import comes from (`--from`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportSource {
    Envoy,
    Istio,
    // CloudFormation and SAM templates, OpenAPI's x-amazon-apigateway-cors,
    // and `aws apigatewayv2 get-api` output: whatever `check` reads.
    Aws,
    // The Gateway API's HTTPRoute CORS filter (standard channel).
    GatewayApi,
    // Envoy Gateway's SecurityPolicy `spec.cors`.
    #[value(alias = "envoy-gateway-security-policy")]
    EnvoyGateway,
    // ingress-nginx's CORS annotations on networking.k8s.io/v1 Ingresses.
    IngressNginx,
}

impl ImportSource {
    /// What is imported, for people.
    fn what(self) -> &'static str {
        match self {
            ImportSource::Envoy => "Envoy CorsPolicy",
            ImportSource::Istio => "Istio corsPolicy",
            ImportSource::Aws => "AWS CorsConfiguration",
            ImportSource::GatewayApi => "Gateway API HTTPRoute CORS filter",
            ImportSource::EnvoyGateway => "Envoy Gateway SecurityPolicy cors",
            ImportSource::IngressNginx => "ingress-nginx Ingress CORS annotations",
        }
    }

    /// Every configuration of this kind in the file, converted.
    fn import(self, path: &Path) -> Result<Vec<Imported>, Fatal> {
        Ok(match self {
            ImportSource::Envoy => find::in_file(path, envoy::find)?.iter().map(|b| envoy::convert(&b.location, &b.object)).collect(),
            ImportSource::Istio => find::in_file(path, istio::find)?.iter().map(|b| istio::convert(&b.location, &b.object)).collect(),
            ImportSource::Aws => source::load(path)?.into_iter().map(aws::convert).collect(),
            ImportSource::GatewayApi => gateway_api::import(path)?,
            ImportSource::EnvoyGateway => {
                find::in_file(path, envoy_gateway::find)?.iter().map(|b| envoy_gateway::convert(&b.location, &b.object)).collect()
            }
            ImportSource::IngressNginx => ingress_nginx::import(path)?,
        })
    }

    /// Where in `path` this source finds a configuration of its own kind,
    /// for hints (an edge-cors policy is no source's own).
    fn locations(self, path: &Path) -> Vec<String> {
        let blocks = |finder| find::in_file(path, finder).map(|b| b.into_iter().map(|b| b.location).collect()).unwrap_or_default();
        match self {
            ImportSource::Envoy => blocks(envoy::find),
            ImportSource::Istio => blocks(istio::find),
            ImportSource::GatewayApi => blocks(gateway_api::find),
            ImportSource::EnvoyGateway => blocks(envoy_gateway::find),
            ImportSource::IngressNginx => blocks(ingress_nginx::find),
            ImportSource::Aws => source::load(path)
                .map(|found| found.into_iter().filter(|f| source::is_aws(f.kind)).map(|f| f.location).collect())
                .unwrap_or_default(),
        }
    }

    /// `--from NAME`.
    fn flag(self) -> String {
        let name = self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
        format!("--from {name}")
    }

    /// When `path` holds no configuration of this kind but one of another:
    /// which, and the `--from` that reads it.
    fn wrong_kind(self, path: &Path) -> Option<String> {
        if !self.locations(path).is_empty() {
            return None;
        }
        ImportSource::value_variants().iter().filter(|s| **s != self).find_map(|other| {
            let found = other.locations(path);
            let first = found.first()?;
            Some(format!("it holds {} ({first}), not {}: use {}", a(other.what()), a(self.what()), other.flag()))
        })
    }
}

/// One converted policy and what the user must know about it.
#[derive(Default)]
struct Imported {
    location: String,
    policy: Vec<(String, Value)>,
    differences: Vec<String>,
    refusals: Vec<String>,
    /// What the policy allows that the source did not (see `matcher`).
    wider: Vec<String>,
    /// Request headers the policy allows that the source did not (a `*`
    /// that now also admits Authorization).
    wider_headers: Vec<String>,
    /// Requests the policy's rules cover that the source's scope did not
    /// (an exact path that became a prefix): the same origins, more paths.
    wider_paths: Vec<String>,
}

impl Imported {
    /// Whether the policy, or any of its rules, sends credentials.
    fn credentials(&self) -> bool {
        let yes = |v: &Value| v.get("allow_credentials") == Some(&Value::Bool(true));
        self.policy.iter().any(|(k, v)| match k.as_str() {
            "allow_credentials" => *v == Value::Bool(true),
            "rules" => v.as_array().is_some_and(|rules| rules.iter().any(yes)),
            _ => false,
        })
    }
}

/// `accept_wider`: import a policy that allows more than the source did
/// (never with credentials).
pub fn run(source: ImportSource, path: &Path, accept_wider: bool) -> Result<Report, Fatal> {
    let name = path.display().to_string();
    let what = source.what();
    // A file of another kind: say which `--from` reads it.
    if let Some(hint) = source.wrong_kind(path) {
        return Err(Fatal(format!("{name}: no {what} found; {hint}")));
    }
    let imported = source.import(path)?;
    let Some(first) = imported.first() else {
        return Err(Fatal(format!("{name}: no {what} found")));
    };
    let style = Style::stderr();
    let refused = |mut err: String, why: &str| -> Result<Report, Fatal> {
        err.push_str(&style.fail(&format!("not imported: {why}")));
        err.push('\n');
        Ok(Report { stdout: String::new(), stderr: err, ok: false })
    };
    // Several identical policies (one per route, say) are one policy.
    if imported.iter().any(|i| i.policy != first.policy) {
        let mut err = format!("{name} holds {} different CORS policies:\n", imported.len());
        for i in &imported {
            err.push_str(&format!("  {}\n", i.location));
        }
        return refused(err, "one edge-cors filter applies one policy; import them one at a time (copy each into a file of its own)");
    }
    let mut err = format!("{} {what} at {}", style.bold("imported"), first.location);
    if imported.len() > 1 {
        err.push_str(&format!(" (and {} identical copies)", imported.len() - 1));
    }
    err.push('\n');
    if !first.refusals.is_empty() {
        for r in &first.refusals {
            err.push_str(&format!("  {} {r}\n", style.fail("refused:")));
        }
        if first.policy.is_empty() {
            return refused(err, "there is no CORS policy in it to import");
        }
        let entries = out::plural(first.refusals.len(), "entry", "entries");
        return refused(err, &format!("{entries} cannot be converted safely"));
    }
    // Never wider than the source without saying so and being told to;
    // never at all when the policy sends credentials to more origins or
    // with more headers (more paths of the same origins may be accepted).
    if let Some(why) = widening(first, accept_wider) {
        for w in first.wider.iter().chain(&first.wider_headers).chain(&first.wider_paths) {
            err.push_str(&format!("  {} {w}\n", style.warn("wider:")));
        }
        match why {
            Ok(()) => err.push_str(&format!("  {} the wider policy is imported (--accept-wider)\n", style.warn("accepted:"))),
            Err(why) => return refused(err, &why),
        }
    }
    // The result must pass the filter's own checks, public suffixes included.
    let object: Map<String, Value> = first.policy.iter().cloned().collect();
    let checked = check::check_found(Found::new(first.location.clone(), "edge-cors policy", object));
    err.push_str(&differences_text(&first.differences, &style));
    if !checked.is_ok() {
        err.push_str(&check::describe("the converted policy", &checked, &style));
        return refused(err, "edge-cors refuses the converted policy (see the fixes above)");
    }
    err.push_str(&style.ok(&format!(
        "ok: valid edge-cors policy (checked with the filter's own code); {} to review",
        out::plural(first.differences.len(), "difference", "differences")
    )));
    err.push('\n');
    let json = if first.policy.iter().any(|(k, _)| k == "rules") {
        scoped::policy_json(&first.policy)
    } else {
        render::policy_json(&first.policy, "")
    };
    Ok(Report { stdout: format!("{json}\n"), stderr: err, ok: true })
}

/// `None` when the policy allows nothing the source did not; else whether
/// it is imported (`Ok`: with --accept-wider) or why not.
fn widening(i: &Imported, accept_wider: bool) -> Option<Result<(), String>> {
    let origins = !i.wider.is_empty();
    let headers = !i.wider_headers.is_empty();
    if !origins && !headers && i.wider_paths.is_empty() {
        return None;
    }
    let mut what = Vec::new();
    let mut fix = Vec::new();
    if origins {
        what.push("origins");
        fix.push("list the origins by hand");
    }
    if headers {
        what.push("request headers");
        fix.push("list the request headers by hand (Authorization only if the source allowed it)");
    }
    if !i.wider_paths.is_empty() {
        what.push("paths");
        fix.push("write the exact paths' rules by hand");
    }
    let what = what.join(" and ");
    if i.credentials() && (origins || headers) {
        let sent = if origins { "with credentials (cookies) sent to them" } else { "with credentials (cookies) sent along" };
        return Some(Err(format!(
            "the converted policy would allow {what} the source did not, {sent}; {} \
             (--accept-wider does not apply to a policy with credentials)",
            fix.join("; ")
        )));
    }
    if accept_wider {
        return Some(Ok(()));
    }
    Some(Err(format!(
        "the converted policy would allow {what} the source did not; {}, or pass --accept-wider to import it anyway",
        fix.join("; ")
    )))
}

/// The differences as a numbered list, continuation lines indented.
fn differences_text(differences: &[String], style: &Style) -> String {
    if differences.is_empty() {
        return String::new();
    }
    let mut s = format!("{}\n", style.bold("behaviour differences to know:"));
    for (n, d) in differences.iter().enumerate() {
        let mut lines = d.lines();
        s.push_str(&format!("  {:>2}. {}\n", n + 1, lines.next().unwrap_or("")));
        for l in lines {
            s.push_str(&format!("      {l}\n"));
        }
    }
    s
}

/// `what` with its indefinite article: "an Envoy CorsPolicy", "a Gateway API ...".
fn a(what: &str) -> String {
    let article = if what.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {what}")
}

/// Appends `item` unless `list` has it already.
fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

#[cfg(test)]
mod tests;
