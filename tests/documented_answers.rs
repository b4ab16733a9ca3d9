//! Every answer the providers document decodes, through every facade path that can receive it, with the status,
//! amounts and balance a merchant would check; what counts as refunded is one rule across the payment views and
//! the provider-neutral refund; and nothing the server sent is lost.
//!
//! The fixtures in `tests/fixtures/<provider>/documented/` are written from the seeds and the providers' public
//! documentation (Toss's cancel guide and Payment examples, iamport's cancel reference and its response model,
//! PortOne's server SDK types), plus for each provider a minimal answer (only the fields the documentation
//! guarantees) and a maximal one (every field, and fields no spec lists). Each is served over loopback, byte for
//! byte, and read back through the facade.

use serde_json::Value;
use serde_json::value::RawValue;

/// A documented fixture's text, exactly as it is served (one JSON value, without the file's final newline).
fn text(provider: &str, case: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/{provider}/documented/{case}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.trim_end().to_string()
}

/// The text of `key` inside a JSON object, byte for byte as it appears in `json`.
fn raw_field(json: &str, key: &str) -> String {
    let map: std::collections::BTreeMap<String, Box<RawValue>> = serde_json::from_str(json).unwrap();
    map[key].get().to_string()
}

/// Removes the last element of the array at `pointer` (the newest cancel entry).
fn without_last(json: &str, pointer: &str) -> Value {
    let mut v: Value = serde_json::from_str(json).unwrap();
    if let Some(a) = v.pointer_mut(pointer).and_then(Value::as_array_mut) {
        a.pop();
    }
    v
}

/// The cancel a documented answer answers: the newest entry's amount and the balance before it (`None` for a full
/// cancel, which took all of it), read from the answer itself; `None` when the answer shows no cancel at all.
/// `amounts` are the entries' amounts oldest first, `total` what was paid.
fn request_answered(total: i64, amounts: &[i64]) -> Option<(Option<i64>, i64)> {
    let (last, earlier) = amounts.split_last()?;
    let before = total - earlier.iter().sum::<i64>();
    Some(((*last < before).then_some(*last), before))
}

/// The provider-neutral refund a documented answer answers.
fn neutral_refund(request: (Option<i64>, i64)) -> kr_payments::refund::Refund {
    use kr_payments::refund::Refund;
    match request {
        (Some(amount), before) => Refund::partial(amount, before, "documented answer"),
        (None, before) => Refund::full("documented answer").expected_balance(before),
    }
}

fn report(fixtures: usize, paths: usize, what: &str) {
    println!("documented answers: {fixtures} fixtures x {paths} paths ({what})");
}

#[cfg(feature = "toss")]
mod toss {
    use super::*;
    use kr_payments::refund::{Refund, RefundStatus, Refunds};
    use kr_payments::toss::webhook::Event;
    use kr_payments::toss::{Client, Payment};
    use kr_payments::transport::RetryPolicy;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// What a merchant checks on one documented Toss answer.
    struct Case {
        file: &'static str,
        status: &'static str,
        total: i64,
        balance: i64,
        cancelled_total: i64,
        /// What the newest cancel did, as the cancel reply and the neutral refund report it.
        latest: RefundStatus,
        /// Won the newest cancel returned.
        refunded: i64,
    }

    fn cases() -> Vec<Case> {
        use RefundStatus::*;
        let case = |file, status, total, balance, cancelled_total, latest, refunded| Case {
            file,
            status,
            total,
            balance,
            cancelled_total,
            latest,
            refunded,
        };
        vec![
            case(
                "seed_full_cancel_card",
                "CANCELED",
                10_000,
                0,
                10_000,
                Succeeded,
                10_000,
            ),
            case(
                "seed_partial_cancel_twice",
                "PARTIAL_CANCELED",
                10_000,
                8_000,
                2_000,
                Succeeded,
                1_000,
            ),
            case(
                "seed_virtual_account_refund",
                "PARTIAL_CANCELED",
                10_000,
                0,
                10_000,
                Succeeded,
                10_000,
            ),
            case(
                "seed_widget_refund_account",
                "WAITING_FOR_DEPOSIT",
                25_000,
                25_000,
                0,
                Unknown,
                0,
            ),
            case("expired_with_failure", "EXPIRED", 50_000, 50_000, 0, Unknown, 0),
            case("done_cancels_null", "DONE", 15_000, 15_000, 0, Unknown, 0),
            case("done_cancels_empty", "DONE", 15_000, 15_000, 0, Unknown, 0),
            case("minimal", "PARTIAL_CANCELED", 30_000, 22_000, 8_000, Succeeded, 3_000),
            case("maximal", "PARTIAL_CANCELED", 48_000, 36_000, 12_000, Succeeded, 4_000),
            case(
                "unknown_cancel_status",
                "PARTIAL_CANCELED",
                10_000,
                8_000,
                1_000,
                Unrecognized("PARTIALLY_REVERSED".into()),
                0,
            ),
            case(
                "cancel_in_progress",
                "PARTIAL_CANCELED",
                10_000,
                8_000,
                1_000,
                Requested,
                0,
            ),
            case("cancel_aborted", "PARTIAL_CANCELED", 10_000, 8_000, 1_000, Failed, 0),
        ]
    }

