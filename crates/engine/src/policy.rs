//! The compiled policy and the decision for one request.
//!
//! Everything that can be known before a request arrives (joined header
//! values, the origin lookup structures, whether answers depend on the
//! origin) is computed once here, so a decision is a few comparisons and
//! borrows, with no allocation beyond the reply's header list.

use std::borrow::Cow;

use crate::config::{self, ConfigErrors, Names, PolicySpec, SourceSpec};
use crate::live::LiveOrigins;
use crate::origins::OriginSet;
use crate::token;

/// Response header names, lower-case as HTTP/2 and Envoy carry them.
pub mod header {
    pub const ALLOW_ORIGIN: &str = "access-control-allow-origin";
    pub const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
    pub const ALLOW_METHODS: &str = "access-control-allow-methods";
    pub const ALLOW_HEADERS: &str = "access-control-allow-headers";
    pub const EXPOSE_HEADERS: &str = "access-control-expose-headers";
    pub const MAX_AGE: &str = "access-control-max-age";
    pub const ALLOW_PRIVATE_NETWORK: &str = "access-control-allow-private-network";
    pub const TIMING_ALLOW_ORIGIN: &str = "timing-allow-origin";
    pub const VARY: &str = "vary";
    pub const CONTENT_TYPE: &str = "content-type";
    /// The decision, on responses of `debug` policies. Only the filter
    /// writes it: an upstream's own is removed, so it cannot be forged.
    pub const DEBUG: &str = "x-edge-cors";
}

/// `Vary` on every preflight answer, allowed or not: the answer depends on all three.
pub const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
/// The same when `allow_private_network` is on: the answer then also
/// depends on `Access-Control-Request-Private-Network`.
pub const PREFLIGHT_VARY_PNA: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

/// What the request headers say, as raw bytes: header values are hostile
/// until proven otherwise. Fields the caller did not need to read stay None
/// (see [`Policy::decide`] for which are consulted when).
#[derive(Debug, Default, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a [u8],
    pub origin: Option<&'a [u8]>,
    pub request_method: Option<&'a [u8]>,
    pub request_headers: Option<&'a [u8]>,
    pub request_private_network: Option<&'a [u8]>,
    /// What routing reads (rules by host and path): `:authority`, `Host`
    /// (for hosts that leave `:authority` out of the list) and `:path`.
    pub authority: Option<&'a [u8]>,
    pub host: Option<&'a [u8]>,
    pub path: Option<&'a [u8]>,
    /// `Sec-Fetch-Site`, for `block_cross_origin_writes`.
    pub fetch_site: Option<&'a [u8]>,
}

impl<'a> Request<'a> {
    /// Picks the fields out of a request's header list (the first value of
    /// each; names compared case-insensitively, since not every host
    /// lower-cases them). One pass over one host buffer serves the decision
    /// and the routing, and is cheaper than a host call per header.
    pub fn from_headers(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Request<'a> {
        let mut req = Request::default();
        let mut method = None;
        for (name, value) in headers {
            let slot = if name.eq_ignore_ascii_case(b"origin") {
                &mut req.origin
            } else if name == b":method" {
                &mut method
            } else if name == b":authority" {
                &mut req.authority
            } else if name == b":path" {
                &mut req.path
            } else if name.eq_ignore_ascii_case(b"host") {
                &mut req.host
            } else if name.eq_ignore_ascii_case(b"sec-fetch-site") {
                &mut req.fetch_site
            } else if let Some(rest) = crate::token::strip_prefix_ignore_case(name, b"access-control-request-") {
                if rest.eq_ignore_ascii_case(b"method") {
                    &mut req.request_method
                } else if rest.eq_ignore_ascii_case(b"headers") {
                    &mut req.request_headers
                } else if rest.eq_ignore_ascii_case(b"private-network") {
                    &mut req.request_private_network
                } else {
                    continue;
                }
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        req.method = method.unwrap_or_default();
        req
    }

    /// A preflight is `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    pub fn is_preflight(&self) -> bool {
        self.origin.is_some() && self.request_method.is_some() && self.method == b"OPTIONS"
    }
}

/// The longest method or header name a 403 body repeats in full.
pub(crate) const MAX_DETAIL: usize = 64;

/// Which part of a preflight was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Origin,
    Method,
    Header,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Origin => "origin",
            Rejection::Method => "method",
            Rejection::Header => "header",
        }
    }

    /// The plain-text body of the 403, naming the part that failed and, for
    /// a method or header, the first one refused (`detail`, an HTTP token
    /// from the request; None when the request's value was not one).
    pub fn body(self, detail: Option<&str>) -> Cow<'static, str> {
        match (self, detail) {
            (Rejection::Origin, _) => Cow::Borrowed("CORS preflight rejected: origin not allowed\n"),
            (Rejection::Method, None) => Cow::Borrowed("CORS preflight rejected: method is not a valid token\n"),
            (Rejection::Header, None) => Cow::Borrowed("CORS preflight rejected: header list is malformed\n"),
            // A token is ASCII: cutting it at any byte is safe. Long ones are
            // cut so that a hostile request cannot make a large reply.
            (why, Some(name)) => {
                let (shown, more) = match name.get(..MAX_DETAIL) {
                    Some(cut) if name.len() > MAX_DETAIL => (cut, "..."),
                    _ => (name, ""),
                };
                let mut body = String::with_capacity(64 + shown.len());
                for part in ["CORS preflight rejected: ", why.as_str(), " \"", shown, more, "\" not allowed\n"] {
                    body.push_str(part);
                }
                Cow::Owned(body)
            }
        }
    }
}

