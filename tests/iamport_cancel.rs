//! `POST /payments/cancel`: exact bodies for each kind of cancel, the decoded payment, `code != 0` as errors,
//! pre-flight refusals with nothing sent, and which cancels may be retried.
#![cfg(feature = "iamport")]

mod iamport_support;

use iamport_support::*;
use kr_payments::error::ApiErrorBody;
use kr_payments::iamport::{
    CancelRequester, Client, ImpUid, MerchantUid, PayMethod, PaymentRef, PaymentStatus, RefundAccount,
};
use kr_payments::transport::RetryPolicy;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Expects exactly one cancel carrying exactly `body`, answered with `cancelPayment/<case>.json`.
async fn expect_cancel(server: &MockServer, body: Value, status: u16, case: &str) {
    mount_token(server, "ok", 1).await;
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .and(header("authorization", bearer(TOKEN).as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(status).set_body_json(fixture("cancelPayment", case)))
        .expect(1)
        .mount(server)
        .await;
}

/// What the server received on `/payments/cancel`, compared as JSON values so key order does not matter.
async fn sent(server: &MockServer) -> Vec<Value> {
    bodies(server, "/payments/cancel").await
}

#[tokio::test]
async fn full_cancel_sends_only_the_id_and_reason() {
    let server = server().await;
    let body = json!({ "imp_uid": "imp_448280090638", "reason": "주문 취소" });
    expect_cancel(&server, body.clone(), 200, "full").await;
    let payment = client(&server)
        .full_cancel(ImpUid::new("imp_448280090638"), "주문 취소")
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&server).await, [body]);

    assert_eq!(payment.status, Some(PaymentStatus::Cancelled));
    assert_eq!(payment.pay_method, Some(PayMethod::Card));
    assert_eq!(payment.amount, Some(10_000));
    assert_eq!(payment.cancelled_total(), Some(10_000));
    assert_eq!(payment.cancel_history_total(), Some(10_000));
    assert_eq!(payment.cancellable_balance(), Some(0));
    assert!(payment.is_fully_cancelled());
    let history = payment.cancel_history.as_deref().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].amount, Some(10_000));
    assert_eq!(history[0].cancellation_id.as_deref(), Some("cncl_01HX2Q9ZK3"));
    assert_eq!(history[0].cancelled_at, Some(1_714_608_000));
    assert_eq!(history[0].receipt_url, None);
}

#[tokio::test]
async fn partial_cancel_always_sends_the_checksum() {
    let server = server().await;
    let body = json!({
        "imp_uid": "imp_448280090638",
        "amount": 3000,
        "checksum": 10000,
        "reason": "한 개 반품"
    });
    expect_cancel(&server, body.clone(), 200, "partial").await;
    let payment = client(&server)
        .partial_cancel(ImpUid::new("imp_448280090638"), 3_000, 10_000, "한 개 반품")
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&server).await, [body]);

    // A partial cancel leaves the payment `paid`.
    assert_eq!(payment.status, Some(PaymentStatus::Paid));
    assert_eq!(payment.cancelled_total(), Some(3_000));
    assert_eq!(payment.cancellable_balance(), Some(7_000));
    assert!(!payment.is_fully_cancelled());
    assert_eq!(
        payment
            .cancellation("cncl_01HX2Q4V7R")
            .and_then(|c| c.reason.as_deref()),
        Some("한 개 반품")
    );
}

#[tokio::test]
async fn tax_free_cancel_by_merchant_uid_sends_the_tax_free_part() {
    let server = server().await;
    let body = json!({
        "merchant_uid": "order-20240503-0042",
        "amount": 5000,
        "tax_free": 5000,
        "checksum": 20000,
        "reason": "도서 1권 반품"
    });
    expect_cancel(&server, body.clone(), 200, "tax_free").await;
    let payment = client(&server)
        .partial_cancel(MerchantUid::new("order-20240503-0042"), 5_000, 20_000, "도서 1권 반품")
        .tax_free(5_000)
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&server).await, [body]);
    assert_eq!(payment.cancellable_balance(), Some(15_000));
    assert_eq!(payment.merchant_uid.as_deref(), Some("order-20240503-0042"));
}

