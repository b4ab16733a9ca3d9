//! V1 webhooks: parsing JSON and form bodies, and confirming a notification by fetching the payment.
#![cfg(feature = "iamport")]

mod iamport_support;

use iamport_support::*;
use kr_payments::iamport::PaymentStatus;
use kr_payments::iamport::webhook::{Notification, ParseError, VerifyError};
use wiremock::ResponseTemplate;

#[test]
fn a_json_body_parses() {
    let body = br#"{"imp_uid":"imp_448280090638","merchant_uid":"order-20240501-0001","status":"paid"}"#;
    let n = Notification::from_json(body).unwrap();
    assert_eq!(n.imp_uid.as_str(), "imp_448280090638");
    assert_eq!(n.merchant_uid.as_str(), "order-20240501-0001");
    assert_eq!(n.status, PaymentStatus::Paid);
    assert_eq!(n.cancellation_id, None);
    assert_eq!(
        Notification::parse(Some("application/json; charset=utf-8"), body).unwrap(),
        n
    );
    assert_eq!(Notification::parse(None, body).unwrap(), n);
}

#[test]
fn a_form_body_parses_with_percent_and_plus_decoding() {
    let body = b"imp_uid=imp_448280090638&merchant_uid=%EC%A3%BC%EB%AC%B8%2F1+2&status=cancelled&cancellation_id=cncl_01HX2Q4V7R&extra=ignored";
    let n = Notification::from_form(body).unwrap();
    assert_eq!(n.merchant_uid.as_str(), "주문/1 2");
    assert_eq!(n.status, PaymentStatus::Cancelled);
    assert_eq!(n.cancellation_id.as_deref(), Some("cncl_01HX2Q4V7R"));
    assert_eq!(
        Notification::parse(Some("application/x-www-form-urlencoded"), body).unwrap(),
        n
    );
    assert_eq!(Notification::parse(None, body).unwrap(), n);
}

#[test]
fn an_unknown_status_is_kept() {
    let n = Notification::from_form(b"imp_uid=imp_1&merchant_uid=o1&status=partial_refunded").unwrap();
    assert!(n.status.is_unrecognized());
    assert_eq!(n.status.as_str(), "partial_refunded");
    let n = Notification::from_json(br#"{"imp_uid":"imp_1","merchant_uid":"o1","status":"ready"}"#).unwrap();
    assert_eq!(n.status, PaymentStatus::Ready);
}

#[test]
fn missing_or_broken_fields_are_parse_errors() {
    assert_eq!(
        Notification::from_form(b"merchant_uid=o1&status=paid"),
        Err(ParseError::Missing("imp_uid"))
    );
    assert_eq!(
        Notification::from_form(b"imp_uid=imp_1&merchant_uid=&status=paid"),
        Err(ParseError::Missing("merchant_uid"))
    );
    assert_eq!(
        Notification::from_form(b"imp_uid=imp_1&merchant_uid=o1"),
        Err(ParseError::Missing("status"))
    );
    assert_eq!(
        Notification::from_form(b"imp_uid=%FF&merchant_uid=o1&status=paid"),
        Err(ParseError::Form)
    );
    assert!(matches!(
        Notification::from_json(b"{\"imp_uid\":1}"),
        Err(ParseError::Json(_))
    ));
    assert_eq!(
        Notification::from_json(br#"{"imp_uid":"","merchant_uid":"o1","status":"paid"}"#),
        Err(ParseError::Missing("imp_uid"))
    );
}

async fn verify(body: &[u8], payment_case: &str) -> Result<kr_payments::iamport::Payment, VerifyError> {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_448280090638", TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", payment_case)))
        .expect(1)
        .mount(&server)
        .await;
    let n = Notification::parse(None, body).unwrap();
    n.verify_by_refetch(&client(&server)).await
}

#[tokio::test]
async fn a_notification_that_agrees_returns_the_fetched_payment() {
    let p = verify(
        b"imp_uid=imp_448280090638&merchant_uid=order-20240501-0001&status=paid",
        "paid",
    )
    .await
    .unwrap();
    assert_eq!(p.amount, Some(10_000));
}

#[tokio::test]
async fn a_status_the_payment_does_not_have_is_a_mismatch_carrying_the_payment() {
    let err = verify(
        b"imp_uid=imp_448280090638&merchant_uid=order-20240501-0001&status=paid",
        "cancelled",
    )
    .await
    .unwrap_err();
    match err {
        VerifyError::StatusMismatch { notified, payment } => {
            assert_eq!(notified, PaymentStatus::Paid);
            assert_eq!(payment.status, Some(PaymentStatus::Cancelled));
        }
        other => panic!("expected a status mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn another_orders_merchant_uid_is_a_mismatch() {
    let err = verify(b"imp_uid=imp_448280090638&merchant_uid=order-9999&status=paid", "paid")
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::MerchantUidMismatch { ref notified, .. } if notified.as_str() == "order-9999"));
    assert!(err.to_string().contains("order-9999"));
}

#[tokio::test]
async fn a_partial_cancel_is_confirmed_by_its_cancellation_id() {
    // The payment stays `paid` after a partial cancel; the cancel in its history is what confirms the webhook.
    let p = verify(
        br#"{"imp_uid":"imp_448280090638","merchant_uid":"order-20240501-0001","status":"cancelled","cancellation_id":"cncl_01HX2Q4V7R"}"#,
        "partially_cancelled",
    )
    .await
    .unwrap();
    assert_eq!(p.cancellable_balance(), Some(7_000));
}

#[tokio::test]
async fn a_cancellation_id_the_payment_does_not_have_is_refused() {
    let err = verify(
        br#"{"imp_uid":"imp_448280090638","merchant_uid":"order-20240501-0001","status":"cancelled","cancellation_id":"cncl_forged"}"#,
        "partially_cancelled",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, VerifyError::UnknownCancellation { ref cancellation_id, .. } if cancellation_id == "cncl_forged")
    );
}

#[tokio::test]
async fn a_cancel_notification_without_an_id_needs_the_cancelled_status() {
    let err = verify(
        b"imp_uid=imp_448280090638&merchant_uid=order-20240501-0001&status=cancelled",
        "partially_cancelled",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, VerifyError::StatusMismatch { .. }));
    verify(
        b"imp_uid=imp_448280090638&merchant_uid=order-20240501-0001&status=cancelled",
        "cancelled",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unknown_payment_is_a_fetch_error() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_448280090638", TOKEN)
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("getPaymentByImpUid", "not_found")))
        .expect(1)
        .mount(&server)
        .await;
    let n = Notification::from_form(b"imp_uid=imp_448280090638&merchant_uid=order-20240501-0001&status=paid").unwrap();
    let err = n.verify_by_refetch(&client(&server)).await.unwrap_err();
    match err {
        VerifyError::Fetch(e) => assert_eq!(e.api().map(|a| a.code), Some(-1)),
        other => panic!("expected a fetch error, got {other:?}"),
    }
}
