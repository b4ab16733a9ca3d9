//! The three providers' partial cancels, through the facade and hand-written, for the benches that compare them
//! (`overhead`: time, `per_call`: allocations and, under callgrind, instructions).
//!
//! The hand-written side is what a careful caller writes without the crate: build the same body with serde, send
//! it with the same headers on a `reqwest::Client` built like the facade's, check the status, and decode the
//! answer with `serde_json::from_slice` into the same generated type. [`check_same_request`] makes sure both send
//! the same method, path, headers and JSON body.
#![allow(dead_code)] // Each bench binary uses a different part of this module.

use crate::support::{Op, Server, ServerBuilder};
use kr_payments::iamport::raw::types as iamport_wire;
use kr_payments::portone_v2::raw::types as v2;
use kr_payments::toss::raw::types as toss_wire;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use serde::Serialize;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const PORTONE_V2_PAYMENT: &[u8] = include_bytes!("../fixtures/portone_v2_payment_partial_cancelled.json");
const TOSS_PAYMENT: &[u8] = include_bytes!("../fixtures/toss_payment_several_cancels.json");
const IAMPORT_PAYMENT: &[u8] = include_bytes!("../fixtures/iamport_payment.json");

const UA: &str = concat!("kr-payments/", env!("CARGO_PKG_VERSION"));

/// The providers, in the order the tables list them, by the name the benches take on their command line.
pub const PROVIDERS: [Provider; 3] = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Provider {
    PortOneV2,
    Iamport,
    Toss,
}

impl Provider {
    /// The name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Provider::PortOneV2 => "PortOne V2",
            Provider::Iamport => "iamport",
            Provider::Toss => "Toss",
        }
    }

    /// The name on a command line.
    pub fn arg(self) -> &'static str {
        match self {
            Provider::PortOneV2 => "portone-v2",
            Provider::Iamport => "iamport",
            Provider::Toss => "toss",
        }
    }

    pub fn from_arg(arg: &str) -> Option<Provider> {
        PROVIDERS.into_iter().find(|p| p.arg() == arg)
    }

    /// The route the cancel hits (method and path prefix), to compare what the two sides sent.
    pub fn route(self) -> (&'static str, &'static str) {
        match self {
            Provider::PortOneV2 => ("POST", "/payments/order-"),
            Provider::Iamport => ("POST", "/payments/cancel"),
            Provider::Toss => ("POST", "/v1/payments/"),
        }
    }

    /// The facade's cancel against `base_url`. Async because iamport's client fetches its token first, so no call
    /// that is measured pays for it.
    pub async fn facade(self, base_url: &str) -> Op {
        match self {
            Provider::PortOneV2 => portone_v2_facade(base_url),
            Provider::Iamport => iamport_facade(base_url).await,
            Provider::Toss => toss_facade(base_url),
        }
    }

    /// The hand-written cancel against `base_url`, reading the answer as `how` says.
    pub fn baseline(self, base_url: &str, how: Decode) -> Op {
        match self {
            Provider::PortOneV2 => portone_v2_baseline(base_url, how),
            Provider::Iamport => iamport_baseline(base_url, how),
            Provider::Toss => toss_baseline(base_url, how),
        }
    }
}

/// A `reqwest::Client` like the one the facades build for themselves.
pub fn http_client() -> reqwest::Client {
    client_with_pool_idle(kr_payments::transport::DEFAULT_POOL_IDLE_TIMEOUT)
}

