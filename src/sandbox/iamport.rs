//! iamport (PortOne V1) wire format: `POST /users/getToken`; lookups `GET /payments/{imp_uid}`,
//! `GET /payments?imp_uid[]=..&merchant_uid[]=..`, `GET /payments/find/{merchant_uid}[/{payment_status}]`,
//! `GET /payments/findAll/{merchant_uid}[/{payment_status}]`, `GET /payments/status/{payment_status}`,
//! `GET /payments/{imp_uid}/balance`; `POST /payments/cancel`; `POST /payments/prepare` and
//! `GET /payments/prepare/{merchant_uid}`; `DELETE /vbanks/{imp_uid}` (closing an unpaid virtual account).
//!
//! Every answer is the `{code, message, response}` envelope. A refused cancel is HTTP 200 with
//! `code` 1: that is how the real API reports failed refunds, and the reason clients must read
//! `code` rather than the HTTP status. Only authentication failures are HTTP 401, and a lookup of an
//! unknown payment is HTTP 404, both with `code` -1.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use super::ledger::{
    CancelPolicy, CancelRequest, MethodKind, PayState, PaymentRecord, RefundAccount, Refusal, Token,
    UnpaidVirtualAccount, later, month_label,
};
use super::{Provider, Shared, decode_form};

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/users/getToken", post(get_token))
        .route("/payments/cancel", post(cancel_payment))
        .route("/payments/find/{merchant_uid}", get(find_payment))
        .route(
            "/payments/find/{merchant_uid}/{payment_status}",
            get(find_payment_with_status),
        )
        .route("/payments/status/{payment_status}", get(payments_by_status))
        .route("/payments/{imp_uid}", get(get_payment))
        .route("/payments", get(payments_by_ids))
        .route("/payments/findAll/{merchant_uid}", get(find_all))
        .route(
            "/payments/findAll/{merchant_uid}/{payment_status}",
            get(find_all_with_status),
        )
        .route("/payments/{imp_uid}/balance", get(balance))
        .route("/payments/prepare", post(prepare))
        .route("/payments/prepare/{merchant_uid}", get(get_prepared))
        .route("/vbanks/{imp_uid}", delete(revoke_vbank))
        // A served path asked with another method: 405, or 501 for an operation the sandbox lacks.
        .method_not_allowed_fallback(super::surface::unknown_route)
}

const POLICY: CancelPolicy = CancelPolicy {
    // iamport closes an unpaid virtual account with DELETE /vbanks/{imp_uid}; the sandbox treats
    // /payments/cancel on one as "not paid" rather than guessing a partial-close behaviour.
    unpaid_virtual_account: UnpaidVirtualAccount::Refuse,
    // refund_tel is documented as required for the older Smartro module only.
    phone_required_for: &["smartro"],
};

/// 30 minutes, per the token documentation.
const TOKEN_LIFETIME: TimeDelta = TimeDelta::minutes(30);
/// A token asked for with less than this left gets [`TOKEN_EXTENSION`] more.
const EXTEND_WHEN_UNDER: TimeDelta = TimeDelta::minutes(1);
const TOKEN_EXTENSION: TimeDelta = TimeDelta::minutes(5);

fn envelope(status: StatusCode, code: i64, message: Option<String>, response: Value) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message, "response": response})),
    )
        .into_response()
}

fn ok(response: Value) -> Response {
    envelope(StatusCode::OK, 0, None, response)
}

/// A refused operation: HTTP 200 with `code` 1 and a message, never a 4xx.
fn failed(message: impl Into<String>) -> Response {
    envelope(StatusCode::OK, 1, Some(message.into()), Value::Null)
}

fn unauthorized(message: &str) -> Response {
    envelope(StatusCode::UNAUTHORIZED, -1, Some(message.to_owned()), Value::Null)
}

fn not_found(message: String) -> Response {
    envelope(StatusCode::NOT_FOUND, -1, Some(message), Value::Null)
}

