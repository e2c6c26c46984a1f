//! `edge-cors explain`: for one request from a page, whether the browser
//! sends a preflight and why, the exact requests, the exact headers the
//! filter answers with (from the engine itself), and the browser's verdict.
//!
//! `decide` turns the policy and the request into an [`Explained`] (every
//! fact and verdict, no wording); `text` words it; `origin` says where the
//! origin stands.

use std::path::Path;

use clap::Args;
use edge_cors_engine::config::PolicySpec;
use edge_cors_engine::fetch;

use super::check::{self, Checked};
use crate::fetch_check::{self, Check, PageHeader, PreflightNeed, Response, SentOrigin};
use crate::out::Style;
use crate::{Fatal, PageRequest, Report};

mod decide;
mod origin;
mod text;

#[cfg(test)]
mod tests;

pub use decide::decide;
use origin::{Live, OriginVerdict};

/// Where the request goes, which picks the rule of a policy with rules.
#[derive(Args, Default)]
pub struct RouteTarget {
    /// The request's host (matched against rules' `hosts`)
    #[arg(long)]
    host: Option<String>,
    /// The request's path (matched against rules' `path_prefix`)
    #[arg(long)]
    path: Option<String>,
    /// The proxy's route name (matched against rules' `routes`; Envoy's `xds.route_name`)
    #[arg(long)]
    route: Option<String>,
}

impl RouteTarget {
    fn is_given(&self) -> bool {
        self.host.is_some() || self.path.is_some() || self.route.is_some()
    }
}

/// The request to explain, its arguments checked: what the page sends.
#[derive(Debug, Clone)]
pub struct Ask {
    /// As given to `--origin`; `decide` turns it into what browsers send.
    pub origin: String,
    /// As Fetch sends it (`get` is sent as `GET`).
    pub method: String,
    pub headers: Vec<PageHeader>,
    pub credentials: bool,
    /// The actual response's status, upstream's or the proxy's own.
    pub status: u16,
}

impl Ask {
    /// The page's request from the command line; Err names the argument
    /// that is not one.
    pub fn new(page: &PageRequest, status: u16) -> Result<Ask, Fatal> {
        let headers = fetch_check::parse_headers(&page.headers)?;
        if !(100..=599).contains(&status) {
            return Err(Fatal(format!("--status {status}: an HTTP status is 100 to 599")));
        }
        let method = fetch::normalise_method(&page.method);
        if !edge_cors_engine::token::is_token(method.as_bytes()) {
            return Err(Fatal(format!("--method {method:?} is not an HTTP method")));
        }
        Ok(Ask { origin: page.origin.clone(), method: method.to_string(), headers, credentials: page.credentials, status })
    }
}

/// What explain found.
pub enum Explained {
    /// The filter refuses the policy: check's findings, nothing explained.
    Refused(Box<Checked>),
    /// The matching rule has `"cors": "off"`: edge-cors does nothing.
    CorsOff(Selection),
    /// The request, the filter's answers and the browser's verdict.
    Request(Box<Explanation>),
}

/// Which policy applies to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The policy has no rules (`target_given`: --host, --path or --route
    /// were given anyway, and change nothing).
    NoRules { target_given: bool },
    /// No rule matches: the top level applies.
    Default { rules: usize, host: String, path: String, target_given: bool },
    /// `rules[index]` matches, as `how` says ("host a.test and path prefix /api/").
    Rule { index: usize, name: String, how: String },
}

impl Selection {
    /// The rule's name as the filter's record gives it (`default` for the top level).
    pub fn record_name(&self) -> &str {
        match self {
            Selection::Rule { name, .. } => name,
            _ => "default",
        }
    }
}

/// The preflight the browser sends and the answer it gets.
#[derive(Debug, Clone)]
pub struct PreflightExchange {
    /// `Access-Control-Request-Headers`, when the request has unsafe headers.
    pub request_headers: Option<String>,
    /// The engine's answer (with `x-edge-cors` when the policy debugs).
    pub response: Response,
}

/// The browser's verdict on the call, once the policy is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Allowed only if the origin service lists the origin: explain cannot
    /// see that list, so this is not a pass.
    AllowedIfListed,
    /// Blocked, and why (the engine's refusal, else the origin, else the
    /// first blocking check).
    Blocked {
        reason: String,
    },
}

/// Everything explain says about one request, decided.
pub struct Explanation {
    pub selection: Selection,
    /// The origin as browsers send it.
    pub origin: SentOrigin,
    /// Where the policy's live origins come from.
    pub live: Live,
    /// `"mode": "report"`: edge-cors changes nothing; what follows is what
    /// enforce mode would do.
    pub report: bool,
    pub method: String,
    pub credentials: bool,
    pub header_names: Vec<String>,
    pub need: PreflightNeed,
    pub origin_verdict: OriginVerdict,
    /// `allow_headers: *` and the request sends the header `*` never covers.
    pub wildcard_excluded: bool,
    pub status: u16,
    /// None when no preflight is needed.
    pub preflight: Option<PreflightExchange>,
    /// The actual response; None when the browser stops at a failed preflight.
    pub actual: Option<Response>,
    /// The browser's checks, preflight then actual.
    pub checks: Vec<Check>,
    pub verdict: Verdict,
}

impl Explanation {
    /// Whether the origin is allowed only once the origin service lists it.
    pub fn if_listed(&self) -> bool {
        self.origin_verdict.status == origin::OriginStatus::IfListed
    }

    /// The exit status: in report mode edge-cors decides nothing, so it is a
    /// pass; otherwise only a call the browser lets through for sure.
    pub fn ok(&self) -> bool {
        self.report || self.verdict == Verdict::Allowed
    }
}

impl Explained {
    pub fn ok(&self) -> bool {
        match self {
            Explained::Refused(_) => false,
            Explained::CorsOff(_) => true,
            Explained::Request(e) => e.ok(),
        }
    }
}

/// The selected policy, for `decide`.
struct Selected {
    spec: PolicySpec,
    selection: Selection,
}

/// `live_origins`: a saved answer of the policy's origin service.
pub fn run(path: &Path, page: &PageRequest, status: u16, target: &RouteTarget, live_origins: Option<&Path>) -> Result<Report, Fatal> {
    let style = Style::stdout();
    let ask = Ask::new(page, status)?;
    let name = path.display().to_string();
    let c = check::load_one(path, "explain takes one: put it in a file of its own")?;
    let explained = decide(&ask, c, target, live_origins)?;
    let stdout = text::render(&name, &explained, &style);
    Ok(Report { stdout, stderr: String::new(), ok: explained.ok() })
}
