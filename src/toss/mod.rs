//! Toss (`api.tosspayments.com`), core API v1.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kr_payments::toss::{Client, PaymentKey};
//!
//! let client = Client::builder().secret_key("test_sk_...").build()?;
//! let payment = client.get_payment(&PaymentKey::new("tgen_20240101abcd")).await?;
//! // Refund 3,000 won of it. The cancel carries an Idempotency-Key, so a resend cannot refund twice.
//! let done = client.partial_cancel(&payment, 3_000, payment.balance(), "one item returned").send().await?;
//! println!("balance now {} (key {})", done.payment.balance(), done.idempotency_key);
//! # Ok(()) }
//! ```
//!
//! # What lives where
//! * [`Client`] and its builder (this module): the secret key, base URL, timeouts and retries.
//! * [`cancel`]: full and partial cancels and virtual-account refunds, checked before sending, each with its
//!   own `Idempotency-Key`.
//! * [`payment`]: the [`Payment`] object, ASCII views of its Korean enum values, lookups, and the listing of
//!   approvals and cancels as a stream ([`Client::transactions`]).
//! * [`error`]: Toss error codes and the error body.
//! * [`webhook`]: events Toss posts to the merchant, and how to trust them.
//! * [`raw`]: the client generated from `openapi/toss-v1.json`, for every operation the facade does not cover.
//!
//! # Test codes
//! With a test key, Toss answers a request carrying `TossPayments-Test-Code: <ERROR_CODE>` with that error, as it
//! would in production (Toss explains it at <https://www.tosspayments.com/blog/articles/dev-7>): the way to exercise
//! `ALREADY_REFUNDING_PAYMENT`, `NOT_CANCELABLE_PAYMENT` and friends against the real test environment.
//!
//! * Per call: `.test_code("...")` on every request builder: [`CancelPayment::test_code`] and the lookups
//!   ([`get_payment`](Client::get_payment), [`get_payment_by_order_id`](Client::get_payment_by_order_id), see
//!   [`Lookup::test_code`](crate::transport::Lookup::test_code)).
//! * For every call of a client: [`ClientBuilder::test_code`]; the generated client ([`Client::raw`]) sends it
//!   too. It really is every call: the read a cancel makes to settle an unknown outcome gets the same error.
//!   A per-call code on a cancel applies to that cancel only.
//!
//! The header is refused before anything is sent unless the secret key is a test key (`test_sk_`, `test_gsk_`):
//! with a live key (`live_sk_`, `live_gsk_`) and with a key of a prefix this crate does not know (a proxy's token
//! may stand for a live key), per call as [`Error::InvalidRequest`], on the client as [`BuildError::Invalid`]. A
//! code must be an error code's shape (capital letters, digits and `_`, at most 100 characters); Toss answers
//! `INVALID_TEST_CODE` for one it cannot simulate.
//!
//! # Language
//! Nothing here sends `Accept-Language`. With `Accept-Language: en-US` Toss answers with English enum codes
//! (`CARD` instead of `카드`), which the typed views would only keep as unrecognized values. If you pass your own
//! `reqwest::Client` ([`ClientBuilder::http_client`]), do not give it a default `Accept-Language` header.

pub mod cancel;
pub mod error;
pub mod payment;
pub mod raw;
mod reconcile;
pub mod webhook;

pub use crate::account::{AccountNumber, BankCode, HolderName};
pub use cancel::{CancelPayment, CancelTarget, Cancelled, PreparedCancel, RefundAccount, RefundReceiveAccount};
pub use error::{ErrorCode, TossError};
pub use payment::{
    AccountType, Cancel, CancelStatus, CardOwnerType, CardType, CashReceiptType, ListTransactions,
    MAX_TRANSACTIONS_PAGE, Method, Payment, Status, Transaction, TransactionQuery,
};

use crate::error::{ApiError, Error, InvalidRequest, decode_json};
use crate::transport::{self, BuildError, Call, Credential, Lookup, Options, Response, RetryPolicy, Transport};
use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

crate::ids::id_type!(
    /// Toss's key of a payment (`paymentKey`), given when the payment was approved.
    PaymentKey,
    "paymentKey"
);

