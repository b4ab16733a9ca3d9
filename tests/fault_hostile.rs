//! A hostile server, one behaviour at a time, on all three providers: redirects to another origin (the iamport
//! token request included), absurd amounts (`i64::MIN`), duplicate JSON keys, a body far above the size limit, a
//! server that never answers, ids that would change the URL, a token that cannot be had, two hundred identical
//! guarded cancels at once, and another worker's identical refund a moment earlier.
//!
//! The judge is always the provider's side: the sandbox's ledger of applied cancels, or the requests a mock server
//! received. What the SDK reports is compared with it, never trusted on its own.
#![cfg(feature = "sandbox")]

mod fault_support;

use fault_support::{Action, FaultProxy};
use kr_payments::Error;
use kr_payments::error::{Delivery, TransportErrorKind};
use kr_payments::refund::{Refund, RefundError, RefundOutcome, RefundStatus, Refunds};
use kr_payments::sandbox::{self, Fault, FaultRule, Provider, Sandbox, SeedPayment};
use kr_payments::transport::RetryPolicy;
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROVIDERS: [Provider; 3] = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];
const PAID: i64 = 10_000;
const PART: i64 = 3_000;

fn quick() -> RetryPolicy {
    RetryPolicy::Safe {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    }
}

struct Clients {
    portone: kr_payments::portone_v2::Client,
    iamport: kr_payments::iamport::Client,
    toss: kr_payments::toss::Client,
}

/// Clients of one sandbox, each pointed at `base(provider)`.
fn clients_at(base: impl Fn(Provider) -> String, timeout: Duration, retry: RetryPolicy) -> Clients {
    Clients {
        portone: kr_payments::portone_v2::Client::builder()
            .secret(sandbox::DEFAULT_PORTONE_SECRET)
            .base_url(base(Provider::PortOneV2))
            .timeout(timeout)
            .retry(retry.clone())
            .build()
            .unwrap(),
        iamport: kr_payments::iamport::Client::builder()
            .imp_key(sandbox::DEFAULT_IMP_KEY)
            .imp_secret(sandbox::DEFAULT_IMP_SECRET)
            .base_url(base(Provider::Iamport))
            .timeout(timeout)
            .retry(retry.clone())
            .build()
            .unwrap(),
        toss: kr_payments::toss::Client::builder()
            .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
            .base_url(base(Provider::Toss))
            .timeout(timeout)
            .retry(retry)
            .build()
            .unwrap(),
    }
}

fn clients(sb: &Sandbox) -> Clients {
    clients_at(|p| sb.origin(p), Duration::from_secs(5), quick())
}

async fn refund(c: &Clients, p: Provider, id: &str, refund: &Refund) -> Result<RefundOutcome, RefundError> {
    match p {
        Provider::PortOneV2 => c.portone.refund(id, refund).await,
        Provider::Iamport => c.iamport.refund(id, refund).await,
        _ => c.toss.refund(id, refund).await,
    }
}

async fn seeded(p: Provider) -> (Sandbox, String) {
    let sb = Sandbox::start().await.unwrap();
    let id = sb.seed(SeedPayment::card("order-hostile", PAID).provider(p));
    (sb, id)
}

/// A server that must see nothing: every request it gets is counted.
async fn foreign() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    server
}

/// The id of the one cancel applied to `id`, as the provider names it.
fn ledger_id(p: Provider, sb: &Sandbox, id: &str) -> String {
    let cancels = sb.cancels(id);
    assert_eq!(cancels.len(), 1);
    let c = &cancels[0];
    if p == Provider::Toss {
        c.transaction_key.clone()
    } else {
        c.cancellation_id.clone()
    }
}

fn applied(sb: &Sandbox, id: &str) -> i64 {
    sb.cancels(id).iter().map(|c| c.amount).sum()
}

