//! One HTTP policy for every provider: deadlines, retries that never double-refund, no redirects, bounded answers,
//! tracing, redaction.
//!
//! # Every attempt is classified
//! Each attempt of a call ends in one of three ways, and the same classification drives the retries, the
//! reconciliation of a refund and the error a caller gets ([`crate::error::Delivery`]):
//! * **not sent**: the connection could not be made (or a prerequisite such as iamport's access token could not
//!   be obtained). Nothing can have been applied; sending again is always harmless.
//! * **answered**: the provider's word. A success, or a refusal that says nothing was applied.
//! * **sent, outcome unknown**: a timeout, a connection lost after sending, a truncated or unreadable answer, a
//!   redirect, or HTTP 401, 408, 429 or 5xx to a request that changes something. A proxy or an overloaded server
//!   can give any of these for a request the provider did apply.
//!
//! # Deadlines
//! A call has one deadline: the client's [`timeout`](crate::portone_v2::ClientBuilder::timeout) (default
//! [`DEFAULT_TIMEOUT`], 90 s) or the request builder's `.timeout(..)`. Every attempt, every wait between attempts
//! and every read that settles an unknown outcome happens within it, so the call returns by then. One attempt gets
//! at most three quarters of the deadline (or the client's `attempt_timeout`), so that a stalled attempt leaves
//! time to learn what happened to it. A cancel travels from the gateway to the PG and on to the card issuer or
//! bank, and PG cancels taking tens of seconds are normal: a short deadline does not make a refund faster, it only
//! turns a refund that happened into one whose outcome is unknown. (PortOne recommends giving a request at least
//! 60 s, which the default's first attempt does.)
//!
//! # Retries
//! A call is sent again only when that cannot apply it twice:
//! * a request that was not sent is always safe to send again;
//! * reads (GET) are safe;
//! * a cancel is safe with a guard that makes a replay harmless: PortOne V2 and Toss send an `Idempotency-Key`
//!   (the same on every attempt; the provider answers a repeat with the first request's answer), iamport a
//!   `checksum` (a replay of a cancel that went through meets a moved balance and is refused).
//!
//! An unguarded cancel (iamport without `checksum`) is never replayed after it may have been sent; the error then
//! says why ([`crate::error::TransportError::retry_refused`]). When the provider answers that it is still working
//! on a keyed request (PortOne's `IDEMPOTENCY_OUTSTANDING_REQUEST`), the crate waits and asks again with the same
//! key, within the deadline, under any policy but [`RetryPolicy::Never`].
//!
//! HTTP 429 and 503 honour `Retry-After`, in seconds or as an HTTP date. [`RetryPolicy::Safe`] waits exactly that
//! long when it is within `max_delay` and gives up otherwise; a [`RetryPolicy::Custom`] rule sees it in
//! [`RetryContext::retry_after`].
//!
//! # Redirects and size
//! No redirect is ever followed, for any method: a refund is never re-sent by the HTTP layer, and no body or
//! credential leaves for another origin. A redirect is an answer whose outcome is unknown. If you pass your own
//! `reqwest::Client`, build it with `redirect(reqwest::redirect::Policy::none())`: an answer that arrives from
//! another URL than the one requested is treated the same way. Answers above the client's size limit
//! ([`DEFAULT_MAX_RESPONSE_BYTES`], 8 MiB, or `max_response_bytes`) are not read.
//!
//! # Reconciliation
//! When an attempt's outcome was unknown and the call still ended without a success, each provider's cancel finds
//! out what happened before answering: PortOne V2 and Toss by what the provider answers to the same
//! `Idempotency-Key`, iamport by reading the payment and finding the one cancel that took the balance from the
//! `checksum` to `checksum − amount` after the call started. A success is reported only when the provider's data
//! proves it is this request's; when it cannot tell (another identical cancel at the same time), the error is
//! [`crate::Error::Unverified`], never a success.
//!
//! # Tracing
//! Each attempt is a `tracing` span `kr_payments.request` with the provider, operation, method, path *template*
//! (never the filled path, which may hold ids), attempt, status and latency. No header value, token or secret is
//! ever recorded; bodies are logged only at TRACE level, with secrets, tokens, card and account numbers, names
//! and contact details redacted by the table in [`crate::sensitive`].