    fn client(server: &MockServer) -> Client {
        Client::builder()
            .secret_key("test_sk_kr0payments0documented0answers")
            .base_url(server.uri())
            .retry(RetryPolicy::Never)
            .build()
            .unwrap()
    }

    fn answer(body: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
    }

    /// Mounts the cancel, the lookup by key and the lookup by order id, each answering `body`.
    async fn serve(server: &MockServer, body: &str) -> (String, String) {
        let v: Value = serde_json::from_str(body).unwrap();
        let key = v["paymentKey"].as_str().unwrap().to_string();
        let order = v["orderId"].as_str().unwrap().to_string();
        for (verb, at) in [
            ("POST", format!("/v1/payments/{key}/cancel")),
            ("GET", format!("/v1/payments/{key}")),
            ("GET", format!("/v1/payments/orders/{order}")),
        ] {
            Mock::given(method(verb))
                .and(path(at))
                .respond_with(answer(body))
                .mount(server)
                .await;
        }
        (key, order)
    }

    /// What every path must show: the typed status and amounts, the one rule's totals, and the JSON as served.
    fn check(case: &Case, body: &str, p: &Payment, via: &str) {
        let at = format!("{} via {via}", case.file);
        assert_eq!(p.status().as_str(), case.status, "{at}");
        assert_eq!(p.total(), case.total, "{at}");
        assert_eq!(p.balance(), case.balance, "{at}");
        assert_eq!(p.cancelled_total(), case.cancelled_total, "{at}");
        assert_eq!(p.latest_cancel_outcome(), case.latest, "{at}");
        assert_eq!(p.json().expose(), body, "{at}: the JSON is kept byte for byte");
        assert_eq!(
            serde_json::to_string(p).unwrap(),
            body,
            "{at}: serializing gives back what was sent"
        );
        assert!(
            !format!("{p:?}").contains("\"paymentKey\""),
            "{at}: Debug prints the typed part, not the JSON"
        );
    }

