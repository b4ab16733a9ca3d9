//! Payments: the ids that name them, the payment as iamport returns it, and the lookups.
//!
//! [`Payment`] is a view of one payment: the generated `PaymentAnnotation` (every field readable through `Deref`;
//! money already `i64` won: a fractional amount from the server is a decode error, not a rounded number), with
//! helpers for the amounts a refund depends on, and the JSON exactly as iamport sent it
//! ([`Payment::json`]), so fields the crate does not model are kept. Only a payment's `imp_uid`, `merchant_uid`,
//! `amount` and `status` (and each cancel's `amount`) must be in an answer; everything else may be missing or
//! `null`, as iamport's documented answers show (the `POST /payments/cancel` reference,
//! <https://developers.portone.io/docs/ko/api/payment-api/cancel-payment-api?v=v1>, lists no `sandbox` and no
//! `cancellation_id`).
//!
//! # What counts as refunded
//! One rule, used by [`PaymentAnnotation::cancel_history_total`](types::PaymentAnnotation::cancel_history_total)
//! and the provider-neutral refund: iamport's history lists cancels that went through, so an entry with an amount
//! counts ([`CancelHistoryEntry::outcome`]), unless the payment around it contradicts that
//! ([`PaymentAnnotation::cancel_outcome`](types::PaymentAnnotation::cancel_outcome)). An entry without an amount is
//! neither counted nor taken as failed.

use super::Client;
use super::error::Error;
use super::raw::types;
use crate::policy::{self, Conditions, Deadline, ProcessingTime};
use crate::refund::RefundStatus;
use crate::transport::{Call, CallOptions, Lookup, encode_segment};
use crate::{InvalidRequest, RawJson};
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt};
use reqwest::Method;
use serde::Deserialize;

/// Which payments [`Client::payments_by_status`] lists: `all`, `ready`, `paid`, `cancelled`, `failed`.
pub use types::GetPaymentsByStatusPaymentStatus as StatusFilter;
/// The order of a payment list: by start, payment or update time, `-` first for newest first.
pub use types::GetPaymentsByStatusSorting as ListSorting;
/// How a payment was paid (`card`, `trans`, `vbank`, `phone`, ... or a value kept as sent).
pub use types::PayMethod;
/// One entry of a payment's `cancel_history`: a cancel or partial cancel (the generated `PaymentCancelAnnotation`).
pub use types::PaymentCancelAnnotation as CancelHistoryEntry;
/// Where a payment started: `pc`, `mobile`, `api`, or a value kept as sent.
pub use types::PaymentChannel;
/// A payment's status: `ready`, `paid`, `cancelled`, `failed`, or a value kept as sent.
pub use types::PaymentStatus;

use crate::ids::id_type;

id_type!(
    /// iamport's id of a payment (`imp_uid`, e.g. `imp_123456789012`).
    ImpUid,
    "imp_uid"
);
id_type!(
    /// The merchant's order id (`merchant_uid`), chosen by the merchant when the payment started.
    MerchantUid,
    "merchant_uid"
);

/// Which payment a cancel applies to. iamport takes either id; the type makes sure there is exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaymentRef {
    /// By iamport's id. Preferred: it names one payment, where a `merchant_uid` may have been reused by several
    /// attempts.
    ImpUid(ImpUid),
    /// By the merchant's order id.
    MerchantUid(MerchantUid),
}

impl From<ImpUid> for PaymentRef {
    fn from(id: ImpUid) -> Self {
        PaymentRef::ImpUid(id)
    }
}
impl From<MerchantUid> for PaymentRef {
    fn from(id: MerchantUid) -> Self {
        PaymentRef::MerchantUid(id)
    }
}

/// A payment as iamport returns it: the typed fields (the generated `PaymentAnnotation`, read through `Deref`;
/// amounts are integer won) and the JSON exactly as iamport sent it.
///
/// Serializing writes that JSON back, fields no spec lists included. `Debug` prints the typed fields only, never
/// the JSON.
#[derive(Clone)]
pub struct Payment {
    typed: Box<types::PaymentAnnotation>,
    json: RawJson,
}

