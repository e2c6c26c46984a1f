//! `render --target envoy-bootstrap | envoy-lds`: a complete Envoy around
//! the checked policy (admin, listener, upstream and origin-service
//! clusters, optionally the access log), written to stdout or a directory.

use std::path::Path;

use serde_json::Value;

use super::manifests::EnvoyFilter;
use super::{canonical, debug_warning, load_valid, source_clusters, Loaded, RenderTarget, Shell};
use crate::out::Style;
use crate::template::fill;
use crate::{Fatal, Report};

const LISTENER: &str = include_str!("../../../templates/listener.yaml");
const ACCESS_LOG: &str = include_str!("../../../templates/access-log.yaml");
const CLUSTER: &str = include_str!("../../../templates/cluster.yaml");
const ADMIN: &str = include_str!("../../../templates/admin.yaml");
const BOOTSTRAP_HEAD: &str = include_str!("../../../templates/bootstrap-head.yaml");
const ENVOY_BOOTSTRAP: &str = include_str!("../../../templates/envoy-bootstrap.yaml");
const ENVOY_LDS_BOOTSTRAP: &str = include_str!("../../../templates/envoy-lds-bootstrap.yaml");
const LDS_FILE: &str = include_str!("../../../templates/lds-file.yaml");

// ------------------------------------------------ Envoy bootstrap and LDS

/// Where the filter's release module is when this checkout built it
/// (`make wasm`, or `make envoy-module` for the dynamic module): the default
/// `--module` of `envoy-bootstrap` and `envoy-lds`.
fn checkout_module(shell: Shell) -> String {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.parent().and_then(Path::parent).unwrap_or(here);
    root.join(shell.checkout_path()).display().to_string()
}

impl Shell {
    /// The release build in a checkout, relative to its root.
    fn checkout_path(self) -> &'static str {
        match self {
            Shell::Wasm => "target/wasm32-wasip1/release/edge_cors.wasm",
            Shell::Module => "target/release/libedge_cors.so",
        }
    }

    /// Named instead when this checkout has no release build (with a warning).
    fn placeholder(self) -> &'static str {
        match self {
            Shell::Wasm => super::ENVOY_PLACEHOLDER_WASM,
            Shell::Module => super::ENVOY_PLACEHOLDER_MODULE,
        }
    }

    /// The `make` target that builds it.
    fn make_target(self) -> &'static str {
        match self {
            Shell::Wasm => "make wasm",
            Shell::Module => "make envoy-module",
        }
    }

    /// The filter state key of the filter's record in the access log:
    /// `%FILTER_STATE(<this>:PLAIN)%`.
    pub fn record_key(self) -> &'static str {
        match self {
            Shell::Wasm => "wasm.edge_cors",
            Shell::Module => "edge_cors",
        }
    }

    /// What to grep Envoy's /stats for: the prefix of the filter's counters.
    fn stats_grep(self) -> &'static str {
        match self {
            Shell::Wasm => "wasm",
            Shell::Module => "dynamicmodulescustom",
        }
    }

    /// How the bootstrap's header and the `--out` hint name the render.
    fn flag(self) -> &'static str {
        match self {
            Shell::Wasm => "",
            Shell::Module => " --shell module",
        }
    }
}
const DEFAULT_UPSTREAM: &str = "127.0.0.1:8080";
const DEFAULT_PORT: u16 = 10000;
const DEFAULT_ADMIN_PORT: u16 = 9901;

/// What a complete Envoy configuration needs besides the policy
/// (`--target envoy-bootstrap` and `--target envoy-lds` only).
#[derive(clap::Args, Default)]
pub struct HostArgs {
    /// The upstream Envoy forwards to, HOST:PORT (envoy-bootstrap, envoy-lds;
    /// default 127.0.0.1:8080): an IP gives a STATIC cluster, a name STRICT_DNS
    #[arg(long, value_name = "HOST:PORT")]
    pub upstream: Option<String>,
    /// The listener's port (envoy-bootstrap, envoy-lds; default 10000)
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Envoy admin's port, on 127.0.0.1 (envoy-bootstrap, envoy-lds; default 9901)
    #[arg(long, value_name = "N")]
    pub admin_port: Option<u16>,
    /// A cluster for the policy's allow_origins_from (the origin service),
    /// NAME=HOST:PORT, repeatable (envoy-bootstrap, envoy-lds): an IP gives a
    /// STATIC cluster, a name STRICT_DNS
    #[arg(long = "cluster", value_name = "NAME=HOST:PORT")]
    pub clusters: Vec<String>,
    /// Write envoy.yaml (and lds.yaml for envoy-lds) into DIR and print how
    /// to start Envoy; again with a new policy, lds.yaml is replaced by
    /// rename, which a running Envoy reloads
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// Write Envoy's access log to PATH (/dev/stdout for the terminal), each
    /// line with the filter's decision, %FILTER_STATE(wasm.edge_cors:PLAIN)%
    /// (edge_cors with --shell module) (envoy-bootstrap, envoy-lds)
    #[arg(long, value_name = "PATH")]
    pub access_log: Option<String>,
}