    #[tokio::test]
    async fn toss_documented_answers_decode_through_every_path() {
        let server = MockServer::start().await;
        let client = client(&server);
        let cases = cases();
        let mut paths = 0;
        for case in &cases {
            let body = text("toss", case.file);
            let (key, order) = serve(&server, &body).await;
            let mut seen = 0;
            let request = toss_request(&body);

            let mut cancel = client.cancel_payment(kr_payments::toss::PaymentKey::new(&key), "documented answer");
            if let Some((amount, before)) = request {
                cancel = cancel.refundable_amount(before);
                if let Some(amount) = amount {
                    cancel = cancel.amount(amount);
                }
            }
            match (cancel.send().await, request) {
                (Ok(cancelled), Some(_)) => {
                    check(case, &body, &cancelled.payment, "cancel reply");
                    assert_eq!(
                        cancelled.is_done(),
                        case.latest == RefundStatus::Succeeded,
                        "{}",
                        case.file
                    );
                }
                // An answer without a cancel entry does not show this cancel: money may have moved, the answer is
                // kept, and it is never a success.
                (Err(e), None) => {
                    let kr_payments::Error::Inconsistent(i) = &e else {
                        panic!("{}: cancel reply: {e}", case.file)
                    };
                    assert_eq!(i.answer.expose(), body, "{}", case.file);
                    assert!(e.outcome_unknown());
                }
                (result, _) => panic!("{}: cancel reply: {result:?}", case.file),
            }
            seen += 1;

            let p = client
                .get_payment(&kr_payments::toss::PaymentKey::new(key.clone()))
                .await
                .unwrap();
            check(case, &body, &p, "get_payment");
            seen += 1;

            let p = client.get_payment_by_order_id(&order).await.unwrap();
            check(case, &body, &p, "get_payment_by_order_id");
            seen += 1;

            let Some(request) = request else {
                let refused = client
                    .refund(&key, &Refund::full("documented answer"))
                    .await
                    .unwrap_err();
                assert!(
                    matches!(refused.error, kr_payments::Error::Inconsistent(_)),
                    "{}",
                    case.file
                );
                seen += 1;
                let event = format!(
                    r#"{{"eventType":"PAYMENT_STATUS_CHANGED","createdAt":"2024-03-16T10:00:00.000000","data":{body}}}"#
                );
                let event = Event::from_json(event.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", case.file));
                let p = event.verify_by_refetch(&client).await.unwrap();
                check(case, &body, &p, "webhook re-fetch");
                seen += 1;
                paths = seen;
                continue;
            };
            let outcome = client.refund(&key, &neutral_refund(request)).await.unwrap();
            assert_eq!(outcome.status, case.latest, "{}: neutral refund", case.file);
            assert_eq!(outcome.refunded_amount, case.refunded, "{}: neutral refund", case.file);
            assert_eq!(outcome.remaining_balance, Some(case.balance), "{}", case.file);
            assert_eq!(
                outcome.raw.value(),
                serde_json::from_str::<Value>(&body).unwrap(),
                "{}",
                case.file
            );
            // One rule: the neutral refund's amount is what the view's total moves by with this entry.
            let before: Payment = serde_json::from_value(without_last(&body, "/cancels")).unwrap();
            let p: Payment = serde_json::from_str(&body).unwrap();
            assert_eq!(
                p.cancelled_total() - before.cancelled_total(),
                outcome.refunded_amount,
                "{}: cancelled_total() and the neutral outcome agree",
                case.file
            );
            seen += 1;

            let event = format!(
                r#"{{"eventType":"PAYMENT_STATUS_CHANGED","createdAt":"2024-03-16T10:00:00.000000","data":{body}}}"#
            );
            let event = Event::from_json(event.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", case.file));
            let p = event.verify_by_refetch(&client).await.unwrap();
            check(case, &body, &p, "webhook re-fetch");
            seen += 1;

            paths = seen;
        }
        report(cases.len(), paths, "toss");
    }

    /// The cancel a documented Toss answer answers (see [`request_answered`]).
    fn toss_request(body: &str) -> Option<(Option<i64>, i64)> {
        let v: Value = serde_json::from_str(body).unwrap();
        let amounts: Vec<i64> = v["cancels"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["cancelAmount"].as_i64()).collect())
            .unwrap_or_default();
        request_answered(v["totalAmount"].as_i64().unwrap(), &amounts)
    }

    /// Issue 13: a 200 answer with no cancel entry for the request is not a refund: it is an answer that does not
    /// show the cancel, kept whole, whose outcome is unknown.
    #[tokio::test]
    async fn toss_documented_answers_a_200_without_a_cancel_entry_is_not_succeeded() {
        let server = MockServer::start().await;
        let client = client(&server);
        for file in ["done_cancels_null", "done_cancels_empty", "expired_with_failure"] {
            let body = text("toss", file);
            let (key, _) = serve(&server, &body).await;
            let err = client
                .refund(&key, &Refund::full("documented answer"))
                .await
                .unwrap_err();
            let kr_payments::Error::Inconsistent(i) = &err.error else {
                panic!("{file}: {err:?}")
            };
            assert_eq!(i.answer.expose(), body, "{file}: the answer is kept");
            assert!(err.error.outcome_unknown(), "{file}");
            assert!(!err.nothing_sent(), "{file}");
            let err = client
                .cancel_payment(kr_payments::toss::PaymentKey::new(&key), "documented answer")
                .send()
                .await
                .unwrap_err();
            assert!(matches!(&err, kr_payments::Error::Inconsistent(_)), "{file}");
        }
        let expired: Payment = serde_json::from_str(&text("toss", "expired_with_failure")).unwrap();
        assert!(expired.method().is_none() && expired.failure.is_some());
        // A done entry inside a payment that reports a failure is not counted either.
        let mut contradicted: Value = serde_json::from_str(&text("toss", "seed_full_cancel_card")).unwrap();
        contradicted["failure"] = serde_json::json!({ "code": "EXPIRED_PAYMENT", "message": "만료" });
        let contradicted: Payment = serde_json::from_value(contradicted).unwrap();
        assert_eq!(contradicted.latest_cancel_outcome(), RefundStatus::Unknown);
        assert_eq!(contradicted.cancelled_total(), 0);
    }

    /// Issue 13: an unknown `cancelStatus` is neither counted nor denied, the same in the view and in the outcome.
    #[tokio::test]
    async fn toss_documented_answers_an_unknown_cancel_status_agrees_across_views() {
        let server = MockServer::start().await;
        let client = client(&server);
        let body = text("toss", "unknown_cancel_status");
        let (key, _) = serve(&server, &body).await;
        let outcome = client.refund(&key, &Refund::full("documented answer")).await.unwrap();
        assert_eq!(outcome.status, RefundStatus::Unrecognized("PARTIALLY_REVERSED".into()));
        assert_eq!(outcome.refunded_amount, 0, "not counted");
        assert_ne!(outcome.status, RefundStatus::Failed, "not denied");
        let p = client
            .get_payment(&kr_payments::toss::PaymentKey::new(key.clone()))
            .await
            .unwrap();
        assert_eq!(p.cancelled_total(), 1_000, "only the DONE entry");
        let newest = p.latest_cancel().unwrap();
        assert_eq!(p.refunded_by(newest), outcome.refunded_amount);
        assert_eq!(newest.outcome(), outcome.status);
    }
}

#[cfg(feature = "iamport")]
mod iamport {
    use super::*;
    use futures::StreamExt as _;
    use kr_payments::iamport::webhook::Notification;
    use kr_payments::iamport::{Client, ImpUid, MerchantUid, Payment, StatusFilter};
    use kr_payments::refund::{Refund, RefundStatus, Refunds};
    use kr_payments::transport::RetryPolicy;
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    struct Case {
        file: &'static str,
        status: &'static str,
        amount: i64,
        cancel_amount: Option<i64>,
        balance: Option<i64>,
        history_total: Option<i64>,
        latest: RefundStatus,
        refunded: i64,
    }

