//! The three operations added to the Toss spec (billing-key deletion, both promotion lookups), over loopback with
//! the generated client: the exact request, documented answers, minimal ones, unknown values and errors.
#![cfg(feature = "toss")]

mod toss_support;

use chrono::NaiveDate;
use kr_payments::toss::raw::types::{BankDiscountType, PromotionPayType, PromotionType};
use serde_json::json;
use toss_support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

#[tokio::test]
async fn deleting_a_billing_key_sends_a_bare_delete_with_the_key_encoded() {
    let server = server().await;
    // Billing keys are base64-like: a `/` in one must stay inside the segment (`+` and `=` may travel as they are).
    Mock::given(method("DELETE"))
        .and(path("/v1/billing/Z_t5v+OvQ%2Fxrj4499="))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    let answer = client(&server)
        .raw()
        .delete_billing_key("Z_t5v+OvQ/xrj4499=")
        .await
        .unwrap();

    assert_eq!(answer.status().as_u16(), 200);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.is_empty(), "a DELETE without a body");
    assert!(sent[0].headers.get("api-version").is_none());
    server.verify().await;
}

#[tokio::test]
async fn a_deletion_answer_with_a_body_is_still_success() {
    let server = server().await;
    Mock::given(method("DELETE"))
        .and(path("/v1/billing/bk-with-body"))
        .respond_with(json(
            200,
            json!({"billingKey": "bk-with-body", "deletedAt": "2024-07-01T09:15:30+09:00"}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    client(&server).raw().delete_billing_key("bk-with-body").await.unwrap();
    server.verify().await;
}

#[tokio::test]
async fn a_refused_deletion_keeps_toss_code() {
    let server = server().await;
    Mock::given(method("DELETE"))
        .and(path("/v1/billing/bk-gone"))
        .respond_with(toss_error(404, "NOT_FOUND_BILLING", "존재하지 않는 빌링키입니다."))
        .expect(1)
        .mount(&server)
        .await;

    let err = client(&server).raw().delete_billing_key("bk-gone").await.unwrap_err();

    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    match err {
        progenitor_client::Error::ErrorResponse(body) => assert_eq!(body.into_inner().code, "NOT_FOUND_BILLING"),
        other => panic!("{other:?}"),
    }
    server.verify().await;
}

#[tokio::test]
async fn every_promotion_type_decodes_with_its_terms() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/promotions"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fixture("list_promotions/every_type.json")))
        .expect(1)
        .mount(&server)
        .await;

    let promotions = client(&server).raw().list_promotions().await.unwrap().into_inner();

    assert_eq!(promotions.len(), 4);
    let types: Vec<_> = promotions.iter().map(|p| p.type_.clone()).collect();
    assert_eq!(
        types,
        [
            Some(PromotionType::CardDiscount),
            Some(PromotionType::CardInterestFree),
            Some(PromotionType::CardPoint),
            Some(PromotionType::BankDiscount),
        ]
    );
    let discount = promotions[0].card_discount.as_ref().unwrap();
    assert_eq!(promotions[0].pay_type, Some(PromotionPayType::Normal));
    assert_eq!(discount.issuer_code.as_deref(), Some("61"));
    assert_eq!(discount.discount_amount, Some(3_000));
    assert_eq!(discount.minimum_payment_amount, Some(30_000));
    assert_eq!(discount.maximum_payment_amount, Some(1_000_000));
    assert_eq!(discount.discount_code.as_deref(), Some("HD3000"));
    assert_eq!(discount.due_date, date(2024, 12, 31));
    assert_eq!(discount.balance, Some(4_500_000));
    assert!(promotions[0].card_interest_free.is_none());

    let free = promotions[1].card_interest_free.as_ref().unwrap();
    assert_eq!(free.installment_free_months.as_deref(), Some(&[2, 3, 4, 5, 6][..]));
    assert_eq!(free.minimum_payment_amount, Some(50_000));

    assert_eq!(promotions[2].pay_type, Some(PromotionPayType::Billing));
    assert_eq!(promotions[2].card_point.as_ref().unwrap().due_date, date(2024, 11, 30));

    let bank = promotions[3].bank_discount.as_ref().unwrap();
    assert_eq!(bank.type_, Some(BankDiscountType::FixedRate));
    assert_eq!(bank.discount_rate, Some(0.05));
    assert_eq!(bank.discount_amount, None);
    assert_eq!(bank.bank_code.as_deref(), Some("92"));
    server.verify().await;
}

#[tokio::test]
async fn unknown_promotion_values_are_kept_and_empty_entries_decode() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/promotions"))
        .respond_with(json(200, fixture("list_promotions/unknown_values.json")))
        .expect(1)
        .mount(&server)
        .await;

    let promotions = client(&server).raw().list_promotions().await.unwrap().into_inner();

    assert_eq!(promotions.len(), 2);
    assert_eq!(
        promotions[0].pay_type,
        Some(PromotionPayType::Unrecognized("CONNECTPAY".into()))
    );
    assert_eq!(
        promotions[0].type_,
        Some(PromotionType::Unrecognized("EASYPAY_CASHBACK".into()))
    );
    assert!(promotions[1].type_.is_none() && promotions[1].card_discount.is_none());
    server.verify().await;
}

#[tokio::test]
async fn no_promotion_running_is_an_empty_list() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/promotions"))
        .respond_with(json(200, json!([])))
        .expect(1)
        .mount(&server)
        .await;

    assert!(
        client(&server)
            .raw()
            .list_promotions()
            .await
            .unwrap()
            .into_inner()
            .is_empty()
    );
    server.verify().await;
}

