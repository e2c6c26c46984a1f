//! The request side: an `Origin` value as browsers and app shells send it.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::entry::{app_origin, OriginEntry, Scheme};
use super::host::{is_label_prefix, port_number, split_host_port, whatwg_ipv6, HostPort};

/// A browser-serialised http(s) origin split into its
/// parts, or None. Rejects anything a browser would not send (default
/// ports, upper case, empty labels, IPv6 not in WHATWG form, stray bytes),
/// so it can be echoed back safely. Labels may start or end with `-`:
/// browsers send such hosts, and a pattern matches them like any other.
pub fn parse_request_origin(origin: &str) -> Option<(Scheme, &str, Option<u16>)> {
    let (scheme, rest) = Scheme::split(origin)?;
    let HostPort { host, port } = split_host_port(rest).ok()?;
    let port = match port {
        None => None,
        Some(p) => Some(port_number(p)?),
    };
    if host.is_empty() || port == Some(scheme.default_port()) {
        return None;
    }
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => inner.parse::<Ipv6Addr>().is_ok_and(|ip| whatwg_ipv6(ip) == inner),
        None => match host.parse::<Ipv4Addr>() {
            // Canonical dotted quad: no leading zeros (`Ipv4Addr` already
            // refuses them, and any other form).
            Ok(_) => true,
            // Not an IPv4 address: the last label must not be all digits
            // (a URL parser would read it as one).
            Err(_) => {
                let last = host.bytes().rposition(|b| b == b'.').map_or(host, |dot| host.get(dot + 1..).unwrap_or(""));
                host.len() <= 253 && is_label_prefix(host) && !last.bytes().all(|b| b.is_ascii_digit())
            }
        },
    };
    host_ok.then_some((scheme, host, port))
}

/// Whether a request's `Origin` value is one a browser or app shell could
/// send (the form `explain` and `probe` accept): `null`, an http(s) origin
/// as [`parse_request_origin`] reads it, or an exact origin of an app scheme.
pub fn is_request_origin(origin: &str) -> bool {
    origin == "null"
        || parse_request_origin(origin).is_some()
        || app_origin(origin).is_some_and(|e| e.is_ok_and(|e| OriginEntry::Exact(origin.to_string()) == e))
}
