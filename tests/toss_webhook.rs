//! Toss webhooks: decoding every modelled event, keeping unknown ones, the deposit-callback secret, and
//! confirming events by reading the payment back.
#![cfg(feature = "toss")]

mod toss_support;

use kr_payments::toss::Status;
use kr_payments::toss::webhook::{Event, VerifyError};
use serde_json::json;
use toss_support::*;
use wiremock::Mock;
use wiremock::matchers::{header, method, path};

const VA_ORDER: &str = "order-20220101-0002";
const VA_SECRET: &str = "ps_Kq2mN8vXr4TzW1bLc9YdE6Hf";

fn event(fixture_path: &str) -> Event {
    Event::from_json(&serde_json::to_vec(&fixture(fixture_path)).unwrap()).unwrap()
}

#[test]
fn payment_status_changed_carries_a_payment() {
    let e = event("webhook/payment_status_changed.json");

    assert_eq!(e.event_type(), "PAYMENT_STATUS_CHANGED");
    // No offset on the wire: the time is Korean local time.
    assert_eq!(e.created_at().unwrap().to_rfc3339(), "2022-01-01T11:32:05+09:00");
    let Event::PaymentStatusChanged(changed) = e else {
        panic!()
    };
    assert_eq!(changed.payment.payment_key(), "tviva20220101113204Kx7d2");
    assert_eq!(changed.payment.status(), &Status::Canceled);
}

#[test]
fn deposit_callback_decodes_flat_and_enveloped() {
    for fixture_path in [
        "webhook/deposit_callback.json",
        "webhook/deposit_callback_enveloped.json",
    ] {
        let e = event(fixture_path);
        assert_eq!(e.event_type(), "DEPOSIT_CALLBACK", "{fixture_path}");
        assert!(e.created_at().is_some(), "{fixture_path}");
        let Event::DepositCallback(callback) = e else {
            panic!("{fixture_path}")
        };
        assert_eq!(callback.order_id, VA_ORDER);
        assert_eq!(callback.status, Status::Done);
        assert_eq!(
            callback.transaction_key.as_deref(),
            Some("B1E6B1F3C2A44F0E9D2C7A5B8E3F1D20")
        );
        assert!(!format!("{callback:?}").contains(VA_SECRET));
        callback
            .verify(&payment("get_payment/virtual_account_deposited.json"))
            .unwrap();
    }
}

#[test]
fn a_deposit_callback_with_another_secret_is_refused() {
    let paid = payment("get_payment/virtual_account_deposited.json");
    let forged = json!({"createdAt": "2022-01-01T11:49:35.000", "secret": "ps_guessed", "status": "DONE",
                        "transactionKey": null, "orderId": VA_ORDER});
    let Event::DepositCallback(forged) = Event::from_json(&serde_json::to_vec(&forged).unwrap()).unwrap() else {
        panic!()
    };

    let err = forged.verify(&paid).unwrap_err();
    assert!(matches!(err, VerifyError::SecretMismatch));
    assert!(err.is_forged());
    assert!(!err.to_string().contains(VA_SECRET));
    assert!(matches!(
        forged.verify_secret(VA_SECRET),
        Err(VerifyError::SecretMismatch)
    ));
    // Same length, one character off.
    assert!(matches!(
        forged.verify_secret("ps_guesseD"),
        Err(VerifyError::SecretMismatch)
    ));

    let Event::DepositCallback(genuine) = event("webhook/deposit_callback.json") else {
        panic!()
    };
    genuine.verify_secret(VA_SECRET).unwrap();
    assert!(matches!(genuine.verify_secret(""), Err(VerifyError::MissingSecret)));
    // A payment without a secret (Toss sent null) cannot vouch for a callback.
    assert!(matches!(
        genuine.verify(&payment("cancel_payment/virtual_account_refund.json")),
        Err(VerifyError::MissingSecret)
    ));
    let mut no_secret = fixture("get_payment/virtual_account_deposited.json");
    no_secret["secret"] = serde_json::Value::Null;
    let no_secret: kr_payments::toss::Payment = serde_json::from_value(no_secret).unwrap();
    assert!(matches!(genuine.verify(&no_secret), Err(VerifyError::MissingSecret)));
    // Right secret, other order.
    let mut other_order = fixture("get_payment/virtual_account_deposited.json");
    other_order["orderId"] = "order-other".into();
    let other_order: kr_payments::toss::Payment = serde_json::from_value(other_order).unwrap();
    assert!(matches!(
        genuine.verify(&other_order),
        Err(VerifyError::PaymentMismatch { field: "orderId" })
    ));
}

