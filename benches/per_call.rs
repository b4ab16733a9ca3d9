//! Work per cancel call, counted rather than timed: allocations (a counting global allocator) and, run under
//! callgrind by `cargo xtask instructions`, instructions. Both for each provider's facade cancel and for the
//! hand-written `reqwest` + `serde_json` call of the same request (`cancels`).
//!
//! Counts do not move with the machine's load, so they show what timings on a shared 2-core machine blur. The
//! loopback server runs in a child process (this binary with `--serve`), so only the client's work is counted.
//! Each count is taken after warm-up calls (connection open, iamport token held), over sequential calls on a
//! current-thread runtime.
//!
//! * `cargo bench --bench per_call`: allocations (and bytes allocated) per call, facade and hand-written.
//! * `per_call --serve`: the server alone; prints its URL on the first line, stops when its stdin closes.
//! * `per_call --client URL PROVIDER SIDE CALLS [--multi-thread]`: makes `CALLS` calls after the warm-up and exits;
//!   `cargo xtask instructions` runs it under callgrind with two values of `CALLS` and takes the difference, so
//!   start-up (runtime, TLS configuration, warm-up) drops out. `--multi-thread` runs the calls on a two-worker
//!   runtime, for counting system calls per call with `strace -f -c` the same way (BENCHMARKS.md §1).

mod cancels;
mod support;

use cancels::{Decode, PROVIDERS, Provider};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::io::{BufRead, Write};
use std::process::{Command, ExitCode, Stdio};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Calls made before anything is counted.
const WARM_UP: usize = 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Facade,
    Raw,
    /// The hand-written call decoding the way the facades do ([`Decode::Text`]); a diagnostic.
    RawText,
    /// The hand-written call with the facade's attempt timeout ([`Decode::WithTimeout`]); a diagnostic.
    RawTimeout,
    /// The hand-written call with the attempt timeout on reqwest's default pool ([`Decode::WithTimeoutOnDefaultPool`]);
    /// a diagnostic.
    RawTimeoutDefaultPool,
}

impl Side {
    fn from_arg(arg: &str) -> Option<Side> {
        match arg {
            "facade" => Some(Side::Facade),
            "raw" => Some(Side::Raw),
            "raw-text" => Some(Side::RawText),
            "raw-timeout" => Some(Side::RawTimeout),
            "raw-timeout-default-pool" => Some(Side::RawTimeoutDefaultPool),
            _ => None,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn op(url: &str, provider: Provider, side: Side) -> support::Op {
    match side {
        Side::Facade => provider.facade(url).await,
        Side::Raw => provider.baseline(url, Decode::Plain),
        Side::RawText => provider.baseline(url, Decode::Text),
        Side::RawTimeout => provider.baseline(url, Decode::WithTimeout),
        Side::RawTimeoutDefaultPool => provider.baseline(url, Decode::WithTimeoutOnDefaultPool),
    }
}

/// Runs the server until stdin closes.
fn serve() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = rt.block_on(cancels::routes().start());
    println!("{}", server.url());
    std::io::stdout().flush().expect("stdout");
    // Blocks until the parent closes our stdin (or dies).
    let mut sink = String::new();
    while std::io::stdin().lock().read_line(&mut sink).is_ok_and(|n| n > 0) {
        sink.clear();
    }
    ExitCode::SUCCESS
}

/// `--client URL PROVIDER SIDE CALLS [--multi-thread]`.
fn client(args: &[String]) -> ExitCode {
    let usage = "usage: per_call --client URL portone-v2|iamport|toss \
                 facade|raw|raw-text|raw-timeout|raw-timeout-default-pool CALLS [--multi-thread]";
    let (Some(url), Some(provider), Some(side), Some(calls)) = (
        args.first(),
        args.get(1).and_then(|p| Provider::from_arg(p)),
        args.get(2).and_then(|s| Side::from_arg(s)),
        args.get(3).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    // A multi-thread runtime (two workers, the calls made from `block_on` as the overhead bench makes them) shows
    // the wake-ups between threads that a current-thread runtime does not have: count them with `strace -f -c`.
    let rt = if args.get(4).is_some_and(|a| a == "--multi-thread") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    } else {
        runtime()
    };
    rt.block_on(async {
        let op = op(url, provider, side).await;
        for _ in 0..WARM_UP {
            op().await;
        }
        for _ in 0..calls {
            op().await;
        }
    });
    ExitCode::SUCCESS
}

/// The server in a child process, and its URL.
struct Child {
    process: std::process::Child,
    url: String,
}

fn spawn_server() -> Child {
    let exe = std::env::current_exe().expect("own path");
    let mut process = Command::new(exe)
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let stdout = process.stdout.take().expect("server stdout");
    let mut url = String::new();
    std::io::BufReader::new(stdout).read_line(&mut url).expect("server URL");
    Child {
        process,
        url: url.trim().to_string(),
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Closing its stdin stops it; wait so no process outlives the bench.
        drop(self.process.stdin.take());
        let _ = self.process.wait();
    }
}

fn allocations() -> ExitCode {
    let calls = if support::full_run() { 2_000 } else { 50 };
    let rt = runtime();
    // Same requests on both sides, checked against an in-process server first.
    rt.block_on(async {
        let server = cancels::routes().start().await;
        for provider in PROVIDERS {
            let facade = provider.facade(&server.url()).await;
            let raw = provider.baseline(&server.url(), Decode::Plain);
            cancels::check_same_request(&server, provider, &facade, &raw).await;
        }
    });
    drop(rt);
    let server = spawn_server();
    let rt = runtime();
    println!(
        "\n## per call: allocations, facade cancel vs hand-written reqwest + serde_json ({calls} sequential calls after {WARM_UP} warm-up calls)\n"
    );
    println!("| provider | facade allocations | raw allocations | ratio | facade bytes | raw bytes |");
    println!("|---|---:|---:|---:|---:|---:|");
    for provider in PROVIDERS {
        let mut counts = Vec::new();
        for side in [Side::Facade, Side::Raw] {
            let stats = rt.block_on(async {
                let op = op(&server.url, provider, side).await;
                for _ in 0..WARM_UP {
                    op().await;
                }
                let region = Region::new(GLOBAL);
                for _ in 0..calls {
                    op().await;
                }
                region.change()
            });
            counts.push((
                stats.allocations as f64 / calls as f64,
                stats.bytes_allocated as f64 / calls as f64,
            ));
        }
        let ((fa, fb), (ra, rb)) = (counts[0], counts[1]);
        println!(
            "| {} | {fa:.1} | {ra:.1} | {:.2}× | {fb:.0} | {rb:.0} |",
            provider.label(),
            fa / ra
        );
    }
    println!("\n| provider | cancel builder | `send()` future |\n|---|---:|---:|");
    for (provider, builder, future) in cancels::future_sizes(&server.url) {
        println!("| {provider} | {builder} bytes | {future} bytes |");
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve") => serve(),
        Some("--client") => client(&args[1..]),
        _ => allocations(),
    }
}
