//! Reading policy files: an edge-cors policy (JSON, or YAML), an AWS
//! CloudFormation or SAM template (the `CorsConfiguration` of each HTTP API),
//! an OpenAPI document with `x-amazon-apigateway-cors`, or an
//! `aws apigatewayv2 get-api` answer. Everything becomes JSON values, so the
//! filter's own parser judges it.

use std::path::Path;

use serde_json::{Map, Value};

use edge_cors_engine::ConfigError;

use crate::Fatal;

/// One CORS policy found in a file.
#[derive(Debug, Clone)]
pub struct Found {
    /// Where in the file, e.g. `Resources.HttpApi (AWS::Serverless::HttpApi) CorsConfiguration`.
    pub location: String,
    /// What kind of source it was, for people.
    pub kind: &'static str,
    /// The policy as a JSON object, keys in edge-cors or AWS spelling.
    pub object: Map<String, Value>,
    /// The file's bytes when the file itself is the policy in JSON, so the
    /// engine sees exactly what the filter would.
    pub raw: Option<Vec<u8>>,
    /// Problems found before the engine could look (unresolvable values).
    pub problems: Vec<ConfigError>,
    /// Fields the engine must not report on (replaced by `problems`).
    pub suppressed: Vec<String>,
    /// Things the user should know about how the file was read.
    pub notes: Vec<String>,
    /// (engine key, key as written) for sources with their own spelling.
    pub renamed: Vec<(String, String)>,
}

impl Found {
    pub fn new(location: String, kind: &'static str, object: Map<String, Value>) -> Found {
        Found { location, kind, object, raw: None, problems: vec![], suppressed: vec![], notes: vec![], renamed: vec![] }
    }
}

/// A file read as JSON values (several for multi-document YAML).
pub fn read_documents(path: &Path) -> Result<(Vec<u8>, Vec<Value>), Fatal> {
    let bytes = std::fs::read(path).map_err(|e| Fatal(format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let trimmed = text.trim_start();
    let looks_json = trimmed.starts_with('{') || trimmed.starts_with('[');
    if looks_json {
        // Broken JSON is not retried as YAML (which would forgive a trailing
        // comma the filter refuses): the engine reports it as the filter would.
        return match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => Ok((bytes, vec![v])),
            Err(_) => Ok((bytes, vec![])),
        };
    }
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let v = <serde_norway::Value as serde::Deserialize>::deserialize(doc);
        match v {
            Ok(v) => {
                let j = yaml_to_json(v);
                if !j.is_null() {
                    docs.push(j);
                }
            }
            Err(e) => return Err(Fatal(format!("{} is neither JSON nor YAML: {e}", path.display()))),
        }
    }
    Ok((bytes, docs))
}

/// YAML to JSON. Tags (CloudFormation's short forms) become the long form:
/// `!Ref X` is `{"Ref": "X"}`, `!Sub s` is `{"Fn::Sub": s}`.
pub fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    other => match yaml_to_json(other) {
                        Value::String(s) => s,
                        j => j.to_string(),
                    },
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let name = t.tag.to_string();
            let name = name.trim_start_matches('!');
            let key = if name == "Ref" || name == "Condition" { name.to_string() } else { format!("Fn::{name}") };
            let mut value = yaml_to_json(t.value);
            // `!GetAtt a.b` is the long form's ["a", "b"].
            if name == "GetAtt" {
                if let Value::String(s) = &value {
                    if let Some((a, b)) = s.split_once('.') {
                        value = Value::Array(vec![a.into(), b.into()]);
                    }
                }
            }
            let mut m = Map::new();
            m.insert(key, value);
            Value::Object(m)
        }
    }
}

const API_TYPES: [&str; 2] = ["AWS::ApiGatewayV2::Api", "AWS::Serverless::HttpApi"];

/// The OpenAPI extension's camelCase keys and the engine's.
pub const OPENAPI_KEYS: [(&str, &str); 6] = [
    ("allowOrigins", "allow_origins"),
    ("allowMethods", "allow_methods"),
    ("allowHeaders", "allow_headers"),
    ("exposeHeaders", "expose_headers"),
    ("maxAge", "max_age"),
    ("allowCredentials", "allow_credentials"),
];

