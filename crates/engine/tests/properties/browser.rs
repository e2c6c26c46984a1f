//! A browser, as the Fetch standard judges a response: the CORS check
//! (allow-origin, allow-credentials) and the CORS-preflight fetch (status,
//! methods, header names, the `*` and `Authorization` rules).

use crate::http::{elements, is_token, values, Headers};

pub const SAFELISTED_METHODS: [&str; 3] = ["GET", "HEAD", "POST"];

/// The request a browser is about to make, as its preflight describes it.
#[derive(Debug, Clone)]
pub struct Browser {
    pub origin: Vec<u8>,
    pub method: Vec<u8>,
    /// The CORS-unsafe request-header names (lower case).
    pub headers: Vec<Vec<u8>>,
    pub credentials: bool,
}

/// "Extracting header list values": absent is an empty list, a non-token
/// element is a failure.
fn extract_list(headers: &Headers, name: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for v in values(headers, name) {
        for e in elements(v) {
            if !is_token(e) {
                return Err(format!("{name} has a non-token element {:?}", String::from_utf8_lossy(e)));
            }
            out.push(e.to_vec());
        }
    }
    Ok(out)
}

impl Browser {
    /// Fetch's CORS check, on any response.
    pub fn cors_check(&self, headers: &Headers) -> Result<(), String> {
        let acao = values(headers, "access-control-allow-origin");
        let [origin] = acao.as_slice() else {
            return Err(format!("{} Access-Control-Allow-Origin values", acao.len()));
        };
        if !self.credentials && *origin == b"*" {
            return Ok(());
        }
        if *origin != self.origin.as_slice() {
            return Err(format!("Access-Control-Allow-Origin {:?} is not the page's origin", String::from_utf8_lossy(origin)));
        }
        if !self.credentials {
            return Ok(());
        }
        match values(headers, "access-control-allow-credentials").as_slice() {
            [b"true"] => Ok(()),
            other => Err(format!("credentialed request without Access-Control-Allow-Credentials: true ({other:?})")),
        }
    }

    /// Fetch's CORS-preflight fetch, from the response on.
    pub fn accepts_preflight(&self, status: u32, headers: &Headers) -> Result<(), String> {
        if !(200..=299).contains(&status) {
            return Err(format!("status {status} is not ok"));
        }
        self.cors_check(headers)?;
        let methods = extract_list(headers, "access-control-allow-methods")?;
        let names = extract_list(headers, "access-control-allow-headers")?;
        let star = |l: &[Vec<u8>]| l.iter().any(|e| e == b"*");
        let safelisted = SAFELISTED_METHODS.iter().any(|m| m.as_bytes() == self.method);
        if !methods.contains(&self.method) && !safelisted && (self.credentials || !star(&methods)) {
            return Err(format!("method {:?} not in Access-Control-Allow-Methods", String::from_utf8_lossy(&self.method)));
        }
        let listed = |h: &[u8]| names.iter().any(|n| n.eq_ignore_ascii_case(h));
        // The CORS non-wildcard request-header name: `*` never covers it.
        if self.headers.iter().any(|h| h.eq_ignore_ascii_case(b"authorization")) && !listed(b"authorization") {
            return Err("Authorization not named in Access-Control-Allow-Headers".into());
        }
        for h in &self.headers {
            if !listed(h) && (self.credentials || !star(&names)) {
                return Err(format!("header {:?} not in Access-Control-Allow-Headers", String::from_utf8_lossy(h)));
            }
        }
        Ok(())
    }
}
