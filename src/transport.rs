//! One HTTP policy for every provider: timeouts, retries that never double-refund, tracing, redaction.
//!
//! # Timeouts
//! Every client has a connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`], 10 s) and a total timeout per attempt
//! (default [`DEFAULT_TIMEOUT`], 60 s). The total is long on purpose: a cancel travels from the gateway to the PG
//! and on to the card issuer or bank, and PG cancels taking tens of seconds are normal. A short timeout does not
//! make a refund faster, it only turns a refund that happened into one whose outcome is unknown. Every facade
//! request builder can override it per call (`.timeout(..)`; lookups return a [`Lookup`] with the same setters).
//!
//! # Retries
//! A call is retried only when replaying it cannot apply it twice:
//! * a request that failed before anything was sent (connection refused) is always safe to send again;
//! * reads (GET) are safe;
//! * a cancel is safe only when a guard makes a replay harmless: PortOne V2 with `currentCancellableAmount`,
//!   iamport with `checksum`, Toss with its `Idempotency-Key` (the same key on every attempt). A guarded replay
//!   of a cancel that already went through is refused by the provider instead of refunding again.
//!
//! An unguarded cancel is never replayed after it may have been sent; the error then says why
//! ([`crate::error::TransportError::retry_refused`]). This holds for any answer that reached the provider,
//! 429 and 503 included: a proxy can answer 503 for a request the provider did receive.
//!
//! HTTP 429 and 503 honour `Retry-After`, in seconds or as an HTTP date. [`RetryPolicy::Safe`] waits exactly that
//! long when it is within `max_delay` and gives up otherwise (a server asking for a minute is not helped by a
//! retry after five seconds); a [`RetryPolicy::Custom`] rule sees it in [`RetryContext::retry_after`].
//!
//! # Reconciliation
//! An attempt whose outcome is unknown (it timed out, lost its connection after sending, or was answered 5xx)
//! may have refunded. When a guarded cancel is replayed after such an attempt and the provider then answers
//! "already cancelled" or "balance mismatch" (or the replays end in another failure: 429, 5xx, no answer), that
//! answer may be the first attempt's success seen from outside. The cancel builders then read the payment again and report what actually
//! happened: when the payment shows one cancel of the requested amount, made since the call started, with the
//! balance moved by exactly that amount, the call succeeds and is marked as reconciled
//! (`portone_v2::Cancellation::is_reconciled`, `iamport::Cancelled::reconciled`, `toss::Cancelled::reconciled`);
//! otherwise the original error is returned unchanged.
//!
//! # Tracing
//! Each attempt is a `tracing` span `kr_payments.request` with the provider, operation, method, path *template*
//! (never the filled path, which may hold ids), attempt, status and latency. No header value, token or secret is
//! ever recorded; bodies are logged only at TRACE level, with secrets, tokens, card and account numbers, names
//! and contact details redacted.

use crate::error::{TransportError, TransportErrorKind};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Default total timeout of one attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("kr-payments/", env!("CARGO_PKG_VERSION"));

/// When to try a call again.
#[derive(Clone)]
#[non_exhaustive]
pub enum RetryPolicy {
    /// One attempt, never more.
    Never,
    /// Retry calls that are safe to replay, with jittered exponential backoff.
    Safe {
        /// Attempts in total, including the first.
        max_attempts: u32,
        /// Delay before the first retry; doubles each time.
        base_delay: Duration,
        /// Upper bound of one delay (also of a `Retry-After` the crate will wait for).
        max_delay: Duration,
    },
    /// Your own rule: return the delay before the next attempt, or `None` to stop. It is only consulted for calls
    /// that are safe to replay; an unguarded cancel is never replayed, whatever it returns.
    Custom(RetryRule),
}

