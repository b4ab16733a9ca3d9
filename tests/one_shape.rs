//! One shape for three providers, checked against the embedded sandbox: the same helper names and argument order
//! on every client, guards sent wherever a helper refunds by a stated balance, a neutral full refund with a stated
//! balance that survives a timeout without refunding twice, and the provider-neutral layer used as a trait object.
//! The sandbox's ledger counts what was applied.
#![cfg(feature = "sandbox")]

mod fault_support;

use fault_support::{STALL, TIMEOUT, quick, sandbox_hits};
use kr_payments::account::{AccountNumber, BankCode, HolderName};
use kr_payments::refund::{Evidence, Refund, RefundStatus, Refunds};
use kr_payments::sandbox::{self, Fault, FaultRule, Sandbox, SeedPayment};
use kr_payments::{Provider, iamport, portone_v2, toss};
use reqwest::Method;
use std::time::Duration;

fn portone(sb: &Sandbox) -> portone_v2::Client {
    portone_v2::Client::builder()
        .secret(sandbox::DEFAULT_PORTONE_SECRET)
        .base_url(sb.base_url_portone_v2())
        .timeout(TIMEOUT)
        .retry(quick())
        .build()
        .unwrap()
}

fn iamport(sb: &Sandbox) -> iamport::Client {
    iamport::Client::builder()
        .imp_key(sandbox::DEFAULT_IMP_KEY)
        .imp_secret(sandbox::DEFAULT_IMP_SECRET)
        .base_url(sb.base_url_iamport())
        .timeout(TIMEOUT)
        .retry(quick())
        .build()
        .unwrap()
}

fn toss(sb: &Sandbox) -> toss::Client {
    toss::Client::builder()
        .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
        .base_url(sb.base_url_toss())
        .timeout(TIMEOUT)
        .retry(quick())
        .build()
        .unwrap()
}

fn seed_card(sb: &Sandbox, p: Provider, name: &str) -> String {
    sb.seed(SeedPayment::card(format!("{}-{name}", p.as_str()), 10_000).provider(p))
}

fn seed_va(sb: &Sandbox, p: Provider, name: &str) -> String {
    sb.seed(SeedPayment::virtual_account(format!("{}-{name}", p.as_str()), 10_000).provider(p))
}

fn account_parts(bank: &str) -> (BankCode, AccountNumber, HolderName) {
    (
        BankCode::new(bank),
        AccountNumber::new("1234567890"),
        HolderName::new("홍길동"),
    )
}

/// The amounts the ledger applied to a payment, in order.
fn applied(sb: &Sandbox, id: &str) -> Vec<i64> {
    sb.cancels(id).iter().map(|c| c.amount).collect()
}