use crate::error::{Delivery, TransportError, TransportErrorKind};
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use std::collections::HashMap;
use std::fmt;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Default deadline of a whole call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the crate's own HTTP client keeps an idle connection open for the next call.
///
/// Shorter than reqwest's 90 s for two reasons:
/// * a server or load balancer closes idle connections on its own schedule (60 s is a common default, AWS's
///   Application Load Balancer's among them). A refund sent on a connection the other side is closing at that
///   moment is lost in the race and its outcome is unknown; dropping idle connections first makes that rarer;
/// * it is shorter than the first attempt's timeout with the default deadline (67.5 s). The connection pool's idle
///   timer is then always due before any attempt's, and tokio does not wake its timer thread for a timer that is
///   not the earliest: an attempt's timeout costs no wake-up between threads (measured in BENCHMARKS.md §1).
///
/// A client passed with `http_client(..)` keeps its own setting.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(55);
const _: () = assert!(DEFAULT_POOL_IDLE_TIMEOUT.as_millis() < DEFAULT_TIMEOUT.as_millis() * 3 / 4);
/// Default limit on the size of an answer's body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("kr-payments/", env!("CARGO_PKG_VERSION"));

/// The least time worth starting another attempt with.
const MIN_ATTEMPT: Duration = Duration::from_millis(10);

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
    /// Whether the provider answered that it is still working on this request (same idempotency key): the next
    /// attempt asks for its outcome rather than trying again.
    pub pending: bool,
}

/// Whether a call may be sent again after it may have reached the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// A replay cannot apply anything twice (a read, a keyed or guarded cancel).
    Safe,
    /// A replay could apply the call twice; the reason is shown to the caller.
    Unsafe(&'static str),
}

/// One HTTP call, as the facades describe it. Its headers and body are built once and shared by every attempt.
pub(crate) struct Call {
    pub operation: &'static str,
    pub method: Method,
    pub path_template: &'static str,
    /// The path with parameters filled in and percent-encoded.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Bytes>,
    pub headers: HeaderMap,
    /// The deadline of the whole call, counted from its start, instead of the client's.
    pub timeout: Option<Duration>,
    /// An absolute deadline, for a call that is part of another (the read that settles a cancel's outcome).
    pub deadline: Option<Instant>,
    pub retry: Option<RetryPolicy>,
    pub replay: Replay,
    /// Recognizes the provider's "still working on this request" answer to a keyed request.
    pub pending: Option<fn(&Response) -> bool>,
    /// Whether a 401 is an answer whose outcome is unknown, to be asked again (a keyed request: a proxy's 401 can
    /// follow a request the provider applied, and the same key learns what happened). Otherwise a 401 is final.
    pub retry_unauthorized: bool,
}

impl Call {
    pub fn new(operation: &'static str, method: Method, path_template: &'static str, path: String) -> Self {
        let replay = if method == Method::GET {
            Replay::Safe
        } else {
            Replay::Unsafe("the request is not idempotent")
        };
        let mut headers = HeaderMap::with_capacity(6);
        headers.insert(reqwest::header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static("application/json"));
        Call {
            operation,
            method,
            path_template,
            path,
            query: Vec::new(),
            body: None,
            headers,
            timeout: None,
            deadline: None,
            retry: None,
            replay,
            pending: None,
            retry_unauthorized: false,
        }
    }

    /// Attaches a JSON body.
    pub fn json<T: serde::Serialize>(mut self, body: &T) -> Self {
        // Serializing our own request types cannot fail: they hold strings, integers, booleans and maps with
        // string keys only.
        // Room for a cancel's body up front, so serializing does not grow the buffer step by step.
        let mut bytes = Vec::with_capacity(256);
        self.body = Some(match serde_json::to_writer(&mut bytes, body) {
            Ok(()) => Bytes::from(bytes),
            Err(_) => Bytes::new(),
        });
        self.headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self
    }

    /// Whether the call can change something at the provider (anything but a read).
    pub fn mutating(&self) -> bool {
        self.method != Method::GET && self.method != Method::HEAD
    }

    /// Makes this call part of another that must end by `deadline`, with the same retry policy.
    pub fn within(mut self, deadline: Instant, retry: Option<RetryPolicy>) -> Self {
        self.deadline = Some(deadline);
        self.retry = retry;
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
    /// out, lost its connection after sending, was redirected, or was answered 401/408/429/5xx or "still
    /// processing"). A refusal after such an attempt may be that attempt's success seen from outside.
    pub earlier_unknown: bool,
    /// Whether the call can change something at the provider ([`Call::mutating`]): its error answers are then
    /// classified as such ([`crate::error::Delivery::of_answer`]).
    pub mutating: bool,
    /// The local wall clock when the answered attempt was sent and when its answer arrived, for reading the
    /// server's clock from the `Date` header.
    pub sent_at: SystemTime,
    pub received_at: SystemTime,
}

impl Response {
    /// How far the server's wall clock is from ours, in milliseconds (server − local), as well as this answer's
    /// `Date` header can tell (a whole second, plus the round trip). `0` when the header agrees with our clock
    /// within that uncertainty, as it does for NTP-synchronized machines, or has no `Date` header.
    pub fn clock_offset_ms(&self) -> i64 {
        let Some(date) = self
            .headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v.trim()).ok())
        else {
            return 0;
        };
        let millis = unix_ms;
        let server = date.timestamp_millis();
        // The server read its clock at some instant between our send and our receipt, and cut it to the second.
        let low = server.saturating_sub(millis(self.received_at));
        let high = server.saturating_add(1000).saturating_sub(millis(self.sent_at));
        if low <= 0 && 0 <= high {
            0
        } else if low > 0 {
            low
        } else {
            high
        }
    }
}

