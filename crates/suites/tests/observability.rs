//! deploy/observability/ against what it describes: a real Envoy, started
//! with the shipped stats-tags fragment, runs traffic that moves every
//! edge-cors counter, and fetches live origins from the reference origin
//! service until every origin-source outcome has happened; every metric and
//! label the dashboard and the alert rules query must then be in its
//! `/stats/prometheus`, and promtool must accept the rules and pass their
//! unit tests (`make observability`).
//!
//! Under either shell (`EDGE_CORS_SHELL`, `make observability` runs both):
//! Envoy prints the proxy-wasm module's counters as `edge_cors_<name>` and
//! the dynamic module's as `envoy_dynamicmodulescustom_edge_cors_<name>`, so
//! every selector in the kit must be written for both,
//! `{__name__=~"(envoy_dynamicmodulescustom_)?edge_cors_<name>"}`; a bare
//! `edge_cors_<name>` (the wasm shell's only) is an error under both shells.

use edge_cors_suites as common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::origins::{with_origin_cluster, OriginService};
use common::*;

/// Rules by path, and one by route name: the test's routes have no names,
/// so every request counts as route-name-unavailable. Three origin sources
/// on the reference service, which lists [`SOURCE_ORIGINS`]: the default's
/// answer is applied, then unchanged (304); `partners` has credentials, so
/// the plain-HTTP entry gets its answers refused; `resellers` asks a path
/// the service answers 404 for, so its updates fail. No request goes to
/// those two rules (they only hold sources).
const POLICY: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["content-type"],
    "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins", "refresh_seconds": 1},
    "rules": [
        {"name": "tenants", "match": {"path_prefix": "/api/tenants/"},
         "allow_origins": ["https://*.tenant.test"], "allow_methods": ["GET", "PUT"]},
        {"name": "payments", "match": {"routes": ["payments"]}, "allow_origins": ["https://pay.example.com"]},
        {"name": "partners", "match": {"path_prefix": "/api/partners/"}, "allow_origins": [], "allow_credentials": true,
         "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins", "refresh_seconds": 1}},
        {"name": "resellers", "match": {"path_prefix": "/api/resellers/"}, "allow_origins": [],
         "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/resellers", "refresh_seconds": 1}},
        {"name": "writes", "match": {"path_prefix": "/api/writes/"}, "allow_origins": ["https://app.example.com"],
         "block_cross_origin_writes": true}
    ]
}"#;

/// What the origin service lists: valid for the default policy, refused
/// under `partners`' credentials (`origins[0]`, the list is sorted).
const SOURCE_ORIGINS: [&str; 2] = ["http://plain.example", "https://shop.acme.example"];

const REPORT: &str = r#"{
    "mode": "report",
    "allow_origins": ["https://app.example.com"],
    "block_cross_origin_writes": true,
    "rules": [{"name": "tenants", "match": {"path_prefix": "/api/tenants/"}, "allow_origins": ["https://*.tenant.test"]}]
}"#;

const APP: &str = "https://app.example.com";
const TENANT: &str = "https://a.tenant.test";
const EVIL: &str = "https://evil.test";

/// Labels Prometheus adds to every scraped series: never in Envoy's output.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

fn dir() -> PathBuf {
    repo().join("deploy/observability")
}

/// How the kit selects a metric under both shells: this, then the metric's
/// name as the wasm shell prints it.
const BOTH_SHELLS: &str = "(envoy_dynamicmodulescustom_)?";

/// What Envoy's `/stats/prometheus` puts before `edge_cors_<name>` under
/// the shell being tested: nothing for `wasmcustom.` stats (a custom stat
/// namespace), `envoy_` and the namespace for the dynamic module's.
fn shell_prefix() -> &'static str {
    match shell() {
        Shell::Wasm => "",
        Shell::Module => "envoy_dynamicmodulescustom_",
    }
}

/// A metric's name (as the wasm shell prints it) in this shell's scrape.
fn scraped(name: &str) -> String {
    format!("{}{name}", shell_prefix())
}

