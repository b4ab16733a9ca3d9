//! No secret in any `Debug` or `Display` output, nor in the tracing output of failing calls.
//!
//! Every client, builder and error is built with secrets set (API secrets and keys, an iamport access token, a Toss
//! payment's `secret`, a refund account's number and holder), then formatted both ways; the calls fail in the ways
//! that put the most into errors and logs (an error answer, an undecodable body, a refused connection), with a
//! TRACE-level subscriber recording every span and event. None of the secrets may appear anywhere.
#![cfg(all(feature = "portone-v2", feature = "iamport", feature = "toss"))]

use base64::Engine as _;
use kr_payments::{iamport, portone_v2, toss};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PORTONE_SECRET: &str = "portone-SECRET-7d41c9aa";
const IMP_KEY: &str = "impkey-SECRET-55e0b1";
const IMP_SECRET: &str = "impsecret-SECRET-9c2d7f";
const ACCESS_TOKEN: &str = "accesstoken-SECRET-4f0e8a";
const TOSS_KEY: &str = "test_sk_SECRET1b2c3d4e";
const PAYMENT_SECRET: &str = "ps_SECRET_a8b7c6d5";
const ACCOUNT_NUMBER: &str = "110987654321";
const HOLDER: &str = "홍비밀";
const PHONE: &str = "01098765432";

fn secrets() -> Vec<String> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{TOSS_KEY}:"));
    [
        PORTONE_SECRET,
        IMP_KEY,
        IMP_SECRET,
        ACCESS_TOKEN,
        TOSS_KEY,
        PAYMENT_SECRET,
        ACCOUNT_NUMBER,
        HOLDER,
        PHONE,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([basic])
    .collect()
}

#[track_caller]
fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "{what} leaks {secret:?}:\n{text}");
    }
}

/// Formats a value both ways and checks neither shows a secret.
#[track_caller]
fn check<T: std::fmt::Debug + std::fmt::Display>(what: &str, value: &T) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
    assert_clean(what, &value.to_string());
}

#[track_caller]
fn check_debug<T: std::fmt::Debug>(what: &str, value: &T) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

// ---- the captured tracing output -------------------------------------------------------------------------------

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

/// Everything logged by any test of this binary, at TRACE, with spans opening and closing. Installed once as the
/// global default: tracing caches callsite interest process-wide, which a per-thread subscriber would miss.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this binary");
        log
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured().lock().unwrap()).to_string()
}

/// A port nothing listens on.
fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// Answers nothing it was not told to, loudly.
async fn mock_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

fn quick() -> kr_payments::transport::RetryPolicy {
    kr_payments::transport::RetryPolicy::Safe {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
    }
}

// ---- PortOne V2 ------------------------------------------------------------------------------------------------

fn portone(base: &str) -> portone_v2::Client {
    portone_v2::Client::builder()
        .secret(PORTONE_SECRET)
        .store_id("store-1")
        .base_url(base)
        .retry(quick())
        .build()
        .unwrap()
}

fn portone_account() -> portone_v2::RefundAccount {
    portone_v2::RefundAccount::new(
        portone_v2::Bank::Kookmin,
        kr_payments::account::AccountNumber::new(ACCOUNT_NUMBER),
        kr_payments::account::HolderName::new(HOLDER),
    )
    .holder_phone(kr_payments::account::PhoneNumber::new(PHONE))
}

