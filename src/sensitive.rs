//! What the crate never prints: the one table of sensitive fields, and how their values show.
//!
//! Customers' personal data (names, phone numbers, emails, addresses, birth dates, card and account numbers, IP
//! addresses, whatever a merchant put in `custom_data` or `metadata`) and secrets (API secrets, iamport keys and
//! access tokens, Toss keys, billing keys, the Toss payment `secret`) are hidden by one table, [`FIELDS`], wherever
//! the crate prints something:
//!
//! * `Debug` of every generated type of the three specs (`build.rs` writes it from this table and from the
//!   specs' string formats, [`FORMATS`]);
//! * `Debug` and `Display` of the hand-written types: payments, cancel results, refund outcomes, errors, webhook
//!   events, and [`RawJson`](crate::RawJson), the provider JSON kept for losslessness;
//! * request and response bodies in TRACE logs (bodies are logged at TRACE only; see [`crate::transport`]).
//!
//! Serialization is never touched: what a merchant stores is what the server sent. The real values are read on
//! purpose, through the fields and methods of a type (`payment.card_number`,
//! [`RawJson::expose`](crate::RawJson::expose)), never through `Debug`.
//!
//! Errors that carry a payment (iamport refusals, webhook verification failures) print only its ids, status and
//! codes.
//!
//! # Matching
//! A field is sensitive when its name, with ASCII case, `_` and `-` ignored, is in the table: `buyer_tel`,
//! `buyerTel` and `BUYER-TEL` are one entry. Names match at any depth and in any type, so a bare `name` or
//! `number` is hidden everywhere (the providers use them for a customer's name and a card or account number) and a
//! sensitive object (`refundReceiveAccount`) is hidden whole. A generated field is also sensitive when the spec
//! gives it one of the formats in [`FORMATS`] (iamport's `cust_ip` is `ipv4`).
//!
//! # How a hidden value prints
//! | shown as | example | used for |
//! |---|---|---|
//! | [`Shown::LastFour`] | `"****1234"` | card and account numbers (`number`, `card_number`, `accountNumber`, `vbank_num`, iamport's `refund_account`), so two cards can be told apart; values shorter than 8 characters print `"<redacted>"` |
//! | [`Shown::Length`] | `"<redacted: 40 chars>"` | credentials and tokens, so an empty or cut-off one shows |
//! | [`Shown::Redacted`] | `"<redacted>"` | everything else; objects and arrays always |
//!
//! `null` stays `null` (`None` in `Debug`), so whether a value was sent still shows.
//!
//! # The table
//! Names as matched (lower case, separators dropped), by what they hold:
//!
//! | holds | field names |
//! |---|---|
//! | credentials (length) | `secret`, `secretkey`, `apisecret`, `impkey`, `impsecret`, `accesstoken`, `refreshtoken`, `token`, `billingkey`, `billingissuetoken`, `paymenttoken`, `secure3dtoken`, `authkey`, `customerkey`, `customeruid` |
//! | credentials (hidden) | `password`, `cardpassword`, `passwordtwodigits`, `escrowpassword`, `benepiapassword`, `benepiauser` |
//! | card and account numbers (last four) | `number`, `cardnumber`, `accountnumber`, `depositaccountnumber`, `vbanknum`, `refundaccount` |
//! | card and account data (hidden) | `refundreceiveaccount`, `cardexpirationmonth`, `cardexpirationyear` |
//! | names | `name`, `holder`, `holdername`, `accountholder`, `depositaccountholder`, `bankholder`, `vbankholder`, `refundholder`, `depositorname`, `customername`, `buyername`, `remitteename`, `remittername`, `contactname`, `registrantcontactname`, `ceoname`, `representativename`, `recipientrepresentativename`, `supplierrepresentativename`, `shippingaddressfirstname`, `shippingaddresslastname` |
//! | phones and emails | `phone`, `phonenumber`, `mobilephonenumber`, `holderphonenumber`, `customermobilephone`, `customerphone`, `contactphone`, `tel`, `tel1`, `tel2`, `buyertel`, `customertel`, `refundtel`, `shippingaddressphone`, `email`, `buyeremail`, `customeremail`, `refundemail`, `contactemail`, `shippingaddressemail` |
//! | addresses | `address`, `addr`, `buyeraddr`, `customeraddr`, `oneline`, `addressline1`, `addressline2`, `formedaddress`, `shippingaddress`, `shippingaddressstreet`, `shippingaddresscity`, `shippingaddressstate`, `shippingaddresszip`, `zipcode`, `postcode`, `buyerpostcode`, `customerpostcode` |
//! | birth, gender, identity | `birth`, `birthday`, `birthdate`, `birthyear`, `birthmonth`, `gender`, `genderdigit`, `identitynumber`, `customeridentitynumber`, `birthorbusinessregistrationnumber`, `identifier`, `ci`, `di`, `uniquekey` |
//! | merchant-defined data | `customdata`, `metadata`, `userdefinedproperties`, `partneruserdefinedproperties` |
//! | IP addresses | `ipaddress`, `custip`, `browserip` |
//!
//! Formats hidden in generated types: `email`, `idn-email`, `ipv4`, `ipv6`, `password`.
//!
//! To hide the same fields in your own logs, pass JSON through [`redact_json`].