/// Where the Toss API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.tosspayments.com";

/// The header that makes Toss's test environment answer with a chosen error (see the
/// [module docs](self#test-codes)).
pub const TEST_CODE_HEADER: &str = "TossPayments-Test-Code";
const TEST_CODE: HeaderName = HeaderName::from_static("tosspayments-test-code");
const MAX_TEST_CODE_CHARS: usize = 100;

/// Checks a test code against the key's mode and its shape; the header value to send.
pub(crate) fn test_code_header(mode: Mode, code: &str) -> Result<HeaderValue, InvalidRequest> {
    match mode {
        Mode::Test => {}
        Mode::Live => {
            return Err(InvalidRequest::new(
                TEST_CODE_HEADER,
                "is only for test keys (test_sk_...); this client has a live key, and real payments are not a test bed",
            ));
        }
        Mode::Unknown => {
            return Err(InvalidRequest::new(
                TEST_CODE_HEADER,
                "is only for test keys (test_sk_...); this client's key has no test prefix, so it may be live",
            ));
        }
    }
    let chars = code.chars().count();
    if chars == 0 || chars > MAX_TEST_CODE_CHARS {
        return Err(InvalidRequest::new(
            TEST_CODE_HEADER,
            format!("has {chars} characters; give an error code of 1 to {MAX_TEST_CODE_CHARS}"),
        ));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(InvalidRequest::new(
            TEST_CODE_HEADER,
            "must be an error code: capital letters, digits and `_` (e.g. ALREADY_REFUNDING_PAYMENT)",
        ));
    }
    HeaderValue::from_str(code).map_err(|_| InvalidRequest::new(TEST_CODE_HEADER, "cannot travel in an HTTP header"))
}

/// Whether a client talks to Toss's test environment or moves real money, as told by its secret key's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// A `test_sk_` (or payment-widget `test_gsk_`) key: nothing is charged or refunded for real.
    Test,
    /// A `live_sk_` (or `live_gsk_`) key: real payments and real refunds.
    Live,
    /// A key without a prefix this crate knows (a proxy's token, a sandbox key). Treat it as live.
    Unknown,
}

impl Mode {
    fn of(secret_key: &str) -> Mode {
        if secret_key.starts_with("test_sk_") || secret_key.starts_with("test_gsk_") {
            Mode::Test
        } else if secret_key.starts_with("live_sk_") || secret_key.starts_with("live_gsk_") {
            Mode::Live
        } else {
            Mode::Unknown
        }
    }
}

/// A Toss client. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    transport: Transport,
    auth: Credential,
    mode: Mode,
    raw: raw::Client,
    /// `TossPayments-Test-Code` for every call ([`ClientBuilder::test_code`]), checked at build.
    test_code: Option<HeaderValue>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("toss::Client")
            .field("base_url", &self.shared.transport.base_url)
            .field("mode", &self.shared.mode)
            .field("test_code", &self.shared.test_code)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

impl Client {
    /// Starts configuring a client. Only the secret key is required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Test or live, from the secret key's prefix.
    pub fn mode(&self) -> Mode {
        self.shared.mode
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.shared.transport.base_url
    }

    /// The generated low-level client for every other operation, with the same base URL and credentials.
    pub fn raw(&self) -> &raw::Client {
        &self.shared.raw
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.shared.transport
    }

    pub(crate) fn credential(&self) -> &Credential {
        &self.shared.auth
    }

