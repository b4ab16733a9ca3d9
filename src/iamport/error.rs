//! iamport's error answer and the `{code, message, response}` envelope every response travels in.
//!
//! iamport reports most failures, refused refunds included, as HTTP 200 with a non-zero `code`. Reading the HTTP
//! status alone would take a refused refund for a successful one, so the client reads every response through
//! its envelope: `code == 0` with a 2xx status is the only success, anything else becomes [`crate::Error::Api`]
//! carrying an [`IamportError`] with the status it arrived with.

use crate::RawJson;
use crate::error::{ApiError, ApiErrorBody, DecodeError, decode_json};
use crate::transport::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// The error of an iamport call.
pub type Error = crate::Error<IamportError>;

/// The operation id of the token request, as [`IamportError::operation`] names it.
pub const GET_TOKEN_OPERATION: &str = "getToken";

/// iamport's answer when a call did not succeed: its `code` (never 0 here) and `message`.
///
/// It can arrive with HTTP 200 (a refused cancel, an unknown payment on some endpoints) or with an error status (an
/// invalid or expired token is 401). [`crate::ApiError::status`] keeps which.
///
/// `Debug` and `Display` show the payment in [`response`](Self::response) by its ids and status only: it is the
/// customer's whole payment (name, phone, card and account numbers).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct IamportError {
    /// iamport's result code: any value other than 0 (e.g. 1 or -1).
    pub code: i64,
    /// iamport's message, usually Korean, e.g. why a refund was refused.
    pub message: Option<String>,
    /// The envelope's `response`, when a failed call still carried one. Always `None` for the token request, so
    /// nothing a token answer holds is kept in an error.
    pub response: Option<serde_json::Value>,
    /// The operation that failed, e.g. `cancelPayment`, or [`GET_TOKEN_OPERATION`] when the access token could not
    /// be obtained (then the call itself was never sent).
    pub operation: &'static str,
    code_text: String,
}

impl IamportError {
    /// An error for `operation` with iamport's `code` and `message`.
    pub fn new(operation: &'static str, code: i64, message: Option<String>) -> Self {
        IamportError {
            code,
            message,
            response: None,
            operation,
            code_text: code.to_string(),
        }
    }

    /// Whether the access token could not be obtained (bad `imp_key`/`imp_secret`, or a refusal on iamport's
    /// side). The call that needed the token was not sent.
    pub fn is_token_error(&self) -> bool {
        self.operation == GET_TOKEN_OPERATION
    }
}

impl ApiErrorBody for IamportError {
    fn code(&self) -> &str {
        &self.code_text
    }
    fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl fmt::Display for IamportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "iamport {} failed with code {}", self.operation, self.code)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for IamportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamportError")
            .field("code", &self.code)
            .field("message", &self.message)
            .field("response", &self.response.as_ref().map(crate::sensitive::IdsOnly))
            .field("operation", &self.operation)
            .finish()
    }
}

impl std::error::Error for IamportError {}

/// The envelope without its payload: enough to tell success from failure. `response` is skipped, not built (serde
/// passes over an unknown field without allocating).
#[derive(Deserialize)]
struct Head {
    code: Option<i64>,
    message: Option<String>,
}

/// The payload of a failed call, kept as JSON on the error; read only once the call is known to have failed.
#[derive(Deserialize)]
struct FailedPayload {
    #[serde(default)]
    response: Option<serde_json::Value>,
}

/// The whole envelope in one pass: `code`, `message` and the payload typed. Decoded from the whole body so decode
/// errors name the full JSON path (`response.amount`, not `amount`).
#[derive(Deserialize)]
struct Envelope<T> {
    code: Option<i64>,
    message: Option<String>,
    response: Option<T>,
}

