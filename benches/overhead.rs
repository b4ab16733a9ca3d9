//! Per-call overhead: each facade's cancel against a hand-written `reqwest` + `serde_json` call of the same request.
//!
//! Both hit the same loopback server (`support::Server`, a fixed-response HTTP/1.1 server) answering the same
//! fixture bytes. Before anything is timed, one request of each is recorded at the server and compared: same
//! method, path, headers (values too, except the per-call `Idempotency-Key`) and JSON body, or the bench stops.
//!
//! The baseline is what a careful hand-written call does: build the same body with serde, send it with the same
//! headers on a `reqwest::Client` built like the facade's, check the status, and decode the answer with
//! `serde_json::from_slice` into the same generated type. So the ratio is the facade's own work on top: checks
//! before sending, the `Call` and its headers, the tracing span, the retry loop, the per-call timeout, the
//! decode (path tracking only after a failure), and the mapping to the facade's result type.
//!
//! The summary table times facade and baseline interleaved round by round (sequential calls, then 64 tasks
//! calling concurrently) and prints the median latency ratio and the throughput ratio. Targets: latency ≤ 1.05×,
//! throughput ≥ 0.95×.

mod support;

use criterion::{Criterion, Throughput};
use kr_payments::iamport::raw::types as iamport_wire;
use kr_payments::portone_v2::raw::types as v2;
use kr_payments::toss::raw::types as toss_wire;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use serde::Serialize;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Concurrent, Op, Samples, Sequential, Server};

const PORTONE_V2_PAYMENT: &[u8] = include_bytes!("fixtures/portone_v2_payment_partial_cancelled.json");
const TOSS_PAYMENT: &[u8] = include_bytes!("fixtures/toss_payment_several_cancels.json");
const IAMPORT_PAYMENT: &[u8] = include_bytes!("fixtures/iamport_payment.json");

const UA: &str = concat!("kr-payments/", env!("CARGO_PKG_VERSION"));
const CONCURRENCY: usize = 64;

/// A `reqwest::Client` like the one the facades build for themselves.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(kr_payments::transport::DEFAULT_CONNECT_TIMEOUT)
        .build()
        .expect("reqwest client")
}

/// One provider's pair of calls.
struct Pair {
    provider: &'static str,
    facade: Op,
    baseline: Op,
    /// Diagnostic variants, timed with the two above in the sequential table only.
    diagnostics: Vec<(&'static str, Op)>,
    /// The route both calls hit, to compare what they sent.
    route: (&'static str, &'static str),
}

/// How a baseline reads the answer.
#[derive(Clone, Copy, PartialEq)]
enum Decode {
    /// `serde_json::from_slice`, no timeout: the plain hand-written call.
    Plain,
    /// How the facades read before: a per-call timeout and a path-tracking decode (serde_path_to_error) of every
    /// body; for iamport the envelope read twice, first with `response` built as a `serde_json::Value`.
    PathEveryTime,
    /// What the facades do now: a per-call timeout and a plain decode (the path-tracking one only after a failure,
    /// which never happens here); for iamport the first pass skips `response` instead of building a Value.
    LikeFacade,
}

/// The diagnostic rows every provider gets.
fn decode_diagnostics(make: impl Fn(Decode) -> Op) -> Vec<(&'static str, Op)> {
    vec![
        (
            "baseline + path-tracking decode and timeout",
            make(Decode::PathEveryTime),
        ),
        ("baseline + the facade's decode and timeout", make(Decode::LikeFacade)),
    ]
}

/// The facades' `decode_json`: a decode that tracks the JSON path for its error message.
fn decode_with_path<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut de).expect("decodes");
    de.end().expect("no trailing data");
    v
}

fn decode<T: serde::de::DeserializeOwned>(how: Decode, bytes: &[u8]) -> T {
    match how {
        Decode::Plain | Decode::LikeFacade => serde_json::from_slice(bytes).expect("decodes"),
        Decode::PathEveryTime => decode_with_path(bytes),
    }
}

