//! Verifying and decoding PortOne V2 webhooks (the `2024-04-25` format).
//!
//! PortOne signs every delivery the way the Standard Webhooks scheme does:
//!
//! - three headers travel with the body: `webhook-id` (unique per delivery), `webhook-timestamp`
//!   (unix seconds when the delivery was signed) and `webhook-signature`;
//! - the signed bytes are `"{webhook-id}.{webhook-timestamp}."` followed by the raw body;
//! - the tag is HMAC-SHA256 under the webhook secret, written as standard padded base64;
//! - `webhook-signature` is a space-separated list of `<version>,<tag>` entries. Only `v1` entries
//!   are considered, and one matching entry is enough.
//!
//! [`Verifier`] checks all of that (constant-time comparison, a ±5 minute window around its clock,
//! up to two secrets so a rotation never drops deliveries) and then decodes the body into an
//! [`Event`].
//!
//! # Verify the raw bytes
//!
//! The signature covers the body byte for byte. Hand the verifier the bytes exactly as they
//! arrived: a body that went through a JSON parser and back will not verify. Any web framework
//! works as long as the handler can see the raw body and the header map:
//!
//! ```
//! use kr_payments::portone_v2::webhook::{Event, Secret, TransactionEventKind, Verifier};
//!
//! /// What the HTTP layer should answer.
//! fn handle(verifier: &Verifier, headers: &http::HeaderMap, body: &[u8]) -> http::StatusCode {
//!     let event = match verifier.verify(body, headers) {
//!         Ok(event) => event,
//!         // Forged, replayed or garbled: refuse it. PortOne retries deliveries that fail.
//!         Err(_) => return http::StatusCode::BAD_REQUEST,
//!     };
//!     match &event {
//!         Event::Transaction(tx) if tx.kind == TransactionEventKind::Cancelled => {
//!             // `cancellation_id()` is always present on the three cancellation kinds.
//!             let _ = (&tx.data.payment_id, tx.cancellation_id());
//!             // Re-fetch the payment before changing any order state: a webhook says *that*
//!             // something happened, the API says what the payment looks like now.
//!         }
//!         Event::Transaction(tx) if tx.kind.is_cancellation() => { /* partial or pending */ }
//!         Event::Transaction(_) | Event::BillingKey(_) => {}
//!         // A type this crate does not know yet: acknowledge it so PortOne stops retrying.
//!         Event::Unrecognized { event_type, .. } => eprintln!("ignoring {event_type}"),
//!         _ => {}
//!     }
//!     http::StatusCode::OK
//! }
//!
//! # let verifier = Verifier::new(Secret::from_bytes(*b"docs"));
//! # assert_eq!(handle(&verifier, &http::HeaderMap::new(), b"{}"), http::StatusCode::BAD_REQUEST);
//! ```
//!
//! With axum (not a dependency of this module; compiled here when the crate's `sandbox` feature brings it), take
//! the body as `Bytes` so nothing re-encodes it:
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # mod with_axum {
//! # use kr_payments::portone_v2::webhook::Verifier;
//! # fn handle(_: &Verifier, _: &http::HeaderMap, _: &[u8]) -> http::StatusCode { http::StatusCode::OK }
//! use axum::extract::State;
//!
//! async fn portone_webhook(
//!     State(verifier): State<Verifier>,
//!     headers: axum::http::HeaderMap,
//!     body: axum::body::Bytes,
//! ) -> axum::http::StatusCode {
//!     handle(&verifier, &headers, &body)
//! }
//!
//! pub fn routes(verifier: Verifier) -> axum::Router {
//!     axum::Router::new()
//!         .route("/webhooks/portone", axum::routing::post(portone_webhook))
//!         .with_state(verifier)
//! }
//! # }
//! ```
//!
//! Frameworks that expose headers as name/value strings can use [`Verifier::verify_pairs`]
//! instead; callers that decode the body themselves (for example the older `2024-01-01` format,
//! which this module does not model) can call [`Verifier::verify_signature`] alone.
//!
//! # The shape of [`Event`]
//!
//! Events are grouped by the prefix of their `type`: [`Event::Transaction`] carries a
//! [`TransactionEvent`] whose [`kind`](TransactionEvent::kind) says what happened and whose
//! [`data`](TransactionEvent::data) names the payment; [`Event::BillingKey`] does the same for
//! billing keys. Handlers usually care about a few kinds and want the same fields for all of them,
//! which this shape gives without a match arm per type. A `type` this crate does not know becomes
//! [`Event::Unrecognized`] with the whole JSON kept, never an error, so a new event on PortOne's
//! side cannot break a running handler.
//!
//! # Signing deliveries
//!
//! [`sign`] and [`Verifier::sign_headers`] produce the same headers PortOne sends, for tests and
//! for fake servers that deliver webhooks to a merchant's endpoint.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use chrono::{DateTime, Utc};
use hmac::digest::Key;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

