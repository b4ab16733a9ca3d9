//! Reading PortOne V2 payments: one by id, or many as a stream.
//!
//! [`Client::get_payment`] returns a [`Payment`]: a view holding the generated union, [`PaymentByStatus`] (one
//! variant per status: `Paid`, `PartialCancelled`, `Cancelled`, `VirtualAccountIssued`, ..., each with the fields
//! the spec gives that status, plus `Unrecognized` keeping the raw JSON of a status this crate does not know), and
//! the JSON exactly as PortOne sent it ([`Payment::json`]), so fields the crate does not model are kept. The view
//! dereferences to the union: match on `&*payment` (or [`Payment::by_status`]) for anything status-specific.
//!
//! What every refund screen needs regardless of status comes from [`PaymentExt`], an extension trait implemented
//! by the view and by the union: paid, cancelled and cancellable amounts, the status, the pay method, the
//! cancellations so far, the order name, the currency and the customer.
//!
//! # What counts as refunded
//! One rule, used by [`PaymentExt::cancelled_total`] and the provider-neutral refund: [`cancel_outcome`] classifies
//! a cancellation by its status; only `SUCCEEDED` is counted, and a status this crate does not know is neither
//! counted nor taken as failed.
//!
//! Listings are streams of results, fetched a page at a time as you consume them:
//!
//! * [`Client::payments`] (`getPayments`): filtered, page-based. PortOne serves at most the first 60,000 matches
//!   this way, and a page-based listing can skip or repeat payments that change while you read.
//! * [`Client::payments_by_cursor`] (`getAllPaymentsByCursor`): every payment created in a time range, with a
//!   cursor per item; the one to use for full scans and reconciliation. Keep the last cursor to resume later.
//!
//! Both send their input as the JSON-encoded `requestBody` query parameter, as PortOne expects for these reads.

use super::cancel::{CancelOutcome, CommonFields};
use super::error::{GetAllPaymentsByCursorError, GetPaymentError, GetPaymentsError, pinpoint};
use super::raw::types::{EasyPayProvider, GetPaymentsBody, PageInput, PaymentMethodEasyPayMethod, PgProvider};
use super::{Client, PaymentId};
use crate::RawJson;
use crate::error::{Error, InvalidRequest};
use crate::policy::{self, Conditions, Deadline, ProcessingTime};
use crate::refund::RefundStatus;
use crate::transport::{Call, RetryPolicy, path_segment};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use std::time::Duration;

pub use super::raw::types::{
    GetAllPaymentsByCursorBody, PageInfo, PaymentAmount, PaymentCancellation, PaymentFilterInput, PaymentMethod,
    PaymentMethodType, PaymentStatus,
};

/// The generated payment union: one variant per status, each with that status's fields (`Paid { .. }`,
/// `PartialCancelled { .. }`, ...), and `Unrecognized` with the raw JSON of a status the spec does not list.
/// [`Payment`] dereferences to it.
pub use super::raw::types::Payment as PaymentByStatus;

/// A PortOne V2 payment: the typed union the crate reads ([`PaymentByStatus`], reached through `Deref`), and the
/// JSON exactly as PortOne sent it.
///
/// Serializing writes that JSON back, fields no spec lists included. `Debug` prints the typed part only, never
/// the JSON.
#[derive(Clone)]
pub struct Payment {
    typed: Box<PaymentByStatus>,
    json: RawJson,
}

impl Payment {
    /// The payment as PortOne sent it, byte for byte. It holds the customer's personal data: store it, do not
    /// log it.
    pub fn json(&self) -> &RawJson {
        &self.json
    }

    /// The typed union, to match on its status.
    pub fn by_status(&self) -> &PaymentByStatus {
        &self.typed
    }

    /// The generated union, e.g. to hand to the raw client.
    pub fn into_raw(self) -> PaymentByStatus {
        *self.typed
    }

    /// The typed union and the JSON as sent.
    pub fn into_parts(self) -> (PaymentByStatus, RawJson) {
        (*self.typed, self.json)
    }
}

crate::lossless::view_impls!(Payment, PaymentByStatus);

/// One page of [`Client::payments`]: the payments, each a lossless [`Payment`] view, and where the page is. (The
/// generated type of the same name is `raw::types::GetPaymentsResponse`.)
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GetPaymentsResponse {
    /// The payments of this page.
    pub items: Vec<Payment>,
    /// The page's number, size and the total count.
    pub page: PageInfo,
}

/// One item of [`Client::payments_by_cursor`]: a lossless [`Payment`] view and its cursor. (The generated type of
/// the same name is `raw::types::PaymentWithCursor`.)
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PaymentWithCursor {
    /// The payment.
    pub payment: Payment,
    /// Where to resume a listing after this payment.
    pub cursor: String,
}

/// `getAllPaymentsByCursor`'s answer, with lossless payments.
#[derive(serde::Deserialize)]
struct CursorPage {
    items: Vec<PaymentWithCursor>,
}

