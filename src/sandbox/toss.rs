//! Toss (tosspayments) wire format: `GET /v1/payments/{paymentKey}`, `GET /v1/payments/orders/{orderId}`,
//! `POST /v1/payments/{paymentKey}/cancel`, `POST /v1/payments/confirm`, `GET /v1/transactions`,
//! billing keys (`POST /v1/billing/authorizations/issue`, `POST /v1/billing/authorizations/card`,
//! `POST /v1/billing/{billingKey}`, `DELETE /v1/billing/{billingKey}`), and `GET /v1/promotions`,
//! `GET /v1/promotions/card` (the sandbox runs no promotions: both answer empty lists).
//!
//! With a test secret key (`test_...`), a request carrying `TossPayments-Test-Code: <ERROR_CODE>`
//! is answered with that documented error (status and `{code, message}`) and nothing is applied;
//! an undocumented code gets 400 `INVALID_TEST_CODE`. With a live key the header changes nothing
//! (our assumption: Toss simulates errors for test keys only).
//!
//! Errors are `{code, message}` with the HTTP status Toss's error-code table gives each code.
//! `Idempotency-Key` is handled in front of the handlers, by the sandbox's idempotency layer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::idempotency::NotProcessed;
use super::ledger::{
    CancelPolicy, CancelRecord, CancelRequest, MethodKind, PayState, PaymentRecord, RefundAccount, Refusal,
    UnpaidVirtualAccount, in_kst, kst, later, month_label,
};
use super::{Provider, Shared};

pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/payments/orders/{order_id}", get(get_by_order))
        .route("/v1/payments/{payment_key}", get(get_payment))
        .route("/v1/payments/{payment_key}/cancel", post(cancel_payment))
        .route("/v1/payments/confirm", post(confirm_payment))
        .route("/v1/transactions", get(list_transactions))
        .route("/v1/billing/authorizations/issue", post(issue_billing_by_auth_key))
        .route("/v1/billing/authorizations/card", post(issue_billing_by_card))
        .route(
            "/v1/billing/{billing_key}",
            post(pay_with_billing_key).delete(delete_billing_key),
        )
        .route("/v1/promotions", get(list_promotions))
        .route("/v1/promotions/card", get(card_promotions))
        .route_layer(axum::middleware::from_fn_with_state(shared, test_code))
        // A served path asked with another method: 405, or 501 for an operation the sandbox lacks.
        .method_not_allowed_fallback(super::surface::unknown_route)
}

const POLICY: CancelPolicy = CancelPolicy {
    // Toss cancels an unpaid virtual account in full (closing it) but refuses a partial cancel,
    // since the amount to deposit cannot change.
    unpaid_virtual_account: UnpaidVirtualAccount::FullCancelOnly,
    phone_required_for: &[],
};

fn error_parts(status: StatusCode, code: &str, message: impl Into<String>) -> (StatusCode, Vec<u8>) {
    (
        status,
        json!({"code": code, "message": message.into()})
            .to_string()
            .into_bytes(),
    )
}

fn respond(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let (s, b) = error_parts(status, code, message);
    respond(s, b)
}

fn ts(t: DateTime<Utc>) -> String {
    in_kst(t).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `Authorization: Basic base64("{secretKey}:")`; the colon (empty password) is part of the format.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let decoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .and_then(|(_, b64)| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok());
    let expected = format!("{}:", shared.config.toss_secret_key);
    match decoded {
        Some(d) if d == expected.as_bytes() => Ok(()),
        _ => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED_KEY",
            "the secret key is missing or not valid: send Basic base64(\"{secretKey}:\")",
        ))),
    }
}

fn status_of(p: &PaymentRecord) -> &'static str {
    if p.is_fully_cancelled() {
        "CANCELED"
    } else if p.is_partially_cancelled() {
        "PARTIAL_CANCELED"
    } else if p.state == PayState::AwaitingDeposit {
        "WAITING_FOR_DEPOSIT"
    } else {
        "DONE"
    }
}

fn cancel_json(c: &CancelRecord) -> Value {
    json!({
        "cancelReason": c.reason,
        "canceledAt": ts(c.cancelled_at.unwrap_or(c.requested_at)),
        "cancelAmount": c.amount,
        "taxFreeAmount": c.tax_free,
        "taxExemptionAmount": 0,
        "refundableAmount": c.balance_after,
        "transferDiscountAmount": 0,
        "easyPayDiscountAmount": 0,
        "transactionKey": c.transaction_key,
        "receiptKey": c.receipt_key,
        "cancelStatus": "DONE",
        "cancelRequestId": null,
    })
}

