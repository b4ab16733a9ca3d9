//! iamport under faults, over loopback: every case checks the typed result, the number of attempts, and — by the
//! sandbox's own ledger — that no more than one refund was applied.
#![cfg(feature = "sandbox")]

mod fault_support;

use fault_support::{
    Action, FaultProxy, RefuseFirst, STALL, TIMEOUT, quick, recording, sandbox_hits, with_unknown_fields,
};
use kr_payments::Error;
use kr_payments::error::TransportErrorKind;
use kr_payments::iamport::{Client, ImpUid, PaymentStatus};
use kr_payments::sandbox::{DEFAULT_IMP_KEY, DEFAULT_IMP_SECRET, Fault, FaultRule, Provider, Sandbox, SeedPayment};
use kr_payments::transport::RetryPolicy;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const CANCEL: &str = "/payments/cancel";
const LOOKUP: &str = "/payments/imp_";

async fn sandbox() -> (Sandbox, ImpUid) {
    let sb = Sandbox::start().await.unwrap();
    let id = sb.seed(SeedPayment::card("order-fault-1", 10_000).provider(Provider::Iamport));
    (sb, ImpUid::new(id))
}

fn client(base: &str) -> Client {
    client_with(base, quick())
}

fn client_with(base: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .imp_key(DEFAULT_IMP_KEY)
        .imp_secret(DEFAULT_IMP_SECRET)
        .base_url(base)
        .timeout(Duration::from_secs(5))
        .retry(retry)
        .build()
        .unwrap()
}

fn on_cancel(fault: Fault) -> FaultRule {
    FaultRule::new(fault).method(Method::POST).path_contains(CANCEL)
}

fn on_lookup(fault: Fault) -> FaultRule {
    FaultRule::new(fault).method(Method::GET).path_contains(LOOKUP)
}

async fn proxied(sb: &Sandbox) -> (FaultProxy, Client) {
    let proxy = FaultProxy::start(sb.base_url()).await;
    let client = client(&format!("{}/iamport", proxy.base_url()));
    (proxy, client)
}

// ---- 500 / 502 -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_500_on_a_checksum_guarded_cancel_is_retried_and_refunds_once() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Status(500)));
    let done = client(&sb.base_url_iamport())
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send_with_warnings()
        .await
        .unwrap();
    assert_eq!(done.payment.cancellable_balance(), Some(7_000));
    assert!(!done.reconciled);
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn http_500_on_a_cancel_without_checksum_is_not_retried() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Status(500)));
    let err = client(&sb.base_url_iamport())
        .full_cancel(id.clone(), "changed mind")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.api().map(|e| e.code), Some(-1));
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 0);
}

#[tokio::test]
async fn an_html_502_page_on_a_guarded_cancel_is_retried() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::html(502));
    let payment = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send()
        .await
        .unwrap();
    assert_eq!(payment.cancellable_balance(), Some(7_000));
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn an_html_502_page_on_a_cancel_without_checksum_is_a_decode_error_after_one_attempt() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::html(502));
    let err = client.full_cancel(id.clone(), "changed mind").send().await.unwrap_err();
    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.status, 502);
    assert!(err.is_retryable());
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 0);
}

// ---- 503 / 429 and Retry-After ---------------------------------------------------------------------------------

#[tokio::test]
async fn http_503_with_retry_after_waits_what_the_server_asked() {
    let (sb, id) = sandbox().await;
    let proxy = FaultProxy::start(sb.base_url()).await;
    let (policy, decisions) = recording(quick());
    let client = client_with(&format!("{}/iamport", proxy.base_url()), policy);
    proxy.on(
        "POST",
        CANCEL,
        1,
        Action::retry_after(
            503,
            "1",
            json!({"code": -1, "message": "maintenance", "response": null}),
        ),
    );
    let payment = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send()
        .await
        .unwrap();
    assert_eq!(payment.cancellable_balance(), Some(7_000));
    let decisions = decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].status, Some(503));
    assert_eq!(decisions[0].delay, Some(Duration::from_secs(1)));
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn http_429_with_retry_after_as_an_http_date_in_the_past_is_retried_at_once() {
    let (sb, id) = sandbox().await;
    let proxy = FaultProxy::start(sb.base_url()).await;
    let (policy, decisions) = recording(quick());
    let client = client_with(&format!("{}/iamport", proxy.base_url()), policy);
    proxy.on(
        "POST",
        CANCEL,
        1,
        Action::retry_after(
            429,
            "Wed, 21 Oct 2015 07:28:00 GMT",
            json!({"code": -1, "message": "slow down", "response": null}),
        ),
    );
    let payment = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send()
        .await
        .unwrap();
    assert_eq!(payment.cancellable_balance(), Some(7_000));
    let decisions = decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].retry_after, Some(Duration::ZERO));
    assert_eq!(decisions[0].delay, Some(Duration::ZERO));
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn http_429_on_a_cancel_without_checksum_is_not_retried() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "POST",
        CANCEL,
        1,
        Action::retry_after(429, "0", json!({"code": -1, "message": "slow down", "response": null})),
    );
    let err = client.full_cancel(id.clone(), "changed mind").send().await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 0);
}

