//! Fuzz target `portone_v2_error`: see `kr_payments::transport::fuzzing::run` for what the input is used for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    assert!(
        kr_payments::transport::fuzzing::run("portone_v2_error", data).is_some(),
        "unknown target"
    );
});
