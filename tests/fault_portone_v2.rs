//! PortOne V2 under faults, over loopback: every case checks the typed result, the number of attempts, and — by
//! the sandbox's own ledger — that no more than one refund was applied.
#![cfg(feature = "sandbox")]

mod fault_support;

use fault_support::{
    Action, FaultProxy, RefuseFirst, STALL, TIMEOUT, quick, recording, sandbox_hits, with_unknown_fields,
};
use kr_payments::Error;
use kr_payments::error::TransportErrorKind;
use kr_payments::portone_v2::{CancelOutcome, CancelPaymentError, Client, PaymentExt};
use kr_payments::sandbox::{DEFAULT_PORTONE_SECRET, Fault, FaultRule, Sandbox, SeedPayment};
use kr_payments::transport::RetryPolicy;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const ORDER: &str = "order-fault-1";

async fn sandbox() -> Sandbox {
    let sb = Sandbox::start().await.unwrap();
    sb.seed(SeedPayment::card(ORDER, 10_000));
    sb
}

fn client(base: &str) -> Client {
    client_with(base, quick())
}

fn client_with(base: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .secret(DEFAULT_PORTONE_SECRET)
        .base_url(base)
        .timeout(Duration::from_secs(5))
        .retry(retry)
        .build()
        .unwrap()
}

fn on_cancel(fault: Fault) -> FaultRule {
    FaultRule::new(fault).method(Method::POST).path_contains("/cancel")
}

fn on_lookup(fault: Fault) -> FaultRule {
    FaultRule::new(fault).method(Method::GET).path_contains("/payments/")
}

async fn proxied(sb: &Sandbox) -> (FaultProxy, Client) {
    let proxy = FaultProxy::start(sb.base_url()).await;
    let client = client(&format!("{}/portone-v2", proxy.base_url()));
    (proxy, client)
}

fn succeeded(outcome: &CancelOutcome) -> i64 {
    match outcome {
        CancelOutcome::Succeeded(c) => c.total_amount,
        other => panic!("expected a succeeded cancel, got {other:?}"),
    }
}

// ---- 500 / 502 -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_500_on_a_guarded_cancel_is_retried_and_refunds_once() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::Status(500)));
    let outcome = client(&sb.base_url_portone_v2())
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    assert!(
        outcome.is_reconciled(),
        "a 500 may follow an applied cancel: the answer came to the same key sent again"
    );
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
    assert_eq!(sb.balance(ORDER), Some(7_000));
}

#[tokio::test]
async fn http_500_on_an_unguarded_cancel_is_retried_with_its_idempotency_key() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::StatusAfterApply(500)));
    let outcome = client(&sb.base_url_portone_v2())
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 10_000);
    assert!(outcome.is_reconciled());
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(
        sb.cancels_applied(ORDER),
        1,
        "the key made the replay return the first answer"
    );
}

#[tokio::test]
async fn a_500_that_outlasts_the_retries_is_an_outcome_unknown() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::StatusAfterApply(500)).times(3));
    let err = client(&sb.base_url_portone_v2())
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(matches!(err.api(), Some(e) if e.is_unrecognized()), "{err:?}");
    assert!(
        err.outcome_unknown(),
        "a 500 is not PortOne's word that nothing happened"
    );
    assert!(err.to_string().contains("outcome is unknown"), "{err}");
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 3);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn an_html_502_page_on_a_guarded_cancel_is_retried() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 1, Action::html(502));
    let outcome = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    assert_eq!(proxy.hits("POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn an_html_502_page_that_outlasts_the_retries_is_a_decode_error_whose_outcome_is_unknown() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 3, Action::html(502));
    let err = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .send()
        .await
        .unwrap_err();
    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.status, 502);
    assert!(d.body.starts_with(b"<html>"), "the raw page is kept");
    assert!(err.is_retryable());
    assert!(err.outcome_unknown());
    assert_eq!(proxy.hits("POST", "/cancel"), 3);
    assert_eq!(sb.cancels_applied(ORDER), 0);
}

// ---- 503 / 429 and Retry-After ---------------------------------------------------------------------------------