#[test]
fn cancel_status_changed_carries_a_cancel_entry() {
    let e = event("webhook/cancel_status_changed.json");

    let Event::CancelStatusChanged(changed) = e else {
        panic!()
    };
    assert_eq!(changed.cancel.cancel_amount, 1_000);
    assert_eq!(changed.cancel.transaction_key, "6673C15BF350C3F9BF45CEFC48C7A24E");
    assert_eq!(changed.payment_key.as_deref(), Some("tviva20220101113204Kx7d2"));
}

#[test]
fn unmodelled_events_are_kept_whole() {
    let e = event("webhook/payout_changed.json");
    assert_eq!(e.event_type(), "payout.changed");
    let Event::Unrecognized { event_type, raw } = &e else {
        panic!()
    };
    assert_eq!(event_type, "payout.changed");
    assert_eq!(raw["data"]["payoutId"], "FPA_12345");
    assert_eq!(e.created_at().unwrap().to_rfc3339(), "2024-03-01T10:00:00+09:00");

    let brand_new = Event::from_json(br#"{"eventType":"SOMETHING_NEW","data":{"x":1}}"#).unwrap();
    assert!(matches!(brand_new, Event::Unrecognized { ref event_type, .. } if event_type == "SOMETHING_NEW"));
    assert_eq!(brand_new.created_at(), None);
}

#[test]
fn bodies_that_are_not_events_are_errors_naming_the_place() {
    assert!(Event::from_json(b"not json").is_err());
    assert!(Event::from_json(b"[1,2]").is_err());
    let no_type = Event::from_json(br#"{"createdAt":"2022-01-01T00:00:00.000"}"#).unwrap_err();
    assert_eq!(no_type.path, "eventType");

    let mut broken = fixture("webhook/payment_status_changed.json");
    broken["data"]["balanceAmount"] = "a lot".into();
    let err = Event::from_json(&serde_json::to_vec(&broken).unwrap()).unwrap_err();
    assert_eq!(err.path, "data.balanceAmount");
}

#[tokio::test]
async fn payment_status_changed_is_confirmed_by_reading_the_payment() {
    let server = server().await;
    let mut fresh = fixture("cancel_payment/full_cancel_card.json");
    fresh["status"] = "CANCELED".into();
    Mock::given(method("GET"))
        .and(path("/v1/payments/tviva20220101113204Kx7d2"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fresh))
        .expect(1)
        .mount(&server)
        .await;

    let confirmed = event("webhook/payment_status_changed.json")
        .verify_by_refetch(&client(&server))
        .await
        .unwrap();

    assert_eq!(confirmed.status(), &Status::Canceled);
    server.verify().await;
}

#[tokio::test]
async fn a_forged_payment_event_fails_the_refetch() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/tviva20220101113204Kx7d2"))
        .respond_with(toss_error(404, "NOT_FOUND_PAYMENT", "없음"))
        .expect(1)
        .mount(&server)
        .await;

    let err = event("webhook/payment_status_changed.json")
        .verify_by_refetch(&client(&server))
        .await
        .unwrap_err();

    assert!(matches!(err, VerifyError::Fetch(_)));
    assert!(err.is_forged());
    server.verify().await;
}

#[tokio::test]
async fn a_payment_event_naming_another_order_is_refused() {
    let server = server().await;
    let mut other = fixture("cancel_payment/full_cancel_card.json");
    other["orderId"] = "order-somebody-else".into();
    Mock::given(method("GET"))
        .and(path("/v1/payments/tviva20220101113204Kx7d2"))
        .respond_with(json(200, other))
        .mount(&server)
        .await;

    let err = event("webhook/payment_status_changed.json")
        .verify_by_refetch(&client(&server))
        .await
        .unwrap_err();

    assert!(matches!(err, VerifyError::PaymentMismatch { field: "orderId" }));
    server.verify().await;
}

#[tokio::test]
async fn a_deposit_callback_is_confirmed_by_order_id_and_secret() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/payments/orders/{VA_ORDER}")))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fixture("get_payment/virtual_account_deposited.json")))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);

    let paid = event("webhook/deposit_callback.json")
        .verify_by_refetch(&client)
        .await
        .unwrap();
    assert_eq!(paid.status(), &Status::Done);

    let forged = json!({"createdAt": "2022-01-01T11:49:35.000", "secret": "ps_guessed", "status": "DONE",
                        "orderId": VA_ORDER});
    let err = Event::from_json(&serde_json::to_vec(&forged).unwrap())
        .unwrap()
        .verify_by_refetch(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::SecretMismatch));
    server.verify().await;
}

