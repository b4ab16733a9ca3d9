//! Errors shared by every provider.
//!
//! Each API call returns `Result<T, Error<E>>`, where `E` is the typed error body of that operation (for PortOne V2
//! the generated per-operation union, e.g. `CancelPaymentError`; for iamport and Toss the provider's error type).
//! Beside the API's own answer, an [`Error`] says whether anything was sent at all ([`Error::InvalidRequest`] never
//! sends), whether a response arrived ([`Error::Transport`]) and whether it could be read ([`Error::Decode`]).
//! No variant ever carries request headers, so credentials cannot leak through an error.

use crate::raw_json::{RawJson, bounded};
use std::fmt;
use std::time::Duration;

/// The most a provider's message or serde's description adds to an error's `Display`, in bytes.
const MESSAGE_LIMIT: usize = 300;
/// The most an error's `Debug` prints, in bytes.
const DEBUG_LIMIT: usize = 4096;

/// What every typed API error body can tell: its code and message.
pub trait ApiErrorBody: fmt::Debug {
    /// The provider's error code or type, e.g. `PAYMENT_NOT_FOUND`, `ALREADY_CANCELED_PAYMENT`, or iamport's
    /// numeric `code` as text.
    fn code(&self) -> &str;
    /// The provider's human-readable message, if it sent one.
    fn message(&self) -> Option<&str>;
    /// Whether the provider's code itself says that the same request may succeed later (`Some`), or leaves that
    /// to the HTTP status (`None`, the default). Toss's codes say it ([`crate::toss::ErrorCode::is_retryable`]).
    fn retryable(&self) -> Option<bool> {
        None
    }
}

/// What a failed call did at the provider, as far as the crate can tell. Every error has one
/// ([`Error::delivery`]); retries, reconciliation and the error's own wording all follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Delivery {
    /// The request never left this process (refused before sending, a connection that could not be made, an
    /// access token that could not be obtained): nothing can have been applied.
    NotSent,
    /// The provider answered, and its answer says nothing was applied (a refusal, or a read).
    Refused,
    /// The request may have been applied: it timed out, lost its connection, was answered with a redirect, 401,
    /// 408, 429 or 5xx, its answer could not be read, or the answer contradicts the request. Read the payment (or
    /// send the same request again with the same idempotency key) before deciding anything.
    Unknown,
}

impl Delivery {
    /// The delivery of an HTTP answer with `status` to a call that may change something (`mutating`): the
    /// provider's word for most statuses, unknown for the ones a proxy or an overloaded server gives for a request
    /// that may still have been applied.
    pub(crate) fn of_answer(status: u16, mutating: bool) -> Delivery {
        if mutating
            && (status == 401 || status == 408 || status == 429 || status >= 500 || (300..400).contains(&status))
        {
            Delivery::Unknown
        } else {
            Delivery::Refused
        }
    }

    /// The delivery of an answer that could not be read: for a call that may change something, nobody's word.
    pub(crate) fn of_unreadable(mutating: bool) -> Delivery {
        if mutating { Delivery::Unknown } else { Delivery::Refused }
    }

    fn describe(self) -> &'static str {
        match self {
            Delivery::NotSent => "nothing was sent",
            Delivery::Refused => "nothing was applied",
            Delivery::Unknown => "the outcome is unknown: read the payment before trying again",
        }
    }
}

/// The error of one API call. `E` is the operation's typed error body.
#[non_exhaustive]
pub enum Error<E> {
    /// The request was refused before anything was sent (bad input, or a rule that would refund the wrong
    /// amount). Nothing reached the provider.
    InvalidRequest(InvalidRequest),
    /// The provider answered with an error.
    Api(ApiError<E>),
    /// No usable response: connection refused or reset, timeout, TLS failure, a redirect (never followed), an
    /// answer above the size limit, or a retry that was refused.
    Transport(TransportError),
    /// A response arrived but its body does not decode to what the operation returns.
    Decode(DecodeError),
    /// The provider answered with success, but the answer contradicts the request: it names another payment,
    /// refunds another amount than asked, a negative amount or more than the balance, or has no entry for this
    /// request. Money may have moved; the answer is kept.
    Inconsistent(InconsistentAnswer),
    /// An attempt's outcome was unknown, and reading the payment could not prove what happened: a cancel that fits
    /// this request is there, but the provider's data cannot tell it from another identical one. Money may have
    /// moved; the evidence is kept.
    Unverified(Unverified),
}

