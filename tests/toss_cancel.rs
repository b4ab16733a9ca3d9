//! Cancels: exact requests for the seed's three cases, the idempotency key across resends and retries, every
//! error code, and the checks that refuse a cancel before anything is sent.
#![cfg(feature = "toss")]

mod toss_support;

use kr_payments::Error;
use kr_payments::toss::{CancelStatus, Client, ErrorCode, RefundReceiveAccount, Status, TossError};
use kr_payments::transport::RetryPolicy;
use serde_json::json;
use std::time::Duration;
use toss_support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CARD_KEY: &str = "tviva20220101113204Kx7d2";
const VA_KEY: &str = "tviva20220101114853Qm3n8";

fn body(request: &Request) -> serde_json::Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn idempotency_key(request: &Request) -> &str {
    toss_support::header(request, "idempotency-key").expect("an Idempotency-Key header")
}

/// Asserts what every cancel request must carry, and returns its idempotency key.
fn assert_cancel_request<'a>(
    request: &'a Request,
    payment_key_path: &str,
    expected_body: serde_json::Value,
) -> &'a str {
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), format!("/v1/payments/{payment_key_path}/cancel"));
    assert_eq!(toss_support::header(request, "authorization"), Some(AUTHORIZATION));
    assert_eq!(toss_support::header(request, "content-type"), Some("application/json"));
    assert!(request.headers.get("accept-language").is_none());
    assert_eq!(body(request), expected_body);
    idempotency_key(request)
}

async fn answer_cancel(server: &MockServer, payment_key_path: &str, fixture_path: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{payment_key_path}/cancel")))
        .respond_with(json(200, fixture(fixture_path)))
        .expect(1..)
        .mount(server)
        .await;
}

#[tokio::test]
async fn full_cancel_of_a_card_payment() {
    let server = server().await;
    answer_cancel(&server, CARD_KEY, "cancel_payment/full_cancel_card.json").await;
    let before = payment("get_payment/card_done.json");

    let done = client(&server)
        .full_cancel(&before, "구매자가 취소를 원함")
        .send()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    let key = assert_cancel_request(
        &sent[0],
        CARD_KEY,
        json!({"cancelReason": "구매자가 취소를 원함", "refundableAmount": 10000}),
    );
    let parsed = uuid::Uuid::parse_str(key).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(done.idempotency_key, key);
    assert_eq!(done.payment.status(), &Status::Canceled);
    assert_eq!(done.payment.balance(), 0);
    assert_eq!(done.cancel().unwrap().cancel_amount, 10_000);
    assert!(done.is_done());
    server.verify().await;
}

#[tokio::test]
async fn partial_cancel_sends_the_amount_and_the_balance_guard() {
    let server = server().await;
    answer_cancel(&server, CARD_KEY, "cancel_payment/partial_cancel_second.json").await;
    let before = payment("get_payment/card_partially_cancelled.json");

    let done = client(&server)
        .partial_cancel(&before, 1_000, before.balance(), "구매자가 다른 품목도 취소를 원함")
        .send()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_cancel_request(
        &sent[0],
        CARD_KEY,
        json!({"cancelReason": "구매자가 다른 품목도 취소를 원함", "cancelAmount": 1000, "refundableAmount": 9000}),
    );
    assert_eq!(done.payment.status(), &Status::PartialCanceled);
    assert_eq!((done.payment.balance(), done.payment.cancelled_total()), (8_000, 2_000));
    let latest = done.cancel().unwrap();
    assert_eq!(latest.transaction_key, "6673C15BF350C3F9BF45CEFC48C7A24E");
    assert_eq!(latest.refundable_amount, Some(8_000));
    server.verify().await;
}