pub(crate) fn payment_json(p: &PaymentRecord) -> Value {
    let balance = p.balance();
    // Supplied amount, VAT and tax-free amount follow what is left of the payment, which is why a
    // fully cancelled payment shows 0 for each.
    let tax_free_left = p.tax_free_balance();
    let vat_left = p.vat_balance();
    let supplied = balance.saturating_sub(tax_free_left).saturating_sub(vat_left);
    let receipt = format!("https://sandbox.invalid/receipts/{}", p.transaction_id);
    let refunded_va = p.method == MethodKind::VirtualAccount && p.state == PayState::Paid && !p.cancels.is_empty();
    // Two halves: one json! literal this size exceeds the macro recursion limit.
    let mut v = json!({
        "mId": "sandbox",
        "version": "2022-11-16",
        "lastTransactionKey": p.cancels.last().map_or_else(|| p.transaction_id.clone(), |c| c.transaction_key.clone()),
        "paymentKey": p.id,
        "orderId": p.order_id,
        "orderName": p.order_name,
        "currency": "KRW",
        "method": match p.method {
            MethodKind::Card => "카드",
            MethodKind::VirtualAccount => "가상계좌",
            MethodKind::MobilePhone => "휴대폰",
        },
        "status": status_of(p),
        "requestedAt": ts(p.requested_at),
        "approvedAt": ts(p.paid_at),
        "useEscrow": false,
        "cultureExpense": false,
        "checkout": {"url": format!("https://sandbox.invalid/checkout/{}", p.id)},
        "card": if p.method == MethodKind::Card { json!({
            "amount": p.total,
            "issuerCode": "61",
            "acquirerCode": "31",
            "number": "53275000****123*",
            "installmentPlanMonths": 0,
            "approveNo": "00000000",
            "useCardPoint": false,
            "cardType": "신용",
            "ownerType": "개인",
            "acquireStatus": "READY",
            "isInterestFree": false,
            "interestPayer": null,
        }) } else { Value::Null },
        "virtualAccount": if p.method == MethodKind::VirtualAccount { json!({
            "accountNumber": "X6505831718354",
            "accountType": "일반",
            "bankCode": "88",
            "customerName": p.customer.name.as_deref().unwrap_or("Sandbox Buyer"),
            "dueDate": ts(later(p.requested_at, TimeDelta::days(7))),
            "expired": false,
            "settlementStatus": "INCOMPLETED",
            "refundStatus": if refunded_va { "COMPLETED" } else { "NONE" },
            "refundReceiveAccount": null,
        }) } else { Value::Null },
    });
    let rest = json!({
        "transfer": null,
        "mobilePhone": if p.method == MethodKind::MobilePhone { json!({
            "customerMobilePhone": p.customer.phone.as_deref().unwrap_or("01000000000"),
            "settlementStatus": "COMPLETED",
            "receiptUrl": receipt,
        }) } else { Value::Null },
        "giftCertificate": null,
        "cashReceipt": null,
        "cashReceipts": null,
        "discount": null,
        "cancels": if p.cancels.is_empty() { Value::Null } else {
            Value::Array(p.cancels.iter().map(cancel_json).collect())
        },
        "secret": if p.method == MethodKind::VirtualAccount {
            json!(format!("ps_sandbox_{}", &p.transaction_id[..12.min(p.transaction_id.len())]))
        } else { Value::Null },
        "type": if p.billing_key.is_some() { "BILLING" } else { "NORMAL" },
        "easyPay": null,
        "country": "KR",
        "failure": null,
        "isPartialCancelable": true,
        "receipt": {"url": receipt},
        "totalAmount": p.total,
        "balanceAmount": balance,
        "suppliedAmount": supplied,
        "vat": vat_left,
        "taxFreeAmount": tax_free_left,
        "taxExemptionAmount": 0,
        "metadata": null,
    });
    if let (Value::Object(head), Value::Object(tail)) = (&mut v, rest) {
        head.extend(tail);
    }
    v
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT", "no payment was found")
}

