//! The module's fetcher against a fake of Envoy's configuration calls: when
//! it calls, what it sends, what an answer changes, what it counts and logs.

use super::*;

/// A call as sent: cluster, headers, timeout.
type Call = (String, Vec<(String, String)>, u64);

#[derive(Default)]
struct FakeMain {
    now: u64,
    calls: Vec<Call>,
    refuse_calls: Option<u32>,
    bumped: Vec<usize>,
    gauges: Vec<(usize, u64)>,
    logs: Vec<(u32, String)>,
}

impl Main for FakeMain {
    fn now_ms(&mut self) -> u64 {
        self.now
    }
    fn callout(&mut self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Result<u64, u32> {
        if let Some(status) = self.refuse_calls {
            return Err(status);
        }
        self.calls.push((cluster.into(), headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(), timeout_ms));
        Ok(self.calls.len() as u64)
    }
    fn increment(&mut self, id: usize) {
        self.bumped.push(id);
    }
    fn set_gauge(&mut self, id: usize, value: u64) {
        self.gauges.push((id, value));
    }
    fn log(&mut self, level: u32, line: &str) {
        self.logs.push((level, line.into()));
    }
}

/// Counters 1..=5 (applied, unchanged, refused, removals, failed) and
/// gauges 1 (origins) and 2 (age), as Envoy numbers them.
struct Ids(usize, usize);

impl Define for Ids {
    fn counter(&mut self, _: &str) -> Result<usize, u32> {
        self.0 += 1;
        Ok(self.0)
    }
    fn gauge(&mut self, _: &str) -> Result<usize, u32> {
        self.1 += 1;
        Ok(self.1)
    }
}

/// A policy whose source is `cluster`: each test its own, since what a
/// configuration fetched is remembered process-wide for its next version.
fn policy(cluster: &str) -> String {
    format!(
        r#"{{"allow_origins": ["https://static.example"],
        "allow_origins_from": {{"cluster": "{cluster}", "path": "/origins", "authority": "tenants", "refresh_seconds": 30, "timeout_ms": 500}}}}"#
    )
}