impl HostArgs {
    /// The first of these flags given, for targets that take none of them.
    pub fn first_given(&self) -> Option<&'static str> {
        [
            (self.upstream.is_some(), "--upstream"),
            (self.port.is_some(), "--port"),
            (self.admin_port.is_some(), "--admin-port"),
            (!self.clusters.is_empty(), "--cluster"),
            (self.out.is_some(), "--out"),
            (self.access_log.is_some(), "--access-log"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

impl RenderTarget {
    /// A complete Envoy configuration (`HostArgs` apply).
    pub fn is_envoy_host(self) -> bool {
        matches!(self, RenderTarget::EnvoyBootstrap | RenderTarget::EnvoyLds)
    }
}

/// An `--upstream` HOST:PORT.
struct UpstreamAddr {
    host: String,
    port: u16,
    ip: bool,
}

impl std::fmt::Display for UpstreamAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn parse_upstream(s: &str) -> Result<UpstreamAddr, Fatal> {
    parse_addr("--upstream", s, s)
}

/// HOST:PORT `s`, given as `shown` to `flag`.
fn parse_addr(flag: &str, shown: &str, s: &str) -> Result<UpstreamAddr, Fatal> {
    let bad = |why: &str| Fatal(format!("{flag} {shown:?}: {why}; write HOST:PORT, e.g. 127.0.0.1:8080, api.internal:80 or [::1]:8080"));
    if s.contains("://") || s.contains('/') {
        return Err(bad("a host and port, not a URL"));
    }
    let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(UpstreamAddr { host: ip.to_string(), port, ip: true });
    }
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !name_ok {
        return Err(bad("not an IP address or a DNS name"));
    }
    Ok(UpstreamAddr { host: host.to_ascii_lowercase(), port, ip: false })
}

/// Every line of `text` indented by `indent` (empty lines stay empty).
fn indent_lines(text: &str, indent: &str) -> String {
    text.lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("{indent}{l}\n") }).collect()
}

/// A cluster name in YAML: bare when plain (`upstream`), else quoted.
fn yaml_name(name: &str) -> String {
    let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"].contains(&name.to_ascii_lowercase().as_str());
    if plain {
        name.to_string()
    } else {
        quoted(name)
    }
}

/// A YAML (JSON) double-quoted string.
fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// The filter a bootstrap loads: which build, from where.
#[derive(Clone, Copy)]
struct Module<'a> {
    shell: Shell,
    path: &'a str,
}

/// The listener, a YAML list item at column 0: edge-cors first (the
/// `--target envoy` filters, verbatim), then the router, every path routed
/// to the `upstream` cluster. `lds`: with the `@type` an LDS resource needs.
fn listener(fields: &[(String, Value)], module: Module, port: u16, lds: bool, access_log: Option<&str>) -> String {
    let first = if lds { LDS_LISTENER_FIRST } else { "name: edge_cors" };
    let access_log = access_log.map(|path| access_log_yaml(path, module.shell)).unwrap_or_default();
    let filters = indent_lines(&EnvoyFilter { policy: fields, module: module.path, shell: module.shell }.yaml(), "        ");
    fill(LISTENER, &[("first", first), ("port", &port.to_string()), ("access_log", &access_log), ("filters", &filters)])
}

/// The first key of a listener served by LDS: its type, then its name.
const LDS_LISTENER_FIRST: &str = "\"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: edge_cors";

/// The access log format docs/operating.md recommends: the request, the
/// status, its details (`edge_cors_preflight_*` for the filter's own
/// replies) and the filter's record, under the shell's key.
pub fn access_log_format(shell: Shell) -> String {
    format!(
        "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%\" %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %FILTER_STATE({}:PLAIN)%\n",
        shell.record_key()
    )
}