#[tokio::test]
async fn every_helper_has_the_same_name_argument_order_and_meaning_on_every_provider() {
    let sb = Sandbox::start().await.unwrap();

    // PortOne V2: (id, reason), (id, amount, expected_balance, reason), (id, account, reason).
    let c = portone(&sb);
    let (full, part, va, plain) = (
        seed_card(&sb, Provider::PortOneV2, "full"),
        seed_card(&sb, Provider::PortOneV2, "part"),
        seed_va(&sb, Provider::PortOneV2, "va"),
        seed_card(&sb, Provider::PortOneV2, "plain"),
    );
    assert!(
        c.full_cancel(portone_v2::PaymentId::new(&full), "r")
            .send()
            .await
            .unwrap()
            .is_succeeded()
    );
    assert!(
        c.partial_cancel(portone_v2::PaymentId::new(&part), 1_000, 10_000, "r")
            .send()
            .await
            .unwrap()
            .is_succeeded()
    );
    let (_, number, holder) = account_parts("");
    let account = portone_v2::RefundAccount::new(portone_v2::Bank::Kookmin, number, holder);
    assert!(
        c.refund_virtual_account(portone_v2::PaymentId::new(&va), account, "r")
            .send()
            .await
            .unwrap()
            .is_succeeded()
    );
    assert!(
        c.cancel_payment(portone_v2::PaymentId::new(&plain), "r")
            .send()
            .await
            .unwrap()
            .is_succeeded()
    );
    assert_eq!(applied(&sb, &full), [10_000]);
    assert_eq!(applied(&sb, &part), [1_000]);
    assert_eq!(applied(&sb, &va), [10_000]);
    assert_eq!(applied(&sb, &plain), [10_000]);

    // iamport: the same order.
    let c = iamport(&sb);
    let (full, part, va, plain) = (
        seed_card(&sb, Provider::Iamport, "full"),
        seed_card(&sb, Provider::Iamport, "part"),
        seed_va(&sb, Provider::Iamport, "va"),
        seed_card(&sb, Provider::Iamport, "plain"),
    );
    c.full_cancel(iamport::ImpUid::new(&full), "r").send().await.unwrap();
    c.partial_cancel(iamport::ImpUid::new(&part), 1_000, 10_000, "r")
        .send()
        .await
        .unwrap();
    let (bank, number, holder) = account_parts("88");
    let account = iamport::RefundAccount::new(bank, number, holder);
    c.refund_virtual_account(iamport::ImpUid::new(&va), account, "r")
        .send()
        .await
        .unwrap();
    c.cancel_payment(iamport::ImpUid::new(&plain), "r")
        .send()
        .await
        .unwrap();
    assert_eq!(applied(&sb, &full), [10_000]);
    assert_eq!(applied(&sb, &part), [1_000]);
    assert_eq!(applied(&sb, &va), [10_000]);
    assert_eq!(applied(&sb, &plain), [10_000]);

    // Toss: the same order, by key alone (no payment read first).
    let c = toss(&sb);
    let (full, part, va, plain) = (
        seed_card(&sb, Provider::Toss, "full"),
        seed_card(&sb, Provider::Toss, "part"),
        seed_va(&sb, Provider::Toss, "va"),
        seed_card(&sb, Provider::Toss, "plain"),
    );
    c.full_cancel(toss::PaymentKey::new(&full), "r").send().await.unwrap();
    c.partial_cancel(toss::PaymentKey::new(&part), 1_000, 10_000, "r")
        .send()
        .await
        .unwrap();
    let (bank, number, holder) = account_parts("20");
    let account = toss::RefundAccount::new(bank, number, holder);
    c.refund_virtual_account(toss::PaymentKey::new(&va), account, "r")
        .send()
        .await
        .unwrap();
    c.cancel_payment(toss::PaymentKey::new(&plain), "r")
        .send()
        .await
        .unwrap();
    assert_eq!(applied(&sb, &full), [10_000]);
    assert_eq!(applied(&sb, &part), [1_000]);
    assert_eq!(applied(&sb, &va), [10_000]);
    assert_eq!(applied(&sb, &plain), [10_000]);
}

#[tokio::test]
async fn a_partial_cancel_by_id_sends_the_balance_guard_on_every_provider() {
    let sb = Sandbox::start().await.unwrap();
    // A stated balance that is not the provider's is refused, and nothing is applied: the guard went out.
    let id = seed_card(&sb, Provider::PortOneV2, "stale");
    let err = portone(&sb)
        .partial_cancel(portone_v2::PaymentId::new(&id), 1_000, 9_000, "r")
        .send()
        .await
        .unwrap_err();
    assert!(err.api().is_some(), "{err}");
    let id2 = seed_card(&sb, Provider::Iamport, "stale");
    let err2 = iamport(&sb)
        .partial_cancel(iamport::ImpUid::new(&id2), 1_000, 9_000, "r")
        .send()
        .await
        .unwrap_err();
    assert!(err2.api().is_some(), "{err2}");
    let id3 = seed_card(&sb, Provider::Toss, "stale");
    let err3 = toss(&sb)
        .partial_cancel(toss::PaymentKey::new(&id3), 1_000, 9_000, "r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err3.api().map(|e| e.code.as_str()),
        Some("NOT_MATCHES_REFUNDABLE_AMOUNT")
    );
    for id in [id, id2, id3] {
        assert!(applied(&sb, &id).is_empty(), "{id}");
    }
}

