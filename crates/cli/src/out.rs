//! Terminal output: colour only on a terminal (and never with NO_COLOR),
//! aligned columns, and writes that end quietly when the reader goes away.

use std::io::{IsTerminal, Write};

#[derive(Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    fn for_stream(is_tty: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Style { color: is_tty && !no_color && !dumb }
    }

    pub fn stdout() -> Style {
        Style::for_stream(std::io::stdout().is_terminal())
    }

    pub fn stderr() -> Style {
        Style::for_stream(std::io::stderr().is_terminal())
    }

    /// No colour, whatever the terminal: for tests.
    #[cfg(test)]
    pub fn plain() -> Style {
        Style { color: false }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn fail(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// Outcome of one check, shown as a fixed-width label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
            Level::Skip => "-",
        }
    }

    /// The label padded to `width` before colouring, so columns line up.
    pub fn label(self, style: &Style, width: usize) -> String {
        let padded = format!("{:<width$}", self.word());
        match self {
            Level::Ok => style.ok(&padded),
            Level::Warn => style.warn(&padded),
            Level::Fail => style.fail(&padded),
            Level::Skip => style.dim(&padded),
        }
    }
}

/// Rows of `label  text` with the labels padded to the widest one; a
/// continuation line of a row starts with an empty label.
pub fn rows(indent: &str, rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    for (label, text) in rows {
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("");
        s.push_str(&format!("{indent}{label:<width$}  {first}\n"));
        for more in lines {
            s.push_str(&format!("{indent}{:<width$}  {more}\n", ""));
        }
    }
    s
}

fn emit(mut w: impl Write, s: &str) {
    if s.is_empty() {
        return;
    }
    if let Err(e) = w.write_all(s.as_bytes()).and_then(|_| w.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

pub fn emit_stdout(s: &str) {
    emit(std::io::stdout().lock(), s);
}

pub fn emit_stderr(s: &str) {
    emit(std::io::stderr().lock(), s);
}

/// `HTTP 404 Not Found`: the status line as people know it (the reason
/// phrase only for the statuses CORS answers commonly carry).
pub fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    };
    format!("HTTP {status} {reason}").trim_end().to_string()
}

/// "1 problem", "2 problems".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}