type HmacSha256 = Hmac<Sha256>;

/// Name of the header carrying the delivery's unique id.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Name of the header carrying the signing time in unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header carrying the signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// How far the signing time may be from the verifier's clock, in either direction, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The prefix PortOne's console puts in front of the base64 secret.
const SECRET_PREFIX: &str = "whsec_";

/// Secrets are copied by hand from a console, so accept them with or without `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// ---------------------------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------------------------

/// A webhook signing secret.
///
/// Its `Debug` output is redacted and it has no `Display`, so it can sit in structs that get
/// logged.
#[derive(Clone)]
pub struct Secret {
    /// The key already brought to the hash block size, which is what HMAC keys with; deriving it
    /// once lets every signature start from a fixed-size key, a step that cannot fail.
    block: Key<HmacSha256>,
}

impl Secret {
    /// Reads a secret as PortOne's console shows it: base64, optionally prefixed with `whsec_`.
    ///
    /// Surrounding whitespace (say, a trailing newline from an environment file) is ignored, and
    /// `=` padding is optional.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when nothing is left after the prefix, and
    /// [`SecretError::InvalidBase64`] when the rest is not base64. Neither error repeats the
    /// input.
    pub fn from_base64(secret: &str) -> Result<Secret, SecretError> {
        let trimmed = secret.trim();
        let encoded = trimmed.strip_prefix(SECRET_PREFIX).unwrap_or(trimmed);
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let bytes = LENIENT_BASE64.decode(encoded).map_err(|_| SecretError::InvalidBase64)?;
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret::from_bytes(bytes))
    }

    /// Uses the given bytes as the key, without any decoding.
    ///
    /// HMAC accepts any key, including an empty one, so this cannot fail; make sure the bytes
    /// really came from your configuration (an unset variable read as `""` would be a key
    /// everyone knows).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Secret {
        let bytes = bytes.into();
        let mut block = Key::<HmacSha256>::default();
        // This is HMAC's own key preparation: keys longer than a block are hashed first, shorter
        // ones are zero-padded. Feeding the prepared block to HMAC again leaves it unchanged.
        if bytes.len() > block.len() {
            let digest = Sha256::digest(&bytes);
            block[..digest.len()].copy_from_slice(&digest);
        } else {
            block[..bytes.len()].copy_from_slice(&bytes);
        }
        Secret { block }
    }

    fn tag(&self, webhook_id: &[u8], timestamp: &[u8], body: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new(&self.block);
        mac.update(webhook_id);
        mac.update(b".");
        mac.update(timestamp);
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a string could not be read as a webhook secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// The string (after an optional `whsec_` prefix) was empty.
    Empty,
    /// The string (after an optional `whsec_` prefix) was not base64.
    InvalidBase64,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::Empty => f.write_str("the webhook secret is empty"),
            SecretError::InvalidBase64 => {
                f.write_str("the webhook secret is not base64 (with or without the whsec_ prefix)")
            }
        }
    }
}