impl RetryPolicy {
    /// Three attempts in total, 250 ms then 500 ms (± jitter), delays capped at 5 s.
    pub fn safe() -> Self {
        RetryPolicy::Safe {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay this policy chooses after a failed attempt described by `ctx`, or `None` to stop.
    ///
    /// The crate asks this only for calls that are safe to replay. It is public so that a
    /// [`RetryPolicy::Custom`] rule can build on a built-in policy, e.g. to record or cap its choice:
    ///
    /// ```
    /// use kr_payments::transport::RetryPolicy;
    /// use std::sync::Arc;
    ///
    /// let safe = RetryPolicy::safe();
    /// let logged = RetryPolicy::Custom(Arc::new(move |ctx| {
    ///     let delay = safe.delay_for(ctx);
    ///     eprintln!("{} attempt {} failed; next in {delay:?}", ctx.operation, ctx.attempt);
    ///     delay
    /// }));
    /// # let _ = logged;
    /// ```
    pub fn delay_for(&self, ctx: &RetryContext) -> Option<Duration> {
        next_delay(self, ctx)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::safe()
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryPolicy::Never => f.write_str("Never"),
            RetryPolicy::Safe {
                max_attempts,
                base_delay,
                max_delay,
            } => f
                .debug_struct("Safe")
                .field("max_attempts", max_attempts)
                .field("base_delay", base_delay)
                .field("max_delay", max_delay)
                .finish(),
            RetryPolicy::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// A custom retry rule: the delay before the next attempt, or `None` to stop.
pub type RetryRule = Arc<dyn Fn(&RetryContext) -> Option<Duration> + Send + Sync>;

/// What a [`RetryPolicy::Custom`] rule sees.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryContext {
    /// The attempt that just failed (1 for the first).
    pub attempt: u32,
    /// The operation, e.g. `cancelPayment`.
    pub operation: &'static str,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The transport failure, when none did.
    pub failure: Option<TransportErrorKind>,
    /// The delay the server asked for in `Retry-After`, if any.
    pub retry_after: Option<Duration>,
}

/// Whether a call may be sent again after it may have reached the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// A replay cannot apply anything twice (a read, or a guarded cancel).
    Safe,
    /// A replay could apply the call twice; the reason is shown to the caller.
    Unsafe(&'static str),
}

/// One HTTP call, as the facades describe it.
pub(crate) struct Call {
    pub operation: &'static str,
    pub method: Method,
    pub path_template: &'static str,
    /// The path with parameters filled in and percent-encoded.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    pub headers: HeaderMap,
    pub timeout: Option<Duration>,
    pub retry: Option<RetryPolicy>,
    pub replay: Replay,
}

impl Call {
    pub fn new(operation: &'static str, method: Method, path_template: &'static str, path: String) -> Self {
        let replay = if method == Method::GET {
            Replay::Safe
        } else {
            Replay::Unsafe("the request is not idempotent")
        };
        Call {
            operation,
            method,
            path_template,
            path,
            query: Vec::new(),
            body: None,
            headers: HeaderMap::new(),
            timeout: None,
            retry: None,
            replay,
        }
    }

    /// Attaches a JSON body.
    pub fn json<T: serde::Serialize>(mut self, body: &T) -> Self {
        // Serializing our own request types cannot fail: they hold strings, integers, booleans and maps with
        // string keys only.
        self.body = Some(serde_json::to_vec(body).unwrap_or_default());
        self
    }
}

/// A complete HTTP response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// How many attempts the call took, this one included.
    #[allow(dead_code)]
    pub attempts: u32,
    /// Whether an earlier attempt of this call may have been applied without its outcome being known (it timed
    /// out, lost its connection after sending, or was answered 5xx). A guarded cancel answered "already
    /// cancelled" or "balance mismatch" after such an attempt is reconciled by reading the payment again.
    pub earlier_unknown: bool,
}

/// The per-call settings every facade request builder carries: a timeout and a retry policy replacing the
/// client's.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    pub timeout: Option<Duration>,
    pub retry: Option<RetryPolicy>,
}

// PortOne V2 puts its options straight into its request builders; only iamport and Toss lookups use these.
#[cfg_attr(not(any(feature = "iamport", feature = "toss")), allow(dead_code))]
impl CallOptions {
    /// The lookup with these options set, where they are.
    pub fn on<'a, T>(&self, mut lookup: Lookup<'a, T>) -> Lookup<'a, T> {
        if self.timeout.is_some() {
            lookup.options.timeout = self.timeout;
        }
        if self.retry.is_some() {
            lookup.options.retry = self.retry.clone();
        }
        lookup
    }

    pub fn apply(&self, call: &mut Call) {
        if self.timeout.is_some() {
            call.timeout = self.timeout;
        }
        if self.retry.is_some() {
            call.retry = self.retry.clone();
        }
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
type Start<'a, T> = Box<dyn FnOnce(CallOptions) -> BoxFuture<'a, T> + Send + 'a>;

/// A lookup that has not been sent yet. `.await` it directly, or set a per-call [`timeout`](Self::timeout) or
/// [`retry`](Self::retry) policy first:
///
/// ```no_run
/// # async fn demo(client: kr_payments::toss::Client) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// let payment = client.get_payment("tgen_20240101abcd").timeout(Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
///
/// Nothing is sent until it is awaited: it is a [`Future`] that starts on its first poll.
#[must_use = "nothing is read until it is awaited"]
pub struct Lookup<'a, T> {
    start: Option<Start<'a, T>>,
    options: CallOptions,
    running: Option<BoxFuture<'a, T>>,
}

