//! Per-call overhead: each facade's cancel against a hand-written `reqwest` + `serde_json` call of the same request.
//!
//! Both hit the same loopback server (`support::Server`, a fixed-response HTTP/1.1 server) answering the same
//! fixture bytes. Before anything is timed, one request of each is recorded at the server and compared: same
//! method, path, headers (values too, except the per-call `Idempotency-Key`) and JSON body, or the bench stops.
//!
//! The baseline is what a careful hand-written call does: build the same body with serde, send it with the same
//! headers on a `reqwest::Client` built like the facade's, check the status, and decode the answer with
//! `serde_json::from_slice` into the same generated type. So the ratio is the facade's own work on top: checks
//! before sending, the `Call` and its headers, the tracing span, the retry loop, the per-call timeout, the
//! decode (path tracking only after a failure), and the mapping to the facade's result type.
//!
//! The summary table times facade and baseline interleaved round by round (sequential calls, then 64 tasks
//! calling concurrently) and prints the median latency ratio and the throughput ratio. Targets: latency ≤ 1.05×,
//! throughput ≥ 0.95×. The round-by-round ratio comes with its middle half (first to third quartile over the
//! rounds), and the diagnostics include the baseline timed against itself (the same code on a client of its own),
//! so the table shows how much two identical calls differ on the machine it ran on.

mod cancels;
mod support;

use cancels::{Decode, PROVIDERS, Provider};
use criterion::{Criterion, Throughput};
use std::time::{Duration, Instant};
use support::{Concurrent, Op, Samples, Sequential, Server};

const CONCURRENCY: usize = 64;

