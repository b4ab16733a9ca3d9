//! The refund policy (`kr_payments::policy`) as each facade applies it: every provider's method values mapped onto
//! `policy::PayMethod`, the payment types' `cancel_deadline()` and `expected_refund_time()`, and the pre-flight
//! checks of the cancel builders, over real HTTP on 127.0.0.1.
//!
//! Every server has a catch-all mock that answers 599 and expects no call, so a cancel that pre-flight should have
//! stopped fails the test when the server is dropped.
//!
//! Seeds: 000 = PortOne V2 cancel guide (결제 취소 정책), 001 = Toss cancel guide (결제 취소 기한), 002 = iamport
//! cancel reference, 003 = iamport refund guide (files under `shared/seeds/`).

use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use kr_payments::Error;
use kr_payments::policy::{
    self, CANCEL_DEADLINE_FIELD, CancelWarning, Conditions, DeadlineCheck, DeadlineRule, KST, PayMethod,
    ProcessingTime, Provider,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A KST wall-clock time as the UTC instant the builders take.
fn kst(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    KST.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid KST time")
        .with_timezone(&Utc)
}

/// The last second of March 2026 in Korea: a phone payment made then belongs to March.
fn last_second_of_march() -> DateTime<Utc> {
    kst(2026, 3, 31, 23, 59, 59)
}

/// The first second of April 2026 in Korea (still 31 March in UTC): a March phone payment is past its deadline.
fn first_second_of_april() -> DateTime<Utc> {
    kst(2026, 4, 1, 0, 0, 0)
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: pre-flight should have stopped this")
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("recording is on")
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
}

fn json_body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).expect("a JSON body")
}

fn assert_deadline_refusal(invalid: &kr_payments::InvalidRequest) {
    assert_eq!(invalid.field, CANCEL_DEADLINE_FIELD, "{invalid}");
    assert!(
        invalid.reason.contains("ignore_cancel_deadline"),
        "the refusal names the override: {invalid}"
    );
}

fn assert_hard_deadline_ignored(warnings: &[CancelWarning], last_allowed: DateTime<Utc>) {
    let [CancelWarning::HardDeadlineIgnored { deadline, overdue }] = warnings else {
        panic!("expected one HardDeadlineIgnored warning, got {warnings:?}");
    };
    assert_eq!(deadline.rule, DeadlineRule::SameCalendarMonthKst);
    assert_eq!(
        deadline.last_allowed,
        Some(last_allowed + TimeDelta::nanoseconds(999_999_999))
    );
    assert!(*overdue > TimeDelta::zero());
}

// ---------------------------------------------------------------------------------------------------------------
// PortOne V2
// ---------------------------------------------------------------------------------------------------------------

#[cfg(feature = "portone-v2")]
mod portone_v2 {
    use super::*;
    use kr_payments::portone_v2::{Bank, CancelOutcome, Client, Payment, PaymentExt, RefundAccount};
    use kr_payments::transport::RetryPolicy;
    use pretty_assertions::assert_eq;

    const SECRET: &str = "portone-policy-secret-7Hq2";
    const STORE: &str = "store-policy-0001";
    const PAYMENT: &str = "order-policy-0001";
    const CANCEL_PATH: &str = "/payments/order-policy-0001/cancel";
    const REASON: &str = "customer returned the item";

    fn client(server: &MockServer) -> Client {
        Client::builder()
            .secret(SECRET)
            .store_id(STORE)
            .base_url(server.uri())
            .retry(RetryPolicy::Never)
            .build()
            .expect("client")
    }

    /// A payment of `status` paid with `method` through `pg`, paid at `paid_at` when given.
    fn payment(status: &str, method: Option<Value>, pg: &str, paid_at: Option<DateTime<Utc>>) -> Payment {
        let mut p = json!({
            "status": status,
            "id": PAYMENT,
            "transactionId": "tx-policy-0001",
            "merchantId": "merchant-policy",
            "storeId": STORE,
            "channel": { "type": "LIVE", "pgProvider": pg, "pgMerchantId": "pg-policy" },
            "version": "V2",
            "requestedAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2025-01-01T00:00:00Z",
            "statusChangedAt": "2025-01-01T00:00:00Z",
            "orderName": "policy test",
            "amount": {
                "total": 10000, "taxFree": 0, "vat": 909, "supply": 9091, "discount": 0,
                "paid": 10000, "cancelled": 0, "cancelledTaxFree": 0
            },
            "currency": "KRW",
            "customer": {},
            "origin": { "platformType": "PC", "ipAddress": "203.0.113.9" },
            "disputes": [],
            "cancellations": [],
            "cancelledAt": "2025-01-02T00:00:00Z"
        });
        if let Some(method) = method {
            p["method"] = method;
        }
        if let Some(paid_at) = paid_at {
            p["paidAt"] = json!(paid_at.to_rfc3339());
        }
        serde_json::from_value(p).unwrap_or_else(|e| panic!("a {status} payment: {e}"))
    }

    fn paid(method: Value, pg: &str, paid_at: DateTime<Utc>) -> Payment {
        payment("PAID", Some(method), pg, Some(paid_at))
    }

    fn mobile() -> Value {
        json!({ "type": "PaymentMethodMobile", "phoneNumber": "01000000000" })
    }

    fn card() -> Value {
        json!({ "type": "PaymentMethodCard", "approvalNumber": "30000001" })
    }

    fn virtual_account() -> Value {
        json!({ "type": "PaymentMethodVirtualAccount", "accountNumber": "56211105948400", "bank": "SHINHAN" })
    }

    fn easy_pay(provider: Option<&str>, paid_with: Option<Value>) -> Value {
        let mut m = json!({ "type": "PaymentMethodEasyPay" });
        if let Some(provider) = provider {
            m["provider"] = json!(provider);
        }
        if let Some(paid_with) = paid_with {
            m["easyPayMethod"] = paid_with;
        }
        m
    }

