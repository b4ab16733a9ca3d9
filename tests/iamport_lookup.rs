//! Lookups: by `imp_uid`, by `merchant_uid` (path encoding), lists by status as a stream, and how answers decode.
#![cfg(feature = "iamport")]

mod iamport_support;

use futures::StreamExt;
use iamport_support::*;
use kr_payments::iamport::{ImpUid, ListSorting, MerchantUid, PayMethod, PaymentChannel, PaymentStatus, StatusFilter};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_payment_decodes_the_payment() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_448280090638", TOKEN)
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "partially_cancelled")))
        .expect(1)
        .mount(&server)
        .await;
    let p = client(&server)
        .get_payment(&ImpUid::new("imp_448280090638"))
        .await
        .unwrap();
    assert_eq!(p.imp_uid.as_deref(), Some("imp_448280090638"));
    assert_eq!(p.merchant_uid.as_deref(), Some("order-20240501-0001"));
    assert_eq!(p.status, Some(PaymentStatus::Paid));
    assert_eq!(p.pay_method, Some(PayMethod::Card));
    assert_eq!(p.channel, Some(PaymentChannel::Pc));
    assert_eq!(p.currency.as_deref(), Some("KRW"));
    assert_eq!((p.amount, p.cancel_amount), (Some(10_000), Some(3_000)));
    assert_eq!(p.cancellable_balance(), Some(7_000));
    assert_eq!(p.cancel_history_total(), Some(3_000));
    assert_eq!(p.paid_at, Some(1_714_532_460));
}

