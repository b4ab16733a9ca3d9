//! The Toss client: authentication, key modes, build errors, headers, and that the secret key never prints.
#![cfg(feature = "toss")]

mod toss_support;

use kr_payments::toss::{Client, Mode};
use kr_payments::transport::BuildError;
use toss_support::*;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn sends_basic_auth_of_the_key_with_a_trailing_colon() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/tviva20220101113204Kx7d2"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fixture("get_payment/card_done.json")))
        .expect(1)
        .mount(&server)
        .await;

    let payment = client(&server)
        .get_payment(&kr_payments::toss::PaymentKey::new("tviva20220101113204Kx7d2"))
        .await
        .unwrap();

    assert_eq!(payment.payment_key(), "tviva20220101113204Kx7d2");
    let sent = requests(&server).await;
    let auth = header_of(&sent[0], "authorization");
    // Standard alphabet with padding: this key's 34 bytes end in "==".
    assert!(auth.ends_with("=="), "{auth}");
    server.verify().await;
}

fn header_of<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    toss_support::header(request, name).unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn never_sends_accept_language_and_asks_for_json() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/orders/order-20220101-0001"))
        .respond_with(json(200, fixture("get_payment/card_done.json")))
        .mount(&server)
        .await;

    client(&server)
        .get_payment_by_order_id("order-20220101-0001")
        .await
        .unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].headers.get("accept-language").is_none());
    assert_eq!(header_of(&sent[0], "accept"), "application/json");
    assert!(header_of(&sent[0], "user-agent").starts_with("kr-payments/"));
    server.verify().await;
}

#[tokio::test]
async fn the_raw_client_carries_the_same_auth_and_no_generated_headers() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/a%2Fb"))
        .and(header("authorization", AUTHORIZATION))
        .respond_with(json(200, fixture("get_payment/card_done.json")))
        .expect(1)
        .mount(&server)
        .await;

    let answer = client(&server).raw().get_payment("a/b").await.unwrap();

    assert_eq!(answer.into_inner().balance_amount, 10_000);
    let sent = requests(&server).await;
    assert!(sent[0].headers.get("api-version").is_none());
    assert!(sent[0].headers.get("accept-language").is_none());
    server.verify().await;
}

#[test]
fn the_key_prefix_tells_the_mode() {
    let mode = |key: &str| Client::builder().secret_key(key).build().unwrap().mode();
    assert_eq!(mode("test_sk_abc"), Mode::Test);
    assert_eq!(mode("test_gsk_abc"), Mode::Test);
    assert_eq!(mode("live_sk_abc"), Mode::Live);
    assert_eq!(mode("live_gsk_abc"), Mode::Live);
    assert_eq!(mode("sandbox-key"), Mode::Unknown);
}

#[test]
fn refuses_to_build_without_a_usable_secret_key() {
    let err = |builder: kr_payments::toss::ClientBuilder| builder.build().unwrap_err();

    assert!(matches!(err(Client::builder()), BuildError::Missing("secret_key")));
    assert!(matches!(
        err(Client::builder().secret_key("")),
        BuildError::Invalid {
            setting: "secret_key",
            ..
        }
    ));
    assert!(matches!(
        err(Client::builder().secret_key("test_sk_abc\n")),
        BuildError::Invalid {
            setting: "secret_key",
            ..
        }
    ));
    // A client key belongs in the browser; this API would answer 401 to every call.
    match err(Client::builder().secret_key("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq")) {
        BuildError::Invalid { setting, reason } => {
            assert_eq!(setting, "secret_key");
            assert!(reason.contains("client key"), "{reason}");
            assert!(!reason.contains("D5GePWvyJnrK0W0k6q8gLzN97Eoq"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err(Client::builder().secret_key("test_sk_abc").base_url("not a url")),
        BuildError::Invalid {
            setting: "base_url",
            ..
        }
    ));
}

#[tokio::test]
async fn the_secret_key_never_appears_in_debug_or_display() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/gone"))
        .respond_with(toss_error(401, "UNAUTHORIZED_KEY", "bad key"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payments/gone/cancel"))
        .respond_with(toss_error(401, "UNAUTHORIZED_KEY", "bad key"))
        .mount(&server)
        .await;
    let client = client(&server);
    let builder = Client::builder().secret_key(SECRET_KEY).base_url(server.uri());

    let lookup_error = client
        .get_payment(&kr_payments::toss::PaymentKey::new("gone"))
        .await
        .unwrap_err();
    let cancel_error = client
        .cancel_payment(kr_payments::toss::PaymentKey::new("gone"), "test")
        .send()
        .await
        .unwrap_err();
    let prepared = client
        .cancel_payment(kr_payments::toss::PaymentKey::new("gone"), "test")
        .prepare()
        .unwrap();

    let printed = [
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{:?}", client.raw()),
        format!("{lookup_error:?}"),
        format!("{lookup_error}"),
        format!("{cancel_error:?}"),
        format!("{cancel_error}"),
        format!("{prepared:?}"),
    ];
    for text in &printed {
        assert!(!text.contains(SECRET_KEY), "secret in {text}");
        assert!(!text.contains(SECRET_KEY_B64_FRAGMENT), "encoded secret in {text}");
        assert!(!text.contains("kr0payments0contract"), "part of the secret in {text}");
    }
    assert!(printed[0].contains("<redacted>"));
    assert!(printed[4].contains("UNAUTHORIZED_KEY"), "{}", printed[4]);
    server.verify().await;
}

#[tokio::test]
async fn timeouts_and_clients_are_configurable() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v1/payments/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("get_payment/card_done.json"))
                .set_delay(std::time::Duration::from_millis(400)),
        )
        .mount(&server)
        .await;
    let client = Client::builder()
        .secret_key(SECRET_KEY)
        .base_url(server.uri())
        .timeout(std::time::Duration::from_millis(50))
        .retry(kr_payments::transport::RetryPolicy::Never)
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();

    let err = client
        .get_payment(&kr_payments::toss::PaymentKey::new("slow"))
        .await
        .unwrap_err();

    assert!(err.is_timeout(), "{err}");
    assert_eq!(client.base_url(), server.uri());
}

#[test]
fn errors_and_clients_are_send_sync_static() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Client>();
    check::<kr_payments::toss::CancelPayment>();
    check::<kr_payments::toss::PreparedCancel>();
    check::<kr_payments::Error<kr_payments::toss::TossError>>();
    check::<kr_payments::toss::webhook::VerifyError>();
}
