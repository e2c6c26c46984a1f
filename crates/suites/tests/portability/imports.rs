//! Import inventory of the release module, against the proxy-wasm ABI 0.2.1
//! subset each host provides. A module imports a function the host does not
//! register cannot be instantiated there at all, so every import is checked
//! for every host, with its signature.
//!
//! Since the module exports the ABI itself (crates/wasm/src/abi.rs) instead of through
//! the SDK's dispatcher, every `env` import is one edge-cors calls (crates/wasm/src/host.rs,
//! crates/wasm/src/metrics.rs): 17, down from the SDK's 26. Rust's std declares four
//! WASI functions for its default panic hook and process exit, never called;
//! crates/suites/tests/portability/hosts.rs traps on any call to them. Where a host answers such an
//! import with a stub or a trap, the gap is listed in KNOWN_GAPS, by name
//! and with the reason it is harmless. A new import, or a new gap, fails
//! this test until it has been looked up in each host's sources and
//! recorded here.
//!
//! Live origins (`allow_origins_from`) brought five imports: timers, the
//! clock, shared data (get and set) and HTTP calls. They are called only
//! for a policy with a source, and a host that answers the timer, clock or
//! shared-data call with a non-Ok status refuses that policy at configure
//! time (APISIX, Service Extensions); every host registers them, so every
//! module loads everywhere.
//!
//! Sources (read for this table):
//! - Envoy (also Istio, Envoy Gateway, Higress): proxy-wasm/proxy-wasm-cpp-host,
//!   include/proxy-wasm/exports.h (FOR_ALL_HOST_FUNCTIONS,
//!   FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC, FOR_ALL_WASI_FUNCTIONS) and
//!   src/wasm.cc (WasmBase::registerCallbacks: every name is registered;
//!   for ABI 0.2.1 also continue_stream, close_stream, get_log_level).
//! - Kong: Kong/ngx_wasm_module, src/common/proxy_wasm/ngx_proxy_wasm_host.c
//!   (the ngx_proxy_wasm_hfuncs table; entries bound to
//!   ngx_proxy_wasm_hfuncs_nop return NGX_WAVM_NYI, which
//!   src/wasm/vm/ngx_wavm_host.c turns into a "host function not yet
//!   implemented" trap), src/wasm/wasi/ngx_wasi_host.c (WASI), and
//!   docs/METRICS.md (metrics, prefixed pw.<filter>., in current releases).
//! - APISIX: api7/wasm-nginx-module, src/http/ngx_http_wasm_api_def.h (the
//!   registered names), src/http/ngx_http_wasm_api.c (metrics, time,
//!   set_header_map_pairs and done answer PROXY_RESULT_UNIMPLEMENTED), and
//!   src/vm/wasmtime.c (wasmtime_linker_define_wasi: all of WASI preview 1).
//! - Service Extensions: Envoy-based, on proxy-wasm-cpp-host (every name is
//!   registered; ContextBase in include/proxy-wasm/context.h answers
//!   Unimplemented for what a host does not offer, and restricted WASI
//!   functions get stubs answering ENOTCAPABLE). The supported subset:
//!   GoogleCloudPlatform/service-extensions README ("Feature set / ABI") and
//!   cloud.google.com/service-extensions/docs/plugin-best-practices: headers,
//!   bodies, local responses, logging, plugin configuration, WASI
//!   fd_write/clock_time_get/random_get; no timers, custom metrics, shared
//!   data, shared queues or outbound calls.

use edge_cors_suites as common;

use std::collections::BTreeMap;
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Support {
    /// Registered and implemented.
    Works,
    /// Registered; answers a non-Ok status (Unimplemented, ENOTCAPABLE).
    Status,
    /// Registered; traps the VM when called.
    Traps,
    /// Registered; behaviour outside the host's documented subset.
    Linked,
    /// Not registered: the module would not instantiate. (No host lacks
    /// any of today's imports; kept for the next one that does.)
    #[allow(dead_code)]
    Missing,
}
use Support::*;

