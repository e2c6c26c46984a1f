//! The `edge-cors` command line, through the built binary: `check` on
//! policies and AWS templates, `explain` on the engine's own answers,
//! `probe` against a real Envoy running the release module and against a
//! deliberately misconfigured server, `import` of configurations written as
//! Envoy's, Istio's and AWS's documentation show them, and `render` checked
//! by Envoy itself (`--mode validate` loads the module and its policy).
//!
//! Run with `cargo test -p edge-cors-cli --test cli cli::` (after `make wasm`).

use edge_cors_suites as common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;

use common::{Envoy, Listener, Upstream};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn edge_cors(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_edge-cors")).args(args).env_remove("NO_COLOR").output().expect("run edge-cors");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // People-first output, never a Rust panic or backtrace, never colour
    // when the output is not a terminal.
    let all = run.all();
    assert!(!all.contains("panicked") && !all.contains("RUST_BACKTRACE"), "panic output:\n{all}");
    assert!(!all.contains('\x1b'), "colour codes in piped output:\n{all}");
    run
}

fn fixture(name: &str) -> String {
    common::repo().join("crates/cli/fixtures").join(name).display().to_string()
}

fn tmp_file(name: &str, content: &str) -> PathBuf {
    let dir = common::repo().join("target/cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

fn assert_has(run: &Run, needles: &[&str]) {
    let all = run.all();
    for n in needles {
        assert!(all.contains(n), "missing {n:?} in:\n{all}");
    }
}

/// The line of the output that contains `needle`.
fn line<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

// ------------------------------------------------------------------ check

#[test]
fn check_accepts_the_contract_example() {
    let r = edge_cors(&["check", &fixture("policy.json")]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["ok", "https://*.example.com  any subdomain of example.com at any depth", "no problems"]);
    assert!(line(&r.stdout, "methods").ends_with("GET, POST"));
    assert!(line(&r.stdout, "max age").ends_with("3600 s"));
}

#[test]
fn check_lists_every_problem_with_field_value_and_fix() {
    let r = edge_cors(&["check", &fixture("bad-policy.json")]);
    assert_eq!(r.code, 1, "{}", r.all());
    // The filter's own refusals, every one of them.
    assert_has(
        &r,
        &[
            "allow_origins[0] = \"https://app.example.com/\"",
            "write \"https://app.example.com\"",
            "allow_origins[3] = \"*\"",
            "allows every origin while allow_credentials is true",
            "allow_methods[0] = \"GET POST\"",
            "max_age = 90000",
            "allow_orgins = ",
            "did you mean \"allow_origins\"",
        ],
    );
    // What the filter cannot know: public suffixes.
    assert_has(
        &r,
        &[
            "allow_origins[1] = \"https://*.github.io\"",
            "\"github.io\" is a public suffix (private section of the Public Suffix List)",
            "allow_origins[2] = \"https://*.co.uk\"",
            "\"co.uk\" is a public suffix (ICANN section",
            "8 problems in 1 policy",
        ],
    );
}

#[test]
fn check_allows_wildcards_under_a_registrable_domain() {
    let p =
        tmp_file("psl-ok.json", r#"{"allow_origins": ["https://*.myteam.github.io", "https://*.shop.co.uk", "https://*.example.com"]}"#);
    let r = edge_cors(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn check_sam_template() {
    let r = edge_cors(&["check", &fixture("sam-template.yaml")]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(
        &r,
        &[
            "Resources.OrdersApi (AWS::Serverless::HttpApi) CorsConfiguration",
            "(SAM template)",
            // The !Ref is resolved with the parameter's default and checked.
            "AllowOrigins[0] is !Ref FrontendOrigin: checked with \"https://shop.example.com\"",
            "AllowOrigins[1] = \"https://*.github.io\"",
            "is a public suffix",
            "1 problem in 1 policy",
        ],
    );
}

#[test]
fn check_cloudformation_template() {
    let r = edge_cors(&["check", &fixture("cfn-template.json")]);
    assert_eq!(r.code, 1, "{}", r.all());
    let ok = line(&r.stdout, "Resources.HttpApi");
    assert!(ok.starts_with("ok"), "{ok}");
    let bad = line(&r.stdout, "Resources.PublicApi");
    assert!(bad.starts_with("error"), "{bad}");
    assert_has(
        &r,
        &["AllowOrigins[0] = \"*\"", "allows every origin while allow_credentials is true", "2 policies checked", "1 problem in 1 policy"],
    );
    // The valid one is summarised in the filter's normalised form.
    assert!(line(&r.stdout, "headers").contains("authorization, content-type"));
}

#[test]
fn check_cloudformation_values_it_cannot_know() {
    let p = tmp_file(
        "cfn-sub.yaml",
        "Resources:\n  Api:\n    Type: AWS::ApiGatewayV2::Api\n    Properties:\n      CorsConfiguration:\n        AllowOrigins:\n          - !Sub 'https://${AWS::Region}.example.com'\n",
    );
    let r = edge_cors(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["AllowOrigins[0] = {Fn::Sub:", "computed by CloudFormation at deploy time"]);
    assert!(!r.stdout.contains("must be a string"), "the engine's complaint about the placeholder leaked:\n{}", r.stdout);
}

#[test]
fn check_openapi_extension() {
    let r = edge_cors(&["check", &fixture("openapi.yaml")]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["x-amazon-apigateway-cors", "credentials  yes"]);
    // Problems are named in the document's own camelCase spelling.
    let p = tmp_file("openapi-bad.yaml", "openapi: 3.0.1\nx-amazon-apigateway-cors:\n  allowOrigins: ['*']\n  allowCredentials: true\n");
    let r = edge_cors(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["allowOrigins[0] = \"*\""]);
}

#[test]
fn errors_are_one_line_and_exit_2() {
    let r = edge_cors(&["check", "/nonexistent/policy.json"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("edge-cors: error: cannot read /nonexistent/policy.json"), "{}", r.stderr);
    let r = edge_cors(&["explain", &fixture("policy.json")]);
    assert_eq!(r.code, 2, "missing --origin is a usage error");
    let r = edge_cors(&["probe", "ftp://x", "--origin", "https://a.example"]);
    assert_eq!(r.code, 2);
    // Nothing listening: a network error, not a verdict.
    let r = edge_cors(&["probe", "http://127.0.0.1:9/x", "--origin", "https://a.example", "--timeout", "2"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.starts_with("edge-cors: error: GET http://127.0.0.1:9/x"), "{}", r.stderr);
}

// ------------------------------------------------------------------ explain

#[test]
fn explain_a_preflighted_post() {
    let r = edge_cors(&[
        "explain",
        &fixture("policy.json"),
        "--origin",
        "https://app.example.com",
        "--method",
        "POST",
        "--header",
        "content-type",
        "--header",
        "authorization",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &[
            "preflight  yes:",
            "authorization is never CORS-safelisted",
            // The exact preflight the browser sends, names sorted as Fetch does.
            "access-control-request-headers: authorization,content-type",
            // The engine's exact answer.
            "HTTP 204 No Content",
            "access-control-allow-methods: GET, POST",
            "access-control-allow-headers: content-type, authorization",
            "access-control-max-age: 3600",
            "vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            "access-control-expose-headers: etag, x-request-id",
            "allowed: the browser lets this POST from https://app.example.com through",
        ],
    );
}

#[test]
fn explain_a_simple_request_needs_no_preflight() {
    let r = edge_cors(&["explain", &fixture("policy.json"), "--origin", "https://shop.example.com"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["preflight  no:", "matches allow_origins entry \"https://*.example.com\"", "vary: Origin"]);
    assert!(!r.stdout.contains("OPTIONS"), "{}", r.stdout);
}

#[test]
fn explain_names_the_precise_reason() {
    let p = fixture("policy.json");
    let cases: &[(&[&str], &str)] = &[
        (&["--origin", "https://app.example.com:8443"], "origin differs by port from allowed https://app.example.com"),
        (&["--origin", "http://app.example.com"], "origin differs by scheme from allowed https://app.example.com"),
        (&["--origin", "https://example.com"], "https://*.example.com matches subdomains of example.com, never example.com itself"),
        (&["--origin", "https://evilexample.com"], "evilexample.com is not a subdomain of example.com (a look-alike)"),
        (&["--origin", "https://app.example.com", "--method", "PUT"], "PUT is not in allow_methods (GET, POST)"),
        (&["--origin", "https://app.example.com", "--header", "x-debug"], "x-debug is not in allow_headers (content-type, authorization)"),
    ];
    for (args, reason) in cases {
        let mut a = vec!["explain", p.as_str()];
        a.extend_from_slice(args);
        let r = edge_cors(&a);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        let verdict = r.stdout.lines().last().unwrap_or("");
        assert!(
            verdict.starts_with("blocked:") && verdict.contains(reason),
            "{args:?}: verdict {verdict:?}, wanted {reason:?}\n{}",
            r.stdout
        );
    }
}

#[test]
fn explain_authorization_under_star_and_credentials() {
    let p = tmp_file(
        "star-headers.json",
        r#"{"allow_origins": ["https://app.example.com"], "allow_headers": ["*"], "allow_methods": ["*"], "allow_credentials": true}"#,
    );
    let r = edge_cors(&[
        "explain",
        p.to_str().unwrap(),
        "--origin",
        "https://app.example.com",
        "--method",
        "DELETE",
        "--header",
        "authorization",
        "--credentials",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &[
            "authorization is never covered by *: edge-cors answers with the requested names",
            // With credentials `*` is literal to browsers: the engine names them.
            "access-control-allow-methods: DELETE",
            "access-control-allow-headers: authorization",
            "access-control-allow-credentials: true",
            "credentials: include",
        ],
    );
}

#[test]
fn explain_an_error_status_keeps_cors() {
    let r = edge_cors(&["explain", &fixture("policy.json"), "--origin", "https://app.example.com", "--status", "401"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["HTTP 401 Unauthorized", "the 401 carries CORS headers: JavaScript can read its status and body"]);
}

#[test]
fn explain_refuses_an_invalid_policy() {
    let r = edge_cors(&["explain", &fixture("bad-policy.json"), "--origin", "https://app.example.com"]);
    assert_eq!(r.code, 1);
    assert_has(&r, &["the filter refuses this policy"]);
}

// ------------------------------------------------------------------ probe

const ENVOY_POLICY: &str = r#"{"allow_origins": ["https://app.example.com", "https://*.example.com"],
  "allow_methods": ["GET", "POST", "PUT"], "allow_headers": ["content-type", "authorization"],
  "expose_headers": ["etag", "x-request-id"], "max_age": 600}"#;

#[test]
fn probe_against_real_envoy() {
    let upstream = Upstream::start();
    let envoy = Envoy::expect_running(&[Listener { name: "cli", config: ENVOY_POLICY }], upstream.port);

    // Allowed: a preflighted PUT with Authorization.
    let url = envoy.url("cli", "/api/items/1");
    let r = edge_cors(&[
        "probe",
        &url,
        "--origin",
        "https://app.example.com",
        "--method",
        "PUT",
        "--header",
        "content-type",
        "--header",
        "authorization",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(line(&r.stdout, "OPTIONS").ends_with("HTTP 204 No Content"), "{}", r.stdout);
    assert!(line(&r.stdout, "PUT   ").ends_with("HTTP 200 OK"), "{}", r.stdout);
    assert_has(&r, &["ok: a browser at https://app.example.com can make this call"]);
    assert!(line(&r.stdout, "preflight  headers").contains("authorization, content-type allowed"), "{}", r.stdout);
    // The upstream's etag is exposed, x-internal is not.
    let readable = line(&r.stdout, "readable");
    let (can, hidden) = readable.split_once("hidden:").expect("hidden headers listed");
    assert!(can.contains("etag") && can.contains("x-request-id") && hidden.contains("x-internal"), "{readable}");
    assert!(upstream.seen("/api/items/1").iter().all(|s| s.method != "OPTIONS"), "a preflight reached the upstream");

    // Rejected origin: the preflight's 403 and its reason are named.
    let r = edge_cors(&["probe", &url, "--origin", "https://evil.test", "--method", "PUT"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(line(&r.stdout, "preflight  status").contains("403: CORS preflight rejected: origin not allowed"), "{}", r.stdout);
    // Like the browser, the probe does not send the PUT after that.
    assert!(line(&r.stdout, "PUT   ").contains("not sent: the browser stops at the failed preflight"), "{}", r.stdout);
    assert!(r.stdout.lines().last().unwrap().starts_with("blocked: a browser at https://evil.test cannot make this call"));
    assert_eq!(upstream.seen("/api/items/1").iter().filter(|s| s.method == "PUT").count(), 1, "only the allowed PUT arrived");

    // Rejected header.
    let r = edge_cors(&["probe", &url, "--origin", "https://app.example.com", "--header", "x-debug"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(line(&r.stdout, "preflight  headers").contains("x-debug is not in Access-Control-Allow-Headers"), "{}", r.stdout);

    // Error statuses carry CORS: the upstream's 401 and Envoy's own 503.
    for (path, status) in [("/api/status/401", 401), ("/dead/x", 503)] {
        let r = edge_cors(&["probe", &envoy.url("cli", path), "--origin", "https://shop.example.com"]);
        assert_eq!(r.code, 0, "{path}: {}", r.all());
        let l = line(&r.stdout, "error status");
        assert!(l.contains(&format!("the {status} carries CORS headers")), "{path}: {l}");
    }

    // --json for CI.
    let r = edge_cors(&["probe", &envoy.url("cli", "/api/status/401"), "--origin", "https://app.example.com", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("probe --json prints JSON");
    assert_eq!(v["ok"], true);
    assert_eq!(v["actual"]["status"], 401);
    assert_eq!(v["preflight_needed"], false);
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["check"] == "error status" && c["result"] == "ok"), "{checks:?}");
    envoy.stop();
}

/// A server that gets CORS wrong in the classic ways, one per path.
fn misconfigured_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let port = common::http_server::serve(move |req| {
        let origin = req.header("Origin").unwrap_or_default().to_string();
        let preflight = req.method == "OPTIONS";
        let path = req.url.clone();
        log.lock().unwrap().push(format!("{} {path}", req.method));
        let mut status = if preflight { 204 } else { 200 };
        let mut headers: Vec<(&str, String)> = Vec::new();
        match path.as_str() {
            // Proxy and backend both add CORS.
            "/duplicate-origin" => {
                headers.push(("Access-Control-Allow-Origin", origin.clone()));
                headers.push(("Access-Control-Allow-Origin", "*".into()));
                headers.push(("Access-Control-Allow-Methods", "GET, PUT".into()));
                headers.push(("Vary", "Origin".into()));
            }
            "/star-credentials" => {
                headers.push(("Access-Control-Allow-Origin", "*".into()));
                headers.push(("Access-Control-Allow-Credentials", "true".into()));
                headers.push(("Access-Control-Allow-Methods", "*".into()));
            }
            "/authorization-not-listed" => {
                headers.push(("Access-Control-Allow-Origin", origin.clone()));
                headers.push(("Access-Control-Allow-Methods", "GET, POST".into()));
                headers.push(("Access-Control-Allow-Headers", "content-type, x-request-id".into()));
                headers.push(("Vary", "Origin".into()));
            }
            // The auth layer answers before CORS is added.
            "/no-cors-on-401" => {
                if preflight {
                    headers.push(("Access-Control-Allow-Origin", origin.clone()));
                    headers.push(("Access-Control-Allow-Headers", "authorization".into()));
                } else {
                    status = 401;
                }
            }
            "/missing-vary" => {
                headers.push(("Access-Control-Allow-Origin", origin.clone()));
            }
            "/correct" => {
                headers.push(("Access-Control-Allow-Origin", origin.clone()));
                headers.push(("Access-Control-Allow-Headers", "authorization".into()));
                headers.push(("Vary", "Origin".into()));
            }
            _ => status = 404,
        }
        let mut resp = common::http_server::Response::new(status, "{}");
        for (k, v) in headers {
            resp = resp.header(k, v);
        }
        resp
    })
    .forever();
    (port, seen)
}

#[test]
fn probe_names_each_misconfiguration() {
    let (port, _seen) = misconfigured_server();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let origin = "https://app.example.com";

    // A correct server passes, so the failures below are the server's.
    let r = edge_cors(&["probe", &url("/correct"), "--origin", origin, "--header", "authorization"]);
    assert_eq!(r.code, 0, "{}", r.all());

    let r = edge_cors(&["probe", &url("/duplicate-origin"), "--origin", origin]);
    assert_eq!(r.code, 1, "{}", r.all());
    let l = line(&r.stdout, "actual     allow-origin");
    assert!(l.starts_with("  FAIL") && l.contains("duplicate Access-Control-Allow-Origin (2 values: https://app.example.com | *)"), "{l}");

    let r = edge_cors(&["probe", &url("/star-credentials"), "--origin", origin, "--method", "PUT", "--credentials"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(line(&r.stdout, "preflight  allow-origin").contains("is * but the request carries credentials"), "{}", r.stdout);
    assert!(line(&r.stdout, "preflight  methods").contains("literally named * under credentials"), "{}", r.stdout);

    let r = edge_cors(&["probe", &url("/authorization-not-listed"), "--origin", origin, "--header", "authorization"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let l = line(&r.stdout, "preflight  headers");
    assert!(
        l.starts_with("  FAIL") && l.contains("authorization is not in Access-Control-Allow-Headers (allowed: content-type, x-request-id)"),
        "{l}"
    );

    let r = edge_cors(&["probe", &url("/no-cors-on-401"), "--origin", origin, "--header", "authorization"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let l = line(&r.stdout, "error status");
    assert!(l.starts_with("  FAIL") && l.contains("the 401 has no usable CORS headers: JavaScript sees a network error"), "{l}");

    let r = edge_cors(&["probe", &url("/missing-vary"), "--origin", origin]);
    assert_eq!(r.code, 1, "{}", r.all());
    let l = line(&r.stdout, "actual     vary");
    assert!(l.starts_with("  FAIL") && l.contains("no Vary: Origin"), "{l}");
    // The browser itself lets this one through; the summary says so.
    assert!(r.stdout.lines().last().unwrap().starts_with("a browser lets this call through, but 1 check failed: vary"), "{}", r.stdout);
}

// ------------------------------------------------------------------ import

/// Imports, checks the result is printed alone on stdout, and that `check`
/// accepts it.
fn import_ok(from: &str, file: &str, more: &[&str]) -> (Run, serde_json::Value) {
    let path = fixture(file);
    let mut args = vec!["import", "--from", from, path.as_str()];
    args.extend_from_slice(more);
    let r = edge_cors(&args);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is the policy alone");
    let p = tmp_file(&format!("imported-{file}.json"), &r.stdout);
    let c = edge_cors(&["check", p.to_str().unwrap()]);
    assert_eq!(c.code, 0, "the imported policy does not pass check:\n{}", c.all());
    (r, v)
}

#[test]
fn import_envoy_cors_policy() {
    let (r, v) = import_ok("envoy", "envoy-cors.yaml", &[]);
    assert_eq!(
        v["allow_origins"],
        serde_json::json!(["https://app.example.com", "https://*.example.com", "https://admin.corp.example", "https://ops.corp.example"])
    );
    assert_eq!(v["allow_methods"], serde_json::json!(["GET", "POST", "PUT", "DELETE"]));
    assert_eq!(v["allow_headers"], serde_json::json!(["content-type", "authorization", "x-request-id"]));
    assert_eq!(v["max_age"], 86400);
    assert_eq!(v["allow_credentials"], true);
    assert_has(
        &r,
        &[
            "regex `https://.*\\.example\\.com` became \"https://*.example.com\"",
            "regex `^https://(admin|ops)\\.corp\\.example$` became \"https://admin.corp.example\", \"https://ops.corp.example\"",
            "Envoy forwarded preflights from origins it did not match to the upstream",
            "edge-cors answers every preflight itself, refused ones with 403",
            "max age \"1728000\" is above edge-cors's limit; it became 86400",
            "Envoy did not add Vary: Origin",
            "ok: valid edge-cors policy",
        ],
    );
}

#[test]
fn import_refuses_what_it_cannot_convert_safely() {
    let r = edge_cors(&["import", "--from", "envoy", &fixture("envoy-cors-unsafe.yaml")]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "no policy printed: {}", r.stdout);
    assert_has(
        &r,
        &[
            "refused: regex `https://[a-z]+\\.example\\.(com|net)(:[0-9]+)?`: matches a range of ports",
            "refused: contains \"example\": a substring match cannot be expressed",
            "not imported: 2 entries cannot be converted safely",
        ],
    );
    // A look-alike-prone regex converts, narrowed, with the difference said.
    let p = tmp_file(
        "envoy-dot.yaml",
        "cors:\n  allow_origin_string_match:\n  - safe_regex: { regex: 'https://app.example.com' }\n  - prefix: 'https://admin.example.com'\n",
    );
    let r = edge_cors(&["import", "--from", "envoy", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &[
            "unescaped `.` in \"app.example.com\" matched any character (look-alikes such as appxexample.com)",
            "prefix \"https://admin.example.com\" became the exact origin \"https://admin.example.com\"",
        ],
    );
}

/// An Envoy suffix without a leading dot names the extra exact origin in
/// its note; a corsPolicy at an Istio file's root is one policy, found once.
#[test]
fn import_notes_name_what_they_mean() {
    let p = tmp_file("envoy-suffix.yaml", "cors:\n  allow_origin_string_match:\n  - suffix: 'example.com'\n");
    let r = edge_cors(&["import", "--from", "envoy", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["became \"https://*.example.com\" and \"https://example.com\""]);
    assert!(!r.all().contains("{domain}"), "{}", r.all());
    let p = tmp_file("istio-root.yaml", "corsPolicy:\n  allowOrigins:\n  - exact: https://app.example.com\n");
    let r = edge_cors(&["import", "--from", "istio", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["imported"]);
    assert!(!r.stderr.contains("identical copies"), "{}", r.stderr);
}

#[test]
fn import_istio_cors_policy() {
    // Its one-label regex becomes *.example.com, which is wider: accepted here
    // (see import_never_widens_a_policy_silently).
    let (r, v) = import_ok("istio", "istio-virtualservice.yaml", &["--accept-wider"]);
    assert_eq!(v["allow_origins"], serde_json::json!(["https://example.com", "https://*.example.com"]));
    assert_eq!(v["allow_methods"], serde_json::json!(["POST", "GET"]));
    assert_eq!(v["max_age"], 86400, "24h");
    assert!(v.get("allow_credentials").is_none());
    assert_has(
        &r,
        &[
            "spec.http[0].corsPolicy",
            "unmatchedPreflights defaults to FORWARD",
            "it matched one label (a.example.com); edge-cors's *.domain also matches deeper subdomains",
        ],
    );
}

#[test]
fn import_aws_cors_configuration() {
    let (r, v) = import_ok("aws", "aws-cors.yaml", &[]);
    assert_eq!(v["allow_origins"], serde_json::json!(["https://www.example.com", "https://admin.example.com"]));
    assert_eq!(v["allow_credentials"], true);
    assert_eq!(v["max_age"], 300);
    assert_has(&r, &["AllowOrigins[0] is !Ref WebOrigin", "the AWS spelling (AllowOrigins...) became edge-cors's"]);
    // OpenAPI's extension too.
    let (_, v) = import_ok("aws", "openapi.yaml", &[]);
    assert_eq!(v["allow_methods"], serde_json::json!(["*"]));
    // An AWS policy edge-cors refuses is not imported.
    let r = edge_cors(&["import", "--from", "aws", &fixture("cfn-template.json")]);
    assert_eq!(r.code, 1, "two different policies: {}", r.all());
    assert_has(&r, &["holds 2 different CORS policies"]);
}

// ------------------------------------------------------------------ render

/// Envoy itself validates a rendered snippet: `--mode validate` loads the
/// release module and runs its configure step on the embedded policy.
/// `name`: the bootstrap's file, one per test (they run in parallel).
fn envoy_validates(name: &str, snippet: &str) -> (bool, String) {
    let mut y = String::from(
        "static_resources:\n  listeners:\n  - name: l\n    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }\n    filter_chains:\n    - filters:\n      - name: envoy.filters.network.http_connection_manager\n        typed_config:\n          \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n          stat_prefix: l\n          route_config: { virtual_hosts: [ { name: all, domains: [\"*\"], routes: [] } ] }\n",
    );
    for l in snippet.lines() {
        y.push_str("          ");
        y.push_str(l);
        y.push('\n');
    }
    let path = tmp_file(name, &y);
    let out = Command::new(common::envoy_bin())
        .args(["--mode", "validate", "--log-level", "error", "-c"])
        .arg(&path)
        .output()
        .expect("run envoy");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn yaml_docs(text: &str) -> Vec<serde_norway::Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text).map(|d| serde_norway::Value::deserialize(d).expect("valid YAML")).collect()
}

fn embedded_policy(v: &serde_norway::Value) -> serde_json::Value {
    let text = serde_json::to_string(&serde_norway::from_value::<serde_json::Value>(v.clone()).unwrap()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn render_envoy_loads_in_envoy() {
    let wasm = common::wasm_path();
    let r = edge_cors(&["render", "--target", "envoy", &fixture("policy.json"), "--module", wasm.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    let doc = &yaml_docs(&r.stdout)[0];
    let filters = doc["http_filters"].as_sequence().unwrap();
    assert_eq!(filters[0]["name"].as_str(), Some("envoy.filters.http.wasm"), "edge-cors first");
    assert_eq!(filters.last().unwrap()["name"].as_str(), Some("envoy.filters.http.router"));
    let config = &filters[0]["typed_config"]["config"];
    assert_eq!(config["vm_config"]["runtime"].as_str(), Some("envoy.wasm.runtime.v8"));
    assert_eq!(config["configuration"]["@type"].as_str(), Some("type.googleapis.com/google.protobuf.StringValue"));
    let embedded: serde_json::Value = serde_json::from_str(config["configuration"]["value"].as_str().unwrap()).unwrap();
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("policy.json")).unwrap()).unwrap();
    assert_eq!(embedded, original);

    let (ok, log) = envoy_validates("rendered-envoy.yaml", &r.stdout);
    assert!(ok, "Envoy refused the rendered snippet:\n{log}\n{}", r.stdout);
    // And the check is real: a policy the module refuses fails validation.
    let broken = r.stdout.replace("\"max_age\": 3600", "\"max_age\": \"3600\"");
    assert_ne!(broken, r.stdout);
    let (ok, log) = envoy_validates("rendered-envoy.yaml", &broken);
    assert!(!ok, "Envoy accepted a policy the module refuses:\n{log}");
}

/// `--shell module`: the dynamic module's filter, which Envoy loads
/// (`--mode validate` runs the module's configure step on the policy).
#[test]
fn render_envoy_shell_module_loads_in_envoy() {
    let module = common::module_path();
    let r = edge_cors(&["render", "--target", "envoy", "--shell", "module", &fixture("policy.json"), "--module", module.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let doc = &yaml_docs(&r.stdout)[0];
    let config = &doc["http_filters"][0]["typed_config"];
    assert_eq!(config["filter_name"].as_str(), Some("edge-cors"));
    assert_eq!(config["dynamic_module_config"]["module"]["local"]["filename"].as_str(), module.to_str());
    let (ok, log) = envoy_validates("rendered-envoy-module.yaml", &r.stdout);
    assert!(ok, "Envoy refused the rendered snippet:\n{log}\n{}", r.stdout);
    let broken = r.stdout.replace("\"max_age\": 3600", "\"max_age\": \"3600\"");
    assert_ne!(broken, r.stdout);
    let (ok, log) = envoy_validates("rendered-envoy-module.yaml", &broken);
    assert!(!ok, "Envoy accepted a policy the module refuses:\n{log}");
}

/// What `--shell module` cannot render: one line each, exit 2, nothing on stdout.
#[test]
fn render_shell_module_refuses_istio_and_a_digest() {
    let policy = fixture("policy.json");
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    for (args, says) in [
        (vec!["--target", "istio", &policy], "Istio's WasmPlugin loads wasm only"),
        (vec!["--target", "envoy-gateway", &policy, "--module", "/m.so", "--sha256", hex], "a local file has no digest field"),
    ] {
        let r = edge_cors(&[&["render", "--shell", "module"][..], &args].concat());
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("edge-cors: error: ") && r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // --shell wasm is the default: the same bytes.
    let wasm = edge_cors(&["render", "--target", "envoy-gateway", &policy, "--shell", "wasm"]);
    assert_eq!(wasm.stdout, edge_cors(&["render", "--target", "envoy-gateway", &policy]).stdout);
}

#[test]
fn render_istio_wasm_plugin() {
    let r = edge_cors(&["render", "--target", "istio", &fixture("sam-template.yaml")]);
    assert_eq!(r.code, 1, "the SAM template's policy is invalid, so nothing is rendered");
    assert!(r.stdout.is_empty());
    let r = edge_cors(&["render", "--target", "istio", &fixture("cfn-template.json")]);
    assert_eq!(r.code, 2, "two policies: {}", r.all());

    let r = edge_cors(&["render", "--target", "istio", &fixture("openapi.yaml"), "--namespace", "edge"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let doc = &yaml_docs(&r.stdout)[0];
    assert_eq!(doc["kind"].as_str(), Some("WasmPlugin"));
    assert_eq!(doc["apiVersion"].as_str(), Some("extensions.istio.io/v1alpha1"));
    assert_eq!(doc["metadata"]["namespace"].as_str(), Some("edge"));
    assert_eq!(doc["spec"]["phase"].as_str(), Some("AUTHN"));
    // The OpenAPI camelCase policy is embedded in edge-cors's own keys, and
    // passes the filter's validation.
    let policy = embedded_policy(&doc["spec"]["pluginConfig"]);
    assert_eq!(policy["allow_origins"], serde_json::json!(["https://www.example.com"]));
    let p = tmp_file("istio-embedded.json", &policy.to_string());
    assert_eq!(edge_cors(&["check", p.to_str().unwrap()]).code, 0);
}

#[test]
fn render_envoy_gateway_policy_and_filter_order() {
    let r = edge_cors(&["render", "--target", "envoy-gateway", &fixture("policy.json"), "--gateway", "public"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let docs = yaml_docs(&r.stdout);
    assert_eq!(docs.len(), 3);
    let eep = &docs[0];
    assert_eq!(eep["kind"].as_str(), Some("EnvoyExtensionPolicy"));
    assert_eq!(eep["spec"]["targetRefs"][0]["kind"].as_str(), Some("Gateway"));
    assert_eq!(eep["spec"]["targetRefs"][0]["name"].as_str(), Some("public"));
    let wasm = &eep["spec"]["wasm"][0];
    assert_eq!(wasm["rootID"].as_str(), Some("edge_cors"));
    let policy = embedded_policy(&wasm["config"]);
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("policy.json")).unwrap()).unwrap();
    assert_eq!(policy, original);
    let proxy = &docs[1];
    assert_eq!(proxy["kind"].as_str(), Some("EnvoyProxy"));
    let order = &proxy["spec"]["filterOrder"][0];
    assert_eq!(order["name"].as_str(), Some("envoy.filters.http.wasm"));
    // ext_authz is the first auth filter in Envoy Gateway's order.
    assert_eq!(order["before"].as_str(), Some("envoy.filters.http.ext_authz"));
    // The EnvoyProxy counts only where referenced: the Gateway the policy
    // targets references it.
    let gateway = &docs[2];
    assert_eq!(gateway["kind"].as_str(), Some("Gateway"));
    assert_eq!(gateway["metadata"]["name"].as_str(), Some("public"));
    assert_eq!(gateway["spec"]["infrastructure"]["parametersRef"]["name"], proxy["metadata"]["name"]);
}

#[test]
fn explain_picks_the_rule_for_host_and_path() {
    let p = tmp_file(
        "rules.json",
        r#"{"allow_origins": ["https://app.example.com"],
 "rules": [{"name": "legacy", "match": {"path_prefix": "/legacy/"}, "cors": "off"},
           {"name": "tenants", "match": {"hosts": ["*.tenant.test"]}, "allow_origins": ["https://*.tenant.test"], "allow_methods": ["GET","PUT"]}]}"#,
    );
    let p = p.to_str().unwrap();
    let r = edge_cors(&[
        "explain",
        p,
        "--origin",
        "https://shop.tenant.test",
        "--method",
        "PUT",
        "--host",
        "a.tenant.test",
        "--path",
        "/api/x",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["rule: rules[1] (\"tenants\") matched host a.tenant.test", "access-control-allow-methods: GET, PUT"]);
    // The same request on another host falls to the default policy, which refuses the origin.
    let r = edge_cors(&["explain", p, "--origin", "https://shop.tenant.test", "--method", "PUT", "--host", "api.example.com"]);
    assert_has(&r, &["none of the 2 rules matches host api.example.com", "HTTP 403"]);
    assert_ne!(r.code, 0, "{}", r.all());
    let r = edge_cors(&["explain", p, "--origin", "https://shop.tenant.test", "--path", "/legacy/x"]);
    assert_has(&r, &["rules[0] (\"legacy\") matched path prefix /legacy/", "\"cors\": \"off\""]);
    let r = edge_cors(&["explain", p, "--origin", "https://app.example.com"]);
    assert_has(&r, &["give --host, --path or --route to pick one"]);
}

/// docs/contract.md "Rules": `--route` picks a rule by the proxy's route name.
#[test]
fn explain_picks_the_rule_for_a_route_name() {
    let p = tmp_file(
        "routes.json",
        r#"{"allow_origins": ["https://app.example.com"],
 "rules": [{"name": "pay", "match": {"routes": ["payments"]}, "allow_origins": ["https://checkout.example.com"]}]}"#,
    );
    let p = p.to_str().unwrap();
    let r = edge_cors(&["explain", p, "--origin", "https://checkout.example.com", "--route", "payments"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["rule: rules[0] (\"pay\") matched route payments"]);
    let r = edge_cors(&["explain", p, "--origin", "https://checkout.example.com", "--route", "other"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert_has(&r, &["none of the 1 rules matches"]);
}

/// docs/contract.md "Origins": the command line takes the request origins
/// the filter takes, in the form browsers send them.
#[test]
fn explain_takes_origins_as_browsers_send_them() {
    let p = fixture("policy.json");
    // A label starting with "-": browsers send it, the filter allows it.
    let r = edge_cors(&["explain", &p, "--origin", "https://-a.example.com"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["matches allow_origins entry \"https://*.example.com\""]);
    // An IPv4-mapped address is sent in hex, whatever was typed.
    let r = edge_cors(&["explain", &p, "--origin", "http://[::ffff:127.0.0.1]:8080"]);
    assert_has(&r, &["browsers send this origin as http://[::ffff:7f00:1]:8080"]);
    // The null origin with credentials cannot be configured.
    let bad = tmp_file("null-creds.json", r#"{"allow_origins": ["null"], "allow_credentials": true}"#);
    let r = edge_cors(&["check", bad.to_str().unwrap()]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert_has(&r, &["allows the null origin while allow_credentials is true"]);
}

// ------------------------------------------------------------------ the command line tells the truth

/// In report mode the filter forwards the preflight and changes no header:
/// explain says so, and claims no 204 or 403 from edge-cors.
#[test]
fn explain_in_report_mode_claims_no_answer_of_its_own() {
    let p = tmp_file(
        "report.json",
        r#"{"mode": "report", "allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "PUT"], "allow_headers": ["content-type"]}"#,
    );
    let p = p.to_str().unwrap();
    for (origin, header) in [("https://app.example.com", "content-type"), ("https://evil.test", "x-debug")] {
        let r = edge_cors(&["explain", p, "--origin", origin, "--method", "PUT", "--header", header]);
        assert_eq!(r.code, 0, "edge-cors blocks nothing in report mode: {}", r.all());
        assert_has(
            &r,
            &[
                "mode: report: edge-cors forwards this preflight to the upstream and changes no header; the upstream's answer decides",
                "what enforce mode would answer",
                "report mode: edge-cors changes no header, so the upstream's own CORS headers decide",
            ],
        );
        assert!(!r.stdout.contains("preflight response (from edge-cors"), "{}", r.stdout);
        // Statuses are what enforce mode would send, never edge-cors's answer.
        for l in r.stdout.lines().filter(|l| l.contains("HTTP 204") || l.contains("HTTP 403")) {
            assert!(l.trim_start().starts_with("would be HTTP"), "{l}\n{}", r.stdout);
        }
        assert!(!r.stdout.lines().any(|l| l.starts_with("allowed:") || l.starts_with("blocked:")), "{}", r.stdout);
    }
    // What enforcing it would do is still said.
    let r = edge_cors(&["explain", p, "--origin", "https://evil.test"]);
    assert_has(
        &r,
        &[
            "mode: report: edge-cors forwards this request",
            "once \"mode\" is \"enforce\": blocked (https://evil.test is not in allow_origins",
        ],
    );
}

/// `check` summarises the mode and every rule, not only the top level.
#[test]
fn check_summarises_every_rule() {
    let p = tmp_file(
        "rules-summary.json",
        r#"{"mode": "report", "allow_origins": ["https://app.example.com"],
 "rules": [{"name": "legacy", "match": {"path_prefix": "/legacy/"}, "cors": "off"},
           {"name": "tenants", "match": {"hosts": ["*.tenant.test"], "path_prefix": "/api/"},
            "allow_origins": ["https://*.tenant.test"], "allow_methods": ["GET", "PUT"], "allow_headers": ["x-tenant"],
            "allow_credentials": true}]}"#,
    );
    let r = edge_cors(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(line(&r.stdout, "mode").contains("report: edge-cors forwards every request"), "{}", r.stdout);
    assert!(line(&r.stdout, "rule \"legacy\"").ends_with("match path prefix /legacy/"), "{}", r.stdout);
    assert!(line(&r.stdout, "cors  off").contains("off: requests pass through untouched"), "{}", r.stdout);
    assert!(line(&r.stdout, "rule \"tenants\"").ends_with("match host *.tenant.test and path prefix /api/"), "{}", r.stdout);
    // The rule's own policy, in the top level's words.
    let rule = r.stdout.split("rule \"tenants\"").nth(1).unwrap();
    assert!(line(rule, "origins").contains("https://*.tenant.test  any subdomain of tenant.test"), "{rule}");
    assert!(line(rule, "methods").ends_with("GET, PUT"), "{rule}");
    assert!(line(rule, "headers").ends_with("x-tenant"), "{rule}");
    assert!(line(rule, "credentials").ends_with("yes (cookies, HTTP auth)"), "{rule}");
    let top = r.stdout.split("rule \"legacy\"").next().unwrap();
    assert!(line(top, "credentials").ends_with("no"), "{top}");
}

/// `probe` takes the origins `explain` takes, and says in words when an
/// https:// URL reaches a plain-HTTP port.
#[test]
fn probe_checks_the_origin_and_names_plain_http_on_tls() {
    let (port, _seen) = misconfigured_server();
    let url = format!("http://127.0.0.1:{port}/correct");
    let r = edge_cors(&["probe", &url, "--origin", "https://*.example.com"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_has(&r, &["--origin \"https://*.example.com\" is a pattern; give the page's origin"]);
    let r = edge_cors(&["probe", &url, "--origin", "https://app.example.com/"]);
    assert_eq!(r.code, 2, "{}", r.all());
    // Sent as a browser sends it, with the same note as explain.
    let r = edge_cors(&["probe", &url, "--origin", "https://App.Example.com:443"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["note: browsers send this origin as https://app.example.com", "from https://app.example.com"]);
    let r = edge_cors(&["probe", &url, "--origin", "https://App.Example.com:443", "--json"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["origin"], "https://app.example.com");
    assert!(r.stderr.contains("browsers send this origin as https://app.example.com"), "{}", r.stderr);

    // A plain-HTTP port answers the TLS handshake with 400, as Envoy does.
    let port = plain_http_server();
    let tls = format!("https://127.0.0.1:{port}/api");
    let r = edge_cors(&["probe", &tls, "--origin", "https://app.example.com", "--timeout", "5"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_has(&r, &[&format!("the server answered plain HTTP on a TLS connection: use http://127.0.0.1:{port}/api")]);
    assert!(!r.stderr.contains("rustls") && !r.stderr.contains("InvalidContentType"), "{}", r.stderr);
}

/// A server that answers whatever arrives with 400 Bad Request, as plain
/// HTTP servers answer a TLS handshake.
fn plain_http_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    port
}

/// A regex matching one label becomes *.domain, which matches any depth:
/// refused unless --accept-wider, and always with credentials.
#[test]
fn import_never_widens_a_policy_silently() {
    let r = edge_cors(&["import", "--from", "istio", &fixture("istio-virtualservice.yaml")]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "no policy printed: {}", r.stdout);
    assert_has(
        &r,
        &[
            "wider: regex `https://[a-z0-9-]+\\.example\\.com` matched one label before example.com (a.example.com); \
             \"https://*.example.com\" also allows deeper subdomains (a.b.example.com)",
            "not imported: the converted policy would allow origins the source did not",
            "--accept-wider",
        ],
    );
    let wide = "cors:\n  allow_origin_string_match:\n  - safe_regex: { regex: 'https://[a-z0-9-]+\\.x\\.com' }\n";
    let p = tmp_file("envoy-wider.yaml", wide);
    let r = edge_cors(&["import", "--from", "envoy", p.to_str().unwrap(), "--accept-wider"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["accepted: the wider policy is imported (--accept-wider)"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["allow_origins"], serde_json::json!(["https://*.x.com"]));
    // With credentials, never.
    let p = tmp_file("envoy-wider-creds.yaml", &format!("{wide}  allow_credentials: true\n"));
    let r = edge_cors(&["import", "--from", "envoy", p.to_str().unwrap(), "--accept-wider"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_has(&r, &["with credentials (cookies) sent to them", "--accept-wider does not apply to a policy with credentials"]);
    // Any depth, any label character: exactly *.x.com, imported as is.
    let p = tmp_file(
        "envoy-exact-depth.yaml",
        "cors:\n  allow_origin_string_match:\n  - safe_regex: { regex: 'https://([^.]+\\.)+x\\.com' }\n",
    );
    let r = edge_cors(&["import", "--from", "envoy", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stderr.contains("wider:"), "{}", r.stderr);
}

/// A file of another kind names the `--from` that reads it.
#[test]
fn import_names_the_right_from() {
    let cases = [
        ("envoy", "istio-virtualservice.yaml", "it holds an Istio corsPolicy (spec.http[0].corsPolicy), not an Envoy CorsPolicy: use --from istio"),
        ("aws", "istio-virtualservice.yaml", "use --from istio"),
        ("istio", "envoy-cors.yaml", "it holds an Envoy CorsPolicy"),
        ("istio", "aws-cors.yaml", "it holds an AWS CorsConfiguration (Resources.MyApi (AWS::ApiGatewayV2::Api) CorsConfiguration), not an Istio corsPolicy: use --from aws"),
        ("istio", "openapi.yaml", "use --from aws"),
        ("envoy", "sam-template.yaml", "use --from aws"),
    ];
    for (from, file, hint) in cases {
        let r = edge_cors(&["import", "--from", from, &fixture(file)]);
        assert_eq!(r.code, 2, "--from {from} {file}: {}", r.all());
        assert!(r.stderr.contains(hint), "--from {from} {file}: wanted {hint:?} in:\n{}", r.stderr);
    }
}

/// A wasm configuration written as a protobuf Struct reaches the module as
/// protobuf bytes: `check` refuses it and names the StringValue to use.
#[test]
fn check_refuses_a_protobuf_struct_configuration() {
    let r = edge_cors(&["check", &fixture("istio-envoyfilter-struct.yaml")]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(
        &r,
        &[
            "spec.configPatches[0].patch.value.typed_config.config.configuration",
            "is a google.protobuf.Struct: Envoy hands the module its protobuf bytes, not JSON",
            "write \"@type\": type.googleapis.com/google.protobuf.StringValue with the JSON policy as a string",
        ],
    );
    let text = std::fs::read_to_string(fixture("istio-envoyfilter-struct.yaml")).unwrap();
    // A StringValue whose value is a mapping is refused the same way.
    let mapping = text.replace("google.protobuf.Struct", "google.protobuf.StringValue");
    let r = edge_cors(&["check", tmp_file("stringvalue-mapping.yaml", &mapping).to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["is a StringValue whose value is not a string", "type.googleapis.com/google.protobuf.StringValue"]);
    // Written as the StringValue the filter reads, it passes and is summarised.
    let (head, _) = mapping.split_once("              value:\n").unwrap();
    let good = format!(
        "{head}              value: '{{\"allow_origins\": [\"https://app.example.com\"], \"allow_methods\": [\"GET\", \"POST\"]}}'\n"
    );
    let r = edge_cors(&["check", tmp_file("stringvalue.yaml", &good).to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(line(&r.stdout, "methods").ends_with("GET, POST"), "{}", r.stdout);
    // The repository's own Envoy configuration is read the same way.
    let r = edge_cors(&["check", common::repo().join("envoy/envoy.yaml").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["(Envoy wasm plugin configuration)"]);
}

/// Without --module the image is a placeholder, and says so; --sha256 pins it.
#[test]
fn render_warns_of_a_placeholder_module_and_pins_sha256() {
    let policy = fixture("policy.json");
    for target in ["istio", "envoy-gateway"] {
        let r = edge_cors(&["render", "--target", target, &policy]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert!(
            r.stderr.contains("warning: the image reference (registry.example.com) is a placeholder")
                && r.stderr.contains("--module")
                && r.stderr.contains("--sha256"),
            "{target}: {}",
            r.stderr
        );
    }
    let r = edge_cors(&["render", "--target", "envoy", &policy]);
    assert_has(&r, &["warning: the module path is a placeholder: give --module"]);

    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let upper = format!("sha256:{}", hex.to_ascii_uppercase());
    let r = edge_cors(&["render", "--target", "istio", &policy, "--module", "oci://ghcr.io/acme/edge-cors:1.0.0", "--sha256", &upper]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stderr.contains("placeholder"), "{}", r.stderr);
    let doc = &yaml_docs(&r.stdout)[0];
    assert_eq!(doc["spec"]["url"].as_str(), Some("oci://ghcr.io/acme/edge-cors:1.0.0"));
    assert_eq!(doc["spec"]["sha256"].as_str(), Some(hex));

    let r = edge_cors(&["render", "--target", "envoy-gateway", &policy, "--module", "ghcr.io/acme/edge-cors:1.0.0", "--sha256", hex]);
    assert_eq!(r.code, 0, "{}", r.all());
    let code = &yaml_docs(&r.stdout)[0]["spec"]["wasm"][0]["code"];
    assert_eq!(code["type"].as_str(), Some("Image"));
    assert_eq!(code["image"]["url"].as_str(), Some("ghcr.io/acme/edge-cors:1.0.0"));
    assert_eq!(code["image"]["sha256"].as_str(), Some(hex));
    let r = edge_cors(&["render", "--target", "envoy-gateway", &policy, "--module", "https://example.com/edge_cors.wasm", "--sha256", hex]);
    let code = &yaml_docs(&r.stdout)[0]["spec"]["wasm"][0]["code"];
    assert_eq!(code["type"].as_str(), Some("HTTP"));
    assert_eq!(code["http"]["sha256"].as_str(), Some(hex));
    // Not a digest, or a target that loads a local file: usage errors.
    let r = edge_cors(&["render", "--target", "istio", &policy, "--sha256", "abc123"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_has(&r, &["is not a SHA-256 digest: give 64 hex digits"]);
    let r = edge_cors(&["render", "--target", "envoy", &policy, "--sha256", hex]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

// ------------------------------------------- import: Gateway API, Envoy Gateway

/// The Gateway API's HTTPRoute CORS filter (standard channel), written as its
/// guide shows it: two rules with one policy, one origin spelled with upper
/// case and the default port.
#[test]
fn import_gateway_api_cors_filter() {
    let (r, v) = import_ok("gateway-api", "gateway-api-httproute.yaml", &[]);
    assert_eq!(v["allow_origins"], serde_json::json!(["https://app.example.com", "https://*.example.com", "https://admin.example.com"]));
    assert_eq!(v["allow_methods"], serde_json::json!(["GET", "POST", "PUT", "DELETE"]));
    assert_eq!(v["allow_headers"], serde_json::json!(["content-type", "authorization"]));
    assert_eq!(v["expose_headers"], serde_json::json!(["etag"]));
    assert_eq!(v["max_age"], 7200);
    assert_eq!(v["allow_credentials"], true);
    assert_has(
        &r,
        &[
            "imported Gateway API HTTPRoute CORS filter at spec.rules[0].filters[0].cors (and 1 identical copies)",
            "the filter applied only to the requests of the HTTPRoute rule it sits in (spec.rules[0].filters[0].cors)",
            "or with 403 (Envoy Gateway answers 200); edge-cors answers 403 with a body naming the reason",
            "origin \"https://Admin.Example.com:443\" is matched as \"https://admin.example.com\"",
        ],
    );
    assert!(!r.stderr.contains("wider:") && !r.stderr.contains("maxAge was not set"), "{}", r.stderr);
    // `https://*` names no port, so the specification's matched port 443
    // only: wider, imported only when told; no maxAge is the spec's 5 s.
    let p = tmp_file(
        "gateway-api-any-https.yaml",
        "spec:\n  rules:\n  - filters:\n    - type: CORS\n      cors:\n        allowOrigins: ['https://*']\n",
    );
    let r = edge_cors(&["import", "--from", "gateway-api", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["wider: origin \"https://*\": the Gateway API assumes port 443 when an origin names none"]);
    let r = edge_cors(&["import", "--from", "gateway-api", p.to_str().unwrap(), "--accept-wider"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"allow_origins": ["https://*"]}));
    assert_has(&r, &["maxAge was not set, so the Gateway API default of 5 seconds applied"]);
}

/// Envoy Gateway's SecurityPolicy cors, as its CORS task writes it: Envoy's
/// CORS filter underneath, origins with a * as Envoy Gateway's regexes.
#[test]
fn import_envoy_gateway_security_policy() {
    let (r, v) = import_ok("envoy-gateway", "envoy-gateway-securitypolicy.yaml", &[]);
    assert_eq!(v["allow_origins"], serde_json::json!(["https://www.example.com", "https://*.example.org", "http://localhost:3000"]));
    assert_eq!(v["allow_methods"], serde_json::json!(["GET", "POST"]));
    assert_eq!(v["allow_headers"], serde_json::json!(["x-header-1", "x-header-2"]));
    assert_eq!(v["expose_headers"], serde_json::json!(["x-header-3"]));
    assert_eq!(v["max_age"], 3600, "maxAge: 1h");
    assert!(v.get("allow_credentials").is_none());
    assert_has(
        &r,
        &[
            "imported Envoy Gateway SecurityPolicy cors at spec.cors",
            "Envoy Gateway sets forward_not_matching_preflights: false, so Envoy answered preflights from other origins with 200",
            "the SecurityPolicy applied to the routes of HTTPRoute/backend",
            "origin \"https://*.example.org\": Envoy Gateway matched its * as the regex .* (any characters, dots included)",
            "Envoy Gateway's CORS filter skipped requests without a route",
        ],
    );
    // The longer name reads the same source.
    let alias = edge_cors(&["import", "--from", "envoy-gateway-security-policy", &fixture("envoy-gateway-securitypolicy.yaml")]);
    assert_eq!((alias.code, &alias.stdout), (0, &r.stdout), "{}", alias.all());
    // What Envoy Gateway compared as written matched no browser's origin,
    // and `:*` needed a port: both wider, so refused with credentials.
    let p = tmp_file(
        "envoy-gateway-wider.yaml",
        "kind: SecurityPolicy\nspec:\n  cors:\n    allowOrigins: ['https://App.example.com', 'https://localhost:*']\n    allowCredentials: true\n",
    );
    let r = edge_cors(&["import", "--from", "envoy-gateway", p.to_str().unwrap(), "--accept-wider"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_has(
        &r,
        &[
            "wider: origin \"https://App.example.com\": Envoy Gateway compared it as written (case and port)",
            "wider: origin \"https://localhost:*\" matched only origins that name a port",
            "--accept-wider does not apply to a policy with credentials",
        ],
    );
}

/// A * edge-cors cannot express is refused, and so is `*` with credentials,
/// which the Gateway API allows (the gateway echoes every origin).
#[test]
fn import_gateway_api_refuses_what_it_cannot_express() {
    let r = edge_cors(&["import", "--from", "gateway-api", &fixture("gateway-api-unsafe.yaml")]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "no policy printed: {}", r.stdout);
    assert_has(
        &r,
        &[
            "refused: origin \"https://pr-*.preview.example.com\": has a * that is not a whole first label",
            "refused: origin \"https://*:8443\": allows any host on one port",
            "not imported: 2 entries cannot be converted safely",
        ],
    );
    let p = tmp_file(
        "gateway-api-star-credentials.yaml",
        "spec:\n  rules:\n  - filters:\n    - type: CORS\n      cors:\n        allowOrigins: ['*']\n        allowCredentials: true\n",
    );
    let r = edge_cors(&["import", "--from", "gateway-api", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_has(&r, &["allows every origin while allow_credentials is true", "not imported: edge-cors refuses the converted policy"]);
}

/// The new sources are named for files of their kind, and name the others.
#[test]
fn import_names_gateway_api_and_envoy_gateway() {
    let cases = [
        (
            "istio",
            "gateway-api-httproute.yaml",
            "it holds a Gateway API HTTPRoute CORS filter (spec.rules[0].filters[0].cors), not an Istio corsPolicy: use --from gateway-api",
        ),
        ("aws", "gateway-api-httproute.yaml", "use --from gateway-api"),
        ("envoy-gateway", "gateway-api-httproute.yaml", "use --from gateway-api"),
        (
            "gateway-api",
            "envoy-gateway-securitypolicy.yaml",
            "it holds an Envoy Gateway SecurityPolicy cors (spec.cors), not a Gateway API HTTPRoute CORS filter: use --from envoy-gateway",
        ),
        ("istio", "envoy-gateway-securitypolicy.yaml", "use --from envoy-gateway"),
        ("envoy-gateway", "istio-virtualservice.yaml", "use --from istio"),
        ("gateway-api", "envoy-cors.yaml", "use --from envoy"),
        ("gateway-api", "sam-template.yaml", "use --from aws"),
    ];
    for (from, file, hint) in cases {
        let r = edge_cors(&["import", "--from", from, &fixture(file)]);
        assert_eq!(r.code, 2, "--from {from} {file}: {}", r.all());
        assert!(r.stderr.contains(hint), "--from {from} {file}: wanted {hint:?} in:\n{}", r.stderr);
    }
}

// ------------------------------------------------------------------ live origins (allow_origins_from)

// crates/cli/fixtures/live-policy.json: a top level with static origins and
// a source (credentials), and a rule whose origins all come from its own
// source; live-origins.json a saved answer of the service.
const TENANT: &str = "https://shop.acme.example";

/// `check` says where each policy's live origins come from, and that a
/// rule with no static origins has only those.
#[test]
fn check_shows_each_policys_live_origins() {
    let r = edge_cors(&["check", &fixture("live-policy.json")]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (top, rule) = r.stdout.split_once("rule \"partners\"").unwrap();
    assert!(
        line(top, "live origins  GET").ends_with(
            "live origins  GET /cors/origins from cluster \"tenant_origins\" (Host: tenants.internal) every 30 s, timeout 2000 ms; added to allow_origins"
        ),
        "{top}"
    );
    assert!(line(top, "origins ").ends_with("https://app.example.com"), "{top}");
    assert_has(
        &r,
        &[
            "an answer with a bad entry adds nothing, but the origins it no longer lists are removed",
            "until the first good answer, only allow_origins applies",
        ],
    );
    // The rule's own source (the authority defaults to the cluster's name).
    assert!(
        line(rule, "live origins  GET").ends_with(
            "GET /origins from cluster \"partner_origins\" (Host: partner_origins) every 5 s, timeout 2000 ms; added to allow_origins"
        ),
        "{rule}"
    );
    assert!(line(rule, "origins ").ends_with("none of its own: only the live origins below"), "{rule}");
    // No source, no row.
    let r = edge_cors(&["check", &fixture("policy.json")]);
    assert!(!r.stdout.contains("live origins"), "{}", r.stdout);
}

/// Without the origin service's list, `explain` never says "allowed" for an
/// origin only that list could allow: it says it cannot see the list, and
/// exits 1 (so CI does not pass on it). What the service could never list,
/// or what fails for another reason, is still "blocked".
#[test]
fn explain_cannot_see_live_origins_and_never_claims_allowed() {
    let p = &fixture("live-policy.json");
    let r = edge_cors(&["explain", p, "--origin", TENANT, "--method", "PUT"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let origin = line(&r.stdout, "origin     ");
    assert!(
        origin.ends_with(
            "not in allow_origins (https://app.example.com); allowed only if the origin service lists it: the proxy fetches \
             GET /cors/origins from cluster \"tenant_origins\" every 30 s at run time, and explain cannot see that list \
             (--live-origins FILE decides with a saved answer)"
        ),
        "{origin}"
    );
    assert!(!origin.contains("not allowed"), "{origin}");
    assert!(line(&r.stdout, "if listed").contains("until then it refuses it like any origin not allowed"), "{}", r.stdout);
    // What it shows is the engine's answer once listed, said as such.
    assert_has(
        &r,
        &[
            "preflight response (from edge-cors; the upstream never sees the preflight), once the origin service lists the origin",
            "access-control-allow-origin: https://shop.acme.example",
        ],
    );
    let verdict = r.stdout.lines().last().unwrap();
    assert_eq!(
        verdict,
        "not decided: PUT from https://shop.acme.example is allowed only if the origin service lists it (the proxy fetches that list \
         at run time; explain cannot see it): pass --live-origins FILE with a saved answer to decide"
    );
    assert!(!r.stdout.lines().any(|l| l.starts_with("allowed:") || l.starts_with("blocked:")), "{}", r.stdout);

    // A rule's own source, with no static origins at all.
    let r = edge_cors(&["explain", p, "--origin", TENANT, "--path", "/partners/x"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["rule: rules[0] (\"partners\")", "not in allow_origins (empty)", "from cluster \"partner_origins\" every 5 s"]);
    assert!(r.stdout.lines().last().unwrap().starts_with("not decided: GET from"), "{}", r.stdout);

    // Blocked whatever the service lists: a method the policy refuses...
    let r = edge_cors(&["explain", p, "--origin", TENANT, "--method", "DELETE"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout
            .lines()
            .last()
            .unwrap()
            .ends_with("DELETE is not in allow_methods (GET, PUT) (whether or not the origin service lists the origin)"),
        "{}",
        r.stdout
    );
    // ...or an origin the filter would refuse in any answer (plain HTTP with credentials).
    let r = edge_cors(&["explain", p, "--origin", "http://shop.acme.example"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        line(&r.stdout, "origin     ").contains("the origin service cannot add it: the filter refuses an answer that lists it"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.lines().last().unwrap().starts_with("blocked: GET from http://shop.acme.example"), "{}", r.stdout);
    // An origin in the static list is allowed, whatever the service lists.
    let r = edge_cors(&["explain", p, "--origin", "https://app.example.com", "--method", "PUT"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.lines().last().unwrap().starts_with("allowed:"), "{}", r.stdout);
}

/// `--live-origins FILE`: a saved answer, checked as the filter checks one
/// (under the policy's credentials), joins allow_origins; one the filter
/// would refuse is an error naming the problem (exit 2).
#[test]
fn explain_decides_with_a_saved_live_origins_answer() {
    let p = &fixture("live-policy.json");
    let answer = &fixture("live-origins.json");
    let r = edge_cors(&["explain", p, "--origin", TENANT, "--method", "PUT", "--live-origins", answer]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        line(&r.stdout, "origin     ")
            .ends_with(&format!("allowed: matches \"https://shop.acme.example\" in the origin service's list ({answer})")),
        "{}",
        r.stdout
    );
    assert_has(&r, &["access-control-allow-origin: https://shop.acme.example", "access-control-allow-credentials: true"]);
    assert!(r.stdout.lines().last().unwrap().starts_with("allowed: the browser lets this PUT from https://shop.acme.example"));
    // A pattern of the answer, at any depth.
    let r = edge_cors(&["explain", p, "--origin", "https://a.b.tenants.example", "--live-origins", answer]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["matches \"https://*.tenants.example\" in the origin service's list"]);
    // In neither list: blocked, saying both.
    let r = edge_cors(&["explain", p, "--origin", "https://evil.test", "--live-origins", answer]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.lines().last().unwrap().ends_with(&format!(
            "https://evil.test is not in allow_origins (https://app.example.com) nor in the origin service's list ({answer}: 2 origins)"
        )),
        "{}",
        r.stdout
    );

    // Answers the filter refuses, whole: each is an error naming the problem.
    let refused: &[(&str, &str)] = &[
        // "*" is never a tenant's site (docs/contract.md "Live origins").
        (r#"{"origins": ["*"]}"#, "origins[0] = \"*\": is not a site"),
        (r#"{"origins": ["https://shop.acme.example/"]}"#, "origins[0] = \"https://shop.acme.example/\": is not an origin"),
        (r#"{"tenants": []}"#, "the answer must be a JSON object with a list \"origins\""),
        (r#"{"origins": ["#, "the answer is not valid JSON"),
    ];
    for (body, problem) in refused {
        let f = tmp_file("refused-answer.json", body);
        let r = edge_cors(&["explain", p, "--origin", TENANT, "--live-origins", f.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{body}: {}", r.all());
        assert!(r.stdout.is_empty(), "{body}: {}", r.stdout);
        let want = format!(
            "edge-cors: error: --live-origins {}: the filter would refuse this answer's additions (it only removes the origins it no longer lists): {problem}",
            f.display()
        );
        assert!(r.stderr.starts_with(&want), "{body}: wanted {want:?} in:\n{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // Without credentials "*" is refused too: fetched entries are sites,
    // whatever the rule's credentials (no allow_credentials there).
    let star = tmp_file("star-answer.json", r#"{"origins": ["*"]}"#);
    let r =
        edge_cors(&["explain", p, "--origin", "https://any.example", "--path", "/partners/x", "--live-origins", star.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("origins[0] = \"*\": is not a site"), "{}", r.stderr);
    // A missing file, and a policy that fetches nothing (a note, not an error).
    let r = edge_cors(&["explain", p, "--origin", TENANT, "--live-origins", "/nonexistent/answer.json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.starts_with("edge-cors: error: cannot read --live-origins /nonexistent/answer.json"), "{}", r.stderr);
    let r = edge_cors(&["explain", &fixture("policy.json"), "--origin", "https://app.example.com", "--live-origins", answer]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &[&format!("the policy that applies has no allow_origins_from: --live-origins {answer} changes nothing")]);
}

/// `"debug": true` is said by check (a row), explain (the x-edge-cors header
/// the filter adds, its record exact) and render (a warning); check shows the
/// Host a live-origin fetch carries, Istio's host part included.
#[test]
fn debug_and_the_fetch_host_are_said() {
    let p = tmp_file("debug.json", r#"{"allow_origins": ["https://app.example.com"], "allow_headers": ["x-a"], "debug": true}"#);
    let p = p.to_str().unwrap();
    let r = edge_cors(&["check", p]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("debug        on: every response carries x-edge-cors with the decision"), "{}", r.stdout);
    let r = edge_cors(&["explain", p, "--origin", "https://app.example.com", "--method", "PUT"]);
    assert!(
        r.stdout
            .contains("  x-edge-cors: rule=default decision=preflight_rejected reason=method origin=https://app.example.com detail=PUT\n"),
        "{}",
        r.stdout
    );
    let r = edge_cors(&["explain", p, "--origin", "https://app.example.com"]);
    assert!(r.stdout.contains("  x-edge-cors: rule=default decision=allowed reason=none origin=https://app.example.com\n"), "{}", r.stdout);
    let r = edge_cors(&["render", "--target", "envoy", p, "--module", "/m.wasm"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("warning: \"debug\": true in \"default\": every response there carries x-edge-cors"), "{}", r.stderr);
    let quiet = tmp_file("quiet.json", r#"{"allow_origins": ["https://app.example.com"]}"#);
    let r = edge_cors(&["render", "--target", "envoy", quiet.to_str().unwrap(), "--module", "/m.wasm"]);
    assert!(!r.stderr.contains("debug"), "{}", r.stderr);

    let istio = tmp_file(
        "istio-source.json",
        r#"{"allow_origins": [], "allow_origins_from": {"cluster": "outbound|8080||tenants.default.svc.cluster.local", "path": "/o"}}"#,
    );
    let r = edge_cors(&["check", istio.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(
            "from cluster \"outbound|8080||tenants.default.svc.cluster.local\" (Host: tenants.default.svc.cluster.local (the host part of the cluster's name))"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Public Suffix List 2026-10-22_08-36-41_UTC compiled in"), "{}", r.stdout);
}

// ------------------------------------------- import: ingress-nginx, HTTPRoute rules

/// ingress-nginx's annotations: a rule per host, per path where a host's
/// Ingresses differ, the Ingress without CORS "off", and `*` with the
/// default credentials imported as browsers saw it (without them).
#[test]
fn import_ingress_nginx_annotations() {
    let (r, v) = import_ok("ingress-nginx", "ingress-nginx.yaml", &[]);
    let rules = v["rules"].as_array().expect("rules");
    let by_name = |n: &str| rules.iter().find(|r| r["name"] == n).unwrap_or_else(|| panic!("no rule {n} in {v}")).clone();
    let api = by_name("api-example-com");
    assert_eq!(api["match"], serde_json::json!({"hosts": ["api.example.com"]}));
    assert_eq!(api["allow_origins"], serde_json::json!(["https://app.example.com", "https://admin.example.com"]));
    assert_eq!(api["allow_credentials"], true);
    assert_eq!(api["max_age"], 600);
    let public = by_name("public-example-com");
    assert_eq!(public["allow_origins"], serde_json::json!(["*"]));
    assert!(public.get("allow_credentials").is_none(), "{public}");
    assert_eq!(public["max_age"], 86400, "ingress-nginx's default 1728000, capped");
    let shop = by_name("shop-example-com-api");
    assert_eq!(shop["match"], serde_json::json!({"hosts": ["shop.example.com"], "path_separated_prefix": "/api"}));
    assert_eq!(by_name("shop-example-com")["cors"], "off");
    assert_eq!(v["allow_origins"], api["allow_origins"], "the top level copies the first Ingress's policy");
    assert_has(
        &r,
        &[
            "imported ingress-nginx Ingress CORS annotations at Ingresses default/api, default/public, default/shop-api, default/shop-web",
            "ingress-nginx answered Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true",
            "Ingress default/shop-web has no enable-cors: \"true\"",
            "the top-level policy is a copy of rules[",
            "ingress-nginx passed preflights from origins it did not allow to the upstream",
        ],
    );
    // A file of Ingresses names its --from, and an Ingress without CORS is no policy.
    let r = edge_cors(&["import", "--from", "envoy", &fixture("ingress-nginx.yaml")]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert_has(&r, &["it holds an ingress-nginx Ingress CORS annotations", "use --from ingress-nginx"]);
    let p = tmp_file(
        "ingress-no-cors.yaml",
        "kind: Ingress\nmetadata:\n  name: web\n  annotations:\n    nginx.ingress.kubernetes.io/cors-allow-origin: https://a.example\nspec:\n  rules:\n  - host: web.example.com\n",
    );
    let r = edge_cors(&["import", "--from", "ingress-nginx", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_has(
        &r,
        &[
            "refused: Ingress web has no nginx.ingress.kubernetes.io/enable-cors annotation, so ingress-nginx added no CORS headers there; ingress-nginx ignored its cors-* annotations",
            "not imported: there is no CORS policy in it to import",
        ],
    );
}

/// An Exact path becomes a segment prefix and a one-label `*.` any depth:
/// both wider, so imported only with --accept-wider.
#[test]
fn import_ingress_nginx_exact_paths_are_wider() {
    let r = edge_cors(&["import", "--from", "ingress-nginx", &fixture("ingress-nginx-paths.yaml")]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_has(
        &r,
        &[
            "wider: Ingress login spec.rules[0].http.paths[0]: ingress-nginx matched the exact path /v1/login on api.example.com",
            "wider: origin \"https://*.example.com\": ingress-nginx matched its * as one label",
            "not imported: the converted policy would allow origins and paths the source did not",
        ],
    );
    let (r, v) = import_ok("ingress-nginx", "ingress-nginx-paths.yaml", &["--accept-wider"]);
    assert_has(&r, &["accepted: the wider policy is imported (--accept-wider)"]);
    let matches: Vec<&serde_json::Value> = v["rules"].as_array().unwrap().iter().map(|r| &r["match"]).collect();
    assert_eq!(
        matches,
        [
            &serde_json::json!({"hosts": ["api.example.com"], "path_separated_prefix": "/v1/login"}),
            &serde_json::json!({"hosts": ["api.example.com"], "path_separated_prefix": "/v1"}),
        ]
    );
}

/// An HTTPRoute whose rules carry different CORS filters, and one without:
/// a rule per HTTPRoute rule and path match, whole segments, the rule
/// without the filter "off".
#[test]
fn import_gateway_api_rules_with_different_filters() {
    let (r, v) = import_ok("gateway-api", "gateway-api-httproute-rules.yaml", &[]);
    let rules = v["rules"].as_array().expect("rules");
    let names: Vec<&str> = rules.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["shop-rule1-match1", "shop-rule0", "shop-rule1-match0", "shop-rule2"]);
    assert_eq!(rules[0]["match"], serde_json::json!({"hosts": ["shop.example.com"], "path_separated_prefix": "/checkout"}));
    assert_eq!(rules[0]["allow_credentials"], true);
    assert_eq!(rules[1]["match"]["path_separated_prefix"], "/cors-1", "/cors-1 must not cover /cors-10");
    assert_eq!(
        rules[3],
        serde_json::json!({"name": "shop-rule2", "match": {"hosts": ["shop.example.com"], "path_separated_prefix": "/admin"}, "cors": "off"})
    );
    assert_has(
        &r,
        &[
            "imported Gateway API HTTPRoute CORS filter at HTTPRoute shop (spec)",
            "each HTTPRoute rule became an edge-cors rule",
            "Access-Control-Expose-Headers on preflight answers",
        ],
    );
    assert!(!r.stderr.contains("import them one at a time"), "{}", r.stderr);
}

/// A `*` for request headers admits Authorization in edge-cors, not in the
/// sources: never imported silently, and never with credentials.
#[test]
fn import_never_widens_star_headers_silently() {
    let p = tmp_file(
        "envoy-star-headers.yaml",
        "cors:\n  allow_origin_string_match:\n  - exact: https://app.example.com\n  allow_headers: '*'\n",
    );
    let r = edge_cors(&["import", "--from", "envoy", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(
        &r,
        &[
            "wider: allow_headers \"*\": Envoy's * is the Fetch standard's wildcard, which never covers Authorization",
            "not imported: the converted policy would allow request headers the source did not",
        ],
    );
    let r = edge_cors(&["import", "--from", "envoy", p.to_str().unwrap(), "--accept-wider"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let p = tmp_file(
        "gateway-star-headers.yaml",
        "kind: SecurityPolicy\nspec:\n  cors:\n    allowOrigins: ['https://app.example.com']\n    allowHeaders: ['*']\n    allowCredentials: true\n",
    );
    let r = edge_cors(&["import", "--from", "envoy-gateway", p.to_str().unwrap(), "--accept-wider"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["literally named *", "--accept-wider does not apply to a policy with credentials"]);
}

/// The ingress-nginx import run by a real Envoy: each Ingress's CORS where
/// that Ingress applied, whole path segments as Kubernetes' `Prefix`
/// matches them (`/api` but not `/apis` on shop.example.com), nothing where
/// an Ingress had no CORS, and `*` without credentials where ingress-nginx's
/// defaults sent `*` with them.
#[test]
fn imported_ingress_nginx_policy_runs_in_envoy_as_the_ingresses_meant() {
    let (_, v) = import_ok("ingress-nginx", "ingress-nginx.yaml", &[]);
    let policy = v.to_string();
    let upstream = Upstream::start();
    // Every path to the upstream, as the Ingresses' backends.
    let hosts = r#"
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: upstream }"#;
    let yaml = Listener { name: "ingress", config: &policy }.yaml().virtual_hosts(hosts).build();
    let envoy = match Envoy::start_bootstrap(|_| common::bootstrap_yaml(&[yaml], upstream.port), 1, &[]) {
        common::Started::Running(e) => e,
        common::Started::Exited { code, log } => panic!("Envoy refused the imported policy ({code:?}):\n{log}"),
    };
    let preflight = |host: &str, path: &str, origin: &str| {
        common::send_raw(
            &envoy.url("ingress", ""),
            "OPTIONS",
            path,
            &[("Host", host), ("Origin", origin), ("Access-Control-Request-Method", "PUT")],
        )
    };
    let shop = preflight("shop.example.com", "/api/cart", "https://shop.example.com");
    assert_eq!((shop.status, shop.one("access-control-allow-origin")), (204, Some("https://shop.example.com")), "{:?}", shop.headers);
    // /apis is not under the Prefix /api: shop-web's Ingress, without CORS.
    let web = preflight("shop.example.com", "/apis", "https://shop.example.com");
    assert!(web.one("access-control-allow-origin").is_none(), "{:?}", web.headers);
    assert!(upstream.seen("/apis").len() == 1, "CORS off there: the upstream answers the OPTIONS");
    let public = preflight("public.example.com", "/x", "https://anyone.example");
    assert_eq!(public.one("access-control-allow-origin"), Some("*"), "{:?}", public.headers);
    assert!(public.one("access-control-allow-credentials").is_none(), "browsers refused * with credentials");
    let api = preflight("api.example.com", "/v1", "https://evil.example");
    assert_eq!(api.status, 403, "{:?}", api.headers);
    envoy.stop();
}
