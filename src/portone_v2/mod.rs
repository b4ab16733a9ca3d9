//! PortOne V2 (`api.portone.io`).
//!
//! ```no_run
//! use kr_payments::portone_v2::{CancelOutcome, Client, PaymentExt, PaymentId};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().secret("your-api-secret").build()?;
//!
//! // Read the balance the provider holds, then cancel part of it. The balance travels with the cancel as
//! // `currentCancellableAmount`: if anything was refunded in between, PortOne refuses instead of refunding twice.
//! let payment = client.get_payment(&PaymentId::new("order-0001")).await?;
//! let balance = payment.cancellable_amount().unwrap_or(0);
//! match client.partial_cancel(PaymentId::new("order-0001"), 3_000, balance, "one item returned").send().await? {
//!     CancelOutcome::Succeeded(c) => println!("refunded {} won, receipt {:?}", c.total_amount, c.receipt_url),
//!     CancelOutcome::Requested(c) => println!("{} is pending: wait for the webhook or poll", c.id),
//!     CancelOutcome::Failed(c) => println!("{} failed: nothing was refunded", c.id),
//!     other => println!("status {} is new to this crate: check the dashboard", other.status()),
//! }
//! # Ok(()) }
//! ```
//!
//! * [`cancel`]: [`Client::cancel_payment`] and the helpers [`Client::full_cancel`], [`Client::partial_cancel`]
//!   and [`Client::refund_virtual_account`], with checks that refuse a wrong refund before anything is sent;
//! * [`payment`]: [`Client::get_payment`] with the amounts a refund screen needs ([`PaymentExt`]), and listings as
//!   streams ([`Client::payments`], [`Client::payments_by_cursor`]);
//! * [`error`]: the typed error body of each operation;
//! * [`webhook`]: verifying and decoding webhook deliveries;
//! * [`raw`]: every other operation of the API, with the same credentials.

pub mod cancel;
pub mod error;
pub mod payment;
pub mod raw;
mod reconcile;
pub mod webhook;

pub use crate::account::{AccountNumber, HolderName, PhoneNumber};
pub use cancel::{CancelOutcome, CancelPayment, CancelTarget, Cancellation, RefundAccount, UnrecognizedCancellation};
pub use error::{
    CancelPaymentError, GetAllPaymentsByCursorError, GetAllPaymentsError, GetPaymentError, GetPaymentsError,
};
pub use payment::{GetPayment, ListPayments, ListPaymentsByCursor, Payment, PaymentByStatus, PaymentExt};
pub use raw::types::{Bank, CancelRequester, PaymentFilterInput, PromotionDiscountRetainOption};

use crate::transport::{self, BuildError, Call, Credential, Options, RetryPolicy, Transport};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

crate::ids::id_type!(
    /// The merchant's id of a payment (`paymentId`), chosen when the payment was requested.
    PaymentId,
    "paymentId"
);

/// Where PortOne V2 lives.
pub const DEFAULT_BASE_URL: &str = "https://api.portone.io";

/// A PortOne V2 client. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    transport: Transport,
    auth: Credential,
    store_id: Option<String>,
    raw: raw::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("portone_v2::Client")
            .field("base_url", &self.shared.transport.base_url)
            .field("store_id", &self.shared.store_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Client {
    /// Starts configuring a client. Only the API secret is required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The generated low-level client for every other operation, with the same base URL and credentials.
    pub fn raw(&self) -> &raw::Client {
        &self.shared.raw
    }

    /// The store id sent when a call names none.
    pub fn store_id(&self) -> Option<&str> {
        self.shared.store_id.as_deref()
    }

    /// The base URL every call goes to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.transport.base_url
    }

    /// A call with the client's credentials; `path` must already be percent-encoded.
    pub(crate) fn call(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path_template: &'static str,
        path: String,
    ) -> Call {
        let mut call = Call::new(operation, method, path_template, path);
        transport::authorize(&mut call.headers, &self.shared.auth);
        call
    }

    /// Sends a call and decodes the answer: `T` on 2xx, the operation's error body `E` otherwise.
    pub(crate) async fn send<T, E>(&self, call: &Call) -> Result<T, crate::error::Error<E>>
    where
        T: serde::de::DeserializeOwned,
        E: serde::de::DeserializeOwned,
    {
        let response = self.shared.transport.execute(call).await?;
        error::from_response(response)
    }

    /// [`send`](Self::send) for an answer that is one payment view, read once (its JSON kept as the body itself).
    pub(crate) async fn send_view<T, E>(&self, call: &Call) -> Result<T, crate::error::Error<E>>
    where
        T: crate::lossless::View + serde::de::DeserializeOwned,
        E: serde::de::DeserializeOwned,
    {
        let response = self.shared.transport.execute(call).await?;
        error::from_response_with(response, crate::lossless::decode_view)
    }
}

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    secret: Option<String>,
    store_id: Option<String>,
    options: Options,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("portone_v2::ClientBuilder")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("store_id", &self.store_id)
            .field("options", &self.options)
            .finish()
    }
}