/// What one cancellation did with the money: the crate's one rule, shared by [`PaymentExt::cancelled_total`] and
/// the provider-neutral refund ([`crate::refund::Refunds`]).
///
/// | status | outcome |
/// |---|---|
/// | `SUCCEEDED` | [`Succeeded`](RefundStatus::Succeeded): counted |
/// | `REQUESTED` | [`Requested`](RefundStatus::Requested): not counted yet |
/// | `FAILED` | [`Failed`](RefundStatus::Failed): not counted |
/// | any other | [`Unrecognized`](RefundStatus::Unrecognized): neither counted nor taken as failed |
pub fn cancel_outcome(cancellation: &CancelOutcome) -> RefundStatus {
    match cancellation {
        CancelOutcome::Succeeded(_) => RefundStatus::Succeeded,
        CancelOutcome::Requested(_) => RefundStatus::Requested,
        CancelOutcome::Failed(_) => RefundStatus::Failed,
        other => RefundStatus::Unrecognized(other.status().to_string()),
    }
}

/// Won that `cancellation` returned: its `totalAmount` when [`cancel_outcome`] counts it, else 0.
pub fn refunded_by(cancellation: &CancelOutcome) -> i64 {
    match (cancel_outcome(cancellation), cancellation.cancellation()) {
        (RefundStatus::Succeeded, Some(c)) => c.total_amount,
        _ => 0,
    }
}

/// How many payments PortOne serves through page-based listing: `(page number + 1) * page size` may not exceed it.
pub const MAX_PAGED_PAYMENTS: i64 = 60_000;

/// The largest page `getAllPaymentsByCursor` accepts.
pub const MAX_CURSOR_PAGE_SIZE: u32 = 1_000;

impl Client {
    /// Reads one payment by the merchant's payment id (`GET /payments/{paymentId}`): await the result directly
    /// (`client.get_payment(&id).await`), the same shape as the other providers' lookups, or set a store id, a
    /// timeout or a retry policy on it first.
    pub fn get_payment(&self, payment_id: &PaymentId) -> GetPayment {
        GetPayment {
            client: self.clone(),
            payment_id: payment_id.as_str().to_owned(),
            store_id: None,
            timeout: None,
            retry: None,
        }
    }

    /// Lists the payments matching `filter`, page by page (`getPayments`). Call
    /// [`stream`](ListPayments::stream) on the result.
    ///
    /// When `filter.store_id` is not set, the client's store id is filled in, as for every other call. PortOne
    /// describes this filter as one for merchant-level credentials, where leaving it out lists every store of the
    /// merchant: call [`all_stores`](ListPayments::all_stores) for that.
    pub fn payments(&self, filter: PaymentFilterInput) -> ListPayments {
        ListPayments {
            client: self.clone(),
            filter,
            page_size: None,
            start_page: 0,
            all_stores: false,
            timeout: None,
            retry: None,
        }
    }

    /// Lists every payment created in a time range, following PortOne's cursor (`getAllPaymentsByCursor`). Call
    /// [`stream`](ListPaymentsByCursor::stream) on the result.
    ///
    /// `query` holds the range (`from`, `until`; PortOne defaults to the 90 days before `until`, and `until` to
    /// now), the page size (`size`, at most [`MAX_CURSOR_PAGE_SIZE`]; PortOne's default is 10), a cursor to resume
    /// after (`cursor`) and the store (`store_id`, default the client's).
    pub fn payments_by_cursor(&self, query: GetAllPaymentsByCursorBody) -> ListPaymentsByCursor {
        ListPaymentsByCursor {
            client: self.clone(),
            query,
            timeout: None,
            retry: None,
        }
    }
}

/// A read of one payment (`GET /payments/{paymentId}`), from [`Client::get_payment`]. Await it (it is
/// [`IntoFuture`]), or call [`send`](Self::send): the two are the same.
#[derive(Debug, Clone)]
#[must_use = "nothing is read until it is awaited"]
pub struct GetPayment {
    client: Client,
    payment_id: String,
    store_id: Option<String>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
}

impl GetPayment {
    /// The store the payment belongs to (`storeId` query parameter). Default: the client's store id, if any.
    pub fn store_id(mut self, store_id: impl Into<String>) -> Self {
        self.store_id = Some(store_id.into());
        self
    }