/// Reads a JSON object or a form body into one map of JSON values (form values are strings).
fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, String> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
    let looks_like_json = text.trim_start().starts_with('{');
    if is_json || looks_like_json {
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("the JSON body must be an object".to_owned()),
            Err(e) => Err(format!("the JSON body is not valid: {e}")),
        }
    } else {
        Ok(decode_form(text)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect())
    }
}

fn text_field(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A money field: a JSON number or a numeric string (forms), which must be whole won.
fn amount_field(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    let n = match m.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| format!("{key} must be a number"))?,
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{key} must be a number"))?,
        Some(_) => return Err(format!("{key} must be a number")),
    };
    if n.fract() != 0.0 || !n.is_finite() || n.abs() > 9.0e15 {
        return Err(format!("{key} must be a whole number of won"));
    }
    // Range checked above, so the conversion is exact.
    Ok(Some(n as i64))
}

async fn get_token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let Ok(m) = read_body(&headers, &body) else {
        return unauthorized("imp_key and imp_secret are required");
    };
    let (Some(key), Some(secret)) = (text_field(&m, "imp_key"), text_field(&m, "imp_secret")) else {
        return unauthorized("imp_key and imp_secret are required");
    };
    if key != shared.config.imp_key || secret != shared.config.imp_secret {
        return unauthorized("imp_key or imp_secret is not valid");
    }
    let now = shared.now();
    let mut ledger = shared.ledger();
    ledger.tokens.retain(|t| t.expires_at > now);
    let token = match ledger.tokens.last_mut() {
        Some(t) => {
            if t.expires_at - now < EXTEND_WHEN_UNDER {
                t.expires_at = later(t.expires_at, TOKEN_EXTENSION);
            }
            t.clone()
        }
        None => {
            let t = Token {
                value: uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()[..8],
                expires_at: later(now, TOKEN_LIFETIME),
            };
            ledger.tokens.push(t.clone());
            t
        }
    };
    ok(json!({
        "access_token": token.value,
        "now": now.timestamp(),
        "expired_at": token.expires_at.timestamp(),
    }))
}

/// Accepts the token as `Authorization: Bearer <t>`, a bare `Authorization: <t>`, or
/// `X-ImpTokenHeader: <t>` — all three are in use by iamport clients.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let from_auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            match v.split_once(' ') {
                Some((scheme, t)) if scheme.eq_ignore_ascii_case("Bearer") => t.trim().to_owned(),
                _ => v.to_owned(),
            }
        });
    let token = from_auth.or_else(|| {
        headers
            .get("x-imptokenheader")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Box::new(unauthorized("an access token is required")));
    };
    let now = shared.now();
    let ledger = shared.ledger();
    match ledger.tokens.iter().find(|t| t.value == token) {
        Some(t) if t.expires_at > now => Ok(()),
        Some(_) => Err(Box::new(unauthorized("the access token has expired"))),
        None => Err(Box::new(unauthorized("the access token is not valid"))),
    }
}

pub(crate) fn status_of(p: &PaymentRecord) -> &'static str {
    if p.closed_at.is_some() {
        "cancelled"
    } else if p.state == PayState::AwaitingDeposit {
        "ready"
    } else if p.is_fully_cancelled() {
        "cancelled"
    } else {
        // A partial cancel leaves the payment paid; only cancel_amount moves.
        "paid"
    }
}

fn unix(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(0, |t| t.timestamp())
}

