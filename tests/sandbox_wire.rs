//! The sandbox on the wire: raw HTTP (reqwest + serde_json) against each provider's surface,
//! asserting the exact status codes, error shapes and state transitions the real APIs document.
#![cfg(feature = "sandbox")]

use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use kr_payments::sandbox::{Fault, FaultRule, Provider, Sandbox, SeedPayment};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid time")
}

async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

// ---------------------------------------------------------------- PortOne V2

const V2_AUTH: &str = "PortOne sandbox-secret";

async fn v2_get(sb: &Sandbox, id: &str) -> (u16, Value) {
    let url = format!("{}/payments/{id}", sb.base_url_portone_v2());
    read(
        client()
            .get(url)
            .header("authorization", V2_AUTH)
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn v2_cancel(sb: &Sandbox, id: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/payments/{id}/cancel", sb.base_url_portone_v2());
    read(
        client()
            .post(url)
            .header("authorization", V2_AUTH)
            .json(&body)
            .send()
            .await
            .expect("send"),
    )
    .await
}

fn assert_v2_error(got: &(u16, Value), status: u16, kind: &str) {
    assert_eq!(got.0, status, "status for {kind}: {}", got.1);
    assert_eq!(got.1["type"], kind, "{}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {}",
        got.1
    );
}

#[tokio::test]
async fn v2_paid_payment_has_the_required_fields() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(
        SeedPayment::card("order-v2-1", 10_000)
            .tax_free(1_000)
            .pg("tosspayments"),
    );
    assert_eq!(id, "order-v2-1");
    let (status, p) = v2_get(&sb, &id).await;
    assert_eq!(status, 200);
    assert_eq!(p["status"], "PAID");
    for field in [
        "id",
        "transactionId",
        "merchantId",
        "storeId",
        "channel",
        "version",
        "requestedAt",
        "updatedAt",
        "statusChangedAt",
        "orderName",
        "amount",
        "currency",
        "customer",
        "origin",
        "paidAt",
        "disputes",
    ] {
        assert!(!p[field].is_null(), "missing {field}: {p}");
    }
    assert_eq!(
        p["amount"],
        json!({"total": 10000, "taxFree": 1000, "vat": 818, "supply": 8182, "discount": 0,
        "paid": 10000, "cancelled": 0, "cancelledTaxFree": 0})
    );
    assert_eq!(p["method"]["type"], "PaymentMethodCard");
    assert_eq!(p["channel"]["pgProvider"], "TOSSPAYMENTS");
    assert_eq!(p["channel"]["type"], "TEST");
}

#[tokio::test]
async fn v2_partial_then_full_cancel_moves_status_and_amounts() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(SeedPayment::card("order-v2-2", 10_000));

    let (status, body) = v2_cancel(
        &sb,
        &id,
        json!({"reason": "size", "amount": 3000, "currentCancellableAmount": 10000}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = &body["cancellation"];
    assert_eq!(c["status"], "SUCCEEDED");
    assert_eq!(c["totalAmount"], 3000);
    assert_eq!(c["taxFreeAmount"], 0);
    assert_eq!(c["vatAmount"], 273);
    assert_eq!(c["reason"], "size");
    for field in ["id", "requestedAt", "cancelledAt", "receiptUrl"] {
        assert!(c[field].is_string(), "missing {field}: {c}");
    }

    let (_, p) = v2_get(&sb, &id).await;
    assert_eq!(p["status"], "PARTIAL_CANCELLED");
    assert_eq!(p["amount"]["cancelled"], 3000);
    assert_eq!(p["cancellations"].as_array().map(Vec::len), Some(1));
    assert!(p["cancelledAt"].is_string());

    // No amount: the rest of the balance.
    let (status, body) = v2_cancel(&sb, &id, json!({"reason": "rest", "currentCancellableAmount": 7000})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancellation"]["totalAmount"], 7000);
    let (_, p) = v2_get(&sb, &id).await;
    assert_eq!(p["status"], "CANCELLED");
    assert_eq!(p["amount"]["cancelled"], 10000);
    assert_eq!(p["cancellations"].as_array().map(Vec::len), Some(2));
    assert_eq!(sb.cancels_applied(&id), 2);
}

#[tokio::test]
async fn v2_refusals_answer_with_the_spec_error_types() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(SeedPayment::card("order-v2-3", 10_000).tax_free(1_000));

    let r = v2_cancel(
        &sb,
        &id,
        json!({"reason": "r", "amount": 1000, "currentCancellableAmount": 9000}),
    )
    .await;
    assert_v2_error(&r, 409, "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN");
    let r = v2_cancel(&sb, &id, json!({"reason": "r", "amount": 10001})).await;
    assert_v2_error(&r, 409, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT");
    let r = v2_cancel(&sb, &id, json!({"reason": "r", "amount": 1000, "taxFreeAmount": 1500})).await;
    assert_v2_error(&r, 409, "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT");
    let r = v2_cancel(&sb, &id, json!({"reason": "r", "amount": 5000, "taxFreeAmount": 2000})).await;
    assert_v2_error(&r, 409, "CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT");
    let r = v2_cancel(&sb, &id, json!({"amount": 1000})).await;
    assert_v2_error(&r, 400, "INVALID_REQUEST");
    let r = v2_cancel(&sb, "no-such-payment", json!({"reason": "r"})).await;
    assert_v2_error(&r, 404, "PAYMENT_NOT_FOUND");
    let r = v2_get(&sb, "no-such-payment").await;
    assert_v2_error(&r, 404, "PAYMENT_NOT_FOUND");
    assert_eq!(sb.cancels_applied(&id), 0, "no refused cancel may change the payment");

    let (status, _) = v2_cancel(&sb, &id, json!({"reason": "all"})).await;
    assert_eq!(status, 200);
    let r = v2_cancel(&sb, &id, json!({"reason": "again"})).await;
    assert_v2_error(&r, 409, "PAYMENT_ALREADY_CANCELLED");
    assert_eq!(sb.cancels_applied(&id), 1);
}

#[tokio::test]
async fn v2_wrong_or_missing_secret_is_unauthorized() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(SeedPayment::card("order-v2-4", 1_000));
    let url = format!("{}/payments/{id}", sb.base_url_portone_v2());
    let r = read(
        client()
            .get(&url)
            .header("authorization", "PortOne wrong")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_v2_error(&r, 401, "UNAUTHORIZED");
    let r = read(client().get(&url).send().await.expect("send")).await;
    assert_v2_error(&r, 401, "UNAUTHORIZED");
    let cancel = format!("{url}/cancel");
    let r = read(
        client()
            .post(&cancel)
            .json(&json!({"reason": "r"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_v2_error(&r, 401, "UNAUTHORIZED");
    assert_eq!(sb.cancels_applied(&id), 0);
}

#[tokio::test]
async fn v2_virtual_account_refunds_need_the_account_and_smartro_the_phone() {
    let sb = Sandbox::start().await.expect("start");
    let va = sb.seed(SeedPayment::virtual_account("order-v2-va", 10_000).pg("kcp"));
    let r = v2_cancel(&sb, &va, json!({"reason": "r"})).await;
    assert_v2_error(&r, 400, "INVALID_REQUEST");
    let account = json!({"bank": "KOOKMIN", "number": "123456789", "holderName": "Hong"});
    let (status, body) = v2_cancel(
        &sb,
        &va,
        json!({"reason": "r", "amount": 4000, "refundAccount": account}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, p) = v2_get(&sb, &va).await;
    assert_eq!(p["status"], "PARTIAL_CANCELLED");
    assert_eq!(p["method"]["type"], "PaymentMethodVirtualAccount");

    let smartro = sb.seed(SeedPayment::virtual_account("order-v2-smartro", 10_000).pg("smartro_v2"));
    let r = v2_cancel(&sb, &smartro, json!({"reason": "r", "refundAccount": account})).await;
    assert_v2_error(&r, 400, "INVALID_REQUEST");
    assert!(
        r.1["message"].as_str().is_some_and(|m| m.contains("holderPhoneNumber")),
        "{}",
        r.1
    );
    let with_phone = json!({"bank": "KOOKMIN", "number": "123456789", "holderName": "Hong",
        "holderPhoneNumber": "01012345678"});
    let (status, _) = v2_cancel(&sb, &smartro, json!({"reason": "r", "refundAccount": with_phone})).await;
    assert_eq!(status, 200);
    let (_, p) = v2_get(&sb, &smartro).await;
    assert_eq!(p["status"], "CANCELLED");
}

#[tokio::test]
async fn v2_unpaid_virtual_account_is_not_paid() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(SeedPayment::virtual_account("order-v2-unpaid", 10_000).deposited(false));
    let (_, p) = v2_get(&sb, &id).await;
    assert_eq!(p["status"], "VIRTUAL_ACCOUNT_ISSUED");
    assert_eq!(p["amount"]["paid"], 0);
    let r = v2_cancel(&sb, &id, json!({"reason": "r", "amount": 1000})).await;
    assert_v2_error(&r, 409, "PAYMENT_NOT_PAID");
    let r = v2_cancel(&sb, &id, json!({"reason": "r"})).await;
    assert_v2_error(&r, 409, "PAYMENT_NOT_PAID");
    assert!(sb.deposit(&id));
    let (_, p) = v2_get(&sb, &id).await;
    assert_eq!(p["status"], "PAID");
}

#[tokio::test]
async fn v2_phone_payment_only_in_the_kst_month_it_was_paid() {
    let sb = Sandbox::start().await.expect("start");
    // 2025-01-31 23:00 KST.
    let paid = utc(2025, 1, 31, 14, 0);
    let id = sb.seed(SeedPayment::mobile_phone("order-v2-phone", 5_000).paid_at(paid));
    let other = sb.seed(SeedPayment::mobile_phone("order-v2-phone-2", 5_000).paid_at(paid));
    sb.set_now(utc(2025, 1, 31, 14, 50)); // still January in KST
    let (status, _) = v2_cancel(&sb, &id, json!({"reason": "r", "amount": 1000})).await;
    assert_eq!(status, 200);
    sb.set_now(utc(2025, 1, 31, 15, 0)); // 2025-02-01 00:00 KST, still January in UTC
    let r = v2_cancel(&sb, &other, json!({"reason": "r"})).await;
    assert_v2_error(&r, 502, "PG_PROVIDER");
    assert!(r.1["pgCode"].is_string() && r.1["pgMessage"].is_string(), "{}", r.1);
    assert_eq!(sb.cancels_applied(&other), 0);
}

#[tokio::test]
async fn v2_lists_payments_by_page_and_by_cursor() {
    let sb = Sandbox::start().await.expect("start");
    for i in 0..5 {
        sb.seed(SeedPayment::card(format!("order-list-{i}"), 1_000 * (i + 1)).paid_at(utc(2025, 3, 1, i as u32, 0)));
    }
    sb.seed(SeedPayment::card("order-toss", 1_000).provider(Provider::Toss));
    let (status, _) = v2_cancel(&sb, "order-list-4", json!({"reason": "r"})).await;
    assert_eq!(status, 200);

    let arg = json!({"page": {"number": 1, "size": 2}, "filter": {"sortOrder": "ASC"}}).to_string();
    let url = format!("{}/payments", sb.base_url_portone_v2());
    let (status, body) = read(
        client()
            .get(&url)
            .header("authorization", V2_AUTH)
            .query(&[("requestBody", &arg)])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["page"], json!({"number": 1, "size": 2, "totalCount": 5}));
    let ids: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["order-list-2", "order-list-3"]);

    let arg = json!({"filter": {"status": ["CANCELLED"]}}).to_string();
    let (_, body) = read(
        client()
            .get(&url)
            .header("authorization", V2_AUTH)
            .query(&[("requestBody", &arg)])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(body["page"]["totalCount"], 1);
    assert_eq!(body["items"][0]["id"], "order-list-4");

    let r = read(
        client()
            .get(&url)
            .header("authorization", V2_AUTH)
            .query(&[("requestBody", "{not json")])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_v2_error(&r, 400, "INVALID_REQUEST");

    let cursor_url = format!("{}/payments-by-cursor", sb.base_url_portone_v2());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut arg = json!({"size": 2});
        if let Some(c) = &cursor {
            arg["cursor"] = json!(c);
        }
        let (status, body) = read(
            client()
                .get(&cursor_url)
                .header("authorization", V2_AUTH)
                .query(&[("requestBody", arg.to_string())])
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().expect("items").clone();
        if items.is_empty() {
            break;
        }
        for it in &items {
            seen.push(it["payment"]["id"].as_str().expect("id").to_owned());
        }
        cursor = items.last().and_then(|i| i["cursor"].as_str()).map(str::to_owned);
    }
    assert_eq!(seen, (0..5).map(|i| format!("order-list-{i}")).collect::<Vec<_>>());
}

// ---------------------------------------------------------------- PortOne V2 webhooks

struct Received {
    headers: http::HeaderMap,
    body: String,
}

async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: http::HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Received { headers, body });
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx)
}

fn verify_signature(secret: &[u8], r: &Received) -> Value {
    use hmac::{KeyInit, Mac};
    let header = |n: &str| {
        r.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("missing {n}"))
    };
    let id = header("webhook-id");
    let ts = header("webhook-timestamp");
    let sig = header("webhook-signature");
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("key");
    mac.update(format!("{id}.{ts}.{}", r.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes().as_slice())
    );
    assert_eq!(sig, expected, "signature over {id}.{ts}.body");
    let body: Value = serde_json::from_str(&r.body).expect("JSON body");
    assert_eq!(
        body["timestamp"]
            .as_str()
            .map(|t| DateTime::parse_from_rfc3339(t).is_ok()),
        Some(true)
    );
    let sent_at: i64 = ts.parse().expect("unix timestamp");
    assert!((sent_at - Utc::now().timestamp()).abs() < 60, "timestamp close to now");
    body
}

async fn next_event(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("webhook in time")
        .expect("receiver open")
}

#[tokio::test]
async fn v2_cancels_deliver_signed_webhooks() {
    let sb = Sandbox::start().await.expect("start");
    let (url, mut rx) = webhook_receiver().await;
    let secret = b"webhook-secret-bytes".to_vec();
    sb.register_webhook(url, secret.clone());
    let id = sb.seed(SeedPayment::card("order-hook", 10_000));

    let (status, first) = v2_cancel(&sb, &id, json!({"reason": "r", "amount": 4000})).await;
    assert_eq!(status, 200);
    let event = verify_signature(&secret, &next_event(&mut rx).await);
    assert_eq!(event["type"], "Transaction.PartialCancelled");
    assert_eq!(event["data"]["paymentId"], id);
    assert_eq!(event["data"]["storeId"], "store-sandbox");
    assert_eq!(event["data"]["cancellationId"], first["cancellation"]["id"]);
    let (_, payment) = v2_get(&sb, &id).await;
    assert_eq!(event["data"]["transactionId"], payment["transactionId"]);

    let (status, _) = v2_cancel(&sb, &id, json!({"reason": "r", "skipWebhook": true, "amount": 1000})).await;
    assert_eq!(status, 200);
    let (status, _) = v2_cancel(&sb, &id, json!({"reason": "r"})).await;
    assert_eq!(status, 200);
    let event = verify_signature(&secret, &next_event(&mut rx).await);
    assert_eq!(
        event["type"], "Transaction.Cancelled",
        "skipWebhook suppressed the middle cancel"
    );
    // The sandbox records a delivery once the receiver's answer is back, just after the receiver saw it.
    let mut deliveries = sb.webhook_deliveries();
    for _ in 0..100 {
        if deliveries.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        deliveries = sb.webhook_deliveries();
    }
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].event_type, "Transaction.PartialCancelled");
    assert!(deliveries.iter().all(|d| d.status == Some(200)));
}

#[tokio::test]
async fn v2_async_cancel_stays_requested_until_settled() {
    let sb = Sandbox::start().await.expect("start");
    let (url, mut rx) = webhook_receiver().await;
    sb.register_webhook(url, b"k".to_vec());
    let id = sb.seed(SeedPayment::card("order-async", 10_000).async_cancel(true));

    let (status, body) = v2_cancel(&sb, &id, json!({"reason": "r"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["cancellation"]["status"], "REQUESTED");
    assert!(body["cancellation"].get("cancelledAt").is_none());
    let event = verify_signature(b"k", &next_event(&mut rx).await);
    assert_eq!(event["type"], "Transaction.CancelPending");
    assert_eq!(event["data"]["cancellationId"], body["cancellation"]["id"]);

    let (_, p) = v2_get(&sb, &id).await;
    assert_eq!(p["status"], "PAID");
    assert_eq!(p["cancellations"][0]["status"], "REQUESTED");
    // The pending cancel already holds the balance.
    let r = v2_cancel(&sb, &id, json!({"reason": "r", "amount": 1})).await;
    assert_v2_error(&r, 409, "PAYMENT_ALREADY_CANCELLED");

    assert_eq!(sb.settle_pending_cancels(&id), 1);
    let event = verify_signature(b"k", &next_event(&mut rx).await);
    assert_eq!(event["type"], "Transaction.Cancelled");
    let (_, p) = v2_get(&sb, &id).await;
    assert_eq!(p["status"], "CANCELLED");
    assert_eq!(p["cancellations"][0]["status"], "SUCCEEDED");
}

// ---------------------------------------------------------------- iamport

async fn imp_token(sb: &Sandbox) -> (u16, Value) {
    let url = format!("{}/users/getToken", sb.base_url_iamport());
    let body = json!({"imp_key": "sandbox-imp-key", "imp_secret": "sandbox-imp-secret"});
    read(client().post(url).json(&body).send().await.expect("send")).await
}

async fn imp_access(sb: &Sandbox) -> String {
    let (status, body) = imp_token(sb).await;
    assert_eq!(status, 200, "{body}");
    body["response"]["access_token"].as_str().expect("token").to_owned()
}

async fn imp_cancel(sb: &Sandbox, token: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/payments/cancel", sb.base_url_iamport());
    read(
        client()
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn imp_get(sb: &Sandbox, token: &str, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", sb.base_url_iamport());
    read(client().get(url).bearer_auth(token).send().await.expect("send")).await
}

/// A refused iamport operation: HTTP 200, `code` 1, a message, no response.
fn assert_imp_failed(got: &(u16, Value), needle: &str) {
    assert_eq!(got.0, 200, "iamport failures are HTTP 200: {}", got.1);
    assert_eq!(got.1["code"], 1, "{}", got.1);
    assert!(got.1["response"].is_null(), "{}", got.1);
    let msg = got.1["message"].as_str().unwrap_or_default();
    assert!(msg.contains(needle), "message {msg:?} should mention {needle:?}");
}

#[tokio::test]
async fn iamport_tokens_are_reused_extended_and_expire() {
    let sb = Sandbox::start().await.expect("start");
    let t0 = utc(2025, 5, 1, 0, 0);
    sb.set_now(t0);
    let imp_uid = sb.seed(SeedPayment::card("order-imp-token", 1_000).provider(Provider::Iamport));

    let (status, first) = imp_token(&sb).await;
    assert_eq!(status, 200);
    assert_eq!(first["code"], 0);
    assert!(first["message"].is_null());
    let token = first["response"]["access_token"].as_str().expect("token").to_owned();
    assert_eq!(first["response"]["now"], t0.timestamp());
    assert_eq!(first["response"]["expired_at"], t0.timestamp() + 30 * 60);

    sb.advance(Duration::from_secs(10 * 60));
    let (_, again) = imp_token(&sb).await;
    assert_eq!(
        again["response"]["access_token"],
        token.as_str(),
        "same token while valid"
    );
    assert_eq!(
        again["response"]["expired_at"],
        t0.timestamp() + 30 * 60,
        "no extension with 20 min left"
    );

    sb.set_now(t0 + chrono::TimeDelta::seconds(29 * 60 + 30));
    let (_, extended) = imp_token(&sb).await;
    assert_eq!(extended["response"]["access_token"], token.as_str());
    assert_eq!(
        extended["response"]["expired_at"],
        t0.timestamp() + 35 * 60,
        "extended by 5 minutes"
    );

    sb.set_now(t0 + chrono::TimeDelta::minutes(34));
    let (status, _) = imp_get(&sb, &token, &format!("/payments/{imp_uid}")).await;
    assert_eq!(status, 200, "still valid thanks to the extension");

    sb.set_now(t0 + chrono::TimeDelta::minutes(35));
    let (status, body) = imp_get(&sb, &token, &format!("/payments/{imp_uid}")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], -1);
    assert!(body["response"].is_null());
    let (status, _) = imp_cancel(&sb, &token, json!({"imp_uid": imp_uid})).await;
    assert_eq!(status, 401);
    assert_eq!(sb.cancels_applied(&imp_uid), 0);

    let (_, fresh) = imp_token(&sb).await;
    assert_ne!(
        fresh["response"]["access_token"],
        token.as_str(),
        "a new token after expiry"
    );
    assert_eq!(sb.token_requests(), 4);

    // No token at all, and wrong credentials.
    let url = format!("{}/payments/{imp_uid}", sb.base_url_iamport());
    let (status, body) = read(client().get(url).send().await.expect("send")).await;
    assert_eq!((status, body["code"].clone()), (401, json!(-1)));
    let url = format!("{}/users/getToken", sb.base_url_iamport());
    let (status, body) = read(
        client()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("imp_key=sandbox-imp-key&imp_secret=wrong")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, body["code"].clone()), (401, json!(-1)));
}

#[tokio::test]
async fn iamport_token_from_a_form_body_works() {
    let sb = Sandbox::start().await.expect("start");
    let url = format!("{}/users/getToken", sb.base_url_iamport());
    let (status, body) = read(
        client()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("imp_key=sandbox-imp-key&imp_secret=sandbox-imp-secret")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["code"], 0);
    assert!(body["response"]["access_token"].is_string());
}

#[tokio::test]
async fn iamport_partial_cancel_stays_paid_and_full_cancel_is_cancelled() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let imp_uid = sb.seed(
        SeedPayment::card("order-imp-1", 10_000)
            .provider(Provider::Iamport)
            .pg("html5_inicis"),
    );
    assert!(imp_uid.starts_with("imp_"));

    let (status, body) = imp_cancel(
        &sb,
        &token,
        json!({"imp_uid": imp_uid, "amount": 1000, "checksum": 10000, "reason": "one"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["code"], 0, "{body}");
    let p = &body["response"];
    assert_eq!(p["status"], "paid", "a partial cancel leaves the payment paid");
    assert_eq!(p["amount"], 10000);
    assert_eq!(p["cancel_amount"], 1000);
    assert_eq!(p["cancel_reason"], "one");
    let h = &p["cancel_history"][0];
    assert_eq!(h["amount"], 1000);
    assert_eq!(h["reason"], "one");
    for field in ["pg_tid", "cancellation_id", "receipt_url"] {
        assert!(h[field].is_string(), "{field}: {h}");
    }
    assert!(h["cancelled_at"].as_i64().is_some_and(|t| t > 0));

    // Form body, merchant_uid instead of imp_uid, and amount 0 meaning "everything left".
    let url = format!("{}/payments/cancel", sb.base_url_iamport());
    let (status, body) = read(
        client()
            .post(url)
            .bearer_auth(&token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("merchant_uid=order-imp-1&amount=0&checksum=9000&reason=rest+of+it")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, body["code"].clone()), (200, json!(0)), "{body}");
    let p = &body["response"];
    assert_eq!(p["status"], "cancelled");
    assert_eq!(p["cancel_amount"], 10000);
    assert_eq!(p["cancel_reason"], "rest of it");
    assert_eq!(p["cancel_history"].as_array().map(Vec::len), Some(2));
    assert_eq!(p["cancel_history"][1]["amount"], 9000);

    let (status, found) = imp_get(&sb, &token, "/payments/find/order-imp-1").await;
    assert_eq!(status, 200);
    assert_eq!(found["response"]["imp_uid"], imp_uid);
    let (status, found) = imp_get(&sb, &token, "/payments/find/order-imp-1/paid").await;
    assert_eq!((status, found["code"].clone()), (404, json!(-1)));
    let (_, listed) = imp_get(&sb, &token, "/payments/status/cancelled?limit=10").await;
    assert_eq!(listed["response"]["total"], 1);
    assert_eq!(listed["response"]["list"][0]["imp_uid"], imp_uid);
    assert_eq!(
        (
            listed["response"]["previous"].clone(),
            listed["response"]["next"].clone()
        ),
        (json!(0), json!(0))
    );
}

#[tokio::test]
async fn iamport_refusals_are_http_200_with_code_1() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let imp_uid = sb.seed(SeedPayment::card("order-imp-2", 10_000).provider(Provider::Iamport));

    assert_imp_failed(
        &imp_cancel(
            &sb,
            &token,
            json!({"imp_uid": imp_uid, "amount": 1000, "checksum": 9000}),
        )
        .await,
        "checksum",
    );
    assert_imp_failed(
        &imp_cancel(&sb, &token, json!({"imp_uid": imp_uid, "amount": 10001})).await,
        "exceeds",
    );
    assert_imp_failed(
        &imp_cancel(&sb, &token, json!({"imp_uid": "imp_000000000000"})).await,
        "imp_000000000000",
    );
    assert_imp_failed(&imp_cancel(&sb, &token, json!({"merchant_uid": "nope"})).await, "nope");
    assert_imp_failed(
        &imp_cancel(&sb, &token, json!({"reason": "which one?"})).await,
        "imp_uid or merchant_uid",
    );
    // imp_uid takes precedence: an unknown imp_uid fails even next to a valid merchant_uid.
    assert_imp_failed(
        &imp_cancel(
            &sb,
            &token,
            json!({"imp_uid": "imp_999999999999", "merchant_uid": "order-imp-2"}),
        )
        .await,
        "imp_999999999999",
    );
    assert_eq!(sb.cancels_applied(&imp_uid), 0);

    let (_, body) = imp_cancel(&sb, &token, json!({"imp_uid": imp_uid})).await;
    assert_eq!(body["code"], 0);
    assert_eq!(body["response"]["status"], "cancelled");
    assert_imp_failed(&imp_cancel(&sb, &token, json!({"imp_uid": imp_uid})).await, "already");
    assert_eq!(sb.cancels_applied(&imp_uid), 1);

    let (status, body) = imp_get(&sb, &token, "/payments/imp_000000000000").await;
    assert_eq!((status, body["code"].clone()), (404, json!(-1)));
}

#[tokio::test]
async fn iamport_virtual_account_and_phone_rules() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let refund = json!({"refund_holder": "Hong", "refund_bank": "88", "refund_account": "56211105948400"});

    let vbank = sb.seed(
        SeedPayment::virtual_account("order-imp-vbank", 10_000)
            .provider(Provider::Iamport)
            .pg("kcp"),
    );
    assert_imp_failed(
        &imp_cancel(&sb, &token, json!({"imp_uid": vbank, "amount": 1000})).await,
        "refund_account",
    );
    let mut body = refund.clone();
    body["imp_uid"] = json!(vbank);
    body["amount"] = json!(1000);
    let (_, ok) = imp_cancel(&sb, &token, body).await;
    assert_eq!(ok["code"], 0, "{ok}");
    assert_eq!(ok["response"]["pay_method"], "vbank");
    assert_eq!(ok["response"]["status"], "paid");

    let smartro = sb.seed(
        SeedPayment::virtual_account("order-imp-smartro", 10_000)
            .provider(Provider::Iamport)
            .pg("smartro"),
    );
    let mut body = refund.clone();
    body["imp_uid"] = json!(smartro);
    assert_imp_failed(&imp_cancel(&sb, &token, body.clone()).await, "refund_tel");
    body["refund_tel"] = json!("01012345678");
    let (_, ok) = imp_cancel(&sb, &token, body).await;
    assert_eq!(ok["code"], 0, "{ok}");

    let unpaid = sb.seed(
        SeedPayment::virtual_account("order-imp-unpaid", 10_000)
            .provider(Provider::Iamport)
            .deposited(false),
    );
    let (_, p) = imp_get(&sb, &token, &format!("/payments/{unpaid}")).await;
    assert_eq!(p["response"]["status"], "ready");
    assert_imp_failed(
        &imp_cancel(&sb, &token, json!({"imp_uid": unpaid, "amount": 1000})).await,
        "not paid",
    );

    sb.set_now(utc(2025, 6, 30, 10, 0)); // 19:00 KST, June
    let phone = sb.seed(SeedPayment::mobile_phone("order-imp-phone", 3_000).provider(Provider::Iamport));
    sb.advance(Duration::from_secs(6 * 3600)); // 01:00 KST, July 1st
    let token = imp_access(&sb).await;
    assert_imp_failed(&imp_cancel(&sb, &token, json!({"imp_uid": phone})).await, "2025-06");
    assert_eq!(sb.cancels_applied(&phone), 0);
}

// ---------------------------------------------------------------- Toss

fn toss_auth() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("test_sk_sandbox:")
    )
}

async fn toss_get(sb: &Sandbox, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", sb.base_url_toss());
    read(
        client()
            .get(url)
            .header("authorization", toss_auth())
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn toss_cancel_raw(sb: &Sandbox, key: &str, body: &Value, idem: Option<&str>) -> (u16, String) {
    let url = format!("{}/v1/payments/{key}/cancel", sb.base_url_toss());
    let mut req = client().post(url).header("authorization", toss_auth()).json(body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await.expect("send");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

async fn toss_cancel(sb: &Sandbox, key: &str, body: Value) -> (u16, Value) {
    let (status, text) = toss_cancel_raw(sb, key, &body, None).await;
    (status, serde_json::from_str(&text).expect("JSON"))
}

fn assert_toss_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "status for {code}: {}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(got.1["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", got.1);
}

#[tokio::test]
async fn toss_partial_then_full_cancel_accumulates_cancels() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("order-toss-1", 10_000).provider(Provider::Toss));
    let (status, p) = toss_get(&sb, &format!("/v1/payments/{key}")).await;
    assert_eq!(status, 200);
    assert_eq!(p["status"], "DONE");
    assert_eq!(p["method"], "카드");
    assert!(p["cancels"].is_null());
    let (_, by_order) = toss_get(&sb, "/v1/payments/orders/order-toss-1").await;
    assert_eq!(by_order["paymentKey"], key);

    let (status, p) = toss_cancel(&sb, &key, json!({"cancelReason": "one", "cancelAmount": 1000})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status"], "PARTIAL_CANCELED");
    assert_eq!(p["balanceAmount"], 9000);
    assert_eq!(p["totalAmount"], 10000);
    let c = &p["cancels"][0];
    assert_eq!(c["cancelAmount"], 1000);
    assert_eq!(c["refundableAmount"], 9000);
    assert_eq!(c["cancelStatus"], "DONE");
    assert_eq!(c["cancelReason"], "one");
    assert_eq!(p["lastTransactionKey"], c["transactionKey"]);
    assert!(c["canceledAt"].as_str().is_some_and(|t| t.ends_with("+09:00")), "{c}");

    let (status, p) = toss_cancel(
        &sb,
        &key,
        json!({"cancelReason": "two", "cancelAmount": 1000, "refundableAmount": 9000}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["cancels"][1]["refundableAmount"], 8000);

    let (status, p) = toss_cancel(&sb, &key, json!({"cancelReason": "rest"})).await;
    assert_eq!(status, 200);
    assert_eq!(p["status"], "CANCELED");
    assert_eq!(p["balanceAmount"], 0);
    assert_eq!((p["vat"].clone(), p["suppliedAmount"].clone()), (json!(0), json!(0)));
    let cancels = p["cancels"].as_array().expect("cancels");
    assert_eq!(cancels.len(), 3);
    assert_eq!(cancels[2]["cancelAmount"], 8000);
    assert_eq!(cancels[2]["refundableAmount"], 0);
    assert_ne!(cancels[0]["transactionKey"], cancels[1]["transactionKey"]);
}

#[tokio::test]
async fn toss_refusals_use_toss_codes_and_statuses() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("order-toss-2", 10_000).provider(Provider::Toss));

    let r = toss_cancel(
        &sb,
        &key,
        json!({"cancelReason": "r", "cancelAmount": 1000, "refundableAmount": 9000}),
    )
    .await;
    assert_toss_error(&r, 400, "NOT_MATCHES_REFUNDABLE_AMOUNT");
    let r = toss_cancel(&sb, &key, json!({"cancelReason": "r", "cancelAmount": 10001})).await;
    assert_toss_error(&r, 403, "NOT_CANCELABLE_AMOUNT");
    let r = toss_cancel(&sb, &key, json!({"cancelAmount": 1000})).await;
    assert_toss_error(&r, 400, "INVALID_REQUEST");
    let r = toss_cancel(&sb, "no-such-key", json!({"cancelReason": "r"})).await;
    assert_toss_error(&r, 404, "NOT_FOUND_PAYMENT");
    let r = toss_get(&sb, "/v1/payments/no-such-key").await;
    assert_toss_error(&r, 404, "NOT_FOUND_PAYMENT");
    assert_eq!(sb.cancels_applied(&key), 0);

    let (status, _) = toss_cancel(&sb, &key, json!({"cancelReason": "all"})).await;
    assert_eq!(status, 200);
    let r = toss_cancel(&sb, &key, json!({"cancelReason": "again"})).await;
    assert_toss_error(&r, 400, "ALREADY_CANCELED_PAYMENT");
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn toss_wrong_key_is_unauthorized_key() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("order-toss-auth", 1_000).provider(Provider::Toss));
    let url = format!("{}/v1/payments/{key}", sb.base_url_toss());
    let b64 = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
    for auth in [
        b64("test_sk_other:"),
        b64("test_sk_sandbox"),
        "Bearer test_sk_sandbox".to_owned(),
    ] {
        let r = read(
            client()
                .get(&url)
                .header("authorization", auth)
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_toss_error(&r, 401, "UNAUTHORIZED_KEY");
    }
    let r = read(client().get(&url).send().await.expect("send")).await;
    assert_toss_error(&r, 401, "UNAUTHORIZED_KEY");
}

#[tokio::test]
async fn toss_virtual_account_rules() {
    let sb = Sandbox::start().await.expect("start");
    let waiting = sb.seed(
        SeedPayment::virtual_account("order-toss-va-1", 10_000)
            .provider(Provider::Toss)
            .deposited(false),
    );
    let (_, p) = toss_get(&sb, &format!("/v1/payments/{waiting}")).await;
    assert_eq!(p["status"], "WAITING_FOR_DEPOSIT");
    assert_eq!(p["method"], "가상계좌");
    let r = toss_cancel(&sb, &waiting, json!({"cancelReason": "r", "cancelAmount": 1000})).await;
    assert_toss_error(&r, 403, "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT");
    // A full cancel before deposit needs no refund account.
    let (status, p) = toss_cancel(&sb, &waiting, json!({"cancelReason": "r"})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status"], "CANCELED");

    let paid = sb.seed(SeedPayment::virtual_account("order-toss-va-2", 10_000).provider(Provider::Toss));
    let r = toss_cancel(&sb, &paid, json!({"cancelReason": "r", "cancelAmount": 3000})).await;
    assert_toss_error(&r, 400, "INVALID_REFUND_ACCOUNT_INFO");
    let bad_number = json!({"bank": "88", "accountNumber": "562-111", "holderName": "Hong"});
    let r = toss_cancel(
        &sb,
        &paid,
        json!({"cancelReason": "r", "refundReceiveAccount": bad_number}),
    )
    .await;
    assert_toss_error(&r, 400, "INVALID_REFUND_ACCOUNT_NUMBER");
    let account = json!({"bank": "88", "accountNumber": "56211105948400", "holderName": "Hong"});
    let (status, p) = toss_cancel(
        &sb,
        &paid,
        json!({"cancelReason": "r", "cancelAmount": 3000, "refundReceiveAccount": account}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status"], "PARTIAL_CANCELED");
    assert_eq!(p["balanceAmount"], 7000);
    assert_eq!(sb.cancels_applied(&paid), 1);
}

#[tokio::test]
async fn toss_phone_payment_refused_after_its_month() {
    let sb = Sandbox::builder()
        .now(utc(2025, 2, 10, 3, 0))
        .start()
        .await
        .expect("start");
    let key = sb.seed(SeedPayment::mobile_phone("order-toss-phone", 5_000).provider(Provider::Toss));
    let (status, _) = toss_cancel(&sb, &key, json!({"cancelReason": "r", "cancelAmount": 1000})).await;
    assert_eq!(status, 200);
    sb.set_now(utc(2025, 3, 1, 0, 0));
    let r = toss_cancel(&sb, &key, json!({"cancelReason": "r"})).await;
    assert_toss_error(&r, 403, "NOT_CANCELABLE_PAYMENT");
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn toss_idempotency_key_replays_the_first_answer_and_applies_once() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("order-toss-idem", 10_000).provider(Provider::Toss));
    let body = json!({"cancelReason": "r", "cancelAmount": 2500});

    let first = toss_cancel_raw(&sb, &key, &body, Some("idem-1")).await;
    let second = toss_cancel_raw(&sb, &key, &body, Some("idem-1")).await;
    assert_eq!(first.0, 200);
    assert_eq!(first, second, "a replay gets the first answer byte for byte");
    assert_eq!(sb.cancels_applied(&key), 1);
    assert_eq!(sb.balance(&key), Some(7500));

    // The first answer wins even when it was a refusal and the replay would now succeed.
    let refused = toss_cancel_raw(
        &sb,
        &key,
        &json!({"cancelReason": "r", "cancelAmount": 99999}),
        Some("idem-2"),
    )
    .await;
    assert_eq!(refused.0, 403);
    let replay = toss_cancel_raw(
        &sb,
        &key,
        &json!({"cancelReason": "r", "cancelAmount": 100}),
        Some("idem-2"),
    )
    .await;
    assert_eq!(replay, refused);
    assert_eq!(sb.cancels_applied(&key), 1);

    let (status, _) = toss_cancel_raw(&sb, &key, &body, Some("idem-3")).await;
    assert_eq!(status, 200, "a new key is a new cancel");
    assert_eq!(sb.cancels_applied(&key), 2);

    let too_long = "k".repeat(301);
    let (status, text) = toss_cancel_raw(&sb, &key, &body, Some(&too_long)).await;
    assert_eq!(status, 400);
    assert!(text.contains("INVALID_IDEMPOTENCY_KEY"), "{text}");
}

// ---------------------------------------------------------------- faults, log, binary

#[tokio::test]
async fn fault_status_answers_without_applying() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("order-fault-503", 10_000).provider(Provider::Toss));
    sb.faults().next(Fault::Status(503));
    let (status, body) = toss_cancel(&sb, &key, json!({"cancelReason": "r"})).await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "SANDBOX_INJECTED_FAULT");
    assert_eq!(sb.cancels_applied(&key), 0);
    assert_eq!(sb.faults().pending(), 0);
    let (status, _) = toss_cancel(&sb, &key, json!({"cancelReason": "r"})).await;
    assert_eq!(status, 200, "only the next request was faulted");
}

#[tokio::test]
async fn fault_delay_applies_then_answers_late() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(SeedPayment::card("order-fault-delay", 10_000));
    sb.faults().next(Fault::Delay(Duration::from_millis(400)));
    let started = Instant::now();
    let (status, _) = v2_get(&sb, &id).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "answered after {:?}",
        started.elapsed()
    );

    // A client that gives up first still had its cancel applied: the "unknown outcome" case.
    sb.faults().next(Fault::Delay(Duration::from_secs(2)));
    let url = format!("{}/payments/{id}/cancel", sb.base_url_portone_v2());
    let err = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client")
        .post(url)
        .header("authorization", V2_AUTH)
        .json(&json!({"reason": "r", "amount": 1000}))
        .send()
        .await
        .expect_err("client times out");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(sb.cancels_applied(&id), 1);
}