    fn cases() -> Vec<Case> {
        use RefundStatus::*;
        let case = |file, status, amount, cancel_amount, balance, history_total, latest, refunded| Case {
            file,
            status,
            amount,
            cancel_amount,
            balance,
            history_total,
            latest,
            refunded,
        };
        vec![
            case(
                "seed_cancelled_full",
                "cancelled",
                15_000,
                Some(15_000),
                Some(0),
                Some(15_000),
                Succeeded,
                15_000,
            ),
            case(
                "seed_partial_paid",
                "paid",
                36_000,
                Some(12_000),
                Some(24_000),
                Some(12_000),
                Succeeded,
                12_000,
            ),
            case(
                "seed_vbank_two_old_cancels",
                "cancelled",
                120_000,
                Some(120_000),
                Some(0),
                Some(120_000),
                Succeeded,
                70_000,
            ),
            case(
                "seed_response_model",
                "paid",
                1_000,
                Some(300),
                Some(700),
                Some(300),
                Succeeded,
                300,
            ),
            case("minimal", "paid", 20_000, None, None, Some(5_000), Succeeded, 5_000),
            case(
                "maximal",
                "paid",
                64_000,
                Some(24_000),
                Some(40_000),
                Some(24_000),
                Succeeded,
                8_000,
            ),
            case(
                "cancelled_without_history",
                "cancelled",
                9_000,
                Some(9_000),
                Some(0),
                Some(0),
                Unknown,
                0,
            ),
        ]
    }

    const TOKEN: &str = "documented0answers0token0000000000000000";

