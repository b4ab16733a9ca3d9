//! Every discriminated union and every string enum of every normalized spec, checked against the generated code.
//!
//! Samples are built from the spec itself (a schema-driven builder, not a hand list): for each union variant, a
//! minimal valid object with every required property, the tag set to the variant's value. Each must decode to its
//! own variant and serialize back to the same JSON; the same object with an unknown tag must decode to
//! `Unrecognized` and serialize back unchanged. Each string enum value must decode to a known variant, and an
//! unknown value to `Unrecognized`, both round-tripping. The registry of generated enums comes from `build.rs`.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// What decoding a JSON value gave: the tag or wire value, whether it was unrecognized, and the value serialized
/// back.
type Decoded = Result<(String, bool, Value), String>;

struct OpenEnum {
    name: &'static str,
    union: bool,
    values: &'static [&'static str],
    decode: fn(Value) -> Decoded,
    /// The same decode from JSON text, so the order of properties is what the test writes.
    decode_text: fn(&str) -> Decoded,
}

/// `object` as JSON text with `first` as its first property or its last one. Unions are decoded straight from the
/// bytes when the tag comes first (as the providers send it) and through a buffer otherwise; both must agree.
fn with_property_at(object: &Value, first: &str, at_start: bool) -> String {
    let map = object.as_object().expect("an object");
    let mut parts: Vec<String> = map
        .iter()
        .filter(|(k, _)| k.as_str() != first)
        .map(|(k, v)| format!("{}:{}", json!(k), v))
        .collect();
    if let Some(v) = map.get(first) {
        let tag = format!("{}:{}", json!(first), v);
        if at_start {
            parts.insert(0, tag);
        } else {
            parts.push(tag);
        }
    }
    format!("{{{}}}", parts.join(","))
}

const UNKNOWN: &str = "KR_PAYMENTS_TEST_VALUE_NOT_IN_THE_SPEC";

struct Spec {
    doc: Value,
}

impl Spec {
    fn load(file: &str) -> Spec {
        let path = format!("{}/openapi/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Spec {
            doc: serde_json::from_str(&text).expect("normalized spec is JSON"),
        }
    }

    fn schemas(&self) -> &Map<String, Value> {
        self.doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .expect("components.schemas")
    }

    fn resolve<'a>(&'a self, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                self.resolve(&self.schemas()[name])
            }
            None => s,
        }
    }

    /// A minimal JSON value valid for `schema`: required properties only, first enum value, first union variant.
    fn sample(&self, schema: &Value, depth: usize) -> Value {
        assert!(depth < 40, "schema recursion too deep");
        let s = self.resolve(schema);
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            return values[0].clone();
        }
        if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for p in parts {
                match self.sample(p, depth + 1) {
                    Value::Object(m) => merged.extend(m),
                    other if parts.len() == 1 => return other,
                    _ => {}
                }
            }
            return Value::Object(merged);
        }
        if let Some(variants) = s.get("oneOf").and_then(Value::as_array) {
            return self.sample(&variants[0], depth + 1);
        }
        match s.get("type").and_then(Value::as_str) {
            Some("string") => match s.get("format").and_then(Value::as_str) {
                Some("date-time") => json!("2026-01-02T03:04:05Z"),
                Some("date") => json!("2026-01-02"),
                _ => json!("x"),
            },
            Some("integer") => json!(7),
            // 1.5 so that a float survives the round trip unchanged (1 would come back as 1.0).
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") | None if s.get("properties").is_some() => {
                let mut out = Map::new();
                let required: BTreeSet<&str> = s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    for (name, p) in props {
                        if required.contains(name.as_str()) {
                            out.insert(name.clone(), self.sample(p, depth + 1));
                        }
                    }
                }
                Value::Object(out)
            }
            Some("object") => json!({}),
            _ => Value::Null,
        }
    }
}

#[derive(Default)]
struct Tally {
    unions: usize,
    variants: usize,
    enums: usize,
    inline_enums: usize,
    values: usize,
}

