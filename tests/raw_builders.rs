//! The builders of the generated request bodies (see `build.rs`, `builders`): a body built with one goes through
//! the raw client and reaches the server with the fields that were set, and with no field that was left out; and
//! every request body of the three specs has a builder whose required fields are the ones the spec requires.
#![cfg(all(
    feature = "portone-v2",
    feature = "portone-v2-platform",
    feature = "portone-v2-b2b",
    feature = "iamport",
    feature = "toss"
))]

mod iamport_support;
mod toss_support;

use kr_payments::{iamport, portone_v2, toss};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The JSON body of the one request the server received on `on_path`.
async fn sent_body(server: &MockServer, on_path: &str) -> Value {
    let requests = server.received_requests().await.unwrap();
    let mut on: Vec<&wiremock::Request> = requests.iter().filter(|r| r.url.path() == on_path).collect();
    assert_eq!(on.len(), 1, "one request on {on_path}");
    serde_json::from_slice(&on.remove(0).body).unwrap()
}

#[tokio::test]
async fn a_portone_v2_billing_key_payment_built_with_the_builder_sends_what_was_set_and_nothing_else() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/payments/order-b1/billing-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "payment": { "pgTxId": "pg-tx-1", "paidAt": "2026-12-03T01:02:03Z" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = portone_v2::Client::builder()
        .secret("secret-for-tests")
        .base_url(server.uri())
        .build()
        .unwrap();

    use portone_v2::raw::types::{BillingKeyPaymentInput, Currency, CustomerInput, PaymentAmountInput};
    let body = BillingKeyPaymentInput::builder()
        .billing_key("billing-key-1")
        .order_name("Monthly plan")
        .amount(PaymentAmountInput {
            total: 9_900,
            tax_free: None,
            vat: None,
        })
        .currency(Currency::Krw)
        .customer(CustomerInput {
            id: Some("customer-1".into()),
            ..Default::default()
        })
        .maybe_channel_key(None::<String>)
        .build();
    let answer = client.raw().pay_with_billing_key("order-b1", &body).await.unwrap();
    assert_eq!(answer.into_inner().payment.pg_tx_id, "pg-tx-1");

    // Every field set is there, under its wire name; none of those left out (options, the empty lists and maps, the
    // channel key given as `None`) is, not even as `null`.
    assert_eq!(
        sent_body(&server, "/payments/order-b1/billing-key").await,
        json!({
            "billingKey": "billing-key-1",
            "orderName": "Monthly plan",
            "amount": { "total": 9_900 },
            "currency": "KRW",
            "customer": { "id": "customer-1" },
        })
    );
    server.verify().await;
}

#[tokio::test]
async fn an_iamport_again_body_built_with_the_builder_sends_its_four_required_fields_and_what_was_set() {
    let server = iamport_support::server().await;
    iamport_support::mount_token(&server, "ok", 1).await;
    Mock::given(method("POST"))
        .and(path("/subscribe/payments/again"))
        .respond_with(ResponseTemplate::new(200).set_body_json(iamport_support::fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    let client = iamport_support::client(&server);

    let body = iamport::raw::types::AgainBody::builder()
        .customer_uid("customer-1")
        .merchant_uid("order-2026-0001")
        .amount(9_900)
        .name("Monthly plan")
        .card_quota(3)
        .maybe_buyer_email(None::<String>)
        .build();
    let answer = client.raw().again(&body).await.unwrap();
    assert_eq!(answer.into_inner().code, Some(0));

    assert_eq!(
        sent_body(&server, "/subscribe/payments/again").await,
        json!({
            "customer_uid": "customer-1",
            "merchant_uid": "order-2026-0001",
            "amount": 9_900,
            "name": "Monthly plan",
            "card_quota": 3,
        })
    );
}

#[tokio::test]
async fn a_toss_billing_payment_built_with_the_builder_sends_what_was_set_and_nothing_else() {
    let server = toss_support::server().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/billing-key-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(toss_support::fixture("get_payment/card_done.json")))
        .expect(1)
        .mount(&server)
        .await;
    let client = toss_support::client(&server);

    let body = toss::raw::types::PayWithBillingKeyRequest::builder()
        .customer_key("customer-1")
        .order_id("order-2026-0001")
        .order_name("Monthly plan")
        .amount(9_900)
        .tax_free_amount(0)
        .build();
    client
        .raw()
        .pay_with_billing_key("billing-key-1", None, &body)
        .await
        .unwrap();

    assert_eq!(
        sent_body(&server, "/v1/billing/billing-key-1").await,
        json!({
            "customerKey": "customer-1",
            "orderId": "order-2026-0001",
            "orderName": "Monthly plan",
            "amount": 9_900,
            "taxFreeAmount": 0,
        })
    );
}

/// (type name, required fields, required fields that are an `Option`), as `build.rs` wrote them.
type Registry = &'static [(&'static str, &'static [&'static str], &'static [&'static str])];