fn with_timeout(how: Decode, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match how {
        Decode::Plain => rb,
        Decode::PathEveryTime | Decode::LikeFacade => rb.timeout(kr_payments::transport::DEFAULT_TIMEOUT),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Toss: POST /v1/payments/{paymentKey}/cancel with Basic auth and an Idempotency-Key; answers the Payment.

/// The payment before the cancel (the fixture without its last cancel) and the answer (the fixture).
fn toss_payments() -> (kr_payments::toss::Payment, Vec<u8>) {
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

fn toss_baseline(server: &Server, secret: &str, before: &kr_payments::toss::Payment, how: Decode) -> Op {
    let http = http_client();
    let base = server.url();
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{secret}:"))
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
            let payment: toss_wire::Payment = decode(how, &bytes);
            black_box(payment);
        })
    })
}

fn toss_pair(server: &Server) -> Pair {
    let (before, _) = toss_payments();
    let secret = "test_sk_bench0000000000000000";
    let client = kr_payments::toss::Client::builder()
        .secret_key(secret)
        .base_url(server.url())
        .http_client(http_client())
        .build()
        .expect("Toss client");
    let before = Arc::new(before);
    let facade: Op = {
        let (client, before) = (client.clone(), before.clone());
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
    };
    let baseline = toss_baseline(server, secret, &before, Decode::Plain);
    let mut diagnostics = decode_diagnostics(|how| toss_baseline(server, secret, &before, how));
    // Without `.payment(..)`: no copy of the payment and no checks against it, the same body and key.
    let (key, balance) = (before.payment_key.clone(), before.balance_amount);
    let bare: Op = Arc::new(move || {
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
    });
    diagnostics.push(("facade without .payment(..) pre-checks", bare));
    Pair {
        provider: "Toss",
        facade,
        baseline,
        diagnostics,
        route: ("POST", "/v1/payments/"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PortOne V2: POST /payments/{paymentId}/cancel with `Authorization: PortOne <secret>`; answers the cancellation.

fn portone_v2_cancel_response() -> Vec<u8> {
    let payment: serde_json::Value = serde_json::from_slice(PORTONE_V2_PAYMENT).expect("JSON");
    let last = payment["cancellations"]
        .as_array()
        .and_then(|c| c.last())
        .expect("a cancellation")
        .clone();
    serde_json::to_vec(&serde_json::json!({ "cancellation": last })).expect("serializes")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PortOneCancelBody<'a> {
    store_id: &'a str,
    reason: &'a str,
    amount: i64,
    current_cancellable_amount: i64,
}

const PORTONE_V2_STORE: &str = "store-4b8d2e6f-1c9a-4e37-a5d0-8f2b6c4e9a13";
const PORTONE_V2_PAYMENT_ID: &str = "order-20240915-48213";

fn portone_v2_baseline(server: &Server, secret: &str, how: Decode) -> Op {
    let http = http_client();
    let base = server.url();
    let auth = Arc::new(HeaderValue::from_str(&format!("PortOne {secret}")).expect("header"));
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
                .header(USER_AGENT, UA)
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .body(body);
            let resp = with_timeout(how, rb).send().await.expect("send");
            assert!(resp.status().is_success());
            let bytes = resp.bytes().await.expect("body");
            let answer: v2::CancelPaymentResponse = decode(how, &bytes);
            assert!(matches!(answer.cancellation, v2::PaymentCancellation::Succeeded { .. }));
            black_box(answer);
        })
    })
}