impl<'a, T> Lookup<'a, T> {
    /// A lookup that runs `start` with the per-call options once awaited.
    #[cfg_attr(not(any(feature = "iamport", feature = "toss")), allow(dead_code))]
    pub(crate) fn new(start: impl FnOnce(CallOptions) -> BoxFuture<'a, T> + Send + 'a) -> Self {
        Lookup {
            start: Some(Box::new(start)),
            options: CallOptions::default(),
            running: None,
        }
    }

    /// Total timeout of one attempt of this call, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Retry policy of this call, instead of the client's (reads are always safe to retry).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// Sends the lookup; the same as awaiting it.
    pub async fn send(self) -> T {
        self.await
    }
}

impl<T> fmt::Debug for Lookup<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lookup")
            .field("timeout", &self.options.timeout)
            .field("retry", &self.options.retry)
            .field("started", &self.running.is_some())
            .finish()
    }
}

impl<T> std::future::Future for Lookup<'_, T> {
    type Output = T;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        // Every field is `Unpin` (boxes, options), so the lookup can be moved out of its pin.
        let this = self.get_mut();
        if this.running.is_none()
            && let Some(start) = this.start.take()
        {
            this.running = Some(start(this.options.clone()));
        }
        match this.running.as_mut() {
            Some(running) => running.as_mut().poll(cx),
            // Only reachable by polling again after `start` panicked; nothing sensible is left to do.
            None => std::task::Poll::Pending,
        }
    }
}

/// Timeouts and retries of one client: the part of each provider's builder that is the same for all.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub base_url: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    pub http: Option<reqwest::Client>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            http: None,
        }
    }
}

/// Why a client could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A required setting is missing (e.g. the secret).
    Missing(&'static str),
    /// A setting has an unusable value; says which and why (never the value itself, which may be a secret).
    Invalid {
        /// The setting.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be created.
    Http(reqwest::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Missing(s) => write!(f, "missing setting `{s}`"),
            BuildError::Invalid { setting, reason } => write!(f, "invalid setting `{setting}`: {reason}"),
            BuildError::Http(e) => write!(f, "cannot create the HTTP client: {e}"),
        }
    }
}
impl std::error::Error for BuildError {}

/// A header value that prints as `<redacted>` and is marked sensitive for HTTP/2 and reqwest's own `Debug`.
#[derive(Clone)]
pub(crate) struct Credential(HeaderValue);

impl Credential {
    pub fn new(value: &str, setting: &'static str) -> Result<Self, BuildError> {
        let mut v = HeaderValue::from_str(value).map_err(|_| BuildError::Invalid {
            setting,
            reason: "contains characters not allowed in an HTTP header".into(),
        })?;
        v.set_sensitive(true);
        Ok(Credential(v))
    }
    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The shared HTTP machinery of one client.
#[derive(Clone)]
pub(crate) struct Transport {
    pub provider: &'static str,
    pub base_url: String,
    pub http: reqwest::Client,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Transport {
    pub fn new(provider: &'static str, default_base_url: &str, options: Options) -> Result<Self, BuildError> {
        let base_url = options
            .base_url
            .unwrap_or_else(|| default_base_url.to_string())
            .trim_end_matches('/')
            .to_string();
        reqwest::Url::parse(&base_url).map_err(|e| BuildError::Invalid {
            setting: "base_url",
            reason: e.to_string(),
        })?;
        let http = match options.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .connect_timeout(options.connect_timeout)
                .build()
                .map_err(BuildError::Http)?,
        };
        Ok(Transport {
            provider,
            base_url,
            http,
            timeout: options.timeout,
            retry: options.retry,
        })
    }

