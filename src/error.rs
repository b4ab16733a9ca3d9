//! Errors shared by every provider.
//!
//! Each API call returns `Result<T, Error<E>>`, where `E` is the typed error body of that operation (for PortOne V2
//! the generated per-operation union, e.g. `CancelPaymentError`; for iamport and Toss the provider's error type).
//! Beside the API's own answer, an [`Error`] says whether anything was sent at all ([`Error::InvalidRequest`] never
//! sends), whether a response arrived ([`Error::Transport`]) and whether it could be read ([`Error::Decode`]).
//! No variant ever carries request headers, so credentials cannot leak through an error.

use std::fmt;
use std::time::Duration;

/// What every typed API error body can tell: its code and message.
pub trait ApiErrorBody: fmt::Debug {
    /// The provider's error code or type, e.g. `PAYMENT_NOT_FOUND`, `ALREADY_CANCELED_PAYMENT`, or iamport's
    /// numeric `code` as text.
    fn code(&self) -> &str;
    /// The provider's human-readable message, if it sent one.
    fn message(&self) -> Option<&str>;
}

/// The error of one API call. `E` is the operation's typed error body.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// The request was refused before anything was sent (bad input, or a rule that would refund the wrong
    /// amount). Nothing reached the provider.
    InvalidRequest(InvalidRequest),
    /// The provider answered with an error.
    Api(ApiError<E>),
    /// No usable response: connection refused or reset, timeout, TLS failure, or a retry that was refused.
    Transport(TransportError),
    /// A response arrived but its body does not decode to what the operation returns.
    Decode(DecodeError),
}

impl<E> Error<E> {
    /// Whether the same call may succeed if tried again later: timeouts, connection failures, HTTP 429 and 5xx.
    ///
    /// This says nothing about whether a retry is *harmless*: replaying an unguarded cancel after a timeout can
    /// refund twice. The crate's own retries only replay calls that are guarded (see [`crate::transport`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::InvalidRequest(_) => false,
            // An HTML error page from a proxy on a 502/503 is as transient as a JSON one.
            Error::Decode(d) => d.status == 429 || d.status >= 500,
            Error::Api(e) => e.status == 429 || e.status >= 500,
            Error::Transport(t) => t.retry_refused.is_none() || t.kind != TransportErrorKind::Other,
        }
    }

    /// Whether the call timed out (the outcome on the provider's side is then unknown).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport(t) if t.kind == TransportErrorKind::Timeout)
    }

    /// The HTTP status of the response, when one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode(d) => Some(d.status),
            _ => None,
        }
    }

    /// The typed API error, if the provider answered with one.
    pub fn api(&self) -> Option<&E> {
        match self {
            Error::Api(e) => Some(&e.error),
            _ => None,
        }
    }

    /// Whether the request certainly never reached the provider (so nothing can have been applied). False when any
    /// attempt may have reached it, even if the last one could not connect.
    pub fn nothing_sent(&self) -> bool {
        match self {
            Error::InvalidRequest(_) => true,
            Error::Transport(t) => t.kind == TransportErrorKind::Connect && !t.earlier_unknown,
            _ => false,
        }
    }

    /// Maps the typed error body, keeping everything else.
    pub fn map_api<F, G: FnOnce(E) -> F>(self, f: G) -> Error<F> {
        match self {
            Error::InvalidRequest(e) => Error::InvalidRequest(e),
            Error::Api(e) => Error::Api(ApiError {
                status: e.status,
                error: f(e.error),
            }),
            Error::Transport(e) => Error::Transport(e),
            Error::Decode(e) => Error::Decode(e),
        }
    }
}

impl<E: ApiErrorBody> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRequest(e) => write!(f, "invalid request, nothing sent: {e}"),
            Error::Api(e) => match e.error.message() {
                Some(m) => write!(f, "HTTP {}: {}: {m}", e.status, e.error.code()),
                None => write!(f, "HTTP {}: {}", e.status, e.error.code()),
            },
            Error::Transport(e) => e.fmt(f),
            Error::Decode(e) => e.fmt(f),
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
    /// Whether an attempt before the last one may have reached the provider without a definitive answer (a
    /// timeout, a dropped connection, a 5xx). Read through [`TransportError::outcome_unknown`].
    pub(crate) earlier_unknown: bool,
    pub(crate) source: Option<reqwest::Error>,
}

impl TransportError {
    /// Whether the call may have been applied by the provider: some attempt reached it (or may have) and no
    /// definitive answer came back. Only `false` when every attempt failed to connect, so nothing was sent.
    ///
    /// After a cancel fails this way, read the payment before deciding anything: the refund may have happened.
    pub fn outcome_unknown(&self) -> bool {
        self.earlier_unknown || self.kind != TransportErrorKind::Connect
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connect if self.earlier_unknown => {
                "could not connect on the last attempt, but an earlier attempt may have reached the provider (the \
                 outcome is unknown)"
            }
            TransportErrorKind::Connect => "could not connect (nothing was sent)",
            TransportErrorKind::Timeout => "timed out (the outcome on the provider's side is unknown)",
            TransportErrorKind::Interrupted => "connection failed mid-request (the outcome is unknown)",
            TransportErrorKind::Other => "request failed",
        };
        write!(f, "{what} after {} attempt(s)", self.attempts)?;
        if let Some(why) = self.retry_refused {
            write!(f, "; not retried: {why}")?;
        }
        if let Some(s) = &self.source {
            // reqwest names the URL but never headers.
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}
impl std::error::Error for TransportError {}

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
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("status", &self.status)
            .field("path", &self.path)
            .field("message", &self.message)
            .field("body", &format_args!("{}", crate::transport::redacted_body(&self.body)))
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot decode the HTTP {} response at `{}`: {}",
            self.status, self.path, self.message
        )
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
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(status: u16, body: &bytes::Bytes) -> Result<T, DecodeError> {
    if let Ok(value) = serde_json::from_slice::<T>(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let fail = |path: String, message: String| DecodeError {
        status,
        path,
        message,
        body: body.clone(),
    };
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

    fn transport(kind: TransportErrorKind, earlier_unknown: bool) -> TransportError {
        TransportError {
            kind,
            attempts: 3,
            retry_refused: None,
            elapsed: Duration::from_millis(10),
            earlier_unknown,
            source: None,
        }
    }

    #[test]
    fn a_connection_refused_after_an_unknown_attempt_is_not_nothing_sent() {
        let clean: Error<()> = Error::Transport(transport(TransportErrorKind::Connect, false));
        assert!(clean.nothing_sent());
        let after_timeout: Error<()> = Error::Transport(transport(TransportErrorKind::Connect, true));
        assert!(!after_timeout.nothing_sent());
        let Error::Transport(t) = &after_timeout else {
            unreachable!()
        };
        assert!(t.outcome_unknown());
        assert!(t.to_string().contains("outcome is unknown"), "{t}");
        assert!(!transport(TransportErrorKind::Connect, false).outcome_unknown());
        assert!(transport(TransportErrorKind::Timeout, false).outcome_unknown());
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
