//! `TossPayments-Test-Code`: sent by every request builder and by the client default (facade and generated
//! client), replaced per call, and refused before anything is sent unless the key is a test key.
#![cfg(feature = "toss")]

mod toss_support;

use kr_payments::Error;
use kr_payments::toss::{Client, ErrorCode};
use kr_payments::transport::{BuildError, RetryPolicy};
use std::time::Duration;
use toss_support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

const CARD_KEY: &str = "tviva20220101113204Kx7d2";
const ORDER_ID: &str = "order-20220101-0001";
const TEST_CODE: &str = "tosspayments-test-code";

fn client_with(server: &MockServer, key: &str) -> kr_payments::toss::ClientBuilder {
    Client::builder()
        .secret_key(key)
        .base_url(server.uri())
        .retry(RetryPolicy::Never)
}

async fn answer_error_when_coded(server: &MockServer, http: &str, at: String, code: &str, status: u16) {
    Mock::given(method(http))
        .and(path(at))
        .and(header(TEST_CODE, code))
        .respond_with(toss_error(status, code, "테스트 코드"))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_lookup_sends_its_test_code_and_gets_that_error() {
    let server = server().await;
    answer_error_when_coded(
        &server,
        "GET",
        format!("/v1/payments/{CARD_KEY}"),
        "NOT_FOUND_PAYMENT",
        404,
    )
    .await;
    answer_error_when_coded(
        &server,
        "GET",
        format!("/v1/payments/orders/{ORDER_ID}"),
        "FORBIDDEN_REQUEST",
        403,
    )
    .await;
    let client = client(&server);

    let by_key = client
        .get_payment(&kr_payments::toss::PaymentKey::new(CARD_KEY))
        .test_code("NOT_FOUND_PAYMENT")
        .await
        .unwrap_err();
    assert_eq!(by_key.api().map(|e| &e.code), Some(&ErrorCode::NotFoundPayment));

    // Per-call settings before and after the test code both stay in force.
    let by_order = client
        .get_payment_by_order_id(ORDER_ID)
        .retry(RetryPolicy::Never)
        .test_code("FORBIDDEN_REQUEST")
        .timeout(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(by_order.api().map(|e| &e.code), Some(&ErrorCode::ForbiddenRequest));
    for sent in requests(&server).await {
        assert_eq!(toss_support::header(&sent, "authorization"), Some(AUTHORIZATION));
    }
    server.verify().await;
}

#[tokio::test]
async fn a_cancel_sends_its_test_code_beside_its_key() {
    let server = server().await;
    answer_error_when_coded(
        &server,
        "POST",
        format!("/v1/payments/{CARD_KEY}/cancel"),
        "ALREADY_REFUNDING_PAYMENT",
        400,
    )
    .await;

    let err = client(&server)
        .cancel_payment(
            kr_payments::toss::PaymentKey::new(CARD_KEY),
            "test of an in-flight refund",
        )
        .idempotency_key("coded-cancel-1")
        .test_code("ALREADY_REFUNDING_PAYMENT")
        .send()
        .await
        .unwrap_err();

    assert_eq!(err.api().map(|e| &e.code), Some(&ErrorCode::AlreadyRefundingPayment));
    assert!(err.api().unwrap().outcome_pending());
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        toss_support::header(&sent[0], "idempotency-key"),
        Some("coded-cancel-1")
    );
    server.verify().await;
}

#[tokio::test]
async fn nothing_carries_a_test_code_unless_asked() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payments/{CARD_KEY}")))
        .respond_with(json(200, fixture("get_payment/card_done.json")))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);

    client
        .get_payment(&kr_payments::toss::PaymentKey::new(CARD_KEY))
        .await
        .unwrap();
    client.raw().get_payment(CARD_KEY).await.unwrap();
    assert!(client.test_code().is_none());
    for sent in requests(&server).await {
        assert!(sent.headers.get(TEST_CODE).is_none());
    }
    server.verify().await;
}

