//! Fault injection, the request log, and the socket layer that makes a dropped connection real.
//!
//! Every request passes through [`gate`], which logs it and asks [`Faults`] whether to misbehave.
//! A dropped connection has to fail at the TCP level, which axum cannot do from a handler, so the
//! listener hands each connection a shared abort flag that the gate can raise: the next write on
//! that socket fails, the socket is closed with `SO_LINGER` 0 (a reset), and the client never sees
//! a response.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use futures::StreamExt as _;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::{Provider, RecordedRequest, Shared, lock};

/// A way for the sandbox to misbehave on one request.
///
/// Faults named `...AfterApply`, and [`Fault::Delay`], [`Fault::DropConnection`],
/// [`Fault::TruncatedBody`] and [`Fault::Processing`], let the request change the ledger first and
/// then spoil only the answer: the client cannot tell from what it received whether its refund
/// happened. [`Fault::Status`] and [`Fault::DropBeforeApply`] change nothing. Once a request reached
/// the sandbox's handlers, a client that disconnects never stops it from being applied: the work
/// runs in its own task, as it would on a real server.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Applies the request, then waits this long before answering. A client that times out first
    /// faces the "did my refund happen?" case: the sandbox did apply it.
    Delay(Duration),
    /// Answers with this HTTP status and a small error body in the provider's shape, without
    /// applying the request. A number that is not an HTTP status becomes 503.
    Status(u16),
    /// Applies the request, then resets the TCP connection without sending any response.
    DropConnection,
    /// Applies the request, then sends the headers with the full `Content-Length` but only half of
    /// the body before closing the connection.
    TruncatedBody,
    /// Applies the request, then answers this status with the provider's own error body, as a
    /// gateway or an auth layer in front of the provider would after the work was done. The body
    /// uses the code the provider documents for that status where it has one (PortOne V2 401
    /// `UNAUTHORIZED`, 403 `FORBIDDEN`, 502 `PG_PROVIDER`; Toss 401 `UNAUTHORIZED_KEY`, 403
    /// `FORBIDDEN_REQUEST`, 500 `FAILED_INTERNAL_SYSTEM_PROCESSING`; iamport `code` -1 for every
    /// status) and `SANDBOX_INJECTED_FAULT` otherwise. A number that is not an HTTP status becomes 503.
    StatusAfterApply(u16),
    /// Applies the request, then answers a redirect with this status and `Location` (an absolute
    /// URL, which may name another origin) and an empty body. The sandbox never follows it itself:
    /// the client sees the 3xx. A status outside 300–399 becomes 307.
    RedirectAfterApply {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// Sent as the `Location` header, unchanged.
        location: String,
    },
    /// Applies the request, then answers a load balancer's HTML error page (`text/html`) with this
    /// status. A number that is not an HTTP status becomes 502.
    HtmlAfterApply(u16),
    /// Resets the TCP connection without applying anything: the request never reaches a handler.
    DropBeforeApply,
    /// Holds the request "in flight" for this long, then applies it and answers normally. While it
    /// is held, a request with the same `Idempotency-Key` (PortOne V2, Toss) is told the first is
    /// still processing (PortOne V2 409 `IDEMPOTENCY_OUTSTANDING_REQUEST`, Toss 409
    /// `IDEMPOTENT_REQUEST_PROCESSING`). The apply happens even if the client disconnects meanwhile.
    Processing(Duration),
}

/// A fault with the requests it applies to: how many, and optionally which provider, method and
/// path.
#[derive(Debug, Clone)]
pub struct FaultRule {
    fault: Fault,
    remaining: usize,
    provider: Option<Provider>,
    method: Option<Method>,
    path_contains: Option<String>,
}

impl FaultRule {
    /// Applies `fault` to the next matching request.
    pub fn new(fault: Fault) -> Self {
        FaultRule {
            fault,
            remaining: 1,
            provider: None,
            method: None,
            path_contains: None,
        }
    }

    /// Applies to the next `n` matching requests instead of one.
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = n;
        self
    }

    /// Only requests to this provider's API.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Only requests with this HTTP method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Only requests whose path below the provider prefix contains `fragment` (e.g. `/cancel`).
    pub fn path_contains(mut self, fragment: impl Into<String>) -> Self {
        self.path_contains = Some(fragment.into());
        self
    }

    fn matches(&self, provider: Option<Provider>, method: &Method, path: &str) -> bool {
        self.remaining > 0
            && self.provider.is_none_or(|p| Some(p) == provider)
            && self.method.as_ref().is_none_or(|m| m == method)
            && self.path_contains.as_deref().is_none_or(|f| path.contains(f))
    }
}

/// Handle to the sandbox's fault queue, from [`Sandbox::faults`](super::Sandbox::faults). Rules
/// are consulted in the order added; each matching request uses up one application of the first
/// rule that matches.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<FaultRule>>>,
}

impl Faults {
    /// Applies `fault` to the very next request, whatever it is.
    pub fn next(&self, fault: Fault) -> &Self {
        self.add(FaultRule::new(fault))
    }