/// Reads an iamport response: `T` from `response` when `code` is 0 and the status is 2xx, the typed error
/// otherwise.
///
/// A non-2xx body that is not an envelope (a proxy's HTML page, an empty 401) is a [`DecodeError`] with the
/// status and the raw body. A 2xx envelope without `code`, or with `code` 0 and no `response`, is a decode error
/// too: success is never assumed.
///
/// The usual answer (a success whose payload fits `T`) is read in one pass over the body, `code` and payload
/// together. Only when that pass fails is the envelope read again, head first, so that a failed call whose
/// payload does not fit `T` is still its typed error, and an undecodable success names the field at fault.
pub(crate) fn decode_envelope<T: DeserializeOwned>(operation: &'static str, resp: &Response) -> Result<T, Error> {
    decode_envelope_in(operation, resp, simdutf8::basic::from_utf8(&resp.body).ok())
}

/// [`decode_envelope`]; with `text`, the body checked to be UTF-8, which the first pass then reads as text (serde
/// does not check each string again, which costs more than checking the whole body once). The same results.
fn decode_envelope_in<T: DeserializeOwned>(
    operation: &'static str,
    resp: &Response,
    text: Option<&str>,
) -> Result<T, Error> {
    let status = resp.status.as_u16();
    let unreadable = |e: DecodeError| scrub(operation, e.for_mutation(resp.mutating));
    let first_pass = match text {
        Some(text) => serde_json::from_str::<Envelope<T>>(text),
        None => serde_json::from_slice::<Envelope<T>>(&resp.body),
    };
    let (code, message, response) = match first_pass {
        Ok(envelope) => (envelope.code, envelope.message, Ok(envelope.response)),
        Err(_) => {
            let head: Head = decode_json(status, &resp.body).map_err(unreadable)?;
            (head.code, head.message, Err(()))
        }
    };
    let success = resp.status.is_success();
    match code {
        Some(0) if success => {}
        Some(code) => {
            let mut error = IamportError::new(operation, code, message);
            if operation != GET_TOKEN_OPERATION {
                error.response = serde_json::from_slice::<FailedPayload>(&resp.body)
                    .ok()
                    .and_then(|p| p.response);
            }
            return Err(crate::Error::Api(ApiError::answer(status, error, resp.mutating)));
        }
        None => {
            return Err(unreadable(DecodeError::new(
                status,
                "code",
                "the envelope has no result code",
                resp.body.clone(),
            ))
            .into());
        }
    }
    let response = match response {
        Ok(response) => response,
        // The head is fine and says success, so the payload is what does not fit: name the field.
        Err(()) => {
            crate::lossless::decode::<Envelope<T>>(status, &resp.body)
                .map_err(unreadable)?
                .response
        }
    };
    response.ok_or_else(|| {
        crate::Error::Decode(unreadable(DecodeError::new(
            status,
            "response",
            "code 0 but no `response`",
            resp.body.clone(),
        )))
    })
}

/// [`decode_envelope`] for an answer whose payload is one view (a payment): the same result, with the view's JSON
/// kept as the received body's `response` member, shared rather than copied, so the answer is read once.
pub(crate) fn decode_envelope_view<V>(operation: &'static str, resp: &Response) -> Result<V, Error>
where
    V: crate::lossless::View + DeserializeOwned,
{
    let Ok(text) = simdutf8::basic::from_utf8(&resp.body) else {
        // Not UTF-8 throughout: the view's own decode, which refuses it as it always did.
        return decode_envelope::<V>(operation, resp);
    };
    let typed = decode_envelope_in::<V::Typed>(operation, resp, Some(text))?;
    Ok(V::from_parts(typed, RawJson::envelope_response(&resp.body)))
}

/// A token answer that fails to decode still holds the token: its body is kept only with secrets replaced.
pub(crate) fn scrub(operation: &'static str, mut e: DecodeError) -> DecodeError {
    if operation == GET_TOKEN_OPERATION {
        e.body = bytes::Bytes::from(crate::transport::redacted_body(&e.body));
    }
    e
}