impl std::error::Error for SecretError {}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/// Computes the `webhook-signature` value (`v1,<base64>`) PortOne would send for this delivery.
///
/// Meant for tests and fake servers; a merchant never needs it to receive webhooks.
pub fn sign(secret: &Secret, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.tag(webhook_id.as_bytes(), timestamp.to_string().as_bytes(), body);
    format!("v1,{}", STANDARD.encode(tag))
}

// ---------------------------------------------------------------------------------------------
// Verifier
// ---------------------------------------------------------------------------------------------

type Clock = dyn Fn() -> DateTime<Utc> + Send + Sync;

/// Checks that a delivery was signed by PortOne recently, then decodes it.
///
/// Build one at start-up and share it; it is cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use kr_payments::portone_v2::webhook::{Secret, Verifier};
///
/// # fn main() -> Result<(), kr_payments::portone_v2::webhook::SecretError> {
/// let verifier = Verifier::new(Secret::from_base64("whsec_bmV3LXNlY3JldA==")?)
///     // While rotating, the old secret keeps working until it is removed.
///     .with_secondary(Secret::from_base64("whsec_b2xkLXNlY3JldA==")?)
///     .tolerance(Duration::from_secs(120));
/// # let _ = verifier;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Verifier {
    primary: Secret,
    secondary: Option<Secret>,
    tolerance: Duration,
    clock: Arc<Clock>,
}

impl Verifier {
    /// A verifier for one secret, with the default tolerance and the system clock.
    pub fn new(secret: Secret) -> Verifier {
        Verifier {
            primary: secret,
            secondary: None,
            tolerance: DEFAULT_TOLERANCE,
            clock: Arc::new(Utc::now),
        }
    }

    /// Also accepts deliveries signed with `secret`, for the overlap while a secret is rotated.
    ///
    /// There is one secondary slot: calling this again replaces the previous secondary.
    #[must_use]
    pub fn with_secondary(mut self, secret: Secret) -> Verifier {
        self.secondary = Some(secret);
        self
    }

    /// How far `webhook-timestamp` may be from the clock, in the past or the future.
    ///
    /// Only whole seconds count, since the header has no finer resolution. The default is
    /// [`DEFAULT_TOLERANCE`] (300 s).
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Verifier {
        self.tolerance = tolerance;
        self
    }

    /// Replaces the clock the timestamp is checked against (the system clock by default).
    ///
    /// Tests use a fixed instant so that their signatures never expire.
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Verifier {
        self.clock = Arc::new(clock);
        self
    }

    /// Verifies a delivery and decodes its body.
    ///
    /// `body` must be the request body exactly as received.
    ///
    /// # Errors
    ///
    /// Any [`VerifyError`]: see [`Verifier::verify_signature`] for the signature checks, plus
    /// [`VerifyError::InvalidBody`] when a correctly signed body is not a webhook event.
    pub fn verify(&self, body: &[u8], headers: &http::HeaderMap) -> Result<Event, VerifyError> {
        self.verify_signature(body, headers)?;
        decode_verified(body)
    }

    /// Like [`Verifier::verify`], for headers given as name/value pairs (names in any case).
    ///
    /// # Errors
    ///
    /// As for [`Verifier::verify`].
    pub fn verify_pairs<'a>(
        &self,
        body: &[u8],
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Event, VerifyError> {
        self.verify_signature_pairs(body, headers)?;
        decode_verified(body)
    }

    /// Verifies a delivery without decoding its body.
    ///
    /// # Errors
    ///
    /// Checked in this order:
    /// [`MissingHeader`](VerifyError::MissingHeader) or
    /// [`DuplicateHeader`](VerifyError::DuplicateHeader) for each of the three headers,
    /// [`MalformedTimestamp`](VerifyError::MalformedTimestamp),
    /// [`MalformedSignature`](VerifyError::MalformedSignature),
    /// [`NoMatchingSignature`](VerifyError::NoMatchingSignature), and last
    /// [`TimestampTooOld`](VerifyError::TimestampTooOld) /
    /// [`TimestampTooNew`](VerifyError::TimestampTooNew). Because the window is checked after the
    /// signature, a timestamp error always concerns a delivery PortOne really signed: a replay,
    /// a very late retry, or a skewed clock on one side.
    pub fn verify_signature(&self, body: &[u8], headers: &http::HeaderMap) -> Result<(), VerifyError> {
        let found = [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE].map(|name| {
            let mut slot = HeaderSlot::default();
            for value in headers.get_all(name) {
                slot.push(value.as_bytes());
            }
            slot
        });
        self.check(body, found)
    }

