//! Contract tests of the PortOne V2 cancel facade, over real HTTP on 127.0.0.1.
//!
//! Every server has a catch-all mock that answers 599 and expects no call, so a request the test did not plan for
//! (a retry, a wrong path, a request that pre-flight should have stopped) fails the test.
#![cfg(feature = "portone-v2")]

use chrono::{TimeZone as _, Utc};
use kr_payments::Error;
use kr_payments::error::TransportErrorKind;
use kr_payments::portone_v2::error::CancelPaymentErrorUnrecognized;
use kr_payments::portone_v2::raw::types::Trigger;
use kr_payments::portone_v2::{
    Bank, CancelOutcome, CancelPayment, CancelPaymentError, CancelRequester, Client, PromotionDiscountRetainOption,
    RefundAccount,
};
use kr_payments::transport::RetryPolicy;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "portone-test-secret-Zq81xV0c";
const STORE: &str = "store-3f1c9a70-5b2e-4d8a-9c61-0e7f2a4b8d19";
const USER_AGENT: &str = concat!("kr-payments/", env!("CARGO_PKG_VERSION"));
const PAYMENT: &str = "order-20240601-0007";
const CANCEL_PATH: &str = "/payments/order-20240601-0007/cancel";

fn fixture(rel: &str) -> Value {
    let p = format!("{}/tests/fixtures/portone_v2/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: no unplanned request")
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .secret(SECRET)
        .store_id(STORE)
        .base_url(server.uri())
        .retry(RetryPolicy::Never)
        .build()
        .unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::Safe {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

async fn mount_cancel(server: &MockServer, status: u16, body: Value) {
    Mock::given(method("POST"))
        .and(path(CANCEL_PATH))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

async fn only_request(server: &MockServer) -> Request {
    let mut all = requests(server).await;
    assert_eq!(all.len(), 1, "exactly one request was expected");
    all.remove(0)
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).map(|v| v.to_str().unwrap())
}

/// What every PortOne V2 request must carry, and what none may.
fn assert_common_headers(req: &Request) {
    assert_eq!(header(req, "authorization"), Some(format!("PortOne {SECRET}").as_str()));
    assert_eq!(header(req, "user-agent"), Some(USER_AGENT));
    assert_eq!(header(req, "api-version"), None, "no api-version header");
}

/// A cancel request: POST to the payment's cancel path with exactly `expected` as its JSON body.
fn assert_cancel_request(req: &Request, expected_path: &str, expected: &Value) {
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), expected_path);
    assert_common_headers(req);
    assert_eq!(header(req, "content-type"), Some("application/json"));
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(&sent, expected);
}

fn at(s: &str) -> chrono::DateTime<Utc> {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies

#[tokio::test]
async fn full_cancel_sends_the_reason_and_the_default_store_only() {
    let server = server().await;
    mount_cancel(&server, 200, fixture("cancelPayment/response/succeeded.json")).await;

    let outcome = client(&server)
        .full_cancel(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            "customer changed their mind",
        )
        .send()
        .await
        .unwrap();

    assert!(outcome.is_succeeded());
    let req = only_request(&server).await;
    assert_cancel_request(&req, CANCEL_PATH, &fixture("cancelPayment/request/full.json"));
}

#[tokio::test]
async fn partial_cancel_always_sends_the_balance_guard() {
    let server = server().await;
    mount_cancel(&server, 200, fixture("cancelPayment/response/requested.json")).await;

    let outcome = client(&server)
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            3000,
            10000,
            "one of three items returned",
        )
        .send()
        .await
        .unwrap();

    let CancelOutcome::Requested(c) = &outcome else {
        panic!("expected Requested, got {outcome:?}")
    };
    assert_eq!(c.id, "01J2Z8K4M6N0P2Q4R6S8T0V2X4");
    assert_eq!(c.cancelled_at, None);
    assert_eq!(outcome.receipt_url(), None, "only succeeded cancels have a receipt");
    let req = only_request(&server).await;
    assert_cancel_request(&req, CANCEL_PATH, &fixture("cancelPayment/request/partial.json"));
}

