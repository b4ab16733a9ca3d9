//! Sending an iamport cancel and settling what happened to it.
//!
//! iamport has no idempotency key. A cancel with `checksum` is retried (a replay of a cancel that went through meets
//! a moved balance and is refused); one without is sent once. When an attempt's outcome was unknown and the call
//! still ended without a success (a refusal, which may be the first attempt's success seen from outside, or no
//! usable answer), the payment is read and its `cancel_history` decides:
//!
//! * **ours**: one entry took the balance from the `checksum` to `checksum − amount`, with the reason sent, dated
//!   no earlier than the call's start on iamport's clock less [`transport::CLOCK_TOLERANCE_MS`] (iamport dates
//!   cancels to the second, which is allowed for). The call succeeds, marked reconciled. When another cancel of
//!   the same payment ran in this process at the same time, the data cannot tell which of the two was applied:
//!   [`crate::Error::Unverified`].
//! * **somebody else's, maybe**: such an entry exists, but dated up to [`LOOKBACK_SECONDS`] before the call: it
//!   cannot be ours unless the clocks disagree more than the tolerance allows, nor proven to be another's:
//!   [`crate::Error::Unverified`].
//! * **not applied**: no such entry, and the balance is no longer the `checksum`: this cancel was refused or will
//!   be, since iamport only applies it at that balance, and balances only go down. The error stands, with
//!   [`Delivery::Refused`].
//! * otherwise the outcome stays unknown.
//!
//! A successful answer is checked against the request before it is believed (see [`check`]).

use super::Client;
use super::error::{Error, decode_envelope_view};
use super::payment::{CancelHistoryEntry, Payment};
use crate::RawJson;
use crate::error::{Delivery, InconsistentAnswer, Unverified};
use crate::transport::{self, Call, InFlight, Replay};
use reqwest::Method;
use std::time::{Instant, SystemTime};

/// How far before the call an entry that fits it is still taken as a sign that the outcome cannot be proven
/// either way, rather than as somebody else's cancel.
pub const LOOKBACK_SECONDS: i64 = 600;

/// What the cancel asked for, to check the answer against and to recognize its entry.
#[derive(Debug, Clone)]
pub(super) struct Expectation {
    pub imp_uid: Option<String>,
    pub merchant_uid: Option<String>,
    /// `amount`: `None` for a full cancel.
    pub amount: Option<i64>,
    /// `checksum`: the balance before this cancel, as the caller stated it.
    pub guard: Option<i64>,
    /// The balance of the payment given with `.payment()`, when there was one.
    pub known_balance: Option<i64>,
    pub reason: Option<String>,
}

impl Expectation {
    fn before(&self) -> Option<i64> {
        self.guard.or(self.known_balance)
    }

    fn refund(&self) -> Option<i64> {
        self.amount.or(self.before())
    }

    /// The key this cancel is registered under while in flight.
    /// Which payment the cancel names, as the in-flight registry keys it: the field and its value.
    fn in_flight_key(&self) -> [&str; 2] {
        match (&self.imp_uid, &self.merchant_uid) {
            (Some(id), _) => ["imp_uid", id],
            (None, Some(id)) => ["merchant_uid", id],
            (None, None) => ["", ""],
        }
    }
}

/// A cancel iamport applied, as the crate could prove it.
pub(super) struct Settled {
    pub payment: Payment,
    /// Index into `payment.cancel_history` of this cancel's entry, when the answer lists it.
    pub entry: Option<usize>,
    /// Won this cancel refunded: its entry's amount, or how far the balance moved.
    pub refunded: i64,
    /// Whether the outcome was read from the payment after an attempt whose outcome was unknown.
    pub reconciled: bool,
}