    /// Total timeout of one attempt of this call, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy of this call, instead of the client's (reads are always safe to retry).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Reads the payment.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty payment id or store id (nothing sent); [`Error::Api`] with a
    /// [`GetPaymentError`] (e.g. `PAYMENT_NOT_FOUND`, 404); [`Error::Transport`]; [`Error::Decode`].
    pub async fn send(self) -> Result<Payment, Error<GetPaymentError>> {
        let segment = path_segment("paymentId", &self.payment_id)?;
        let store_id = self.store_id.as_deref().or(self.client.store_id());
        if store_id.is_some_and(|s| s.trim().is_empty()) {
            return Err(InvalidRequest::new("storeId", "is empty").into());
        }
        let path = format!("/payments/{segment}");
        let mut call = self
            .client
            .call("getPayment", reqwest::Method::GET, "/payments/{paymentId}", path);
        if let Some(store_id) = store_id {
            call.query.push(("storeId", store_id.to_string()));
        }
        call.timeout = self.timeout;
        call.retry = self.retry.clone();
        self.client.send_view(&call).await.map_err(pinpoint::<PaymentProbe, _>)
    }
}

impl std::future::IntoFuture for GetPayment {
    type Output = Result<Payment, Error<GetPaymentError>>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    /// [`send`](GetPayment::send), so that `client.get_payment(&id).await` reads the payment.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// The fields of a payment that every known status has, with the amounts and cancellations: read again when a
/// payment does not decode, to name the field at fault (see [`pinpoint`]).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct PaymentProbe {
    id: String,
    transaction_id: String,
    merchant_id: String,
    store_id: String,
    order_name: String,
    requested_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    status_changed_at: chrono::DateTime<chrono::Utc>,
    amount: PaymentAmount,
    #[serde(default)]
    cancellations: Vec<CommonFields>,
}

/// Puts a body into the `requestBody` query parameter, where PortOne reads it for these GET operations.
fn with_request_body<B: serde::Serialize>(mut call: Call, body: &B) -> Result<Call, InvalidRequest> {
    let json = serde_json::to_string(body)
        .map_err(|e| InvalidRequest::new("requestBody", format!("cannot be encoded as JSON: {e}")))?;
    call.query.push(("requestBody", json));
    Ok(call)
}

/// A page-based listing (`GET /payments`). Consume it with [`stream`](Self::stream).
#[derive(Debug, Clone)]
#[must_use = "nothing is read until the stream is polled"]
pub struct ListPayments {
    client: Client,
    filter: PaymentFilterInput,
    page_size: Option<u32>,
    start_page: u32,
    all_stores: bool,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
}

impl ListPayments {
    /// Payments per request (`page.size`). Default: PortOne's (10).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// The first page to read, counting from 0 (`page.number`). Default 0.
    pub fn start_page(mut self, number: u32) -> Self {
        self.start_page = number;
        self
    }

    /// Lists every store of the merchant instead of filling in the client's store id.
    pub fn all_stores(mut self) -> Self {
        self.all_stores = true;
        self
    }

    /// Total timeout of each request, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy of each request, instead of the client's.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    fn check(&self) -> Result<(), InvalidRequest> {
        if self.page_size == Some(0) {
            return Err(InvalidRequest::new("page.size", "must be at least 1"));
        }
        let size = i64::from(self.page_size.unwrap_or(1));
        if (i64::from(self.start_page) + 1) * size > MAX_PAGED_PAYMENTS {
            return Err(InvalidRequest::new(
                "page",
                format!("(number + 1) * size may not exceed {MAX_PAGED_PAYMENTS}; use payments_by_cursor"),
            ));
        }
        Ok(())
    }

    /// Reads one page, counting from 0, with its [`PageInfo`] (total count included).
    ///
    /// # Errors
    /// As [`GetPayment::send`]: [`Error::InvalidRequest`] for a page size of 0 or a page past
    /// [`MAX_PAGED_PAYMENTS`], then API, transport and decode errors.
    pub async fn page(&self, number: u32) -> Result<GetPaymentsResponse, Error<GetPaymentsError>> {
        let mut filter = self.filter.clone();
        if filter.store_id.is_none() && !self.all_stores {
            filter.store_id = self.client.store_id().map(str::to_string);
        }
        let body = GetPaymentsBody {
            filter: Some(filter),
            page: Some(PageInput {
                number: Some(i32::try_from(number).map_err(|_| InvalidRequest::new("page.number", "is too large"))?),
                size: self
                    .page_size
                    .map(|s| i32::try_from(s).map_err(|_| InvalidRequest::new("page.size", "is too large")))
                    .transpose()?,
            }),
        };
        let call = self
            .client
            .call("getPayments", reqwest::Method::GET, "/payments", "/payments".into());
        let mut call = with_request_body(call, &body)?;
        call.timeout = self.timeout;
        call.retry = self.retry.clone();
        self.client.send(&call).await.map_err(pinpoint::<PaymentProbe, _>)
    }

    /// The payments, one request per page as the stream is polled, starting at [`start_page`](Self::start_page).
    ///
    /// The stream ends after the last page PortOne reports (`totalCount`) or an empty one. An error ends it after
    /// being yielded. Past [`MAX_PAGED_PAYMENTS`] it yields [`Error::InvalidRequest`] (nothing sent) rather than
    /// stopping silently with payments left unread.
    pub fn stream(self) -> BoxStream<'static, Result<Payment, Error<GetPaymentsError>>> {
        if let Err(e) = self.check() {
            return stream::once(async move { Err(e.into()) }).boxed();
        }
        let start = Some(self.start_page);
        stream::unfold((self, start), |(list, next)| async move {
            let number = next?;
            let chunk: Vec<Result<Payment, Error<GetPaymentsError>>>;
            let mut following = None;
            match list.page(number).await {
                Err(e) => chunk = vec![Err(e)],
                Ok(response) => {
                    let info = &response.page;
                    let (size, total) = (i64::from(info.size), i64::from(info.total_count));
                    let served = (i64::from(info.number) + 1) * size;
                    if !response.items.is_empty() && size > 0 && served < total {
                        following = u32::try_from(info.number + 1).ok();
                    }
                    let mut items: Vec<_> = response.items.into_iter().map(Ok).collect();
                    if let Some(n) = following
                        && (i64::from(n) + 1) * size > MAX_PAGED_PAYMENTS
                    {
                        items.push(Err(InvalidRequest::new(
                            "page",
                            format!(
                                "{total} payments match but page-based listing stops at {MAX_PAGED_PAYMENTS}; \
                                 use payments_by_cursor for the rest"
                            ),
                        )
                        .into()));
                        following = None;
                    }
                    chunk = items;
                }
            }
            Some((stream::iter(chunk), (list, following)))
        })
        .flatten()
        .boxed()
    }
}