/// The per-call settings every facade request builder carries: a deadline and a retry policy replacing the
/// client's.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    pub timeout: Option<Duration>,
    pub retry: Option<RetryPolicy>,
    /// Toss's `TossPayments-Test-Code` for this call (checked against the client's key when the call is made).
    pub test_code: Option<String>,
}

// PortOne V2 puts its options straight into its request builders; only iamport and Toss lookups use these.
#[cfg_attr(not(any(feature = "iamport", feature = "toss")), allow(dead_code))]
impl CallOptions {
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
/// use kr_payments::toss::PaymentKey;
/// use std::time::Duration;
/// let key = PaymentKey::new("tgen_20240101abcd");
/// let payment = client.get_payment(&key).timeout(Duration::from_secs(5)).await?;
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
    /// Sets Toss's per-call test code (only offered on Toss lookups).
    #[cfg_attr(not(feature = "toss"), allow(dead_code))]
    pub(crate) fn with_test_code(mut self, code: String) -> Self {
        self.options.test_code = Some(code);
        self
    }

    /// A lookup that runs `start` with the per-call options once awaited.
    #[cfg_attr(not(any(feature = "iamport", feature = "toss")), allow(dead_code))]
    pub(crate) fn new(start: impl FnOnce(CallOptions) -> BoxFuture<'a, T> + Send + 'a) -> Self {
        Lookup {
            start: Some(Box::new(start)),
            options: CallOptions::default(),
            running: None,
        }
    }

