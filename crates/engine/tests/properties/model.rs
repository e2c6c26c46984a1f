//! The policy model: a policy as meant (`Model`), the configuration text it
//! is written as (a key given twice at any depth included), the rules of
//! CONTRACT.md section 1 that decide whether it loads (`Model::valid`,
//! `Model::refusals`), and what it allows of a preflight's method and headers.

use edge_cors_engine::Policy;
use serde_json::{json, Value};

use crate::browser::SAFELISTED_METHODS;
use crate::http::{elements, is_token};
use crate::origins::{Entry, Spelling};

#[derive(Clone, Debug, PartialEq)]
pub enum Names {
    Absent,
    Any,
    List(Vec<String>),
}

/// JSON as written: objects keep their order and may repeat a key.
#[derive(Clone, Debug)]
pub enum J {
    V(Value),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

impl J {
    fn obj(pairs: Vec<(&str, J)>) -> J {
        J::O(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub fn text(&self) -> String {
        match self {
            J::V(v) => v.to_string(),
            J::A(items) => format!("[{}]", items.iter().map(J::text).collect::<Vec<_>>().join(",")),
            J::O(pairs) => format!(
                "{{{}}}",
                pairs.iter().map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v.text())).collect::<Vec<_>>().join(",")
            ),
        }
    }

    /// The path of every second (third...) occurrence of a key in one
    /// object, named the way configuration errors name fields.
    pub fn repeated(&self, path: &str, out: &mut Vec<String>) {
        match self {
            J::V(_) => {}
            J::A(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.repeated(&format!("{path}[{i}]"), out);
                }
            }
            J::O(pairs) => {
                let mut seen: Vec<&str> = Vec::new();
                for (k, v) in pairs {
                    let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    v.repeated(&here, out);
                    if seen.contains(&k.as_str()) {
                        out.push(here);
                    } else {
                        seen.push(k);
                    }
                }
            }
        }
    }
}

/// Which object of the document a key is repeated in.
#[derive(Clone, Copy, Debug)]
pub enum Place {
    Top,
    Rule(usize),
    Match(usize),
}

/// A key given twice in one object.
#[derive(Clone, Debug)]
pub enum Dup {
    /// One of the object's keys written again, with `second` (None: the same value).
    Repeat { at: Place, pick: usize, second: Option<Value>, at_end: bool },
    /// A key written in both its snake_case and AWS spellings (top level, or rules[1]).
    Spelling { rule: bool, pick: usize, front: bool },
}

/// The keys with an AWS `CorsConfiguration` spelling.
const AWS_KEYS: [(&str, &str); 6] = [
    ("allow_origins", "AllowOrigins"),
    ("allow_methods", "AllowMethods"),
    ("allow_headers", "AllowHeaders"),
    ("expose_headers", "ExposeHeaders"),
    ("max_age", "MaxAge"),
    ("allow_credentials", "AllowCredentials"),
];

/// The object at `at` (rules written), and the prefix naming its fields.
fn object_at(top: &mut Vec<(String, J)>, at: Place) -> (&mut Vec<(String, J)>, String) {
    match at {
        Place::Top => (top, String::new()),
        Place::Rule(i) | Place::Match(i) => {
            let rules = top.iter_mut().find_map(|(k, v)| match v {
                J::A(items) if k == "rules" => Some(items),
                _ => None,
            });
            let Some(J::O(rule)) = rules.and_then(|r| r.get_mut(i)) else {
                panic!("rules[{i}] is not written");
            };
            match at {
                Place::Match(_) => {
                    let m = rule.iter().position(|(k, _)| k == "match").unwrap_or_else(|| panic!("rules[{i}] has no match"));
                    let J::O(m) = &mut rule[m].1 else {
                        panic!("rules[{i}].match is not an object");
                    };
                    (m, format!("rules[{i}].match."))
                }
                _ => (rule, format!("rules[{i}].")),
            }
        }
    }
}

impl Dup {
    fn needs_rules(&self) -> bool {
        matches!(self, Dup::Repeat { at: Place::Rule(_) | Place::Match(_), .. } | Dup::Spelling { rule: true, .. })
    }

    /// Writes the repetition; returns the field the refusal must name and a
    /// piece of its problem.
    fn apply(&self, top: &mut Vec<(String, J)>) -> (String, String) {
        match self {
            Dup::Repeat { at, pick, second, at_end } => {
                let (obj, prefix) = object_at(top, *at);
                let i = pick % obj.len();
                let (k, v) = obj[i].clone();
                let v = second.clone().map_or(v, J::V);
                if *at_end {
                    obj.push((k.clone(), v));
                } else {
                    obj.insert(i + 1, (k.clone(), v));
                }
                (format!("{prefix}{k}"), "is given twice".into())
            }
            Dup::Spelling { rule, pick, front } => {
                let (obj, prefix) = object_at(top, if *rule { Place::Rule(1) } else { Place::Top });
                let present: Vec<(usize, &str, &str)> = obj
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (k, _))| {
                        AWS_KEYS.iter().find(|(s, a)| k == s || k == a).map(|(s, a)| (i, *s, if k == s { *a } else { *s }))
                    })
                    .collect();
                let (i, snake, other) = present[pick % present.len()];
                let v = obj[i].1.clone();
                if *front {
                    obj.insert(0, (other.to_string(), v));
                } else {
                    obj.push((other.to_string(), v));
                }
                (format!("{prefix}{snake}"), "given twice (also as".into())
            }
        }
    }
}

