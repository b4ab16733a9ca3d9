//! Settling a guarded cancel whose earlier attempt's outcome is unknown.
//!
//! The crate retries a cancel only with `currentCancellableAmount` set. When an attempt times out, loses its
//! connection after sending, or is answered 5xx, PortOne may have applied it; the replay then meets a balance that
//! already moved and is refused (`CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN`, or `PAYMENT_ALREADY_CANCELLED` once
//! nothing is left). Surfacing that refusal would tell the caller that the refund failed when it happened. So after
//! such an attempt, a refusal of that kind (or a final failure with no answer at all) is checked against the
//! payment itself: see [`confirm`] for what counts as "our cancel is there".

use super::Client;
use super::cancel::{CancelOutcome, Cancellation};
use super::error::{CancelPaymentError, GetPaymentError, from_response};
use super::payment::{Payment, PaymentExt};
use crate::error::{Error, decode_json};
use crate::transport::{Call, Replay, encode_segment};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How far back from the call's start a matching cancellation may have been requested, to absorb a clock
/// difference between this machine and PortOne.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Sends a cancel call and, when it was replayed after an attempt whose outcome is unknown and the last answer is
/// one that such an attempt explains, reads the payment to find out what happened. A single attempt is never
/// reconciled: its own timeout or 5xx is reported as it is. Returns the answer and whether it was
/// reconciled (taken from the payment rather than from the cancel's own answer).
pub(super) async fn send_cancel<T: DeserializeOwned>(
    client: &Client,
    call: &Call,
    payment_id: &str,
) -> Result<(T, bool), Error<CancelPaymentError>> {
    let started = Utc::now();
    let (result, unknown) = match client.shared.transport.execute(call).await {
        Ok(response) => {
            let unknown = response.earlier_unknown;
            (from_response::<T, CancelPaymentError>(response), unknown)
        }
        Err(t) => {
            let unknown = t.earlier_unknown;
            (Err(Error::Transport(t)), unknown)
        }
    };
    let error = match result {
        Ok(value) => return Ok((value, false)),
        Err(e) => e,
    };
    if !unknown || call.replay != Replay::Safe || !explained_by_earlier_attempt(&error) {
        return Err(error);
    }
    let Some(sent) = Sent::from_call(call, payment_id) else {
        return Err(error);
    };
    // The payment's cancellation, read as the cancel's own answer would have carried it.
    let confirmed = confirm(client, &sent, call, started).await.and_then(|raw| {
        let answer = serde_json::json!({ "cancellation": raw }).to_string();
        decode_json::<T>(200, &bytes::Bytes::from(answer)).ok()
    });
    crate::transport::settle("portone-v2", call.operation, confirmed, error)
}

/// Whether this failure can be an earlier attempt's success seen from outside: the guard's refusals, or no
/// usable answer at all.
fn explained_by_earlier_attempt(error: &Error<CancelPaymentError>) -> bool {
    match error {
        Error::Api(api) => {
            matches!(
                api.error,
                CancelPaymentError::PaymentAlreadyCancelled { .. }
                    | CancelPaymentError::CancellableAmountConsistencyBroken { .. }
            ) || api.status == 429
                || api.status >= 500
        }
        Error::Decode(d) => d.status >= 500,
        Error::Transport(_) => true,
        Error::InvalidRequest(_) => false,
    }
}

/// What the cancel asked for, read back from the body that was sent, so the check compares against exactly what
/// PortOne received.
#[derive(Debug, PartialEq, Eq)]
struct Sent {
    payment_id: String,
    store_id: Option<String>,
    /// Won that this cancel takes off the balance: `amount`, or the whole stated balance for a full cancel.
    amount: i64,
    /// `currentCancellableAmount`.
    balance_before: i64,
    reason: String,
}

impl Sent {
    fn from_call(call: &Call, payment_id: &str) -> Option<Sent> {
        let body: Value = serde_json::from_slice(call.body.as_deref()?).ok()?;
        let balance_before = body.get("currentCancellableAmount")?.as_i64()?;
        let amount = match body.get("amount").and_then(Value::as_i64) {
            Some(a) => a,
            None => balance_before,
        };
        Some(Sent {
            payment_id: payment_id.to_string(),
            store_id: body.get("storeId").and_then(Value::as_str).map(str::to_string),
            amount,
            balance_before,
            reason: body.get("reason").and_then(Value::as_str)?.to_string(),
        })
    }
}