impl Payment {
    /// The payment as iamport sent it (the envelope's `response`), byte for byte. It holds the buyer's personal
    /// data: store it, do not log it.
    pub fn json(&self) -> &RawJson {
        &self.json
    }

    /// The generated type, e.g. to hand to the raw client.
    pub fn into_raw(self) -> types::PaymentAnnotation {
        *self.typed
    }

    /// The typed fields and the JSON as sent.
    pub fn into_parts(self) -> (types::PaymentAnnotation, RawJson) {
        (*self.typed, self.json)
    }
}

crate::lossless::view_impls!(Payment, types::PaymentAnnotation);

impl types::PaymentCancelAnnotation {
    /// What this history entry did with the money, by itself: iamport's `cancel_history` lists cancels that went
    /// through, so an entry with an `amount` is [`Succeeded`](RefundStatus::Succeeded) (counted), and one without
    /// is [`Unknown`](RefundStatus::Unknown): neither counted nor taken as failed.
    /// [`PaymentAnnotation::cancel_outcome`](types::PaymentAnnotation::cancel_outcome) adds what the payment around
    /// the entry says.
    pub fn outcome(&self) -> RefundStatus {
        match self.amount {
            Some(_) => RefundStatus::Succeeded,
            None => RefundStatus::Unknown,
        }
    }
}

impl types::PaymentAnnotation {
    /// The total cancelled so far, as iamport reports it (`cancel_amount`). `None` when iamport sent `null` or
    /// nothing.
    pub fn cancelled_total(&self) -> Option<i64> {
        self.cancel_amount
    }

    /// What `entry`, one of this payment's history entries, did with the money: [`CancelHistoryEntry::outcome`],
    /// except that an entry is not taken as a refund when the payment around it contradicts that: its status is
    /// `ready` or `failed` (a payment never paid has nothing to return; a partial cancel leaves it `paid`). Such
    /// an entry is [`Unknown`](RefundStatus::Unknown). A status this crate does not know, or none, contradicts
    /// nothing.
    pub fn cancel_outcome(&self, entry: &CancelHistoryEntry) -> RefundStatus {
        let consistent = !matches!(self.status, Some(PaymentStatus::Ready | PaymentStatus::Failed));
        match entry.outcome() {
            RefundStatus::Succeeded if !consistent => RefundStatus::Unknown,
            other => other,
        }
    }

    /// Won that `entry` returned: its amount when [`cancel_outcome`](Self::cancel_outcome) counts it, else 0.
    pub fn refunded_by(&self, entry: &CancelHistoryEntry) -> i64 {
        match (self.cancel_outcome(entry), entry.amount) {
            (RefundStatus::Succeeded, Some(amount)) => amount,
            _ => 0,
        }
    }

    /// What the latest cancel did, as a cancel's answer reports the cancel it made:
    /// [`cancel_outcome`](Self::cancel_outcome) of [`latest_cancellation`](Self::latest_cancellation), and
    /// [`Unknown`](RefundStatus::Unknown) when the history is empty or missing (a success that shows no cancel is
    /// not a refund).
    pub fn latest_cancel_outcome(&self) -> RefundStatus {
        self.latest_cancellation()
            .map_or(RefundStatus::Unknown, |c| self.cancel_outcome(c))
    }

    /// The sum of what the [`cancel_history`](Self::cancel_history) entries returned, by the rule of
    /// [`cancel_outcome`](Self::cancel_outcome): should equal [`cancelled_total`](Self::cancelled_total). `None`
    /// if an entry's outcome is not known (it has no amount, or the payment contradicts it) or the sum overflows:
    /// an entry that is neither counted nor denied leaves the total unknown.
    pub fn cancel_history_total(&self) -> Option<i64> {
        self.cancel_history
            .iter()
            .flatten()
            .try_fold(0i64, |sum, entry| match self.cancel_outcome(entry) {
                RefundStatus::Succeeded => sum.checked_add(entry.amount?),
                RefundStatus::Failed | RefundStatus::Requested => Some(sum),
                _ => None,
            })
    }

