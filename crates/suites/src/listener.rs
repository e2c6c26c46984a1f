//! One builder for every listener the suites start: edge-cors first, then
//! the router, with the default routes unless a test brings its own.

use std::path::{Path, PathBuf};

/// One listener of the generated Envoy: a name and the plugin configuration
/// (used verbatim, so invalid ones can be tested too).
pub struct Listener<'a> {
    pub name: &'a str,
    pub config: &'a str,
}

impl<'a> Listener<'a> {
    /// The listener's YAML, to be adjusted: see [`ListenerYaml`].
    pub fn yaml(&'a self) -> ListenerYaml<'a> {
        ListenerYaml { listener: self, port: 0, virtual_hosts: DEFAULT_VIRTUAL_HOSTS.to_string(), hcm_extra: String::new(), module: None }
    }
}

/// The default virtual host: `/api/` to the upstream, `/dead/` to a cluster
/// without endpoints (503), the rest unrouted (404).
pub const DEFAULT_VIRTUAL_HOSTS: &str = r#"
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/api/" }
                route: { cluster: upstream }
              - match: { prefix: "/dead/" }
                route: { cluster: dead }"#;

/// A listener item for `static_resources.listeners` (or, one level up, an
/// LDS file): built by [`ListenerYaml::build`].
pub struct ListenerYaml<'a> {
    listener: &'a Listener<'a>,
    port: u16,
    virtual_hosts: String,
    hcm_extra: String,
    module: Option<PathBuf>,
}

impl ListenerYaml<'_> {
    /// A fixed port (default 0: any free one, which the harness reads back).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The caller's `virtual_hosts` list (YAML items indented by 12 spaces),
    /// for tests of routing by host and route name.
    pub fn virtual_hosts(mut self, yaml: &str) -> Self {
        self.virtual_hosts = yaml.to_string();
        self
    }

    /// A file access log at `path` in `format` (Envoy's command operators;
    /// the record is `%FILTER_STATE(wasm.edge_cors:PLAIN)%`).
    pub fn access_log(mut self, path: &Path, format: &str) -> Self {
        let format = serde_json::to_string(format).unwrap();
        self.hcm_extra = format!(
            r#"
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: "{}"
              log_format:
                text_format_source:
                  inline_string: {format}"#,
            path.display()
        );
        self
    }

    /// Another module file than the release build's.
    pub fn module(mut self, path: &Path) -> Self {
        self.module = Some(path.to_path_buf());
        self
    }

    pub fn build(self) -> String {
        let filter = match crate::shell() {
            crate::Shell::Wasm => self.wasm_filter(),
            crate::Shell::Module => self.module_filter(),
        };
        self.hcm(&filter)
    }

    /// The listener around edge-cors's filter (YAML indented for
    /// `http_filters`), then the router.
    fn hcm(&self, filter: &str) -> String {
        format!(
            r#"
  - name: {name}
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {name}{hcm_extra}
          route_config:
            virtual_hosts:{virtual_hosts}
          http_filters:{filter}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#,
            name = self.listener.name,
            port = self.port,
            hcm_extra = self.hcm_extra,
            virtual_hosts = self.virtual_hosts,
        )
    }

    /// edge-cors as an Envoy dynamic module: the same policy, as the
    /// filter_config string.
    fn module_filter(&self) -> String {
        let config = serde_json::to_string(self.listener.config).unwrap();
        let module = self.module.clone().unwrap_or_else(crate::module_path);
        format!(
            r#"
          - name: edge-cors
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter
              dynamic_module_config:
                name: edge_cors
                module: {{ local: {{ filename: "{module}" }} }}
              filter_name: edge-cors
              filter_config:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {config}"#,
            module = module.display(),
        )
    }

    /// edge-cors as a wasm filter in a VM of its own (`edge_cors_<name>`).
    fn wasm_filter(&self) -> String {
        let config = serde_json::to_string(self.listener.config).unwrap();
        let wasm = self.module.clone().unwrap_or_else(crate::wasm_path);
        format!(
            r#"
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: edge_cors_{name}
                root_id: edge_cors
                vm_config:
                  vm_id: edge_cors_{name}
                  runtime: envoy.wasm.runtime.v8
                  code: {{ local: {{ filename: "{wasm}" }} }}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {config}"#,
            name = self.listener.name,
            wasm = wasm.display(),
        )
    }
}
