//! The generated clients' calls (`Client::raw()`) through the facade's transport.
//!
//! progenitor hands every request it builds to its `ClientHooks::exec` hook; each provider's hook sends it here,
//! so a raw call gets the same policy as the facade's own calls (see [`crate::transport`]): one deadline for the
//! whole call, retries of reads and of keyed calls only, the provider's "still working on this key" answer polled,
//! no redirects, the response size cap, a `kr_payments.request` tracing span named by the operation id, bodies
//! logged redacted at TRACE.
//!
//! A call that ends without a usable answer (a timeout, a refused replay, a redirect, an answer above the size
//! limit) still has to come back to progenitor as a `reqwest::Response`. It comes back as a response with status
//! [`RAW_FAILURE_STATUS`], which no server sends and no generated operation lists, so progenitor returns it as
//! `Error::UnexpectedResponse`; the transport error rides along in the response's extensions, and
//! `kr_payments::Error::from` (or `?` in a function returning `kr_payments::Error<E>`) turns it back into
//! [`Error::Transport`], with its delivery.

use crate::error::{DecodeError, Delivery, Error, InvalidRequest, TransportError, TransportErrorKind};
use crate::transport::{Call, Replay, Response, Transport};
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The status of the response that stands for a raw call that ended without a usable answer.
pub const RAW_FAILURE_STATUS: u16 = 999;

/// The path template the tracing span records for a raw call: the operation id names it instead.
const RAW_PATH_TEMPLATE: &str = "(generated)";