    /// What can still be cancelled: `amount - cancel_amount`. `None` when either is missing (the balance is then
    /// unknown, and no number is invented for it).
    ///
    /// This is iamport's view. As a partial cancel's `checksum`, send the balance *your* records hold: the guard
    /// is only worth something when the two views are independent.
    pub fn cancellable_balance(&self) -> Option<i64> {
        self.amount?.checked_sub(self.cancel_amount?)
    }

    /// Whether the payment has nothing left to cancel: status `cancelled`, or a zero balance.
    pub fn is_fully_cancelled(&self) -> bool {
        self.status == Some(PaymentStatus::Cancelled) || self.cancellable_balance() == Some(0)
    }

    /// The most recent cancel in the history (latest `cancelled_at`; among equal times, the last listed). Right
    /// after [`CancelRequest::send`](super::CancelRequest::send) this is normally the cancel it made, unless
    /// another cancel of the same payment ran at the same time.
    pub fn latest_cancellation(&self) -> Option<&CancelHistoryEntry> {
        self.cancel_history
            .iter()
            .flatten()
            .enumerate()
            .max_by_key(|(i, c)| (c.cancelled_at, *i))
            .map(|(_, c)| c)
    }

    /// The cancel with iamport's `cancellation_id`, if the payment has it.
    pub fn cancellation(&self, cancellation_id: &str) -> Option<&CancelHistoryEntry> {
        self.cancel_history
            .iter()
            .flatten()
            .find(|c| c.cancellation_id.as_deref() == Some(cancellation_id))
    }

    /// When the payment was paid (`paid_at`, unix seconds), or `None` when iamport sent nothing or 0 (its value
    /// for a payment not paid, such as a virtual account still waiting for the deposit).
    pub fn paid_at_utc(&self) -> Option<DateTime<Utc>> {
        self.paid_at
            .filter(|&seconds| seconds > 0)
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
    }

    /// The pay method in the terms of [`crate::policy`] (see [`policy_method`] for the mapping).
    pub fn policy_method(&self) -> policy::PayMethod {
        policy_method(self.pay_method.as_ref())
    }

    /// Until when this payment can be cancelled, per [`policy::deadline`] for iamport, counted from
    /// [`paid_at_utc`](Self::paid_at_utc). Only mobile-phone payments have a known deadline there (iamport's refund
    /// guide, <https://developers.portone.io/docs/en/auth/guide-2/readme?v=v1>); every other method answers
    /// [`Unknown`](policy::DeadlineRule::Unknown).
    pub fn cancel_deadline(&self) -> Deadline {
        policy::deadline_if_paid(policy::Provider::Iamport, self.policy_method(), self.paid_at_utc())
    }

    /// How long a cancel of this payment takes, per [`policy::processing`] for iamport.
    pub fn expected_refund_time(&self, conditions: &Conditions) -> ProcessingTime {
        policy::processing(policy::Provider::Iamport, self.policy_method(), conditions)
    }
}

/// The one mapping from iamport's `pay_method` onto [`policy::PayMethod`].
///
/// | `pay_method` | policy |
/// |---|---|
/// | `card` | [`Card`](policy::PayMethod::Card) |
/// | `trans` | [`AccountTransfer`](policy::PayMethod::AccountTransfer) |
/// | `vbank` | [`VirtualAccount`](policy::PayMethod::VirtualAccount) |
/// | `phone` | [`MobilePhone`](policy::PayMethod::MobilePhone) |
/// | `cultureland`, `smartculture`, `booknlife` | [`GiftCertificate`](policy::PayMethod::GiftCertificate) |
/// | `naverpay` | [`NaverPay`](policy::PayMethod::NaverPay) |
/// | `paypal` | [`PayPal`](policy::PayMethod::PayPal) |
/// | `samsung`, `ssgpay`, `lpay`, `payco`, `tosspay`, `applepay` | [`EasyPay`](policy::PayMethod::EasyPay) |
/// | `kakaopay`, `point`, anything else, or none | [`Unknown`](policy::PayMethod::Unknown) |
///
/// `kakaopay` is `Unknown` because iamport's documents tell KakaoPay card from KakaoPay money and this value does
/// not say which was used; `point` does not name what the points were. The iamport rules come from its
/// `POST /payments/cancel` reference and its refund guide (PortOne's developer site, V1) only, which name neither
/// NaverPay nor PayPal, so those two (and every easy pay) still answer `Unknown` in
/// [`policy`]: the mapping says what the method is, the policy says what is known about it.
pub fn policy_method(pay_method: Option<&PayMethod>) -> policy::PayMethod {
    use policy::PayMethod as M;
    let Some(pay_method) = pay_method else {
        return M::Unknown;
    };
    match pay_method {
        PayMethod::Card => M::Card,
        PayMethod::Trans => M::AccountTransfer,
        PayMethod::Vbank => M::VirtualAccount,
        PayMethod::Phone => M::MobilePhone,
        PayMethod::Cultureland | PayMethod::Smartculture | PayMethod::Booknlife => M::GiftCertificate,
        PayMethod::Naverpay => M::NaverPay,
        PayMethod::Paypal => M::PayPal,
        PayMethod::Samsung
        | PayMethod::Ssgpay
        | PayMethod::Lpay
        | PayMethod::Payco
        | PayMethod::Tosspay
        | PayMethod::Applepay => M::EasyPay,
        PayMethod::Kakaopay | PayMethod::Point | PayMethod::Unrecognized(_) => M::Unknown,
    }
}

