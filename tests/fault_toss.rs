//! Toss under faults, over loopback: every case checks the typed result, the number of attempts, and — by the
//! sandbox's own ledger — that no more than one refund was applied. Every Toss cancel carries an
//! `Idempotency-Key`, so every one of them is safe to retry; the suite checks that the key never changes between
//! attempts, and what happens when Toss no longer knows it.
#![cfg(feature = "sandbox")]

mod fault_support;

use fault_support::{
    Action, FaultProxy, RefuseFirst, STALL, TIMEOUT, quick, recording, sandbox_hits, with_unknown_fields,
};
use kr_payments::Error;
use kr_payments::error::TransportErrorKind;
use kr_payments::sandbox::{DEFAULT_TOSS_SECRET_KEY, Fault, FaultRule, Provider, Sandbox, SeedPayment};
use kr_payments::toss::{CancelPayment, Client, ErrorCode};
use kr_payments::transport::RetryPolicy;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const CANCEL: &str = "/cancel";
const LOOKUP: &str = "/v1/payments/tsbx_";

async fn sandbox() -> (Sandbox, String) {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.seed(SeedPayment::card("order-fault-1", 10_000).provider(Provider::Toss));
    (sb, key)
}

fn client(base: &str) -> Client {
    client_with(base, quick())
}

fn client_with(base: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .secret_key(DEFAULT_TOSS_SECRET_KEY)
        .base_url(base)
        .timeout(Duration::from_secs(5))
        .retry(retry)
        .build()
        .unwrap()
}

/// 3,000 won of a 10,000 won payment, with the balance stated as `refundableAmount`.
fn partial(client: &Client, key: &str) -> CancelPayment {
    client
        .cancel_payment(kr_payments::toss::PaymentKey::new(key), "one item returned")
        .amount(3_000)
        .refundable_amount(10_000)
}

fn on_cancel(fault: Fault) -> FaultRule {
    FaultRule::new(fault).method(Method::POST).path_contains(CANCEL)
}

fn on_lookup(fault: Fault) -> FaultRule {
    FaultRule::new(fault).method(Method::GET).path_contains(LOOKUP)
}

async fn proxied(sb: &Sandbox) -> (FaultProxy, Client) {
    let proxy = FaultProxy::start(sb.base_url()).await;
    let client = client(&format!("{}/toss", proxy.base_url()));
    (proxy, client)
}

// ---- 500 / 502 -------------------------------------------------------------------------------------------------

#[tokio::test]
async fn http_500_on_a_cancel_is_retried_with_the_same_key_and_refunds_once() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Status(500)));
    let c = client(&sb.base_url_toss());
    let done = partial(&c, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    assert_eq!(done.cancel().map(|c| c.cancel_amount), Some(3_000));
    assert!(
        done.reconciled,
        "a 500 may follow an applied cancel: the answer came to the same key"
    );
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn an_html_502_page_is_retried_and_every_attempt_carries_the_same_key() {
    let (sb, key) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 2, Action::html(502));
    let done = partial(&client, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    let keys: Vec<_> = proxy
        .seen("POST", CANCEL)
        .iter()
        .map(|s| s.header("idempotency-key").map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(done.idempotency_key.as_str())),
        "{keys:?}"
    );
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn http_500_on_every_attempt_ends_as_the_api_error_with_the_key_to_resend() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Status(500)).times(3));
    let c = client(&sb.base_url_toss());
    let cancel = partial(&c, &key);
    assert!(
        !cancel.key().is_empty(),
        "the key to resend with is known before sending"
    );
    let err = cancel.send().await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.api().map(|e| &e.code).is_some_and(ErrorCode::is_unrecognized),
        "{err:?}"
    );
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 3);
    assert_eq!(sb.cancels_applied(&key), 0);
}

// ---- 503 / 429 and Retry-After ---------------------------------------------------------------------------------

