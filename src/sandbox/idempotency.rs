//! One idempotency store for the providers that have an `Idempotency-Key` header (PortOne V2 and
//! Toss), run as a layer in front of their handlers.
//!
//! A key is scoped to the provider, the credential it came with, the method and the path, so the
//! same key used on another payment's cancel path is a request of its own. The first request with a
//! key claims it; until its answer exists, a second one is told the first is still processing (HTTP
//! 409); once it exists, every repeat gets it back (status, content type and body, byte for byte)
//! and nothing is applied again. Keys expire by the sandbox clock, so [`Sandbox::advance`] ages them.
//!
//! | provider   | key format                                                   | kept          | while processing |
//! |------------|--------------------------------------------------------------|---------------|------------------|
//! | PortOne V2 | RFC 8941 sf-string (`"..."`), 16–256 of `A-Z a-z 0-9 - _`     | 3 hours       | 409 `IDEMPOTENCY_OUTSTANDING_REQUEST` |
//! | Toss       | 1–300 visible ASCII characters                               | 15 days       | 409 `IDEMPOTENT_REQUEST_PROCESSING` |
//!
//! Only POST, PUT, PATCH and DELETE use a key (PortOne V2 documents these four; the sandbox applies
//! the same to Toss, whose keyed operations are all POST and DELETE). A request without the header
//! is handled as if there were no store.
//!
//! Assumptions, where the providers' documents say nothing:
//! - PortOne V2's reference lists letters, digits, `-` and `_` as the key's characters and points
//!   to the IETF Idempotency-Key draft, whose value is an sf-string; the sandbox requires both (an
//!   unquoted key is refused with 400 `INVALID_REQUEST`).
//! - A repeat with the same key but another body is answered from the store, not refused.
//! - Toss's status for `IDEMPOTENT_REQUEST_PROCESSING` is not documented; the code is the one
//!   merchants' code handles, and 409 is our choice.
//! - An answer a handler marks [`NotProcessed`] (Toss `FORBIDDEN_CONSECUTIVE_REQUEST`: the request
//!   was turned away before any processing) is not stored, so the key stays free for a later retry.
//!
//! [`Sandbox::advance`]: super::Sandbox::advance

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::faults::{Hold, RouteInfo};
use super::{Provider, Shared, lock};

/// PortOne V2 keeps a key 3 hours.
pub(crate) const PORTONE_TTL: TimeDelta = TimeDelta::hours(3);
/// Toss keeps a key 15 days from its first use.
pub(crate) const TOSS_TTL: TimeDelta = TimeDelta::days(15);
const PORTONE_KEY_LEN: std::ops::RangeInclusive<usize> = 16..=256;
const TOSS_KEY_MAX: usize = 300;

/// A response extension a handler sets when the request was refused before any processing; such an
/// answer is not stored under the request's key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotProcessed;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Scope {
    provider: Provider,
    /// SHA-256 of the `Authorization` header: the credential scopes the key without being kept.
    credential: [u8; 32],
    method: Method,
    path: String,
    key: String,
}

#[derive(Clone)]
enum Entry {
    InFlight {
        since: DateTime<Utc>,
    },
    Done {
        since: DateTime<Utc>,
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: bytes::Bytes,
    },
}

impl Entry {
    fn since(&self) -> DateTime<Utc> {
        match self {
            Entry::InFlight { since } | Entry::Done { since, .. } => *since,
        }
    }
}

/// Every claimed key and its answer.
#[derive(Default)]
pub(crate) struct IdempotencyStore {
    entries: Mutex<HashMap<Scope, Entry>>,
}

impl fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys can be derived from merchants' refund ids; only their number is shown.
        f.debug_struct("IdempotencyStore")
            .field("keys", &lock(&self.entries).len())
            .finish()
    }
}

enum Claim {
    /// No key, or a method that does not use one: handle as usual.
    Pass,
    /// Answered from the store or refused.
    Answer(Response),
    /// This request owns the key; its answer is to be stored.
    Owner(Scope),
}

fn ttl(provider: Provider) -> TimeDelta {
    match provider {
        Provider::Toss => TOSS_TTL,
        _ => PORTONE_TTL,
    }
}

fn error(provider: Provider, status: StatusCode, code: &str, message: &str) -> Response {
    let body = match provider {
        Provider::PortOneV2 => json!({"type": code, "message": message}),
        _ => json!({"code": code, "message": message}),
    };
    (status, axum::Json(body)).into_response()
}

/// The key inside a PortOne V2 header value: an sf-string whose content is 16–256 of `A-Z a-z 0-9 - _`.
fn portone_key(raw: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "Idempotency-Key must be ASCII")?;
    let text = text.trim_matches(' ');
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|_| text.len() >= 2)
        .ok_or("Idempotency-Key must be a quoted string (RFC 8941 sf-string), e.g. \"my-key-0001-abcdef\"")?;
    let mut key = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let c = match c {
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\')) => e,
                _ => return Err("Idempotency-Key has an invalid escape in its quoted string"),
            },
            '"' => return Err("Idempotency-Key has an unescaped quote inside its quoted string"),
            c => c,
        };
        key.push(c);
    }
    if !PORTONE_KEY_LEN.contains(&key.len()) {
        return Err("Idempotency-Key must be 16 to 256 characters long");
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("Idempotency-Key may contain only letters, digits, '-' and '_'");
    }
    Ok(key)
}