#[tokio::test]
async fn fault_drop_connection_is_a_transport_error_after_applying() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let imp_uid = sb.seed(SeedPayment::card("order-fault-drop", 10_000).provider(Provider::Iamport));
    sb.faults().add(
        FaultRule::new(Fault::DropConnection)
            .provider(Provider::Iamport)
            .path_contains("/cancel"),
    );
    // Not a cancel: passes untouched.
    let (status, _) = imp_get(&sb, &token, &format!("/payments/{imp_uid}")).await;
    assert_eq!(status, 200);
    assert_eq!(sb.faults().pending(), 1);

    let url = format!("{}/payments/cancel", sb.base_url_iamport());
    let err = client()
        .post(url)
        .bearer_auth(&token)
        .json(&json!({"imp_uid": imp_uid, "amount": 1000}))
        .send()
        .await
        .expect_err("no response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(
        sb.cancels_applied(&imp_uid),
        1,
        "the cancel happened; only its answer was lost"
    );
}

#[tokio::test]
async fn fault_truncated_body_sends_less_than_its_content_length() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("order-fault-trunc", 10_000).provider(Provider::Toss));
    sb.faults().add(
        FaultRule::new(Fault::TruncatedBody)
            .provider(Provider::Toss)
            .method(http::Method::GET),
    );
    let url = format!("{}/v1/payments/{key}", sb.base_url_toss());
    let resp = client()
        .get(url)
        .header("authorization", toss_auth())
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(resp.status().as_u16(), 200);
    let declared = resp.content_length().expect("content-length");
    match resp.bytes().await {
        Err(e) => assert!(e.is_body() || e.is_decode() || e.is_request(), "{e:?}"),
        Ok(b) => {
            assert!((b.len() as u64) < declared, "got {} of {declared}", b.len());
            assert!(serde_json::from_slice::<Value>(&b).is_err());
        }
    }
}