    /// The client's `TossPayments-Test-Code` ([`ClientBuilder::test_code`]), as sent.
    pub fn test_code(&self) -> Option<&str> {
        self.shared.test_code.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The `TossPayments-Test-Code` header a call sends: `per_call` (checked against the key), else the client's.
    pub(crate) fn test_code_for(&self, per_call: Option<&str>) -> Result<Option<HeaderValue>, InvalidRequest> {
        match per_call {
            Some(code) => test_code_header(self.shared.mode, code).map(Some),
            None => Ok(self.shared.test_code.clone()),
        }
    }

    /// Sends a call with this client's credentials and reads Toss's answer: the success type on 2xx, a
    /// [`TossError`] otherwise.
    ///
    /// An `async move` block keeps the call once; an `async fn` would keep it twice (its argument and the body's).
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn keeps each by-value argument twice in its future"
    )]
    pub(crate) fn execute<'a, T: serde::de::DeserializeOwned>(
        &'a self,
        mut call: Call,
        test_code: Option<&'a str>,
    ) -> impl Future<Output = Result<T, Error<TossError>>> + Send + 'a {
        async move { read_response(self.exchange(&mut call, test_code).await?) }
    }

    /// [`execute`](Self::execute) for an answer that is one payment view, read once.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn keeps each by-value argument twice in its future"
    )]
    pub(crate) fn execute_view<'a, T: crate::lossless::View + serde::de::DeserializeOwned>(
        &'a self,
        mut call: Call,
        test_code: Option<&'a str>,
    ) -> impl Future<Output = Result<T, Error<TossError>>> + Send + 'a {
        async move { read_view(self.exchange(&mut call, test_code).await?) }
    }

    async fn exchange(&self, call: &mut Call, test_code: Option<&str>) -> Result<Response, Error<TossError>> {
        if let Some(code) = self.test_code_for(test_code)? {
            call.headers.insert(TEST_CODE, code);
        }
        transport::authorize(&mut call.headers, self.credential());
        Ok(self.transport().execute(call).await?)
    }
}

/// Toss lookups ([`Client::get_payment`], [`Client::get_payment_by_order_id`]) also take a test code.
impl<'a, T: Send + 'a> Lookup<'a, Result<T, Error<TossError>>> {
    /// Sends `TossPayments-Test-Code: <code>` with this Toss lookup, so Toss's test environment answers with that
    /// error (e.g. `NOT_FOUND_PAYMENT`), instead of the client's code if it has one. Refused with
    /// [`Error::InvalidRequest`], nothing sent, unless the client has a test key (see the
    /// [Toss module docs](crate::toss#test-codes)).
    pub fn test_code(self, code: impl Into<String>) -> Self {
        self.with_test_code(code.into())
    }
}

/// A 2xx body decodes to `T`; anything else should be Toss's `{code, message}`.
pub(crate) fn read_response<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, Error<TossError>> {
    read_with(response, crate::lossless::decode)
}

/// [`read_response`] for an answer that is one payment view: read once, its JSON kept as the body itself.
pub(crate) fn read_view<T>(response: Response) -> Result<T, Error<TossError>>
where
    T: crate::lossless::View + serde::de::DeserializeOwned,
{
    read_with(response, crate::lossless::decode_view)
}

fn read_with<T>(
    response: Response,
    decode: impl FnOnce(u16, &bytes::Bytes) -> Result<T, crate::error::DecodeError>,
) -> Result<T, Error<TossError>> {
    let status = response.status.as_u16();
    let mutating = response.mutating;
    if response.status.is_success() {
        return decode(status, &response.body).map_err(|e| Error::Decode(e.for_mutation(mutating)));
    }
    // A body that is not Toss's error object (an HTML page from a proxy, an empty 502) is a decode error that
    // keeps the status and the raw body, rather than an invented error code.
    let error: TossError = decode_json(status, &response.body).map_err(|e| e.for_mutation(mutating))?;
    Err(Error::Api(ApiError::answer(status, error, mutating)))
}

pub(crate) use crate::transport::path_segment;

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    secret_key: Option<String>,
    test_code: Option<String>,
    options: Options,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("toss::ClientBuilder")
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("test_code", &self.test_code)
            .field("options", &self.options)
            .finish()
    }
}