#[tokio::test]
async fn http_503_with_retry_after_waits_what_the_server_asked() {
    let sb = sandbox().await;
    let proxy = FaultProxy::start(sb.base_url()).await;
    let (policy, decisions) = recording(quick());
    let client = client_with(&format!("{}/portone-v2", proxy.base_url()), policy);
    proxy.on(
        "POST",
        "/cancel",
        1,
        Action::retry_after(503, "1", json!({"type": "UNAVAILABLE", "message": "maintenance"})),
    );
    let outcome = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    let decisions = decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].status, Some(503));
    assert_eq!(decisions[0].retry_after, Some(Duration::from_secs(1)));
    assert_eq!(
        decisions[0].delay,
        Some(Duration::from_secs(1)),
        "Retry-After, not the backoff"
    );
    assert_eq!(proxy.hits("POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn http_429_with_retry_after_zero_is_retried_at_once_until_it_passes() {
    let sb = sandbox().await;
    let proxy = FaultProxy::start(sb.base_url()).await;
    let (policy, decisions) = recording(quick());
    let client = client_with(&format!("{}/portone-v2", proxy.base_url()), policy);
    proxy.on(
        "POST",
        "/cancel",
        2,
        Action::retry_after(429, "0", json!({"type": "TOO_MANY_REQUESTS", "message": "slow down"})),
    );
    let outcome = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    let delays: Vec<_> = decisions.lock().unwrap().iter().map(|d| d.delay).collect();
    assert_eq!(delays, vec![Some(Duration::ZERO), Some(Duration::ZERO)]);
    assert_eq!(proxy.hits("POST", "/cancel"), 3);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_not_waited_for() {
    let sb = sandbox().await;
    let proxy = FaultProxy::start(sb.base_url()).await;
    let (policy, decisions) = recording(quick());
    let client = client_with(&format!("{}/portone-v2", proxy.base_url()), policy);
    proxy.on(
        "POST",
        "/cancel",
        1,
        Action::retry_after(429, "120", json!({"type": "TOO_MANY_REQUESTS", "message": "slow down"})),
    );
    let err = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    let decisions = decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].retry_after, Some(Duration::from_secs(120)));
    assert_eq!(decisions[0].delay, None);
    assert_eq!(proxy.hits("POST", "/cancel"), 1);
    assert_eq!(sb.cancels_applied(ORDER), 0);
}

#[tokio::test]
async fn a_lookup_answered_503_with_retry_after_is_retried() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "GET",
        "/payments/",
        1,
        Action::retry_after(503, "0", json!({"type": "UNAVAILABLE"})),
    );
    let payment = client
        .get_payment(&kr_payments::portone_v2::PaymentId::new(ORDER))
        .await
        .unwrap();
    assert_eq!(payment.cancellable_amount(), Some(10_000));
    assert_eq!(proxy.hits("GET", "/payments/"), 2);
}

// ---- connections that fail before or after the request is sent -------------------------------------------------

#[tokio::test]
async fn a_refused_connection_is_retried_even_for_an_unguarded_cancel() {
    let sb = sandbox().await;
    let refuse = RefuseFirst::new(sb.base_url());
    let client = client_with(&format!("{}/portone-v2", refuse.base_url), refuse.policy.clone());
    let outcome = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 10_000);
    let decisions = refuse.decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1, "one failed attempt, then success");
    assert_eq!(decisions[0].failure, Some(TransportErrorKind::Connect));
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 1);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_reset_before_forwarding_is_retried_for_a_guarded_cancel() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 1, Action::ResetBeforeForward);
    let outcome = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    assert!(outcome.is_reconciled(), "the first attempt's outcome was unknown");
    assert_eq!(proxy.hits("POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_reset_on_an_unguarded_cancel_is_retried_with_its_idempotency_key() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 1, Action::ResetBeforeForward);
    let outcome = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 10_000);
    assert_eq!(proxy.hits("POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_reset_with_retries_off_is_an_outcome_unknown_that_keeps_the_key() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 1, Action::ForwardThenReset);
    let cancel = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .retry(RetryPolicy::Never);
    let key = cancel.key().to_string();
    let err = cancel.send().await.unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("expected a transport error, got {err:?}")
    };
    assert_eq!(t.attempts, 1);
    assert!(
        t.outcome_unknown(),
        "the client cannot know whether the request arrived"
    );
    assert!(!err.nothing_sent());
    assert_eq!(sb.cancels_applied(ORDER), 1);
    // The same cancel sent later with the same key learns the first one's outcome and refunds nothing more.
    let again = client
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .idempotency_key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&again), 10_000);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_a_partial_cancel_was_applied_is_reconciled() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::DropConnection));
    let outcome = client(&sb.base_url_portone_v2())
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    assert!(
        outcome.is_reconciled(),
        "the replay with the same key got the first attempt's answer"
    );
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(
        sandbox_hits(&sb, "GET", "/payments/"),
        0,
        "the key answered: no need to read the payment"
    );
    assert_eq!(sb.cancels_applied(ORDER), 1);
    assert_eq!(sb.balance(ORDER), Some(7_000));
}