#[tokio::test]
async fn virtual_account_refund_sends_the_refund_account() {
    let server = server().await;
    answer_cancel(&server, VA_KEY, "cancel_payment/virtual_account_refund.json").await;
    let before = payment("get_payment/virtual_account_deposited.json");

    let done = client(&server)
        .refund_virtual_account(
            &before,
            RefundReceiveAccount::new(
                kr_payments::account::BankCode::new("20"),
                kr_payments::account::AccountNumber::new("1002345678901"),
                kr_payments::account::HolderName::new("김토스"),
            ),
            "구매자 변심",
        )
        .send()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_cancel_request(
        &sent[0],
        VA_KEY,
        json!({
            "cancelReason": "구매자 변심",
            "refundableAmount": 10000,
            "refundReceiveAccount": {"bank": "20", "accountNumber": "1002345678901", "holderName": "김토스"}
        }),
    );
    assert_eq!(done.payment.balance(), 0);
    assert_eq!(done.cancel().unwrap().cancel_status, Some(CancelStatus::Done));
    server.verify().await;
}

#[tokio::test]
async fn every_option_lands_in_the_body_and_a_given_key_in_the_header() {
    let server = server().await;
    answer_cancel(&server, CARD_KEY, "cancel_payment/partial_cancel_second.json").await;

    let done = client(&server)
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "reason")
        .amount(1_000)
        .tax_free_amount(500)
        .currency("KRW")
        .refundable_amount(9_000)
        .refund_receive_account(RefundReceiveAccount::new(
            kr_payments::account::BankCode::new("88"),
            kr_payments::account::AccountNumber::new("11012345678"),
            kr_payments::account::HolderName::new("홍길동"),
        ))
        .idempotency_key("order-42-cancel-1")
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::Never)
        .send()
        .await
        .unwrap();

    let sent = requests(&server).await;
    let key = assert_cancel_request(
        &sent[0],
        CARD_KEY,
        json!({
            "cancelReason": "reason",
            "cancelAmount": 1000,
            "taxFreeAmount": 500,
            "currency": "KRW",
            "refundableAmount": 9000,
            "refundReceiveAccount": {"bank": "88", "accountNumber": "11012345678", "holderName": "홍길동"}
        }),
    );
    assert_eq!(key, "order-42-cancel-1");
    assert_eq!(done.idempotency_key, "order-42-cancel-1");
    server.verify().await;
}

#[tokio::test]
async fn the_payment_key_is_percent_encoded_in_the_cancel_path() {
    let server = server().await;
    let encoded = "tviva%2F2024%20%EA%B2%B0%EC%A0%9C%3Fx%3D1";
    let mut answer = fixture("cancel_payment/full_cancel_card.json");
    answer["paymentKey"] = json!("tviva/2024 결제?x=1");
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{encoded}/cancel")))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(&server)
        .await;

    client(&server)
        .cancel_payment(kr_payments::toss::PaymentKey::new("tviva/2024 결제?x=1"), "r")
        .send()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_cancel_request(&sent[0], encoded, json!({"cancelReason": "r"}));
    server.verify().await;
}

#[tokio::test]
async fn a_resend_of_a_prepared_cancel_carries_the_same_key_and_body() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{CARD_KEY}/cancel")))
        .respond_with(toss_error(500, "FAILED_METHOD_HANDLING_CANCEL", "일시적인 오류"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    answer_cancel(&server, CARD_KEY, "cancel_payment/partial_cancel_second.json").await;
    let before = payment("get_payment/card_partially_cancelled.json");

    let cancel = client(&server)
        .partial_cancel(&before, 1_000, before.balance(), "partial")
        .prepare()
        .unwrap();
    let first = cancel.send().await.unwrap_err();
    assert_eq!(
        cancel.key(),
        cancel.idempotency_key(),
        "the prepared cancel keeps the key to resend with"
    );
    assert_eq!(
        first.api().map(|e| &e.code),
        Some(&ErrorCode::FailedMethodHandlingCancel)
    );
    assert!(first.is_retryable());
    let second = cancel.send().await.unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(idempotency_key(&sent[0]), cancel.idempotency_key());
    assert_eq!(idempotency_key(&sent[1]), cancel.idempotency_key());
    assert_eq!(body(&sent[0]), body(&sent[1]));
    assert_eq!(second.idempotency_key, cancel.idempotency_key());
    assert_eq!(second.payment.balance(), 8_000);
    server.verify().await;
}

#[tokio::test]
async fn two_logical_cancels_get_two_keys() {
    let server = server().await;
    answer_cancel(&server, CARD_KEY, "cancel_payment/full_cancel_card.json").await;
    let client = client(&server);

    let a = client
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
        .send()
        .await
        .unwrap();
    let b = client
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
        .send()
        .await
        .unwrap();

    assert_ne!(a.idempotency_key, b.idempotency_key);
    server.verify().await;
}

#[tokio::test]
async fn an_automatic_retry_after_a_503_reuses_the_key() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{CARD_KEY}/cancel")))
        .respond_with(toss_error(503, "COMMON_ERROR", "일시적인 오류가 발생했습니다."))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    answer_cancel(&server, CARD_KEY, "cancel_payment/full_cancel_card.json").await;

    let done = client(&server)
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
        .retry(fast_retry())
        .send()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2, "one 503, one retry");
    assert_eq!(idempotency_key(&sent[0]), done.idempotency_key);
    assert_eq!(idempotency_key(&sent[1]), done.idempotency_key);
    assert_eq!(body(&sent[0]), body(&sent[1]));
    server.verify().await;
}

