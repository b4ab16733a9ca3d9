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

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::fmt;

/// The longest text `Debug` and `Display` print of a [`RawJson`], in bytes of redacted JSON; the rest is cut with a
/// note of the full length.
pub const PRINTED_PREFIX: usize = 2048;

/// A JSON value exactly as received. `Debug` and `Display` redact it; see the [module docs](self).
#[derive(Clone, Default)]
pub struct RawJson(Option<Box<RawValue>>);

impl RawJson {
    /// Keeps `json` as it is.
    ///
    /// # Errors
    /// When `json` is not one valid JSON value.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json.to_string()).map(|raw| RawJson(Some(raw)))
    }

    /// Keeps the JSON text of a value the crate holds (for an answer rebuilt from parts, e.g. a payment read
    /// back). Prefer [`RawJson::parse`] with the received text where it exists.
    pub fn from_value(value: &serde_json::Value) -> Self {
        // A `Value` always serializes to valid JSON, so `ok()` never drops anything.
        RawJson(serde_json::value::to_raw_value(value).ok())
    }

    /// JSON `null`.
    pub fn null() -> Self {
        RawJson(None)
    }

    /// The text exactly as received, personal data and secrets included. Store it or hand it to your own decoder;
    /// do not log it.
    pub fn expose(&self) -> &str {
        self.0.as_deref().map_or("null", RawValue::get)
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
        match &self.0 {
            Some(raw) => raw.serialize(serializer),
            None => serializer.serialize_unit(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for RawJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|raw| RawJson(Some(raw)))
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
}