    /// Sends a call, retrying as the policy and the call's replay safety allow.
    pub async fn execute(&self, call: &Call) -> Result<Response, TransportError> {
        let policy = call.retry.as_ref().unwrap_or(&self.retry);
        let started = Instant::now();
        let mut attempt = 0u32;
        // Whether an attempt before the current one may have been applied without a definitive answer.
        let mut earlier_unknown = false;
        loop {
            attempt += 1;
            let outcome = self.attempt(call, attempt).await;
            let (ctx, reached, unknown) = match &outcome {
                Ok(resp) if !is_retryable_status(resp.status) => {
                    return finish(outcome, attempt, None, earlier_unknown, started);
                }
                Ok(resp) => {
                    let ctx = RetryContext {
                        attempt,
                        operation: call.operation,
                        status: Some(resp.status.as_u16()),
                        failure: None,
                        retry_after: retry_after(&resp.headers, SystemTime::now()),
                    };
                    (ctx, true, resp.status.is_server_error())
                }
                Err((kind, _)) => {
                    let ctx = RetryContext {
                        attempt,
                        operation: call.operation,
                        status: None,
                        failure: Some(*kind),
                        retry_after: None,
                    };
                    // A connection that could not be made carried nothing: replaying cannot apply anything twice.
                    let reached = *kind != TransportErrorKind::Connect;
                    (ctx, reached, reached)
                }
            };
            let unsafe_reason = match call.replay {
                Replay::Unsafe(why) if reached => Some(why),
                _ => None,
            };
            let delay = if unsafe_reason.is_some() {
                None
            } else {
                next_delay(policy, &ctx)
            };
            match delay {
                Some(d) => {
                    tracing::debug!(
                        provider = self.provider,
                        operation = call.operation,
                        attempt,
                        status = ctx.status,
                        failure = ?ctx.failure,
                        outcome_unknown = unknown,
                        delay_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                        "retrying"
                    );
                    earlier_unknown |= unknown;
                    tokio::time::sleep(d).await;
                }
                None => {
                    let refused = unsafe_reason.filter(|_| could_retry(policy, attempt));
                    if let Some(why) = refused {
                        tracing::debug!(
                            provider = self.provider,
                            operation = call.operation,
                            attempt,
                            reason = why,
                            "not retried: a replay could apply the call twice"
                        );
                    }
                    return finish(outcome, attempt, refused, earlier_unknown, started);
                }
            }
        }
    }

