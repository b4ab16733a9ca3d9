//! PortOne V2 webhook verification and event decoding.
//!
//! Every verifier here runs on a fixed clock, so nothing depends on when the tests run.
#![cfg(feature = "portone-v2")]

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use kr_payments::portone_v2::webhook::{
    BillingKeyEventKind, Event, Secret, SecretError, TransactionEventKind, Verifier, VerifyError, sign,
};
use serde_json::json;

/// 2024-04-25T00:00:00Z.
const NOW: i64 = 1_714_003_200;
const SECRET_B64: &str = "c2VjcmV0LWZvci10aGUtd2ViaG9vay10ZXN0cy0wMQ==";
const OTHER_B64: &str = "YW5vdGhlci1zZWNyZXQtZm9yLXJvdGF0aW9uLTAy";
const ID: &str = "msg_2fKq9VZ1tA0";

fn secret() -> Secret {
    Secret::from_base64(&format!("whsec_{SECRET_B64}")).unwrap()
}

fn other_secret() -> Secret {
    Secret::from_base64(OTHER_B64).unwrap()
}

fn at(unix: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(unix, 0).unwrap()
}

fn verifier_at(secret: Secret, now: i64) -> Verifier {
    Verifier::new(secret).clock(move || at(now))
}

fn verifier() -> Verifier {
    verifier_at(secret(), NOW)
}

fn cancelled_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "Transaction.Cancelled",
        "timestamp": "2024-04-24T23:59:58.123Z",
        "data": {
            "storeId": "store-4c2e7f1a",
            "paymentId": "order-20240424-0001",
            "transactionId": "01HWB2S4X9Q0",
            "cancellationId": "01HWB2T7K1ZZ"
        }
    }))
    .unwrap()
}

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

type SignedHeaders = Vec<(&'static str, String)>;

/// The three headers for `body`, signed with `secret` at `timestamp`.
fn signed(secret: &Secret, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("webhook-id".into(), ID.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        ("webhook-signature".into(), sign(secret, ID, timestamp, body)),
    ]
}

fn as_pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn as_map(headers: &[(String, String)]) -> HeaderMap {
    header_map(&as_pairs(headers))
}

/// Runs both input forms and requires them to agree.
fn verify_both(verifier: &Verifier, body: &[u8], headers: &[(String, String)]) -> Result<Event, String> {
    let from_map = verifier.verify(body, &as_map(headers));
    let from_pairs = verifier.verify_pairs(body, as_pairs(headers));
    match (from_map, from_pairs) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            Ok(a)
        }
        (Err(a), Err(b)) => {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            Err(format!("{a:?}"))
        }
        (a, b) => panic!("input forms disagree: {a:?} vs {b:?}"),
    }
}

fn expect_err(verifier: &Verifier, body: &[u8], headers: &[(String, String)]) -> VerifyError {
    let err = verifier.verify(body, &as_map(headers)).unwrap_err();
    let err_pairs = verifier.verify_pairs(body, as_pairs(headers)).unwrap_err();
    assert_eq!(format!("{err:?}"), format!("{err_pairs:?}"));
    err
}

#[test]
fn valid_delivery_verifies_and_decodes() {
    let body = cancelled_body();
    let headers = signed(&secret(), NOW - 2, &body);
    let event = verify_both(&verifier(), &body, &headers).unwrap();

    let Event::Transaction(tx) = &event else {
        panic!("expected a transaction event, got {event:?}");
    };
    assert_eq!(tx.kind, TransactionEventKind::Cancelled);
    assert_eq!(tx.data.payment_id, "order-20240424-0001");
    assert_eq!(tx.data.transaction_id, "01HWB2S4X9Q0");
    assert_eq!(tx.cancellation_id(), Some("01HWB2T7K1ZZ"));
    assert_eq!(tx.data.store_id.as_deref(), Some("store-4c2e7f1a"));
    assert_eq!(event.event_type(), "Transaction.Cancelled");
    assert_eq!(event.payment_id(), Some("order-20240424-0001"));
    assert_eq!(
        event.timestamp(),
        Some(Utc.with_ymd_and_hms(2024, 4, 24, 23, 59, 58).unwrap() + chrono::Duration::milliseconds(123))
    );

    verifier().verify_signature(&body, &as_map(&headers)).unwrap();
    verifier().verify_signature_pairs(&body, as_pairs(&headers)).unwrap();
}

