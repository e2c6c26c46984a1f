//! Envoy's `CorsPolicy`, wherever it sits (a virtual host's or a route's
//! `typed_per_filter_config`, or the bare policy). Istio configures this same
//! filter, so the conversion of its fields, and what the filter did that
//! edge-cors does not, serve both.

use edge_cors_engine::token::list_elements_str;
use serde_json::{Map, Value};

use super::find::{self, Block};
use super::{matcher, push_new, Imported};

pub fn find(doc: &Value, path: &str, out: &mut Vec<Block>) {
    find::objects(doc, path, &mut |o| o.contains_key("allow_origin_string_match") || o.contains_key("allow_origin"), out);
}

pub fn convert(location: &str, o: &Map<String, Value>) -> Imported {
    let unmatched = match o.get("forward_not_matching_preflights").and_then(boolean) {
        Some(false) => UnmatchedPreflights::Answered(
            "forward_not_matching_preflights: false made Envoy answer preflights from other origins with 200 and no CORS headers",
        ),
        _ => UnmatchedPreflights::Forwarded { default: "forward_not_matching_preflights defaults to true" },
    };
    let mut differences = vec![unmatched.difference("Envoy")];
    if o.contains_key("filter_enabled") || o.contains_key("shadow_enabled") {
        differences.push(
            "filter_enabled / shadow_enabled (runtime fractions) have no equivalent: edge-cors enforces the policy on every request".into(),
        );
    }
    let fields = Fields {
        origins: origin_matchers(o, "allow_origin_string_match", "allow_origin"),
        methods: o.get("allow_methods"),
        headers: o.get("allow_headers"),
        expose: o.get("expose_headers"),
        max_age: o.get("max_age"),
        credentials: o.get("allow_credentials"),
        private_network: o.get("allow_private_network_access"),
    };
    convert_fields(location, fields, "Envoy", differences)
}

/// What the proxy did with a preflight from an origin it did not match;
/// edge-cors answers every preflight itself, refused ones with 403.
pub enum UnmatchedPreflights {
    /// Sent it on to the upstream; `default` says which setting's default.
    Forwarded { default: &'static str },
    /// Answered it without CORS headers: how, in the setting's words.
    Answered(&'static str),
}

impl UnmatchedPreflights {
    pub fn difference(&self, product: &str) -> String {
        match self {
            UnmatchedPreflights::Forwarded { default } => format!(
                "{product} forwarded preflights from origins it did not match to the upstream ({default}); \
                 edge-cors answers every preflight itself, refused ones with 403: the upstream no longer sees OPTIONS requests"
            ),
            UnmatchedPreflights::Answered(how) => format!("{how}; edge-cors answers them 403 with the reason"),
        }
    }
}

/// The policy's fields, as Envoy and Istio each name them.
pub struct Fields<'a> {
    pub origins: Vec<&'a Value>,
    pub methods: Option<&'a Value>,
    pub headers: Option<&'a Value>,
    pub expose: Option<&'a Value>,
    pub max_age: Option<&'a Value>,
    pub credentials: Option<&'a Value>,
    pub private_network: Option<&'a Value>,
}

impl<'a> Fields<'a> {
    /// The camelCase spelling Istio, the Gateway API and Envoy Gateway share
    /// (`allowOrigins`, `allowMethods`, ...; `deprecated_origins` is an older
    /// name of the origin list, where there is one).
    pub fn camel_case(o: &'a Map<String, Value>, deprecated_origins: &str) -> Fields<'a> {
        Fields {
            origins: origin_matchers(o, "allowOrigins", deprecated_origins),
            methods: o.get("allowMethods"),
            headers: o.get("allowHeaders"),
            expose: o.get("exposeHeaders"),
            max_age: o.get("maxAge"),
            credentials: o.get("allowCredentials"),
            private_network: None,
        }
    }
}

/// The origin matchers: the list under the current key, else the list under
/// its deprecated predecessor (both Envoy and Istio renamed theirs).
pub fn origin_matchers<'a>(o: &'a Map<String, Value>, current: &str, deprecated: &str) -> Vec<&'a Value> {
    [current, deprecated].into_iter().find_map(|k| o.get(k).and_then(Value::as_array)).map(|a| a.iter().collect()).unwrap_or_default()
}

/// The policy in edge-cors's keys; `differences` (the source's own so far)
/// gains what Envoy's CORS filter did that edge-cors does not.
pub fn convert_fields(location: &str, f: Fields<'_>, product: &str, differences: Vec<String>) -> Imported {
    let origin = |m: &Value| matcher::convert(m, product);
    convert_with(location, f, product, differences, &origin, true)
}

