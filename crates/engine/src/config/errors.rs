//! Configuration errors: what was refused, where, and how to fix it, as one
//! log line whatever the input (control characters are escaped, long values
//! shortened).

use std::fmt;

use serde_json::Value;

/// One refused piece of configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the problem is, e.g. `allow_origins[1]`.
    pub field: String,
    /// The offending value as it appeared (JSON, shortened).
    pub value: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}; fix: {}", self.field, self.value, self.problem, self.fix)
    }
}

/// Every problem in a configuration (never just the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid edge-cors configuration: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

pub(super) const EXAMPLE: &str = r#"{"allow_origins": ["https://app.example.com"]}"#;

/// A string as JSON writes it, for messages.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// A control character as `\uXXXX`; anything else as itself.
pub(super) fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        out.push_str("\\u");
        let n = u32::from(c);
        for shift in [12, 8, 4, 0] {
            out.push(char::from_digit((n >> shift) & 0xf, 16).unwrap_or('0'));
        }
    } else {
        out.push(c);
    }
}

/// A value as JSON, shortened, for messages. Written by hand because
/// serde_json's serialiser would pull float formatting into the module.
pub(super) fn show(v: &Value) -> String {
    let s = match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.to_string(),
            (_, Some(i)) => i.to_string(),
            _ => "(a fractional number)".to_string(),
        },
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let shown: Vec<String> = items.iter().take(8).map(show).collect();
            let more = if items.len() > 8 { ", ..." } else { "" };
            format!("[{}{more}]", shown.join(", "))
        }
        Value::Object(_) => "{...}".to_string(),
    };
    shortened(s)
}

/// At most 80 characters: longer text is cut to 77 and `...`.
pub(super) fn shortened(s: String) -> String {
    cut(s, 80)
}

/// At most `max` characters, the last three `...` when cut.
fn cut(s: String, max: usize) -> String {
    if s.chars().count() > max {
        let kept: String = s.chars().take(max - 3).collect();
        format!("{kept}...")
    } else {
        s
    }
}

/// Our longest problem or fix is under 200 characters; past this, the text
/// carries a long piece of the input (an origin's host, say).
const TEXT_MAX: usize = 400;

pub(super) struct Errors(pub(super) Vec<ConfigError>);

/// Escapes control characters as `quote` does, so that a key or an origin
/// carrying a CR or LF cannot break the one-line message in the proxy's log.
pub(super) fn one_line(s: String) -> String {
    if !s.chars().any(char::is_control) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

impl Errors {
    pub(super) fn push(&mut self, field: impl Into<String>, value: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) {
        self.push_bounded(field.into(), value.into(), problem.into(), fix.into());
    }

    /// Every message is made one bounded line here, once for every check:
    /// keys and origins can carry control characters (escaped, so no message
    /// spans lines), and an origin list fetched from a service is as hostile
    /// as a request, its refusal logged on every refresh (cut, after
    /// escaping: an escape is six characters long). Not generic, so the
    /// module has one copy.
    #[inline(never)]
    fn push_bounded(&mut self, field: String, value: String, problem: String, fix: String) {
        self.0.push(ConfigError {
            field: one_line(field),
            value: shortened(one_line(value)),
            problem: cut(one_line(problem), TEXT_MAX),
            fix: cut(one_line(fix), TEXT_MAX),
        });
    }
}
