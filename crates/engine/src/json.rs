//! Reading the configuration's JSON into a `serde_json::Value` while
//! recording every key given twice in one object.
//!
//! serde_json's own `Value` keeps the last of two equal keys without a word,
//! so a reviewer reading the first `allow_origins` would approve a policy
//! other than the one that runs. This visitor builds the same `Value` and
//! notes the path of each second occurrence (`rules[1].allow_credentials`);
//! the caller refuses the configuration if there are any.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// One step of the path to a value: an object key or an array index.
enum Step {
    Key(String),
    Index(usize),
}

/// Shared by every level of one parse: where we are, and what was repeated.
#[derive(Default)]
struct Walk {
    path: RefCell<Vec<Step>>,
    repeated: RefCell<Vec<(String, Value)>>,
}

impl Walk {
    /// The current path as the configuration errors name fields.
    fn path_with(&self, last: &str) -> String {
        let mut out = String::new();
        for step in self.path.borrow().iter() {
            push_step(&mut out, step);
        }
        push_step(&mut out, &Step::Key(last.to_string()));
        out
    }
}

fn push_step(out: &mut String, step: &Step) {
    match step {
        Step::Key(k) => {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(k);
        }
        Step::Index(i) => {
            out.push('[');
            out.push_str(&i.to_string());
            out.push(']');
        }
    }
}

/// A parsed document, and the keys given twice (path, the second value).
pub struct Parsed {
    pub value: Value,
    pub repeated: Vec<(String, Value)>,
}

/// Parses JSON text (serde_json's grammar, nesting limit and errors).
pub fn parse(bytes: &[u8]) -> Result<Parsed, serde_json::Error> {
    let walk = Walk::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Node(&walk).deserialize(&mut de)?;
    de.end()?;
    Ok(Parsed { value, repeated: walk.repeated.into_inner() })
}

#[derive(Clone, Copy)]
struct Node<'w>(&'w Walk);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.0.path.borrow_mut().push(Step::Index(items.len()));
            let item = seq.next_element_seed(self);
            self.0.path.borrow_mut().pop();
            match item? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.0.path.borrow_mut().push(Step::Key(key));
            let value = map.next_value_seed(self);
            let key = match self.0.path.borrow_mut().pop() {
                Some(Step::Key(k)) => k,
                _ => String::new(),
            };
            let value = value?;
            if out.contains_key(&key) {
                let path = self.0.path_with(&key);
                self.0.repeated.borrow_mut().push((path, value));
            } else {
                out.insert(key, value);
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeated(json: &str) -> Vec<String> {
        match parse(json.as_bytes()) {
            Ok(p) => p.repeated.into_iter().map(|(path, _)| path).collect(),
            Err(e) => panic!("{json}: {e}"),
        }
    }

    #[test]
    fn the_same_value_as_serde_json() {
        for json in [r#"{"a": [1, -2, 2.5, "x", null, true, {"b": {}}], "c": "\u00e9"}"#, "[]", "7", r#""s""#, r#"{"a":{"b":[[{}]]}}"#] {
            let ours = parse(json.as_bytes()).map(|p| p.value).unwrap_or_else(|e| panic!("{json}: {e}"));
            let theirs: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(ours, theirs, "{json}");
        }
        for bad in ["{", r#"{"a": 1} x"#, r#"{"a" 1}"#, "", "[1,]"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn keys_given_twice_are_named_by_path() {
        assert_eq!(repeated(r#"{"a": 1, "b": 2}"#), Vec::<String>::new());
        assert_eq!(repeated(r#"{"a": 1, "a": 2}"#), vec!["a"]);
        assert_eq!(repeated(r#"{"a": 1, "\u0061": 2}"#), vec!["a"], "escaped spelling of the same key");
        assert_eq!(
            repeated(r#"{"rules": [{"x": 1}, {"allow_credentials": true, "allow_credentials": false}]}"#),
            vec!["rules[1].allow_credentials"]
        );
        assert_eq!(repeated(r#"{"rules": [{"match": {"hosts": [], "hosts": []}}]}"#), vec!["rules[0].match.hosts"]);
        assert_eq!(repeated(r#"{"a": {"b": 1, "b": 2, "b": 3}, "a": 0}"#), vec!["a.b", "a.b", "a"]);
    }

    #[test]
    fn the_second_value_is_kept_for_the_message_and_the_first_in_the_document() {
        let p = parse(br#"{"max_age": 1, "max_age": 2}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.value, serde_json::json!({"max_age": 1}));
        assert_eq!(p.repeated, vec![("max_age".to_string(), serde_json::json!(2))]);
    }
}
