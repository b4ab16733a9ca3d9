//! Payment lookups and the Payment object: decoding, open enums, ASCII views, refund helpers.
#![cfg(feature = "toss")]

mod toss_support;

use kr_payments::Error;
use kr_payments::toss::{
    AccountType, CancelStatus, CardOwnerType, CardType, ErrorCode, Method, Payment, RefundReceiveAccount, Status,
};
use toss_support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_payment_decodes_the_seed_payment() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/tviva20220101113204Kx7d2"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fixture("cancel_payment/full_cancel_card.json")))
        .expect(1)
        .mount(&server)
        .await;

    let p = client(&server)
        .get_payment(&kr_payments::toss::PaymentKey::new("tviva20220101113204Kx7d2"))
        .await
        .unwrap();

    assert_eq!(p.order_id(), "order-20220101-0001");
    assert_eq!(p.status(), &Status::Canceled);
    assert_eq!(p.method(), Some(Method::Card));
    assert_eq!((p.total(), p.balance(), p.cancelled_total()), (10_000, 0, 10_000));
    assert_eq!(p.cancels().len(), 1);
    let cancel = p.latest_cancel().unwrap();
    assert_eq!(cancel.cancel_status, Some(CancelStatus::Done));
    assert_eq!(cancel.transaction_key, "8B4F646A829571D870A3011A4E13D640");
    assert_eq!(cancel.canceled_at.unwrap().to_rfc3339(), "2022-01-01T02:32:04+00:00");
    assert!(!p.can_cancel());
    let sent = requests(&server).await;
    assert!(sent[0].body.is_empty());
    server.verify().await;
}

#[tokio::test]
async fn get_payment_percent_encodes_the_key() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/tviva%2F2024%20%EA%B2%B0%EC%A0%9C"))
        .respond_with(json(200, fixture("get_payment/card_done.json")))
        .expect(1)
        .mount(&server)
        .await;

    client(&server)
        .get_payment(&kr_payments::toss::PaymentKey::new("tviva/2024 결제"))
        .await
        .unwrap();

    server.verify().await;
}

#[tokio::test]
async fn get_payment_by_order_id_uses_the_orders_path() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/orders/order%3F1%23x"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fixture("get_payment/virtual_account_deposited.json")))
        .expect(1)
        .mount(&server)
        .await;

    let p = client(&server).get_payment_by_order_id("order?1#x").await.unwrap();

    assert_eq!(p.method(), Some(Method::VirtualAccount));
    assert!(p.needs_refund_account());
    server.verify().await;
}

#[tokio::test]
async fn lookups_refuse_empty_and_dot_keys_without_sending() {
    let server = server().await;
    let client = client(&server);

    for key in ["", ".", ".."] {
        match client
            .get_payment(&kr_payments::toss::PaymentKey::new(key))
            .await
            .unwrap_err()
        {
            Error::InvalidRequest(e) => assert_eq!(e.field, "paymentKey"),
            other => panic!("{key:?}: {other:?}"),
        }
    }
    match client.get_payment_by_order_id("").await.unwrap_err() {
        Error::InvalidRequest(e) => assert_eq!(e.field, "orderId"),
        other => panic!("{other:?}"),
    }
    assert!(requests(&server).await.is_empty());
    server.verify().await;
}