#[tokio::test]
async fn http_503_with_retry_after_waits_what_the_server_asked() {
    let (sb, key) = sandbox().await;
    let proxy = FaultProxy::start(sb.base_url()).await;
    let (policy, decisions) = recording(quick());
    let client = client_with(&format!("{}/toss", proxy.base_url()), policy);
    proxy.on(
        "POST",
        CANCEL,
        1,
        Action::retry_after(
            503,
            "1",
            json!({"code": "FAILED_INTERNAL_SYSTEM_PROCESSING", "message": "busy"}),
        ),
    );
    let done = partial(&client, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    let decisions = decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].status, Some(503));
    assert_eq!(decisions[0].delay, Some(Duration::from_secs(1)));
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn http_429_with_retry_after_is_retried_within_the_attempt_budget() {
    let (sb, key) = sandbox().await;
    let proxy = FaultProxy::start(sb.base_url()).await;
    let (policy, decisions) = recording(quick());
    let client = client_with(&format!("{}/toss", proxy.base_url()), policy);
    proxy.on(
        "POST",
        CANCEL,
        3,
        Action::retry_after(429, "0", json!({"code": "TOO_MANY_REQUESTS", "message": "slow down"})),
    );
    let err = partial(&client, &key).send().await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    let delays: Vec<_> = decisions.lock().unwrap().iter().map(|d| d.delay).collect();
    assert_eq!(
        delays,
        vec![Some(Duration::ZERO), Some(Duration::ZERO), None],
        "three attempts, then stop"
    );
    assert_eq!(proxy.hits("POST", CANCEL), 3);
    assert_eq!(sb.cancels_applied(&key), 0);
}

// ---- connections that fail before or after the request is sent -------------------------------------------------

#[tokio::test]
async fn a_refused_connection_is_retried() {
    let (sb, key) = sandbox().await;
    let refuse = RefuseFirst::new(sb.base_url());
    let client = client_with(&format!("{}/toss", refuse.base_url), refuse.policy.clone());
    let done = partial(&client, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    let decisions = refuse.decisions.lock().unwrap().clone();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].failure, Some(TransportErrorKind::Connect));
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn a_reset_before_forwarding_is_retried() {
    let (sb, key) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ResetBeforeForward);
    let done = partial(&client, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    assert!(done.reconciled, "the first attempt's outcome was unknown");
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_the_cancel_was_applied_gets_the_first_answer_back() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_cancel(Fault::DropConnection));
    let c = client(&sb.base_url_toss());
    let done = partial(&c, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    assert!(
        done.reconciled,
        "the key made Toss answer the replay with the first result"
    );
    assert_eq!(sandbox_hits(&sb, "GET", LOOKUP), 0, "the key answered: no read needed");
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn a_replay_whose_key_was_lost_is_refused_by_the_balance_guard_and_reported_unverified() {
    let (sb, key) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ForwardThenReset);
    proxy.on("POST", CANCEL, 1, Action::ForwardWithoutHeader("idempotency-key"));
    let err = partial(&client, &key).send().await.unwrap_err();
    // Toss answered the keyless replay NOT_MATCHES_REFUNDABLE_AMOUNT; the payment shows a cancel of this amount and
    // reason made during the call, which is this request's only if the key was lost on the way: nothing can tell.
    let Error::Unverified(u) = &err else {
        panic!("expected an unverified outcome, got {err:?}")
    };
    assert!(u.last_answer.contains("NOT_MATCHES_REFUNDABLE_AMOUNT"), "{u:?}");
    assert_eq!(u.evidence.value()["cancelAmount"], 3_000);
    assert!(err.outcome_unknown());
    assert!(
        !err.to_string().contains("refunded"),
        "never reported as a success: {err}"
    );
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert!(proxy.hits("GET", LOOKUP) >= 1, "the payment was read again");
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn a_refusal_after_an_unknown_attempt_stands_when_the_payment_shows_no_cancel_of_it() {
    let (sb, key) = sandbox().await;
    // Somebody else refunds 1,000 first: our stated balance is stale.
    let c = client(&sb.base_url_toss());
    c.cancel_payment(kr_payments::toss::PaymentKey::new(&key), "another refund")
        .amount(1_000)
        .send()
        .await
        .unwrap();
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ResetBeforeForward);
    let err = partial(&client, &key).send().await.unwrap_err();
    assert_eq!(
        err.api().map(|e| &e.code).map(|c| c.as_str()),
        Some("NOT_MATCHES_REFUNDABLE_AMOUNT")
    );
    assert_eq!(err.delivery(), kr_payments::error::Delivery::Refused);
    assert_eq!(sb.cancels_applied(&key), 1, "only the other refund");
}

