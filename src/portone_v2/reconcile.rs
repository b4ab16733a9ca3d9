//! Sending a cancel and settling what happened to it.
//!
//! Every cancel carries an `Idempotency-Key`, the same on every attempt (see [`super::cancel`]). PortOne answers a
//! repeat of a finished request with that request's answer, and a repeat of one still being processed with 409
//! `IDEMPOTENCY_OUTSTANDING_REQUEST`; the transport then waits and asks again within the deadline. So after an
//! attempt whose outcome was unknown, the answer to the next attempt is PortOne's word on *this* request: a
//! success is this cancel's, proven by the key.
//!
//! One case is checked against the payment as well: a refusal of the kind an applied first attempt would explain
//! (`CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN`, `PAYMENT_ALREADY_CANCELLED`, an amount above the balance) after an
//! attempt whose outcome was unknown. With the key honoured, that refusal is final; should the key have been lost
//! on the way, the first attempt's cancel would be on the payment. So the payment is read: without a cancel that
//! fits this request, made after the call started, the refusal stands as "nothing applied"; with one, the crate
//! cannot prove whose it is and says so ([`Error::Unverified`]), never success.
//!
//! A successful answer is checked against the request before it is believed (see [`check`]).

use super::Client;
use super::cancel::CancelOutcome;
use super::error::{CancelPaymentError, GetPaymentError, from_response};
use super::payment::{Payment, PaymentExt};
use crate::RawJson;
use crate::error::{ApiError, Delivery, Error, InconsistentAnswer, Unverified, decode_json};
use crate::transport::{self, Call, Response, encode_segment};
use serde_json::Value;
use std::time::{Instant, SystemTime};

/// What the cancel asked for, to check the answer against.
#[derive(Debug, Clone)]
pub(super) struct Expectation {
    /// `amount`: `None` for a full cancel.
    pub amount: Option<i64>,
    /// `currentCancellableAmount`: the balance before this cancel, as the caller stated it.
    pub guard: Option<i64>,
    /// The balance of the payment given with `.payment()`, when there was one.
    pub known_balance: Option<i64>,
    /// `reason`.
    pub reason: String,
    /// With `promotionDiscountRetainOption: RETAIN`, PortOne adjusts the amount to keep the discount rate.
    pub amount_may_be_adjusted: bool,
    pub store_id: Option<String>,
}

impl Expectation {
    /// The won this cancel takes off the balance, when the request says: `amount`, or for a full cancel the
    /// stated (or known) balance.
    fn refund(&self) -> Option<i64> {
        self.amount.or(self.guard).or(self.known_balance)
    }

    /// The balance before the cancel, when the request or the caller's payment says.
    fn before(&self) -> Option<i64> {
        self.guard.or(self.known_balance)
    }
}

/// A cancel PortOne answered with a cancellation that fits the request.
pub(super) struct Settled {
    /// The cancellation, checked against the request.
    pub outcome: CancelOutcome,
    /// The answer as received, for [`raw_cancellation`].
    pub body: bytes::Bytes,
    /// Whether an earlier attempt's outcome was unknown, so this answer is PortOne's answer for the same key.
    pub after_unknown: bool,
}

/// The answer's `cancellation`, kept as sent.
#[derive(serde::Deserialize)]
struct RawAnswer {
    cancellation: RawJson,
}

/// The `cancellation` object of a settled answer exactly as PortOne sent it. Read on demand, by the callers that
/// keep it (the provider-neutral refund), rather than on every cancel: the answer already decoded as a
/// cancellation, so reading its text cannot fail.
pub(super) fn raw_cancellation(body: &[u8]) -> RawJson {
    serde_json::from_slice::<RawAnswer>(body)
        .map(|a| a.cancellation)
        .unwrap_or_default()
}