/// Every policy in a file, for `check`, `explain` and `render`.
pub fn load(path: &Path) -> Result<Vec<Found>, Fatal> {
    let (bytes, docs) = read_documents(path)?;
    let name = path.display().to_string();
    if docs.is_empty() {
        // Empty, or broken JSON: the engine's own message says which.
        let mut f = Found::new("(file)".into(), "edge-cors policy", Map::new());
        f.raw = Some(bytes);
        return Ok(vec![f]);
    }
    let mut found = Vec::new();
    let single = docs.len() == 1;
    for (i, doc) in docs.iter().enumerate() {
        let prefix = if single { String::new() } else { format!("document {}: ", i + 1) };
        found.extend(from_document(doc, &prefix, single.then_some(&bytes)));
    }
    if found.is_empty() {
        return Err(Fatal(format!(
            "{name}: no CORS policy found (looked for an edge-cors policy, the CorsConfiguration of {} resources, \
             x-amazon-apigateway-cors in OpenAPI documents, and the configuration of wasm plugins in Envoy, \
             Istio and Envoy Gateway configuration)",
            API_TYPES.join(" / ")
        )));
    }
    Ok(found)
}

fn from_document(doc: &Value, prefix: &str, raw: Option<&Vec<u8>>) -> Vec<Found> {
    let Value::Object(root) = doc else {
        let mut f = Found::new(format!("{prefix}(file)"), "edge-cors policy", Map::new());
        f.raw = Some(doc.to_string().into_bytes());
        return vec![f];
    };
    if let Some(Value::Object(resources)) = root.get("Resources") {
        return from_template(root, resources, prefix);
    }
    if root.contains_key("openapi") || root.contains_key("swagger") {
        return from_openapi(root, &format!("{prefix}x-amazon-apigateway-cors")).into_iter().collect();
    }
    // Proxy configuration carrying the filter's: Envoy's (bootstrap, LDS,
    // Istio's EnvoyFilter patches), Istio's WasmPlugin, Envoy Gateway's
    // EnvoyExtensionPolicy.
    let plugins = wasm_plugins(doc, root, prefix);
    if !plugins.is_empty() {
        return plugins;
    }
    // Any other Kubernetes object holds no edge-cors policy.
    if root.contains_key("apiVersion") && root.contains_key("kind") {
        return vec![];
    }
    // `aws apigatewayv2 get-api` prints {"CorsConfiguration": {...}, "Name": ...}.
    if let Some(Value::Object(cors)) = root.get("CorsConfiguration") {
        if !root.contains_key("AllowOrigins") && !root.contains_key("allow_origins") {
            return vec![Found::new(format!("{prefix}CorsConfiguration"), "AWS CorsConfiguration", cors.clone())];
        }
    }
    let aws = root.keys().any(|k| k.starts_with("Allow") || k == "ExposeHeaders" || k == "MaxAge");
    let mut f = Found::new(format!("{prefix}(policy)"), if aws { "AWS CorsConfiguration" } else { "edge-cors policy" }, root.clone());
    // JSON files go to the engine byte for byte, as the filter would read them.
    if let Some(bytes) = raw {
        if serde_json::from_slice::<Value>(bytes).is_ok() {
            f.raw = Some(bytes.clone());
        }
    }
    vec![f]
}

/// Whether a `Found::kind` is one of AWS's.
pub fn is_aws(kind: &str) -> bool {
    ["AWS", "SAM", "CloudFormation", "OpenAPI"].iter().any(|k| kind.contains(k))
}

const STRING_VALUE: &str = "type.googleapis.com/google.protobuf.StringValue";

