//! Webhooks Toss posts to the merchant, and how to trust them.
//!
//! The events and their bodies follow Toss's webhook-events reference
//! (<https://docs.tosspayments.com/reference/using-api/webhook-events>); delivery and resending follow its webhook
//! guide (<https://docs.tosspayments.com/guides/webhook>).
//!
//! # Before you write a handler
//! * **Payment webhooks are unsigned.** Nothing in the request proves it comes from Toss: anyone who knows your
//!   endpoint can post a body that looks right. Confirm each event as below before acting on it.
//! * **Toss resends.** A delivery that is not answered with HTTP 200 is sent again, up to 7 more times over
//!   about three days and 19 hours (1, 4, 16, 64, 256, 1024 and 4096 minutes apart). Your handler therefore sees
//!   the same event more than once, sometimes after later ones: make it idempotent, decide from the state you read
//!   from Toss rather than from the order events arrive in, and answer 200 once an event is handled (or is one you
//!   ignore), so the resending stops.
//!
//! # What makes each event trustworthy
//! * `PAYMENT_STATUS_CHANGED` (`{eventType, createdAt, data: Payment}`) carries nothing secret. Read the payment
//!   back from Toss ([`Event::verify_by_refetch`]) and act on what the API says, never on the body.
//! * `DEPOSIT_CALLBACK` (virtual accounts: issued, paid into, deposit cancelled) is a flat body,
//!   `{createdAt, secret, status, transactionKey, orderId}`, without `eventType`. Its `secret` repeats the payment's
//!   `secret`, a value only Toss and you know (it is in the Payment Toss returned when the account was issued).
//!   Compare it with [`DepositCallback::verify`] (constant time), or let [`DepositCallback::verify_by_refetch`]
//!   read the payment by its order id and compare. The same fields inside an `{eventType, data}` envelope are
//!   read too.
//! * `CANCEL_STATUS_CHANGED` (`data` = one cancel entry) is sent for foreign easy-pay payments only, whose cancels
//!   are asynchronous: the entry's `cancelStatus` moves from `IN_PROGRESS` to `DONE` (refunded) or `ABORTED` (not
//!   refunded). Confirm it by reading the payment, which needs a `paymentKey` in the data.
//! * `BILLING_DELETED` (`data = {billingKey, reason?}`) follows the deletion of a billing key. There is no API
//!   to look a billing key up, so it cannot be confirmed by reading; but the billing key is itself a secret only
//!   Toss and you hold, so a body naming a key you did not issue is not for you ([`BillingDeleted::is_for`]).
//!
//! Every other event (`PAYOUT_STATUS_CHANGED`, `METHOD_UPDATED`, `CUSTOMER_STATUS_CHANGED`, `payout.changed`,
//! `seller.changed`, and names Toss adds later) becomes [`Event::Unrecognized`] with the whole body kept, never an
//! error, so a new event cannot break a running handler. Acknowledge those too, or Toss keeps resending them.
//!
//! ```no_run
//! # async fn handle(client: &kr_payments::toss::Client, body: &[u8], stored_billing_key: &str) -> u16 {
//! use kr_payments::toss::webhook::Event;
//!
//! let Ok(event) = Event::from_json(body) else { return 400 };
//! if let Event::BillingDeleted(deleted) = &event {
//!     // Look the key up among yours; stop charging it if it is one of them.
//!     return if deleted.is_for(stored_billing_key) { 200 } else { 400 };
//! }
//! match event.verify_by_refetch(client).await {
//!     Ok(payment) => {
//!         // `payment` is what Toss says now; update the order from it (again, if this is a resend).
//!         let _ = payment.status();
//!         200
//!     }
//!     Err(e) if e.is_forged() => 400,
//!     // Unmodelled events: acknowledge so Toss stops resending.
//!     Err(_) if matches!(event, Event::Unrecognized { .. }) => 200,
//!     // Toss unreachable: fail the delivery so Toss tries again later.
//!     Err(_) => 503,
//! }
//! # }
//! ```

use super::payment::{Cancel, Payment, Status};
use super::raw::types as wire;
use super::{Client, TossError};
use crate::error::Error;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone as _};
use serde_json::Value;
use std::fmt;
use subtle::ConstantTimeEq as _;