pub(crate) fn payment_json(p: &PaymentRecord) -> Value {
    let completed: Vec<_> = p.cancels.iter().filter(|c| !c.is_pending()).collect();
    let history: Vec<Value> = completed
        .iter()
        .map(|c| {
            json!({
                "pg_tid": c.pg_tid,
                "amount": c.amount,
                "cancelled_at": unix(c.cancelled_at),
                "reason": c.reason,
                "cancellation_id": c.id,
                "receipt_url": c.receipt_url,
            })
        })
        .collect();
    let paid = p.state == PayState::Paid;
    let is_card = p.method == MethodKind::Card;
    let is_vbank = p.method == MethodKind::VirtualAccount;
    // Two halves: one json! literal this size exceeds the macro recursion limit.
    let mut v = json!({
        "imp_uid": p.id,
        "merchant_uid": p.order_id,
        "pay_method": match p.method {
            MethodKind::Card => "card",
            MethodKind::VirtualAccount => "vbank",
            MethodKind::MobilePhone => "phone",
        },
        "channel": "pc",
        "pg_provider": p.pg,
        "emb_pg_provider": null,
        "pg_tid": p.pg_tx_id,
        "pg_id": "sandbox-mid",
        "sandbox": true,
        "escrow": false,
        "apply_num": if is_card { json!("00000000") } else { Value::Null },
        "bank_code": null,
        "bank_name": null,
        "card_code": if is_card { json!("361") } else { Value::Null },
        "card_name": if is_card { json!("Sandbox Card") } else { Value::Null },
        "card_quota": 0,
        "card_number": if is_card { json!("53275000****123*") } else { Value::Null },
        "card_type": if is_card { json!(0) } else { Value::Null },
        "vbank_code": if is_vbank { json!("088") } else { Value::Null },
        "vbank_name": if is_vbank { json!("Shinhan Bank") } else { Value::Null },
        "vbank_num": if is_vbank { json!("56211105948400") } else { Value::Null },
        "vbank_holder": if is_vbank { json!("Sandbox Store") } else { Value::Null },
        "vbank_date": if is_vbank { later(p.requested_at, TimeDelta::days(7)).timestamp() } else { 0 },
        "vbank_issued_at": if is_vbank { p.requested_at.timestamp() } else { 0 },
    });
    let rest = json!({
        "name": p.order_name,
        "amount": p.total,
        "cancel_amount": p.cancelled(),
        "currency": "KRW",
        "buyer_name": p.customer.name,
        "buyer_email": p.customer.email,
        "buyer_tel": p.customer.phone,
        "buyer_addr": null,
        "buyer_postcode": null,
        "custom_data": null,
        "user_agent": "sandbox",
        "status": status_of(p),
        "started_at": p.requested_at.timestamp(),
        "paid_at": if paid { p.paid_at.timestamp() } else { 0 },
        "failed_at": 0,
        "cancelled_at": unix(p.closed_at.or(p.last_cancelled_at())),
        "fail_reason": null,
        "cancel_reason": completed.last().map(|c| c.reason.clone()),
        "receipt_url": format!("https://sandbox.invalid/receipts/{}", p.transaction_id),
        "cancel_history": history,
        "cancel_receipt_urls": completed.iter().map(|c| c.receipt_url.clone()).collect::<Vec<_>>(),
        "cash_receipt_issued": false,
        "customer_uid": null,
        "customer_uid_usage": null,
    });
    if let (Value::Object(head), Value::Object(tail)) = (&mut v, rest) {
        head.extend(tail);
    }
    v
}

async fn get_payment(State(shared): State<Arc<Shared>>, Path(imp_uid): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    match shared.ledger().get(Provider::Iamport, &imp_uid) {
        Some(p) => ok(payment_json(p)),
        None => not_found(format!("no payment with imp_uid {imp_uid}")),
    }
}

fn find(shared: &Shared, merchant_uid: &str, status: Option<&str>) -> Response {
    if let Some(s) = status
        && !matches!(s, "ready" | "paid" | "cancelled" | "failed")
    {
        return envelope(
            StatusCode::BAD_REQUEST,
            -1,
            Some(format!(
                "payment_status must be ready, paid, cancelled or failed, not {s}"
            )),
            Value::Null,
        );
    }
    let ledger = shared.ledger();
    let found = ledger
        .list(Provider::Iamport)
        .into_iter()
        .rev()
        .find(|p| p.order_id == merchant_uid && status.is_none_or(|s| s == status_of(p)));
    match found {
        Some(p) => ok(payment_json(p)),
        None => not_found(format!("no payment with merchant_uid {merchant_uid}")),
    }
}