impl ClientBuilder {
    /// The V2 API secret, sent as `Authorization: PortOne <secret>`. Never printed.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The store used when a call does not name one (sent as `storeId`; needed for agency/multi-store secrets).
    pub fn store_id(mut self, store_id: impl Into<String>) -> Self {
        self.store_id = Some(store_id.into());
        self
    }

    /// Another base URL (a sandbox, a proxy). Default: [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.options.base_url = Some(url.into());
        self
    }

    /// Total timeout of one attempt (default [`transport::DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Connect timeout (default [`transport::DEFAULT_CONNECT_TIMEOUT`]); ignored with [`Self::http_client`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Retry policy (default [`RetryPolicy::safe`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// Uses your own `reqwest::Client` (proxies, TLS settings, a shared pool).
    /// Build it with `redirect(reqwest::redirect::Policy::none())`, and preferably with
    /// `pool_idle_timeout(`[`transport::DEFAULT_POOL_IDLE_TIMEOUT`]`)` as the crate's own client is.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.options.http = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`BuildError::Missing`] without a secret, [`BuildError::Invalid`] for an empty secret, a secret that cannot
    /// travel in a header, or a base URL that does not parse.
    pub fn build(self) -> Result<Client, BuildError> {
        let secret = self.secret.ok_or(BuildError::Missing("secret"))?;
        if secret.trim().is_empty() {
            return Err(BuildError::Invalid {
                setting: "secret",
                reason: "is empty".into(),
            });
        }
        let auth = Credential::new(&format!("PortOne {secret}"), "secret")?;
        let transport = Transport::new("portone-v2", DEFAULT_BASE_URL, self.options)?;
        let raw = raw::Client::new_with_client(
            &transport.base_url,
            transport.http.clone(),
            RawInner {
                auth: auth.clone(),
                transport: transport.clone(),
                store_id: self.store_id.clone(),
            },
        );
        Ok(Client {
            shared: Arc::new(Shared {
                transport,
                auth,
                store_id: self.store_id,
                raw,
            }),
        })
    }
}

/// What the generated client carries for its hooks: the credential, the transport its calls go through and the
/// default store id. Prints redacted.
#[derive(Clone)]
pub struct RawInner {
    auth: Credential,
    transport: Transport,
    store_id: Option<String>,
}

impl fmt::Debug for RawInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawInner { auth: <redacted>, .. }")
    }
}

/// The operations (progenitor's snake-case ids) that take `storeId` as a query parameter, and those that take it
/// at the top of their JSON body: a raw call that leaves it out gets the client's default, as the facade's calls
/// do. A unit test checks both lists against `openapi/portone-v2.json`.
pub(crate) const STORE_ID_IN_QUERY: &[&str] = &[
    "close_virtual_account",
    "cancel_cash_receipt_by_payment_id",
    "delete_billing_key",
    "get_billing_key_info",
    "get_cash_receipt_by_payment_id",
    "get_identity_verification",
    "get_payment",
    "get_payment_schedule",
    "get_payment_transactions",
    "resend_identity_verification",
];
pub(crate) const STORE_ID_IN_BODY: &[&str] = &[
    "apply_escrow_logistics",
    "cancel_payment",
    "capture_payment",
    "confirm_billing_key",
    "confirm_billing_key_issue_and_pay",
    "confirm_escrow",
    "confirm_identity_verification",
    "confirm_payment",
    "create_payment_session",
    "issue_billing_key",
    "issue_cash_receipt",
    "modify_escrow_logistics",
    "pay_instantly",
    "pay_with_billing_key",
    "pre_register_payment",
    "register_store_receipt",
    "resend_webhook",
    "revoke_payment_schedules",
    "send_identity_verification",
    "stop_payment_cancellation",
];