/// [`convert_fields`] with origins read by `origin` (one entry of the
/// source's list); `envoy_filter`: Envoy's CORS filter ran the policy, so
/// what it did that edge-cors does not is said (a source that is only a
/// specification says its own).
pub fn convert_with(
    location: &str,
    f: Fields<'_>,
    product: &str,
    mut differences: Vec<String>,
    origin: &dyn Fn(&Value) -> Result<matcher::Converted, String>,
    envoy_filter: bool,
) -> Imported {
    let mut refusals = Vec::new();
    let mut wider = Vec::new();
    let mut origins: Vec<Value> = Vec::new();
    for m in &f.origins {
        match origin(m) {
            Ok(c) => {
                c.entries.into_iter().for_each(|e| push_new(&mut origins, Value::String(e)));
                wider.extend(c.wider);
                if !c.notes.is_empty() {
                    differences.push(c.notes.join("\n"));
                }
            }
            Err(r) => refusals.push(r),
        }
    }
    let any = Value::String("*".into());
    if origins.len() > 1 && origins.contains(&any) {
        origins = vec![any.clone()];
        differences.push("one matcher allowed every origin, so the others had no effect; the policy is [\"*\"]".into());
    }
    let credentials = f.credentials.and_then(boolean).unwrap_or(false);
    let mut policy: Vec<(String, Value)> = vec![("allow_origins".into(), Value::Array(origins.clone()))];
    for (key, value) in [("allow_methods", f.methods), ("allow_headers", f.headers), ("expose_headers", f.expose)] {
        let list = value.map(names).unwrap_or_default();
        if !list.is_empty() {
            policy.push((key.into(), Value::Array(list)));
        }
    }
    if let Some(a) = f.max_age {
        match seconds(a) {
            Some(n) if n > 86_400 => {
                differences.push(format!(
                    "max age {a} is above edge-cors's limit; it became 86400 (browsers cap it lower anyway: Chromium at 7200, Firefox at 86400)"
                ));
                policy.push(("max_age".into(), Value::from(86_400u64)));
            }
            Some(n) => policy.push(("max_age".into(), Value::from(n))),
            None => refusals.push(format!("max age {a}: not a number of seconds or a duration")),
        }
    }
    if credentials {
        policy.push(("allow_credentials".into(), Value::Bool(true)));
    }
    if f.private_network.and_then(boolean) == Some(true) {
        policy.push(("allow_private_network".into(), Value::Bool(true)));
    }
    if origins == [any] && !credentials {
        differences.push(format!(
            "{product} echoed the request's origin even for \"allow every origin\"; edge-cors answers Access-Control-Allow-Origin: * \
             (the same for browsers, and shared caches need no Vary)"
        ));
    }
    if !envoy_filter {
        let wider_headers = star_headers(&policy, product, credentials, false);
        return Imported { location: location.to_string(), policy, differences, refusals, wider, wider_headers, ..Imported::default() };
    }
    differences.push(format!("{product} answered allowed preflights with 200; edge-cors answers 204 (any 2xx is fine for browsers)"));
    differences.push(format!(
        "{product} did not check the requested method and headers (it sent its lists and left the verdict to the browser); \
         edge-cors refuses a preflight asking for anything else with 403 and a body naming the part (origin, method or header)"
    ));
    differences.push(format!(
        "{product} left the upstream's own Access-Control-* headers on responses to origins it did not match; \
         edge-cors removes them from every response, so no stray * or duplicate reaches the browser"
    ));
    differences
        .push(format!("{product} did not add Vary: Origin; edge-cors does, so shared caches keep answers for different origins apart"));
    differences.push(format!(
        "{product}'s CORS filter skipped requests without a route, so the proxy's 404 had no CORS headers; \
         edge-cors adds them to every response, local replies included"
    ));
    let wider_headers = star_headers(&policy, product, credentials, true);
    Imported { location: location.to_string(), policy, differences, refusals, wider, wider_headers, ..Imported::default() }
}

/// `allow_headers: ["*"]` admits Authorization in edge-cors (it names the
/// requested headers in its answer); the `*` of Envoy, AWS and the Fetch
/// standard never covers Authorization, and with credentials browsers read
/// it as a header literally named `*`. `literal`: the source sent its `*` as
/// written even with credentials (the Gateway API instead answers with the
/// requested headers then, so only its credential-less `*` differs).
pub fn star_headers(policy: &[(String, Value)], product: &str, credentials: bool, literal: bool) -> Vec<String> {
    let Some(Value::Array(headers)) = policy.iter().find(|(k, _)| k == "allow_headers").map(|(_, v)| v) else {
        return vec![];
    };
    let star = headers.iter().any(|h| h == "*");
    let authorization = headers.iter().any(|h| h.as_str().is_some_and(|h| h.eq_ignore_ascii_case("authorization")));
    if !star || authorization {
        return vec![];
    }
    if credentials && literal {
        return vec![format!(
            "allow_headers \"*\": with credentials, browsers read {product}'s * as a header literally named *, so no other \
             request header passed its preflight; edge-cors's [\"*\"] allows every request header, Authorization included"
        )];
    }
    if credentials {
        return vec![];
    }
    vec![format!(
        "allow_headers \"*\": {product}'s * is the Fetch standard's wildcard, which never covers Authorization (browsers \
         refuse a request sending it); edge-cors's [\"*\"] admits Authorization too"
    )]
}

/// Method or header names: Envoy's comma-separated string, or Istio's list.
fn names(v: &Value) -> Vec<Value> {
    match v {
        Value::String(s) => list_elements_str(s).map(|x| Value::String(x.to_string())).collect(),
        Value::Array(a) => a.clone(),
        _ => vec![],
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        // BoolValue written in its message form.
        Value::Object(m) => m.get("value").and_then(Value::as_bool),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Seconds from an Envoy max_age string or an Istio duration ("24h", "1m30s", "3600s").
fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            if let Ok(n) = s.trim().parse::<u64>() {
                return Some(n);
            }
            let mut total = 0f64;
            let mut num = String::new();
            let mut chars = s.trim().chars().peekable();
            while let Some(c) = chars.next() {
                if c.is_ascii_digit() || c == '.' {
                    num.push(c);
                    continue;
                }
                let n: f64 = num.parse().ok()?;
                num.clear();
                let unit = if c == 'm' && chars.peek() == Some(&'s') {
                    chars.next();
                    0.001
                } else {
                    match c {
                        'h' => 3600.0,
                        'm' => 60.0,
                        's' => 1.0,
                        _ => return None,
                    }
                };
                total += n * unit;
            }
            if !num.is_empty() {
                return None;
            }
            Some(total.floor() as u64)
        }
        _ => None,
    }
}