#[tokio::test]
async fn a_timed_out_cancel_is_retried_with_the_same_key() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{CARD_KEY}/cancel")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("cancel_payment/full_cancel_card.json"))
                .set_delay(Duration::from_millis(500)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    answer_cancel(&server, CARD_KEY, "cancel_payment/full_cancel_card.json").await;

    // The guarded cancel counts as safe to replay, so the transport retries it even after it may have arrived.
    let done = client(&server)
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
        .timeout(Duration::from_millis(100))
        .retry(fast_retry())
        .send()
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(idempotency_key(&sent[1]), done.idempotency_key);
    assert_eq!(idempotency_key(&sent[0]), done.idempotency_key);
    server.verify().await;
}

#[tokio::test]
async fn a_timeout_returns_the_key_so_the_caller_can_resend() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{CARD_KEY}/cancel")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("cancel_payment/full_cancel_card.json"))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&server)
        .await;

    let cancel = client(&server)
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
        .idempotency_key("stored-key-1")
        .timeout(Duration::from_millis(50));
    // The key to resend with is on the cancel before it is sent, and goes out on every attempt.
    assert_eq!(cancel.key(), "stored-key-1");
    let err = cancel.send().await.unwrap_err();

    assert!(err.is_timeout(), "{err}");
    assert!(err.is_retryable());
    assert!(!err.nothing_sent());
    let sent = requests(&server).await;
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|r| idempotency_key(r) == "stored-key-1"));
}