/// Adds the client's default `storeId` to a raw request of an operation that takes one and was not given one.
fn default_store_id(request: &mut reqwest::Request, operation: &str, store_id: &str) {
    if STORE_ID_IN_QUERY.contains(&operation) {
        if !request.url().query_pairs().any(|(k, _)| k == "storeId") {
            request.url_mut().query_pairs_mut().append_pair("storeId", store_id);
        }
    } else if STORE_ID_IN_BODY.contains(&operation) {
        let Some(bytes) = request.body().and_then(reqwest::Body::as_bytes) else {
            return;
        };
        let Ok(serde_json::Value::Object(mut body)) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return;
        };
        if body.contains_key("storeId") {
            return;
        }
        body.insert("storeId".into(), serde_json::Value::String(store_id.to_string()));
        if let Ok(bytes) = serde_json::to_vec(&body) {
            *request.body_mut() = Some(reqwest::Body::from(bytes));
        }
    }
}

impl progenitor_client::ClientHooks<RawInner> for raw::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        if let Some(store_id) = &self.inner.store_id {
            default_store_id(request, info.operation_id, store_id);
        }
        let mutating = request.method() != reqwest::Method::GET && request.method() != reqwest::Method::HEAD;
        let headers = request.headers_mut();
        transport::strip_generated_headers(headers);
        transport::authorize(headers, &self.inner.auth);
        headers.insert(
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_static(transport::USER_AGENT),
        );
        // One key per raw call, the same on every attempt: PortOne answers a replay with the first answer.
        if mutating && !headers.contains_key(cancel::IDEMPOTENCY_KEY) {
            let key = format!("\"{}\"", uuid::Uuid::new_v4());
            if let Ok(value) = reqwest::header::HeaderValue::from_str(&key) {
                headers.insert(cancel::IDEMPOTENCY_KEY, value);
            }
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        crate::raw_call::exec(
            &self.inner.transport,
            request,
            info.operation_id,
            crate::raw_call::RawReplay::Keyed,
            Some(reconcile::is_pending),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    /// progenitor's operation ids are the spec's, in snake case.
    fn snake(id: &str) -> String {
        let mut out = String::new();
        for c in id.chars() {
            if c.is_ascii_uppercase() {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn the_store_id_lists_are_the_specs() {
        let spec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/portone-v2.json")).unwrap(),
        )
        .unwrap();
        fn follow<'a>(spec: &'a serde_json::Value, mut v: &'a serde_json::Value) -> &'a serde_json::Value {
            while let Some(r) = v.get("$ref").and_then(|r| r.as_str()) {
                let name = r.rsplit('/').next().unwrap();
                let kind = if r.contains("/parameters/") {
                    "parameters"
                } else {
                    "schemas"
                };
                v = &spec["components"][kind][name];
            }
            v
        }
        let resolve = |v| follow(&spec, v);
        let (mut query, mut body) = (Vec::new(), Vec::new());
        for item in spec["paths"].as_object().unwrap().values() {
            for (method, op) in item.as_object().unwrap() {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let id = snake(op["operationId"].as_str().unwrap());
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let p = resolve(p);
                    if p["name"] == "storeId" && p["in"] == "query" {
                        query.push(id.clone());
                    }
                }
                let schema = resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
                if schema["properties"].get("storeId").is_some() {
                    body.push(id.clone());
                }
            }
        }
        query.sort();
        body.sort();
        let sorted = |l: &[&str]| {
            let mut v: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(sorted(super::STORE_ID_IN_QUERY), query);
        assert_eq!(sorted(super::STORE_ID_IN_BODY), body);
    }
}
