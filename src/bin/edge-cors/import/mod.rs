//! `edge-cors import`: an Envoy `CorsPolicy`, an Istio `corsPolicy` or an AWS
//! `CorsConfiguration` as an edge-cors policy, with every behaviour
//! difference the user must know. Regexes are converted only when the
//! result is provably no wider than intended; anything else is refused.
//!
//! `find` locates the CORS blocks in a document; `envoy`, `istio` and `aws`
//! each convert their own; `matcher` and `regex` turn origin matchers into
//! `allow_origins` entries. This module reports the result.

mod aws;
mod envoy;
mod find;
mod istio;
mod matcher;
mod regex;

use std::path::Path;

use clap::ValueEnum;
use serde_json::{Map, Value};

use crate::check;
use crate::out::{self, Style};
use crate::render;
use crate::source::{self, Found};
use crate::{Fatal, Report};

/// Where the configuration to import comes from (`--from`).
#[derive(Clone, Copy, ValueEnum)]
pub enum ImportSource {
    Envoy,
    Istio,
    // CloudFormation and SAM templates, OpenAPI's x-amazon-apigateway-cors,
    // and `aws apigatewayv2 get-api` output: whatever `check` reads.
    Aws,
}

impl ImportSource {
    /// What is imported, for people.
    fn what(self) -> &'static str {
        match self {
            ImportSource::Envoy => "Envoy CorsPolicy",
            ImportSource::Istio => "Istio corsPolicy",
            ImportSource::Aws => "AWS CorsConfiguration",
        }
    }

    /// Every configuration of this kind in the file, converted.
    fn import(self, path: &Path) -> Result<Vec<Imported>, Fatal> {
        Ok(match self {
            ImportSource::Envoy => find::in_file(path, envoy::find)?.iter().map(|b| envoy::convert(&b.location, &b.object)).collect(),
            ImportSource::Istio => find::in_file(path, istio::find)?.iter().map(|b| istio::convert(&b.location, &b.object)).collect(),
            ImportSource::Aws => source::load(path)?.into_iter().map(aws::convert).collect(),
        })
    }
}

/// One converted policy and what the user must know about it.
struct Imported {
    location: String,
    policy: Vec<(String, Value)>,
    differences: Vec<String>,
    refusals: Vec<String>,
}

pub fn run(source: ImportSource, path: &Path) -> Result<Report, Fatal> {
    let name = path.display().to_string();
    let what = source.what();
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
        let entries = out::plural(first.refusals.len(), "entry", "entries");
        return refused(err, &format!("{entries} cannot be converted safely"));
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
    let json = render::policy_json(&first.policy, "");
    Ok(Report { stdout: format!("{json}\n"), stderr: err, ok: true })
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

/// Appends `item` unless `list` has it already.
fn push_new<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}