    async fn server() -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/users/getToken"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "code": 0,
                "message": null,
                "response": { "access_token": TOKEN, "now": 1_717_000_000, "expired_at": 1_717_001_800 }
            })))
            .mount(&server)
            .await;
        server
    }

    fn client(server: &MockServer) -> Client {
        Client::builder()
            .imp_key("documented-answers-key")
            .imp_secret("documented-answers-secret")
            .base_url(server.uri())
            .retry(RetryPolicy::Never)
            .build()
            .unwrap()
    }

    fn answer(body: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
    }

    /// The cancel a documented iamport answer answers (see [`request_answered`]).
    fn iamport_request(payment_text: &str) -> Option<(Option<i64>, i64)> {
        let p: Value = serde_json::from_str(payment_text).unwrap();
        let mut entries: Vec<(i64, i64)> = p["cancel_history"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| Some((c["cancelled_at"].as_i64().unwrap_or(0), c["amount"].as_i64()?)))
                    .collect()
            })
            .unwrap_or_default();
        entries.sort_by_key(|(at, _)| *at);
        let amounts: Vec<i64> = entries.into_iter().map(|(_, a)| a).collect();
        request_answered(p["amount"].as_i64()?, &amounts)
    }

    /// Sends the cancel a documented answer answers: guarded by the balance before it.
    async fn iamport_cancel(
        client: &Client,
        imp_uid: &str,
        request: Option<(Option<i64>, i64)>,
    ) -> Result<Payment, kr_payments::iamport::Error> {
        let mut cancel = client.cancel_payment(ImpUid::new(imp_uid), "documented answer");
        if let Some((amount, before)) = request {
            cancel = cancel.checksum(before);
            if let Some(amount) = amount {
                cancel = cancel.amount(amount);
            }
        }
        cancel.send().await
    }

    fn ids(body: &str) -> (String, String) {
        let v: Value = serde_json::from_str(body).unwrap();
        let r = &v["response"];
        (
            r["imp_uid"].as_str().unwrap().to_string(),
            r["merchant_uid"].as_str().unwrap().to_string(),
        )
    }

    async fn serve(server: &MockServer, body: &str) {
        let (imp_uid, merchant_uid) = ids(body);
        Mock::given(method("POST"))
            .and(path("/payments/cancel"))
            .and(body_partial_json(serde_json::json!({ "imp_uid": imp_uid })))
            .respond_with(answer(body))
            .mount(server)
            .await;
        for at in [format!("/payments/{imp_uid}"), format!("/payments/find/{merchant_uid}")] {
            Mock::given(method("GET"))
                .and(path(at))
                .respond_with(answer(body))
                .mount(server)
                .await;
        }
    }

    fn check(case: &Case, payment_text: &str, p: &Payment, via: &str) {
        let at = format!("{} via {via}", case.file);
        assert_eq!(p.status.as_ref().map(|s| s.as_str()), Some(case.status), "{at}");
        assert_eq!(p.amount, Some(case.amount), "{at}");
        assert_eq!(p.cancelled_total(), case.cancel_amount, "{at}");
        assert_eq!(p.cancellable_balance(), case.balance, "{at}");
        assert_eq!(p.cancel_history_total(), case.history_total, "{at}");
        assert_eq!(p.latest_cancel_outcome(), case.latest, "{at}");
        assert_eq!(p.json().expose(), payment_text, "{at}: the JSON is kept byte for byte");
        assert_eq!(serde_json::to_string(p).unwrap(), payment_text, "{at}");
        assert!(
            !format!("{p:?}").contains("\"imp_uid\""),
            "{at}: Debug prints the typed part, not the JSON"
        );
    }

    #[tokio::test]
    async fn iamport_documented_answers_decode_through_every_path() {
        let server = server().await;
        let client = client(&server);
        let cases = cases();
        // One listing page holding every documented payment, each byte for byte.
        let items: Vec<String> = cases
            .iter()
            .map(|c| raw_field(&text("iamport", c.file), "response"))
            .collect();
        let page = format!(
            r#"{{"code":0,"message":null,"response":{{"total":{},"previous":0,"next":0,"list":[{}]}}}}"#,
            cases.len(),
            items.join(",")
        );
        Mock::given(method("GET"))
            .and(path("/payments/status/all"))
            .respond_with(answer(&page))
            .mount(&server)
            .await;
        let listed: Vec<Payment> = client
            .payments_by_status(StatusFilter::All)
            .stream()
            .map(|p| p.unwrap())
            .collect()
            .await;
        assert_eq!(listed.len(), cases.len());

        let mut paths = 0;
        for (i, case) in cases.iter().enumerate() {
            let body = text("iamport", case.file);
            let payment_text = raw_field(&body, "response");
            serve(&server, &body).await;
            let (imp_uid, merchant_uid) = ids(&body);
            let mut seen = 0;
            let request = iamport_request(&payment_text);

            match (iamport_cancel(&client, &imp_uid, request).await, request) {
                (Ok(p), Some(_)) => check(case, &payment_text, &p, "cancel reply"),
                (Err(kr_payments::Error::Inconsistent(i)), None) => {
                    assert_eq!(i.answer.expose(), body, "{}: the answer is kept", case.file);
                }
                (result, _) => panic!("{}: cancel reply: {result:?}", case.file),
            }
            seen += 1;

            let p = client.get_payment(&ImpUid::new(&imp_uid)).await.unwrap();
            check(case, &payment_text, &p, "get_payment");
            seen += 1;

            let p = client.find_payment(&MerchantUid::new(&merchant_uid)).await.unwrap();
            check(case, &payment_text, &p, "find_payment");
            seen += 1;

            check(case, &payment_text, &listed[i], "payments_by_status");
            seen += 1;

            let outcome = match request {
                Some(request) => client.refund(&imp_uid, &neutral_refund(request)).await.unwrap(),
                None => {
                    let err = client
                        .refund(&imp_uid, &Refund::full("documented answer"))
                        .await
                        .unwrap_err();
                    assert!(
                        matches!(err.error, kr_payments::Error::Inconsistent(_)),
                        "{}",
                        case.file
                    );
                    seen += 1;
                    let notice =
                        serde_json::json!({ "imp_uid": imp_uid, "merchant_uid": merchant_uid, "status": case.status });
                    let notice = Notification::from_json(notice.to_string().as_bytes()).unwrap();
                    let p = notice.verify_by_refetch(&client).await.unwrap();
                    check(case, &payment_text, &p, "webhook re-fetch");
                    seen += 1;
                    paths = seen;
                    continue;
                }
            };
            assert_eq!(outcome.status, case.latest, "{}: neutral refund", case.file);
            assert_eq!(outcome.refunded_amount, case.refunded, "{}: neutral refund", case.file);
            assert_eq!(outcome.remaining_balance, case.balance, "{}", case.file);
            assert_eq!(
                outcome.raw.value(),
                serde_json::from_str::<Value>(&payment_text).unwrap(),
                "{}",
                case.file
            );
            let p: Payment = serde_json::from_str(&payment_text).unwrap();
            let before: Payment = serde_json::from_value(without_last(&payment_text, "/cancel_history")).unwrap();
            if let (Some(after), Some(before)) = (p.cancel_history_total(), before.cancel_history_total()) {
                assert_eq!(
                    after - before,
                    outcome.refunded_amount,
                    "{}: the view's total and the neutral outcome agree",
                    case.file
                );
            }
            seen += 1;

            let notice = serde_json::json!({ "imp_uid": imp_uid, "merchant_uid": merchant_uid, "status": case.status });
            let notice = Notification::from_json(notice.to_string().as_bytes()).unwrap();
            let p = notice.verify_by_refetch(&client).await.unwrap();
            check(case, &payment_text, &p, "webhook re-fetch");
            seen += 1;

            paths = seen;
        }
        report(cases.len(), paths, "iamport");
    }

    /// Issue 13: iamport's documented answer has neither `sandbox` nor `cancellation_id`, and a successful cancel
    /// answered that way is a refund, not a decode error.
    #[tokio::test]
    async fn iamport_documented_answers_without_sandbox_or_cancellation_id_decode() {
        let server = server().await;
        let client = client(&server);
        for file in ["seed_cancelled_full", "seed_partial_paid", "seed_vbank_two_old_cancels"] {
            let body = text("iamport", file);
            assert!(
                !body.contains("\"sandbox\"") && !body.contains("cancellation_id"),
                "{file}"
            );
            serve(&server, &body).await;
            let (imp_uid, merchant_uid) = ids(&body);
            let request = iamport_request(&raw_field(&body, "response"));
            let cancelled = iamport_cancel(&client, &imp_uid, request).await.unwrap();
            assert_eq!(cancelled.sandbox, None);
            assert!(
                cancelled
                    .cancel_history
                    .iter()
                    .flatten()
                    .all(|c| c.cancellation_id.is_none())
            );
            client.get_payment(&ImpUid::new(&imp_uid)).await.unwrap();
            client.find_payment(&MerchantUid::new(&merchant_uid)).await.unwrap();
            let outcome = client
                .refund(&imp_uid, &neutral_refund(request.unwrap()))
                .await
                .unwrap();
            assert_eq!(outcome.status, RefundStatus::Succeeded, "{file}");
            assert!(outcome.refunded_amount > 0, "{file}");
            assert_eq!(outcome.cancellation_id, None, "{file}");
        }
    }
}