impl<E: ApiErrorBody> Error<E> {
    /// Whether the same call may succeed if tried again later: what the provider's code says where it says
    /// anything ([`ApiErrorBody::retryable`]), else timeouts, connection failures, HTTP 429 and 5xx.
    ///
    /// This says nothing about whether a retry is *harmless*: replaying an unguarded cancel after a timeout can
    /// refund twice. The crate's own retries only replay calls that are guarded (see [`crate::transport`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::InvalidRequest(_) | Error::Inconsistent(_) | Error::Unverified(_) => false,
            // An HTML error page from a proxy on a 502/503 is as transient as a JSON one.
            Error::Decode(d) => d.status == 429 || d.status >= 500,
            Error::Api(e) => e.error.retryable().unwrap_or(e.status == 429 || e.status >= 500),
            Error::Transport(t) => matches!(
                t.kind,
                TransportErrorKind::Connect | TransportErrorKind::Timeout | TransportErrorKind::Interrupted
            ),
        }
    }
}

impl<E> Error<E> {
    /// Whether the call timed out (the outcome on the provider's side is then unknown).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport(t) if t.kind == TransportErrorKind::Timeout)
    }

    /// The HTTP status of the response, when one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode(d) => Some(d.status),
            Error::Transport(t) => t.status,
            Error::Inconsistent(i) => Some(i.status),
            Error::InvalidRequest(_) | Error::Unverified(_) => None,
        }
    }

    /// The typed API error, if the provider answered with one.
    pub fn api(&self) -> Option<&E> {
        match self {
            Error::Api(e) => Some(&e.error),
            _ => None,
        }
    }

    /// What the call did at the provider: [`Delivery::NotSent`], [`Delivery::Refused`] (the provider's word that
    /// nothing was applied) or [`Delivery::Unknown`].
    pub fn delivery(&self) -> Delivery {
        match self {
            Error::InvalidRequest(_) => Delivery::NotSent,
            Error::Api(e) => e.delivery,
            Error::Transport(t) => t.delivery,
            Error::Decode(d) => d.delivery,
            Error::Inconsistent(_) | Error::Unverified(_) => Delivery::Unknown,
        }
    }

    /// Whether the request certainly never reached the provider (so nothing can have been applied): refused before
    /// sending, a connection that could not be made on every attempt, or a prerequisite (iamport's access token)
    /// that could not be obtained.
    pub fn nothing_sent(&self) -> bool {
        self.delivery() == Delivery::NotSent
    }

    /// Whether the request may have been applied without the crate knowing it: see [`Delivery::Unknown`].
    pub fn outcome_unknown(&self) -> bool {
        self.delivery() == Delivery::Unknown
    }

    /// Maps the typed error body, keeping everything else.
    pub fn map_api<F, G: FnOnce(E) -> F>(self, f: G) -> Error<F> {
        match self {
            Error::InvalidRequest(e) => Error::InvalidRequest(e),
            Error::Api(e) => Error::Api(ApiError {
                status: e.status,
                error: f(e.error),
                delivery: e.delivery,
            }),
            Error::Transport(e) => Error::Transport(e),
            Error::Decode(e) => Error::Decode(e),
            Error::Inconsistent(e) => Error::Inconsistent(e),
            Error::Unverified(e) => Error::Unverified(e),
        }
    }

    /// The same error, marked as the failure of something the request needed before it could be sent (iamport's
    /// access token): whatever happened to that, the request itself never left.
    pub(crate) fn before_sending(mut self) -> Self {
        match &mut self {
            Error::Api(e) => e.delivery = Delivery::NotSent,
            Error::Transport(t) => t.delivery = Delivery::NotSent,
            Error::Decode(d) => d.delivery = Delivery::NotSent,
            Error::InvalidRequest(_) | Error::Inconsistent(_) | Error::Unverified(_) => {}
        }
        self
    }

    /// The same error with its delivery replaced: a facade that proved what happened (a refusal after an attempt
    /// whose outcome was unknown, settled by reading the payment) says so.
    pub(crate) fn with_delivery(mut self, delivery: Delivery) -> Self {
        match &mut self {
            Error::Api(e) => e.delivery = delivery,
            Error::Transport(t) => t.delivery = delivery,
            Error::Decode(d) => d.delivery = delivery,
            Error::InvalidRequest(_) | Error::Inconsistent(_) | Error::Unverified(_) => {}
        }
        self
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    // A provider can put anything in a body: the output is cut, whatever the error holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner: &dyn fmt::Debug = match self {
            Error::InvalidRequest(e) => e,
            Error::Api(e) => e,
            Error::Transport(e) => e,
            Error::Decode(e) => e,
            Error::Inconsistent(e) => e,
            Error::Unverified(e) => e,
        };
        let name = match self {
            Error::InvalidRequest(_) => "InvalidRequest",
            Error::Api(_) => "Api",
            Error::Transport(_) => "Transport",
            Error::Decode(_) => "Decode",
            Error::Inconsistent(_) => "Inconsistent",
            Error::Unverified(_) => "Unverified",
        };
        write!(f, "{name}({})", bounded_debug(inner, DEBUG_LIMIT))
    }
}

