//! `cargo xtask` — project automation for kr-payments.
//!
//! * `cargo xtask regen [--from DIR] [--check] [--api NAME]` rebuilds `openapi/*.json` from the upstream specs.
//! * `cargo xtask coverage` checks that every operation of every normalized spec got a generated method.
//! * `cargo xtask build-cost` measures what the crate costs to build, per provider feature.
//! * `cargo xtask instructions` counts instructions per cancel call, facade and hand-written, under callgrind
//!   (`--syscalls`: system calls per call, under strace).

mod build_cost;
mod coverage;
mod diff;
mod instructions;
mod normalize;
mod regen;
mod sources;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("regen") => regen::run(&args[1..]),
        Some("coverage") => coverage::run(&args[1..]),
        Some("build-cost") => build_cost::run(&args[1..]),
        Some("instructions") => instructions::run(&args[1..]),
        _ => {
            eprintln!(
                "usage:\n  cargo xtask regen [--from DIR] [--check] [--api portone-v2|iamport-v1|toss-v1]\n  cargo xtask coverage\n  cargo xtask build-cost [--debug|--release]\n  cargo xtask instructions [--calls N] [--keep] [--syscalls]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent().map(PathBuf::from).unwrap_or(dir)
}

/// A boxed error for the automation code; messages are for humans.
pub type Error = Box<dyn std::error::Error>;
