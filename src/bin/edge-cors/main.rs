//! `edge-cors`: check a policy, explain a decision, probe a live API, import
//! and render configurations, with the filter's own engine, so that what it
//! says is what the filter does.
//!
//! Built only with `--features cli`; nothing here reaches the wasm module.

mod check;
mod explain;
mod fetch_check;
mod import;
mod out;
mod probe;
mod render;
mod source;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use explain::RouteTarget;
use import::ImportSource;
use render::RenderTarget;

#[derive(Parser)]
#[command(
    name = "edge-cors",
    version,
    about = "Check, explain, probe, import and render edge-cors CORS policies",
    long_about = "Check, explain, probe, import and render edge-cors CORS policies.\n\n\
        Every answer comes from the same engine as the proxy-wasm filter.\n\
        Exit codes: 0 ok, 1 problems found (invalid policy, blocked call, refused import), 2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The cross-origin call a page makes: what `explain` and `probe` share.
#[derive(Args)]
struct PageRequest {
    /// The page's origin, e.g. https://app.example.com
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
    /// OpenAPI with x-amazon-apigateway-cors) and list every problem
    Check {
        /// The policy or template file
        policy: PathBuf,
    },
    /// Show what the browser and the filter do for one request
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
    /// Convert an Envoy CorsPolicy, an Istio corsPolicy or an AWS
    /// CorsConfiguration into an edge-cors policy, listing every behaviour difference
    Import {
        /// Where the configuration comes from
        #[arg(long, value_enum)]
        from: ImportSource,
        /// The configuration file (YAML or JSON)
        file: PathBuf,
    },
    /// Print a ready-to-apply manifest with the policy embedded and the filter
    /// placed before auth filters
    Render {
        /// What to render for
        #[arg(long, value_enum)]
        target: RenderTarget,
        /// The policy or template file
        policy: PathBuf,
        /// Where the proxy loads the module from (a file path for Envoy, an OCI
        /// image for Istio and Envoy Gateway)
        #[arg(long)]
        module: Option<String>,
        /// Kubernetes namespace (Istio, Envoy Gateway)
        #[arg(long)]
        namespace: Option<String>,
        /// The Gateway the policy attaches to (Envoy Gateway)
        #[arg(long, default_value = "eg")]
        gateway: String,
    },
}

/// A failure to do the job at all (unreadable file, unreachable URL, bad
/// arguments): exit 2. Problems found in what was checked are not errors.
#[derive(Debug)]
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
    let result = match cli.command {
        Command::Check { policy } => check::run(&policy),
        Command::Explain { policy, page, status, target } => explain::run(&policy, &page, status, &target),
        Command::Probe { url, page, json, timeout } => probe::run(&url, &page, json, timeout),
        Command::Import { from, file } => import::run(from, &file),
        Command::Render { target, policy, module, namespace, gateway } => {
            render::run(target, &policy, module.as_deref(), namespace.as_deref(), &gateway)
        }
    };
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
