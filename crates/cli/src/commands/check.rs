//! `edge-cors check`: the filter's own validation, plus what the filter
//! cannot know (the Public Suffix List), every problem listed.

use std::path::Path;

use serde_json::{Map, Value};

use edge_cors_engine::config::{self, ConfigSpec, Mode, Names, PolicySpec, RuleSpec, SourceSpec};
use edge_cors_engine::origins::{OriginEntry, Port, Scheme};
use edge_cors_engine::ConfigError;

use crate::out::{self, Style};
use crate::source::{self, Found};
use crate::{Fatal, Report};

/// A policy after validation.
pub struct Checked {
    pub found: Found,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
    pub spec: Option<PolicySpec>,
    /// The whole configuration (rules and mode) when it is valid.
    pub config: Option<ConfigSpec>,
}

impl Checked {
    /// The policies (`default` for the top level, else the rule's name) with
    /// `"debug": true`: every response they handle carries `x-edge-cors`.
    pub fn debug_policies(&self) -> Vec<String> {
        let Some(config) = &self.config else { return Vec::new() };
        let top = config.default.debug.then(|| "default".to_string());
        let rules = config.rules.iter().filter(|r| r.policy.as_ref().is_some_and(|p| p.debug)).map(|r| r.name.clone());
        top.into_iter().chain(rules).collect()
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.spec.is_some()
    }
}

/// Key spellings the engine accepts for `allow_origins`.
const ORIGIN_KEYS: [&str; 2] = ["allow_origins", "AllowOrigins"];

pub fn check_found(found: Found) -> Checked {
    let bytes = match &found.raw {
        Some(b) => b.clone(),
        None => serde_json::to_vec(&Value::Object(found.object.clone())).unwrap_or_default(),
    };
    let (config, mut engine_errors) = match config::parse_config(&bytes) {
        Ok(c) => (Some(c), vec![]),
        Err(e) => (None, e.0),
    };
    let spec = config.as_ref().map(|c| c.default.clone());
    // Fields replaced by a problem of their own (a CloudFormation value
    // that cannot be known here) are not reported twice.
    engine_errors.retain(|e| !found.suppressed.iter().any(|s| e.field == *s || e.field.starts_with(&format!("{s}["))));
    // The engine could not judge the whole policy, so it is not valid.
    let spec = if found.problems.is_empty() { spec } else { None };
    let mut errors = found.problems.clone();
    errors.extend(engine_errors);
    for e in &mut errors {
        e.field = shown_field(&found, &e.field);
    }
    // In file order: by key, the whole list before its entries.
    errors.sort_by_key(|e| field_order(&e.field));
    let mut warnings = null_origin_warnings(&found.object);
    for w in &mut warnings {
        w.field = shown_field(&found, &w.field);
    }
    let spec = if errors.is_empty() { spec } else { None };
    let config = if spec.is_some() { config } else { None };
    Checked { found, errors, warnings, spec, config }
}

fn field_order(field: &str) -> (String, i64) {
    match field.split_once('[') {
        Some((key, rest)) => (key.to_string(), rest.trim_end_matches(']').parse().unwrap_or(0)),
        None => (field.to_string(), -1),
    }
}

/// A field in the spelling of the file it came from.
fn shown_field(found: &Found, field: &str) -> String {
    for (engine, written) in &found.renamed {
        if field == engine {
            return written.clone();
        }
        if let Some(rest) = field.strip_prefix(engine.as_str()) {
            if rest.starts_with('[') {
                return format!("{written}{rest}");
            }
        }
    }
    field.to_string()
}

fn origin_strings(object: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for key in ORIGIN_KEYS {
        if let Some(Value::Array(items)) = object.get(key) {
            for (i, item) in items.iter().enumerate() {
                if let Value::String(s) = item {
                    out.push((format!("{key}[{i}]"), s.clone()));
                }
            }
        }
    }
    out
}

fn null_origin_warnings(object: &Map<String, Value>) -> Vec<ConfigError> {
    origin_strings(object)
        .into_iter()
        .filter(|(_, raw)| raw.eq_ignore_ascii_case("null"))
        .map(|(field, raw)| ConfigError {
            field,
            value: format!("{raw:?}"),
            problem: "allows the null origin, which any site can produce with a sandboxed iframe".into(),
            fix: "remove it unless you serve file: pages or sandboxed frames on purpose".into(),
        })
        .collect()
}

/// Every policy of one file, checked: what `check` decided.
pub struct CheckReport {
    /// The file, as the user named it.
    pub name: String,
    pub policies: Vec<Checked>,
}

impl CheckReport {
    /// Each policy `found` in the file named `name`, checked.
    pub fn new(name: String, found: Vec<Found>) -> CheckReport {
        CheckReport { name, policies: found.into_iter().map(check_found).collect() }
    }

    /// Problems over every policy.
    pub fn problems(&self) -> usize {
        self.policies.iter().map(|c| c.errors.len()).sum()
    }