use serde::Serialize;
use serde_json::Value;
use std::fmt;

include!("sensitive/table.rs");

/// What a hidden value is replaced with under [`Shown::Redacted`].
pub const REDACTED: &str = "<redacted>";

/// `text` (JSON) with every sensitive field replaced as the table says; `"<N bytes, not JSON>"` for text that
/// is not JSON, since then nothing can tell which part is personal.
pub fn redact_json(text: &str) -> String {
    redact_json_bytes(text.as_bytes())
}

/// [`redact_json`] for bytes: a response body, a webhook delivery.
pub(crate) fn redact_json_bytes(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            redact_value(&mut v);
            v.to_string()
        }
        Err(_) => format!("<{} bytes, not JSON>", body.len()),
    }
}

/// Replaces every sensitive field of `v`, at any depth, with its printable form.
pub(crate) fn redact_value(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                match shown_for_key(k) {
                    Some(shown) => *child = mask(shown, child),
                    None => redact_value(child),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// What a sensitive value prints as: `null` stays `null`, anything else becomes a string per `shown`.
pub(crate) fn mask(shown: Shown, value: &Value) -> Value {
    let text = match value {
        Value::Null => return Value::Null,
        Value::String(s) => s.as_str(),
        Value::Number(n) => return mask_text(shown, &n.to_string()),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => return Value::String(REDACTED.into()),
    };
    mask_text(shown, text)
}

fn mask_text(shown: Shown, text: &str) -> Value {
    let chars = text.chars().count();
    Value::String(match shown {
        Shown::Redacted => REDACTED.into(),
        Shown::Length => format!("<redacted: {chars} chars>"),
        Shown::LastFour if chars >= LAST_FOUR_MIN_CHARS => {
            let tail: String = text.chars().skip(chars - 4).collect();
            format!("****{tail}")
        }
        Shown::LastFour => REDACTED.into(),
    })
}

/// Prints a sensitive value of any serializable type per `shown`: `None` for null, else the masked string.
///
/// Generated `Debug` impls wrap each sensitive field in it (`build.rs`); hand-written ones do the same.
pub(crate) struct Masked<'a, T: ?Sized>(pub(crate) &'a T, pub(crate) Shown);

impl<T: Serialize + ?Sized> fmt::Debug for Masked<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self.0) {
            Ok(Value::Null) => f.write_str("None"),
            Ok(v) => match mask(self.1, &v) {
                Value::String(s) => fmt::Debug::fmt(&s, f),
                other => fmt::Display::fmt(&other, f),
            },
            Err(_) => fmt::Debug::fmt(REDACTED, f),
        }
    }
}