#[tokio::test]
async fn virtual_account_refund_sends_the_refund_account() {
    let server = server().await;
    let body = json!({
        "imp_uid": "imp_660318274455",
        "reason": "주문 취소",
        "checksum": 25000,
        "refund_holder": "주식회사 예시",
        "refund_bank": "88",
        "refund_account": "56211105948400",
        "refund_tel": "010-1234-5678"
    });
    expect_cancel(&server, body.clone(), 200, "vbank_refund").await;
    let account = RefundAccount::new(
        kr_payments::account::BankCode::new("88"),
        kr_payments::account::AccountNumber::new("56211105948400"),
        kr_payments::account::HolderName::new("주식회사 예시"),
    )
    .holder_phone(kr_payments::account::PhoneNumber::new("010-1234-5678"));
    let payment = client(&server)
        .refund_virtual_account(ImpUid::new("imp_660318274455"), account, "주문 취소")
        .checksum(25_000)
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&server).await, [body]);
    assert_eq!(payment.pay_method, Some(PayMethod::Vbank));
    assert_eq!(payment.status, Some(PaymentStatus::Cancelled));
    assert_eq!(payment.cancellable_balance(), Some(0));
}

#[tokio::test]
async fn every_field_of_the_cancel_body() {
    let server = server().await;
    let body = json!({
        "imp_uid": "imp_448280090638",
        "amount": 3000,
        "tax_free": 1000,
        "vat_amount": 181,
        "checksum": 10000,
        "reason": "한 개 반품",
        "refund_holder": "김하나",
        "refund_bank": "004",
        "refund_account": "12345678901234",
        "refund_tel": "01012345678",
        "retain_promotion": true,
        "enable_webhook": false,
        "extra": { "requester": "customer" }
    });
    expect_cancel(&server, body.clone(), 200, "partial").await;
    client(&server)
        .cancel_payment(ImpUid::new("imp_448280090638"), "취소")
        .amount(3_000)
        .tax_free(1_000)
        .vat_amount(181)
        .checksum(10_000)
        .reason("한 개 반품")
        .refund_holder(kr_payments::account::HolderName::new("김하나"))
        .refund_bank(kr_payments::account::BankCode::new("004"))
        .refund_account_number(kr_payments::account::AccountNumber::new("12345678901234"))
        .refund_tel(kr_payments::account::PhoneNumber::new("01012345678"))
        .retain_promotion(true)
        .enable_webhook(false)
        .requester(CancelRequester::Customer)
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&server).await, [body]);
}

#[tokio::test]
async fn http_200_with_code_1_is_a_typed_error_with_the_message() {
    let server = server().await;
    expect_cancel(
        &server,
        json!({ "imp_uid": "imp_448280090638", "amount": 3000, "checksum": 9000, "reason": "반품" }),
        200,
        "refused_code_1",
    )
    .await;
    let err = client(&server)
        .partial_cancel(ImpUid::new("imp_448280090638"), 3_000, 9_000, "반품")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(200));
    let api = err.api().expect("an API error");
    assert_eq!(api.code, 1);
    assert_eq!(api.code(), "1");
    assert_eq!(
        api.message.as_deref(),
        Some("취소 가능 잔액이 요청한 checksum 과 다릅니다")
    );
    assert_eq!(api.operation, "cancelPayment");
    assert!(!api.is_token_error());
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("취소 가능 잔액이 요청한 checksum 과 다릅니다"));
}

