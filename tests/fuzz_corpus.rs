//! Replays the fuzz corpus (`tests/fuzz/corpus/<target>/*`) through the same function each fuzz target calls, on
//! the stable toolchain: every seed and every crash found and fixed so far keeps running in CI without cargo-fuzz.
#![cfg(all(feature = "portone-v2", feature = "iamport", feature = "toss"))]

use kr_payments::transport::fuzzing::{Outcome, TARGETS, run};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus")
}

/// Every file of a target's corpus with what it produced.
fn replay(target: &str) -> BTreeMap<String, Vec<Outcome>> {
    let dir = corpus_dir().join(target);
    let mut results = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcomes = run(target, &data).unwrap_or_else(|| panic!("{target} is not a fuzz target"));
        results.insert(path.file_name().unwrap().to_string_lossy().into_owned(), outcomes);
    }
    assert!(!results.is_empty(), "{target} has no corpus");
    results
}

#[test]
fn every_corpus_directory_is_a_target_and_every_target_has_a_corpus() {
    let mut dirs: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut targets: Vec<String> = TARGETS.iter().map(|t| t.to_string()).collect();
    targets.sort();
    assert_eq!(dirs, targets);
    let fuzz_targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/fuzz_targets");
    for target in TARGETS {
        assert!(
            fuzz_targets.join(format!("{target}.rs")).is_file(),
            "no fuzz target file for {target}"
        );
    }
}

#[test]
fn the_payment_corpora_replay_without_panicking_and_reach_the_decoders() {
    for target in ["portone_v2_payment", "iamport_payment", "toss_payment"] {
        let results = replay(target);
        assert!(
            results.values().flatten().any(|o| *o == Outcome::Ok),
            "{target}: no seed decodes, so the fuzzer starts far from the success path: {results:?}"
        );
    }
}

#[test]
fn the_error_corpora_replay_without_panicking_and_reach_the_typed_errors() {
    for target in ["portone_v2_error", "iamport_error", "toss_error"] {
        let results = replay(target);
        assert!(
            results.values().flatten().any(|o| *o == Outcome::Api),
            "{target}: {results:?}"
        );
        assert!(
            results.values().flatten().any(|o| *o == Outcome::Decode),
            "{target}: {results:?}"
        );
    }
}

#[test]
fn the_webhook_corpus_replays_and_signed_seeds_verify() {
    let results = replay("portone_v2_webhook");
    for (name, outcomes) in &results {
        if name.starts_with("signed_") || (name.starts_with("headers_") && name[8..].parse::<u32>().is_ok()) {
            assert_eq!(outcomes, &vec![Outcome::Ok], "{name} is signed with the fuzzing secret");
        }
    }
    assert_eq!(results["headers_bad_signature"], vec![Outcome::Rejected]);
    assert_eq!(results["headers_old_timestamp"], vec![Outcome::Rejected]);
}

#[test]
fn an_unknown_target_is_refused() {
    assert_eq!(run("nope", b"{}"), None);
}