/// Most headers a preflight answer carries (origin, credentials, methods,
/// headers, max-age, private network, vary).
const MAX_REPLY_HEADERS: usize = 8;

/// A preflight answer's headers, kept inline: answering a preflight does
/// not touch the heap (a value is owned only when a request list had to be
/// normalised before being echoed).
#[derive(Clone)]
pub struct ReplyHeaders<'a> {
    items: [(&'static str, Cow<'a, str>); MAX_REPLY_HEADERS],
    len: usize,
}

impl<'a> ReplyHeaders<'a> {
    fn new() -> ReplyHeaders<'a> {
        ReplyHeaders { items: std::array::from_fn(|_| ("", Cow::Borrowed(""))), len: 0 }
    }

    fn push(&mut self, name: &'static str, value: impl Into<Cow<'a, str>>) {
        let value = value.into();
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
    }
}

impl<'a> std::ops::Deref for ReplyHeaders<'a> {
    type Target = [(&'static str, Cow<'a, str>)];

    fn deref(&self) -> &Self::Target {
        self.items.get(..self.len).unwrap_or(&[])
    }
}

impl PartialEq for ReplyHeaders<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ReplyHeaders<'_> {}

impl std::fmt::Debug for ReplyHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The filter's own answer to a preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightReply<'a> {
    pub status: u32,
    pub headers: ReplyHeaders<'a>,
    pub body: Cow<'static, str>,
    pub rejected: Option<Rejection>,
    /// The first method or header refused, when it is a token (for logs).
    pub detail: Option<&'a str>,
}

/// What to do with a request that goes to the upstream, decided now and
/// applied to whatever response comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// No `Origin`: not a CORS request.
    NoOrigin,
    /// An origin the policy does not allow: the response carries no CORS headers.
    Denied,
    /// An allowed origin: the response gets the CORS headers.
    Allowed,
}

// The reply is inline on purpose (no heap when answering a preflight); a
// Decision lives on the stack for one callback.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Answer locally; never forward.
    Preflight(PreflightReply<'a>),
    Forward(Forward),
}

/// An allow-list compiled for the request path.
#[derive(Debug)]
enum Allowed {
    Any,
    List { names: Vec<Box<str>>, joined: Box<str> },
}

impl Allowed {
    fn new(names: Names) -> Allowed {
        match names {
            Names::Any => Allowed::Any,
            Names::List(names) => {
                let joined = names.join(", ").into_boxed_str();
                Allowed::List { names: names.into_iter().map(String::into_boxed_str).collect(), joined }
            }
        }
    }
}

/// A validated, precomputed CORS policy.
#[derive(Debug)]
pub struct Policy {
    origins: OriginSet,
    methods: Allowed,
    headers: Allowed,
    expose: Option<Box<str>>,
    max_age: Option<Box<str>>,
    credentials: bool,
    private_network: bool,
    timing: bool,
    preflight_status: u32,
    debug: bool,
    /// `*` without credentials: every answer is the same whatever the
    /// origin, so responses get `*` and no `Vary: Origin`.
    public: bool,
    /// `allow_origins_from`, with the set fetched last and the flags its
    /// answers are checked under.
    source: Option<Source>,
    /// `block_cross_origin_writes` (see `writes`).
    pub(crate) block_writes: bool,
}

/// A policy's origin source and the origins it gave.
#[derive(Debug)]
pub struct Source {
    pub spec: SourceSpec,
    pub live: LiveOrigins,
    pub insecure: bool,
}