/// Every code the research notes list for cancels, with the status Toss's table gives it, plus the common ones.
const DOCUMENTED: &[(ErrorCode, &str, u16)] = &[
    (ErrorCode::AlreadyCanceledPayment, "ALREADY_CANCELED_PAYMENT", 400),
    (ErrorCode::InvalidRefundAccountInfo, "INVALID_REFUND_ACCOUNT_INFO", 400),
    (
        ErrorCode::ExceedCancelAmountDiscountAmount,
        "EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT",
        400,
    ),
    (
        ErrorCode::InvalidRefundAccountNumber,
        "INVALID_REFUND_ACCOUNT_NUMBER",
        400,
    ),
    (ErrorCode::InvalidBank, "INVALID_BANK", 400),
    (
        ErrorCode::NotMatchesRefundableAmount,
        "NOT_MATCHES_REFUNDABLE_AMOUNT",
        400,
    ),
    (ErrorCode::RefundRejected, "REFUND_REJECTED", 400),
    (ErrorCode::AlreadyRefundPayment, "ALREADY_REFUND_PAYMENT", 400),
    (
        ErrorCode::ForbiddenBankRefundRequest,
        "FORBIDDEN_BANK_REFUND_REQUEST",
        400,
    ),
    (ErrorCode::NotCancelableAmount, "NOT_CANCELABLE_AMOUNT", 403),
    (
        ErrorCode::ForbiddenConsecutiveRequest,
        "FORBIDDEN_CONSECUTIVE_REQUEST",
        403,
    ),
    (ErrorCode::ForbiddenRequest, "FORBIDDEN_REQUEST", 403),
    (ErrorCode::NotCancelablePayment, "NOT_CANCELABLE_PAYMENT", 403),
    (ErrorCode::ExceedMaxRefundDue, "EXCEED_MAX_REFUND_DUE", 403),
    (
        ErrorCode::NotAllowedPartialRefundWaitingDeposit,
        "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
        403,
    ),
    (ErrorCode::NotAllowedPartialRefund, "NOT_ALLOWED_PARTIAL_REFUND", 403),
    (ErrorCode::NotAvailableBank, "NOT_AVAILABLE_BANK", 403),
    (
        ErrorCode::NotCancelablePaymentForDormantUser,
        "NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER",
        403,
    ),
    (ErrorCode::FailedRefundProcess, "FAILED_REFUND_PROCESS", 500),
    (
        ErrorCode::FailedMethodHandlingCancel,
        "FAILED_METHOD_HANDLING_CANCEL",
        500,
    ),
    (ErrorCode::FailedPartialRefund, "FAILED_PARTIAL_REFUND", 500),
    (ErrorCode::CommonError, "COMMON_ERROR", 500),
    (
        ErrorCode::FailedClosedAccountRefund,
        "FAILED_CLOSED_ACCOUNT_REFUND",
        500,
    ),
    (ErrorCode::UnauthorizedKey, "UNAUTHORIZED_KEY", 401),
    (ErrorCode::IncorrectBasicAuthFormat, "INCORRECT_BASIC_AUTH_FORMAT", 400),
    (ErrorCode::InvalidApiKey, "INVALID_API_KEY", 400),
    (ErrorCode::InvalidRequest, "INVALID_REQUEST", 400),
    (ErrorCode::NotFoundPayment, "NOT_FOUND_PAYMENT", 404),
    (ErrorCode::NotFound, "NOT_FOUND", 404),
    (ErrorCode::AlreadyProcessedPayment, "ALREADY_PROCESSED_PAYMENT", 400),
    (ErrorCode::ProviderError, "PROVIDER_ERROR", 400),
    (
        ErrorCode::FailedInternalSystemProcessing,
        "FAILED_INTERNAL_SYSTEM_PROCESSING",
        500,
    ),
    (
        ErrorCode::FailedPaymentInternalSystemProcessing,
        "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
        500,
    ),
    (
        ErrorCode::IdempotentRequestProcessing,
        "IDEMPOTENT_REQUEST_PROCESSING",
        409,
    ),
    (ErrorCode::InvalidIdempotencyKey, "INVALID_IDEMPOTENCY_KEY", 400),
    // The refund codes of Toss's error-code reference that came later, with the statuses it gives them.
    (ErrorCode::AlreadyRefundingPayment, "ALREADY_REFUNDING_PAYMENT", 400),
    (ErrorCode::InvalidRefundAmount, "INVALID_REFUND_AMOUNT", 400),
    (ErrorCode::DuplicatedRequest, "DUPLICATED_REQUEST", 400),
    (ErrorCode::InvalidTestCode, "INVALID_TEST_CODE", 400),
    (ErrorCode::ExceedMaxRefundAmount, "EXCEED_MAX_REFUND_AMOUNT", 403),
    (ErrorCode::NotAllowedRefundBank, "NOT_ALLOWED_REFUND_BANK", 403),
    (ErrorCode::NotSupportedRefund, "NOT_SUPPORTED_REFUND", 403),
    (ErrorCode::UnknownError, "UNKNOWN_ERROR", 500),
];

#[test]
fn the_table_covers_every_listed_code() {
    let mut listed: Vec<&str> = ErrorCode::KNOWN.to_vec();
    let mut tested: Vec<&str> = DOCUMENTED.iter().map(|(_, wire, _)| *wire).collect();
    listed.sort_unstable();
    tested.sort_unstable();
    assert_eq!(listed, tested);
}