    async fn mount_succeeded_cancel(server: &MockServer) {
        Mock::given(method("POST"))
            .and(path(CANCEL_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "cancellation": {
                    "status": "SUCCEEDED",
                    "id": "cancel-policy-0001",
                    "totalAmount": 10000,
                    "taxFreeAmount": 0,
                    "vatAmount": 909,
                    "reason": REASON,
                    "requestedAt": "2026-04-01T00:00:01Z",
                    "cancelledAt": "2026-04-01T00:00:02Z",
                    "trigger": "API"
                }
            })))
            .expect(1)
            .named("cancelPayment")
            .mount(server)
            .await;
    }

    fn assert_cancel_sent(req: &Request, body: &Value) {
        assert_eq!(req.method.as_str(), "POST");
        assert_eq!(req.url.path(), CANCEL_PATH);
        assert_eq!(header(req, "authorization"), Some(format!("PortOne {SECRET}").as_str()));
        assert_eq!(header(req, "content-type"), Some("application/json"));
        assert_eq!(&json_body(req), body);
    }

    #[test]
    fn every_method_maps_onto_one_policy_method_and_unknown_stays_unknown() {
        use PayMethod as M;
        let card_inside = json!({ "type": "PaymentMethodCard" });
        let charge_inside = json!({ "type": "PaymentMethodEasyPayMethodCharge", "bank": "KOOKMIN" });
        let transfer_inside = json!({ "type": "PaymentMethodTransfer" });
        let rows: Vec<(&str, Option<Value>, &str, PayMethod)> = vec![
            ("card", Some(card()), "TOSSPAYMENTS", M::Card),
            (
                "transfer",
                Some(json!({ "type": "PaymentMethodTransfer" })),
                "INICIS_V2",
                M::AccountTransfer,
            ),
            ("virtual account", Some(virtual_account()), "NICE_V2", M::VirtualAccount),
            ("mobile", Some(mobile()), "DANAL", M::MobilePhone),
            (
                "gift certificate",
                Some(json!({ "type": "PaymentMethodGiftCertificate", "approvalNumber": "7" })),
                "KCP_V2",
                M::GiftCertificate,
            ),
            (
                "KakaoPay by card",
                Some(easy_pay(Some("KAKAOPAY"), Some(card_inside.clone()))),
                "KCP_V2",
                M::KakaoPayCard,
            ),
            (
                "KakaoPay money",
                Some(easy_pay(Some("KAKAOPAY"), Some(charge_inside.clone()))),
                "KCP_V2",
                M::KakaoPayMoney,
            ),
            (
                "KakaoPay by transfer: neither card nor money",
                Some(easy_pay(Some("KAKAOPAY"), Some(transfer_inside))),
                "KCP_V2",
                M::Unknown,
            ),
            (
                "KakaoPay, instrument not said",
                Some(easy_pay(Some("KAKAOPAY"), None)),
                "KCP_V2",
                M::Unknown,
            ),
            (
                "unnamed wallet through the KakaoPay PG, money",
                Some(easy_pay(None, Some(charge_inside))),
                "KAKAOPAY",
                M::KakaoPayMoney,
            ),
            (
                "card through the KakaoPay PG",
                Some(card()),
                "KAKAOPAY",
                M::KakaoPayCard,
            ),
            (
                "NaverPay wallet",
                Some(easy_pay(Some("NAVERPAY"), Some(card_inside))),
                "KCP_V2",
                M::NaverPay,
            ),
            ("NaverPay PG", Some(card()), "NAVERPAY", M::NaverPay),
            (
                "PayPal wallet",
                Some(easy_pay(Some("PAYPAL"), None)),
                "EXIMBAY_V2",
                M::PayPal,
            ),
            ("PayPal PG", Some(card()), "PAYPAL_V2", M::PayPal),
            (
                "another wallet",
                Some(easy_pay(Some("TOSSPAY"), None)),
                "TOSSPAY_V2",
                M::EasyPay,
            ),
            (
                "convenience store",
                Some(json!({ "type": "PaymentMethodConvenienceStore" })),
                "KCP_V2",
                M::Unknown,
            ),
            (
                "crypto",
                Some(json!({ "type": "PaymentMethodCrypto" })),
                "TRIPLE_A",
                M::Unknown,
            ),
            (
                "a method type this crate does not know",
                Some(json!({ "type": "PaymentMethodHologram", "shimmer": true })),
                "KCP_V2",
                M::Unknown,
            ),
            ("no method at all", None, "KCP_V2", M::Unknown),
        ];
        let paid_at = kst(2026, 3, 10, 15, 0, 0);
        for (case, method, pg, expected) in rows {
            let p = payment("PAID", method, pg, Some(paid_at));
            assert_eq!(p.policy_method(), expected, "{case}");
            let deadline = p.cancel_deadline();
            assert_eq!(
                deadline,
                policy::deadline(Provider::PortOneV2, expected, paid_at),
                "{case}"
            );
            assert_eq!(
                p.expected_refund_time(&Conditions::new()),
                policy::processing(Provider::PortOneV2, expected, &Conditions::new()),
                "{case}"
            );
            if expected == M::Unknown {
                assert_eq!(deadline.rule, DeadlineRule::Unknown, "{case}: never a guess");
                assert_eq!(
                    deadline.check(paid_at + TimeDelta::days(4000)),
                    DeadlineCheck::Unknown,
                    "{case}"
                );
                assert_eq!(
                    p.expected_refund_time(&Conditions::new()),
                    ProcessingTime::Unknown,
                    "{case}"
                );
            }
        }
    }

    #[test]
    fn seed_000_answers_reach_the_payment_type() {
        // seed 000, 결제 취소 정책 › 휴대폰 소액결제 and › 가상계좌 환불.
        let phone = paid(mobile(), "DANAL", last_second_of_march());
        assert_eq!(phone.paid_at(), Some(last_second_of_march()));
        assert_eq!(phone.cancel_deadline().rule, DeadlineRule::SameCalendarMonthKst);
        assert_eq!(
            phone.cancel_deadline().to_string(),
            "cancel by 2026-03-31 23:59:59 KST (same month as payment)"
        );
        let va = paid(virtual_account(), "NICE_V2", last_second_of_march());
        assert_eq!(va.cancel_deadline().rule, DeadlineRule::NoLimit);
        assert_eq!(
            va.expected_refund_time(&Conditions::new()).to_string(),
            "refund takes 1-2 business days"
        );
    }

    #[test]
    fn a_payment_without_paid_at_reports_the_rule_but_no_instant_and_is_not_refused() {
        let p = payment("PARTIAL_CANCELLED", Some(mobile()), "DANAL", None);
        assert_eq!(p.paid_at(), None);
        let deadline = p.cancel_deadline();
        assert_eq!(deadline.rule, DeadlineRule::SameCalendarMonthKst);
        assert_eq!(deadline.last_allowed, None);
        assert_eq!(deadline.check(first_second_of_april()), DeadlineCheck::Unknown);
        assert_eq!(
            deadline.to_string(),
            "cancel deadline unknown: payment time not known (same month as payment)"
        );
        let client = Client::builder().secret(SECRET).build().expect("client");
        let cancel = client
            .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
            .payment(&p)
            .now(first_second_of_april());
        assert_eq!(cancel.validate(), Ok(()), "an unknown deadline is no reason to refuse");
    }

    #[tokio::test]
    async fn a_phone_payment_from_last_month_is_refused_before_anything_is_sent() {
        let server = server().await;
        let client = client(&server);
        // At the first second of April in Korea; and, with the system clock, 40 days after the payment.
        let cases = [
            (last_second_of_march(), Some(first_second_of_april())),
            (Utc::now() - TimeDelta::days(40), None),
        ];
        for (paid_at, now) in cases {
            let phone = paid(mobile(), "DANAL", paid_at);
            let mut cancel = client
                .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
                .payment(&phone);
            if let Some(now) = now {
                cancel = cancel.now(now);
            }
            match cancel.send().await {
                Err(Error::InvalidRequest(invalid)) => assert_deadline_refusal(&invalid),
                other => panic!("expected a refusal before sending, got {other:?}"),
            }
        }
        // The same from the merchant's own records.
        let err = client
            .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
            .paid(PayMethod::MobilePhone, last_second_of_march())
            .now(first_second_of_april())
            .send()
            .await
            .expect_err("refused");
        let Error::InvalidRequest(invalid) = &err else {
            panic!("expected InvalidRequest, got {err:?}")
        };
        assert_deadline_refusal(invalid);
        assert!(err.nothing_sent());
        assert_eq!(requests(&server).await.len(), 0, "nothing reached the server");
    }

    #[tokio::test]
    async fn with_the_override_the_late_phone_cancel_is_sent_and_says_so() {
        let server = server().await;
        mount_succeeded_cancel(&server).await;
        let phone = paid(mobile(), "DANAL", last_second_of_march());

        let outcome = client(&server)
            .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
            .payment(&phone)
            .ignore_cancel_deadline()
            .now(first_second_of_april())
            .send()
            .await
            .expect("sent");

        assert!(outcome.is_succeeded());
        assert_hard_deadline_ignored(outcome.warnings(), last_second_of_march());
        let all = requests(&server).await;
        assert_eq!(all.len(), 1, "the cancel arrived once");
        assert_cancel_sent(&all[0], &json!({ "reason": REASON, "storeId": STORE }));
    }

    #[test]
    fn the_month_boundary_is_kst_both_ways() {
        let client = Client::builder().secret(SECRET).build().expect("client");
        let phone = paid(mobile(), "DANAL", kst(2026, 3, 1, 0, 0, 0));
        let at = |now| {
            client
                .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
                .payment(&phone)
                .now(now)
                .validate()
        };
        assert_eq!(
            at(last_second_of_march()),
            Ok(()),
            "23:59:59 KST on the 31st is still March"
        );
        let refused = at(first_second_of_april()).expect_err("00:00:00 KST on the 1st is April");
        assert_deadline_refusal(&refused);
    }

    #[tokio::test]
    async fn a_soft_deadline_past_due_is_a_warning_on_the_outcome_not_an_error() {
        let server = server().await;
        mount_succeeded_cancel(&server).await;
        // seed 000, 결제 취소 정책 › 카드: typically 1 year, depending on the issuer.
        let old_card = paid(card(), "TOSSPAYMENTS", kst(2025, 3, 10, 12, 0, 0));

        let outcome = client(&server)
            .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
            .payment(&old_card)
            .now(kst(2026, 3, 13, 0, 0, 0))
            .send()
            .await
            .expect("a soft deadline does not refuse");

        let [CancelWarning::SoftDeadlinePassed { deadline, overdue }] = outcome.warnings() else {
            panic!("expected one soft-deadline warning, got {:?}", outcome.warnings());
        };
        assert_eq!(
            deadline.rule,
            DeadlineRule::IssuerDependent {
                typical: policy::Period::Years(1)
            }
        );
        assert_eq!(
            deadline.last_allowed,
            Some(kst(2026, 3, 11, 0, 0, 0) - TimeDelta::nanoseconds(1))
        );
        assert_eq!(overdue.num_days(), 2);
        assert!(
            outcome.warnings()[0]
                .to_string()
                .starts_with("soft cancel deadline passed 2 days ago")
        );
        assert_eq!(requests(&server).await.len(), 1);
    }

    #[tokio::test]
    async fn a_cancel_in_time_carries_no_warning() {
        let server = server().await;
        mount_succeeded_cancel(&server).await;
        let recent_card = paid(card(), "TOSSPAYMENTS", kst(2026, 3, 10, 12, 0, 0));
        let outcome = client(&server)
            .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
            .payment(&recent_card)
            .now(kst(2026, 4, 10, 0, 0, 0))
            .send()
            .await
            .expect("sent");
        assert_eq!(outcome.warnings(), &[] as &[CancelWarning]);
        assert!(matches!(outcome, CancelOutcome::Succeeded(_)));
    }

    #[test]
    fn virtual_account_rules_of_seed_000_are_checked_when_the_payment_is_known() {
        let client = Client::builder().secret(SECRET).build().expect("client");
        let now = kst(2026, 4, 1, 12, 0, 0);
        let va = paid(virtual_account(), "NICE_V2", kst(2026, 3, 10, 12, 0, 0));
        let smartro_va = paid(virtual_account(), "SMARTRO_V2", kst(2026, 3, 10, 12, 0, 0));
        let account = || {
            RefundAccount::new(
                Bank::Shinhan,
                kr_payments::account::AccountNumber::new("110123456789"),
                kr_payments::account::HolderName::new("홍길동"),
            )
        };

        let no_account = client
            .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
            .payment(&va)
            .now(now)
            .validate();
        assert_eq!(
            no_account.expect_err("a paid virtual account needs an account").field,
            "refundAccount"
        );
        let from_records = client
            .full_cancel(kr_payments::portone_v2::PaymentId::new(PAYMENT), REASON)
            .paid(PayMethod::VirtualAccount, kst(2026, 3, 10, 12, 0, 0))
            .now(now)
            .validate();
        assert_eq!(from_records.expect_err("the same from records").field, "refundAccount");
        assert_eq!(
            client
                .refund_virtual_account(kr_payments::portone_v2::PaymentId::new(PAYMENT), account(), REASON)
                .payment(&va)
                .now(now)
                .validate(),
            Ok(())
        );

        let no_phone = client
            .refund_virtual_account(kr_payments::portone_v2::PaymentId::new(PAYMENT), account(), REASON)
            .payment(&smartro_va)
            .now(now);
        assert_eq!(
            no_phone.validate().expect_err("Smartro needs the phone").field,
            "refundAccount.holderPhoneNumber"
        );
        let with_phone = client
            .refund_virtual_account(
                kr_payments::portone_v2::PaymentId::new(PAYMENT),
                account().holder_phone(kr_payments::account::PhoneNumber::new("01012345678")),
                REASON,
            )
            .payment(&smartro_va)
            .now(now);
        assert_eq!(with_phone.validate(), Ok(()));

        // The seed's facts for the helper docs, as data.
        let facts = policy::virtual_account_refund(Provider::PortOneV2);
        assert_eq!(facts.merchant_outlay_won(10_000), Some(10_300));
    }

    #[test]
    fn a_payment_that_is_not_the_one_cancelled_is_refused() {
        let client = Client::builder().secret(SECRET).build().expect("client");
        let other = paid(card(), "TOSSPAYMENTS", kst(2026, 3, 10, 12, 0, 0));
        let invalid = client
            .full_cancel(kr_payments::portone_v2::PaymentId::new("order-someone-else"), REASON)
            .payment(&other)
            .validate()
            .expect_err("wrong payment");
        assert_eq!(invalid.field, "paymentId");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// iamport
// ---------------------------------------------------------------------------------------------------------------

#[cfg(feature = "iamport")]
mod iamport {
    use super::*;
    use kr_payments::iamport::{Client, ImpUid, MerchantUid, PayMethod as Wire, Payment, RefundAccount};
    use kr_payments::transport::RetryPolicy;
    use pretty_assertions::assert_eq;

    const IMP_KEY: &str = "4830011937260558";
    const IMP_SECRET: &str = "iamport-policy-secret-Vn3kR8sQ1wZ5";
    const TOKEN: &str = "5b1f0c9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c";
    const IMP_UID: &str = "imp_policy000001";
    const MERCHANT_UID: &str = "order-policy-0001";
    const REASON: &str = "customer returned the item";

    fn client(server: &MockServer) -> Client {
        Client::builder()
            .imp_key(IMP_KEY)
            .imp_secret(IMP_SECRET)
            .base_url(server.uri())
            .retry(RetryPolicy::Never)
            .build()
            .expect("client")
    }

    fn offline() -> Client {
        Client::builder()
            .imp_key(IMP_KEY)
            .imp_secret(IMP_SECRET)
            .base_url("http://127.0.0.1:9")
            .build()
            .expect("client")
    }

    fn payment(pay_method: Value, pg: &str, status: &str, paid_at: i64) -> Payment {
        serde_json::from_value(json!({
            "imp_uid": IMP_UID,
            "merchant_uid": MERCHANT_UID,
            "pay_method": pay_method,
            "pg_provider": pg,
            "status": status,
            "amount": 10000,
            "cancel_amount": 0,
            "currency": "KRW",
            "sandbox": false,
            "paid_at": paid_at,
        }))
        .expect("an iamport payment")
    }

    fn paid(pay_method: &str, pg: &str, paid_at: DateTime<Utc>) -> Payment {
        payment(json!(pay_method), pg, "paid", paid_at.timestamp())
    }

    async fn mount_token_and_cancel(server: &MockServer) {
        Mock::given(method("POST"))
            .and(path("/users/getToken"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "code": 0, "message": null,
                "response": { "access_token": TOKEN, "now": 1_000_000_000, "expired_at": 1_000_001_800 }
            })))
            .expect(1)
            .named("getToken")
            .mount(server)
            .await;
        let mut cancelled = serde_json::to_value(paid("phone", "danal", last_second_of_march())).expect("JSON");
        cancelled["status"] = json!("cancelled");
        cancelled["cancel_amount"] = json!(10000);
        Mock::given(method("POST"))
            .and(path("/payments/cancel"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "code": 0, "message": null, "response": cancelled
            })))
            .expect(1)
            .named("cancelPayment")
            .mount(server)
            .await;
    }

    #[test]
    fn every_pay_method_maps_onto_one_policy_method_and_unknown_stays_unknown() {
        use PayMethod as M;
        let rows: &[(Value, PayMethod)] = &[
            (json!("card"), M::Card),
            (json!("trans"), M::AccountTransfer),
            (json!("vbank"), M::VirtualAccount),
            (json!("phone"), M::MobilePhone),
            (json!("cultureland"), M::GiftCertificate),
            (json!("smartculture"), M::GiftCertificate),
            (json!("booknlife"), M::GiftCertificate),
            (json!("naverpay"), M::NaverPay),
            (json!("paypal"), M::PayPal),
            (json!("samsung"), M::EasyPay),
            (json!("ssgpay"), M::EasyPay),
            (json!("lpay"), M::EasyPay),
            (json!("payco"), M::EasyPay),
            (json!("tosspay"), M::EasyPay),
            (json!("applepay"), M::EasyPay),
            // Card or money is not said, so neither rule of the seed is picked.
            (json!("kakaopay"), M::Unknown),
            (json!("point"), M::Unknown),
            (json!("culturegift"), M::Unknown),
            (json!("hologram"), M::Unknown),
            (Value::Null, M::Unknown),
        ];
        let paid_at = kst(2026, 3, 10, 15, 0, 0);
        for (wire, expected) in rows {
            let p = payment(wire.clone(), "html5_inicis", "paid", paid_at.timestamp());
            assert_eq!(p.policy_method(), *expected, "{wire}");
            let wire_method = p.pay_method.as_ref();
            assert_eq!(
                kr_payments::iamport::payment::policy_method(wire_method),
                *expected,
                "{wire}"
            );
            assert_eq!(
                p.cancel_deadline(),
                policy::deadline(Provider::Iamport, *expected, paid_at),
                "{wire}"
            );
            if *expected == M::Unknown {
                assert_eq!(p.cancel_deadline().rule, DeadlineRule::Unknown, "{wire}");
                assert_eq!(
                    p.expected_refund_time(&Conditions::new()),
                    ProcessingTime::Unknown,
                    "{wire}"
                );
            }
        }
        assert_eq!(
            kr_payments::iamport::payment::policy_method(Some(&Wire::Unrecognized("brand-new".into()))),
            M::Unknown
        );
    }

    #[test]
    fn seeds_002_and_003_answers_reach_the_payment_type() {
        // seed 002, 결제취소 API: card, transfer and phone cancels are immediate; virtual accounts the next
        // business day. seed 003, STEP 03: phone payments only within the month.
        let at = last_second_of_march();
        assert_eq!(
            paid("card", "html5_inicis", at).expected_refund_time(&Conditions::new()),
            ProcessingTime::Immediate
        );
        assert_eq!(
            paid("vbank", "html5_inicis", at)
                .expected_refund_time(&Conditions::new())
                .to_string(),
            "refund takes 1 business day"
        );
        let phone = paid("phone", "danal", at);
        assert_eq!(phone.paid_at_utc(), Some(at));
        assert_eq!(phone.cancel_deadline().rule, DeadlineRule::SameCalendarMonthKst);
        assert_eq!(
            phone.cancel_deadline().check(first_second_of_april()),
            DeadlineCheck::PastHard {
                last_allowed: at + TimeDelta::nanoseconds(999_999_999),
                overdue: TimeDelta::nanoseconds(1)
            }
        );
        // iamport sends 0 for a payment not paid: no instant is invented from it.
        let unpaid = payment(json!("phone"), "danal", "ready", 0);
        assert_eq!(unpaid.paid_at_utc(), None);
        assert_eq!(unpaid.cancel_deadline().last_allowed, None);
        assert_eq!(
            unpaid.cancel_deadline().check(first_second_of_april()),
            DeadlineCheck::Unknown
        );
    }

    #[tokio::test]
    async fn a_phone_payment_from_last_month_is_refused_before_anything_is_sent() {
        let server = server().await;
        let client = client(&server);
        let cases = [
            (last_second_of_march(), Some(first_second_of_april())),
            (Utc::now() - TimeDelta::days(40), None),
        ];
        for (paid_at, now) in cases {
            let phone = paid("phone", "danal", paid_at);
            let mut cancel = client.full_cancel(ImpUid::new(IMP_UID), REASON).payment(&phone);
            if let Some(now) = now {
                cancel = cancel.now(now);
            }
            match cancel.clone().send().await {
                Err(Error::InvalidRequest(invalid)) => assert_deadline_refusal(&invalid),
                other => panic!("expected a refusal before sending, got {other:?}"),
            }
            match cancel.send_with_warnings().await {
                Err(Error::InvalidRequest(invalid)) => assert_deadline_refusal(&invalid),
                other => panic!("expected a refusal before sending, got {other:?}"),
            }
        }
        let from_records = client
            .full_cancel(ImpUid::new(IMP_UID), REASON)
            .paid(PayMethod::MobilePhone, last_second_of_march())
            .now(first_second_of_april())
            .send()
            .await;
        match from_records {
            Err(Error::InvalidRequest(invalid)) => assert_deadline_refusal(&invalid),
            other => panic!("expected a refusal before sending, got {other:?}"),
        }
        assert_eq!(requests(&server).await.len(), 0, "not even a token was asked for");
    }

    #[tokio::test]
    async fn with_the_override_the_late_phone_cancel_is_sent_and_says_so() {
        let server = server().await;
        mount_token_and_cancel(&server).await;
        let phone = paid("phone", "danal", last_second_of_march());

        let done = client(&server)
            .full_cancel(ImpUid::new(IMP_UID), REASON)
            .payment(&phone)
            .ignore_cancel_deadline()
            .now(first_second_of_april())
            .send_with_warnings()
            .await
            .expect("sent");

        assert_hard_deadline_ignored(done.warnings(), last_second_of_march());
        assert_eq!(done.payment.cancellable_balance(), Some(0));
        let cancels: Vec<Request> = requests(&server)
            .await
            .into_iter()
            .filter(|r| r.url.path() == "/payments/cancel")
            .collect();
        assert_eq!(cancels.len(), 1, "the cancel arrived once");
        assert_eq!(cancels[0].method.as_str(), "POST");
        assert_eq!(
            header(&cancels[0], "authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(header(&cancels[0], "content-type"), Some("application/json"));
        assert_eq!(json_body(&cancels[0]), json!({ "imp_uid": IMP_UID, "reason": REASON }));
    }

    #[test]
    fn the_month_boundary_is_kst_both_ways() {
        let client = offline();
        let phone = paid("phone", "danal", kst(2026, 3, 1, 0, 0, 0));
        let at = |now| {
            client
                .full_cancel(ImpUid::new(IMP_UID), REASON)
                .payment(&phone)
                .now(now)
                .body()
        };
        assert!(
            at(last_second_of_march()).is_ok(),
            "23:59:59 KST on the 31st is still March"
        );
        assert_deadline_refusal(&at(first_second_of_april()).expect_err("00:00:00 KST on the 1st is April"));
    }

    #[tokio::test]
    async fn no_seed_gives_iamport_a_soft_deadline_so_an_old_card_cancel_is_sent_without_warning() {
        let server = server().await;
        mount_token_and_cancel(&server).await;
        let old_card = paid("card", "html5_inicis", kst(2020, 1, 1, 12, 0, 0));
        assert_eq!(old_card.cancel_deadline().rule, DeadlineRule::Unknown);
        let done = client(&server)
            .full_cancel(ImpUid::new(IMP_UID), REASON)
            .payment(&old_card)
            .now(kst(2026, 4, 1, 0, 0, 0))
            .send_with_warnings()
            .await
            .expect("an unknown deadline does not refuse");
        assert_eq!(done.warnings(), &[] as &[CancelWarning]);
    }

    #[test]
    fn virtual_account_rules_of_seed_002_are_checked_when_the_payment_is_known() {
        let client = offline();
        let now = kst(2026, 4, 1, 12, 0, 0);
        let deposited = paid("vbank", "html5_inicis", kst(2026, 3, 10, 12, 0, 0));
        let smartro = paid("vbank", "smartro_v2", kst(2026, 3, 10, 12, 0, 0));
        let waiting = payment(json!("vbank"), "html5_inicis", "ready", 0);
        let account = || {
            RefundAccount::new(
                kr_payments::account::BankCode::new("88"),
                kr_payments::account::AccountNumber::new("56211105948400"),
                kr_payments::account::HolderName::new("홍길동"),
            )
        };
        let cancel = || client.full_cancel(ImpUid::new(IMP_UID), REASON).now(now);
        let refund = |a: RefundAccount| client.refund_virtual_account(ImpUid::new(IMP_UID), a, REASON).now(now);

        let no_account = cancel().payment(&deposited).body().expect_err("needs an account");
        assert_eq!(no_account.field, "refund_account");
        assert!(
            cancel().payment(&waiting).body().is_ok(),
            "before the deposit a cancel closes the account"
        );
        assert!(refund(account()).payment(&deposited).body().is_ok());
        let no_tel = refund(account())
            .payment(&smartro)
            .body()
            .expect_err("Smartro needs refund_tel");
        assert_eq!(no_tel.field, "refund_tel");
        assert!(
            refund(account().holder_phone(kr_payments::account::PhoneNumber::new("010-1234-5678")))
                .payment(&smartro)
                .body()
                .is_ok()
        );
        let from_records = cancel()
            .paid(PayMethod::VirtualAccount, kst(2026, 3, 10, 12, 0, 0))
            .body()
            .expect_err("the same from records");
        assert_eq!(from_records.field, "refund_account");
    }

    #[test]
    fn a_payment_that_is_not_the_one_cancelled_is_refused() {
        let client = offline();
        let p = paid("card", "html5_inicis", kst(2026, 3, 10, 12, 0, 0));
        let by_imp = client
            .full_cancel(ImpUid::new("imp_someone_else"), REASON)
            .payment(&p)
            .body();
        assert_eq!(by_imp.expect_err("wrong imp_uid").field, "imp_uid");
        let by_merchant = client
            .full_cancel(MerchantUid::new("order-else"), REASON)
            .payment(&p)
            .body();
        assert_eq!(by_merchant.expect_err("wrong merchant_uid").field, "merchant_uid");
        assert!(
            client
                .full_cancel(MerchantUid::new(MERCHANT_UID), REASON)
                .payment(&p)
                .body()
                .is_ok()
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Toss
// ---------------------------------------------------------------------------------------------------------------

#[cfg(feature = "toss")]
mod toss {
    use super::*;
    use kr_payments::toss::{Client, Payment, RefundReceiveAccount};
    use kr_payments::transport::RetryPolicy;
    use pretty_assertions::assert_eq;

    const SECRET_KEY: &str = "test_sk_policy0facades0test";
    const PAYMENT_KEY: &str = "tgen_policy_0001";
    const CANCEL_PATH: &str = "/v1/payments/tgen_policy_0001/cancel";
    const REASON: &str = "customer returned the item";

    fn client(server: &MockServer) -> Client {
        Client::builder()
            .secret_key(SECRET_KEY)
            .base_url(server.uri())
            .retry(RetryPolicy::Never)
            .build()
            .expect("client")
    }

    fn offline() -> Client {
        Client::builder()
            .secret_key(SECRET_KEY)
            .base_url("http://127.0.0.1:9")
            .build()
            .expect("client")
    }

    fn payment_json(method: Value, approved_at: Option<DateTime<Utc>>) -> Value {
        json!({
            "mId": "tosspayments",
            "version": "2022-11-16",
            "paymentKey": PAYMENT_KEY,
            "orderId": "order-policy-0001",
            "orderName": "policy test",
            "currency": "KRW",
            "method": method,
            "status": "DONE",
            "type": "NORMAL",
            "totalAmount": 10000,
            "balanceAmount": 10000,
            "isPartialCancelable": true,
            "requestedAt": "2025-01-01T00:00:00+09:00",
            "approvedAt": approved_at.map(|t| t.with_timezone(&KST).to_rfc3339()),
        })
    }

    fn payment(method: Value, approved_at: Option<DateTime<Utc>>) -> Payment {
        serde_json::from_value(payment_json(method, approved_at)).expect("a Toss payment")
    }

    async fn mount_cancel(server: &MockServer) {
        let mut cancelled = payment_json(json!("휴대폰"), Some(last_second_of_march()));
        cancelled["status"] = json!("CANCELED");
        cancelled["balanceAmount"] = json!(0);
        cancelled["cancels"] = json!([{
            "transactionKey": "tx-policy-cancel-1",
            "cancelAmount": 10000,
            "cancelReason": REASON,
            "canceledAt": "2026-04-01T00:00:02+09:00",
            "cancelStatus": "DONE"
        }]);
        Mock::given(method("POST"))
            .and(path(CANCEL_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(cancelled))
            .expect(1)
            .named("cancelPayment")
            .mount(server)
            .await;
    }

    #[test]
    fn every_method_label_maps_onto_one_policy_method_and_unknown_stays_unknown() {
        use PayMethod as M;
        let rows: &[(Value, PayMethod)] = &[
            (json!("카드"), M::Card),
            (json!("계좌이체"), M::AccountTransfer),
            (json!("가상계좌"), M::VirtualAccount),
            (json!("휴대폰"), M::MobilePhone),
            (json!("간편결제"), M::EasyPay),
            (json!("문화상품권"), M::GiftCertificate),
            (json!("도서문화상품권"), M::GiftCertificate),
            (json!("게임문화상품권"), M::GiftCertificate),
            // Not a label the spec lists: not guessed to be PayPal.
            (json!("해외간편결제"), M::Unknown),
            (json!("hologram"), M::Unknown),
            (Value::Null, M::Unknown),
        ];
        let approved_at = kst(2026, 3, 10, 15, 0, 0);
        for (label, expected) in rows {
            let p = payment(label.clone(), Some(approved_at));
            assert_eq!(p.policy_method(), *expected, "{label}");
            assert_eq!(
                p.cancel_deadline(),
                policy::deadline(Provider::Toss, *expected, approved_at),
                "{label}"
            );
            if *expected == M::Unknown {
                assert_eq!(p.cancel_deadline().rule, DeadlineRule::Unknown, "{label}");
                assert_eq!(
                    p.expected_refund_time(&Conditions::new()),
                    ProcessingTime::Unknown,
                    "{label}"
                );
            }
        }
    }

    #[test]
    fn seed_001_answers_reach_the_payment_type() {
        // seed 001, 결제 취소 기한: rows 카드, 계좌이체, 휴대폰.
        let at = kst(2026, 3, 10, 15, 0, 0);
        let card = payment(json!("카드"), Some(at));
        assert_eq!(card.approved_at(), Some(at));
        assert_eq!(
            card.expected_refund_time(&Conditions::new().card_captured(false)),
            ProcessingTime::Immediate
        );
        assert_eq!(
            card.expected_refund_time(&Conditions::new().partial(true)).to_string(),
            "refund takes 3-4 business days"
        );
        assert_eq!(
            payment(json!("계좌이체"), Some(at)).cancel_deadline().to_string(),
            "cancel by 2026-09-06 23:59:59 KST (within 180 days of payment)"
        );
        assert_eq!(
            payment(json!("휴대폰"), Some(at)).expected_refund_time(&Conditions::new()),
            ProcessingTime::SameDay
        );
        let not_approved = payment(json!("휴대폰"), None);
        assert_eq!(not_approved.cancel_deadline().last_allowed, None);
        assert_eq!(
            not_approved.cancel_deadline().check(first_second_of_april()),
            DeadlineCheck::Unknown
        );
    }

    #[tokio::test]
    async fn a_phone_payment_from_last_month_is_refused_before_anything_is_sent() {
        let server = server().await;
        let client = client(&server);
        let cases = [
            (last_second_of_march(), Some(first_second_of_april())),
            (Utc::now() - TimeDelta::days(40), None),
        ];
        for (approved_at, now) in cases {
            let phone = payment(json!("휴대폰"), Some(approved_at));
            let mut cancel = client.full_cancel(&phone, REASON);
            if let Some(now) = now {
                cancel = cancel.now(now);
            }
            let err = cancel.send().await.expect_err("refused");
            assert!(err.nothing_sent());
            let Error::InvalidRequest(invalid) = &err else {
                panic!("expected InvalidRequest, got {err:?}")
            };
            assert_deadline_refusal(invalid);
        }
        assert_eq!(requests(&server).await.len(), 0, "nothing reached the server");
    }

    #[tokio::test]
    async fn with_the_override_the_late_phone_cancel_is_sent_and_says_so() {
        let server = server().await;
        mount_cancel(&server).await;
        let phone = payment(json!("휴대폰"), Some(last_second_of_march()));

        let prepared = client(&server)
            .full_cancel(&phone, REASON)
            .ignore_cancel_deadline()
            .now(first_second_of_april())
            .prepare()
            .expect("prepared");
        assert_hard_deadline_ignored(prepared.warnings(), last_second_of_march());
        let done = prepared.send().await.expect("sent");

        assert_hard_deadline_ignored(done.warnings(), last_second_of_march());
        assert!(done.is_done());
        let all = requests(&server).await;
        assert_eq!(all.len(), 1, "the cancel arrived once");
        assert_eq!(all[0].method.as_str(), "POST");
        assert_eq!(all[0].url.path(), CANCEL_PATH);
        assert!(header(&all[0], "authorization").is_some_and(|v| v.starts_with("Basic ")));
        assert_eq!(header(&all[0], "idempotency-key"), Some(done.idempotency_key.as_str()));
        assert_eq!(header(&all[0], "content-type"), Some("application/json"));
        assert_eq!(
            json_body(&all[0]),
            json!({ "cancelReason": REASON, "refundableAmount": 10000 })
        );
    }

    #[test]
    fn the_month_boundary_is_kst_both_ways() {
        let client = offline();
        let phone = payment(json!("휴대폰"), Some(kst(2026, 3, 1, 0, 0, 0)));
        let at = |now| client.full_cancel(&phone, REASON).now(now).prepare();
        assert!(
            at(last_second_of_march()).is_ok(),
            "23:59:59 KST on the 31st is still March"
        );
        let err = at(first_second_of_april()).expect_err("00:00:00 KST on the 1st is April");
        let Error::InvalidRequest(invalid) = &err else {
            panic!("expected InvalidRequest, got {err:?}")
        };
        assert_deadline_refusal(invalid);
    }

    #[tokio::test]
    async fn a_soft_deadline_past_due_is_a_warning_on_the_outcome_not_an_error() {
        let server = server().await;
        mount_cancel(&server).await;
        // seed 001, 결제 취소 기한, row 카드: no stated limit, but past a year the issuer may have no data.
        let old_card = payment(json!("카드"), Some(kst(2025, 3, 10, 12, 0, 0)));

        let done = client(&server)
            .full_cancel(&old_card, REASON)
            .now(kst(2026, 3, 13, 0, 0, 0))
            .send()
            .await
            .expect("a soft deadline does not refuse");

        let [CancelWarning::SoftDeadlinePassed { deadline, overdue }] = done.warnings() else {
            panic!("expected one soft-deadline warning, got {:?}", done.warnings());
        };
        assert_eq!(
            deadline.rule,
            DeadlineRule::IssuerDependent {
                typical: policy::Period::Years(1)
            }
        );
        assert_eq!(overdue.num_days(), 2);
        assert_eq!(requests(&server).await.len(), 1);
    }

    #[test]
    fn the_widget_refund_account_can_be_kept_from_the_confirm_answer() {
        // seed 001, Case 2: readable for 30 minutes only.
        assert_eq!(
            policy::virtual_account_refund(Provider::Toss).widget_refund_account_readable_for,
            TimeDelta::try_minutes(30)
        );
        let mut confirmed = payment_json(json!("가상계좌"), Some(kst(2026, 3, 10, 12, 0, 0)));
        confirmed["virtualAccount"] = json!({
            "accountNumber": "X6505636518308",
            "bankCode": "20",
            "customerName": "김토스",
            "dueDate": "2026-03-17T12:00:00+09:00",
            "refundStatus": "NONE",
            "expired": false,
            "settlementStatus": "INCOMPLETED",
            "refundReceiveAccount": { "bankCode": "88", "accountNumber": "110123456789", "holderName": "김토스" }
        });
        let confirmed: Payment = serde_json::from_value(confirmed).expect("a confirm answer");
        let kept = confirmed.widget_refund_account().expect("readable at confirm time");
        let stored = serde_json::to_value(&kept).expect("serializes for storage");
        assert_eq!(
            stored,
            json!({ "bank": "88", "accountNumber": "110123456789", "holderName": "김토스" })
        );
        let read_back: RefundReceiveAccount = serde_json::from_value(stored).expect("reads back");
        assert_eq!(
            read_back,
            RefundReceiveAccount::new(
                kr_payments::account::BankCode::new("88"),
                kr_payments::account::AccountNumber::new("110123456789"),
                kr_payments::account::HolderName::new("김토스")
            )
        );
        let shown = format!("{read_back:?}");
        assert!(!shown.contains("110123456789") && !shown.contains("김토스"), "{shown}");

        // A later read, past the 30 minutes, shows null; the stored account still refunds.
        let mut later = payment_json(json!("가상계좌"), Some(kst(2026, 3, 10, 12, 0, 0)));
        later["virtualAccount"] =
            json!({ "accountNumber": "X6505636518308", "bankCode": "20", "refundReceiveAccount": null });
        let later: Payment = serde_json::from_value(later).expect("a later read");
        assert_eq!(later.widget_refund_account(), None);
        let prepared = offline()
            .refund_virtual_account(&later, read_back, REASON)
            .now(kst(2026, 4, 1, 12, 0, 0))
            .prepare()
            .expect("prepared");
        assert_eq!(
            serde_json::to_value(prepared.body()).expect("JSON")["refundReceiveAccount"],
            json!({ "bank": "88", "accountNumber": "110123456789", "holderName": "김토스" })
        );
        assert_eq!(prepared.warnings(), &[] as &[CancelWarning]);
    }
}