#[tokio::test]
async fn a_full_cancel_of_a_payment_view_sends_its_balance_as_the_guard_on_every_provider() {
    let sb = Sandbox::start().await.unwrap();

    // Read the payment, let something else refund 1,000 won, then cancel "everything" from the stale view: each
    // provider refuses, because the view's balance went out as the guard.
    let id = seed_card(&sb, Provider::PortOneV2, "view");
    let c = portone(&sb);
    let stale = c
        .get_payment(&kr_payments::portone_v2::PaymentId::new(id.as_str()))
        .await
        .unwrap();
    assert!(
        c.partial_cancel(portone_v2::PaymentId::new(&id), 1_000, 10_000, "r")
            .send()
            .await
            .unwrap()
            .is_succeeded()
    );
    assert!(c.full_cancel(&stale, "r").send().await.unwrap_err().api().is_some());
    assert_eq!(applied(&sb, &id), [1_000]);

    let id = seed_card(&sb, Provider::Iamport, "view");
    let c = iamport(&sb);
    let stale = c.get_payment(&iamport::ImpUid::new(&id)).await.unwrap();
    c.partial_cancel(iamport::ImpUid::new(&id), 1_000, 10_000, "r")
        .send()
        .await
        .unwrap();
    assert!(c.full_cancel(&stale, "r").send().await.unwrap_err().api().is_some());
    assert_eq!(applied(&sb, &id), [1_000]);

    let id = seed_card(&sb, Provider::Toss, "view");
    let c = toss(&sb);
    let stale = c
        .get_payment(&kr_payments::toss::PaymentKey::new(id.clone()))
        .await
        .unwrap();
    c.partial_cancel(toss::PaymentKey::new(&id), 1_000, 10_000, "r")
        .send()
        .await
        .unwrap();
    // Toss's one-cancel-per-second rule would refuse for another reason: wait it out.
    tokio::time::sleep(sandbox::TOSS_CANCEL_INTERVAL + Duration::from_millis(100)).await;
    let err = c.full_cancel(&stale, "r").send().await.unwrap_err();
    assert_eq!(
        err.api().map(|e| e.code.as_str()),
        Some("NOT_MATCHES_REFUNDABLE_AMOUNT"),
        "{err}"
    );
    assert_eq!(applied(&sb, &id), [1_000]);
}

#[tokio::test]
async fn a_neutral_full_refund_with_a_stated_balance_survives_a_timeout_on_every_provider_without_refunding_twice() {
    let sb = Sandbox::start().await.unwrap();
    let clients: Vec<Box<dyn Refunds + Send + Sync>> =
        vec![Box::new(portone(&sb)), Box::new(iamport(&sb)), Box::new(toss(&sb))];
    for client in &clients {
        let p = client.provider();
        let id = seed_card(&sb, p, "timeout");
        // The first attempt is applied, then its answer stalls past the attempt's share of the deadline.
        sb.faults().add(
            FaultRule::new(Fault::Delay(STALL))
                .provider(p)
                .method(Method::POST)
                .path_contains("cancel")
                .times(1),
        );
        let posts_before = sandbox_hits(&sb, "POST", "cancel");
        let outcome = client
            .refund(&id, &Refund::full("환불").expected_balance(10_000))
            .await
            .unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(outcome.provider, p);
        assert_eq!(outcome.status, RefundStatus::Succeeded, "{p}");
        assert_eq!(outcome.refunded_amount, 10_000, "{p}");
        assert!(outcome.reconciled, "{p}: the first attempt's outcome was unknown");
        let expected = if p == Provider::Iamport {
            Evidence::PaymentHistory
        } else {
            Evidence::IdempotentReplay
        };
        assert_eq!(outcome.evidence, expected, "{p}");
        assert_eq!(sb.cancels_applied(&id), 1, "{p}: refunded once, by the ledger");
        assert!(
            sandbox_hits(&sb, "POST", "cancel") - posts_before >= 2,
            "{p}: the first attempt timed out and the guarded cancel was sent again"
        );
        sb.faults().clear();
    }
}