#[tokio::test]
async fn request_log_records_method_path_and_provider() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("order-log", 1_000).provider(Provider::Toss));
    let _ = toss_get(&sb, &format!("/v1/payments/{key}")).await;
    let _ = imp_token(&sb).await;
    let log = sb.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.clone(), log[0].provider),
        ("GET", format!("/v1/payments/{key}"), Some(Provider::Toss))
    );
    assert_eq!(
        (log[1].method.as_str(), log[1].path.as_str(), log[1].provider),
        ("POST", "/users/getToken", Some(Provider::Iamport))
    );
}

#[test]
fn seed_file_errors_name_the_problem() {
    let ok = kr_payments::sandbox::parse_seed_file(r#"{"payments": [{"orderId": "a", "amount": 1}]}"#).expect("valid");
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].for_provider(), Provider::PortOneV2);
    let err = kr_payments::sandbox::parse_seed_file(r#"[{"orderId": "a", "amount": 1, "provider": "paypal"}]"#)
        .expect_err("unknown provider");
    assert!(err.to_string().contains("paypal"), "{err}");
    let err = kr_payments::sandbox::parse_seed_file(r#"[{"amount": 1}]"#).expect_err("missing orderId");
    assert!(err.to_string().contains("orderId"), "{err}");
}

#[tokio::test]
async fn binary_serves_seeded_payments() {
    use std::io::BufRead as _;
    let dir = std::env::temp_dir().join(format!("kr-payments-sandbox-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"[{"provider": "toss", "orderId": "bin-order-1", "amount": 12000, "id": "bin-key-1"},
            {"provider": "iamport", "method": "virtual-account", "orderId": "bin-order-2", "amount": 5000}]"#,
    )
    .expect("write seed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kr-payments-sandbox"))
        .args(["--port", "0", "--seed"])
        .arg(&seed)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn binary");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut toss_base = None;
    let mut toss_origin = None;
    let mut seeded = Vec::new();
    while seeded.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("binary prints its URLs");
        if let Some(url) = line.strip_prefix("toss ") {
            toss_base = Some(url.to_owned());
        }
        if let Some(url) = line.strip_prefix("origin toss ") {
            toss_origin = Some(url.to_owned());
        }
        if line.starts_with("seeded ") {
            seeded.push(line);
        }
    }
    assert_eq!(seeded[0], "seeded toss bin-order-1 bin-key-1");
    assert!(
        seeded[1].starts_with("seeded iamport bin-order-2 imp_"),
        "{}",
        seeded[1]
    );
    let toss_base = toss_base.expect("toss URL printed");
    let toss_origin = toss_origin.expect("toss origin printed");
    let got = client()
        .get(format!("{toss_base}/v1/payments/bin-key-1"))
        .header("authorization", toss_auth())
        .send()
        .await;
    let at_origin = client()
        .get(format!("{toss_origin}/v1/payments/bin-key-1"))
        .header("authorization", toss_auth())
        .send()
        .await;
    // The binary has Toss's one-cancel-per-second rule on: the second of two quick cancels is refused.
    let cancel = |n: u32| {
        client()
            .post(format!("{toss_origin}/v1/payments/bin-key-1/cancel"))
            .header("authorization", toss_auth())
            .json(&json!({"cancelReason": format!("r{n}"), "cancelAmount": 100}))
            .send()
    };
    let first_cancel = cancel(1).await.map(|r| r.status().as_u16());
    let second_cancel = cancel(2).await.map(|r| r.status().as_u16());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (status, p) = read(got.expect("request to the binary")).await;
    assert_eq!(status, 200);
    assert_eq!(p["orderId"], "bin-order-1");
    assert_eq!(p["totalAmount"], 12000);
    let (status, q) = read(at_origin.expect("request to the binary's Toss origin")).await;
    assert_eq!((status, q), (200, p));
    assert_eq!(first_cancel.expect("answer"), 200);
    assert_eq!(second_cancel.expect("answer"), 403);
}