    /// The deadline of this call (all its attempts and waits), instead of the client's.
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

/// Deadlines, retries and limits of one client: the part of each provider's builder that is the same for all.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub base_url: Option<String>,
    pub timeout: Duration,
    pub attempt_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    pub http: Option<reqwest::Client>,
    pub max_response_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            attempt_timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            http: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
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
    /// `base_url` parsed, when a call's URL can be built from it by setting the path (see [`Transport::url`]).
    base: Option<reqwest::Url>,
    pub http: reqwest::Client,
    pub timeout: Duration,
    pub attempt_timeout: Option<Duration>,
    pub retry: RetryPolicy,
    pub max_response_bytes: usize,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// How one attempt ended without a usable answer.
struct Failure {
    kind: TransportErrorKind,
    /// Whether the request may have left this process (and so may have been applied).
    sent: bool,
    status: Option<u16>,
    source: Option<reqwest::Error>,
}

type AttemptResult = Result<Response, Failure>;

/// Where a call's retry loop stands.
#[derive(Default)]
struct Attempts {
    /// Attempts made so far, the current one included.
    count: u32,
    /// Whether an attempt before the current one may have been applied without a definitive answer.
    earlier_unknown: bool,
    /// Answers so far that said the provider is still working on the request.
    pending_polls: u32,
}

impl Transport {
    pub fn new(provider: &'static str, default_base_url: &str, options: Options) -> Result<Self, BuildError> {
        let base_url = options
            .base_url
            .unwrap_or_else(|| default_base_url.to_string())
            .trim_end_matches('/')
            .to_string();
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| BuildError::Invalid {
            setting: "base_url",
            reason: e.to_string(),
        })?;
        // Kept parsed when a call's URL is this one with another path (no query or fragment to keep apart).
        let base =
            (!parsed.cannot_be_a_base() && parsed.query().is_none() && parsed.fragment().is_none()).then_some(parsed);
        if options.timeout.is_zero() {
            return Err(BuildError::Invalid {
                setting: "timeout",
                reason: "is zero".into(),
            });
        }
        let http = match options.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .connect_timeout(options.connect_timeout)
                .pool_idle_timeout(DEFAULT_POOL_IDLE_TIMEOUT)
                // A refund must never be sent twice by the HTTP layer, nor a body or credential to another origin.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(BuildError::Http)?,
        };
        Ok(Transport {
            provider,
            base_url,
            base,
            http,
            timeout: options.timeout,
            attempt_timeout: options.attempt_timeout,
            retry: options.retry,
            max_response_bytes: options.max_response_bytes,
        })
    }

    /// When `call` must be over: its inherited deadline, or its own timeout (the client's by default) from now.
    pub fn deadline_for(&self, call: &Call) -> Instant {
        // The clock is read only when there is a deadline to compute (a cancel's call inherits one).
        call.deadline
            .unwrap_or_else(|| self.deadline_from(call, Instant::now()))
    }

    fn deadline_from(&self, call: &Call, now: Instant) -> Instant {
        call.deadline
            .unwrap_or_else(|| now.checked_add(call.timeout.unwrap_or(self.timeout)).unwrap_or(now))
    }

    /// Sends a call, retrying as the policy and the call's replay safety allow, within its deadline.
    pub async fn execute(&self, call: &Call) -> Result<Response, TransportError> {
        let policy = call.retry.as_ref().unwrap_or(&self.retry);
        let started = Instant::now();
        let deadline = self.deadline_from(call, started);
        let budget = deadline.saturating_duration_since(started);
        let per_attempt = self.attempt_timeout.unwrap_or(budget * 3 / 4).max(MIN_ATTEMPT);
        // The URL is built once and shared by every attempt, like the headers and the body.
        let Some(url) = self.url(call) else {
            let failure = Failure {
                kind: TransportErrorKind::Other,
                sent: false,
                status: None,
                source: None,
            };
            return finish(Err(failure), 1, None, false, started);
        };
        let mut state = Attempts::default();
        loop {
            state.count += 1;
            let attempt = state.count;
            // The first attempt starts now: the reading taken above serves (a clock reading is not free).
            let now = if attempt == 1 { started } else { Instant::now() };
            let remaining = deadline.saturating_duration_since(now);
            let outcome = self
                .attempt(call, &url, attempt, per_attempt.min(remaining).max(MIN_ATTEMPT))
                .await;
            // The outcome is handed over, not kept: an answer given up on is not held through the wait, where it
            // would take a slot of its own in every call's future (168 bytes), beside the attempt's.
            match self.after_attempt(call, policy, outcome, &mut state, deadline, started) {
                ControlFlow::Break(result) => return result,
                // Boxed: the wait is the cold path, and kept inline it would enlarge every call's future.
                ControlFlow::Continue(wait) => Box::pin(tokio::time::sleep(wait)).await,
            }
        }
    }

    /// What the retry loop does after an attempt: end the call with this result, or wait this long and try again.
    fn after_attempt(
        &self,
        call: &Call,
        policy: &RetryPolicy,
        outcome: AttemptResult,
        state: &mut Attempts,
        deadline: Instant,
        started: Instant,
    ) -> ControlFlow<Result<Response, TransportError>, Duration> {
        let attempt = state.count;
        let (ctx, sent) = match &outcome {
            Ok(resp) => {
                let pending = call.pending.is_some_and(|is_pending| is_pending(resp));
                let unauthorized = call.retry_unauthorized && resp.status == StatusCode::UNAUTHORIZED;
                if !pending && !unauthorized && !is_retryable_status(resp.status) {
                    return ControlFlow::Break(finish(outcome, attempt, None, state.earlier_unknown, started));
                }
                let ctx = RetryContext {
                    attempt,
                    operation: call.operation,
                    status: Some(resp.status.as_u16()),
                    failure: None,
                    retry_after: retry_after(&resp.headers, SystemTime::now()),
                    pending,
                };
                (ctx, true)
            }
            Err(failure) => {
                if matches!(
                    failure.kind,
                    TransportErrorKind::BodyTooLarge | TransportErrorKind::Other
                ) {
                    // The same answer would come again; nothing to gain from another attempt.
                    return ControlFlow::Break(finish(outcome, attempt, None, state.earlier_unknown, started));
                }
                let ctx = RetryContext {
                    attempt,
                    operation: call.operation,
                    status: failure.status,
                    failure: Some(failure.kind),
                    retry_after: None,
                    pending: false,
                };
                (ctx, failure.sent)
            }
        };
        let unsafe_reason = match call.replay {
            Replay::Unsafe(why) if sent => Some(why),
            _ => None,
        };
        let delay = if unsafe_reason.is_some() {
            None
        } else if ctx.pending {
            state.pending_polls += 1;
            if state.pending_polls > MAX_PENDING_POLLS {
                None
            } else {
                pending_delay(policy, &ctx, state.pending_polls)
            }
        } else {
            next_delay(policy, &ctx)
        }
        .filter(|d| {
            // Only wait when there is time left for the attempt after it.
            Instant::now()
                .checked_add(*d)
                .and_then(|t| t.checked_add(MIN_ATTEMPT))
                .is_some_and(|t| t < deadline)
        });
        match delay {
            Some(d) => {
                tracing::debug!(
                    provider = self.provider,
                    operation = call.operation,
                    attempt,
                    status = ctx.status,
                    failure = ?ctx.failure,
                    pending = ctx.pending,
                    outcome_unknown = sent,
                    delay_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                    "retrying"
                );
                state.earlier_unknown |= sent;
                ControlFlow::Continue(d)
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
                ControlFlow::Break(finish(outcome, attempt, refused, state.earlier_unknown, started))
            }
        }
    }

    /// The call's URL: the base URL, the filled path and the query.
    ///
    /// The same URL as parsing `base_url` followed by the path, built with less work: a path of the crate's own
    /// (it starts with `/` and holds no `?` or `#`, its segments already percent-encoded) is set on the parsed base
    /// URL, which costs a third of a full parse; anything else (a raw call's path with its query) is parsed whole.
    fn url(&self, call: &Call) -> Option<reqwest::Url> {
        let mut url = match &self.base {
            Some(base) if call.path.starts_with('/') && !call.path.contains(['?', '#']) => {
                let mut url = base.clone();
                match base.path() {
                    "/" => url.set_path(&call.path),
                    prefix => url.set_path(&format!("{prefix}{}", call.path)),
                }
                url
            }
            _ => reqwest::Url::parse(&format!("{}{}", self.base_url, call.path)).ok()?,
        };
        if !call.query.is_empty() {
            // The same encoding as `RequestBuilder::query` (application/x-www-form-urlencoded pairs).
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Some(url)
    }

    /// One attempt's request. Built straight as a `reqwest::Request`: the call's header map is cloned once into
    /// it (a `RequestBuilder` would copy it again entry by entry), and the body is the call's `Bytes`, shared.
    fn request(&self, call: &Call, url: &reqwest::Url, timeout: Duration) -> reqwest::Request {
        let mut req = reqwest::Request::new(call.method.clone(), url.clone());
        *req.headers_mut() = call.headers.clone();
        if let Some(body) = &call.body {
            *req.body_mut() = Some(reqwest::Body::from(body.clone()));
        }
        // reqwest's own per-request timeout covers the headers and the body.
        *req.timeout_mut() = Some(timeout);
        req
    }

    async fn attempt(&self, call: &Call, url: &reqwest::Url, attempt: u32, timeout: Duration) -> AttemptResult {
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
        // The latency is only for the span: without a subscriber that records it, the clock is not read.
        let started = (!span.is_disabled()).then(Instant::now);
        if let Some(body) = &call.body
            && tracing::enabled!(tracing::Level::TRACE)
        {
            tracing::trace!(body = %redacted_body(body), "request body");
        }
        drop(_enter);
        let result = self.exchange(call, url, attempt, timeout).await;
        let _enter = span.enter();
        if let Some(started) = started {
            span.record("latency_ms", started.elapsed().as_millis() as u64);
        }
        match result {
            Ok(resp) => {
                span.record("status", resp.status.as_u16());
                if tracing::enabled!(tracing::Level::TRACE) {
                    tracing::trace!(body = %redacted_body(&resp.body), "response body");
                }
                Ok(resp)
            }
            Err(failure) => {
                if let Some(status) = failure.status {
                    span.record("status", status);
                }
                tracing::debug!(kind = ?failure.kind, sent = failure.sent, "no usable response");
                Err(failure)
            }
        }
    }

    /// Sends one request and reads its whole answer, within the size limit; a redirect is a failure.
    ///
    /// The request is built here, not passed in: an `async fn` keeps its arguments for as long as it runs, and a
    /// `reqwest::Request` is 264 bytes that would sit in every call's future after it was handed to reqwest.
    async fn exchange(&self, call: &Call, url: &reqwest::Url, attempt: u32, timeout: Duration) -> AttemptResult {
        let failed = |e: reqwest::Error| {
            let kind = classify(&e);
            Failure {
                kind,
                // A connection that could not be made carried nothing.
                sent: kind != TransportErrorKind::Connect,
                status: e.status().map(|s| s.as_u16()),
                source: Some(e),
            }
        };
        let sent_at = SystemTime::now();
        let mut resp = self
            .http
            .execute(self.request(call, url, timeout))
            .await
            .map_err(failed)?;
        let status = resp.status();
        // The same URL back is the usual answer; comparing origins builds two `Origin`s, so only when it differs.
        let moved = resp.url() != url && (resp.url().origin() != url.origin() || resp.url().path() != url.path());
        if status.is_redirection() || moved {
            if moved {
                tracing::warn!(
                    "the HTTP client followed a redirect; give the crate a reqwest::Client built with \
                     redirect(Policy::none())"
                );
            }
            return Err(Failure {
                kind: TransportErrorKind::Redirected,
                sent: true,
                status: Some(status.as_u16()),
                source: None,
            });
        }
        let too_large = || Failure {
            kind: TransportErrorKind::BodyTooLarge,
            sent: true,
            status: Some(status.as_u16()),
            source: None,
        };
        let limit = self.max_response_bytes;
        let announced = resp.content_length().or_else(|| content_length(resp.headers()));
        if announced.is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        // Read chunk by chunk (`Response::bytes` is a 568-byte future; `chunk` is 32), within the limit whether or
        // not a length was announced. A body that comes in one chunk, as a small answer does, is kept as it came;
        // only a second chunk starts a buffer.
        let mut first: Option<Bytes> = None;
        let mut buf = BytesMut::new();
        let mut len = 0usize;
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            len += chunk.len();
            if len > limit {
                return Err(too_large());
            }
            match first.take() {
                None if buf.is_empty() => first = Some(chunk),
                earlier => {
                    if let Some(earlier) = earlier {
                        buf.reserve(announced.map_or(0, |n| n as usize).max(len) - buf.len());
                        buf.extend_from_slice(&earlier);
                    }
                    buf.extend_from_slice(&chunk);
                }
            }
        }
        let body = first.unwrap_or_else(|| buf.freeze());
        // Taken only now: kept inside `resp` while the body is read, the header map is not a second time in the
        // future of every call.
        let headers = std::mem::take(resp.headers_mut());
        Ok(Response {
            status,
            headers,
            body,
            attempts: attempt,
            earlier_unknown: false,
            mutating: call.mutating(),
            sent_at,
            received_at: SystemTime::now(),
        })
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

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
        Err(failure) => Err(TransportError {
            kind: failure.kind,
            attempts,
            retry_refused,
            elapsed: started.elapsed(),
            status: failure.status,
            delivery: if failure.sent || earlier_unknown {
                Delivery::Unknown
            } else {
                Delivery::NotSent
            },
            source: failure.source,
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
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
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
            Some(backoff(*base_delay, *max_delay, ctx.attempt))
        }
    }
}