    async fn attempt(&self, call: &Call, attempt: u32) -> AttemptResult {
        let span = tracing::info_span!(
            "kr_payments.request",
            provider = self.provider,
            operation = call.operation,
            method = %call.method,
            path = call.path_template,
            attempt,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let _enter = span.enter();
        let started = Instant::now();
        let url = format!("{}{}", self.base_url, call.path);
        let mut req = self
            .http
            .request(call.method.clone(), &url)
            .timeout(call.timeout.unwrap_or(self.timeout));
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        let mut headers = call.headers.clone();
        headers.insert(reqwest::header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(body) = &call.body {
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if tracing::enabled!(tracing::Level::TRACE) {
                tracing::trace!(body = %redacted_body(body), "request body");
            }
            req = req.body(body.clone());
        }
        req = req.headers(headers);
        drop(_enter);
        let result = async {
            let resp = req.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>(Response {
                status,
                headers,
                body,
                attempts: attempt,
                earlier_unknown: false,
            })
        }
        .await;
        let _enter = span.enter();
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        match result {
            Ok(resp) => {
                span.record("status", resp.status.as_u16());
                if tracing::enabled!(tracing::Level::TRACE) {
                    tracing::trace!(body = %redacted_body(&resp.body), "response body");
                }
                Ok(resp)
            }
            Err(e) => {
                let kind = classify(&e);
                tracing::debug!(?kind, "no usable response");
                Err((kind, Some(e)))
            }
        }
    }
}

type AttemptResult = Result<Response, (TransportErrorKind, Option<reqwest::Error>)>;

fn finish(
    outcome: AttemptResult,
    attempts: u32,
    retry_refused: Option<&'static str>,
    earlier_unknown: bool,
    started: Instant,
) -> Result<Response, TransportError> {
    match outcome {
        Ok(mut resp) => {
            resp.attempts = attempts;
            resp.earlier_unknown = earlier_unknown;
            Ok(resp)
        }
        Err((kind, source)) => Err(TransportError {
            kind,
            attempts,
            retry_refused,
            elapsed: started.elapsed(),
            earlier_unknown,
            source,
        }),
    }
}

/// Whether the policy might have allowed another attempt, had the call been safe to replay: only then is a refusal
/// worth reporting. A custom rule is not asked (it is only consulted for calls that are safe to replay).
fn could_retry(policy: &RetryPolicy, attempt: u32) -> bool {
    match policy {
        RetryPolicy::Never => false,
        RetryPolicy::Safe { max_attempts, .. } => attempt < *max_attempts,
        RetryPolicy::Custom(_) => true,
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

fn classify(e: &reqwest::Error) -> TransportErrorKind {
    if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_request() || e.is_body() || e.is_decode() {
        TransportErrorKind::Interrupted
    } else {
        TransportErrorKind::Other
    }
}

/// The end of a reconciliation (see [the module docs](self#reconciliation)): `confirmed` is the provider's answer as
/// read from the payment when it shows the cancel applied once (the call then succeeds, marked reconciled), `None`
/// when it does not (the original `error` stands). Logs which it was, with the code the replay was refused with.
pub(crate) fn settle<T, E: crate::error::ApiErrorBody>(
    provider: &'static str,
    operation: &'static str,
    confirmed: Option<T>,
    error: crate::Error<E>,
) -> Result<(T, bool), crate::Error<E>> {
    let refused_with = match &error {
        crate::Error::Api(api) => api.error.code().to_string(),
        crate::Error::Decode(d) => format!("undecodable HTTP {}", d.status),
        crate::Error::Transport(t) => format!("{:?}", t.kind),
        crate::Error::InvalidRequest(_) => "invalid request".to_string(),
    };
    match confirmed {
        Some(value) => {
            tracing::info!(
                provider,
                operation,
                %refused_with,
                "an earlier attempt's outcome was unknown; the payment shows the cancel applied once: reconciled"
            );
            Ok((value, true))
        }
        None => {
            tracing::warn!(
                provider,
                operation,
                %refused_with,
                "an earlier attempt's outcome was unknown and the payment does not show the cancel: returning the error"
            );
            Err(error)
        }
    }
}

/// The delay a `Retry-After` header asks for: whole seconds, or an HTTP date (a date in the past means now).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is an RFC 2822 date with `GMT` as the zone.
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(at.timestamp()).ok()?))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn next_delay(policy: &RetryPolicy, ctx: &RetryContext) -> Option<Duration> {
    match policy {
        RetryPolicy::Never => None,
        RetryPolicy::Custom(f) => f(ctx),
        RetryPolicy::Safe {
            max_attempts,
            base_delay,
            max_delay,
        } => {
            if ctx.attempt >= *max_attempts {
                return None;
            }
            if let Some(ra) = ctx.retry_after {
                // A server asking for longer than we are willing to wait gets no retry rather than a shorter one.
                return (ra <= *max_delay).then_some(ra);
            }
            let exp = base_delay.saturating_mul(1u32 << ctx.attempt.saturating_sub(1).min(16));
            let capped = exp.min(*max_delay);
            // A random delay between half and the whole keeps many clients from retrying in lockstep.
            let half = capped / 2;
            let jitter = rand::random_range(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
            Some(half + Duration::from_millis(jitter))
        }
    }
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters, so `/`, `?`, `#`, spaces and
/// non-ASCII text stay inside the segment they belong to.
pub(crate) fn encode_segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Keys whose values are credentials or identify a person or an account; their values never reach a log. Written
/// lower-case without separators: `accountNumber`, `account_number` and `account-number` all match `accountnumber`.
const REDACTED_KEYS: &[&str] = &[
    // Credentials and tokens.
    "secret",
    "secretkey",
    "apisecret",
    "impkey",
    "impsecret",
    "accesstoken",
    "refreshtoken",
    "token",
    "billingkey",
    "customeruid",
    // Card and account numbers.
    "number",
    "cardnumber",
    "accountnumber",
    "vbanknum",
    "refundaccount",
    "refundreceiveaccount",
    // People: names, contact details, dates of birth.
    "name",
    "holdername",
    "vbankholder",
    "refundholder",
    "depositorname",
    "customername",
    "buyername",
    "holderphonenumber",
    "refundtel",
    "buyertel",
    "phonenumber",
    "customermobilephone",
    "customerphone",
    "email",
    "customeremail",
    "buyeremail",
    "refundemail",
    "buyeraddr",
    "buyerpostcode",
    "address",
    "zipcode",
    "birthday",
    "birthyear",
    "birthmonth",
    "birthdate",
    // Merchant-defined blobs: whatever the merchant put there may be personal.
    "customdata",
    "metadata",
];

/// Whether a JSON key names a value that must never reach a log or an error message.
pub(crate) fn is_sensitive_key(key: &str) -> bool {
    let normalized: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    REDACTED_KEYS.contains(&normalized.as_str())
}

/// The body with secrets, personal and account data replaced, for TRACE logs and error `Debug` output.
pub(crate) fn redacted_body(body: &[u8]) -> String {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if is_sensitive_key(k) && !child.is_null() {
                        *child = serde_json::Value::String("<redacted>".into());
                    } else {
                        walk(child);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            walk(&mut v);
            v.to_string()
        }
        Err(_) => format!("<{} bytes, not JSON>", body.len()),
    }
}

/// Adds a sensitive `Authorization` header.
pub(crate) fn authorize(headers: &mut HeaderMap, credential: &Credential) {
    headers.insert(reqwest::header::AUTHORIZATION, credential.header());
}

/// Removes the `api-version` header progenitor adds to every request: none of these APIs asked for it.
pub(crate) fn strip_generated_headers(headers: &mut HeaderMap) {
    headers.remove(HeaderName::from_static("api-version"));
}

/// Entry points that run raw bytes through the same code a real call or webhook uses, for the fuzz targets
/// (`tests/fuzz`) and the test that replays their corpus (`tests/fuzz_corpus.rs`). Not part of the supported API:
/// names and signatures may change in any release.
#[doc(hidden)]
#[cfg(any(feature = "portone-v2", feature = "iamport", feature = "toss"))]
pub mod fuzzing {
    use super::Response;
    use bytes::Bytes;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;
    use std::fmt::Write as _;

    /// What the input turned into.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum Outcome {
        /// Decoded to the operation's success type (or a verified webhook event).
        Ok,
        /// Decoded to the provider's typed error body.
        Api,
        /// Refused as undecodable ([`crate::error::DecodeError`]).
        Decode,
        /// A webhook delivery refused by verification or decoding.
        Rejected,
    }

    /// The fuzz targets, by the name of their directory under `tests/fuzz/corpus/`.
    pub const TARGETS: &[&str] = &[
        "portone_v2_payment",
        "portone_v2_error",
        "portone_v2_webhook",
        "iamport_payment",
        "iamport_error",
        "toss_payment",
        "toss_error",
    ];

    /// Statuses an error target picks from with its first byte: errors, the odd success, a redirect.
    const STATUSES: &[u16] = &[400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504, 200, 201, 302];

    fn split_status(data: &[u8]) -> (u16, &[u8]) {
        match data.split_first() {
            Some((&first, rest)) => (STATUSES[usize::from(first) % STATUSES.len()], rest),
            None => (500, data),
        }
    }

    /// Runs `data` through the fuzz target `target` (one of [`TARGETS`]); `None` for a name that is not one. The
    /// fuzz targets call this, so the corpus replay test exercises exactly what was fuzzed.
    pub fn run(target: &str, data: &[u8]) -> Option<Vec<Outcome>> {
        let outcomes = match target {
            #[cfg(feature = "portone-v2")]
            "portone_v2_payment" => vec![portone_v2_get_payment(200, data), portone_v2_cancel_payment(200, data)],
            #[cfg(feature = "portone-v2")]
            "portone_v2_error" => {
                let (status, body) = split_status(data);
                vec![
                    portone_v2_get_payment(status, body),
                    portone_v2_cancel_payment(status, body),
                ]
            }
            #[cfg(feature = "portone-v2")]
            "portone_v2_webhook" => vec![portone_v2_webhook(data)],
            #[cfg(feature = "iamport")]
            "iamport_payment" => vec![iamport_payment(200, data)],
            #[cfg(feature = "iamport")]
            "iamport_error" => {
                let (status, body) = split_status(data);
                vec![iamport_payment(status, body), iamport_token(status, body)]
            }
            #[cfg(feature = "toss")]
            "toss_payment" => vec![toss_payment(200, data)],
            #[cfg(feature = "toss")]
            "toss_error" => {
                let (status, body) = split_status(data);
                vec![toss_payment(status, body)]
            }
            _ => return None,
        };
        Some(outcomes)
    }

    fn response(status: u16, body: &[u8]) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body),
            attempts: 1,
            earlier_unknown: false,
        }
    }