fn client_with_pool_idle(idle: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(kr_payments::transport::DEFAULT_CONNECT_TIMEOUT)
        .pool_idle_timeout(idle)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

/// The client a hand-written call reading as `how` uses: [`http_client`], or for
/// [`Decode::WithTimeoutOnDefaultPool`] one with reqwest's default pool idle timeout (90 s).
fn client_for(how: Decode) -> reqwest::Client {
    match how {
        Decode::WithTimeoutOnDefaultPool => client_with_pool_idle(REQWEST_POOL_IDLE_TIMEOUT),
        _ => http_client(),
    }
}

/// reqwest's own default idle timeout of pooled connections.
const REQWEST_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How a hand-written call reads the answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decode {
    /// `serde_json::from_slice` into the generated type, no timeout: the plain hand-written call (the floor).
    Plain,
    /// The plain call with reqwest's own per-request timeout set to what the facade sets on its first attempt,
    /// [`ATTEMPT_TIMEOUT`]: the price of a deadline, which the facade keeps.
    WithTimeout,
    /// The call of [`Decode::WithTimeout`] on a client with reqwest's default pool idle timeout (90 s) instead of
    /// the crate's (55 s). A diagnostic: tokio wakes its timer thread when a timer is set earlier than every timer
    /// already waiting. The pool's idle timer re-arms itself every idle timeout, so with 90 s a 67.5 s attempt
    /// timer is often the earliest and costs a wake-up between threads; with 55 s it never is.
    WithTimeoutOnDefaultPool,
    /// The plain call with a timeout, also keeping the answer's JSON text as the facade does (a `RawValue` of the
    /// payment or cancellation, decoded first, then the typed value from that text).
    KeepingRaw,
    /// The plain call decoding the way the facades do: the body checked to be UTF-8 once (`simdutf8`), then
    /// `serde_json::from_str`, so serde does not check each string again. A diagnostic: what the facade adds over
    /// a hand-written call that decodes the same way.
    Text,
}

/// The plain decode of a hand-written call: `from_slice`, or with [`Decode::Text`] the facades' way.
fn plain<T: serde::de::DeserializeOwned>(how: Decode, bytes: &[u8]) -> T {
    match how {
        Decode::Text => serde_json::from_str(simdutf8::basic::from_utf8(bytes).expect("UTF-8")).expect("decodes"),
        _ => serde_json::from_slice(bytes).expect("decodes"),
    }
}

/// The timeout of a facade's first attempt with the default settings: three quarters of the call's deadline
/// ([`DEFAULT_TIMEOUT`](kr_payments::transport::DEFAULT_TIMEOUT)), so that a stalled attempt leaves time to learn
/// what happened.
pub const ATTEMPT_TIMEOUT: Duration =
    Duration::from_millis((kr_payments::transport::DEFAULT_TIMEOUT.as_millis() * 3 / 4) as u64);

fn with_timeout(how: Decode, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match how {
        Decode::Plain | Decode::Text => rb,
        Decode::WithTimeout | Decode::WithTimeoutOnDefaultPool | Decode::KeepingRaw => rb.timeout(ATTEMPT_TIMEOUT),
    }
}

/// The typed value and, with [`Decode::KeepingRaw`], its text kept beside it (decoded from that text).
fn decode_keeping<T: serde::de::DeserializeOwned>(how: Decode, raw: &serde_json::value::RawValue) -> T {
    match how {
        Decode::KeepingRaw => {
            let kept = raw.to_owned();
            let typed = serde_json::from_str(kept.get()).expect("decodes");
            black_box(kept);
            typed
        }
        _ => serde_json::from_str(raw.get()).expect("decodes"),
    }
}

/// Every route the cancels hit, with the answers they get.
pub fn routes() -> ServerBuilder {
    let (_, toss_answer) = toss_payments();
    Server::builder()
        .route("POST", "/v1/payments/", 200, &toss_answer)
        .route("POST", "/payments/order-", 200, &portone_v2_cancel_response())
        .route("POST", "/users/getToken", 200, &iamport_token_response())
        .route("POST", "/payments/cancel", 200, &iamport_cancel_response())
}

/// Sends one facade call and one hand-written call and panics unless the server saw the same request (the
/// per-call `Idempotency-Key` is compared by presence and length only).
pub async fn check_same_request(server: &Server, provider: Provider, facade: &Op, baseline: &Op) {
    let (method, route) = provider.route();
    let name = provider.label();
    server.set_recording(true);
    facade().await;
    let facade = server.take_last(method, route).expect("facade request recorded");
    baseline().await;
    let baseline = server.take_last(method, route).expect("baseline request recorded");
    server.set_recording(false);
    let json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).expect("JSON body");
    assert_eq!(facade.method, baseline.method, "{name}: method");
    assert_eq!(facade.path, baseline.path, "{name}: path");
    assert_eq!(json(&facade.body), json(&baseline.body), "{name}: body");
    assert_eq!(facade.body.len(), baseline.body.len(), "{name}: body length");
    let mut fh = facade.headers.clone();
    let mut bh = baseline.headers.clone();
    // A fresh UUID v4 per call on both sides: compare presence and length, not the value.
    let fk = fh.remove("idempotency-key").map(|k| k.len());
    let bk = bh.remove("idempotency-key").map(|k| k.len());
    assert_eq!(fk, bk, "{name}: Idempotency-Key");
    assert_eq!(fh, bh, "{name}: headers");
}