#[tokio::test]
async fn the_client_default_goes_with_every_call_and_a_per_call_code_replaces_it() {
    let server = server().await;
    answer_error_when_coded(&server, "GET", format!("/v1/payments/{CARD_KEY}"), "COMMON_ERROR", 400).await;
    answer_error_when_coded(
        &server,
        "POST",
        format!("/v1/payments/{CARD_KEY}/cancel"),
        "COMMON_ERROR",
        400,
    )
    .await;
    answer_error_when_coded(
        &server,
        "GET",
        format!("/v1/payments/orders/{ORDER_ID}"),
        "NOT_FOUND_PAYMENT",
        404,
    )
    .await;
    answer_error_when_coded(&server, "DELETE", "/v1/billing/bk-1".into(), "COMMON_ERROR", 400).await;
    let client = client_with(&server, SECRET_KEY)
        .test_code("COMMON_ERROR")
        .build()
        .unwrap();
    assert_eq!(client.test_code(), Some("COMMON_ERROR"));

    let lookup = client
        .get_payment(&kr_payments::toss::PaymentKey::new(CARD_KEY))
        .await
        .unwrap_err();
    assert_eq!(lookup.api().map(|e| &e.code), Some(&ErrorCode::CommonError));
    let cancel = client
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(cancel.api().map(|e| &e.code), Some(&ErrorCode::CommonError));
    let replaced = client
        .get_payment_by_order_id(ORDER_ID)
        .test_code("NOT_FOUND_PAYMENT")
        .await
        .unwrap_err();
    assert_eq!(replaced.api().map(|e| &e.code), Some(&ErrorCode::NotFoundPayment));
    // The generated client sends the default too, and reads the error body Toss answers.
    let raw = client.raw().delete_billing_key("bk-1").await.unwrap_err();
    assert_eq!(raw.status().map(|s| s.as_u16()), Some(400));

    assert_eq!(requests(&server).await.len(), 4);
    server.verify().await;
}

/// A key that is not a test key, and every way of asking for a test code: refused with `InvalidRequest` on the
/// test-code field, and the server (whose catch-all fails on any request) sees nothing.
#[tokio::test]
async fn a_test_code_with_a_key_that_is_not_a_test_key_sends_nothing() {
    let server = server().await;
    for key in [
        "live_sk_kr0payments0contract0test",
        "live_gsk_kr0payments0test",
        "proxy-token-123",
    ] {
        let client = client_with(&server, key).build().unwrap();

        let lookup = client
            .get_payment(&kr_payments::toss::PaymentKey::new(CARD_KEY))
            .test_code("NOT_FOUND_PAYMENT")
            .await
            .unwrap_err();
        let by_order = client
            .get_payment_by_order_id(ORDER_ID)
            .test_code("NOT_FOUND_PAYMENT")
            .await
            .unwrap_err();
        for err in [&lookup, &by_order] {
            match err {
                Error::InvalidRequest(invalid) => {
                    assert_eq!(invalid.field, "TossPayments-Test-Code", "{key}");
                    assert!(invalid.reason.contains("test key"), "{key}: {invalid}");
                }
                other => panic!("{key}: {other:?}"),
            }
            assert!(err.nothing_sent());
        }

        let cancel = client
            .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
            .test_code("ALREADY_REFUNDING_PAYMENT")
            .send()
            .await
            .unwrap_err();
        assert!(cancel.nothing_sent(), "{key}: {cancel}");
        match &cancel {
            Error::InvalidRequest(invalid) => assert_eq!(invalid.field, "TossPayments-Test-Code"),
            other => panic!("{key}: {other:?}"),
        }
        // `prepare` refuses too, so a prepared cancel with a test code never exists for such a key.
        assert!(
            client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .test_code("X")
                .prepare()
                .is_err()
        );

        match client_with(&server, key).test_code("NOT_FOUND_PAYMENT").build() {
            Err(BuildError::Invalid { setting, reason }) => {
                assert_eq!(setting, "test_code");
                assert!(reason.contains("test key"), "{reason}");
                assert!(!reason.contains(key), "the key must not appear: {reason}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    assert!(requests(&server).await.is_empty());
    server.verify().await;
}

#[tokio::test]
async fn a_test_code_that_is_not_an_error_code_sends_nothing() {
    let server = server().await;
    let client = client(&server);
    for code in [
        "",
        "already refunding",
        "ALREADY_REFUNDING_PAYMENT\r\nX-Evil: 1",
        "코드",
        &"A".repeat(101),
    ] {
        let err = client
            .get_payment(&kr_payments::toss::PaymentKey::new(CARD_KEY))
            .test_code(code)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(i) if i.field == "TossPayments-Test-Code"),
            "{code:?}: {err:?}"
        );
        let cancel = client
            .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
            .test_code(code)
            .send()
            .await
            .unwrap_err();
        assert!(cancel.nothing_sent(), "{code:?}");
        assert!(matches!(
            client_with(&server, SECRET_KEY).test_code(code).build(),
            Err(BuildError::Invalid {
                setting: "test_code",
                ..
            })
        ));
    }
    assert!(requests(&server).await.is_empty());
    server.verify().await;
}

#[tokio::test]
async fn a_payment_widget_test_key_may_send_test_codes() {
    let server = server().await;
    answer_error_when_coded(
        &server,
        "GET",
        format!("/v1/payments/{CARD_KEY}"),
        "NOT_FOUND_PAYMENT",
        404,
    )
    .await;
    let client = client_with(&server, "test_gsk_kr0payments0widget").build().unwrap();

    let err = client
        .get_payment(&kr_payments::toss::PaymentKey::new(CARD_KEY))
        .test_code("NOT_FOUND_PAYMENT")
        .await
        .unwrap_err();
    assert_eq!(err.api().map(|e| &e.code), Some(&ErrorCode::NotFoundPayment));
    server.verify().await;
}