/// Sends a cancel call and settles its outcome; see the [module docs](self).
///
/// A plain function returning an `async move` block rather than an `async fn`, which would keep a second copy of
/// the call and the expectation in every cancel's future; and the two come boxed, so that the future holds a
/// pointer instead of their 456 bytes (a cancel's future then stays under the 1 KB above which an allocator's
/// fast path for small blocks ends).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps each by-value argument twice in its future"
)]
pub(super) fn send_cancel(
    client: &Client,
    mut cancel: Box<(Call, Expectation)>,
) -> impl Future<Output = Result<Settled, Error>> + Send + '_ {
    async move {
        let (call, expect) = &mut *cancel;
        let expect = &*expect;
        let started = SystemTime::now();
        let [field, id] = expect.in_flight_key();
        let in_flight = InFlight::start(&["iamport", client.base_url(), field, id]);
        let deadline = client.shared.transport.deadline_for(call);
        call.deadline = Some(deadline);
        let guarded = call.replay == Replay::Safe;
        let operation = call.operation;
        let (error, after_unknown) = match client.execute(call).await {
            Ok(response) => {
                let after_unknown = response.earlier_unknown;
                match decode_envelope_view::<Payment>(operation, &response) {
                    Ok(payment) => {
                        // A success answers for itself: after an unknown attempt, a guarded replay succeeds only if
                        // that attempt was not applied.
                        return answered(payment, expect, &response, operation).map(|(payment, entry, refunded)| {
                            Settled {
                                payment,
                                entry,
                                refunded,
                                reconciled: false,
                            }
                        });
                    }
                    Err(e) => (e, after_unknown),
                }
            }
            Err(e) => (e, false),
        };
        let unknown = after_unknown || error.delivery() == Delivery::Unknown;
        if !(unknown && guarded) || error.nothing_sent() {
            return Err(error);
        }
        // Boxed: the read that settles an outcome is the cold path; inline, it would double every cancel's future.
        let Some(read) = Box::pin(read_payment(client, expect, deadline, call.retry.clone())).await else {
            return Err(error.with_delivery(Delivery::Unknown));
        };
        let since_ms = transport::start_on_server_ms(started, &read.1).saturating_sub(transport::CLOCK_TOLERANCE_MS);
        let payment = read.0;
        let last_answer = match &error {
            crate::Error::Api(api) => format!("HTTP {} code {}", api.status, api.error.code),
            other => other.to_string(),
        };
        let unverified = |reason: &str, entry: &CancelHistoryEntry| {
            Err(crate::Error::Unverified(Unverified {
                operation,
                reason: reason.to_string(),
                last_answer: last_answer.clone(),
                evidence: serde_json::to_value(entry)
                    .map(|v| RawJson::from_value(&v))
                    .unwrap_or_default(),
            }))
        };
        match stepping_entry(&payment, expect) {
            Some((index, entry)) if dated_since(entry, since_ms) => {
                if in_flight.overlapped() {
                    return unverified(
                        "the payment shows a cancel that fits this request, made during the call, but another cancel \
                     of the same payment ran in this process at the same time and iamport's data cannot tell \
                     which of the two it is",
                        entry,
                    );
                }
                if expect.reason.as_ref().is_some_and(|r| entry.reason.as_ref() != Some(r)) {
                    return unverified(
                        "the payment shows a cancel that took the balance from the checksum by this amount during \
                     the call, but with another reason",
                        entry,
                    );
                }
                tracing::info!(
                    provider = "iamport",
                    operation,
                    %last_answer,
                    "an attempt's outcome was unknown; the payment shows this cancel applied once: reconciled"
                );
                Ok(Settled {
                    refunded: entry.amount.unwrap_or_default(),
                    payment,
                    entry: Some(index),
                    reconciled: true,
                })
            }
            Some((_, entry)) if dated_since(entry, since_ms.saturating_sub(LOOKBACK_SECONDS * 1000)) => unverified(
                "the payment shows a cancel that fits this request, dated shortly before the call started: it is \
             somebody else's unless iamport's clock is further off than the crate allows for",
                entry,
            ),
            _ if payment.cancellable_balance().is_some_and(|b| Some(b) != expect.guard) => {
                tracing::info!(
                    provider = "iamport",
                    operation,
                    %last_answer,
                    "no cancel of this request on the payment, and its balance is no longer the checksum: not applied"
                );
                Err(error.with_delivery(Delivery::Refused))
            }
            _ => Err(error.with_delivery(Delivery::Unknown)),
        }
    }
}

