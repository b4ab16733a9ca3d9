//! Sending a Toss cancel and settling what happened to it.
//!
//! Every attempt of a Toss cancel carries the same `Idempotency-Key`, so the answer to a repeat is Toss's answer
//! for *this* request: a success after an attempt whose outcome was unknown is this cancel's, proven by the key.
//! While Toss is still working on a request, or on another refund of the payment, it answers a repeat with a code
//! for which [`ErrorCode::outcome_pending`] holds; the transport then waits and asks again with the same key, within
//! the deadline.
//!
//! One case is checked against the payment as well: a refusal that an applied first attempt would explain
//! (`ALREADY_CANCELED_PAYMENT`, `NOT_MATCHES_REFUNDABLE_AMOUNT`, ...) after an attempt whose outcome was unknown.
//! With the key kept by Toss the refusal is final; had the key been lost, the first attempt's cancel would be on
//! the payment. Without a cancel that fits this request, made during the call, the refusal stands; with one, the
//! crate cannot prove whose it is and says so ([`Error::Unverified`]).
//!
//! A successful answer is checked against the request before it is believed (see [`check`]).

use super::error::ErrorCode;
use super::payment::{CancelStatus, Payment};
use super::{Client, TossError, read_view};
use crate::RawJson;
use crate::error::{ApiError, Delivery, Error, InconsistentAnswer, Unverified, decode_json};
use crate::transport::{self, Call, Response};
use std::time::{Instant, SystemTime};

/// Toss's refusals that an earlier, applied attempt of the same cancel explains: the balance moved, nothing is
/// left, or (`FORBIDDEN_CONSECUTIVE_REQUEST`, Toss's one cancel per second) a cancel came just before this one.
const EXPLAINED_CODES: &[&str] = &[
    "ALREADY_CANCELED_PAYMENT",
    "NOT_MATCHES_REFUNDABLE_AMOUNT",
    "NOT_CANCELABLE_AMOUNT",
    "ALREADY_REFUND_PAYMENT",
    "FORBIDDEN_CONSECUTIVE_REQUEST",
];

/// What the cancel asked for, to check the answer against.
#[derive(Debug, Clone)]
pub(super) struct Expectation {
    pub payment_key: String,
    /// `cancelAmount`: `None` for a full cancel.
    pub amount: Option<i64>,
    /// `refundableAmount`: the balance before this cancel, as the caller stated it.
    pub guard: Option<i64>,
    /// The balance and number of cancels of the payment given with `.payment()`, when there was one.
    pub known: Option<(i64, usize)>,
    /// `cancelReason`.
    pub reason: String,
}

impl Expectation {
    /// The balance before the cancel, when the request or the caller's payment says.
    fn before(&self) -> Option<i64> {
        self.guard.or(self.known.map(|(balance, _)| balance))
    }

    /// The won this cancel takes off the balance, when it can be known.
    fn refund(&self) -> Option<i64> {
        self.amount.or(self.before())
    }
}

/// A cancel Toss answered with a payment that fits the request.
pub(super) struct Settled {
    pub payment: Payment,
    /// Whether an earlier attempt's outcome was unknown, so this answer is Toss's answer for the same key.
    pub after_unknown: bool,
}

fn code_of(resp: &Response) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Code {
        code: String,
    }
    serde_json::from_slice::<Code>(&resp.body).ok().map(|c| c.code)
}

/// Whether this answer says the refund is still being processed ([`ErrorCode::outcome_pending`]).
pub(super) fn is_pending(resp: &Response) -> bool {
    !resp.status.is_success() && code_of(resp).is_some_and(|code| ErrorCode::from(code).outcome_pending())
}