// ---------------------------------------------------------------------------------------------------------------
// Toss: POST /v1/payments/{paymentKey}/cancel with Basic auth and an Idempotency-Key; answers the Payment.

const TOSS_SECRET: &str = "test_sk_bench0000000000000000";

/// The payment before the cancel (the fixture without its last cancel) and the answer (the fixture).
pub fn toss_payments() -> (kr_payments::toss::Payment, Vec<u8>) {
    let mut before: serde_json::Value = serde_json::from_slice(TOSS_PAYMENT).expect("JSON");
    let last = before["cancels"]
        .as_array_mut()
        .expect("cancels")
        .pop()
        .expect("a cancel");
    let amount = last["cancelAmount"].as_i64().expect("amount");
    before["balanceAmount"] = (before["balanceAmount"].as_i64().expect("balance") + amount).into();
    let before = serde_json::from_value(before).expect("Toss payment");
    (before, TOSS_PAYMENT.to_vec())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TossCancelBody<'a> {
    cancel_reason: &'a str,
    cancel_amount: i64,
    refundable_amount: i64,
}

fn toss_baseline(base_url: &str, how: Decode) -> Op {
    let (before, _) = toss_payments();
    let http = client_for(how);
    let base = base_url.to_string();
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{TOSS_SECRET}:"))
    );
    let auth = Arc::new(HeaderValue::from_str(&auth).expect("header"));
    let (payment_key, balance) = (before.payment_key.clone(), before.balance_amount);
    Arc::new(move || {
        let (http, base, auth, key) = (http.clone(), base.clone(), auth.clone(), payment_key.clone());
        Box::pin(async move {
            let body = serde_json::to_vec(&TossCancelBody {
                cancel_reason: "배송 지연 보상",
                cancel_amount: 3_000,
                refundable_amount: balance,
            })
            .expect("body");
            let rb = http
                .post(format!("{base}/v1/payments/{key}/cancel"))
                .header(AUTHORIZATION, (*auth).clone())
                .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                .header(USER_AGENT, UA)
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .body(body);
            let resp = with_timeout(how, rb).send().await.expect("send");
            assert!(resp.status().is_success());
            let bytes = resp.bytes().await.expect("body");
            let payment: toss_wire::Payment = match how {
                Decode::KeepingRaw => {
                    let raw: &serde_json::value::RawValue = serde_json::from_slice(&bytes).expect("JSON");
                    decode_keeping(how, raw)
                }
                _ => plain(how, &bytes),
            };
            black_box(payment);
        })
    })
}

/// The Toss client for the benches, against `base_url`.
pub fn toss_client(base_url: &str) -> kr_payments::toss::Client {
    kr_payments::toss::Client::builder()
        .secret_key(TOSS_SECRET)
        .base_url(base_url)
        .http_client(http_client())
        .build()
        .expect("Toss client")
}