#[tokio::test]
async fn a_cross_origin_redirect_after_a_cancel_sends_no_body_and_no_credential_to_the_other_origin() {
    for p in PROVIDERS {
        for status in [307, 308] {
            let other = foreign().await;
            let (sb, id) = seeded(p).await;
            sb.faults().add(
                FaultRule::new(Fault::RedirectAfterApply {
                    status,
                    location: format!("{}/payments/cancel", other.uri()),
                })
                .provider(p)
                .method(Method::POST)
                .path_contains("cancel"),
            );
            let result = refund(&clients(&sb), p, &id, &Refund::partial(PART, PAID, "redirect test")).await;
            let seen = other.received_requests().await.unwrap();
            assert!(
                seen.is_empty(),
                "{p:?} {status}: {} request(s) reached the other origin",
                seen.len()
            );
            // The cancel was applied before the redirect: the SDK either proved it from the provider's data (and
            // reports exactly that refund) or says it does not know; never "not applied".
            assert_eq!(applied(&sb, &id), PART, "{p:?} {status}: one refund applied");
            match result {
                Ok(o) => {
                    assert!(
                        o.reconciled,
                        "{p:?} {status}: a redirect is not an answer; the success was learned"
                    );
                    assert_eq!(o.refunded_amount, PART, "{p:?} {status}");
                    assert_eq!(o.cancellation_id, Some(ledger_id(p, &sb, &id)), "{p:?} {status}");
                }
                Err(e) => {
                    assert_ne!(e.error.delivery(), Delivery::NotSent, "{p:?} {status}: {}", e.error);
                    assert_ne!(e.error.delivery(), Delivery::Refused, "{p:?} {status}: {}", e.error);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_cross_origin_redirect_of_the_iamport_token_request_keeps_the_key_and_secret_home() {
    for status in [301, 302, 303, 307, 308] {
        let other = foreign().await;
        let (sb, id) = seeded(Provider::Iamport).await;
        sb.faults().add(
            FaultRule::new(Fault::RedirectAfterApply {
                status,
                location: format!("{}/users/getToken", other.uri()),
            })
            .provider(Provider::Iamport)
            .method(Method::POST)
            .path_contains("getToken")
            .times(usize::MAX),
        );
        let e = refund(
            &clients(&sb),
            Provider::Iamport,
            &id,
            &Refund::partial(PART, PAID, "token redirect"),
        )
        .await
        .map(|o| o.refunded_amount)
        .unwrap_err();
        let seen = other.received_requests().await.unwrap();
        assert!(
            seen.is_empty(),
            "{status}: the token request (imp_key, imp_secret) left for another origin"
        );
        assert!(
            e.nothing_sent(),
            "{status}: no token, so no cancel was sent: {}",
            e.error
        );
        assert!(
            e.error.to_string().contains("nothing was sent"),
            "{status}: {}",
            e.error
        );
        assert!(sb.cancels(&id).is_empty(), "{status}: nothing applied");

        // Redirected once: asking for a token again is harmless (it moves no money), and the refund goes through.
        let (sb, id) = seeded(Provider::Iamport).await;
        sb.faults().add(
            FaultRule::new(Fault::RedirectAfterApply {
                status,
                location: format!("{}/users/getToken", other.uri()),
            })
            .provider(Provider::Iamport)
            .method(Method::POST)
            .path_contains("getToken"),
        );
        let done = refund(
            &clients(&sb),
            Provider::Iamport,
            &id,
            &Refund::partial(PART, PAID, "token redirect"),
        )
        .await
        .unwrap();
        assert_eq!((done.refunded_amount, applied(&sb, &id)), (PART, PART), "{status}");
        assert!(other.received_requests().await.unwrap().is_empty(), "{status}");
    }
}

#[tokio::test]
async fn a_cross_origin_redirect_of_a_lookup_is_not_followed() {
    for p in PROVIDERS {
        let other = foreign().await;
        let (sb, id) = seeded(p).await;
        sb.faults().add(
            FaultRule::new(Fault::RedirectAfterApply {
                status: 302,
                location: format!("{}/elsewhere", other.uri()),
            })
            .provider(p)
            .method(Method::GET)
            .times(usize::MAX),
        );
        let c = clients(&sb);
        let redirected = match p {
            Provider::PortOneV2 => c
                .portone
                .get_payment(&kr_payments::portone_v2::PaymentId::new(id.clone()))
                .send()
                .await
                .map(|_| ())
                .err()
                .map(|e| e.to_string()),
            Provider::Iamport => c
                .iamport
                .get_payment(&kr_payments::iamport::ImpUid::new(id.clone()))
                .await
                .map(|_| ())
                .err()
                .map(|e| e.to_string()),
            _ => c
                .toss
                .get_payment(&kr_payments::toss::PaymentKey::new(id.clone()))
                .await
                .map(|_| ())
                .err()
                .map(|e| e.to_string()),
        };
        let message = redirected.unwrap_or_else(|| panic!("{p:?}: a redirected lookup is not a payment"));
        assert!(message.contains("redirect"), "{p:?}: {message}");
        assert!(
            other.received_requests().await.unwrap().is_empty(),
            "{p:?}: a credential left for another origin"
        );
    }
}

fn portone_min(mut v: Value) -> Value {
    v["cancellation"]["totalAmount"] = Value::from(i64::MIN);
    v
}

fn iamport_min(mut v: Value) -> Value {
    let r = &mut v["response"];
    r["cancel_amount"] = Value::from(i64::MIN);
    if let Some(last) = r["cancel_history"].as_array_mut().and_then(|h| h.last_mut()) {
        last["amount"] = Value::from(i64::MIN);
    }
    v
}

fn toss_min(mut v: Value) -> Value {
    v["balanceAmount"] = Value::from(i64::MIN);
    if let Some(last) = v["cancels"].as_array_mut().and_then(|c| c.last_mut()) {
        last["cancelAmount"] = Value::from(i64::MIN);
    }
    v
}

#[tokio::test]
async fn a_server_sent_i64_min_is_an_inconsistent_answer_never_a_panic_or_a_negative_refund() {
    for p in PROVIDERS {
        let map = match p {
            Provider::PortOneV2 => portone_min,
            Provider::Iamport => iamport_min,
            _ => toss_min,
        };
        for (what, asked) in [
            ("guarded full", Refund::full("absurd amounts").expected_balance(PAID)),
            ("guarded partial", Refund::partial(PART, PAID, "absurd amounts")),
        ] {
            let (sb, id) = seeded(p).await;
            let proxy = FaultProxy::start(sb.origin(p)).await;
            proxy.on("POST", "cancel", usize::MAX, Action::ForwardMapJson(map));
            let c = clients_at(
                |_| proxy.base_url().to_string(),
                Duration::from_secs(5),
                RetryPolicy::Never,
            );
            let e = refund(&c, p, &id, &asked).await.map(|o| o.refunded_amount).unwrap_err();
            assert!(
                matches!(e.error, Error::Inconsistent(_)),
                "{p:?} {what}: i64::MIN must be refused as inconsistent, got {}",
                e.error
            );
            assert_eq!(
                e.error.delivery(),
                Delivery::Unknown,
                "{p:?} {what}: money may have moved"
            );
            let shown = e.error.to_string();
            assert!(shown.contains("money may have moved"), "{p:?} {what}: {shown}");
            assert_eq!(
                sb.cancels(&id).len(),
                1,
                "{p:?} {what}: the provider applied one cancel"
            );
        }
    }
}

/// Sends `body` as the answer to every request but iamport's token request, and counts them.
async fn answering(status: u16, body: impl Into<Vec<u8>>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/users/getToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 0, "message": null,
            "response": {"access_token": "hostile-token", "now": 1_720_000_000, "expired_at": 1_720_001_800}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_raw(body.into(), "application/json"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn duplicate_keys_in_a_portone_cancel_answer_get_one_reading_on_both_paths() {
    // The same answer, with the amount and the status given twice: whatever the crate makes of it, the typed
    // cancel and the neutral refund must agree, and neither may report the second amount.
    for (what, body) in [
        (
            "totalAmount twice",
            r#"{"cancellation":{"status":"SUCCEEDED","id":"c-dup","totalAmount":3000,"totalAmount":99999,
            "taxFreeAmount":0,"vatAmount":0,"reason":"dup","cancelledAt":"2024-07-10T03:00:02Z",
            "requestedAt":"2024-07-10T03:00:00Z"}}"#,
        ),
        (
            "status twice",
            r#"{"cancellation":{"status":"FAILED","status":"SUCCEEDED","id":"c-dup","totalAmount":3000,
            "taxFreeAmount":0,"vatAmount":0,"reason":"dup","requestedAt":"2024-07-10T03:00:00Z"}}"#,
        ),
    ] {
        let server = answering(200, body).await;
        let client = kr_payments::portone_v2::Client::builder()
            .secret(sandbox::DEFAULT_PORTONE_SECRET)
            .base_url(server.uri())
            .retry(RetryPolicy::Never)
            .build()
            .unwrap();
        let typed = client
            .cancel_payment(kr_payments::portone_v2::PaymentId::new("order-dup"), "dup")
            .amount(PART)
            .current_cancellable_amount(PAID)
            .send()
            .await;
        let neutral = client.refund("order-dup", &Refund::partial(PART, PAID, "dup")).await;
        let typed_error = typed.as_ref().err().map(|e| e.to_string());
        let neutral_error = neutral.as_ref().err().map(|e| e.error.to_string());
        assert!(
            typed_error.is_some(),
            "{what}: a typed cancel accepted an ambiguous answer: {typed:?}"
        );
        assert!(
            neutral_error.is_some(),
            "{what}: the neutral refund accepted an ambiguous answer: {neutral:?}"
        );
        assert!(typed_error.unwrap().contains("duplicate"), "{what}");
        assert!(neutral_error.unwrap().contains("duplicate"), "{what}");
        assert_eq!(
            neutral.unwrap_err().error.delivery(),
            Delivery::Unknown,
            "{what}: an unreadable success after a cancel leaves the outcome unknown"
        );
    }
}

#[tokio::test]
async fn duplicate_keys_are_refused_on_iamport_and_toss_cancel_answers() {
    let iamport = answering(
        200,
        r#"{"code":0,"message":null,"response":{"imp_uid":"imp_dup","merchant_uid":"m","amount":10000,
        "cancel_amount":3000,"cancel_amount":10000,"status":"paid","cancel_history":[]}}"#,
    )
    .await;
    let toss = answering(
        200,
        r#"{"paymentKey":"tk_dup","orderId":"o","status":"PARTIAL_CANCELED","totalAmount":10000,
        "balanceAmount":7000,"balanceAmount":10000,"cancels":[{"cancelAmount":3000,"cancelReason":"dup",
        "canceledAt":"2024-07-10T12:00:02+09:00","transactionKey":"t1","cancelStatus":"DONE"}]}"#,
    )
    .await;
    let c = clients_at(
        |p| match p {
            Provider::Iamport => iamport.uri(),
            _ => toss.uri(),
        },
        Duration::from_secs(5),
        RetryPolicy::Never,
    );
    for (p, id) in [(Provider::Iamport, "imp_dup"), (Provider::Toss, "tk_dup")] {
        let e = refund(&c, p, id, &Refund::partial(PART, PAID, "dup"))
            .await
            .map(|o| o.refunded_amount)
            .unwrap_err();
        assert!(e.error.to_string().contains("duplicate"), "{p:?}: {}", e.error);
        assert_eq!(e.error.delivery(), Delivery::Unknown, "{p:?}");
    }
}