/// Sends the cancel call (with the client's credentials) and settles its outcome; see the [module docs](self).
///
/// A plain function returning an `async move` block rather than an `async fn`, which would keep a second copy of
/// the call in every cancel's future; and the call comes boxed, so the future holds a pointer instead of its 336
/// bytes.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps each by-value argument twice in its future"
)]
pub(super) fn send_cancel<'a>(
    client: &'a Client,
    mut call: Box<Call>,
    expect: &'a Expectation,
) -> impl Future<Output = Result<Settled, Error<TossError>>> + Send + 'a {
    async move {
        let started = SystemTime::now();
        transport::authorize(&mut call.headers, client.credential());
        let deadline = client.transport().deadline_for(&call);
        call.deadline = Some(deadline);
        let response = client.transport().execute(&call).await?;
        let status = response.status.as_u16();
        let after_unknown = response.earlier_unknown;
        if response.status.is_success() {
            let body = response.body.clone();
            let payment: Payment = read_view(response).map_err(|e| match e {
                Error::Decode(d) => Error::Decode(d.for_mutation(true)),
                other => other,
            })?;
            if let Err(reason) = check(&payment, expect) {
                return Err(Error::Inconsistent(InconsistentAnswer {
                    operation: call.operation,
                    status,
                    reason,
                    answer: RawJson::parse(&String::from_utf8_lossy(&body)).unwrap_or_default(),
                }));
            }
            return Ok(Settled { payment, after_unknown });
        }
        let pending = is_pending(&response);
        let error = match decode_json::<TossError>(status, &response.body) {
            Ok(error) => Error::Api(ApiError::answer(status, error, true)),
            Err(decode) => Error::Decode(decode.for_mutation(true)),
        };
        if pending {
            // The deadline ended while Toss was still processing a refund of the payment: it may yet be applied.
            return Err(error.with_delivery(Delivery::Unknown));
        }
        if !after_unknown || error.delivery() == Delivery::Unknown {
            return Err(error);
        }
        let explained = error.api().is_some_and(|e| EXPLAINED_CODES.contains(&e.code.as_str()));
        if !explained {
            // The same request met a refusal its first attempt would have met too.
            return Err(error.with_delivery(Delivery::Refused));
        }
        // Boxed: the read that settles an outcome is the cold path; inline, it would double every cancel's future.
        match Box::pin(find_fitting_cancel(client, expect, started, deadline, &call)).await {
            Some(None) => Err(error.with_delivery(Delivery::Refused)),
            Some(Some(evidence)) => Err(Error::Unverified(Unverified {
                operation: call.operation,
                reason: "Toss refused the repeated request, yet the payment shows a cancel of this amount and reason \
                     made during the call; it is not this request's if Toss kept its idempotency key, and nothing \
                     else can tell"
                    .into(),
                last_answer: error
                    .api()
                    .map_or_else(|| format!("HTTP {status}"), |e| format!("HTTP {status} {}", e.code)),
                evidence,
            })),
            None => Err(error.with_delivery(Delivery::Unknown)),
        }
    }
}

/// Whether the payment Toss answered a cancel with fits what was asked: it is the payment asked for; it has a
/// cancel entry for this request (its last, and one more than the payment given with `.payment()` had); that
/// entry takes a positive amount, no more than the balance before it, exactly the amount asked (or, for a full
/// cancel, the whole stated balance); and the balance after it is not negative and, when the balance before is
/// known, moved by exactly that amount (an entry still `IN_PROGRESS` may not have moved it yet).
///
/// # Errors
/// What does not fit, in Toss's terms.
pub(super) fn check(payment: &Payment, expect: &Expectation) -> Result<(), String> {
    if payment.payment_key() != expect.payment_key {
        return Err("the answer's paymentKey is not the payment that was cancelled".into());
    }
    let Some(entry) = payment.latest_cancel() else {
        return Err("the answer has no cancel entry (`cancels` is empty or null)".into());
    };
    if let Some((_, known_cancels)) = expect.known
        && payment.cancels().len() <= known_cancels
    {
        return Err(format!(
            "the answer lists {} cancels, no more than the {known_cancels} the payment had before",
            payment.cancels().len()
        ));
    }
    let amount = entry.cancel_amount;
    if amount <= 0 {
        return Err(format!("cancels[-1].cancelAmount is {amount}; a refund is positive"));
    }
    if let Some(before) = expect.before()
        && amount > before
    {
        return Err(format!(
            "cancels[-1].cancelAmount {amount} is more than the balance {before} before the cancel"
        ));
    }
    if let Some(asked) = expect.refund()
        && amount != asked
    {
        return Err(format!("cancels[-1].cancelAmount is {amount}; {asked} was asked"));
    }
    let after = payment.balance();
    if after < 0 {
        return Err(format!("balanceAmount is {after}"));
    }
    if let Some(before) = expect.before() {
        let moved = before.checked_sub(amount) == Some(after);
        let pending = matches!(entry.cancel_status, Some(CancelStatus::InProgress)) && after == before;
        if !moved && !pending {
            return Err(format!(
                "balanceAmount is {after}; {before} less the {amount} cancelled is not that"
            ));
        }
    }
    Ok(())
}

