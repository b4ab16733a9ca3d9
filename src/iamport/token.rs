//! The access token every iamport call needs, from `POST /users/getToken`.
//!
//! * **Cached** and shared by every clone of a client, the facade's calls and the raw client's alike.
//! * **Expiry from the server's clock.** The answer carries `expired_at` and the server's own `now` (both unix
//!   seconds). Their difference is the token's lifetime, counted on the local monotonic clock from the moment the
//!   request was sent, so a local wall clock that is minutes off (or jumps) changes nothing, and the expiry is
//!   never later than the server's.
//! * **Refreshed ahead of expiry** by [`REFRESH_MARGIN`] (60 s). Why a margin, and why that one: a call that
//!   starts with a token about to expire may reach iamport after it did, and fail with 401; the margin leaves
//!   room for the request's own travel time. iamport answers a token request made in the last minute of a
//!   token's life with the *same* token and a later expiry, so refreshing within that minute costs nothing: calls
//!   already in flight keep a valid token.
//! * **Single flight.** When no valid token is cached, one caller asks for one while the others wait for its
//!   result, success or failure: N concurrent calls on a cold client make exactly one token request, and bad
//!   credentials are reported to all of them without N failing requests.
//! * **401 means the token is gone** (expired early, revoked, replaced): the client drops it, fetches a new one
//!   and sends the call once more, once.
//!
//! The token and the credentials never appear in `Debug`, `Display` or an error.

use super::error::{Error, GET_TOKEN_OPERATION, decode_envelope};
use super::raw::types::{AuthAnnotation, GetTokenBody};
use crate::error::DecodeError;
use crate::transport::{Call, Credential, Replay, Transport};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use std::fmt;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long before its expiry a cached token is replaced.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The longest a token is cached, whatever its `expired_at` says.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A string that prints as `<redacted>`.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A token ready to be sent.
#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    /// `Bearer <token>`, marked sensitive.
    pub bearer: Credential,
    /// Which fetch produced it; a 401 drops the cached token only if it is still this one.
    pub generation: u64,
}

#[derive(Debug)]
struct Cached {
    token: AccessToken,
    /// When a call stops using it and asks for a new one (expiry minus the margin).
    refresh_at: Instant,
}

/// The outcome of the last completed fetch, for the callers that waited on it.
#[derive(Debug, Default)]
struct State {
    cached: Option<Cached>,
    /// Fetches completed so far; a waiter that sees this move knows a fetch finished while it waited.
    fetches: u64,
    /// The failure of the last fetch, if it failed.
    last_failure: Option<SharedFailure>,
}

/// A fetch failure in a form every waiter can get a copy of.
#[derive(Debug, Clone)]
enum SharedFailure {
    Api(crate::ApiError<super::IamportError>),
    Decode(DecodeError),
    Transport {
        kind: crate::error::TransportErrorKind,
        attempts: u32,
        elapsed: Duration,
    },
    Invalid(crate::InvalidRequest),
    Inconsistent(crate::error::InconsistentAnswer),
    Unverified(crate::error::Unverified),
}

impl SharedFailure {
    fn of(e: &Error) -> Self {
        match e {
            crate::Error::Api(a) => SharedFailure::Api(a.clone()),
            crate::Error::Decode(d) => SharedFailure::Decode(d.clone()),
            crate::Error::Transport(t) => SharedFailure::Transport {
                kind: t.kind,
                attempts: t.attempts,
                elapsed: t.elapsed,
            },
            crate::Error::InvalidRequest(i) => SharedFailure::Invalid(i.clone()),
            crate::Error::Inconsistent(i) => SharedFailure::Inconsistent(i.clone()),
            crate::Error::Unverified(u) => SharedFailure::Unverified(u.clone()),
        }
    }

    fn to_error(&self) -> Error {
        match self {
            SharedFailure::Api(a) => crate::Error::Api(a.clone()),
            SharedFailure::Decode(d) => crate::Error::Decode(d.clone()),
            SharedFailure::Transport {
                kind,
                attempts,
                elapsed,
            } => crate::Error::Transport(crate::error::TransportError {
                kind: *kind,
                attempts: *attempts,
                retry_refused: None,
                elapsed: *elapsed,
                status: None,
                // The token request is not a payment operation: nothing a waiter asked for was sent.
                delivery: crate::error::Delivery::NotSent,
                // The underlying reqwest error belongs to the caller that made the request.
                source: None,
            }),
            SharedFailure::Invalid(i) => crate::Error::InvalidRequest(i.clone()),
            SharedFailure::Inconsistent(i) => crate::Error::Inconsistent(i.clone()),
            SharedFailure::Unverified(u) => crate::Error::Unverified(u.clone()),
        }
    }
}