/// The policies wasm plugins are given in a proxy's configuration. With
/// several Envoy plugins, those whose name, root id or module names CORS.
fn wasm_plugins(doc: &Value, root: &Map<String, Value>, prefix: &str) -> Vec<Found> {
    let mut plugins = Vec::new();
    plugin_configs(doc, "", &mut plugins);
    let cors: Vec<&(String, &Map<String, Value>)> = plugins
        .iter()
        .filter(|(_, p)| {
            let named = |k: &str| p.get(k).and_then(Value::as_str).is_some_and(|n| n.to_ascii_lowercase().contains("cors"));
            named("name") || named("root_id") || p.get("vm_config").is_some_and(|v| v.to_string().to_ascii_lowercase().contains("cors"))
        })
        .collect();
    let chosen: Vec<&(String, &Map<String, Value>)> = if cors.is_empty() { plugins.iter().collect() } else { cors };
    let mut out: Vec<Found> =
        chosen.into_iter().map(|(path, p)| envoy_configuration(p.get("configuration"), &format!("{prefix}{path}.configuration"))).collect();
    let kind = root.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        // Istio turns pluginConfig into the JSON string the module reads.
        "WasmPlugin" => {
            out.push(given_object(doc.pointer("/spec/pluginConfig"), &format!("{prefix}spec.pluginConfig"), "Istio WasmPlugin"))
        }
        // So does Envoy Gateway with each wasm entry's config.
        "EnvoyExtensionPolicy" => {
            if let Some(Value::Array(wasm)) = doc.pointer("/spec/wasm") {
                for (i, w) in wasm.iter().enumerate() {
                    out.push(given_object(
                        w.get("config"),
                        &format!("{prefix}spec.wasm[{i}].config"),
                        "Envoy Gateway EnvoyExtensionPolicy",
                    ));
                }
            }
        }
        _ => {}
    }
    out
}

