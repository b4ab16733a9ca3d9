//! The iamport access token: caching, expiry from the server's clock, refresh, single flight, 401 recovery, bad
//! credentials, and the raw client getting the same token.
#![cfg(feature = "iamport")]

mod iamport_support;

use iamport_support::*;
use kr_payments::error::ApiErrorBody;
use kr_payments::iamport::{Client, ImpUid, PaymentStatus};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

const IMP_UID: &str = "imp_448280090638";

fn imp_uid() -> ImpUid {
    ImpUid::new(IMP_UID)
}

#[tokio::test]
async fn three_calls_reuse_one_token_even_with_a_server_clock_years_off() {
    // `getToken/ok.json` says the server's `now` is in 2001: a client trusting its local wall clock would think
    // the token expired decades ago and fetch a new one on every call.
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(3)
        .mount(&server)
        .await;
    let client = client(&server);
    for _ in 0..3 {
        let payment = client.get_payment(&imp_uid()).await.unwrap();
        assert_eq!(payment.status, Some(PaymentStatus::Paid));
    }
    assert_eq!(hits(&server, "/users/getToken").await, 1);
}

#[tokio::test]
async fn clones_share_the_token() {
    let server = server().await;
    mount_token(&server, "ok", 1).await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(2)
        .mount(&server)
        .await;
    let a = client(&server);
    let b = a.clone();
    a.get_payment(&imp_uid()).await.unwrap();
    b.get_payment(&imp_uid()).await.unwrap();
}

#[tokio::test]
async fn a_token_inside_the_refresh_margin_is_replaced_before_the_next_call() {
    // The first token lives 30 s by the server's clock: less than the 60 s margin, so the second call must not use
    // it. The second token lives 30 minutes and serves the rest.
    let server = server().await;
    token_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getToken", "short_lived")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_token(&server, "ok", 1).await;
    get_payment(IMP_UID, SHORT_TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    for _ in 0..3 {
        client.get_payment(&imp_uid()).await.unwrap();
    }
    assert_eq!(hits(&server, "/users/getToken").await, 2);
    let auth: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() != "/users/getToken")
        .map(|r| r.headers.get("authorization").unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(auth, [bearer(SHORT_TOKEN), bearer(TOKEN), bearer(TOKEN)]);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries_the_call_once() {
    let server = server().await;
    token_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getToken", "short_lived")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_token(&server, "ok", 1).await;
    get_payment(IMP_UID, SHORT_TOKEN)
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("getPaymentByImpUid", "unauthorized")))
        .expect(1)
        .mount(&server)
        .await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    let payment = client(&server).get_payment(&imp_uid()).await.unwrap();
    assert_eq!(payment.imp_uid.as_deref(), Some(IMP_UID));
}

#[tokio::test]
async fn a_second_401_is_returned_not_retried_again() {
    let server = server().await;
    mount_token(&server, "ok", 2).await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("getPaymentByImpUid", "unauthorized")))
        .expect(2)
        .mount(&server)
        .await;
    let err = client(&server).get_payment(&imp_uid()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let api = err.api().unwrap();
    assert_eq!(api.code, -1);
    assert_eq!(api.message.as_deref(), Some("Unauthorized"));
    assert!(!api.is_token_error());
}

/// A token that expires early, refused with 401 on the cancel, and a valid one after it.
async fn mount_short_token_refused_on_cancel(server: &wiremock::MockServer, refreshes: u64) {
    token_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getToken", "short_lived")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    mount_token(server, "ok", refreshes).await;
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .and(header("authorization", bearer(SHORT_TOKEN).as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("getPaymentByImpUid", "unauthorized")))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_guarded_cancel_refused_with_401_is_sent_again_with_a_new_token() {
    // A 401 may come from a proxy after iamport applied the cancel; the checksum makes a resend harmless.
    let server = server().await;
    mount_short_token_refused_on_cancel(&server, 1).await;
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .and(header("authorization", bearer(TOKEN).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cancelPayment", "partial")))
        .expect(1)
        .mount(&server)
        .await;
    let payment = client(&server)
        .partial_cancel(imp_uid(), 3_000, 10_000, "부분 취소")
        .send()
        .await
        .unwrap();
    assert_eq!(payment.cancellable_balance(), Some(7_000));
    let sent = bodies(&server, "/payments/cancel").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1]);
}

#[tokio::test]
async fn an_unguarded_cancel_refused_with_401_is_not_sent_again_and_its_outcome_is_unknown() {
    // A 401 from a proxy can follow a cancel iamport applied: without a checksum, a resend could refund twice.
    let server = server().await;
    mount_short_token_refused_on_cancel(&server, 0).await;
    let err = client(&server)
        .full_cancel(imp_uid(), "주문 취소")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.outcome_unknown(), "{err:?}");
    assert!(!err.nothing_sent());
    assert_eq!(bodies(&server, "/payments/cancel").await.len(), 1);
}