impl Policy {
    /// Parses, validates and compiles a plugin configuration.
    pub fn from_json(bytes: &[u8]) -> Result<Policy, ConfigErrors> {
        config::parse(bytes).map(Policy::new)
    }

    pub fn new(spec: PolicySpec) -> Policy {
        let origins = OriginSet::new(&spec.origins);
        let spec_insecure = spec.insecure;
        let public = origins.allows_any() && !spec.credentials;
        let expose = match spec.expose {
            Names::Any => Some("*".into()),
            Names::List(l) if l.is_empty() => None,
            Names::List(l) => Some(l.join(", ").into_boxed_str()),
        };
        Policy {
            origins,
            methods: Allowed::new(spec.methods),
            headers: Allowed::new(spec.headers),
            expose,
            max_age: spec.max_age.map(|s| s.to_string().into_boxed_str()),
            credentials: spec.credentials,
            private_network: spec.private_network,
            timing: spec.timing,
            preflight_status: u32::from(spec.preflight_status),
            debug: spec.debug,
            public,
            source: spec.source.map(|spec| Source { spec, live: LiveOrigins::default(), insecure: spec_insecure }),
            block_writes: spec.block_writes,
        }
    }

    /// Whether answers depend on the request's origin, so caches must key on it.
    pub fn varies_by_origin(&self) -> bool {
        !self.public
    }

    /// Whether `Access-Control-Allow-Origin` is `*` (so forwarded requests
    /// need not remember their origin).
    pub fn is_public(&self) -> bool {
        self.public
    }

    pub fn allows_origin(&self, origin: &[u8]) -> bool {
        std::str::from_utf8(origin).is_ok_and(|o| self.allows_origin_str(o)) || self.origins.allows_any()
    }

    /// The static list first, then the live one (the union).
    pub fn allows_origin_str(&self, origin: &str) -> bool {
        self.origins.allows_str(origin) || self.source.as_ref().is_some_and(|s| s.live.allows_str(origin))
    }

    /// `allow_origins_from`, if the policy has one.
    pub fn source(&self) -> Option<&Source> {
        self.source.as_ref()
    }

    pub fn expose_headers(&self) -> Option<&str> {
        self.expose.as_deref()
    }

    pub fn allows_credentials(&self) -> bool {
        self.credentials
    }

    /// Whether preflights may be answered `Access-Control-Allow-Private-Network: true`.
    pub fn allows_private_network(&self) -> bool {
        self.private_network
    }

    /// Whether responses carry the decision in `x-edge-cors` (development).
    pub fn debug(&self) -> bool {
        self.debug
    }

    /// Whether actual responses carry `Timing-Allow-Origin`.
    pub fn timing_allow_origin(&self) -> bool {
        self.timing
    }

