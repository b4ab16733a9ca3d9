//! Decoding support for the generated open enums and tagged unions (`build.rs`, `open_enums`).
//!
//! serde's derive decodes an internally tagged enum by first buffering the whole object, because the tag may come
//! last; an enum with an `untagged` fallback variant buffers every value too. PortOne sends the tag first, and its
//! payment objects nest several unions, so that buffering made the typed decode slower than decoding into a
//! `serde_json::Value` (`benches/decode.rs`). Here a union reads its first key: when it is the tag and names a
//! known variant, the variant's fields are decoded straight from the rest of the object. Otherwise the object is
//! collected as JSON and decoded from that, with the same results as before: a known tag whose fields do not fit is
//! a decode error, an unknown tag is kept as the `Unrecognized` variant's raw JSON.
//!
//! A string enum decodes through its `FromStr`, which the open-enum pass makes total (an unknown value becomes
//! `Unrecognized`), so a known value is matched without allocating.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A generated internally tagged union with an `Unrecognized` variant.
pub(crate) trait TaggedUnion: Sized {
    /// Name of the tag property (`type`, `status`).
    const TAG: &'static str;
    /// The union's name, for error messages.
    const NAME: &'static str;

    /// Whether `tag` names a variant of this version of the spec.
    fn is_known(tag: &str) -> bool;

    /// Decodes the fields of the known variant `tag` from `fields` (which may or may not still hold the tag).
    fn decode_known<'de, D: Deserializer<'de>>(tag: &str, fields: D) -> Result<Self, D::Error>;

    /// Wraps an object whose tag is not known (or missing) as the `Unrecognized` variant.
    fn decode_unrecognized(object: serde_json::Value) -> Result<Self, serde_json::Error>;
}

/// The generated unions' `Deserialize`.
pub(crate) fn deserialize_tagged<'de, T: TaggedUnion, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: TaggedUnion> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a `{}` object", T::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut object = serde_json::Map::new();
        match map.next_key_seed(KeyText)? {
            Some(key) if key == T::TAG => {
                let tag: serde_json::Value = map.next_value()?;
                if let Some(known) = tag.as_str().filter(|t| T::is_known(t)) {
                    return T::decode_known(known, MapAccessDeserializer::new(NoSecondTag { map, tag: T::TAG }));
                }
                object.insert(T::TAG.to_string(), tag);
            }
            Some(key) => {
                let value = map.next_value()?;
                object.insert(key.into_owned(), value);
            }
            None => {}
        }
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            if object.contains_key(&key) {
                return Err(duplicate(&key));
            }
            object.insert(key, value);
        }
        let known = object
            .get(T::TAG)
            .and_then(serde_json::Value::as_str)
            .filter(|t| T::is_known(t))
            .map(str::to_owned);
        let object = serde_json::Value::Object(object);
        match known {
            Some(tag) => T::decode_known(&tag, object).map_err(de::Error::custom),
            None => T::decode_unrecognized(object).map_err(de::Error::custom),
        }
    }
}

/// A key given twice in one object: which of the two values counts is up to each reader, so the object is refused
/// rather than read one way here and another way elsewhere.
fn duplicate<E: de::Error>(key: &str) -> E {
    E::custom(format_args!("duplicate field `{key}`"))
}

/// The rest of a union's object after its tag: a second tag is refused (the variant's own fields are checked by
/// its derived `Deserialize`, which refuses a field given twice).
struct NoSecondTag<A> {
    map: A,
    tag: &'static str,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for NoSecondTag<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
        match self.map.next_key_seed(KeyText)? {
            None => Ok(None),
            Some(key) if key == self.tag => Err(duplicate(self.tag)),
            Some(Cow::Borrowed(key)) => seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some),
            Some(Cow::Owned(key)) => seed.deserialize(StringDeserializer::new(key)).map(Some),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A map key as the parser has it: borrowed from the input when it has no escapes, so telling the tag apart
/// allocates nothing.
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyText {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key.to_owned()))
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key))
    }
}

/// The generated string enums' `Deserialize`: any string, through a `FromStr` that keeps unknown values.
pub(crate) fn deserialize_str_enum<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
    D: Deserializer<'de>,
{
    deserializer.deserialize_str(StrEnumVisitor(PhantomData))
}

struct StrEnumVisitor<T>(PhantomData<T>);

impl<T> Visitor<'_> for StrEnumVisitor<T>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        value.parse().map_err(E::custom)
    }
}