/// The HttpConnectionManager's `access_log` (`--access-log PATH`), indented
/// to follow `stat_prefix`.
fn access_log_yaml(path: &str, shell: Shell) -> String {
    fill(ACCESS_LOG, &[("path", &quoted(path)), ("format", &quoted(&access_log_format(shell)))])
}

/// A `--cluster NAME=HOST:PORT`: the origin service of an `allow_origins_from`.
struct ExtraCluster {
    name: String,
    addr: UpstreamAddr,
    /// Whether an `allow_origins_from` fetches from it.
    used: bool,
}

fn parse_cluster(s: &str) -> Result<ExtraCluster, Fatal> {
    let Some((name, addr)) = s.split_once('=') else {
        return Err(Fatal(format!(
            "--cluster {s:?}: write NAME=HOST:PORT, the cluster's name as allow_origins_from spells it, e.g. tenant_origins=127.0.0.1:8081"
        )));
    };
    // The engine's rule for allow_origins_from.cluster.
    if name.is_empty() || name.len() > 255 || name.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Fatal(format!("--cluster {s:?}: {name:?} is not a cluster name (1 to 255 characters, no spaces)")));
    }
    if name == "upstream" {
        return Err(Fatal(format!(
            "--cluster {s:?}: \"upstream\" is the cluster every request is routed to (--upstream); give the origin service another name"
        )));
    }
    Ok(ExtraCluster { name: name.to_string(), addr: parse_addr("--cluster", s, addr)?, used: false })
}

/// The `--cluster`s, checked against the clusters the policy fetches from:
/// each source cluster must be one of them or `upstream`. Also a warning
/// for each `--cluster` no source names.
fn extra_clusters(given: &[String], sources: &[String], style: &Style, stderr: &mut String) -> Result<Vec<ExtraCluster>, Fatal> {
    let mut out: Vec<ExtraCluster> = Vec::new();
    for s in given {
        let c = parse_cluster(s)?;
        if out.iter().any(|o| o.name == c.name) {
            return Err(Fatal(format!("--cluster {}: given twice; keep one", c.name)));
        }
        out.push(c);
    }
    let missing: Vec<&String> = sources.iter().filter(|s| *s != "upstream" && !out.iter().any(|c| &c.name == *s)).collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|m| format!("{m:?}")).collect();
        let flags: Vec<String> = missing.iter().map(|m| format!("--cluster {m}=HOST:PORT")).collect();
        let (what, names) = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => ("clusters", format!("{} and {last}", rest.join(", "))),
            _ => ("cluster", names.join("")),
        };
        return Err(Fatal(format!(
            "allow_origins_from names {what} {names}, which this bootstrap does not define: add {}",
            flags.join(" ")
        )));
    }
    for c in &mut out {
        c.used = sources.contains(&c.name);
    }
    for c in out.iter().filter(|c| !c.used) {
        let named = if sources.is_empty() {
            "the policy has no allow_origins_from".to_string()
        } else {
            format!("allow_origins_from names {}", sources.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))
        };
        stderr.push_str(&style.warn(&format!("warning: --cluster {}: no allow_origins_from fetches from it ({named})", c.name)));
        stderr.push('\n');
    }
    Ok(out)
}

/// How Envoy finds a cluster's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discovery {
    /// An IP address, as given.
    Static,
    /// A name, resolved by Envoy, IPv4 first (`localhost` often lists ::1
    /// first while dev servers listen on 127.0.0.1 only).
    StrictDns,
}

impl Discovery {
    fn of(addr: &UpstreamAddr) -> Discovery {
        if addr.ip {
            Discovery::Static
        } else {
            Discovery::StrictDns
        }
    }
}

/// Every cluster under `clusters:`: `upstream`, then the `--cluster`s.
fn clusters_yaml(up: &UpstreamAddr, extra: &[ExtraCluster]) -> String {
    let mut s = cluster_yaml("upstream", up);
    for c in extra {
        s.push_str(&cluster_yaml(&c.name, &c.addr));
    }
    s
}

