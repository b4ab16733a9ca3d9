//! Shared setup of the iamport contract tests: a loopback server that fails loudly on any request no test
//! expected, fixtures, and the token endpoint.
#![allow(dead_code)]

use kr_payments::iamport::Client;
use kr_payments::transport::RetryPolicy;
use serde_json::Value;
use std::time::Duration;
use wiremock::matchers::{any, body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const IMP_KEY: &str = "8214630597401152";
pub const IMP_SECRET: &str = "Qk3vX9tLmP2sR7yB4nW8cJ5hF1dG6aZ0eU3iO9pT2kV7xN4mC8bL1qS5wE6rY0uHz";
/// The token in `getToken/ok.json`.
pub const TOKEN: &str = "9f2c1e7ab04d4e53b8c6a1d2e3f40516a7b8c9d0";
/// The token in `getToken/short_lived.json`.
pub const SHORT_TOKEN: &str = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0";

pub fn fixture(operation: &str, case: &str) -> Value {
    let file = format!(
        "{}/tests/fixtures/iamport/{operation}/{case}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// A server whose catch-all answers 599 and must never be hit: a request no test mounted fails the test when the
/// server is dropped.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: an unexpected request")
        .mount(&server)
        .await;
    server
}

/// Retries as in production, but with millisecond delays.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::Safe {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

pub fn client(server: &MockServer) -> Client {
    Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .base_url(server.uri())
        .retry(fast_retry())
        .build()
        .unwrap()
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The token request exactly as the client must send it.
pub fn token_request() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/users/getToken"))
        .and(header("content-type", "application/json"))
        .and(body_json(
            serde_json::json!({ "imp_key": IMP_KEY, "imp_secret": IMP_SECRET }),
        ))
}

/// Mounts the token endpoint answering `getToken/<case>.json`, expected exactly `times` times.
pub async fn mount_token(server: &MockServer, case: &str, times: u64) {
    token_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getToken", case)))
        .expect(times)
        .named(format!("getToken/{case}"))
        .mount(server)
        .await;
}

/// `GET /payments/{imp_uid}` with the given token, answering `getPaymentByImpUid/<case>.json`.
pub fn get_payment(imp_uid: &str, token: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/payments/{imp_uid}")))
        .and(header("authorization", bearer(token).as_str()))
}

/// The JSON bodies of every request the server received on `path`.
pub async fn bodies(server: &MockServer, on_path: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == on_path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// How many requests the server received on `path`.
pub async fn hits(server: &MockServer, on_path: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == on_path)
        .count()
}