#[tokio::test]
async fn a_refusal_keeps_the_payload_iamport_sent_with_it() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    let payload = json!({ "imp_uid": "imp_448280090638", "status": "cancelled", "cancel_amount": 10000 });
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": -1, "message": "이미 전액 취소된 결제입니다", "response": payload,
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .full_cancel(ImpUid::new("imp_448280090638"), "주문 취소")
        .send()
        .await
        .unwrap_err();
    let api = err.api().expect("an API error");
    assert_eq!(api.code, -1);
    assert_eq!(api.response, Some(payload));
}

#[tokio::test]
async fn http_200_with_code_minus_1_is_a_typed_error_with_the_message() {
    let server = server().await;
    expect_cancel(
        &server,
        json!({ "merchant_uid": "order-20240501-0001", "reason": "주문 취소" }),
        200,
        "refused_code_minus_1",
    )
    .await;
    let err = client(&server)
        .full_cancel(MerchantUid::new("order-20240501-0001"), "주문 취소")
        .send()
        .await
        .unwrap_err();
    let api = err.api().expect("an API error");
    assert_eq!(
        (api.code, api.message.as_deref()),
        (-1, Some("이미 전액 취소된 결제입니다"))
    );
    assert_eq!(err.status(), Some(200));
}

#[tokio::test]
async fn an_error_status_with_an_envelope_keeps_status_code_and_message() {
    let server = server().await;
    expect_cancel(
        &server,
        json!({ "imp_uid": "imp_448280090638", "reason": "주문 취소" }),
        400,
        "refused_code_minus_1",
    )
    .await;
    let err = client(&server)
        .full_cancel(ImpUid::new("imp_448280090638"), "주문 취소")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.api().map(|e| e.code), Some(-1));
}

