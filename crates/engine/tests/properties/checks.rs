//! What the properties check of the engine's answers: the rules every answer
//! keeps (`universal`), a preflight's answer against the model and a browser
//! (`check_preflight`), and a forwarded response's headers (`check_forward`).

use edge_cors_engine::{Decision, Forward, HeaderList, Policy, Rejection, Request, Stamp};

use crate::browser::Browser;
use crate::generators::{HEADERS, METHODS};
use crate::http::{cors_names, elements, is_token, ows_trim, reply_headers, values, Headers};
use crate::model::{Model, Names};
use crate::origins::parse_origin;

const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
const PREFLIGHT_VARY_PNA: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

/// The 403 body naming a refused method or header (long names cut).
fn named_body(kind: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let shown = if name.len() > 64 { format!("{}...", &name[..64]) } else { name.to_string() };
    format!("CORS preflight rejected: {kind} \"{shown}\" not allowed\n")
}

pub fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

fn shows(v: &[&[u8]]) -> Vec<String> {
    v.iter().map(|b| show(b)).collect()
}

/// The checks every answer must pass, whatever the request.
pub fn universal(headers: &Headers) -> Result<(), String> {
    for name in cors_names(headers) {
        if values(headers, &name).len() > 1 {
            return Err(format!("{name} sent twice"));
        }
    }
    let star = values(headers, "access-control-allow-origin").contains(&&b"*"[..]);
    if star && !values(headers, "access-control-allow-credentials").is_empty() {
        return Err("Access-Control-Allow-Origin: * together with Access-Control-Allow-Credentials".into());
    }
    Ok(())
}

fn vary_names(headers: &Headers) -> Vec<Vec<u8>> {
    values(headers, "vary").iter().flat_map(|v| elements(v)).map(|e| e.to_ascii_lowercase()).collect()
}

fn varies_on_origin(headers: &Headers) -> bool {
    vary_names(headers).iter().any(|e| e == b"origin" || e == b"*")
}

