//! Finding the CORS blocks in a configuration file: the objects a source
//! recognises, wherever they sit, each named by its path in the document
//! (`static_resources.listeners[0]...`), so the user can tell them apart.

use std::path::Path;

use serde_json::{Map, Value};

use crate::source;
use crate::Fatal;

/// One CORS block and where it is.
pub struct Block {
    pub location: String,
    pub object: Map<String, Value>,
}

/// A source's search of one document: the blocks under `path`, into `out`.
pub type Finder = fn(doc: &Value, path: &str, out: &mut Vec<Block>);

/// Every block `find` picks out of each document of the file; with several
/// documents, locations start with "document N: ".
pub fn in_file(path: &Path, find: Finder) -> Result<Vec<Block>, Fatal> {
    let (_, docs) = source::read_documents(path)?;
    let mut found = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        let prefix = if docs.len() > 1 { format!("document {}: ", d + 1) } else { String::new() };
        find(doc, &prefix, &mut found);
    }
    Ok(found)
}

/// Whether `path` names a document's root (empty, or just "document N: ").
fn at_root(path: &str) -> bool {
    path.is_empty() || path.ends_with(": ")
}

/// The path of `key` inside the object at `path`.
fn child(path: &str, key: &str) -> String {
    let sep = if at_root(path) { "" } else { "." };
    format!("{path}{sep}{key}")
}

/// The path of `key` inside an object found at `location` (which names a
/// document's root "(top level)").
pub fn key_path(location: &str, key: &str) -> String {
    match location.strip_suffix("(top level)") {
        Some(document) => format!("{document}{key}"),
        None => format!("{location}.{key}"),
    }
}

/// Every object anywhere in `v` that `want` accepts (not looking inside
/// one it accepts), with its path; "(top level)" for the document itself.
pub fn objects(v: &Value, path: &str, want: &mut dyn FnMut(&Map<String, Value>) -> bool, out: &mut Vec<Block>) {
    match v {
        Value::Object(m) => {
            if want(m) {
                let location = if at_root(path) { format!("{path}(top level)") } else { path.to_string() };
                out.push(Block { location, object: m.clone() });
                return;
            }
            for (k, item) in m {
                objects(item, &child(path, k), want, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                objects(item, &format!("{path}[{i}]"), want, out);
            }
        }
        _ => {}
    }
}

/// Every object under a key named `key` anywhere in `v` (not looking inside
/// one found), with its path.
pub fn under_key(v: &Value, path: &str, key: &str, out: &mut Vec<Block>) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                let p = child(path, k);
                if k == key {
                    if let Value::Object(o) = item {
                        out.push(Block { location: p, object: o.clone() });
                    }
                } else {
                    under_key(item, &p, key, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                under_key(item, &format!("{path}[{i}]"), key, out);
            }
        }
        _ => {}
    }
}