/// How a provider's raw mutating calls may be replayed.
#[derive(Clone, Copy)]
pub(crate) enum RawReplay {
    /// A mutating call carrying an `Idempotency-Key` is safe to replay (PortOne V2, Toss).
    Keyed,
    /// Mutating calls are never replayed once they may have been sent (iamport takes no key).
    Never(&'static str),
}

/// The transport failure of a raw call, carried in the extensions of the [`RAW_FAILURE_STATUS`] response.
#[derive(Clone)]
struct RawFailure(Arc<Mutex<Option<TransportError>>>);

/// Sends a request the generated client built through `transport`; see the module docs.
pub(crate) async fn exec(
    transport: &Transport,
    request: reqwest::Request,
    operation: &'static str,
    replay: RawReplay,
    pending: Option<fn(&Response) -> bool>,
) -> reqwest::Result<reqwest::Response> {
    let Some(path) = request
        .url()
        .as_str()
        .strip_prefix(transport.base_url.as_str())
        .map(str::to_string)
    else {
        // Not built from this client's base URL (never the case for the generated code): nothing to apply the
        // policy to, so the request goes out as built, still without redirects.
        return transport.http.execute(request).await;
    };
    let body = match request.body() {
        None => None,
        Some(body) => match body.as_bytes() {
            Some(bytes) => Some(Bytes::copy_from_slice(bytes)),
            // A streamed body cannot be replayed or logged; the generated clients send none.
            None => return transport.http.execute(request).await,
        },
    };
    let mut call = Call::new(operation, request.method().clone(), RAW_PATH_TEMPLATE, path);
    call.headers = request.headers().clone();
    call.body = body;
    if call.mutating() {
        call.replay = match replay {
            RawReplay::Keyed if call.headers.contains_key("idempotency-key") => Replay::Safe,
            RawReplay::Keyed => Replay::Unsafe("the request carries no Idempotency-Key"),
            RawReplay::Never(why) => Replay::Unsafe(why),
        };
        call.pending = pending;
    }
    Ok(match transport.execute(&call).await {
        Ok(answer) => {
            let mut response = http::Response::new(reqwest::Body::from(answer.body));
            *response.status_mut() = answer.status;
            *response.headers_mut() = answer.headers;
            reqwest::Response::from(response)
        }
        Err(failure) => failure_response(failure),
    })
}

fn failure_response(failure: TransportError) -> reqwest::Response {
    let mut response = http::Response::new(reqwest::Body::from(Bytes::new()));
    // 999 is inside the range `http` accepts, so this cannot fail.
    *response.status_mut() = http::StatusCode::from_u16(RAW_FAILURE_STATUS).unwrap_or(http::StatusCode::BAD_GATEWAY);
    response
        .extensions_mut()
        .insert(RawFailure(Arc::new(Mutex::new(Some(failure)))));
    reqwest::Response::from(response)
}

/// The transport error a [`RAW_FAILURE_STATUS`] response stands for, taken out of it (once).
fn take_failure(response: &reqwest::Response) -> Option<TransportError> {
    let failure = response.extensions().get::<RawFailure>()?;
    failure.0.lock().ok()?.take()
}

fn transport_error(kind: TransportErrorKind, delivery: Delivery, source: Option<reqwest::Error>) -> TransportError {
    TransportError {
        kind,
        attempts: 1,
        retry_refused: None,
        elapsed: Duration::ZERO,
        status: source.as_ref().and_then(|e| e.status()).map(|s| s.as_u16()),
        delivery,
        source,
    }
}

/// A generated call's error as the facade's: the transport's failure as [`Error::Transport`], the provider's typed
/// error body as [`Error::Api`], an answer that does not decode as [`Error::Decode`].
///
/// The generated client does not say whether the call changed something, so an error answer is classified as one
/// to a call that may have (HTTP 401, 408, 429, 5xx and redirects: [`Delivery::Unknown`]). A body that does not
/// decode is reported with status 0 (progenitor does not keep it) and without quoting the value serde refused. An
/// access token that could not be obtained (iamport) is a transport error of kind `Other` that sent nothing.
impl<E> From<progenitor_client::Error<E>> for Error<E> {
    fn from(error: progenitor_client::Error<E>) -> Self {
        use progenitor_client::Error as Raw;
        match error {
            Raw::InvalidRequest(why) => {
                Error::InvalidRequest(InvalidRequest::new("request", crate::raw_json::bounded(&why, 300)))
            }
            Raw::ErrorResponse(answer) => {
                let status = answer.status().as_u16();
                Error::Api(crate::error::ApiError::answer(status, answer.into_inner(), true))
            }
            Raw::UnexpectedResponse(response) => match take_failure(&response) {
                Some(failure) => Error::Transport(failure),
                None => {
                    let status = response.status().as_u16();
                    Error::Decode(
                        DecodeError::new(status, ".", "an HTTP status the operation does not list", Bytes::new())
                            .for_mutation(true),
                    )
                }
            },
            Raw::InvalidResponsePayload(body, e) => Error::Decode(
                DecodeError::new(
                    0,
                    ".",
                    format!(
                        "the body does not match the operation's type ({:?} at line {}, column {})",
                        e.classify(),
                        e.line(),
                        e.column()
                    ),
                    body,
                )
                .for_mutation(true),
            ),
            Raw::CommunicationError(e) => {
                let kind = if e.is_timeout() {
                    TransportErrorKind::Timeout
                } else if e.is_connect() {
                    TransportErrorKind::Connect
                } else {
                    TransportErrorKind::Interrupted
                };
                let delivery = if kind == TransportErrorKind::Connect {
                    Delivery::NotSent
                } else {
                    Delivery::Unknown
                };
                Error::Transport(transport_error(kind, delivery, Some(e)))
            }
            Raw::ResponseBodyError(e) => Error::Transport(transport_error(
                TransportErrorKind::Interrupted,
                Delivery::Unknown,
                Some(e),
            )),
            Raw::InvalidUpgrade(e) => {
                Error::Transport(transport_error(TransportErrorKind::Other, Delivery::Unknown, Some(e)))
            }
            Raw::Custom(_) => Error::Transport(transport_error(TransportErrorKind::Other, Delivery::NotSent, None)),
        }
    }
}
