//! The payment views of the three providers read through one vocabulary (`kr_payments::PaymentView`), checked
//! against the sandbox's ledger after a partial refund, and against what the sandbox was seeded with (order name,
//! currency, customer).
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
        refunds(&sb, provider).refund(&id, &partial).await.unwrap();
        let view = fetch(&sb, provider, &id).await;
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

/// `provider`'s client against the sandbox, as the provider-neutral refund seam.
fn refunds(sb: &Sandbox, provider: Provider) -> Box<dyn Refunds> {
    match provider {
        Provider::PortOneV2 => Box::new(
            kr_payments::portone_v2::Client::builder()
                .secret(sandbox::DEFAULT_PORTONE_SECRET)
                .base_url(sb.origin(provider))
                .build()
                .unwrap(),
        ),
        Provider::Iamport => Box::new(
            kr_payments::iamport::Client::builder()
                .imp_key(sandbox::DEFAULT_IMP_KEY)
                .imp_secret(sandbox::DEFAULT_IMP_SECRET)
                .base_url(sb.origin(provider))
                .build()
                .unwrap(),
        ),
        _ => Box::new(
            kr_payments::toss::Client::builder()
                .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
                .base_url(sb.origin(provider))
                .build()
                .unwrap(),
        ),
    }
}

/// Reads `id` back from the sandbox with `provider`'s client, as a `PaymentView`.
async fn fetch(sb: &Sandbox, provider: Provider, id: &str) -> Box<dyn PaymentView> {
    match provider {
        Provider::PortOneV2 => {
            let c = kr_payments::portone_v2::Client::builder()
                .secret(sandbox::DEFAULT_PORTONE_SECRET)
                .base_url(sb.origin(provider))
                .build()
                .unwrap();
            Box::new(
                c.get_payment(&kr_payments::portone_v2::PaymentId::new(id))
                    .await
                    .unwrap(),
            )
        }
        Provider::Iamport => {
            let c = kr_payments::iamport::Client::builder()
                .imp_key(sandbox::DEFAULT_IMP_KEY)
                .imp_secret(sandbox::DEFAULT_IMP_SECRET)
                .base_url(sb.origin(provider))
                .build()
                .unwrap();
            Box::new(c.get_payment(&kr_payments::iamport::ImpUid::new(id)).await.unwrap())
        }
        _ => {
            let c = kr_payments::toss::Client::builder()
                .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
                .base_url(sb.origin(provider))
                .build()
                .unwrap();
            Box::new(c.get_payment(&kr_payments::toss::PaymentKey::new(id)).await.unwrap())
        }
    }
}

const ORDER_NAME: &str = "Blue mug and 2 saucers";
const NAME: &str = "Hong Gildong";
const EMAIL: &str = "gildong@example.com";
const PHONE: &str = "01012345678";

fn with_customer(seed: SeedPayment) -> SeedPayment {
    seed.order_name(ORDER_NAME)
        .customer_name(NAME)
        .customer_email(EMAIL)
        .customer_phone(PHONE)
}

#[tokio::test]
async fn order_name_currency_and_customer_read_the_same_through_payment_view() {
    // (provider, seed, the customer its payment can carry): a Toss payment carries no email, its name only on a
    // virtual account and its phone only on a mobile-phone payment.
    let cases = [
        (
            Provider::PortOneV2,
            SeedPayment::card("order-customer-v2", 10_000),
            (Some(NAME), Some(EMAIL), Some(PHONE)),
        ),
        (
            Provider::Iamport,
            SeedPayment::card("order-customer-v1", 10_000),
            (Some(NAME), Some(EMAIL), Some(PHONE)),
        ),
        (
            Provider::Toss,
            SeedPayment::virtual_account("order-customer-va", 10_000),
            (Some(NAME), None, None),
        ),
        (
            Provider::Toss,
            SeedPayment::mobile_phone("order-customer-phone", 10_000),
            (None, None, Some(PHONE)),
        ),
    ];
    let sb = Sandbox::start().await.unwrap();
    for (provider, seed, expected) in cases {
        let id = sb.seed(with_customer(seed).provider(provider));
        let view = fetch(&sb, provider, &id).await;
        assert_eq!(view.provider(), provider);
        assert_eq!(
            view.order_name(),
            Some(ORDER_NAME),
            "{provider:?}: the order name seeded"
        );
        assert_eq!(view.currency(), Some("KRW"), "{provider:?}");
        let customer = view.customer();
        assert_eq!(
            (customer.name, customer.email, customer.phone),
            expected,
            "{provider:?}: the customer seeded, as far as the payment carries it"
        );
    }
}

#[tokio::test]
async fn a_payment_without_a_customer_reads_none_not_an_invented_one() {
    let sb = Sandbox::start().await.unwrap();
    for provider in [Provider::PortOneV2, Provider::Iamport, Provider::Toss] {
        let id = sb.seed(SeedPayment::card("order-nobody", 1_000).provider(provider));
        let view = fetch(&sb, provider, &id).await;
        assert!(view.customer().is_empty(), "{provider:?}: {:?}", view.customer());
    }
}

