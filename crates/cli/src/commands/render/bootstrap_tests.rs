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
    let text = envoy_bootstrap(&fields(), "/m.wasm", Path::new("p.json"), &host(extra, Some("/dev/stdout")));
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
    let boot = envoy_lds_bootstrap(Path::new("p.json"), &host(vec![], None), lds);
    let doc = yaml(&boot);
    let source = &doc["dynamic_resources"]["lds_config"]["path_config_source"];
    assert_eq!(source["path"].as_str(), Some("/srv/envoy/lds.yaml"));
    assert_eq!(source["watched_directory"]["path"].as_str(), Some("/srv/envoy"));
    assert!(doc["static_resources"].get("listeners").is_none(), "the listener comes from LDS");
    let file = yaml(&envoy_lds_file(&fields(), "/m.wasm", Path::new("p.json"), 10001, lds, None));
    let listener = &file["resources"][0];
    assert_eq!(listener["@type"].as_str(), Some("type.googleapis.com/envoy.config.listener.v3.Listener"));
    assert_eq!(listener["name"].as_str(), Some("edge_cors"));
}