    /// The policies the filter refuses.
    pub fn refused(&self) -> usize {
        self.policies.iter().filter(|c| !c.is_ok()).count()
    }

    pub fn ok(&self) -> bool {
        self.refused() == 0
    }
}

pub fn run(path: &Path) -> Result<Report, Fatal> {
    let report = CheckReport::new(path.display().to_string(), source::load(path)?);
    Ok(Report { stdout: text(&report, &Style::stdout()), stderr: String::new(), ok: report.ok() })
}

/// Each policy's verdict, then the summary line and the Public Suffix List
/// version.
pub fn text(report: &CheckReport, style: &Style) -> String {
    let name = &report.name;
    let mut s = String::new();
    for c in &report.policies {
        s.push_str(&describe(name, c, style));
        s.push('\n');
    }
    let policies = out::plural(report.policies.len(), "policy", "policies");
    let summary = if report.ok() {
        style.ok(&format!("{policies} checked in {name}: no problems"))
    } else {
        style.fail(&format!(
            "{policies} checked in {name}: {} in {}",
            out::plural(report.problems().max(1), "problem", "problems"),
            out::plural(report.refused(), "policy", "policies")
        ))
    };
    s.push_str(&summary);
    s.push('\n');
    // Wildcards over public suffixes are judged by the list compiled in (the
    // module holds the same copy): which one, so a user can tell a stale one.
    s.push_str(&style.dim(&format!(
        "(the filter's own checks; Public Suffix List {} compiled in, refreshed by `make psl`)",
        edge_cors_engine::psl::VERSION
    )));
    s.push('\n');
    s
}

/// The one policy in a file, checked; Err when the file holds several
/// (`takes_one` says what to do about that).
pub fn load_one(path: &Path, takes_one: &str) -> Result<Checked, Fatal> {
    let mut checked: Vec<Checked> = source::load(path)?.into_iter().map(check_found).collect();
    if checked.len() != 1 {
        let list: Vec<String> = checked.iter().map(|c| c.found.location.clone()).collect();
        return Err(Fatal(format!("{} holds {} policies ({}); {takes_one}", path.display(), checked.len(), list.join(", "))));
    }
    Ok(checked.remove(0))
}

/// One policy's verdict: its problems, or what it allows.
pub fn describe(name: &str, c: &Checked, style: &Style) -> String {
    let mut s = String::new();
    let label = if c.is_ok() { style.ok("ok   ") } else { style.fail("error") };
    let location = if c.found.location.starts_with('(') { String::new() } else { format!("  {}", c.found.location) };
    s.push_str(&format!("{label}  {}{}  {}\n", style.bold(name), location, style.dim(&format!("({})", c.found.kind))));
    for e in &c.errors {
        s.push_str(&problem_lines(e, style.fail("problem"), style));
    }
    for w in &c.warnings {
        s.push_str(&problem_lines(w, style.warn("warning"), style));
    }
    for n in &c.found.notes {
        s.push_str(&format!("       {} {n}\n", style.dim("note:")));
    }
    if let Some(spec) = &c.spec {
        let mut extra = Vec::new();
        if c.config.as_ref().is_some_and(|config| config.mode == Mode::Report) {
            extra.push((
                "mode".to_string(),
                "report: edge-cors forwards every request, preflights included, and changes no header;\n\
                 it logs and counts where the upstream's CORS headers differ from this policy"
                    .to_string(),
            ));
        }
        s.push_str(&summary_rows("       ", spec, extra));
    }
    if let Some(config) = &c.config {
        if config.ignore_port_in_host_matching {
            s.push_str(&out::rows(
                "       ",
                &[("hosts".into(), "matched without the request's port (ignore_port_in_host_matching, as the route table)".into())],
            ));
        }
        s.push_str(&rule_rows(config, style));
    }
    s
}

/// Every rule: its name, what it matches, and what it allows (or that it
/// turns CORS off).
fn rule_rows(config: &ConfigSpec, style: &Style) -> String {
    let mut s = String::new();
    for rule in &config.rules {
        s.push_str(&format!("       {} {}  match {}\n", style.bold("rule"), style.bold(&format!("{:?}", rule.name)), rule_match(rule)));
        match &rule.policy {
            Some(spec) => s.push_str(&summary_rows("         ", spec, vec![])),
            None => s.push_str(&out::rows(
                "         ",
                &[("cors".into(), "off: requests pass through untouched; the upstream's own CORS headers decide".into())],
            )),
        }
    }
    s
}