#[tokio::test]
async fn shutdown_and_drop_stop_serving() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Sandbox>();

    let sb = Sandbox::builder().port(0).start().await.expect("start");
    let url = format!("{}/payments/x", sb.base_url_portone_v2());
    assert_eq!(client().get(&url).send().await.expect("served").status().as_u16(), 401);
    sb.shutdown().await;
    assert!(
        client().get(&url).send().await.is_err(),
        "nothing listens after shutdown"
    );

    let sb = Sandbox::start().await.expect("start");
    let url = format!("{}/v1/payments/x", sb.base_url_toss());
    drop(sb);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(client().get(&url).send().await.is_err(), "nothing listens after drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guarded_cancels_apply_once() {
    let sb = std::sync::Arc::new(Sandbox::start().await.expect("start"));
    let id = sb.seed(SeedPayment::card("order-race", 10_000));
    let key = sb.seed(SeedPayment::card("order-race-toss", 10_000).provider(Provider::Toss));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (sb, id, key) = (sb.clone(), id.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let v2 = v2_cancel(
                &sb,
                &id,
                json!({"reason": "r", "amount": 1000, "currentCancellableAmount": 10000}),
            )
            .await;
            let body = json!({"cancelReason": "r", "cancelAmount": 1000});
            let toss = toss_cancel_raw(&sb, &key, &body, Some("same-key")).await;
            (v2.0, toss.0)
        }));
    }
    let mut v2_statuses = Vec::new();
    for t in tasks {
        let (v2, toss) = t.await.expect("task");
        v2_statuses.push(v2);
        assert!(toss == 200 || toss == 409, "Toss answered {toss}");
    }
    assert_eq!(v2_statuses.iter().filter(|s| **s == 200).count(), 1, "{v2_statuses:?}");
    assert_eq!(v2_statuses.iter().filter(|s| **s == 409).count(), 7, "{v2_statuses:?}");
    assert_eq!(sb.cancels_applied(&id), 1);
    assert_eq!(sb.cancels_applied(&key), 1);
}

// ---------------------------------------------------------------- faults after apply, idempotency, ledger view

const ALL: [Provider; 3] = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];

/// A partial cancel of 1,000 on `provider`, sent raw with `http`, so the test sees exactly what came back.
async fn send_partial(
    sb: &Sandbox,
    http: &reqwest::Client,
    provider: Provider,
    id: &str,
    imp_token: &str,
    idem: Option<&str>,
) -> Result<reqwest::Response, reqwest::Error> {
    let req = match provider {
        Provider::PortOneV2 => http
            .post(format!("{}/payments/{id}/cancel", sb.base_url_portone_v2()))
            .header("authorization", V2_AUTH)
            .json(&json!({"reason": "r", "amount": 1000})),
        Provider::Iamport => http
            .post(format!("{}/payments/cancel", sb.base_url_iamport()))
            .bearer_auth(imp_token)
            .json(&json!({"imp_uid": id, "amount": 1000, "reason": "r"})),
        _ => http
            .post(format!("{}/v1/payments/{id}/cancel", sb.base_url_toss()))
            .header("authorization", toss_auth())
            .json(&json!({"cancelReason": "r", "cancelAmount": 1000})),
    };
    let req = match idem {
        Some(k) => req.header("Idempotency-Key", k),
        None => req,
    };
    req.send().await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn seed_each(sb: &Sandbox, tag: &str) -> Vec<(Provider, String)> {
    ALL.iter()
        .map(|p| {
            (
                *p,
                sb.seed(SeedPayment::card(format!("{tag}-{}", p.as_str()), 10_000).provider(*p)),
            )
        })
        .collect()
}

#[tokio::test]
async fn fault_status_after_apply_applies_once_and_answers_in_the_provider_format() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    for status in [401u16, 429, 500, 502, 503] {
        for (provider, id) in seed_each(&sb, &format!("after-{status}")).await {
            sb.faults().add(
                FaultRule::new(Fault::StatusAfterApply(status))
                    .provider(provider)
                    .path_contains("/cancel"),
            );
            let resp = send_partial(&sb, &client(), provider, &id, &token, None)
                .await
                .expect("answer");
            let (got, body) = read(resp).await;
            assert_eq!(got, status, "{provider}: {body}");
            match provider {
                Provider::PortOneV2 => {
                    let expected = match status {
                        401 => "UNAUTHORIZED",
                        502 => "PG_PROVIDER",
                        _ => "SANDBOX_INJECTED_FAULT",
                    };
                    assert_eq!(body["type"], expected, "{body}");
                    if status == 502 {
                        assert!(body["pgCode"].is_string() && body["pgMessage"].is_string(), "{body}");
                    }
                }
                Provider::Iamport => {
                    assert_eq!(body["code"], -1, "{body}");
                    assert!(body["response"].is_null(), "{body}");
                }
                _ => {
                    let expected = match status {
                        401 => "UNAUTHORIZED_KEY",
                        500 => "FAILED_INTERNAL_SYSTEM_PROCESSING",
                        _ => "SANDBOX_INJECTED_FAULT",
                    };
                    assert_eq!(body["code"], expected, "{body}");
                }
            }
            assert_eq!(sb.cancels_applied(&id), 1, "{provider} {status}: applied exactly once");
            assert_eq!(sb.balance(&id), Some(9_000), "{provider} {status}");
        }
    }
    assert_eq!(sb.faults().pending(), 0);
}

#[tokio::test]
async fn fault_redirect_after_apply_reaches_the_client_and_applies_once() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    for status in [301u16, 302, 303, 307, 308] {
        for (provider, id) in seed_each(&sb, &format!("redirect-{status}")).await {
            let location = format!("http://127.0.0.1:9/elsewhere/{status}");
            sb.faults().add(
                FaultRule::new(Fault::RedirectAfterApply {
                    status,
                    location: location.clone(),
                })
                .provider(provider)
                .method(http::Method::POST),
            );
            let resp = send_partial(&sb, &no_redirects(), provider, &id, &token, None)
                .await
                .expect("answer");
            assert_eq!(resp.status().as_u16(), status, "{provider}");
            assert_eq!(
                resp.headers().get("location").and_then(|v| v.to_str().ok()),
                Some(location.as_str()),
                "{provider}"
            );
            assert_eq!(sb.cancels_applied(&id), 1, "{provider} {status}: applied exactly once");
        }
    }
}

#[tokio::test]
async fn fault_html_after_apply_is_an_html_page_and_applies_once() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    for (provider, id) in seed_each(&sb, "html").await {
        sb.faults().add(
            FaultRule::new(Fault::HtmlAfterApply(502))
                .provider(provider)
                .path_contains("/cancel"),
        );
        let resp = send_partial(&sb, &client(), provider, &id, &token, None)
            .await
            .expect("answer");
        assert_eq!(resp.status().as_u16(), 502);
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(ct.starts_with("text/html"), "{ct}");
        let text = resp.text().await.expect("body");
        assert!(
            text.contains("<html>") && serde_json::from_str::<Value>(&text).is_err(),
            "{text}"
        );
        assert_eq!(sb.cancels_applied(&id), 1, "{provider}");
    }
}

#[tokio::test]
async fn fault_drop_before_apply_resets_and_applies_nothing() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    for (provider, id) in seed_each(&sb, "drop-before").await {
        sb.faults().add(
            FaultRule::new(Fault::DropBeforeApply)
                .provider(provider)
                .path_contains("/cancel"),
        );
        let err = send_partial(&sb, &client(), provider, &id, &token, None)
            .await
            .expect_err("no answer");
        assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
        assert_eq!(sb.cancels_applied(&id), 0, "{provider}: nothing applied");
        assert_eq!(sb.balance(&id), Some(10_000));
        // The next request goes through.
        let resp = send_partial(&sb, &client(), provider, &id, &token, None)
            .await
            .expect("answer");
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(sb.cancels_applied(&id), 1, "{provider}");
    }
}

/// Polls the ledger until the payment shows `n` cancels or a generous deadline passes.
async fn wait_applied(sb: &Sandbox, id: &str, n: usize) -> usize {
    for _ in 0..200 {
        if sb.cancels_applied(id) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sb.cancels_applied(id)
}

#[tokio::test]
async fn a_client_that_disconnects_never_stops_the_apply() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .expect("client");
    for fault in [
        Fault::Processing(Duration::from_millis(600)),
        Fault::Delay(Duration::from_millis(600)),
    ] {
        for (provider, id) in seed_each(&sb, &format!("disconnect-{fault:?}")).await {
            sb.faults().add(
                FaultRule::new(fault.clone())
                    .provider(provider)
                    .path_contains("/cancel"),
            );
            let err = send_partial(&sb, &impatient, provider, &id, &token, None)
                .await
                .expect_err("the client gives up first");
            assert!(err.is_timeout(), "{err:?}");
            assert_eq!(
                wait_applied(&sb, &id, 1).await,
                1,
                "{provider} {fault:?}: applied once although nobody waited"
            );
        }
    }
}

#[tokio::test]
async fn processing_holds_the_key_outstanding_then_replays_the_answer() {
    let sb = std::sync::Arc::new(Sandbox::start().await.expect("start"));
    for (provider, id, key, code) in [
        (
            Provider::PortOneV2,
            sb.seed(SeedPayment::card("processing-v2", 10_000)),
            "\"processing-key-0001-v2\"",
            "IDEMPOTENCY_OUTSTANDING_REQUEST",
        ),
        (
            Provider::Toss,
            sb.seed(SeedPayment::card("processing-toss", 10_000).provider(Provider::Toss)),
            "processing-key-0001-toss",
            "IDEMPOTENT_REQUEST_PROCESSING",
        ),
    ] {
        sb.faults().add(
            FaultRule::new(Fault::Processing(Duration::from_secs(2)))
                .provider(provider)
                .path_contains("/cancel"),
        );
        let logged = sb.requests().len();
        let first = {
            let (sb, id) = (sb.clone(), id.clone());
            tokio::spawn(async move {
                let resp = send_partial(&sb, &client(), provider, &id, "", Some(key))
                    .await
                    .expect("answer");
                (resp.status().as_u16(), resp.text().await.expect("body"))
            })
        };
        while sb.requests().len() == logged {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let resp = send_partial(&sb, &client(), provider, &id, "", Some(key))
            .await
            .expect("answer");
        let outstanding = read(resp).await;
        assert_eq!(outstanding.0, 409, "{provider}: {}", outstanding.1);
        let field = if provider == Provider::PortOneV2 {
            "type"
        } else {
            "code"
        };
        assert_eq!(outstanding.1[field], code, "{}", outstanding.1);
        assert_eq!(sb.cancels_applied(&id), 0, "{provider}: still in flight");

        let first = first.await.expect("first request");
        assert_eq!(first.0, 200, "{provider}: {}", first.1);
        let resp = send_partial(&sb, &client(), provider, &id, "", Some(key))
            .await
            .expect("answer");
        let replay = (resp.status().as_u16(), resp.text().await.expect("body"));
        assert_eq!(
            replay, first,
            "{provider}: the finished answer is replayed byte for byte"
        );
        assert_eq!(sb.cancels_applied(&id), 1, "{provider}: applied once");
    }
}

#[tokio::test]
async fn after_apply_faults_honour_the_rule_filters() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let key = sb.seed(SeedPayment::card("filters-toss", 10_000).provider(Provider::Toss));
    let v2 = sb.seed(SeedPayment::card("filters-v2", 10_000));
    sb.faults().add(
        FaultRule::new(Fault::StatusAfterApply(500))
            .provider(Provider::Toss)
            .method(http::Method::POST)
            .path_contains("/cancel")
            .times(2),
    );
    // Another method, another provider: untouched.
    assert_eq!(toss_get(&sb, &format!("/v1/payments/{key}")).await.0, 200);
    let resp = send_partial(&sb, &client(), Provider::PortOneV2, &v2, &token, None)
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(sb.faults().pending(), 2);
    for _ in 0..2 {
        let resp = send_partial(&sb, &client(), Provider::Toss, &key, &token, None)
            .await
            .expect("answer");
        assert_eq!(resp.status().as_u16(), 500);
    }
    let resp = send_partial(&sb, &client(), Provider::Toss, &key, &token, None)
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 200, "the rule was used up");
    assert_eq!(
        sb.cancels_applied(&key),
        3,
        "every faulted cancel was applied before its answer was spoiled"
    );
    assert_eq!(sb.faults().pending(), 0);
}

