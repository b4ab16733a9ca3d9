//! JSON kept exactly as a provider sent it.
//!
//! Answers are decoded into typed values for what the crate reports, and kept whole beside them so nothing the
//! provider said is lost: fields no spec lists, values this version does not know. A [`RawJson`] holds that text
//! byte for byte. Serializing it writes the same text back, so what a merchant stores is what the server sent.
//!
//! What it holds is often personal (names, phone numbers, account and card numbers) or secret (Toss's per-payment
//! `secret`), so `Debug` and `Display` print it with those fields redacted (the crate's table of sensitive fields,
//! [`crate::sensitive`]) and cut to a bounded length. The real text is reached only on purpose, through
//! [`RawJson::expose`], [`RawJson::value`] or [`RawJson::decode`].

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

/// The longest text `Debug` and `Display` print of a [`RawJson`], in bytes of redacted JSON; the rest is cut with a
/// note of the full length.
pub const PRINTED_PREFIX: usize = 2048;

/// A JSON value exactly as received. `Debug` and `Display` redact it; see the [module docs](self).
#[derive(Clone, Default)]
pub struct RawJson(Option<Box<Text>>);

/// The kept text: a part of a received body (shared with it, not copied) or text of its own, both as [`Bytes`]. A
/// `RawJson` is one word; `None` is JSON `null`, nothing kept.
#[derive(Clone)]
struct Text {
    /// Valid UTF-8 throughout (checked when kept).
    bytes: Bytes,
    /// Where the one JSON value sits in `bytes`: known when kept, or, for an iamport envelope's `response`, found
    /// the first time it is read.
    range: OnceLock<Range<usize>>,
}

impl Text {
    fn kept(bytes: Bytes, range: Option<Range<usize>>) -> RawJson {
        let range = range.map_or_else(OnceLock::new, OnceLock::from);
        RawJson(Some(Box::new(Text { bytes, range })))
    }

    /// Text of its own: all of `raw`.
    fn owned(raw: Box<RawValue>) -> RawJson {
        let text: Box<str> = raw.into();
        let len = text.len();
        Text::kept(Bytes::from(text.into_boxed_bytes()), Some(0..len))
    }
}

impl RawJson {
    /// Keeps `json` as it is.
    ///
    /// # Errors
    /// When `json` is not one valid JSON value.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json.to_string()).map(Text::owned)
    }

    /// Keeps a whole received body that has just been decoded successfully, without copying or reading it again.
    /// `None` when it is not valid UTF-8 (a decoder can skip over such bytes; the caller then keeps the text the
    /// slower way, which refuses them).
    /// `text` is `body` read as UTF-8 (the caller checked it).
    pub(crate) fn whole_text(body: &Bytes, text: &str) -> Self {
        debug_assert_eq!(text.as_bytes(), &body[..]);
        let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        let start = trimmed.as_ptr() as usize - text.as_ptr() as usize;
        Text::kept(body.clone(), Some(start..start + trimmed.len()))
    }

    /// Keeps the `response` member of an iamport envelope that has just been decoded successfully with a
    /// `response`; where it sits is found only when the text is read. The caller checked that the body is UTF-8.
    pub(crate) fn envelope_response(body: &Bytes) -> Self {
        Text::kept(body.clone(), None)
    }

    /// Keeps the JSON text of a value the crate holds (for an answer rebuilt from parts, e.g. a payment read
    /// back). Prefer [`RawJson::parse`] with the received text where it exists.
    pub fn from_value(value: &serde_json::Value) -> Self {
        // A `Value` always serializes to valid JSON, so `ok()` never drops anything.
        serde_json::value::to_raw_value(value).map_or(RawJson(None), Text::owned)
    }

    /// JSON `null`.
    pub fn null() -> Self {
        RawJson(None)
    }

    /// The text exactly as received, personal data and secrets included. Store it or hand it to your own decoder;
    /// do not log it.
    pub fn expose(&self) -> &str {
        let Some(text) = &self.0 else {
            return "null";
        };
        // Unset only for an envelope's `response`, which a successful decode of the envelope found.
        let range = text.range.get_or_init(|| response_range(&text.bytes).unwrap_or(0..0));
        match text_of(&text.bytes, range.clone()) {
            // Cannot happen: the envelope decoded with a `response`, and the same parser finds it again.
            "" => "null",
            text => text,
        }
    }

    /// The text parsed as a [`serde_json::Value`], personal data and secrets included.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.expose()).unwrap_or(serde_json::Value::Null)
    }

    /// Decodes the text into your own type.
    ///
    /// # Errors
    /// serde's error when the JSON does not fit `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.expose())
    }

    /// Whether it is JSON `null` (nothing was kept).
    pub fn is_null(&self) -> bool {
        self.expose().trim() == "null"
    }

    /// The redacted, length-bounded text `Debug` and `Display` print.
    fn printable(&self) -> String {
        let redacted = crate::sensitive::redact_json_bytes(self.expose().as_bytes());
        bounded(&redacted, PRINTED_PREFIX)
    }
}