impl Client {
    /// Fetches a payment by iamport's id (`GET /payments/{imp_uid}`).
    ///
    /// # Errors
    /// [`crate::Error::InvalidRequest`] for an empty id (nothing sent); [`crate::Error::Api`] when iamport answers
    /// with a non-zero `code` (an unknown payment, for one); transport and decode errors as usual.
    ///
    /// Await it directly, or set a per-call [`timeout`](Lookup::timeout) or [`retry`](Lookup::retry) first.
    pub fn get_payment<'a>(&'a self, imp_uid: &'a ImpUid) -> Lookup<'a, Result<Payment, Error>> {
        Lookup::new(move |options| {
            Box::pin(async move {
                let mut call = Call::new(
                    "getPaymentByImpUid",
                    Method::GET,
                    "/payments/{imp_uid}",
                    format!("/payments/{}", imp_uid.segment()?),
                );
                options.apply(&mut call);
                self.send_view(call).await
            })
        })
    }

    /// Fetches the latest payment made for an order id (`GET /payments/find/{merchant_uid}`). When one order was
    /// paid for more than once (a retry after a failure), this is the most recent attempt.
    ///
    /// # Errors
    /// As [`Client::get_payment`].
    pub fn find_payment<'a>(&'a self, merchant_uid: &'a MerchantUid) -> Lookup<'a, Result<Payment, Error>> {
        Lookup::new(move |options| {
            Box::pin(async move {
                let mut call = Call::new(
                    "getPaymentByMerchantUid",
                    Method::GET,
                    "/payments/find/{merchant_uid}",
                    format!("/payments/find/{}", merchant_uid.segment()?),
                );
                options.apply(&mut call);
                self.send_view(call).await
            })
        })
    }

    /// Lists payments by status (`GET /payments/status/{payment_status}`), page by page; see [`PaymentList`].
    /// The list holds a clone of the client (clones share one connection pool and one token), so it and its
    /// stream can be stored or returned on their own.
    pub fn payments_by_status(&self, status: StatusFilter) -> PaymentList {
        PaymentList {
            client: self.clone(),
            status,
            limit: None,
            from: None,
            to: None,
            sorting: None,
            options: CallOptions::default(),
        }
    }
}

/// `PagedPaymentAnnotation` with each payment read as a [`Payment`] view, its JSON kept.
#[derive(Deserialize)]
struct PagedPayments {
    #[serde(default)]
    total: Option<i64>,
    #[serde(default)]
    next: Option<i64>,
    #[serde(default)]
    list: Option<Vec<Payment>>,
}

/// One page of a payment list.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page {
    /// The page number (from 1).
    pub number: u32,
    /// How many payments match in total, over all pages.
    pub total: Option<i64>,
    /// The page that follows, if there is one.
    pub next: Option<u32>,
    /// The payments of this page.
    pub payments: Vec<Payment>,
}

