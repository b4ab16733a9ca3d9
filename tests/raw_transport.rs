//! The generated clients (`Client::raw()`) go through the facade's transport: reads are retried, a mutating call is
//! replayed only with an idempotency key (PortOne V2 and Toss add one; iamport's are never replayed), every attempt
//! is a `kr_payments.request` span named by the operation id, PortOne V2 calls get the client's store id, and a raw
//! error converts into `kr_payments::Error` without the response's headers. The sandbox's ledger counts refunds.
#![cfg(feature = "sandbox")]

mod fault_support;

use fault_support::{quick, sandbox_hits};
use kr_payments::sandbox::{self, Fault, FaultRule, Provider, Sandbox, SeedPayment};
use kr_payments::{iamport, portone_v2, toss};
use reqwest::Method;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn portone(base: &str) -> portone_v2::Client {
    portone_v2::Client::builder()
        .secret(sandbox::DEFAULT_PORTONE_SECRET)
        .base_url(base)
        .timeout(Duration::from_secs(5))
        .retry(quick())
        .build()
        .unwrap()
}

fn iamport(sb: &Sandbox) -> iamport::Client {
    iamport::Client::builder()
        .imp_key(sandbox::DEFAULT_IMP_KEY)
        .imp_secret(sandbox::DEFAULT_IMP_SECRET)
        .base_url(sb.base_url_iamport())
        .timeout(Duration::from_secs(5))
        .retry(quick())
        .build()
        .unwrap()
}

fn toss(sb: &Sandbox) -> toss::Client {
    toss::Client::builder()
        .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
        .base_url(sb.base_url_toss())
        .timeout(Duration::from_secs(5))
        .retry(quick())
        .build()
        .unwrap()
}

fn rule(p: Provider, m: Method, fragment: &str, fault: Fault) -> FaultRule {
    FaultRule::new(fault)
        .provider(p)
        .method(m)
        .path_contains(fragment)
        .times(1)
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged by this binary, with spans; installed once as the global default.
fn log_text() -> String {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this binary");
        log
    });
    String::from_utf8_lossy(&log.lock().unwrap()).to_string()
}

#[tokio::test]
async fn a_raw_get_is_retried_after_a_503_on_every_provider_in_a_span_named_by_its_operation() {
    let _ = log_text();
    let sb = Sandbox::start().await.unwrap();

    let id = sb.seed(SeedPayment::card("raw-get-v2", 10_000).provider(Provider::PortOneV2));
    sb.faults()
        .add(rule(Provider::PortOneV2, Method::GET, "/payments/", Fault::Status(503)));
    let before = sandbox_hits(&sb, "GET", "/payments/");
    let payment = portone(&sb.base_url_portone_v2())
        .raw()
        .get_payment(&id, None)
        .await
        .unwrap();
    assert_eq!(payment.status(), 200);
    assert_eq!(
        sandbox_hits(&sb, "GET", "/payments/") - before,
        2,
        "the 503 was retried"
    );

    let imp_uid = sb.seed(SeedPayment::card("raw-get-v1", 10_000).provider(Provider::Iamport));
    sb.faults()
        .add(rule(Provider::Iamport, Method::GET, "/payments/", Fault::Status(503)));
    let before = sandbox_hits(&sb, "GET", "/payments/");
    let answer = iamport(&sb).raw().get_payment_by_imp_uid(&imp_uid, None).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(sandbox_hits(&sb, "GET", "/payments/") - before, 2);

    let key = sb.seed(SeedPayment::card("raw-get-toss", 10_000).provider(Provider::Toss));
    sb.faults()
        .add(rule(Provider::Toss, Method::GET, "/v1/payments/", Fault::Status(503)));
    let before = sandbox_hits(&sb, "GET", "/v1/payments/");
    let payment = toss(&sb).raw().get_payment(&key).await.unwrap();
    assert_eq!(payment.into_inner().total_amount, 10_000);
    assert_eq!(sandbox_hits(&sb, "GET", "/v1/payments/") - before, 2);

    let log = log_text();
    for (provider, operation) in [
        ("portone-v2", "get_payment"),
        ("iamport", "get_payment_by_imp_uid"),
        ("toss", "get_payment"),
    ] {
        assert!(
            log.lines().any(|l| l.contains("kr_payments.request")
                && l.contains(&format!("provider=\"{provider}\""))
                && l.contains(&format!("operation=\"{operation}\""))),
            "no span for {provider} {operation}:\n{log}"
        );
    }
    assert!(
        !log.contains(sandbox::DEFAULT_PORTONE_SECRET),
        "no credential in the log"
    );
}