async fn get_payment(
    State(shared): State<Arc<Shared>>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    match shared.ledger().get(Provider::Toss, &payment_key) {
        Some(p) => axum::Json(payment_json(p)).into_response(),
        None => not_found(),
    }
}

async fn get_by_order(State(shared): State<Arc<Shared>>, Path(order_id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    match shared.ledger().by_order(Provider::Toss, &order_id) {
        Some(p) => axum::Json(payment_json(p)).into_response(),
        None => not_found(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelBody {
    cancel_reason: Option<String>,
    cancel_amount: Option<f64>,
    refund_receive_account: Option<RefundReceiveAccount>,
    tax_free_amount: Option<f64>,
    refundable_amount: Option<f64>,
    currency: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundReceiveAccount {
    bank: Option<String>,
    account_number: Option<String>,
    holder_name: Option<String>,
}

/// Toss's money fields are JSON numbers; KRW has no fractions, so anything else is refused.
fn won(v: Option<f64>, name: &str) -> Result<Option<i64>, (StatusCode, Vec<u8>)> {
    match v {
        None => Ok(None),
        Some(n) if n.is_finite() && n.fract() == 0.0 && n.abs() <= 9.0e15 => Ok(Some(n as i64)),
        Some(_) => Err(error_parts(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            format!("{name} must be whole won"),
        )),
    }
}

fn refusal(r: &Refusal) -> (StatusCode, Vec<u8>) {
    use StatusCode as S;
    match r {
        Refusal::NotFound => error_parts(S::NOT_FOUND, "NOT_FOUND_PAYMENT", "no payment was found"),
        Refusal::AlreadyCancelled => error_parts(
            S::BAD_REQUEST,
            "ALREADY_CANCELED_PAYMENT",
            "the payment is already fully cancelled",
        ),
        Refusal::PartialCancelOfUnpaidVirtualAccount | Refusal::NotPaid => error_parts(
            S::FORBIDDEN,
            "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
            "a virtual account awaiting deposit can only be cancelled in full",
        ),
        // The carrier refuses a phone-payment cancel after the month of payment; NOT_CANCELABLE_PAYMENT
        // is Toss's code for a payment that cannot be cancelled at all.
        Refusal::PhoneMonthPassed { paid_month, now_month } => error_parts(
            S::FORBIDDEN,
            "NOT_CANCELABLE_PAYMENT",
            format!(
                "a mobile-phone payment of {} (KST) cannot be cancelled in {}",
                month_label(*paid_month),
                month_label(*now_month)
            ),
        ),
        Refusal::BalanceMismatch { expected, actual } => error_parts(
            S::BAD_REQUEST,
            "NOT_MATCHES_REFUNDABLE_AMOUNT",
            format!("refundableAmount {expected} does not match the refundable amount {actual}"),
        ),
        Refusal::NonPositiveAmount | Refusal::NegativePart => error_parts(
            S::BAD_REQUEST,
            "INVALID_REQUEST",
            "cancelAmount and taxFreeAmount must be positive",
        ),
        Refusal::ExceedsBalance { requested, balance } => error_parts(
            S::FORBIDDEN,
            "NOT_CANCELABLE_AMOUNT",
            format!("cancelAmount {requested} exceeds the refundable amount {balance}"),
        ),
        // Unsure which code Toss uses for a tax split it cannot honour; NOT_CANCELABLE_AMOUNT is the
        // closest documented one.
        Refusal::PartsExceedAmount { .. }
        | Refusal::TaxFreeExceedsBalance { .. }
        | Refusal::TaxableExceedsBalance { .. } => error_parts(
            S::FORBIDDEN,
            "NOT_CANCELABLE_AMOUNT",
            "taxFreeAmount does not fit the tax-free and taxable amounts left to cancel",
        ),
        // The refund account is missing from the request; INVALID_REFUND_ACCOUNT_INFO is Toss's code
        // for refund-account input it cannot use.
        Refusal::RefundAccountRequired | Refusal::HolderPhoneRequired => error_parts(
            S::BAD_REQUEST,
            "INVALID_REFUND_ACCOUNT_INFO",
            "refundReceiveAccount is required to refund a deposited virtual account",
        ),
    }
}

/// Runs one cancel and returns the answer to send (and to store under an idempotency key).
fn process_cancel(shared: &Shared, payment_key: &str, body: &[u8]) -> (StatusCode, Vec<u8>) {
    let body: CancelBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => {
            return error_parts(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                format!("invalid cancel body: {e}"),
            );
        }
    };
    let reason = match body.cancel_reason {
        Some(r) if !r.trim().is_empty() && r.chars().count() <= 200 => r,
        Some(_) => {
            return error_parts(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "cancelReason must be 1 to 200 characters",
            );
        }
        None => return error_parts(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "cancelReason is required"),
    };
    if let Some(c) = body.currency.as_deref()
        && c != "USD"
        && c != "KRW"
    {
        return error_parts(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            format!("unsupported currency {c}"),
        );
    }
    let (amount, tax_free, refundable) = match (
        won(body.cancel_amount, "cancelAmount"),
        won(body.tax_free_amount, "taxFreeAmount"),
        won(body.refundable_amount, "refundableAmount"),
    ) {
        (Ok(a), Ok(t), Ok(r)) => (a, t, r),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return e,
    };
    let refund_account = match body.refund_receive_account {
        None => None,
        Some(acc) => {
            let bank = acc.bank.unwrap_or_default();
            let number = acc.account_number.unwrap_or_default();
            let holder = acc.holder_name.unwrap_or_default();
            if bank.trim().is_empty() {
                return error_parts(
                    StatusCode::BAD_REQUEST,
                    "INVALID_BANK",
                    "refundReceiveAccount.bank is required",
                );
            }
            if number.is_empty() || number.len() > 20 || !number.chars().all(|c| c.is_ascii_digit()) {
                return error_parts(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REFUND_ACCOUNT_NUMBER",
                    "refundReceiveAccount.accountNumber must be 1 to 20 digits without dashes",
                );
            }
            if holder.trim().is_empty() || holder.chars().count() > 60 {
                return error_parts(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REFUND_ACCOUNT_INFO",
                    "refundReceiveAccount.holderName must be 1 to 60 characters",
                );
            }
            Some(RefundAccount {
                bank,
                number,
                holder,
                phone: None,
            })
        }
    };
    let req = CancelRequest {
        amount,
        tax_free,
        vat: None,
        expected_balance: refundable,
        reason,
        refund_account,
    };
    let now = shared.now();
    let result = shared.ledger().cancel(Provider::Toss, payment_key, &req, POLICY, now);
    match result {
        Ok(applied) => {
            super::webhooks::toss_payment_changed(shared, &applied.payment);
            (StatusCode::OK, payment_json(&applied.payment).to_string().into_bytes())
        }
        Err(r) => refusal(&r),
    }
}

async fn cancel_payment(
    State(shared): State<Arc<Shared>>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    // Toss processes only the first of two or more cancels of one paymentKey within a second.
    // "Within a second" is measured on the sandbox clock: a test that freezes it decides with
    // `Sandbox::advance` when the next cancel may go through; otherwise it is real time. Idempotent
    // replays and requests still processing never get here (the idempotency layer answers them).
    let now = shared.now();
    if let Some(window) = shared.config.toss_cancel_interval {
        let mut ledger = shared.ledger();
        let last = ledger.last_toss_cancel.get(&payment_key).copied();
        if last.is_some_and(|t| now >= t && now - t < window) {
            let mut resp = error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN_CONSECUTIVE_REQUEST",
                "another cancel of this payment arrived less than a second ago: only the first is processed",
            );
            resp.extensions_mut().insert(NotProcessed);
            return resp;
        }
        ledger.last_toss_cancel.insert(payment_key.clone(), now);
    }
    let (s, b) = process_cancel(&shared, &payment_key, &body);
    respond(s, b)
}

// ---------------------------------------------------------------- TossPayments-Test-Code

/// The error codes Toss documents, with their statuses, that a test code can ask for: the cancel
/// table of Toss's error reference and the codes common to every API.
const TEST_CODES: &[(&str, u16)] = &[
    ("ALREADY_CANCELED_PAYMENT", 400),
    ("INVALID_REFUND_ACCOUNT_INFO", 400),
    ("EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT", 400),
    ("INVALID_REFUND_ACCOUNT_NUMBER", 400),
    ("INVALID_BANK", 400),
    ("NOT_MATCHES_REFUNDABLE_AMOUNT", 400),
    ("REFUND_REJECTED", 400),
    ("ALREADY_REFUND_PAYMENT", 400),
    ("FORBIDDEN_BANK_REFUND_REQUEST", 400),
    ("ALREADY_REFUNDING_PAYMENT", 400),
    ("INVALID_REFUND_AMOUNT", 400),
    ("DUPLICATED_REQUEST", 400),
    ("INVALID_REQUEST", 400),
    ("INVALID_API_KEY", 400),
    ("ALREADY_PROCESSED_PAYMENT", 400),
    ("PROVIDER_ERROR", 400),
    ("UNAUTHORIZED_KEY", 401),
    ("NOT_CANCELABLE_AMOUNT", 403),
    ("FORBIDDEN_CONSECUTIVE_REQUEST", 403),
    ("FORBIDDEN_REQUEST", 403),
    ("NOT_CANCELABLE_PAYMENT", 403),
    ("EXCEED_MAX_REFUND_DUE", 403),
    ("NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT", 403),
    ("NOT_ALLOWED_PARTIAL_REFUND", 403),
    ("NOT_AVAILABLE_BANK", 403),
    ("NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER", 403),
    ("EXCEED_MAX_REFUND_AMOUNT", 403),
    ("NOT_ALLOWED_REFUND_BANK", 403),
    ("NOT_SUPPORTED_REFUND", 403),
    ("NOT_FOUND_PAYMENT", 404),
    ("NOT_FOUND", 404),
    ("FAILED_REFUND_PROCESS", 500),
    ("FAILED_METHOD_HANDLING_CANCEL", 500),
    ("FAILED_PARTIAL_REFUND", 500),
    ("COMMON_ERROR", 500),
    ("FAILED_CLOSED_ACCOUNT_REFUND", 500),
    ("UNKNOWN_ERROR", 500),
    ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500),
    ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", 500),
];

async fn test_code(
    State(shared): State<Arc<Shared>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(raw) = req.headers().get("tosspayments-test-code").cloned() else {
        return next.run(req).await;
    };
    if let Err(r) = authorize(&shared, req.headers()) {
        return *r;
    }
    if !shared.config.toss_secret_key.starts_with("test_") {
        return next.run(req).await;
    }
    let asked = raw.to_str().unwrap_or_default().trim();
    let mut resp = match TEST_CODES.iter().find(|(code, _)| *code == asked) {
        Some((code, status)) => error(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            format!("{code} simulated for TossPayments-Test-Code; nothing was applied"),
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "INVALID_TEST_CODE",
            "TossPayments-Test-Code names no error code the sandbox can simulate",
        ),
    };
    resp.extensions_mut().insert(NotProcessed);
    resp
}

// ---------------------------------------------------------------- confirm, transactions

fn invalid(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(invalid(format!("invalid request body: {e}"))))
}

fn required(v: Option<String>, name: &str) -> Result<String, Box<Response>> {
    v.filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Box::new(invalid(format!("{name} is required"))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody {
    payment_key: Option<String>,
    order_id: Option<String>,
    amount: Option<f64>,
}

/// Confirms a payment the checkout authorized. The sandbox has no checkout, so an unknown
/// paymentKey stands for an authorized card payment of `amount`; a known one is already processed.
async fn confirm_payment(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: ConfirmBody = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let fields = required(body.payment_key, "paymentKey").and_then(|k| Ok((k, required(body.order_id, "orderId")?)));
    let (payment_key, order_id) = match fields {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let amount = match won(body.amount, "amount") {
        Ok(Some(a)) if a > 0 => a,
        Ok(_) => return invalid("amount is required and must be positive"),
        Err((s, b)) => return respond(s, b),
    };
    let now = shared.now();
    let payment = {
        let mut ledger = shared.ledger();
        if ledger.get(Provider::Toss, &payment_key).is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "ALREADY_PROCESSED_PAYMENT",
                "the payment was processed already",
            );
        }
        let record = PaymentRecord::paid_card(
            Provider::Toss,
            payment_key.clone(),
            order_id.clone(),
            format!("Sandbox order {order_id}"),
            amount,
            0,
            super::ledger::vat_of(amount),
            now,
        );
        ledger.insert(record);
        ledger.get(Provider::Toss, &payment_key).cloned()
    };
    match payment {
        Some(p) => {
            super::webhooks::toss_payment_changed(&shared, &p);
            axum::Json(payment_json(&p)).into_response()
        }
        None => not_found(),
    }
}

/// A `yyyy-MM-ddTHH:mm:ss` time in KST, or a full RFC 3339 time.
fn local_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()?;
    naive.and_local_timezone(kst()).single().map(|t| t.with_timezone(&Utc))
}

/// Every approval and cancel of every Toss payment as a Transaction, oldest first.
async fn list_transactions(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let params = super::decode_form(query.as_deref().unwrap_or(""));
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(start), Some(end)) = (param("startDate"), param("endDate")) else {
        return invalid("startDate and endDate are required");
    };
    let (Some(start), Some(end)) = (local_time(&start), local_time(&end)) else {
        return invalid("startDate and endDate must be yyyy-MM-ddTHH:mm:ss");
    };
    let limit = match param("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(l)) if (1..=5000).contains(&l) => l,
        Some(_) => return invalid("limit must be between 1 and 5000"),
    };
    let ledger = shared.ledger();
    let mut all: Vec<(DateTime<Utc>, u64, Value)> = Vec::new();
    for p in ledger.list(Provider::Toss) {
        let method = payment_json(p)["method"].clone();
        let tx = |key: &str, status: &str, at: DateTime<Utc>, amount: i64| {
            json!({
                "mId": "sandbox",
                "transactionKey": key,
                "paymentKey": p.id,
                "orderId": p.order_id,
                "method": method,
                "customerKey": null,
                "useEscrow": false,
                "receiptUrl": format!("https://sandbox.invalid/receipts/{}", p.transaction_id),
                "status": status,
                "transactionAt": ts(at),
                "currency": "KRW",
                "amount": amount,
            })
        };
        if p.state == PayState::Paid {
            all.push((p.paid_at, p.seq, tx(&p.transaction_id, "DONE", p.paid_at, p.total)));
        }
        for c in &p.cancels {
            let at = c.cancelled_at.unwrap_or(c.requested_at);
            let status = if c.balance_after == 0 {
                "CANCELED"
            } else {
                "PARTIAL_CANCELED"
            };
            all.push((at, p.seq, tx(&c.transaction_key, status, at, c.amount)));
        }
    }
    all.retain(|(at, ..)| *at >= start && *at <= end);
    all.sort_by_key(|(at, seq, _)| (*at, *seq));
    let skip = match param("startingAfter") {
        None => 0,
        Some(after) => match all.iter().position(|(_, _, t)| t["transactionKey"] == after.as_str()) {
            Some(i) => i + 1,
            None => return invalid(format!("startingAfter {after} is not a transaction in this range")),
        },
    };
    let items: Vec<Value> = all
        .into_iter()
        .skip(skip)
        .take(usize::try_from(limit).unwrap_or(100))
        .map(|(_, _, t)| t)
        .collect();
    axum::Json(Value::Array(items)).into_response()
}