    /// Formats the result both ways, as a caller logging it would: `Debug` and `Display` must never panic.
    fn classify<T: std::fmt::Debug, E: crate::error::ApiErrorBody>(result: &Result<T, crate::Error<E>>) -> Outcome {
        let mut sink = String::new();
        match result {
            Ok(v) => {
                let _ = write!(sink, "{v:?}");
                Outcome::Ok
            }
            Err(e) => {
                let _ = write!(sink, "{e:?} {e}");
                match e {
                    crate::Error::Api(_) => Outcome::Api,
                    _ => Outcome::Decode,
                }
            }
        }
    }

    /// A PortOne V2 `getPayment` answer with this status and body, read as the facade reads it.
    #[cfg(feature = "portone-v2")]
    pub fn portone_v2_get_payment(status: u16, body: &[u8]) -> Outcome {
        use crate::portone_v2::{GetPaymentError, Payment, PaymentExt};
        let result = crate::portone_v2::error::from_response::<Payment, GetPaymentError>(response(status, body))
            .map_err(crate::portone_v2::error::pinpoint::<PortOneProbe, _>);
        if let Ok(payment) = &result {
            let _ = (
                payment.id(),
                payment.status(),
                payment.cancellable_amount(),
                payment.method_type(),
            );
            for c in payment.cancellations() {
                let _ = (c.status(), c.id(), c.is_succeeded(), c.receipt_url());
            }
        }
        classify(&result)
    }