#[test]
fn known_answer_from_the_standard_webhooks_scheme() {
    // Published example of the scheme PortOne follows; the tag was recomputed independently.
    let secret = Secret::from_base64("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = br#"{"test": 2432232314}"#;
    assert_eq!(
        sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    let verifier = verifier_at(secret, 1_614_265_330);
    let headers = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ];
    verifier.verify_signature_pairs(body, headers).unwrap();
}

#[test]
fn key_longer_than_a_hash_block_is_hashed_first() {
    // HMAC hashes keys over 64 bytes; the expected tag was computed with another HMAC library.
    let secret = Secret::from_bytes(vec![0xaa; 131]);
    assert_eq!(
        sign(&secret, "id", 1, b"body"),
        "v1,yfA/YUAFGhKkEx1JXFYc1v7ksqR/gxysep8stHCL6aA="
    );
}

#[test]
fn one_valid_signature_among_several_is_enough() {
    let body = cancelled_body();
    let good = sign(&secret(), ID, NOW, &body);
    let bad = sign(&other_secret(), ID, NOW, &body);
    for value in [
        format!("{bad} {good}"),
        format!("{good} {bad}"),
        format!("v2,c29tZXRoaW5nLWVsc2U= {good}"),
        format!("v1,not*base64 {good}"),
    ] {
        let headers = vec![
            ("webhook-id".into(), ID.into()),
            ("webhook-timestamp".into(), NOW.to_string()),
            ("webhook-signature".into(), value.clone()),
        ];
        assert!(verify_both(&verifier(), &body, &headers).is_ok(), "{value}");
    }
}

#[test]
fn a_valid_tag_under_another_version_label_does_not_count() {
    let body = cancelled_body();
    let tag = sign(&secret(), ID, NOW, &body);
    let tag = tag.strip_prefix("v1,").unwrap();
    let headers = vec![
        ("webhook-id".into(), ID.into()),
        ("webhook-timestamp".into(), NOW.to_string()),
        ("webhook-signature".into(), format!("v1a,{tag} v2,{tag}")),
    ];
    assert!(matches!(
        expect_err(&verifier(), &body, &headers),
        VerifyError::NoMatchingSignature
    ));
}

#[test]
fn tampered_body_is_rejected() {
    let body = cancelled_body();
    let headers = signed(&secret(), NOW, &body);
    let tampered = String::from_utf8(body)
        .unwrap()
        .replace("order-20240424-0001", "order-20240424-0002");
    assert!(matches!(
        expect_err(&verifier(), tampered.as_bytes(), &headers),
        VerifyError::NoMatchingSignature
    ));
}

#[test]
fn tampered_id_or_timestamp_is_rejected() {
    let body = cancelled_body();
    let mut headers = signed(&secret(), NOW, &body);
    headers[0].1 = "msg_other".into();
    assert!(matches!(
        expect_err(&verifier(), &body, &headers),
        VerifyError::NoMatchingSignature
    ));

    let mut headers = signed(&secret(), NOW, &body);
    headers[1].1 = (NOW - 1).to_string();
    assert!(matches!(
        expect_err(&verifier(), &body, &headers),
        VerifyError::NoMatchingSignature
    ));
}

#[test]
fn wrong_secret_is_rejected() {
    let body = cancelled_body();
    let headers = signed(&other_secret(), NOW, &body);
    assert!(matches!(
        expect_err(&verifier(), &body, &headers),
        VerifyError::NoMatchingSignature
    ));
}

#[test]
fn stale_delivery_is_rejected() {
    let body = cancelled_body();
    let headers = signed(&secret(), NOW - 3600, &body);
    match expect_err(&verifier(), &body, &headers) {
        VerifyError::TimestampTooOld { timestamp, now } => {
            assert_eq!(timestamp, NOW - 3600);
            assert_eq!(now, NOW);
        }
        other => panic!("expected TimestampTooOld, got {other:?}"),
    }
}

#[test]
fn delivery_from_the_future_is_rejected() {
    let body = cancelled_body();
    let headers = signed(&secret(), NOW + 3600, &body);
    match expect_err(&verifier(), &body, &headers) {
        VerifyError::TimestampTooNew { timestamp, now } => {
            assert_eq!(timestamp, NOW + 3600);
            assert_eq!(now, NOW);
        }
        other => panic!("expected TimestampTooNew, got {other:?}"),
    }
}

#[test]
fn window_is_checked_only_for_authentic_deliveries() {
    // A forged, stale delivery reports the forgery: timestamp errors imply a genuine signature.
    let body = cancelled_body();
    let headers = signed(&other_secret(), NOW - 3600, &body);
    assert!(matches!(
        expect_err(&verifier(), &body, &headers),
        VerifyError::NoMatchingSignature
    ));
}

#[test]
fn tolerance_boundary_is_inclusive() {
    let body = cancelled_body();
    let v = verifier();
    for (ts, ok) in [
        (NOW - 300, true),
        (NOW + 300, true),
        (NOW - 301, false),
        (NOW + 301, false),
    ] {
        let result = v.verify(&body, &as_map(&signed(&secret(), ts, &body)));
        assert_eq!(result.is_ok(), ok, "offset {}: {result:?}", ts - NOW);
    }
    assert!(matches!(
        v.verify(&body, &as_map(&signed(&secret(), NOW - 301, &body))),
        Err(VerifyError::TimestampTooOld { .. })
    ));
    assert!(matches!(
        v.verify(&body, &as_map(&signed(&secret(), NOW + 301, &body))),
        Err(VerifyError::TimestampTooNew { .. })
    ));

    // Sub-second clock readings do not shift the window: 300.9 s is still 300 whole seconds.
    let late = Verifier::new(secret()).clock(|| Utc.timestamp_opt(NOW + 300, 900_000_000).unwrap());
    assert!(late.verify(&body, &as_map(&signed(&secret(), NOW, &body))).is_ok());
}

#[test]
fn custom_tolerance_is_honoured() {
    let body = cancelled_body();
    let strict = verifier().tolerance(Duration::from_secs(10));
    assert!(
        strict
            .verify(&body, &as_map(&signed(&secret(), NOW - 10, &body)))
            .is_ok()
    );
    assert!(matches!(
        strict.verify(&body, &as_map(&signed(&secret(), NOW - 11, &body))),
        Err(VerifyError::TimestampTooOld { .. })
    ));
}

#[test]
fn each_missing_header_is_named() {
    let body = cancelled_body();
    let full = signed(&secret(), NOW, &body);
    for (i, name) in ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .into_iter()
        .enumerate()
    {
        let mut headers = full.clone();
        headers.remove(i);
        match expect_err(&verifier(), &body, &headers) {
            VerifyError::MissingHeader { name: missing } => assert_eq!(missing, name),
            other => panic!("expected MissingHeader({name}), got {other:?}"),
        }

        let mut headers = full.clone();
        headers[i].1 = String::new();
        match expect_err(&verifier(), &body, &headers) {
            VerifyError::MissingHeader { name: missing } => assert_eq!(missing, name),
            other => panic!("expected MissingHeader({name}) for an empty value, got {other:?}"),
        }
    }
}

#[test]
fn malformed_timestamp_is_rejected() {
    let body = cancelled_body();
    for value in ["soon", "1714003200.5", "2024-04-25T00:00:00Z", "99999999999999999999"] {
        let mut headers = signed(&secret(), NOW, &body);
        headers[1].1 = value.into();
        assert!(
            matches!(
                expect_err(&verifier(), &body, &headers),
                VerifyError::MalformedTimestamp
            ),
            "{value}"
        );
    }
}

#[test]
fn malformed_signature_is_rejected() {
    let body = cancelled_body();
    for value in ["garbage", "v1", "v1, ,", ",abc", "v1,%%%%"] {
        let mut headers = signed(&secret(), NOW, &body);
        headers[2].1 = value.into();
        assert!(
            matches!(
                expect_err(&verifier(), &body, &headers),
                VerifyError::MalformedSignature
            ),
            "{value:?}"
        );
    }
    // Readable but from another scheme version: nothing to compare with, yet not malformed.
    let mut headers = signed(&secret(), NOW, &body);
    headers[2].1 = "v2,c29tZXRoaW5n".into();
    assert!(matches!(
        expect_err(&verifier(), &body, &headers),
        VerifyError::NoMatchingSignature
    ));
}

#[test]
fn rotation_accepts_either_secret_and_nothing_else() {
    let body = cancelled_body();
    let third = Secret::from_bytes(*b"neither-of-the-two");
    let rotating = verifier().with_secondary(other_secret());

    assert!(verify_both(&rotating, &body, &signed(&secret(), NOW, &body)).is_ok());
    assert!(verify_both(&rotating, &body, &signed(&other_secret(), NOW, &body)).is_ok());
    assert!(matches!(
        expect_err(&rotating, &body, &signed(&third, NOW, &body)),
        VerifyError::NoMatchingSignature
    ));
    // Without the secondary, the secondary's signature is refused.
    assert!(matches!(
        expect_err(&verifier(), &body, &signed(&other_secret(), NOW, &body)),
        VerifyError::NoMatchingSignature
    ));
    // A sender signing with both during rotation also verifies.
    let both = format!(
        "{} {}",
        sign(&other_secret(), ID, NOW, &body),
        sign(&secret(), ID, NOW, &body)
    );
    let mut headers = signed(&secret(), NOW, &body);
    headers[2].1 = both;
    assert!(verify_both(&verifier(), &body, &headers).is_ok());
}

#[test]
fn duplicate_headers_are_ambiguous() {
    let body = cancelled_body();
    let full = signed(&secret(), NOW, &body);
    for (i, name) in ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .into_iter()
        .enumerate()
    {
        // Even a duplicate carrying the valid value is refused: which one was meant is unknowable.
        let mut headers = full.clone();
        headers.push((name.to_ascii_uppercase(), full[i].1.clone()));
        match expect_err(&verifier(), &body, &headers) {
            VerifyError::DuplicateHeader { name: dup } => assert_eq!(dup, name),
            other => panic!("expected DuplicateHeader({name}), got {other:?}"),
        }
    }
}

#[test]
fn header_names_are_case_insensitive() {
    let body = cancelled_body();
    let headers: Vec<(String, String)> = signed(&secret(), NOW, &body)
        .into_iter()
        .map(|(n, v)| (n.to_ascii_uppercase(), v))
        .collect();
    assert_eq!(headers[0].0, "WEBHOOK-ID");
    assert!(verify_both(&verifier(), &body, &headers).is_ok());

    let mixed = [
        ("Webhook-Id", headers[0].1.as_str()),
        ("Webhook-Timestamp", headers[1].1.as_str()),
        ("Webhook-Signature", headers[2].1.as_str()),
        ("Content-Type", "application/json"),
    ];
    assert!(verifier().verify_pairs(&body, mixed).is_ok());
}

#[test]
fn secret_forms_agree() {
    let raw: Vec<u8> = b"secret-for-the-webhook-tests-01".to_vec();
    let forms = [
        Secret::from_base64(&format!("whsec_{SECRET_B64}")).unwrap(),
        Secret::from_base64(SECRET_B64).unwrap(),
        Secret::from_base64(SECRET_B64.trim_end_matches('=')).unwrap(),
        Secret::from_base64(&format!("  whsec_{SECRET_B64}\n")).unwrap(),
        Secret::from_bytes(raw.clone()),
        Secret::from_bytes(raw.as_slice()),
    ];
    let body = cancelled_body();
    let expected = sign(&forms[0], ID, NOW, &body);
    for (i, form) in forms.iter().enumerate() {
        assert_eq!(sign(form, ID, NOW, &body), expected, "form {i}");
        let headers = signed(form, NOW, &body);
        for verifying in &forms {
            assert!(
                verifier_at(verifying.clone(), NOW)
                    .verify(&body, &as_map(&headers))
                    .is_ok()
            );
        }
    }
    assert_ne!(sign(&other_secret(), ID, NOW, &body), expected);
}

#[test]
fn bad_secret_strings_are_refused() {
    assert_eq!(Secret::from_base64("").unwrap_err(), SecretError::Empty);
    assert_eq!(Secret::from_base64("whsec_").unwrap_err(), SecretError::Empty);
    assert_eq!(
        Secret::from_base64("whsec_not base64!").unwrap_err(),
        SecretError::InvalidBase64
    );
}

#[test]
fn sign_headers_produce_a_delivery_the_verifier_accepts() {
    let body = cancelled_body();
    let v = verifier().with_secondary(other_secret());
    let headers = v.sign_headers(ID, NOW, &body);
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["webhook-id", "webhook-timestamp", "webhook-signature"]);
    assert_eq!(headers[0].1, ID);
    assert_eq!(headers[1].1, NOW.to_string());
    // Signed with the primary secret.
    assert_eq!(headers[2].1, sign(&secret(), ID, NOW, &body));
    assert!(headers[2].1.starts_with("v1,"));

    let pairs = headers.iter().map(|(n, v)| (*n, v.as_str()));
    assert!(verifier().verify_pairs(&body, pairs).is_ok());
}