#[tokio::test]
async fn a_raw_keyed_cancel_answered_500_after_it_was_applied_is_replayed_with_its_key_and_refunds_once() {
    let sb = Sandbox::start().await.unwrap();

    let id = sb.seed(SeedPayment::card("raw-cancel-v2", 10_000).provider(Provider::PortOneV2));
    sb.faults().add(rule(
        Provider::PortOneV2,
        Method::POST,
        "/cancel",
        Fault::StatusAfterApply(500),
    ));
    let body = portone_v2::raw::types::CancelPaymentBody {
        amount: Some(3_000),
        current_cancellable_amount: None,
        promotion_discount_retain_option: None,
        reason: "raw".into(),
        refund_account: None,
        refund_email: None,
        requester: None,
        skip_webhook: None,
        store_id: None,
        tax_free_amount: None,
        vat_amount: None,
    };
    let before = sandbox_hits(&sb, "POST", "/cancel");
    let answer = portone(&sb.base_url_portone_v2())
        .raw()
        .cancel_payment(&id, &body)
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        sandbox_hits(&sb, "POST", "/cancel") - before,
        2,
        "replayed once with the same key"
    );
    assert_eq!(sb.cancels_applied(&id), 1, "applied once, by the ledger");

    let key = sb.seed(SeedPayment::card("raw-cancel-toss", 10_000).provider(Provider::Toss));
    sb.faults().add(rule(
        Provider::Toss,
        Method::POST,
        "/cancel",
        Fault::StatusAfterApply(500),
    ));
    let body = toss::raw::types::CancelPaymentRequest {
        cancel_reason: "raw".into(),
        cancel_amount: Some(3_000),
        tax_free_amount: None,
        currency: None,
        refund_receive_account: None,
        refundable_amount: None,
    };
    let before = sandbox_hits(&sb, "POST", "/cancel");
    let answer = toss(&sb).raw().cancel_payment(&key, None, &body).await.unwrap();
    assert_eq!(answer.into_inner().balance_amount, 7_000);
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel") - before, 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn a_raw_iamport_cancel_is_never_replayed_and_its_error_converts_with_an_unknown_outcome() {
    let sb = Sandbox::start().await.unwrap();
    let imp_uid = sb.seed(SeedPayment::card("raw-cancel-v1", 10_000).provider(Provider::Iamport));
    sb.faults().add(rule(
        Provider::Iamport,
        Method::POST,
        "/payments/cancel",
        Fault::StatusAfterApply(503),
    ));
    let body = iamport::raw::types::CancelPaymentBody {
        imp_uid: Some(imp_uid.clone()),
        amount: Some(3_000),
        checksum: Some(10_000),
        reason: Some("raw".into()),
        ..Default::default()
    };
    let before = sandbox_hits(&sb, "POST", "/payments/cancel");
    let err = iamport(&sb).raw().cancel_payment(&body).await.unwrap_err();
    assert_eq!(
        sandbox_hits(&sb, "POST", "/payments/cancel") - before,
        1,
        "never sent twice"
    );
    assert_eq!(sb.cancels_applied(&imp_uid), 1, "the sandbox applied it before the 503");
    let err: kr_payments::Error<_> = err.into();
    assert_eq!(err.status(), Some(503));
    assert!(err.outcome_unknown(), "{err:?}");
}

#[tokio::test]
async fn a_raw_call_that_stalls_past_its_deadline_converts_into_the_transport_error() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.seed(SeedPayment::card("raw-stall-toss", 10_000).provider(Provider::Toss));
    sb.faults().add(
        FaultRule::new(Fault::Delay(Duration::from_secs(3)))
            .provider(Provider::Toss)
            .times(5),
    );
    let client = toss::Client::builder()
        .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
        .base_url(sb.base_url_toss())
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let raw = client.raw().get_payment(&key).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the client's deadline holds for raw calls"
    );
    let err: kr_payments::Error<_> = raw.into();
    assert!(err.is_timeout(), "{err:?}");
    let kr_payments::Error::Transport(transport) = &err else {
        panic!("{err:?}")
    };
    let text = format!("{transport} {err:?}");
    assert!(!text.to_ascii_lowercase().contains("authorization"), "{text}");
}

#[tokio::test]
async fn raw_portone_calls_get_the_clients_store_id_and_mutating_ones_an_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/payments/pay-1"))
        .and(query_param("storeId", "store-default"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
            "type": "PAYMENT_NOT_FOUND", "message": "none"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/payments/pay-1/cancel"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
            "type": "PAYMENT_NOT_FOUND", "message": "none"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = portone_v2::Client::builder()
        .secret("secret-for-tests")
        .store_id("store-default")
        .base_url(server.uri())
        .build()
        .unwrap();
    let err = client.raw().get_payment("pay-1", None).await.unwrap_err();
    let err: kr_payments::Error<portone_v2::GetPaymentError> = err.into();
    assert_eq!(err.status(), Some(404));
    assert!(err.api().is_some(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("secret-for-tests"));

    let body = portone_v2::raw::types::CancelPaymentBody {
        amount: None,
        current_cancellable_amount: None,
        promotion_discount_retain_option: None,
        reason: "raw".into(),
        refund_account: None,
        refund_email: None,
        requester: None,
        skip_webhook: None,
        store_id: None,
        tax_free_amount: None,
        vat_amount: None,
    };
    let _ = client.raw().cancel_payment("pay-1", &body).await.unwrap_err();
    let sent = server.received_requests().await.unwrap();
    let cancel = sent.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let key = cancel
        .headers
        .get("idempotency-key")
        .expect("a raw mutating call carries a key");
    assert!(key.to_str().unwrap().starts_with('"'), "PortOne takes the key quoted");
    let json: serde_json::Value = serde_json::from_slice(&cancel.body).unwrap();
    assert_eq!(
        json["storeId"], "store-default",
        "the client's store id went into the body"
    );
    server.verify().await;
}