pub fn check_preflight(
    model: &Model,
    policy: &Policy,
    origin: &[u8],
    method: &[u8],
    requested: Option<&[u8]>,
    pna: Option<&[u8]>,
) -> Result<(), String> {
    let req = Request {
        method: b"OPTIONS",
        origin: Some(origin),
        request_method: Some(method),
        request_headers: requested,
        request_private_network: pna,
        ..Request::default()
    };
    let Decision::Preflight(reply) = policy.decide(&req) else {
        return Err("a preflight was forwarded".into());
    };
    let headers = reply_headers(&reply);
    universal(&headers)?;
    if !varies_on_origin(&headers) {
        return Err(format!("preflight answer without Vary: Origin: {headers:?}"));
    }
    // Allowed or not, the answer varies on exactly the request headers it depends on.
    let want_vary = if model.private_network { PREFLIGHT_VARY_PNA } else { PREFLIGHT_VARY };
    let vary = values(&headers, "vary");
    if vary != [want_vary.as_bytes()] {
        return Err(format!("preflight Vary {:?}, want {want_vary:?}", shows(&vary)));
    }

    // The reference decision: origin, then method, then headers.
    let public = model.public();
    let origin_ok = public || model.allows(origin);
    let method_ok = model.method_allowed(method);
    let refused_header = model.refused_header(requested.unwrap_or_default());
    let headers_ok = refused_header.is_none();
    let want = if !origin_ok {
        Some(Rejection::Origin)
    } else if !method_ok {
        Some(Rejection::Method)
    } else if !headers_ok {
        Some(Rejection::Header)
    } else {
        None
    };
    let allowed = reply.rejected.is_none();
    if allowed && want.is_some() {
        return Err(format!("allowed a preflight the policy refuses (origin {origin_ok}, method {method_ok}, headers {headers_ok})"));
    }
    if !allowed && want.is_none() {
        return Err(format!("refused a preflight the policy allows ({:?})", reply.rejected));
    }
    if reply.rejected != want {
        return Err(format!("rejected for its {:?}, but the first part the policy refuses is {want:?}", reply.rejected));
    }
    let want_status = if allowed { model.preflight_status() } else { 403 };
    if reply.status != want_status {
        return Err(format!("status {} with rejection {:?}, want {want_status}", reply.status, reply.rejected));
    }
    // The 403 body names the part refused and the first method or header refused.
    let (want_body, want_detail): (String, Option<&[u8]>) = match want {
        None => (String::new(), None),
        Some(Rejection::Origin) => ("CORS preflight rejected: origin not allowed\n".into(), None),
        Some(Rejection::Method) if is_token(method) => (named_body("method", method), Some(method)),
        Some(Rejection::Method) => ("CORS preflight rejected: method is not a valid token\n".into(), None),
        Some(Rejection::Header) => match refused_header.flatten() {
            Some(name) => (named_body("header", name), Some(name)),
            None => ("CORS preflight rejected: header list is malformed\n".into(), None),
        },
    };
    if *reply.body != *want_body {
        return Err(format!("body {:?}, want {want_body:?}", reply.body.chars().take(200).collect::<String>()));
    }
    if reply.detail.map(str::as_bytes) != want_detail {
        return Err(format!("detail {:?}, want {:?}", reply.detail, want_detail.map(show)));
    }
    if !allowed {
        if !cors_names(&headers).is_empty() {
            return Err(format!("a refused preflight carries CORS headers: {headers:?}"));
        }
    } else {
        let acao = values(&headers, "access-control-allow-origin");
        let want: &[u8] = if public { b"*" } else { origin };
        if acao != [want] {
            return Err(format!("Access-Control-Allow-Origin {acao:?}, want {}", show(want)));
        }
        let acac = values(&headers, "access-control-allow-credentials");
        if acac != if model.credentials { vec![&b"true"[..]] } else { vec![] } {
            return Err(format!("Access-Control-Allow-Credentials {acac:?} with credentials {}", model.credentials));
        }
        let max_age = values(&headers, "access-control-max-age");
        if max_age != model.max_age.map(|a| a.to_string().into_bytes()).iter().map(|v| v.as_slice()).collect::<Vec<_>>() {
            return Err(format!("Access-Control-Max-Age {max_age:?}, configured {:?}", model.max_age));
        }
        let pna_asked = pna.is_some_and(|v| ows_trim(v).eq_ignore_ascii_case(b"true"));
        let pna_sent = !values(&headers, "access-control-allow-private-network").is_empty();
        if pna_sent != (pna_asked && model.private_network) {
            return Err(format!("Access-Control-Allow-Private-Network sent: {pna_sent}, asked {pna_asked}"));
        }
        let names = elements(requested.unwrap_or_default());
        let acah = values(&headers, "access-control-allow-headers");
        if acah.is_empty() != names.is_empty() {
            return Err("Access-Control-Allow-Headers must be sent exactly when headers were requested".into());
        }
        // Under `*` the request's list is echoed, normalised.
        let echoed = names.join(&b", "[..]);
        if model.headers == Names::Any && !names.is_empty() && acah != [echoed.as_slice()] {
            return Err(format!("Access-Control-Allow-Headers {:?}, want {}", shows(&acah), show(&echoed)));
        }
    }

    // The browser's verdict, for requests a browser could make.
    let realistic_origin = origin == b"null" || parse_origin(origin).is_some();
    let names: Vec<&[u8]> = elements(requested.unwrap_or_default());
    if realistic_origin && is_token(method) && names.iter().all(|n| is_token(n)) {
        let headers_lower: Vec<Vec<u8>> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        for credentials in [false, true] {
            let browser = Browser { origin: origin.to_vec(), method: method.to_vec(), headers: headers_lower.clone(), credentials };
            let verdict = browser.accepts_preflight(reply.status, &headers);
            // A credentialed request is only allowed when the policy allows credentials.
            let should = allowed && (!credentials || model.credentials);
            if verdict.is_ok() != should {
                return Err(format!(
                    "browser ({}) says {verdict:?} of a {} answer",
                    if credentials { "credentials" } else { "no credentials" },
                    reply.status
                ));
            }
            if verdict.is_err() {
                continue;
            }
            // Browsers cache the answer for other requests from the same
            // origin: nothing it lets through may be outside the policy.
            for m in METHODS.iter().chain(&["TRACE", "PATCH"]) {
                for h in HEADERS.iter().chain(&["x-b", "cookie"]) {
                    let other =
                        Browser { method: m.as_bytes().to_vec(), headers: vec![h.to_ascii_lowercase().into_bytes()], ..browser.clone() };
                    if other.accepts_preflight(reply.status, &headers).is_ok()
                        && !(model.method_allowed(m.as_bytes()) && model.headers_allowed(h.as_bytes()))
                    {
                        return Err(format!("the cached answer lets {m} with {h} through, which the policy refuses"));
                    }
                }
            }
        }
    }
    Ok(())
}