/// A list of payments by status, built by [`Client::payments_by_status`]. [`stream`](Self::stream) walks every
/// page; [`page`](Self::page) fetches one. It owns what it needs (a clone of the client), so it is `'static`.
#[derive(Debug, Clone)]
#[must_use = "a payment list does nothing until `stream()` or `page()`"]
pub struct PaymentList {
    client: Client,
    status: StatusFilter,
    limit: Option<u32>,
    from: Option<i64>,
    to: Option<i64>,
    sorting: Option<ListSorting>,
    options: CallOptions,
}

impl PaymentList {
    /// Total timeout of each page request, instead of the client's.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Retry policy of each page request, instead of the client's (reads are always safe to retry).
    pub fn retry(mut self, policy: crate::transport::RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// Payments per page, 1 to 1000 (iamport's default when unset is 20).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only payments from this time on (unix seconds).
    pub fn from(mut self, unix_seconds: i64) -> Self {
        self.from = Some(unix_seconds);
        self
    }

    /// Only payments up to this time (unix seconds).
    pub fn to(mut self, unix_seconds: i64) -> Self {
        self.to = Some(unix_seconds);
        self
    }

    /// The order of the list.
    pub fn sorting(mut self, sorting: ListSorting) -> Self {
        self.sorting = Some(sorting);
        self
    }

    fn check(&self) -> Result<(), InvalidRequest> {
        if let Some(limit) = self.limit
            && !(1..=1000).contains(&limit)
        {
            return Err(InvalidRequest::new("limit", format!("must be 1 to 1000, not {limit}")));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(InvalidRequest::new("from", "is after `to`"));
        }
        Ok(())
    }

    /// Fetches page `number` (from 1).
    ///
    /// # Errors
    /// [`crate::Error::InvalidRequest`] for page 0, a limit outside 1..=1000 or `from` after `to` (nothing sent);
    /// otherwise as [`Client::get_payment`].
    pub async fn page(&self, number: u32) -> Result<Page, Error> {
        self.check()?;
        if number == 0 {
            return Err(InvalidRequest::new("page", "pages count from 1").into());
        }
        let mut call = Call::new(
            "getPaymentsByStatus",
            Method::GET,
            "/payments/status/{payment_status}",
            format!("/payments/status/{}", encode_segment(self.status.as_str())),
        );
        self.options.apply(&mut call);
        call.query.push(("page", number.to_string()));
        if let Some(limit) = self.limit {
            call.query.push(("limit", limit.to_string()));
        }
        if let Some(from) = self.from {
            call.query.push(("from", from.to_string()));
        }
        if let Some(to) = self.to {
            call.query.push(("to", to.to_string()));
        }
        if let Some(sorting) = &self.sorting {
            call.query.push(("sorting", sorting.as_str().to_string()));
        }
        let paged: PagedPayments = self.client.send(call).await?;
        // iamport says "no next page" with 0; a next page that does not move forward would loop forever.
        let next = paged.next.and_then(|n| u32::try_from(n).ok()).filter(|&n| n > number);
        Ok(Page {
            number,
            total: paged.total,
            next,
            payments: paged.list.unwrap_or_default(),
        })
    }

    /// Every matching payment, fetching pages as the stream is read. An error ends the stream after it is
    /// yielded.
    ///
    /// The stream is boxed, `Send`, `Unpin` and `'static`, the same as the other providers' listings: poll it
    /// with `StreamExt::next` without pinning it, keep it in a struct, or return it from a function.
    pub fn stream(self) -> BoxStream<'static, Result<Payment, Error>> {
        enum Step {
            Fetch(u32),
            Done,
        }
        let pages = futures::stream::unfold((self, Step::Fetch(1)), |(list, step)| async move {
            let Step::Fetch(number) = step else {
                return None;
            };
            match list.page(number).await {
                Ok(page) => {
                    let next = match page.next {
                        Some(n) if !page.payments.is_empty() => Step::Fetch(n),
                        _ => Step::Done,
                    };
                    let items: Vec<Result<Payment, Error>> = page.payments.into_iter().map(Ok).collect();
                    Some((futures::stream::iter(items), (list, next)))
                }
                Err(e) => Some((futures::stream::iter(vec![Err(e)]), (list, Step::Done))),
            }
        });
        pages.flatten().boxed()
    }
}