    /// Like [`Verifier::verify_signature`], for headers given as name/value pairs.
    ///
    /// # Errors
    ///
    /// As for [`Verifier::verify_signature`].
    pub fn verify_signature_pairs<'a>(
        &self,
        body: &[u8],
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), VerifyError> {
        let names = [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE];
        let mut found: [HeaderSlot<'a>; 3] = Default::default();
        for (name, value) in headers {
            let name = name.trim();
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) {
                found[i].push(value.as_bytes());
            }
        }
        self.check(body, found)
    }

    /// The three headers PortOne would send with `body`, signed with the primary secret.
    ///
    /// Returned as `(name, value)` pairs in the order id, timestamp, signature.
    pub fn sign_headers(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
        vec![
            (WEBHOOK_ID, webhook_id.to_owned()),
            (WEBHOOK_TIMESTAMP, timestamp.to_string()),
            (WEBHOOK_SIGNATURE, sign(&self.primary, webhook_id, timestamp, body)),
        ]
    }

    fn check(&self, body: &[u8], found: [HeaderSlot<'_>; 3]) -> Result<(), VerifyError> {
        let [id, timestamp_raw, signature_raw] = [
            found[0].single(WEBHOOK_ID)?,
            found[1].single(WEBHOOK_TIMESTAMP)?,
            found[2].single(WEBHOOK_SIGNATURE)?,
        ];

        let timestamp = std::str::from_utf8(timestamp_raw)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or(VerifyError::MalformedTimestamp)?;

        let candidates = parse_signature_header(signature_raw)?;
        let secrets = std::iter::once(&self.primary).chain(self.secondary.as_ref());
        let mut matched = false;
        for secret in secrets {
            // The header's own timestamp bytes are signed, not a re-formatted number, so that a
            // sender's formatting (say, a leading zero) cannot make a genuine delivery fail.
            let expected = secret.tag(id, timestamp_raw, body);
            if candidates
                .iter()
                .any(|candidate| bool::from(expected.as_slice().ct_eq(candidate)))
            {
                matched = true;
                break;
            }
        }
        if !matched {
            return Err(VerifyError::NoMatchingSignature);
        }

        let now = (self.clock)().timestamp();
        let tolerance = i128::from(self.tolerance.as_secs());
        // i128 so that a hostile timestamp near i64::MIN or i64::MAX cannot overflow.
        let age = i128::from(now) - i128::from(timestamp);
        if age > tolerance {
            return Err(VerifyError::TimestampTooOld { timestamp, now });
        }
        if -age > tolerance {
            return Err(VerifyError::TimestampTooNew { timestamp, now });
        }
        Ok(())
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("primary", &self.primary)
            .field("secondary", &self.secondary)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

/// Every value seen for one header name, so that duplicates are detected rather than one of them
/// silently winning.
#[derive(Default)]
struct HeaderSlot<'a> {
    first: Option<&'a [u8]>,
    count: usize,
}

impl<'a> HeaderSlot<'a> {
    fn push(&mut self, value: &'a [u8]) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(value);
        }
    }

    fn single(&self, name: &'static str) -> Result<&'a [u8], VerifyError> {
        if self.count > 1 {
            return Err(VerifyError::DuplicateHeader { name });
        }
        match self.first {
            Some(value) if !value.trim_ascii().is_empty() => Ok(value),
            _ => Err(VerifyError::MissingHeader { name }),
        }
    }
}

/// Returns the decoded `v1` tags. Entries of other versions are well-formed but never match.
fn parse_signature_header(raw: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    let text = std::str::from_utf8(raw).map_err(|_| VerifyError::MalformedSignature)?;
    let mut well_formed = 0usize;
    let mut tags = Vec::new();
    for entry in text.split_ascii_whitespace() {
        let Some((version, value)) = entry.split_once(',') else {
            continue;
        };
        if version.is_empty() || value.is_empty() {
            continue;
        }
        if version == "v1" {
            // A garbled v1 entry is skipped rather than fatal: another entry may still match.
            match STANDARD.decode(value) {
                Ok(tag) => tags.push(tag),
                Err(_) => continue,
            }
        }
        well_formed += 1;
    }
    if well_formed == 0 {
        return Err(VerifyError::MalformedSignature);
    }
    Ok(tags)
}

fn decode_verified(body: &[u8]) -> Result<Event, VerifyError> {
    Event::from_json(body).map_err(|source| VerifyError::InvalidBody { source })
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a delivery was rejected.
///
/// Answer every one of these with a 4xx status and do not act on the body. None of them contains
/// a secret.
#[derive(Debug)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header was absent or empty.
    MissingHeader {
        /// The header's lowercase name.
        name: &'static str,
    },
    /// A required header appeared more than once, so which one was signed is ambiguous.
    DuplicateHeader {
        /// The header's lowercase name.
        name: &'static str,
    },
    /// `webhook-timestamp` was not an integer number of seconds.
    MalformedTimestamp,
    /// `webhook-signature` contained no `<version>,<signature>` entry that could be read.
    MalformedSignature,
    /// No `v1` signature matched the body under any configured secret.
    NoMatchingSignature,
    /// Correctly signed, but signed longer ago than the tolerance allows.
    TimestampTooOld {
        /// `webhook-timestamp`, unix seconds.
        timestamp: i64,
        /// The verifier's clock, unix seconds.
        now: i64,
    },
    /// Correctly signed, but with a signing time further in the future than the tolerance allows.
    TimestampTooNew {
        /// `webhook-timestamp`, unix seconds.
        timestamp: i64,
        /// The verifier's clock, unix seconds.
        now: i64,
    },
    /// Correctly signed, but the body is not a webhook event this module can read.
    InvalidBody {
        /// What the JSON decoder objected to.
        source: serde_json::Error,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingHeader { name } => {
                write!(f, "webhook header `{name}` is missing or empty")
            }
            VerifyError::DuplicateHeader { name } => {
                write!(f, "webhook header `{name}` was sent more than once")
            }
            VerifyError::MalformedTimestamp => f.write_str("webhook timestamp is not a whole number of unix seconds"),
            VerifyError::MalformedSignature => {
                f.write_str("webhook signature header has no readable `version,signature` entry")
            }
            VerifyError::NoMatchingSignature => {
                f.write_str("no webhook signature matches the body and the configured secrets")
            }
            VerifyError::TimestampTooOld { timestamp, now } => write!(
                f,
                "webhook was signed at {timestamp}, {} s before now ({now}), beyond the tolerance",
                i128::from(*now) - i128::from(*timestamp)
            ),
            VerifyError::TimestampTooNew { timestamp, now } => write!(
                f,
                "webhook was signed at {timestamp}, {} s after now ({now}), beyond the tolerance",
                i128::from(*timestamp) - i128::from(*now)
            ),
            VerifyError::InvalidBody { source } => {
                write!(f, "webhook body is not a PortOne webhook event: {source}")
            }
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::InvalidBody { source } => Some(source),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// A decoded webhook of the `2024-04-25` format: `{ "type", "timestamp", "data" }`.
///
/// Fields this module does not know are ignored. Serializing an event gives back the wire format
/// (for [`Event::Unrecognized`], the JSON exactly as received). `Debug` prints an unrecognized event's body with
/// personal data and secrets hidden ([`crate::sensitive`]).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A `Transaction.*` event about one payment.
    Transaction(TransactionEvent),
    /// A `BillingKey.*` event about one billing key.
    BillingKey(BillingKeyEvent),
    /// An event whose `type` this crate does not know, kept whole.
    Unrecognized {
        /// The `type` as sent.
        event_type: String,
        /// The whole body.
        raw: serde_json::Value,
    },
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Transaction(tx) => f.debug_tuple("Transaction").field(tx).finish(),
            Event::BillingKey(bk) => f.debug_tuple("BillingKey").field(bk).finish(),
            Event::Unrecognized { event_type, raw } => f
                .debug_struct("Unrecognized")
                .field("event_type", event_type)
                .field("raw", &crate::sensitive::Json(raw))
                .finish(),
        }
    }
}