fn read(file: &str) -> String {
    std::fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("deploy/observability/{file}: {e}"))
}

// ------------------------------------------------------------ the scrape

struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Envoy's `/stats/prometheus` after the traffic, taken once for all tests
/// (only the set-up sends requests, so the counts are exact).
fn scrape() -> &'static [Sample] {
    static SCRAPE: OnceLock<Vec<Sample>> = OnceLock::new();
    SCRAPE.get_or_init(|| {
        let upstream = Upstream::start();
        let origins = OriginService::start(&SOURCE_ORIGINS);
        let listeners = [
            Listener { name: "cors", config: POLICY }.yaml().build(),
            Listener { name: "report", config: REPORT }.yaml().build(),
        ];
        let tags = read("envoy-stats-tags.yaml");
        let port = upstream.port;
        let bootstrap = |_: &_| format!("{tags}\n{}", with_origin_cluster(bootstrap_yaml(&listeners, port), origins.port));
        let envoy = match Envoy::start_bootstrap(bootstrap, listeners.len(), &[]) {
            Started::Running(e) => e,
            Started::Exited { code, log } => panic!("Envoy refused the stats tags or the policy ({code:?}):\n{log}"),
        };
        let url = |listener: &str, path: &str| envoy.url(listener, &format!("{path}/{}", unique("obs")));

        // Every decision counter, in total and per rule.
        let pf = |path: &str, origin: &str, method: &str, headers: Option<&str>, want: u16| {
            let r = preflight(&url("cors", path), origin, method, headers);
            assert_eq!(r.status, want, "preflight {path} from {origin} {method} {headers:?}");
        };
        pf("/api/x", APP, "POST", Some("content-type"), 204);
        pf("/api/x", EVIL, "GET", None, 403);
        pf("/api/x", APP, "DELETE", None, 403);
        pf("/api/x", APP, "GET", Some("x-secret"), 403);
        pf("/api/tenants", TENANT, "PUT", None, 204);
        pf("/api/tenants", EVIL, "PUT", None, 403);
        pf("/api/tenants", EVIL, "GET", None, 403);
        for (path, origin) in [("/api/x", APP), ("/api/x", EVIL), ("/api/tenants", TENANT), ("/api/tenants", EVIL)] {
            assert_eq!(get(&url("cors", path), &[("Origin", origin)]).status, 200);
        }
        // The upstream's own CORS headers, replaced by the policy's (the
        // upstream answers so only on paths ending in /upstream-cors).
        let r = get(&envoy.url("cors", "/api/upstream-cors"), &[("Origin", APP)]);
        assert_eq!(r.one("access-control-allow-origin"), Some(APP));
        // Report mode: the upstream's `*` differs from the echoed origin,
        // its credentials are extra, `Vary: Origin` is missing.
        for path in ["/api/upstream-cors", "/api/tenants/upstream-cors"] {
            let origin = if path.contains("tenants") { TENANT } else { APP };
            let r = get(&envoy.url("report", path), &[("Origin", origin)]);
            assert_eq!(r.one("access-control-allow-origin"), Some("*"), "report mode changes nothing");
        }
        // A cross-site write: refused under the writes rule, only counted in
        // report mode.
        let write = |listener: &str, path: &str, want: u16| {
            let r = send("POST", &url(listener, path), &[("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")]);
            assert_eq!(r.status, want, "POST {listener} {path}");
        };
        write("cors", "/api/writes", 403);
        write("report", "/api/x", 200);

        // Every origin-source outcome, with refresh_seconds 1: applied, then
        // unchanged (the service's ETag, a 304); refused and failed on every
        // fetch; a source without a good answer ages from the policy's load.
        let deadline = Instant::now() + Duration::from_secs(15);
        let source = |stats: &str, rule: &str, what: &str| stat(stats, &format!("edge_cors.origins_source.{rule}.{what}")).unwrap_or(0);
        let want = [
            ("default", "updates_applied"),
            ("default", "updates_unchanged"),
            ("default", "origins"),
            ("partners", "updates_refused"),
            ("resellers", "updates_failed"),
            ("resellers", "seconds_since_update"),
        ];
        loop {
            let stats = envoy.stats();
            let missing: Vec<_> = want.iter().filter(|(rule, what)| source(&stats, rule, what) == 0).collect();
            if missing.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "origin sources: still 0 after 15 s: {missing:?}\n{stats}\n{}", envoy.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        // What alerts.yaml's EdgeCorsOriginSourceRefused tells to look for.
        let refused = "edge-cors: origins from cluster \"tenant_origins\" /cors/origins (rule partners) refused: origins[0] = \"http://plain.example\"";
        assert!(envoy.log().contains(refused), "{refused}\n{}", envoy.log());
        // A removal beside an entry the edge refuses (a public-suffix
        // wildcard, which only the edge knows): the default's set shrinks.
        origins.run(&["add", "https://*.vercel.app"]);
        origins.run(&["remove", "http://plain.example"]);
        while source(&envoy.stats(), "default", "updates_removals_applied") == 0 {
            assert!(Instant::now() < deadline + Duration::from_secs(15), "no removal applied:\n{}", envoy.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        let shrunk = "(rule default) refused for additions: origins[0] = \"https://*.vercel.app\": \"vercel.app\" is a public suffix";
        assert!(envoy.log().contains(shrunk), "{shrunk}\n{}", envoy.log());

        let text = std::mem::take(&mut get(&format!("http://{}/stats/prometheus", envoy.admin), &[]).body);
        envoy.stop();
        parse_scrape(&text)
    })
}

/// Prometheus text format, as Envoy writes it: `name{k="v",...} value`.
fn parse_scrape(text: &str) -> Vec<Sample> {
    let mut out = vec![];
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("scrape line {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').unwrap_or_else(|| panic!("scrape line {line:?}"))),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once("=\"").unwrap_or_else(|| panic!("label {kv:?} in {line:?}"));
                (k.to_string(), v.trim_end_matches('"').to_string())
            })
            .collect();
        out.push(Sample { name: name.to_string(), labels, value: value.parse().unwrap_or(f64::NAN) });
    }
    out
}