#[derive(Clone, Copy)]
enum Hosts {
    Envoy,
    Kong,
    Apisix,
    ServiceExtensions,
}
const HOSTS: [Hosts; 4] = [Hosts::Envoy, Hosts::Kong, Hosts::Apisix, Hosts::ServiceExtensions];

impl Hosts {
    fn name(self) -> &'static str {
        match self {
            Hosts::Envoy => "Envoy",
            Hosts::Kong => "Kong",
            Hosts::Apisix => "APISIX",
            Hosts::ServiceExtensions => "Service Extensions",
        }
    }
}

/// Who needs an import.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Called by edge-cors (crates/wasm/src/host.rs, crates/wasm/src/metrics.rs).
    EdgeCors,
    /// Declared by std (its panic hook, process exit); never called.
    Sdk,
}

struct Import {
    name: &'static str,
    /// The ABI 0.2.1 signature, as wasm-objdump prints it.
    sig: &'static str,
    need: Need,
    why: &'static str,
    /// Envoy, Kong, APISIX, Service Extensions.
    support: [Support; 4],
}

const I3: &str = "(i32, i32, i32) -> i32";
const I5: &str = "(i32, i32, i32, i32, i32) -> i32";
const I4: &str = "(i32, i32, i32, i32) -> i32";
const I2: &str = "(i32, i32) -> i32";
const I1: &str = "(i32) -> i32";

