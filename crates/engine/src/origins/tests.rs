//! The origin forms, matching and request parsing, case by case.

use std::net::Ipv6Addr;

use super::*;

fn exact(s: &str) -> OriginEntry {
    OriginEntry::Exact(s.to_string())
}

#[test]
fn entries_are_normalised() {
    let cases = [
        ("https://App.Example.COM", exact("https://app.example.com")),
        ("https://app.example.com:443", exact("https://app.example.com")),
        ("http://app.example.com:80", exact("http://app.example.com")),
        ("https://app.example.com:8443", exact("https://app.example.com:8443")),
        ("http://localhost:3000", exact("http://localhost:3000")),
        ("http://127.0.0.1:8080", exact("http://127.0.0.1:8080")),
        ("http://[0:0:0:0:0:0:0:1]:8080", exact("http://[::1]:8080")),
        ("http://[::ffff:127.0.0.1]", exact("http://[::ffff:7f00:1]")),
        ("http://[::FFFF:7F00:1]:8080", exact("http://[::ffff:7f00:1]:8080")),
        ("https://[2001:DB8:0:0:1:0:0:1]", exact("https://[2001:db8::1:0:0:1]")),
        ("https://[::]", exact("https://[::]")),
        ("https://[1::]", exact("https://[1::]")),
        ("chrome-extension://AbCdEfGhIjKlMnOpAbCdEfGhIjKlMnOp", exact("chrome-extension://abcdefghijklmnopabcdefghijklmnop")),
        ("moz-extension://0a1b2c3d-4e5f-6789-abcd-ef0123456789", exact("moz-extension://0a1b2c3d-4e5f-6789-abcd-ef0123456789")),
        ("safari-web-extension://0A1B2C3D-4E5F", exact("safari-web-extension://0a1b2c3d-4e5f")),
        ("capacitor://localhost", exact("capacitor://localhost")),
        ("ionic://localhost", exact("ionic://localhost")),
        ("tauri://localhost", exact("tauri://localhost")),
        ("http://localhost:*", OriginEntry::ExactAnyPort("http://localhost".into())),
        ("https://App.example.com:*", OriginEntry::ExactAnyPort("https://app.example.com".into())),
        ("http://[::1]:*", OriginEntry::ExactAnyPort("http://[::1]".into())),
        ("https://*.example.com:*", OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: Port::Any }),
        ("*", OriginEntry::Any),
        ("null", OriginEntry::Null),
        ("https://*", OriginEntry::AnyOfScheme(Scheme::Https)),
        ("http://*", OriginEntry::AnyOfScheme(Scheme::Http)),
        ("https://*.Example.com", OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: Port::Default }),
        ("https://*.example.com:443", OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: Port::Default }),
        ("http://*.example.com:8080", OriginEntry::Subdomains { scheme: Scheme::Http, base: "example.com".into(), port: Port::Is(8080) }),
    ];
    for (raw, want) in cases {
        assert_eq!(OriginEntry::parse(raw), Ok(want), "{raw}");
    }
}

#[test]
fn non_origins_are_refused_with_a_fix() {
    let cases = [
        ("https://app.example.com/", "trailing slash", "\"https://app.example.com\""),
        ("https://app.example.com/path", "no path", "\"https://app.example.com\""),
        ("https://app.example.com?q", "query", "\"https://app.example.com\""),
        ("https://user@app.example.com", "user information", "user:password@"),
        ("ftp://app.example.com", "https:// or http://", "https://app.example.com"),
        ("app.example.com", "https:// or http://", "https://app.example.com"),
        ("https://app.example.com:0", "invalid port", "1 to 65535"),
        ("https://app.example.com:99999", "invalid port", "1 to 65535"),
        ("https://app.example.com:8a", "invalid port", "1 to 65535"),
        ("https://app.example.com:", "invalid port", "1 to 65535"),
        ("https://*.com", "top-level domain", "*.example.com"),
        ("https://*.*.example.com", "more than one wildcard", "single leading"),
        ("https://app*.example.com", "not the whole leftmost label", "*.example.com"),
        ("https://a..b.com", "invalid host", "domain name"),
        ("https://bücher.example", "non-ASCII", "punycode"),
        (" https://app.example.com", "whitespace", "\"https://app.example.com\""),
        ("https://", "no host", "port"),
        ("https://[::1", "unclosed IPv6", "port"),
        ("https://999.1.1.1", "invalid host", "IPv4"),
        ("https://a.example.com:8443:*", "two ports", ":*"),
        ("https://a.example.com:443:*", "two ports", ":*"),
        ("http://*.example.com:80:*", "two ports", ":*"),
        ("https://a.example.com:*:*", "invalid port", "or *"),
        ("https://*.example.com:*x", "invalid port", "or *"),
        ("chrome-extension://*", "not a chrome-extension:// origin", "<extension-id>"),
        ("capacitor://localhost:8080", "not a capacitor:// origin", "\"capacitor://localhost\""),
        ("tauri://", "not a tauri:// origin", "localhost"),
        ("chrome-extension://abc/", "not a chrome-extension:// origin", "<extension-id>"),
        ("file://", "https:// or http://", "https://app.example.com"),
    ];
    for (raw, problem, fix) in cases {
        let err = OriginEntry::parse(raw).expect_err(raw);
        assert!(err.problem.contains(problem), "{raw}: problem {:?}", err.problem);
        assert!(err.fix.contains(fix), "{raw}: fix {:?}", err.fix);
    }
}

