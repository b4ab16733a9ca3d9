//! PortOne V2 wire format: payment lookups (`GET /payments/{paymentId}`, `GET /payments`,
//! `GET /payments-by-cursor`, `GET /payments/{paymentId}/transactions`,
//! `GET /payment-events-by-cursor`), the cancel and its stop
//! (`POST /payments/{paymentId}/cancel`, `.../cancellations/{cancellationId}/stop`), and the
//! operations that create or close a payment to refund: pre-register + confirm, billing-key
//! issue + pay, virtual-account close; plus `POST /payments/{paymentId}/resend-webhook`.
//!
//! Errors are the spec's leaf error objects `{type, message}` with the HTTP status the spec pins to
//! each type (`x-portone-status-code`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ledger::{
    CancelPolicy, CancelRecord, CancelRequest, MethodKind, PayState, PaymentRecord, RefundAccount, Refusal,
    StopRefusal, UnpaidVirtualAccount, later, month_label,
};
use super::{Provider, Shared, decode_form, webhooks};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/payments", get(list_payments))
        .route("/payments-by-cursor", get(list_by_cursor))
        .route("/payments/{payment_id}", get(get_payment))
        .route("/payments/{payment_id}/cancel", post(cancel_payment))
        .route("/payments/{payment_id}/pre-register", post(pre_register))
        .route("/payments/{payment_id}/confirm", post(confirm_payment))
        .route("/payments/{payment_id}/billing-key", post(pay_with_billing_key))
        .route("/billing-keys", post(issue_billing_key))
        .route(
            "/payments/{payment_id}/virtual-account/close",
            post(close_virtual_account),
        )
        .route(
            "/payments/{payment_id}/cancellations/{cancellation_id}/stop",
            post(stop_cancellation),
        )
        .route("/payments/{payment_id}/transactions", get(payment_transactions))
        .route("/payments/{payment_id}/resend-webhook", post(resend_webhook))
        .route("/payment-events-by-cursor", get(events_by_cursor))
        // A served path asked with another method: 405, or 501 for an operation the sandbox lacks.
        .method_not_allowed_fallback(super::surface::unknown_route)
}

const POLICY: CancelPolicy = CancelPolicy {
    // PortOne V2 closes an unpaid virtual account with POST /payments/{id}/virtual-account/close;
    // the cancel endpoint only cancels money that was paid, hence PAYMENT_NOT_PAID.
    unpaid_virtual_account: UnpaidVirtualAccount::Refuse,
    phone_required_for: &["smartro", "smartro_v2"],
};

fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"type": kind, "message": message.into()}))).into_response()
}

fn invalid_request(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Accepts `Authorization: PortOne <secret>` with the configured secret, as the API does.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, secret) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("PortOne").then(|| secret.trim().to_owned())
        });
    match given {
        Some(secret) if secret == shared.config.portone_secret => Ok(()),
        Some(_) => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "the API secret is not valid",
        ))),
        None => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing credentials: send Authorization: PortOne <API secret>",
        ))),
    }
}

/// A request naming another store is refused the way a secret without access to it would be.
fn check_store(shared: &Shared, store_id: Option<&str>) -> Result<(), Box<Response>> {
    match store_id {
        Some(s) if s != shared.config.store_id => Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            format!("the API secret has no access to store {s}"),
        ))),
        _ => Ok(()),
    }
}

/// The Payment union's discriminator for a payment's current state.
pub(crate) fn status_of(p: &PaymentRecord) -> &'static str {
    // Assumption: a closed virtual account reads as CANCELLED (with no cancellations); the spec does
    // not say which status closeVirtualAccount leaves.
    if p.closed_at.is_some() {
        "CANCELLED"
    } else if p.state == PayState::AwaitingDeposit {
        "VIRTUAL_ACCOUNT_ISSUED"
    } else if p.is_fully_cancelled() {
        "CANCELLED"
    } else if p.is_partially_cancelled() {
        "PARTIAL_CANCELLED"
    } else {
        "PAID"
    }
}

fn method_type(p: &PaymentRecord) -> &'static str {
    match p.method {
        MethodKind::Card => "CARD",
        MethodKind::VirtualAccount => "VIRTUAL_ACCOUNT",
        MethodKind::MobilePhone => "MOBILE",
    }
}

/// PortOne V2 spells PG providers in upper snake case (`SMARTRO_V2`), iamport in lower.
fn pg_provider(p: &PaymentRecord) -> String {
    p.pg.to_ascii_uppercase().replace('-', "_")
}

