//! The plugin configuration: JSON in, a validated [`PolicySpec`] out, or every
//! problem found, each naming the field, the bad value and the fix.
//!
//! Validation is deliberately strict. A typo in a CORS policy is a security
//! bug or an outage, so unknown keys, wrong types and insecure combinations
//! are refused rather than guessed at.
//!
//! One file per job: `errors` (what a refusal says), `keys` (the key table
//! and "did you mean"), `policy` (one policy's fields and their checks),
//! `rules` (rules and host patterns); this file reads the top level.

mod errors;
mod keys;
mod policy;
mod rules;
mod source;

use serde_json::Value;

use crate::token;
use errors::{quote, show, Errors, EXAMPLE};
pub use errors::{ConfigError, ConfigErrors};
use policy::parse_policy;
pub use policy::{Names, PolicySpec, DEFAULT_METHODS, MAX_AGE_LIMIT};
use rules::{higress_rules, rules};
pub use rules::{split_authority, HostPattern, RuleSpec};
pub use source::{default_authority, fetched_origins, Refusal, SourceSpec, MAX_BODY_BYTES};

/// Parses and validates a plugin configuration, returning its top-level
/// (default) policy. Rules and mode are validated too; see [`parse_config`].
pub fn parse(bytes: &[u8]) -> Result<PolicySpec, ConfigErrors> {
    parse_config(bytes).map(|c| c.default)
}

/// Parses and validates a whole plugin configuration.
pub fn parse_config(bytes: &[u8]) -> Result<ConfigSpec, ConfigErrors> {
    let mut errs = Errors(Vec::new());
    let spec = parse_inner(bytes, &mut errs);
    match spec {
        Some(spec) if errs.0.is_empty() => Ok(spec),
        // Each error is already one line (`Errors::push`).
        _ => Err(ConfigErrors(errs.0)),
    }
}

/// The top-level key mirroring Envoy's route-configuration option.
const IGNORE_PORT: &str = "ignore_port_in_host_matching";

/// `enforce` (the default) or `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Enforce,
    /// Change nothing; compare what would be sent with what the upstream sent.
    Report,
}

/// A whole configuration: the default policy, the rules in order, the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSpec {
    pub default: PolicySpec,
    pub rules: Vec<RuleSpec>,
    pub mode: Mode,
    /// Mirrors Envoy's route-configuration option of that name: rules'
    /// `match.hosts` ignore the request's port.
    pub ignore_port_in_host_matching: bool,
}

fn policy_required(errs: &mut Errors, value: &str) {
    errs.push(
        "(configuration)",
        value,
        "no CORS policy given: the plugin configuration is empty",
        format!("set the plugin configuration to a JSON policy, at least {EXAMPLE}"),
    );
}

fn parse_inner(bytes: &[u8], errs: &mut Errors) -> Option<ConfigSpec> {
    if token::trim(bytes).iter().all(|b| b.is_ascii_whitespace()) {
        policy_required(errs, "\"\"");
        return None;
    }
    let root: Value = match crate::json::parse(bytes) {
        Ok(parsed) => {
            for (path, value) in &parsed.repeated {
                errs.push(
                    path.as_str(),
                    show(value),
                    "is given twice in the same object: only one value would apply, so the policy a reviewer reads may not be the one that runs",
                    "keep one of them",
                );
            }
            parsed.value
        }
        Err(e) => {
            let text = String::from_utf8_lossy(bytes);
            let shown: String = text.chars().take(60).collect();
            // A google.protobuf.Struct reaches the module as protobuf bytes
            // (binary, not text): say what to write instead.
            let binary = bytes.iter().any(|b| b.is_ascii_control() && !b.is_ascii_whitespace());
            let fix = if binary {
                format!(
                    "the configuration is not text: give it as a google.protobuf.StringValue holding the JSON policy (a google.protobuf.Struct reaches the filter as protobuf bytes), such as {EXAMPLE}"
                )
            } else {
                format!("write a JSON object such as {EXAMPLE}")
            };
            errs.push("(configuration)", quote(&shown), format!("is not valid JSON ({e})"), fix);
            return None;
        }
    };
    let obj = match &root {
        Value::Object(m) => m,
        Value::Null => {
            policy_required(errs, "null");
            return None;
        }
        Value::String(s) if s.trim().is_empty() => {
            policy_required(errs, "\"\"");
            return None;
        }
        other => {
            errs.push("(configuration)", show(other), "must be a JSON object", format!("write a JSON object such as {EXAMPLE}"));
            return None;
        }
    };
    let default = parse_policy(obj, "", &["mode", "rules", IGNORE_PORT], errs);
    let ignore_port = match obj.get(IGNORE_PORT) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errs.push(
                IGNORE_PORT,
                show(other),
                "must be true or false",
                "write true when the proxy's route configuration sets ignore_port_in_host_matching: true, else leave it out",
            );
            false
        }
    };
    let mode = match obj.get("mode") {
        None => Mode::Enforce,
        Some(Value::String(m)) if m == "enforce" => Mode::Enforce,
        Some(Value::String(m)) if m == "report" => Mode::Report,
        Some(other) => {
            errs.push(
                "mode",
                show(other),
                "must be \"enforce\" or \"report\"",
                "use \"report\" to compare with the upstream's CORS headers without changing anything, or leave it out",
            );
            Mode::Enforce
        }
    };
    // Rules a gateway injected (Higress: per-route and per-domain
    // configuration) come first, as the gateway means them to override.
    let mut placed: Vec<(String, RuleSpec)> = Vec::new();
    if let Some(v) = obj.get("_rules_") {
        higress_rules(v, &mut placed, errs);
    }
    match obj.get("rules") {
        None => {}
        Some(Value::Array(items)) => rules(items, &mut placed, errs),
        Some(other) => {
            errs.push("rules", show(other), "must be a list of rules", "write \"rules\": [{\"match\": {...}, ...}]");
        }
    }
    if ignore_port {
        // The proxy strips the port before it compares: a host entry with a
        // port would match nothing there, so it must not match here either.
        for (field, rule) in &placed {
            for h in rule.hosts.iter().filter(|h| matches!(h.port, crate::origins::Port::Is(_))) {
                errs.push(
                    format!("{field}.match.hosts"),
                    quote(&h.to_string()),
                    "names a port, but ignore_port_in_host_matching is true: the proxy ignores the request's port, so this would never match",
                    format!("write \"{}{}\" (any port)", if h.subdomains { "*." } else { "" }, h.name),
                );
            }
        }
    }
    let rules = placed.into_iter().map(|(_, r)| r).collect();
    default.map(|default| ConfigSpec { default, rules, mode, ignore_port_in_host_matching: ignore_port })
}

#[cfg(test)]
mod tests;