fn toss_facade(base_url: &str) -> Op {
    let client = toss_client(base_url);
    let before = Arc::new(toss_payments().0);
    Arc::new(move || {
        let (client, before) = (client.clone(), before.clone());
        Box::pin(async move {
            let done = client
                .partial_cancel(&*before, 3_000, before.balance(), "배송 지연 보상")
                .send()
                .await
                .expect("Toss cancel");
            black_box(done);
        })
    })
}

/// The Toss cancel without `.payment(..)`: no copy of the payment and no checks against it, the same body and key.
pub fn toss_facade_bare(base_url: &str) -> Op {
    let client = toss_client(base_url);
    let before = toss_payments().0;
    let (key, balance) = (before.payment_key.clone(), before.balance_amount);
    Arc::new(move || {
        let (client, key) = (client.clone(), key.clone());
        Box::pin(async move {
            let done = client
                .cancel_payment(kr_payments::toss::PaymentKey::new(key), "배송 지연 보상")
                .amount(3_000)
                .refundable_amount(balance)
                .send()
                .await
                .expect("Toss cancel");
            black_box(done);
        })
    })
}

// ---------------------------------------------------------------------------------------------------------------
// PortOne V2: POST /payments/{paymentId}/cancel with `Authorization: PortOne <secret>`; answers the cancellation.

const PORTONE_V2_SECRET: &str = "portone-bench-secret-0000000000000000000000";
const PORTONE_V2_STORE: &str = "store-4b8d2e6f-1c9a-4e37-a5d0-8f2b6c4e9a13";
const PORTONE_V2_PAYMENT_ID: &str = "order-20240915-48213";

/// The fixture's last cancellation as PortOne writes it, its properties in the fixture's order (`status` first):
/// its text is cut out of the payment rather than decoded and written again, which would sort the properties and
/// send both sides through the slower decode of a union whose tag is not first.
fn portone_v2_cancel_response() -> Vec<u8> {
    #[derive(serde::Deserialize)]
    struct Cancellations<'a> {
        #[serde(borrow)]
        cancellations: Vec<&'a serde_json::value::RawValue>,
    }
    let payment: Cancellations<'_> = serde_json::from_slice(PORTONE_V2_PAYMENT).expect("JSON");
    let text = payment.cancellations.last().expect("a cancellation").get();
    let last = compact(text);
    let value = |t: &str| serde_json::from_str::<serde_json::Value>(t).expect("JSON");
    assert_eq!(value(&last), value(text), "compacting changed the cancellation");
    assert!(
        last.starts_with("{\"status\":"),
        "the fixture's cancellation starts with its tag"
    );
    format!("{{\"cancellation\":{last}}}").into_bytes()
}

/// JSON text without the whitespace between tokens (as a server sends it), everything else kept in order.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PortOneCancelBody<'a> {
    store_id: &'a str,
    reason: &'a str,
    amount: i64,
    current_cancellable_amount: i64,
}

#[derive(serde::Deserialize)]
struct PortOneRawAnswer<'a> {
    #[serde(borrow)]
    cancellation: &'a serde_json::value::RawValue,
}

fn portone_v2_baseline(base_url: &str, how: Decode) -> Op {
    let http = client_for(how);
    let base = base_url.to_string();
    let auth = Arc::new(HeaderValue::from_str(&format!("PortOne {PORTONE_V2_SECRET}")).expect("header"));
    Arc::new(move || {
        let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
        Box::pin(async move {
            let body = serde_json::to_vec(&PortOneCancelBody {
                store_id: PORTONE_V2_STORE,
                reason: "Second spare cup returned",
                amount: 4_000,
                current_cancellable_amount: 69_500,
            })
            .expect("body");
            let rb = http
                .post(format!("{base}/payments/{PORTONE_V2_PAYMENT_ID}/cancel"))
                .header(AUTHORIZATION, (*auth).clone())
                .header("idempotency-key", format!("\"{}\"", uuid::Uuid::new_v4()))
                .header(USER_AGENT, UA)
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .body(body);
            let resp = with_timeout(how, rb).send().await.expect("send");
            assert!(resp.status().is_success());
            let bytes = resp.bytes().await.expect("body");
            let cancellation: v2::PaymentCancellation = match how {
                Decode::KeepingRaw => {
                    let answer: PortOneRawAnswer<'_> = serde_json::from_slice(&bytes).expect("JSON");
                    decode_keeping(how, answer.cancellation)
                }
                _ => {
                    let answer: v2::CancelPaymentResponse = plain(how, &bytes);
                    answer.cancellation
                }
            };
            assert!(matches!(cancellation, v2::PaymentCancellation::Succeeded { .. }));
            black_box(cancellation);
        })
    })
}

