//! Shared pieces of the fault suites (`tests/fault_*.rs`): a fault-injecting HTTP proxy in front of the sandbox,
//! retry policies that record what they chose, and a way to make a port refuse connections first and accept later.
//!
//! The sandbox injects the faults that happen after a request was applied (a delay past the timeout, a dropped
//! connection, a truncated body) and plain error statuses. The proxy adds what the sandbox cannot: `Retry-After`
//! headers, an HTML error page, an empty body, a connection reset before anything is forwarded, unknown fields and
//! enum values in a real answer, and a request whose `Idempotency-Key` is lost on the way. Either way the sandbox's
//! ledger stays the judge of how many refunds were applied.

#![allow(dead_code)]

use kr_payments::transport::{RetryContext, RetryPolicy};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The per-call timeout of the stall tests, and how long the sandbox stalls: far apart, so the sandbox has applied
/// the request well before the client gives up, even on a loaded machine.
pub const TIMEOUT: Duration = Duration::from_secs(1);
pub const STALL: Duration = Duration::from_secs(4);
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Clone)]
pub enum Action {
    /// Forwards it and returns the answer unchanged.
    Forward,
    /// Answers without forwarding: nothing reaches the provider.
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Resets the connection without forwarding: the client cannot tell whether anything arrived.
    ResetBeforeForward,
    /// Forwards it (so it is applied), then resets the connection instead of answering.
    ForwardThenReset,
    /// Forwards it (so it is applied), then answers with this instead of the real answer.
    ForwardThenRespond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Forwards it and passes the JSON answer through `map` (unknown fields, unknown enum values).
    ForwardMapJson(fn(Value) -> Value),
    /// Forwards it without this header (an `Idempotency-Key` the provider no longer knows).
    ForwardWithoutHeader(&'static str),
}

impl Action {
    /// An answer with a status and a JSON body.
    pub fn json(status: u16, body: Value) -> Action {
        Action::Respond {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// An answer with a status and a `Retry-After` header.
    pub fn retry_after(status: u16, after: &str, body: Value) -> Action {
        Action::Respond {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("retry-after", after.to_string()),
            ],
            body: body.to_string().into_bytes(),
        }
    }

    /// A load balancer's HTML error page.
    pub fn html(status: u16) -> Action {
        Action::Respond {
            status,
            headers: vec![("content-type", "text/html".into())],
            body: format!("<html><body><h1>{status} Bad Gateway</h1><p>upstream unavailable</p></body></html>")
                .into_bytes(),
        }
    }
}

struct Rule {
    method: &'static str,
    path_contains: &'static str,
    action: Action,
    remaining: usize,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

/// A loopback HTTP/1.1 proxy that forwards to `upstream` unless a rule says otherwise. One request per connection.
#[derive(Clone)]
pub struct FaultProxy {
    base: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn start(upstream: String) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, upstream)
    }

    /// Serves on a listener bound elsewhere (e.g. by [`RefuseFirst`]).
    pub fn serve(listener: TcpListener, upstream: String) -> FaultProxy {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let proxy = FaultProxy { base, state };
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let task_state = proxy.state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let state = task_state.clone();
                let http = http.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = handle(socket, state, http, upstream).await;
                });
            }
        });
        proxy
    }

    /// `http://127.0.0.1:{port}`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Applies `action` to the next `times` requests with this method whose path contains `path_contains`.
    pub fn on(&self, method: &'static str, path_contains: &'static str, times: usize, action: Action) -> &Self {
        self.state.lock().unwrap().rules.push(Rule {
            method,
            path_contains,
            action,
            remaining: times,
        });
        self
    }

    /// Every request seen so far with this method and a path containing `fragment`.
    pub fn seen(&self, method: &str, fragment: &str) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.method == method && s.target.contains(fragment))
            .cloned()
            .collect()
    }

    /// How many requests with this method and a path containing `fragment` arrived.
    pub fn hits(&self, method: &str, fragment: &str) -> usize {
        self.seen(method, fragment).len()
    }
}