/// `complete`: whether every schema of the spec was generated (false when a PortOne V2 API area is left out, in
/// which case schemas without a generated type are skipped).
fn check_provider(api: &str, file: &str, registry: &[OpenEnum], complete: bool) -> Tally {
    let spec = Spec::load(file);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let mut matched = BTreeSet::new();
    // typify capitalizes schema names (`requestB2bTaxInvoiceError` becomes `RequestB2bTaxInvoiceError`).
    let find = |name: &str| registry.iter().find(|e| e.name.eq_ignore_ascii_case(name));

    for (name, schema) in spec.schemas() {
        let is_union = schema.get("oneOf").is_some() && schema.get("discriminator").is_some();
        let is_enum = schema.get("enum").is_some() && schema.get("type").and_then(Value::as_str) == Some("string");
        if !is_union && !is_enum {
            continue;
        }
        let Some(entry) = find(name) else {
            if complete {
                failures.push(format!("{name}: no opened enum generated for this spec schema"));
            }
            continue;
        };
        matched.insert(entry.name);
        if is_union {
            assert!(entry.union, "{name} should be a tagged union");
            tally.unions += 1;
            let tag_prop = schema
                .pointer("/discriminator/propertyName")
                .and_then(Value::as_str)
                .expect("tag");
            let variants = schema["oneOf"].as_array().expect("oneOf");
            for variant in variants {
                tally.variants += 1;
                let sample = spec.sample(variant, 0);
                let expected = sample[tag_prop].as_str().expect("pinned tag").to_string();
                let by_value = (entry.decode)(sample.clone());
                for at_start in [true, false] {
                    let by_text = (entry.decode_text)(&with_property_at(&sample, tag_prop, at_start));
                    if by_text.as_ref().ok() != by_value.as_ref().ok() {
                        failures.push(format!(
                            "{name}/{expected}: tag first = {at_start} decoded as {by_text:?}, not {by_value:?}"
                        ));
                    }
                }
                match by_value {
                    Ok((tag, unrecognized, back)) => {
                        if tag != expected || unrecognized {
                            failures.push(format!(
                                "{name}/{expected}: decoded as tag {tag} (unrecognized: {unrecognized})"
                            ));
                        }
                        if back != sample {
                            failures.push(format!("{name}/{expected}: round trip changed {sample} into {back}"));
                        }
                    }
                    Err(e) => failures.push(format!("{name}/{expected}: {e} (sample {sample})")),
                }
            }
            let mut unknown = spec.sample(&variants[0], 0);
            unknown[tag_prop] = json!(UNKNOWN);
            match (entry.decode)(unknown.clone()) {
                Ok((tag, true, back)) if tag == UNKNOWN && back == unknown => {}
                other => failures.push(format!("{name}: unknown tag gave {other:?}")),
            }
        } else {
            tally.enums += 1;
            let values: Vec<&str> = schema["enum"]
                .as_array()
                .expect("enum")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            check_values(name, entry, &values, &mut tally, &mut failures);
        }
    }
    // Enums typify generated for inline `enum` properties: their values come from the spec through build.rs.
    for entry in registry.iter().filter(|e| !matched.contains(e.name)) {
        assert!(
            !entry.union,
            "{}: a tagged union without a matching spec schema",
            entry.name
        );
        tally.inline_enums += 1;
        check_values(entry.name, entry, entry.values, &mut tally, &mut failures);
    }
    println!(
        "{api}: {} unions ({} variants), {} named enums, {} inline enums, {} enum values: all decode to their own variant, unknowns kept",
        tally.unions, tally.variants, tally.enums, tally.inline_enums, tally.values
    );
    assert!(
        failures.is_empty(),
        "{api}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    tally
}

fn check_values(name: &str, entry: &OpenEnum, values: &[&str], tally: &mut Tally, failures: &mut Vec<String>) {
    assert!(!values.is_empty(), "{name}: no values");
    for v in values {
        tally.values += 1;
        match (entry.decode)(json!(v)) {
            Ok((s, false, back)) if s == *v && back == json!(v) => {}
            other => failures.push(format!("{name}: value {v:?} gave {other:?}")),
        }
    }
    match (entry.decode)(json!(UNKNOWN)) {
        Ok((s, true, back)) if s == UNKNOWN && back == json!(UNKNOWN) => {}
        other => failures.push(format!("{name}: unknown value gave {other:?}")),
    }
}

#[cfg(feature = "portone-v2")]
#[test]
fn portone_v2_every_union_and_enum_is_open_and_decodes_right() {
    const REGISTRY: &[OpenEnum] = include!(concat!(env!("OUT_DIR"), "/portone_v2_open_enums.rs"));
    let complete = cfg!(all(feature = "portone-v2-platform", feature = "portone-v2-b2b"));
    let t = check_provider("portone-v2", "portone-v2.json", REGISTRY, complete);
    if complete {
        assert!(
            t.unions >= 178 && t.variants >= 1000 && t.enums >= 100,
            "coverage shrank"
        );
    }
}

#[cfg(feature = "iamport")]
#[test]
fn iamport_every_enum_is_open_and_decodes_right() {
    const REGISTRY: &[OpenEnum] = include!(concat!(env!("OUT_DIR"), "/iamport_open_enums.rs"));
    let t = check_provider("iamport-v1", "iamport-v1.json", REGISTRY, true);
    assert!(t.enums >= 3, "PaymentStatus, PayMethod and PaymentChannel at least");
}

#[cfg(feature = "toss")]
#[test]
fn toss_every_enum_is_open_and_decodes_right() {
    const REGISTRY: &[OpenEnum] = include!(concat!(env!("OUT_DIR"), "/toss_open_enums.rs"));
    let t = check_provider("toss-v1", "toss-v1.json", REGISTRY, true);
    assert!(
        t.enums >= 21,
        "coverage shrank: 21 Toss enums (status, method, cancel, promotion, ...)"
    );
}

/// Property tests over the same registry: any string round-trips through every string enum; any JSON object with a
/// known tag decodes to that variant or fails with a decode error (never a panic, never "unrecognized"); any object
/// with an unknown tag is kept whole.
mod properties {
    use super::OpenEnum;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    fn registries() -> Vec<&'static [OpenEnum]> {
        #[allow(unused_mut)]
        let mut all: Vec<&'static [OpenEnum]> = Vec::new();
        #[cfg(feature = "portone-v2")]
        all.push(include!(concat!(env!("OUT_DIR"), "/portone_v2_open_enums.rs")));
        #[cfg(feature = "iamport")]
        all.push(include!(concat!(env!("OUT_DIR"), "/iamport_open_enums.rs")));
        #[cfg(feature = "toss")]
        all.push(include!(concat!(env!("OUT_DIR"), "/toss_open_enums.rs")));
        all
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(Value::String),
            Just(json!("2026-01-02T03:04:05Z")),
        ]
    }

    fn json_object() -> impl Strategy<Value = Map<String, Value>> {
        let value = json_leaf().prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop::collection::btree_map("[a-zA-Z]{1,10}", value, 0..6).prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn any_string_round_trips_through_every_string_enum(s in ".{0,24}") {
            for reg in registries() {
                for e in reg.iter().filter(|e| !e.union) {
                    let (as_str, unrecognized, back) = (e.decode)(json!(s)).map_err(|err| TestCaseError::fail(format!("{}: {err}", e.name)))?;
                    prop_assert_eq!(&as_str, &s, "{}", e.name);
                    prop_assert_eq!(unrecognized, !e.values.contains(&s.as_str()), "{}", e.name);
                    prop_assert_eq!(back, json!(s), "{}", e.name);
                }
            }
        }

        #[test]
        fn any_object_with_a_known_tag_decodes_to_it_or_fails_cleanly(fields in json_object(), pick in any::<prop::sample::Index>()) {
            for reg in registries() {
                for e in reg.iter().filter(|e| e.union) {
                    let tag = e.values[pick.index(e.values.len())];
                    // The tag property is `type` or `status`; set both so the object is tagged whichever it is.
                    let mut obj = fields.clone();
                    obj.insert("type".into(), json!(tag));
                    obj.insert("status".into(), json!(tag));
                    let obj = Value::Object(obj);
                    // Whether it decodes, and to what, cannot depend on where the tag stands.
                    let texts = [
                        super::with_property_at(&obj, "status", true),
                        super::with_property_at(&obj, "type", true),
                        super::with_property_at(&super::with_property_at(&obj, "status", false).parse().unwrap(), "type", false),
                    ];
                    let decoded: Vec<_> = texts.iter().map(|t| (e.decode_text)(t)).collect();
                    for (text, d) in texts.iter().zip(&decoded) {
                        prop_assert_eq!(d.as_ref().ok(), decoded[0].as_ref().ok(), "{}: {}", e.name, text);
                    }
                    if let Ok((got, unrecognized, _)) = (e.decode)(obj) {
                        prop_assert!(!unrecognized, "{}: a known tag {tag} was taken as unrecognized", e.name);
                        prop_assert_eq!(got, tag, "{}", e.name);
                    }
                }
            }
        }

        #[test]
        fn any_object_with_an_unknown_tag_is_kept_whole(fields in json_object(), tag in "[A-Z_]{3,16}") {
            for reg in registries() {
                for e in reg.iter().filter(|e| e.union && !e.values.contains(&tag.as_str())) {
                    let mut obj = fields.clone();
                    obj.insert("type".into(), json!(tag));
                    obj.insert("status".into(), json!(tag));
                    let input = Value::Object(obj);
                    for (key, at_start) in [("status", true), ("type", true), ("status", false)] {
                        let text = super::with_property_at(&input, key, at_start);
                        let (got, unrecognized, back) = (e.decode_text)(&text).map_err(|err| TestCaseError::fail(format!("{}: {err}", e.name)))?;
                        prop_assert!(unrecognized && got == tag && back == input, "{}: {text}", e.name);
                    }
                    let (got, unrecognized, back) = (e.decode)(input.clone()).map_err(|err| TestCaseError::fail(format!("{}: {err}", e.name)))?;
                    prop_assert!(unrecognized, "{}", e.name);
                    prop_assert_eq!(got, tag.clone());
                    prop_assert_eq!(back, input);
                }
            }
        }
    }
}