#[tokio::test]
async fn portone_v2_clients_builders_requests_and_errors_print_no_secret() {
    captured();
    let builder = portone_v2::Client::builder()
        .secret(PORTONE_SECRET)
        .base_url("http://127.0.0.1:9");
    check_debug("portone builder", &builder);
    let server = mock_server().await;
    let client = portone(&server.uri());
    check_debug("portone client", &client);
    check_debug("portone raw client", client.raw());
    let request = client.refund_virtual_account(
        kr_payments::portone_v2::PaymentId::new("pay-1"),
        portone_account(),
        "refund",
    );
    check_debug("portone cancel request", &request);
    check_debug(
        "portone lookup",
        &client.get_payment(&kr_payments::portone_v2::PaymentId::new("pay-1")),
    );

    // An error answer to a cancel that carries a refund account: the request body is logged (redacted) at TRACE.
    Mock::given(method("POST"))
        .and(path("/payments/pay-1/cancel"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"type": "UNAUTHORIZED", "message": "bad secret"})),
        )
        .mount(&server)
        .await;
    let err = request.send().await.unwrap_err();
    check("portone api error", &err);

    // An undecodable answer with personal data in it.
    Mock::given(method("GET"))
        .and(path("/payments/pay-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "PAID", "id": "pay-2", "amount": "lots",
            "customer": {"name": {"full": HOLDER}, "phoneNumber": PHONE},
            "method": {"type": "PaymentMethodVirtualAccount", "accountNumber": ACCOUNT_NUMBER}
        })))
        .mount(&server)
        .await;
    let err = client
        .get_payment(&kr_payments::portone_v2::PaymentId::new("pay-2"))
        .await
        .unwrap_err();
    assert!(matches!(err, kr_payments::Error::Decode(_)), "{err:?}");
    check("portone decode error", &err);

    // No server at all.
    let err = portone(&dead_url())
        .full_cancel(kr_payments::portone_v2::PaymentId::new("pay-3"), "refund")
        .send()
        .await
        .unwrap_err();
    check("portone transport error", &err);

    // Refused before sending, for a malformed account.
    let bad = portone_v2::RefundAccount::new(
        portone_v2::Bank::Kookmin,
        kr_payments::account::AccountNumber::new(format!("{ACCOUNT_NUMBER}-")),
        kr_payments::account::HolderName::new(HOLDER),
    )
    .holder_phone(kr_payments::account::PhoneNumber::new(format!("{PHONE}-")));
    let err = client
        .refund_virtual_account(kr_payments::portone_v2::PaymentId::new("pay-1"), bad, "refund")
        .send()
        .await
        .unwrap_err();
    check("portone invalid request", &err);

    // A secret that cannot travel in a header.
    let err = portone_v2::Client::builder()
        .secret(format!("{PORTONE_SECRET}\n"))
        .build()
        .unwrap_err();
    check("portone build error", &err);

    let log = log_text();
    assert!(log.contains("kr_payments.request"), "the request spans were captured");
    assert!(log.contains("<redacted>"), "the TRACE bodies were captured, redacted");
    assert_clean("tracing output", &log);
}

// ---- iamport ---------------------------------------------------------------------------------------------------

fn iamport_client(base: &str) -> iamport::Client {
    iamport::Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .base_url(base)
        .retry(quick())
        .build()
        .unwrap()
}

async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/users/getToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": null,
            "response": {"access_token": ACCESS_TOKEN, "now": 1_000_000_000, "expired_at": 1_000_001_800}
        })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn iamport_clients_builders_requests_and_errors_print_no_secret() {
    captured();
    let builder = iamport::Client::builder().imp_key(IMP_KEY).imp_secret(IMP_SECRET);
    check_debug("iamport builder", &builder);
    let server = mock_server().await;
    mount_token(&server).await;
    let client = iamport_client(&server.uri());
    check_debug("iamport client", &client);
    check_debug("iamport raw client", client.raw());
    let account = iamport::RefundAccount::new(
        kr_payments::account::BankCode::new("88"),
        kr_payments::account::AccountNumber::new(ACCOUNT_NUMBER),
        kr_payments::account::HolderName::new(HOLDER),
    )
    .holder_phone(kr_payments::account::PhoneNumber::new(PHONE));
    check_debug("iamport refund account", &account);
    let request = client
        .refund_virtual_account(iamport::ImpUid::new("imp_1"), account, "refund")
        .checksum(10_000);
    check_debug("iamport cancel request", &request);

    // iamport refuses with a 5xx after the token was issued (so the token travelled in a header).
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"code": -1, "message": "internal"})))
        .mount(&server)
        .await;
    let err = request.send().await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    check("iamport api error", &err);

    // A payment whose answer does not decode, full of personal data.
    Mock::given(method("GET"))
        .and(path_regex("^/payments/imp_2$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": null,
            "response": {"imp_uid": "imp_2", "amount": 1.5, "buyer_name": HOLDER, "buyer_tel": PHONE,
                         "vbank_num": ACCOUNT_NUMBER, "vbank_holder": HOLDER}
        })))
        .mount(&server)
        .await;
    let err = client.get_payment(&iamport::ImpUid::new("imp_2")).await.unwrap_err();
    assert!(matches!(err, kr_payments::Error::Decode(_)), "{err:?}");
    check("iamport decode error", &err);

    // A token answer that does not decode still holds the token.
    let token_server = mock_server().await;
    Mock::given(method("POST"))
        .and(path("/users/getToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "response": {"access_token": ACCESS_TOKEN, "now": "soon", "expired_at": 1}
        })))
        .mount(&token_server)
        .await;
    let err = iamport_client(&token_server.uri())
        .get_payment(&iamport::ImpUid::new("imp_3"))
        .await
        .unwrap_err();
    check("iamport token decode error", &err);

    // Credentials refused.
    let refused_server = mock_server().await;
    Mock::given(method("POST"))
        .and(path("/users/getToken"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"code": -1, "message": "unknown key"})))
        .mount(&refused_server)
        .await;
    let err = iamport_client(&refused_server.uri())
        .get_payment(&iamport::ImpUid::new("imp_4"))
        .await
        .unwrap_err();
    check("iamport token error", &err);

    let err = iamport_client(&dead_url())
        .get_payment(&iamport::ImpUid::new("imp_5"))
        .await
        .unwrap_err();
    check("iamport transport error", &err);

    let log = log_text();
    assert!(log.contains("getToken"), "the token requests were captured");
    assert_clean("tracing output", &log);
}