#[tokio::test]
async fn a_connection_dropped_after_a_guarded_full_cancel_was_applied_is_reconciled() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::DropConnection));
    let outcome = client(&sb.base_url_portone_v2())
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .current_cancellable_amount(10_000)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 10_000);
    assert!(
        outcome.is_reconciled(),
        "the key's answer was the first attempt's success"
    );
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_an_unguarded_cancel_learns_its_outcome_from_the_key() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::DropConnection));
    let outcome = client(&sb.base_url_portone_v2())
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 10_000);
    assert!(outcome.is_reconciled());
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(
        sb.cancels_applied(ORDER),
        1,
        "the sandbox applied it before dropping the connection, and only then"
    );
}

// ---- stalls past the timeout -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_guarded_cancel_that_stalls_past_the_timeout_is_reconciled() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::Delay(STALL)));
    let (policy, decisions) = recording(quick());
    let outcome = client_with(&sb.base_url_portone_v2(), policy)
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    assert!(outcome.is_reconciled());
    assert_eq!(decisions.lock().unwrap()[0].failure, Some(TransportErrorKind::Timeout));
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn an_unguarded_cancel_that_stalls_past_its_first_attempt_learns_its_outcome_within_the_deadline() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::Delay(STALL)));
    let started = std::time::Instant::now();
    let outcome = client(&sb.base_url_portone_v2())
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 10_000);
    assert!(outcome.is_reconciled());
    assert!(started.elapsed() < STALL, "the deadline holds for the whole call");
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_cancel_that_stalls_on_every_attempt_ends_by_its_deadline_as_unknown() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::Delay(STALL)).times(10));
    let started = std::time::Instant::now();
    let err = client(&sb.base_url_portone_v2())
        .full_cancel(kr_payments::portone_v2::PaymentId::new(ORDER), "changed mind")
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.outcome_unknown());
    assert!(elapsed < TIMEOUT + Duration::from_millis(500), "took {elapsed:?}");
    assert_eq!(sb.cancels_applied(ORDER), 1, "the key kept the attempts to one refund");
}

#[tokio::test]
async fn a_lookup_that_stalls_past_the_timeout_is_retried() {
    let sb = sandbox().await;
    sb.faults().add(on_lookup(Fault::Delay(STALL)));
    let payment = client(&sb.base_url_portone_v2())
        .get_payment(&kr_payments::portone_v2::PaymentId::new(ORDER))
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(payment.paid_amount(), Some(10_000));
    assert_eq!(sandbox_hits(&sb, "GET", "/payments/"), 2);
}

// ---- bodies: truncated, empty, unknown fields and values --------------------------------------------------------

#[tokio::test]
async fn a_truncated_answer_to_a_guarded_cancel_is_reconciled() {
    let sb = sandbox().await;
    sb.faults().add(on_cancel(Fault::TruncatedBody));
    let outcome = client(&sb.base_url_portone_v2())
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    assert!(outcome.is_reconciled());
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 2);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn a_truncated_lookup_is_retried() {
    let sb = sandbox().await;
    sb.faults().add(on_lookup(Fault::TruncatedBody));
    let payment = client(&sb.base_url_portone_v2())
        .get_payment(&kr_payments::portone_v2::PaymentId::new(ORDER))
        .send()
        .await
        .unwrap();
    assert_eq!(payment.paid_amount(), Some(10_000));
    assert_eq!(sandbox_hits(&sb, "GET", "/payments/"), 2);
}

#[tokio::test]
async fn an_empty_200_answer_to_a_cancel_is_a_decode_error_and_not_replayed() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "POST",
        "/cancel",
        1,
        Action::ForwardThenRespond {
            status: 200,
            headers: vec![],
            body: vec![],
        },
    );
    let err = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap_err();
    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.status, 200);
    assert!(d.body.is_empty());
    assert!(err.outcome_unknown(), "an unreadable success may have refunded");
    assert_eq!(proxy.hits("POST", "/cancel"), 1, "a 200 is an answer: nothing to retry");
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