async fn v2_cancel_keyed(sb: &Sandbox, id: &str, auth: &str, key: &str, body: &Value) -> (u16, String) {
    let resp = client()
        .post(format!("{}/payments/{id}/cancel", sb.base_url_portone_v2()))
        .header("authorization", auth)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("send");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

#[tokio::test]
async fn v2_idempotency_key_replays_a_finished_request_within_its_scope() {
    let sb = Sandbox::start().await.expect("start");
    let a = sb.seed(SeedPayment::card("v2-idem-a", 10_000));
    let b = sb.seed(SeedPayment::card("v2-idem-b", 10_000));
    let key = "\"refund-0001-abcdefgh\"";
    let body = json!({"reason": "r", "amount": 3000});
    let first = v2_cancel_keyed(&sb, &a, V2_AUTH, key, &body).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let replay = v2_cancel_keyed(&sb, &a, V2_AUTH, key, &body).await;
    assert_eq!(replay, first, "same status and body");
    assert_eq!(sb.cancels_applied(&a), 1);

    // A refusal is an answer too, and is replayed as such.
    let refused = v2_cancel_keyed(
        &sb,
        &a,
        V2_AUTH,
        "\"refund-0002-abcdefgh\"",
        &json!({"reason": "r", "amount": 99_999}),
    )
    .await;
    assert_eq!(refused.0, 409);
    let again = v2_cancel_keyed(
        &sb,
        &a,
        V2_AUTH,
        "\"refund-0002-abcdefgh\"",
        &json!({"reason": "r", "amount": 1}),
    )
    .await;
    assert_eq!(again, refused);
    assert_eq!(sb.cancels_applied(&a), 1);

    // Same key on another payment's path: its own request.
    let other = v2_cancel_keyed(&sb, &b, V2_AUTH, key, &body).await;
    assert_eq!(other.0, 200, "{}", other.1);
    assert_ne!(other.1, first.1);
    assert_eq!(sb.cancels_applied(&b), 1);
    // Same key with another credential: not the stored answer.
    let (status, text) = v2_cancel_keyed(&sb, &a, "PortOne wrong", key, &body).await;
    assert_eq!(status, 401, "{text}");
    // A GET ignores the header.
    let resp = client()
        .get(format!("{}/payments/{a}", sb.base_url_portone_v2()))
        .header("authorization", V2_AUTH)
        .header("Idempotency-Key", "not even quoted")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);

    // Without the header, two identical unguarded cancels are two cancels, as before.
    for _ in 0..2 {
        assert_eq!(v2_cancel(&sb, &b, json!({"reason": "r", "amount": 1000})).await.0, 200);
    }
    assert_eq!(sb.cancels_applied(&b), 3);
}

#[tokio::test]
async fn v2_idempotency_key_must_be_a_quoted_string_of_16_to_256_characters() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(SeedPayment::card("v2-idem-format", 10_000));
    let body = json!({"reason": "r", "amount": 100});
    let too_long = format!("\"{}\"", "k".repeat(257));
    for bad in [
        "refund-0001-abcdefgh",         // not an sf-string
        "\"refund-0001-abcd\"x",        // text after the closing quote
        "\"short-key-15chr\"",          // 15 characters
        too_long.as_str(),              // 257 characters
        "\"refund 0001 abcdefgh\"",     // spaces
        "\"refund:0001:abcdefgh\"",     // a character outside A-Z a-z 0-9 - _
        "\"refund-0001-abc\\\"defgh\"", // an escaped quote inside
        "\"",
    ] {
        let (status, text) = v2_cancel_keyed(&sb, &id, V2_AUTH, bad, &body).await;
        assert_eq!(status, 400, "{bad}: {text}");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["type"], "INVALID_REQUEST", "{bad}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains("Idempotency-Key")),
            "{v}"
        );
    }
    assert_eq!(sb.cancels_applied(&id), 0, "no refused key applied anything");
    let longest = format!("\"{}\"", "k".repeat(256));
    for good in ["\"exactly-16-chars\"", longest.as_str(), " \"spaces_around_ok_1\" "] {
        let (status, text) = v2_cancel_keyed(&sb, &id, V2_AUTH, good, &body).await;
        assert_eq!(status, 200, "{good}: {text}");
    }
    assert_eq!(sb.cancels_applied(&id), 3);
}

#[tokio::test]
async fn idempotency_keys_expire_by_the_sandbox_clock() {
    let start = utc(2025, 3, 3, 10, 0);
    let sb = Sandbox::builder().now(start).start().await.expect("start");
    let id = sb.seed(SeedPayment::card("v2-idem-ttl", 10_000));
    let key = sb.seed(SeedPayment::card("toss-idem-ttl", 10_000).provider(Provider::Toss));
    let v2_key = "\"ttl-key-0001-abcdefgh\"";
    let body = json!({"reason": "r", "amount": 1000});
    let toss_body = json!({"cancelReason": "r", "cancelAmount": 1000});
    assert_eq!(v2_cancel_keyed(&sb, &id, V2_AUTH, v2_key, &body).await.0, 200);
    assert_eq!(toss_cancel_raw(&sb, &key, &toss_body, Some("ttl-toss")).await.0, 200);

    sb.advance(Duration::from_secs(3 * 3600 - 1));
    assert_eq!(v2_cancel_keyed(&sb, &id, V2_AUTH, v2_key, &body).await.0, 200);
    assert_eq!(sb.cancels_applied(&id), 1, "PortOne V2 keeps a key 3 hours");
    sb.advance(Duration::from_secs(1));
    assert_eq!(v2_cancel_keyed(&sb, &id, V2_AUTH, v2_key, &body).await.0, 200);
    assert_eq!(sb.cancels_applied(&id), 2, "after 3 hours the key is new again");

    sb.set_now(start + chrono::TimeDelta::days(15) - chrono::TimeDelta::seconds(1));
    assert_eq!(toss_cancel_raw(&sb, &key, &toss_body, Some("ttl-toss")).await.0, 200);
    assert_eq!(sb.cancels_applied(&key), 1, "Toss keeps a key 15 days");
    sb.advance(Duration::from_secs(1));
    assert_eq!(toss_cancel_raw(&sb, &key, &toss_body, Some("ttl-toss")).await.0, 200);
    assert_eq!(sb.cancels_applied(&key), 2);
}

#[tokio::test]
async fn toss_idempotency_key_reused_on_another_payment_is_its_own_request() {
    let sb = Sandbox::start().await.expect("start");
    let a = sb.seed(SeedPayment::card("toss-scope-a", 10_000).provider(Provider::Toss));
    let b = sb.seed(SeedPayment::card("toss-scope-b", 10_000).provider(Provider::Toss));
    let body = json!({"cancelReason": "r", "cancelAmount": 2000});
    let first = toss_cancel_raw(&sb, &a, &body, Some("shared-key")).await;
    assert_eq!(first.0, 200);
    let other = toss_cancel_raw(&sb, &b, &body, Some("shared-key")).await;
    assert_eq!(other.0, 200, "{}", other.1);
    let other: Value = serde_json::from_str(&other.1).expect("JSON");
    assert_eq!(
        other["paymentKey"],
        b.as_str(),
        "the answer is about the payment asked for"
    );
    assert_eq!(sb.balance(&b), Some(8_000), "the second payment was refunded");
    assert_eq!((sb.cancels_applied(&a), sb.cancels_applied(&b)), (1, 1));
}

#[tokio::test]
async fn toss_processes_only_the_first_of_two_cancels_within_a_second() {
    let start = utc(2025, 3, 3, 10, 0);
    let sb = Sandbox::builder()
        .now(start)
        .toss_cancel_interval(Some(kr_payments::sandbox::TOSS_CANCEL_INTERVAL))
        .start()
        .await
        .expect("start");
    let key = sb.seed(SeedPayment::card("toss-consecutive", 10_000).provider(Provider::Toss));
    let body = json!({"cancelReason": "r", "cancelAmount": 1000});
    let first = toss_cancel_raw(&sb, &key, &body, Some("consecutive-1")).await;
    assert_eq!(first.0, 200);

    let second = toss_cancel_raw(&sb, &key, &body, Some("consecutive-2")).await;
    let second = (second.0, serde_json::from_str::<Value>(&second.1).expect("JSON"));
    assert_toss_error(&second, 403, "FORBIDDEN_CONSECUTIVE_REQUEST");
    assert_eq!(sb.cancels_applied(&key), 1, "the second was not processed");
    // A replay of the finished first request is answered from the store, not counted as a cancel.
    assert_eq!(toss_cancel_raw(&sb, &key, &body, Some("consecutive-1")).await, first);

    sb.advance(Duration::from_millis(999));
    let third = toss_cancel(&sb, &key, body.clone()).await;
    assert_toss_error(&third, 403, "FORBIDDEN_CONSECUTIVE_REQUEST");
    sb.advance(Duration::from_millis(1));
    // The refused key was never used: retried after the window, it is processed.
    let retried = toss_cancel_raw(&sb, &key, &body, Some("consecutive-2")).await;
    assert_eq!(retried.0, 200, "{}", retried.1);
    assert_eq!(sb.cancels_applied(&key), 2);
    // Another payment is not affected by this one's window.
    let other = sb.seed(SeedPayment::card("toss-consecutive-other", 10_000).provider(Provider::Toss));
    assert_eq!(toss_cancel(&sb, &other, body.clone()).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toss_concurrent_cancels_of_one_payment_within_a_second_apply_once() {
    let sb = std::sync::Arc::new(
        Sandbox::builder()
            .now(utc(2025, 3, 3, 10, 0))
            .toss_cancel_interval(Some(kr_payments::sandbox::TOSS_CANCEL_INTERVAL))
            .start()
            .await
            .expect("start"),
    );
    let key = sb.seed(SeedPayment::card("toss-consecutive-race", 10_000).provider(Provider::Toss));
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (sb, key) = (sb.clone(), key.clone());
            tokio::spawn(async move {
                let body = json!({"cancelReason": "r", "cancelAmount": 1000});
                toss_cancel_raw(&sb, &key, &body, Some(&format!("race-{i}"))).await.0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 403, 403, 403, 403, 403]);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn the_ledger_lists_each_applied_cancel_with_the_ids_the_apis_report() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let v2 = sb.seed(SeedPayment::card("ledger-v2", 10_000));
    let imp = sb.seed(SeedPayment::card("ledger-imp", 10_000).provider(Provider::Iamport));
    let toss = sb.seed(SeedPayment::card("ledger-toss", 10_000).provider(Provider::Toss));
    assert!(sb.cancels(&v2).is_empty());

    let (_, body) = v2_cancel(&sb, &v2, json!({"reason": "size", "amount": 3000})).await;
    let c = &sb.cancels(&v2)[0];
    assert_eq!((c.amount, c.reason.as_str(), c.balance_after), (3000, "size", 7000));
    assert_eq!(body["cancellation"]["id"], c.cancellation_id.as_str());
    assert_eq!(body["cancellation"]["pgCancellationId"], c.pg_cancellation_id.as_str());
    assert!(c.cancelled_at.is_some());

    let (_, body) = imp_cancel(&sb, &token, json!({"imp_uid": imp, "amount": 2500, "reason": "color"})).await;
    let c = &sb.cancels(&imp)[0];
    assert_eq!((c.amount, c.reason.as_str()), (2500, "color"));
    assert_eq!(
        body["response"]["cancel_history"][0]["cancellation_id"],
        c.cancellation_id.as_str()
    );
    assert_eq!(
        body["response"]["cancel_history"][0]["pg_tid"],
        c.pg_cancellation_id.as_str()
    );

    let (_, body) = toss_cancel(&sb, &toss, json!({"cancelReason": "one", "cancelAmount": 1000})).await;
    let (_, body2) = toss_cancel(&sb, &toss, json!({"cancelReason": "two", "cancelAmount": 500})).await;
    let cancels = sb.cancels(&toss);
    assert_eq!(cancels.len(), 2);
    assert_eq!(
        body["cancels"][0]["transactionKey"],
        cancels[0].transaction_key.as_str()
    );
    assert_eq!(
        body2["cancels"][1]["transactionKey"],
        cancels[1].transaction_key.as_str()
    );
    assert_eq!((cancels[1].amount, cancels[1].balance_after), (500, 8500));

    let p = sb.payment(&toss).expect("payment");
    assert_eq!(
        (p.provider, p.total, p.balance, p.cancels.len()),
        (Provider::Toss, 10_000, 8_500, 2)
    );
    assert_eq!(p.order_id, "ledger-toss");
    assert!(sb.payment("no-such-payment").is_none());
}

// ---------------------------------------------------------------- origins, error formats, the surface

/// `host:port` of a base URL.
fn authority(url: &str) -> String {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Sends raw bytes (any path, any header) on a fresh connection and reads the answer: status and
/// body. `None` when the connection gave no HTTP answer at all.
async fn raw_http(addr: &str, request: &[u8]) -> Option<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    // A server that answers before reading everything may close the socket under the write.
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let read = tokio::time::timeout_at(deadline, s.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) if !buf.is_empty() => break,
            Ok(Err(_)) => return None,
        }
        if let Some(parsed) = parse_http(&buf) {
            return Some(parsed);
        }
    }
    parse_http(&buf)
}