    /// Applies `fault` to each of the next `n` requests.
    pub fn next_n(&self, n: usize, fault: Fault) -> &Self {
        self.add(FaultRule::new(fault).times(n))
    }

    /// Queues a rule.
    pub fn add(&self, rule: FaultRule) -> &Self {
        lock(&self.rules).push(rule);
        self
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// How many fault applications are still queued.
    pub fn pending(&self) -> usize {
        lock(&self.rules).iter().map(|r| r.remaining).sum()
    }

    fn take(&self, provider: Option<Provider>, method: &Method, path: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let idx = rules.iter().position(|r| r.matches(provider, method, path))?;
        let rule = &mut rules[idx];
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        if rule.remaining == 0 {
            rules.remove(idx);
        }
        Some(fault)
    }
}

/// Per-connection switch the gate uses to kill the socket under a request.
#[derive(Debug, Clone)]
pub(crate) struct ConnControl(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, SandboxListener>> for ConnControl {
    fn connect_info(stream: IncomingStream<'_, SandboxListener>) -> Self {
        ConnControl(stream.io().abort.clone())
    }
}

/// TCP listener whose connections can be aborted from a handler. `provider` is set for a listener
/// that serves one provider at the root of its own origin.
pub(crate) struct SandboxListener {
    inner: TcpListener,
    provider: Option<Provider>,
}

impl SandboxListener {
    pub fn new(inner: TcpListener, provider: Option<Provider>) -> Self {
        SandboxListener { inner, provider }
    }
}

impl axum::serve::Listener for SandboxListener {
    type Io = AbortableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        AbortableStream {
                            inner: stream,
                            abort: Arc::new(AtomicBool::new(false)),
                            fixed_provider: self.provider,
                            seen_provider: None,
                            replacement: None,
                        },
                        addr,
                    );
                }
                // Accept errors (e.g. too many open files) are transient; back off like axum does.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that fails every write once its abort flag is raised, and that replaces hyper's
/// own bodiless error answers (400, 414, 431, written before any handler runs) with the provider's
/// error body.
pub(crate) struct AbortableStream {
    inner: TcpStream,
    abort: Arc<AtomicBool>,
    fixed_provider: Option<Provider>,
    /// On the prefixed listener: the provider the latest request on this connection went to.
    seen_provider: Option<Provider>,
    /// A replacement being written: its bytes, how many went out, and the length hyper asked for.
    replacement: Option<(Vec<u8>, usize, usize)>,
}

impl AbortableStream {
    fn aborted(&self) -> Option<io::Error> {
        if self.abort.load(Ordering::SeqCst) {
            // Linger 0 makes the close that follows a reset, so the client sees the drop at once.
            let _ = self.inner.set_zero_linger();
            Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by sandbox fault",
            ))
        } else {
            None
        }
    }
}

impl AsyncRead for AbortableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.aborted() {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.fixed_provider.is_none()
            && let Some(p) = super::surface::sniff_provider(&buf.filled()[before..])
        {
            self.seen_provider = Some(p);
        }
        polled
    }
}