#[tokio::test]
async fn card_benefits_decode_under_the_current_names() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/promotions/card"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fixture("get_card_promotion/current.json")))
        .expect(1)
        .mount(&server)
        .await;

    let benefits = client(&server).raw().get_card_promotion().await.unwrap().into_inner();

    let discounts = benefits.discount_cards.unwrap();
    assert_eq!(discounts.len(), 1);
    assert_eq!(discounts[0].issuer_code.as_deref(), Some("61"));
    assert_eq!(discounts[0].discount_amount, Some(3_000));
    assert_eq!(discounts[0].balance, Some(4_500_000));
    assert_eq!(discounts[0].due_date, date(2024, 12, 31));
    let free = benefits.interest_free_cards.unwrap();
    assert_eq!(free.len(), 2);
    assert_eq!(
        free[0].installment_free_months.as_deref(),
        Some(&[2, 3, 4, 5, 6, 7, 8][..])
    );
    assert_eq!(free[1].issuer_code.as_deref(), Some("51"));
    server.verify().await;
}

#[tokio::test]
async fn card_benefits_decode_under_the_older_names() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/promotions/card"))
        .respond_with(json(200, fixture("get_card_promotion/older_names.json")))
        .expect(1)
        .mount(&server)
        .await;

    let benefits = client(&server).raw().get_card_promotion().await.unwrap().into_inner();

    let discount = &benefits.discount_cards.unwrap()[0];
    assert_eq!(discount.issuer_code, None);
    assert_eq!(discount.company_code.as_deref(), Some("41"));
    assert_eq!(discount.card_company.as_deref(), Some("신한"));
    // A spent budget: the discount can no longer be applied.
    assert_eq!(discount.balance, Some(0));
    let free = &benefits.interest_free_cards.unwrap()[0];
    assert_eq!(free.company_code.as_deref(), Some("11"));
    assert_eq!(free.currency, None);
    server.verify().await;
}

#[tokio::test]
async fn no_card_benefit_and_an_error_answer() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/promotions/card"))
        .respond_with(json(200, fixture("get_card_promotion/none_running.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/promotions/card"))
        .respond_with(toss_error(
            401,
            "UNAUTHORIZED_KEY",
            "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
        ))
        // Answers once the first mock is used up (lower priority than the default, above the catch-all).
        .with_priority(10)
        .mount(&server)
        .await;
    let client = client(&server);

    let none = client.raw().get_card_promotion().await.unwrap().into_inner();
    assert_eq!(none.discount_cards.map(|d| d.len()), Some(0));
    assert_eq!(none.interest_free_cards.map(|d| d.len()), Some(0));

    let err = client.raw().get_card_promotion().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    server.verify().await;
}
