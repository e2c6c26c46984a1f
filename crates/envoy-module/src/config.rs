//! One filter configuration: the policy refused or compiled (with its
//! metric ids), and the barrier every hook runs behind. Pure: the hooks
//! pass Envoy's calls in, so this is tested natively.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use edge_cors_engine::lifecycle::Filter;
use edge_cors_engine::rules::Ruleset;

use crate::live::Fetchers;
use crate::metrics::{Define, Metrics};

/// The HTTP filter's `filter_name` this module answers to.
pub const FILTER_NAME: &[u8] = b"edge-cors";

/// Runs a hook's body; a panic becomes one error line (through `log`) and
/// `fallback`, never an unwind across `extern "C"` (which aborts Envoy).
/// Runs a hook's body; a panic becomes one error line and `fallback`.
pub fn barrier<T>(hook: &str, fallback: T, body: impl FnOnce() -> T, log: impl FnOnce(&str)) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            // Logging is itself guarded: nothing may unwind out of here.
            let line = format!("edge-cors: a panic in {hook} was contained; the request goes on unchanged");
            let _ = catch_unwind(AssertUnwindSafe(|| log(&line)));
            fallback
        }
    }
}

/// One filter configuration: shared by every worker (read-only but for
/// the engine's own atomics and locks, so `Sync`).
pub struct Config {
    pub filter: Filter,
    pub metrics: Metrics,
    /// The live-origin sources (None: the policy has none). Used on the
    /// main thread only; the lock makes the configuration `Sync`.
    pub fetchers: Option<Mutex<Fetchers>>,
}

/// The configuration, or why it is refused (one line, as the wasm shell's).
pub fn configure(name: &[u8], config: &[u8], define: &mut impl Define, now_ms: u64, warn: impl FnOnce(&str)) -> Result<Config, String> {
    if name != FILTER_NAME {
        return Err(format!(
            "edge-cors: filter_name {:?} is not this module's; set filter_name: \"edge-cors\"",
            String::from_utf8_lossy(name)
        ));
    }
    let ruleset = Ruleset::from_json(config).map_err(|errors| errors.to_string())?;
    let metrics = match Metrics::define(&ruleset, define) {
        Ok(m) => m,
        Err(status) => {
            warn(&format!("edge-cors: Envoy refused a metric (status {status}); counting is off, CORS is not affected"));
            Metrics::default()
        }
    };
    let fetchers = Fetchers::new(&ruleset, define, now_ms);
    let fetchers = (!fetchers.is_empty()).then(|| Mutex::new(fetchers));
    Ok(Config { filter: Filter::new(ruleset), metrics, fetchers })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoMetrics;
    impl crate::metrics::Define for NoMetrics {
        fn counter(&mut self, _: &str) -> Result<usize, u32> {
            Ok(1)
        }
    }

    #[test]
    fn a_panic_is_contained_logged_and_answered_with_the_fallback() {
        let mut logged = String::new();
        assert_eq!(barrier("test", 0, || 7, |_| unreachable!()), 7);
        let fallback = barrier("request_headers", 0, || -> u32 { panic!("boom") }, |line| logged = line.to_string());
        assert_eq!(fallback, 0);
        assert!(logged.contains("panic in request_headers was contained"), "{logged}");
        // A logger that panics too is contained as well.
        assert_eq!(barrier("x", 1, || -> u32 { panic!("a") }, |_| panic!("b")), 1);
    }

    #[test]
    fn another_filter_name_or_a_bad_policy_is_refused_in_one_line() {
        let err = configure(b"cors", br#"{"allow_origins": ["*"]}"#, &mut NoMetrics, 0, |_| {}).err().unwrap_or_default();
        assert!(err.contains("filter_name \"cors\"") && err.contains("edge-cors"), "{err}");
        let err = configure(b"edge-cors", br#"{"allow_origins": ["https://*.com"]}"#, &mut NoMetrics, 0, |_| {}).err().unwrap_or_default();
        assert!(err.contains("allow_origins") && !err.contains('\n'), "{err}");
        assert!(configure(b"edge-cors", br#"{"allow_origins": ["https://a.example"]}"#, &mut NoMetrics, 0, |_| {}).is_ok());
    }
}
