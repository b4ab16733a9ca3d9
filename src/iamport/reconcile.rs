//! Settling a `checksum`-guarded cancel whose earlier attempt's outcome is unknown.
//!
//! The crate retries an iamport cancel only with `checksum` set. When an attempt times out, loses its connection
//! after sending, or is answered 5xx, iamport may have applied it; the replay then meets a balance that already
//! moved and is refused with a non-zero `code`. iamport's messages differ by PG and are usually Korean, so instead of
//! matching their text, any refusal after such an attempt (or a final failure with no answer at all) is checked
//! against the payment itself: see [`confirm`].

use super::Client;
use super::error::{Error, decode_envelope};
use super::payment::{ImpUid, MerchantUid, Payment};
use crate::transport::{Call, CallOptions, Replay};
use chrono::Utc;
use serde_json::Value;

/// How far back from the call's start a matching cancel may lie, to absorb a clock difference with iamport.
const CLOCK_SKEW_SECONDS: i64 = 600;

/// Sends a cancel call; returns the payment after it and whether that was confirmed by reading the payment again
/// (only ever for a call replayed after an attempt whose outcome is unknown).
pub(super) async fn send_cancel(client: &Client, call: Call) -> Result<(Payment, bool), Error> {
    let started = Utc::now().timestamp();
    // Read back only when a reconciliation is needed; the call itself goes to `execute`.
    let body = call.body.clone();
    let guarded = call.replay == Replay::Safe;
    let operation = call.operation;
    // The read is part of the cancel: it keeps the timeout and retry policy the caller chose for it.
    let options = CallOptions {
        timeout: call.timeout,
        retry: call.retry.clone(),
    };
    let (result, unknown) = match client.execute(call).await {
        Ok(response) => {
            let unknown = response.earlier_unknown;
            (decode_envelope::<Payment>(operation, &response), unknown)
        }
        Err(crate::Error::Transport(t)) => {
            let unknown = t.earlier_unknown;
            (Err(crate::Error::Transport(t)), unknown)
        }
        Err(other) => (Err(other), false),
    };
    let error = match result {
        Ok(payment) => return Ok((payment, false)),
        Err(e) => e,
    };
    let explained = match &error {
        // Every refusal counts: the text differs by PG and language, and a re-read costs one GET.
        crate::Error::Api(_) | crate::Error::Transport(_) => true,
        crate::Error::Decode(d) => d.status >= 500,
        crate::Error::InvalidRequest(_) => false,
    };
    if !(unknown && guarded && explained) {
        return Err(error);
    }
    let Some(sent) = body.as_deref().and_then(Sent::from_body) else {
        return Err(error);
    };
    let confirmed = confirm(client, &sent, &options, started).await;
    crate::transport::settle("iamport", operation, confirmed, error)
}

/// What the cancel asked for, read back from the body that was sent.
#[derive(Debug, PartialEq, Eq)]
struct Sent {
    imp_uid: Option<String>,
    merchant_uid: Option<String>,
    /// Won that this cancel takes off the balance: `amount`, or the whole `checksum` for a full cancel.
    amount: i64,
    /// `checksum`: the balance before this cancel.
    balance_before: i64,
    reason: Option<String>,
}

impl Sent {
    fn from_body(body: &[u8]) -> Option<Sent> {
        let body: Value = serde_json::from_slice(body).ok()?;
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
        let balance_before = body.get("checksum")?.as_i64()?;
        Some(Sent {
            imp_uid: text("imp_uid"),
            merchant_uid: text("merchant_uid"),
            amount: body.get("amount").and_then(Value::as_i64).unwrap_or(balance_before),
            balance_before,
            reason: text("reason"),
        })
    }
}

/// Reads the payment and returns it when it shows this call's cancel: its most recent `cancel_history` entry has
/// the amount asked for (the whole `checksum` for a full cancel), the reason sent (when one was), and a time no
/// earlier than the call's start (less [`CLOCK_SKEW_SECONDS`]); and what is left to cancel is exactly `checksum`
/// minus that amount. Otherwise `None`: another cancel in between, or no cancel at all, keeps the original error.
async fn confirm(client: &Client, sent: &Sent, options: &CallOptions, started: i64) -> Option<Payment> {
    let (imp_uid, merchant_uid) = (
        sent.imp_uid.clone().map(ImpUid::new),
        sent.merchant_uid.clone().map(MerchantUid::new),
    );
    let lookup = match (&imp_uid, &merchant_uid) {
        (Some(id), _) => client.get_payment(id),
        (None, Some(id)) => client.find_payment(id),
        (None, None) => return None,
    };
    let payment = options.on(lookup).await.ok()?;
    let latest = payment.latest_cancellation()?;
    let fits = latest.amount == Some(sent.amount)
        && sent.reason.as_ref().is_none_or(|r| latest.reason.as_ref() == Some(r))
        && latest.cancelled_at.is_some_and(|at| at >= started - CLOCK_SKEW_SECONDS)
        && payment.cancellable_balance() == Some(sent.balance_before - sent.amount);
    fits.then_some(payment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(body: Value) -> Vec<u8> {
        call(body).body.expect("a JSON body")
    }

    fn call(body: Value) -> Call {
        Call::new(
            "cancelPayment",
            reqwest::Method::POST,
            "/payments/cancel",
            "/payments/cancel".into(),
        )
        .json(&body)
    }

    #[test]
    fn the_expectation_is_read_from_the_body_sent() {
        let sent = Sent::from_body(&body_of(
            serde_json::json!({"imp_uid": "imp_1", "amount": 3000, "checksum": 10000, "reason": "r"}),
        ));
        assert_eq!(
            sent,
            Some(Sent {
                imp_uid: Some("imp_1".into()),
                merchant_uid: None,
                amount: 3000,
                balance_before: 10000,
                reason: Some("r".into()),
            })
        );
        let full = Sent::from_body(&body_of(serde_json::json!({"merchant_uid": "o", "checksum": 500})));
        assert_eq!(full.map(|s| (s.amount, s.balance_before)), Some((500, 500)));
    }

    #[test]
    fn a_cancel_without_checksum_is_never_reconciled() {
        assert_eq!(
            Sent::from_body(&body_of(serde_json::json!({"imp_uid": "imp_1", "amount": 10}))),
            None
        );
    }
}
