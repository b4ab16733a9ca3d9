//! Decoding the facades' payment views: the typed part for what the crate reports, the JSON exactly as the server
//! sent it beside it, so nothing is lost (fields no spec lists, values this version does not know).
//!
//! A view decodes by keeping its JSON text ([`RawJson`]) and decoding the typed part from that text. serde cannot
//! follow a JSON path into that second decode, so when a typed part does not fit, the error would only name the
//! view's own place (`response`, `items[3]`). [`decode`] is what the facades call instead of
//! [`crate::error::decode_json`]: after a failure it decodes once more with views reading their typed part straight
//! from the document, which names the exact field (`response.cancel_history[0].amount`). That costs nothing on
//! success.

use crate::RawJson;
use crate::error::{DecodeError, decode_json};
use serde::Deserializer;
use serde::de::{DeserializeOwned, Error as _};
use std::cell::Cell;

thread_local! {
    /// Set while [`decode`] re-reads a failed answer to name the field at fault: views then decode their typed part
    /// from the document itself (and keep no JSON, since the result is thrown away).
    static PATHS: Cell<bool> = const { Cell::new(false) };
}

/// Decodes a view from `deserializer`: the JSON as sent, and `T` decoded from it.
pub(crate) fn deserialize_view<'de, D, T>(deserializer: D) -> Result<(T, RawJson), D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    if PATHS.with(Cell::get) {
        return T::deserialize(deserializer).map(|typed| (typed, RawJson::null()));
    }
    let json: RawJson = serde::Deserialize::deserialize(deserializer)?;
    let typed = serde_json::from_str::<T>(json.expose()).map_err(|e| D::Error::custom(without_position(&e)))?;
    Ok((typed, json))
}

/// A payment view: its typed part and the JSON it was decoded from.
pub(crate) trait View: Sized {
    /// The generated type the view reads.
    type Typed: DeserializeOwned;
    /// The view of `typed`, decoded from `json`.
    fn from_parts(typed: Self::Typed, json: RawJson) -> Self;
}

/// [`decode`] for an answer that is one view as a whole (a Toss payment, a PortOne V2 payment): the typed part is
/// decoded straight from the body, and the body itself is kept as the view's JSON, shared rather than copied, so
/// the answer is read once. The same result as decoding the view through its `Deserialize`, including the error
/// (the same decode, then the same path finding).
pub(crate) fn decode_view<V: View + DeserializeOwned>(status: u16, body: &bytes::Bytes) -> Result<V, DecodeError> {
    let typed = decode_json::<V::Typed>(status, body)?;
    match RawJson::whole_body(body) {
        Some(json) => Ok(V::from_parts(typed, json)),
        // Not UTF-8 throughout: the view's own decode, which refuses it as it always did.
        None => decode(status, body),
    }
}

/// serde's message without the line and column, which would count from the start of the view's own text.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).map(str::to_string).unwrap_or(text)
}

/// [`decode_json`] for answers that hold payment views: the same result, and on failure the path of the field that
/// does not fit, even inside a view.
pub(crate) fn decode<T: DeserializeOwned>(status: u16, body: &bytes::Bytes) -> Result<T, DecodeError> {
    decode_json::<T>(status, body).map_err(|first| match with_paths(|| decode_json::<T>(status, body)) {
        Err(precise) => precise,
        // Cannot happen (the same bytes and the same types); the first error is still true.
        Ok(_) => first,
    })
}

fn with_paths<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            PATHS.with(|p| p.set(false));
        }
    }
    PATHS.with(|p| p.set(true));
    let _reset = Reset;
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Typed {
        #[allow(dead_code)]
        amount: i64,
    }

    struct View(#[allow(dead_code)] Typed, RawJson);

    impl<'de> serde::Deserialize<'de> for View {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize_view(d).map(|(t, j)| View(t, j))
        }
    }

    #[derive(serde::Deserialize)]
    struct Envelope {
        #[allow(dead_code)]
        response: Vec<View>,
    }

    #[test]
    fn a_view_keeps_the_text_and_a_failure_names_the_field_inside_it() {
        let text = r#"{"amount": 1000, "unknown": {"kept": [1, 2.50]}}"#;
        let view: View = serde_json::from_str(text).unwrap();
        assert_eq!(view.1.expose(), text);
        let body = bytes::Bytes::from_static(br#"{"response": [{"amount": 1}, {"amount": 1.5}]}"#);
        let e = decode::<Envelope>(200, &body).err().unwrap();
        assert_eq!(e.path, "response[1].amount");
        assert!(e.message.contains("1.5"), "{}", e.message);
        assert!(!PATHS.with(Cell::get), "the flag is reset");
        let plain = decode_json::<Envelope>(200, &body).err().unwrap();
        assert_eq!(plain.path, "response[1]", "without `decode`, serde names the view only");
    }
}