/// One cluster, a list item under `clusters:`.
fn cluster_yaml(name: &str, up: &UpstreamAddr) -> String {
    let (kind, dns) = match Discovery::of(up) {
        Discovery::Static => ("STATIC", ""),
        Discovery::StrictDns => ("STRICT_DNS", "\n    dns_lookup_family: V4_PREFERRED"),
    };
    let port = up.port.to_string();
    fill(CLUSTER, &[("name", &yaml_name(name)), ("kind", kind), ("dns", dns), ("host", &quoted(&up.host)), ("port", &port)])
}

fn admin(port: u16) -> String {
    fill(ADMIN, &[("port", &port.to_string())])
}

fn header(target: &str, shell: Shell, policy: &Path, host: &Host) -> String {
    let Host { up, extra, port, admin_port, .. } = host;
    let clusters: String = extra
        .iter()
        .map(|c| {
            let why = if c.used { " (allow_origins_from's origin service)" } else { "" };
            format!("#   cluster {}: {}{why}\n", c.name, c.addr)
        })
        .collect();
    fill(
        BOOTSTRAP_HEAD,
        &[
            ("target", &format!("{target}{}", shell.flag())),
            ("policy", &policy.display().to_string()),
            ("port", &port.to_string()),
            ("upstream", &up.to_string()),
            ("clusters", &clusters),
            ("admin_port", &admin_port.to_string()),
            ("stats_grep", shell.stats_grep()),
        ],
    )
}

/// `--target envoy-bootstrap`: one file, everything static.
fn envoy_bootstrap(fields: &[(String, Value)], module: Module, policy: &Path, host: &Host) -> String {
    let Host { up, extra, port, admin_port, .. } = host;
    let listener = indent_lines(&listener(fields, module, *port, false, host.access_log.as_deref()), "  ");
    fill(
        ENVOY_BOOTSTRAP,
        &[
            ("head", &header("envoy-bootstrap", module.shell, policy, host)),
            ("admin", &admin(*admin_port)),
            ("listener", &listener),
            ("clusters", &clusters_yaml(up, extra)),
        ],
    )
}

/// What the bootstrap holds besides the listener.
struct Host {
    up: UpstreamAddr,
    extra: Vec<ExtraCluster>,
    port: u16,
    admin_port: u16,
    /// `--access-log`: where Envoy writes its access log, if anywhere.
    access_log: Option<String>,
}

/// `--target envoy-lds`: the bootstrap, which takes its listener from `lds`.
fn envoy_lds_bootstrap(shell: Shell, policy: &Path, host: &Host, lds: &Path) -> String {
    let Host { up, extra, admin_port, .. } = host;
    let dir = lds.parent().unwrap_or(Path::new("/"));
    fill(
        ENVOY_LDS_BOOTSTRAP,
        &[
            ("head", &header("envoy-lds", shell, policy, host)),
            ("start_flags", LDS_START_FLAGS),
            ("lds", &lds.display().to_string()),
            ("lds_path", &quoted(&lds.display().to_string())),
            ("lds_dir", &quoted(&dir.display().to_string())),
            ("admin", &admin(*admin_port)),
            ("clusters", &clusters_yaml(up, extra)),
        ],
    )
}

/// How an Envoy whose listener is reloaded through LDS must start.
const LDS_START_FLAGS: &str = "--disable-hot-restart --drain-strategy immediate --drain-time-s 5";

/// `--target envoy-lds`: the LDS file, the listener as its one resource.
fn envoy_lds_file(fields: &[(String, Value)], module: Module, policy: &Path, port: u16, lds: &Path, access_log: Option<&str>) -> String {
    fill(
        LDS_FILE,
        &[
            ("lds", &lds.display().to_string()),
            ("policy", &policy.display().to_string()),
            ("listener", &listener(fields, module, port, true, access_log)),
        ],
    )
}

/// An absolute path, without requiring it to exist.
fn absolute(p: &Path) -> Result<std::path::PathBuf, Fatal> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| Fatal(format!("current directory: {e}")))?;
    Ok(cwd.join(p))
}

/// Writes `text` to `path` by rename, so a watching Envoy never reads half a file.
fn write_by_rename(path: &Path, text: &str) -> Result<(), Fatal> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.edge-cors-tmp"));
    std::fs::write(&tmp, text).map_err(|e| Fatal(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| Fatal(format!("cannot replace {}: {e}", path.display())))
}