/// Obtains, caches and refreshes the access token of one set of credentials.
pub(crate) struct TokenManager {
    transport: Transport,
    imp_key: Secret,
    imp_secret: Secret,
    tier: Option<HeaderValue>,
    /// A blocking lock, never held across an `.await` (the compiler sees to it: its guard is not `Send`): reading the
    /// cached token is then two atomic operations, where an async lock's release also takes its waiters' mutex.
    state: RwLock<State>,
    /// Held by the one caller fetching a token.
    fetching: Mutex<()>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenManager { .. }")
    }
}

impl TokenManager {
    pub fn new(transport: Transport, imp_key: Secret, imp_secret: Secret, tier: Option<HeaderValue>) -> Self {
        TokenManager {
            transport,
            imp_key,
            imp_secret,
            tier,
            state: RwLock::new(State::default()),
            fetching: Mutex::new(()),
        }
    }

    /// A token valid for at least [`REFRESH_MARGIN`] more, fetching one if needed.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        let seen = {
            let state = self.read_state();
            if let Some(c) = state.cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
                return Ok(c.token.clone());
            }
            state.fetches
        };
        let _fetching = self.fetching.lock().await;
        {
            let state = self.read_state();
            if state.fetches != seen {
                // A fetch finished while we waited: its result is ours too, even a token already inside the
                // margin (asking again at once would get the same token) or a failure (asking again at once
                // would fail the same way).
                if let Some(c) = &state.cached {
                    return Ok(c.token.clone());
                }
                if let Some(failure) = &state.last_failure {
                    return Err(failure.to_error());
                }
            }
            if let Some(c) = state.cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
                return Ok(c.token.clone());
            }
        }
        // Boxed: fetching is the cold path, and inline it would put a whole request in every call's future.
        let outcome = Box::pin(self.fetch()).await;
        let mut state = self.write_state();
        state.fetches += 1;
        match outcome {
            Ok((bearer, refresh_at)) => {
                let token = AccessToken {
                    bearer,
                    generation: state.fetches,
                };
                state.cached = Some(Cached {
                    token: token.clone(),
                    refresh_at,
                });
                state.last_failure = None;
                Ok(token)
            }
            Err(e) => {
                state.cached = None;
                state.last_failure = Some(SharedFailure::of(&e));
                Err(e)
            }
        }
    }

    /// Forgets the token of `generation` after iamport refused it, unless a newer one replaced it already.
    pub fn invalidate(&self, generation: u64) {
        let mut state = self.write_state();
        if state.cached.as_ref().is_some_and(|c| c.token.generation == generation) {
            state.cached = None;
        }
    }

    /// The state to read. A panic while it was written cannot leave it half-changed (each write is a few
    /// assignments), so a poisoned lock is used as it is.
    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    async fn fetch(&self) -> Result<(Credential, Instant), Error> {
        let body = GetTokenBody::builder()
            .imp_key(self.imp_key.expose())
            .imp_secret(self.imp_secret.expose())
            .build();
        let mut call = Call::new(
            GET_TOKEN_OPERATION,
            Method::POST,
            "/users/getToken",
            "/users/getToken".into(),
        )
        .json(&body);
        // Asking twice for a token is harmless: iamport hands out the same one until it expires.
        call.replay = Replay::Safe;
        if let Some(tier) = &self.tier {
            call.headers.insert(HeaderName::from_static("tier"), tier.clone());
        }
        let sent_at = Instant::now();
        let resp = self.transport.execute(&call).await?;
        let auth: AuthAnnotation = decode_envelope(GET_TOKEN_OPERATION, &resp)?;
        let status = resp.status.as_u16();
        let invalid = |path: &str, message: &str| {
            crate::Error::Decode(super::error::scrub(
                GET_TOKEN_OPERATION,
                DecodeError::new(status, path, message, resp.body.clone()),
            ))
        };
        let token = auth
            .access_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| invalid("response.access_token", "no access token"))?;
        let bearer = Credential::new(&format!("Bearer {token}"), "access_token")
            .map_err(|_| invalid("response.access_token", "not usable in an HTTP header"))?;
        let lifetime = match (auth.now, auth.expired_at) {
            (Some(now), Some(expired_at)) => {
                Duration::from_secs(u64::try_from(expired_at.saturating_sub(now)).unwrap_or(0))
            }
            // Without both times the expiry is unknown: use the token for this call and ask again next time.
            _ => {
                tracing::warn!("iamport token answer without `now` or `expired_at`; the token is not cached");
                Duration::ZERO
            }
        };
        // A far-future `expired_at` is not trusted further than a day (iamport's tokens live 30 minutes).
        let ahead = lifetime.min(MAX_LIFETIME).saturating_sub(REFRESH_MARGIN);
        let refresh_at = sent_at.checked_add(ahead).unwrap_or(sent_at);
        Ok((bearer, refresh_at))
    }
}