#[tokio::test]
async fn virtual_account_refund_sends_the_refund_account() {
    let server = server().await;
    mount_cancel(&server, 200, fixture("cancelPayment/response/failed.json")).await;

    let account = RefundAccount::new(
        Bank::Kookmin,
        kr_payments::account::AccountNumber::new("94380200123456"),
        kr_payments::account::HolderName::new("홍길동"),
    )
    .holder_phone(kr_payments::account::PhoneNumber::new("01012345678"));
    let outcome = client(&server)
        .refund_virtual_account(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            account,
            "order cancelled before shipping",
        )
        .send()
        .await
        .unwrap();

    let CancelOutcome::Failed(c) = &outcome else {
        panic!("expected Failed, got {outcome:?}")
    };
    assert_eq!(c.total_amount, 3000);
    assert_eq!(c.cancelled_at, None, "an explicit null is read as absent");
    assert!(!outcome.is_succeeded());
    let req = only_request(&server).await;
    assert_cancel_request(
        &req,
        CANCEL_PATH,
        &fixture("cancelPayment/request/virtual_account.json"),
    );
}

#[tokio::test]
async fn every_setter_reaches_the_wire_and_the_store_id_can_be_overridden() {
    let server = server().await;
    mount_cancel(&server, 200, fixture("cancelPayment/response/succeeded.json")).await;

    let outcome = client(&server)
        .cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "damaged on arrival")
        .amount(11000)
        .tax_free_amount(1000)
        .vat_amount(909)
        .requester(CancelRequester::Customer)
        .promotion_discount_retain_option(PromotionDiscountRetainOption::Retain)
        .current_cancellable_amount(25000)
        .refund_account(RefundAccount::new(
            Bank::Nonghyup,
            kr_payments::account::AccountNumber::new("1002-345-678901"),
            kr_payments::account::HolderName::new("김철수"),
        ))
        .refund_email("refunds@example.com")
        .skip_webhook(true)
        .store_id("store-other-7c2d")
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::Never)
        .send()
        .await
        .unwrap();

    assert!(outcome.is_succeeded());
    let req = only_request(&server).await;
    assert_cancel_request(&req, CANCEL_PATH, &fixture("cancelPayment/request/all_fields.json"));
}

#[tokio::test]
async fn without_any_store_id_none_is_sent() {
    let server = server().await;
    mount_cancel(&server, 200, fixture("cancelPayment/response/succeeded.json")).await;
    let client = Client::builder().secret(SECRET).base_url(server.uri()).build().unwrap();

    let outcome = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "duplicate order")
        .send()
        .await
        .unwrap();
    assert!(outcome.is_succeeded());

    let req = only_request(&server).await;
    assert_cancel_request(&req, CANCEL_PATH, &json!({"reason": "duplicate order"}));
}

#[tokio::test]
async fn payment_ids_reach_the_right_path() {
    let cases = [
        ("order/1 2?x", "/payments/order%2F1%202%3Fx/cancel"),
        ("주문-7", "/payments/%EC%A3%BC%EB%AC%B8-7/cancel"),
        ("a#b%c", "/payments/a%23b%25c/cancel"),
    ];
    for (id, expected_path) in cases {
        let server = server().await;
        Mock::given(method("POST"))
            .and(path(expected_path))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cancelPayment/response/succeeded.json")))
            .expect(1)
            .mount(&server)
            .await;

        let outcome = client(&server)
            .full_cancel(kr_payments::portone_v2::PaymentId::new(id), "test")
            .send()
            .await
            .unwrap();
        assert!(outcome.is_succeeded());

        let req = only_request(&server).await;
        assert_eq!(req.url.path(), expected_path);
        let segment = req.url.path_segments().unwrap().nth(1).unwrap();
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().unwrap();
        assert_eq!(decoded, id, "the id arrives whole, in one path segment");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Outcomes

#[tokio::test]
async fn succeeded_keeps_the_receipt_url_amounts_and_timestamps() {
    let server = server().await;
    mount_cancel(&server, 200, fixture("cancelPayment/response/succeeded.json")).await;

    let outcome = client(&server)
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            3000,
            10000,
            "one of three items returned",
        )
        .send()
        .await
        .unwrap();

    let CancelOutcome::Succeeded(c) = &outcome else {
        panic!("expected Succeeded, got {outcome:?}")
    };
    assert_eq!(
        c.receipt_url.as_deref(),
        Some("https://receipts.example.com/cancel/01J2Z8K4M6N0P2Q4R6S8T0V2X4")
    );
    assert_eq!(outcome.receipt_url(), c.receipt_url.as_deref());
    assert_eq!(outcome.id(), Some("01J2Z8K4M6N0P2Q4R6S8T0V2X4"));
    assert_eq!(outcome.status(), "SUCCEEDED");
    assert_eq!(c.pg_cancellation_id.as_deref(), Some("pgc-20240601-000173"));
    assert_eq!((c.total_amount, c.tax_free_amount, c.vat_amount), (3000, 0, 273));
    assert_eq!(c.easy_pay_discount_amount, Some(0));
    assert_eq!(c.reason, "one of three items returned");
    assert_eq!(c.requested_at, at("2024-06-01T03:15:07.412Z"));
    assert_eq!(
        c.cancelled_at,
        Some(Utc.with_ymd_and_hms(2024, 6, 1, 3, 15, 9).unwrap())
    );
    assert_eq!(c.trigger, Some(Trigger::Api));
}

#[tokio::test]
async fn an_unknown_cancellation_status_is_kept_not_treated_as_success() {
    let server = server().await;
    mount_cancel(&server, 200, fixture("cancelPayment/response/unrecognized_status.json")).await;

    let outcome = client(&server)
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            3000,
            10000,
            "one of three items returned",
        )
        .send()
        .await
        .unwrap();

    let CancelOutcome::Unrecognized(u) = &outcome else {
        panic!("expected Unrecognized, got {outcome:?}")
    };
    assert_eq!(u.status(), "PARTIALLY_REVERSED");
    assert_eq!(outcome.status(), "PARTIALLY_REVERSED");
    assert_eq!(u.raw()["settlementBatch"], "b-7781", "the raw JSON is kept whole");
    assert!(!outcome.is_succeeded());
    assert_eq!(outcome.receipt_url(), None);
    let c = outcome.cancellation().expect("the shared fields are still readable");
    assert_eq!(c.id, "01J2Z8K4M6N0P2Q4R6S8T0V2X4");
    assert_eq!(c.total_amount, 3000);
    assert_eq!(c.cancelled_at, Some(at("2024-06-01T03:16:00Z")));
}