/// A cursor-based listing (`GET /payments-by-cursor`). Consume it with [`stream`](Self::stream).
#[derive(Debug, Clone)]
#[must_use = "nothing is read until the stream is polled"]
pub struct ListPaymentsByCursor {
    client: Client,
    query: GetAllPaymentsByCursorBody,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
}

impl ListPaymentsByCursor {
    /// Total timeout of each request, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy of each request, instead of the client's.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    fn check(&self) -> Result<(), InvalidRequest> {
        if let Some(size) = self.query.size
            && !(1..=MAX_CURSOR_PAGE_SIZE as i32).contains(&size)
        {
            return Err(InvalidRequest::new(
                "size",
                format!("is {size}; it must be between 1 and {MAX_CURSOR_PAGE_SIZE}"),
            ));
        }
        if let (Some(from), Some(until)) = (self.query.from, self.query.until)
            && from > until
        {
            return Err(InvalidRequest::new("from", "is after `until`"));
        }
        Ok(())
    }

    async fn fetch(&self, cursor: Option<String>) -> Result<CursorPage, Error<GetAllPaymentsByCursorError>> {
        let mut body = self.query.clone();
        body.cursor = cursor;
        if body.store_id.is_none() {
            body.store_id = self.client.store_id().map(str::to_string);
        }
        let call = self.client.call(
            "getAllPaymentsByCursor",
            reqwest::Method::GET,
            "/payments-by-cursor",
            "/payments-by-cursor".into(),
        );
        let mut call = with_request_body(call, &body)?;
        call.timeout = self.timeout;
        call.retry = self.retry.clone();
        self.client.send(&call).await.map_err(pinpoint::<PaymentProbe, _>)
    }

    /// Every payment in the range with its cursor, one request per page as the stream is polled.
    ///
    /// Each request sends the cursor of the last payment received; the stream ends at the first empty page. An
    /// error ends it after being yielded; to resume, start a new listing with `cursor` set to the last cursor you
    /// saw.
    pub fn stream(self) -> BoxStream<'static, Result<PaymentWithCursor, Error<GetAllPaymentsByCursorError>>> {
        if let Err(e) = self.check() {
            return stream::once(async move { Err(e.into()) }).boxed();
        }
        let first = self.query.cursor.clone();
        stream::unfold((self, Some(first)), |(list, state)| async move {
            let cursor = state?;
            match list.fetch(cursor.clone()).await {
                Err(e) => Some((stream::iter(vec![Err(e)]), (list, None))),
                Ok(response) if response.items.is_empty() => None,
                Ok(response) => {
                    let last = response.items.last().map(|i| i.cursor.clone());
                    let next = if last.is_some() && last == cursor {
                        // The same cursor again would ask for the same page forever.
                        tracing::warn!("getAllPaymentsByCursor returned the cursor it was given; stopping");
                        None
                    } else {
                        Some(last)
                    };
                    let items: Vec<_> = response.items.into_iter().map(Ok).collect();
                    Some((stream::iter(items), (list, next)))
                }
            }
        })
        .flatten()
        .boxed()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Payment {}
    impl Sealed for super::PaymentByStatus {}
}

/// What a refund screen needs from any [`Payment`], whatever its status.
///
/// For the known statuses every value is read from the typed variant. For a status this crate does not know
/// (`PaymentByStatus::Unrecognized`), values are read from the raw JSON when it has them, and are `None` otherwise.
pub trait PaymentExt: sealed::Sealed {
    /// The merchant's payment id (`id`).
    fn id(&self) -> Option<&str>;