pub fn check_forward(model: &Model, policy: &Policy, req: &Request<'_>, upstream: &Headers) -> Result<(), String> {
    let Decision::Forward(forward) = policy.decide(req) else {
        return Err("not a preflight, but answered".into());
    };
    let public = model.public();
    match (req.origin, forward) {
        (None, Forward::NoOrigin) if !public => {}
        (_, Forward::Allowed) if public => {}
        (Some(o), Forward::Allowed) if model.allows(o) => {}
        (Some(o), Forward::Denied) if !model.allows(o) => {}
        (o, f) => return Err(format!("{f:?} for origin {:?}", o.map(show))),
    }
    // The stamp carries the request's origin whatever the decision (report
    // mode does so): the decision alone says what the response gets.
    let mut map = HeaderList { headers: upstream.clone() };
    policy.rewrite_response(Stamp { forward, origin: req.origin }, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), &mut map);
    let headers = map.headers;
    universal(&headers)?;

    // Nothing of the upstream's CORS survives (nor its Timing-Allow-Origin
    // when the policy sets that); everything else does.
    let timing = model.timing_on();
    let plain = |h: &Headers| -> Headers {
        h.iter()
            .filter(|(n, _)| !n.to_ascii_lowercase().starts_with(b"access-control-") && !n.eq_ignore_ascii_case(b"vary"))
            .filter(|(n, _)| !(timing && n.eq_ignore_ascii_case(b"timing-allow-origin")))
            .cloned()
            .collect()
    };
    if plain(&headers) != plain(upstream) {
        return Err("other response headers changed".into());
    }
    let cors = cors_names(&headers);
    let acao = values(&headers, "access-control-allow-origin");
    if forward == Forward::Allowed {
        let want: &[u8] = if public { b"*" } else { req.origin.unwrap_or_default() };
        if acao != [want] {
            return Err(format!("Access-Control-Allow-Origin {acao:?}, want {}", show(want)));
        }
        let mut expected = vec!["access-control-allow-origin".to_string()];
        if model.credentials {
            expected.push("access-control-allow-credentials".into());
        }
        if matches!(&model.expose, Names::Any) || matches!(&model.expose, Names::List(l) if !l.is_empty()) {
            expected.push("access-control-expose-headers".into());
        }
        let mut got = cors.clone();
        got.sort();
        expected.sort();
        if got != expected {
            return Err(format!("CORS headers {got:?}, want {expected:?}"));
        }
    } else if !cors.is_empty() {
        return Err(format!("CORS headers on a response for a refused or absent origin: {cors:?}"));
    }
    // timing_allow_origin: the allowed responses, and only they, carry
    // Timing-Allow-Origin with Access-Control-Allow-Origin's value.
    if timing {
        let tao = values(&headers, "timing-allow-origin");
        let want = if forward == Forward::Allowed { acao.clone() } else { vec![] };
        if tao != want {
            return Err(format!("Timing-Allow-Origin {:?}, want {:?}", shows(&tao), shows(&want)));
        }
    }

    // Vary: Origin whenever the answer depends on the origin; merged, never duplicated.
    let before = vary_names(upstream);
    let after = vary_names(&headers);
    if public {
        if after != before {
            return Err("Vary changed under a public policy".into());
        }
    } else {
        if !varies_on_origin(&headers) {
            return Err(format!("no Vary: Origin under a policy that depends on the origin: {headers:?}"));
        }
        let covered = before.iter().any(|e| e == b"origin" || e == b"*");
        let mut want = before.clone();
        if !covered {
            want.push(b"origin".to_vec());
        }
        if after != want {
            return Err(format!("Vary {:?} from upstream {:?}", after.iter().map(|e| show(e)).collect::<Vec<_>>(), before));
        }
        // Merged into one clean list (no empty members); left alone when it already covers Origin.
        let got = values(&headers, "vary");
        if covered {
            if got != values(upstream, "vary") {
                return Err(format!("Vary {:?} rewritten though it covered Origin", shows(&got)));
            }
        } else {
            let mut merged: Vec<&[u8]> = values(upstream, "vary").into_iter().flat_map(elements).collect();
            merged.push(b"Origin");
            let merged = merged.join(&b", "[..]);
            if got != [merged.as_slice()] {
                return Err(format!("Vary {:?}, want {}", shows(&got), show(&merged)));
            }
        }
    }

    // The browser reads the response exactly when the policy allows the origin.
    if let Some(o) = req.origin {
        if o == b"null" || parse_origin(o).is_some() {
            for credentials in [false, true] {
                let browser = Browser { origin: o.to_vec(), method: b"GET".to_vec(), headers: vec![], credentials };
                let reads = browser.cors_check(&headers).is_ok();
                let should = model.allows(o) && (!credentials || model.credentials);
                if reads != should {
                    return Err(format!("browser (credentials {credentials}) can read: {reads}, policy allows: {should}"));
                }
            }
        }
    }
    Ok(())
}