impl Event {
    /// Decodes a body that has already been verified (or comes from a trusted source).
    ///
    /// # Errors
    ///
    /// When the body is not JSON, has no string `type`, or has a known `type` whose `timestamp`
    /// or `data` does not have the documented shape (including a cancellation event without
    /// `cancellationId`). An unknown `type` is not an error.
    pub fn from_json(body: &[u8]) -> Result<Event, serde_json::Error> {
        let raw: serde_json::Value = serde_json::from_slice(body)?;
        Event::from_value(raw)
    }

    fn from_value(raw: serde_json::Value) -> Result<Event, serde_json::Error> {
        let Some(event_type) = raw.get("type").and_then(serde_json::Value::as_str) else {
            return Err(serde_json::Error::custom(
                "expected a JSON object with a string field `type`",
            ));
        };
        if let Some(kind) = TransactionEventKind::from_wire(event_type) {
            let envelope = Envelope::<TransactionData>::deserialize(&raw)?;
            let event = TransactionEvent {
                kind,
                timestamp: envelope.timestamp,
                data: envelope.data,
            };
            if kind.is_cancellation() && event.data.cancellation_id.is_none() {
                return Err(serde_json::Error::custom(format_args!(
                    "`{event_type}` requires `data.cancellationId`"
                )));
            }
            if kind == TransactionEventKind::Confirm && event.data.total_amount.is_none() {
                return Err(serde_json::Error::custom(format_args!(
                    "`{event_type}` requires `data.totalAmount`"
                )));
            }
            return Ok(Event::Transaction(event));
        }
        if let Some(kind) = BillingKeyEventKind::from_wire(event_type) {
            let envelope = Envelope::<BillingKeyData>::deserialize(&raw)?;
            return Ok(Event::BillingKey(BillingKeyEvent {
                kind,
                timestamp: envelope.timestamp,
                data: envelope.data,
            }));
        }
        Ok(Event::Unrecognized {
            event_type: event_type.to_owned(),
            raw,
        })
    }