fn method_json(p: &PaymentRecord) -> Value {
    match p.method {
        MethodKind::Card => json!({
            "type": "PaymentMethodCard",
            "card": {
                "publisher": "SANDBOX",
                "issuer": "SANDBOX",
                "brand": "LOCAL",
                "type": "CREDIT",
                "ownerType": "PERSONAL",
                "bin": "53275000",
                "name": "Sandbox Card",
                "number": "53275000****123*"
            },
            "approvalNumber": "00000000",
            "installment": {"month": 0, "isInterestFree": false},
            "pointUsed": false
        }),
        MethodKind::VirtualAccount => {
            let mut m = json!({
                "type": "PaymentMethodVirtualAccount",
                "bank": "SHINHAN",
                "accountNumber": "56211105948400",
                "accountType": "NORMAL",
                "remitteeName": "Sandbox Store",
                "remitterName": "Sandbox Buyer",
                "issuedAt": ts(p.requested_at),
                "expiredAt": ts(later(p.requested_at, TimeDelta::days(7))),
            });
            if p.state == PayState::Paid && !p.cancels.is_empty() {
                let refund = if p.cancels.iter().any(CancelRecord::is_pending) {
                    "PENDING"
                } else {
                    "COMPLETED"
                };
                m["refundStatus"] = json!(refund);
            }
            m
        }
        MethodKind::MobilePhone => json!({"type": "PaymentMethodMobile", "phoneNumber": "01000000000"}),
    }
}

fn cancellation_json(c: &CancelRecord) -> Value {
    let mut v = json!({
        "status": if c.is_pending() { "REQUESTED" } else { "SUCCEEDED" },
        "id": c.id,
        "pgCancellationId": c.pg_tid,
        "totalAmount": c.amount,
        "taxFreeAmount": c.tax_free,
        "vatAmount": c.vat,
        "easyPayDiscountAmount": 0,
        "reason": c.reason,
        "requestedAt": ts(c.requested_at),
        "trigger": "API",
    });
    if let Some(at) = c.cancelled_at {
        v["cancelledAt"] = json!(ts(at));
        v["receiptUrl"] = json!(c.receipt_url);
    }
    v
}

/// The Payment object with every field the spec requires for its status.
/// PortOne's `customer` object: only the parts the seed gave.
fn customer_json(c: &super::ledger::CustomerRecord) -> Value {
    let mut m = serde_json::Map::new();
    for (key, value) in [("name", &c.name), ("email", &c.email), ("phoneNumber", &c.phone)] {
        if let Some(v) = value {
            m.insert(key.to_owned(), json!(v));
        }
    }
    Value::Object(m)
}

pub(crate) fn payment_json(shared: &Shared, p: &PaymentRecord) -> Value {
    let status = status_of(p);
    let paid = if p.state == PayState::Paid { p.total } else { 0 };
    let mut v = json!({
        "status": status,
        "id": p.id,
        "transactionId": p.transaction_id,
        "merchantId": shared.config.merchant_id,
        "storeId": shared.config.store_id,
        "method": method_json(p),
        "channel": {
            "type": "TEST",
            "id": "channel-sandbox",
            "key": "channel-key-sandbox",
            "name": "sandbox",
            "pgProvider": pg_provider(p),
            "pgMerchantId": "sandbox-mid"
        },
        "version": "V2",
        "requestedAt": ts(p.requested_at),
        "updatedAt": ts(p.status_changed_at),
        "statusChangedAt": ts(p.status_changed_at),
        "orderName": p.order_name,
        "amount": {
            "total": p.total,
            "taxFree": p.tax_free,
            "vat": p.vat,
            "supply": p.total.saturating_sub(p.tax_free).saturating_sub(p.vat),
            "discount": 0,
            "paid": paid,
            "cancelled": p.cancelled(),
            "cancelledTaxFree": p.cancelled_tax_free()
        },
        "currency": "KRW",
        "customer": customer_json(&p.customer),
        "origin": {"platformType": "PC", "ipAddress": "127.0.0.1"},
        "isCulturalExpense": false,
        "country": "KR",
        "pgTxId": p.pg_tx_id,
    });
    if p.state == PayState::Paid {
        v["paidAt"] = json!(ts(p.paid_at));
        v["receiptUrl"] = json!(format!("https://sandbox.invalid/receipts/{}", p.transaction_id));
    }
    if !p.cancels.is_empty() || !p.stopped_cancels.is_empty() || p.closed_at.is_some() {
        v["cancellations"] = Value::Array(cancellations_json(p));
    }
    if let Some(key) = &p.billing_key {
        v["billingKey"] = json!(key);
    }
    match status {
        "PAID" => v["disputes"] = json!([]),
        "PARTIAL_CANCELLED" | "CANCELLED" => {
            let at = p.closed_at.or(p.last_cancelled_at()).unwrap_or(p.status_changed_at);
            v["cancelledAt"] = json!(ts(at));
        }
        _ => {}
    }
    v
}

