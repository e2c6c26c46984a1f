//! Sources whose CORS settings apply per host and path (ingress-nginx's
//! Ingresses, an HTTPRoute's rules with different CORS filters) become one
//! edge-cors policy with `rules`: one rule per scope, most specific first,
//! a scope without CORS as `"cors": "off"`.
//!
//! What the conversion relies on (docs/configuration.md, "rules"): the first
//! rule whose `match` fits wins; `match.hosts` takes exact hosts and
//! `*.example.com`; `path_prefix` is a byte prefix, `path_separated_prefix`
//! matches whole segments (`/v1` matches `/v1` and `/v1/...`, not `/v10`);
//! a rule that an earlier one covers is refused; the top-level policy is
//! required and serves every request no rule matches.

use serde_json::{Map, Value};

use super::push_new;

/// A policy's keys, in the order the import writes them.
pub type Keys = Vec<(String, Value)>;

/// Which paths a scope covers, as the source wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    /// Every path (a root prefix, or none given).
    Any,
    /// Whole path segments: Kubernetes' and the Gateway API's `Prefix`.
    Segments(String),
    /// A byte prefix: ingress-nginx's `ImplementationSpecific`.
    Bytes(String),
    /// This path only.
    Exact(String),
}

impl PathMatch {
    /// A segment prefix as the source wrote it: the trailing `/` is ignored,
    /// and `/` alone is every path.
    pub fn segments(p: &str) -> PathMatch {
        let p = p.trim_end_matches('/');
        if p.is_empty() {
            PathMatch::Any
        } else {
            PathMatch::Segments(p.to_string())
        }
    }

    /// A byte prefix; `/` (or nothing) is every path.
    pub fn bytes(p: &str) -> PathMatch {
        if p.is_empty() || p == "/" {
            PathMatch::Any
        } else {
            PathMatch::Bytes(p.to_string())
        }
    }

    fn text(&self) -> &str {
        match self {
            PathMatch::Any => "/",
            PathMatch::Segments(p) | PathMatch::Bytes(p) | PathMatch::Exact(p) => p,
        }
    }

    /// The `match` keys edge-cors writes for it.
    fn keys(&self) -> Option<(&'static str, Value)> {
        match self {
            PathMatch::Any => None,
            PathMatch::Bytes(p) => Some(("path_prefix", Value::String(p.clone()))),
            PathMatch::Segments(p) => Some(("path_separated_prefix", Value::String(p.clone()))),
            PathMatch::Exact(p) => match p.trim_end_matches('/') {
                "" => Some(("path_prefix", Value::String("/".into()))),
                p => Some(("path_separated_prefix", Value::String(p.to_string()))),
            },
        }
    }
}

/// The requests one source setting applied to, and what it did there.
#[derive(Clone, Debug)]
pub struct Scope {
    /// A base for the rule's name (lower-cased and cleaned here).
    pub name: String,
    /// Exact hosts or `*.` patterns; empty: every host.
    pub hosts: Vec<String>,
    pub path: PathMatch,
    /// The policy's keys; `None`: the source added no CORS there.
    pub policy: Option<Vec<(String, Value)>>,
    /// Where in the file, for people.
    pub location: String,
}

/// The policy with `rules`, and what the user must know.
#[derive(Debug, Default)]
pub struct Assembled {
    pub policy: Vec<(String, Value)>,
    pub differences: Vec<String>,
    pub refusals: Vec<String>,
    /// What requests the rules cover beyond the source's (exact paths).
    pub wider_paths: Vec<String>,
}

/// Most specific first: exact hosts, then wildcard hosts, then every host;
/// within those, longer paths first, an exact path before a prefix of the
/// same text (both ingress-nginx and the Gateway API prefer it).
fn order(s: &Scope) -> (u8, std::cmp::Reverse<usize>, u8) {
    let hosts = if s.hosts.is_empty() {
        2
    } else if s.hosts.iter().any(|h| h.starts_with('*')) {
        1
    } else {
        0
    };
    let kind = match s.path {
        PathMatch::Exact(_) => 0,
        PathMatch::Segments(_) => 1,
        PathMatch::Bytes(_) => 2,
        PathMatch::Any => 3,
    };
    (hosts, std::cmp::Reverse(s.path.text().len()), kind)
}

/// A rule name edge-cors accepts: lower-case letters, digits, `-`, `_`, at
/// most 64, unique and not "default".
fn rule_name(base: &str, taken: &[String]) -> String {
    let mut name: String =
        base.to_ascii_lowercase().chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '-' }).collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let mut name = name.trim_matches('-').chars().take(56).collect::<String>();
    if name.is_empty() || name == "default" {
        name = format!("rule{}", taken.len());
    }
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    candidate
}

/// One rule's JSON on one line, keys in edge-cors's order.
pub fn rule_line(fields: &[(String, Value)]) -> String {
    let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{}: {}", Value::String(k.clone()), compact(v))).collect();
    format!("{{{}}}", parts.join(", "))
}