    /// The status, in the terms [`PaymentFilterInput::status`] uses (the wire's `PAY_PENDING` is
    /// [`PaymentStatus::Pending`] there).
    fn status(&self) -> PaymentStatus;

    /// The amounts (`amount`): total, tax-free, VAT, discount, paid, cancelled.
    fn amount(&self) -> Option<PaymentAmount>;

    /// What the customer actually paid, in won (`amount.paid`).
    fn paid_amount(&self) -> Option<i64> {
        self.amount().map(|a| a.paid)
    }

    /// How much has been cancelled so far, in won (`amount.cancelled`).
    fn cancelled_amount(&self) -> Option<i64> {
        self.amount().map(|a| a.cancelled)
    }

    /// What is left to cancel: paid minus cancelled, never below 0. Pass it as `currentCancellableAmount`
    /// ([`Client::partial_cancel`]); should PortOne count the balance differently, the cancel is refused with
    /// `CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN` rather than applied.
    fn cancellable_amount(&self) -> Option<i64> {
        self.amount().map(|a| a.paid.saturating_sub(a.cancelled).max(0))
    }

    /// How the customer paid (`method`), when PortOne knows it.
    fn method(&self) -> Option<&PaymentMethod>;

    /// What the order was for (`orderName`).
    fn order_name(&self) -> Option<&str>;

    /// The currency as PortOne sent it (`currency`), e.g. `"KRW"`. The amounts are won only when it is `KRW`;
    /// the crate does not convert them (see [`crate::payment_view`]).
    fn currency(&self) -> Option<&str>;

    /// Who paid (`customer`): name, email and phone number, each `None` when PortOne did not send it. Its
    /// `Debug` hides the values. The rest of PortOne's customer object (birth date, address, ...) is on the
    /// status variant.
    fn customer(&self) -> crate::payment_view::Customer<'_>;

    /// The kind of pay method, e.g. [`PaymentMethodType::VirtualAccount`] (whose refunds need a
    /// [`RefundAccount`](super::RefundAccount)).
    fn method_type(&self) -> Option<PaymentMethodType>;

    /// The cancellations so far, oldest first as PortOne lists them, failed ones included.
    fn cancellations(&self) -> Vec<CancelOutcome>;

    /// The sum of what the cancellations returned, in won, by the crate's one rule ([`cancel_outcome`]): the
    /// `totalAmount` of each `SUCCEEDED` one. Requested, failed and unrecognized ones are left out. Compare
    /// [`cancelled_amount`](Self::cancelled_amount), PortOne's own figure.
    fn cancelled_total(&self) -> i64 {
        self.cancellations()
            .iter()
            .map(refunded_by)
            .fold(0i64, i64::saturating_add)
    }

    /// When the payment was paid (`paidAt`): always there for `PAID`, there for `PARTIAL_CANCELLED` and
    /// `CANCELLED` when PortOne sends it, read from the raw JSON for a status this crate does not know, and `None`
    /// for a payment that was never paid (a virtual account still waiting for its deposit, for one).
    fn paid_at(&self) -> Option<DateTime<Utc>>;

    /// The PG behind the payment (`channel.pgProvider`), when PortOne names the channel.
    fn pg_provider(&self) -> Option<PgProvider>;

    /// The pay method in the terms of [`crate::policy`], from `method` and, where the PG alone says what the
    /// payment was, `channel.pgProvider`:
    ///
    /// | PortOne | policy |
    /// |---|---|
    /// | PG `PAYPAL` or `PAYPAL_V2`, or easy pay `PAYPAL` | [`PayPal`](policy::PayMethod::PayPal) |
    /// | PG `NAVERPAY`, or easy pay `NAVERPAY` | [`NaverPay`](policy::PayMethod::NaverPay) |
    /// | easy pay `KAKAOPAY` paid by card, or a card payment through the PG `KAKAOPAY` | [`KakaoPayCard`](policy::PayMethod::KakaoPayCard) |
    /// | easy pay `KAKAOPAY` paid from a charged balance (`PaymentMethodEasyPayMethodCharge`) | [`KakaoPayMoney`](policy::PayMethod::KakaoPayMoney) |
    /// | easy pay `KAKAOPAY` paid by transfer, or without `easyPayMethod` | [`Unknown`](policy::PayMethod::Unknown) |
    /// | any other easy pay | [`EasyPay`](policy::PayMethod::EasyPay) |
    /// | `PaymentMethodCard` | [`Card`](policy::PayMethod::Card) |
    /// | `PaymentMethodTransfer` | [`AccountTransfer`](policy::PayMethod::AccountTransfer) |
    /// | `PaymentMethodVirtualAccount` | [`VirtualAccount`](policy::PayMethod::VirtualAccount) |
    /// | `PaymentMethodMobile` | [`MobilePhone`](policy::PayMethod::MobilePhone) |
    /// | `PaymentMethodGiftCertificate` | [`GiftCertificate`](policy::PayMethod::GiftCertificate) |
    /// | convenience store, crypto, an unrecognized method, or none | [`Unknown`](policy::PayMethod::Unknown) |
    ///
    /// PortOne's V2 cancel guide (<https://developers.portone.io/opi/ko/integration/cancel/v2/readme>) gives
    /// KakaoPay one rule for card and one for KakaoPay money. A KakaoPay payment whose `easyPayMethod` is a
    /// transfer, or missing, says neither, so it is `Unknown` rather than either guess.
    fn policy_method(&self) -> policy::PayMethod;