async fn handle(
    mut socket: TcpStream,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
    upstream: String,
) -> std::io::Result<()> {
    let Some((method, target, headers, body)) = read_request(&mut socket).await? else {
        return Ok(());
    };
    let action = {
        let mut st = state.lock().unwrap();
        st.seen.push(Seen {
            method: method.clone(),
            target: target.clone(),
            headers: headers.clone(),
        });
        let path = target.split('?').next().unwrap_or("").to_string();
        match st
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.method == method && path.contains(r.path_contains))
        {
            Some(rule) => {
                rule.remaining -= 1;
                rule.action.clone()
            }
            None => Action::Forward,
        }
    };
    let forward = |skip: Option<&'static str>| {
        let mut req = http.request(method.parse().unwrap(), format!("{upstream}{target}"));
        for (k, v) in &headers {
            let lower = k.to_ascii_lowercase();
            if ["host", "content-length", "connection"].contains(&lower.as_str())
                || skip.is_some_and(|s| s.eq_ignore_ascii_case(k))
            {
                continue;
            }
            req = req.header(k.as_str(), v.as_str());
        }
        let body = body.clone();
        async move {
            let resp = req.body(body).send().await.ok()?;
            let status = resp.status().as_u16();
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let body = resp.bytes().await.ok()?.to_vec();
            Some((status, headers, body))
        }
    };
    match action {
        Action::Forward => match forward(None).await {
            Some((status, headers, body)) => write_response(&mut socket, status, &headers, &body).await,
            None => reset(socket),
        },
        Action::ForwardWithoutHeader(name) => match forward(Some(name)).await {
            Some((status, headers, body)) => write_response(&mut socket, status, &headers, &body).await,
            None => reset(socket),
        },
        Action::Respond { status, headers, body } => {
            let headers: Vec<(String, String)> = headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            write_response(&mut socket, status, &headers, &body).await
        }
        Action::ResetBeforeForward => reset(socket),
        Action::ForwardThenReset => {
            let _ = forward(None).await;
            reset(socket)
        }
        Action::ForwardThenRespond { status, headers, body } => {
            let _ = forward(None).await;
            let headers: Vec<(String, String)> = headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            write_response(&mut socket, status, &headers, &body).await
        }
        Action::ForwardMapJson(map) => match forward(None).await {
            Some((status, headers, body)) => {
                let value: Value = serde_json::from_slice(&body).expect("the sandbox answers JSON");
                let body = map(value).to_string().into_bytes();
                write_response(&mut socket, status, &headers, &body).await
            }
            None => reset(socket),
        },
    }
}

type Request = (String, String, Vec<(String, String)>, Vec<u8>);

async fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let target = request_line.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((method, target, headers, body)))
}

async fn write_response(
    socket: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} Status\r\n");
    for (k, v) in headers {
        let lower = k.to_ascii_lowercase();
        if ["content-length", "transfer-encoding", "connection"].contains(&lower.as_str()) {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    socket.write_all(out.as_bytes()).await?;
    socket.write_all(body).await?;
    socket.flush().await?;
    socket.shutdown().await
}

/// Closes with `SO_LINGER` 0, so the peer sees a reset rather than an orderly close.
fn reset(socket: TcpStream) -> std::io::Result<()> {
    socket.set_zero_linger()?;
    drop(socket);
    Ok(())
}

/// Inserts `key: value` into every JSON object of `value`, recursively: fields no version of the crate knows.
pub fn with_unknown_fields(mut value: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for child in m.values_mut() {
                    walk(child);
                }
                m.insert(
                    "fieldFromTheFuture".into(),
                    serde_json::json!({"nested": [1, "two", null]}),
                );
                m.insert("another_new_field".into(), Value::Bool(true));
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// What a recording retry policy saw and chose, per failed attempt.
#[derive(Debug, Clone)]
pub struct Decision {
    pub attempt: u32,
    pub status: Option<u16>,
    pub failure: Option<kr_payments::error::TransportErrorKind>,
    pub retry_after: Option<Duration>,
    pub delay: Option<Duration>,
}

/// A [`RetryPolicy::Custom`] rule that asks `inner` and records each decision.
pub fn recording(inner: RetryPolicy) -> (RetryPolicy, Arc<Mutex<Vec<Decision>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let policy = RetryPolicy::Custom(Arc::new(move |ctx: &RetryContext| {
        let delay = inner.delay_for(ctx);
        sink.lock().unwrap().push(Decision {
            attempt: ctx.attempt,
            status: ctx.status,
            failure: ctx.failure,
            retry_after: ctx.retry_after,
            delay,
        });
        delay
    }));
    (policy, log)
}

/// Safe retries with short delays, so tests do not wait: 3 attempts, 5 ms doubling, capped at 2 s.
pub fn quick() -> RetryPolicy {
    RetryPolicy::Safe {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
    }
}

/// A port that refuses connections until the first failed attempt, then accepts them and proxies to the sandbox.
///
/// The retry rule it returns opens the port when it sees the first connection failure, so the retry that follows
/// finds a listener: a request that could not be sent the first time is sent on the second.
pub struct RefuseFirst {
    pub base_url: String,
    pub policy: RetryPolicy,
    pub decisions: Arc<Mutex<Vec<Decision>>>,
}

impl RefuseFirst {
    pub fn new(upstream: String) -> RefuseFirst {
        // Bind and drop to learn a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (inner, decisions) = recording(quick());
        let opened = Arc::new(Mutex::new(false));
        let runtime = tokio::runtime::Handle::current();
        let policy = RetryPolicy::Custom(Arc::new(move |ctx: &RetryContext| {
            let mut opened = opened.lock().unwrap();
            if !*opened {
                // Listening starts here, synchronously: the kernel queues the retry's connection until accept.
                let std_listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
                std_listener.set_nonblocking(true).unwrap();
                let upstream = upstream.clone();
                runtime.spawn(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    FaultProxy::serve(listener, upstream);
                });
                *opened = true;
            }
            match &inner {
                RetryPolicy::Custom(rule) => rule(ctx),
                _ => None,
            }
        }));
        RefuseFirst {
            base_url: format!("http://127.0.0.1:{port}"),
            policy,
            decisions,
        }
    }
}

/// Requests the sandbox itself logged with this method whose path contains `fragment`.
pub fn sandbox_hits(sandbox: &kr_payments::sandbox::Sandbox, method: &str, fragment: &str) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.contains(fragment))
        .count()
}
