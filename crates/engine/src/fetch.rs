//! The WHATWG Fetch standard's facts that CORS decisions rest on, in one
//! place for the engine and the command line: which methods browsers
//! normalise and never preflight, which request headers are safelisted, and
//! which response headers belong to the CORS protocol.

/// Fetch upper-cases these methods (case-insensitively) before sending or
/// comparing them; every other method is sent exactly as written, so
/// `patch` and `PATCH` are different methods.
pub const NORMALISED_METHODS: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/// CORS-safelisted methods: a browser never asks permission for them, and
/// the default of `allow_methods`.
pub const SAFELISTED_METHODS: [&str; 3] = ["GET", "HEAD", "POST"];

/// Request headers that are CORS-safelisted whatever their value (within
/// Fetch's value limits); `content-type` is safelisted only with one of
/// [`SAFELISTED_CONTENT_TYPES`].
pub const SAFELISTED_HEADERS: [&str; 3] = ["accept", "accept-language", "content-language"];

/// The `content-type` essences that keep a request simple.
pub const SAFELISTED_CONTENT_TYPES: [&str; 3] = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/// Response headers a page's script can read from any CORS response
/// (Fetch's CORS-safelisted response-header names); any other must be
/// listed in `Access-Control-Expose-Headers`.
pub const SAFELISTED_RESPONSE_HEADERS: [&str; 7] =
    ["cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma"];

/// Response headers that `Access-Control-Expose-Headers: *` never exposes
/// (Fetch's forbidden response-header names).
pub const FORBIDDEN_RESPONSE_HEADERS: [&str; 2] = ["set-cookie", "set-cookie2"];

/// The one request header that `Access-Control-Allow-Headers: *` never
/// covers: a preflight asking for it needs it named.
pub const WILDCARD_EXCLUDED_HEADER: &str = "authorization";

/// The prefix of every header of the CORS protocol, requests and responses.
pub const ACCESS_CONTROL_PREFIX: &[u8] = b"access-control-";

/// A method as the browser sends it: one of [`NORMALISED_METHODS`] in upper
/// case, any other as written.
pub fn normalise_method(method: &str) -> &str {
    NORMALISED_METHODS.iter().find(|m| m.eq_ignore_ascii_case(method)).copied().unwrap_or(method)
}

/// Whether a browser sends this method without a preflight.
pub fn is_safelisted_method(method: &[u8]) -> bool {
    SAFELISTED_METHODS.iter().any(|m| m.as_bytes() == method)
}

/// Whether a header name belongs to the CORS protocol (`Access-Control-*`,
/// any case).
pub fn is_access_control(name: &[u8]) -> bool {
    crate::token::strip_prefix_ignore_case(name, ACCESS_CONTROL_PREFIX).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        let cases = [
            ("get", "GET"),
            ("Delete", "DELETE"),
            ("options", "OPTIONS"),
            ("patch", "patch"),
            ("PATCH", "PATCH"),
            ("x-Custom", "x-Custom"),
        ];
        for (sent, want) in cases {
            assert_eq!(normalise_method(sent), want, "{sent}");
        }
        for m in ["GET", "HEAD", "POST"] {
            assert!(is_safelisted_method(m.as_bytes()), "{m}");
        }
        for m in ["get", "PUT", "OPTIONS", "PATCH", ""] {
            assert!(!is_safelisted_method(m.as_bytes()), "{m}");
        }
    }

    #[test]
    fn access_control_names() {
        for n in ["access-control-allow-origin", "Access-Control-Max-Age", "ACCESS-CONTROL-X", "access-control-"] {
            assert!(is_access_control(n.as_bytes()), "{n}");
        }
        for n in ["access-control", "vary", "x-access-control-allow-origin", "", "timing-allow-origin"] {
            assert!(!is_access_control(n.as_bytes()), "{n}");
        }
    }
}
