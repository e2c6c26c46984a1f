//! `edge-cors`: check a policy, explain a decision, probe a live API, import
//! and render configurations, with the filter's own engine, so that what it
//! says is what the filter does.
//!
//! Built only with `--features cli`; nothing here reaches the wasm module.

mod commands;
mod fetch_check;
mod out;
mod source;
mod template;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use commands::explain::RouteTarget;
use commands::import::ImportSource;
use commands::render::{self, RenderTarget, Shell};
use commands::{check, explain, import, probe};

#[derive(Parser)]
#[command(
    name = "edge-cors",
    version,
    about = "Check, explain, probe, import and render edge-cors CORS policies",
    long_about = "Check, explain, probe, import and render edge-cors CORS policies.\n\n\
        Every answer comes from the same engine as the proxy-wasm filter.\n\
        Exit codes: 0 ok, 1 problems found (invalid policy, blocked call or one explain cannot decide, refused import), \
        2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The cross-origin call a page makes: what `explain` and `probe` share.
#[derive(Args)]
struct PageRequest {
    /// The page's origin, e.g. https://app.example.com (as a browser sends
    /// it: a pattern is refused, another spelling is rewritten with a note)
    #[arg(long)]
    origin: String,
    /// The request method
    #[arg(long, default_value = "GET")]
    method: String,
    /// A request header the page sets: NAME or "NAME: VALUE" (repeatable)
    #[arg(long = "header", value_name = "NAME")]
    headers: Vec<String>,
    /// The page sends credentials (fetch's credentials: "include")
    #[arg(long)]
    credentials: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a policy (edge-cors JSON/YAML, CloudFormation or SAM template,
    /// OpenAPI with x-amazon-apigateway-cors, a wasm plugin's configuration in
    /// Envoy, Istio or Envoy Gateway YAML), list every problem, summarise
    /// every rule
    Check {
        /// The policy or template file
        policy: PathBuf,
    },
    /// Show what the browser and the filter do for one request (in report
    /// mode: what the filter would do, which changes nothing)
    Explain {
        /// The policy or template file
        policy: PathBuf,
        #[command(flatten)]
        page: PageRequest,
        /// The status of the actual response (upstream's or the proxy's own)
        #[arg(long, default_value_t = 200)]
        status: u16,
        #[command(flatten)]
        target: RouteTarget,
        /// A saved answer of the policy's origin service (allow_origins_from),
        /// {"origins": [...]}: checked as the filter checks one, its origins
        /// then count with allow_origins. Without it, an origin only the
        /// service could allow is "not decided" (exit 1)
        #[arg(long, value_name = "FILE")]
        live_origins: Option<PathBuf>,
    },
    /// Send the preflight and the actual request to a live endpoint and judge
    /// both as a browser would
    Probe {
        /// The URL the page calls
        url: String,
        #[command(flatten)]
        page: PageRequest,
        /// Print one JSON object (for CI) instead of text
        #[arg(long)]
        json: bool,
        /// Seconds to wait for each response
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Convert an Envoy CorsPolicy, an Istio corsPolicy, a Gateway API
    /// HTTPRoute's CORS filters (a rule per route rule), an Envoy Gateway
    /// SecurityPolicy's cors, ingress-nginx's CORS annotations on Ingresses or
    /// an AWS CorsConfiguration into an edge-cors policy, listing every behaviour
    /// difference; a policy that allows more than the source is refused
    /// unless --accept-wider (and always with credentials)
    Import {
        /// Where the configuration comes from
        #[arg(long, value_enum)]
        from: ImportSource,
        /// The configuration file (YAML or JSON)
        file: PathBuf,
        /// Import a policy that allows more origins than the source did (a
        /// one-label regex becoming *.domain, which matches any depth); never
        /// with credentials
        #[arg(long)]
        accept_wider: bool,
    },
    /// Print a ready-to-apply manifest with the policy embedded and the filter
    /// placed before auth filters
    Render {
        /// What to render for
        #[arg(long, value_enum)]
        target: RenderTarget,
        /// The policy or template file
        policy: PathBuf,
        /// Which filter: the proxy-wasm module (edge_cors.wasm) or the Envoy
        /// 1.40 dynamic module (libedge_cors.so; envoy, envoy-bootstrap,
        /// envoy-lds and envoy-gateway)
        #[arg(long, value_enum, default_value_t = Shell::Wasm)]
        shell: Shell,
        /// Where the proxy loads the module from (a file path for Envoy, an OCI
        /// image for Istio and Envoy Gateway, or an https:// URL; with --shell
        /// module, always a file path); without it the manifest holds a
        /// placeholder (a warning says so)
        #[arg(long)]
        module: Option<String>,
        /// Kubernetes namespace (Istio, Envoy Gateway)
        #[arg(long)]
        namespace: Option<String>,
        /// The Gateway the policy attaches to (Envoy Gateway)
        #[arg(long, default_value = "eg")]
        gateway: String,
        /// The module's SHA-256 digest (64 hex digits), pinned in the manifest
        /// so the proxy loads no other module (Istio, Envoy Gateway; the wasm
        /// module only)
        #[arg(long, value_name = "HEX", value_parser = render::parse_sha256)]
        sha256: Option<String>,
        #[command(flatten)]
        host: render::HostArgs,
    },
}

/// A failure to do the job at all (unreadable file, unreachable URL, bad
/// arguments): exit 2. Problems found in what was checked are not errors.
#[derive(Debug, Clone)]
pub struct Fatal(pub String);

impl<T: std::fmt::Display> From<T> for Fatal {
    fn from(e: T) -> Fatal {
        Fatal(e.to_string())
    }
}

/// What a command produced: text for stdout and stderr, and whether
/// everything it checked was fine.
#[derive(Default)]
pub struct Report {
    pub stdout: String,
    pub stderr: String,
    pub ok: bool,
}

fn main() -> ExitCode {
    // No Rust panic message or backtrace for users: a short line and exit 2.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        eprintln!("edge-cors: internal error: {msg} (please report it)");
        std::process::exit(2);
    }));
    let cli = Cli::parse();
    // A placeholder or unpinned module reference is said on stderr.
    let module_notes = match &cli.command {
        Command::Render { target, shell, module, sha256, .. } => render::module_notes(*target, *shell, module.is_some(), sha256.is_some()),
        _ => Ok(String::new()),
    };
    let result = match cli.command {
        _ if module_notes.is_err() => module_notes.clone().map(|_| Report::default()),
        Command::Check { policy } => check::run(&policy),
        Command::Explain { policy, page, status, target, live_origins } => {
            explain::run(&policy, &page, status, &target, live_origins.as_deref())
        }
        Command::Probe { url, page, json, timeout } => probe::run(&url, &page, json, timeout),
        Command::Import { from, file, accept_wider } => import::run(from, &file, accept_wider),
        Command::Render { target, shell, policy, module, host, .. } if target.is_envoy_host() || host.first_given().is_some() => {
            render::run_host(target, shell, &policy, module.as_deref(), &host)
        }
        Command::Render { target, shell, policy, module, namespace, gateway, sha256, .. } => {
            render::run(target, shell, &policy, module.as_deref(), namespace.as_deref(), &gateway, sha256.as_deref())
        }
    };
    let result = result.map(|mut r| {
        if r.ok {
            r.stderr.push_str(module_notes.as_deref().unwrap_or(""));
        }
        r
    });
    match result {
        Ok(report) => {
            out::emit_stdout(&report.stdout);
            out::emit_stderr(&report.stderr);
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(Fatal(msg)) => {
            let style = out::Style::stderr();
            out::emit_stderr(&format!("{} {msg}\n", style.fail("edge-cors: error:")));
            ExitCode::from(2)
        }
    }
}