/// PortOne sends the tag first; a union whose tag comes later is decoded another way (through a JSON buffer). Both
/// must name the field that does not fit, whatever order `serde_json` keeps keys in.
#[tokio::test]
async fn a_malformed_answer_names_the_field_whether_the_tag_comes_first_or_last() {
    let fields = r#""id": "01J2Z8K4M6N0P2Q4R6S8T0V2X4", "totalAmount": "3000", "taxFreeAmount": 0, "vatAmount": 273,
        "reason": "one of three items returned", "requestedAt": "2024-06-01T03:15:07.412Z",
        "cancelledAt": "2024-06-01T03:15:09Z""#;
    for body in [
        format!(r#"{{"cancellation": {{"status": "SUCCEEDED", {fields}}}}}"#),
        format!(r#"{{"cancellation": {{{fields}, "status": "SUCCEEDED"}}}}"#),
    ] {
        let server = server().await;
        Mock::given(method("POST"))
            .and(path(CANCEL_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"))
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server)
            .partial_cancel(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                3000,
                10000,
                "one of three items returned",
            )
            .send()
            .await
            .unwrap_err();
        let Error::Decode(d) = &err else {
            panic!("expected a decode error, got {err:?}")
        };
        assert_eq!(d.path, "cancellation.totalAmount", "{body}");
        assert!(d.message.contains("expected i64"), "{body}: {d}");
    }
}

#[tokio::test]
async fn a_malformed_answer_is_a_decode_error_naming_the_json_path() {
    let server = server().await;
    let body = fixture("cancelPayment/response/malformed_total_amount.json");
    mount_cancel(&server, 200, body.clone()).await;

    let err = client(&server)
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            3000,
            10000,
            "one of three items returned",
        )
        .send()
        .await
        .unwrap_err();

    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.status, 200);
    assert_eq!(d.path, "cancellation.totalAmount");
    assert!(
        d.message.contains("expected i64"),
        "the error says what did not fit: {d}"
    );
    assert!(err.to_string().contains("cancellation.totalAmount"), "{err}");
    assert_eq!(serde_json::from_slice::<Value>(&d.body).unwrap(), body, "raw body kept");
    assert!(!err.is_retryable());
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// Names every variant of the generated union: this does not compile if one of the 15 is missing or renamed.
fn variant_name(e: &CancelPaymentError) -> &'static str {
    match e {
        CancelPaymentError::CancelAmountExceedsCancellableAmount { .. } => "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT",
        CancelPaymentError::CancelTaxAmountExceedsCancellableTaxAmount { .. } => {
            "CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT"
        }
        CancelPaymentError::CancelTaxFreeAmountExceedsCancellableTaxFreeAmount { .. } => {
            "CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT"
        }
        CancelPaymentError::CancellableAmountConsistencyBroken { .. } => "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
        CancelPaymentError::Forbidden { .. } => "FORBIDDEN",
        CancelPaymentError::InvalidRequest { .. } => "INVALID_REQUEST",
        CancelPaymentError::MaxCancelCountReached { .. } => "MAX_CANCEL_COUNT_REACHED",
        CancelPaymentError::NegativePromotionAdjustedCancelAmount { .. } => "NEGATIVE_PROMOTION_ADJUSTED_CANCEL_AMOUNT",
        CancelPaymentError::PaymentAlreadyCancelled { .. } => "PAYMENT_ALREADY_CANCELLED",
        CancelPaymentError::PaymentNotFound { .. } => "PAYMENT_NOT_FOUND",
        CancelPaymentError::PaymentNotPaid { .. } => "PAYMENT_NOT_PAID",
        CancelPaymentError::PgProvider { .. } => "PG_PROVIDER",
        CancelPaymentError::PromotionDiscountRetainOptionShouldNotBeChanged { .. } => {
            "PROMOTION_DISCOUNT_RETAIN_OPTION_SHOULD_NOT_BE_CHANGED"
        }
        CancelPaymentError::SumOfPartsExceedsCancelAmount { .. } => "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT",
        CancelPaymentError::Unauthorized { .. } => "UNAUTHORIZED",
        CancelPaymentError::Unrecognized(_) => "<unrecognized>",
        _ => "<added after these tests>",
    }
}

/// The HTTP status the normalized spec gives each cancel error type.
fn spec_statuses() -> BTreeMap<String, u16> {
    let p = format!("{}/openapi/portone-v2.json", env!("CARGO_MANIFEST_DIR"));
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    spec["components"]["schemas"]["CancelPaymentError"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let t = v["properties"]["type"]["enum"][0].as_str().unwrap().to_string();
            (t, v["x-portone-status-code"].as_u64().unwrap() as u16)
        })
        .collect()
}

