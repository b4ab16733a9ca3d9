//! The payment views of the three providers read through one vocabulary (`kr_payments::PaymentView`), checked
//! against the sandbox's ledger after a partial refund.
#![cfg(feature = "sandbox")]

use kr_payments::PaymentView;
use kr_payments::policy::PayMethod;
use kr_payments::refund::{Refund, Refunds};
use kr_payments::sandbox::{self, Provider, Sandbox, SeedPayment};

/// What a refund screen shows, read the same way whatever the provider.
fn screen(p: &dyn PaymentView) -> (Provider, Option<i64>, Option<i64>, Option<i64>, bool, PayMethod) {
    (
        p.provider(),
        p.total_amount(),
        p.cancelled_total(),
        p.balance(),
        p.paid_at().is_some(),
        p.policy_method(),
    )
}

#[tokio::test]
async fn every_providers_payment_reads_the_same_through_payment_view() {
    for provider in [Provider::PortOneV2, Provider::Iamport, Provider::Toss] {
        let sb = Sandbox::start().await.unwrap();
        let id = sb.seed(SeedPayment::card("order-view", 10_000).provider(provider));
        let partial = Refund::partial(3_000, 10_000, "one item returned");
        let view: Box<dyn PaymentView> = match provider {
            Provider::PortOneV2 => {
                let c = kr_payments::portone_v2::Client::builder()
                    .secret(sandbox::DEFAULT_PORTONE_SECRET)
                    .base_url(sb.origin(provider))
                    .build()
                    .unwrap();
                c.refund(&id, &partial).await.unwrap();
                Box::new(c.get_payment(id.clone()).send().await.unwrap())
            }
            Provider::Iamport => {
                let c = kr_payments::iamport::Client::builder()
                    .imp_key(sandbox::DEFAULT_IMP_KEY)
                    .imp_secret(sandbox::DEFAULT_IMP_SECRET)
                    .base_url(sb.origin(provider))
                    .build()
                    .unwrap();
                c.refund(&id, &partial).await.unwrap();
                Box::new(
                    c.get_payment(&kr_payments::iamport::ImpUid::new(id.clone()))
                        .await
                        .unwrap(),
                )
            }
            _ => {
                let c = kr_payments::toss::Client::builder()
                    .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
                    .base_url(sb.origin(provider))
                    .build()
                    .unwrap();
                c.refund(&id, &partial).await.unwrap();
                Box::new(c.get_payment(&id).await.unwrap())
            }
        };
        let ledger_balance = sb.balance(&id);
        assert_eq!(
            ledger_balance,
            Some(7_000),
            "{provider:?}: the ledger applied the refund"
        );
        assert_eq!(
            screen(view.as_ref()),
            (
                provider,
                Some(10_000),
                Some(3_000),
                ledger_balance,
                true,
                PayMethod::Card
            ),
            "{provider:?}"
        );
        assert_eq!(
            view.payment_id(),
            Some(id.as_str()),
            "{provider:?}: the id cancels take"
        );
        let order = if provider == Provider::PortOneV2 {
            id.as_str()
        } else {
            "order-view"
        };
        assert_eq!(view.order_id(), Some(order), "{provider:?}: the merchant's order");
    }
}