#[cfg(feature = "portone-v2")]
mod portone_v2 {
    use super::*;
    use futures::StreamExt as _;
    use kr_payments::portone_v2::payment::{
        GetAllPaymentsByCursorBody, PaymentFilterInput, PaymentStatus, cancel_outcome, refunded_by,
    };
    use kr_payments::portone_v2::webhook::{Secret, Verifier, sign};
    use kr_payments::portone_v2::{Client, Payment, PaymentExt};
    use kr_payments::refund::{Refund, RefundStatus, Refunds};
    use kr_payments::transport::RetryPolicy;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const STORE: &str = "store-doc-0001";

    fn client(server: &MockServer) -> Client {
        Client::builder()
            .secret("portone-documented-answers-secret")
            .store_id(STORE)
            .base_url(server.uri())
            .retry(RetryPolicy::Never)
            .build()
            .unwrap()
    }

    fn answer(body: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
    }

    struct PaymentCase {
        file: &'static str,
        status: PaymentStatus,
        paid: i64,
        cancelled: i64,
        cancellable: i64,
        cancelled_total: i64,
    }

    fn payment_cases() -> Vec<PaymentCase> {
        let case = |file, status, paid, cancelled, cancellable, cancelled_total| PaymentCase {
            file,
            status,
            paid,
            cancelled,
            cancellable,
            cancelled_total,
        };
        vec![
            case(
                "payment_partial_cancelled",
                PaymentStatus::PartialCancelled,
                40_000,
                20_000,
                20_000,
                20_000,
            ),
            case("payment_paid", PaymentStatus::Paid, 19_800, 0, 19_800, 0),
            // A failed cancellation before the one that went through: only the second is counted.
            case("payment_cancelled", PaymentStatus::Cancelled, 25_000, 25_000, 0, 25_000),
            case("payment_minimal", PaymentStatus::Paid, 5_000, 0, 5_000, 0),
            // The REQUESTED cancellation is not counted yet.
            case(
                "payment_maximal",
                PaymentStatus::PartialCancelled,
                120_000,
                30_000,
                90_000,
                30_000,
            ),
        ]
    }