#[tokio::test]
async fn each_documented_error_code_decodes_to_its_variant() {
    let server = MockServer::start().await;
    let client = client(&server);
    for (variant, wire, status) in DOCUMENTED {
        server.reset().await;
        mount_catch_all(&server).await;
        Mock::given(method("POST"))
            .and(path(format!("/v1/payments/{CARD_KEY}/cancel")))
            .respond_with(toss_error(*status, wire, "메시지"))
            .expect(1)
            .mount(&server)
            .await;

        let cancel = client
            .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
            .idempotency_key(format!("key-{wire}"));
        assert_eq!(cancel.key(), format!("key-{wire}"));
        let err: Error<TossError> = cancel.send().await.unwrap_err();

        assert_eq!(err.api().map(|e| &e.code), Some(variant), "{wire}");
        assert!(!variant.is_unrecognized(), "{wire}");
        assert_eq!(variant.as_str(), *wire);
        assert_eq!(err.status(), Some(*status), "{wire}");
        assert_eq!(err.api().unwrap().message.as_deref(), Some("메시지"));
        // A 401, 429 or 5xx, or a refund still in progress, is not Toss's word that nothing was applied.
        let unknown = *status >= 500 || *status == 401 || *status == 429 || variant.outcome_pending();
        assert_eq!(err.outcome_unknown(), unknown, "{wire}");
        let note = if unknown {
            " (the outcome is unknown: read the payment before trying again)"
        } else {
            ""
        };
        // Toss cancels return `kr_payments::Error` like every facade call (issue 17), which names no key: the key to
        // resend with is `CancelPayment::key()`, read before sending, and it is the one that went out.
        assert_eq!(err.to_string(), format!("HTTP {status}: {wire}: 메시지{note}"));
        let sent = requests(&server).await;
        let cancels: Vec<_> = sent.iter().filter(|r| r.method.as_str() == "POST").collect();
        assert_eq!(cancels.len(), 1, "{wire}");
        assert_eq!(idempotency_key(cancels[0]), format!("key-{wire}"), "{wire}");
        server.verify().await;
    }
}

