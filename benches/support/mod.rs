//! What the benches share: a fixed-response HTTP/1.1 server on 127.0.0.1, interleaved A/B timing, and the
//! summary tables.
//!
//! The server is deliberately dumb. It parses just enough HTTP/1.1 (request line, headers, `Content-Length`
//! body, keep-alive) to answer each route with bytes prepared up front, so the server's own work is tiny and
//! identical for the facade and for the hand-written baseline. The embedded sandbox would add its ledger logic
//! to every call, and wiremock its matching machinery; both would blur a ratio that is about the client side.
#![allow(dead_code)] // Each bench binary uses a different part of this module.

use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it, for checking that the facade and the baseline send the same thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, values as sent. Sorted, so two recordings compare field by field.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// A route: requests whose method matches and whose path starts with `path_prefix` get `response`.
pub struct Route {
    method: &'static str,
    path_prefix: String,
    response: Vec<u8>,
    delay: Option<Duration>,
    hits: AtomicUsize,
    last: Mutex<Option<Recorded>>,
}

/// The routes and counters of a running server.
pub struct Server {
    pub addr: SocketAddr,
    routes: Vec<Arc<Route>>,
    record: Arc<std::sync::atomic::AtomicBool>,
}

/// Builds a server's routing table.
#[derive(Default)]
pub struct ServerBuilder {
    routes: Vec<Arc<Route>>,
}

impl ServerBuilder {
    /// Answers `method path_prefix*` with `status` and `body` as `application/json`.
    pub fn route(mut self, method: &'static str, path_prefix: &str, status: u16, body: &[u8]) -> Self {
        self.routes.push(Arc::new(Route {
            method,
            path_prefix: path_prefix.to_string(),
            response: http_response(status, body),
            delay: None,
            hits: AtomicUsize::new(0),
            last: Mutex::new(None),
        }));
        self
    }

    /// Like [`Self::route`], but waits `delay` before answering (a slow token endpoint).
    pub fn slow_route(mut self, method: &'static str, path_prefix: &str, body: &[u8], delay: Duration) -> Self {
        self.routes.push(Arc::new(Route {
            method,
            path_prefix: path_prefix.to_string(),
            response: http_response(200, body),
            delay: Some(delay),
            hits: AtomicUsize::new(0),
            last: Mutex::new(None),
        }));
        self
    }

    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start(self) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let routes = self.routes;
        let record = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (r, rec) = (routes.clone(), record.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, r.clone(), rec.clone()));
            }
        });
        Server { addr, routes, record }
    }
}

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn find(&self, method: &str, path_prefix: &str) -> &Arc<Route> {
        self.routes
            .iter()
            .find(|r| r.method == method && r.path_prefix == path_prefix)
            .expect("no such route")
    }

    /// How many requests the route has answered.
    pub fn hits(&self, method: &str, path_prefix: &str) -> usize {
        self.find(method, path_prefix).hits.load(Ordering::SeqCst)
    }

    pub fn reset_hits(&self) {
        for r in &self.routes {
            r.hits.store(0, Ordering::SeqCst);
        }
    }

    /// Starts or stops keeping the last request of every route (off while timing: it takes a lock).
    pub fn set_recording(&self, on: bool) {
        self.record.store(on, Ordering::SeqCst);
    }

    /// The last request the route answered while recording was on.
    pub fn take_last(&self, method: &str, path_prefix: &str) -> Option<Recorded> {
        self.find(method, path_prefix).last.lock().expect("lock").take()
    }
}