impl<E: ApiErrorBody> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRequest(e) => write!(f, "invalid request, nothing sent: {e}"),
            Error::Api(e) => {
                write!(f, "HTTP {}: {}", e.status, bounded(e.error.code(), MESSAGE_LIMIT))?;
                if let Some(m) = e.error.message() {
                    write!(f, ": {}", bounded(m, MESSAGE_LIMIT))?;
                }
                // An answer that is not to the request itself (iamport's token request) left the request unsent.
                if e.delivery != Delivery::Refused {
                    write!(f, " ({})", e.delivery.describe())?;
                }
                Ok(())
            }
            Error::Transport(e) => e.fmt(f),
            Error::Decode(e) => e.fmt(f),
            Error::Inconsistent(e) => e.fmt(f),
            Error::Unverified(e) => e.fmt(f),
        }
    }
}

impl<E: ApiErrorBody> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Transport(t) => t.source.as_ref().map(|s| s as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

impl<E> From<InvalidRequest> for Error<E> {
    fn from(e: InvalidRequest) -> Self {
        Error::InvalidRequest(e)
    }
}
impl<E> From<TransportError> for Error<E> {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}
impl<E> From<DecodeError> for Error<E> {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

/// An error answer from the provider, with the HTTP status it came with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError<E> {
    /// HTTP status code (iamport failures often arrive with 200 and a non-zero `code`).
    pub status: u16,
    /// The typed error body.
    pub error: E,
    pub(crate) delivery: Delivery,
}

impl<E> ApiError<E> {
    /// An error answer to a call that may change something (`mutating`) or not.
    pub(crate) fn answer(status: u16, error: E, mutating: bool) -> Self {
        ApiError {
            status,
            error,
            delivery: Delivery::of_answer(status, mutating),
        }
    }

    /// What the call did at the provider; see [`Delivery`].
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }
}

/// A request refused before sending. `field` names the offending input in the provider's wire terms.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidRequest {
    /// The request field at fault (e.g. `amount`, `refundAccount.number`).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidRequest {
    /// A refusal for `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.field, self.reason)
    }
}
impl std::error::Error for InvalidRequest {}

/// How a call failed to produce a usable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made: the request was not sent.
    Connect,
    /// No complete response within the timeout: the request may or may not have been applied.
    Timeout,
    /// The connection failed after the request was (possibly) sent: the outcome is unknown.
    Interrupted,
    /// The answer was a redirect (3xx). The crate never follows one: a refund is not sent twice, and no body or
    /// credential goes to another origin. The request may have been applied before the redirect was answered.
    Redirected,
    /// The answer was larger than the client's response size limit and was not read.
    BodyTooLarge,
    /// Anything else (e.g. building the request).
    Other,
}