#[tokio::test]
async fn an_unknown_code_is_kept_and_its_status_decides_retrying() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/v1/payments/p500/cancel"))
        .respond_with(toss_error(500, "BRAND_NEW_FAILURE", "새 오류"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payments/p400/cancel"))
        .respond_with(json(400, json!({"code": "BRAND_NEW_REFUSAL"})))
        .mount(&server)
        .await;
    let client = client(&server);

    let e500 = client
        .cancel_payment(kr_payments::toss::PaymentKey::new("p500"), "r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e500.api().map(|e| &e.code),
        Some(&ErrorCode::Unrecognized("BRAND_NEW_FAILURE".into()))
    );
    assert!(e500.is_retryable());

    let e400 = client
        .cancel_payment(kr_payments::toss::PaymentKey::new("p400"), "r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e400.api().map(|e| &e.code),
        Some(&ErrorCode::Unrecognized("BRAND_NEW_REFUSAL".into()))
    );
    assert_eq!(e400.api().unwrap().message, None);
    assert!(!e400.is_retryable());
    server.verify().await;
}

#[test]
fn retryable_codes_are_the_passing_ones() {
    assert!(ErrorCode::ForbiddenConsecutiveRequest.is_retryable());
    assert!(ErrorCode::IdempotentRequestProcessing.is_retryable());
    assert!(ErrorCode::FailedRefundProcess.is_retryable());
    assert!(!ErrorCode::AlreadyCanceledPayment.is_retryable());
    assert!(!ErrorCode::NotMatchesRefundableAmount.is_retryable());
    assert!(!ErrorCode::FailedClosedAccountRefund.is_retryable());
    assert!(!ErrorCode::Unrecognized("X".into()).is_retryable());
    assert_eq!("INVALID_BANK".parse::<ErrorCode>().unwrap(), ErrorCode::InvalidBank);
}

/// The refund codes added from Toss's reference, answered to a real cancel over loopback: what the caller
/// learns (retry with the same key? outcome still open?) and how many requests the server saw.
#[tokio::test]
async fn each_new_refund_code_over_the_wire() {
    // (wire code, status, retryable, outcome pending, cancel requests the server sees with three attempts allowed;
    // `None` for "asked again with the same key until the deadline")
    const CASES: &[(&str, u16, bool, bool, Option<usize>)] = &[
        ("ALREADY_REFUNDING_PAYMENT", 400, false, true, None),
        ("INVALID_REFUND_AMOUNT", 400, false, false, Some(1)),
        ("DUPLICATED_REQUEST", 400, false, true, None),
        ("INVALID_TEST_CODE", 400, false, false, Some(1)),
        ("EXCEED_MAX_REFUND_AMOUNT", 403, false, false, Some(1)),
        ("NOT_ALLOWED_REFUND_BANK", 403, false, false, Some(1)),
        ("NOT_SUPPORTED_REFUND", 403, false, false, Some(1)),
        // A 500 is retried by the transport, with the same key each time: Toss's answer to the key decides.
        ("UNKNOWN_ERROR", 500, true, false, Some(3)),
    ];
    let server = MockServer::start().await;
    for &(wire, status, retryable, pending, posts) in CASES {
        server.reset().await;
        mount_catch_all(&server).await;
        Mock::given(method("POST"))
            .and(path(format!("/v1/payments/{CARD_KEY}/cancel")))
            .respond_with(toss_error(status, wire, "메시지"))
            .mount(&server)
            .await;
        let client = Client::builder()
            .secret_key(SECRET_KEY)
            .base_url(server.uri())
            .retry(fast_retry())
            .build()
            .unwrap();

        let err = client
            .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
            .amount(1_000)
            .idempotency_key(format!("key-{wire}"))
            .timeout(Duration::from_millis(900))
            .send()
            .await
            .unwrap_err();

        let api = err.api().unwrap_or_else(|| panic!("{wire}: {err}"));
        assert_eq!(api.code.as_str(), wire);
        assert!(!api.code.is_unrecognized(), "{wire}");
        assert_eq!(err.status(), Some(status), "{wire}");
        assert_eq!(err.is_retryable(), retryable, "{wire}: retryable");
        assert_eq!(api.outcome_pending(), pending, "{wire}: outcome pending");
        assert_eq!(
            err.outcome_unknown(),
            pending || status >= 500,
            "{wire}: a refund still in progress, or a 5xx, is not a refusal"
        );
        let seen: Vec<Request> = requests(&server)
            .await
            .into_iter()
            .filter(|r| r.method.as_str() == "POST")
            .collect();
        match posts {
            Some(posts) => assert_eq!(seen.len(), posts, "{wire}: cancel requests sent"),
            None => assert!(
                (2..=6).contains(&seen.len()),
                "{wire}: asked again, unhurried, within the deadline: {}",
                seen.len()
            ),
        }
        assert!(
            seen.iter().all(|r| idempotency_key(r) == format!("key-{wire}")),
            "{wire}: every attempt carries the same key"
        );
        assert!(
            requests(&server).await.iter().all(|r| r.method.as_str() == "POST"),
            "{wire}: the key's answer decides; the payment is not read"
        );
    }
}

#[tokio::test]
async fn a_403_consecutive_request_is_retryable_but_not_retried_automatically() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/payments/{CARD_KEY}/cancel")))
        .respond_with(toss_error(403, "FORBIDDEN_CONSECUTIVE_REQUEST", "too fast"))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server)
        .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
        .retry(fast_retry())
        .send()
        .await
        .unwrap_err();

    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(403));
    server.verify().await;
}

/// One pre-flight case: the builder, and the field the refusal must name.
struct Refused {
    name: &'static str,
    field: &'static str,
    cancel: kr_payments::toss::CancelPayment,
}

