//! Hosts and ports: the one place that splits `host:port` (a bracketed
//! IPv6 host kept whole), reads a port and checks a host's bytes, for the
//! engine's entries, requests and rules and for the command line alike.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `host[:port]` split where a URL parser would split it: a bracketed IPv6
/// host is kept whole (`[::1]:8080` is `[::1]` and `8080`, `[::1]` has no
/// port), else the port is after the last colon. The port is text, checked
/// with [`port_number`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort<'a> {
    pub host: &'a str,
    pub port: Option<&'a str>,
}

/// Splits `authority` (`host`, `host:port`, `[v6]`, `[v6]:port`); an
/// unclosed bracket or bytes after `]` other than `:port` is an error
/// saying which.
pub fn split_host_port(authority: &str) -> Result<HostPort<'_>, &'static str> {
    if authority.starts_with('[') {
        let Some(end) = authority.find(']') else {
            return Err("has an unclosed IPv6 bracket");
        };
        let (host, tail) = authority.split_at(end + 1);
        return match tail {
            "" => Ok(HostPort { host, port: None }),
            t => match t.strip_prefix(':') {
                Some(port) => Ok(HostPort { host, port: Some(port) }),
                None => Err("has junk after the IPv6 address"),
            },
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => HostPort { host, port: Some(port) },
        None => HostPort { host: authority, port: None },
    })
}

/// A port as clients write it: 1 to 65535 in decimal, no sign, no leading
/// zero, nothing else (`08443`, `+1`, `` and `65536` are not ports).
pub fn port_number(text: &str) -> Option<u16> {
    let canonical = !text.is_empty() && text.len() <= 5 && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit());
    text.parse::<u16>().ok().filter(|&p| canonical && p != 0)
}

/// `localhost`, 127.0.0.0/8, `[::1]`, and 127.0.0.0/8 written as an
/// IPv4-mapped IPv6 address (`[::ffff:7f00:1]`): traffic to any of them
/// never leaves the machine.
pub(super) fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// A DNS name as browsers serialise it: lower-case LDH labels (underscores
/// tolerated), no empty label, and not all-numeric at the end (that would be
/// an IPv4 address to a URL parser).
pub(super) fn is_domain(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let mut last = "";
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return false;
        }
        last = label;
    }
    !last.bytes().all(|b| b.is_ascii_digit())
}

/// An IPv6 address as the WHATWG URL standard serialises it: eight
/// lower-case hex pieces without leading zeros, the first longest run of two
/// or more zero pieces compressed to `::`, and never a dotted quad (so an
/// IPv4-mapped address is `::ffff:7f00:1`, where Rust prints `::ffff:127.0.0.1`).
pub fn whatwg_ipv6(ip: Ipv6Addr) -> String {
    let pieces = ip.segments();
    // The first longest run of zero pieces, if two or more long.
    let (mut best, mut best_len, mut run, mut run_len) = (usize::MAX, 1, 0, 0);
    for (i, p) in pieces.iter().enumerate() {
        if *p == 0 {
            if run_len == 0 {
                run = i;
            }
            run_len += 1;
            if run_len > best_len {
                best = run;
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    let mut out = String::with_capacity(41);
    let mut i = 0;
    while let Some(p) = pieces.get(i) {
        if i == best {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        push_hex(&mut out, *p);
        if i + 1 < pieces.len() {
            out.push(':');
        }
        i += 1;
    }
    out
}

/// A u16 in lower-case hex without leading zeros (no formatting machinery).
fn push_hex(out: &mut String, n: u16) {
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (n >> shift) & 0xf;
        if d != 0 || started || shift == 0 {
            started = true;
            out.push(char::from_digit(u32::from(d), 16).unwrap_or('0'));
        }
    }
}

/// The host as a browser would serialise it, or None when it is not a host.
pub(super) fn canonical_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| format!("[{}]", whatwg_ipv6(ip)));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().ok().map(|ip| ip.to_string());
    }
    is_domain(host).then(|| host.to_string())
}

/// Whether `prefix` (the part of a host before `.base`) is one or more
/// well-formed labels.
pub(super) fn is_label_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}