    /// The `type` as it appears on the wire, e.g. `"Transaction.Cancelled"`.
    pub fn event_type(&self) -> &str {
        match self {
            Event::Transaction(tx) => tx.kind.as_str(),
            Event::BillingKey(bk) => bk.kind.as_str(),
            Event::Unrecognized { event_type, .. } => event_type,
        }
    }

    /// When the event happened on PortOne's side; unchanged across delivery retries.
    ///
    /// `None` only for an unrecognized event without an RFC 3339 `timestamp`.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Event::Transaction(tx) => Some(tx.timestamp),
            Event::BillingKey(bk) => Some(bk.timestamp),
            Event::Unrecognized { raw, .. } => raw
                .get("timestamp")
                .and_then(serde_json::Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The merchant's `paymentId` for transaction events.
    ///
    /// For an unrecognized event, `data.paymentId` if it has one, so that a new kind of
    /// transaction event can still be traced to its payment.
    pub fn payment_id(&self) -> Option<&str> {
        match self {
            Event::Transaction(tx) => Some(&tx.data.payment_id),
            Event::BillingKey(_) => None,
            Event::Unrecognized { raw, .. } => raw_data_str(raw, "paymentId"),
        }
    }

    /// The `storeId` the event belongs to, when it was sent.
    pub fn store_id(&self) -> Option<&str> {
        match self {
            Event::Transaction(tx) => tx.data.store_id.as_deref(),
            Event::BillingKey(bk) => bk.data.store_id.as_deref(),
            Event::Unrecognized { raw, .. } => raw_data_str(raw, "storeId"),
        }
    }
}

fn raw_data_str<'v>(raw: &'v serde_json::Value, field: &str) -> Option<&'v str> {
    raw.get("data")?.get(field)?.as_str()
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(deserializer)?;
        Event::from_value(raw).map_err(D::Error::custom)
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Event::Transaction(tx) => EnvelopeOut {
                event_type: tx.kind.as_str(),
                timestamp: &tx.timestamp,
                data: &tx.data,
            }
            .serialize(serializer),
            Event::BillingKey(bk) => EnvelopeOut {
                event_type: bk.kind.as_str(),
                timestamp: &bk.timestamp,
                data: &bk.data,
            }
            .serialize(serializer),
            Event::Unrecognized { raw, .. } => raw.serialize(serializer),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<D> {
    timestamp: DateTime<Utc>,
    data: D,
}