/// Reads the payment (within the cancel's deadline and retry policy) and looks for a cancel entry that fits the
/// request: not aborted, of the amount it takes (when known), with its reason, dated no earlier than the call's
/// start on Toss's clock less [`transport::CLOCK_TOLERANCE_MS`] (Toss dates cancels to the second). `Some(None)`
/// when there is none, `None` when the payment could not be read.
async fn find_fitting_cancel(
    client: &Client,
    expect: &Expectation,
    started: SystemTime,
    deadline: Instant,
    cancel: &Call,
) -> Option<Option<RawJson>> {
    let segment = transport::path_segment("paymentKey", &expect.payment_key).ok()?;
    let mut call = Call::new(
        "getPayment",
        reqwest::Method::GET,
        "/v1/payments/{paymentKey}",
        format!("/v1/payments/{segment}"),
    )
    .within(deadline, cancel.retry.clone());
    transport::authorize(&mut call.headers, client.credential());
    let response = client.transport().execute(&call).await.ok()?;
    let since = transport::start_on_server_ms(started, &response).saturating_sub(transport::CLOCK_TOLERANCE_MS);
    let payment: Payment = read_view(response).ok()?;
    let amount = expect.refund();
    let fitting = payment.cancels().iter().find(|c| {
        !matches!(c.cancel_status, Some(CancelStatus::Aborted))
            && amount.is_none_or(|a| c.cancel_amount == a)
            && c.cancel_reason.as_deref() == Some(expect.reason.as_str())
            && c.canceled_at
                .is_some_and(|at| at.timestamp_millis().saturating_add(999) >= since)
    });
    Some(fitting.map(|c| {
        serde_json::to_value(c)
            .map(|v| RawJson::from_value(&v))
            .unwrap_or_default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(key: &str, balance: i64, cancels: serde_json::Value) -> Payment {
        let p: super::super::raw::types::Payment = serde_json::from_value(serde_json::json!({
            "paymentKey": key, "orderId": "o", "status": "PARTIAL_CANCELED", "totalAmount": 10000,
            "balanceAmount": balance, "cancels": cancels, "mId": "m", "orderName": "x", "currency": "KRW",
            "requestedAt": "2026-01-01T00:00:00+09:00", "method": "카드", "type": "NORMAL", "version": "2022-11-16",
            "lastTransactionKey": "t", "suppliedAmount": 0, "vat": 0, "taxFreeAmount": 0, "taxExemptionAmount": 0,
            "useEscrow": false, "cultureExpense": false, "isPartialCancelable": true, "country": "KR"
        }))
        .unwrap();
        Payment::from(p)
    }

    fn entry(amount: i64) -> serde_json::Value {
        serde_json::json!({"cancelAmount": amount, "cancelReason": "r", "transactionKey": "tx",
                           "canceledAt": "2026-01-01T00:00:05+09:00", "cancelStatus": "DONE"})
    }

    fn expect(amount: Option<i64>, guard: Option<i64>) -> Expectation {
        Expectation {
            payment_key: "pk".into(),
            amount,
            guard,
            known: None,
            reason: "r".into(),
        }
    }

    #[test]
    fn an_answer_is_believed_only_when_it_fits_the_request() {
        let ok = payment("pk", 7_000, serde_json::json!([entry(3_000)]));
        assert!(check(&ok, &expect(Some(3_000), Some(10_000))).is_ok());
        let other = payment("another", 7_000, serde_json::json!([entry(3_000)]));
        assert!(check(&other, &expect(Some(3_000), Some(10_000))).is_err());
        for cancels in [serde_json::json!([]), serde_json::Value::Null] {
            assert!(check(&payment("pk", 7_000, cancels), &expect(Some(3_000), None)).is_err());
        }
        for (amount, balance) in [(-3_000, 13_000), (99_999, 7_000), (3_000, 6_000), (i64::MIN, 7_000)] {
            let p = payment("pk", balance, serde_json::json!([entry(amount)]));
            assert!(
                check(&p, &expect(Some(3_000), Some(10_000))).is_err(),
                "{amount} / {balance}"
            );
        }
        let full = payment("pk", 0, serde_json::json!([entry(10_000)]));
        assert!(check(&full, &expect(None, Some(10_000))).is_ok());
        assert!(check(&full, &expect(None, Some(9_000))).is_err());
    }
}