/// Whether this answer is PortOne saying it is still working on a request with the same key.
pub(super) fn is_pending(resp: &Response) -> bool {
    #[derive(serde::Deserialize)]
    struct Type<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    resp.status == reqwest::StatusCode::CONFLICT
        && serde_json::from_slice::<Type<'_>>(&resp.body).is_ok_and(|t| t.kind == "IDEMPOTENCY_OUTSTANDING_REQUEST")
}

/// Sends the cancel call and settles its outcome; see the [module docs](self).
///
/// A plain function returning an `async move` block rather than an `async fn`: an `async fn` keeps a copy of each
/// argument taken by value beside the one its body uses, which would put the call and the expectation twice into
/// every cancel's future. The call comes boxed: the future holds a pointer instead of its 336 bytes, and stays
/// under the 1 KB above which an allocator's fast path for small blocks ends.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps each by-value argument twice in its future"
)]
pub(super) fn send_cancel(
    client: Client,
    mut call: Box<Call>,
    payment_id: String,
    expect: Expectation,
) -> impl Future<Output = Result<Settled, Error<CancelPaymentError>>> + Send + 'static {
    async move {
        let (client, payment_id, expect) = (&client, payment_id.as_str(), &expect);
        let started = SystemTime::now();
        let deadline = client.shared.transport.deadline_for(&call);
        call.deadline = Some(deadline);
        let response = client.shared.transport.execute(&call).await?;
        if response.status.is_success() {
            return settle_answer(&response, expect);
        }
        let status = response.status.as_u16();
        let after_unknown = response.earlier_unknown;
        let pending = is_pending(&response);
        let error = match decode_json::<CancelPaymentError>(status, &response.body) {
            Ok(error) => Error::Api(ApiError::answer(status, error, true)),
            Err(decode) => Error::Decode(decode.for_mutation(true)),
        };
        if pending {
            // The deadline ended while PortOne was still working on it: it may yet be applied.
            return Err(error.with_delivery(Delivery::Unknown));
        }
        if !after_unknown || error.delivery() == Delivery::Unknown {
            return Err(error);
        }
        // A refusal after an attempt whose outcome was unknown: PortOne's answer for this key, unless the key was lost.
        if !explained_by_an_applied_attempt(&error) {
            return Err(error.with_delivery(Delivery::Refused));
        }
        // Boxed: the read that settles an outcome is the cold path; inline, it would double every cancel's future.
        match Box::pin(find_fitting_cancel(
            client, payment_id, expect, started, deadline, &call,
        ))
        .await
        {
            Some(Found::Nothing) => Err(error.with_delivery(Delivery::Refused)),
            Some(Found::Candidate(evidence)) => Err(Error::Unverified(Unverified {
                operation: call.operation,
                reason: "PortOne refused the repeated request, yet the payment shows a cancel of this amount and \
                     reason made during the call; it is not this request's if PortOne kept its idempotency key, \
                     and nothing else can tell"
                    .into(),
                last_answer: refusal_code(&error),
                evidence,
            })),
            None => Err(error.with_delivery(Delivery::Unknown)),
        }
    }
}

/// Decodes a 2xx answer and checks it against the request.
fn settle_answer(response: &Response, expect: &Expectation) -> Result<Settled, Error<CancelPaymentError>> {
    let status = response.status.as_u16();
    let typed = decode_json::<super::raw::types::CancelPaymentResponse>(status, &response.body)
        .map_err(|e| Error::Decode(e.for_mutation(true)))
        .map_err(super::error::pinpoint::<super::cancel::CommonFields, _>)?;
    let outcome = CancelOutcome::from(typed.cancellation);
    if let Err(reason) = check(&outcome, expect) {
        return Err(Error::Inconsistent(InconsistentAnswer {
            operation: "cancelPayment",
            status,
            reason,
            answer: RawJson::parse(&String::from_utf8_lossy(&response.body)).unwrap_or_default(),
        }));
    }
    Ok(Settled {
        outcome,
        body: response.body.clone(),
        after_unknown: response.earlier_unknown,
    })
}