impl AsyncWrite for AbortableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.aborted() {
            return Poll::Ready(Err(e));
        }
        if self.replacement.is_none() {
            let provider = self.fixed_provider.or(self.seen_provider);
            match super::surface::rewrite_hyper_error(buf, provider) {
                Some(bytes) => self.replacement = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        // Write the whole replacement, then tell hyper its own answer went out.
        loop {
            let Some((bytes, written, asked)) = self.replacement.take() else {
                return Poll::Ready(Ok(0));
            };
            if written >= bytes.len() {
                return Poll::Ready(Ok(asked));
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.replacement = Some((bytes, written + n, asked)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.replacement = Some((bytes, written, asked));
                    return Poll::Pending;
                }
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.aborted() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Splits `/toss/v1/payments/x` into the provider and `/v1/payments/x`.
pub(crate) fn split_provider(path: &str) -> (Option<Provider>, String) {
    for p in [Provider::PortOneV2, Provider::Iamport, Provider::Toss] {
        let prefix = p.prefix();
        if let Some(rest) = path.strip_prefix(&prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return (Some(p), rest.to_owned());
        }
    }
    (None, path.to_owned())
}

/// Which provider a request is for and its path below that provider's base URL. The gate puts it in
/// the request's extensions so the layers and handlers behind it need not parse the URL again.
#[derive(Debug, Clone)]
pub(crate) struct RouteInfo {
    pub provider: Option<Provider>,
    pub path: String,
}

/// Set by the gate for [`Fault::Processing`]: how long the request is held before it is applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hold(pub Duration);

/// Middleware in front of every route: logs, then applies a queued fault if one matches.
///
/// Everything behind the gate (idempotency, handlers, the ledger) runs in a spawned task that the
/// gate awaits: hyper drops a connection's future when the client goes away, and a refund that
/// reached the sandbox must be applied (or not) the same way whether or not anyone is listening.
pub(crate) async fn gate(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnControl>,
    mut req: Request,
    next: Next,
) -> Response {
    let info = match req.extensions().get::<RouteInfo>() {
        Some(info) => info.clone(),
        None => {
            let (provider, path) = split_provider(req.uri().path());
            RouteInfo { provider, path }
        }
    };
    let provider = info.provider;
    shared.record(RecordedRequest {
        method: req.method().to_string(),
        path: info.path.clone(),
        provider,
        query: req.uri().query().map(str::to_owned),
    });
    let fault = shared.faults.take(provider, req.method(), &info.path);
    if let Some(Fault::Processing(d)) = &fault {
        req.extensions_mut().insert(Hold(*d));
    }
    req.extensions_mut().insert(info);
    let apply = |req: Request| async move {
        match tokio::spawn(next.run(req)).await {
            Ok(resp) => resp,
            // A handler that panicked still owes the client an answer in the provider's format.
            Err(_) => super::surface::error_body(
                provider,
                StatusCode::INTERNAL_SERVER_ERROR,
                "SANDBOX_INTERNAL_ERROR",
                "the sandbox failed internally while handling this request",
            ),
        }
    };
    let Some(fault) = fault else {
        return apply(req).await;
    };
    match fault {
        Fault::Status(code) => status_fault(provider, code),
        Fault::Delay(d) => {
            let resp = apply(req).await;
            tokio::time::sleep(d).await;
            resp
        }
        Fault::DropConnection => {
            let _applied = apply(req).await;
            conn.0.store(true, Ordering::SeqCst);
            // Never written: the raised flag fails the first write of this response.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Fault::TruncatedBody => truncate(apply(req).await).await,
        Fault::StatusAfterApply(code) => {
            let _applied = apply(req).await;
            after_apply_status(provider, code)
        }
        Fault::RedirectAfterApply { status, location } => {
            let _applied = apply(req).await;
            redirect(status, &location)
        }
        Fault::HtmlAfterApply(code) => {
            let _applied = apply(req).await;
            html_page(code)
        }
        Fault::DropBeforeApply => {
            drop(req);
            conn.0.store(true, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        // The hold itself happens behind the idempotency layer (see `Hold`), so the key is claimed first.
        Fault::Processing(_) => apply(req).await,
    }
}

/// A small error body in the provider's own shape, with the sandbox's fault code.
fn provider_error(provider: Option<Provider>, status: StatusCode, message: &str) -> Response {
    super::surface::error_body(provider, status, "SANDBOX_INJECTED_FAULT", message)
}

fn status_fault(provider: Option<Provider>, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let message = format!("fault injected by the sandbox: HTTP {}", status.as_u16());
    // The code names make clear that no real API produced this answer.
    provider_error(provider, status, &message)
}

/// The code a provider documents for an error status, where it documents one.
fn documented_code(provider: Option<Provider>, status: StatusCode) -> Option<&'static str> {
    match (provider, status.as_u16()) {
        (Some(Provider::PortOneV2), 401) => Some("UNAUTHORIZED"),
        (Some(Provider::PortOneV2), 403) => Some("FORBIDDEN"),
        (Some(Provider::PortOneV2), 502) => Some("PG_PROVIDER"),
        (Some(Provider::Toss), 401) => Some("UNAUTHORIZED_KEY"),
        (Some(Provider::Toss), 403) => Some("FORBIDDEN_REQUEST"),
        (Some(Provider::Toss), 500) => Some("FAILED_INTERNAL_SYSTEM_PROCESSING"),
        _ => None,
    }
}

fn after_apply_status(provider: Option<Provider>, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let message = format!(
        "HTTP {} from the sandbox after the request was applied",
        status.as_u16()
    );
    match documented_code(provider, status) {
        // PG_PROVIDER carries the PG's own code and message as required fields.
        Some("PG_PROVIDER") => (
            status,
            axum::Json(json!({
                "type": "PG_PROVIDER",
                "message": message,
                "pgCode": "SANDBOX_INJECTED_FAULT",
                "pgMessage": "fault injected by the sandbox",
            })),
        )
            .into_response(),
        Some(code) => super::surface::error_body(provider, status, code, &message),
        None => provider_error(provider, status, &message),
    }
}

fn redirect(status: u16, location: &str) -> Response {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(StatusCode::is_redirection)
        .unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    let mut resp = status.into_response();
    // A Location that is not a valid header value cannot be sent; the 3xx goes out without it.
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn html_page(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<html><head><title>{0} {1}</title></head><body><center><h1>{0} {1}</h1></center><hr><center>sandbox</center></body></html>",
        status.as_u16(),
        reason
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn truncate(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => bytes::Bytes::new(),
    };
    let full_len = bytes.len().max(2);
    let head = bytes.slice(..bytes.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    let chunks = futures::stream::iter([Ok::<_, io::Error>(head)]).chain(futures::stream::once(async {
        // Give hyper time to flush the first half before the error tears the connection down.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(io::Error::other("body truncated by sandbox fault"))
    }));
    Response::from_parts(parts, Body::from_stream(chunks))
}