#[test]
fn verified_body_that_is_not_an_event_is_invalid_body() {
    for body in [&b"not json"[..], b"[]", br#"{"data":{}}"#, br#"{"type":7}"#] {
        let headers = signed(&secret(), NOW, body);
        let err = expect_err(&verifier(), body, &headers);
        assert!(matches!(err, VerifyError::InvalidBody { .. }), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
        // The signature itself was fine.
        verifier().verify_signature(body, &as_map(&headers)).unwrap();
    }
}

#[test]
fn cancellation_without_cancellation_id_is_invalid() {
    for ty in [
        "Transaction.Cancelled",
        "Transaction.PartialCancelled",
        "Transaction.CancelPending",
    ] {
        let body = json!({
            "type": ty,
            "timestamp": "2024-04-25T00:00:00Z",
            "data": { "paymentId": "p", "transactionId": "t", "storeId": "s" }
        });
        let err = Event::from_json(&serde_json::to_vec(&body).unwrap()).unwrap_err();
        assert!(err.to_string().contains("cancellationId"), "{ty}: {err}");
    }
}

#[test]
fn unknown_event_type_is_kept_raw() {
    let raw = json!({
        "type": "Transaction.SomethingNew",
        "timestamp": "2024-04-25T01:02:03+09:00",
        "data": { "paymentId": "order-9", "storeId": "store-1", "extra": [1, 2, 3] }
    });
    let body = serde_json::to_vec(&raw).unwrap();
    let event = verify_both(&verifier(), &body, &signed(&secret(), NOW, &body)).unwrap();
    match &event {
        Event::Unrecognized { event_type, raw: kept } => {
            assert_eq!(event_type, "Transaction.SomethingNew");
            assert_eq!(kept, &raw);
        }
        other => panic!("expected Unrecognized, got {other:?}"),
    }
    assert_eq!(event.event_type(), "Transaction.SomethingNew");
    assert_eq!(event.payment_id(), Some("order-9"));
    assert_eq!(event.store_id(), Some("store-1"));
    assert_eq!(
        event.timestamp(),
        Some(Utc.with_ymd_and_hms(2024, 4, 24, 16, 2, 3).unwrap())
    );
    assert_eq!(serde_json::to_value(&event).unwrap(), raw);

    // Even a shape nothing like ours is kept, as long as it has a type.
    let odd = json!({ "type": "Settlement.Done", "payload": "x" });
    let event = Event::from_json(odd.to_string().as_bytes()).unwrap();
    assert_eq!(
        event,
        Event::Unrecognized {
            event_type: "Settlement.Done".into(),
            raw: odd
        }
    );
    assert_eq!(event.timestamp(), None);
    assert_eq!(event.payment_id(), None);
}

#[test]
fn every_transaction_type_decodes_to_its_kind() {
    let cases = [
        ("Transaction.Ready", TransactionEventKind::Ready),
        ("Transaction.Paid", TransactionEventKind::Paid),
        (
            "Transaction.VirtualAccountIssued",
            TransactionEventKind::VirtualAccountIssued,
        ),
        ("Transaction.PartialCancelled", TransactionEventKind::PartialCancelled),
        ("Transaction.Cancelled", TransactionEventKind::Cancelled),
        ("Transaction.Failed", TransactionEventKind::Failed),
        ("Transaction.PayPending", TransactionEventKind::PayPending),
        ("Transaction.CancelPending", TransactionEventKind::CancelPending),
        ("Transaction.DisputeCreated", TransactionEventKind::DisputeCreated),
        ("Transaction.DisputeResolved", TransactionEventKind::DisputeResolved),
        ("Transaction.Confirm", TransactionEventKind::Confirm),
    ];
    for (ty, kind) in cases {
        let cancellation = kind.is_cancellation();
        let mut data = json!({
            "storeId": "store-1",
            "paymentId": format!("pay-{ty}"),
            "transactionId": "tx-1",
            "unknownField": { "ignored": true }
        });
        if cancellation {
            data["cancellationId"] = json!("cancel-1");
        }
        if kind == TransactionEventKind::Confirm {
            data["totalAmount"] = json!(15_000);
        }
        let raw = json!({ "type": ty, "timestamp": "2024-04-25T00:00:00Z", "data": data });
        let body = serde_json::to_vec(&raw).unwrap();
        let event = verifier()
            .verify(&body, &as_map(&signed(&secret(), NOW, &body)))
            .unwrap();

        let Event::Transaction(tx) = &event else {
            panic!("{ty}: expected a transaction event, got {event:?}");
        };
        assert_eq!(tx.kind, kind, "{ty}");
        assert_eq!(tx.kind.as_str(), ty);
        assert_eq!(tx.kind.to_string(), ty);
        assert_eq!(event.event_type(), ty);
        assert_eq!(tx.data.payment_id, format!("pay-{ty}"));
        assert_eq!(tx.data.transaction_id, "tx-1");
        assert_eq!(tx.data.store_id.as_deref(), Some("store-1"));
        assert_eq!(tx.cancellation_id(), cancellation.then_some("cancel-1"), "{ty}");
        assert_eq!(
            tx.data.total_amount,
            (kind == TransactionEventKind::Confirm).then_some(15_000)
        );
        assert_eq!(tx.timestamp, at(NOW));
        assert_eq!(event.timestamp(), Some(at(NOW)));
        assert_eq!(event.payment_id(), Some(format!("pay-{ty}").as_str()));

        // Serializing gives the wire format back, minus the fields we do not model.
        let mut expected = raw.clone();
        expected["data"].as_object_mut().unwrap().remove("unknownField");
        let round = serde_json::to_value(&event).unwrap();
        assert_eq!(Event::from_json(round.to_string().as_bytes()).unwrap(), event);
        assert_eq!(round["type"], expected["type"]);
        assert_eq!(round["data"], expected["data"]);
    }
}

#[test]
fn every_billing_key_type_decodes_to_its_kind() {
    let cases = [
        ("BillingKey.Ready", BillingKeyEventKind::Ready),
        ("BillingKey.Issued", BillingKeyEventKind::Issued),
        ("BillingKey.Failed", BillingKeyEventKind::Failed),
        ("BillingKey.Deleted", BillingKeyEventKind::Deleted),
        ("BillingKey.Updated", BillingKeyEventKind::Updated),
    ];
    for (ty, kind) in cases {
        let raw = json!({
            "type": ty,
            "timestamp": "2024-04-25T09:00:00+09:00",
            "data": { "storeId": "store-1", "billingKey": "billing-key-abc" }
        });
        let body = serde_json::to_vec(&raw).unwrap();
        let event = verifier()
            .verify(&body, &as_map(&signed(&secret(), NOW, &body)))
            .unwrap();
        let Event::BillingKey(bk) = &event else {
            panic!("{ty}: expected a billing key event, got {event:?}");
        };
        assert_eq!(bk.kind, kind);
        assert_eq!(bk.kind.as_str(), ty);
        assert_eq!(bk.data.billing_key, "billing-key-abc");
        assert_eq!(bk.data.store_id.as_deref(), Some("store-1"));
        assert_eq!(bk.timestamp, at(NOW));
        assert_eq!(event.event_type(), ty);
        assert_eq!(event.payment_id(), None);
        assert_eq!(event.store_id(), Some("store-1"));
    }
}

#[test]
fn store_id_may_be_absent() {
    let body = json!({
        "type": "Transaction.Paid",
        "timestamp": "2024-04-25T00:00:00Z",
        "data": { "paymentId": "p", "transactionId": "t" }
    });
    let event = Event::from_json(body.to_string().as_bytes()).unwrap();
    assert_eq!(event.store_id(), None);
    assert_eq!(event.payment_id(), Some("p"));

    let body = json!({
        "type": "BillingKey.Issued",
        "timestamp": "2024-04-25T00:00:00Z",
        "data": { "billingKey": "bk" }
    });
    assert!(Event::from_json(body.to_string().as_bytes()).is_ok());
}

#[test]
fn known_type_with_wrong_shape_is_an_error() {
    for body in [
        json!({ "type": "Transaction.Paid", "timestamp": "yesterday",
                "data": { "paymentId": "p", "transactionId": "t" } }),
        json!({ "type": "Transaction.Paid", "timestamp": "2024-04-25T00:00:00Z",
                "data": { "transactionId": "t" } }),
        json!({ "type": "BillingKey.Issued", "timestamp": "2024-04-25T00:00:00Z", "data": {} }),
        json!({ "type": "Transaction.Confirm", "timestamp": "2024-04-25T00:00:00Z",
                "data": { "paymentId": "p", "transactionId": "t" } }),
    ] {
        assert!(Event::from_json(body.to_string().as_bytes()).is_err(), "{body}");
    }
}

#[test]
fn event_deserializes_through_serde() {
    let body = cancelled_body();
    let via_serde: Event = serde_json::from_slice(&body).unwrap();
    assert_eq!(via_serde, Event::from_json(&body).unwrap());
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let raw_bytes: &[u8] = b"super-secret-raw-key-bytes";
    let b64 = "c3VwZXItc2VjcmV0LWJhc2U2NC1rZXk=";
    let decoded = "super-secret-base64-key";
    let primary = Secret::from_base64(&format!("whsec_{b64}")).unwrap();
    let secondary = Secret::from_bytes(raw_bytes);
    let verifier = Verifier::new(primary.clone())
        .with_secondary(secondary.clone())
        .clock(|| at(NOW));

    let mut outputs = vec![
        format!("{primary:?}"),
        format!("{secondary:?}"),
        format!("{primary:#?}"),
        format!("{verifier:?}"),
        format!("{verifier:#?}"),
    ];

    let body = cancelled_body();
    let good = verifier.sign_headers(ID, NOW, &body);
    let with_signature = |value: &str| {
        vec![
            ("webhook-id", ID.to_string()),
            ("webhook-timestamp", NOW.to_string()),
            ("webhook-signature", value.to_string()),
        ]
    };
    let mut bad_timestamp = good.clone();
    bad_timestamp[1].1 = "x".into();
    let not_json: &[u8] = b"{";
    let bad_cases: Vec<(&[u8], SignedHeaders)> = vec![
        (&body, vec![]),
        (&body, bad_timestamp),
        (&body, with_signature("junk")),
        (&body, with_signature("v1,AAAA")),
        (&body, verifier.sign_headers(ID, NOW - 9999, &body)),
        (&body, verifier.sign_headers(ID, NOW + 9999, &body)),
        (not_json, verifier.sign_headers(ID, NOW, not_json)),
    ];
    for (body, headers) in &bad_cases {
        let err = verifier
            .verify_pairs(body, headers.iter().map(|(n, v)| (*n, v.as_str())))
            .unwrap_err();
        outputs.push(format!("{err:?}"));
        outputs.push(err.to_string());
    }
    for bad in [format!("whsec_{b64}!"), format!("{b64}*"), String::new()] {
        let err = Secret::from_base64(&bad).unwrap_err();
        outputs.push(format!("{err:?}"));
        outputs.push(err.to_string());
    }

    let forbidden = [
        b64.to_string(),
        b64.trim_end_matches('=').to_string(),
        decoded.to_string(),
        String::from_utf8_lossy(raw_bytes).into_owned(),
        format!("{raw_bytes:?}"),
        format!("{:?}", decoded.as_bytes()),
        // A few bytes' worth is already a leak; the decimal form of the first bytes must not show.
        format!("{:?}", &raw_bytes[..4]).trim_end_matches(']').to_string(),
    ];
    for out in &outputs {
        for secret in &forbidden {
            assert!(!out.contains(secret.as_str()), "{out:?} contains {secret:?}");
        }
    }
    assert!(outputs[0].contains("redacted"));
}

#[test]
fn public_types_are_thread_safe_and_errors_are_std_errors() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    fn assert_clone<T: Clone>() {}
    assert_send_sync::<Verifier>();
    assert_send_sync::<Secret>();
    assert_send_sync::<Event>();
    assert_clone::<Verifier>();
    assert_error::<VerifyError>();
    assert_error::<SecretError>();

    // A verifier moved into another thread keeps its clock and secrets.
    let v = verifier();
    let body = cancelled_body();
    let headers = signed(&secret(), NOW, &body);
    let ok = std::thread::spawn(move || v.verify(&body, &as_map(&headers)).is_ok())
        .join()
        .unwrap();
    assert!(ok);
}