// ---------------------------------------------------------------- billing

fn billing_json(key: &str, customer_key: &str, at: DateTime<Utc>) -> Value {
    // The card fields Toss removed in API version 2024-06-01 (cardCompany, cardNumber) are not sent.
    json!({
        "mId": "sandbox",
        "customerKey": customer_key,
        "authenticatedAt": ts(at),
        "method": "카드",
        "billingKey": key,
        "card": {
            "issuerCode": "61",
            "acquirerCode": "31",
            "number": "53275000****123*",
            "cardType": "신용",
            "ownerType": "개인",
        },
    })
}

fn issue_billing(shared: &Shared, customer_key: String) -> Response {
    let now = shared.now();
    let key = format!("bk_sandbox_{}", uuid::Uuid::new_v4().simple());
    shared.ledger().billing_keys.insert(
        (Provider::Toss, key.clone()),
        super::ledger::BillingKeyRecord {
            customer_key: Some(customer_key.clone()),
            deleted_at: None,
        },
    );
    axum::Json(billing_json(&key, &customer_key, now)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByAuthKey {
    auth_key: Option<String>,
    customer_key: Option<String>,
}

/// Issues a billing key for an `authKey` from the checkout; any non-empty authKey is accepted.
async fn issue_billing_by_auth_key(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: ByAuthKey = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match required(body.auth_key, "authKey").and_then(|_| required(body.customer_key, "customerKey")) {
        Ok(customer_key) => issue_billing(&shared, customer_key),
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByCard {
    customer_key: Option<String>,
    card_number: Option<String>,
    card_expiration_year: Option<String>,
    card_expiration_month: Option<String>,
    customer_identity_number: Option<String>,
}

/// Issues a billing key for card details; they are checked for presence only (no card network).
async fn issue_billing_by_card(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: ByCard = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let checked = required(body.card_number, "cardNumber")
        .and_then(|_| required(body.card_expiration_year, "cardExpirationYear"))
        .and_then(|_| required(body.card_expiration_month, "cardExpirationMonth"))
        .and_then(|_| required(body.customer_identity_number, "customerIdentityNumber"))
        .and_then(|_| required(body.customer_key, "customerKey"));
    match checked {
        Ok(customer_key) => issue_billing(&shared, customer_key),
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BillingPayBody {
    customer_key: Option<String>,
    amount: Option<f64>,
    order_id: Option<String>,
    order_name: Option<String>,
    tax_free_amount: Option<f64>,
}

/// Unsure of Toss's code for an unknown billing key; `NOT_FOUND` (404) is its generic one. A
/// customerKey that is not the key's is `NOT_MATCHES_CUSTOMER_KEY`, whose status (400) is ours.
async fn pay_with_billing_key(
    State(shared): State<Arc<Shared>>,
    Path(billing_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let body: BillingPayBody = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let fields = required(body.customer_key, "customerKey").and_then(|c| {
        let o = required(body.order_id, "orderId")?;
        let n = required(body.order_name, "orderName")?;
        Ok((c, o, n))
    });
    let (customer_key, order_id, order_name) = match fields {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let (amount, tax_free) = match (won(body.amount, "amount"), won(body.tax_free_amount, "taxFreeAmount")) {
        (Ok(Some(a)), Ok(t)) if a > 0 && t.unwrap_or(0) >= 0 && t.unwrap_or(0) <= a => (a, t.unwrap_or(0)),
        (Err((s, b)), _) | (_, Err((s, b))) => return respond(s, b),
        _ => return invalid("amount must be positive and taxFreeAmount between 0 and amount"),
    };
    let now = shared.now();
    let payment = {
        let mut ledger = shared.ledger();
        match ledger.billing_keys.get(&(Provider::Toss, billing_key.clone())) {
            Some(k) if k.deleted_at.is_none() => {
                if k.customer_key.as_deref() != Some(customer_key.as_str()) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "NOT_MATCHES_CUSTOMER_KEY",
                        "customerKey is not the one the billing key was issued for",
                    );
                }
            }
            _ => return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such billing key"),
        }
        if ledger.by_order(Provider::Toss, &order_id).is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "DUPLICATED_ORDER_ID",
                "a payment with this orderId exists already",
            );
        }
        let payment_key = format!("tsbx_{}", uuid::Uuid::new_v4().simple());
        let mut record = PaymentRecord::paid_card(
            Provider::Toss,
            payment_key.clone(),
            order_id,
            order_name,
            amount,
            tax_free,
            super::ledger::vat_of(amount - tax_free),
            now,
        );
        record.billing_key = Some(billing_key);
        ledger.insert(record);
        ledger.get(Provider::Toss, &payment_key).cloned()
    };
    match payment {
        Some(p) => {
            super::webhooks::toss_payment_changed(&shared, &p);
            axum::Json(payment_json(&p)).into_response()
        }
        None => not_found(),
    }
}

/// Deletes a billing key (it can no longer be charged) and posts `BILLING_DELETED`.
async fn delete_billing_key(
    State(shared): State<Arc<Shared>>,
    Path(billing_key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let now = shared.now();
    {
        let mut ledger = shared.ledger();
        match ledger.billing_keys.get_mut(&(Provider::Toss, billing_key.clone())) {
            Some(k) if k.deleted_at.is_none() => k.deleted_at = Some(now),
            _ => return error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such billing key"),
        }
    }
    super::webhooks::toss_billing_deleted(&shared, &billing_key);
    axum::Json(json!({})).into_response()
}

async fn list_promotions(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    axum::Json(json!([])).into_response()
}

async fn card_promotions(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    axum::Json(json!({"discountCards": [], "interestFreeCards": []})).into_response()
}