fn portone_v2_facade(base_url: &str) -> Op {
    let client = kr_payments::portone_v2::Client::builder()
        .secret(PORTONE_V2_SECRET)
        .store_id(PORTONE_V2_STORE)
        .base_url(base_url)
        .http_client(http_client())
        .build()
        .expect("PortOne V2 client");
    Arc::new(move || {
        let client = client.clone();
        Box::pin(async move {
            let outcome = client
                .partial_cancel(
                    kr_payments::portone_v2::PaymentId::new(PORTONE_V2_PAYMENT_ID),
                    4_000,
                    69_500,
                    "Second spare cup returned",
                )
                .send()
                .await
                .expect("PortOne V2 cancel");
            assert!(outcome.is_succeeded());
            black_box(&outcome);
        })
    })
}

// ---------------------------------------------------------------------------------------------------------------
// iamport: POST /payments/cancel with `Authorization: Bearer <token>`; answers `{code, message, response}`.

const IAMPORT_TOKEN: &str = "9f2c1e7ab04d4e53b8c6a1d2e3f40516a7b8c9d0";
const IAMPORT_IMP_UID: &str = "imp_448280090638";

fn iamport_token_response() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "code": 0,
        "message": null,
        "response": { "access_token": IAMPORT_TOKEN, "now": 1_726_367_400, "expired_at": 1_726_369_200 },
    }))
    .expect("serializes")
}

fn iamport_cancel_response() -> Vec<u8> {
    let mut p: serde_json::Value = serde_json::from_slice(IAMPORT_PAYMENT).expect("JSON");
    p["cancel_amount"] = 4_000.into();
    p["cancelled_at"] = 1_726_450_000.into();
    p["cancel_reason"] = "예비 찻잔 1개 반품".into();
    p["cancel_history"] = serde_json::json!([{
        "pg_tid": "StdpayCARDINIpayTest20240916115000000001",
        "amount": 4000,
        "cancelled_at": 1_726_450_000,
        "reason": "예비 찻잔 1개 반품",
        "cancellation_id": "cancel-00001",
        "receipt_url": "https://iniweb.inicis.com/receipt/cancel/00001",
    }]);
    p["cancel_receipt_urls"] = serde_json::json!(["https://iniweb.inicis.com/receipt/cancel/00001"]);
    serde_json::to_vec(&serde_json::json!({ "code": 0, "message": null, "response": p })).expect("serializes")
}

#[derive(Serialize)]
struct IamportCancelBody<'a> {
    imp_uid: &'a str,
    amount: i64,
    checksum: i64,
    reason: &'a str,
}

/// The envelope with `response` kept as text, read in one pass.
#[derive(serde::Deserialize)]
struct IamportRawEnvelope<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    response: Option<&'a serde_json::value::RawValue>,
}

