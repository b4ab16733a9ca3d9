//! iamport, PortOne V1 (`api.iamport.kr`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kr_payments::iamport::{Client, ImpUid};
//!
//! let client = Client::builder().imp_key("your-imp-key").imp_secret("your-imp-secret").build()?;
//! let payment = client.get_payment(&ImpUid::new("imp_123456789012")).await?;
//! println!("{:?}, {:?} won left to cancel", payment.status, payment.cancellable_balance());
//! # Ok(()) }
//! ```
//!
//! * Authentication is automatic: the client obtains an access token with the REST API key and secret, caches
//!   it, refreshes it ahead of its expiry, and recovers from a 401 once (see the token section below).
//! * Every answer is read through its `{code, message, response}` envelope. A non-zero `code` is an error even
//!   with HTTP 200, which is how iamport reports a refused refund: [`crate::Error::Api`] with an
//!   [`IamportError`].
//! * [`cancel`]: full, partial (always guarded by `checksum`) and virtual-account cancels.
//! * [`payment`]: lookups by `imp_uid` or `merchant_uid`, payment lists as a stream, and the [`Payment`] type with
//!   its balance helpers.
//! * [`webhook`]: parsing the unsigned V1 webhooks and confirming them with iamport.
//! * [`raw`]: every other operation, generated from the spec, with the same token and headers.
//!
//! # The access token
//! iamport's tokens come from `POST /users/getToken` and expire after a while (30 minutes at the time of
//! writing). The client fetches one on the first call and shares it between clones and the raw client. Its expiry
//! is computed from the `now` and `expired_at` iamport sends, measured on the local monotonic clock, so a wrong
//! local clock does not matter; it is replaced [`TOKEN_REFRESH_MARGIN`] before it expires. When several calls
//! need a token at once, one request is made and all of them use its answer. A call answered with 401 drops
//! the token, gets a new one and is sent once more.

pub mod cancel;
pub mod error;
pub mod payment;
pub mod raw;
mod reconcile;
mod token;
pub mod webhook;

pub use crate::account::{AccountNumber, BankCode, HolderName, PhoneNumber};
pub use cancel::{CancelRequest, CancelRequester, CancelTarget, Cancelled, RefundAccount};
pub use error::{Error, IamportError};
pub use payment::{
    CancelHistoryEntry, ImpUid, ListSorting, MerchantUid, Page, PayMethod, Payment, PaymentChannel, PaymentList,
    PaymentRef, PaymentStatus, StatusFilter,
};
pub use token::REFRESH_MARGIN as TOKEN_REFRESH_MARGIN;

use crate::transport::{self, BuildError, Call, Options, RetryPolicy, Transport};
use reqwest::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use token::{Secret, TokenManager};

/// Where iamport lives.
pub const DEFAULT_BASE_URL: &str = "https://api.iamport.kr";

const TIER: HeaderName = HeaderName::from_static("tier");

/// An iamport client. Cheap to clone; clones share one connection pool and one access token.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    transport: Transport,
    tokens: Arc<TokenManager>,
    tier: Option<HeaderValue>,
    raw: raw::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("iamport::Client")
            .field("base_url", &self.shared.transport.base_url)
            .field("tier", &self.tier())
            .field("imp_key", &"<redacted>")
            .field("imp_secret", &"<redacted>")
            .finish()
    }
}

impl Client {
    /// Starts configuring a client. The REST API key and secret are required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The generated low-level client for every other operation, with the same base URL, access token and `Tier`
    /// header. Its calls read the envelope themselves: check `code` on every answer.
    pub fn raw(&self) -> &raw::Client {
        &self.shared.raw
    }

    /// The sub-merchant tier code sent as the `Tier` header, if any.
    pub fn tier(&self) -> Option<&str> {
        self.shared.tier.as_ref().and_then(|t| t.to_str().ok())
    }