    /// A PortOne V2 `cancelPayment` answer with this status and body, read as the facade reads it.
    #[cfg(feature = "portone-v2")]
    pub fn portone_v2_cancel_payment(status: u16, body: &[u8]) -> Outcome {
        use crate::portone_v2::raw::types::CancelPaymentResponse;
        use crate::portone_v2::{CancelOutcome, CancelPaymentError};
        let result = crate::portone_v2::error::from_response::<CancelPaymentResponse, CancelPaymentError>(response(
            status, body,
        ))
        .map_err(crate::portone_v2::error::pinpoint::<PortOneProbe, _>)
        .map(|r| CancelOutcome::from(r.cancellation));
        if let Ok(outcome) = &result {
            let _ = (outcome.status(), outcome.cancellation(), outcome.is_reconciled());
        }
        if let Err(crate::Error::Api(api)) = &result {
            let _ = (api.error.tag(), api.error.message(), api.error.is_unrecognized());
        }
        classify(&result)
    }

    /// Fields read again to point a decode error at its field; any struct exercises the same path logic.
    #[cfg(feature = "portone-v2")]
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct PortOneProbe {
        id: String,
        amount: crate::portone_v2::payment::PaymentAmount,
        #[serde(default)]
        cancellations: Vec<PortOneProbeCancellation>,
    }

    #[cfg(feature = "portone-v2")]
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct PortOneProbeCancellation {
        id: String,
        total_amount: i64,
    }

    /// An iamport answer (`{code, message, response}`) of a payment lookup with this status and body.
    #[cfg(feature = "iamport")]
    pub fn iamport_payment(status: u16, body: &[u8]) -> Outcome {
        let result = crate::iamport::error::decode_envelope::<crate::iamport::Payment>(
            "getPaymentByImpUid",
            &response(status, body),
        );
        if let Ok(payment) = &result {
            let _ = (
                payment.cancellable_balance(),
                payment.cancel_history_total(),
                payment.is_fully_cancelled(),
                payment.latest_cancellation(),
            );
        }
        classify(&result)
    }

    /// An iamport answer to `POST /users/getToken` with this status and body: its failures must never keep the
    /// token.
    #[cfg(feature = "iamport")]
    pub fn iamport_token(status: u16, body: &[u8]) -> Outcome {
        let result = crate::iamport::error::decode_envelope::<serde_json::Value>(
            crate::iamport::error::GET_TOKEN_OPERATION,
            &response(status, body),
        );
        classify(&result)
    }

    /// A Toss answer (a Payment, or `{code, message}`) with this status and body.
    #[cfg(feature = "toss")]
    pub fn toss_payment(status: u16, body: &[u8]) -> Outcome {
        let result = crate::toss::read_response::<crate::toss::Payment>(response(status, body));
        if let Ok(payment) = &result {
            let _ = (
                payment.balance(),
                payment.cancelled_total(),
                payment.method(),
                payment.can_cancel(),
                payment.can_cancel_partially(),
                payment.needs_refund_account(),
                payment.card_type(),
                payment.account_type(),
                payment.cash_receipt_type(),
                payment.latest_cancel(),
                payment.widget_refund_account(),
            );
        }
        if let Err(crate::Error::Api(api)) = &result {
            let _ = (api.error.code.as_str(), api.error.is_retryable());
        }
        classify(&result)
    }

    /// A PortOne V2 webhook delivery. The first byte chooses how the rest is used: even, as `webhook-id`,
    /// `webhook-timestamp` and `webhook-signature` lines followed by a blank line and the body (verification of
    /// hostile headers); odd, as a body that is signed correctly first (decoding of hostile events).
    #[cfg(feature = "portone-v2")]
    pub fn portone_v2_webhook(data: &[u8]) -> Outcome {
        use crate::portone_v2::webhook::{Secret, Verifier};
        const NOW: i64 = 1_700_000_000;
        let verifier = Verifier::new(Secret::from_bytes(b"fuzzing-webhook-secret".to_vec()))
            .clock(|| chrono::DateTime::from_timestamp(NOW, 0).unwrap_or_default());
        let Some((&mode, rest)) = data.split_first() else {
            return Outcome::Rejected;
        };
        let (headers, body): (Vec<(String, String)>, &[u8]) = if mode % 2 == 1 {
            let signed = verifier.sign_headers("msg_fuzz", NOW, rest);
            (signed.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), rest)
        } else {
            let split = rest.windows(2).position(|w| w == b"\n\n");
            let (head, body) = match split {
                Some(i) => (&rest[..i], &rest[i + 2..]),
                None => (rest, &[][..]),
            };
            let head = String::from_utf8_lossy(head);
            let mut lines = head.split('\n');
            let names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
            let headers = names
                .iter()
                .map(|n| (n.to_string(), lines.next().unwrap_or_default().to_string()))
                .collect();
            (headers, body)
        };
        let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let mut sink = String::new();
        match verifier.verify_pairs(body, pairs) {
            Ok(event) => {
                let _ = write!(sink, "{event:?}");
                let _ = (
                    event.event_type(),
                    event.timestamp(),
                    event.payment_id(),
                    event.store_id(),
                );
                Outcome::Ok
            }
            Err(e) => {
                let _ = write!(sink, "{e:?} {e}");
                Outcome::Rejected
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_str(retry_after).unwrap(),
        );
        h
    }

