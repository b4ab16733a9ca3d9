//! The REST API key and secret, the access token and refund account data never appear in `Debug`, `Display`,
//! errors or logs.
#![cfg(feature = "iamport")]

mod iamport_support;

use iamport_support::*;
use kr_payments::iamport::{Client, ImpUid, RefundAccount};
use std::io::Write;
use std::sync::{Arc, Mutex};
use wiremock::ResponseTemplate;
use wiremock::matchers::{method, path};

const ACCOUNT_NUMBER: &str = "56211105948400";
const HOLDER: &str = "주식회사 예시";
const PHONE: &str = "010-9876-5432";
/// The token in `getToken/malformed.json`.
const MALFORMED_TOKEN: &str = "5c0ffee5c0ffee5c0ffee5c0ffee5c0ffee5c0f";

fn assert_clean(what: &str, text: &str) {
    for secret in [IMP_KEY, IMP_SECRET, TOKEN, MALFORMED_TOKEN] {
        assert!(!text.contains(secret), "{what} leaks a secret: {text}");
    }
}

#[test]
fn builder_and_client_print_no_credentials() {
    let builder = Client::builder().imp_key(IMP_KEY).imp_secret(IMP_SECRET).tier("A1B");
    let printed = format!("{builder:?}");
    assert_clean("builder", &printed);
    assert!(printed.contains("<redacted>"));
    let client = builder.build().unwrap();
    assert_clean("client", &format!("{client:?}"));
    assert_clean("client {:#?}", &format!("{client:#?}"));
    assert_clean("raw client", &format!("{:?}", client.raw()));
}

#[test]
fn build_errors_print_no_credentials() {
    let err = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(format!("{IMP_SECRET}\n"))
        .base_url("::")
        .build();
    let err = err.unwrap_err();
    assert_clean("build error", &format!("{err:?} {err}"));
}

#[test]
fn refund_accounts_print_redacted() {
    let account = RefundAccount::new(
        kr_payments::account::BankCode::new("88"),
        kr_payments::account::AccountNumber::new(ACCOUNT_NUMBER),
        kr_payments::account::HolderName::new(HOLDER),
    )
    .holder_phone(kr_payments::account::PhoneNumber::new(PHONE));
    let client = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .build()
        .unwrap();
    let request = client.refund_virtual_account(ImpUid::new("imp_1"), account.clone(), "취소");
    for text in [format!("{account:?}"), format!("{request:?}")] {
        assert!(
            !text.contains(ACCOUNT_NUMBER) && !text.contains(HOLDER) && !text.contains(PHONE),
            "{text}"
        );
        assert!(text.contains("88"), "the bank code is not personal data: {text}");
    }
}

#[tokio::test]
async fn a_bad_credentials_error_prints_no_credentials() {
    let server = server().await;
    token_request()
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("getToken", "bad_credentials")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).get_payment(&ImpUid::new("imp_1")).await.unwrap_err();
    assert_clean("token error", &format!("{err:?} {err}"));
}

#[tokio::test]
async fn a_token_answer_that_fails_to_decode_keeps_no_token() {
    let server = server().await;
    mount_token(&server, "malformed", 1).await;
    let err = client(&server).get_payment(&ImpUid::new("imp_1")).await.unwrap_err();
    let kr_payments::Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.path, "response.expired_at");
    assert_clean("decode error", &format!("{err:?} {err}"));
    assert_clean("decode error body", &String::from_utf8_lossy(&d.body));
}

#[tokio::test]
async fn a_transport_error_prints_no_credentials() {
    // Nothing listens on port 9 of loopback: the token request fails to connect.
    let client = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .base_url("http://127.0.0.1:9")
        .retry(kr_payments::transport::RetryPolicy::Never)
        .build()
        .unwrap();
    let err = client.get_payment(&ImpUid::new("imp_1")).await.unwrap_err();
    assert!(err.nothing_sent(), "{err:?}");
    assert_clean("transport error", &format!("{err:?} {err}"));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_hold_no_credentials_token_or_refund_account() {
    // A process-wide subscriber: a thread-local one misses events whenever another test thread registers a
    // callsite first (tracing caches callsite interest globally), which made this test flaky. Everything every
    // test in this binary logs from now on is captured, and all of it must be clean.
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    let logs = LOGS
        .get_or_init(|| {
            let logs = Captured::default();
            let writer = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in this binary");
            logs
        })
        .clone();

    let server = server().await;
    mount_token(&server, "ok", 1).await;
    wiremock::Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cancelPayment", "vbank_refund")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    client
        .refund_virtual_account(
            ImpUid::new("imp_660318274455"),
            RefundAccount::new(
                kr_payments::account::BankCode::new("88"),
                kr_payments::account::AccountNumber::new(ACCOUNT_NUMBER),
                kr_payments::account::HolderName::new(HOLDER),
            )
            .holder_phone(kr_payments::account::PhoneNumber::new(PHONE)),
            "주문 취소",
        )
        .checksum(25_000)
        .send()
        .await
        .unwrap();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("kr_payments.request"),
        "the test must see the crate's spans: {text}"
    );
    assert!(text.contains("request body"), "the test must see TRACE bodies: {text}");
    assert_clean("logs", &text);
    for personal in [ACCOUNT_NUMBER, HOLDER, PHONE] {
        assert!(!text.contains(personal), "logs leak {personal}: {text}");
    }
}