fn parse_http(buf: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    if status == 100 {
        return parse_http(&buf[end + 4..]);
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let body = buf.get(end + 4..end + 4 + len)?;
    Some((status, body.to_vec()))
}

/// The body is the provider's error format: PortOne V2 `{type, message}`, Toss `{code, message}`,
/// iamport `{code: -1, message, response: null}`.
fn assert_provider_error(provider: Provider, status: u16, body: &[u8], context: &str) {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{context}: {status} body is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    let ok = match provider {
        Provider::PortOneV2 => v["type"].is_string(),
        Provider::Iamport => v["code"].is_i64() && v.get("response").is_some(),
        _ => v["code"].is_string(),
    };
    assert!(
        ok && v["message"].is_string(),
        "{context}: {status} {v} is not in {provider}'s format"
    );
}

/// The two ways to reach each provider: below its prefix, and at the root of its own origin.
fn mouths(sb: &Sandbox) -> Vec<(Provider, String)> {
    vec![
        (Provider::PortOneV2, sb.base_url_portone_v2()),
        (Provider::Iamport, sb.base_url_iamport()),
        (Provider::Toss, sb.base_url_toss()),
        (Provider::PortOneV2, sb.origin(Provider::PortOneV2)),
        (Provider::Iamport, sb.origin(Provider::Iamport)),
        (Provider::Toss, sb.origin(Provider::Toss)),
    ]
}

fn auth_for(provider: Provider, imp_token: &str) -> String {
    match provider {
        Provider::PortOneV2 => V2_AUTH.to_owned(),
        Provider::Iamport => format!("Bearer {imp_token}"),
        _ => toss_auth(),
    }
}

#[tokio::test]
async fn each_provider_answers_at_the_root_of_its_own_origin() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let v2 = sb.seed(SeedPayment::card("origin-v2", 10_000));
    let imp = sb.seed(SeedPayment::card("origin-imp", 10_000).provider(Provider::Iamport));
    let toss = sb.seed(SeedPayment::card("origin-toss", 10_000).provider(Provider::Toss));
    for (provider, path) in [
        (Provider::PortOneV2, format!("/payments/{v2}")),
        (Provider::Iamport, format!("/payments/{imp}")),
        (Provider::Toss, format!("/v1/payments/{toss}")),
    ] {
        let origin = sb.origin(provider);
        assert!(
            !origin.trim_start_matches("http://").contains('/'),
            "an origin has no path: {origin}"
        );
        assert_ne!(authority(&origin), authority(&sb.base_url()));
        let get = |base: String| {
            let auth = auth_for(provider, &token);
            let path = path.clone();
            async move {
                read(
                    client()
                        .get(format!("{base}{path}"))
                        .header("authorization", auth)
                        .send()
                        .await
                        .expect("send"),
                )
                .await
            }
        };
        let at_root = get(origin.clone()).await;
        let prefixed = get(match provider {
            Provider::PortOneV2 => sb.base_url_portone_v2(),
            Provider::Iamport => sb.base_url_iamport(),
            _ => sb.base_url_toss(),
        })
        .await;
        assert_eq!(at_root.0, 200, "{provider}: {}", at_root.1);
        assert_eq!(at_root, prefixed, "{provider}: one state behind both");
    }
    // A cancel at the origin moves the same ledger, and the log names the provider and its own path.
    let resp = client()
        .post(format!("{}/payments/{v2}/cancel", sb.origin(Provider::PortOneV2)))
        .header("authorization", V2_AUTH)
        .json(&json!({"reason": "r", "amount": 1000}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(sb.balance(&v2), Some(9_000));
    let last = sb.requests().pop().expect("logged");
    assert_eq!(
        (last.provider, last.path.as_str()),
        (Some(Provider::PortOneV2), format!("/payments/{v2}/cancel").as_str())
    );
    // The iamport token works on both mouths, and faults match by provider on both.
    sb.faults()
        .add(FaultRule::new(Fault::Status(503)).provider(Provider::Toss));
    let (status, body) = read(
        client()
            .get(format!("{}/v1/payments/{toss}", sb.origin(Provider::Toss)))
            .header("authorization", toss_auth())
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (503, Some("SANDBOX_INJECTED_FAULT")));
}

#[tokio::test]
async fn every_error_is_in_the_provider_format_on_both_mouths() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let v2 = sb.seed(SeedPayment::card("format-v2", 10_000));
    let imp = sb.seed(SeedPayment::card("format-imp", 10_000).provider(Provider::Iamport));
    let toss = sb.seed(SeedPayment::card("format-toss", 10_000).provider(Provider::Toss));
    for (provider, base) in mouths(&sb) {
        let auth = auth_for(provider, &token);
        let prefix = base
            .trim_start_matches("http://")
            .split_once('/')
            .map(|(_, p)| format!("/{p}"))
            .unwrap_or_default();
        let addr = authority(&base);
        let (cancel_path, unsupported) = match provider {
            Provider::PortOneV2 => (
                format!("/payments/{v2}/cancel"),
                ("POST", format!("/payments/{v2}/capture")),
            ),
            Provider::Iamport => (
                "/payments/cancel".to_owned(),
                ("POST", "/subscribe/payments/again".to_owned()),
            ),
            _ => (
                format!("/v1/payments/{toss}/cancel"),
                ("POST", "/v1/virtual-accounts".to_owned()),
            ),
        };
        let ctx = |what: &str| format!("{provider} at {base}: {what}");
        let send = |method: &str, path: &str, body: Vec<u8>| {
            let req = format!(
                "{method} {prefix}{path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {auth}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let mut bytes = req.into_bytes();
            bytes.extend_from_slice(&body);
            let addr = addr.clone();
            async move { raw_http(&addr, &bytes).await.expect("an HTTP answer") }
        };
        let (status, body) = send("GET", "/no/such/path", Vec::new()).await;
        assert_eq!(status, 404, "{}", ctx("unknown path"));
        assert_provider_error(provider, status, &body, &ctx("unknown path"));

        let (status, body) = send("GET", &cancel_path, Vec::new()).await;
        assert_eq!(status, 405, "{}", ctx("GET on a cancel path"));
        assert_provider_error(provider, status, &body, &ctx("405"));

        let (status, body) = send(unsupported.0, &unsupported.1, b"{}".to_vec()).await;
        assert_eq!(status, 501, "{}", ctx("unsupported operation"));
        assert_provider_error(provider, status, &body, &ctx("501"));
        assert!(String::from_utf8_lossy(&body).contains("SANDBOX_NOT_SUPPORTED") || provider == Provider::Iamport);

        let (status, body) = send("POST", &cancel_path, b"{\"reason\": ".to_vec()).await;
        assert!(matches!(status, 200 | 400), "{}: {status}", ctx("malformed body"));
        if provider == Provider::Iamport {
            let v: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(v["code"], 1, "iamport refuses a malformed cancel with code 1: {v}");
        } else {
            assert_provider_error(provider, status, &body, &ctx("malformed body"));
        }

        let lookup = match provider {
            Provider::PortOneV2 => "/payments/%FF%FE",
            Provider::Iamport => "/payments/%FF%FE",
            _ => "/v1/payments/%FF%FE",
        };
        let (status, body) = send("GET", lookup, Vec::new()).await;
        assert_eq!(status, 400, "{}", ctx("non-UTF-8 path segment"));
        assert_provider_error(provider, status, &body, &ctx("non-UTF-8 path"));

        // Raw bytes that are not even a valid request line: hyper's own 400, in the provider's format.
        let mut bad = format!("GET {prefix}/payments/").into_bytes();
        bad.extend_from_slice(b"\xff\xfe HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        let (status, body) = raw_http(&addr, &bad).await.expect("an answer");
        assert_eq!(status, 400, "{}", ctx("invalid request line"));
        assert_provider_error(provider, status, &body, &ctx("invalid request line"));

        let long = format!("/payments/{}", "a".repeat(70_000));
        let (status, body) = send("GET", &long, Vec::new()).await;
        assert_eq!(status, 414, "{}", ctx("URI above 64 KiB"));
        assert_provider_error(provider, status, &body, &ctx("414"));

        let big = vec![b'a'; 3 * 1024 * 1024];
        let (status, body) = send("POST", &cancel_path, big).await;
        assert_eq!(status, 413, "{}", ctx("body above 2 MiB"));
        assert_provider_error(provider, status, &body, &ctx("413"));
    }
    for id in [&v2, &imp, &toss] {
        assert_eq!(sb.cancels_applied(id), 0, "no refused request applied anything");
    }
}

fn spec_operations(file: &str) -> Vec<(String, String)> {
    let path = format!("{}/openapi/{file}", env!("CARGO_MANIFEST_DIR"));
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("spec")).expect("JSON");
    let mut ops = Vec::new();
    for (p, item) in spec["paths"].as_object().expect("paths") {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                ops.push((m.to_uppercase(), p.clone()));
            }
        }
    }
    ops.sort();
    ops
}

#[tokio::test]
async fn the_operation_table_matches_the_specs_and_the_routes() {
    use kr_payments::sandbox::operations;
    // Issue 16 adds these to the Toss spec; until that lands here they are in the table only.
    let toss_extra = [
        ("DELETE", "/v1/billing/{billingKey}"),
        ("GET", "/v1/promotions"),
        ("GET", "/v1/promotions/card"),
    ];
    for (provider, file) in [
        (Provider::PortOneV2, "portone-v2.json"),
        (Provider::Iamport, "iamport-v1.json"),
        (Provider::Toss, "toss-v1.json"),
    ] {
        let spec = spec_operations(file);
        let mut table: Vec<(String, String)> = operations()
            .iter()
            .filter(|o| o.provider == provider)
            .map(|o| (o.method.to_owned(), o.path.to_owned()))
            .collect();
        table.sort();
        for op in &spec {
            assert!(
                table.contains(op),
                "{provider}: {op:?} is in the spec but not in the sandbox's table"
            );
        }
        for op in &table {
            let extra = provider == Provider::Toss && toss_extra.contains(&(op.0.as_str(), op.1.as_str()));
            assert!(
                spec.contains(op) || extra,
                "{provider}: {op:?} is in the table but not in the spec"
            );
        }
    }

    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let http = no_redirects();
    for op in operations() {
        let path = op
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "sandbox-x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let url = format!("{}{path}", sb.origin(op.provider));
        let method = http::Method::from_bytes(op.method.as_bytes()).expect("method");
        let mut req = http
            .request(method, url)
            .header("authorization", auth_for(op.provider, &token));
        if op.method != "GET" {
            req = req.header("content-type", "application/json").body("{}");
        }
        let resp = req.send().await.expect("answer");
        let status = resp.status().as_u16();
        let body = resp.bytes().await.expect("body");
        let text = String::from_utf8_lossy(&body);
        if op.served {
            assert!(
                status != 501 && !text.contains("has no "),
                "{} {} is served: {status} {text}",
                op.method,
                op.path
            );
        } else {
            assert_eq!(status, 501, "{} {} is not served: {text}", op.method, op.path);
            assert_provider_error(op.provider, status, &body, op.operation_id);
            assert!(text.contains(op.operation_id), "{text}");
        }
    }
}

#[tokio::test]
async fn the_known_crashers_get_answers_and_change_nothing() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let _imp = sb.seed(SeedPayment::card("crash-imp", 10_000).provider(Provider::Iamport));
    let (status, body) = imp_get(&sb, &token, "/payments/status/paid?page=9223372036854775807&limit=100").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], -1);
    let (status, _) = imp_get(&sb, &token, "/payments/status/all?page=99").await;
    assert_eq!(status, 400, "a page beyond the last is the spec's 400");
    let (status, body) = imp_get(&sb, &token, "/payments/status/all?page=1").await;
    assert_eq!((status, body["response"]["total"].as_i64()), (200, Some(1)));

    let v2 = sb.seed(SeedPayment::card("crash-v2", 10_000));
    let r = v2_cancel(
        &sb,
        &v2,
        json!({"reason": "r", "amount": 5000, "taxFreeAmount": i64::MAX, "vatAmount": i64::MAX}),
    )
    .await;
    assert_v2_error(&r, 409, "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT");
    let r = v2_cancel(
        &sb,
        &v2,
        json!({"reason": "r", "amount": i64::MAX, "currentCancellableAmount": i64::MIN}),
    )
    .await;
    assert_v2_error(&r, 409, "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN");
    assert_eq!(sb.cancels_applied(&v2), 0);
    // The sandbox is still there, and a seed at the edge of time does not break its views.
    sb.set_now(DateTime::<Utc>::MAX_UTC);
    let edge = sb.seed(SeedPayment::virtual_account("crash-edge", 1_000).deposited(false));
    assert_eq!(v2_get(&sb, &edge).await.0, 200);
    assert_eq!(imp_token(&sb).await.0, 200);
    let huge = sb.seed(
        SeedPayment::card("crash-huge", i64::MAX)
            .provider(Provider::Toss)
            .vat(i64::MIN),
    );
    assert_eq!(toss_get(&sb, &format!("/v1/payments/{huge}")).await.0, 200);
}

// ---------------------------------------------------------------- lifecycle operations