fn toss_key(raw: &HeaderValue) -> Result<String, &'static str> {
    match raw.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= TOSS_KEY_MAX => Ok(k.to_owned()),
        _ => Err("Idempotency-Key must be 1 to 300 visible ASCII characters"),
    }
}

impl IdempotencyStore {
    fn claim(&self, provider: Option<Provider>, path: &str, req: &Request, now: DateTime<Utc>) -> Claim {
        let Some(provider) = provider.filter(|p| matches!(p, Provider::PortOneV2 | Provider::Toss)) else {
            return Claim::Pass;
        };
        if !matches!(
            *req.method(),
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) {
            return Claim::Pass;
        }
        let mut values = req.headers().get_all("idempotency-key").iter();
        let Some(raw) = values.next() else {
            return Claim::Pass;
        };
        let parsed = if values.next().is_some() {
            Err("send one Idempotency-Key header, not several")
        } else if provider == Provider::PortOneV2 {
            portone_key(raw.as_bytes())
        } else {
            toss_key(raw)
        };
        let key = match parsed {
            Ok(k) => k,
            Err(message) => {
                let code = if provider == Provider::PortOneV2 {
                    "INVALID_REQUEST"
                } else {
                    "INVALID_IDEMPOTENCY_KEY"
                };
                return Claim::Answer(error(provider, StatusCode::BAD_REQUEST, code, message));
            }
        };
        let credential = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| Sha256::digest(v.as_bytes()).into())
            .unwrap_or([0; 32]);
        let scope = Scope {
            provider,
            credential,
            method: req.method().clone(),
            path: path.to_owned(),
            key,
        };
        let mut entries = lock(&self.entries);
        // Answers age out by the sandbox clock; a request still in flight keeps its claim.
        entries.retain(|s, e| matches!(e, Entry::InFlight { .. }) || now - e.since() < ttl(s.provider));
        match entries.get(&scope) {
            Some(Entry::InFlight { .. }) => {
                let (code, message) = match provider {
                    Provider::PortOneV2 => (
                        "IDEMPOTENCY_OUTSTANDING_REQUEST",
                        "a request with this Idempotency-Key is still being processed: retry later",
                    ),
                    _ => (
                        "IDEMPOTENT_REQUEST_PROCESSING",
                        "a request with this Idempotency-Key is still being processed",
                    ),
                };
                Claim::Answer(error(provider, StatusCode::CONFLICT, code, message))
            }
            Some(Entry::Done {
                status,
                content_type,
                body,
                ..
            }) => {
                let mut resp = (*status, body.clone()).into_response();
                if let Some(ct) = content_type {
                    resp.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
                }
                Claim::Answer(resp)
            }
            None => {
                entries.insert(scope.clone(), Entry::InFlight { since: now });
                Claim::Owner(scope)
            }
        }
    }

    fn release(&self, scope: &Scope) {
        lock(&self.entries).remove(scope);
    }

    fn finish(
        &self,
        scope: Scope,
        since: DateTime<Utc>,
        status: StatusCode,
        content_type: Option<HeaderValue>,
        body: bytes::Bytes,
    ) {
        lock(&self.entries).insert(
            scope,
            Entry::Done {
                since,
                status,
                content_type,
                body,
            },
        );
    }
}

/// The layer: claims or replays the key, holds a [`Hold`] request, runs the handler, stores its answer.
pub(crate) async fn layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (provider, path) = match req.extensions().get::<RouteInfo>() {
        Some(info) => (info.provider, info.path.clone()),
        None => (None, req.uri().path().to_owned()),
    };
    let hold = req.extensions().get::<Hold>().map(|h| h.0);
    let now = shared.now();
    let owner = match shared.idempotency.claim(provider, &path, &req, now) {
        Claim::Pass => None,
        Claim::Answer(resp) => return resp,
        Claim::Owner(scope) => Some(scope),
    };
    if let Some(d) = hold {
        tokio::time::sleep(d).await;
    }
    let resp = next.run(req).await;
    let Some(scope) = owner else {
        return resp;
    };
    if resp.extensions().get::<NotProcessed>().is_some() {
        shared.idempotency.release(&scope);
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        shared.idempotency.release(&scope);
        return error(
            scope.provider,
            StatusCode::INTERNAL_SERVER_ERROR,
            "SANDBOX_INTERNAL_ERROR",
            "the sandbox could not read its own answer",
        );
    };
    shared.idempotency.finish(
        scope,
        now,
        parts.status,
        parts.headers.get(header::CONTENT_TYPE).cloned(),
        bytes.clone(),
    );
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