#[test]
fn the_cancel_error_union_has_all_fifteen_types() {
    let known: BTreeSet<&str> = CancelPaymentErrorUnrecognized::KNOWN_TAGS.iter().copied().collect();
    assert_eq!(known.len(), 15);
    assert!(known.contains("MAX_CANCEL_COUNT_REACHED"));
    assert!(known.contains("PG_PROVIDER"));
    let spec: BTreeSet<String> = spec_statuses().into_keys().collect();
    assert_eq!(known, spec.iter().map(String::as_str).collect::<BTreeSet<_>>());

    let pg: CancelPaymentError =
        serde_json::from_value(json!({"type": "PG_PROVIDER", "pgCode": "E1", "pgMessage": "refused"})).unwrap();
    let CancelPaymentError::PgProvider {
        pg_code,
        pg_message,
        message,
    } = pg
    else {
        panic!("PG_PROVIDER must decode to PgProvider")
    };
    assert_eq!(
        (pg_code.as_str(), pg_message.as_str(), message),
        ("E1", "refused", None)
    );
}

#[tokio::test]
async fn every_cancel_error_type_decodes_to_its_own_variant_with_its_status() {
    let statuses = spec_statuses();
    let dir = format!(
        "{}/tests/fixtures/portone_v2/cancelPayment/errors",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let case = fixture(&format!("cancelPayment/errors/{name}"));
        let status = case["status"].as_u64().unwrap() as u16;
        let wire_type = case["body"]["type"].as_str().unwrap().to_string();
        let server = server().await;
        mount_cancel(&server, status, case["body"].clone()).await;

        let err = client(&server)
            .full_cancel(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                "customer changed their mind",
            )
            .send()
            .await
            .unwrap_err();

        assert_eq!(err.status(), Some(status), "{name}");
        let api = err
            .api()
            .unwrap_or_else(|| panic!("{name}: expected an API error, got {err:?}"));
        assert_eq!(api.tag(), wire_type, "{name}");
        assert_eq!(api.message(), case["body"]["message"].as_str(), "{name}");
        match statuses.get(&wire_type) {
            Some(spec_status) => {
                assert_eq!(status, *spec_status, "{name}: fixture status differs from the spec");
                assert_eq!(variant_name(api), wire_type, "{name} decoded to the wrong variant");
                assert!(!api.is_unrecognized(), "{name}");
            }
            None => {
                assert!(
                    api.is_unrecognized(),
                    "{name}: an unknown type must be kept as Unrecognized"
                );
                assert_eq!(variant_name(api), "<unrecognized>");
            }
        }
        assert!(
            err.to_string().contains(&wire_type),
            "{name}: Display names the type: {err}"
        );
        assert_eq!(
            err.is_retryable(),
            status >= 500,
            "{name}: only 5xx may be worth retrying"
        );
        covered.insert(wire_type);
        only_request(&server).await;
    }
    for t in CancelPaymentErrorUnrecognized::KNOWN_TAGS {
        assert!(covered.contains(*t), "no fixture for {t}");
    }
    assert_eq!(covered.len(), 16, "15 known types and one unknown");
}