#[tokio::test]
async fn a_fifty_mib_answer_is_cut_at_the_limit_and_its_error_prints_short() {
    let huge = {
        let mut b = br#"{"message":""#.to_vec();
        b.resize(50 * 1024 * 1024, b'x');
        b.extend_from_slice(br#""}"#);
        b
    };
    let server = answering(500, huge).await;
    let c = clients_at(|_| server.uri(), Duration::from_secs(20), RetryPolicy::Never);
    for p in PROVIDERS {
        let id = if p == Provider::Iamport { "imp_huge" } else { "huge" };
        let e = refund(&c, p, id, &Refund::partial(PART, PAID, "huge"))
            .await
            .map(|o| o.refunded_amount)
            .unwrap_err();
        match &e.error {
            Error::Transport(t) => assert_eq!(t.kind, TransportErrorKind::BodyTooLarge, "{p:?}"),
            other => panic!("{p:?}: {other}"),
        }
        assert_eq!(
            e.error.delivery(),
            Delivery::Unknown,
            "{p:?}: the cancel may have been applied"
        );
        let display = e.error.to_string();
        let debug = format!("{:?}", e.error);
        assert!(display.contains("size limit"), "{p:?}: {display}");
        assert!(display.len() < 2_000, "{p:?}: Display is {} bytes", display.len());
        assert!(debug.len() <= 8 * 1024, "{p:?}: Debug is {} bytes", debug.len());
    }
}

/// Accepts connections and reads requests, but never answers; counts the connections.
async fn silent() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn against_a_server_that_never_answers_the_call_ends_by_its_deadline() {
    let deadline = Duration::from_millis(800);
    let patient = RetryPolicy::Safe {
        max_attempts: 10,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    };
    for p in PROVIDERS {
        let (base, connections) = silent().await;
        let c = clients_at(|_| base.clone(), deadline, patient.clone());
        let id = if p == Provider::Iamport { "imp_silent" } else { "silent" };
        let started = Instant::now();
        let e = refund(&c, p, id, &Refund::partial(PART, PAID, "silent"))
            .await
            .map(|o| o.refunded_amount)
            .unwrap_err();
        let took = started.elapsed();
        assert!(e.error.is_timeout(), "{p:?}: {}", e.error);
        // Ten attempts of the whole deadline each would take eight seconds; the deadline is for the whole call.
        // The bound is loose on purpose (a loaded machine schedules late); what it catches is a per-attempt timeout.
        assert!(
            took < deadline * 4,
            "{p:?}: the call took {took:?} for a deadline of {deadline:?}"
        );
        let n = connections.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=2).contains(&n), "{p:?}: {n} attempts fit in one deadline");
    }
}