#[tokio::test]
async fn sixty_four_concurrent_calls_on_a_cold_client_make_one_token_request() {
    let server = server().await;
    token_request()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("getToken", "ok"))
                // Slow enough that every caller arrives while the first request is in flight.
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .mount(&server)
        .await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(64)
        .mount(&server)
        .await;
    let client = client(&server);
    let id = imp_uid();
    let calls = (0..64).map(|_| client.get_payment(&id));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(hits(&server, "/users/getToken").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_on_a_multi_threaded_runtime_make_one_token_request() {
    let server = server().await;
    token_request()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("getToken", "ok"))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(64)
        .mount(&server)
        .await;
    let client = client(&server);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.get_payment(&ImpUid::new(IMP_UID)).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn bad_credentials_are_a_typed_error_with_code_and_message_and_the_call_is_not_sent() {
    let server = server().await;
    token_request()
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("getToken", "bad_credentials")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).get_payment(&imp_uid()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let api = err.api().unwrap();
    assert_eq!(api.code, -1);
    assert_eq!(api.code(), "-1");
    assert_eq!(
        api.message.as_deref(),
        Some("REST API 키 또는 시크릿이 올바르지 않습니다")
    );
    assert!(api.is_token_error());
    assert_eq!(api.operation, "getToken");
    assert!(err.to_string().contains("REST API 키 또는 시크릿이 올바르지 않습니다"));
    // The catch-all proves no payment request went out.
}

#[tokio::test]
async fn a_token_refused_with_http_200_and_code_1_is_an_error_too() {
    let server = server().await;
    mount_token(&server, "refused_http_200", 1).await;
    let err = client(&server).get_payment(&imp_uid()).await.unwrap_err();
    assert_eq!(err.status(), Some(200));
    let api = err.api().unwrap();
    assert_eq!(
        (api.code, api.message.as_deref()),
        (1, Some("토큰을 발급할 수 없는 계정입니다"))
    );
    assert!(api.is_token_error());
}

#[tokio::test]
async fn concurrent_callers_share_one_failed_token_request() {
    let server = server().await;
    token_request()
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(fixture("getToken", "bad_credentials"))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let id = imp_uid();
    let results = futures::future::join_all((0..8).map(|_| client.get_payment(&id))).await;
    for r in results {
        let err = r.unwrap_err();
        assert_eq!(err.api().map(|e| e.code), Some(-1));
        assert_eq!(err.status(), Some(401));
    }
}

#[tokio::test]
async fn after_a_failed_token_request_the_next_call_asks_again() {
    let server = server().await;
    token_request()
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("getToken", "bad_credentials")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_token(&server, "ok", 1).await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    assert!(client.get_payment(&imp_uid()).await.is_err());
    client.get_payment(&imp_uid()).await.unwrap();
}

#[tokio::test]
async fn a_token_answer_without_a_token_is_a_decode_error() {
    let server = server().await;
    mount_token(&server, "no_token", 1).await;
    let err = client(&server).get_payment(&imp_uid()).await.unwrap_err();
    match err {
        kr_payments::Error::Decode(d) => assert_eq!(d.path, "response.access_token"),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_tier_header_goes_with_every_request() {
    let server = server().await;
    token_request()
        .and(header("tier", "A1B"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getToken", "ok")))
        .expect(1)
        .mount(&server)
        .await;
    get_payment(IMP_UID, TOKEN)
        .and(header("tier", "A1B"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .tier("A1B")
        .base_url(server.uri())
        .build()
        .unwrap();
    assert_eq!(client.tier(), Some("A1B"));
    client.get_payment(&imp_uid()).await.unwrap();
}

#[tokio::test]
async fn the_raw_client_gets_the_same_token_and_tier() {
    let server = server().await;
    token_request()
        .and(header("tier", "A1B"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getToken", "ok")))
        .expect(1)
        .mount(&server)
        .await;
    get_payment(IMP_UID, TOKEN)
        .and(header("tier", "A1B"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(2)
        .mount(&server)
        .await;
    let client = Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .tier("A1B")
        .base_url(server.uri())
        .build()
        .unwrap();
    let raw = client
        .raw()
        .get_payment_by_imp_uid(IMP_UID, None)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(raw.code, Some(0));
    assert_eq!(raw.response.unwrap().amount, Some(10_000));
    // The facade uses the token the raw call fetched.
    client.get_payment(&imp_uid()).await.unwrap();
    let generated_header = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .any(|r| r.headers.contains_key("api-version"));
    assert!(!generated_header);
}

#[tokio::test]
async fn the_raw_client_recovers_from_a_401_once() {
    let server = server().await;
    token_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getToken", "short_lived")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_token(&server, "ok", 1).await;
    get_payment(IMP_UID, SHORT_TOKEN)
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("getPaymentByImpUid", "unauthorized")))
        .expect(1)
        .mount(&server)
        .await;
    get_payment(IMP_UID, TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPaymentByImpUid", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    let resp = client(&server)
        .raw()
        .get_payment_by_imp_uid(IMP_UID, None)
        .await
        .unwrap();
    assert_eq!(resp.into_inner().response.unwrap().imp_uid.as_deref(), Some(IMP_UID));
}

#[test]
fn the_builder_refuses_missing_or_blank_credentials() {
    use kr_payments::transport::BuildError;
    assert!(matches!(
        Client::builder().imp_secret(IMP_SECRET).build(),
        Err(BuildError::Missing("imp_key"))
    ));
    assert!(matches!(
        Client::builder().imp_key(IMP_KEY).build(),
        Err(BuildError::Missing("imp_secret"))
    ));
    assert!(matches!(
        Client::builder().imp_key(" ").imp_secret(IMP_SECRET).build(),
        Err(BuildError::Invalid { setting: "imp_key", .. })
    ));
    assert!(matches!(
        Client::builder()
            .imp_key(IMP_KEY)
            .imp_secret(IMP_SECRET)
            .tier("a\nb")
            .build(),
        Err(BuildError::Invalid { setting: "tier", .. })
    ));
    assert!(matches!(
        Client::builder()
            .imp_key(IMP_KEY)
            .imp_secret(IMP_SECRET)
            .base_url("not a url")
            .build(),
        Err(BuildError::Invalid {
            setting: "base_url",
            ..
        })
    ));
}
