//! Fuzz target `iamport_payment`: see `kr_payments::transport::fuzzing::run` for what the input is used for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    assert!(
        kr_payments::transport::fuzzing::run("iamport_payment", data).is_some(),
        "unknown target"
    );
});