#[test]
fn loopback_detection() {
    for o in [
        "http://localhost:3000",
        "http://127.0.0.1",
        "http://127.9.9.9:1",
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]",
        "http://[::ffff:7f01:203]:1",
        "http://localhost:*",
    ] {
        assert!(OriginEntry::parse(o).map(|e| e.is_loopback()).unwrap_or(false), "{o}");
    }
    for o in [
        "http://example.com",
        "http://10.0.0.1",
        "http://localhost.evil.com",
        "http://*.localhost.dev",
        "http://[::ffff:a00:1]",
        "http://[::2]",
    ] {
        assert!(!OriginEntry::parse(o).map(|e| e.is_loopback()).unwrap_or(true), "{o}");
    }
}

fn set(entries: &[&str]) -> OriginSet {
    let parsed: Vec<OriginEntry> = entries.iter().map(|e| OriginEntry::parse(e).unwrap_or_else(|err| panic!("{e}: {err:?}"))).collect();
    OriginSet::new(&parsed)
}

#[test]
fn matching() {
    let s = set(&["https://app.example.com", "https://*.example.com", "http://*.dev.test:8080", "null"]);
    let allowed = [
        "https://app.example.com",
        "https://a.example.com",
        "https://a.b.c.example.com",
        "https://x_y.example.com",
        "http://a.dev.test:8080",
        "null",
    ];
    let refused = [
        "https://example.com",           // the base itself
        "https://evilexample.com",       // no dot boundary
        "https://example.com.evil.test", // suffix must be at the end
        "http://a.example.com",          // other scheme
        "https://a.example.com:8443",    // other port
        "https://a.example.com:443",     // not canonical
        "https://A.example.com",         // not canonical
        "https://.example.com",          // empty label
        "https://a..example.com",        // empty label
        "https://a.example.com.",        // trailing dot
        "https://a.example.com/",        // not an origin
        "http://a.dev.test",             // pattern has a port
        "http://a.dev.test:08080",       // leading zero
        "https://app.example.com ",      // trailing space
        "NULL",
        "",
        "*",
    ];
    for o in allowed {
        assert!(s.allows(o.as_bytes()), "{o} should be allowed");
    }
    for o in refused {
        assert!(!s.allows(o.as_bytes()), "{o} should be refused");
    }
    assert!(!s.allows(b"https://\xff.example.com"));
}

#[test]
fn wildcards() {
    let any = set(&["*"]);
    for o in ["https://x.test", "null", "http://localhost:1"] {
        assert!(any.allows(o.as_bytes()));
    }
    let https = set(&["https://*"]);
    assert!(https.allows(b"https://anything.test"));
    assert!(https.allows(b"https://[::1]:8443"));
    assert!(!https.allows(b"http://anything.test"));
    assert!(!https.allows(b"null"), "null is never matched by a pattern");
    assert!(!https.allows(b"https://"));
    assert!(!https.allows(b"https://a b"));
    let sub = set(&["https://*.example.com"]);
    assert!(!sub.allows(b"null"));
}

/// Every entry shows as the canonical text it parses back from.
#[test]
fn display_round_trips() {
    for raw in [
        "*",
        "null",
        "https://*",
        "https://a.example:8443",
        "http://localhost:*",
        "https://*.example.com:*",
        "http://*.example.com:8080",
        "https://*.example.com",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        "http://[::ffff:7f00:1]",
    ] {
        let e = OriginEntry::parse(raw).unwrap_or_else(|err| panic!("{raw}: {err:?}"));
        assert_eq!(e.to_string(), raw);
        assert_eq!(OriginEntry::parse(&e.to_string()), Ok(e));
    }
}

