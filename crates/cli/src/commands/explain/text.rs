//! An [`Explained`] in words: the request, the filter's answers as the
//! browser receives them, one line per check, and the verdict.

use edge_cors_engine::fetch;

use super::origin::Live;
use super::{Explained, Explanation, Selection, Verdict};
use crate::commands::check;
use crate::fetch_check::check_lines;
use crate::out::{status_line, Style};

pub fn render(name: &str, explained: &Explained, style: &Style) -> String {
    match explained {
        Explained::Refused(c) => {
            let mut s = check::describe(name, c, style);
            s.push_str(&style.fail("the filter refuses this policy (Envoy would not load it): fix it first, see `edge-cors check`"));
            s.push('\n');
            s
        }
        Explained::CorsOff(selection) => format!(
            "{}this rule has \"cors\": \"off\": edge-cors passes the request and the response through untouched, so the upstream's own CORS headers decide what the browser allows\n",
            selection_text(selection, style)
        ),
        Explained::Request(e) => explanation(e, style),
    }
}

/// Which rule applies, and a note when the route arguments matter or not.
fn selection_text(selection: &Selection, style: &Style) -> String {
    let note = style.dim("note:");
    match selection {
        Selection::NoRules { target_given: true } => {
            format!("{note} the policy has no rules: --host, --path and --route change nothing\n")
        }
        Selection::NoRules { target_given: false } => String::new(),
        Selection::Default { rules, host, path, target_given } => {
            let mut s =
                format!("rule: none of the {rules} rules matches host {host} path {path}: the top-level (default) policy applies\n");
            if !target_given {
                s.push_str(&format!("{note} the policy has rules: give --host, --path or --route to pick one\n"));
            }
            s
        }
        Selection::Rule { index, name, how } => format!("rule: rules[{index}] (\"{name}\") matched {how}\n"),
    }
}

fn explanation(e: &Explanation, style: &Style) -> String {
    let (origin, method) = (e.origin.origin.as_str(), e.method.as_str());
    let mut s = selection_text(&e.selection, style);
    s.push_str(&e.origin.note(style));
    if let Live::NoSource { ignored: Some(file) } = &e.live {
        s.push_str(&format!(
            "{} the policy that applies has no allow_origins_from: --live-origins {file} changes nothing\n",
            style.dim("note:")
        ));
    }
    if e.report {
        s.push_str(&format!(
            "{} report: edge-cors forwards this {} to the upstream and changes no header; the upstream's answer decides\n",
            style.bold("mode:"),
            if e.need.needed { "preflight" } else { "request" }
        ));
    }

    // The request, in the browser's words.
    let creds_word = if e.credentials { "include" } else { "same-origin (no cookies cross-origin)" };
    s.push_str(&format!(
        "{}  {method} from {origin}, credentials: {creds_word}{}\n",
        style.bold("request  "),
        if e.header_names.is_empty() { String::new() } else { format!(", headers: {}", e.header_names.join(", ")) }
    ));
    s.push_str(&format!("{}  {}\n", style.bold("origin   "), e.origin_verdict.line));
    let if_listed = e.if_listed();
    if if_listed {
        s.push_str(&format!(
            "{}  the answers below are edge-cors's once the origin service lists {origin}; until then it refuses it like any \
             origin not allowed (a preflight gets 403, a response no Access-Control-Allow-Origin)\n",
            style.bold("if listed")
        ));
    }
    if e.need.needed {
        s.push_str(&format!("{}  yes: {}\n", style.bold("preflight"), e.need.reasons.join("; ")));
    } else {
        s.push_str(&format!(
            "{}  no: {method} is CORS-safelisted and so is every header: the browser sends the request directly\n",
            style.bold("preflight")
        ));
    }
    if e.wildcard_excluded {
        s.push_str(&format!(
            "{}  {} is never covered by *: edge-cors answers with the requested names, so it passes\n",
            style.dim("note     "),
            fetch::WILDCARD_EXCLUDED_HEADER
        ));
    }

    let once = if if_listed { ", once the origin service lists the origin" } else { "" };
    if let Some(p) = &e.preflight {
        s.push_str(&format!("\n{}\n", style.bold("preflight request (sent by the browser, without cookies)")));
        s.push_str("  OPTIONS <url>\n");
        s.push_str(&format!("  origin: {origin}\n  access-control-request-method: {method}\n"));
        if let Some(v) = &p.request_headers {
            s.push_str(&format!("  access-control-request-headers: {v}\n"));
        }
        let title = if e.report {
            "what enforce mode would answer (report mode forwards the preflight instead, and logs where the upstream's answer differs)"
        } else {
            "preflight response (from edge-cors; the upstream never sees the preflight)"
        };
        s.push_str(&format!("\n{}\n", style.bold(&format!("{title}{once}"))));
        s.push_str(&format!("  {}{}\n", if e.report { "would be " } else { "" }, status_line(p.response.status)));
        for (n, v) in &p.response.headers {
            s.push_str(&format!("  {n}: {v}\n"));
        }
        if !p.response.body.is_empty() {
            s.push_str(&format!("\n  {}\n", p.response.body.trim_end()));
        }
    }

    let status = e.status;
    let title = if e.report {
        format!("actual response (status {status}): the headers enforce mode would set (report mode sets none){once}")
    } else {
        format!("actual response (status {status}, from the upstream or the proxy){once}")
    };
    s.push_str(&format!("\n{}\n", style.bold(&title)));
    match &e.actual {
        Some(r) => {
            s.push_str(&format!("  {}\n", status_line(r.status)));
            for (n, v) in &r.headers {
                s.push_str(&format!("  {n}: {v}\n"));
            }
        }
        None => s.push_str("  not sent: the browser stops at the failed preflight\n"),
    }

    // The browser's verdict, one line per check.
    s.push_str(&format!("\n{}\n", style.bold(if e.report { "browser, once the policy is enforced" } else { "browser" })));
    s.push_str(&check_lines(&e.checks, style));
    s.push('\n');
    s.push_str(&verdict_text(e, style));
    s.push('\n');
    s
}

/// The closing line (two in report mode).
fn verdict_text(e: &Explanation, style: &Style) -> String {
    let (origin, method) = (e.origin.origin.as_str(), e.method.as_str());
    if e.report {
        // Nothing edge-cors does decides this call: no verdict of its own.
        let once = match &e.verdict {
            Verdict::AllowedIfListed => "allowed only if the origin service lists it (explain cannot see that list)".to_string(),
            Verdict::Allowed => "allowed".to_string(),
            Verdict::Blocked { reason } => format!("blocked ({reason})"),
        };
        return format!(
            "{}\n{} {once}",
            style.warn(&format!(
                "report mode: edge-cors changes no header, so the upstream's own CORS headers decide whether the browser lets this {method} \
                 from {origin} through (see them with `edge-cors probe <url> --origin {origin}`)"
            )),
            style.dim("once \"mode\" is \"enforce\":")
        );
    }
    match &e.verdict {
        // Not a pass: the list the decision hangs on is not known here.
        Verdict::AllowedIfListed => style.warn(&format!(
            "not decided: {method} from {origin} is allowed only if the origin service lists it (the proxy fetches that list \
             at run time; explain cannot see it): pass --live-origins FILE with a saved answer to decide"
        )),
        Verdict::Allowed => style.ok(&format!("allowed: the browser lets this {method} from {origin} through")),
        Verdict::Blocked { reason } => {
            let whatever = if e.if_listed() { " (whether or not the origin service lists the origin)" } else { "" };
            style.fail(&format!("blocked: {method} from {origin}: {reason}{whatever}"))
        }
    }
}