#[tokio::test]
async fn an_empty_503_on_a_lookup_is_retried() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "GET",
        "/payments/",
        1,
        Action::Respond {
            status: 503,
            headers: vec![],
            body: vec![],
        },
    );
    let payment = client
        .get_payment(&kr_payments::portone_v2::PaymentId::new(ORDER))
        .await
        .unwrap();
    assert_eq!(payment.paid_amount(), Some(10_000));
    assert_eq!(proxy.hits("GET", "/payments/"), 2);
}

#[tokio::test]
async fn unknown_fields_everywhere_are_ignored() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 1, Action::ForwardMapJson(with_unknown_fields));
    proxy.on("GET", "/payments/", 1, Action::ForwardMapJson(with_unknown_fields));
    let outcome = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    let payment = client
        .get_payment(&kr_payments::portone_v2::PaymentId::new(ORDER))
        .await
        .unwrap();
    assert_eq!(payment.cancellable_amount(), Some(7_000));
    assert_eq!(payment.cancellations().len(), 1);
    assert_eq!(proxy.hits("POST", "/cancel"), 1);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

fn future_cancellation_status(mut v: Value) -> Value {
    v["cancellation"]["status"] = json!("SETTLED_LATER");
    v
}

fn future_payment_status(mut v: Value) -> Value {
    v["status"] = json!("ARCHIVED");
    v
}

#[tokio::test]
async fn unknown_enum_values_are_kept_not_failed() {
    let sb = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 1, Action::ForwardMapJson(future_cancellation_status));
    proxy.on("GET", "/payments/", 1, Action::ForwardMapJson(future_payment_status));
    let outcome = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert!(matches!(outcome, CancelOutcome::Unrecognized(_)), "{outcome:?}");
    assert_eq!(outcome.status(), "SETTLED_LATER");
    assert!(
        !outcome.is_succeeded(),
        "an unknown status is never taken for a success"
    );
    assert_eq!(outcome.cancellation().map(|c| c.total_amount), Some(3_000));
    let payment = client
        .get_payment(&kr_payments::portone_v2::PaymentId::new(ORDER))
        .await
        .unwrap();
    assert_eq!(payment.status().as_str(), "ARCHIVED");
    assert_eq!(
        payment.cancellable_amount(),
        Some(7_000),
        "amounts still read from the raw JSON"
    );
    assert_eq!(proxy.hits("POST", "/cancel"), 1);
    assert_eq!(sb.cancels_applied(ORDER), 1);
}

// ---- reconciliation does not invent successes -------------------------------------------------------------------

#[tokio::test]
async fn a_refusal_after_an_unknown_attempt_stays_an_error_when_the_payment_does_not_show_our_cancel() {
    let sb = sandbox().await;
    // Someone else refunds 1,000 first: our stated balance of 10,000 is stale.
    let other = client(&sb.base_url_portone_v2())
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            1_000,
            10_000,
            "another refund",
        )
        .send()
        .await
        .unwrap();
    assert!(other.is_succeeded());
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", "/cancel", 1, Action::ResetBeforeForward);
    let err = client
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.api(),
            Some(CancelPaymentError::CancellableAmountConsistencyBroken { .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(409));
    assert_eq!(
        err.delivery(),
        kr_payments::error::Delivery::Refused,
        "the payment shows no cancel of this request: the refusal stands"
    );
    assert_eq!(proxy.hits("POST", "/cancel"), 2);
    assert!(
        proxy.hits("GET", "/payments/") >= 1,
        "the payment was read before giving up"
    );
    assert_eq!(sb.cancels_applied(ORDER), 1, "only the other refund");
    assert_eq!(sb.balance(ORDER), Some(9_000));
}

#[tokio::test]
async fn never_more_than_one_refund_whatever_the_retries() {
    let sb = sandbox().await;
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
    let outcome = client_with(&sb.base_url_portone_v2(), policy)
        .partial_cancel(
            kr_payments::portone_v2::PaymentId::new(ORDER),
            3_000,
            10_000,
            "one item returned",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded(&outcome), 3_000);
    assert!(outcome.is_reconciled());
    assert_eq!(sandbox_hits(&sb, "POST", "/cancel"), 5);
    assert_eq!(sb.cancels_applied(ORDER), 1);
    assert_eq!(sb.balance(ORDER), Some(7_000));
}