/// Two rules, valid on their own: one `cors: off`, one with a policy.
fn rules_json() -> J {
    let s = |v: &str| J::V(Value::from(v));
    J::A(vec![
        J::obj(vec![("name", s("static")), ("match", J::obj(vec![("path_prefix", s("/static/"))])), ("cors", s("off"))]),
        J::obj(vec![
            ("name", s("api")),
            ("match", J::obj(vec![("hosts", J::V(json!(["api.example.com", "*.tenant.test"]))), ("path_prefix", s("/v1/"))])),
            ("allow_origins", J::V(json!(["https://app.example.com", "capacitor://localhost", "http://localhost:*"]))),
            ("allow_credentials", J::V(json!(true))),
            ("max_age", J::V(json!(600))),
        ]),
    ])
}

/// Public suffixes the generator uses as wildcard bases.
pub const PUBLIC_SUFFIXES: [&str; 5] = ["co.uk", "github.io", "vercel.app", "com.au", "run.app"];

#[derive(Clone, Debug)]
pub struct Model {
    pub origins: Vec<(Entry, Spelling)>,
    pub methods: Names,
    pub headers: Names,
    pub expose: Names,
    pub max_age: Option<u32>,
    pub credentials: bool,
    pub private_network: bool,
    pub insecure: bool,
    pub aws: bool,
    pub gateway_key: bool,
    /// `timing_allow_origin` as written (None: absent).
    pub timing: Option<Value>,
    /// `preflight_status` as written (None: absent).
    pub preflight_status: Option<Value>,
    /// Whether the document carries `rules` (valid ones, unless `dup` is in them).
    pub rules: bool,
    pub dup: Option<Dup>,
}

/// Fetch upper-cases these six methods, so the policy does too.
const FETCH_NORMALISED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