/// A webhook delivery, decoded. `Debug` hides personal data and secrets, in an unrecognized event's body too
/// ([`crate::sensitive`]).
#[derive(Clone)]
#[non_exhaustive]
pub enum Event {
    /// `PAYMENT_STATUS_CHANGED`: a payment changed status. Unsigned: confirm with [`Event::verify_by_refetch`].
    PaymentStatusChanged(Box<PaymentStatusChanged>),
    /// `DEPOSIT_CALLBACK`: a virtual account was issued, paid into, or its deposit cancelled. Verify its secret.
    DepositCallback(DepositCallback),
    /// `CANCEL_STATUS_CHANGED`: an asynchronous cancel (foreign easy-pay) moved on, to `DONE` or `ABORTED`.
    CancelStatusChanged(CancelStatusChanged),
    /// `BILLING_DELETED`: a billing key was deleted and can no longer be charged.
    BillingDeleted(BillingDeleted),
    /// An event this module does not model; the body is kept whole.
    Unrecognized {
        /// The `eventType` as sent.
        event_type: String,
        /// The whole body.
        raw: Value,
    },
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::PaymentStatusChanged(e) => f.debug_tuple("PaymentStatusChanged").field(e).finish(),
            Event::DepositCallback(e) => f.debug_tuple("DepositCallback").field(e).finish(),
            Event::CancelStatusChanged(e) => f.debug_tuple("CancelStatusChanged").field(e).finish(),
            Event::BillingDeleted(e) => f.debug_tuple("BillingDeleted").field(e).finish(),
            Event::Unrecognized { event_type, raw } => f
                .debug_struct("Unrecognized")
                .field("event_type", event_type)
                .field("raw", &crate::sensitive::Json(raw))
                .finish(),
        }
    }
}

/// `PAYMENT_STATUS_CHANGED`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PaymentStatusChanged {
    /// When Toss created the event, as sent (local time in Korea, no offset); see [`Event::created_at`].
    pub created_at: String,
    /// The payment as the body claims it is. Do not act on it before confirming it.
    pub payment: Payment,
}

/// `CANCEL_STATUS_CHANGED`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CancelStatusChanged {
    /// When Toss created the event, as sent.
    pub created_at: String,
    /// The cancel entry.
    pub cancel: Cancel,
    /// The payment's key, when the data names it (needed to confirm the event by reading the payment).
    pub payment_key: Option<String>,
}

/// `BILLING_DELETED`. `Debug` hides the billing key.
#[derive(Clone)]
#[non_exhaustive]
pub struct BillingDeleted {
    /// When Toss created the event, as sent.
    pub created_at: String,
    /// Why the key was deleted, when Toss says.
    pub reason: Option<String>,
    billing_key: String,
}

impl fmt::Debug for BillingDeleted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingDeleted")
            .field("created_at", &self.created_at)
            .field("reason", &self.reason)
            .field(
                "billing_key",
                &crate::sensitive::by_name("billingKey", &self.billing_key),
            )
            .finish()
    }
}

impl BillingDeleted {
    /// The deleted billing key. It is a secret (it charges the card): keep it out of logs.
    pub fn billing_key(&self) -> &str {
        &self.billing_key
    }

    /// Whether the event names `billing_key` (one you stored), compared in constant time. An event naming a key
    /// you never received was not sent for you: answer it with a 4xx.
    pub fn is_for(&self, billing_key: &str) -> bool {
        !billing_key.is_empty() && bool::from(self.billing_key.as_bytes().ct_eq(billing_key.as_bytes()))
    }
}

/// `DEPOSIT_CALLBACK`. `Debug` hides the secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct DepositCallback {
    /// When Toss created the event, as sent.
    pub created_at: String,
    /// The payment's status now: `DONE` after a deposit, `WAITING_FOR_DEPOSIT` when a deposit was reversed,
    /// `CANCELED`, ...
    pub status: Status,
    /// The merchant's order id of the payment.
    pub order_id: String,
    /// The transaction this event is about, if sent.
    pub transaction_key: Option<String>,
    secret: String,
}

