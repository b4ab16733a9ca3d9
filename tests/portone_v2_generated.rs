//! Regression tests for what plain progenitor output got wrong on PortOne V2 (see openapi/README.md): error bodies
//! and cancellations decoded as the first variant whose fields fit, losing data, and unknown values failing the
//! whole response.
#![cfg(feature = "portone-v2")]

use kr_payments::portone_v2::raw::types::{CancelPaymentError, CancelRequester, PaymentCancellation};
use serde_json::json;

#[test]
fn payment_not_found_decodes_to_its_own_variant() {
    let e: CancelPaymentError =
        serde_json::from_value(json!({"type": "PAYMENT_NOT_FOUND", "message": "no such payment"})).unwrap();
    assert!(matches!(e, CancelPaymentError::PaymentNotFound { .. }), "{e:?}");
    assert_eq!(e.tag(), "PAYMENT_NOT_FOUND");
    assert_eq!(e.message(), Some("no such payment"));
}

#[test]
fn pg_provider_error_keeps_pg_code_and_message() {
    let body = json!({"type": "PG_PROVIDER", "message": "refused", "pgCode": "E123", "pgMessage": "한도 초과"});
    let e: CancelPaymentError = serde_json::from_value(body.clone()).unwrap();
    match &e {
        CancelPaymentError::PgProvider {
            pg_code, pg_message, ..
        } => {
            assert_eq!(pg_code, "E123");
            assert_eq!(pg_message, "한도 초과");
        }
        other => panic!("decoded as {other:?}"),
    }
    assert_eq!(serde_json::to_value(&e).unwrap(), body);
}

#[test]
fn succeeded_cancellation_keeps_receipt_url() {
    let body = json!({
        "status": "SUCCEEDED", "id": "c-1", "totalAmount": 3000, "taxFreeAmount": 0, "vatAmount": 273,
        "reason": "고객 요청", "requestedAt": "2026-11-23T01:00:00Z", "cancelledAt": "2026-11-23T01:00:02Z",
        "receiptUrl": "https://receipt.example/c-1"
    });
    let c: PaymentCancellation = serde_json::from_value(body.clone()).unwrap();
    match &c {
        PaymentCancellation::Succeeded {
            receipt_url,
            total_amount,
            ..
        } => {
            assert_eq!(receipt_url.as_deref(), Some("https://receipt.example/c-1"));
            assert_eq!(*total_amount, 3000);
        }
        other => panic!("decoded as {other:?}"),
    }
    assert_eq!(serde_json::to_value(&c).unwrap(), body);
}

#[test]
fn unknown_values_are_kept_not_fatal() {
    let r: CancelRequester = serde_json::from_value(json!("SYSTEM")).unwrap();
    assert_eq!(r, CancelRequester::Unrecognized("SYSTEM".into()));
    assert_eq!(r.as_str(), "SYSTEM");
    assert_eq!(r.to_string(), "SYSTEM");
    assert_eq!("SYSTEM".parse::<CancelRequester>().unwrap(), r);

    let body = json!({"status": "ROLLED_BACK", "id": "c-2", "totalAmount": 1, "newField": [1, 2]});
    let c: PaymentCancellation = serde_json::from_value(body.clone()).unwrap();
    assert!(c.is_unrecognized());
    assert_eq!(c.tag(), "ROLLED_BACK");
    assert_eq!(serde_json::to_value(&c).unwrap(), body, "raw JSON kept byte for byte");

    let e: CancelPaymentError = serde_json::from_value(json!({"type": "BRAND_NEW_ERROR", "message": "m"})).unwrap();
    assert!(e.is_unrecognized());
    assert_eq!((e.tag(), e.message()), ("BRAND_NEW_ERROR", Some("m")));
}

#[test]
fn a_malformed_known_variant_is_an_error_not_unrecognized() {
    // SUCCEEDED without its required totalAmount: accepting it as "unrecognized" would hide a broken refund record.
    let body = json!({"status": "SUCCEEDED", "id": "c-3", "reason": "r", "requestedAt": "2026-11-23T01:00:00Z"});
    assert!(serde_json::from_value::<PaymentCancellation>(body).is_err());
    // A PG_PROVIDER error without pgCode likewise.
    assert!(serde_json::from_value::<CancelPaymentError>(json!({"type": "PG_PROVIDER", "pgMessage": "x"})).is_err());
}