// ---- connections that fail before or after the request is sent -------------------------------------------------

#[tokio::test]
async fn a_refused_connection_is_retried_even_before_a_cancel_without_checksum() {
    let (sb, id) = sandbox().await;
    let refuse = RefuseFirst::new(sb.base_url());
    let client = client_with(&format!("{}/iamport", refuse.base_url), refuse.policy.clone());
    // The first connection is the token request's; it could not be sent, so it is sent again.
    let payment = client.full_cancel(id.clone(), "changed mind").send().await.unwrap();
    assert!(payment.is_fully_cancelled());
    let decisions = refuse.decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].failure, Some(TransportErrorKind::Connect));
    assert_eq!(sb.token_requests(), 1);
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn a_reset_before_forwarding_is_retried_for_a_guarded_cancel() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ResetBeforeForward);
    let done = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send_with_warnings()
        .await
        .unwrap();
    assert_eq!(done.payment.cancellable_balance(), Some(7_000));
    assert!(!done.reconciled);
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn a_reset_on_a_cancel_without_checksum_is_not_retried_and_says_why() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ResetBeforeForward);
    let err = client.full_cancel(id.clone(), "changed mind").send().await.unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("expected a transport error, got {err:?}")
    };
    assert_eq!(t.attempts, 1);
    assert!(t.retry_refused.is_some_and(|why| why.contains("checksum")), "{t:?}");
    assert!(t.outcome_unknown());
    assert!(!err.nothing_sent());
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 0);
}

#[tokio::test]
async fn a_connection_dropped_after_a_partial_cancel_was_applied_is_reconciled() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::DropConnection));
    let done = client(&sb.base_url_iamport())
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send_with_warnings()
        .await
        .unwrap();
    assert!(
        done.reconciled,
        "the replay's checksum was refused; the payment showed the cancel"
    );
    assert_eq!(done.payment.cancellable_balance(), Some(7_000));
    assert_eq!(done.payment.latest_cancellation().and_then(|c| c.amount), Some(3_000));
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert!(sandbox_hits(&sb, "GET", LOOKUP) >= 1, "the payment was read again");
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_a_guarded_full_cancel_was_applied_is_reconciled() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::DropConnection));
    let done = client(&sb.base_url_iamport())
        .full_cancel(id.clone(), "changed mind")
        .checksum(10_000)
        .send_with_warnings()
        .await
        .unwrap();
    assert!(done.reconciled, "'already cancelled' was the first attempt's success");
    assert!(done.payment.is_fully_cancelled());
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_a_cancel_without_checksum_is_reported_unknown_not_retried() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::DropConnection));
    let err = client(&sb.base_url_iamport())
        .full_cancel(id.clone(), "changed mind")
        .send()
        .await
        .unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("expected a transport error, got {err:?}")
    };
    assert_eq!(t.attempts, 1);
    assert!(t.retry_refused.is_some());
    assert!(t.outcome_unknown());
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 1);
    assert_eq!(
        sb.cancels_applied(id.as_str()),
        1,
        "the sandbox applied it before dropping the connection"
    );
}

// ---- stalls past the timeout -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_guarded_cancel_that_stalls_past_the_timeout_is_reconciled() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Delay(STALL)));
    let (policy, decisions) = recording(quick());
    let done = client_with(&sb.base_url_iamport(), policy)
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .timeout(TIMEOUT)
        .send_with_warnings()
        .await
        .unwrap();
    assert!(done.reconciled);
    assert_eq!(done.payment.cancellable_balance(), Some(7_000));
    assert_eq!(decisions.lock().unwrap()[0].failure, Some(TransportErrorKind::Timeout));
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn a_cancel_without_checksum_that_stalls_past_the_timeout_is_not_retried() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Delay(STALL)));
    let err = client(&sb.base_url_iamport())
        .full_cancel(id.clone(), "changed mind")
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let Error::Transport(t) = &err else { unreachable!() };
    assert_eq!(t.attempts, 1);
    assert!(t.retry_refused.is_some());
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 1);
    assert!(sb.cancels_applied(id.as_str()) <= 1);
}

#[tokio::test]
async fn a_lookup_that_stalls_past_the_timeout_is_retried() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_lookup(Fault::Delay(STALL)));
    let payment = client(&sb.base_url_iamport())
        .get_payment(&id)
        .timeout(TIMEOUT)
        .await
        .unwrap();
    assert_eq!(payment.amount, Some(10_000));
    assert_eq!(sandbox_hits(&sb, "GET", LOOKUP), 2);
}

// ---- bodies: truncated, empty, unknown fields and values --------------------------------------------------------

#[tokio::test]
async fn a_truncated_answer_to_a_guarded_cancel_is_reconciled() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_cancel(Fault::TruncatedBody));
    let done = client(&sb.base_url_iamport())
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send_with_warnings()
        .await
        .unwrap();
    assert!(done.reconciled);
    assert_eq!(done.payment.cancellable_balance(), Some(7_000));
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn a_truncated_lookup_is_retried() {
    let (sb, id) = sandbox().await;
    sb.faults().add(on_lookup(Fault::TruncatedBody));
    let payment = client(&sb.base_url_iamport()).get_payment(&id).await.unwrap();
    assert_eq!(payment.amount, Some(10_000));
    assert_eq!(sandbox_hits(&sb, "GET", LOOKUP), 2);
}

