//! Each facade, through the provider-neutral `Refunds` API, against the embedded sandbox: every cancellation rule
//! the sandbox enforces, with the exact outcome each provider documents.
#![cfg(feature = "sandbox")]

use chrono::{Duration as Days, Utc};
use kr_payments::refund::{Refund, RefundAccount, RefundError, RefundOutcome, RefundStatus, Refunds};
use kr_payments::sandbox::{self, Provider, Sandbox, SeedPayment};

struct Clients {
    portone: kr_payments::portone_v2::Client,
    iamport: kr_payments::iamport::Client,
    toss: kr_payments::toss::Client,
}

fn clients(sandbox: &Sandbox) -> Clients {
    Clients {
        portone: kr_payments::portone_v2::Client::builder()
            .secret(sandbox::DEFAULT_PORTONE_SECRET)
            .base_url(sandbox.base_url_portone_v2())
            .build()
            .unwrap(),
        iamport: kr_payments::iamport::Client::builder()
            .imp_key(sandbox::DEFAULT_IMP_KEY)
            .imp_secret(sandbox::DEFAULT_IMP_SECRET)
            .base_url(sandbox.base_url_iamport())
            .build()
            .unwrap(),
        toss: kr_payments::toss::Client::builder()
            .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
            .base_url(sandbox.base_url_toss())
            .build()
            .unwrap(),
    }
}

async fn refund(c: &Clients, provider: Provider, id: &str, r: &Refund) -> Result<RefundOutcome, RefundError> {
    match provider {
        Provider::PortOneV2 => c.portone.refund(id, r).await,
        Provider::Iamport => c.iamport.refund(id, r).await,
        Provider::Toss => c.toss.refund(id, r).await,
        other => panic!("no client for {other:?}"),
    }
}

const PROVIDERS: [Provider; 3] = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];

/// The provider's own error code for a rule, as each API documents it (iamport: HTTP 200, `code` 1).
fn code(provider: Provider, rule: &str) -> &'static str {
    match (provider, rule) {
        (Provider::PortOneV2, "mismatch") => "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
        (Provider::PortOneV2, "over") => "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT",
        (Provider::PortOneV2, "done") => "PAYMENT_ALREADY_CANCELLED",
        (Provider::Toss, "mismatch") => "NOT_MATCHES_REFUNDABLE_AMOUNT",
        (Provider::Toss, "over") => "NOT_CANCELABLE_AMOUNT",
        (Provider::Toss, "done") => "ALREADY_CANCELED_PAYMENT",
        (Provider::Iamport, _) => "1",
        other => panic!("no code for {other:?}"),
    }
}

fn refused(result: Result<RefundOutcome, RefundError>) -> String {
    let err = result.expect_err("the provider should refuse this refund");
    assert!(
        !err.nothing_sent(),
        "the refusal must come from the provider, not pre-flight: {err}"
    );
    err.api()
        .unwrap_or_else(|| panic!("expected an API error, got {err}"))
        .code
        .clone()
}

#[tokio::test]
async fn partial_refunds_accumulate_and_stale_balances_are_refused_everywhere() {
    let sandbox = Sandbox::start().await.unwrap();
    let c = clients(&sandbox);
    for p in PROVIDERS {
        let id = sandbox.seed(SeedPayment::card(format!("{}-card", p.as_str()), 10_000).provider(p));
        let first = refund(&c, p, &id, &Refund::partial(3_000, 10_000, "반품"))
            .await
            .unwrap();
        assert_eq!(
            (first.status.clone(), first.refunded_amount, first.remaining_balance),
            (RefundStatus::Succeeded, 3_000, Some(7_000)),
            "{p:?}"
        );
        let stale = refund(&c, p, &id, &Refund::partial(1_000, 10_000, "반품")).await;
        assert_eq!(refused(stale), code(p, "mismatch"), "{p:?}");
        let over = refund(&c, p, &id, &Refund::partial(8_000, 7_000, "반품")).await;
        // The SDK refuses this one before sending: 8,000 out of a stated 7,000 can never be right.
        assert!(over.as_ref().is_err_and(RefundError::nothing_sent), "{p:?}: {over:?}");
        let rest = refund(&c, p, &id, &Refund::full("나머지")).await.unwrap();
        assert_eq!(
            (rest.refunded_amount, rest.remaining_balance),
            (7_000, Some(0)),
            "{p:?}"
        );
        assert_eq!(
            refused(refund(&c, p, &id, &Refund::full("again")).await),
            code(p, "done"),
            "{p:?}"
        );
        assert_eq!(sandbox.cancels_applied(&id), 2, "{p:?}: exactly two refunds applied");
        assert_eq!(sandbox.balance(&id), Some(0), "{p:?}");
    }
}