async fn find_payment(
    State(shared): State<Arc<Shared>>,
    Path(merchant_uid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    find(&shared, &merchant_uid, None)
}

async fn find_payment_with_status(
    State(shared): State<Arc<Shared>>,
    Path((merchant_uid, status)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    find(&shared, &merchant_uid, Some(&status))
}

async fn payments_by_status(
    State(shared): State<Arc<Shared>>,
    Path(status): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let bad = |m: String| envelope(StatusCode::BAD_REQUEST, -1, Some(m), Value::Null);
    if !matches!(status.as_str(), "all" | "ready" | "paid" | "cancelled" | "failed") {
        return bad(format!(
            "payment_status must be all, ready, paid, cancelled or failed, not {status}"
        ));
    }
    let params = decode_form(query.as_deref().unwrap_or(""));
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let number = |k: &str, default: i64| -> Result<i64, Box<Response>> {
        match param(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| Box::new(bad(format!("{k} must be an integer")))),
        }
    };
    let (page, limit, from, to) = match (
        number("page", 1),
        number("limit", 20),
        number("from", 0),
        number("to", 0),
    ) {
        (Ok(p), Ok(l), Ok(f), Ok(t)) => (p, l, f, t),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => return *r,
    };
    if page < 1 || !(1..=1000).contains(&limit) {
        return bad("page must be at least 1 and limit between 1 and 1000".to_owned());
    }
    let sorting = param("sorting").unwrap_or_else(|| "-started".to_owned());
    let ledger = shared.ledger();
    let list: Vec<&PaymentRecord> = ledger
        .list(Provider::Iamport)
        .into_iter()
        .filter(|p| status == "all" || status_of(p) == status)
        .filter(|p| from == 0 || p.requested_at.timestamp() >= from)
        .filter(|p| to == 0 || p.requested_at.timestamp() <= to)
        .collect();
    match paged(list, page, limit, &sorting) {
        Ok(v) => ok(v),
        Err(m) => bad(m),
    }
}

/// One page of a payment list, sorted as `sorting` says (`-started` by default): the
/// `{total, previous, next, list}` object. A page past the last one is an error (the spec's 400),
/// except page 1 of an empty list.
fn paged(mut list: Vec<&PaymentRecord>, page: i64, limit: i64, sorting: &str) -> Result<Value, String> {
    let key = |p: &PaymentRecord| match sorting.trim_start_matches('-') {
        "paid" => p.paid_at,
        "updated" => p.status_changed_at,
        _ => p.requested_at,
    };
    list.sort_by_key(|p| (key(p), p.seq));
    if sorting.starts_with('-') {
        list.reverse();
    }
    let total = list.len();
    let limit_u = usize::try_from(limit).unwrap_or(20);
    // Checked: page comes from the query and may be as large as i64::MAX.
    let skip = page
        .checked_sub(1)
        .and_then(|p| p.checked_mul(limit))
        .and_then(|s| usize::try_from(s).ok());
    let Some(skip) = skip.filter(|s| *s < total || (*s == 0 && total == 0)) else {
        return Err(format!("page {page} is beyond the last page of {total} payments"));
    };
    let has_next = skip.saturating_add(limit_u) < total;
    let items: Vec<Value> = list.into_iter().skip(skip).take(limit_u).map(payment_json).collect();
    Ok(json!({
        "total": total,
        "previous": if page > 1 { page - 1 } else { 0 },
        "next": if has_next { page.saturating_add(1) } else { 0 },
        "list": items,
    }))
}

fn refusal_message(r: &Refusal) -> String {
    match r {
        Refusal::NotFound => "no payment to cancel was found".to_owned(),
        Refusal::AlreadyCancelled => "the payment is already fully cancelled".to_owned(),
        Refusal::NotPaid | Refusal::PartialCancelOfUnpaidVirtualAccount => {
            "the payment is not paid: close a virtual account awaiting deposit with DELETE /vbanks/{imp_uid}".to_owned()
        }
        Refusal::PhoneMonthPassed { paid_month, now_month } => format!(
            "a mobile-phone payment of {} (KST) cannot be cancelled in {}",
            month_label(*paid_month),
            month_label(*now_month)
        ),
        Refusal::BalanceMismatch { expected, actual } => {
            format!("checksum {expected} does not match the cancellable balance {actual}")
        }
        Refusal::NonPositiveAmount => "amount must be greater than 0".to_owned(),
        Refusal::ExceedsBalance { requested, balance } => {
            format!("amount {requested} exceeds the cancellable balance {balance}")
        }
        Refusal::NegativePart => "tax_free and vat_amount must not be negative".to_owned(),
        Refusal::PartsExceedAmount { parts, amount } => {
            format!("tax_free + vat_amount = {parts} exceeds the cancel amount {amount}")
        }
        Refusal::TaxFreeExceedsBalance { tax_free, balance } => {
            format!("tax_free {tax_free} exceeds the cancellable tax-free balance {balance}")
        }
        Refusal::TaxableExceedsBalance { taxable, balance } => {
            format!("taxable part {taxable} exceeds the cancellable taxable balance {balance}")
        }
        Refusal::RefundAccountRequired => {
            "refund_holder, refund_bank and refund_account are required to refund a virtual account".to_owned()
        }
        Refusal::HolderPhoneRequired => "refund_tel is required to refund a Smartro virtual account".to_owned(),
    }
}

async fn cancel_payment(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let m = match read_body(&headers, &body) {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    let numbers = (
        amount_field(&m, "amount"),
        amount_field(&m, "tax_free"),
        amount_field(&m, "vat_amount"),
        amount_field(&m, "checksum"),
    );
    let (amount, tax_free, vat, checksum) = match numbers {
        (Ok(a), Ok(t), Ok(v), Ok(c)) => (a, t, v, c),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return failed(e),
    };
    let refund_parts = [
        text_field(&m, "refund_holder"),
        text_field(&m, "refund_bank"),
        text_field(&m, "refund_account"),
    ];
    let refund_account = match refund_parts {
        [None, None, None] => None,
        [Some(holder), Some(bank), Some(number)] => Some(RefundAccount {
            bank,
            number,
            holder,
            phone: text_field(&m, "refund_tel"),
        }),
        _ => return failed("refund_holder, refund_bank and refund_account must be given together"),
    };
    // imp_uid wins: when it is given and unknown, the cancel fails even if merchant_uid would match.
    let imp_uid = {
        let ledger = shared.ledger();
        match (text_field(&m, "imp_uid"), text_field(&m, "merchant_uid")) {
            (Some(imp_uid), _) => imp_uid,
            (None, Some(merchant_uid)) => match ledger.by_order(Provider::Iamport, &merchant_uid) {
                Some(p) => p.id.clone(),
                None => return failed(format!("no payment with merchant_uid {merchant_uid} to cancel")),
            },
            (None, None) => return failed("imp_uid or merchant_uid is required"),
        }
    };
    let req = CancelRequest {
        // Omitted or 0 both mean "the whole remaining balance".
        amount: amount.filter(|a| *a != 0),
        tax_free,
        vat,
        expected_balance: checksum,
        reason: text_field(&m, "reason").unwrap_or_default(),
        refund_account,
    };
    let now = shared.now();
    let result = shared.ledger().cancel(Provider::Iamport, &imp_uid, &req, POLICY, now);
    match result {
        Ok(applied) => {
            let notify = matches!(m.get("enable_webhook"), Some(Value::Bool(true)))
                || matches!(m.get("enable_webhook"), Some(Value::String(s)) if s == "true");
            if notify {
                super::webhooks::iamport_cancelled(&shared, &applied.payment, &applied.cancel);
            }
            ok(payment_json(&applied.payment))
        }
        Err(Refusal::NotFound) => failed(format!("no payment with imp_uid {imp_uid} to cancel")),
        Err(r) => failed(refusal_message(&r)),
    }
}

// ---------------------------------------------------------------- more lookups, prepare, vbanks

fn bad_request(message: impl Into<String>) -> Response {
    envelope(StatusCode::BAD_REQUEST, -1, Some(message.into()), Value::Null)
}

/// `GET /payments?imp_uid[]=a&imp_uid[]=b&merchant_uid[]=c`: 200 when every one was found, 207 when
/// some were, 404 when none was.
async fn payments_by_ids(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let params = decode_form(query.as_deref().unwrap_or(""));
    let wanted: Vec<(bool, String)> = params
        .into_iter()
        .filter_map(|(k, v)| match k.as_str() {
            "imp_uid[]" | "imp_uid" => Some((true, v)),
            "merchant_uid[]" | "merchant_uid" => Some((false, v)),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return bad_request("imp_uid[] or merchant_uid[] is required");
    }
    let ledger = shared.ledger();
    let found: Vec<Value> = wanted
        .iter()
        .filter_map(|(by_imp, id)| {
            if *by_imp {
                ledger.get(Provider::Iamport, id)
            } else {
                ledger.by_order(Provider::Iamport, id)
            }
        })
        .map(payment_json)
        .collect();
    let status = if found.is_empty() {
        return not_found("no payment matched the given ids".to_owned());
    } else if found.len() < wanted.len() {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::OK
    };
    envelope(status, 0, None, Value::Array(found))
}

async fn find_all_inner(shared: &Shared, merchant_uid: &str, status: Option<&str>, query: Option<&str>) -> Response {
    if let Some(s) = status
        && !matches!(s, "ready" | "paid" | "cancelled" | "failed")
    {
        return bad_request(format!(
            "payment_status must be ready, paid, cancelled or failed, not {s}"
        ));
    }
    let params = decode_form(query.unwrap_or(""));
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let page = param("page").map_or(Ok(1), |v| v.parse::<i64>());
    let limit = param("limit").map_or(Ok(20), |v| v.parse::<i64>());
    let (Ok(page), Ok(limit)) = (page, limit) else {
        return bad_request("page and limit must be integers");
    };
    if page < 1 || !(1..=1000).contains(&limit) {
        return bad_request("page must be at least 1 and limit between 1 and 1000");
    }
    let sorting = param("sorting").unwrap_or_else(|| "-started".to_owned());
    let ledger = shared.ledger();
    let list: Vec<&PaymentRecord> = ledger
        .list(Provider::Iamport)
        .into_iter()
        .filter(|p| p.order_id == merchant_uid && status.is_none_or(|s| s == status_of(p)))
        .collect();
    if list.is_empty() {
        return not_found(format!("no payment with merchant_uid {merchant_uid}"));
    }
    match paged(list, page, limit, &sorting) {
        Ok(v) => ok(v),
        Err(m) => bad_request(m),
    }
}

async fn find_all(
    State(shared): State<Arc<Shared>>,
    Path(merchant_uid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    find_all_inner(&shared, &merchant_uid, None, query.as_deref()).await
}

async fn find_all_with_status(
    State(shared): State<Arc<Shared>>,
    Path((merchant_uid, status)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    find_all_inner(&shared, &merchant_uid, Some(&status), query.as_deref()).await
}

/// What is left of a payment, split the way iamport reports it. The sandbox has no cash receipts,
/// second means of payment or discounts, so everything is in `primary`.
async fn balance(State(shared): State<Arc<Shared>>, Path(imp_uid): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let ledger = shared.ledger();
    let Some(p) = ledger.get(Provider::Iamport, &imp_uid) else {
        return not_found(format!("no payment with imp_uid {imp_uid}"));
    };
    let part = |amount: i64, tax_free: i64, vat: i64| {
        json!({
            "tax_free": tax_free,
            "supply": amount.saturating_sub(tax_free).saturating_sub(vat),
            "vat": vat,
            "service": 0,
        })
    };
    let zero = part(0, 0, 0);
    let left = p.balance();
    let primary = part(left, p.tax_free_balance().min(left), p.vat_balance().min(left));
    let mut histories = vec![json!({
        "cash_receipt": zero,
        "primary": part(p.total, p.tax_free, p.vat),
        "secondary": zero,
        "discount": zero,
        "created": p.paid_at.timestamp(),
    })];
    for c in p.cancels.iter().filter(|c| !c.is_pending()) {
        histories.push(json!({
            "cash_receipt": zero,
            "primary": part(c.amount.saturating_neg(), c.tax_free.saturating_neg(), c.vat.saturating_neg()),
            "secondary": zero,
            "discount": zero,
            "created": unix(c.cancelled_at),
        }));
    }
    ok(json!({
        "amount": left,
        "cash_receipt": zero,
        "primary": primary,
        "secondary": zero,
        "discount": zero,
        "histories": histories,
    }))
}

/// `POST /payments/prepare`: the amount a payment for `merchant_uid` is expected to have. A
/// merchant_uid already prepared is refused (HTTP 200, `code` 1); `PUT` changes one, and the
/// sandbox does not serve it.
async fn prepare(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let m = match read_body(&headers, &body) {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    let Some(merchant_uid) = text_field(&m, "merchant_uid") else {
        return failed("merchant_uid is required");
    };
    let amount = match amount_field(&m, "amount") {
        Ok(Some(a)) if a > 0 => a,
        Ok(_) => return failed("amount is required and must be positive"),
        Err(e) => return failed(e),
    };
    let currency = text_field(&m, "currency");
    let mut ledger = shared.ledger();
    if ledger.prepared.contains_key(&merchant_uid) {
        return failed(format!("merchant_uid {merchant_uid} is already prepared"));
    }
    ledger.prepared.insert(merchant_uid.clone(), (amount, currency.clone()));
    ok(json!({"merchant_uid": merchant_uid, "amount": amount, "currency": currency}))
}

async fn get_prepared(
    State(shared): State<Arc<Shared>>,
    Path(merchant_uid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    match shared.ledger().prepared.get(&merchant_uid) {
        Some((amount, currency)) => ok(json!({"merchant_uid": merchant_uid, "amount": amount, "currency": currency})),
        None => not_found(format!("merchant_uid {merchant_uid} was not prepared")),
    }
}

/// `DELETE /vbanks/{imp_uid}`: closes a virtual account nobody paid into; the payment becomes
/// `cancelled` with nothing refunded (`cancel_amount` stays 0: no money moved).
async fn revoke_vbank(State(shared): State<Arc<Shared>>, Path(imp_uid): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&shared, &headers) {
        return *r;
    }
    let now = shared.now();
    let mut ledger = shared.ledger();
    let Some(p) = ledger.get_mut(Provider::Iamport, &imp_uid) else {
        return not_found(format!("no payment with imp_uid {imp_uid}"));
    };
    if p.method != MethodKind::VirtualAccount {
        return bad_request("the payment is not a virtual-account payment");
    }
    if p.state != PayState::AwaitingDeposit || p.closed_at.is_some() {
        return bad_request("the virtual account is not waiting for a deposit (status ready)");
    }
    p.closed_at = Some(now);
    p.status_changed_at = now;
    ok(payment_json(p))
}