fn compact(v: &Value) -> String {
    match v {
        Value::Array(items) => format!("[{}]", items.iter().map(compact).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{}: {}", Value::String(k.clone()), compact(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// The rules, most specific first, and a top-level policy. `product` names
/// the source in notes.
pub fn assemble(mut scopes: Vec<Scope>, product: &str) -> Assembled {
    let mut out = Assembled::default();
    // The top level copies the first policy as the source lists it.
    let first = scopes.iter().find_map(|s| s.policy.clone());
    scopes.sort_by_key(order);
    // Two scopes for the same requests: the same setting twice is one rule;
    // two different ones cannot both be honoured.
    let mut kept: Vec<Scope> = Vec::new();
    for s in scopes {
        let same = |k: &Scope| {
            let mut a = k.hosts.clone();
            let mut b = s.hosts.clone();
            a.sort();
            b.sort();
            a == b && k.path.keys() == s.path.keys()
        };
        match kept.iter().find(|k| same(k)) {
            Some(k) if k.policy == s.policy => {}
            Some(k) => out.refusals.push(format!(
                "{} and {} both claim {} {} with different CORS settings; edge-cors matches a host and path once \
                 (an exact path becomes a segment prefix here): give one of them another path",
                k.location,
                s.location,
                if s.hosts.is_empty() { "every host".to_string() } else { s.hosts.join(", ") },
                s.path.text()
            )),
            None => kept.push(s),
        }
    }
    let mut names: Vec<String> = Vec::new();
    let mut rules = Vec::new();
    let mut top: Option<(usize, String, Keys)> = None;
    for (i, s) in kept.iter().enumerate() {
        let name = rule_name(&s.name, &names);
        names.push(name.clone());
        let mut m = Map::new();
        if !s.hosts.is_empty() {
            m.insert("hosts".into(), Value::Array(s.hosts.iter().map(|h| Value::String(h.to_ascii_lowercase())).collect()));
        }
        if let Some((k, v)) = s.path.keys() {
            m.insert(k.into(), v);
        }
        if m.is_empty() {
            // Every host, every path: the byte prefix "/" says so.
            m.insert("path_prefix".into(), Value::String("/".into()));
        }
        if let PathMatch::Exact(p) = &s.path {
            let hosts = if s.hosts.is_empty() { String::new() } else { format!(" on {}", s.hosts.join(", ")) };
            out.wider_paths.push(format!(
                "{}: {product} matched the exact path {p}{hosts}; edge-cors has no exact-path match, so rule \"{name}\" also \
                 covers what is under it ({}/...)",
                s.location,
                p.trim_end_matches('/')
            ));
        }
        let mut fields: Vec<(String, Value)> = vec![("name".into(), Value::String(name.clone())), ("match".into(), Value::Object(m))];
        match &s.policy {
            Some(p) => {
                fields.extend(p.iter().cloned());
                if top.is_none() && first.as_ref() == Some(p) {
                    top = Some((i, name.clone(), p.clone()));
                }
            }
            None => fields.push(("cors".into(), Value::String("off".into()))),
        }
        rules.push(Value::Object(fields.into_iter().collect()));
    }
    let Some((i, name, top)) = top else {
        out.refusals.push(format!("no {product} setting here adds CORS, so there is no policy to import"));
        return out;
    };
    out.policy = top;
    out.policy.push(("rules".into(), Value::Array(rules)));
    push_new(
        &mut out.differences,
        format!(
            "the top-level policy is a copy of rules[{i}] (\"{name}\"): edge-cors applies it to requests no rule matches (other hosts and \
             paths), where {product} added no CORS headers; if other APIs share the listener, give them rules of their own \
             (\"cors\": \"off\" to leave CORS to them)"
        ),
    );
    out
}

/// The policy as JSON: one key per line, each rule on a line of its own.
pub fn policy_json(fields: &[(String, Value)]) -> String {
    let mut s = String::from("{\n");
    for (i, (k, v)) in fields.iter().enumerate() {
        let comma = if i + 1 < fields.len() { "," } else { "" };
        match (k.as_str(), v) {
            ("rules", Value::Array(rules)) => {
                s.push_str("  \"rules\": [\n");
                for (j, r) in rules.iter().enumerate() {
                    let c = if j + 1 < rules.len() { "," } else { "" };
                    let line = match r {
                        // Name and match first, as people read a rule.
                        Value::Object(m) => {
                            let mut fields: Vec<(String, Value)> = Vec::new();
                            for key in ["name", "match"] {
                                if let Some(v) = m.get(key) {
                                    fields.push((key.into(), v.clone()));
                                }
                            }
                            for key in RULE_KEY_ORDER {
                                if let Some(v) = m.get(*key) {
                                    fields.push(((*key).into(), v.clone()));
                                }
                            }
                            for (key, v) in m {
                                if !fields.iter().any(|(k, _)| k == key) {
                                    fields.push((key.clone(), v.clone()));
                                }
                            }
                            rule_line(&fields)
                        }
                        other => compact(other),
                    };
                    s.push_str(&format!("    {line}{c}\n"));
                }
                s.push_str(&format!("  ]{comma}\n"));
            }
            _ => s.push_str(&format!("  {}: {}{comma}\n", Value::String(k.clone()), compact(v))),
        }
    }
    s.push('}');
    s
}

/// The order the import writes a policy's keys in.
const RULE_KEY_ORDER: &[&str] =
    &["cors", "allow_origins", "allow_methods", "allow_headers", "expose_headers", "max_age", "allow_credentials", "allow_private_network"];
