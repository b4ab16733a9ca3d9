//! The typed error bodies of the PortOne V2 operations the facade wraps.
//!
//! PortOne answers a refused call with a JSON object whose `type` names the error (`PAYMENT_NOT_FOUND`,
//! `CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN`, ...). Each operation lists the types it can return; the generated client
//! turns each list into one enum with a variant per type plus `Unrecognized`, which keeps the raw JSON of a type
//! the spec does not list yet. They are re-exported here under the names the facade uses:
//!
//! | Operation | Error body |
//! |---|---|
//! | [`Client::cancel_payment`](super::Client::cancel_payment) and its helpers | [`CancelPaymentError`] |
//! | [`Client::get_payment`](super::Client::get_payment) | [`GetPaymentError`] |
//! | [`Client::payments`](super::Client::payments) | [`GetPaymentsError`] |
//! | [`Client::payments_by_cursor`](super::Client::payments_by_cursor) | [`GetAllPaymentsByCursorError`] |
//!
//! Every call returns [`Error<E>`](crate::Error) with one of these as `E`; the HTTP status travels beside it in
//! [`ApiError::status`](crate::ApiError::status). Each body has `tag()` (the wire `type`), `message()` and
//! `is_unrecognized()`.
//!
//! What the cancel errors mean for the money:
//!
//! * `CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN` (409): the `currentCancellableAmount` you sent is not the balance
//!   PortOne holds, so nothing was cancelled. Re-read the payment before deciding anything: if this answer follows a
//!   timeout or a retry, an earlier attempt may have gone through.
//! * `PAYMENT_ALREADY_CANCELLED` (409): nothing is left to cancel. After a timeout this is often the earlier
//!   attempt's success seen from the outside.
//! * `PG_PROVIDER` (502): the PG refused; `pg_code` and `pg_message` carry its own words.
//! * `MAX_CANCEL_COUNT_REACHED` (409): the payment has had as many partial cancels as it may.

pub use super::raw::types::{
    CancelPaymentError, CancelPaymentErrorUnrecognized, GetAllPaymentsError, GetAllPaymentsErrorUnrecognized,
    GetPaymentError, GetPaymentErrorUnrecognized, GetPaymentsError, GetPaymentsErrorUnrecognized,
};

/// The error body of `getAllPaymentsByCursor` ([`Client::payments_by_cursor`](super::Client::payments_by_cursor)).
/// The spec names the union `GetAllPaymentsError`; this alias names it after the operation.
pub type GetAllPaymentsByCursorError = GetAllPaymentsError;

use crate::error::{ApiError, DecodeError, Error, decode_json};
use crate::transport::Response;
use serde_json::Value;

/// Turns a complete response into the operation's result.
///
/// A 2xx body must decode to `T`. Any other status must carry the operation's error body `E`, which becomes
/// [`Error::Api`] with the status kept. A body that fits neither (an HTML page from a proxy, a truncated answer, a
/// known error type with missing fields) becomes [`Error::Decode`] with the status, the JSON path of the mismatch
/// and the raw bytes, so nothing PortOne said is lost.
pub(crate) fn from_response<T, E>(response: Response) -> Result<T, Error<E>>
where
    T: serde::de::DeserializeOwned,
    E: serde::de::DeserializeOwned,
{
    from_response_with(response, crate::lossless::decode)
}

/// [`from_response`] with the success body decoded by `decode`.
pub(crate) fn from_response_with<T, E>(
    response: Response,
    decode: impl FnOnce(u16, &bytes::Bytes) -> Result<T, DecodeError>,
) -> Result<T, Error<E>>
where
    E: serde::de::DeserializeOwned,
{
    let status = response.status.as_u16();
    let mutating = response.mutating;
    if response.status.is_success() {
        return decode(status, &response.body).map_err(|e| Error::Decode(e.for_mutation(mutating)));
    }
    match decode_json::<E>(status, &response.body) {
        Ok(error) => Err(Error::Api(ApiError::answer(status, error, mutating))),
        Err(decode) => Err(Error::Decode(decode.for_mutation(mutating))),
    }
}

/// Points a decode error of a successful response at the field that does not fit, when serde could only name the
/// tagged union around it.
///
/// A tagged union (`Payment`, `PaymentCancellation`) whose tag is not its first property is decoded through a JSON
/// buffer that loses the path, so a wrong field inside a known variant is reported at the union itself.
/// The value at the reported path is then read again as `P`, a plain struct with the fields that matter most (ids
/// and amounts), and its own path and message replace the vague ones. When `P` reads fine the error is kept as is.
pub(crate) fn pinpoint<P: serde::de::DeserializeOwned, E>(error: Error<E>) -> Error<E> {
    match error {
        Error::Decode(d) if (200..300).contains(&d.status) => Error::Decode(pinpoint_decode::<P>(d)),
        other => other,
    }
}

fn pinpoint_decode<P: serde::de::DeserializeOwned>(mut d: DecodeError) -> DecodeError {
    let Ok(root) = serde_json::from_slice::<Value>(&d.body) else {
        return d;
    };
    // Only a path that stops at an object (the union) is vague; one that reaches a field is already precise (the
    // union was decoded tag-first, see `crate::open_enum`).
    let Some(value) = value_at(&root, &d.path).filter(|v| v.is_object()) else {
        return d;
    };
    if let Err(e) = serde_path_to_error::deserialize::<_, P>(value) {
        let inner = e.path().to_string();
        d.path = match (d.path.as_str(), inner.as_str()) {
            (outer, ".") => outer.to_string(),
            (".", inner) => inner.to_string(),
            (outer, inner) if inner.starts_with('[') => format!("{outer}{inner}"),
            (outer, inner) => format!("{outer}.{inner}"),
        };
        d.message = crate::sensitive::decode_message(&d.path, e.into_inner().to_string());
    }
    d
}

/// The value at a path as `serde_path_to_error` prints it (`items[3].payment`, `.` for the root).
fn value_at<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    if path == "." {
        return Some(root);
    }
    let mut current = root;
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if !key.is_empty() {
            current = current.get(key)?;
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']')?;
            let index: usize = stripped[..end].parse().ok()?;
            current = current.get(index)?;
            rest = &stripped[end + 1..];
        }
    }
    Some(current)
}