#[tokio::test]
async fn payment_not_found_decodes_to_its_own_variant() {
    let server = server().await;
    let case = fixture("cancelPayment/errors/PAYMENT_NOT_FOUND.json");
    mount_cancel(&server, 404, case["body"].clone()).await;

    let err = client(&server)
        .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
        .send()
        .await
        .unwrap_err();

    assert!(
        matches!(err.api(), Some(CancelPaymentError::PaymentNotFound { message: Some(m) }) if m == "no payment with that id"),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn pg_provider_keeps_the_pg_code_and_message_and_its_outcome_is_unknown() {
    let server = server().await;
    let case = fixture("cancelPayment/errors/PG_PROVIDER.json");
    Mock::given(method("POST"))
        .and(path(CANCEL_PATH))
        .respond_with(ResponseTemplate::new(502).set_body_json(case["body"].clone()))
        .mount(&server)
        .await;
    let client = Client::builder()
        .secret(SECRET)
        .base_url(server.uri())
        .retry(fast_retries())
        .build()
        .unwrap();

    let err = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
        .send()
        .await
        .unwrap_err();

    let Some(CancelPaymentError::PgProvider {
        pg_code, pg_message, ..
    }) = err.api()
    else {
        panic!("expected PgProvider, got {err:?}")
    };
    assert_eq!(pg_code, "CNCL-4021");
    assert_eq!(pg_message, "cancel window for this card has closed");
    assert_eq!(err.status(), Some(502));
    // A 502 can come from a gateway after the cancel was applied: the key made the replays harmless, and the
    // error does not claim that nothing happened.
    assert!(err.outcome_unknown());
    assert_eq!(
        requests(&server).await.len(),
        3,
        "every attempt the policy allows, all with one key"
    );
}

#[tokio::test]
async fn an_unknown_error_type_is_kept_with_its_raw_json() {
    let server = server().await;
    let case = fixture("cancelPayment/errors/unknown_type.json");
    mount_cancel(&server, 409, case["body"].clone()).await;

    let err = client(&server)
        .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
        .send()
        .await
        .unwrap_err();

    let Some(CancelPaymentError::Unrecognized(raw)) = err.api() else {
        panic!("expected Unrecognized, got {err:?}")
    };
    assert_eq!(raw.tag(), "CANCEL_BLOCKED_BY_SETTLEMENT");
    assert_eq!(raw.0["retryAfterMinutes"], 30);
    assert_eq!(err.api().unwrap().message(), Some("settlement in progress"));
    assert_eq!(err.status(), Some(409));
}

#[tokio::test]
async fn an_error_body_that_is_not_json_keeps_status_and_bytes() {
    let server = server().await;
    let html = "<html><body>502 Bad Gateway</body></html>";
    Mock::given(method("POST"))
        .and(path(CANCEL_PATH))
        .respond_with(ResponseTemplate::new(502).set_body_string(html))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server)
        .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
        .send()
        .await
        .unwrap_err();

    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.status, 502);
    assert_eq!(&d.body[..], html.as_bytes());
    assert_eq!(err.status(), Some(502));
}

// ---------------------------------------------------------------------------------------------------------------
// Pre-flight