/// The text of `range` of a body whose UTF-8 was checked when it was kept.
fn text_of(body: &Bytes, range: Range<usize>) -> &str {
    body.get(range)
        .and_then(|b| simdutf8::basic::from_utf8(b).ok())
        .unwrap_or("null")
}

/// Where the `response` member's value sits in an iamport envelope.
fn response_range(body: &Bytes) -> Option<Range<usize>> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        response: &'a RawValue,
    }
    let envelope: Envelope<'_> = serde_json::from_slice(body).ok()?;
    let text = envelope.response.get();
    let start = text.as_ptr() as usize - body.as_ptr() as usize;
    Some(start..start + text.len())
}

/// Cuts `text` to at most `limit` bytes (on a character boundary), noting the full length when it cut.
pub(crate) fn bounded(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for RawJson {}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({})", self.printable())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.printable())
    }
}

impl serde::Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_none() {
            return serializer.serialize_unit();
        }
        // Handed to the serializer as raw JSON (read once more, only when it is written out).
        let raw: &RawValue = serde_json::from_str(self.expose()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for RawJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Text::owned)
    }
}

impl From<serde_json::Value> for RawJson {
    fn from(value: serde_json::Value) -> Self {
        RawJson::from_value(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_keeps_the_text_and_prints_it_redacted_and_bounded() {
        let text = r#"{"paymentKey":"pk_1","secret":"ps_abc","card":{"number":"4330-****-1234"},"extra":1,"extra":2}"#;
        let raw = RawJson::parse(text).unwrap();
        assert_eq!(raw.expose(), text, "byte for byte, duplicate keys included");
        assert_eq!(serde_json::to_string(&raw).unwrap(), text);
        let shown = format!("{raw:?} {raw}");
        assert!(!shown.contains("ps_abc") && !shown.contains("4330"), "{shown}");
        assert!(
            shown.contains("\"****1234\""),
            "a card number shows its last four only: {shown}"
        );
        assert!(shown.contains("pk_1"), "{shown}");
        let long = RawJson::from_value(&serde_json::json!({ "orderName": "x".repeat(10_000) }));
        assert!(long.to_string().len() < PRINTED_PREFIX + 64);
        assert!(long.to_string().ends_with("bytes in all)"));
        assert!(RawJson::null().is_null() && RawJson::default().is_null());
        assert_eq!(
            long.decode::<serde_json::Value>().unwrap()["orderName"]
                .as_str()
                .map(str::len),
            Some(10_000)
        );
    }

    #[test]
    fn a_kept_body_is_the_text_as_sent_without_a_copy() {
        let text = r#"{"paymentKey":"pk_1","secret":"ps_abc","totalAmount":1000,"notInAnySpec":[1,2.50]}"#;
        let body = Bytes::from(format!(" \n{text}\r\n"));
        let kept = RawJson::whole_text(&body, std::str::from_utf8(&body).unwrap());
        assert_eq!(
            kept.expose(),
            text,
            "the value's text, without the whitespace around it"
        );
        assert_eq!(
            kept.expose().as_ptr(),
            body[2..].as_ptr(),
            "a slice of the body, not a copy"
        );
        assert_eq!(
            kept,
            RawJson::parse(text).unwrap(),
            "equal to the same text kept as a copy"
        );
        assert_eq!(serde_json::to_string(&kept).unwrap(), text);
        assert!(!format!("{kept:?} {kept}").contains("ps_abc"));
    }

    #[test]
    fn a_raw_json_is_one_word() {
        assert_eq!(std::mem::size_of::<RawJson>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn an_envelope_keeps_its_response_member_as_sent() {
        let payment = r#"{"imp_uid":"imp_1","buyer_name":"Hong","amount":1000,"extra":{"k":null}}"#;
        for body in [
            format!(r#"{{"code":0,"message":null,"response":{payment}}}"#),
            format!(r#"{{"response" : {payment} ,"code":0}}"#),
            format!(r#"{{"code":0,"respons\u0065":{payment}}}"#),
        ] {
            let body = Bytes::from(body);
            let kept = RawJson::envelope_response(&body);
            assert_eq!(kept.expose(), payment, "{body:?}");
            assert_eq!(kept.clone().expose(), payment, "a clone reads the same");
            assert_eq!(serde_json::to_string(&kept).unwrap(), payment);
            assert!(!kept.to_string().contains("Hong"), "{kept}");
        }
    }
}