/// How long to wait before asking again about a keyed request the provider is still working on (the `poll`-th time):
/// the provider's `Retry-After`, or from [`MIN_PENDING_POLL`] doubling up to [`MAX_PENDING_WAIT`]. Not bounded by the
/// policy's attempts (each answer is the provider's, not a failure) but by [`MAX_PENDING_POLLS`] and the call's
/// deadline; a custom rule decides whether to ask again, never sooner than [`MIN_PENDING_POLL`].
fn pending_delay(policy: &RetryPolicy, ctx: &RetryContext, poll: u32) -> Option<Duration> {
    match policy {
        RetryPolicy::Never => None,
        RetryPolicy::Custom(f) => f(ctx).map(|d| d.max(MIN_PENDING_POLL)),
        RetryPolicy::Safe { .. } => Some(
            ctx.retry_after
                .unwrap_or_else(|| backoff(MIN_PENDING_POLL * 2, MAX_PENDING_WAIT, poll).max(MIN_PENDING_POLL)),
        ),
    }
}

/// The least wait before asking again about a request the provider is still working on: a busy provider is not
/// helped by being asked every few milliseconds.
const MIN_PENDING_POLL: Duration = Duration::from_millis(200);
/// The longest wait between two such questions.
const MAX_PENDING_WAIT: Duration = Duration::from_secs(2);
/// How many times a call asks again about a request still being worked on before it reports the outcome as
/// unknown (about 10 s of waiting in all, if the deadline allows).
const MAX_PENDING_POLLS: u32 = 8;