#[tokio::test]
async fn a_guarded_cancel_is_retried_after_a_503_and_an_unguarded_one_is_not() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    // Guarded: 503 first, then success. The replay is safe because the checksum would refuse a second refund.
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .and(body_json(
            json!({ "imp_uid": "imp_448280090638", "amount": 3000, "checksum": 10000, "reason": "취소" }),
        ))
        .respond_with(ResponseTemplate::new(503).set_body_json(fixture("cancelPayment", "unavailable")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .and(body_json(
            json!({ "imp_uid": "imp_448280090638", "amount": 3000, "checksum": 10000, "reason": "취소" }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cancelPayment", "partial")))
        .expect(1)
        .mount(&server)
        .await;
    // Unguarded: a 503 is final.
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .and(body_json(
            json!({ "imp_uid": "imp_448280090638", "amount": 3000, "reason": "취소" }),
        ))
        .respond_with(ResponseTemplate::new(503).set_body_json(fixture("cancelPayment", "unavailable")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let guarded = client
        .cancel_payment(ImpUid::new("imp_448280090638"), "취소")
        .partial(3_000, 10_000)
        .send()
        .await
        .unwrap();
    assert_eq!(guarded.cancellable_balance(), Some(7_000));
    let err = client
        .cancel_payment(ImpUid::new("imp_448280090638"), "취소")
        .amount(3_000)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        err.api().and_then(|e| e.message.as_deref()),
        Some("잠시 후 다시 시도해 주세요")
    );
    assert_eq!(sent(&server).await.len(), 3);
}

#[tokio::test]
async fn per_call_retry_policy_overrides_the_client() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .respond_with(ResponseTemplate::new(503).set_body_json(fixture("cancelPayment", "unavailable")))
        .expect(1)
        .mount(&server)
        .await;
    // A 503 may follow an applied cancel: the payment is read, and shows nothing moved.
    Mock::given(method("GET"))
        .and(path("/payments/imp_448280090638"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .cancel_payment(ImpUid::new("imp_448280090638"), "취소")
        .partial(3_000, 10_000)
        .retry(RetryPolicy::Never)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(
        err.outcome_unknown(),
        "the balance is still the checksum: the cancel may yet be applied"
    );
}

#[tokio::test]
async fn a_per_call_timeout_applies() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("cancelPayment", "full"))
                .set_delay(std::time::Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .full_cancel(ImpUid::new("imp_448280090638"), "주문 취소")
        .timeout(std::time::Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // Unguarded, so a timeout (outcome unknown) is not replayed.
    if let kr_payments::Error::Transport(t) = &err {
        assert_eq!(t.attempts, 1);
        assert!(t.retry_refused.is_some());
    }
}

/// Every refusal below happens before anything is sent: the server has no token endpoint and a catch-all that
/// fails the test on any request.
#[tokio::test]
async fn invalid_requests_are_refused_before_anything_is_sent() {
    let server = server().await;
    let client = client(&server);
    let id = || ImpUid::new("imp_448280090638");
    let account = || {
        RefundAccount::new(
            kr_payments::account::BankCode::new("88"),
            kr_payments::account::AccountNumber::new("56211105948400"),
            kr_payments::account::HolderName::new("김하나"),
        )
    };
    let cases: Vec<(&str, kr_payments::iamport::CancelRequest<'_>)> = vec![
        ("imp_uid", client.cancel_payment(ImpUid::new(""), "취소")),
        ("merchant_uid", client.cancel_payment(MerchantUid::new("  "), "취소")),
        ("amount", client.cancel_payment(id(), "취소").amount(0)),
        ("amount", client.cancel_payment(id(), "취소").amount(-1_000)),
        ("checksum", client.cancel_payment(id(), "취소").checksum(0)),
        ("checksum", client.partial_cancel(id(), 5_000, 4_999, "반품")),
        (
            "tax_free",
            client.cancel_payment(id(), "취소").amount(1_000).tax_free(-1),
        ),
        (
            "tax_free",
            client.cancel_payment(id(), "취소").amount(1_000).tax_free(1_001),
        ),
        (
            "vat_amount",
            client.cancel_payment(id(), "취소").amount(1_000).vat_amount(1_001),
        ),
        (
            "vat_amount",
            client
                .cancel_payment(id(), "취소")
                .amount(1_000)
                .tax_free(500)
                .vat_amount(501),
        ),
        (
            "tax_free",
            client.cancel_payment(id(), "취소").checksum(1_000).tax_free(1_001),
        ),
        ("reason", client.cancel_payment(id(), "   ")),
        ("reason", client.cancel_payment(id(), "가".repeat(257))),
        (
            "refund_bank",
            client
                .cancel_payment(id(), "취소")
                .refund_holder(kr_payments::account::HolderName::new("김하나")),
        ),
        (
            "refund_holder",
            client
                .cancel_payment(id(), "취소")
                .refund_bank(kr_payments::account::BankCode::new("88"))
                .refund_account_number(kr_payments::account::AccountNumber::new("123")),
        ),
        (
            "refund_account",
            client
                .cancel_payment(id(), "취소")
                .refund_holder(kr_payments::account::HolderName::new("김하나"))
                .refund_bank(kr_payments::account::BankCode::new("88")),
        ),
        (
            "refund_tel",
            client
                .cancel_payment(id(), "취소")
                .refund_tel(kr_payments::account::PhoneNumber::new("01012345678")),
        ),
        (
            "refund_account",
            client.refund_virtual_account(
                id(),
                RefundAccount::new(
                    kr_payments::account::BankCode::new("88"),
                    kr_payments::account::AccountNumber::new("562-111-05948400"),
                    kr_payments::account::HolderName::new("김하나"),
                ),
                "취소",
            ),
        ),
        (
            "refund_account",
            client.refund_virtual_account(
                id(),
                RefundAccount::new(
                    kr_payments::account::BankCode::new("88"),
                    kr_payments::account::AccountNumber::new("12345678901234567"),
                    kr_payments::account::HolderName::new("김하나"),
                ),
                "취소",
            ),
        ),
        (
            "refund_account",
            client.refund_virtual_account(
                id(),
                RefundAccount::new(
                    kr_payments::account::BankCode::new("88"),
                    kr_payments::account::AccountNumber::new(""),
                    kr_payments::account::HolderName::new("김하나"),
                ),
                "취소",
            ),
        ),
        (
            "refund_bank",
            client.refund_virtual_account(
                id(),
                RefundAccount::new(
                    kr_payments::account::BankCode::new("신한"),
                    kr_payments::account::AccountNumber::new("123"),
                    kr_payments::account::HolderName::new("김하나"),
                ),
                "취소",
            ),
        ),
        (
            "refund_bank",
            client.refund_virtual_account(
                id(),
                RefundAccount::new(
                    kr_payments::account::BankCode::new("00088"),
                    kr_payments::account::AccountNumber::new("123"),
                    kr_payments::account::HolderName::new("김하나"),
                ),
                "취소",
            ),
        ),
        (
            "refund_holder",
            client.refund_virtual_account(
                id(),
                RefundAccount::new(
                    kr_payments::account::BankCode::new("88"),
                    kr_payments::account::AccountNumber::new("123"),
                    kr_payments::account::HolderName::new(" "),
                ),
                "취소",
            ),
        ),
        (
            "refund_tel",
            client.refund_virtual_account(
                id(),
                account().holder_phone(kr_payments::account::PhoneNumber::new("010 1234 5678")),
                "취소",
            ),
        ),
        (
            "refund_tel",
            client.refund_virtual_account(
                id(),
                account().holder_phone(kr_payments::account::PhoneNumber::new("-")),
                "취소",
            ),
        ),
    ];
    for (field, request) in cases {
        let debug = format!("{request:?}");
        let err = request.send().await.expect_err(&debug);
        assert!(err.nothing_sent(), "{debug}");
        match err {
            kr_payments::Error::InvalidRequest(e) => assert_eq!(e.field, field, "{debug}: {e}"),
            other => panic!("{debug}: expected InvalidRequest, got {other:?}"),
        }
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
}

#[test]
fn zero_amount_is_refused_with_a_reason_that_says_why() {
    let client = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .build()
        .unwrap();
    let err = client
        .cancel_payment(ImpUid::new("imp_1"), "취소")
        .amount(0)
        .body()
        .unwrap_err();
    assert!(err.reason.contains("full cancel"), "{err}");
}

#[test]
fn valid_edge_cases_pass_the_checks() {
    let client = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .build()
        .unwrap();
    // The whole balance as a partial cancel, a reason of exactly 256 characters, a 16-digit account.
    let body = client
        .partial_cancel(PaymentRef::ImpUid(ImpUid::new("imp_1")), 7_000, 7_000, "가".repeat(256))
        .tax_free(3_000)
        .vat_amount(364)
        .body()
        .unwrap();
    assert_eq!((body.amount, body.checksum), (Some(7_000), Some(7_000)));
    let body = client
        .refund_virtual_account(
            ImpUid::new("imp_1"),
            RefundAccount::new(
                kr_payments::account::BankCode::new("SH01"),
                kr_payments::account::AccountNumber::new("1234567890123456"),
                kr_payments::account::HolderName::new("김하나"),
            ),
            "취소",
        )
        .body()
        .unwrap();
    assert_eq!(body.refund_bank.as_deref(), Some("SH01"));
    assert_eq!(body.amount, None);
}

#[test]
fn futures_are_send_and_errors_are_send_sync_static() {
    fn send<T: Send>(_: &T) {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    let client = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .build()
        .unwrap();
    let id = ImpUid::new("imp_1");
    send(&client.full_cancel(id.clone(), "취소").send());
    send(&client.get_payment(&id));
    send(&client.find_payment(&MerchantUid::new("o1")));
    send(
        &client
            .payments_by_status(kr_payments::iamport::StatusFilter::Paid)
            .stream(),
    );
    error::<kr_payments::iamport::Error>();
    error::<kr_payments::iamport::IamportError>();
    error::<kr_payments::iamport::webhook::VerifyError>();
    error::<kr_payments::iamport::webhook::ParseError>();
}
