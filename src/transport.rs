//! One HTTP policy for every provider: timeouts, retries that never double-refund, tracing, redaction.
//!
//! # Timeouts
//! Every client has a connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`], 10 s) and a total timeout per attempt
//! (default [`DEFAULT_TIMEOUT`], 60 s). The total is long on purpose: a cancel travels from the gateway to the PG
//! and on to the card issuer or bank, and PG cancels taking tens of seconds are normal. A short timeout does not
//! make a refund faster, it only turns a refund that happened into one whose outcome is unknown. Every facade
//! request builder can override it per call.
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
//! ([`crate::error::TransportError::retry_refused`]). HTTP 429 and 503 honour `Retry-After`.
//!
//! # Tracing
//! Each attempt is a `tracing` span `kr_payments.request` with the provider, operation, method, path *template*
//! (never the filled path, which may hold ids), attempt, status and latency. No header value, token or secret is
//! ever recorded; bodies are logged only at TRACE level, with account numbers, names and phone numbers redacted.

use crate::error::{TransportError, TransportErrorKind};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        loop {
            attempt += 1;
            let outcome = self.attempt(call, attempt).await;
            let (ctx, refusable) = match &outcome {
                Ok(resp) if !matches!(resp.status.as_u16(), 429 | 500 | 502 | 503 | 504) => {
                    return finish(outcome, attempt, None, started);
                }
                Ok(resp) => {
                    let ctx = RetryContext {
                        attempt,
                        operation: call.operation,
                        status: Some(resp.status.as_u16()),
                        failure: None,
                        retry_after: retry_after(&resp.headers),
                    };
                    (ctx, true)
                }
                Err((kind, _)) => {
                    let ctx = RetryContext {
                        attempt,
                        operation: call.operation,
                        status: None,
                        failure: Some(*kind),
                        retry_after: None,
                    };
                    // Nothing was sent: replaying cannot apply anything twice.
                    (ctx, *kind != TransportErrorKind::Connect)
                }
            };
            let unsafe_reason = match call.replay {
                Replay::Unsafe(why) if refusable => Some(why),
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
                        delay_ms = d.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(d).await;
                }
                None => {
                    let refused = unsafe_reason.filter(|_| !matches!(policy, RetryPolicy::Never));
                    return finish(outcome, attempt, refused, started);
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
            Ok::<_, reqwest::Error>(Response { status, headers, body })
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
    started: Instant,
) -> Result<Response, TransportError> {
    outcome.map_err(|(kind, source)| TransportError {
        kind,
        attempts,
        retry_refused,
        elapsed: started.elapsed(),
        source,
    })
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

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>().ok().map(Duration::from_secs)
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
            let exp = base_delay.saturating_mul(1u32 << (ctx.attempt - 1).min(16));
            let capped = exp.min(*max_delay);
            // Full jitter between half and the whole delay keeps many clients from retrying in lockstep.
            let half = capped / 2;
            let jitter = rand::random_range(0..=half.as_millis() as u64);
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

/// Keys whose values identify a person or an account; their values never reach a log.
const REDACTED_KEYS: &[&str] = &[
    "number",
    "accountNumber",
    "account_number",
    "holderName",
    "holder_name",
    "holderPhoneNumber",
    "refund_account",
    "refund_holder",
    "refund_tel",
    "customerName",
    "customerMobilePhone",
    "customerEmail",
    "buyer_name",
    "buyer_tel",
    "buyer_email",
    "buyer_addr",
    "card_number",
    "vbank_num",
    "vbank_holder",
    "access_token",
    "imp_secret",
    "imp_key",
    "secret",
    "billingKey",
    "customer_uid",
    "phoneNumber",
    "email",
    "name",
    "birthday",
];

/// The body with personal and account data replaced, for TRACE logs.
pub(crate) fn redacted_body(body: &[u8]) -> String {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if REDACTED_KEYS.contains(&k.as_str()) && !child.is_null() {
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