/// Exponential backoff from `base`, capped at `max`, with jitter: a random delay between half and the whole keeps
/// many clients from retrying in lockstep.
fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(max);
    let half = capped / 2;
    let jitter = rand::random_range(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
    half + Duration::from_millis(jitter)
}

/// One path segment from caller input: never empty, never a dot segment (which URL normalization would resolve
/// into another path: `..` in `/payments/{id}/cancel` would post to `/payments/cancel`), never a control character;
/// always percent-encoded.
///
/// # Errors
/// An [`InvalidRequest`](crate::InvalidRequest) on `field` for any of the above.
pub(crate) fn path_segment(field: &'static str, value: &str) -> Result<String, crate::InvalidRequest> {
    check_id(field, value)?;
    Ok(encode_segment(value))
}

/// `prefix`, the segment `value` checked as [`path_segment`] does and percent-encoded, then `suffix`, in one
/// string: `"/payments/" + id + "/cancel"`.
///
/// # Errors
/// As [`path_segment`].
pub(crate) fn path_with_segment(
    prefix: &str,
    field: &'static str,
    value: &str,
    suffix: &str,
) -> Result<String, crate::InvalidRequest> {
    check_id(field, value)?;
    let mut path = String::with_capacity(prefix.len() + value.len() + suffix.len());
    path.push_str(prefix);
    push_segment(&mut path, value);
    path.push_str(suffix);
    Ok(path)
}

/// The number of characters of `text` when it has more than `max`, else `None`. A text of at most `max` bytes has
/// at most `max` characters, so the usual short text is not walked character by character.
pub(crate) fn chars_beyond(text: &str, max: usize) -> Option<usize> {
    if text.len() <= max {
        return None;
    }
    Some(text.chars().count()).filter(|&chars| chars > max)
}

