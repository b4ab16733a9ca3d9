//! The tolerant reader as a property: take each provider's maximal documented answer, drop any set of the fields
//! the provider's documentation does not guarantee (at any depth), and the payment still decodes, with the
//! guaranteed ids and amounts unchanged.
//!
//! What is guaranteed comes from the documentation, written down here, not from the normalized specs: Toss's and
//! iamport's payment keys, status and amounts (and each cancel's amount and key), and for PortOne V2 the fields its
//! server SDK types mark as not optional.

use proptest::prelude::*;
use serde_json::Value;

fn maximal(provider: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/{provider}/documented/{}.json",
        env!("CARGO_MANIFEST_DIR"),
        if provider == "portone_v2" {
            "payment_maximal"
        } else {
            "maximal"
        }
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if provider == "iamport" {
        v["response"].clone()
    } else {
        v
    }
}

/// The fields that must stay, per object, by where the object sits (`[]` for any array element).
fn guaranteed(provider: &str, at: &str) -> &'static [&'static str] {
    match (provider, at) {
        ("toss", "") => &["paymentKey", "orderId", "status", "totalAmount", "balanceAmount"],
        ("toss", "cancels[]") => &["cancelAmount", "transactionKey"],
        ("iamport", "") => &["imp_uid", "merchant_uid", "amount", "status"],
        ("iamport", "cancel_history[]") => &["amount"],
        ("portone_v2", "") => &[
            "status",
            "id",
            "transactionId",
            "merchantId",
            "storeId",
            "channel",
            "version",
            "requestedAt",
            "updatedAt",
            "statusChangedAt",
            "orderName",
            "amount",
            "currency",
            "customer",
            "cancellations",
            "cancelledAt",
        ],
        ("portone_v2", "amount") => &["total", "taxFree", "discount", "paid", "cancelled", "cancelledTaxFree"],
        ("portone_v2", "channel") => &["type", "pgProvider", "pgMerchantId"],
        ("portone_v2", "channelGroup") => &["id", "name", "isForTest"],
        ("portone_v2", "method") => &["type"],
        ("portone_v2", "method.installment") => &["month", "isInterestFree"],
        ("portone_v2", "customer.address") => &["type", "oneLine"],
        ("portone_v2", "origin") => &["platformType", "ipAddress"],
        ("portone_v2", "escrow") => &["status"],
        ("portone_v2", "products[]") => &["id", "name", "amount", "quantity"],
        ("portone_v2", "webhooks[]") => &["id", "url"],
        ("portone_v2", "cashReceipt") => &["status", "issueNumber", "totalAmount", "currency", "issuedAt"],
        ("portone_v2", "cancellations[]") => &[
            "status",
            "id",
            "totalAmount",
            "taxFreeAmount",
            "vatAmount",
            "reason",
            "requestedAt",
        ],
        _ => &[],
    }
}

/// JSON pointers of every field that may be dropped.
fn droppable(provider: &str, v: &Value) -> Vec<String> {
    fn walk(provider: &str, v: &Value, pointer: &str, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                let keep = guaranteed(provider, at);
                for (k, child) in map {
                    let p = format!("{pointer}/{k}");
                    if !keep.contains(&k.as_str()) {
                        out.push(p.clone());
                    }
                    let child_at = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                    walk(provider, child, &p, &child_at, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(provider, child, &format!("{pointer}/{i}"), &format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(provider, v, "", "", &mut out);
    out
}

fn drop_fields(v: &Value, pointers: &[&String]) -> Value {
    let mut v = v.clone();
    for p in pointers {
        let (parent, key) = p.rsplit_once('/').unwrap();
        if let Some(obj) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
            obj.remove(key);
        }
    }
    v
}

/// Decodes `v` as the provider's payment view; returns the guaranteed values a merchant relies on.
fn decode(provider: &str, v: Value) -> Result<(String, i64), String> {
    match provider {
        #[cfg(feature = "toss")]
        "toss" => {
            let p: kr_payments::toss::Payment = serde_json::from_value(v).map_err(|e| e.to_string())?;
            Ok((p.payment_key().to_string(), p.total() * 1_000_000 + p.balance()))
        }
        #[cfg(feature = "iamport")]
        "iamport" => {
            let p: kr_payments::iamport::Payment = serde_json::from_value(v).map_err(|e| e.to_string())?;
            Ok((p.imp_uid.clone().unwrap_or_default(), p.amount.unwrap_or(-1)))
        }
        #[cfg(feature = "portone-v2")]
        "portone_v2" => {
            use kr_payments::portone_v2::PaymentExt as _;
            let p: kr_payments::portone_v2::Payment = serde_json::from_value(v).map_err(|e| e.to_string())?;
            Ok((p.id().unwrap_or_default().to_string(), p.paid_amount().unwrap_or(-1)))
        }
        other => panic!("{other} is not built"),
    }
}

fn providers() -> Vec<&'static str> {
    let mut p = Vec::new();
    if cfg!(feature = "toss") {
        p.push("toss");
    }
    if cfg!(feature = "iamport") {
        p.push("iamport");
    }
    if cfg!(feature = "portone-v2") {
        p.push("portone_v2");
    }
    p
}

#[test]
fn documented_answers_still_decode_without_any_one_optional_field() {
    for provider in providers() {
        let full = maximal(provider);
        let expected = decode(provider, full.clone()).unwrap();
        let fields = droppable(provider, &full);
        assert!(fields.len() > 20, "{provider}: {} droppable fields", fields.len());
        for field in &fields {
            let got = decode(provider, drop_fields(&full, &[field]));
            assert_eq!(got.as_ref(), Ok(&expected), "{provider} without {field}");
        }
        println!("{provider}: {} optional fields dropped one at a time", fields.len());
    }
}

#[test]
fn documented_answers_a_missing_guaranteed_field_is_still_an_error() {
    // The other side of the rule: what the facade needs to tell the truth is required.
    for (provider, field) in [
        ("toss", "/totalAmount"),
        ("iamport", "/amount"),
        ("portone_v2", "/amount"),
    ] {
        if !providers().contains(&provider) {
            continue;
        }
        let full = maximal(provider);
        let field = field.to_string();
        assert!(
            decode(provider, drop_fields(&full, &[&field])).is_err(),
            "{provider} without {field}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn documented_answers_still_decode_without_any_set_of_optional_fields(seed in proptest::collection::vec(any::<bool>(), 200)) {
        for provider in providers() {
            let full = maximal(provider);
            let expected = decode(provider, full.clone()).unwrap();
            let fields = droppable(provider, &full);
            let chosen: Vec<&String> = fields.iter().zip(seed.iter().cycle()).filter(|(_, d)| **d).map(|(f, _)| f).collect();
            let got = decode(provider, drop_fields(&full, &chosen));
            prop_assert_eq!(got.as_ref(), Ok(&expected), "{} without {:?}", provider, chosen);
        }
    }
}
