//! iamport (V1) webhooks: parsing a notification and trusting it only after asking iamport.
//!
//! A V1 webhook carries `imp_uid`, `merchant_uid`, `status` and, for cancels, `cancellation_id`, as JSON or as a
//! form body. It is **not signed**: anyone who can reach the endpoint can post one. The only way to trust it is
//! to fetch the payment from iamport and act on what iamport says, which [`Notification::verify_by_refetch`] does.
//!
//! ```no_run
//! use kr_payments::iamport::{Client, webhook::Notification};
//!
//! async fn on_webhook(client: &Client, content_type: Option<&str>, body: &[u8]) -> u16 {
//!     let Ok(notification) = Notification::parse(content_type, body) else { return 400 };
//!     match notification.verify_by_refetch(client).await {
//!         // `payment` is iamport's own record: update the order from it, not from the notification.
//!         Ok(payment) => {
//!             let _ = payment.cancellable_balance();
//!             200
//!         }
//!         // A forged or stale notification, or iamport could not be asked: answer an error so it is sent again.
//!         Err(_) => 500,
//!     }
//! }
//! ```

use super::Client;
use super::error::Error;
use super::payment::{ImpUid, MerchantUid, Payment, PaymentStatus};
use serde::Deserialize;
use std::fmt;

/// A webhook notification as iamport sent it. Unverified: see [`Notification::verify_by_refetch`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// iamport's id of the payment.
    pub imp_uid: ImpUid,
    /// The merchant's order id.
    pub merchant_uid: MerchantUid,
    /// The status the notification claims: `ready` (a virtual account was issued), `paid`, `failed`,
    /// `cancelled`, or a value kept as sent.
    pub status: PaymentStatus,
    /// iamport's id of the cancel, on cancel notifications.
    #[serde(default)]
    pub cancellation_id: Option<String>,
}

/// Why a webhook body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The JSON body does not decode (says why).
    Json(String),
    /// The form body is not valid UTF-8 after percent-decoding.
    Form,
    /// A required field is missing or empty.
    Missing(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Json(why) => write!(f, "the webhook JSON does not decode: {why}"),
            ParseError::Form => f.write_str("the webhook form body is not valid UTF-8"),
            ParseError::Missing(field) => write!(f, "the webhook has no `{field}`"),
        }
    }
}
impl std::error::Error for ParseError {}

/// Why a notification was not confirmed by iamport.
///
/// `Debug` and `Display` name the payment a variant carries by its ids and status only, never its personal fields:
/// a forged notification must not put a customer's data into the merchant's error log.
#[non_exhaustive]
pub enum VerifyError {
    /// The payment could not be fetched (unknown `imp_uid`, credentials, network): nothing is confirmed.
    Fetch(Error),
    /// iamport's payment belongs to another order than the notification says.
    MerchantUidMismatch {
        /// The order id in the notification.
        notified: MerchantUid,
        /// The payment as iamport has it.
        payment: Box<Payment>,
    },
    /// iamport's payment is not in the state the notification claims (a forged notification, or one overtaken
    /// by a later change). The payment as fetched is the truth to act on.
    StatusMismatch {
        /// The status in the notification.
        notified: PaymentStatus,
        /// The payment as iamport has it.
        payment: Box<Payment>,
    },
    /// The notification names a cancel (`cancellation_id`) the payment's cancel history does not have.
    UnknownCancellation {
        /// The cancel id in the notification.
        cancellation_id: String,
        /// The payment as iamport has it.
        payment: Box<Payment>,
    },
}

