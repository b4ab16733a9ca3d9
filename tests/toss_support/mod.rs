//! Shared pieces of the Toss contract tests: the key, fixtures, and a mock server that fails loudly on any request
//! no test expected.
#![allow(dead_code)]

use kr_payments::toss::{Client, Payment};
use kr_payments::transport::RetryPolicy;
use std::time::Duration;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A made-up test key.
pub const SECRET_KEY: &str = "test_sk_kr0payments0contract0test";
/// `Basic ` + base64("test_sk_kr0payments0contract0test:"), computed outside this crate (34 bytes, so padded).
pub const AUTHORIZATION: &str = "Basic dGVzdF9za19rcjBwYXltZW50czBjb250cmFjdDB0ZXN0Og==";
/// base64 of the key alone, another form a leak could take.
pub const SECRET_KEY_B64_FRAGMENT: &str = "dGVzdF9za19rcjBwYXltZW50czBjb250cmFjdDB0ZXN0";

/// A fixture as JSON.
pub fn fixture(path: &str) -> serde_json::Value {
    let full = format!("{}/tests/fixtures/toss/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A fixture decoded as a Payment.
pub fn payment(path: &str) -> Payment {
    serde_json::from_value(fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A mock server whose lowest-priority mock answers 599 to anything and must never be hit.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    server
}

/// The catch-all, again (after `server.reset()`).
pub async fn mount_catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .named("catch-all: no request should reach this")
        .expect(0)
        .mount(server)
        .await;
}

/// Retries quickly so tests that exercise them stay fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::Safe {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

/// A client for the mock server that never retries unless a test asks.
pub fn client(server: &MockServer) -> Client {
    Client::builder()
        .secret_key(SECRET_KEY)
        .base_url(server.uri())
        .retry(RetryPolicy::Never)
        .build()
        .unwrap()
}

/// Every request the server saw.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// A request's header as text.
pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

/// A JSON answer.
pub fn json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Toss's error body.
pub fn toss_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    json(status, serde_json::json!({ "code": code, "message": message }))
}