    fn check(case: &PaymentCase, body: &str, p: &Payment, via: &str) {
        let at = format!("{} via {via}", case.file);
        assert_eq!(p.status(), case.status, "{at}");
        assert_eq!(p.paid_amount(), Some(case.paid), "{at}");
        assert_eq!(p.cancelled_amount(), Some(case.cancelled), "{at}");
        assert_eq!(p.cancellable_amount(), Some(case.cancellable), "{at}");
        assert_eq!(p.cancelled_total(), case.cancelled_total, "{at}");
        assert_eq!(p.json().expose(), body, "{at}: the JSON is kept byte for byte");
        assert_eq!(serde_json::to_string(p).unwrap(), body, "{at}");
        assert!(
            !format!("{p:?}").contains("\"transactionId\""),
            "{at}: Debug prints the typed part only"
        );
    }

    #[tokio::test]
    async fn portone_v2_documented_payments_decode_through_every_path() {
        let server = MockServer::start().await;
        let client = client(&server);
        let cases = payment_cases();
        let bodies: Vec<String> = cases.iter().map(|c| text("portone_v2", c.file)).collect();
        let listing = format!(
            r#"{{"items":[{}],"page":{{"number":0,"size":{n},"totalCount":{n}}}}}"#,
            bodies.join(","),
            n = bodies.len()
        );
        Mock::given(method("GET"))
            .and(path("/payments"))
            .respond_with(answer(&listing))
            .mount(&server)
            .await;
        let cursor_items: Vec<String> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| format!(r#"{{"payment":{b},"cursor":"c{i}"}}"#))
            .collect();
        let by_cursor = format!(r#"{{"items":[{}]}}"#, cursor_items.join(","));
        let last_cursor = format!("c{}", bodies.len() - 1);
        // The first page answers everything; the page after the last cursor is empty.
        Mock::given(method("GET"))
            .and(path("/payments-by-cursor"))
            .and(move |r: &wiremock::Request| r.url.query().is_some_and(|q| q.contains(&last_cursor)))
            .respond_with(answer(r#"{"items":[]}"#))
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/payments-by-cursor"))
            .respond_with(answer(&by_cursor))
            .mount(&server)
            .await;

        let listed: Vec<Payment> = client
            .payments(PaymentFilterInput::default())
            .stream()
            .map(|p| p.unwrap())
            .collect()
            .await;
        let cursored: Vec<_> = client
            .payments_by_cursor(GetAllPaymentsByCursorBody::default())
            .stream()
            .map(|p| p.unwrap())
            .collect()
            .await;
        assert_eq!((listed.len(), cursored.len()), (cases.len(), cases.len()));

        let secret = Secret::from_bytes(b"documented-answers-webhook-secret".to_vec());
        let verifier = Verifier::new(secret.clone());
        let mut paths = 0;
        for (i, (case, body)) in cases.iter().zip(&bodies).enumerate() {
            let id = serde_json::from_str::<Value>(body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            Mock::given(method("GET"))
                .and(path(format!("/payments/{id}")))
                .respond_with(answer(body))
                .mount(&server)
                .await;
            let mut seen = 0;

            let p = client
                .get_payment(&kr_payments::portone_v2::PaymentId::new(id.clone()))
                .await
                .unwrap();
            check(case, body, &p, "get_payment");
            seen += 1;

            check(case, body, &listed[i], "payments");
            seen += 1;

            check(case, body, &cursored[i].payment, "payments_by_cursor");
            assert_eq!(cursored[i].cursor, format!("c{i}"));
            seen += 1;

            let event = serde_json::json!({
                "type": "Transaction.Paid",
                "timestamp": "2024-07-10T00:00:00Z",
                "data": { "storeId": STORE, "paymentId": id, "transactionId": "tx-doc" }
            })
            .to_string();
            let now = chrono::Utc::now().timestamp();
            let headers: http::HeaderMap = [
                ("webhook-id", "msg_doc".to_string()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", sign(&secret, "msg_doc", now, event.as_bytes())),
            ]
            .into_iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_str(&v).unwrap(),
                )
            })
            .collect();
            let event = verifier.verify(event.as_bytes(), &headers).unwrap();
            let p = client
                .get_payment(&kr_payments::portone_v2::PaymentId::new(event.payment_id().unwrap()))
                .await
                .unwrap();
            check(case, body, &p, "webhook re-fetch");
            seen += 1;

            paths = seen;
        }
        report(cases.len(), paths, "portone_v2 payments");
    }

    struct CancelCase {
        file: &'static str,
        outcome: RefundStatus,
        refunded: i64,
    }

    #[tokio::test]
    async fn portone_v2_documented_cancellations_decode_through_every_path() {
        use RefundStatus::*;
        let cases = [
            CancelCase {
                file: "cancel_succeeded",
                outcome: Succeeded,
                refunded: 3_000,
            },
            CancelCase {
                file: "cancel_requested",
                outcome: Requested,
                refunded: 0,
            },
            CancelCase {
                file: "cancel_failed",
                outcome: Failed,
                refunded: 0,
            },
            CancelCase {
                file: "cancel_minimal",
                outcome: Succeeded,
                refunded: 10_000,
            },
            CancelCase {
                file: "cancel_maximal",
                outcome: Succeeded,
                refunded: 10_000,
            },
            CancelCase {
                file: "cancel_unrecognized",
                outcome: Unrecognized("PENDING_REVIEW".into()),
                refunded: 0,
            },
        ];
        let server = MockServer::start().await;
        let client = client(&server);
        let view_text = text("portone_v2", "payment_partial_cancelled");
        let view_before: Payment = serde_json::from_str(&view_text).unwrap();
        let mut paths = 0;
        for (i, case) in cases.iter().enumerate() {
            let body = text("portone_v2", case.file);
            let id = format!("doc-cancel-{i}");
            Mock::given(method("POST"))
                .and(path(format!("/payments/{id}/cancel")))
                .respond_with(answer(&body))
                .mount(&server)
                .await;
            let mut seen = 0;

            let outcome = client
                .cancel_payment(kr_payments::portone_v2::PaymentId::new(&id), "documented answer")
                .send()
                .await
                .unwrap();
            assert_eq!(cancel_outcome(&outcome), case.outcome, "{}: cancel reply", case.file);
            assert_eq!(refunded_by(&outcome), case.refunded, "{}: cancel reply", case.file);
            seen += 1;

            let neutral = client.refund(&id, &Refund::full("documented answer")).await.unwrap();
            assert_eq!(neutral.status, case.outcome, "{}: neutral refund", case.file);
            assert_eq!(neutral.refunded_amount, case.refunded, "{}: neutral refund", case.file);
            assert_eq!(
                neutral.raw.value(),
                serde_json::from_str::<Value>(&raw_field(&body, "cancellation")).unwrap(),
                "{}: the cancellation as sent",
                case.file
            );
            // One rule: the same entry inside a payment moves the view's total by the neutral outcome's amount.
            let mut with_entry: Value = serde_json::from_str(&view_text).unwrap();
            let entry: Value = serde_json::from_str(&raw_field(&body, "cancellation")).unwrap();
            with_entry["cancellations"].as_array_mut().unwrap().push(entry);
            let view_after: Payment = serde_json::from_value(with_entry).unwrap();
            assert_eq!(
                view_after.cancelled_total() - view_before.cancelled_total(),
                neutral.refunded_amount,
                "{}: cancelled_total() and the neutral outcome agree",
                case.file
            );
            seen += 1;

            paths = seen;
        }
        report(cases.len(), paths, "portone_v2 cancellations");
    }
}