/// A hand-written type's field under its wire name `key`, printed as the table says for that name (hidden whole
/// when the name is not in the table, so a typo cannot print a value).
pub(crate) fn by_name<'a, T: ?Sized>(key: &str, value: &'a T) -> Masked<'a, T> {
    Masked(value, shown_for_key(key).unwrap_or(Shown::Redacted))
}

/// Prints free-form JSON (a `serde_json::Value` or `Map` field, an unrecognized variant's raw object) with its
/// sensitive fields replaced; `None` for null.
pub(crate) struct Json<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: Serialize + ?Sized> fmt::Debug for Json<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self.0) {
            Ok(Value::Null) => f.write_str("None"),
            Ok(mut v) => {
                redact_value(&mut v);
                fmt::Display::fmt(&v, f)
            }
            Err(_) => fmt::Debug::fmt(REDACTED, f),
        }
    }
}

/// The keys an error shows of a payment it carries: ids, status and codes, nothing personal.
const ID_KEYS: &[&str] = &[
    "imp_uid",
    "merchant_uid",
    "paymentKey",
    "orderId",
    "id",
    "paymentId",
    "transactionId",
    "transactionKey",
    "cancellationId",
    "cancellation_id",
    "storeId",
    "status",
    "type",
    "code",
];

/// Prints only the ids, status and codes of a JSON object (a payment an error carries), e.g.
/// `{imp_uid: "imp_1", merchant_uid: "order-1", status: "paid"}`; `None` for null, and the JSON type for
/// anything else.
pub(crate) struct IdsOnly<'a>(pub(crate) &'a Value);

impl fmt::Debug for IdsOnly<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Null => f.write_str("None"),
            Value::Object(m) => {
                let mut map = f.debug_map();
                for key in ID_KEYS {
                    if let Some(v) = m.get(*key).filter(|v| v.is_string() || v.is_number()) {
                        map.key(&format_args!("{key}")).value(&format_args!("{v}"));
                    }
                }
                map.finish()
            }
            Value::Array(a) => write!(f, "<array of {}>", a.len()),
            _ => f.write_str("<not an object>"),
        }
    }
}

/// The ids, status and codes of a typed payment (see [`IdsOnly`]).
pub(crate) fn ids_of<T: Serialize + ?Sized>(value: &T) -> String {
    let v = serde_json::to_value(value).unwrap_or(Value::Null);
    format!("{:?}", IdsOnly(&v))
}

/// serde's message about a value at `path` (as `serde_path_to_error` prints it: `card.number`, `cancels[0].x`),
/// or, when the path goes through a sensitive field, one that does not quote the value.
pub(crate) fn decode_message(path: &str, message: String) -> String {
    let sensitive = path
        .split('.')
        .map(|part| part.split('[').next().unwrap_or(part))
        .any(|part| shown_for_key(part).is_some());
    if sensitive {
        "the value does not have the expected type or format (not shown: the field is sensitive)".to_string()
    } else {
        message
    }
}

/// `Debug` of a struct from (name, value) pairs: what generated impls call, so each impl is one slice of fields.
pub(crate) fn debug_struct(f: &mut fmt::Formatter<'_>, name: &str, fields: &[(&str, &dyn fmt::Debug)]) -> fmt::Result {
    let mut s = f.debug_struct(name);
    for (field, value) in fields {
        s.field(field, value);
    }
    s.finish()
}