#[tokio::test]
async fn a_fractional_amount_is_a_decode_error_not_a_rounded_number() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_448280090638", TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "fractional_amount")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_payment(&ImpUid::new("imp_448280090638"))
        .await
        .unwrap_err();
    match err {
        kr_payments::Error::Decode(d) => {
            assert_eq!(d.status, 200);
            assert_eq!(d.path, "response.amount");
            assert!(String::from_utf8_lossy(&d.body).contains("10000.5"));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn values_the_spec_does_not_list_are_kept() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_448280090638", TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "unrecognized_values")))
        .expect(1)
        .mount(&server)
        .await;
    let p = client(&server)
        .get_payment(&ImpUid::new("imp_448280090638"))
        .await
        .unwrap();
    let status = p.status.clone().unwrap();
    assert!(status.is_unrecognized());
    assert_eq!(status.as_str(), "partial_refund_pending");
    assert_eq!(p.pay_method.as_ref().unwrap().as_str(), "crypto_wallet");
    assert_eq!(p.channel, Some(PaymentChannel::Unrecognized("kiosk".into())));
}

#[tokio::test]
async fn an_unknown_payment_is_an_api_error() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_000000000000", TOKEN)
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("getPaymentByImpUid", "not_found")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_payment(&ImpUid::new("imp_000000000000"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let api = err.api().unwrap();
    assert_eq!(
        (api.code, api.message.as_deref()),
        (-1, Some("결제 정보를 찾을 수 없습니다"))
    );
    assert_eq!(api.operation, "getPaymentByImpUid");
}

#[tokio::test]
async fn an_error_status_without_an_envelope_is_a_decode_error_keeping_the_body() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_448280090638", TOKEN)
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>not here</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_payment(&ImpUid::new("imp_448280090638"))
        .await
        .unwrap_err();
    match err {
        kr_payments::Error::Decode(d) => {
            assert_eq!(d.status, 404);
            assert_eq!(&d.body[..], b"<html>not here</html>");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn success_is_never_assumed_without_a_code() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_448280090638", TOKEN)
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "message": null, "response": null })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .get_payment(&ImpUid::new("imp_448280090638"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kr_payments::Error::Decode(d) if d.path == "code"),
        "{err:?}"
    );
}

#[tokio::test]
async fn merchant_uid_with_slash_spaces_and_korean_stays_one_path_segment() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    Mock::given(method("GET"))
        .and(path(
            "/payments/find/%EC%A3%BC%EB%AC%B8%2F2024%2005%2F%ED%95%9C%EA%B8%80-1",
        ))
        .and(header("authorization", bearer(TOKEN).as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("getPaymentByMerchantUid", "korean_slash_space")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = client(&server)
        .find_payment(&MerchantUid::new("주문/2024 05/한글-1"))
        .await
        .unwrap();
    assert_eq!(p.merchant_uid.as_deref(), Some("주문/2024 05/한글-1"));
}

#[tokio::test]
async fn imp_uid_with_reserved_characters_is_encoded() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment("imp_1%2F..%3Fx%3D1%23y", TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .get_payment(&ImpUid::new("imp_1/..?x=1#y"))
        .await
        .unwrap();
}

#[tokio::test]
async fn empty_ids_are_refused_before_anything_is_sent() {
    let server = server().await;
    let client = client(&server);
    let e = client.get_payment(&ImpUid::new("")).await.unwrap_err();
    assert!(matches!(e, kr_payments::Error::InvalidRequest(ref i) if i.field == "imp_uid"));
    let e = client.find_payment(&MerchantUid::new(" ")).await.unwrap_err();
    assert!(matches!(e, kr_payments::Error::InvalidRequest(ref i) if i.field == "merchant_uid"));
}

#[tokio::test]
async fn payments_by_status_stream_every_page() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    for (page, case) in [("1", "page1"), ("2", "page2")] {
        Mock::given(method("GET"))
            .and(path("/payments/status/paid"))
            .and(query_param("page", page))
            .and(query_param("limit", "2"))
            .and(query_param("from", "1714521600"))
            .and(query_param("to", "1714607999"))
            .and(query_param("sorting", "-paid"))
            .and(header("authorization", bearer(TOKEN).as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentsByStatus", case)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&server);
    let ids: Vec<String> = client
        .payments_by_status(StatusFilter::Paid)
        .limit(2)
        .from(1_714_521_600)
        .to(1_714_607_999)
        .sorting(ListSorting::Xpaid)
        .stream()
        .map(|p| p.unwrap().into_raw().imp_uid.unwrap())
        .collect()
        .await;
    assert_eq!(ids, ["imp_100000000000", "imp_100000000001", "imp_100000000002"]);
}

#[tokio::test]
async fn a_page_reports_total_and_next() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    Mock::given(method("GET"))
        .and(path("/payments/status/all"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentsByStatus", "page1")))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .payments_by_status(StatusFilter::All)
        .page(1)
        .await
        .unwrap();
    assert_eq!((page.number, page.total, page.next), (1, Some(3), Some(2)));
    assert_eq!(page.payments.len(), 2);
}

#[tokio::test]
async fn a_failing_page_ends_the_stream_with_its_error() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    Mock::given(method("GET"))
        .and(path("/payments/status/paid"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentsByStatus", "page1")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/payments/status/paid"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cancelPayment", "refused_code_minus_1")))
        .expect(1)
        .mount(&server)
        .await;
    let items: Vec<_> = client(&server)
        .payments_by_status(StatusFilter::Paid)
        .stream()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[1].is_ok());
    assert_eq!(items[2].as_ref().unwrap_err().api().map(|e| e.code), Some(-1));
}

#[tokio::test]
async fn list_parameters_are_checked_before_anything_is_sent() {
    let server = server().await;
    let client = client(&server);
    for (list, field) in [
        (client.payments_by_status(StatusFilter::Paid).limit(0), "limit"),
        (client.payments_by_status(StatusFilter::Paid).limit(1001), "limit"),
        (client.payments_by_status(StatusFilter::Paid).from(10).to(9), "from"),
    ] {
        let e = list.page(1).await.unwrap_err();
        assert!(
            matches!(e, kr_payments::Error::InvalidRequest(ref i) if i.field == field),
            "{e:?}"
        );
    }
    let e = client.payments_by_status(StatusFilter::Paid).page(0).await.unwrap_err();
    assert!(matches!(e, kr_payments::Error::InvalidRequest(ref i) if i.field == "page"));
}

#[test]
fn history_helpers_read_every_cancel() {
    let mut json = fixture("getPaymentByImpUid", "paid")["response"].clone();
    json["cancel_amount"] = 4_000.into();
    json["cancel_history"] = serde_json::json!([
        { "pg_tid": "t2", "amount": 3000, "cancelled_at": 1_714_700_000, "reason": "두 번째", "cancellation_id": "c2" },
        { "pg_tid": "t1", "amount": 1000, "cancelled_at": 1_714_600_000, "reason": "첫 번째", "cancellation_id": "c1" }
    ]);
    let p: kr_payments::iamport::Payment = serde_json::from_value(json).unwrap();
    assert_eq!(p.cancel_history_total(), Some(4_000));
    assert_eq!(p.cancelled_total(), Some(4_000));
    assert_eq!(p.cancellable_balance(), Some(6_000));
    assert_eq!(
        p.latest_cancellation().and_then(|c| c.cancellation_id.as_deref()),
        Some("c2")
    );
    assert_eq!(p.cancellation("c1").and_then(|c| c.amount), Some(1_000));
    assert!(p.cancellation("c3").is_none());
    assert!(!p.is_fully_cancelled());
}

#[test]
fn balance_helpers_invent_nothing_when_amounts_are_missing() {
    let mut json = fixture("getPaymentByImpUid", "paid")["response"].clone();
    json["cancel_amount"] = serde_json::Value::Null;
    json["cancel_history"] = serde_json::json!([
        { "pg_tid": null, "amount": null, "cancelled_at": null, "reason": null, "cancellation_id": null }
    ]);
    let p: kr_payments::iamport::Payment = serde_json::from_value(json).unwrap();
    assert_eq!(p.cancellable_balance(), None);
    assert_eq!(p.cancelled_total(), None);
    assert_eq!(p.cancel_history_total(), None);
}