#[tokio::test]
async fn an_amount_over_the_real_balance_is_refused_by_the_provider() {
    let sandbox = Sandbox::start().await.unwrap();
    let c = clients(&sandbox);
    for p in PROVIDERS {
        let id = sandbox.seed(SeedPayment::card(format!("{}-over", p.as_str()), 5_000).provider(p));
        // The merchant's records are wrong in the generous direction: the guard catches it as a mismatch.
        let result = refund(&c, p, &id, &Refund::partial(6_000, 6_000, "과다")).await;
        let got = refused(result);
        assert!(got == code(p, "mismatch") || got == code(p, "over"), "{p:?}: {got}");
        assert_eq!(sandbox.cancels_applied(&id), 0, "{p:?}");
    }
}

#[tokio::test]
async fn virtual_account_refunds_need_an_account_and_smartro_needs_the_phone() {
    let sandbox = Sandbox::start().await.unwrap();
    let c = clients(&sandbox);
    let bank = |p: Provider| match p {
        Provider::PortOneV2 => "SHINHAN",
        Provider::Iamport => "088",
        _ => "88",
    };
    for p in PROVIDERS {
        let id = sandbox.seed(SeedPayment::virtual_account(format!("{}-va", p.as_str()), 20_000).provider(p));
        let without = refund(&c, p, &id, &Refund::full("환불")).await;
        assert!(
            without.is_err(),
            "{p:?}: a virtual-account refund without an account must fail"
        );
        assert_eq!(sandbox.cancels_applied(&id), 0, "{p:?}");
        let ok = refund(
            &c,
            p,
            &id,
            &Refund::full("환불").to_account(RefundAccount::new(
                kr_payments::account::BankCode::new(bank(p)),
                kr_payments::account::AccountNumber::new("1234567890"),
                kr_payments::account::HolderName::new("홍길동"),
            )),
        )
        .await
        .unwrap();
        assert_eq!((ok.refunded_amount, ok.remaining_balance), (20_000, Some(0)), "{p:?}");
    }
    // Smartro virtual accounts also need the holder's phone (PortOne V2 and iamport document it).
    for p in [Provider::PortOneV2, Provider::Iamport] {
        let id = sandbox.seed(
            SeedPayment::virtual_account(format!("{}-smartro", p.as_str()), 9_000)
                .provider(p)
                .pg("smartro"),
        );
        let account = RefundAccount::new(
            kr_payments::account::BankCode::new(bank(p)),
            kr_payments::account::AccountNumber::new("1234567890"),
            kr_payments::account::HolderName::new("홍길동"),
        );
        assert!(
            refund(&c, p, &id, &Refund::full("환불").to_account(account.clone()))
                .await
                .is_err(),
            "{p:?}"
        );
        let ok = refund(
            &c,
            p,
            &id,
            &Refund::full("환불")
                .to_account(account.holder_phone(kr_payments::account::PhoneNumber::new("01012345678"))),
        )
        .await
        .unwrap();
        assert_eq!(ok.refunded_amount, 9_000, "{p:?}");
    }
}