#[tokio::test]
async fn preflight_refuses_wrong_refunds_without_sending_anything() {
    let server = server().await;
    let c = client(&server);
    let acct = || {
        RefundAccount::new(
            Bank::Shinhan,
            kr_payments::account::AccountNumber::new("110123456789"),
            kr_payments::account::HolderName::new("이영희"),
        )
    };
    let cases: Vec<(&str, CancelPayment, &str)> = vec![
        (
            "blank reason",
            c.full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "  "),
            "reason",
        ),
        (
            "empty payment id",
            c.full_cancel(kr_payments::portone_v2::PaymentId::new(""), "x"),
            "paymentId",
        ),
        (
            "zero amount",
            c.cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .amount(0),
            "amount",
        ),
        (
            "negative amount",
            c.cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .amount(-1000),
            "amount",
        ),
        (
            "negative tax-free",
            c.cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .tax_free_amount(-1),
            "taxFreeAmount",
        ),
        (
            "negative VAT",
            c.cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .vat_amount(-1),
            "vatAmount",
        ),
        (
            "parts above the amount",
            c.cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .amount(1000)
                .tax_free_amount(600)
                .vat_amount(401),
            "taxFreeAmount+vatAmount",
        ),
        (
            "tax-free alone above the amount",
            c.cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .amount(1000)
                .tax_free_amount(1001),
            "taxFreeAmount+vatAmount",
        ),
        (
            "parts above the balance of a guarded full cancel",
            c.full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .current_cancellable_amount(500)
                .vat_amount(501),
            "taxFreeAmount+vatAmount",
        ),
        (
            "parts that overflow",
            c.cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .amount(1000)
                .tax_free_amount(i64::MAX)
                .vat_amount(i64::MAX),
            "taxFreeAmount+vatAmount",
        ),
        (
            "partial above the balance",
            c.partial_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), 5001, 5000, "x"),
            "amount",
        ),
        (
            "negative balance",
            c.full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .current_cancellable_amount(-1),
            "currentCancellableAmount",
        ),
        (
            "zero balance",
            c.partial_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), 100, 0, "x"),
            "currentCancellableAmount",
        ),
        (
            "empty account number",
            c.refund_virtual_account(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                RefundAccount::new(
                    Bank::Shinhan,
                    kr_payments::account::AccountNumber::new(""),
                    kr_payments::account::HolderName::new("이영희"),
                ),
                "x",
            ),
            "refundAccount.number",
        ),
        (
            "blank holder name",
            c.refund_virtual_account(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                RefundAccount::new(
                    Bank::Shinhan,
                    kr_payments::account::AccountNumber::new("110123456789"),
                    kr_payments::account::HolderName::new(" "),
                ),
                "x",
            ),
            "refundAccount.holderName",
        ),
        (
            "hyphenated phone",
            c.refund_virtual_account(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                acct().holder_phone(kr_payments::account::PhoneNumber::new("010-1234-5678")),
                "x",
            ),
            "refundAccount.holderPhoneNumber",
        ),
        (
            "letter in phone",
            c.refund_virtual_account(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                acct().holder_phone(kr_payments::account::PhoneNumber::new("01O12345678")),
                "x",
            ),
            "refundAccount.holderPhoneNumber",
        ),
        (
            "empty phone",
            c.refund_virtual_account(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                acct().holder_phone(kr_payments::account::PhoneNumber::new("")),
                "x",
            ),
            "refundAccount.holderPhoneNumber",
        ),
        (
            "empty refund email",
            c.full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .refund_email(""),
            "refundEmail",
        ),
        (
            "empty store id",
            c.full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
                .store_id(""),
            "storeId",
        ),
    ];
    for (what, request, field) in cases {
        assert_eq!(request.validate().map_err(|e| e.field), Err(field), "{what}");
        let err = request.send().await.unwrap_err();
        let Error::InvalidRequest(invalid) = &err else {
            panic!("{what}: expected InvalidRequest, got {err:?}")
        };
        assert_eq!(invalid.field, field, "{what}");
        assert!(err.nothing_sent(), "{what}");
        assert!(err.to_string().contains("nothing sent"), "{what}: {err}");
    }
    assert!(requests(&server).await.is_empty());
}

/// Answers a cancel with the documented success, its amounts taken from the request as PortOne's would be.
struct EchoCancellation;