    /// Sends a call with the access token and the `Tier` header, retries it once with a new token after a 401,
    /// and reads the envelope.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn keeps each by-value argument twice in its future"
    )]
    pub(crate) fn send<T: DeserializeOwned>(
        &self,
        mut call: Call,
    ) -> impl Future<Output = Result<T, Error>> + Send + '_ {
        // An `async move` block keeps the call once; an `async fn` would keep it twice (its argument and the body's).
        async move {
            let resp = self.execute(&mut call).await?;
            error::decode_envelope(call.operation, &resp)
        }
    }

    /// [`send`](Self::send) for an answer whose payload is one payment view, read once.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn keeps each by-value argument twice in its future"
    )]
    pub(crate) fn send_view<V: crate::lossless::View + DeserializeOwned>(
        &self,
        mut call: Call,
    ) -> impl Future<Output = Result<V, Error>> + Send + '_ {
        async move {
            let resp = self.execute(&mut call).await?;
            error::decode_envelope_view(call.operation, &resp)
        }
    }

    /// [`send`](Self::send) without reading the answer: the response keeps whether an earlier attempt's outcome is
    /// unknown, which the cancel needs to settle.
    ///
    /// A 401 means the token was refused. A read or a `checksum`-guarded cancel is then sent once more with a new
    /// token, within the same deadline. An unguarded cancel is not: a 401 from a proxy can follow a cancel iamport
    /// applied, and sending it again could refund twice, so that 401 is the answer (its outcome unknown).
    ///
    /// Takes the call by reference (it gains the `Tier`, `Authorization` headers and its deadline): the caller's
    /// future keeps it, not a second copy in this one.
    pub(crate) async fn execute(&self, call: &mut Call) -> Result<transport::Response, Error> {
        if let Some(tier) = &self.shared.tier {
            call.headers.insert(TIER, tier.clone());
        }
        call.deadline = Some(self.shared.transport.deadline_for(call));
        // Without a token the call is never sent, whatever happened to the token request.
        let token = self.shared.tokens.token().await.map_err(Error::before_sending)?;
        transport::authorize(&mut call.headers, &token.bearer);
        // The 401 answer ends with this block: kept through the token's refresh, it would take a slot of its own
        // in every call's future, beside the first exchange's.
        let earlier_unknown = {
            let resp = self.shared.transport.execute(call).await?;
            if resp.status != reqwest::StatusCode::UNAUTHORIZED || call.replay != transport::Replay::Safe {
                return Ok(resp);
            }
            tracing::debug!(
                operation = call.operation,
                "iamport answered 401; refreshing the token once"
            );
            // The 401 itself may follow an applied attempt (a proxy's answer): the replay is guarded, but the
            // settling of its outcome must know.
            resp.earlier_unknown || call.mutating()
        };
        self.shared.tokens.invalidate(token.generation);
        let token = self.shared.tokens.token().await.map_err(|e| {
            if earlier_unknown {
                e.with_delivery(crate::error::Delivery::Unknown)
            } else {
                e.before_sending()
            }
        })?;
        transport::authorize(&mut call.headers, &token.bearer);
        // Boxed: the replay after a 401 is the cold path, and would otherwise enlarge every call's future.
        match Box::pin(self.shared.transport.execute(call)).await {
            Ok(mut again) => {
                again.earlier_unknown |= earlier_unknown;
                Ok(again)
            }
            Err(mut again) => {
                if earlier_unknown {
                    again.delivery = crate::error::Delivery::Unknown;
                }
                Err(again.into())
            }
        }
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.transport.base_url
    }
}

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    imp_key: Option<String>,
    imp_secret: Option<String>,
    tier: Option<String>,
    options: Options,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("iamport::ClientBuilder")
            .field("imp_key", &self.imp_key.as_ref().map(|_| "<redacted>"))
            .field("imp_secret", &self.imp_secret.as_ref().map(|_| "<redacted>"))
            .field("tier", &self.tier)
            .field("options", &self.options)
            .finish()
    }
}

impl ClientBuilder {
    /// The REST API key (`imp_key`). Never printed.
    pub fn imp_key(mut self, key: impl Into<String>) -> Self {
        self.imp_key = Some(key.into());
        self
    }

    /// The REST API secret (`imp_secret`). Never printed.
    pub fn imp_secret(mut self, secret: impl Into<String>) -> Self {
        self.imp_secret = Some(secret.into());
        self
    }