    /// Until when this payment can be cancelled, per [`policy::deadline`] for PortOne V2, counted from
    /// [`paid_at`](Self::paid_at). Without a payment time the rule is still given, but no instant.
    fn cancel_deadline(&self) -> Deadline {
        policy::deadline_if_paid(policy::Provider::PortOneV2, self.policy_method(), self.paid_at())
    }

    /// How long a cancel of this payment takes to reach the customer, per [`policy::processing`] for PortOne V2.
    fn expected_refund_time(&self, conditions: &Conditions) -> ProcessingTime {
        policy::processing(policy::Provider::PortOneV2, self.policy_method(), conditions)
    }
}

impl PaymentExt for Payment {
    fn id(&self) -> Option<&str> {
        self.typed.id()
    }
    fn status(&self) -> PaymentStatus {
        self.typed.status()
    }
    fn amount(&self) -> Option<PaymentAmount> {
        self.typed.amount()
    }
    fn method(&self) -> Option<&PaymentMethod> {
        self.typed.method()
    }
    fn order_name(&self) -> Option<&str> {
        self.typed.order_name()
    }
    fn currency(&self) -> Option<&str> {
        self.typed.currency()
    }
    fn customer(&self) -> crate::payment_view::Customer<'_> {
        self.typed.customer()
    }
    fn method_type(&self) -> Option<PaymentMethodType> {
        self.typed.method_type()
    }
    fn cancellations(&self) -> Vec<CancelOutcome> {
        self.typed.cancellations()
    }
    fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.typed.paid_at()
    }
    fn pg_provider(&self) -> Option<PgProvider> {
        self.typed.pg_provider()
    }
    fn policy_method(&self) -> policy::PayMethod {
        self.typed.policy_method()
    }
}

impl PaymentExt for PaymentByStatus {
    fn id(&self) -> Option<&str> {
        match self {
            PaymentByStatus::Cancelled { id, .. }
            | PaymentByStatus::Failed { id, .. }
            | PaymentByStatus::Paid { id, .. }
            | PaymentByStatus::PartialCancelled { id, .. }
            | PaymentByStatus::PayPending { id, .. }
            | PaymentByStatus::Ready { id, .. }
            | PaymentByStatus::VirtualAccountIssued { id, .. } => Some(id),
            PaymentByStatus::Unrecognized(raw) => raw.0.get("id").and_then(serde_json::Value::as_str),
        }
    }

    fn status(&self) -> PaymentStatus {
        match self {
            PaymentByStatus::Cancelled { .. } => PaymentStatus::Cancelled,
            PaymentByStatus::Failed { .. } => PaymentStatus::Failed,
            PaymentByStatus::Paid { .. } => PaymentStatus::Paid,
            PaymentByStatus::PartialCancelled { .. } => PaymentStatus::PartialCancelled,
            PaymentByStatus::PayPending { .. } => PaymentStatus::Pending,
            PaymentByStatus::Ready { .. } => PaymentStatus::Ready,
            PaymentByStatus::VirtualAccountIssued { .. } => PaymentStatus::VirtualAccountIssued,
            PaymentByStatus::Unrecognized(raw) => PaymentStatus::Unrecognized(raw.tag().to_string()),
        }
    }

    fn amount(&self) -> Option<PaymentAmount> {
        match self {
            PaymentByStatus::Cancelled { amount, .. }
            | PaymentByStatus::Failed { amount, .. }
            | PaymentByStatus::Paid { amount, .. }
            | PaymentByStatus::PartialCancelled { amount, .. }
            | PaymentByStatus::PayPending { amount, .. }
            | PaymentByStatus::Ready { amount, .. }
            | PaymentByStatus::VirtualAccountIssued { amount, .. } => Some(amount.clone()),
            PaymentByStatus::Unrecognized(raw) => {
                raw.0.get("amount").and_then(|a| serde_json::from_value(a.clone()).ok())
            }
        }
    }

    fn method(&self) -> Option<&PaymentMethod> {
        match self {
            PaymentByStatus::Cancelled { method, .. }
            | PaymentByStatus::Failed { method, .. }
            | PaymentByStatus::Paid { method, .. }
            | PaymentByStatus::PartialCancelled { method, .. }
            | PaymentByStatus::PayPending { method, .. }
            | PaymentByStatus::Ready { method, .. }
            | PaymentByStatus::VirtualAccountIssued { method, .. } => method.as_ref(),
            PaymentByStatus::Unrecognized(_) => None,
        }
    }