#[derive(Serialize)]
struct EnvelopeOut<'a, D> {
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: &'a DateTime<Utc>,
    data: &'a D,
}

/// A `Transaction.*` event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionEvent {
    /// What happened to the payment.
    pub kind: TransactionEventKind,
    /// When it happened on PortOne's side; identical on every retry of the delivery.
    pub timestamp: DateTime<Utc>,
    /// Which payment, transaction and (for cancellations) cancellation it concerns.
    pub data: TransactionData,
}

impl TransactionEvent {
    /// The cancellation this event reports; always `Some` for the three cancellation kinds.
    pub fn cancellation_id(&self) -> Option<&str> {
        self.data.cancellation_id.as_deref()
    }
}

/// The `data` of a `Transaction.*` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TransactionData {
    /// The store the payment belongs to.
    ///
    /// Optional because PortOne added it to the payload after the format was introduced, and a
    /// cancellation webhook must not be dropped for lack of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// The merchant's own id for the payment.
    pub payment_id: String,
    /// PortOne's id for this payment attempt; one payment can have several.
    pub transaction_id: String,
    /// PortOne's id for the cancellation; present on `PartialCancelled`, `Cancelled` and
    /// `CancelPending` (decoding fails without it), absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
    /// The requested amount in won; present on `Confirm` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<i64>,
}

/// What a `Transaction.*` event reports.
///
/// A `Transaction.*` type missing here decodes as [`Event::Unrecognized`], not as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionEventKind {
    /// `Transaction.Ready`: the payment window was opened.
    Ready,
    /// `Transaction.Paid`: the payment (scheduled ones included) was approved.
    Paid,
    /// `Transaction.VirtualAccountIssued`: a virtual account was issued and awaits a deposit.
    VirtualAccountIssued,
    /// `Transaction.PartialCancelled`: part of the amount was cancelled.
    PartialCancelled,
    /// `Transaction.Cancelled`: the payment is now fully cancelled.
    Cancelled,
    /// `Transaction.Failed`: the payment (scheduled ones included) failed.
    Failed,
    /// `Transaction.PayPending`: approval is pending (seen with some overseas methods).
    PayPending,
    /// `Transaction.CancelPending`: a cancellation was requested and completes asynchronously.
    CancelPending,
    /// `Transaction.DisputeCreated`: a dispute was opened.
    DisputeCreated,
    /// `Transaction.DisputeResolved`: a dispute was closed.
    DisputeResolved,
    /// `Transaction.Confirm`: the confirm step asks the merchant to approve the payment.
    Confirm,
}

impl TransactionEventKind {
    const ALL: [TransactionEventKind; 11] = [
        TransactionEventKind::Ready,
        TransactionEventKind::Paid,
        TransactionEventKind::VirtualAccountIssued,
        TransactionEventKind::PartialCancelled,
        TransactionEventKind::Cancelled,
        TransactionEventKind::Failed,
        TransactionEventKind::PayPending,
        TransactionEventKind::CancelPending,
        TransactionEventKind::DisputeCreated,
        TransactionEventKind::DisputeResolved,
        TransactionEventKind::Confirm,
    ];