#[tokio::test]
async fn an_unpaid_virtual_account_cannot_be_partially_refunded() {
    let sandbox = Sandbox::start().await.unwrap();
    let c = clients(&sandbox);
    for p in PROVIDERS {
        let id = sandbox.seed(
            SeedPayment::virtual_account(format!("{}-waiting", p.as_str()), 20_000)
                .provider(p)
                .deposited(false),
        );
        let result = refund(&c, p, &id, &Refund::partial(5_000, 20_000, "부분")).await;
        assert!(result.is_err(), "{p:?}: {result:?}");
        assert_eq!(sandbox.cancels_applied(&id), 0, "{p:?}");
    }
}

#[tokio::test]
async fn phone_payments_are_cancellable_only_in_the_month_paid() {
    let sandbox = Sandbox::start().await.unwrap();
    let c = clients(&sandbox);
    let last_month = Utc::now() - Days::days(40);
    for p in PROVIDERS {
        let id = sandbox.seed(
            SeedPayment::mobile_phone(format!("{}-phone-old", p.as_str()), 5_000)
                .provider(p)
                .paid_at(last_month),
        );
        let result = refund(&c, p, &id, &Refund::full("취소")).await;
        assert!(result.is_err(), "{p:?}: {result:?}");
        assert_eq!(sandbox.cancels_applied(&id), 0, "{p:?}");
        let fresh = sandbox.seed(SeedPayment::mobile_phone(format!("{}-phone-new", p.as_str()), 5_000).provider(p));
        assert_eq!(
            refund(&c, p, &fresh, &Refund::full("취소"))
                .await
                .unwrap()
                .refunded_amount,
            5_000,
            "{p:?}"
        );
    }
}

#[tokio::test]
async fn toss_replays_with_the_same_idempotency_key_refund_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let c = clients(&sandbox);
    let id = sandbox.seed(SeedPayment::card("toss-idem", 10_000).provider(Provider::Toss));
    let first = c
        .toss
        .refund(&id, &Refund::partial(1_000, 10_000, "부분"))
        .await
        .unwrap();
    let key = first.idempotency_key.clone().expect("Toss outcomes carry their key");
    // The caller lost the answer and sends the same refund again with the key it was given.
    let again = c
        .toss
        .refund(
            &id,
            &Refund::partial(1_000, 10_000, "부분").idempotency_key(key.clone()),
        )
        .await
        .unwrap();
    assert_eq!(again.idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!((again.refunded_amount, again.remaining_balance), (1_000, Some(9_000)));
    assert_eq!(
        sandbox.cancels_applied(&id),
        1,
        "the replay returned the first result without refunding again"
    );
}

#[tokio::test]
async fn iamport_tokens_are_reused_and_failures_arrive_as_http_200_with_a_code() {
    let sandbox = Sandbox::start().await.unwrap();
    let c = clients(&sandbox);
    let id = sandbox.seed(SeedPayment::card("v1-token", 10_000).provider(Provider::Iamport));
    c.iamport
        .refund(&id, &Refund::partial(1_000, 10_000, "a"))
        .await
        .unwrap();
    c.iamport
        .refund(&id, &Refund::partial(1_000, 9_000, "b"))
        .await
        .unwrap();
    let stale = c
        .iamport
        .refund(&id, &Refund::partial(1_000, 9_000, "c"))
        .await
        .unwrap_err();
    assert_eq!(
        stale.error.status(),
        Some(200),
        "iamport refuses with HTTP 200 and a non-zero code"
    );
    assert_eq!(sandbox.token_requests(), 1, "one token for three calls");
    // Past the token's 30 minutes the client fetches a new one by itself.
    sandbox.advance(std::time::Duration::from_secs(31 * 60));
    c.iamport
        .refund(&id, &Refund::partial(1_000, 8_000, "d"))
        .await
        .unwrap();
    assert_eq!(sandbox.token_requests(), 2);
}
