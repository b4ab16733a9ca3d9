//! iamport's access token: single flight on a cold client, and what the first call pays for the token.
//!
//! 1. **Single flight.** 1,000 concurrent `get_payment` calls on a freshly built client, against a loopback server
//!    whose token endpoint takes 20 ms to answer (so every call arrives while the first fetch is in flight). The
//!    server counts `POST /users/getToken`: it must be exactly 1 per cold client. Repeated on several cold clients;
//!    the binary exits with an error if any count differs.
//! 2. **Added latency of the first call.** A new client's first call (token fetch + call) against a warm call on
//!    the same client, with a token endpoint that answers at once. Measured twice: on a connection pool that is
//!    already warm (the token's own cost: one more round trip and its bookkeeping), and on a fresh pool (what the
//!    first call after a process start sees, TCP connect included).

mod support;

use criterion::BatchSize;
use kr_payments::iamport::{Client, ImpUid};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Server;

const IAMPORT_PAYMENT: &[u8] = include_bytes!("fixtures/iamport_payment.json");
const TOKEN_DELAY: Duration = Duration::from_millis(20);
const CONCURRENT_CALLS: usize = 1_000;

fn token_answer() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "code": 0,
        "message": null,
        "response": {
            "access_token": "9f2c1e7ab04d4e53b8c6a1d2e3f40516a7b8c9d0",
            "now": 1_726_367_400,
            "expired_at": 1_726_369_200,
        },
    }))
    .expect("serializes")
}

fn payment_answer() -> Vec<u8> {
    let payment: serde_json::Value = serde_json::from_slice(IAMPORT_PAYMENT).expect("JSON");
    serde_json::to_vec(&serde_json::json!({ "code": 0, "message": null, "response": payment })).expect("serializes")
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(kr_payments::transport::DEFAULT_CONNECT_TIMEOUT)
        .build()
        .expect("reqwest client")
}

fn client(server: &Server, http: Option<reqwest::Client>) -> Client {
    let mut b = Client::builder()
        .imp_key("imp_apikey_bench")
        .imp_secret("imp_secret_bench_0000000000000000000000")
        .base_url(server.url());
    if let Some(http) = http {
        b = b.http_client(http);
    }
    b.build().expect("iamport client")
}

async fn call(client: &Client) {
    let payment = client
        .get_payment(&ImpUid::new("imp_448280090638"))
        .await
        .expect("get_payment");
    black_box(payment);
}

/// One cold client, `CONCURRENT_CALLS` calls at once: returns the token requests the server saw and the wall time.
async fn stampede(server: &Server) -> (usize, Duration) {
    server.reset_hits();
    let client = client(server, None);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT_CALLS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { call(&client).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("call task");
    }
    let wall = started.elapsed();
    (server.hits("POST", "/users/getToken"), wall)
}

/// Median of a sample of durations.
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// First call of a new client and a warm call on the same client, `n` times; with a shared warm pool or a new one.
async fn first_vs_warm(server: &Server, n: usize, shared_pool: Option<&reqwest::Client>) -> (Duration, Duration) {
    let (mut first, mut warm) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let client = client(server, Some(shared_pool.cloned().unwrap_or_else(http_client)));
        let t = Instant::now();
        call(&client).await;
        first.push(t.elapsed());
        let t = Instant::now();
        call(&client).await;
        warm.push(t.elapsed());
    }
    (median(first), median(warm))
}

fn main() -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let full = support::full_run();
    let (slow, fast) = rt.block_on(async {
        let payment = payment_answer();
        let slow = Server::builder()
            .slow_route("POST", "/users/getToken", &token_answer(), TOKEN_DELAY)
            .route("GET", "/payments/imp_", 200, &payment)
            .start()
            .await;
        let fast = Server::builder()
            .route("POST", "/users/getToken", 200, &token_answer())
            .route("GET", "/payments/imp_", 200, &payment)
            .start()
            .await;
        (Arc::new(slow), Arc::new(fast))
    });

    let mut c = support::criterion();
    {
        let mut g = c.benchmark_group("token");
        let pool = http_client();
        rt.block_on(call(&client(&fast, Some(pool.clone()))));
        g.bench_function("first_call_new_client_warm_pool", |b| {
            b.to_async(&rt).iter_batched(
                || client(&fast, Some(pool.clone())),
                |client| async move { call(&client).await },
                BatchSize::SmallInput,
            )
        });
        let warm = client(&fast, Some(pool.clone()));
        rt.block_on(call(&warm));
        g.bench_function("warm_call", |b| b.to_async(&rt).iter(|| call(&warm)));
        g.finish();
    }
    if support::profiling() {
        c.final_summary();
        return ExitCode::SUCCESS;
    }

    let (clients, n) = if full { (5, 300) } else { (1, 5) };
    let (counts, walls, pooled, fresh) = rt.block_on(async {
        let mut counts = Vec::new();
        let mut walls = Vec::new();
        for _ in 0..clients {
            let (count, wall) = stampede(&slow).await;
            counts.push(count);
            walls.push(wall);
        }
        let pool = http_client();
        call(&client(&fast, Some(pool.clone()))).await;
        let pooled = first_vs_warm(&fast, n, Some(&pool)).await;
        let fresh = first_vs_warm(&fast, n / 3 + 1, None).await;
        (counts, walls, pooled, fresh)
    });

    println!("\n## token: single flight and the first call's added latency");
    println!("load average: {}\n", support::load_average());
    println!(
        "| cold clients | concurrent calls each | token endpoint delay | token requests per client | wall per 1,000 calls (median) |"
    );
    println!("|---:|---:|---:|---|---:|");
    let ok = counts.iter().all(|&n| n == 1);
    println!(
        "| {clients} | {CONCURRENT_CALLS} | {} ms | {:?}{} | {:.1} ms |",
        TOKEN_DELAY.as_millis(),
        counts,
        if ok { "" } else { " (must all be 1)" },
        median(walls).as_secs_f64() * 1e3
    );
    println!(
        "\n| connection pool | first call of a new client (median) | warm call (median) | added by the first call |"
    );
    println!("|---|---:|---:|---:|");
    for (label, (first, warm)) in [("already warm", pooled), ("new (TCP connect included)", fresh)] {
        println!(
            "| {label} | {} | {} | {} ({:.2}×) |",
            support::us(first),
            support::us(warm),
            support::us(first.saturating_sub(warm)),
            first.as_secs_f64() / warm.as_secs_f64()
        );
    }
    c.final_summary();
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("token single flight broken: token requests per cold client {counts:?}, expected 1 each");
        ExitCode::FAILURE
    }
}