    /// The full wire `type`, e.g. `"Transaction.Paid"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionEventKind::Ready => "Transaction.Ready",
            TransactionEventKind::Paid => "Transaction.Paid",
            TransactionEventKind::VirtualAccountIssued => "Transaction.VirtualAccountIssued",
            TransactionEventKind::PartialCancelled => "Transaction.PartialCancelled",
            TransactionEventKind::Cancelled => "Transaction.Cancelled",
            TransactionEventKind::Failed => "Transaction.Failed",
            TransactionEventKind::PayPending => "Transaction.PayPending",
            TransactionEventKind::CancelPending => "Transaction.CancelPending",
            TransactionEventKind::DisputeCreated => "Transaction.DisputeCreated",
            TransactionEventKind::DisputeResolved => "Transaction.DisputeResolved",
            TransactionEventKind::Confirm => "Transaction.Confirm",
        }
    }

    /// Whether the event is about a cancellation (partial, full or pending), and so carries a
    /// `cancellationId`.
    pub fn is_cancellation(self) -> bool {
        matches!(
            self,
            TransactionEventKind::PartialCancelled
                | TransactionEventKind::Cancelled
                | TransactionEventKind::CancelPending
        )
    }

    fn from_wire(event_type: &str) -> Option<TransactionEventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == event_type)
    }
}

impl fmt::Display for TransactionEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `BillingKey.*` event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BillingKeyEvent {
    /// What happened to the billing key.
    pub kind: BillingKeyEventKind,
    /// When it happened on PortOne's side; identical on every retry of the delivery.
    pub timestamp: DateTime<Utc>,
    /// Which billing key it concerns.
    pub data: BillingKeyData,
}

/// The `data` of a `BillingKey.*` event. `Debug` shows the billing key's length only: it charges the customer's
/// card.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BillingKeyData {
    /// The store the billing key belongs to (optional for the same reason as on
    /// [`TransactionData::store_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// The billing key PortOne issued.
    pub billing_key: String,
}

impl fmt::Debug for BillingKeyData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingKeyData")
            .field("store_id", &self.store_id)
            .field(
                "billing_key",
                &crate::sensitive::by_name("billingKey", &self.billing_key),
            )
            .finish()
    }
}

/// What a `BillingKey.*` event reports.
///
/// A `BillingKey.*` type missing here decodes as [`Event::Unrecognized`], not as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BillingKeyEventKind {
    /// `BillingKey.Ready`: the issuing window was opened.
    Ready,
    /// `BillingKey.Issued`: the billing key was issued.
    Issued,
    /// `BillingKey.Failed`: issuing failed.
    Failed,
    /// `BillingKey.Deleted`: the billing key was deleted.
    Deleted,
    /// `BillingKey.Updated`: the billing key was updated.
    Updated,
}

impl BillingKeyEventKind {
    const ALL: [BillingKeyEventKind; 5] = [
        BillingKeyEventKind::Ready,
        BillingKeyEventKind::Issued,
        BillingKeyEventKind::Failed,
        BillingKeyEventKind::Deleted,
        BillingKeyEventKind::Updated,
    ];

    /// The full wire `type`, e.g. `"BillingKey.Issued"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingKeyEventKind::Ready => "BillingKey.Ready",
            BillingKeyEventKind::Issued => "BillingKey.Issued",
            BillingKeyEventKind::Failed => "BillingKey.Failed",
            BillingKeyEventKind::Deleted => "BillingKey.Deleted",
            BillingKeyEventKind::Updated => "BillingKey.Updated",
        }
    }

    fn from_wire(event_type: &str) -> Option<BillingKeyEventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == event_type)
    }
}

impl fmt::Display for BillingKeyEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