#[tokio::test]
async fn an_empty_200_answer_to_a_guarded_cancel_is_settled_by_reading_the_payment() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "POST",
        CANCEL,
        1,
        Action::ForwardThenRespond {
            status: 200,
            headers: vec![],
            body: vec![],
        },
    );
    let done = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send_with_warnings()
        .await
        .unwrap();
    assert!(done.reconciled, "the payment showed the step from the checksum");
    assert_eq!(done.entry().and_then(|e| e.amount), Some(3_000));
    assert_eq!(proxy.hits("POST", CANCEL), 1, "a 200 is an answer: nothing to retry");
    assert!(proxy.hits("GET", LOOKUP) >= 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn an_empty_200_answer_to_a_cancel_without_checksum_is_an_outcome_unknown() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "POST",
        CANCEL,
        1,
        Action::ForwardThenRespond {
            status: 200,
            headers: vec![],
            body: vec![],
        },
    );
    let err = client
        .cancel_payment(id.clone(), "취소")
        .amount(3_000)
        .reason("one item returned")
        .send()
        .await
        .unwrap_err();
    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.status, 200);
    assert!(err.outcome_unknown());
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

#[tokio::test]
async fn an_empty_502_on_a_lookup_is_retried() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "GET",
        LOOKUP,
        1,
        Action::Respond {
            status: 502,
            headers: vec![],
            body: vec![],
        },
    );
    let payment = client.get_payment(&id).await.unwrap();
    assert_eq!(payment.amount, Some(10_000));
    assert_eq!(proxy.hits("GET", LOOKUP), 2);
}

#[tokio::test]
async fn unknown_fields_everywhere_are_ignored() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ForwardMapJson(with_unknown_fields));
    proxy.on("GET", LOOKUP, 1, Action::ForwardMapJson(with_unknown_fields));
    let payment = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send()
        .await
        .unwrap();
    assert_eq!(payment.cancellable_balance(), Some(7_000));
    let again = client.get_payment(&id).await.unwrap();
    assert_eq!(again.cancel_history_total(), Some(3_000));
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

fn future_values(mut v: Value) -> Value {
    v["response"]["status"] = json!("refund_pending");
    v["response"]["pay_method"] = json!("quantum_wallet");
    v["response"]["channel"] = json!("watch");
    v
}

#[tokio::test]
async fn unknown_enum_values_are_kept_not_failed() {
    let (sb, id) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ForwardMapJson(future_values));
    let payment = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send()
        .await
        .unwrap();
    assert_eq!(
        payment.status,
        Some(PaymentStatus::Unrecognized("refund_pending".into()))
    );
    assert_eq!(payment.pay_method.as_ref().map(|m| m.as_str()), Some("quantum_wallet"));
    assert_eq!(payment.cancellable_balance(), Some(7_000));
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}

// ---- reconciliation does not invent successes -------------------------------------------------------------------

#[tokio::test]
async fn a_refusal_after_an_unknown_attempt_stays_an_error_when_the_payment_does_not_show_our_cancel() {
    let (sb, id) = sandbox().await;
    let other = client(&sb.base_url_iamport())
        .partial_cancel(id.clone(), 1_000, 10_000, "another refund")
        .send()
        .await
        .unwrap();
    assert_eq!(other.cancellable_balance(), Some(9_000));
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ResetBeforeForward);
    let err = client
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send()
        .await
        .unwrap_err();
    let api = err
        .api()
        .unwrap_or_else(|| panic!("expected iamport's refusal, got {err:?}"));
    assert_ne!(api.code, 0);
    assert_eq!(err.status(), Some(200), "iamport refuses with HTTP 200");
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert!(proxy.hits("GET", LOOKUP) >= 1, "the payment was read before giving up");
    assert_eq!(sb.cancels_applied(id.as_str()), 1, "only the other refund");
    assert_eq!(sb.balance(id.as_str()), Some(9_000));
}

#[tokio::test]
async fn never_more_than_one_refund_whatever_the_retries() {
    let (sb, id) = sandbox().await;
    let faults = sb.faults();
    faults.add(on_cancel(Fault::DropConnection));
    faults.add(on_cancel(Fault::Status(502)));
    faults.add(on_cancel(Fault::TruncatedBody));
    faults.add(on_cancel(Fault::DropConnection));
    let policy = RetryPolicy::Safe {
        max_attempts: 6,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    };
    let done = client_with(&sb.base_url_iamport(), policy)
        .partial_cancel(id.clone(), 3_000, 10_000, "one item returned")
        .send_with_warnings()
        .await
        .unwrap();
    assert!(done.reconciled);
    assert_eq!(done.payment.cancellable_balance(), Some(7_000));
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 5);
    assert_eq!(sb.cancels_applied(id.as_str()), 1);
}
