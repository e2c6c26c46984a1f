//! HTTP as RFC 9110 writes it (tokens, list elements), and a message's
//! headers as the judges read them: a list of (name, value) pairs, names in
//! any case, a name possibly repeated.

use edge_cors_engine::PreflightReply;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

pub fn ows_trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Elements of a comma-separated list, empty ones skipped (RFC 9110 5.6.1).
pub fn elements(v: &[u8]) -> Vec<&[u8]> {
    v.split(|&b| b == b',').map(ows_trim).filter(|e| !e.is_empty()).collect()
}

pub type Headers = Vec<(Vec<u8>, Vec<u8>)>;

pub fn values<'h>(headers: &'h Headers, name: &str) -> Vec<&'h [u8]> {
    headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice()).collect()
}

pub fn cors_names(headers: &Headers) -> Vec<String> {
    headers.iter().map(|(n, _)| String::from_utf8_lossy(n).to_ascii_lowercase()).filter(|n| n.starts_with("access-control-")).collect()
}

pub fn reply_headers(reply: &PreflightReply<'_>) -> Headers {
    reply.headers.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
}