/// A failure below the API: no response, or none that could be used.
#[derive(Debug)]
#[non_exhaustive]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportErrorKind,
    /// How many attempts were made in total.
    pub attempts: u32,
    /// Set when a retry would have been possible but was refused because replaying the call could apply it
    /// twice (an unguarded cancel); says why.
    pub retry_refused: Option<&'static str>,
    /// Time spent across all attempts.
    pub elapsed: Duration,
    /// The HTTP status, when an answer arrived that could not be used (a redirect, an answer above the size limit).
    pub status: Option<u16>,
    pub(crate) delivery: Delivery,
    pub(crate) source: Option<reqwest::Error>,
}

impl TransportError {
    /// Whether the call may have been applied by the provider: some attempt reached it (or may have) and no
    /// definitive answer came back. Only `false` when no attempt left this process.
    ///
    /// After a cancel fails this way, read the payment before deciding anything: the refund may have happened.
    pub fn outcome_unknown(&self) -> bool {
        self.delivery == Delivery::Unknown
    }

    /// What the call did at the provider; see [`Delivery`].
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Interrupted => "connection failed mid-request",
            TransportErrorKind::Redirected => "answered with a redirect, which is never followed",
            TransportErrorKind::BodyTooLarge => "answered with a body above the response size limit",
            TransportErrorKind::Other => "request failed",
        };
        write!(f, "{what}")?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, " after {} attempt(s); {}", self.attempts, self.delivery.describe())?;
        if let Some(why) = self.retry_refused {
            write!(f, "; not retried: {why}")?;
        }
        if let Some(s) = &self.source {
            // reqwest names the URL but never headers.
            write!(f, ": {}", bounded(&s.to_string(), MESSAGE_LIMIT))?;
        }
        Ok(())
    }
}
impl std::error::Error for TransportError {}

/// A successful answer that contradicts the request: see [`Error::Inconsistent`].
///
/// `Debug` and `Display` print the answer redacted and cut ([`RawJson`]); [`InconsistentAnswer::answer`] keeps it
/// exactly as received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InconsistentAnswer {
    /// The operation, e.g. `cancelPayment`.
    pub operation: &'static str,
    /// HTTP status of the answer.
    pub status: u16,
    /// What does not fit, in the provider's wire terms (e.g. `cancellation.totalAmount is -3000; a refund is
    /// positive`).
    pub reason: String,
    /// The answer as received.
    pub answer: RawJson,
}

impl fmt::Display for InconsistentAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answered HTTP {} with success, but the answer contradicts the request: {}; money may have moved: \
             read the payment before trying again",
            self.operation,
            self.status,
            bounded(&self.reason, MESSAGE_LIMIT)
        )
    }
}
impl std::error::Error for InconsistentAnswer {}

/// A request whose outcome could not be proven: see [`Error::Unverified`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Unverified {
    /// The operation, e.g. `cancelPayment`.
    pub operation: &'static str,
    /// Why the crate could not tell, in plain words.
    pub reason: String,
    /// What the last attempt got (a refusal code, a timeout, ...).
    pub last_answer: String,
    /// The evidence: the cancel entry (or the payment) that fits the request, as the provider sent it.
    pub evidence: RawJson,
}

impl fmt::Display for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the outcome is unverified ({}); the last attempt got {}; money may have moved: check the payment \
             before trying again",
            self.operation,
            bounded(&self.reason, MESSAGE_LIMIT),
            bounded(&self.last_answer, MESSAGE_LIMIT)
        )
    }
}
impl std::error::Error for Unverified {}

/// `value`'s `Debug`, cut to `limit` bytes.
pub(crate) fn bounded_debug(value: &dyn fmt::Debug, limit: usize) -> String {
    struct Capped {
        out: String,
        limit: usize,
        total: usize,
    }
    impl fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.total += s.len();
            let room = self.limit.saturating_sub(self.out.len());
            if room > 0 {
                let mut end = room.min(s.len());
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                self.out.push_str(&s[..end]);
            }
            // Never an error: a formatter that fails makes `format!` panic.
            Ok(())
        }
    }
    let mut capped = Capped {
        out: String::new(),
        limit,
        total: 0,
    };
    let _ = fmt::write(&mut capped, format_args!("{value:?}"));
    if capped.total > capped.out.len() {
        capped.out.push_str(&format!("… ({} bytes in all)", capped.total));
    }
    capped.out
}