    fn order_name(&self) -> Option<&str> {
        match self {
            PaymentByStatus::Cancelled { order_name, .. }
            | PaymentByStatus::Failed { order_name, .. }
            | PaymentByStatus::Paid { order_name, .. }
            | PaymentByStatus::PartialCancelled { order_name, .. }
            | PaymentByStatus::PayPending { order_name, .. }
            | PaymentByStatus::Ready { order_name, .. }
            | PaymentByStatus::VirtualAccountIssued { order_name, .. } => Some(order_name),
            PaymentByStatus::Unrecognized(raw) => raw.0.get("orderName").and_then(serde_json::Value::as_str),
        }
    }

    fn currency(&self) -> Option<&str> {
        match self {
            PaymentByStatus::Cancelled { currency, .. }
            | PaymentByStatus::Failed { currency, .. }
            | PaymentByStatus::Paid { currency, .. }
            | PaymentByStatus::PartialCancelled { currency, .. }
            | PaymentByStatus::PayPending { currency, .. }
            | PaymentByStatus::Ready { currency, .. }
            | PaymentByStatus::VirtualAccountIssued { currency, .. } => Some(currency.as_str()),
            PaymentByStatus::Unrecognized(raw) => raw.0.get("currency").and_then(serde_json::Value::as_str),
        }
    }

    fn customer(&self) -> crate::payment_view::Customer<'_> {
        let customer = match self {
            PaymentByStatus::Cancelled { customer, .. }
            | PaymentByStatus::Failed { customer, .. }
            | PaymentByStatus::Paid { customer, .. }
            | PaymentByStatus::PartialCancelled { customer, .. }
            | PaymentByStatus::PayPending { customer, .. }
            | PaymentByStatus::Ready { customer, .. }
            | PaymentByStatus::VirtualAccountIssued { customer, .. } => customer,
            PaymentByStatus::Unrecognized(raw) => {
                let part = |key: &str| {
                    raw.0
                        .get("customer")
                        .and_then(|c| c.get(key))
                        .and_then(serde_json::Value::as_str)
                };
                let mut view = crate::payment_view::Customer::new();
                view.name = part("name");
                view.email = part("email");
                view.phone = part("phoneNumber");
                return view;
            }
        };
        let mut view = crate::payment_view::Customer::new();
        view.name = customer.name.as_deref();
        view.email = customer.email.as_deref();
        view.phone = customer.phone_number.as_deref();
        view
    }

    fn method_type(&self) -> Option<PaymentMethodType> {
        let method = match self {
            PaymentByStatus::Unrecognized(raw) => {
                return raw
                    .0
                    .get("method")
                    .and_then(|m| serde_json::from_value::<PaymentMethod>(m.clone()).ok())
                    .map(|m| method_type_of(&m));
            }
            _ => self.method()?,
        };
        Some(method_type_of(method))
    }

    fn cancellations(&self) -> Vec<CancelOutcome> {
        match self {
            PaymentByStatus::Cancelled { cancellations, .. }
            | PaymentByStatus::Paid { cancellations, .. }
            | PaymentByStatus::PartialCancelled { cancellations, .. } => {
                cancellations.iter().cloned().map(CancelOutcome::from).collect()
            }
            PaymentByStatus::Failed { .. }
            | PaymentByStatus::PayPending { .. }
            | PaymentByStatus::Ready { .. }
            | PaymentByStatus::VirtualAccountIssued { .. } => Vec::new(),
            PaymentByStatus::Unrecognized(raw) => raw
                .0
                .get("cancellations")
                .and_then(|c| serde_json::from_value::<Vec<PaymentCancellation>>(c.clone()).ok())
                .unwrap_or_default()
                .into_iter()
                .map(CancelOutcome::from)
                .collect(),
        }
    }

    fn paid_at(&self) -> Option<DateTime<Utc>> {
        match self {
            PaymentByStatus::Paid { paid_at, .. } => Some(*paid_at),
            PaymentByStatus::Cancelled { paid_at, .. } | PaymentByStatus::PartialCancelled { paid_at, .. } => *paid_at,
            PaymentByStatus::Failed { .. }
            | PaymentByStatus::PayPending { .. }
            | PaymentByStatus::Ready { .. }
            | PaymentByStatus::VirtualAccountIssued { .. } => None,
            PaymentByStatus::Unrecognized(raw) => {
                raw.0.get("paidAt").and_then(|t| serde_json::from_value(t.clone()).ok())
            }
        }
    }

    fn pg_provider(&self) -> Option<PgProvider> {
        match self {
            PaymentByStatus::Cancelled { channel, .. }
            | PaymentByStatus::Paid { channel, .. }
            | PaymentByStatus::PartialCancelled { channel, .. }
            | PaymentByStatus::PayPending { channel, .. }
            | PaymentByStatus::VirtualAccountIssued { channel, .. } => Some(channel.pg_provider.clone()),
            PaymentByStatus::Failed { channel, .. } | PaymentByStatus::Ready { channel, .. } => {
                channel.as_ref().map(|c| c.pg_provider.clone())
            }
            PaymentByStatus::Unrecognized(raw) => raw
                .0
                .get("channel")
                .and_then(|c| c.get("pgProvider"))
                .and_then(|p| serde_json::from_value(p.clone()).ok()),
        }
    }

    fn policy_method(&self) -> policy::PayMethod {
        let pg = self.pg_provider();
        match self {
            PaymentByStatus::Unrecognized(raw) => {
                let method = raw
                    .0
                    .get("method")
                    .and_then(|m| serde_json::from_value::<PaymentMethod>(m.clone()).ok());
                policy_method_of(method.as_ref(), pg.as_ref())
            }
            _ => policy_method_of(self.method(), pg.as_ref()),
        }
    }
}