    /// The `Vary` of every preflight answer under this policy.
    fn preflight_vary(&self) -> &'static str {
        if self.private_network {
            PREFLIGHT_VARY_PNA
        } else {
            PREFLIGHT_VARY
        }
    }

    /// The decision for a request. Consults `method` only when `origin` is
    /// present, `request_method` only for `OPTIONS`, and the other
    /// `Access-Control-Request-*` fields only for preflights, so a caller may
    /// read headers lazily in that order.
    pub fn decide<'a>(&'a self, req: &Request<'a>) -> Decision<'a> {
        let Some(origin) = req.origin else {
            return Decision::Forward(if self.public { Forward::Allowed } else { Forward::NoOrigin });
        };
        if req.is_preflight() {
            return Decision::Preflight(self.preflight(origin, req));
        }
        Decision::Forward(if self.allows_origin(origin) { Forward::Allowed } else { Forward::Denied })
    }

    fn preflight<'a>(&'a self, origin: &'a [u8], req: &Request<'a>) -> PreflightReply<'a> {
        let allow_origin = if self.public { Some("*") } else { std::str::from_utf8(origin).ok().filter(|o| self.allows_origin_str(o)) };
        let Some(allow_origin) = allow_origin else {
            return self.rejected(Rejection::Origin, None);
        };
        let method = req.request_method.unwrap_or_default();
        let Some(allow_methods) = self.check_method(method) else {
            let detail = token::as_token(method);
            return self.rejected(Rejection::Method, detail);
        };
        let requested = req.request_headers.unwrap_or_default();
        let allow_headers = match self.check_headers(requested) {
            Ok(h) => h,
            Err(refused) => return self.rejected(Rejection::Header, refused),
        };

        let mut headers = ReplyHeaders::new();
        headers.push(header::ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            headers.push(header::ALLOW_CREDENTIALS, "true");
        }
        headers.push(header::ALLOW_METHODS, allow_methods);
        if let Some(h) = allow_headers {
            headers.push(header::ALLOW_HEADERS, h);
        }
        if let Some(age) = &self.max_age {
            headers.push(header::MAX_AGE, &**age);
        }
        let pna_requested = req.request_private_network.is_some_and(|v| token::trim(v).eq_ignore_ascii_case(b"true"));
        if pna_requested && self.private_network {
            headers.push(header::ALLOW_PRIVATE_NETWORK, "true");
        }
        headers.push(header::VARY, self.preflight_vary());
        PreflightReply { status: self.preflight_status, headers, body: Cow::Borrowed(""), rejected: None, detail: None }
    }

    fn rejected<'a>(&self, why: Rejection, detail: Option<&'a str>) -> PreflightReply<'a> {
        let mut headers = ReplyHeaders::new();
        headers.push(header::VARY, self.preflight_vary());
        headers.push(header::CONTENT_TYPE, "text/plain; charset=utf-8");
        PreflightReply { status: 403, headers, body: why.body(detail), rejected: Some(why), detail }
    }

    /// The `Access-Control-Allow-Methods` value if the requested method is allowed.
    fn check_method<'a>(&'a self, method: &'a [u8]) -> Option<&'a str> {
        if !token::is_token(method) {
            return None;
        }
        let method_str = std::str::from_utf8(method).ok()?;
        match &self.methods {
            // With credentials browsers read `*` literally: name the method.
            Allowed::Any if self.credentials => Some(method_str),
            Allowed::Any => Some("*"),
            Allowed::List { names, joined } => {
                let listed = names.iter().any(|n| n.as_bytes() == method);
                (listed || crate::fetch::is_safelisted_method(method)).then_some(&**joined)
            }
        }
    }

    /// `Ok(value)` when every requested header is allowed, where value is
    /// the `Access-Control-Allow-Headers` to send (None when none were
    /// requested); `Err` with the first refused name (None: not a token).
    fn check_headers<'a>(&'a self, requested: &'a [u8]) -> Result<Option<Cow<'a, str>>, Option<&'a str>> {
        let mut any = false;
        for name in token::list_elements(requested) {
            let Some(name) = token::as_token(name) else {
                return Err(None);
            };
            if let Allowed::List { names, .. } = &self.headers {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    return Err(Some(name));
                }
            }
            any = true;
        }
        if !any {
            return Ok(None);
        }
        match &self.headers {
            // Answer with the requested names: the Fetch standard's `*` never
            // covers Authorization, and with credentials it is not a wildcard.
            // The value was just checked to be a list of tokens.
            Allowed::Any => Ok(Some(token::normalised_list(requested))),
            Allowed::List { joined, .. } => Ok(Some(Cow::Borrowed(joined))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_from_a_header_list() {
        let headers: [(&[u8], &[u8]); 8] = [
            (b":authority", b"api.example.com"),
            (b":method", b"OPTIONS"),
            (b"Origin", b"https://a.example"),
            (b"origin", b"https://second.example"),
            (b"access-control-request-method", b"PUT"),
            (b"Access-Control-Request-Headers", b"x-a"),
            (b"access-control-request-private-network", b"true"),
            (b"access-control-request-other", b"ignored"),
        ];
        let req = Request::from_headers(headers);
        assert_eq!(req.method, b"OPTIONS");
        assert_eq!(req.origin, Some(&b"https://a.example"[..]), "the first value wins");
        assert_eq!(req.request_method, Some(&b"PUT"[..]));
        assert_eq!(req.request_headers, Some(&b"x-a"[..]));
        assert_eq!(req.request_private_network, Some(&b"true"[..]));
        assert_eq!((req.authority, req.host, req.path), (Some(&b"api.example.com"[..]), None, None));
        let routed = Request::from_headers([
            (&b"Host"[..], &b"h.example"[..]),
            (b":path", b"/p?q"),
            (b"host", b"second.example"),
            (b":path", b"/second"),
        ]);
        assert_eq!((routed.authority, routed.host, routed.path), (None, Some(&b"h.example"[..]), Some(&b"/p?q"[..])));
        assert!(req.is_preflight());
        let none = Request::from_headers([(&b":method"[..], &b"GET"[..])]);
        assert_eq!((none.origin, none.request_method), (None, None));
        assert!(!Request::from_headers([]).is_preflight());
    }
}