impl fmt::Debug for DepositCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DepositCallback")
            .field("created_at", &self.created_at)
            .field("status", &self.status)
            .field("order_id", &self.order_id)
            .field("transaction_key", &self.transaction_key)
            .field("secret", &crate::sensitive::by_name("secret", &self.secret))
            .finish()
    }
}

impl From<wire::DepositCallbackWebhook> for DepositCallback {
    fn from(w: wire::DepositCallbackWebhook) -> Self {
        DepositCallback {
            created_at: w.created_at,
            status: w.status,
            order_id: w.order_id,
            transaction_key: w.transaction_key,
            secret: w.secret,
        }
    }
}

impl DepositCallback {
    /// Checks the callback against the payment you stored when the account was issued (or just read): same order
    /// id, and the same `secret`, compared in constant time.
    ///
    /// # Errors
    /// [`VerifyError::PaymentMismatch`] for another order, [`VerifyError::MissingSecret`] when the payment has no
    /// secret to compare with, [`VerifyError::SecretMismatch`] for a wrong secret (a forgery).
    pub fn verify(&self, payment: &Payment) -> Result<(), VerifyError> {
        if payment.order_id() != self.order_id {
            return Err(VerifyError::PaymentMismatch { field: "orderId" });
        }
        self.verify_secret(payment.secret.as_deref().unwrap_or_default())
    }

    /// Compares the callback's secret with `expected` (the payment's `secret` as you stored it) in constant time.
    ///
    /// # Errors
    /// [`VerifyError::MissingSecret`] for an empty `expected`, [`VerifyError::SecretMismatch`] when they differ.
    pub fn verify_secret(&self, expected: &str) -> Result<(), VerifyError> {
        if expected.is_empty() {
            return Err(VerifyError::MissingSecret);
        }
        // Slices of different lengths compare unequal without looking at the bytes; the length of a secret is not
        // what an attacker is after.
        if bool::from(self.secret.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(VerifyError::SecretMismatch)
        }
    }

    /// Reads the payment by the callback's order id and checks the secret against it; returns the payment as Toss
    /// reports it now.
    ///
    /// # Errors
    /// [`VerifyError::Fetch`] when the payment cannot be read, otherwise as [`Self::verify`].
    pub async fn verify_by_refetch(&self, client: &Client) -> Result<Payment, VerifyError> {
        let payment = client
            .get_payment_by_order_id(&self.order_id)
            .await
            .map_err(VerifyError::Fetch)?;
        self.verify(&payment)?;
        Ok(payment)
    }
}

impl PaymentStatusChanged {
    /// Reads the payment the event names from Toss and returns it as Toss reports it now (its status may have
    /// moved on since the event). The event proves nothing by itself; the answer from the API does.
    ///
    /// # Errors
    /// [`VerifyError::Fetch`] when the payment cannot be read (a forged key gives `NOT_FOUND_PAYMENT`);
    /// [`VerifyError::PaymentMismatch`] when Toss's payment has another order id than the event claims.
    pub async fn verify_by_refetch(&self, client: &Client) -> Result<Payment, VerifyError> {
        let key = super::PaymentKey::new(self.payment.payment_key());
        let payment = client.get_payment(&key).await.map_err(VerifyError::Fetch)?;
        if payment.order_id() != self.payment.order_id() {
            return Err(VerifyError::PaymentMismatch { field: "orderId" });
        }
        Ok(payment)
    }
}

impl CancelStatusChanged {
    /// The state the cancel reached: `DONE` (refunded), `ABORTED` (not refunded), or `IN_PROGRESS`; `None` when
    /// the entry does not say. Act on the state of the same cancel in the payment you read back
    /// ([`Self::verify_by_refetch`]), not on this.
    pub fn cancel_status(&self) -> Option<&super::CancelStatus> {
        self.cancel.cancel_status.as_ref()
    }