/// One provider's pair of calls.
struct Pair {
    provider: &'static str,
    facade: Op,
    baseline: Op,
    /// Diagnostic variants, timed with the two above in the same rounds.
    diagnostics: Vec<(&'static str, Op)>,
}

async fn pair(server: &Server, provider: Provider) -> Pair {
    let url = server.url();
    let facade = provider.facade(&url).await;
    let baseline = provider.baseline(&url, Decode::Plain);
    cancels::check_same_request(server, provider, &facade, &baseline).await;
    let mut diagnostics = vec![
        (
            "baseline again, on a client of its own (the same code: the noise floor)",
            provider.baseline(&url, Decode::Plain),
        ),
        (
            "baseline + the facade's attempt timeout (67.5 s)",
            provider.baseline(&url, Decode::WithTimeout),
        ),
        (
            "baseline + attempt timeout, on reqwest's default pool (90 s idle)",
            provider.baseline(&url, Decode::WithTimeoutOnDefaultPool),
        ),
        (
            "baseline + attempt timeout + JSON text kept (RawValue, then typed from it)",
            provider.baseline(&url, Decode::KeepingRaw),
        ),
    ];
    if provider == Provider::Toss {
        diagnostics.push((
            "facade without .payment(..) pre-checks",
            cancels::toss_facade_bare(&url),
        ));
    }
    Pair {
        provider: provider.label(),
        facade,
        baseline,
        diagnostics,
    }
}

struct Row {
    provider: &'static str,
    mode: &'static str,
    facade: Samples,
    baseline: Samples,
}

/// Per provider and mode, every variant's samples (facade and baseline first).
type Diagnostics = Vec<(&'static str, &'static str, Vec<(&'static str, Samples)>)>;

fn print_table(rows: &[Row], diagnostics: &Diagnostics, rounds: usize) {
    println!("\n## overhead: facade cancel vs hand-written reqwest + serde_json (interleaved, {rounds} rounds)");
    println!("load average: {}\n", support::load_average());
    println!(
        "| provider | mode | facade median | baseline median | latency ratio | facade calls/s | baseline calls/s | throughput ratio | round by round | middle half of the rounds |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let lat = r.facade.median().as_secs_f64() / r.baseline.median().as_secs_f64();
        let thr = r.facade.round_throughput_median() / r.baseline.round_throughput_median();
        let flag = |ok: bool| if ok { "" } else { " (missed)" };
        let [q1, paired, q3] = support::paired_throughput_quartiles(&r.facade, &r.baseline);
        println!(
            "| {} | {} | {} | {} | {lat:.3}×{} | {:.0} | {:.0} | {thr:.3}×{} | {paired:.3}× | {q1:.3}–{q3:.3}× |",
            r.provider,
            r.mode,
            support::us(r.facade.median()),
            support::us(r.baseline.median()),
            flag(lat <= 1.05),
            r.facade.round_throughput_median(),
            r.baseline.round_throughput_median(),
            flag(thr >= 0.95),
        );
    }
    println!("\ntargets: latency ratio ≤ 1.05×, throughput ratio ≥ 0.95×");
    println!(
        "round by round: the median of each round's facade ÷ baseline throughput (the two ran back to back in it); \
         middle half: its first to third quartile over the rounds"
    );
    println!("\n### where the difference goes (all variants interleaved in the same rounds as the rows above)\n");
    println!(
        "| provider | mode | variant | median latency | vs baseline | calls/s | vs baseline | round by round | middle half |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    for (provider, mode, variants) in diagnostics {
        let base = &variants[1].1;
        for (name, s) in variants {
            let [q1, paired, q3] = support::paired_throughput_quartiles(s, base);
            println!(
                "| {provider} | {mode} | {name} | {} | {:.3}× | {:.0} | {:.3}× | {paired:.3}× | {q1:.3}–{q3:.3}× |",
                support::us(s.median()),
                s.median().as_secs_f64() / base.median().as_secs_f64(),
                s.round_throughput_median(),
                s.round_throughput_median() / base.round_throughput_median(),
            );
        }
    }
}

fn criterion_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime, pairs: &[Pair]) {
    for pair in pairs {
        let mut g = c.benchmark_group(format!("overhead/{}", pair.provider.replace(' ', "_")));
        for (name, op) in [("facade", &pair.facade), ("baseline", &pair.baseline)] {
            g.throughput(Throughput::Elements(1));
            g.bench_function(format!("{name}/sequential"), |b| b.to_async(rt).iter(|| op()));
            g.throughput(Throughput::Elements(CONCURRENCY as u64));
            g.bench_function(format!("{name}/concurrent{CONCURRENCY}"), |b| {
                b.to_async(rt).iter_custom(|iters| {
                    let op = op.clone();
                    async move {
                        let started = Instant::now();
                        for _ in 0..iters {
                            let mut s = Samples::default();
                            support::run_concurrent(&op, CONCURRENCY, 1, &mut s).await;
                        }
                        started.elapsed()
                    }
                })
            });
        }
        g.finish();
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let full = support::full_run();
    let (server, pairs) = rt.block_on(async {
        let server = cancels::routes().start().await;
        let mut pairs = Vec::new();
        for provider in PROVIDERS {
            pairs.push(pair(&server, provider).await);
        }
        (server, pairs)
    });

    let mut c = support::criterion().measurement_time(Duration::from_secs(2));
    criterion_benches(&mut c, &rt, &pairs);

    if support::profiling() {
        // Calls made, so two profiles of the same length can be compared per call.
        for (method, route) in [
            ("POST", "/v1/payments/"),
            ("POST", "/payments/order-"),
            ("POST", "/payments/cancel"),
        ] {
            eprintln!("{method} {route}: {} calls", server.hits(method, route));
        }
        c.final_summary();
        return;
    }
    let (rounds, seq_calls, per_task) = if full { (31, 400, 8) } else { (2, 3, 1) };
    let (rows, diagnostics) = rt.block_on(async {
        let mut rows = Vec::new();
        let mut diagnostics = Vec::new();
        for pair in &pairs {
            let mut ops = vec![&pair.facade, &pair.baseline];
            ops.extend(pair.diagnostics.iter().map(|(_, op)| op));
            // Warm every connection pool to the concurrency it will use.
            let warm = Concurrent {
                concurrency: CONCURRENCY,
                calls_per_task: 2,
            };
            support::interleave(&ops, 1, warm).await;
            let conc = Concurrent {
                concurrency: CONCURRENCY,
                calls_per_task: per_task,
            };
            let modes: [(&'static str, Box<dyn support::AsyncRunner>); 2] = [
                ("sequential", Box::new(Sequential(seq_calls))),
                ("64 concurrent", Box::new(conc)),
            ];
            for (mode, runner) in modes {
                let mut s = support::interleave(&ops, rounds, runner).await.into_iter();
                let (facade, baseline) = (s.next().expect("facade"), s.next().expect("baseline"));
                let mut variants = vec![("facade", facade.clone()), ("baseline", baseline.clone())];
                variants.extend(pair.diagnostics.iter().map(|(name, _)| *name).zip(s));
                diagnostics.push((pair.provider, mode, variants));
                rows.push(Row {
                    provider: pair.provider,
                    mode,
                    facade,
                    baseline,
                });
            }
        }
        (rows, diagnostics)
    });
    print_table(&rows, &diagnostics, rounds);
    let token_requests = server.hits("POST", "/users/getToken");
    println!("iamport token requests during the whole run: {token_requests} (the facade's client was warmed once)");
    c.final_summary();
}