fn iamport_baseline(base_url: &str, how: Decode) -> Op {
    let http = client_for(how);
    let base = base_url.to_string();
    // The hand-written side holds a token it fetched earlier, too.
    let auth = Arc::new(HeaderValue::from_str(&format!("Bearer {IAMPORT_TOKEN}")).expect("header"));
    Arc::new(move || {
        let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
        Box::pin(async move {
            let body = serde_json::to_vec(&IamportCancelBody {
                imp_uid: IAMPORT_IMP_UID,
                amount: 4_000,
                checksum: 89_000,
                reason: "예비 찻잔 1개 반품",
            })
            .expect("body");
            let rb = http
                .post(format!("{base}/payments/cancel"))
                .header(AUTHORIZATION, (*auth).clone())
                .header(USER_AGENT, UA)
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .body(body);
            let resp = with_timeout(how, rb).send().await.expect("send");
            assert!(resp.status().is_success());
            let bytes = resp.bytes().await.expect("body");
            let payment: iamport_wire::PaymentAnnotation = match how {
                Decode::KeepingRaw => {
                    let envelope: IamportRawEnvelope<'_> = serde_json::from_slice(&bytes).expect("JSON");
                    assert_eq!(envelope.code, Some(0));
                    decode_keeping(how, envelope.response.expect("a payment"))
                }
                _ => {
                    let answer: iamport_wire::PaymentResponse = plain(how, &bytes);
                    assert_eq!(answer.code, Some(0));
                    answer.response.expect("a payment")
                }
            };
            black_box(payment);
        })
    })
}

async fn iamport_facade(base_url: &str) -> Op {
    use kr_payments::iamport::ImpUid;
    let client = kr_payments::iamport::Client::builder()
        .imp_key("imp_apikey_bench")
        .imp_secret("imp_secret_bench_0000000000000000000000")
        .base_url(base_url)
        .http_client(http_client())
        .build()
        .expect("iamport client");
    // Warm: the token is fetched once, before anything is timed.
    client
        .partial_cancel(ImpUid::new(IAMPORT_IMP_UID), 4_000, 89_000, "예비 찻잔 1개 반품")
        .send()
        .await
        .expect("iamport cancel");
    Arc::new(move || {
        let client = client.clone();
        Box::pin(async move {
            let payment = client
                .partial_cancel(ImpUid::new(IAMPORT_IMP_UID), 4_000, 89_000, "예비 찻잔 1개 반품")
                .send()
                .await
                .expect("iamport cancel");
            black_box(payment);
        })
    })
}

/// The size in bytes of each facade's cancel future (`send()`, not polled) and of its request builder: what is
/// moved around, and allocated, per call.
pub fn future_sizes(base_url: &str) -> Vec<(&'static str, usize, usize)> {
    use kr_payments::iamport::ImpUid;
    let v2 = kr_payments::portone_v2::Client::builder()
        .secret(PORTONE_V2_SECRET)
        .store_id(PORTONE_V2_STORE)
        .base_url(base_url)
        .build()
        .expect("PortOne V2 client");
    let iamport = kr_payments::iamport::Client::builder()
        .imp_key("imp_apikey_bench")
        .imp_secret("imp_secret_bench_0000000000000000000000")
        .base_url(base_url)
        .build()
        .expect("iamport client");
    let toss = toss_client(base_url);
    let before = toss_payments().0;
    let v2_cancel = v2.partial_cancel(
        kr_payments::portone_v2::PaymentId::new(PORTONE_V2_PAYMENT_ID),
        4_000,
        69_500,
        "r",
    );
    let v2_builder = std::mem::size_of_val(&v2_cancel);
    let v2_future = std::mem::size_of_val(&v2_cancel.send());
    let iamport_cancel = iamport.partial_cancel(ImpUid::new(IAMPORT_IMP_UID), 4_000, 89_000, "r");
    let iamport_builder = std::mem::size_of_val(&iamport_cancel);
    let iamport_future = std::mem::size_of_val(&iamport_cancel.send());
    let toss_cancel = toss.partial_cancel(&before, 3_000, before.balance(), "r");
    let toss_builder = std::mem::size_of_val(&toss_cancel);
    let toss_future = std::mem::size_of_val(&toss_cancel.send());
    vec![
        ("PortOne V2", v2_builder, v2_future),
        ("iamport", iamport_builder, iamport_future),
        ("Toss", toss_builder, toss_future),
    ]
}