#[tokio::test]
async fn outcomes_serialize_without_the_providers_answer_and_print_on_one_line() {
    let sb = Sandbox::start().await.unwrap();
    let c = iamport(&sb);
    let id = seed_card(&sb, Provider::Iamport, "serialize");
    let outcome = c.refund(&id, &Refund::partial(1_000, 10_000, "r")).await.unwrap();
    assert!(!outcome.raw.expose().is_empty(), "the answer is kept on the outcome");
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["provider"], "iamport");
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["refunded_amount"], 1_000);
    assert_eq!(json["remaining_balance"], 9_000);
    assert_eq!(json["evidence"], "answer");
    assert!(json.get("raw").is_none(), "{json}");
    assert_eq!(
        outcome.to_string(),
        "iamport refund succeeded: 1000 won refunded, 9000 won left"
    );
}

/// Awaits any provider's lookup and hands back what it read as a `PaymentView`: one function for the three, so
/// the three lookups must have the same shape (a value awaited directly, giving a payment view or an error).
async fn read_through_view<L, P, E>(lookup: L) -> Box<dyn kr_payments::PaymentView>
where
    L: std::future::IntoFuture<Output = Result<P, E>>,
    P: kr_payments::PaymentView + 'static,
    E: std::fmt::Debug,
{
    Box::new(lookup.await.unwrap())
}

#[tokio::test]
async fn the_three_lookups_have_one_shape_by_the_id_newtype_awaited_directly() {
    let sb = Sandbox::start().await.unwrap();
    let ids = [
        seed_card(&sb, Provider::PortOneV2, "lookup"),
        seed_card(&sb, Provider::Iamport, "lookup"),
        seed_card(&sb, Provider::Toss, "lookup"),
    ];
    let (v2, v1, tc) = (portone(&sb), iamport(&sb), toss(&sb));
    let (payment_id, imp_uid, payment_key) = (
        portone_v2::PaymentId::new(ids[0].clone()),
        iamport::ImpUid::new(ids[1].clone()),
        toss::PaymentKey::new(ids[2].clone()),
    );
    // The same call form on every client: `client.get_payment(&id)`, awaited, or with per-call options first, or
    // through `send()`.
    let views = [
        read_through_view(v2.get_payment(&payment_id)).await,
        read_through_view(v1.get_payment(&imp_uid)).await,
        read_through_view(tc.get_payment(&payment_key)).await,
    ];
    let with_options = [
        read_through_view(v2.get_payment(&payment_id).timeout(TIMEOUT).retry(quick())).await,
        read_through_view(v1.get_payment(&imp_uid).timeout(TIMEOUT).retry(quick())).await,
        read_through_view(tc.get_payment(&payment_key).timeout(TIMEOUT).retry(quick())).await,
    ];
    let sent = [
        read_through_view(v2.get_payment(&payment_id).send()).await,
        read_through_view(v1.get_payment(&imp_uid).send()).await,
        read_through_view(tc.get_payment(&payment_key).send()).await,
    ];
    let providers = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];
    for (i, provider) in providers.into_iter().enumerate() {
        for view in [&views[i], &with_options[i], &sent[i]] {
            assert_eq!(view.provider(), provider);
            assert_eq!(
                view.payment_id(),
                Some(ids[i].as_str()),
                "{provider:?}: the payment asked for"
            );
            assert_eq!(
                view.balance(),
                sb.balance(&ids[i]),
                "{provider:?}: the ledger's balance"
            );
            assert_eq!(view.total_amount(), Some(10_000), "{provider:?}");
        }
    }
    // PortOne V2's lookup still takes a store id of its own (whatever the sandbox answers for another store).
    let _ = v2.get_payment(&payment_id).store_id("store-elsewhere").await;
    assert!(sb.requests().iter().any(|r| {
        r.query
            .as_deref()
            .is_some_and(|q| q.contains("storeId=store-elsewhere"))
    }));
}
