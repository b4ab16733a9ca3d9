//! PortOne V2 (`api.portone.io`).
//!
//! ```no_run
//! use kr_payments::portone_v2::{CancelOutcome, Client, PaymentExt};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().secret("your-api-secret").build()?;
//!
//! // Read the balance the provider holds, then cancel part of it. The balance travels with the cancel as
//! // `currentCancellableAmount`: if anything was refunded in between, PortOne refuses instead of refunding twice.
//! let payment = client.get_payment("order-0001").send().await?;
//! let balance = payment.cancellable_amount().unwrap_or(0);
//! match client.partial_cancel("order-0001", 3_000, balance, "one item returned").send().await? {
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
            RawInner { auth: auth.clone() },
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

/// What the generated client carries for its hooks: the credential. Prints redacted.
#[derive(Clone)]
pub struct RawInner {
    auth: Credential,
}

impl fmt::Debug for RawInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawInner { auth: <redacted> }")
    }
}

impl progenitor_client::ClientHooks<RawInner> for raw::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let headers = request.headers_mut();
        transport::strip_generated_headers(headers);
        transport::authorize(headers, &self.inner.auth);
        headers.insert(
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_static(transport::USER_AGENT),
        );
        Ok(())
    }
}