impl ClientBuilder {
    /// The secret key (`test_sk_...` or `live_sk_...`), sent as `Authorization: Basic base64("<key>:")`. Never
    /// printed.
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(secret_key.into());
        self
    }

    /// Sends `TossPayments-Test-Code: <code>` with every call of the client, facade and generated alike, so Toss's
    /// test environment answers each with that error. A per-call `.test_code(..)` replaces it for that call. Only
    /// with a test key: [`Self::build`] refuses it otherwise (see the [module docs](self#test-codes)).
    pub fn test_code(mut self, code: impl Into<String>) -> Self {
        self.test_code = Some(code.into());
        self
    }

    /// Another base URL (a sandbox, a proxy). Default: [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.options.base_url = Some(url.into());
        self
    }

    /// Total timeout of one attempt (default [`transport::DEFAULT_TIMEOUT`]). Cancels can override it per call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Connect timeout (default [`transport::DEFAULT_CONNECT_TIMEOUT`]); ignored with [`Self::http_client`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Retry policy (default [`RetryPolicy::safe`]). Cancels always carry an `Idempotency-Key`, so they are
    /// retried like reads.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// Uses your own `reqwest::Client` (proxies, TLS settings, a shared pool). It must not add a default
    /// `Accept-Language` header (see the [module docs](self#language)).
    /// Build it with `redirect(reqwest::redirect::Policy::none())`, and preferably with
    /// `pool_idle_timeout(`[`transport::DEFAULT_POOL_IDLE_TIMEOUT`]`)` as the crate's own client is.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.options.http = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`BuildError::Missing`] without a secret key; [`BuildError::Invalid`] for an empty key, a key with
    /// whitespace in it, a client key (`test_ck_`, `live_gck_`, ...: those belong in the browser and cannot call
    /// this API), a base URL that does not parse, or a [`test_code`](Self::test_code) with a key that is not a
    /// test key or that is not an error code's shape.
    pub fn build(self) -> Result<Client, BuildError> {
        let key = self.secret_key.ok_or(BuildError::Missing("secret_key"))?;
        let invalid = |reason: &str| BuildError::Invalid {
            setting: "secret_key",
            reason: reason.into(),
        };
        if key.is_empty() {
            return Err(invalid("is empty"));
        }
        // A key read from a file or an env var often ends in a newline; encoded into the header it would fail
        // every call with an authentication error that does not say why.
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        if ["test_ck_", "live_ck_", "test_gck_", "live_gck_"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            return Err(invalid(
                "is a client key; server calls need the secret key (test_sk_... or live_sk_...)",
            ));
        }
        let mode = Mode::of(&key);
        let test_code = match &self.test_code {
            Some(code) => Some(test_code_header(mode, code).map_err(|e| BuildError::Invalid {
                setting: "test_code",
                reason: e.to_string(),
            })?),
            None => None,
        };
        // Basic auth with the key as user name and an empty password: the trailing colon is required.
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
        let auth = Credential::new(&format!("Basic {encoded}"), "secret_key")?;
        let transport = Transport::new("toss", DEFAULT_BASE_URL, self.options)?;
        let raw = raw::Client::new_with_client(
            &transport.base_url,
            transport.http.clone(),
            RawInner {
                auth: auth.clone(),
                test_code: test_code.clone(),
                transport: transport.clone(),
            },
        );
        Ok(Client {
            shared: Arc::new(Shared {
                transport,
                auth,
                mode,
                raw,
                test_code,
            }),
        })
    }
}

/// What the generated client carries for its hooks: the credential (prints redacted), the client's test code and
/// the transport its calls go through.
#[derive(Clone)]
pub struct RawInner {
    auth: Credential,
    test_code: Option<HeaderValue>,
    transport: Transport,
}

impl fmt::Debug for RawInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawInner")
            .field("auth", &"<redacted>")
            .field("test_code", &self.test_code)
            .finish()
    }
}

impl progenitor_client::ClientHooks<RawInner> for raw::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let mutating = request.method() != reqwest::Method::GET && request.method() != reqwest::Method::HEAD;
        let headers = request.headers_mut();
        transport::strip_generated_headers(headers);
        transport::authorize(headers, &self.inner.auth);
        if let Some(code) = &self.inner.test_code {
            headers.insert(TEST_CODE, code.clone());
        }
        // English answers use other enum values than the generated types know.
        headers.remove(reqwest::header::ACCEPT_LANGUAGE);
        headers.insert(
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_static(transport::USER_AGENT),
        );
        // One key per raw call, the same on every attempt: Toss answers a replay with the first answer.
        if mutating
            && !headers.contains_key(RAW_IDEMPOTENCY_KEY)
            && let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        {
            headers.insert(RAW_IDEMPOTENCY_KEY, value);
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

const RAW_IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