#[tokio::test]
async fn ids_that_would_change_the_url_are_refused_before_sending_on_every_provider() {
    let server = answering(599, "{}").await;
    let c = clients_at(|_| server.uri(), Duration::from_secs(5), RetryPolicy::Never);
    for bad in ["", ".", "..", "a\u{0}b", "a\nb", "a\rb", "a\u{7f}b", "\t"] {
        for p in PROVIDERS {
            let e = refund(&c, p, bad, &Refund::partial(PART, PAID, "bad id"))
                .await
                .map(|o| o.refunded_amount)
                .unwrap_err();
            assert!(e.nothing_sent(), "{p:?} {bad:?}: {}", e.error);
            assert!(
                matches!(e.error, Error::InvalidRequest(_)),
                "{p:?} {bad:?}: {}",
                e.error
            );
        }
        let lookups = [
            c.portone
                .get_payment(&kr_payments::portone_v2::PaymentId::new(bad))
                .await
                .err()
                .map(|e| e.nothing_sent()),
            c.iamport
                .get_payment(&kr_payments::iamport::ImpUid::new(bad))
                .await
                .err()
                .map(|e| e.nothing_sent()),
            c.toss
                .get_payment(&kr_payments::toss::PaymentKey::new(bad))
                .await
                .err()
                .map(|e| e.nothing_sent()),
        ];
        for (p, refused) in PROVIDERS.iter().zip(lookups) {
            assert_eq!(refused, Some(true), "{p:?}: lookup of {bad:?}");
        }
    }
    let sent = server.received_requests().await.unwrap();
    assert!(
        sent.is_empty(),
        "nothing was sent, not even a token request: {:?}",
        sent.iter().map(|r| r.url.path().to_string()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn when_iamport_gives_no_token_no_cancel_is_sent_and_the_error_says_so() {
    let (sb, id) = seeded(Provider::Iamport).await;
    let wrong = kr_payments::iamport::Client::builder()
        .imp_key(sandbox::DEFAULT_IMP_KEY)
        .imp_secret("not-the-secret")
        .base_url(sb.origin(Provider::Iamport))
        .retry(quick())
        .build()
        .unwrap();
    let e = wrong
        .refund(&id, &Refund::partial(PART, PAID, "no token"))
        .await
        .map(|o| o.refunded_amount)
        .unwrap_err();
    assert!(e.nothing_sent(), "{}", e.error);
    assert!(e.error.to_string().contains("nothing was sent"), "{}", e.error);
    assert!(
        !e.error.to_string().contains("not-the-secret"),
        "the secret is never printed"
    );
    assert!(sb.cancels(&id).is_empty());

    // The token endpoint failing below HTTP: the same.
    for fault in [Fault::Status(503), Fault::DropBeforeApply] {
        let (sb, id) = seeded(Provider::Iamport).await;
        sb.faults().add(
            FaultRule::new(fault)
                .provider(Provider::Iamport)
                .path_contains("getToken")
                .times(usize::MAX),
        );
        let e = clients(&sb)
            .iamport
            .refund(&id, &Refund::partial(PART, PAID, "no token"))
            .await
            .map(|o| o.refunded_amount)
            .unwrap_err();
        assert!(e.nothing_sent(), "{}", e.error);
        assert!(sb.cancels(&id).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_identical_guarded_cancels_with_lost_answers_report_at_most_what_was_applied() {
    for p in PROVIDERS {
        let (sb, id) = seeded(p).await;
        // Every first answer is lost after the provider handled the request.
        sb.faults().add(
            FaultRule::new(Fault::DropConnection)
                .provider(p)
                .method(Method::POST)
                .path_contains("cancel")
                .times(200),
        );
        let c = std::sync::Arc::new(clients(&sb));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let c = c.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                refund(&c, p, &id, &Refund::partial(PART, PAID, "the same line returned")).await
            }));
        }
        let mut succeeded = 0;
        let mut reported = 0;
        for t in tasks {
            if let Ok(o) = t.await.unwrap() {
                assert_eq!(o.status, RefundStatus::Succeeded, "{p:?}");
                succeeded += 1;
                reported += o.refunded_amount;
            }
        }
        let ledger = sb.cancels(&id);
        assert_eq!(ledger.len(), 1, "{p:?}: the guard lets one of the two hundred through");
        assert!(
            succeeded <= ledger.len(),
            "{p:?}: {succeeded} successes reported for {} applied",
            ledger.len()
        );
        assert!(reported <= applied(&sb, &id), "{p:?}: {reported} reported refunded");
    }
}

#[tokio::test]
async fn another_workers_identical_refund_a_moment_earlier_is_not_taken_for_ours() {
    for p in PROVIDERS {
        let (sb, id) = seeded(p).await;
        // Worker B refunds 3,000 and is told so.
        let b = refund(
            &clients(&sb),
            p,
            &id,
            &Refund::partial(PART, PAID, "the same line returned"),
        )
        .await
        .unwrap();
        assert_eq!(b.refunded_amount, PART);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        // Worker A sends the same refund with the balance it read before B's, and its first attempt is lost.
        sb.faults().add(
            FaultRule::new(Fault::DropConnection)
                .provider(p)
                .method(Method::POST)
                .path_contains("cancel"),
        );
        let a = refund(
            &clients(&sb),
            p,
            &id,
            &Refund::partial(PART, PAID, "the same line returned"),
        )
        .await;
        assert_eq!(sb.cancels(&id).len(), 1, "{p:?}: only B's refund was applied");
        match a {
            Ok(o) => panic!("{p:?}: A reported B's refund as its own: {o:?}"),
            Err(e) => assert!(
                matches!(e.error.delivery(), Delivery::Refused | Delivery::NotSent)
                    || matches!(e.error, Error::Unverified(_)),
                "{p:?}: A must be refused (the balance moved) or unverified, got {}",
                e.error
            ),
        }
    }
}

fn portone_negative(mut v: Value) -> Value {
    v["cancellation"]["totalAmount"] = Value::from(-PART);
    v
}

fn portone_inflated(mut v: Value) -> Value {
    v["cancellation"]["totalAmount"] = Value::from(99_999);
    v
}

fn iamport_inflated(mut v: Value) -> Value {
    v["response"]["cancel_amount"] = Value::from(99_999);
    if let Some(last) = v["response"]["cancel_history"]
        .as_array_mut()
        .and_then(|h| h.last_mut())
    {
        last["amount"] = Value::from(99_999);
    }
    v
}

/// The payment as if the cancel had not happened: no entry for it, and the balance where it was. (Without the entry
/// but with the balance moved by exactly the amount asked, iamport's answer still proves the cancel: iamport does
/// not always list `cancel_history`.)
fn iamport_without_the_entry(mut v: Value) -> Value {
    if let Some(history) = v["response"]["cancel_history"].as_array_mut() {
        history.pop();
    }
    v["response"]["cancel_amount"] = Value::from(0);
    v
}

fn iamport_other_payment(mut v: Value) -> Value {
    v["response"]["imp_uid"] = Value::from("imp_someone_else");
    v
}

fn toss_other_payment(mut v: Value) -> Value {
    v["paymentKey"] = Value::from("tsbx_someone_else");
    v
}

fn toss_no_cancels(mut v: Value) -> Value {
    v["cancels"] = Value::Array(Vec::new());
    v
}

fn toss_inflated(mut v: Value) -> Value {
    if let Some(last) = v["cancels"].as_array_mut().and_then(|c| c.last_mut()) {
        last["cancelAmount"] = Value::from(99_999);
    }
    v
}

/// How the proxy rewrites an applied cancel's answer.
type Rewrite = fn(Value) -> Value;

#[tokio::test]
async fn a_success_that_contradicts_the_request_is_never_believed() {
    let cases: [(Provider, &str, Rewrite); 8] = [
        (Provider::PortOneV2, "a negative refund", portone_negative),
        (Provider::PortOneV2, "more refunded than asked", portone_inflated),
        (Provider::Iamport, "more refunded than asked", iamport_inflated),
        (
            Provider::Iamport,
            "neither an entry nor a balance showing this cancel",
            iamport_without_the_entry,
        ),
        (Provider::Iamport, "another payment", iamport_other_payment),
        (Provider::Toss, "another paymentKey", toss_other_payment),
        (Provider::Toss, "no cancel entry", toss_no_cancels),
        (Provider::Toss, "more refunded than asked", toss_inflated),
    ];
    for (p, what, map) in cases {
        let (sb, id) = seeded(p).await;
        let proxy = FaultProxy::start(sb.origin(p)).await;
        proxy.on("POST", "cancel", usize::MAX, Action::ForwardMapJson(map));
        let c = clients_at(|_| proxy.base_url().to_string(), Duration::from_secs(5), quick());
        let e = match refund(&c, p, &id, &Refund::partial(PART, PAID, "checked answer")).await {
            Ok(o) => panic!("{p:?} {what}: believed: {o:?}"),
            Err(e) => e,
        };
        assert!(matches!(e.error, Error::Inconsistent(_)), "{p:?} {what}: {}", e.error);
        assert!(
            e.error.outcome_unknown(),
            "{p:?} {what}: money moved, the error must say it may have"
        );
        assert_eq!(
            proxy.hits("POST", "cancel"),
            1,
            "{p:?} {what}: a contradicting success is not resent"
        );
        assert_eq!(
            applied(&sb, &id),
            PART,
            "{p:?} {what}: the provider applied the one refund"
        );
    }
}

#[tokio::test]
async fn a_second_send_with_the_same_key_while_the_first_is_processing_gets_the_first_answer() {
    for p in [Provider::PortOneV2, Provider::Toss] {
        let (sb, id) = seeded(p).await;
        sb.faults().add(
            FaultRule::new(Fault::Processing(Duration::from_millis(1_500)))
                .provider(p)
                .method(Method::POST)
                .path_contains("cancel"),
        );
        let key = format!("merchant-refund-{}", p.as_str());
        let asked = Refund::partial(PART, PAID, "one logical refund").idempotency_key(key);
        let c = clients(&sb);
        let first = refund(&c, p, &id, &asked);
        let second = async {
            // The merchant's job is retried while the first send is still being processed.
            tokio::time::sleep(Duration::from_millis(300)).await;
            refund(&c, p, &id, &asked).await
        };
        let (first, second) = tokio::join!(first, second);
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(applied(&sb, &id), PART, "{p:?}: one refund for one key");
        assert_eq!(
            first.cancellation_id, second.cancellation_id,
            "{p:?}: the same cancel, reported twice"
        );
        assert_eq!((first.refunded_amount, second.refunded_amount), (PART, PART), "{p:?}");
        assert!(
            second.reconciled,
            "{p:?}: the second send learned the first one's answer"
        );
    }
}