fn setup(cluster: &str) -> (Ruleset, Fetchers, FakeMain) {
    let ruleset = Ruleset::from_json(policy(cluster).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let fetchers = Fetchers::new(&ruleset, &mut Ids(0, 0), 1_000);
    (ruleset, fetchers, FakeMain { now: 1_000, ..FakeMain::default() })
}

fn allows(ruleset: &Ruleset, origin: &str) -> bool {
    ruleset.policy(Route::Default).is_some_and(|p| p.allows_origin_str(origin))
}

#[test]
fn one_call_per_refresh_with_the_sources_host_and_timeout() {
    let (ruleset, mut fetchers, mut main) = setup("calls");
    fetchers.tick(&ruleset, &mut main);
    fetchers.tick(&ruleset, &mut main);
    assert_eq!(main.calls.len(), 1, "one call in flight, however many ticks");
    let (cluster, headers, timeout) = main.calls[0].clone();
    assert_eq!((cluster.as_str(), timeout), ("calls", 500));
    assert!(headers.contains(&(":path".into(), "/origins".into())) && headers.contains(&("host".into(), "tenants".into())), "{headers:?}");
    fetchers.answer(&ruleset, &mut main, Reply { id: 1, status: Some(b"503"), etag: None, body_size: 0 }, Vec::new);
    main.now += 29_000;
    fetchers.tick(&ruleset, &mut main);
    assert_eq!(main.calls.len(), 1, "not due before refresh_seconds");
    main.now += 1_000;
    fetchers.tick(&ruleset, &mut main);
    assert_eq!(main.calls.len(), 2);
}

#[test]
fn a_good_answer_applies_and_a_bad_one_keeps_it_or_only_removes() {
    let (ruleset, mut fetchers, mut main) = setup("applies");
    fetchers.tick(&ruleset, &mut main);
    let body = br#"{"origins": ["https://a.example", "https://b.example"]}"#.to_vec();
    fetchers
        .answer(&ruleset, &mut main, Reply { id: 1, status: Some(b"200"), etag: Some(b"\"v1\""), body_size: body.len() }, || body.clone());
    assert!(allows(&ruleset, "https://a.example") && allows(&ruleset, "https://static.example"));
    assert_eq!(main.bumped, [1], "updates_applied");
    assert!(main.gauges.contains(&(1, 2)), "origins gauge: {:?}", main.gauges);

    // The next call is conditional; a failure keeps the set.
    main.now += 30_000;
    fetchers.tick(&ruleset, &mut main);
    assert!(main.calls[1].1.contains(&("if-none-match".into(), "\"v1\"".into())), "{:?}", main.calls[1]);
    fetchers.answer(&ruleset, &mut main, Reply { id: 2, status: None, etag: None, body_size: 0 }, Vec::new);
    assert!(allows(&ruleset, "https://b.example"), "the last good set keeps serving");
    assert_eq!(main.bumped.last(), Some(&5), "updates_failed");

    // A bad entry never adds, but its removals apply.
    main.now += 30_000;
    fetchers.tick(&ruleset, &mut main);
    let bad = br#"{"origins": ["https://a.example", "https://new.example", "*"]}"#.to_vec();
    fetchers.answer(&ruleset, &mut main, Reply { id: 3, status: Some(b"200"), etag: None, body_size: bad.len() }, || bad.clone());
    assert!(allows(&ruleset, "https://a.example"));
    assert!(!allows(&ruleset, "https://b.example"), "removed");
    assert!(!allows(&ruleset, "https://new.example"), "never added from a refused answer");
    assert_eq!(&main.bumped[main.bumped.len() - 2..], [3, 4], "updates_refused and updates_removals_applied");
    assert!(main.logs.iter().any(|(l, line)| *l == ERROR && line.contains("its removals applied")), "{:?}", main.logs);
}

#[test]
fn a_call_envoy_refuses_is_a_counted_failure_naming_the_cluster() {
    let (ruleset, mut fetchers, mut main) = setup("refused");
    main.refuse_calls = Some(2);
    fetchers.tick(&ruleset, &mut main);
    assert_eq!(main.bumped, [5]);
    assert!(main.logs.iter().any(|(_, l)| l.contains("status 2") && l.contains("\"refused\"")), "{:?}", main.logs);
}

#[test]
fn the_age_gauge_grows_until_a_good_answer() {
    let (ruleset, mut fetchers, mut main) = setup("age");
    main.now += 5_000;
    fetchers.tick(&ruleset, &mut main);
    assert!(main.gauges.contains(&(2, 5)), "{:?}", main.gauges);
    let body = br#"{"origins": []}"#.to_vec();
    fetchers.answer(&ruleset, &mut main, Reply { id: 1, status: Some(b"200"), etag: None, body_size: body.len() }, || body.clone());
    assert_eq!(main.gauges.last(), Some(&(2, 0)));
}

/// A new version of the configuration (an LDS update) serves what the old
/// one fetched from its first request, and keeps the schedule.
#[test]
fn a_new_version_of_the_policy_resumes_what_the_last_one_fetched() {
    let (ruleset, mut fetchers, mut main) = setup("resumed");
    fetchers.tick(&ruleset, &mut main);
    let body = br#"{"origins": ["https://tenant.example"]}"#.to_vec();
    fetchers
        .answer(&ruleset, &mut main, Reply { id: 1, status: Some(b"200"), etag: Some(b"\"e\""), body_size: body.len() }, || body.clone());
    let (again, mut next, mut main) = setup("resumed");
    assert!(allows(&again, "https://tenant.example"), "served before any call");
    main.now += 10_000;
    next.tick(&again, &mut main);
    assert!(main.calls.is_empty(), "not due: the last version called 10 s ago");
    main.now += 20_000;
    next.tick(&again, &mut main);
    assert!(main.calls.first().is_some_and(|c| c.1.contains(&("if-none-match".into(), "\"e\"".into()))), "{:?}", main.calls);
}

/// Two listeners with the same source (two configurations) serve what
/// either applied, at the next tick, as wasm workers do through shared data.
#[test]
fn a_configuration_serves_what_another_with_the_same_source_applied() {
    let (slow_rules, mut slow, mut main) = setup("two-listeners");
    let (fast_rules, mut fast, _) = setup("two-listeners");
    slow.tick(&slow_rules, &mut main);
    let body = br#"{"origins": ["https://shop.example"]}"#.to_vec();
    slow.answer(&slow_rules, &mut main, Reply { id: 1, status: Some(b"200"), etag: None, body_size: body.len() }, || body.clone());
    assert!(!allows(&fast_rules, "https://shop.example"), "not before its tick");
    main.now += 1_000;
    fast.tick(&fast_rules, &mut main);
    assert!(allows(&fast_rules, "https://shop.example"));
    assert_eq!(main.calls.len(), 1, "the second configuration did not call: its source was just confirmed");
}