// ---- Toss ------------------------------------------------------------------------------------------------------

fn toss_client(base: &str) -> toss::Client {
    toss::Client::builder()
        .secret_key(TOSS_KEY)
        .base_url(base)
        .retry(quick())
        .build()
        .unwrap()
}

fn toss_payment_json() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/toss/get_payment/virtual_account_deposited.json"
    ))
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["secret"] = json!(PAYMENT_SECRET);
    v["virtualAccount"]["accountNumber"] = json!(ACCOUNT_NUMBER);
    v["virtualAccount"]["customerName"] = json!(HOLDER);
    v
}

#[tokio::test]
async fn toss_clients_builders_requests_payments_and_errors_print_no_secret() {
    captured();
    let builder = toss::Client::builder().secret_key(TOSS_KEY);
    check_debug("toss builder", &builder);
    let server = mock_server().await;
    let client = toss_client(&server.uri());
    check_debug("toss client", &client);
    check_debug("toss raw client", client.raw());

    // A payment's `Debug` hides the customer's account too, not only the credentials (its last four digits show).
    let payment: toss::Payment = serde_json::from_value(toss_payment_json()).unwrap();
    check_debug("toss payment", &payment);

    let account = toss::RefundReceiveAccount::new(
        kr_payments::account::BankCode::new("20"),
        kr_payments::account::AccountNumber::new(ACCOUNT_NUMBER),
        kr_payments::account::HolderName::new(HOLDER),
    );
    check_debug("toss refund account", &account);
    let request = client
        .cancel_payment(kr_payments::toss::PaymentKey::new(payment.payment_key()), "refund")
        .refund_receive_account(account);
    check_debug("toss cancel request", &request);
    let prepared = request.prepare().unwrap();
    check_debug("toss prepared cancel", &prepared);

    // Toss refuses; the request body (with the account) is logged at TRACE, redacted.
    Mock::given(method("POST"))
        .and(path_regex("/cancel$"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "INVALID_REFUND_ACCOUNT_INFO", "message": "check the account"
        })))
        .mount(&server)
        .await;
    let err = prepared.send().await.unwrap_err();
    check("toss cancel error", &err);
    check("toss error", &err);

    // A payment that does not decode, with its `secret` and the customer's account in it.
    let mut broken = toss_payment_json();
    broken["totalAmount"] = json!("a lot");
    Mock::given(method("GET"))
        .and(path("/v1/payments/broken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(broken))
        .mount(&server)
        .await;
    let err = client
        .get_payment(&kr_payments::toss::PaymentKey::new("broken"))
        .await
        .unwrap_err();
    assert!(matches!(err, kr_payments::Error::Decode(_)), "{err:?}");
    check("toss decode error", &err);

    // The offending value is the secret itself: the message must not quote it.
    let mut secret_wrong = toss_payment_json();
    secret_wrong["secret"] = json!([PAYMENT_SECRET]);
    Mock::given(method("GET"))
        .and(path("/v1/payments/secret-wrong"))
        .respond_with(ResponseTemplate::new(200).set_body_json(secret_wrong))
        .mount(&server)
        .await;
    let err = client
        .get_payment(&kr_payments::toss::PaymentKey::new("secret-wrong"))
        .await
        .unwrap_err();
    check("toss decode error on the secret", &err);

    let err = toss_client(&dead_url())
        .get_payment(&kr_payments::toss::PaymentKey::new("any"))
        .await
        .unwrap_err();
    check("toss transport error", &err);

    let err = toss::Client::builder()
        .secret_key(format!("{TOSS_KEY} "))
        .build()
        .unwrap_err();
    check("toss build error", &err);

    let log = log_text();
    assert!(
        log.contains("provider=\"toss\"") || log.contains("provider=toss"),
        "toss spans were captured"
    );
    assert_clean("tracing output", &log);
}