#[tokio::test]
async fn the_customer_views_debug_prints_none_of_the_values() {
    let sb = Sandbox::start().await.unwrap();
    for provider in [Provider::PortOneV2, Provider::Iamport] {
        let id = sb.seed(with_customer(SeedPayment::card("order-debug", 10_000)).provider(provider));
        let view = fetch(&sb, provider, &id).await;
        let customer = view.customer();
        assert_eq!(customer.name, Some(NAME), "{provider:?}: the values are there to read");
        let printed = format!("{customer:?}");
        for value in [NAME, EMAIL, PHONE, "Gildong", "gildong", "5678"] {
            assert!(!printed.contains(value), "{provider:?}: {printed}");
        }
        assert_eq!(
            printed, r#"Customer { name: "<redacted>", email: "<redacted>", phone: "<redacted>" }"#,
            "{provider:?}"
        );
    }
    let partly = kr_payments::payment_view::Customer::new().with_email(EMAIL);
    assert_eq!(
        format!("{partly:?}"),
        r#"Customer { name: None, email: "<redacted>", phone: None }"#,
        "what is missing still shows as missing"
    );
}

/// `json` with its currency set to `currency` and its total amount (at `total`, a JSON pointer) to `amount`,
/// read back as `T`.
fn rewritten<T: serde::de::DeserializeOwned>(
    mut json: serde_json::Value,
    currency: &str,
    total: &str,
    amount: serde_json::Value,
) -> Result<T, serde_json::Error> {
    json["currency"] = currency.into();
    *json.pointer_mut(total).unwrap() = amount;
    serde_json::from_value(json)
}

#[tokio::test]
async fn another_currency_is_reported_as_sent_and_its_amounts_are_not_converted() {
    use serde_json::json;
    let sb = Sandbox::start().await.unwrap();
    let v2 = sb.seed(SeedPayment::card("order-usd-v2", 10_000).provider(Provider::PortOneV2));
    let v1 = sb.seed(SeedPayment::card("order-usd-v1", 10_000).provider(Provider::Iamport));
    let toss = sb.seed(SeedPayment::card("order-usd-toss", 10_000).provider(Provider::Toss));
    let portone = kr_payments::portone_v2::Client::builder()
        .secret(sandbox::DEFAULT_PORTONE_SECRET)
        .base_url(sb.origin(Provider::PortOneV2))
        .build()
        .unwrap();
    let iamport = kr_payments::iamport::Client::builder()
        .imp_key(sandbox::DEFAULT_IMP_KEY)
        .imp_secret(sandbox::DEFAULT_IMP_SECRET)
        .base_url(sb.origin(Provider::Iamport))
        .build()
        .unwrap();
    let tossc = kr_payments::toss::Client::builder()
        .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
        .base_url(sb.origin(Provider::Toss))
        .build()
        .unwrap();
    let json_v2 = serde_json::to_value(
        portone
            .get_payment(&kr_payments::portone_v2::PaymentId::new(v2.as_str()))
            .await
            .unwrap(),
    )
    .unwrap();
    let json_v1 = serde_json::to_value(
        iamport
            .get_payment(&kr_payments::iamport::ImpUid::new(v1))
            .await
            .unwrap(),
    )
    .unwrap();
    let json_toss = serde_json::to_value(
        tossc
            .get_payment(&kr_payments::toss::PaymentKey::new(toss.clone()))
            .await
            .unwrap(),
    )
    .unwrap();

    let views: Vec<Box<dyn PaymentView>> = vec![
        Box::new(
            rewritten::<kr_payments::portone_v2::Payment>(json_v2.clone(), "USD", "/amount/total", json!(1999))
                .unwrap(),
        ),
        Box::new(rewritten::<kr_payments::iamport::Payment>(json_v1.clone(), "USD", "/amount", json!(1999)).unwrap()),
        Box::new(
            rewritten::<kr_payments::toss::Payment>(json_toss.clone(), "USD", "/totalAmount", json!(1999)).unwrap(),
        ),
    ];
    for view in &views {
        assert_eq!(view.currency(), Some("USD"), "{:?}", view.provider());
        assert_eq!(
            view.total_amount(),
            Some(1999),
            "{:?}: the integer as sent",
            view.provider()
        );
    }
    // A fractional amount (19.99 dollars, say) is refused, never rounded into an integer.
    assert!(rewritten::<kr_payments::portone_v2::Payment>(json_v2, "USD", "/amount/total", json!(19.99)).is_err());
    assert!(rewritten::<kr_payments::iamport::Payment>(json_v1, "USD", "/amount", json!(19.99)).is_err());
    assert!(rewritten::<kr_payments::toss::Payment>(json_toss, "USD", "/totalAmount", json!(19.99)).is_err());
}