impl wiremock::Respond for EchoCancellation {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let sent: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let mut answer = fixture("cancelPayment/response/succeeded.json");
        let c = &mut answer["cancellation"];
        if let Some(total) = sent.get("amount").or(sent.get("currentCancellableAmount")) {
            c["totalAmount"] = total.clone();
        }
        c["taxFreeAmount"] = sent.get("taxFreeAmount").cloned().unwrap_or(json!(0));
        c["vatAmount"] = sent.get("vatAmount").cloned().unwrap_or(json!(0));
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

#[tokio::test]
async fn preflight_accepts_the_boundaries() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(CANCEL_PATH))
        .respond_with(EchoCancellation)
        .expect(3)
        .mount(&server)
        .await;
    let c = client(&server);

    let whole = c
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            5000,
            5000,
            "the whole balance",
        )
        .send()
        .await
        .unwrap();
    let parts = c
        .cancel_payment(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            "parts equal to the amount",
        )
        .amount(1000)
        .tax_free_amount(909)
        .vat_amount(91)
        .send()
        .await
        .unwrap();
    let zero = c
        .refund_virtual_account(
            kr_payments::portone_v2::PaymentId::new(PAYMENT),
            RefundAccount::new(
                Bank::Toss,
                kr_payments::account::AccountNumber::new("100012345678"),
                kr_payments::account::HolderName::new("박지민"),
            ),
            "zero tax-free",
        )
        .tax_free_amount(0)
        .send()
        .await
        .unwrap();

    assert!(whole.is_succeeded() && parts.is_succeeded() && zero.is_succeeded());
    let sent = requests(&server).await;
    let last: Value = serde_json::from_slice(&sent[2].body).unwrap();
    assert_eq!(last["taxFreeAmount"], 0, "zero is sent, not dropped");
    assert!(
        last["refundAccount"].get("holderPhoneNumber").is_none(),
        "absent, not null"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Retries and timeouts: a replay must never refund twice.

#[tokio::test]
async fn every_cancel_is_retried_with_the_same_idempotency_key_guarded_or_not() {
    for guarded in [true, false] {
        let server = server().await;
        Mock::given(method("POST"))
            .and(path(CANCEL_PATH))
            .respond_with(ResponseTemplate::new(503).set_body_json(json!({"type": "SERVICE_UNAVAILABLE"})))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(CANCEL_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cancelPayment/response/succeeded.json")))
            .mount(&server)
            .await;
        let client = Client::builder()
            .secret(SECRET)
            .store_id(STORE)
            .base_url(server.uri())
            .retry(fast_retries())
            .build()
            .unwrap();

        let request = if guarded {
            client.partial_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), 3000, 10000, "guarded")
        } else {
            client
                .cancel_payment(kr_payments::portone_v2::PaymentId::new(PAYMENT), "unguarded")
                .amount(3000)
        };
        let key = request.key().to_string();
        let outcome = request.send().await.unwrap();
        assert!(outcome.is_succeeded());
        assert!(
            outcome.is_reconciled(),
            "the 503 left the first attempt's outcome unknown"
        );

        let sent = requests(&server).await;
        assert_eq!(sent.len(), 2, "retried once after the 503");
        assert_eq!(sent[0].body, sent[1].body, "the replay is the same request");
        for request in &sent {
            let header = request
                .headers
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_string());
            assert_eq!(
                header,
                Some(format!("\"{key}\"")),
                "the same key, as an RFC 8941 string"
            );
        }
    }
}

#[tokio::test]
async fn a_cancel_that_times_out_ends_by_its_deadline_with_its_key() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(CANCEL_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("cancelPayment/response/succeeded.json"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let client = Client::builder()
        .secret(SECRET)
        .base_url(server.uri())
        .retry(fast_retries())
        .build()
        .unwrap();

    let started = std::time::Instant::now();
    let cancel = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "slow PG")
        .timeout(Duration::from_millis(400));
    let key = cancel.key().to_string();
    let err = cancel.send().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.outcome_unknown());
    let Error::Transport(t) = &err else { unreachable!() };
    assert_eq!(t.kind, TransportErrorKind::Timeout);
    assert!(t.attempts >= 2, "the keyed cancel was asked again within its deadline");
    assert_eq!(t.retry_refused, None);
    let sent = requests(&server).await;
    assert!(
        sent.iter().all(|r| r.method.as_str() == "POST"),
        "nothing else was read: {sent:?}"
    );
    assert!(
        sent.iter()
            .all(|r| r.headers.get("idempotency-key").and_then(|v| v.to_str().ok())
                == Some(format!("\"{key}\"").as_str())),
        "every attempt carries the same key"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Headers and secrets

#[tokio::test]
async fn the_raw_client_has_the_same_auth_and_no_api_version_header() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/payments/order-20240601-0007"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPayment/paid.json")))
        .expect(1)
        .mount(&server)
        .await;

    let payment = client(&server).raw().get_payment(PAYMENT, Some(STORE)).await.unwrap();

    assert_eq!(payment.into_inner().tag(), "PAID");
    let req = only_request(&server).await;
    assert_common_headers(&req);
    assert_eq!(req.method.as_str(), "GET");
}