/// An id from caller input (sent in a path or a body): not empty or blank, not `.` or `..` (no provider issues
/// such an id, and in a path it would name another resource), no control characters.
///
/// # Errors
/// An [`InvalidRequest`](crate::InvalidRequest) on `field`.
pub(crate) fn check_id(field: &'static str, value: &str) -> Result<(), crate::InvalidRequest> {
    if value.trim().is_empty() {
        return Err(crate::InvalidRequest::new(field, "is empty"));
    }
    if value == "." || value == ".." {
        return Err(crate::InvalidRequest::new(field, "cannot be `.` or `..`"));
    }
    // ASCII text (every id a provider issues) is checked byte by byte; other text by character.
    let control = if value.is_ascii() {
        value.bytes().any(|b| b.is_ascii_control())
    } else {
        value.chars().any(char::is_control)
    };
    if control {
        return Err(crate::InvalidRequest::new(field, "contains a control character"));
    }
    Ok(())
}

/// How much earlier than a call's start, on the provider's clock, a cancel may be dated and still count as made
/// during the call: the rounding of the providers' timestamps is allowed for separately, so this only absorbs
/// clocks that disagree by less than the `Date` header can show. A cancel dated earlier than that belongs to
/// somebody else.
pub(crate) const CLOCK_TOLERANCE_MS: i64 = 500;

/// Milliseconds since the Unix epoch of a local wall-clock instant (negative before it).
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// When a call that started at `started` (local wall clock) started on the provider's clock, in unix ms, as read
/// from the `Date` header of one of the provider's answers.
pub(crate) fn start_on_server_ms(started: SystemTime, answer: &Response) -> i64 {
    unix_ms(started).saturating_add(answer.clock_offset_ms())
}

/// Cancels of one payment in flight in this process, so a cancel that must be settled by reading the payment can
/// tell whether another cancel of the same payment ran beside it (then the payment's data alone cannot say which
/// of two identical cancels was applied).
#[derive(Default)]
struct InFlightTable {
    /// By a hash of the cancel's origin and payment (see [`InFlight::start`]); that hash is the table's own, not
    /// hashed again.
    entries: HashMap<u64, InFlightEntry, std::hash::BuildHasherDefault<KeyIsHash>>,
}

/// The hasher of a map whose `u64` keys are already hashes: the key is used as it is.
#[derive(Default)]
struct KeyIsHash(u64);

impl std::hash::Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it; anything else is folded in, so a misuse still hashes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

#[derive(Default)]
struct InFlightEntry {
    active: usize,
    started: u64,
}

fn in_flight_table() -> &'static Mutex<InFlightTable> {
    static TABLE: std::sync::OnceLock<Mutex<InFlightTable>> = std::sync::OnceLock::new();
    TABLE.get_or_init(Mutex::default)
}

/// One cancel registered as in flight until dropped; see [`InFlight::overlapped`].
pub(crate) struct InFlight {
    key: u64,
    /// Cancels of the same payment already running when this one started.
    others_at_start: usize,
    /// The payment's start counter right after this one started.
    started: u64,
}

impl InFlight {
    /// Registers a cancel named by `parts` (the provider, its base URL, the payment's id field and value).
    ///
    /// Keyed by a 64-bit hash of the parts rather than by their text: two different payments whose hashes met
    /// would only count as overlapping, which makes a report "unverified", never a success it should not be.
    pub fn start(parts: &[&str]) -> InFlight {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        parts.hash(&mut hasher);
        let key = hasher.finish();
        let mut table = in_flight_table().lock().unwrap_or_else(|p| p.into_inner());
        let entry = table.entries.entry(key).or_default();
        let others_at_start = entry.active;
        entry.active += 1;
        entry.started += 1;
        InFlight {
            key,
            others_at_start,
            started: entry.started,
        }
    }

    /// Whether another cancel of the same payment from this process ran at some moment of this one's life so far.
    pub fn overlapped(&self) -> bool {
        let table = in_flight_table().lock().unwrap_or_else(|p| p.into_inner());
        self.others_at_start > 0 || table.entries.get(&self.key).is_some_and(|e| e.started != self.started)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut table = in_flight_table().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = table.entries.get_mut(&self.key) {
            entry.active = entry.active.saturating_sub(1);
            if entry.active == 0 {
                table.entries.remove(&self.key);
            }
        }
    }
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters, so `/`, `?`, `#`, spaces and
/// non-ASCII text stay inside the segment they belong to.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_segment(&mut out, s);
    out
}

/// [`encode_segment`] onto the end of `out`. A segment of unreserved characters only (the usual id) is copied as
/// it is.
pub(crate) fn push_segment(out: &mut String, s: &str) {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        out.push_str(s);
    } else {
        out.extend(percent_encoding::utf8_percent_encode(s, SET));
    }
}

/// Whether a JSON key names a value that must never reach a log or an error message (the table in
/// [`crate::sensitive`]).
pub(crate) fn is_sensitive_key(key: &str) -> bool {
    crate::sensitive::shown_for_key(key).is_some()
}