#[tokio::test]
async fn a_cancel_event_is_confirmed_when_the_payment_has_that_cancel() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/tviva20220101113204Kx7d2"))
        .respond_with(json(200, fixture("cancel_payment/partial_cancel_second.json")))
        .mount(&server)
        .await;
    let client = client(&server);

    let payment = event("webhook/cancel_status_changed.json")
        .verify_by_refetch(&client)
        .await
        .unwrap();
    assert_eq!(payment.balance(), 8_000);

    let mut unknown_cancel = fixture("webhook/cancel_status_changed.json");
    unknown_cancel["data"]["transactionKey"] = "NOT_A_REAL_TRANSACTION".into();
    let err = Event::from_json(&serde_json::to_vec(&unknown_cancel).unwrap())
        .unwrap()
        .verify_by_refetch(&client)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        VerifyError::PaymentMismatch {
            field: "transactionKey"
        }
    ));

    let mut no_key = fixture("webhook/cancel_status_changed.json");
    no_key["data"].as_object_mut().unwrap().remove("paymentKey");
    let err = Event::from_json(&serde_json::to_vec(&no_key).unwrap())
        .unwrap()
        .verify_by_refetch(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::NotVerifiable(_)));

    let err = event("webhook/payout_changed.json")
        .verify_by_refetch(&client)
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::NotVerifiable(_)));
    assert!(!err.is_forged());
    assert_eq!(requests(&server).await.len(), 2);
    server.verify().await;
}

const BILLING_KEY: &str = "Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0=";

#[test]
fn billing_deleted_carries_the_key_and_the_reason() {
    let e = event("webhook/billing_deleted.json");
    assert_eq!(e.event_type(), "BILLING_DELETED");
    assert_eq!(e.created_at().unwrap().to_rfc3339(), "2024-07-01T09:15:30.123456+09:00");
    let Event::BillingDeleted(deleted) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(deleted.billing_key(), BILLING_KEY);
    assert_eq!(deleted.reason.as_deref(), Some("고객 요청으로 카드 등록 해지"));
    assert!(deleted.is_for(BILLING_KEY));
    assert!(!deleted.is_for("Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0"));
    assert!(!deleted.is_for(""));
    // The key charges the card: it must not show in logs.
    let debug = format!("{e:?}");
    assert!(!debug.contains("Z_t5vOvQ"), "{debug}");
}

#[test]
fn billing_deleted_without_a_reason_decodes() {
    let Event::BillingDeleted(deleted) = event("webhook/billing_deleted_minimal.json") else {
        panic!()
    };
    assert_eq!(deleted.billing_key(), BILLING_KEY);
    assert_eq!(deleted.reason, None);
}

#[test]
fn billing_deleted_without_a_key_is_an_error_naming_it() {
    let err = Event::from_json(br#"{"eventType":"BILLING_DELETED","createdAt":"2024-07-01T09:15:30.123","data":{}}"#)
        .unwrap_err();
    assert_eq!(err.path, "data");
    assert!(err.message.contains("billingKey"), "{err}");
}

#[tokio::test]
async fn billing_deleted_is_not_confirmed_by_reading_anything() {
    // No request may go out: there is no billing-key lookup to make.
    let server = server().await;
    let err = event("webhook/billing_deleted.json")
        .verify_by_refetch(&client(&server))
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::NotVerifiable(_)), "{err}");
    assert!(!err.is_forged());
    server.verify().await;
}

#[test]
fn an_aborted_asynchronous_cancel_says_so() {
    let Event::CancelStatusChanged(changed) = event("webhook/cancel_status_aborted.json") else {
        panic!()
    };
    assert_eq!(changed.cancel_status(), Some(&kr_payments::toss::CancelStatus::Aborted));
    assert_eq!(changed.cancel.cancel_amount, 5_000);
    assert_eq!(changed.payment_key.as_deref(), Some("tpaypal20240301100000Ab12"));

    let Event::CancelStatusChanged(done) = event("webhook/cancel_status_changed.json") else {
        panic!()
    };
    assert_eq!(done.cancel_status(), Some(&kr_payments::toss::CancelStatus::Done));
}
