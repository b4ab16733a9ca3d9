//! Toss (tosspayments) wire format: `GET /v1/payments/{paymentKey}`, `GET /v1/payments/orders/{orderId}`
//! and `POST /v1/payments/{paymentKey}/cancel`.
//!
//! Errors are `{code, message}` with the HTTP status Toss's error-code table gives each code.
//! `Idempotency-Key` is handled in front of the handlers, by the sandbox's idempotency layer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
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
    UnpaidVirtualAccount, kst, month_label,
};
use super::{Provider, Shared};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/payments/orders/{order_id}", get(get_by_order))
        .route("/v1/payments/{payment_key}", get(get_payment))
        .route("/v1/payments/{payment_key}/cancel", post(cancel_payment))
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
    t.with_timezone(&kst()).to_rfc3339_opts(SecondsFormat::Secs, false)
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
    let supplied = balance - tax_free_left - vat_left;
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
            "customerName": "Sandbox Buyer",
            "dueDate": ts(p.requested_at + TimeDelta::days(7)),
            "expired": false,
            "settlementStatus": "INCOMPLETED",
            "refundStatus": if refunded_va { "COMPLETED" } else { "NONE" },
            "refundReceiveAccount": null,
        }) } else { Value::Null },
    });
    let rest = json!({
        "transfer": null,
        "mobilePhone": if p.method == MethodKind::MobilePhone { json!({
            "customerMobilePhone": "01000000000",
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
        "type": "NORMAL",
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
        Ok(applied) => (StatusCode::OK, payment_json(&applied.payment).to_string().into_bytes()),
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