#[tokio::test]
async fn a_full_cancel_replayed_without_its_key_is_refused_and_reported_unverified() {
    let (sb, key) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ForwardThenReset);
    proxy.on("POST", CANCEL, 1, Action::ForwardWithoutHeader("idempotency-key"));
    let err = client
        .cancel_payment(kr_payments::toss::PaymentKey::new(&key), "changed mind")
        .refundable_amount(10_000)
        .send()
        .await
        .unwrap_err();
    let Error::Unverified(u) = &err else {
        panic!("expected an unverified outcome, got {err:?}")
    };
    assert!(u.last_answer.contains("ALREADY_CANCELED_PAYMENT"), "{u:?}");
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

// ---- stalls past the timeout -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_cancel_that_stalls_past_the_timeout_is_replayed_with_its_key() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Delay(STALL)));
    let (policy, decisions) = recording(quick());
    let c = client_with(&sb.base_url_toss(), policy);
    let done = partial(&c, &key).timeout(TIMEOUT).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    assert_eq!(decisions.lock().unwrap()[0].failure, Some(TransportErrorKind::Timeout));
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

fn two_attempts() -> RetryPolicy {
    RetryPolicy::Safe {
        max_attempts: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn a_cancel_that_stalls_on_every_attempt_ends_unknown_with_its_key_and_settles_when_sent_again() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_cancel(Fault::Delay(STALL)).times(2));
    let c = client_with(&sb.base_url_toss(), two_attempts());
    let prepared = partial(&c, &key).timeout(TIMEOUT).prepare().unwrap();
    let started = std::time::Instant::now();
    let err = prepared.send().await.unwrap_err();
    assert!(started.elapsed() < STALL, "the deadline holds for the whole call");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(prepared.key(), prepared.idempotency_key());
    let Error::Transport(t) = &err else { unreachable!() };
    assert_eq!(t.attempts, 2);
    assert!(t.outcome_unknown());
    assert!(err.to_string().contains("outcome is unknown"), "{err}");
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1, "applied once, by the first attempt");
    // Sending the same prepared cancel again later settles it: the key returns the first answer.
    let done = prepared.send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn a_lookup_that_stalls_past_the_timeout_is_retried() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_lookup(Fault::Delay(STALL)));
    let payment = client(&sb.base_url_toss())
        .get_payment(&kr_payments::toss::PaymentKey::new(key.clone()))
        .timeout(TIMEOUT)
        .await
        .unwrap();
    assert_eq!(payment.total(), 10_000);
    assert_eq!(sandbox_hits(&sb, "GET", LOOKUP), 2);
}

// ---- bodies: truncated, empty, unknown fields and values --------------------------------------------------------

#[tokio::test]
async fn a_truncated_answer_to_a_cancel_is_replayed_with_its_key() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_cancel(Fault::TruncatedBody));
    let c = client(&sb.base_url_toss());
    let done = partial(&c, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 2);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn a_truncated_lookup_is_retried() {
    let (sb, key) = sandbox().await;
    sb.faults().add(on_lookup(Fault::TruncatedBody));
    let payment = client(&sb.base_url_toss())
        .get_payment(&kr_payments::toss::PaymentKey::new(key.clone()))
        .await
        .unwrap();
    assert_eq!(payment.total(), 10_000);
    assert_eq!(sandbox_hits(&sb, "GET", LOOKUP), 2);
}

