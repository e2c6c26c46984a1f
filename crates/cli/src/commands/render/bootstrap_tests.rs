//! The bootstrap's values: addresses, clusters and the documents built
//! from them.

use serde_json::json;

use super::*;

fn addr(s: &str) -> UpstreamAddr {
    parse_upstream(s).unwrap_or_else(|Fatal(e)| panic!("{e}"))
}

fn host(extra: Vec<ExtraCluster>, access_log: Option<&str>) -> Host {
    Host { up: addr("api.internal:80"), extra, port: 10001, admin_port: 9902, access_log: access_log.map(Into::into) }
}

fn fields() -> Vec<(String, Value)> {
    vec![("allow_origins".into(), json!(["https://a.example"]))]
}

const WASM: Module = Module { shell: Shell::Wasm, path: "/m.wasm" };
const SO: Module = Module { shell: Shell::Module, path: "/m.so" };

fn yaml(text: &str) -> serde_norway::Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn upstreams_are_ips_or_dns_names_with_a_port() {
    let ip = addr("[::1]:8080");
    assert_eq!((ip.host.as_str(), ip.port, ip.ip, ip.to_string()), ("::1", 8080, true, "[::1]:8080".to_string()));
    assert_eq!(Discovery::of(&ip), Discovery::Static);
    let name = addr("API.Internal:80");
    assert_eq!((name.host.as_str(), Discovery::of(&name)), ("api.internal", Discovery::StrictDns));
    for bad in ["http://x:1", "x", "x:0", "x:70000", "bad_name!:80", ":80"] {
        assert!(parse_upstream(bad).is_err(), "{bad}");
    }
}

#[test]
fn cluster_names_are_quoted_when_yaml_would_misread_them() {
    assert_eq!(yaml_name("tenant_origins"), "tenant_origins");
    assert_eq!(yaml_name("yes"), "\"yes\"");
    assert_eq!(yaml_name("outbound|80||x"), "\"outbound|80||x\"");
    assert_eq!(yaml_name("9lives"), "\"9lives\"");
}

#[test]
fn every_source_cluster_must_be_given_and_extra_ones_are_warned_of() {
    let style = Style::plain();
    let mut stderr = String::new();
    let sources = ["tenant_origins".to_string(), "upstream".to_string()];
    let missing = extra_clusters(&[], &sources, &style, &mut stderr);
    assert!(matches!(missing, Err(Fatal(e)) if e.contains("--cluster tenant_origins=HOST:PORT")));
    let given = ["tenant_origins=127.0.0.1:8081".to_string(), "spare=10.0.0.1:1".to_string()];
    let clusters = extra_clusters(&given, &sources, &style, &mut stderr).unwrap_or_else(|Fatal(e)| panic!("{e}"));
    assert_eq!(clusters.iter().map(|c| (c.name.as_str(), c.used)).collect::<Vec<_>>(), [("tenant_origins", true), ("spare", false)]);
    assert!(stderr.contains("--cluster spare: no allow_origins_from fetches from it"), "{stderr}");
    assert!(parse_cluster("upstream=1.1.1.1:1").is_err(), "upstream is taken");
    let twice = ["a=1.1.1.1:1".to_string(), "a=1.1.1.1:2".to_string()];
    assert!(extra_clusters(&twice, &[], &style, &mut stderr).is_err());
}

#[test]
fn the_bootstrap_is_one_document_with_listener_and_clusters() {
    let extra = vec![parse_cluster("origins=10.0.0.2:8081").unwrap_or_else(|Fatal(e)| panic!("{e}"))];
    let text = envoy_bootstrap(&fields(), WASM, Path::new("p.json"), &host(extra, Some("/dev/stdout")));
    assert!(!text.contains("{{"), "every placeholder filled:\n{text}");
    let doc = yaml(&text);
    assert_eq!(doc["admin"]["address"]["socket_address"]["port_value"].as_u64(), Some(9902));
    let listener = &doc["static_resources"]["listeners"][0];
    assert_eq!(listener["address"]["socket_address"]["port_value"].as_u64(), Some(10001));
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    assert_eq!(hcm["access_log"][0]["typed_config"]["path"].as_str(), Some("/dev/stdout"));
    assert_eq!(hcm["http_filters"][0]["name"].as_str(), Some("envoy.filters.http.wasm"));
    let clusters = &doc["static_resources"]["clusters"];
    assert_eq!(clusters[0]["type"].as_str(), Some("STRICT_DNS"));
    assert_eq!(clusters[0]["dns_lookup_family"].as_str(), Some("V4_PREFERRED"));
    assert_eq!((clusters[1]["name"].as_str(), clusters[1]["type"].as_str()), (Some("origins"), Some("STATIC")));
}

#[test]
fn the_lds_pair_watches_the_listener_file() {
    let lds = Path::new("/srv/envoy/lds.yaml");
    let boot = envoy_lds_bootstrap(Shell::Wasm, Path::new("p.json"), &host(vec![], None), lds);
    let doc = yaml(&boot);
    let source = &doc["dynamic_resources"]["lds_config"]["path_config_source"];
    assert_eq!(source["path"].as_str(), Some("/srv/envoy/lds.yaml"));
    assert_eq!(source["watched_directory"]["path"].as_str(), Some("/srv/envoy"));
    assert!(doc["static_resources"].get("listeners").is_none(), "the listener comes from LDS");
    let file = yaml(&envoy_lds_file(&fields(), WASM, Path::new("p.json"), 10001, lds, None));
    let listener = &file["resources"][0];
    assert_eq!(listener["@type"].as_str(), Some("type.googleapis.com/envoy.config.listener.v3.Listener"));
    assert_eq!(listener["name"].as_str(), Some("edge_cors"));
}