fn portone_v2_pair(server: &Server) -> Pair {
    let secret = "portone-bench-secret-0000000000000000000000";
    let (store, payment_id) = (PORTONE_V2_STORE, PORTONE_V2_PAYMENT_ID);
    let client = kr_payments::portone_v2::Client::builder()
        .secret(secret)
        .store_id(store)
        .base_url(server.url())
        .http_client(http_client())
        .build()
        .expect("PortOne V2 client");
    let facade: Op = Arc::new(move || {
        let client = client.clone();
        Box::pin(async move {
            let outcome = client
                .partial_cancel(
                    kr_payments::portone_v2::PaymentId::new(payment_id),
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
    });
    let baseline = portone_v2_baseline(server, secret, Decode::Plain);
    let diagnostics = decode_diagnostics(|how| portone_v2_baseline(server, secret, how));
    Pair {
        provider: "PortOne V2",
        facade,
        baseline,
        diagnostics,
        route: ("POST", "/payments/order-"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// iamport: POST /payments/cancel with `Authorization: Bearer <token>`; answers `{code, message, response}`.

const IAMPORT_TOKEN: &str = "9f2c1e7ab04d4e53b8c6a1d2e3f40516a7b8c9d0";

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

/// The facade reads iamport's envelope twice: the head (with `response` as a `Value`) to tell success from an
/// error, then the whole envelope typed, so a decode error names the full path.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct IamportHead {
    code: Option<i64>,
    message: Option<String>,
    #[serde(default)]
    response: Option<serde_json::Value>,
}

/// The facade's head: `response` skipped without being built (it is only needed when `code` is not 0).
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct IamportHeadSkip {
    code: Option<i64>,
    message: Option<String>,
    #[serde(default)]
    response: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct IamportEnvelope<T> {
    response: Option<T>,
}

fn iamport_baseline(server: &Server, imp_uid: &'static str, how: Decode) -> Op {
    let http = http_client();
    let base = server.url();
    // The hand-written side holds a token it fetched earlier, too.
    let auth = Arc::new(HeaderValue::from_str(&format!("Bearer {IAMPORT_TOKEN}")).expect("header"));
    Arc::new(move || {
        let (http, base, auth) = (http.clone(), base.clone(), auth.clone());
        Box::pin(async move {
            let body = serde_json::to_vec(&IamportCancelBody {
                imp_uid,
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
            let payment = match how {
                Decode::Plain => {
                    let answer: iamport_wire::PaymentResponse = serde_json::from_slice(&bytes).expect("decode");
                    assert_eq!(answer.code, Some(0));
                    answer.response
                }
                Decode::PathEveryTime => {
                    let head: IamportHead = decode_with_path(&bytes);
                    assert_eq!(head.code, Some(0));
                    let envelope: IamportEnvelope<iamport_wire::PaymentAnnotation> = decode_with_path(&bytes);
                    envelope.response
                }
                Decode::LikeFacade => {
                    let head: IamportHeadSkip = serde_json::from_slice(&bytes).expect("decode");
                    assert_eq!(head.code, Some(0));
                    let envelope: IamportEnvelope<iamport_wire::PaymentAnnotation> =
                        serde_json::from_slice(&bytes).expect("decode");
                    envelope.response
                }
            };
            black_box(payment.expect("a payment"));
        })
    })
}

async fn iamport_pair(server: &Server) -> Pair {
    use kr_payments::iamport::ImpUid;
    let client = kr_payments::iamport::Client::builder()
        .imp_key("imp_apikey_bench")
        .imp_secret("imp_secret_bench_0000000000000000000000")
        .base_url(server.url())
        .http_client(http_client())
        .build()
        .expect("iamport client");
    let imp_uid = "imp_448280090638";
    // Warm: the token is fetched once, before anything is timed.
    client
        .partial_cancel(ImpUid::new(imp_uid), 4_000, 89_000, "예비 찻잔 1개 반품")
        .send()
        .await
        .expect("iamport cancel");
    let facade: Op = Arc::new(move || {
        let client = client.clone();
        Box::pin(async move {
            let payment = client
                .partial_cancel(ImpUid::new(imp_uid), 4_000, 89_000, "예비 찻잔 1개 반품")
                .send()
                .await
                .expect("iamport cancel");
            black_box(payment);
        })
    });
    let baseline = iamport_baseline(server, imp_uid, Decode::Plain);
    let diagnostics = decode_diagnostics(|how| iamport_baseline(server, imp_uid, how));
    Pair {
        provider: "iamport",
        facade,
        baseline,
        diagnostics,
        route: ("POST", "/payments/cancel"),
    }
}

// ---------------------------------------------------------------------------------------------------------------

async fn start_server() -> Server {
    let (_, toss_answer) = toss_payments();
    Server::builder()
        .route("POST", "/v1/payments/", 200, &toss_answer)
        .route("POST", "/payments/order-", 200, &portone_v2_cancel_response())
        .route("POST", "/users/getToken", 200, &iamport_token_response())
        .route("POST", "/payments/cancel", 200, &iamport_cancel_response())
        .start()
        .await
}

/// Sends one facade call and one baseline call and stops the bench unless the server saw the same request.
async fn check_same_request(server: &Server, pair: &Pair) {
    let (method, route) = pair.route;
    server.set_recording(true);
    (pair.facade)().await;
    let facade = server.take_last(method, route).expect("facade request recorded");
    (pair.baseline)().await;
    let baseline = server.take_last(method, route).expect("baseline request recorded");
    server.set_recording(false);
    let json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).expect("JSON body");
    assert_eq!(facade.method, baseline.method, "{}: method", pair.provider);
    assert_eq!(facade.path, baseline.path, "{}: path", pair.provider);
    assert_eq!(json(&facade.body), json(&baseline.body), "{}: body", pair.provider);
    assert_eq!(facade.body.len(), baseline.body.len(), "{}: body length", pair.provider);
    let mut fh = facade.headers.clone();
    let mut bh = baseline.headers.clone();
    // A fresh UUID v4 per call on both sides: compare presence and length, not the value.
    let fk = fh.remove("idempotency-key").map(|k| k.len());
    let bk = bh.remove("idempotency-key").map(|k| k.len());
    assert_eq!(fk, bk, "{}: Idempotency-Key", pair.provider);
    assert_eq!(fh, bh, "{}: headers", pair.provider);
}

struct Row {
    provider: &'static str,
    mode: &'static str,
    facade: Samples,
    baseline: Samples,
}

/// Per provider and mode, every variant's samples (facade and baseline first).
type Diagnostics = Vec<(&'static str, &'static str, Vec<(&'static str, Samples)>)>;

fn print_table(rows: &[Row], diagnostics: &Diagnostics, rounds: usize) {
    println!("\n## overhead: facade cancel vs hand-written reqwest + serde_json (interleaved, {rounds} rounds)");
    println!("load average: {}\n", support::load_average());
    println!(
        "| provider | mode | facade median | baseline median | latency ratio | facade calls/s | baseline calls/s | throughput ratio |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let lat = r.facade.median().as_secs_f64() / r.baseline.median().as_secs_f64();
        let thr = r.facade.round_throughput_median() / r.baseline.round_throughput_median();
        let flag = |ok: bool| if ok { "" } else { " (missed)" };
        println!(
            "| {} | {} | {} | {} | {lat:.3}×{} | {:.0} | {:.0} | {thr:.3}×{} |",
            r.provider,
            r.mode,
            support::us(r.facade.median()),
            support::us(r.baseline.median()),
            flag(lat <= 1.05),
            r.facade.round_throughput_median(),
            r.baseline.round_throughput_median(),
            flag(thr >= 0.95),
        );
    }
    println!("\ntargets: latency ratio ≤ 1.05×, throughput ratio ≥ 0.95×");
    println!("\n### where the difference goes (all variants interleaved in the same rounds as the rows above)\n");
    println!("| provider | mode | variant | median latency | vs baseline | calls/s | vs baseline |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for (provider, mode, variants) in diagnostics {
        let base = &variants[1].1;
        for (name, s) in variants {
            println!(
                "| {provider} | {mode} | {name} | {} | {:.3}× | {:.0} | {:.3}× |",
                support::us(s.median()),
                s.median().as_secs_f64() / base.median().as_secs_f64(),
                s.round_throughput_median(),
                s.round_throughput_median() / base.round_throughput_median(),
            );
        }
    }
}

fn criterion_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime, pairs: &[Pair]) {
    for pair in pairs {
        let mut g = c.benchmark_group(format!("overhead/{}", pair.provider.replace(' ', "_")));
        for (name, op) in [("facade", &pair.facade), ("baseline", &pair.baseline)] {
            g.throughput(Throughput::Elements(1));
            g.bench_function(format!("{name}/sequential"), |b| b.to_async(rt).iter(|| op()));
            g.throughput(Throughput::Elements(CONCURRENCY as u64));
            g.bench_function(format!("{name}/concurrent{CONCURRENCY}"), |b| {
                b.to_async(rt).iter_custom(|iters| {
                    let op = op.clone();
                    async move {
                        let started = Instant::now();
                        for _ in 0..iters {
                            let mut s = Samples::default();
                            support::run_concurrent(&op, CONCURRENCY, 1, &mut s).await;
                        }
                        started.elapsed()
                    }
                })
            });
        }
        g.finish();
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let full = support::full_run();
    let (server, pairs) = rt.block_on(async {
        let server = start_server().await;
        let pairs = vec![
            portone_v2_pair(&server),
            iamport_pair(&server).await,
            toss_pair(&server),
        ];
        for pair in &pairs {
            check_same_request(&server, pair).await;
        }
        (server, pairs)
    });

    let mut c = support::criterion().measurement_time(Duration::from_secs(2));
    criterion_benches(&mut c, &rt, &pairs);

    if support::profiling() {
        // Calls made, so two profiles of the same length can be compared per call.
        for (method, route) in [
            ("POST", "/v1/payments/"),
            ("POST", "/payments/order-"),
            ("POST", "/payments/cancel"),
        ] {
            eprintln!("{method} {route}: {} calls", server.hits(method, route));
        }
        c.final_summary();
        return;
    }
    let (rounds, seq_calls, per_task) = if full { (31, 100, 8) } else { (2, 3, 1) };
    let (rows, diagnostics) = rt.block_on(async {
        let mut rows = Vec::new();
        let mut diagnostics = Vec::new();
        for pair in &pairs {
            let mut ops = vec![&pair.facade, &pair.baseline];
            ops.extend(pair.diagnostics.iter().map(|(_, op)| op));
            // Warm every connection pool to the concurrency it will use.
            let warm = Concurrent {
                concurrency: CONCURRENCY,
                calls_per_task: 2,
            };
            support::interleave(&ops, 1, warm).await;
            let conc = Concurrent {
                concurrency: CONCURRENCY,
                calls_per_task: per_task,
            };
            let modes: [(&'static str, Box<dyn support::AsyncRunner>); 2] = [
                ("sequential", Box::new(Sequential(seq_calls))),
                ("64 concurrent", Box::new(conc)),
            ];
            for (mode, runner) in modes {
                let mut s = support::interleave(&ops, rounds, runner).await.into_iter();
                let (facade, baseline) = (s.next().expect("facade"), s.next().expect("baseline"));
                let mut variants = vec![("facade", facade.clone()), ("baseline", baseline.clone())];
                variants.extend(pair.diagnostics.iter().map(|(name, _)| *name).zip(s));
                diagnostics.push((pair.provider, mode, variants));
                rows.push(Row {
                    provider: pair.provider,
                    mode,
                    facade,
                    baseline,
                });
            }
        }
        (rows, diagnostics)
    });
    print_table(&rows, &diagnostics, rounds);
    let token_requests = server.hits("POST", "/users/getToken");
    println!("iamport token requests during the whole run: {token_requests} (the facade's client was warmed once)");
    c.final_summary();
}