impl Model {
    /// The entries after duplicates (and refused entries) are dropped.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for (e, _) in &self.origins {
            if !matches!(e, Entry::Bad(_)) && !out.iter().any(|o| o.key() == e.key()) {
                out.push(e.clone());
            }
        }
        out
    }

    pub fn any(&self) -> bool {
        self.origins.iter().any(|(e, _)| *e == Entry::Any)
    }

    /// `*` without credentials: the same answer for every origin.
    pub fn public(&self) -> bool {
        self.any() && !self.credentials
    }

    pub fn timing_on(&self) -> bool {
        self.timing == Some(Value::Bool(true))
    }

    fn timing_valid(&self) -> bool {
        self.timing.as_ref().is_none_or(Value::is_boolean)
    }

    fn status_valid(&self) -> bool {
        self.preflight_status.as_ref().is_none_or(|v| matches!(v.as_u64(), Some(200 | 204)))
    }

    /// The status of an allowed preflight.
    pub fn preflight_status(&self) -> u32 {
        match self.preflight_status.as_ref().and_then(Value::as_u64) {
            Some(200) => 200,
            _ => 204,
        }
    }

    fn has_rules(&self) -> bool {
        self.rules || self.dup.as_ref().is_some_and(Dup::needs_rules)
    }

    /// CONTRACT.md section 1's refusals, for the kinds of policy generated here.
    /// (`PUBLIC_SUFFIXES`: the bases the generator picks from the Public
    /// Suffix List; `run.app` only through its wildcard rule `*.run.app`.)
    pub fn valid(&self) -> bool {
        let has = |f: &dyn Fn(&Entry) -> bool| self.origins.iter().any(|(e, _)| f(e));
        let refused = [
            // `*` (or a scheme wildcard) with credentials
            self.credentials && has(&|e| matches!(e, Entry::Any | Entry::AnyOf { .. })),
            // `null` with credentials: any page can send it from a sandboxed iframe
            self.credentials && has(&|e| *e == Entry::Null),
            // plain-HTTP origins with credentials, unless loopback or insecure allowed
            self.credentials && !self.insecure && has(&Entry::insecure_http),
            // `*` mixed with other entries
            self.any() && self.entries().len() > 1,
            // expose_headers ["*"] with credentials
            self.credentials && self.expose == Names::Any,
            // entries no rule accepts (app schemes with a port or wildcard, two ports...)
            has(&|e| matches!(e, Entry::Bad(_))),
            // a wildcard over a public suffix, with or without credentials
            has(&|e| matches!(e, Entry::Sub { base, .. } | Entry::SubAnyPort { base, .. } if PUBLIC_SUFFIXES.contains(&base.as_str()))),
            !self.timing_valid(),
            !self.status_valid(),
            // a key given twice in one object, at any depth
            self.dup.is_some(),
        ];
        !refused.contains(&true)
    }

    /// Errors the engine must report when refusing: (field, piece of the problem).
    pub fn refusals(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.document().1.into_iter().collect();
        // Both spellings of a key at the top level: which one names the origins is not the point.
        if matches!(self.dup, Some(Dup::Spelling { rule: false, .. })) {
            return out;
        }
        let key = if self.aws { "AllowOrigins" } else { "allow_origins" };
        for (i, (e, _)) in self.origins.iter().enumerate() {
            let problem = match e {
                Entry::Bad(_) => "",
                Entry::Null if self.credentials => "null origin",
                Entry::Any | Entry::AnyOf { .. } if self.credentials => "every origin",
                e if self.credentials && !self.insecure && e.insecure_http() => "plain-HTTP",
                Entry::Sub { base, .. } | Entry::SubAnyPort { base, .. } if PUBLIC_SUFFIXES.contains(&base.as_str()) => "public suffix",
                _ => continue,
            };
            out.push((format!("{key}[{i}]"), problem.into()));
        }
        if !self.timing_valid() {
            out.push(("timing_allow_origin".into(), "true or false".into()));
        }
        if !self.status_valid() {
            out.push(("preflight_status".into(), "204 or 200".into()));
        }
        out
    }

    /// The methods a preflight may ask for (None: any).
    pub fn methods(&self) -> Option<Vec<String>> {
        match &self.methods {
            Names::Any => None,
            Names::List(l) if !l.is_empty() => Some(
                l.iter()
                    .map(|m| FETCH_NORMALISED.iter().find(|n| n.eq_ignore_ascii_case(m)).map_or(m.clone(), |n| n.to_string()))
                    .collect(),
            ),
            _ => Some(SAFELISTED_METHODS.iter().map(|m| m.to_string()).collect()),
        }
    }

    fn headers(&self) -> Option<Vec<String>> {
        match &self.headers {
            Names::Any => None,
            Names::List(l) => Some(l.clone()),
            Names::Absent => Some(Vec::new()),
        }
    }

    pub fn method_allowed(&self, m: &[u8]) -> bool {
        is_token(m)
            && match self.methods() {
                None => true,
                Some(l) => l.iter().any(|x| x.as_bytes() == m) || SAFELISTED_METHODS.iter().any(|x| x.as_bytes() == m),
            }
    }

    /// The first requested header the policy refuses, in request order:
    /// Some(None) for an element that is not a token.
    pub fn refused_header<'r>(&self, requested: &'r [u8]) -> Option<Option<&'r [u8]>> {
        let allowed = self.headers();
        for h in elements(requested) {
            if !is_token(h) {
                return Some(None);
            }
            if allowed.as_ref().is_some_and(|l| !l.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(h))) {
                return Some(Some(h));
            }
        }
        None
    }

    pub fn headers_allowed(&self, requested: &[u8]) -> bool {
        self.refused_header(requested).is_none()
    }

    /// The configuration text, and the refusal a repeated key must cause.
    fn document(&self) -> (String, Option<(String, String)>) {
        let key = |snake: &str, aws: &str| if self.aws { aws.to_string() } else { snake.to_string() };
        let list = |n: &Names| match n {
            Names::Any => Some(J::V(Value::from(vec!["*"]))),
            Names::List(l) => Some(J::V(Value::from(l.clone()))),
            Names::Absent => None,
        };
        let mut m: Vec<(String, J)> = Vec::new();
        let origins: Vec<String> = self.origins.iter().map(|(e, s)| e.raw(*s)).collect();
        m.push((key("allow_origins", "AllowOrigins"), J::V(Value::from(origins))));
        if let Some(v) = list(&self.methods) {
            m.push((key("allow_methods", "AllowMethods"), v));
        }
        if let Some(v) = list(&self.headers) {
            m.push((key("allow_headers", "AllowHeaders"), v));
        }
        if let Some(v) = list(&self.expose) {
            m.push((key("expose_headers", "ExposeHeaders"), v));
        }
        if let Some(a) = self.max_age {
            m.push((key("max_age", "MaxAge"), J::V(Value::from(a))));
        }
        m.push((key("allow_credentials", "AllowCredentials"), J::V(Value::from(self.credentials))));
        m.push(("allow_private_network".into(), J::V(Value::from(self.private_network))));
        if self.insecure {
            m.push(("allow_insecure_origins".into(), J::V(Value::from(true))));
        }
        if self.gateway_key {
            m.push(("_match_route_".into(), J::V(Value::from(vec!["injected"]))));
        }
        if let Some(t) = &self.timing {
            m.push(("timing_allow_origin".into(), J::V(t.clone())));
        }
        if let Some(s) = &self.preflight_status {
            m.push(("preflight_status".into(), J::V(s.clone())));
        }
        if self.has_rules() {
            m.push(("rules".into(), rules_json()));
        }
        let expected = self.dup.as_ref().map(|d| d.apply(&mut m));
        (J::O(m).text(), expected)
    }

    pub fn json(&self) -> String {
        self.document().0
    }

    pub fn policy(&self) -> Policy {
        Policy::from_json(self.json().as_bytes()).unwrap_or_else(|e| panic!("valid policy refused: {e}\n{}", self.json()))
    }
}
