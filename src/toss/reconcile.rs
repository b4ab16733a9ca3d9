//! Settling a Toss cancel whose earlier attempt's outcome is unknown.
//!
//! Every attempt of a Toss cancel carries the same `Idempotency-Key`, so a replay normally gets the first answer
//! back and nothing here is needed. When Toss no longer knows the key (it keeps answers for a limited time, and a
//! key can be lost on its side), the replay is judged on its own: after the first attempt went through, it is
//! refused as `ALREADY_CANCELED_PAYMENT` or, with `refundableAmount`, `NOT_MATCHES_REFUNDABLE_AMOUNT`. After an
//! attempt whose outcome is unknown, such a refusal (or a final failure with no answer) is checked against the
//! payment itself: see [`confirm`].

use super::error::ErrorCode;
use super::payment::{CancelStatus, Payment};
use super::{Client, TossError, read_response};
use crate::error::Error;
use crate::transport::{self, Call, CallOptions};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// How far back from the call's start a matching cancel may lie, to absorb a clock difference with Toss.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Sends a cancel call with the client's credentials; returns the payment after it and whether that was confirmed
/// by reading the payment again (only ever for a call replayed after an attempt whose outcome is unknown).
pub(super) async fn send_cancel(
    client: &Client,
    mut call: Call,
    payment_key: &str,
) -> Result<(Payment, bool), Error<TossError>> {
    let started = Utc::now();
    // The read is part of the cancel: it keeps the timeout and retry policy the caller chose for it.
    let options = CallOptions {
        timeout: call.timeout,
        retry: call.retry.clone(),
    };
    transport::authorize(&mut call.headers, client.credential());
    let (result, unknown) = match client.transport().execute(&call).await {
        Ok(response) => {
            let unknown = response.earlier_unknown;
            (read_response::<Payment>(response), unknown)
        }
        Err(t) => {
            let unknown = t.earlier_unknown;
            (Err(Error::Transport(t)), unknown)
        }
    };
    let error = match result {
        Ok(payment) => return Ok((payment, false)),
        Err(e) => e,
    };
    let explained = match &error {
        Error::Api(api) => {
            matches!(
                api.error.code,
                ErrorCode::AlreadyCanceledPayment | ErrorCode::NotMatchesRefundableAmount
            ) || api.status == 429
                || api.status >= 500
        }
        Error::Decode(d) => d.status >= 500,
        Error::Transport(_) => true,
        Error::InvalidRequest(_) => false,
    };
    if !(unknown && explained && call.replay == transport::Replay::Safe) {
        return Err(error);
    }
    // Read back only now that a reconciliation is needed.
    let Some(sent) = Sent::from_call(&call, payment_key) else {
        return Err(error);
    };
    let confirmed = confirm(client, &sent, &options, started).await;
    transport::settle("toss", call.operation, confirmed, error)
}

/// What the cancel asked for, read back from the body that was sent.
#[derive(Debug, PartialEq, Eq)]
struct Sent {
    payment_key: String,
    /// `cancelAmount`; `None` for a full cancel.
    amount: Option<i64>,
    /// `refundableAmount`: the balance before this cancel, when the caller stated it.
    balance_before: Option<i64>,
    reason: String,
}

impl Sent {
    fn from_call(call: &Call, payment_key: &str) -> Option<Sent> {
        let body: Value = serde_json::from_slice(call.body.as_deref()?).ok()?;
        Some(Sent {
            payment_key: payment_key.to_string(),
            amount: body.get("cancelAmount").and_then(Value::as_i64),
            balance_before: body.get("refundableAmount").and_then(Value::as_i64),
            reason: body.get("cancelReason")?.as_str()?.to_string(),
        })
    }

    /// The amount this cancel takes off the balance, when it can be known: `cancelAmount`, or for a full cancel
    /// the stated balance.
    fn expected_amount(&self) -> Option<i64> {
        self.amount.or(self.balance_before)
    }
}

/// Reads the payment and returns it when it shows this call's cancel: its last cancel has the reason sent, was
/// not aborted, is dated no earlier than the call's start (less [`CLOCK_SKEW`]), and has the expected amount
/// (`cancelAmount`, or the stated `refundableAmount` for a full cancel); and the balance moved by exactly that amount
/// from `refundableAmount` (a full cancel without one must have left nothing). Otherwise `None`, and the caller
/// keeps the original error.
async fn confirm(client: &Client, sent: &Sent, options: &CallOptions, started: DateTime<Utc>) -> Option<Payment> {
    let payment = options.on(client.get_payment(&sent.payment_key)).await.ok()?;
    let latest = payment.latest_cancel()?;
    let amount_fits = sent.expected_amount().is_none_or(|a| latest.cancel_amount == a);
    let balance_fits = match (sent.balance_before, sent.expected_amount()) {
        (Some(before), Some(amount)) => payment.balance() == before - amount,
        _ if sent.amount.is_none() => payment.balance() == 0,
        // A partial cancel without a stated balance: the amount and reason above must do.
        _ => true,
    };
    let fits = amount_fits
        && balance_fits
        && latest.cancel_reason.as_deref() == Some(sent.reason.as_str())
        && !matches!(latest.cancel_status, Some(CancelStatus::Aborted))
        && latest.canceled_at.is_some_and(|at| at >= started - CLOCK_SKEW);
    fits.then_some(payment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: Value) -> Call {
        Call::new(
            "cancelPayment",
            reqwest::Method::POST,
            "/v1/payments/{paymentKey}/cancel",
            "/v1/payments/k/cancel".into(),
        )
        .json(&body)
    }

    #[test]
    fn a_full_cancel_with_a_stated_balance_expects_all_of_it() {
        let sent = Sent::from_call(
            &call(serde_json::json!({"cancelReason": "r", "refundableAmount": 900})),
            "k",
        );
        assert_eq!(sent.as_ref().and_then(Sent::expected_amount), Some(900));
        let partial = Sent::from_call(
            &call(serde_json::json!({"cancelReason": "r", "cancelAmount": 100, "refundableAmount": 900})),
            "k",
        );
        assert_eq!(partial.as_ref().and_then(Sent::expected_amount), Some(100));
    }
}