async fn v2_post(sb: &Sandbox, path: &str, body: Value) -> (u16, Value) {
    read(
        client()
            .post(format!("{}{path}", sb.origin(Provider::PortOneV2)))
            .header("authorization", V2_AUTH)
            .json(&body)
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn v2_path_get(sb: &Sandbox, path: &str) -> (u16, Value) {
    read(
        client()
            .get(format!("{}{path}", sb.origin(Provider::PortOneV2)))
            .header("authorization", V2_AUTH)
            .send()
            .await
            .expect("send"),
    )
    .await
}

#[tokio::test]
async fn v2_pre_register_confirm_and_billing_key_payments_can_be_refunded() {
    let sb = Sandbox::start().await.expect("start");
    let (url, mut rx) = webhook_receiver().await;
    sb.register_webhook(url, b"whsec-test".to_vec());

    assert_eq!(
        v2_post(&sb, "/payments/conf-1/pre-register", json!({"totalAmount": 12_000}))
            .await
            .0,
        200
    );
    let r = v2_post(
        &sb,
        "/payments/conf-1/confirm",
        json!({"paymentToken": "tok", "totalAmount": 11_000}),
    )
    .await;
    assert_v2_error(&r, 409, "INFORMATION_MISMATCH");
    let (status, body) = v2_post(&sb, "/payments/conf-1/confirm", json!({"paymentToken": "tok"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["pgTxId"].is_string() && body["paidAt"].is_string(), "{body}");
    let paid = next_event(&mut rx).await;
    assert_eq!(verify_signature(b"whsec-test", &paid)["type"], "Transaction.Paid");
    let r = v2_post(&sb, "/payments/conf-1/confirm", json!({"paymentToken": "tok"})).await;
    assert_v2_error(&r, 409, "ALREADY_PAID");
    let r = v2_post(&sb, "/payments/conf-1/pre-register", json!({"totalAmount": 1})).await;
    assert_v2_error(&r, 409, "ALREADY_PAID");
    let r = v2_post(&sb, "/payments/conf-2/confirm", json!({"paymentToken": "tok"})).await;
    assert_v2_error(&r, 400, "INVALID_REQUEST");
    let (_, p) = v2_get(&sb, "conf-1").await;
    assert_eq!(
        (p["status"].as_str(), p["amount"]["total"].as_i64()),
        (Some("PAID"), Some(12_000))
    );
    let (status, _) = v2_cancel(
        &sb,
        "conf-1",
        json!({"reason": "r", "amount": 2000, "currentCancellableAmount": 12_000}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sb.balance("conf-1"), Some(10_000));

    let (status, issued) = v2_post(&sb, "/billing-keys", json!({"method": {"card": {}}})).await;
    assert_eq!(status, 200, "{issued}");
    let key = issued["billingKeyInfo"]["billingKey"]
        .as_str()
        .expect("billing key")
        .to_owned();
    let pay = |id: &'static str, key: String| {
        let sb = &sb;
        async move {
            v2_post(
                sb,
                &format!("/payments/{id}/billing-key"),
                json!({"billingKey": key, "orderName": "monthly", "amount": {"total": 9_900}, "currency": "KRW"}),
            )
            .await
        }
    };
    let (status, body) = pay("bk-1", key.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["payment"]["pgTxId"].is_string());
    assert_v2_error(&pay("bk-1", key.clone()).await, 409, "ALREADY_PAID");
    assert_v2_error(
        &pay("bk-2", "no-such-key".to_owned()).await,
        404,
        "BILLING_KEY_NOT_FOUND",
    );
    let (_, p) = v2_get(&sb, "bk-1").await;
    assert_eq!(
        (p["status"].as_str(), p["billingKey"].as_str()),
        (Some("PAID"), Some(key.as_str()))
    );
    assert_eq!(v2_cancel(&sb, "bk-1", json!({"reason": "r"})).await.0, 200);
    assert_eq!(sb.balance("bk-1"), Some(0));
}

#[tokio::test]
async fn v2_closing_an_unpaid_virtual_account_and_stopping_a_pending_cancel() {
    let sb = Sandbox::start().await.expect("start");
    let va = sb.seed(SeedPayment::virtual_account("close-va", 30_000).deposited(false));
    let r = v2_cancel(&sb, &va, json!({"reason": "r"})).await;
    assert_v2_error(&r, 409, "PAYMENT_NOT_PAID");
    assert!(
        r.1["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/virtual-account/close"),
        "the refusal names the endpoint the sandbox serves: {}",
        r.1
    );
    let (status, body) = v2_post(&sb, &format!("/payments/{va}/virtual-account/close"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["closedAt"].is_string());
    let (_, p) = v2_get(&sb, &va).await;
    assert_eq!(p["status"], "CANCELLED");
    assert_eq!(sb.balance(&va), Some(0));
    let r = v2_post(&sb, &format!("/payments/{va}/virtual-account/close"), json!({})).await;
    assert_v2_error(&r, 409, "PAYMENT_NOT_WAITING_FOR_DEPOSIT");
    assert_v2_error(
        &v2_cancel(&sb, &va, json!({"reason": "r"})).await,
        409,
        "PAYMENT_ALREADY_CANCELLED",
    );

    let slow = sb.seed(SeedPayment::card("stop-async", 10_000).async_cancel(true));
    let (status, body) = v2_cancel(&sb, &slow, json!({"reason": "r", "amount": 4000})).await;
    assert_eq!(
        (status, body["cancellation"]["status"].as_str()),
        (200, Some("REQUESTED"))
    );
    let cancellation = body["cancellation"]["id"].as_str().expect("id").to_owned();
    assert_eq!(sb.balance(&slow), Some(6_000), "a pending cancel claims its share");
    let stop = |c: String| {
        let sb = &sb;
        let slow = slow.clone();
        async move { v2_post(sb, &format!("/payments/{slow}/cancellations/{c}/stop"), json!({})).await }
    };
    let (status, body) = stop(cancellation.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["stoppedAt"].is_string());
    assert_eq!(sb.balance(&slow), Some(10_000), "a stopped cancel gives its share back");
    assert_eq!(sb.cancels_applied(&slow), 0);
    assert_eq!(sb.settle_pending_cancels(&slow), 0, "nothing is left to settle");
    let (_, p) = v2_get(&sb, &slow).await;
    assert_eq!(p["status"], "PAID");
    assert_eq!(p["cancellations"][0]["status"], "FAILED");
    assert_v2_error(&stop(cancellation).await, 409, "PAYMENT_CANCELLATION_NOT_PENDING");
    assert_v2_error(
        &stop("no-such-cancellation".to_owned()).await,
        404,
        "PAYMENT_CANCELLATION_NOT_FOUND",
    );
}

#[tokio::test]
async fn v2_transactions_events_and_webhook_resend() {
    let sb = Sandbox::start().await.expect("start");
    let id = sb.seed(SeedPayment::card("events-1", 10_000));
    let (status, body) = v2_path_get(&sb, &format!("/payments/{id}/transactions")).await;
    assert_eq!(status, 200, "{body}");
    let tx = &body["items"][0];
    assert_eq!(
        (tx["paymentId"].as_str(), tx["status"].as_str()),
        (Some(id.as_str()), Some("PAID"))
    );
    assert_ne!(tx["id"], tx["paymentId"]);
    assert_v2_error(
        &v2_path_get(&sb, "/payments/none/transactions").await,
        404,
        "PAYMENT_NOT_FOUND",
    );

    let r = v2_post(&sb, &format!("/payments/{id}/resend-webhook"), json!({})).await;
    assert_v2_error(&r, 404, "WEBHOOK_NOT_FOUND");
    let (url, mut rx) = webhook_receiver().await;
    sb.register_webhook(url, b"whsec-test".to_vec());
    assert_eq!(v2_cancel(&sb, &id, json!({"reason": "r", "amount": 1000})).await.0, 200);
    let first = next_event(&mut rx).await;
    let (status, body) = v2_post(&sb, &format!("/payments/{id}/resend-webhook"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["webhook"]["trigger"], "MANUAL");
    assert_eq!(body["webhook"]["paymentStatus"], "PARTIAL_CANCELLED");
    let again = next_event(&mut rx).await;
    assert_eq!(again.body, first.body, "the same event, sent again");
    assert_eq!(
        verify_signature(b"whsec-test", &again)["type"],
        "Transaction.PartialCancelled"
    );

    assert_eq!(v2_cancel(&sb, &id, json!({"reason": "rest"})).await.0, 200);
    let (status, body) = v2_path_get(&sb, "/payment-events-by-cursor?requestBody=%7B%22size%22%3A2%7D").await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().expect("items");
    let kinds: Vec<&str> = items
        .iter()
        .filter_map(|i| i["paymentEvent"]["type"].as_str())
        .collect();
    assert_eq!(kinds, ["PAID", "PARTIAL_CANCELLED"]);
    let cursor = items[1]["cursor"].as_str().expect("cursor");
    let query = format!("{{\"cursor\":\"{cursor}\"}}");
    let enc: String = query.bytes().map(|b| format!("%{b:02X}")).collect();
    let (_, rest) = v2_path_get(&sb, &format!("/payment-events-by-cursor?requestBody={enc}")).await;
    let last = &rest["items"][0]["paymentEvent"];
    assert_eq!(
        (last["type"].as_str(), last["eventAmount"].as_i64()),
        (Some("CANCELLED"), Some(9_000))
    );
}

#[tokio::test]
async fn iamport_prepare_vbank_revoke_lists_and_balance() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let post = |path: &'static str, body: Value| {
        let (sb, token) = (&sb, token.clone());
        async move {
            read(
                client()
                    .post(format!("{}{path}", sb.origin(Provider::Iamport)))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("send"),
            )
            .await
        }
    };
    let (status, body) = post("/payments/prepare", json!({"merchant_uid": "prep-1", "amount": 5000})).await;
    assert_eq!((status, body["code"].as_i64()), (200, Some(0)), "{body}");
    assert_imp_failed(
        &post("/payments/prepare", json!({"merchant_uid": "prep-1", "amount": 5000})).await,
        "already",
    );
    let (_, got) = imp_get(&sb, &token, "/payments/prepare/prep-1").await;
    assert_eq!(got["response"]["amount"], 5000);
    assert_eq!(imp_get(&sb, &token, "/payments/prepare/prep-none").await.0, 404);

    let va = sb.seed(
        SeedPayment::virtual_account("vbank-1", 20_000)
            .deposited(false)
            .provider(Provider::Iamport),
    );
    let refused = imp_cancel(&sb, &token, json!({"imp_uid": va})).await;
    assert_imp_failed(&refused, "DELETE /vbanks/");
    let revoke = |id: String| {
        let (sb, token) = (&sb, token.clone());
        async move {
            read(
                client()
                    .delete(format!("{}/vbanks/{id}", sb.base_url_iamport()))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("send"),
            )
            .await
        }
    };
    let (status, body) = revoke(va.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["status"], "cancelled");
    assert_eq!(
        body["response"]["cancel_amount"], 0,
        "nothing was paid, nothing refunded"
    );
    assert_eq!(sb.cancels_applied(&va), 0);
    assert_eq!(revoke(va.clone()).await.0, 400, "not waiting for a deposit any more");
    let card = sb.seed(SeedPayment::card("vbank-card", 1_000).provider(Provider::Iamport));
    assert_eq!(revoke(card.clone()).await.0, 400, "not a virtual account");
    assert_eq!(revoke("imp_none".to_owned()).await.0, 404);

    let (status, body) = imp_get(&sb, &token, &format!("/payments?imp_uid[]={card}&imp_uid[]={va}")).await;
    assert_eq!((status, body["response"].as_array().map(Vec::len)), (200, Some(2)));
    let (status, _) = imp_get(
        &sb,
        &token,
        &format!("/payments?imp_uid%5B%5D={card}&imp_uid%5B%5D=imp_none"),
    )
    .await;
    assert_eq!(status, 207, "some found");
    assert_eq!(imp_get(&sb, &token, "/payments?imp_uid[]=imp_none").await.0, 404);

    sb.seed(SeedPayment::card("vbank-card", 2_000).provider(Provider::Iamport));
    let (status, body) = imp_get(&sb, &token, "/payments/findAll/vbank-card").await;
    assert_eq!((status, body["response"]["total"].as_i64()), (200, Some(2)));
    let (_, paid) = imp_get(&sb, &token, "/payments/findAll/vbank-card/paid?limit=1").await;
    assert_eq!(
        (
            paid["response"]["list"].as_array().map(Vec::len),
            paid["response"]["next"].as_i64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(
        imp_get(&sb, &token, "/payments/findAll/vbank-card?page=3&limit=1")
            .await
            .0,
        400
    );
    assert_eq!(imp_get(&sb, &token, "/payments/findAll/nobody").await.0, 404);

    assert_eq!(
        imp_cancel(&sb, &token, json!({"imp_uid": card, "amount": 300})).await.1["code"],
        0
    );
    let (status, body) = imp_get(&sb, &token, &format!("/payments/{card}/balance")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["amount"], 700);
    assert_eq!(body["response"]["histories"].as_array().map(Vec::len), Some(2));
    assert_eq!(imp_get(&sb, &token, "/payments/imp_none/balance").await.0, 404);
}

async fn toss_send(
    sb: &Sandbox,
    method: http::Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", sb.origin(Provider::Toss)))
        .header("authorization", toss_auth());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    read(req.send().await.expect("send")).await
}

async fn next_toss_hook(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("webhook")
        .expect("open")
}

#[tokio::test]
async fn toss_confirm_transactions_and_billing_keys() {
    let sb = Sandbox::builder()
        .now(utc(2025, 5, 1, 3, 0))
        .start()
        .await
        .expect("start");
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let hook_url = format!("http://{}/toss", hook.local_addr().expect("addr"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/toss",
            axum::routing::post(move |body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    "ok"
                }
            }),
        );
        let _ = axum::serve(hook, app).await;
    });
    sb.register_toss_webhook(hook_url);

    let confirm = json!({"paymentKey": "tpk-confirm-1", "orderId": "ord-confirm-1", "amount": 15_000});
    let (status, p) = toss_send(
        &sb,
        http::Method::POST,
        "/v1/payments/confirm",
        Some(confirm.clone()),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["status"].as_str(), p["totalAmount"].as_i64()),
        (Some("DONE"), Some(15_000))
    );
    let hook = next_toss_hook(&mut rx).await;
    assert_eq!(
        (hook["eventType"].as_str(), hook["data"]["paymentKey"].as_str()),
        (Some("PAYMENT_STATUS_CHANGED"), Some("tpk-confirm-1"))
    );
    let again = toss_send(&sb, http::Method::POST, "/v1/payments/confirm", Some(confirm), &[]).await;
    assert_toss_error(&again, 400, "ALREADY_PROCESSED_PAYMENT");
    let (status, _) = toss_cancel(&sb, "tpk-confirm-1", json!({"cancelReason": "r", "cancelAmount": 5000})).await;
    assert_eq!(status, 200);
    assert_eq!(next_toss_hook(&mut rx).await["data"]["status"], "PARTIAL_CANCELED");

    let (status, list) = toss_send(
        &sb,
        http::Method::GET,
        "/v1/transactions?startDate=2025-05-01T00:00:00&endDate=2025-05-02T00:00:00",
        None,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().expect("array").clone();
    let statuses: Vec<&str> = list.iter().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(statuses, ["DONE", "PARTIAL_CANCELED"]);
    assert_eq!(list[1]["amount"], 5000);
    let after = list[0]["transactionKey"].as_str().expect("key");
    let (_, page) = toss_send(
        &sb,
        http::Method::GET,
        &format!(
            "/v1/transactions?startDate=2025-05-01T00:00:00&endDate=2025-05-02T00:00:00&startingAfter={after}&limit=1"
        ),
        None,
        &[],
    )
    .await;
    assert_eq!(page[0]["transactionKey"], list[1]["transactionKey"]);
    let r = toss_send(
        &sb,
        http::Method::GET,
        "/v1/transactions?startDate=2025-05-01T00:00:00&endDate=2025-05-02T00:00:00&limit=5001",
        None,
        &[],
    )
    .await;
    assert_toss_error(&r, 400, "INVALID_REQUEST");

    let (status, billing) = toss_send(
        &sb,
        http::Method::POST,
        "/v1/billing/authorizations/issue",
        Some(json!({"authKey": "auth-1", "customerKey": "cust-1"})),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{billing}");
    assert!(billing.get("cardNumber").is_none(), "removed in API version 2024-06-01");
    let key = billing["billingKey"].as_str().expect("billingKey").to_owned();
    let charge = |order: &str, customer: &str| json!({"customerKey": customer, "amount": 4900, "orderId": order, "orderName": "monthly"});
    let (status, p) = toss_send(
        &sb,
        http::Method::POST,
        &format!("/v1/billing/{key}"),
        Some(charge("bill-1", "cust-1")),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["type"].as_str(), p["status"].as_str()),
        (Some("BILLING"), Some("DONE"))
    );
    let _ = next_toss_hook(&mut rx).await;
    let pk = p["paymentKey"].as_str().expect("key").to_owned();
    assert_eq!(toss_cancel(&sb, &pk, json!({"cancelReason": "r"})).await.0, 200);
    assert_eq!(sb.balance(&pk), Some(0));
    let _ = next_toss_hook(&mut rx).await;
    let r = toss_send(
        &sb,
        http::Method::POST,
        &format!("/v1/billing/{key}"),
        Some(charge("bill-2", "someone-else")),
        &[],
    )
    .await;
    assert_toss_error(&r, 400, "NOT_MATCHES_CUSTOMER_KEY");

    let (status, _) = toss_send(&sb, http::Method::DELETE, &format!("/v1/billing/{key}"), None, &[]).await;
    assert_eq!(status, 200);
    let deleted = next_toss_hook(&mut rx).await;
    assert_eq!(
        (deleted["eventType"].as_str(), deleted["data"]["billingKey"].as_str()),
        (Some("BILLING_DELETED"), Some(key.as_str()))
    );
    let r = toss_send(
        &sb,
        http::Method::POST,
        &format!("/v1/billing/{key}"),
        Some(charge("bill-3", "cust-1")),
        &[],
    )
    .await;
    assert_toss_error(&r, 404, "NOT_FOUND");

    let (status, promos) = toss_send(&sb, http::Method::GET, "/v1/promotions", None, &[]).await;
    assert_eq!((status, promos), (200, json!([])));
    let (status, card) = toss_send(&sb, http::Method::GET, "/v1/promotions/card", None, &[]).await;
    assert_eq!(
        (status, card),
        (200, json!({"discountCards": [], "interestFreeCards": []}))
    );
}

#[tokio::test]
async fn toss_test_code_answers_the_documented_error_and_applies_nothing() {
    let sb = Sandbox::start().await.expect("start");
    let key = sb.seed(SeedPayment::card("test-code", 10_000).provider(Provider::Toss));
    let body = json!({"cancelReason": "r", "cancelAmount": 1000});
    for (code, status) in [
        ("ALREADY_REFUNDING_PAYMENT", 400),
        ("NOT_CANCELABLE_AMOUNT", 403),
        ("FAILED_REFUND_PROCESS", 500),
        ("UNKNOWN_ERROR", 500),
    ] {
        let r = toss_send(
            &sb,
            http::Method::POST,
            &format!("/v1/payments/{key}/cancel"),
            Some(body.clone()),
            &[("TossPayments-Test-Code", code), ("Idempotency-Key", code)],
        )
        .await;
        assert_toss_error(&r, status, code);
    }
    let r = toss_send(
        &sb,
        http::Method::GET,
        &format!("/v1/payments/{key}"),
        None,
        &[("TossPayments-Test-Code", "NOT_FOUND_PAYMENT")],
    )
    .await;
    assert_toss_error(&r, 404, "NOT_FOUND_PAYMENT");
    let r = toss_send(
        &sb,
        http::Method::GET,
        &format!("/v1/payments/{key}"),
        None,
        &[("TossPayments-Test-Code", "MADE_UP")],
    )
    .await;
    assert_toss_error(&r, 400, "INVALID_TEST_CODE");
    assert_eq!(sb.cancels_applied(&key), 0, "a simulated error applies nothing");
    // The simulated answer was not stored under the key: the same key now cancels for real.
    let (status, text) = toss_cancel_raw(&sb, &key, &body, Some("UNKNOWN_ERROR")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(sb.cancels_applied(&key), 1);

    // With a live key the header is not a test code: the request is processed.
    let live = Sandbox::builder()
        .toss_secret_key("live_sk_sandbox")
        .start()
        .await
        .expect("start");
    let live_key = live.seed(SeedPayment::card("test-code-live", 10_000).provider(Provider::Toss));
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("live_sk_sandbox:")
    );
    let resp = client()
        .post(format!("{}/v1/payments/{live_key}/cancel", live.origin(Provider::Toss)))
        .header("authorization", auth)
        .header("TossPayments-Test-Code", "UNKNOWN_ERROR")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(live.cancels_applied(&live_key), 1);
}

// ---------------------------------------------------------------- the HTTP surface under arbitrary requests

mod surface_property {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Case {
        provider: usize,
        at_origin: bool,
        /// `None`: the operation's own method.
        method: Option<&'static str>,
        template: usize,
        params: Vec<String>,
        query: String,
        auth: u8,
        idem: Option<String>,
        test_code: Option<&'static str>,
        body: Vec<u8>,
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("KNOWN".to_owned()),
            Just("%FF%FE".to_owned()),
            Just("..".to_owned()),
            Just("%2e%2e".to_owned()),
            Just("9223372036854775807".to_owned()),
            Just("-1".to_owned()),
            "[a-zA-Z0-9_-]{1,12}",
            "[%A-F0-9]{1,9}",
        ]
    }

    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!(i64::MAX)),
            Just(json!(i64::MIN)),
            Just(json!(-1)),
            Just(json!(0)),
            Just(json!(1)),
            Just(json!(1000)),
            Just(json!(1.5)),
            Just(json!(1e300)),
            Just(json!("1000")),
            Just(json!("x")),
            Just(Value::Null),
            Just(json!([])),
            Just(json!({})),
            (0i64..20_000).prop_map(|n| json!(n)),
        ]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        let fields = [
            "amount",
            "cancelAmount",
            "taxFreeAmount",
            "vatAmount",
            "currentCancellableAmount",
            "checksum",
            "refundableAmount",
            "tax_free",
            "vat_amount",
            "totalAmount",
            "reason",
            "cancelReason",
            "imp_uid",
            "merchant_uid",
            "paymentKey",
            "orderId",
            "billingKey",
            "customerKey",
            "paymentToken",
            "authKey",
            "orderName",
            "currency",
            "refundAccount",
            "refundReceiveAccount",
            "storeId",
            "size",
            "cursor",
        ];
        prop_oneof![
            Just(Vec::new()),
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec((0..fields.len(), number()), 0..6).prop_map(move |kv| {
                let mut m = serde_json::Map::new();
                for (k, v) in kv {
                    m.insert(fields[k].to_owned(), v);
                }
                serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
            }),
        ]
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            0usize..3,
            any::<bool>(),
            prop_oneof![
                8 => Just(None),
                1 => prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("PATCH"), Just("DELETE")].prop_map(Some),
            ],
            0usize..100_000,
            proptest::collection::vec(segment(), 3),
            prop_oneof![
                Just(String::new()),
                Just("page=9223372036854775807&limit=100".to_owned()),
                Just("page=-5&limit=0".to_owned()),
                Just("limit=999999999999999999999".to_owned()),
                Just("requestBody=%7B%22page%22%3A%7B%22number%22%3A9223372036854775807%2C%22size%22%3A9223372036854775807%7D%7D".to_owned()),
                Just("startDate=2025-01-01T00:00:00&endDate=9999-12-31T23:59:59&limit=5000".to_owned()),
                Just("imp_uid[]=KNOWN&imp_uid[]=x".to_owned()),
                "[a-z=&%0-9]{0,20}",
            ],
            prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            proptest::option::of(prop_oneof![Just("\"property-key-0000001\"".to_owned()), "[ -~]{0,20}"]),
            proptest::option::of(prop_oneof![Just("COMMON_ERROR"), Just("NOPE")]),
            body(),
        )
            .prop_map(|(provider, at_origin, method, template, params, query, auth, idem, test_code, body)| Case {
                provider,
                at_origin,
                method,
                template,
                params,
                query,
                auth,
                idem,
                test_code,
                body,
            })
    }

    type Snapshot = Vec<(String, Option<i64>, usize)>;

    fn snapshot(sb: &Sandbox, ids: &[String]) -> Snapshot {
        let mut v: Snapshot = ids
            .iter()
            .map(|id| (id.clone(), sb.balance(id), sb.cancels_applied(id)))
            .collect();
        v.push(("requests".to_owned(), None, 0));
        v
    }

    /// Every request gets an HTTP answer in its provider's format, and a refused one (an error
    /// status, or iamport's `code` != 0) leaves every payment as it was.
    #[test]
    fn any_request_gets_an_answer_and_a_refused_one_changes_nothing() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (sb, token, known) = rt.block_on(async {
            let sb = Sandbox::builder()
                .toss_cancel_interval(Some(kr_payments::sandbox::TOSS_CANCEL_INTERVAL))
                .start()
                .await
                .expect("start");
            let token = imp_access(&sb).await;
            let known = vec![
                sb.seed(SeedPayment::card("prop-v2", 1_000_000)),
                sb.seed(SeedPayment::virtual_account("prop-v2-va", 50_000).deposited(false)),
                sb.seed(SeedPayment::card("prop-imp", 1_000_000).provider(Provider::Iamport)),
                sb.seed(SeedPayment::card("prop-toss", 1_000_000).provider(Provider::Toss)),
            ];
            (sb, token, known)
        });
        let ops: Vec<Vec<(&'static str, &'static str)>> = [Provider::PortOneV2, Provider::Iamport, Provider::Toss]
            .iter()
            .map(|p| {
                // Served operations twenty times over, so most cases reach a handler.
                let mut v: Vec<(&'static str, &'static str)> = kr_payments::sandbox::operations()
                    .iter()
                    .filter(|o| o.provider == *p)
                    .flat_map(|o| std::iter::repeat_n((o.method, o.path), if o.served { 20 } else { 1 }))
                    .collect();
                v.push(("GET", "/no/such/{x}"));
                v
            })
            .collect();
        let config = ProptestConfig {
            cases: 400,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let result = runner.run(&case(), |c| {
            let provider = [Provider::PortOneV2, Provider::Iamport, Provider::Toss][c.provider];
            let templates = &ops[c.provider];
            let (op_method, template) = templates[c.template % templates.len()];
            let method = c.method.unwrap_or(op_method);
            let known_id = &known[[0, 2, 3][c.provider]];
            let mut params = c.params.iter();
            let path: String = template
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        let p = params.next().map_or("x", String::as_str);
                        if p == "KNOWN" { known_id.clone() } else { p.to_owned() }
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let base = if c.at_origin {
                sb.origin(provider)
            } else {
                match provider {
                    Provider::PortOneV2 => sb.base_url_portone_v2(),
                    Provider::Iamport => sb.base_url_iamport(),
                    _ => sb.base_url_toss(),
                }
            };
            let prefix = base.trim_start_matches("http://").split_once('/').map(|(_, p)| format!("/{p}")).unwrap_or_default();
            let addr = authority(&base);
            let query = c.query.replace("KNOWN", known_id);
            let target = if query.is_empty() { format!("{prefix}{path}") } else { format!("{prefix}{path}?{query}") };
            let auth = match c.auth {
                0 => auth_for(provider, &token),
                1 => "PortOne wrong".to_owned(),
                _ => String::new(),
            };
            let mut head = format!("{} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\ncontent-type: application/json\r\n", method, c.body.len());
            if !auth.is_empty() {
                head.push_str(&format!("authorization: {auth}\r\n"));
            }
            if let Some(k) = &c.idem {
                head.push_str(&format!("idempotency-key: {k}\r\n"));
            }
            if let Some(t) = c.test_code {
                head.push_str(&format!("tosspayments-test-code: {t}\r\n"));
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&c.body);
            let before = snapshot(&sb, &known);
            let answer = rt.block_on(raw_http(&addr, &bytes));
            let Some((status, body)) = answer else {
                return Err(TestCaseError::fail(format!("no HTTP answer to {} {target}", method)));
            };
            let parsed: Option<Value> = serde_json::from_slice(&body).ok();
            prop_assert!(parsed.is_some(), "{} {target}: {status} body is not JSON: {}", method, String::from_utf8_lossy(&body));
            let v = parsed.unwrap_or(Value::Null);
            let refused = status >= 400 || (provider == Provider::Iamport && v["code"].as_i64().is_some_and(|code| code != 0));
            if status >= 400 {
                let in_format = match provider {
                    Provider::PortOneV2 => v["type"].is_string(),
                    Provider::Iamport => v["code"].is_i64(),
                    _ => v["code"].is_string(),
                };
                prop_assert!(in_format && v["message"].is_string(), "{} {target}: {status} {v} is not {provider}'s format", method);
            }
            // The gate answers a handler's panic with SANDBOX_INTERNAL_ERROR: an answer, but a crash.
            prop_assert!(
                !String::from_utf8_lossy(&body).contains("SANDBOX_INTERNAL_ERROR"),
                "{} {target}: a handler panicked: {v}",
                method
            );
            if refused {
                prop_assert_eq!(snapshot(&sb, &known), before, "{} {} was refused ({}) but changed the ledger", method, target, status);
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        drop(sb);
    }
}

#[tokio::test]
async fn iamport_cancel_with_enable_webhook_notifies_and_without_it_does_not() {
    let sb = Sandbox::start().await.expect("start");
    let token = imp_access(&sb).await;
    let (url, mut rx) = webhook_receiver().await;
    sb.register_iamport_webhook(url);
    let imp = sb.seed(SeedPayment::card("imp-hook", 10_000).provider(Provider::Iamport));
    assert_eq!(
        imp_cancel(&sb, &token, json!({"imp_uid": imp, "amount": 1000})).await.1["code"],
        0
    );
    let (_, body) = imp_cancel(&sb, &token, json!({"imp_uid": imp, "enable_webhook": true})).await;
    assert_eq!(body["code"], 0, "{body}");
    let got = next_event(&mut rx).await;
    assert!(
        got.headers.get("webhook-signature").is_none(),
        "iamport webhooks are unsigned"
    );
    let v: Value = serde_json::from_str(&got.body).expect("JSON");
    assert_eq!(
        (v["imp_uid"].as_str(), v["status"].as_str()),
        (Some(imp.as_str()), Some("cancelled"))
    );
    assert_eq!(v["cancellation_id"], sb.cancels(&imp)[1].cancellation_id.as_str());
    // Events arrive in order: had the first cancel notified, its event would have come first.
    let mut deliveries = sb.webhook_deliveries();
    for _ in 0..200 {
        if !deliveries.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        deliveries = sb.webhook_deliveries();
    }
    assert_eq!(deliveries.len(), 1, "only the cancel sent with enable_webhook notified");
    assert_eq!(
        (deliveries[0].provider, deliveries[0].status),
        (Provider::Iamport, Some(200))
    );
}