    fn ctx(attempt: u32, status: Option<u16>, retry_after: Option<Duration>) -> RetryContext {
        RetryContext {
            attempt,
            operation: "cancelPayment",
            status,
            failure: None,
            retry_after,
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(retry_after(&headers("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers(" 0 "), now), Some(Duration::ZERO));
        // Wed, 21 Oct 2015 07:28:00 GMT is 1_445_412_480.
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), now),
            Some(Duration::from_secs(10))
        );
        let later = now + Duration::from_secs(60);
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), later),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn the_safe_policy_waits_for_retry_after_within_its_cap_only() {
        let policy = RetryPolicy::Safe {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        };
        let asked = Some(Duration::from_secs(2));
        assert_eq!(policy.delay_for(&ctx(1, Some(503), asked)), asked);
        assert_eq!(policy.delay_for(&ctx(1, Some(429), Some(Duration::from_secs(6)))), None);
        assert_eq!(
            policy.delay_for(&ctx(3, Some(503), asked)),
            None,
            "the attempt budget comes first"
        );
    }

    #[test]
    fn the_safe_policy_backs_off_exponentially_with_jitter_and_a_cap() {
        let policy = RetryPolicy::Safe {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..50 {
            let first = policy.delay_for(&ctx(1, Some(500), None)).unwrap();
            assert!(
                (Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first),
                "{first:?}"
            );
            let second = policy.delay_for(&ctx(2, Some(500), None)).unwrap();
            assert!(
                (Duration::from_millis(100)..=Duration::from_millis(200)).contains(&second),
                "{second:?}"
            );
            let capped = policy.delay_for(&ctx(9, Some(500), None)).unwrap();
            assert!(
                (Duration::from_millis(150)..=Duration::from_millis(300)).contains(&capped),
                "{capped:?}"
            );
        }
        // A context a custom rule edited by hand must not overflow.
        assert!(policy.delay_for(&ctx(0, None, None)).is_some());
        assert_eq!(RetryPolicy::Never.delay_for(&ctx(1, Some(503), None)), None);
    }

    #[test]
    fn sensitive_keys_match_in_any_spelling() {
        for key in [
            "accountNumber",
            "account_number",
            "ACCOUNT-NUMBER",
            "imp_secret",
            "secret",
            "vbank_num",
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in ["orderName", "amount", "status", "paymentKey", "cancelReason"] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }

    #[test]
    fn bodies_are_redacted_at_any_depth() {
        let body = serde_json::json!({
            "code": 0,
            "response": {"access_token": "tok", "list": [{"buyer_tel": "010", "amount": 5}]},
            "refundAccount": {"bank": "KOOKMIN", "number": "123"},
            "nothing": null,
        });
        let out = redacted_body(body.to_string().as_bytes());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["response"]["access_token"], "<redacted>");
        assert_eq!(v["response"]["list"][0]["buyer_tel"], "<redacted>");
        assert_eq!(v["response"]["list"][0]["amount"], 5);
        assert_eq!(v["refundAccount"], "<redacted>", "a sensitive object goes whole");
        assert_eq!(v["nothing"], serde_json::Value::Null);
        assert_eq!(redacted_body(b"<html>secret</html>"), "<19 bytes, not JSON>");
    }

    #[tokio::test]
    async fn a_lookup_starts_only_when_awaited_and_applies_its_options() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let started = Arc::new(AtomicBool::new(false));
        let flag = started.clone();
        let lookup: Lookup<'_, Option<Duration>> = Lookup::new(move |options| {
            flag.store(true, Ordering::SeqCst);
            Box::pin(async move {
                let mut call = Call::new("getPayment", Method::GET, "/p", "/p".into());
                options.apply(&mut call);
                call.timeout
            })
        })
        .timeout(Duration::from_millis(1234));
        assert!(!started.load(Ordering::SeqCst));
        assert_eq!(lookup.await, Some(Duration::from_millis(1234)));
        assert!(started.load(Ordering::SeqCst));
    }
}