/// WHATWG URL "IPv6 serializer" cases: hex only, first longest zero run.
#[test]
fn ipv6_in_whatwg_form() {
    let cases = [
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("::1", "::1"),
        ("::", "::"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("2001:db8::", "2001:db8::"),
        ("::127.0.0.1", "::7f00:1"),
        ("fe80::0abc", "fe80::abc"),
    ];
    for (input, want) in cases {
        let ip: Ipv6Addr = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(whatwg_ipv6(ip), want, "{input}");
    }
}

#[test]
fn request_origins_as_browsers_send_them() {
    for o in [
        "https://-a.example.com",
        "https://a-.example.com",
        "https://x_y.example.com",
        "http://[::ffff:7f00:1]:8080",
        "http://127.0.0.1",
        "null",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        "capacitor://localhost",
    ] {
        assert!(is_request_origin(o), "{o} refused");
    }
    for o in [
        "https://A.example.com",
        "https://a.example.com:443",
        "http://[::ffff:127.0.0.1]",
        "http://[0::1]",
        "https://a..b",
        "https://a.example.com/",
        "https://1.2.3",
        "http://127.000.0.1",
        "ftp://a.example",
        "chrome-extension://a/b",
        "Null",
    ] {
        assert!(!is_request_origin(o), "{o} accepted");
    }
}

#[test]
fn port_wildcards_and_app_origins_match() {
    let s = set(&["http://localhost:*", "https://*.example.com:*", "http://[::1]:*", "capacitor://localhost", "http://[::ffff:127.0.0.1]"]);
    for o in [
        "http://localhost",
        "http://localhost:3000",
        "http://localhost:65535",
        "https://a.example.com",
        "https://a.b.example.com:8443",
        "http://[::1]",
        "http://[::1]:5173",
        "capacitor://localhost",
        "http://[::ffff:7f00:1]",
        "https://-a.example.com:1",
    ] {
        assert!(s.allows(o.as_bytes()), "{o} should be allowed");
    }
    for o in [
        "https://localhost:3000",
        "http://localhost:03000",
        "http://localhost:0",
        "http://localhost:80",
        "http://localhost:",
        "http://localhost.evil:3000",
        "https://example.com:8443",
        "http://a.example.com:8443",
        "https://a.example.com:443",
        "http://[::1]:x",
        "http://[::2]",
        "capacitor://localhost:1",
        "ionic://localhost",
        "http://[::ffff:127.0.0.1]",
    ] {
        assert!(!s.allows(o.as_bytes()), "{o} should be refused");
    }
}

#[test]
fn exact_only_sets_do_not_parse() {
    // An exact-only policy needs one hash probe; hostile bytes never reach a parser.
    let s = set(&["https://app.example.com"]);
    assert!(!s.allows(&[0xff; 64]));
    assert!(!s.allows(&vec![b'a'; 70_000]));
}

/// The one `host:port` splitter and port reader every caller uses (entries,
/// requests, rules, the command line): a bracketed IPv6 host stays whole.
#[test]
fn hosts_and_ports_split_once_for_everyone() {
    fn split(s: &str) -> Result<(&str, Option<&str>), &'static str> {
        split_host_port(s).map(|hp| (hp.host, hp.port))
    }
    assert_eq!(split("a.example"), Ok(("a.example", None)));
    assert_eq!(split("a.example:8443"), Ok(("a.example", Some("8443"))));
    assert_eq!(split("[::1]"), Ok(("[::1]", None)), "not host \"[:\" and port \"1]\"");
    assert_eq!(split("[::1]:8080"), Ok(("[::1]", Some("8080"))));
    assert_eq!(split("[::ffff:7f00:1]:1"), Ok(("[::ffff:7f00:1]", Some("1"))));
    assert!(split("[::1").is_err());
    assert!(split("[::1]x").is_err());
    assert_eq!(split("a.example:"), Ok(("a.example", Some(""))));
    for (text, want) in [("1", Some(1)), ("65535", Some(65535)), ("8443", Some(8443))] {
        assert_eq!(port_number(text), want, "{text}");
    }
    for bad in ["", "0", "08443", "65536", "+1", "-1", "1a", "123456", " 1"] {
        assert_eq!(port_number(bad), None, "{bad:?}");
    }
    // Through the callers.
    assert_eq!(parse_request_origin("https://[::1]"), Some((Scheme::Https, "[::1]", None)));
    assert_eq!(parse_request_origin("https://[::1]:8443"), Some((Scheme::Https, "[::1]", Some(8443))));
    assert_eq!(parse_request_origin("https://[::1]:443"), None, "browsers drop the default port");
    assert_eq!(crate::config::split_authority("[::1]"), Some(("[::1]", None)));
    assert_eq!(crate::config::split_authority("pay.example.com:08443"), None);
}
