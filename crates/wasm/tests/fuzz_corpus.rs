//! Replays the fuzz targets' committed seeds (`fuzz/seeds/TARGET/`) and every
//! input a fuzzer ever failed on (`fuzz/regressions/TARGET/`) through the
//! same code the fuzz targets run (`fuzz/src/lib.rs`), so `cargo test`
//! keeps each finding fixed without cargo-fuzz or a nightly toolchain.

#[path = "../../../fuzz/src/lib.rs"]
mod fuzz;

use std::fs;
use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let Ok(dir) = fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in dir.flatten() {
            let data = fs::read(entry.path()).unwrap();
            let name = entry.path().display().to_string();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{name} fails the {target} fuzz target again");
            }
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for the {target} fuzz target");
}

#[test]
fn config_seeds_and_regressions() {
    replay("config", fuzz::config);
}

#[test]
fn origin_seeds_and_regressions() {
    replay("origin", fuzz::origin);
}

#[test]
fn decision_seeds_and_regressions() {
    replay("decision", fuzz::decision);
}

#[test]
fn answer_seeds_and_regressions() {
    replay("answer", fuzz::answer);
}