fn http_response(status: u16, body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Status",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

async fn serve_connection(mut stream: TcpStream, routes: Vec<Arc<Route>>, record: Arc<std::sync::atomic::AtomicBool>) {
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    loop {
        // Read until the end of the headers (keeping any pipelined bytes that follow).
        let header_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or("").split(' ');
        let method = request_line.next().unwrap_or("").to_string();
        let path = request_line.next().unwrap_or("").to_string();
        let mut headers = BTreeMap::new();
        let mut content_length = 0usize;
        for line in lines.filter(|l| !l.is_empty()) {
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    content_length = v.parse().unwrap_or(0);
                }
                assert!(
                    k != "transfer-encoding",
                    "the bench server only reads Content-Length bodies"
                );
                headers.insert(k, v);
            }
        }
        while buf.len() < header_end + content_length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf[header_end..header_end + content_length].to_vec();
        buf.drain(..header_end + content_length);

        let route = routes
            .iter()
            .find(|r| r.method == method && path.starts_with(&r.path_prefix));
        let Some(route) = route else {
            let _ = stream
                .write_all(&http_response(404, b"{\"message\":\"no route\"}"))
                .await;
            continue;
        };
        route.hits.fetch_add(1, Ordering::SeqCst);
        if record.load(Ordering::Relaxed) {
            *route.last.lock().expect("lock") = Some(Recorded {
                method,
                path,
                headers,
                body,
            });
        }
        if let Some(d) = route.delay {
            tokio::time::sleep(d).await;
        }
        if stream.write_all(&route.response).await.is_err() {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether the binary runs as a benchmark (`cargo bench`) rather than as a smoke test (`cargo test --benches`,
/// where cargo does not pass `--bench`). The summary tables use it to pick full or token measurement lengths.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Whether criterion runs in `--profile-time` mode (under a profiler): the summary tables are then skipped, so a
/// profile shows only the benchmark that was asked for.
pub fn profiling() -> bool {
    std::env::args().any(|a| a == "--profile-time")
}

/// The criterion settings every bench here uses: short, so `cargo bench` stays within a few minutes on 2 cores.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

/// A call to time, boxed so the facade and the baseline are driven by the same code.
pub type Op = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// Latencies of individual calls and the wall time of the batches they ran in.
#[derive(Default, Clone)]
pub struct Samples {
    pub latencies: Vec<Duration>,
    pub calls: usize,
    pub wall: Duration,
    /// Calls per second of each round, so a ratio can be taken round against neighbouring round.
    pub rounds: Vec<f64>,
}

impl Samples {
    pub fn median(&self) -> Duration {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or_default()
    }
    pub fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v.get(i).copied().unwrap_or_default()
    }
    /// Calls per second over the batches' wall time.
    pub fn throughput(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64()
    }
    /// The median of the rounds' calls per second: one slow round (a neighbour's compile) does not move it.
    pub fn round_throughput_median(&self) -> f64 {
        let mut v = self.rounds.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
}

/// The first quartile, median and third quartile over rounds of `a`'s throughput ÷ `b`'s in the same round. A ratio
/// taken within one round sees one state of the machine: a slow stretch that spans a round weighs on both sides of
/// it instead of on whichever side's median it lands in. The quartiles show how far it moves from round to round.
pub fn paired_throughput_quartiles(a: &Samples, b: &Samples) -> [f64; 3] {
    let mut ratios: Vec<f64> = a.rounds.iter().zip(&b.rounds).map(|(x, y)| x / y).collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((ratios.len().saturating_sub(1)) as f64 * q).round() as usize;
        ratios.get(i).copied().unwrap_or(0.0)
    };
    [at(0.25), at(0.5), at(0.75)]
}

/// Runs `calls` calls of `op` one after the other, timing each.
pub async fn run_sequential(op: &Op, calls: usize, into: &mut Samples) {
    let started = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        op().await;
        into.latencies.push(t.elapsed());
    }
    let wall = started.elapsed();
    into.wall += wall;
    into.calls += calls;
    into.rounds.push(calls as f64 / wall.as_secs_f64());
}

/// Runs `concurrency` tasks each making `calls_per_task` calls of `op` back to back; times each call and the
/// whole batch.
pub async fn run_concurrent(op: &Op, concurrency: usize, calls_per_task: usize, into: &mut Samples) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(calls_per_task);
                for _ in 0..calls_per_task {
                    let t = Instant::now();
                    op().await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    for t in tasks {
        into.latencies.extend(t.await.expect("bench task panicked"));
    }
    let wall = started.elapsed();
    into.wall += wall;
    into.calls += concurrency * calls_per_task;
    into.rounds
        .push((concurrency * calls_per_task) as f64 / wall.as_secs_f64());
}

/// Timing that alternates the variants round by round (rotating which goes first), so a compile or a noisy
/// neighbour starting halfway through hurts every variant alike instead of whichever criterion happened to run
/// last.
pub async fn interleave(ops: &[&Op], rounds: usize, mut run: impl AsyncRunner) -> Vec<Samples> {
    let mut samples = vec![Samples::default(); ops.len()];
    for round in 0..rounds {
        for k in 0..ops.len() {
            let i = (k + round) % ops.len();
            run.run(ops[i], &mut samples[i]).await;
        }
    }
    samples
}

/// How one round of [`interleave`] drives an [`Op`].
pub trait AsyncRunner {
    fn run<'a>(&'a mut self, op: &'a Op, into: &'a mut Samples) -> BoxFuture<'a, ()>;
}

impl AsyncRunner for Box<dyn AsyncRunner> {
    fn run<'a>(&'a mut self, op: &'a Op, into: &'a mut Samples) -> BoxFuture<'a, ()> {
        (**self).run(op, into)
    }
}

/// One round = `calls` sequential calls.
pub struct Sequential(pub usize);
impl AsyncRunner for Sequential {
    fn run<'a>(&'a mut self, op: &'a Op, into: &'a mut Samples) -> BoxFuture<'a, ()> {
        Box::pin(run_sequential(op, self.0, into))
    }
}

/// One round = `concurrency` tasks × `calls_per_task` calls.
pub struct Concurrent {
    pub concurrency: usize,
    pub calls_per_task: usize,
}
impl AsyncRunner for Concurrent {
    fn run<'a>(&'a mut self, op: &'a Op, into: &'a mut Samples) -> BoxFuture<'a, ()> {
        Box::pin(run_concurrent(op, self.concurrency, self.calls_per_task, into))
    }
}

/// Formats a duration in microseconds with one decimal.
pub fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// The machine's load, for the tables: a ratio measured on a busy machine reads differently.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}