#[tokio::test]
async fn the_secret_never_prints() {
    let server = server().await;
    mount_cancel(
        &server,
        401,
        fixture("cancelPayment/errors/UNAUTHORIZED.json")["body"].clone(),
    )
    .await;
    let builder = Client::builder().secret(SECRET).store_id(STORE).base_url(server.uri());
    let builder_debug = format!("{builder:?}");
    let client = builder.retry(RetryPolicy::Never).build().unwrap();
    let request = client.full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x");
    let api_err = request.clone().send().await.unwrap_err();

    // A connection that is refused: the transport error names the URL, never the headers.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let offline = Client::builder()
        .secret(SECRET)
        .base_url(format!("http://{closed}"))
        .retry(RetryPolicy::Never)
        .build()
        .unwrap();
    let transport_err = offline
        .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), "x")
        .send()
        .await
        .unwrap_err();
    assert!(transport_err.nothing_sent(), "{transport_err:?}");
    let build_err = Client::builder().secret(format!("{SECRET}\n")).build().unwrap_err();

    for printed in [
        builder_debug,
        format!("{client:?}"),
        format!("{request:?}"),
        format!("{api_err:?}"),
        api_err.to_string(),
        format!("{transport_err:?}"),
        transport_err.to_string(),
        format!("{build_err:?}"),
        build_err.to_string(),
    ] {
        assert!(!printed.contains(SECRET), "secret leaked: {printed}");
        assert!(!printed.contains("Zq81xV0c"), "part of the secret leaked: {printed}");
    }
}

#[test]
fn a_refund_account_does_not_print_personal_data() {
    let account = RefundAccount::new(
        Bank::Kookmin,
        kr_payments::account::AccountNumber::new("94380200123456"),
        kr_payments::account::HolderName::new("홍길동"),
    )
    .holder_phone(kr_payments::account::PhoneNumber::new("01012345678"));
    let printed = format!("{account:?}");
    assert!(!printed.contains("94380200123456"), "{printed}");
    assert!(!printed.contains("홍길동"), "{printed}");
    assert!(!printed.contains("01012345678"), "{printed}");
    assert!(
        printed.contains("3456"),
        "the last digits tell accounts apart: {printed}"
    );
    assert!(printed.contains("Kookmin"), "{printed}");
}

#[test]
fn outcomes_and_errors_can_cross_threads() {
    fn check<T: Send + Sync + 'static>() {}
    check::<CancelOutcome>();
    check::<Error<CancelPaymentError>>();
    check::<CancelPayment>();
}

#[tokio::test]
async fn a_callers_idempotency_key_outside_portones_characters_is_refused_before_sending() {
    let server = server().await;
    let client = client(&server);
    for bad in [
        "short-key".to_string(),
        "k".repeat(257),
        "refund:2024-0001-line-3".to_string(),
        "refund 2024-0001-line-3".to_string(),
        "refund\"2024-0001-line-3".to_string(),
        "환불-2024-0001-line-3".to_string(),
    ] {
        let e = client
            .partial_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), 3000, 10000, "keyed")
            .idempotency_key(bad.clone())
            .send()
            .await
            .unwrap_err();
        assert!(e.nothing_sent(), "{bad:?}: {e}");
        assert!(matches!(e, Error::InvalidRequest(_)), "{bad:?}: {e}");
        assert!(e.to_string().contains("Idempotency-Key"), "{bad:?}: {e}");
    }

    mount_cancel(&server, 200, fixture("cancelPayment/response/succeeded.json")).await;
    let key = "refund-2024-0001_line-3";
    let outcome = client
        .partial_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), 3000, 10000, "keyed")
        .idempotency_key(key)
        .send()
        .await
        .unwrap();
    assert!(outcome.is_succeeded());
    let req = only_request(&server).await;
    assert_eq!(
        req.headers.get("idempotency-key").and_then(|v| v.to_str().ok()),
        Some(format!("\"{key}\"").as_str()),
        "sent as an RFC 8941 string"
    );
}