    /// The sub-merchant's tier code, sent as the `Tier` header on every request: an agency's key acts for the
    /// sub-merchant it names.
    pub fn tier(mut self, tier: impl Into<String>) -> Self {
        self.tier = Some(tier.into());
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

    /// Builds the client. No request is made until the first call.
    ///
    /// # Errors
    /// [`BuildError::Missing`] without a key or secret; [`BuildError::Invalid`] for a blank key or secret, a tier
    /// that cannot travel in a header, or a base URL that does not parse.
    pub fn build(self) -> Result<Client, BuildError> {
        let imp_key = required(self.imp_key, "imp_key")?;
        let imp_secret = required(self.imp_secret, "imp_secret")?;
        let tier = match self.tier {
            None => None,
            Some(t) if t.trim().is_empty() => {
                return Err(BuildError::Invalid {
                    setting: "tier",
                    reason: "is blank".into(),
                });
            }
            Some(t) => Some(HeaderValue::from_str(&t).map_err(|_| BuildError::Invalid {
                setting: "tier",
                reason: "contains characters not allowed in an HTTP header".into(),
            })?),
        };
        let transport = Transport::new("iamport", DEFAULT_BASE_URL, self.options)?;
        let tokens = Arc::new(TokenManager::new(
            transport.clone(),
            Secret::new(imp_key),
            Secret::new(imp_secret),
            tier.clone(),
        ));
        let raw = raw::Client::new_with_client(
            &transport.base_url,
            transport.http.clone(),
            RawInner {
                tokens: Some(tokens.clone()),
                tier: tier.clone(),
                transport: Some(transport.clone()),
            },
        );
        Ok(Client {
            shared: Arc::new(Shared {
                transport,
                tokens,
                tier,
                raw,
            }),
        })
    }
}

fn required(value: Option<String>, setting: &'static str) -> Result<String, BuildError> {
    let value = value.ok_or(BuildError::Missing(setting))?;
    if value.trim().is_empty() {
        return Err(BuildError::Invalid {
            setting,
            reason: "is blank".into(),
        });
    }
    Ok(value)
}

/// What the generated client carries for its hooks: the shared token manager, the `Tier` header and the transport
/// its calls go through. Prints redacted.
#[derive(Clone, Default)]
pub struct RawInner {
    tokens: Option<Arc<TokenManager>>,
    tier: Option<HeaderValue>,
    transport: Option<Transport>,
}

impl fmt::Debug for RawInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawInner { .. }")
    }
}

/// The token request itself must not wait for a token.
const RAW_GET_TOKEN: &str = "get_token";

impl progenitor_client::ClientHooks<RawInner> for raw::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let headers = request.headers_mut();
        transport::strip_generated_headers(headers);
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(transport::USER_AGENT),
        );
        if let Some(tier) = &self.inner.tier {
            headers.insert(TIER, tier.clone());
        }
        if info.operation_id == RAW_GET_TOKEN {
            return Ok(());
        }
        if let Some(tokens) = &self.inner.tokens {
            let token = tokens
                .token()
                .await
                .map_err(|e| progenitor_client::Error::Custom(format!("cannot obtain an iamport access token: {e}")))?;
            transport::authorize(request.headers_mut(), &token.bearer);
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let Some(transport) = &self.inner.transport else {
            return self.client.execute(request).await;
        };
        const NEVER_REPLAYED: crate::raw_call::RawReplay = crate::raw_call::RawReplay::Never(
            "a generated iamport call that changes something is never replayed: iamport takes no idempotency key",
        );
        let tokens = self
            .inner
            .tokens
            .as_ref()
            .filter(|_| info.operation_id != RAW_GET_TOKEN);
        // A read refused with 401 is sent once more with a new token, as the facade's reads are; a call that changes
        // something is not (the 401 may come from a proxy after iamport applied it).
        let again = match tokens {
            Some(_) if request.method() == reqwest::Method::GET => request.try_clone(),
            _ => None,
        };
        let sent = request.headers().get(reqwest::header::AUTHORIZATION).cloned();
        let resp = crate::raw_call::exec(transport, request, info.operation_id, NEVER_REPLAYED, None).await?;
        let (Some(tokens), Some(mut again)) = (tokens, again) else {
            return Ok(resp);
        };
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        // Drop the token that was refused (only if it is still the cached one), then send once more with a new one.
        if let Ok(current) = tokens.token().await
            && Some(current.bearer.header()) == sent
        {
            tokens.invalidate(current.generation);
        }
        match tokens.token().await {
            Ok(token) => {
                transport::authorize(again.headers_mut(), &token.bearer);
                crate::raw_call::exec(transport, again, info.operation_id, NEVER_REPLAYED, None).await
            }
            Err(_) => Ok(resp),
        }
    }
}