#[tokio::test]
async fn an_empty_200_answer_to_a_cancel_is_a_decode_error_and_not_replayed() {
    let (sb, key) = sandbox().await;
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
    let err = partial(&client, &key).send().await.unwrap_err();
    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.status, 200);
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(&key), 1);
}

#[tokio::test]
async fn an_empty_504_on_a_lookup_is_retried() {
    let (sb, key) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on(
        "GET",
        LOOKUP,
        1,
        Action::Respond {
            status: 504,
            headers: vec![],
            body: vec![],
        },
    );
    let payment = client
        .get_payment(&kr_payments::toss::PaymentKey::new(key.clone()))
        .await
        .unwrap();
    assert_eq!(payment.total(), 10_000);
    assert_eq!(proxy.hits("GET", LOOKUP), 2);
}

#[tokio::test]
async fn unknown_fields_everywhere_are_ignored() {
    let (sb, key) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ForwardMapJson(with_unknown_fields));
    proxy.on("GET", LOOKUP, 1, Action::ForwardMapJson(with_unknown_fields));
    let done = partial(&client, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    let again = client
        .get_payment(&kr_payments::toss::PaymentKey::new(key.clone()))
        .await
        .unwrap();
    assert_eq!(again.cancelled_total(), 3_000);
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(&key), 1);
}

fn future_values(mut v: Value) -> Value {
    v["status"] = json!("ON_HOLD");
    v["method"] = json!("미래결제");
    if let Some(cancel) = v["cancels"].get_mut(0) {
        cancel["cancelStatus"] = json!("QUEUED");
    }
    v
}

#[tokio::test]
async fn unknown_enum_values_are_kept_not_failed() {
    let (sb, key) = sandbox().await;
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ForwardMapJson(future_values));
    let done = partial(&client, &key).send().await.unwrap();
    assert_eq!(done.payment.status().as_str(), "ON_HOLD");
    assert!(done.payment.status().is_unrecognized());
    assert_eq!(
        done.payment.method().map(|m| m.as_str().to_string()),
        Some("미래결제".to_string())
    );
    assert!(
        !done.is_done(),
        "an unknown cancel state is not taken for a finished refund"
    );
    assert_eq!(done.payment.balance(), 7_000);
    assert_eq!(proxy.hits("POST", CANCEL), 1);
    assert_eq!(sb.cancels_applied(&key), 1);
}

// ---- reconciliation does not invent successes -------------------------------------------------------------------

#[tokio::test]
async fn a_refusal_after_an_unknown_attempt_stays_an_error_when_the_payment_does_not_show_our_cancel() {
    let (sb, key) = sandbox().await;
    let direct = client(&sb.base_url_toss());
    let other = direct
        .cancel_payment(kr_payments::toss::PaymentKey::new(&key), "another refund")
        .amount(1_000)
        .send()
        .await
        .unwrap();
    assert_eq!(other.payment.balance(), 9_000);
    let (proxy, client) = proxied(&sb).await;
    proxy.on("POST", CANCEL, 1, Action::ResetBeforeForward);
    let err = partial(&client, &key).send().await.unwrap_err();
    assert_eq!(
        err.api().map(|e| &e.code),
        Some(&ErrorCode::NotMatchesRefundableAmount),
        "{err:?}"
    );
    assert_eq!(proxy.hits("POST", CANCEL), 2);
    assert!(proxy.hits("GET", LOOKUP) >= 1, "the payment was read before giving up");
    assert_eq!(sb.cancels_applied(&key), 1, "only the other refund");
    assert_eq!(sb.balance(&key), Some(9_000));
}

#[tokio::test]
async fn never_more_than_one_refund_whatever_the_retries() {
    let (sb, key) = sandbox().await;
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
    let c = client_with(&sb.base_url_toss(), policy);
    let done = partial(&c, &key).send().await.unwrap();
    assert_eq!(done.payment.balance(), 7_000);
    assert_eq!(sandbox_hits(&sb, "POST", CANCEL), 5);
    assert_eq!(sb.cancels_applied(&key), 1);
}