    /// Reads the payment and returns it when it has a cancel with this event's `transactionKey`.
    ///
    /// # Errors
    /// [`VerifyError::NotVerifiable`] when the data names no payment key; [`VerifyError::Fetch`] when the payment
    /// cannot be read; [`VerifyError::PaymentMismatch`] when the payment has no such cancel.
    pub async fn verify_by_refetch(&self, client: &Client) -> Result<Payment, VerifyError> {
        let key = self
            .payment_key
            .as_deref()
            .ok_or(VerifyError::NotVerifiable("the cancel data names no paymentKey"))?;
        let payment = client
            .get_payment(&super::PaymentKey::new(key))
            .await
            .map_err(VerifyError::Fetch)?;
        if !payment
            .cancels()
            .iter()
            .any(|c| c.transaction_key == self.cancel.transaction_key)
        {
            return Err(VerifyError::PaymentMismatch {
                field: "transactionKey",
            });
        }
        Ok(payment)
    }
}

impl Event {
    /// Decodes a delivery's body.
    ///
    /// # Errors
    /// [`ParseError`] when the body is not a JSON object, has no `eventType` and is not a flat deposit callback,
    /// or a modelled event does not have the fields it must have. An unknown `eventType` is not an error.
    pub fn from_json(body: &[u8]) -> Result<Event, ParseError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::new(".", e.to_string()))?;
        let Some(object) = value.as_object() else {
            return Err(ParseError::new(".", "the body is not a JSON object"));
        };
        let event_type = object.get("eventType").and_then(Value::as_str).map(str::to_owned);
        match event_type.as_deref() {
            Some("PAYMENT_STATUS_CHANGED") => {
                let w: wire::PaymentStatusChangedWebhook = decode(value)?;
                Ok(Event::PaymentStatusChanged(Box::new(PaymentStatusChanged {
                    created_at: w.created_at,
                    payment: w.data.into(),
                })))
            }
            Some("CANCEL_STATUS_CHANGED") => {
                let payment_key = object
                    .get("data")
                    .and_then(|d| d.get("paymentKey"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let w: wire::CancelStatusChangedWebhook = decode(value)?;
                Ok(Event::CancelStatusChanged(CancelStatusChanged {
                    created_at: w.created_at,
                    cancel: w.data,
                    payment_key,
                }))
            }
            Some("BILLING_DELETED") => {
                let w: wire::BillingDeletedWebhook = decode(value)?;
                Ok(Event::BillingDeleted(BillingDeleted {
                    created_at: w.created_at,
                    reason: w.data.reason,
                    billing_key: w.data.billing_key,
                }))
            }
            Some("DEPOSIT_CALLBACK") => {
                // Enveloped: the callback's fields are in `data`, and `createdAt` may sit on the envelope only.
                let mut inner = match object.get("data") {
                    Some(Value::Object(data)) => data.clone(),
                    _ => object.clone(),
                };
                if !inner.contains_key("createdAt")
                    && let Some(created) = object.get("createdAt")
                {
                    inner.insert("createdAt".into(), created.clone());
                }
                let w: wire::DepositCallbackWebhook = decode(Value::Object(inner))?;
                Ok(Event::DepositCallback(w.into()))
            }
            Some(other) => Ok(Event::Unrecognized {
                event_type: other.to_owned(),
                raw: value,
            }),
            // The flat deposit callback has no eventType; it is recognised by its fields.
            None if ["secret", "status", "orderId"].iter().all(|k| object.contains_key(*k)) => {
                let w: wire::DepositCallbackWebhook = decode(value)?;
                Ok(Event::DepositCallback(w.into()))
            }
            None => Err(ParseError::new(
                "eventType",
                "missing, and the body is not a deposit callback",
            )),
        }
    }

    /// The event's name: `PAYMENT_STATUS_CHANGED`, `DEPOSIT_CALLBACK` (also for the flat form, which has no
    /// `eventType`), `CANCEL_STATUS_CHANGED`, `BILLING_DELETED`, or the unrecognized name as sent.
    pub fn event_type(&self) -> &str {
        match self {
            Event::PaymentStatusChanged(_) => "PAYMENT_STATUS_CHANGED",
            Event::DepositCallback(_) => "DEPOSIT_CALLBACK",
            Event::CancelStatusChanged(_) => "CANCEL_STATUS_CHANGED",
            Event::BillingDeleted(_) => "BILLING_DELETED",
            Event::Unrecognized { event_type, .. } => event_type,
        }
    }

    /// When Toss created the event. Toss sends a local time without an offset (`2022-05-12T00:00:00.000000`),
    /// which means Korea (UTC+09:00); an offset, if present, is honoured. `None` when absent or unreadable.
    pub fn created_at(&self) -> Option<DateTime<FixedOffset>> {
        let raw = match self {
            Event::PaymentStatusChanged(e) => e.created_at.as_str(),
            Event::DepositCallback(e) => e.created_at.as_str(),
            Event::CancelStatusChanged(e) => e.created_at.as_str(),
            Event::BillingDeleted(e) => e.created_at.as_str(),
            Event::Unrecognized { raw, .. } => raw.get("createdAt")?.as_str()?,
        };
        parse_local_time(raw)
    }

    /// Confirms the event against the API and returns the payment as Toss reports it now: for
    /// `PAYMENT_STATUS_CHANGED` and `CANCEL_STATUS_CHANGED` by reading the payment; for `DEPOSIT_CALLBACK` by
    /// reading it by order id and comparing the secret.
    ///
    /// # Errors
    /// [`VerifyError::NotVerifiable`] for an unrecognized event and for `BILLING_DELETED` (no payment to read;
    /// see [`BillingDeleted::is_for`]); otherwise as the event type's own `verify_by_refetch`.
    pub async fn verify_by_refetch(&self, client: &Client) -> Result<Payment, VerifyError> {
        match self {
            Event::PaymentStatusChanged(e) => e.verify_by_refetch(client).await,
            Event::DepositCallback(e) => e.verify_by_refetch(client).await,
            Event::CancelStatusChanged(e) => e.verify_by_refetch(client).await,
            Event::BillingDeleted(_) => Err(VerifyError::NotVerifiable(
                "a billing key cannot be read back; compare it with the keys you hold",
            )),
            Event::Unrecognized { .. } => Err(VerifyError::NotVerifiable("this event type is not modelled")),
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = crate::sensitive::decode_message(&path, e.inner().to_string());
        ParseError::new(path, message)
    })
}