/// Every import the release module may have, and what each host does with it.
const KNOWN: &[Import] = &[
    // ---- called by edge-cors
    Import {
        name: "env.proxy_log",
        sig: I3,
        need: Need::EdgeCors,
        why: "log lines (refusals, warnings, debug explanations)",
        support: [Works, Works, Works, Works],
    },
    Import {
        name: "env.proxy_get_buffer_bytes",
        sig: I5,
        need: Need::EdgeCors,
        why: "the plugin configuration",
        support: [Works, Works, Works, Works],
    },
    Import {
        name: "env.proxy_get_header_map_pairs",
        sig: I3,
        need: Need::EdgeCors,
        why: "request and response headers, one call each",
        support: [Works, Works, Works, Works],
    },
    Import {
        name: "env.proxy_get_header_map_value",
        sig: I5,
        need: Need::EdgeCors,
        why: ":authority by name when a host leaves it out of the pairs (APISIX)",
        support: [Works, Works, Works, Works],
    },
    Import {
        name: "env.proxy_replace_header_map_value",
        sig: I5,
        need: Need::EdgeCors,
        why: "stamping Access-Control-* and Vary",
        support: [Works, Works, Works, Works],
    },
    Import {
        name: "env.proxy_remove_header_map_value",
        sig: I3,
        need: Need::EdgeCors,
        why: "removing the upstream's Access-Control-*",
        support: [Works, Works, Works, Works],
    },
    Import {
        name: "env.proxy_send_local_response",
        sig: "(i32, i32, i32, i32, i32, i32, i32, i32) -> i32",
        need: Need::EdgeCors,
        why: "answering preflights",
        support: [Works, Works, Works, Works],
    },
    // Metrics: a non-Ok status switches counting off with one warning (crates/wasm/src/metrics.rs).
    Import {
        name: "env.proxy_define_metric",
        sig: I4,
        need: Need::EdgeCors,
        why: "counters; any non-Ok status turns them off",
        support: [Works, Works, Status, Status],
    },
    Import {
        name: "env.proxy_increment_metric",
        sig: "(i32, i64) -> i32",
        need: Need::EdgeCors,
        why: "counters; any non-Ok status turns them off",
        support: [Works, Works, Status, Status],
    },
    // ---- declared by the SDK (hostcalls.rs behind the Context/HttpContext default methods)
    // Route names: read only when a rule has match.routes; any non-Ok status makes such rules never match (one warning, a counter).
    Import {
        name: "env.proxy_get_property",
        sig: I4,
        need: Need::EdgeCors,
        why: "the route name (xds.route_name), only for rules with match.routes",
        support: [Works, Works, Works, Status],
    },
    // The access-log record; its status is ignored (a host without it loses only the record).
    Import {
        name: "env.proxy_set_property",
        sig: I4,
        need: Need::EdgeCors,
        why: "the access-log record (Envoy: filter state wasm.edge_cors)",
        support: [Works, Works, Works, Status],
    },
    Import {
        name: "env.proxy_record_metric",
        sig: "(i32, i64) -> i32",
        need: Need::EdgeCors,
        why: "gauges of live origins (count, age); any non-Ok status turns metrics off",
        support: [Works, Works, Status, Status],
    },
    // ---- called by edge-cors only for a policy with allow_origins_from
    Import {
        name: "env.proxy_set_tick_period_milliseconds",
        sig: I1,
        need: Need::EdgeCors,
        why: "live origins: the refresh timer; non-Ok refuses the policy (APISIX, Service Extensions have no timers)",
        support: [Works, Works, Status, Status],
    },
    Import {
        name: "env.proxy_get_current_time_nanoseconds",
        sig: "(i32) -> i32",
        need: Need::EdgeCors,
        why: "live origins: when a fetch is due; non-Ok refuses the policy (the SDK's helper would panic on APISIX's Unimplemented)",
        support: [Works, Works, Status, Works],
    },
    Import {
        name: "env.proxy_get_shared_data",
        sig: I5,
        need: Need::EdgeCors,
        why: "live origins: the lease and the last good answer, shared by the workers; non-Ok refuses the policy",
        support: [Works, Works, Status, Status],
    },
    Import {
        name: "env.proxy_set_shared_data",
        sig: I5,
        need: Need::EdgeCors,
        why: "live origins: taking the lease (compare-and-swap), storing an answer",
        support: [Works, Works, Status, Status],
    },
    Import {
        name: "env.proxy_http_call",
        sig: "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32",
        need: Need::EdgeCors,
        why: "live origins: GET the origin service (from the timer; never reached where timers are refused)",
        support: [Works, Works, Status, Status],
    },
    // ---- declared by std, never called
    Import {
        name: "wasi_snapshot_preview1.fd_write",
        sig: I4,
        need: Need::Sdk,
        why: "std's default panic hook and stdio",
        support: [Works, Works, Works, Works],
    },
    Import {
        name: "wasi_snapshot_preview1.environ_get",
        sig: I2,
        need: Need::Sdk,
        why: "std::env (the default panic hook reads RUST_BACKTRACE)",
        support: [Works, Works, Works, Linked],
    },
    Import {
        name: "wasi_snapshot_preview1.environ_sizes_get",
        sig: I2,
        need: Need::Sdk,
        why: "std::env, as above",
        support: [Works, Works, Works, Linked],
    },
    Import {
        name: "wasi_snapshot_preview1.proc_exit",
        sig: "(i32) -> nil",
        need: Need::Sdk,
        why: "std::process::exit, never called",
        support: [Works, Traps, Works, Linked],
    },
];

/// Imports the SDK or std declare that a host does not fully implement, by
/// host. Each is harmless because edge-cors never calls it (crates/suites/tests/portability/hosts.rs
/// traps on any call); none of them is missing on any host, so the module
/// instantiates everywhere.
const KNOWN_GAPS: &[(&str, &[&str], &str)] = &[
    ("Kong", &["wasi_snapshot_preview1.proc_exit"], "registered as a not-yet-implemented stub that traps if called; std declares it for process::exit, which never runs"),
    (
        "Service Extensions",
        &["wasi_snapshot_preview1.environ_get", "wasi_snapshot_preview1.environ_sizes_get", "wasi_snapshot_preview1.proc_exit"],
        "registered by proxy-wasm-cpp-host like every WASI name, but outside Service Extensions' documented subset; std declares them, edge-cors never calls them",
    ),
];