/// The HttpConnectionManager of a bootstrap's (or LDS file's) listener.
fn hcm(listener: &serde_norway::Value) -> &serde_norway::Value {
    &listener["filter_chains"][0]["filters"][0]["typed_config"]
}

#[test]
fn the_module_bootstrap_loads_the_dynamic_module_and_logs_its_record() {
    let text = envoy_bootstrap(&fields(), SO, Path::new("p.json"), &host(vec![], Some("/dev/stdout")));
    assert!(!text.contains("{{"), "every placeholder filled:\n{text}");
    assert!(text.starts_with("# envoy.yaml: Envoy with edge-cors (edge-cors render --target envoy-bootstrap --shell module).\n"), "{text}");
    assert!(text.contains("/stats | grep dynamicmodulescustom)"), "{text}");
    let doc = yaml(&text);
    let hcm = hcm(&doc["static_resources"]["listeners"][0]);
    let filter = &hcm["http_filters"][0];
    assert_eq!(filter["name"].as_str(), Some("edge-cors"));
    let config = &filter["typed_config"];
    assert_eq!(config["@type"].as_str(), Some("type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter"));
    assert_eq!(config["dynamic_module_config"]["module"]["local"]["filename"].as_str(), Some("/m.so"));
    assert_eq!(config["filter_name"].as_str(), Some("edge-cors"));
    let policy: serde_json::Value =
        serde_json::from_str(config["filter_config"]["value"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy, json!({"allow_origins": ["https://a.example"]}));
    assert_eq!(hcm["http_filters"][1]["name"].as_str(), Some("envoy.filters.http.router"));
    let format = hcm["access_log"][0]["typed_config"]["log_format"]["text_format_source"]["inline_string"].as_str().unwrap_or_default();
    assert!(format.ends_with(" %FILTER_STATE(edge_cors:PLAIN)%\n"), "{format}");
    assert!(!text.contains("envoy.filters.http.wasm") && !text.contains(".wasm"), "{text}");
    // The wasm bootstrap keeps its own key.
    assert!(access_log_format(Shell::Wasm).ends_with(" %FILTER_STATE(wasm.edge_cors:PLAIN)%\n"));
}

#[test]
fn the_module_lds_pair_serves_the_dynamic_module() {
    let lds = Path::new("/srv/envoy/lds.yaml");
    let boot = envoy_lds_bootstrap(Shell::Module, Path::new("p.json"), &host(vec![], None), lds);
    assert!(boot.starts_with("# envoy.yaml: Envoy with edge-cors (edge-cors render --target envoy-lds --shell module).\n"), "{boot}");
    let file = yaml(&envoy_lds_file(&fields(), SO, Path::new("p.json"), 10001, lds, Some("/var/log/a.log")));
    let hcm = hcm(&file["resources"][0]);
    let config = &hcm["http_filters"][0]["typed_config"];
    assert_eq!(config["dynamic_module_config"]["name"].as_str(), Some("edge_cors"));
    assert_eq!(config["dynamic_module_config"]["module"]["local"]["filename"].as_str(), Some("/m.so"));
    let format = hcm["access_log"][0]["typed_config"]["log_format"]["text_format_source"]["inline_string"].as_str().unwrap_or_default();
    assert!(format.contains("%FILTER_STATE(edge_cors:PLAIN)%"), "{format}");
}

#[test]
fn the_module_bootstrap_renders_live_origins_and_a_missing_module_is_warned_of() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let live = fixtures.join("live-policy.json");
    let host_args =
        HostArgs { clusters: vec!["tenant_origins=127.0.0.1:1".into(), "partner_origins=127.0.0.1:2".into()], ..HostArgs::default() };
    assert!(run_host(RenderTarget::EnvoyBootstrap, Shell::Wasm, &live, Some("/m.wasm"), &host_args).is_ok());
    for target in [RenderTarget::EnvoyBootstrap, RenderTarget::EnvoyLds] {
        let r = run_host(target, Shell::Module, &live, Some("/m.so"), &host_args).unwrap_or_else(|Fatal(e)| panic!("{e}"));
        assert!(r.stdout.contains("tenant_origins") && r.stdout.contains("DynamicModuleFilter"), "{}", r.stdout);
    }
    // Without --module: this checkout's libedge_cors.so, or the placeholder and a warning naming make envoy-module.
    let r = run_host(RenderTarget::EnvoyBootstrap, Shell::Module, &fixtures.join("policy.json"), None, &HostArgs::default())
        .unwrap_or_else(|Fatal(e)| panic!("{e}"));
    let doc = yaml(&r.stdout);
    let named = hcm(&doc["static_resources"]["listeners"][0])["http_filters"][0]["typed_config"]["dynamic_module_config"]["module"]
        ["local"]["filename"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if Path::new(&checkout_module(Shell::Module)).is_file() {
        assert_eq!(named, checkout_module(Shell::Module));
        assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    } else {
        assert_eq!(named, "/opt/edge-cors/libedge_cors.so");
        assert!(r.stderr.contains("make envoy-module builds it"), "{}", r.stderr);
    }
    assert!(checkout_module(Shell::Module).ends_with("/target/release/libedge_cors.so"));
}