#[tokio::test]
async fn preflight_refusals_send_nothing() {
    let server = server().await;
    let client = client(&server);
    let card = payment("get_payment/card_done.json");
    let cancelled = payment("cancel_payment/full_cancel_card.json");
    let waiting = payment("get_payment/virtual_account_waiting.json");
    let paid = payment("get_payment/virtual_account_deposited.json");
    let account = || {
        RefundReceiveAccount::new(
            kr_payments::account::BankCode::new("20"),
            kr_payments::account::AccountNumber::new("1002345678901"),
            kr_payments::account::HolderName::new("김토스"),
        )
    };
    let with_account = |number: &str, holder: &str| {
        client
            .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
            .refund_receive_account(RefundReceiveAccount::new(
                kr_payments::account::BankCode::new("20"),
                kr_payments::account::AccountNumber::new(number),
                kr_payments::account::HolderName::new(holder),
            ))
    };
    let mut no_partial = fixture("get_payment/card_done.json");
    no_partial["isPartialCancelable"] = false.into();
    let no_partial: kr_payments::toss::Payment = serde_json::from_value(no_partial).unwrap();

    let cases = vec![
        Refused {
            name: "empty reason",
            field: "cancelReason",
            cancel: client.cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), ""),
        },
        Refused {
            name: "blank reason",
            field: "cancelReason",
            cancel: client.cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "  "),
        },
        Refused {
            name: "reason of 201 characters",
            field: "cancelReason",
            cancel: client.cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "가".repeat(201)),
        },
        Refused {
            name: "zero amount",
            field: "cancelAmount",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .amount(0),
        },
        Refused {
            name: "negative amount",
            field: "cancelAmount",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .amount(-1_000),
        },
        Refused {
            name: "negative tax-free amount",
            field: "taxFreeAmount",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .tax_free_amount(-1),
        },
        Refused {
            name: "tax-free above the amount",
            field: "taxFreeAmount",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .amount(1_000)
                .tax_free_amount(1_001),
        },
        Refused {
            name: "zero refundable amount",
            field: "refundableAmount",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .refundable_amount(0),
        },
        Refused {
            name: "amount above the refundable amount",
            field: "cancelAmount",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .amount(5_001)
                .refundable_amount(5_000),
        },
        Refused {
            name: "lower-case currency",
            field: "currency",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .currency("krw"),
        },
        Refused {
            name: "account number with hyphens",
            field: "refundReceiveAccount.accountNumber",
            cancel: with_account("110-123-456789", "김토스"),
        },
        Refused {
            name: "empty account number",
            field: "refundReceiveAccount.accountNumber",
            cancel: with_account("", "김토스"),
        },
        Refused {
            name: "account number of 21 digits",
            field: "refundReceiveAccount.accountNumber",
            cancel: with_account(&"1".repeat(21), "김토스"),
        },
        Refused {
            name: "holder of 61 characters",
            field: "refundReceiveAccount.holderName",
            cancel: with_account("1234", &"김".repeat(61)),
        },
        Refused {
            name: "empty holder",
            field: "refundReceiveAccount.holderName",
            cancel: with_account("1234", " "),
        },
        Refused {
            name: "empty bank",
            field: "refundReceiveAccount.bank",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .refund_receive_account(RefundReceiveAccount::new(
                    kr_payments::account::BankCode::new(""),
                    kr_payments::account::AccountNumber::new("1234"),
                    kr_payments::account::HolderName::new("김토스"),
                )),
        },
        Refused {
            name: "empty idempotency key",
            field: "Idempotency-Key",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .idempotency_key(""),
        },
        Refused {
            name: "idempotency key of 301 characters",
            field: "Idempotency-Key",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .idempotency_key("k".repeat(301)),
        },
        Refused {
            name: "idempotency key with a space",
            field: "Idempotency-Key",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .idempotency_key("a b"),
        },
        Refused {
            name: "non-ASCII idempotency key",
            field: "Idempotency-Key",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .idempotency_key("취소-1"),
        },
        Refused {
            name: "empty payment key",
            field: "paymentKey",
            cancel: client.cancel_payment(kr_payments::toss::PaymentKey::new(""), "r"),
        },
        Refused {
            name: "dot-dot payment key",
            field: "paymentKey",
            cancel: client.cancel_payment(kr_payments::toss::PaymentKey::new(".."), "r"),
        },
        Refused {
            name: "payment key of 201 characters",
            field: "paymentKey",
            cancel: client.cancel_payment(kr_payments::toss::PaymentKey::new("p".repeat(201)), "r"),
        },
        Refused {
            name: "payment key differs from the payment's",
            field: "paymentKey",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new("another-key"), "r")
                .payment(&card),
        },
        Refused {
            name: "payment already cancelled",
            field: "paymentKey",
            cancel: client.full_cancel(&cancelled, "r"),
        },
        Refused {
            name: "amount above the balance",
            field: "cancelAmount",
            cancel: client.partial_cancel(&card, 10_001, card.balance(), "r"),
        },
        Refused {
            name: "refundable amount differs from the payment's balance",
            field: "refundableAmount",
            cancel: client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .payment(&card)
                .refundable_amount(9_000),
        },
        Refused {
            name: "partial cancel Toss does not allow",
            field: "cancelAmount",
            cancel: client.partial_cancel(&no_partial, 1_000, no_partial.balance(), "r"),
        },
        Refused {
            name: "partial cancel of a virtual account waiting for its deposit",
            field: "cancelAmount",
            cancel: client.partial_cancel(&waiting, 5_000, waiting.balance(), "r"),
        },
        Refused {
            name: "paid virtual account without a refund account",
            field: "refundReceiveAccount",
            cancel: client.full_cancel(&paid, "r"),
        },
        Refused {
            name: "paid virtual account, partial, without a refund account",
            field: "refundReceiveAccount",
            cancel: client.partial_cancel(&paid, 1_000, paid.balance(), "r"),
        },
    ];

    for case in cases {
        let prepared = case.cancel.clone().prepare();
        let err = prepared.expect_err(case.name);
        match &err {
            Error::InvalidRequest(e) => assert_eq!(e.field, case.field, "{}: {e}", case.name),
            other => panic!("{}: {other:?}", case.name),
        }
        assert!(err.nothing_sent(), "{}", case.name);
        assert!(!err.is_retryable(), "{}", case.name);
        assert!(!case.cancel.key().is_empty() || case.field == "Idempotency-Key");

        let sent = case.cancel.send().await.expect_err(case.name);
        assert!(matches!(&sent, Error::InvalidRequest(_)), "{}", case.name);
    }

    // The same checks let valid neighbours of those cases through.
    let accepted = [
        (
            "reason of 200 characters",
            client.cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "가".repeat(200)),
        ),
        (
            "account number of 20 digits",
            with_account(&"1".repeat(20), &"김".repeat(60)),
        ),
        (
            "idempotency key of 300 characters",
            client
                .cancel_payment(kr_payments::toss::PaymentKey::new(CARD_KEY), "r")
                .idempotency_key("k".repeat(300)),
        ),
        (
            "full cancel of a waiting virtual account",
            client.full_cancel(&waiting, "r"),
        ),
        (
            "partial cancel of the whole waiting balance",
            client.partial_cancel(&waiting, 10_000, waiting.balance(), "r"),
        ),
        (
            "paid virtual account with a refund account",
            client.refund_virtual_account(&paid, account(), "r"),
        ),
        (
            "partial refund of a paid virtual account",
            client.refund_virtual_account(&paid, account(), "r").amount(1),
        ),
        (
            "amount equal to the balance",
            client.partial_cancel(&card, 10_000, card.balance(), "r"),
        ),
    ];
    for (name, cancel) in accepted {
        cancel.prepare().unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    assert!(requests(&server).await.is_empty());
    server.verify().await;
}

#[test]
fn a_prepared_cancel_shows_its_key_and_exact_body() {
    let client = kr_payments::toss::Client::builder()
        .secret_key(SECRET_KEY)
        .build()
        .unwrap();
    let card = payment("get_payment/card_done.json");

    let prepared = client
        .partial_cancel(&card, 2_500, card.balance(), "r")
        .idempotency_key("k-1")
        .prepare()
        .unwrap();

    assert_eq!(prepared.idempotency_key(), "k-1");
    assert_eq!(prepared.payment_key(), CARD_KEY);
    assert_eq!(
        serde_json::to_value(prepared.body()).unwrap(),
        json!({"cancelReason": "r", "cancelAmount": 2500, "refundableAmount": 10000})
    );
}