/// The module's imports with their signatures, read by Debian's wabt.
fn imports() -> BTreeMap<String, String> {
    let wasm = common::wasm_path();
    // One section per run: wasm-objdump keeps only the last -j.
    let mut text = String::new();
    for section in ["Type", "Import"] {
        let out = Command::new("wasm-objdump")
            .args(["-x", "-j", section])
            .arg(&wasm)
            .output()
            .unwrap_or_else(|e| panic!("wasm-objdump (Debian's wabt) is needed: `make test` installs it ({e})"));
        assert!(out.status.success(), "wasm-objdump failed: {}", String::from_utf8_lossy(&out.stderr));
        text.push_str(&String::from_utf8(out.stdout).unwrap());
    }
    let mut types = BTreeMap::new();
    let mut imports = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        // " - type[2] (i32, i32, i32) -> i32"
        if let Some(rest) = line.strip_prefix("- type[") {
            let (index, sig) = rest.split_once("] ").unwrap();
            types.insert(index.to_string(), sig.to_string());
        }
        // " - func[0] sig=9 <env.proxy_get_buffer_bytes> <- env.proxy_get_buffer_bytes"
        if line.starts_with("- func[") {
            let sig = line.split("sig=").nth(1).unwrap().split(' ').next().unwrap().to_string();
            let name = line.rsplit("<- ").next().unwrap().trim().to_string();
            imports.insert(name, sig);
        } else if line.starts_with("- ") && line.contains(" <- ") {
            panic!("a non-function import: {line}");
        }
    }
    imports.into_iter().map(|(name, sig)| (name, types.get(&sig).cloned().unwrap_or_else(|| panic!("no type {sig}")))).collect()
}

#[test]
fn every_import_is_known_and_provided_by_every_host() {
    let imports = imports();
    assert!(imports.len() > 10, "suspiciously few imports: {imports:?}");
    let mut failures = Vec::new();
    let mut gaps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();

    for (name, sig) in &imports {
        let Some(known) = KNOWN.iter().find(|k| k.name == name) else {
            failures.push(format!(
                "new import {name} {sig}: look it up in each host (Envoy, Kong, APISIX, Service Extensions) and add it to KNOWN"
            ));
            continue;
        };
        if known.sig != sig {
            failures.push(format!("{name} has signature {sig}, the ABI says {}", known.sig));
        }
        for (host, support) in HOSTS.iter().zip(known.support) {
            match (known.need, support) {
                (_, Missing) => failures.push(format!("{}: does not provide {name}; the module would not load there", host.name())),
                (Need::EdgeCors, Works) => {}
                // Only metrics may answer non-Ok: crates/wasm/src/metrics.rs turns them off.
                (Need::EdgeCors, Status) if tolerates_status(name) => {}
                (Need::EdgeCors, other) => failures.push(format!("{}: edge-cors calls {name}, which is {other:?} there", host.name())),
                (Need::Sdk, Works) => {}
                (Need::Sdk, _) => gaps.entry(host.name()).or_default().push(name),
            }
        }
    }

    // The known gaps, exactly: a new one fails, and so does a fixed one that
    // is still listed.
    for (host, listed, why) in KNOWN_GAPS {
        let mut listed: Vec<&str> = listed.to_vec();
        listed.sort();
        let mut found = gaps.remove(host).unwrap_or_default();
        found.sort();
        if listed != found {
            failures.push(format!("{host}: known gaps {listed:?}, found {found:?} ({why})"));
        }
    }
    for (host, found) in gaps {
        failures.push(format!("{host}: unlisted gaps {found:?}: add them to KNOWN_GAPS with the reason they are harmless"));
    }

    println!("\n{} imports in the release module:", imports.len());
    println!("  {:<46} {:<10} Envoy   Kong    APISIX  ServiceExt", "import", "needed by");
    for name in imports.keys() {
        if let Some(k) = KNOWN.iter().find(|k| k.name == name) {
            let cells: Vec<String> = k.support.iter().map(|s| format!("{:<7}", format!("{s:?}"))).collect();
            let need = if k.need == Need::EdgeCors { "edge-cors" } else { "SDK/std" };
            println!("  {name:<46} {need:<10} {}  {}", cells.join(" "), k.why);
        }
    }
    for (host, listed, why) in KNOWN_GAPS {
        println!("  known gap, {host}: {} imports: {why}", listed.len());
    }
    assert!(failures.is_empty(), "import inventory:\n  {}", failures.join("\n  "));
}

