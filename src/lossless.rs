//! Decoding the facades' payment views: the typed part for what the crate reports, the JSON exactly as the server
//! sent it beside it, so nothing is lost (fields no spec lists, values this version does not know).
//!
//! A view decodes by keeping its JSON text ([`RawJson`]) and decoding the typed part from that text. serde cannot
//! follow a JSON path into that second decode, so when a typed part does not fit, the error would only name the
//! view's own place (`response`, `items[3]`). [`decode`] is what the facades call instead of
//! [`crate::error::decode_json`]: after a failure it decodes once more with views reading their typed part straight
//! from the document, which names the exact field (`response.cancel_history[0].amount`). That costs nothing on
//! success.
//!
//! An answer that is one view as a whole (a Toss or PortOne V2 payment, an iamport envelope's `response`) is read
//! once instead: [`decode_view`] (and iamport's `decode_envelope_view`) decode the typed part straight from the
//! body and keep the body itself as the view's JSON ([`RawJson`] shares the received bytes, so nothing is copied
//! or scanned again). Views inside lists and other answers take the two-step way above.

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
///
/// The body is checked to be UTF-8 first (the JSON kept must be text, and the typed decode does not look inside the
/// strings it skips); the typed part is then decoded from that text, so serde does not check each string again.
pub(crate) fn decode_view<V: View + DeserializeOwned>(status: u16, body: &bytes::Bytes) -> Result<V, DecodeError> {
    let Ok(text) = simdutf8::basic::from_utf8(body) else {
        // Not UTF-8 throughout: the view's own decode, which refuses it as it always did.
        return decode(status, body);
    };
    let typed = crate::error::decode_json_text::<V::Typed>(status, text, body)?;
    Ok(V::from_parts(typed, RawJson::whole_text(body, text)))
}

/// The impls every payment view shares, for a struct `$view { typed: Box<$typed>, json: RawJson }`: `Deref` to the
/// typed part, `From` the typed part (its JSON then the typed fields serialized, so it holds nothing beyond them),
/// `Serialize` as the JSON kept, `Deserialize` keeping the text ([`deserialize_view`]), [`View`], and a `Debug`
/// of the typed part only (the JSON is never printed; the typed part's own `Debug` redacts).
///
/// The typed part is boxed: a view is then two words, so a result, a list or a future that holds one moves 16 bytes
/// instead of the 1.2–1.8 KB of a generated payment, for one allocation per view.
macro_rules! view_impls {
    ($view:ident, $typed:ty) => {
        impl ::std::ops::Deref for $view {
            type Target = $typed;
            fn deref(&self) -> &$typed {
                &self.typed
            }
        }

        impl ::std::convert::From<$typed> for $view {
            /// A view of a generated value (one from the raw client, say); its JSON is the typed fields serialized,
            /// so it holds nothing beyond them.
            fn from(typed: $typed) -> Self {
                let json = serde_json::to_value(&typed)
                    .map(crate::RawJson::from)
                    .unwrap_or_default();
                crate::lossless::View::from_parts(typed, json)
            }
        }

        impl serde::Serialize for $view {
            /// Writes the JSON as the provider sent it.
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.json.serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $view {
            /// Reads the view from JSON, keeping its text.
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::lossless::deserialize_view(deserializer)
                    .map(|(typed, json)| crate::lossless::View::from_parts(typed, json))
            }
        }

        impl crate::lossless::View for $view {
            type Typed = $typed;
            fn from_parts(typed: $typed, json: crate::RawJson) -> Self {
                $view {
                    typed: Box::new(typed),
                    json,
                }
            }
        }

        impl ::std::fmt::Debug for $view {
            /// The typed fields only; the JSON is never printed.
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_tuple(stringify!($view)).field(&self.typed).finish()
            }
        }
    };
}
pub(crate) use view_impls;

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

    /// Every payment fixture of the tests, its bytes also cut and with a field broken: the one-pass read and the
    /// view's own two-step decode must agree on the result, the JSON kept, the typed part and any error's path.
    #[cfg(all(feature = "portone-v2", feature = "iamport", feature = "toss"))]
    #[test]
    fn a_view_read_once_is_the_view_decoded_in_two_steps() {
        fn bodies(dir: &str) -> Vec<(String, Vec<u8>)> {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(dir);
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "json") {
                    let bytes = std::fs::read(&path).unwrap();
                    let name = path.display().to_string();
                    out.push((format!("{name} (cut)"), bytes[..bytes.len() / 2].to_vec()));
                    let broken = String::from_utf8_lossy(&bytes).replacen("Amount\": ", "Amount\": \"x\", \"_\": ", 1);
                    out.push((format!("{name} (broken)"), broken.into_bytes()));
                    // Not UTF-8 inside a field no type reads, which a typed decode skips without looking.
                    let mut not_utf8 = bytes.clone();
                    let open = not_utf8.iter().position(|b| *b == b'{').unwrap();
                    not_utf8.splice(open + 1..open + 1, b"\"notInAnySpec\":\"\xff\xfe\",".iter().copied());
                    out.push((format!("{name} (not UTF-8)"), not_utf8));
                    out.push((name, bytes));
                }
            }
            assert!(out.len() >= 9, "{dir:?}");
            out
        }
        fn same<V: super::View + DeserializeOwned + std::fmt::Debug + serde::Serialize>(
            name: &str,
            body: &[u8],
        ) -> bool {
            let body = bytes::Bytes::copy_from_slice(body);
            let once = decode_view::<V>(200, &body);
            let twice = decode::<V>(200, &body);
            match (&once, &twice) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        serde_json::to_string(a).unwrap(),
                        serde_json::to_string(b).unwrap(),
                        "{name}"
                    );
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name}");
                    true
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a.path, b.path, "{name}");
                    false
                }
                _ => panic!("{name}: one pass {once:?}, two steps {twice:?}"),
            }
        }
        let mut decoded = 0;
        for (name, body) in bodies("toss/get_payment").into_iter().chain(bodies("toss/documented")) {
            decoded += usize::from(same::<crate::toss::Payment>(&name, &body));
        }
        for (name, body) in bodies("portone_v2/getPayment") {
            decoded += usize::from(same::<crate::portone_v2::Payment>(&name, &body));
        }
        for (name, body) in bodies("iamport/getPaymentByImpUid") {
            let response = crate::transport::Response {
                status: http::StatusCode::OK,
                headers: http::HeaderMap::new(),
                body: bytes::Bytes::from(body),
                attempts: 1,
                earlier_unknown: false,
                mutating: false,
                sent_at: std::time::SystemTime::now(),
                received_at: std::time::SystemTime::now(),
            };
            let once = crate::iamport::error::decode_envelope_view::<crate::iamport::Payment>("getPayment", &response);
            let twice = crate::iamport::error::decode_envelope::<crate::iamport::Payment>("getPayment", &response);
            match (&once, &twice) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.json().expose(), b.json().expose(), "{name}");
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name}");
                    decoded += 1;
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name}"),
                _ => panic!("{name}: one pass {once:?}, two steps {twice:?}"),
            }
        }
        assert!(decoded >= 20, "the fixtures decode: {decoded}");
    }
}