/// Reads the payment the cancel named, within the cancel's deadline; the answer is kept for its `Date` header.
async fn read_payment(
    client: &Client,
    expect: &Expectation,
    deadline: Instant,
    retry: Option<transport::RetryPolicy>,
) -> Option<(Payment, transport::Response)> {
    let call = match (&expect.imp_uid, &expect.merchant_uid) {
        (Some(id), _) => Call::new(
            "getPaymentByImpUid",
            Method::GET,
            "/payments/{imp_uid}",
            format!("/payments/{}", transport::path_segment("imp_uid", id).ok()?),
        ),
        (None, Some(id)) => Call::new(
            "getPaymentByMerchantUid",
            Method::GET,
            "/payments/find/{merchant_uid}",
            format!("/payments/find/{}", transport::path_segment("merchant_uid", id).ok()?),
        ),
        (None, None) => return None,
    };
    let mut call = call.within(deadline, retry);
    let response = client.execute(&mut call).await.ok()?;
    let payment = decode_envelope_view::<Payment>("getPayment", &response).ok()?;
    Some((payment, response))
}

/// Whether an entry, dated to the second, may have been made at or after `since_ms`.
fn dated_since(entry: &CancelHistoryEntry, since_ms: i64) -> bool {
    entry
        .cancelled_at
        .is_some_and(|s| s.saturating_mul(1000).saturating_add(999) >= since_ms)
}

/// The history in the order the cancels were made (by `cancelled_at`, then as listed), with each entry's index.
fn in_order(payment: &Payment) -> Vec<(usize, &CancelHistoryEntry)> {
    let mut entries: Vec<_> = payment.cancel_history.iter().flatten().enumerate().collect();
    entries.sort_by_key(|(i, c)| (c.cancelled_at, *i));
    entries
}

/// The entry that took the balance from the balance before this cancel (`checksum`, or the caller's payment) to
/// that less the amount: the step this cancel makes. `None` when the balance before is not known.
fn stepping_entry<'a>(payment: &'a Payment, expect: &Expectation) -> Option<(usize, &'a CancelHistoryEntry)> {
    let before = expect.before()?;
    let refund = expect.refund()?;
    let paid = payment.amount?;
    let mut cancelled = 0i64;
    for (index, entry) in in_order(payment) {
        let amount = entry.amount?;
        if paid.checked_sub(cancelled) == Some(before) && amount == refund {
            return Some((index, entry));
        }
        cancelled = cancelled.checked_add(amount)?;
    }
    None
}

/// A successful answer, checked against the request; returns the payment, its entry for this cancel and what it
/// refunded.
fn answered(
    payment: Payment,
    expect: &Expectation,
    response: &transport::Response,
    operation: &'static str,
) -> Result<(Payment, Option<usize>, i64), Error> {
    match check(&payment, expect) {
        Ok((entry, refunded)) => Ok((payment, entry, refunded)),
        Err(reason) => Err(crate::Error::Inconsistent(InconsistentAnswer {
            operation,
            status: response.status.as_u16(),
            reason,
            answer: RawJson::parse(&String::from_utf8_lossy(&response.body)).unwrap_or_default(),
        })),
    }
}