/// The imports the filter itself calls stay few: every one of them must
/// work on every host (metrics excepted, see above).
#[test]
fn edge_cors_calls_only_what_every_host_implements() {
    let used: Vec<&str> = KNOWN.iter().filter(|k| k.need == Need::EdgeCors).map(|k| k.name).collect();
    assert_eq!(used.len(), 17, "{used:?}");
    for k in KNOWN.iter().filter(|k| k.need == Need::EdgeCors) {
        for (host, s) in HOSTS.iter().zip(k.support) {
            assert!(s == Works || (s == Status && tolerates_status(k.name)), "{}: {} is {s:?}", host.name(), k.name);
        }
    }
}

/// The calls whose non-Ok status edge-cors handles: metrics switch off, a
/// missing route name makes route rules not match, a record not kept is
/// lost, and a host without timers, clock or shared data refuses a policy
/// with `allow_origins_from` (crates/suites/tests/portability/hosts.rs `origin_sources_are_refused_*`).
fn tolerates_status(name: &str) -> bool {
    name.contains("_metric") || name == "env.proxy_get_property" || name == "env.proxy_set_property" || LIVE_ORIGINS.contains(&name)
}

const LIVE_ORIGINS: [&str; 5] = [
    "env.proxy_set_tick_period_milliseconds",
    "env.proxy_get_current_time_nanoseconds",
    "env.proxy_get_shared_data",
    "env.proxy_set_shared_data",
    "env.proxy_http_call",
];

/// The exports after `make wasm`: those crates/wasm/src/abi.rs writes, which are the
/// callbacks a host calls on an HTTP filter, plus the timer and the call
/// answer for live origins (build/exports.json guards the list).
/// Kong's ngx_wasm_module calls done, log and the body callbacks without
/// checking that they exist (src/common/proxy_wasm/ngx_proxy_wasm.c,
/// ngx_proxy_wasm_on_log; src/http/proxy_wasm/ngx_http_proxy_wasm.c) and
/// APISIX logs an error per request without proxy_on_done
/// (src/http/ngx_http_wasm_module.c), so those stay although edge-cors
/// ignores them. A module built by plain `cargo build` fails here.
#[test]
fn exports_are_the_callbacks_an_http_filter_receives() {
    let out = Command::new("wasm-objdump").args(["-x", "-j", "Export"]).arg(common::wasm_path()).output().expect("wasm-objdump");
    assert!(out.status.success(), "wasm-objdump failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ").and_then(|l| l.rsplit_once(" -> ")).map(|(_, name)| name.trim_matches('"').to_string()))
        .collect();
    found.sort();
    let mut expected = vec![
        "memory",
        "_initialize",
        "proxy_abi_version_0_2_1",
        "proxy_on_memory_allocate",
        "proxy_on_vm_start",
        "proxy_on_configure",
        "proxy_on_context_create",
        "proxy_on_delete",
        "proxy_on_done",
        "proxy_on_log",
        "proxy_on_request_headers",
        "proxy_on_request_body",
        "proxy_on_request_trailers",
        "proxy_on_response_headers",
        "proxy_on_response_body",
        "proxy_on_response_trailers",
        "proxy_on_tick",
        "proxy_on_http_call_response",
    ];
    expected.sort();
    assert_eq!(found, expected, "exports differ from build/exports.json's list (was the module built by `make wasm`?)");
}