/// A response body that does not match what the operation returns.
///
/// `Debug` shows the body with secrets, tokens, card and account numbers and personal data replaced (the same
/// redaction as TRACE logs); [`DecodeError::body`] keeps it exactly as received.
#[derive(Clone)]
#[non_exhaustive]
pub struct DecodeError {
    /// HTTP status of the response.
    pub status: u16,
    /// JSON path of the first mismatch (e.g. `cancellation.totalAmount`), `.` for the root.
    pub path: String,
    /// What serde said about it.
    pub message: String,
    /// The raw body, kept so nothing the provider said is lost.
    pub body: bytes::Bytes,
    pub(crate) delivery: Delivery,
}

impl DecodeError {
    /// A body of an answer with `status` that does not decode, to a call that may change something (`mutating`)
    /// or not.
    pub(crate) fn new(status: u16, path: impl Into<String>, message: impl Into<String>, body: bytes::Bytes) -> Self {
        DecodeError {
            status,
            path: path.into(),
            message: message.into(),
            body,
            delivery: Delivery::Refused,
        }
    }

    /// What the call did at the provider; see [`Delivery`].
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// The same error for an answer to a call that may change something: nobody's word on what was applied.
    pub(crate) fn for_mutation(mut self, mutating: bool) -> Self {
        self.delivery = Delivery::of_unreadable(mutating);
        self
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("status", &self.status)
            .field("path", &self.path)
            .field("message", &self.message)
            .field(
                "body",
                &format_args!("{}", bounded(&crate::transport::redacted_body(&self.body), DEBUG_LIMIT)),
            )
            .field("delivery", &self.delivery)
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot decode the HTTP {} response at `{}`: {}",
            self.status,
            bounded(&self.path, MESSAGE_LIMIT),
            bounded(&self.message, MESSAGE_LIMIT)
        )?;
        if self.delivery != Delivery::Refused {
            write!(f, " ({})", self.delivery.describe())?;
        }
        Ok(())
    }
}
impl std::error::Error for DecodeError {}

/// Decodes JSON, naming the path of the first mismatch on failure.
///
/// serde quotes the offending value in its message (`invalid type: string "…"`); when the path ends in a field
/// that holds a secret or an account number, the message says what was expected without quoting it.
///
/// The common case pays for nothing: the body is decoded with plain serde, and only a body that fails is decoded a
/// second time with path tracking, to say where it failed (`benches/decode.rs` measures both).
///
/// A body that is UTF-8 throughout, as every provider's is, is checked so once (`simdutf8`) and decoded as text,
/// so serde does not check each string it reads again; that is cheaper than the check per string. Any other body
/// is decoded as bytes, with the same results as before.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(status: u16, body: &bytes::Bytes) -> Result<T, DecodeError> {
    let plain = match simdutf8::basic::from_utf8(body) {
        Ok(text) => serde_json::from_str::<T>(text),
        Err(_) => serde_json::from_slice::<T>(body),
    };
    if let Ok(value) = plain {
        return Ok(value);
    }
    decode_json_failed(status, body)
}

/// [`decode_json`] of a body already checked to be UTF-8 throughout, given as `text`: serde then does not check
/// each string it reads again. The same result and the same errors.
pub(crate) fn decode_json_text<T: serde::de::DeserializeOwned>(
    status: u16,
    text: &str,
    body: &bytes::Bytes,
) -> Result<T, DecodeError> {
    if let Ok(value) = serde_json::from_str::<T>(text) {
        return Ok(value);
    }
    decode_json_failed(status, body)
}