/// `render --target envoy-bootstrap | envoy-lds`: a complete Envoy
/// configuration around the checked policy.
pub fn run_host(target: RenderTarget, shell: Shell, path: &Path, module: Option<&str>, host: &HostArgs) -> Result<Report, Fatal> {
    let style = Style::stderr();
    if !target.is_envoy_host() {
        if let Some(flag) = host.first_given() {
            return Err(Fatal(format!("{flag} is for --target envoy-bootstrap or envoy-lds")));
        }
    }
    let c = match load_valid(path, &style)? {
        Loaded::Valid(c) => c,
        Loaded::Refused(report) => return Ok(report),
    };
    let up = parse_upstream(host.upstream.as_deref().unwrap_or(DEFAULT_UPSTREAM))?;
    let port = host.port.unwrap_or(DEFAULT_PORT);
    let admin_port = host.admin_port.unwrap_or(DEFAULT_ADMIN_PORT);
    let mut stderr = String::new();
    let extra = extra_clusters(&host.clusters, &source_clusters(&c), &style, &mut stderr)?;
    let out = host.out.clone();
    let host = Host { up, extra, port, admin_port, access_log: host.access_log.clone() };
    let module_path = match module {
        Some(m) => m.to_string(),
        None if Path::new(&checkout_module(shell)).is_file() => checkout_module(shell),
        None => {
            stderr.push_str(&style.warn(&format!(
                "warning: no --module and no release {} at {} ({} builds it): \
                 the configuration names the placeholder {}; pass --module PATH",
                match shell {
                    Shell::Wasm => "module",
                    Shell::Module => "dynamic module",
                },
                checkout_module(shell),
                shell.make_target(),
                shell.placeholder(),
            )));
            stderr.push('\n');
            shell.placeholder().to_string()
        }
    };
    let module = Module { shell, path: &module_path };
    let fields = canonical(&c.found.object);
    let out_dir = out.as_deref().map(absolute).transpose()?;
    let lds_path = match &out_dir {
        Some(dir) => dir.join("lds.yaml"),
        None => absolute(Path::new("lds.yaml"))?,
    };
    let (bootstrap, lds) = match target {
        RenderTarget::EnvoyLds => {
            let lds = envoy_lds_file(&fields, module, path, port, &lds_path, host.access_log.as_deref());
            (envoy_lds_bootstrap(shell, path, &host, &lds_path), Some(lds))
        }
        _ => (envoy_bootstrap(&fields, module, path, &host), None),
    };
    stderr.push_str(&style.dim(&format!("# policy from {} checked with the filter's own code: valid", path.display())));
    stderr.push('\n');
    stderr.push_str(&debug_warning(&c, &style));
    let Some(dir) = out_dir else {
        let stdout = match lds {
            Some(lds) => format!(
                "# Two files: save this document as envoy.yaml and the one after `---` as {} (--out DIR writes both)\n{bootstrap}---\n{lds}",
                lds_path.display(),
            ),
            None => bootstrap,
        };
        if matches!(target, RenderTarget::EnvoyLds) {
            stderr.push_str(&style.dim("# tip: --out DIR writes envoy.yaml and lds.yaml there"));
            stderr.push('\n');
        }
        return Ok(Report { stdout, stderr, ok: true });
    };
    std::fs::create_dir_all(&dir).map_err(|e| Fatal(format!("cannot create {}: {e}", dir.display())))?;
    let envoy_yaml = dir.join("envoy.yaml");
    std::fs::write(&envoy_yaml, &bootstrap).map_err(|e| Fatal(format!("cannot write {}: {e}", envoy_yaml.display())))?;
    let mut stdout = String::new();
    match lds {
        Some(lds) => {
            write_by_rename(&lds_path, &lds)?;
            stdout.push_str(&format!(
                "wrote {} (the bootstrap) and {} (the listener with the policy)\n\
                 start Envoy:    envoy -c {} {LDS_START_FLAGS}\n\
                 change policy:  edge-cors render --target envoy-lds{} NEW_POLICY --out {} \
                 (replaces lds.yaml by rename: a running Envoy reloads it)\n",
                envoy_yaml.display(),
                lds_path.display(),
                envoy_yaml.display(),
                shell.flag(),
                dir.display()
            ));
        }
        None => stdout.push_str(&format!(
            "wrote {}\nstart Envoy:    envoy -c {} --disable-hot-restart\n",
            envoy_yaml.display(),
            envoy_yaml.display()
        )),
    }
    Ok(Report { stdout, stderr, ok: true })
}

#[cfg(test)]
#[path = "bootstrap_tests.rs"]
mod tests;