fn parse_local_time(raw: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t);
    }
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    FixedOffset::east_opt(9 * 3600)?.from_local_datetime(&naive).single()
}

/// A webhook body that does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    /// JSON path of the problem, `.` for the whole body.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl ParseError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ParseError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "webhook body does not decode at `{}`: {}", self.path, self.message)
    }
}
impl std::error::Error for ParseError {}

/// Why a webhook could not be trusted.
#[derive(Debug)]
#[non_exhaustive]
pub enum VerifyError {
    /// The deposit callback's secret is not the payment's: treat the delivery as forged.
    SecretMismatch,
    /// The payment has no secret to compare with (Toss sent `null`, or it was not stored).
    MissingSecret,
    /// The event names another payment than the one it was checked against (the field that differs).
    PaymentMismatch {
        /// `orderId` or `transactionKey`.
        field: &'static str,
    },
    /// This event cannot be confirmed by reading the payment; says why.
    NotVerifiable(&'static str),
    /// Reading the payment from Toss failed.
    Fetch(Error<TossError>),
}

impl VerifyError {
    /// Whether the delivery is a forgery or names a payment that does not exist, as opposed to a failure to
    /// check it (Toss unreachable, nothing to compare with). Answer forgeries with a 4xx; answer failures with a
    /// 5xx so Toss delivers again.
    pub fn is_forged(&self) -> bool {
        match self {
            VerifyError::SecretMismatch | VerifyError::PaymentMismatch { .. } => true,
            VerifyError::Fetch(Error::Api(e)) => matches!(e.error.code, super::ErrorCode::NotFoundPayment),
            _ => false,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::SecretMismatch => f.write_str("the deposit callback's secret does not match the payment's"),
            VerifyError::MissingSecret => f.write_str("the payment has no secret to compare the callback with"),
            VerifyError::PaymentMismatch { field } => {
                write!(
                    f,
                    "the event does not match the payment read from Toss (`{field}` differs)"
                )
            }
            VerifyError::NotVerifiable(why) => write!(f, "the event cannot be verified: {why}"),
            VerifyError::Fetch(e) => write!(f, "cannot read the payment to verify the event: {e}"),
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::Fetch(e) => Some(e),
            _ => None,
        }
    }
}