/// Applied cancels, then stopped ones, which read as FAILED: they were requested and did not happen.
fn cancellations_json(p: &PaymentRecord) -> Vec<Value> {
    let stopped = p.stopped_cancels.iter().map(|(c, _)| {
        let mut v = cancellation_json(c);
        v["status"] = json!("FAILED");
        v
    });
    p.cancels.iter().map(cancellation_json).chain(stopped).collect()
}

async fn get_payment(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let store = decode_form(query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "storeId");
    if let Err(r) = check_store(&shared, store.as_ref().map(|(_, v)| v.as_str())) {
        return *r;
    }
    let ledger = shared.ledger();
    match ledger.get(Provider::PortOneV2, &payment_id) {
        Some(p) => axum::Json(payment_json(&shared, p)).into_response(),
        None => not_found(&payment_id),
    }
}

fn not_found(payment_id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "PAYMENT_NOT_FOUND",
        format!("no payment with id {payment_id}"),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelBody {
    store_id: Option<String>,
    amount: Option<i64>,
    tax_free_amount: Option<i64>,
    vat_amount: Option<i64>,
    reason: String,
    requester: Option<String>,
    promotion_discount_retain_option: Option<String>,
    current_cancellable_amount: Option<i64>,
    refund_account: Option<RefundAccountBody>,
    #[serde(rename = "refundEmail")]
    _refund_email: Option<String>,
    skip_webhook: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundAccountBody {
    bank: String,
    number: String,
    holder_name: String,
    holder_phone_number: Option<String>,
}

fn refusal(r: &Refusal, payment_id: &str) -> Response {
    use StatusCode as S;
    match r {
        Refusal::NotFound => not_found(payment_id),
        Refusal::AlreadyCancelled => error(
            S::CONFLICT,
            "PAYMENT_ALREADY_CANCELLED",
            "the payment has nothing left to cancel",
        ),
        Refusal::NotPaid | Refusal::PartialCancelOfUnpaidVirtualAccount => error(
            S::CONFLICT,
            "PAYMENT_NOT_PAID",
            "the payment is not paid: close an unpaid virtual account with POST /payments/{paymentId}/virtual-account/close",
        ),
        // Unsure: the carrier, not PortOne, refuses a phone-payment cancel after the month of payment,
        // and PortOne V2 passes PG refusals on as PG_PROVIDER (502, with pgCode / pgMessage) rather
        // than INVALID_REQUEST. The pgCode below is the sandbox's own, not a real PG code.
        Refusal::PhoneMonthPassed { paid_month, now_month } => (
            S::BAD_GATEWAY,
            axum::Json(json!({
                "type": "PG_PROVIDER",
                "message": "the PG refused the cancel",
                "pgCode": "SANDBOX_PHONE_CANCEL_MONTH_PASSED",
                "pgMessage": format!(
                    "a mobile-phone payment of {} (KST) cannot be cancelled in {}",
                    month_label(*paid_month),
                    month_label(*now_month)
                ),
            })),
        )
            .into_response(),
        Refusal::BalanceMismatch { expected, actual } => error(
            S::CONFLICT,
            "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
            format!("currentCancellableAmount {expected} does not match the cancellable amount {actual}"),
        ),
        Refusal::NonPositiveAmount => invalid_request("amount must be greater than 0"),
        Refusal::ExceedsBalance { requested, balance } => error(
            S::CONFLICT,
            "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT",
            format!("amount {requested} exceeds the cancellable amount {balance}"),
        ),
        Refusal::NegativePart => invalid_request("taxFreeAmount and vatAmount must not be negative"),
        Refusal::PartsExceedAmount { parts, amount } => error(
            S::CONFLICT,
            "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT",
            format!("taxFreeAmount + vatAmount = {parts} exceeds the cancel amount {amount}"),
        ),
        Refusal::TaxFreeExceedsBalance { tax_free, balance } => error(
            S::CONFLICT,
            "CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT",
            format!("taxFreeAmount {tax_free} exceeds the cancellable tax-free amount {balance}"),
        ),
        Refusal::TaxableExceedsBalance { taxable, balance } => error(
            S::CONFLICT,
            "CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT",
            format!("taxable part {taxable} exceeds the cancellable taxable amount {balance}"),
        ),
        // The refund account is input the request lacks, and the spec has no dedicated error type
        // for it, so INVALID_REQUEST (400) is the type the API uses for missing input.
        Refusal::RefundAccountRequired => {
            invalid_request("refundAccount is required to refund a virtual-account payment")
        }
        // Same reasoning: a missing field of the request, reported as INVALID_REQUEST.
        Refusal::HolderPhoneRequired => {
            invalid_request("refundAccount.holderPhoneNumber is required to refund a Smartro virtual-account payment")
        }
    }
}

async fn cancel_payment(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: CancelBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return invalid_request(format!("invalid CancelPaymentBody: {e}")),
    };
    if let Err(r) = check_store(&shared, body.store_id.as_deref()) {
        return *r;
    }
    if let Some(r) = body.requester.as_deref()
        && !matches!(r, "CUSTOMER" | "ADMIN")
    {
        return invalid_request(format!("requester must be CUSTOMER or ADMIN, not {r}"));
    }
    if let Some(o) = body.promotion_discount_retain_option.as_deref()
        && !matches!(o, "RETAIN" | "RELEASE")
    {
        return invalid_request(format!(
            "promotionDiscountRetainOption must be RETAIN or RELEASE, not {o}"
        ));
    }
    if let Some(acc) = &body.refund_account {
        // Bank is an enum of upper-snake-case names (BANK_OF_KOREA, KOOKMIN…); the sandbox checks the
        // shape rather than carrying the whole list.
        let bank_ok = !acc.bank.is_empty() && acc.bank.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if !bank_ok {
            return invalid_request(format!("refundAccount.bank {:?} is not a Bank value", acc.bank));
        }
        if acc.number.trim().is_empty() || acc.holder_name.trim().is_empty() {
            return invalid_request("refundAccount.number and refundAccount.holderName must not be empty");
        }
    }
    let req = CancelRequest {
        amount: body.amount,
        tax_free: body.tax_free_amount,
        vat: body.vat_amount,
        expected_balance: body.current_cancellable_amount,
        reason: body.reason,
        refund_account: body.refund_account.map(|a| RefundAccount {
            bank: a.bank,
            number: a.number,
            holder: a.holder_name,
            phone: a.holder_phone_number,
        }),
    };
    let now = shared.now();
    let applied = shared
        .ledger()
        .cancel(Provider::PortOneV2, &payment_id, &req, POLICY, now);
    match applied {
        Ok(applied) => {
            if body.skip_webhook != Some(true) {
                webhooks::cancel_event(&shared, &applied.payment, &applied.cancel);
            }
            axum::Json(json!({"cancellation": cancellation_json(&applied.cancel)})).into_response()
        }
        Err(r) => refusal(&r, &payment_id),
    }
}

/// The JSON argument of a list endpoint: the `requestBody` query parameter, or the body itself.
fn list_argument<T: serde::de::DeserializeOwned + Default>(
    query: Option<&str>,
    body: &[u8],
) -> Result<T, Box<Response>> {
    let from_query = decode_form(query.unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "requestBody")
        .map(|(_, v)| v);
    let text = match from_query {
        Some(q) => q,
        None if body.iter().all(u8::is_ascii_whitespace) => return Ok(T::default()),
        None => String::from_utf8_lossy(body).into_owned(),
    };
    serde_json::from_str(&text).map_err(|e| Box::new(invalid_request(format!("invalid requestBody: {e}"))))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GetPaymentsBody {
    page: Option<PageInput>,
    filter: Option<PaymentFilter>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageInput {
    number: Option<i64>,
    size: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PaymentFilter {
    store_id: Option<String>,
    timestamp_type: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    status: Option<Vec<String>>,
    methods: Option<Vec<String>>,
    pg_provider: Option<Vec<String>>,
    is_test: Option<bool>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

async fn list_payments(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let arg: GetPaymentsBody = match list_argument(query.as_deref(), &body) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let filter = arg.filter.unwrap_or_default();
    if let Err(r) = check_store(&shared, filter.store_id.as_deref()) {
        return *r;
    }
    let page = arg.page.unwrap_or_default();
    let number = page.number.unwrap_or(0);
    let size = page.size.unwrap_or(10);
    if number < 0 || size < 0 {
        return invalid_request("page.number and page.size must not be negative");
    }
    let by_status_change = match filter.timestamp_type.as_deref() {
        None | Some("CREATED_AT") => false,
        Some("STATUS_CHANGED_AT") => true,
        Some(other) => return invalid_request(format!("unknown timestampType {other}")),
    };
    let sort_by_status_change = match filter.sort_by.as_deref() {
        None | Some("REQUESTED_AT") => false,
        Some("STATUS_CHANGED_AT") => true,
        Some(other) => return invalid_request(format!("unknown sortBy {other}")),
    };
    let ascending = match filter.sort_order.as_deref() {
        None | Some("DESC") => false,
        Some("ASC") => true,
        Some(other) => return invalid_request(format!("unknown sortOrder {other}")),
    };
    let ledger = shared.ledger();
    let mut items: Vec<&PaymentRecord> = ledger
        .list(Provider::PortOneV2)
        .into_iter()
        .filter(|p| {
            let t = if by_status_change {
                p.status_changed_at
            } else {
                p.requested_at
            };
            filter.from.is_none_or(|f| t >= f)
                && filter.until.is_none_or(|u| t < u)
                && filter.status.as_ref().is_none_or(|s| s.iter().any(|s| s == status_of(p)))
                && filter.methods.as_ref().is_none_or(|m| m.iter().any(|m| m == method_type(p)))
                && filter.pg_provider.as_ref().is_none_or(|g| g.iter().any(|g| *g == pg_provider(p)))
                // Every sandbox channel is a test channel.
                && filter.is_test.is_none_or(|t| t)
        })
        .collect();
    items.sort_by_key(|p| {
        (
            if sort_by_status_change {
                p.status_changed_at
            } else {
                p.requested_at
            },
            p.seq,
        )
    });
    if !ascending {
        items.reverse();
    }
    let total = items.len();
    let start = usize::try_from(number.saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(0);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(take)
        .map(|p| payment_json(&shared, p))
        .collect();
    axum::Json(json!({
        "items": page_items,
        "page": {"number": number, "size": size, "totalCount": total}
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CursorBody {
    store_id: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    cursor: Option<String>,
    size: Option<i64>,
}

async fn list_by_cursor(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let arg: CursorBody = match list_argument(query.as_deref(), &body) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, arg.store_id.as_deref()) {
        return *r;
    }
    let size = arg.size.unwrap_or(10);
    if !(1..=1000).contains(&size) {
        return invalid_request("size must be between 1 and 1000");
    }
    // The cursor is the sandbox's own insertion number; clients must treat it as opaque.
    let after = match arg.cursor.as_deref() {
        None => None,
        Some(c) => match c.strip_prefix("sbx-").and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => Some(n),
            None => return invalid_request(format!("unknown cursor {c}")),
        },
    };
    let ledger = shared.ledger();
    let mut items: Vec<&PaymentRecord> = ledger
        .list(Provider::PortOneV2)
        .into_iter()
        .filter(|p| {
            arg.from.is_none_or(|f| p.requested_at >= f)
                && arg.until.is_none_or(|u| p.requested_at < u)
                && after.is_none_or(|a| p.seq > a)
        })
        .collect();
    items.sort_by_key(|p| p.seq);
    let items: Vec<Value> = items
        .into_iter()
        .take(usize::try_from(size).unwrap_or(0))
        .map(|p| json!({"payment": payment_json(&shared, p), "cursor": format!("sbx-{}", p.seq)}))
        .collect();
    axum::Json(json!({"items": items})).into_response()
}

// ---------------------------------------------------------------- lifecycle around a refund

/// The JSON body of a lifecycle call; an empty body is `{}`.
fn body_of<T: serde::de::DeserializeOwned>(body: &[u8], name: &str) -> Result<T, Box<Response>> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| Box::new(invalid_request(format!("invalid {name}: {e}"))))
}

fn already_paid(payment_id: &str) -> Response {
    error(
        StatusCode::CONFLICT,
        "ALREADY_PAID",
        format!("payment {payment_id} is already paid"),
    )
}

fn non_negative(v: Option<i64>, name: &str) -> Result<(), Box<Response>> {
    match v {
        Some(n) if n < 0 => Err(Box::new(invalid_request(format!("{name} must not be negative")))),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreRegisterBody {
    store_id: Option<String>,
    total_amount: Option<i64>,
    tax_free_amount: Option<i64>,
    currency: Option<String>,
}

async fn pre_register(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: PreRegisterBody = match body_of(&body, "PreRegisterPaymentBody") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, body.store_id.as_deref())
        .and_then(|()| non_negative(body.total_amount, "totalAmount"))
        .and_then(|()| non_negative(body.tax_free_amount, "taxFreeAmount"))
    {
        return *r;
    }
    if body.currency.as_deref().is_some_and(|c| c != "KRW") {
        return invalid_request("the sandbox takes KRW payments only");
    }
    let mut ledger = shared.ledger();
    if ledger.get(Provider::PortOneV2, &payment_id).is_some() {
        return already_paid(&payment_id);
    }
    ledger
        .pre_registered
        .insert(payment_id, (body.total_amount, body.tax_free_amount));
    axum::Json(json!({})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody {
    store_id: Option<String>,
    payment_token: String,
    #[serde(rename = "txId")]
    _tx_id: Option<String>,
    currency: Option<String>,
    total_amount: Option<i64>,
    tax_free_amount: Option<i64>,
    #[serde(rename = "isTest")]
    _is_test: Option<bool>,
    skip_webhook: Option<bool>,
}

/// Records a new paid card payment and sends `Transaction.Paid` unless told not to.
fn record_paid(shared: &Shared, record: PaymentRecord, skip_webhook: bool) -> PaymentRecord {
    let paid = {
        let mut ledger = shared.ledger();
        ledger.insert(record.clone());
        ledger.get(Provider::PortOneV2, &record.id).cloned().unwrap_or(record)
    };
    if !skip_webhook {
        webhooks::paid_event(shared, &paid);
    }
    paid
}

/// Confirms a payment the browser SDK authorized. The sandbox has no browser step, so any
/// non-empty `paymentToken` stands for an authorized card payment; its amount is the
/// pre-registered one or `totalAmount` (which must match a pre-registration when both exist).
async fn confirm_payment(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: ConfirmBody = match body_of(&body, "ConfirmPaymentBody") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, body.store_id.as_deref())
        .and_then(|()| non_negative(body.tax_free_amount, "taxFreeAmount"))
    {
        return *r;
    }
    if body.payment_token.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_PAYMENT_TOKEN",
            "paymentToken is empty",
        );
    }
    if body.currency.as_deref().is_some_and(|c| c != "KRW") {
        return invalid_request("the sandbox takes KRW payments only");
    }
    let now = shared.now();
    let (total, tax_free) = {
        let ledger = shared.ledger();
        if ledger.get(Provider::PortOneV2, &payment_id).is_some() {
            return already_paid(&payment_id);
        }
        let registered = ledger.pre_registered.get(&payment_id).copied();
        match (registered, body.total_amount) {
            (Some((Some(r), _)), Some(t)) if r != t => {
                return error(
                    StatusCode::CONFLICT,
                    "INFORMATION_MISMATCH",
                    format!("totalAmount {t} does not match the pre-registered amount {r}"),
                );
            }
            (Some((Some(r), tf)), _) => (r, body.tax_free_amount.or(tf).unwrap_or(0)),
            (_, Some(t)) => (t, body.tax_free_amount.unwrap_or(0)),
            _ => return invalid_request("totalAmount is required for a payment that was not pre-registered"),
        }
    };
    if total <= 0 || tax_free > total {
        return invalid_request("totalAmount must be positive and at least taxFreeAmount");
    }
    let record = PaymentRecord::paid_card(
        Provider::PortOneV2,
        payment_id.clone(),
        payment_id.clone(),
        format!("Sandbox order {payment_id}"),
        total,
        tax_free,
        super::ledger::vat_of(total - tax_free),
        now,
    );
    shared.ledger().pre_registered.remove(&payment_id);
    let paid = record_paid(&shared, record, body.skip_webhook == Some(true));
    axum::Json(json!({"pgTxId": paid.pg_tx_id, "paidAt": ts(paid.paid_at)})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssueBillingKeyBody {
    store_id: Option<String>,
    #[serde(rename = "method")]
    _method: Value,
    skip_webhook: Option<bool>,
}

/// Issues a billing key; the card details are not checked (the sandbox has no card network).
async fn issue_billing_key(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: IssueBillingKeyBody = match body_of(&body, "IssueBillingKeyBody") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, body.store_id.as_deref()) {
        return *r;
    }
    let now = shared.now();
    let key = format!("billing-key-{}", uuid::Uuid::new_v4());
    shared.ledger().billing_keys.insert(
        (Provider::PortOneV2, key.clone()),
        super::ledger::BillingKeyRecord {
            customer_key: None,
            deleted_at: None,
        },
    );
    if body.skip_webhook != Some(true) {
        webhooks::billing_key_issued(&shared, &key);
    }
    axum::Json(json!({"billingKeyInfo": {"billingKey": key, "issuedAt": ts(now), "channels": []}})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmountInput {
    total: i64,
    tax_free: Option<i64>,
    vat: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BillingKeyPaymentBody {
    store_id: Option<String>,
    billing_key: String,
    order_name: String,
    amount: AmountInput,
    currency: String,
    skip_webhook: Option<bool>,
}

async fn pay_with_billing_key(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: BillingKeyPaymentBody = match body_of(&body, "BillingKeyPaymentInput") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, body.store_id.as_deref())
        .and_then(|()| non_negative(body.amount.tax_free, "amount.taxFree"))
        .and_then(|()| non_negative(body.amount.vat, "amount.vat"))
    {
        return *r;
    }
    if body.currency != "KRW" {
        return invalid_request("the sandbox takes KRW payments only");
    }
    let total = body.amount.total;
    let tax_free = body.amount.tax_free.unwrap_or(0);
    if total <= 0 {
        return invalid_request("amount.total must be positive");
    }
    if tax_free
        .checked_add(body.amount.vat.unwrap_or(0))
        .is_none_or(|parts| parts > total)
    {
        return error(
            StatusCode::CONFLICT,
            "SUM_OF_PARTS_EXCEEDS_TOTAL_AMOUNT",
            "amount.taxFree + amount.vat exceeds amount.total",
        );
    }
    let now = shared.now();
    {
        let ledger = shared.ledger();
        match ledger
            .billing_keys
            .get(&(Provider::PortOneV2, body.billing_key.clone()))
        {
            None => {
                return error(StatusCode::NOT_FOUND, "BILLING_KEY_NOT_FOUND", "no such billing key");
            }
            Some(k) if k.deleted_at.is_some() => {
                return error(
                    StatusCode::CONFLICT,
                    "BILLING_KEY_ALREADY_DELETED",
                    "the billing key was deleted",
                );
            }
            Some(_) => {}
        }
        if ledger.get(Provider::PortOneV2, &payment_id).is_some() {
            return already_paid(&payment_id);
        }
    }
    let vat = body
        .amount
        .vat
        .unwrap_or_else(|| super::ledger::vat_of(total - tax_free));
    let mut record = PaymentRecord::paid_card(
        Provider::PortOneV2,
        payment_id.clone(),
        payment_id,
        body.order_name,
        total,
        tax_free,
        vat,
        now,
    );
    record.billing_key = Some(body.billing_key);
    let paid = record_paid(&shared, record, body.skip_webhook == Some(true));
    axum::Json(json!({"payment": {"pgTxId": paid.pg_tx_id, "paidAt": ts(paid.paid_at)}})).into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StoreOnly {
    store_id: Option<String>,
    webhook_id: Option<String>,
}

/// Closes a virtual account nobody paid into: afterwards nothing can be deposited or cancelled.
async fn close_virtual_account(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let store = decode_form(query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "storeId");
    if let Err(r) = check_store(&shared, store.as_ref().map(|(_, v)| v.as_str())) {
        return *r;
    }
    let now = shared.now();
    let mut ledger = shared.ledger();
    let Some(p) = ledger.get_mut(Provider::PortOneV2, &payment_id) else {
        return not_found(&payment_id);
    };
    if p.method != MethodKind::VirtualAccount || p.state != PayState::AwaitingDeposit || p.closed_at.is_some() {
        return error(
            StatusCode::CONFLICT,
            "PAYMENT_NOT_WAITING_FOR_DEPOSIT",
            "the payment is not a virtual account waiting for a deposit",
        );
    }
    p.closed_at = Some(now);
    p.status_changed_at = now;
    axum::Json(json!({"closedAt": ts(now)})).into_response()
}

async fn stop_cancellation(
    State(shared): State<Arc<Shared>>,
    Path((payment_id, cancellation_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: StoreOnly = match body_of(&body, "StopPaymentCancellationBody") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, body.store_id.as_deref()) {
        return *r;
    }
    let now = shared.now();
    let stopped = shared
        .ledger()
        .stop_pending(Provider::PortOneV2, &payment_id, &cancellation_id, now);
    match stopped {
        Ok(_) => axum::Json(json!({"stoppedAt": ts(now)})).into_response(),
        Err(StopRefusal::PaymentNotFound) => not_found(&payment_id),
        Err(StopRefusal::CancellationNotFound) => error(
            StatusCode::NOT_FOUND,
            "PAYMENT_CANCELLATION_NOT_FOUND",
            format!("payment {payment_id} has no cancellation {cancellation_id}"),
        ),
        Err(StopRefusal::NotPending) => error(
            StatusCode::CONFLICT,
            "PAYMENT_CANCELLATION_NOT_PENDING",
            "the cancellation is not pending any more",
        ),
    }
}

/// The payment's transactions: the sandbox makes one attempt per payment, so one transaction.
async fn payment_transactions(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let store = decode_form(query.as_deref().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "storeId");
    if let Err(r) = check_store(&shared, store.as_ref().map(|(_, v)| v.as_str())) {
        return *r;
    }
    let ledger = shared.ledger();
    let Some(p) = ledger.get(Provider::PortOneV2, &payment_id) else {
        return not_found(&payment_id);
    };
    let mut tx = payment_json(&shared, p);
    if let Value::Object(m) = &mut tx {
        m.remove("transactionId");
        m.insert("id".to_owned(), json!(p.transaction_id));
        m.insert("paymentId".to_owned(), json!(p.id));
    }
    axum::Json(json!({"items": [tx]})).into_response()
}

async fn resend_webhook(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: StoreOnly = match body_of(&body, "ResendWebhookBody") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, body.store_id.as_deref()) {
        return *r;
    }
    if shared.ledger().get(Provider::PortOneV2, &payment_id).is_none() {
        return not_found(&payment_id);
    }
    let now = shared.now();
    let Some(sent) = shared.webhooks.resend(&payment_id, body.webhook_id.as_deref(), now) else {
        return error(
            StatusCode::NOT_FOUND,
            "WEBHOOK_NOT_FOUND",
            "no webhook was sent for this payment (register a receiver first)",
        );
    };
    let last = shared.webhooks.outcome(&sent.webhook_id);
    let mut webhook = json!({
        "id": sent.webhook_id,
        "url": sent.url,
        "paymentStatus": sent.payment_status,
        "isAsync": true,
        "trigger": "MANUAL",
        "triggeredAt": ts(now),
        "request": {"body": sent.body, "requestedAt": ts(sent.triggered_at)},
    });
    if let Some(d) = last {
        webhook["status"] = json!(match d.status {
            Some(code) if (200..300).contains(&code) => "SUCCEEDED",
            Some(_) => "FAILED_NOT_OK_RESPONSE",
            None => "FAILED_UNEXPECTED_ERROR",
        });
    }
    axum::Json(json!({"webhook": webhook})).into_response()
}

/// One entry of the payment event log: a payment's PAID, then one event per completed cancel.
fn events(shared: &Shared, p: &PaymentRecord) -> Vec<(DateTime<Utc>, String, Value)> {
    let base = |kind: &str, id: String, at: DateTime<Utc>, amount: i64| {
        json!({
            "type": kind,
            "id": id,
            "paymentId": p.id,
            "transactionId": p.transaction_id,
            "merchantId": shared.config.merchant_id,
            "storeId": shared.config.store_id,
            "method": method_json(p),
            "channel": payment_json(shared, p)["channel"].clone(),
            "version": "V2",
            "requestedAt": ts(p.requested_at),
            "createdAt": ts(at),
            "orderName": p.order_name,
            "totalAmount": payment_json(shared, p)["amount"].clone(),
            "currency": "KRW",
            "customer": customer_json(&p.customer),
            "eventAmount": amount,
            "origin": {"platformType": "PC", "ipAddress": "127.0.0.1"},
            "pgTxId": p.pg_tx_id,
        })
    };
    let mut out = Vec::new();
    if p.state == PayState::Paid {
        let mut paid = base("PAID", format!("{}-paid", p.transaction_id), p.paid_at, p.total);
        paid["disputes"] = json!([]);
        out.push((p.paid_at, format!("{}-paid", p.transaction_id), paid));
    }
    for c in p.cancels.iter().filter(|c| !c.is_pending()) {
        let at = c.cancelled_at.unwrap_or(c.requested_at);
        let kind = if c.balance_after == 0 {
            "CANCELLED"
        } else {
            "PARTIAL_CANCELLED"
        };
        let mut e = base(kind, c.id.clone(), at, c.amount);
        e["cancellation"] = cancellation_json(c);
        out.push((at, c.id.clone(), e));
    }
    out
}

async fn events_by_cursor(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let arg: CursorBody = match list_argument(query.as_deref(), &body) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if let Err(r) = check_store(&shared, arg.store_id.as_deref()) {
        return *r;
    }
    let size = arg.size.unwrap_or(10);
    if !(1..=1000).contains(&size) {
        return invalid_request("size must be between 1 and 1000");
    }
    let ledger = shared.ledger();
    let mut all: Vec<(DateTime<Utc>, u64, String, Value)> = ledger
        .list(Provider::PortOneV2)
        .into_iter()
        .flat_map(|p| {
            events(&shared, p)
                .into_iter()
                .map(move |(at, id, e)| (at, p.seq, id, e))
        })
        .filter(|(at, ..)| arg.from.is_none_or(|f| *at >= f) && arg.until.is_none_or(|u| *at < u))
        .collect();
    all.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    // The cursor is the event's id; clients must treat it as opaque.
    let start = match arg.cursor.as_deref() {
        None => 0,
        Some(c) => match all.iter().position(|(_, _, id, _)| format!("sbx-evt-{id}") == c) {
            Some(i) => i + 1,
            None => return invalid_request(format!("unknown cursor {c}")),
        },
    };
    let items: Vec<Value> = all
        .into_iter()
        .skip(start)
        .take(usize::try_from(size).unwrap_or(0))
        .map(|(_, _, id, e)| json!({"paymentEvent": e, "cursor": format!("sbx-evt-{id}")}))
        .collect();
    axum::Json(json!({"items": items})).into_response()
}