/// The body with secrets, personal and account data replaced by the table in [`crate::sensitive`], for TRACE logs
/// and error `Debug` output.
pub(crate) fn redacted_body(body: &[u8]) -> String {
    crate::sensitive::redact_json_bytes(body)
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
            mutating: false,
            sent_at: std::time::SystemTime::now(),
            received_at: std::time::SystemTime::now(),
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
        let result = crate::iamport::error::decode_envelope_view::<crate::iamport::Payment>(
            "getPaymentByImpUid",
            &response(status, body),
        );
        if let Ok(payment) = &result {
            let _ = (
                payment.json().expose().len(),
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
        let result = crate::toss::read_view::<crate::toss::Payment>(response(status, body));
        if let Ok(payment) = &result {
            let _ = (
                payment.json().expose().len(),
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
            pending: false,
        }
    }

    #[test]
    fn in_flight_keys_tell_parts_apart_and_count_overlaps() {
        let key = |parts: &[&str]| InFlight::start(parts).key;
        assert_eq!(
            key(&["t", "https://a", "imp_uid", "x"]),
            key(&["t", "https://a", "imp_uid", "x"])
        );
        assert_ne!(
            key(&["t", "https://a", "imp_uid", "ab"]),
            key(&["t", "https://a", "imp_ui", "dab"])
        );
        assert_ne!(
            key(&["t", "https://a", "imp_uid", "x"]),
            key(&["t", "https://b", "imp_uid", "x"])
        );
        let first = InFlight::start(&["t", "overlap", "imp_uid", "x"]);
        assert!(!first.overlapped());
        let second = InFlight::start(&["t", "overlap", "imp_uid", "x"]);
        assert!(first.overlapped() && second.overlapped());
        drop((first, second));
        assert!(!InFlight::start(&["t", "overlap", "imp_uid", "x"]).overlapped());
    }

    #[test]
    fn chars_beyond_counts_characters_not_bytes() {
        for (text, max) in [
            ("", 0),
            ("abc", 3),
            ("abcd", 3),
            ("배송 지연", 5),
            ("배송 지연", 4),
            ("배송 지연 보상", 5),
            ("é", 1),
        ] {
            let chars = text.chars().count();
            assert_eq!(
                chars_beyond(text, max),
                (chars > max).then_some(chars),
                "{text:?} with at most {max}"
            );
        }
    }

    #[test]
    fn a_segment_copied_as_it_is_is_the_segment_percent_encoding_gives() {
        const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        for id in [
            "order-20240915-48213",
            "tgen_20240915_Az~.9",
            "a b",
            "a/b?c#d",
            "%41",
            "주문-1",
            "..",
            "",
            "\u{7f}",
        ] {
            let encoded = percent_encoding::utf8_percent_encode(id, SET).to_string();
            assert_eq!(encode_segment(id), encoded, "{id:?}");
            assert_eq!(
                path_with_segment("/payments/", "paymentId", id, "/cancel").ok(),
                check_id("paymentId", id)
                    .ok()
                    .map(|()| format!("/payments/{encoded}/cancel")),
                "{id:?}"
            );
        }
        assert!(check_id("paymentId", "a\u{85}b").is_err(), "a C1 control character");
        assert!(check_id("paymentId", "a\tb").is_err());
    }

    #[test]
    fn a_url_built_on_the_parsed_base_is_the_url_a_full_parse_gives() {
        let paths = [
            "/payments/order-1/cancel",
            "/v1/payments/tgen_%2F%2E%2E%20x/cancel",
            "/payments/%ED%95%9C%EA%B8%80",
            "/payments/한글 x/cancel",
            "/payments/a%25b/c\\d",
            "/payments/./x/../y",
            "/payments//double",
            "/payments/cancel?imp_uid=a&b=%20",
            "/payments/x#frag",
            "",
            "?only=query",
        ];
        for base in [
            "http://127.0.0.1:8080",
            "https://api.iamport.kr/",
            "http://localhost:1/prefix/",
            "http://[::1]:9/p%20q",
        ] {
            let options = Options {
                base_url: Some(base.to_string()),
                ..Options::default()
            };
            let transport = Transport::new("test", base, options).unwrap();
            for path in paths {
                let mut call = Call::new("op", Method::POST, "/t", path.to_string());
                let expected = reqwest::Url::parse(&format!("{}{}", transport.base_url, path)).ok();
                assert_eq!(transport.url(&call), expected, "{base} + {path}");
                call.query.push(("storeId", "store-1 &x".to_string()));
                let with_query = transport.url(&call).map(|u| u.to_string());
                assert!(
                    with_query.as_deref().is_none_or(|u| u.contains("storeId=store-1+%26x")),
                    "{with_query:?}"
                );
            }
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