fn spec(file: &str) -> Value {
    let full = format!("{}/openapi/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap()
}

/// Checks one spec against its registry: every schema with properties that an operation takes as its body got a
/// builder, and every builder of a component schema requires exactly what the schema requires, each as a plain
/// (non-`Option`) field. Returns how many bodies were checked.
fn check(file: &str, registry: Registry) -> usize {
    let spec = spec(file);
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    // Type names are the schema names in Pascal case (`RequestOTPBody` is `RequestOtpBody`): compared without case.
    let built: BTreeMap<String, (&str, &[&str], &[&str])> = registry
        .iter()
        .map(|(n, r, o)| (n.to_ascii_lowercase(), (*n, *r, *o)))
        .collect();
    let schemas: BTreeMap<String, &Value> = schemas.iter().map(|(n, s)| (n.to_ascii_lowercase(), s)).collect();
    let mut bodies = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(r) = op.pointer("/requestBody/content/application~1json/schema/$ref") {
                let name = r.as_str().unwrap().trim_start_matches("#/components/schemas/");
                bodies.insert(name.to_ascii_lowercase());
            }
        }
    }
    assert!(!bodies.is_empty(), "{file}: no request bodies found");
    // A free-form object (no properties) is a map in the generated code: nothing to build.
    bodies.retain(|b| schemas[b].get("properties").is_some());
    let missing: Vec<&String> = bodies.iter().filter(|b| !built.contains_key(*b)).collect();
    assert!(
        missing.is_empty(),
        "{file}: request bodies without a builder: {missing:?}"
    );
    let mut wrong = Vec::new();
    for (key, (name, required, optional_but_required)) in &built {
        let Some(schema) = schemas.get(key) else { continue };
        let spec_required: BTreeSet<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        let builder_required: BTreeSet<&str> = required.iter().copied().collect();
        if spec_required != builder_required || !optional_but_required.is_empty() {
            wrong.push(format!(
                "{name}: spec requires {spec_required:?}, builder requires {builder_required:?}, of which Option: {optional_but_required:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{file}:\n{}", wrong.join("\n"));
    bodies.len()
}

#[test]
fn every_request_body_has_a_builder_requiring_what_the_spec_requires() {
    const PORTONE: Registry = include!(concat!(env!("OUT_DIR"), "/portone_v2_builders.rs"));
    const IAMPORT: Registry = include!(concat!(env!("OUT_DIR"), "/iamport_builders.rs"));
    const TOSS: Registry = include!(concat!(env!("OUT_DIR"), "/toss_builders.rs"));
    assert_eq!(check("portone-v2.json", PORTONE), 63);
    assert_eq!(check("iamport-v1.json", IAMPORT), 43);
    assert_eq!(check("toss-v1.json", TOSS), 10);
    let again = IAMPORT.iter().find(|(n, ..)| *n == "AgainBody").unwrap();
    assert_eq!(again.1, ["amount", "customer_uid", "merchant_uid", "name"]);
}