/// The error of a body the plain decode refused, with the path of the first mismatch.
#[cold]
fn decode_json_failed<T: serde::de::DeserializeOwned>(status: u16, body: &bytes::Bytes) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let fail = |path: String, message: String| DecodeError::new(status, path, message, body.clone());
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = if path_is_sensitive(&path) {
            "the value does not have the expected type or format (not shown: the field is sensitive)".to_string()
        } else {
            e.inner().to_string()
        };
        fail(path, message)
    })?;
    de.end().map_err(|e| fail(".".into(), e.to_string()))?;
    // Only reached when the plain decode failed; a decoder that accepts on the second pass would be a serde bug,
    // and the value is still right.
    Ok(value)
}

/// Whether a JSON path as `serde_path_to_error` prints it (`card.number`, `customer.name.full`) goes through a field
/// whose value must not be quoted.
fn path_is_sensitive(path: &str) -> bool {
    path.split('.')
        .map(|part| part.split('[').next().unwrap_or(part))
        .any(crate::transport::is_sensitive_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(kind: TransportErrorKind, delivery: Delivery) -> TransportError {
        TransportError {
            kind,
            attempts: 3,
            retry_refused: None,
            elapsed: Duration::from_millis(10),
            status: None,
            delivery,
            source: None,
        }
    }

    #[test]
    fn every_error_says_what_it_did_at_the_provider() {
        let clean: Error<()> = Error::Transport(transport(TransportErrorKind::Connect, Delivery::NotSent));
        assert!(clean.nothing_sent());
        assert!(clean.to_string_lossy().contains("nothing was sent"));
        let after_timeout: Error<()> = Error::Transport(transport(TransportErrorKind::Connect, Delivery::Unknown));
        assert!(!after_timeout.nothing_sent());
        assert!(after_timeout.outcome_unknown());
        assert!(after_timeout.to_string_lossy().contains("outcome is unknown"));
        assert_eq!(Delivery::of_answer(409, true), Delivery::Refused);
        for status in [307, 308, 401, 408, 429, 500, 502, 503] {
            assert_eq!(Delivery::of_answer(status, true), Delivery::Unknown, "{status}");
            assert_eq!(
                Delivery::of_answer(status, false),
                Delivery::Refused,
                "{status} on a read"
            );
        }
        let invalid: Error<()> = InvalidRequest::new("amount", "is 0").into();
        assert!(invalid.nothing_sent());
    }

    impl<E> Error<E> {
        fn to_string_lossy(&self) -> String {
            match self {
                Error::Transport(t) => t.to_string(),
                Error::InvalidRequest(i) => i.to_string(),
                _ => String::new(),
            }
        }
    }

    #[test]
    fn error_output_is_bounded_whatever_the_provider_sent() {
        let huge = "x".repeat(1_000_000);
        let decode = DecodeError::new(
            200,
            ".",
            huge.clone(),
            bytes::Bytes::from(format!("{{\"m\":\"{huge}\"}}")),
        );
        assert!(decode.to_string().len() < 1_000, "{}", decode.to_string().len());
        let e: Error<String> = Error::Decode(decode);
        assert!(format!("{e:?}").len() < 2 * DEBUG_LIMIT);
        let api: Error<String> = Error::Api(ApiError::answer(500, huge, true));
        assert!(format!("{api:?}").len() < 2 * DEBUG_LIMIT);
        assert!(api.outcome_unknown());
    }

    #[test]
    fn decode_errors_never_quote_a_sensitive_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Card {
            number: u64,
            amount: u64,
        }
        let body = bytes::Bytes::from_static(br#"{"number": "4111111111111111", "amount": 1}"#);
        let e = decode_json::<Card>(200, &body).unwrap_err();
        assert_eq!(e.path, "number");
        assert!(!e.message.contains("4111"), "{}", e.message);
        assert!(!format!("{e:?}").contains("4111"), "{e:?}");
        assert_eq!(e.body, body, "the raw body is kept for the caller");
        let body = bytes::Bytes::from_static(br#"{"number": 1, "amount": "x"}"#);
        let e = decode_json::<Card>(200, &body).unwrap_err();
        assert!(
            e.message.contains("\"x\""),
            "other fields keep serde's words: {}",
            e.message
        );
    }
}