/// What a rule matches, in words.
pub fn rule_match(rule: &RuleSpec) -> String {
    let mut parts = Vec::new();
    if !rule.hosts.is_empty() {
        let hosts: Vec<String> = rule.hosts.iter().map(ToString::to_string).collect();
        parts.push(format!("{} {}", if hosts.len() == 1 { "host" } else { "hosts" }, hosts.join(", ")));
    }
    if let Some(p) = &rule.path_prefix {
        let what = if rule.separated { "path segments" } else { "path prefix" };
        parts.push(format!("{what} {p}{}", if rule.case_sensitive { "" } else { " (ignoring case)" }));
    }
    if !rule.routes.is_empty() {
        parts.push(format!("{} {}", if rule.routes.len() == 1 { "route" } else { "routes" }, rule.routes.join(", ")));
    }
    if parts.is_empty() {
        "every request".into()
    } else {
        parts.join(" and ")
    }
}

fn problem_lines(e: &ConfigError, word: String, style: &Style) -> String {
    format!("       {} = {}\n         {word}: {}\n         {}     {}\n", style.bold(&e.field), e.value, e.problem, style.dim("fix:"), e.fix)
}

fn names(n: &Names, default: &str) -> String {
    match n {
        Names::Any => "* (any)".into(),
        Names::List(l) if l.is_empty() => default.into(),
        Names::List(l) => l.join(", "),
    }
}

/// What a valid policy allows, in words.
/// Rows at `indent`, with `extra` rows after.
fn summary_rows(indent: &str, spec: &PolicySpec, extra: Vec<(String, String)>) -> String {
    let mut origins: Vec<String> = spec.origins.iter().map(describe_origin).collect();
    if origins.is_empty() && spec.source.is_some() {
        origins.push("none of its own: only the live origins below".into());
    }
    let methods = match &spec.methods {
        Names::List(l) if l.iter().map(String::as_str).eq(config::DEFAULT_METHODS) => "GET, HEAD, POST (the default)".into(),
        m => names(m, ""),
    };
    let rows = vec![
        ("origins".to_string(), origins.join("\n")),
        ("methods".to_string(), methods),
        ("headers".to_string(), names(&spec.headers, "none beyond the CORS-safelisted ones")),
        ("expose".to_string(), names(&spec.expose, "none beyond the CORS-safelisted ones")),
        ("max age".to_string(), spec.max_age.map_or("not sent (browsers cache preflights for 5 s)".into(), |a| format!("{a} s"))),
        ("credentials".to_string(), if spec.credentials { "yes (cookies, HTTP auth)".into() } else { "no".into() }),
    ];
    let mut rows = rows;
    if let Some(source) = &spec.source {
        rows.insert(1, ("live origins".into(), describe_source(source)));
    }
    if spec.private_network {
        rows.push(("private network".into(), "answered when asked".into()));
    }
    if spec.block_writes {
        rows.push((
            "cross-origin writes".into(),
            "refused at the edge (403) from origins not listed above: POST, PUT, DELETE... from other sites".into(),
        ));
    }
    if spec.debug {
        rows.push((
            "debug".into(),
            "on: every response carries x-edge-cors with the decision (rule, decision, reason);\n\
             for development: anyone can read why a request was refused"
                .into(),
        ));
    }
    rows.extend(extra);
    out::rows(indent, &rows)
}

/// Where a policy's live origins come from, and how they apply.
pub fn describe_source(source: &SourceSpec) -> String {
    format!(
        "{}\neach answer is checked like allow_origins, and its entries must be sites (no *, null, https://*);\n\
         an answer with a bad entry adds nothing, but the origins it no longer lists are removed\n\
         until the first good answer, only allow_origins applies",
        source_line(source)
    )
}

/// `GET /cors/origins from cluster "tenant_origins" (Host: ...) every 30 s, timeout 2000 ms; added to allow_origins`
pub fn source_line(source: &SourceSpec) -> String {
    let SourceSpec { cluster, path, authority, refresh_seconds, timeout_ms } = source;
    let from_name = if authority != cluster && config::default_authority(cluster) == Some(authority.as_str()) {
        " (the host part of the cluster's name)"
    } else {
        ""
    };
    format!(
        "GET {path} from cluster {cluster:?} (Host: {authority}{from_name}) every {refresh_seconds} s, timeout {timeout_ms} ms; added to allow_origins"
    )
}

pub fn describe_origin(e: &OriginEntry) -> String {
    match e {
        OriginEntry::Any => "*  every origin".into(),
        OriginEntry::Null => "null  the null origin (sandboxed frames, file: pages)".into(),
        OriginEntry::AnyOfScheme(s) => format!("{}://*  every {} origin", s.as_str(), s.as_str()),
        OriginEntry::Exact(o) => o.clone(),
        OriginEntry::ExactAnyPort(o) => format!("{e}  {o} on any port, the default included"),
        OriginEntry::Subdomains { scheme, base, port } => {
            let port_words = match port {
                Port::Is(p) => format!("port {p}"),
                Port::Default => format!("default port ({})", if *scheme == Scheme::Https { 443 } else { 80 }),
                Port::Any => "any port".to_string(),
            };
            format!("{e}  any subdomain of {base} at any depth, not {base} itself, {port_words}")
        }
    }
}

#[cfg(test)]
mod tests;