/// `Debug` of a tuple struct or tuple variant (see [`debug_struct`]).
pub(crate) fn debug_tuple(f: &mut fmt::Formatter<'_>, name: &str, fields: &[&dyn fmt::Debug]) -> fmt::Result {
    let mut t = f.debug_tuple(name);
    for value in fields {
        t.field(value);
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_match_in_any_spelling() {
        for key in [
            "accountNumber",
            "account_number",
            "ACCOUNT-NUMBER",
            "imp_secret",
            "secret",
            "vbank_num",
            "remitteeName",
            "remitterName",
            "ipAddress",
            "refund_email",
            "cust_ip",
        ] {
            assert!(shown_for_key(key).is_some(), "{key}");
        }
        for key in [
            "orderName",
            "amount",
            "status",
            "paymentKey",
            "cancelReason",
            "imp_uid",
            "names",
            "nam",
            "",
        ] {
            assert!(shown_for_key(key).is_none(), "{key}");
        }
    }

    #[test]
    fn the_table_has_each_name_once_normalized() {
        let mut seen = std::collections::BTreeSet::new();
        for f in FIELDS {
            assert!(
                f.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{} is not normalized",
                f.key
            );
            assert!(seen.insert(f.key), "{} twice", f.key);
        }
    }

    #[test]
    fn the_module_docs_list_every_entry() {
        let source = include_str!("sensitive.rs");
        let docs: String = source
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        for f in FIELDS {
            assert!(docs.contains(&format!("`{}`", f.key)), "the docs do not list {}", f.key);
        }
        for (format, _, _) in FORMATS {
            assert!(
                docs.contains(&format!("`{format}`")),
                "the docs do not list format {format}"
            );
        }
    }

    #[test]
    fn values_print_per_entry() {
        assert_eq!(mask(Shown::LastFour, &json!("4330123412345678")), "****5678");
        assert_eq!(mask(Shown::LastFour, &json!(110_987_654_321_i64)), "****4321");
        assert_eq!(
            mask(Shown::LastFour, &json!("1234567")),
            REDACTED,
            "too short to show a part"
        );
        assert_eq!(mask(Shown::Length, &json!("tok_abc")), "<redacted: 7 chars>");
        assert_eq!(mask(Shown::Redacted, &json!("홍길동")), REDACTED);
        assert_eq!(mask(Shown::LastFour, &json!({"number": "1"})), REDACTED);
        assert_eq!(mask(Shown::Redacted, &Value::Null), Value::Null);
        assert_eq!(
            mask(Shown::LastFour, &json!("가나다라마바사아자차")),
            "****사아자차",
            "characters, not bytes"
        );
    }

    #[test]
    fn bodies_are_redacted_at_any_depth() {
        let body = json!({
            "code": 0,
            "response": {"access_token": "tok", "list": [{"buyer_tel": "010", "amount": 5}]},
            "refundAccount": {"bank": "KOOKMIN", "number": "123"},
            "card": {"number": "4330123412345678"},
            "nothing": null,
        });
        let out = redact_json(&body.to_string());
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["response"]["access_token"], "<redacted: 3 chars>");
        assert_eq!(v["response"]["list"][0]["buyer_tel"], REDACTED);
        assert_eq!(v["response"]["list"][0]["amount"], 5);
        assert_eq!(v["refundAccount"], REDACTED, "a sensitive object goes whole");
        assert_eq!(v["card"]["number"], "****5678");
        assert_eq!(v["nothing"], Value::Null);
        assert_eq!(redact_json("<html>secret</html>"), "<19 bytes, not JSON>");
    }

    #[test]
    fn decode_messages_quote_no_sensitive_value() {
        let quoted = "invalid type: integer `4330123412345678`, expected a string".to_string();
        assert!(!decode_message("card.number", quoted.clone()).contains("4330"));
        assert!(!decode_message("virtualAccount.refundReceiveAccount.bankCode", quoted.clone()).contains("4330"));
        assert_eq!(decode_message("cancels[0].cancelAmount", quoted.clone()), quoted);
    }

    #[test]
    fn typed_values_print_masked() {
        let card = Some("4330123412345678".to_string());
        assert_eq!(format!("{:?}", Masked(&card, Shown::LastFour)), "\"****5678\"");
        assert_eq!(format!("{:?}", Masked(&None::<String>, Shown::LastFour)), "None");
        let meta = json!({"email": "a@b.c", "orderNo": 7});
        assert_eq!(format!("{:?}", Json(&meta)), r#"{"email":"<redacted>","orderNo":7}"#);
        let payment = json!({"imp_uid": "imp_1", "merchant_uid": "m_1", "status": "paid", "buyer_name": "홍"});
        assert_eq!(
            format!("{:?}", IdsOnly(&payment)),
            r#"{imp_uid: "imp_1", merchant_uid: "m_1", status: "paid"}"#
        );
    }
}