/// Every Envoy wasm `PluginConfig` (an object with `vm_config`) under `v`,
/// with its path.
fn plugin_configs<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, &'a Map<String, Value>)>) {
    let child = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match v {
        Value::Object(m) if m.contains_key("vm_config") => out.push((path.to_string(), m)),
        Value::Object(m) => m.iter().for_each(|(k, item)| plugin_configs(item, &child(k), out)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, item)| plugin_configs(item, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

/// A policy Istio or Envoy Gateway serialises to JSON for the module.
fn given_object(v: Option<&Value>, location: &str, kind: &'static str) -> Found {
    let mut f = Found::new(location.to_string(), kind, Map::new());
    match v {
        Some(Value::Object(m)) => f.object = m.clone(),
        // Nothing given: the module gets an empty configuration.
        None | Some(Value::Null) => f.raw = Some(Vec::new()),
        Some(other) => f.raw = Some(other.to_string().into_bytes()),
    }
    f
}

/// An Envoy `PluginConfig.configuration` (a protobuf `Any`): the module
/// reads a `StringValue`'s string as JSON. A `Struct` (Istio's examples
/// often use one) reaches it as protobuf bytes, which the filter refuses.
fn envoy_configuration(v: Option<&Value>, location: &str) -> Found {
    let mut f = Found::new(location.to_string(), "Envoy wasm plugin configuration", Map::new());
    let Some(v) = v else {
        // No configuration: the module gets an empty one.
        f.raw = Some(Vec::new());
        return f;
    };
    let ty = v.get("@type").and_then(Value::as_str).unwrap_or("");
    let value = v.get("value");
    match value {
        Some(Value::String(json)) if ty == STRING_VALUE => {
            f.raw = Some(json.clone().into_bytes());
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(json) {
                f.object = m;
            }
            return f;
        }
        // An empty StringValue.
        None if ty == STRING_VALUE => {
            f.raw = Some(Vec::new());
            return f;
        }
        _ => {}
    }
    // The policy inside is still checked, so one change makes it loadable.
    if let Some(Value::Object(m)) = value {
        f.object = m.clone();
    } else if v.get("@type").is_none() {
        if let Value::Object(m) = v {
            f.object = m.clone();
        }
    }
    let fix = format!(
        "write \"@type\": {STRING_VALUE} with the JSON policy as a string, value: '{{\"allow_origins\": [\"https://app.example.com\"]}}' \
         (`edge-cors render --target envoy` prints it)"
    );
    let problem = if ty.ends_with("google.protobuf.Struct") {
        "is a google.protobuf.Struct: Envoy hands the module its protobuf bytes, not JSON, so the filter refuses it \
         (\"not valid JSON\") and the listener does not load"
            .to_string()
    } else if ty == STRING_VALUE {
        "is a StringValue whose value is not a string: the policy must be written as one JSON string (value: |), not as a mapping"
            .to_string()
    } else if ty.is_empty() {
        "has no \"@type\": Envoy needs one, and the module reads only a google.protobuf.StringValue holding JSON".to_string()
    } else {
        format!("is a {ty}: the module reads only a google.protobuf.StringValue holding the JSON policy")
    };
    f.problems.push(ConfigError {
        field: "configuration".into(),
        value: if ty.is_empty() { "{...}".into() } else { format!("{{\"@type\": {ty}, ...}}") },
        problem,
        fix,
    });
    if f.object.is_empty() {
        f.suppressed.push("(configuration)".into());
    }
    f
}

fn from_openapi(root: &Map<String, Value>, location: &str) -> Option<Found> {
    let cors = root.get("x-amazon-apigateway-cors")?;
    let Value::Object(cors) = cors else {
        let mut f = Found::new(location.to_string(), "OpenAPI x-amazon-apigateway-cors", Map::new());
        f.problems.push(ConfigError {
            field: "x-amazon-apigateway-cors".into(),
            value: cors.to_string(),
            problem: "must be an object".into(),
            fix: "write allowOrigins, allowMethods... under it".into(),
        });
        f.suppressed.push("allow_origins".into());
        return Some(f);
    };
    let mut object = Map::new();
    let mut renamed = Vec::new();
    for (k, v) in cors {
        match OPENAPI_KEYS.iter().find(|(camel, _)| camel == k) {
            Some((camel, snake)) => {
                object.insert(snake.to_string(), v.clone());
                renamed.push((snake.to_string(), camel.to_string()));
            }
            None => {
                object.insert(k.clone(), v.clone());
            }
        }
    }
    let mut f = Found::new(location.to_string(), "OpenAPI x-amazon-apigateway-cors", object);
    f.renamed = renamed;
    Some(f)
}

fn from_template(root: &Map<String, Value>, resources: &Map<String, Value>, prefix: &str) -> Vec<Found> {
    let params = root.get("Parameters").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut out = Vec::new();
    // SAM's Globals apply to every AWS::Serverless::HttpApi without its own.
    if let Some(cors) = root.get("Globals").and_then(|g| g.pointer("/HttpApi/CorsConfiguration")) {
        out.push(template_policy(cors, &format!("{prefix}Globals.HttpApi.CorsConfiguration"), "SAM template", &params));
    }
    for (name, res) in resources {
        let ty = res.get("Type").and_then(Value::as_str).unwrap_or("");
        if !API_TYPES.contains(&ty) {
            continue;
        }
        let kind = if ty == "AWS::Serverless::HttpApi" { "SAM template" } else { "CloudFormation template" };
        if let Some(cors) = res.pointer("/Properties/CorsConfiguration") {
            out.push(template_policy(cors, &format!("{prefix}Resources.{name} ({ty}) CorsConfiguration"), kind, &params));
        }
        if let Some(Value::Object(body)) = res.pointer("/Properties/DefinitionBody").or_else(|| res.pointer("/Properties/Body")) {
            let loc = format!("{prefix}Resources.{name} ({ty}) x-amazon-apigateway-cors");
            if let Some(mut f) = from_openapi(body, &loc) {
                resolve_policy(&mut f, &params);
                out.push(f);
            }
        }
    }
    out
}

fn template_policy(cors: &Value, location: &str, kind: &'static str, params: &Map<String, Value>) -> Found {
    let object = match cors {
        Value::Object(m) => m.clone(),
        // SAM: `CorsConfiguration: true` allows every origin; a string is one origin.
        Value::Bool(true) => {
            let mut m = Map::new();
            m.insert("AllowOrigins".into(), Value::Array(vec!["*".into()]));
            m
        }
        Value::String(s) => {
            let mut m = Map::new();
            m.insert("AllowOrigins".into(), Value::Array(vec![Value::String(s.trim_matches('\'').to_string())]));
            m
        }
        _ => Map::new(),
    };
    let mut f = Found::new(location.to_string(), kind, object);
    match cors {
        Value::Bool(true) => f.notes.push("CorsConfiguration: true means AllowOrigins [\"*\"] in SAM".into()),
        Value::String(s) => f.notes.push(format!("CorsConfiguration: {s:?} means AllowOrigins [{s:?}] in SAM")),
        Value::Object(_) => {}
        other => f.problems.push(ConfigError {
            field: "CorsConfiguration".into(),
            value: other.to_string(),
            problem: "must be an object with AllowOrigins, AllowMethods...".into(),
            fix: "write the CORS configuration as a mapping".into(),
        }),
    }
    if !matches!(cors, Value::Object(_) | Value::Bool(true) | Value::String(_)) {
        f.suppressed.push("AllowOrigins".into());
    }
    resolve_policy(&mut f, params);
    f
}

/// Replaces CloudFormation intrinsics with what they evaluate to when that
/// is known from the template (parameter defaults), and records a problem
/// for each that is not.
fn resolve_policy(f: &mut Found, params: &Map<String, Value>) {
    let keys: Vec<String> = f.object.keys().cloned().collect();
    for key in keys {
        let Some(v) = f.object.get(&key).cloned() else { continue };
        let field = f.renamed.iter().find(|(s, _)| *s == key).map_or(key.clone(), |(_, c)| c.clone());
        let resolved = resolve_value(&v, &key, &field, params, f);
        f.object.insert(key, resolved);
    }
}

fn intrinsic(v: &Value) -> Option<(&str, &Value)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    let (k, inner) = m.iter().next()?;
    (k == "Ref" || k.starts_with("Fn::")).then_some((k.as_str(), inner))
}

fn resolve_value(v: &Value, engine_field: &str, shown_field: &str, params: &Map<String, Value>, f: &mut Found) -> Value {
    if let Some((func, arg)) = intrinsic(v) {
        let shown = if func == "Ref" { format!("!Ref {}", arg.as_str().unwrap_or("?")) } else { format!("{{{func}: {arg}}}") };
        match evaluate(func, arg, params) {
            Some(value) => {
                f.notes.push(format!("{shown_field} is {shown}: checked with {value}, the parameter's default"));
                return value;
            }
            None => {
                f.problems.push(ConfigError {
                    field: shown_field.to_string(),
                    value: shown,
                    problem: "is computed by CloudFormation at deploy time, so its value cannot be checked here".into(),
                    fix: "give the parameter a Default to check, or write the literal value".into(),
                });
                f.suppressed.push(engine_field.to_string());
                return Value::Null;
            }
        }
    }
    match v {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| resolve_value(item, &format!("{engine_field}[{i}]"), &format!("{shown_field}[{i}]"), params, f))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `Ref` to a parameter with a Default, and `Fn::Sub` over such parameters.
fn evaluate(func: &str, arg: &Value, params: &Map<String, Value>) -> Option<Value> {
    let param_default = |name: &str| -> Option<(Value, bool)> {
        let p = params.get(name)?;
        let list = p.get("Type").and_then(Value::as_str).is_some_and(|t| t == "CommaDelimitedList" || t.starts_with("List<"));
        let d = p.get("Default")?;
        let s = match d {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        Some((Value::String(s), list))
    };
    match func {
        "Ref" => {
            let (d, list) = param_default(arg.as_str()?)?;
            if list {
                let s = d.as_str()?.to_string();
                Some(Value::Array(s.split(',').map(|x| Value::String(x.trim().to_string())).collect()))
            } else {
                // Numbers and booleans stay what the property expects.
                let s = d.as_str()?;
                Some(serde_json::from_str::<Value>(s).ok().filter(|v| v.is_number() || v.is_boolean()).unwrap_or(d.clone()))
            }
        }
        "Fn::Sub" => {
            let template = arg.as_str()?;
            let mut out = String::new();
            let mut rest = template;
            while let Some(start) = rest.find("${") {
                out.push_str(rest.get(..start)?);
                let after = rest.get(start + 2..)?;
                let end = after.find('}')?;
                let name = after.get(..end)?;
                let (d, _) = param_default(name)?;
                out.push_str(d.as_str()?);
                rest = after.get(end + 1..)?;
            }
            out.push_str(rest);
            Some(Value::String(out))
        }
        _ => None,
    }
}