/// Whether the payment iamport answered a cancel with fits what was asked, and which `cancel_history` entry is
/// this cancel's:
///
/// * it is the payment asked for (`imp_uid`, or `merchant_uid` when the cancel named that);
/// * with the balance before known (`checksum`, or the payment given with `.payment()`), the entry that took the
///   balance from it by the amount asked (all of it for a full cancel); without, the newest entry of the amount
///   asked, or for a full cancel the newest entry, with nothing left;
/// * that entry refunds a positive amount, and the balance after is not negative and no more than the balance
///   before less the entry;
/// * an answer without such an entry (iamport does not always list `cancel_history`) is taken only when the
///   balance before is known and the balance after moved from it by exactly the amount asked.
///
/// Returns the entry's index, when there is one, and the won refunded.
///
/// # Errors
/// What does not fit, in iamport's terms.
pub(super) fn check(payment: &Payment, expect: &Expectation) -> Result<(Option<usize>, i64), String> {
    if let Some(asked) = &expect.imp_uid
        && payment.imp_uid.as_ref() != Some(asked)
    {
        return Err("the answer's imp_uid is not the payment that was cancelled".into());
    }
    if expect.imp_uid.is_none()
        && let Some(asked) = &expect.merchant_uid
        && payment.merchant_uid.as_ref() != Some(asked)
    {
        return Err("the answer's merchant_uid is not the payment that was cancelled".into());
    }
    let found = match expect.before() {
        Some(_) => stepping_entry(payment, expect),
        None => {
            let newest = in_order(payment).into_iter().rev();
            match expect.amount {
                Some(asked) => newest.into_iter().find(|(_, c)| c.amount == Some(asked)),
                None => newest
                    .into_iter()
                    .next()
                    .filter(|_| payment.cancellable_balance() == Some(0)),
            }
        }
    };
    let after = payment.cancellable_balance();
    let Some((index, entry)) = found else {
        let moved = expect
            .before()
            .zip(after)
            .and_then(|(before, after)| before.checked_sub(after));
        return match (moved, expect.refund()) {
            (Some(moved), Some(asked)) if moved == asked && moved > 0 => Ok((None, moved)),
            _ => {
                Err("the answer's cancel_history has no entry for this cancel, and its balance does not show it".into())
            }
        };
    };
    let amount = entry.amount.unwrap_or_default();
    if amount <= 0 {
        return Err(format!(
            "cancel_history[{index}].amount is {amount}; a refund is positive"
        ));
    }
    if after.is_some_and(|b| b < 0) {
        return Err(format!(
            "the balance after the cancel (amount - cancel_amount) is {:?}",
            after
        ));
    }
    if let (Some(before), Some(after)) = (expect.before(), after)
        && before.checked_sub(amount).is_none_or(|expected| after > expected)
    {
        return Err(format!(
            "the balance after the cancel is {after}; {before} less the {amount} cancelled is less"
        ));
    }
    Ok((Some(index), amount))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(imp_uid: &str, amount: i64, history: &[(i64, i64)]) -> Payment {
        let cancelled: i64 = history.iter().map(|(a, _)| a).sum();
        let fixture: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/iamport/getPaymentByImpUid/partially_cancelled.json"
        ))
        .unwrap();
        let mut p = fixture["response"].clone();
        p["imp_uid"] = imp_uid.into();
        p["amount"] = amount.into();
        p["cancel_amount"] = cancelled.into();
        p["status"] = if cancelled == amount { "cancelled" } else { "paid" }.into();
        let template = p["cancel_history"][0].clone();
        p["cancel_history"] = history
            .iter()
            .map(|(a, at)| {
                let mut e = template.clone();
                e["amount"] = (*a).into();
                e["cancelled_at"] = (*at).into();
                e["reason"] = "r".into();
                e
            })
            .collect();
        serde_json::from_value(p).unwrap()
    }

    fn expect(amount: Option<i64>, guard: Option<i64>) -> Expectation {
        Expectation {
            imp_uid: Some("imp_1".into()),
            merchant_uid: None,
            amount,
            guard,
            known_balance: None,
            reason: Some("r".into()),
        }
    }

    #[test]
    fn the_entry_of_a_guarded_cancel_is_the_step_from_the_checksum() {
        // 10,000 paid; 2,000 then 3,000 cancelled: the 3,000 took the balance from 8,000 to 5,000.
        let p = payment("imp_1", 10_000, &[(2_000, 100), (3_000, 200)]);
        assert_eq!(check(&p, &expect(Some(3_000), Some(8_000))), Ok((Some(1), 3_000)));
        assert!(
            check(&p, &expect(Some(3_000), Some(10_000))).is_err(),
            "no step from 10,000 by 3,000"
        );
        assert!(
            check(&p, &expect(Some(500), Some(8_000))).is_err(),
            "an older cancel is not this one"
        );
        let other = payment("imp_2", 10_000, &[(3_000, 100)]);
        assert!(check(&other, &expect(Some(3_000), Some(10_000))).is_err());
        let none = payment("imp_1", 10_000, &[]);
        assert!(check(&none, &expect(Some(3_000), None)).is_err());
        let full = payment("imp_1", 10_000, &[(10_000, 100)]);
        assert_eq!(check(&full, &expect(None, None)), Ok((Some(0), 10_000)));
        let negative = payment("imp_1", 10_000, &[(-3_000, 100)]);
        assert!(check(&negative, &expect(Some(-3_000), None)).is_err());
    }
}