#[tokio::test]
async fn a_lookup_error_keeps_status_code_and_message() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/nope"))
        .respond_with(toss_error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 입니다."))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/proxy"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let client = client(&server);

    let err = client
        .get_payment(&kr_payments::toss::PaymentKey::new("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let api = err.api().unwrap();
    assert_eq!(api.code, ErrorCode::NotFoundPayment);
    assert_eq!(api.message.as_deref(), Some("존재하지 않는 결제 입니다."));
    assert_eq!(
        err.to_string(),
        "HTTP 404: NOT_FOUND_PAYMENT: 존재하지 않는 결제 입니다."
    );

    // Not Toss's error object: a decode error that keeps the status and the body, not an invented code.
    match client
        .get_payment(&kr_payments::toss::PaymentKey::new("proxy"))
        .await
        .unwrap_err()
    {
        Error::Decode(d) => {
            assert_eq!(d.status, 502);
            assert_eq!(&d.body[..], b"<html>bad gateway</html>");
        }
        other => panic!("{other:?}"),
    }
    server.verify().await;
}

#[tokio::test]
async fn lookups_are_retried_after_a_503() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/flaky"))
        .respond_with(toss_error(503, "COMMON_ERROR", "try later"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/flaky"))
        .respond_with(json(200, fixture("get_payment/card_done.json")))
        .mount(&server)
        .await;
    let client = kr_payments::toss::Client::builder()
        .secret_key(SECRET_KEY)
        .base_url(server.uri())
        .retry(fast_retry())
        .build()
        .unwrap();

    let p = client
        .get_payment(&kr_payments::toss::PaymentKey::new("flaky"))
        .await
        .unwrap();

    assert_eq!(p.balance(), 10_000);
    assert_eq!(requests(&server).await.len(), 2);
    server.verify().await;
}

#[test]
fn unknown_status_method_cancel_status_and_fields_still_decode() {
    let p = payment("get_payment/unknown_values.json");

    assert_eq!(p.status(), &Status::Unrecognized("SETTLEMENT_HELD".into()));
    assert_eq!(p.status().as_str(), "SETTLEMENT_HELD");
    assert_eq!(p.method(), Some(Method::Unrecognized("포인트결제".into())));
    assert!(p.method().unwrap().is_unrecognized());
    let cancels = p.cancels();
    assert_eq!(
        cancels[1].cancel_status,
        Some(CancelStatus::Unrecognized("PARTIALLY_REVERSED".into()))
    );
    assert_eq!(cancels[0].receipt_key, None);
    // Only the DONE cancel is counted: the other one's state is unknown.
    assert_eq!(p.cancelled_total(), 1_000);
    assert_eq!(p.is_partial_cancelable, None);
    assert_eq!(p.approved_at, None);
    // An unrecognized status is not one a cancel is known to work in.
    assert!(!p.can_cancel());
}

#[test]
fn the_seed_bodies_decode() {
    let card = payment("cancel_payment/full_cancel_card.json");
    // The seed's first body sends easyPay as a bare name; the 2022-11-16 format sends an object. Both decode.
    assert!(matches!(
        card.easy_pay,
        Some(kr_payments::toss::raw::types::PaymentEasyPayField::String(ref s)) if s == "토스페이"
    ));
    assert_eq!(card.secret, None);

    let va = payment("cancel_payment/virtual_account_refund.json");
    assert_eq!(va.status(), &Status::PartialCanceled);
    assert_eq!(va.method(), Some(Method::VirtualAccount));
    assert_eq!(va.account_type(), Some(AccountType::Normal));
    let account = va.virtual_account.as_ref().unwrap();
    assert_eq!(account.bank_code.as_deref(), Some("20"));
    assert!(account.refund_receive_account.is_none());
    assert_eq!((va.balance(), va.cancelled_total()), (0, 10_000));
}

#[test]
fn ascii_views_map_every_korean_label() {
    let methods = [
        ("카드", Method::Card),
        ("가상계좌", Method::VirtualAccount),
        ("간편결제", Method::EasyPay),
        ("휴대폰", Method::MobilePhone),
        ("계좌이체", Method::Transfer),
        ("문화상품권", Method::CultureGiftCertificate),
        ("도서문화상품권", Method::BookGiftCertificate),
        ("게임문화상품권", Method::GameGiftCertificate),
    ];
    for (label, view) in methods {
        let generated: kr_payments::toss::raw::types::PaymentMethod = serde_json::from_value(label.into()).unwrap();
        assert!(!generated.is_unrecognized(), "{label}");
        assert_eq!(Method::from(&generated), view);
        assert_eq!(view.as_str(), label);
        assert_eq!(view.to_string(), label);
    }
    // English codes are what Accept-Language: en-US would bring; the view keeps them as they came.
    assert_eq!(Method::from("CARD"), Method::Unrecognized("CARD".into()));

    let card = payment("get_payment/card_done.json");
    assert_eq!(card.card_type(), Some(CardType::Credit));
    assert_eq!(card.card_owner_type(), Some(CardOwnerType::Personal));
    assert_eq!(CardType::from("체크"), CardType::Check);
    assert_eq!(CardOwnerType::from("법인"), CardOwnerType::Corporate);
    assert_eq!(AccountType::from("고정"), AccountType::Fixed);
}

#[test]
fn refund_helpers_follow_the_payment_state() {
    let card = payment("get_payment/card_done.json");
    assert!(card.can_cancel() && card.can_cancel_partially());
    assert!(!card.is_virtual_account() && !card.needs_refund_account());

    let part = payment("get_payment/card_partially_cancelled.json");
    assert_eq!((part.balance(), part.cancelled_total()), (9_000, 1_000));
    assert!(part.can_cancel_partially());

    let mut no_partial: serde_json::Value = fixture("get_payment/card_done.json");
    no_partial["isPartialCancelable"] = false.into();
    let no_partial: Payment = serde_json::from_value(no_partial).unwrap();
    assert!(no_partial.can_cancel() && !no_partial.can_cancel_partially());

    let waiting = payment("get_payment/virtual_account_waiting.json");
    assert!(waiting.is_awaiting_deposit() && waiting.can_cancel());
    assert!(!waiting.can_cancel_partially());
    assert!(!waiting.needs_refund_account());

    let paid = payment("get_payment/virtual_account_deposited.json");
    assert!(paid.needs_refund_account() && paid.can_cancel_partially());
}

#[test]
fn the_widget_refund_account_becomes_a_cancel_refund_account() {
    let waiting = payment("get_payment/virtual_account_waiting.json");

    assert_eq!(
        waiting.widget_refund_account(),
        Some(RefundReceiveAccount::new(
            kr_payments::account::BankCode::new("20"),
            kr_payments::account::AccountNumber::new("001012341342"),
            kr_payments::account::HolderName::new("박토스")
        ))
    );
    assert_eq!(
        payment("get_payment/virtual_account_deposited.json").widget_refund_account(),
        None
    );
}

#[test]
fn debug_hides_the_payment_secret_but_serializing_keeps_it() {
    let p = payment("get_payment/virtual_account_deposited.json");
    let secret = "ps_Kq2mN8vXr4TzW1bLc9YdE6Hf";
    assert_eq!(p.secret.as_deref(), Some(secret));

    let printed = format!("{p:?}");
    assert!(!printed.contains(secret), "{printed}");
    assert!(printed.contains("<redacted>"));
    assert!(printed.contains("order-20220101-0002"));
    assert!(serde_json::to_string(&p).unwrap().contains(secret));
    // The refund account's number and holder are personal data.
    let account = format!(
        "{:?}",
        RefundReceiveAccount::new(
            kr_payments::account::BankCode::new("20"),
            kr_payments::account::AccountNumber::new("001012341342"),
            kr_payments::account::HolderName::new("박토스")
        )
    );
    assert!(
        !account.contains("001012341342") && !account.contains("박토스"),
        "{account}"
    );
    let client = kr_payments::toss::Client::builder()
        .secret_key(SECRET_KEY)
        .build()
        .unwrap();
    let prepared = client
        .refund_virtual_account(
            &p,
            RefundReceiveAccount::new(
                kr_payments::account::BankCode::new("20"),
                kr_payments::account::AccountNumber::new("001012341342"),
                kr_payments::account::HolderName::new("박토스"),
            ),
            "r",
        )
        .prepare()
        .unwrap();
    let printed = format!("{prepared:?}");
    assert!(
        !printed.contains("001012341342") && !printed.contains("박토스"),
        "{printed}"
    );
    assert!(printed.contains(prepared.idempotency_key()), "{printed}");
}

#[test]
fn debug_hides_the_customers_account_and_name_and_serializing_keeps_them() {
    let raw = fixture("get_payment/virtual_account_waiting.json");
    let payment: Payment = serde_json::from_value(raw.clone()).unwrap();
    let shown = format!("{payment:?}");
    for personal in ["X6505636518308", "박토스", "001012341342"] {
        assert!(raw.to_string().contains(personal), "the fixture carries {personal}");
        assert!(!shown.contains(personal), "Debug shows {personal}: {shown}");
    }
    assert!(shown.contains("<redacted>"));
    assert!(shown.contains(payment.payment_key()), "the rest stays readable");
    let stored = serde_json::to_value(&payment).unwrap();
    assert_eq!(stored["virtualAccount"]["accountNumber"], "X6505636518308");
}