impl fmt::Debug for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |payment: &Payment| crate::sensitive::ids_of(payment);
        match self {
            VerifyError::Fetch(e) => f.debug_tuple("Fetch").field(e).finish(),
            VerifyError::MerchantUidMismatch { notified, payment } => f
                .debug_struct("MerchantUidMismatch")
                .field("notified", notified)
                .field("payment", &format_args!("{}", ids(payment)))
                .finish(),
            VerifyError::StatusMismatch { notified, payment } => f
                .debug_struct("StatusMismatch")
                .field("notified", notified)
                .field("payment", &format_args!("{}", ids(payment)))
                .finish(),
            VerifyError::UnknownCancellation {
                cancellation_id,
                payment,
            } => f
                .debug_struct("UnknownCancellation")
                .field("cancellation_id", cancellation_id)
                .field("payment", &format_args!("{}", ids(payment)))
                .finish(),
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Fetch(e) => write!(f, "cannot fetch the payment to verify the webhook: {e}"),
            VerifyError::MerchantUidMismatch { notified, payment } => write!(
                f,
                "the webhook names order `{notified}` but the payment belongs to `{}`",
                payment.merchant_uid.as_deref().unwrap_or("<none>")
            ),
            VerifyError::StatusMismatch { notified, payment } => write!(
                f,
                "the webhook says `{notified}` but the payment is `{}`",
                payment.status.as_ref().map_or("<none>", |s| s.as_str())
            ),
            VerifyError::UnknownCancellation { cancellation_id, .. } => {
                write!(f, "the payment has no cancel `{cancellation_id}`")
            }
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

impl Notification {
    /// Parses a JSON body.
    ///
    /// # Errors
    /// [`ParseError::Json`] for a body that does not decode; [`ParseError::Missing`] for an empty `imp_uid` or
    /// `merchant_uid`.
    pub fn from_json(body: &[u8]) -> Result<Self, ParseError> {
        let n: Notification = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
        n.checked()
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    ///
    /// # Errors
    /// [`ParseError::Form`] for a body that is not UTF-8; [`ParseError::Missing`] for a missing or empty
    /// `imp_uid`, `merchant_uid` or `status`.
    pub fn from_form(body: &[u8]) -> Result<Self, ParseError> {
        let (mut imp_uid, mut merchant_uid, mut status, mut cancellation_id) = (None, None, None, None);
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let mut kv = pair.splitn(2, |&b| b == b'=');
            let key = form_decode(kv.next().unwrap_or_default())?;
            let value = form_decode(kv.next().unwrap_or_default())?;
            let slot = match key.as_str() {
                "imp_uid" => &mut imp_uid,
                "merchant_uid" => &mut merchant_uid,
                "status" => &mut status,
                "cancellation_id" => &mut cancellation_id,
                _ => continue,
            };
            *slot = Some(value);
        }
        let n = Notification {
            imp_uid: ImpUid::new(imp_uid.ok_or(ParseError::Missing("imp_uid"))?),
            merchant_uid: MerchantUid::new(merchant_uid.ok_or(ParseError::Missing("merchant_uid"))?),
            status: parse_status(status.filter(|s| !s.is_empty()).ok_or(ParseError::Missing("status"))?),
            cancellation_id: cancellation_id.filter(|c| !c.is_empty()),
        };
        n.checked()
    }

    /// Parses a body by its `Content-Type`: JSON when it says `json`, a form when it says
    /// `x-www-form-urlencoded`, and otherwise JSON if the body starts with `{`, a form if not.
    ///
    /// # Errors
    /// As [`Notification::from_json`] and [`Notification::from_form`].
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, ParseError> {
        let ct = content_type.unwrap_or_default().to_ascii_lowercase();
        let json = if ct.contains("json") {
            true
        } else if ct.contains("x-www-form-urlencoded") {
            false
        } else {
            body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        };
        if json {
            Self::from_json(body)
        } else {
            Self::from_form(body)
        }
    }

    fn checked(self) -> Result<Self, ParseError> {
        if self.imp_uid.as_str().trim().is_empty() {
            return Err(ParseError::Missing("imp_uid"));
        }
        if self.merchant_uid.as_str().trim().is_empty() {
            return Err(ParseError::Missing("merchant_uid"));
        }
        Ok(self)
    }

    /// Fetches the payment from iamport and returns it only if it agrees with the notification: same order id,
    /// same status, and for a cancel notification with a `cancellation_id`, that cancel in its history.
    ///
    /// A partial cancel leaves a payment `paid`, so a `cancelled` notification with a `cancellation_id` is
    /// confirmed by the cancel in the history, not by the status; without a `cancellation_id` it needs the status
    /// `cancelled`.
    ///
    /// # Errors
    /// [`VerifyError::Fetch`] when iamport could not be asked; the other variants, carrying the fetched payment,
    /// when it disagrees.
    pub async fn verify_by_refetch(&self, client: &Client) -> Result<Payment, VerifyError> {
        let payment = client.get_payment(&self.imp_uid).await.map_err(VerifyError::Fetch)?;
        if payment.merchant_uid.as_deref() != Some(self.merchant_uid.as_str()) {
            return Err(VerifyError::MerchantUidMismatch {
                notified: self.merchant_uid.clone(),
                payment: Box::new(payment),
            });
        }
        if let (PaymentStatus::Cancelled, Some(id)) = (&self.status, &self.cancellation_id) {
            if payment.cancellation(id).is_none() {
                return Err(VerifyError::UnknownCancellation {
                    cancellation_id: id.clone(),
                    payment: Box::new(payment),
                });
            }
            return Ok(payment);
        }
        if payment.status.as_ref().map(PaymentStatus::as_str) != Some(self.status.as_str()) {
            return Err(VerifyError::StatusMismatch {
                notified: self.status.clone(),
                payment: Box::new(payment),
            });
        }
        Ok(payment)
    }
}

fn form_decode(raw: &[u8]) -> Result<String, ParseError> {
    let plus_as_space: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ParseError::Form)
}

fn parse_status(raw: String) -> PaymentStatus {
    // The generated parser never fails (unknown values become `Unrecognized`); the fallback only satisfies its type.
    raw.parse().unwrap_or(PaymentStatus::Unrecognized(raw))
}