/// The one mapping from PortOne's method and PG onto [`policy::PayMethod`]; documented on
/// [`PaymentExt::policy_method`].
fn policy_method_of(method: Option<&PaymentMethod>, pg: Option<&PgProvider>) -> policy::PayMethod {
    use policy::PayMethod as M;
    // A wallet's own PG names the wallet whatever instrument the customer picked inside it.
    match pg {
        Some(PgProvider::Paypal | PgProvider::PaypalV2) => return M::PayPal,
        Some(PgProvider::Naverpay) => return M::NaverPay,
        _ => {}
    }
    let Some(method) = method else {
        return M::Unknown;
    };
    match method {
        PaymentMethod::PaymentMethodEasyPay {
            provider,
            easy_pay_method,
        } => {
            // An easy pay that does not name its wallet may still be named by its PG.
            let kakaopay_pg = pg == Some(&PgProvider::Kakaopay);
            match provider {
                Some(EasyPayProvider::Paypal) => M::PayPal,
                Some(EasyPayProvider::Naverpay) => M::NaverPay,
                Some(EasyPayProvider::Kakaopay) => kakaopay_method(easy_pay_method.as_ref()),
                None if kakaopay_pg => kakaopay_method(easy_pay_method.as_ref()),
                Some(_) | None => M::EasyPay,
            }
        }
        PaymentMethod::PaymentMethodCard { .. } if pg == Some(&PgProvider::Kakaopay) => M::KakaoPayCard,
        PaymentMethod::PaymentMethodCard { .. } => M::Card,
        PaymentMethod::PaymentMethodTransfer { .. } => M::AccountTransfer,
        PaymentMethod::PaymentMethodVirtualAccount { .. } => M::VirtualAccount,
        PaymentMethod::PaymentMethodMobile { .. } => M::MobilePhone,
        PaymentMethod::PaymentMethodGiftCertificate { .. } => M::GiftCertificate,
        PaymentMethod::PaymentMethodConvenienceStore { .. }
        | PaymentMethod::PaymentMethodCrypto
        | PaymentMethod::Unrecognized(_) => M::Unknown,
    }
}

fn kakaopay_method(paid_with: Option<&PaymentMethodEasyPayMethod>) -> policy::PayMethod {
    match paid_with {
        Some(PaymentMethodEasyPayMethod::PaymentMethodCard { .. }) => policy::PayMethod::KakaoPayCard,
        Some(PaymentMethodEasyPayMethod::PaymentMethodEasyPayMethodCharge { .. }) => policy::PayMethod::KakaoPayMoney,
        // The V2 cancel guide's KakaoPay rules name card and money only; a transfer, or no word at all, is neither.
        Some(_) | None => policy::PayMethod::Unknown,
    }
}

fn method_type_of(method: &PaymentMethod) -> PaymentMethodType {
    match method {
        PaymentMethod::PaymentMethodCard { .. } => PaymentMethodType::Card,
        PaymentMethod::PaymentMethodConvenienceStore { .. } => PaymentMethodType::ConvenienceStore,
        PaymentMethod::PaymentMethodCrypto => PaymentMethodType::Crypto,
        PaymentMethod::PaymentMethodEasyPay { .. } => PaymentMethodType::EasyPay,
        PaymentMethod::PaymentMethodGiftCertificate { .. } => PaymentMethodType::GiftCertificate,
        PaymentMethod::PaymentMethodMobile { .. } => PaymentMethodType::Mobile,
        PaymentMethod::PaymentMethodTransfer { .. } => PaymentMethodType::Transfer,
        PaymentMethod::PaymentMethodVirtualAccount { .. } => PaymentMethodType::VirtualAccount,
        PaymentMethod::Unrecognized(raw) => PaymentMethodType::Unrecognized(raw.tag().to_string()),
    }
}