/// edge-cors' metric names in the scrape, as the wasm shell prints them
/// (this shell's prefix removed).
fn families() -> BTreeSet<&'static str> {
    scrape().iter().filter_map(|s| s.name.strip_prefix(shell_prefix())).filter(|n| n.starts_with("edge_cors")).collect()
}

/// The value of `name` (as the wasm shell prints it) with exactly `labels`.
fn value(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let name = scraped(name);
    scrape()
        .iter()
        .find(|s| {
            s.name == name && s.labels.len() == labels.len() && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn edge_cors_lines() -> String {
    scrape()
        .iter()
        .filter(|s| s.name.starts_with(&scraped("edge_cors")))
        .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
        .collect::<Vec<_>>()
        .join("\n")
}

// ------------------------------------------------------------ PromQL

/// What an expression reads: metric names (recording rules included; a
/// both-shells selector as the wasm shell's name) and every label name it
/// matches on, groups by or joins on.
#[derive(Default, Debug)]
struct Uses {
    metrics: BTreeSet<String>,
    labels: BTreeSet<String>,
    /// Metrics named bare (`edge_cors_x{...}`): fine for a recording rule,
    /// one shell's series only for an edge-cors metric.
    bare: BTreeSet<String>,
    /// `__name__` matchers not of the both-shells form.
    odd_names: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    /// A quoted string's content.
    Str(String),
    /// Numbers, durations, ranges, Grafana variables.
    Other,
}

fn lex(expr: &str) -> Vec<Tok> {
    let chars: Vec<char> = expr.chars().collect();
    let mut toks = vec![];
    let mut i = 0;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            c if c.is_whitespace() => {}
            '#' => {
                while chars.get(i).is_some_and(|&c| c != '\n') {
                    i += 1;
                }
            }
            '"' | '\'' | '`' => {
                let mut text = String::new();
                while let Some(&d) = chars.get(i) {
                    i += 1;
                    if d == c {
                        break;
                    }
                    if d == '\\' {
                        text.extend(chars.get(i));
                        i += 1;
                    } else {
                        text.push(d);
                    }
                }
                toks.push(Tok::Str(text));
            }
            // A range or subquery: `[5m]`, `[$__rate_interval]`.
            '[' => {
                while chars.get(i).is_some_and(|&c| c != ']') {
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Other);
            }
            // Grafana's `${var}`.
            '$' if chars.get(i) == Some(&'{') => {
                while chars.get(i).is_some_and(|&c| c != '}') {
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Other);
            }
            // Grafana's `$var`; numbers and durations.
            '$' | '0'..='9' | '.' => {
                while chars.get(i).is_some_and(|&c| ident(c) || c == '.') {
                    i += 1;
                }
                toks.push(Tok::Other);
            }
            c if ident(c) => {
                let start = i - 1;
                while chars.get(i).is_some_and(|&c| ident(c)) {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            c => toks.push(Tok::Punct(c)),
        }
    }
    toks
}

fn promql_uses(expr: &str) -> Uses {
    const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
    const OPERATORS: [&str; 6] = ["and", "or", "unless", "offset", "bool", "atan2"];
    let toks = lex(expr);
    let mut uses = Uses::default();
    let mut depth = 0;
    let mut i = 0;
    while let Some(t) = toks.get(i) {
        let next = toks.get(i + 1);
        match t {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => depth -= 1,
            Tok::Ident(name) if depth > 0 => {
                // `{__name__=~"(envoy_dynamicmodulescustom_)?edge_cors_x"}`: edge_cors_x.
                if name == "__name__" {
                    let metric = match (next, toks.get(i + 2), toks.get(i + 3)) {
                        (Some(Tok::Punct('=')), Some(Tok::Punct('~')), Some(Tok::Str(re))) => re
                            .strip_prefix(BOTH_SHELLS)
                            .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')),
                        _ => None,
                    };
                    match metric {
                        Some(m) => {
                            uses.metrics.insert(m.to_string());
                        }
                        None => uses.odd_names.push(format!("{:?}", &toks[i..(i + 4).min(toks.len())])),
                    }
                }
                if matches!(next, Some(Tok::Punct('=' | '!'))) {
                    uses.labels.insert(name.clone());
                }
            }
            Tok::Ident(name) if LABEL_LISTS.contains(&name.as_str()) && next == Some(&Tok::Punct('(')) => {
                i += 2;
                while let Some(t) = toks.get(i) {
                    match t {
                        Tok::Punct(')') => break,
                        Tok::Ident(l) => {
                            uses.labels.insert(l.clone());
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            Tok::Ident(name) if OPERATORS.contains(&name.as_str()) => {}
            // A function or an aggregation (`sum(...)`, `sum by (l) (...)`).
            Tok::Ident(_) if next == Some(&Tok::Punct('(')) => {}
            Tok::Ident(_) if matches!(next, Some(Tok::Ident(k)) if k == "by" || k == "without") => {}
            Tok::Ident(name) => {
                uses.metrics.insert(name.clone());
                uses.bare.insert(name.clone());
            }
            _ => {}
        }
        i += 1;
    }
    uses
}

/// Label names in a Grafana legend (`{{edge_cors_rule}}`) or an alert
/// template (`$labels.edge_cors_rule`).
fn template_labels(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (open, close) in [("{{", "}}"), ("$labels.", "")] {
        for (at, _) in text.match_indices(open) {
            let rest = &text[at + open.len()..];
            let rest = rest.trim_start();
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let name = &rest[..end];
            // `{{ $value }}`, `{{ printf ... }}`: not a label.
            if !name.is_empty() && (close.is_empty() || rest[end..].trim_start().starts_with(close)) {
                out.insert(name.to_string());
            }
        }
    }
    out
}

// ------------------------------------------------------------ the files

/// (record name or None for an alert, expr) of each rule in alerts.yaml.
/// promtool checks the YAML itself; this only needs the exprs, and fails
/// if it finds fewer than there are rules.
fn rule_exprs(yaml: &str) -> Vec<(Option<String>, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = vec![];
    let mut rules = 0;
    let mut record = None;
    for (n, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some(name) = t.strip_prefix("- record:") {
            rules += 1;
            record = Some(name.trim().to_string());
        } else if t.starts_with("- alert:") {
            rules += 1;
            record = None;
        } else if let Some(v) = t.strip_prefix("expr:") {
            let v = v.trim();
            let expr = if v.starts_with('|') || v.starts_with('>') {
                lines[n + 1..]
                    .iter()
                    .take_while(|l| l.trim().is_empty() || indent(l) > indent(line))
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                v.trim_matches(|c| c == '"' || c == '\'').to_string()
            };
            out.push((record.take(), expr));
        }
    }
    assert_eq!(out.len(), rules, "one expr per rule in alerts.yaml: {out:?}");
    out
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read("dashboard.json")).unwrap_or_else(|e| panic!("dashboard.json: {e}"))
}

/// Every panel, rows' collapsed children included.
fn panels(d: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = vec![];
    for p in d["panels"].as_array().expect("dashboard panels") {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// (where, expr or template query, legend) of every query in the dashboard.
fn dashboard_queries(d: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = vec![];
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let s = |k: &str| t[k].as_str().unwrap_or("").to_string();
            out.push((format!("panel {:?} target {}", p["title"], s("refId")), s("expr"), s("legendFormat")));
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(q) = v["query"]["query"].as_str().or(v["query"].as_str()).filter(|_| v["type"] == "query") {
            // label_values(metric, label): the metric as an expression, the label as a legend.
            let inner = q.strip_prefix("label_values(").and_then(|q| q.strip_suffix(')')).unwrap_or(q);
            let (metric, label) = inner.rsplit_once(',').unwrap_or((inner, ""));
            out.push((format!("variable {}", v["name"]), metric.to_string(), format!("{{{{{}}}}}", label.trim())));
        }
    }
    out
}

/// Checks one query's metrics and labels against the scrape; recording
/// rules stand for what their own expressions read. Returns what the query
/// reads, recording rules resolved.
fn check_query(
    what: &str,
    expr: &str,
    extra_labels: &BTreeSet<String>,
    records: &BTreeMap<String, Uses>,
    errors: &mut Vec<String>,
) -> Uses {
    let uses = promql_uses(expr);
    if uses.metrics.is_empty() {
        errors.push(format!("{what}: no metric in {expr:?}"));
    }
    for odd in &uses.odd_names {
        errors.push(format!("{what}: a __name__ matcher not of the form {{__name__=~\"{BOTH_SHELLS}edge_cors_<name>\"}}: {odd}"));
    }
    let mut metrics = BTreeSet::new();
    let mut labels: BTreeSet<String> = uses.labels.union(extra_labels).cloned().collect();
    for m in &uses.metrics {
        match records.get(m) {
            Some(r) => {
                metrics.extend(r.metrics.iter().cloned());
                labels.extend(r.labels.iter().cloned());
            }
            None if m.contains(':') => errors.push(format!("{what}: {m} is no recording rule of alerts.yaml")),
            None if uses.bare.contains(m) => {
                errors.push(format!("{what}: {m} matches the wasm shell's series only: write {{__name__=~\"{BOTH_SHELLS}{m}\"}}"));
                metrics.insert(m.clone());
            }
            None => {
                metrics.insert(m.clone());
            }
        }
    }
    let names: BTreeSet<String> = metrics.iter().map(|m| scraped(m)).collect();
    for m in &names {
        if !scrape().iter().any(|s| &s.name == m) {
            errors.push(format!("{what}: {m} is not in Envoy's /stats/prometheus ({:?} shell)", shell()));
        }
    }
    for l in labels.iter().filter(|l| !TARGET_LABELS.contains(&l.as_str()) && *l != "__name__") {
        if !scrape().iter().any(|s| names.contains(&s.name) && s.labels.contains_key(l)) {
            errors.push(format!("{what}: label {l} is on none of {names:?}"));
        }
    }
    Uses { metrics, labels, ..Uses::default() }
}

// ------------------------------------------------------------ tests

/// (a) Every metric and label the dashboard and the rules query exists in
/// a real Envoy's scrape, and every counter edge-cors exports is on the
/// dashboard.
#[test]
fn every_queried_metric_is_in_envoys_scrape() {
    let mut errors = vec![];
    let mut records = BTreeMap::new();
    let alerts = read("alerts.yaml");
    for (record, expr) in rule_exprs(&alerts) {
        let what = format!("alerts.yaml {}", record.as_deref().unwrap_or("alert"));
        let uses = check_query(&what, &expr, &BTreeSet::new(), &records, &mut errors);
        if let Some(name) = record {
            records.insert(name, uses);
        }
    }
    // Alert templates may name only labels their expressions keep.
    let kept: BTreeSet<String> = records.values().flat_map(|u| u.labels.iter().cloned()).collect();
    for l in template_labels(&alerts) {
        if !kept.contains(&l) && !TARGET_LABELS.contains(&l.as_str()) {
            errors.push(format!("alerts.yaml: $labels.{l} is kept by no expression"));
        }
    }

    let d = dashboard();
    let mut on_dashboard = BTreeSet::new();
    let queries = dashboard_queries(&d);
    for (what, expr, legend) in &queries {
        on_dashboard.extend(check_query(what, expr, &template_labels(legend), &BTreeMap::new(), &mut errors).metrics);
    }
    for family in families() {
        if !on_dashboard.contains(family) {
            errors.push(format!("{family} is exported but on no dashboard panel"));
        }
    }
    println!(
        "{} dashboard queries and {} rules checked against {} edge-cors metrics ({:?} shell: {}edge_cors_*)",
        queries.len(),
        rule_exprs(&alerts).len(),
        families().len(),
        shell(),
        shell_prefix()
    );
    // The names as this shell prints them, one line a family.
    let mut shapes = BTreeSet::new();
    for s in scrape().iter().filter(|s| s.name.starts_with(&scraped("edge_cors"))) {
        shapes.insert(format!("  {}{{{}}}", s.name, s.labels.keys().map(String::as_str).collect::<Vec<_>>().join(",")));
    }
    println!("{}", shapes.into_iter().collect::<Vec<_>>().join("\n"));
    assert!(errors.is_empty(), "{}\n\nEnvoy's edge-cors metrics:\n{}", errors.join("\n"), edge_cors_lines());
}

/// (b) The stats tag turns the rule into a label, for decisions and report
/// mode alike, and no rule name is left in a metric name.
#[test]
fn the_rule_is_a_label() {
    let rule = |name: &str, r: &str| value(name, &[("edge_cors_rule", r)]);
    assert_eq!(rule("edge_cors_rule_preflight_rejected_origin", "tenants"), Some(2.0), "{}", edge_cors_lines());
    assert_eq!(rule("edge_cors_rule_preflight_rejected_origin", "default"), Some(1.0));
    assert_eq!(rule("edge_cors_rule_request_allowed", "payments"), Some(0.0), "every rule has its series");
    assert_eq!(value("edge_cors_preflight_rejected_origin", &[]), Some(3.0), "totals carry no rule");
    for kind in ["missing", "extra", "different"] {
        assert!(rule(&format!("edge_cors_report_{kind}"), "tenants").is_some_and(|v| v > 0.0), "report {kind}: {}", edge_cors_lines());
    }
    // Origin sources: a series per rule with a source, counters and gauges.
    let at_least_one = |name: &str, r: &str| assert!(rule(name, r).is_some_and(|v| v >= 1.0), "{name} {r}: {}", edge_cors_lines());
    at_least_one("edge_cors_origins_source_updates_applied", "default");
    at_least_one("edge_cors_origins_source_updates_unchanged", "default");
    at_least_one("edge_cors_origins_source_updates_refused", "partners");
    at_least_one("edge_cors_origins_source_updates_removals_applied", "default");
    at_least_one("edge_cors_origins_source_updates_failed", "resellers");
    at_least_one("edge_cors_origins_source_seconds_since_update", "resellers");
    assert_eq!(rule("edge_cors_origins_source_origins", "default"), Some(SOURCE_ORIGINS.len() as f64 - 1.0), "one removed");
    assert_eq!(rule("edge_cors_origins_source_origins", "partners"), Some(0.0), "a refused answer is never loaded");
    assert_eq!(rule("edge_cors_origins_source_updates_applied", "resellers"), Some(0.0));
    assert_eq!(rule("edge_cors_origins_source_updates_applied", "tenants"), None, "no source, no series");
    for family in families() {
        assert!(
            !["default", "tenants", "payments", "partners", "resellers"].iter().any(|r| family.contains(r)),
            "{family}: a rule name left in the metric name"
        );
    }
    // The traffic moved every counter (so the dashboard has data for each).
    for family in families() {
        assert!(scrape().iter().any(|s| s.name == scraped(family) && s.value > 0.0), "{family} never moved:\n{}", edge_cors_lines());
    }
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}; `make observability` installs it (Debian's prometheus)"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("promtool {}:\n{}", args.join(" "), text.trim_end());
    assert!(out.status.success(), "promtool {} failed:\n{text}", args.join(" "));
}

/// (c) promtool accepts the rules and passes their unit tests.
#[test]
fn promtool_checks_and_unit_tests() {
    promtool(&["check", "rules", "deploy/observability/alerts.yaml"]);
    promtool(&["test", "rules", "deploy/observability/alerts.test.yaml"]);
}

/// (d) The dashboard loads as Grafana expects it: a Prometheus data-source
/// variable that every query panel uses, and no panel without a query.
#[test]
fn every_dashboard_panel_queries_the_chosen_data_source() {
    let d = dashboard();
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "schemaVersion {}", d["schemaVersion"]);
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    assert!(
        vars.iter().any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus"),
        "no `datasource` variable of type prometheus"
    );
    let mut ids = BTreeSet::new();
    for p in panels(&d) {
        let title = &p["title"];
        assert!(ids.insert(p["id"].as_u64().expect("panel id")), "panel id {} twice", p["id"]);
        assert!(p["gridPos"].is_object(), "{title}: no gridPos");
        // Rows group panels and text panels hold prose: neither queries.
        if p["type"] == "row" || p["type"] == "text" {
            assert!(p["targets"].as_array().is_none_or(|t| t.is_empty()), "{title}: a {} with queries", p["type"]);
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}: panel data source");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("{title}: no target"));
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{title}: target data source");
            assert!(t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()), "{title}: empty expr");
        }
    }
    // The live-origins row holds the origin-source panels, and every
    // origin-source metric is on one of them.
    let top = d["panels"].as_array().unwrap();
    let at = top.iter().position(|p| p["type"] == "row" && p["title"] == "Origin source (live origins)").expect("the live-origins row");
    let below: Vec<_> = top[at + 1..].iter().take_while(|p| p["type"] != "row").collect();
    let mut read = BTreeSet::new();
    for p in &below {
        for t in p["targets"].as_array().into_iter().flatten() {
            let metrics = promql_uses(t["expr"].as_str().unwrap_or("")).metrics;
            assert!(
                metrics.iter().all(|m| m.starts_with("edge_cors_origins_source_")),
                "{}: {metrics:?} in the live-origins row",
                p["title"]
            );
            read.extend(metrics);
        }
    }
    let expected: BTreeSet<String> = [
        "origins",
        "seconds_since_update",
        "updates_applied",
        "updates_unchanged",
        "updates_refused",
        "updates_removals_applied",
        "updates_failed",
    ]
    .iter()
    .map(|m| format!("edge_cors_origins_source_{m}"))
    .collect();
    assert_eq!(read, expected, "what the live-origins row reads");
}