/// Whether the cancellation PortOne answered with fits what was asked:
///
/// * a cancellation that refunds (succeeded or requested) takes a positive amount, no more than the balance
///   before it; for a partial cancel exactly the amount asked (unless `RETAIN` let PortOne adjust it), for a full
///   cancel with a stated balance exactly that balance;
/// * its tax-free and VAT parts are not negative and do not add up to more than the amount.
///
/// A failed cancellation refunds nothing and a status this crate does not know is passed on as it is; neither is
/// checked.
///
/// # Errors
/// What does not fit, in PortOne's terms.
pub(super) fn check(outcome: &CancelOutcome, expect: &Expectation) -> Result<(), String> {
    let c = match outcome {
        CancelOutcome::Succeeded(c) | CancelOutcome::Requested(c) => c,
        _ => return Ok(()),
    };
    let total = c.total_amount;
    if total <= 0 {
        return Err(format!("cancellation.totalAmount is {total}; a refund is positive"));
    }
    if let Some(before) = expect.before()
        && total > before
    {
        return Err(format!(
            "cancellation.totalAmount {total} is more than the balance {before} before the cancel"
        ));
    }
    match (expect.amount, expect.guard) {
        (Some(asked), _) if total != asked && !expect.amount_may_be_adjusted => {
            return Err(format!("cancellation.totalAmount is {total}; {asked} was asked"));
        }
        (None, Some(balance)) if total != balance => {
            return Err(format!(
                "cancellation.totalAmount is {total}; a full cancel of the stated balance {balance} was asked"
            ));
        }
        _ => {}
    }
    if c.tax_free_amount < 0 || c.vat_amount < 0 {
        return Err("cancellation.taxFreeAmount or vatAmount is negative".into());
    }
    if c.tax_free_amount
        .checked_add(c.vat_amount)
        .is_none_or(|parts| parts > total)
    {
        return Err(format!(
            "cancellation.taxFreeAmount {} plus vatAmount {} is more than totalAmount {total}",
            c.tax_free_amount, c.vat_amount
        ));
    }
    Ok(())
}

/// Whether this refusal is what a replay meets when an earlier attempt of the same cancel was applied.
fn explained_by_an_applied_attempt(error: &Error<CancelPaymentError>) -> bool {
    matches!(
        error.api(),
        Some(
            CancelPaymentError::PaymentAlreadyCancelled { .. }
                | CancelPaymentError::CancellableAmountConsistencyBroken { .. }
                | CancelPaymentError::CancelAmountExceedsCancellableAmount { .. }
        )
    )
}

fn refusal_code<E: crate::error::ApiErrorBody>(error: &Error<E>) -> String {
    match error {
        Error::Api(api) => format!("HTTP {} {}", api.status, api.error.code()),
        other => other
            .status()
            .map_or_else(|| "no answer".to_string(), |s| format!("HTTP {s}")),
    }
}

/// What the payment shows.
enum Found {
    /// No cancel that fits the request was made during the call.
    Nothing,
    /// One that fits: its JSON as PortOne sent it.
    Candidate(RawJson),
}