/// Reads the payment and returns the raw JSON of the cancellation this call made, when the payment shows it:
///
/// * its most recent cancellation that did not fail has the amount this cancel asked for (the whole stated balance
///   for a full cancel) and the same reason, and was requested no earlier than the call started (less
///   [`CLOCK_SKEW`]);
/// * the balance moved by exactly that amount from the stated `currentCancellableAmount` (for a cancel still
///   `REQUESTED`, PortOne may not count it yet, so an unmoved balance is accepted too).
///
/// Anything else (the read fails, another cancel came in between, amounts differ) returns `None`, and the caller
/// keeps the original error: the crate reports success only when the payment proves it.
async fn confirm(client: &Client, sent: &Sent, cancel: &Call, started: DateTime<Utc>) -> Option<Value> {
    let path = format!("/payments/{}", encode_segment(&sent.payment_id));
    let mut call = client.call("getPayment", reqwest::Method::GET, "/payments/{paymentId}", path);
    if let Some(store_id) = &sent.store_id {
        call.query.push(("storeId", store_id.clone()));
    }
    // The read is part of the cancel: it keeps the timeout and retry policy the caller chose for it.
    call.timeout = cancel.timeout;
    call.retry = cancel.retry.clone();
    let response = client.shared.transport.execute(&call).await.ok()?;
    let raw: Value = from_response::<Value, GetPaymentError>(response).ok()?;
    let payment: Payment = serde_json::from_value(raw.clone()).ok()?;
    let (index, latest) = payment
        .cancellations()
        .into_iter()
        .enumerate()
        .rev()
        .find(|(_, c)| !matches!(c, CancelOutcome::Failed(_)))?;
    let c = latest.cancellation()?;
    let pending = matches!(latest, CancelOutcome::Requested(_));
    let balance_now = payment.cancellable_amount()?;
    let balance_fits =
        balance_now == sent.balance_before - sent.amount || (pending && balance_now == sent.balance_before);
    let fits = matches!(latest, CancelOutcome::Succeeded(_) | CancelOutcome::Requested(_))
        && c.total_amount == sent.amount
        && c.reason == sent.reason
        && c.requested_at >= started - CLOCK_SKEW
        && balance_fits;
    if !fits {
        return None;
    }
    raw.get("cancellations")?.get(index).cloned()
}

impl Cancellation {
    /// Whether this cancellation was confirmed by reading the payment again rather than taken from the cancel's own
    /// answer.
    ///
    /// That happens when an earlier attempt of a guarded cancel had an unknown outcome (a timeout, a dropped
    /// connection, a 5xx) and the replay was refused as already cancelled or as a balance mismatch: the payment then
    /// showed this cancellation, of the requested amount, made during the call, with the balance moved by exactly
    /// that amount. The refund happened once; only the way the crate learned it differs.
    pub fn is_reconciled(&self) -> bool {
        self.reconciled
    }
}

impl CancelOutcome {
    /// Whether the outcome was confirmed by reading the payment again; see [`Cancellation::is_reconciled`].
    pub fn is_reconciled(&self) -> bool {
        self.cancellation().is_some_and(Cancellation::is_reconciled)
    }

    /// Marks the outcome as confirmed by a second read.
    pub(super) fn reconciled(mut self, reconciled: bool) -> Self {
        if let CancelOutcome::Succeeded(c) | CancelOutcome::Requested(c) | CancelOutcome::Failed(c) = &mut self {
            c.reconciled = reconciled;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: Value) -> Call {
        Call::new(
            "cancelPayment",
            reqwest::Method::POST,
            "/payments/{paymentId}/cancel",
            "/payments/p/cancel".into(),
        )
        .json(&body)
    }

    #[test]
    fn a_full_cancel_expects_the_whole_stated_balance() {
        let sent = Sent::from_call(
            &call(serde_json::json!({"reason": "r", "currentCancellableAmount": 7000, "storeId": "s"})),
            "p",
        );
        assert_eq!(
            sent,
            Some(Sent {
                payment_id: "p".into(),
                store_id: Some("s".into()),
                amount: 7000,
                balance_before: 7000,
                reason: "r".into(),
            })
        );
    }

    #[test]
    fn an_unguarded_cancel_cannot_be_reconciled() {
        assert_eq!(
            Sent::from_call(&call(serde_json::json!({"reason": "r", "amount": 10})), "p"),
            None
        );
    }
}