/// Reads the payment (within the cancel's deadline and retry policy) and looks for a cancellation that fits the
/// request: not failed, of the amount it takes (`amount`, or the stated balance of a full cancel; any amount when
/// the request did not say), with its reason, requested no earlier than the call's start on PortOne's clock (less
/// [`transport::CLOCK_TOLERANCE_MS`]). `None` when the payment could not be read.
async fn find_fitting_cancel(
    client: &Client,
    payment_id: &str,
    expect: &Expectation,
    started: SystemTime,
    deadline: Instant,
    cancel: &Call,
) -> Option<Found> {
    let path = format!("/payments/{}", encode_segment(payment_id));
    let mut call = client
        .call("getPayment", reqwest::Method::GET, "/payments/{paymentId}", path)
        .within(deadline, cancel.retry.clone());
    if let Some(store_id) = &expect.store_id {
        call.query.push(("storeId", store_id.clone()));
    }
    let response = client.shared.transport.execute(&call).await.ok()?;
    let since = transport::start_on_server_ms(started, &response).saturating_sub(transport::CLOCK_TOLERANCE_MS);
    let raw: Value = from_response::<Value, GetPaymentError>(response).ok()?;
    let payment: Payment = serde_json::from_value(raw.clone()).ok()?;
    let amount = expect.refund();
    let fits = payment
        .cancellations()
        .into_iter()
        .enumerate()
        .find_map(|(i, outcome)| {
            let c = match &outcome {
                CancelOutcome::Failed(_) => return None,
                other => other.cancellation()?,
            };
            let fits = amount.is_none_or(|a| c.total_amount == a)
                && c.reason == expect.reason
                && c.requested_at.timestamp_millis() >= since;
            fits.then_some(i)
        });
    Some(match fits {
        None => Found::Nothing,
        Some(i) => Found::Candidate(
            raw.get("cancellations")
                .and_then(|all| all.get(i))
                .map(RawJson::from_value)
                .unwrap_or_default(),
        ),
    })
}

impl super::cancel::Cancellation {
    /// Whether an earlier attempt of this cancel had an unknown outcome (a timeout, a dropped connection, a 5xx,
    /// a redirect), so this cancellation is PortOne's answer to the same request sent again with the same
    /// `Idempotency-Key`. Either way it is this request's cancellation; only the way the crate learned it differs.
    pub fn is_reconciled(&self) -> bool {
        self.reconciled
    }
}

impl CancelOutcome {
    /// Whether the outcome was learned after an attempt whose outcome was unknown; see
    /// [`Cancellation::is_reconciled`](super::cancel::Cancellation::is_reconciled).
    pub fn is_reconciled(&self) -> bool {
        self.cancellation()
            .is_some_and(super::cancel::Cancellation::is_reconciled)
    }

    /// Marks the outcome as learned after an attempt whose outcome was unknown.
    pub(super) fn reconciled(mut self, reconciled: bool) -> Self {
        if let CancelOutcome::Succeeded(c) | CancelOutcome::Requested(c) | CancelOutcome::Failed(c) = &mut self {
            c.reconciled = reconciled;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw::types::PaymentCancellation;
    use super::*;

    fn cancellation(status: &str, total: i64) -> CancelOutcome {
        CancelOutcome::from(
            serde_json::from_value::<PaymentCancellation>(serde_json::json!({
                "status": status, "id": "c-1", "totalAmount": total, "taxFreeAmount": 0, "vatAmount": 0,
                "reason": "r", "requestedAt": "2026-01-01T00:00:00Z", "cancelledAt": "2026-01-01T00:00:01Z"
            }))
            .unwrap(),
        )
    }

    fn expect(amount: Option<i64>, guard: Option<i64>) -> Expectation {
        Expectation {
            amount,
            guard,
            known_balance: None,
            reason: "r".into(),
            amount_may_be_adjusted: false,
            store_id: None,
        }
    }

    #[test]
    fn an_answer_is_believed_only_when_it_fits_the_request() {
        assert!(check(&cancellation("SUCCEEDED", 3_000), &expect(Some(3_000), Some(10_000))).is_ok());
        for (total, guard) in [(-3_000, Some(10_000)), (0, None), (99_999, Some(10_000)), (2_999, None)] {
            let e = check(&cancellation("SUCCEEDED", total), &expect(Some(3_000), guard));
            assert!(e.is_err(), "{total} for 3000 asked");
        }
        assert!(check(&cancellation("SUCCEEDED", i64::MIN), &expect(None, None)).is_err());
        assert!(check(&cancellation("REQUESTED", 7_000), &expect(None, Some(10_000))).is_err());
        assert!(check(&cancellation("SUCCEEDED", 10_000), &expect(None, Some(10_000))).is_ok());
        assert!(
            check(&cancellation("FAILED", -1), &expect(Some(3_000), None)).is_ok(),
            "a failed cancellation refunds nothing: nothing to check"
        );
    }
}
