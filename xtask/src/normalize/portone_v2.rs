//! PortOne V2: already OpenAPI 3.0.3; the rewrites make progenitor accept it and make its unions decode right.

use super::{Normalized, StepLog, common};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub fn normalize(mut spec: Value) -> Result<Normalized, crate::Error> {
    let mut log = StepLog::default();

    let n = common::strip_prose(&mut spec);
    log.required("drop upstream prose", "descriptions, summaries, titles, examples and per-value labels are upstream text; the normalized spec keeps facts only", n)?;

    let n = query_body_params(&mut spec)?;
    log.required(
        "`requestBody` query parameters become JSON strings",
        "24 GET operations take their body as `?requestBody=<JSON>` declared with `content`, which progenitor rejects; the parameter becomes a string the facade fills with the JSON-encoded body, the body schema is named in `x-kr-query-body`",
        n,
    )?;

    let n = drop_get_bodies(&mut spec);
    log.required(
        "drop the duplicate body of those GET operations",
        "otherwise progenitor adds a mandatory body argument and sends a GET with a body; the same body travels in the query parameter",
        n,
    )?;

    let n = fix_self_tagged_leaves(&mut spec);
    log.optional(
        "discriminator property wins over a leaf's own `type`",
        "`PlatformSettlementAmountExceededError` declares its own `type` enum and lists `type` twice in `required`; the union's discriminator defines the tag",
        n,
    );

    let (unions, variants, leaves) = inline_discriminated_unions(&mut spec)?;
    log.required(
        "inline each discriminated union's variants with the tag pinned",
        "typify ignores `discriminator`; with `$ref` variants it emits an untagged enum and serde picks the first variant whose fields fit (a PAYMENT_NOT_FOUND error decoded as CancelAmountExceedsCancellableAmount, a SUCCEEDED cancellation as Failed). Inline variants whose tag property is a single-value enum make typify emit `#[serde(tag = ...)]` enums",
        unions,
    )?;
    log.optional(
        "(variants pinned)",
        "number of variant schemas inlined across all unions",
        variants,
    );

    let n = drop_unreferenced_leaves(&mut spec, &leaves);
    log.optional(
        "drop variant schemas no longer referenced",
        "after inlining, a variant schema used only inside unions would generate a second, unconnected copy of the same type",
        n,
    );

    let n = loosen_documented_missing(&mut spec)?;
    log.required(
        "response fields a documented answer leaves out become optional",
        "PortOne's reference promises that a required output field is never dropped, and its documented cancellation (the server SDK's `SucceededPaymentCancellation`, seed 000's cancel flow) carries every field the spec requires, so the cancel reply stays as the spec says. One exception: the server SDK's documented payment types (its JVM reference's `CancelledPayment`, its JS reference's payment transactions) have no `origin`, which the spec requires on every payment status and the facade never reads; a payment answer without it must still decode. Only the received `Payment` union is touched; no request schema changes. Unknown fields are ignored by the generated types and kept by the facade's payment views",
        n,
    )?;

    common::finalize(&mut spec, "PortOne V2 REST API (normalized by kr-payments)");
    common::assert_unique_operation_ids(&mut spec)?;
    common::assert_refs_resolve(&spec)?;
    Ok(Normalized { spec, log })
}

fn query_body_params(spec: &mut Value) -> Result<usize, crate::Error> {
    let mut n = 0;
    for (path, method, op) in common::operations_mut(spec) {
        let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
            continue;
        };
        for p in params.iter_mut() {
            let Some(p) = p.as_object_mut() else { continue };
            let Some(content) = p.remove("content") else { continue };
            let schema_ref = content
                .pointer("/application~1json/schema/$ref")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{method} {path}: query parameter with content but no JSON schema $ref"))?;
            let name = schema_ref.trim_start_matches("#/components/schemas/").to_string();
            p.insert("schema".into(), json!({ "type": "string" }));
            p.insert("x-kr-query-body".into(), Value::String(name));
            n += 1;
        }
    }
    Ok(n)
}

fn drop_get_bodies(spec: &mut Value) -> usize {
    let mut n = 0;
    for (_, method, op) in common::operations_mut(spec) {
        if method == "get" && op.remove("requestBody").is_some() {
            n += 1;
        }
    }
    n
}

fn fix_self_tagged_leaves(spec: &mut Value) -> usize {
    let mut n = 0;
    let schemas = spec.pointer("/components/schemas").cloned().unwrap_or(Value::Null);
    let Some(schemas) = schemas.as_object() else { return 0 };
    let mut leaves = Vec::new();
    for (_, s) in schemas {
        if let (Some(one_of), Some(prop)) = (
            s.get("oneOf").and_then(Value::as_array),
            s.pointer("/discriminator/propertyName").and_then(Value::as_str),
        ) {
            for r in one_of {
                if let Some(leaf) = r.get("$ref").and_then(Value::as_str) {
                    leaves.push((
                        leaf.trim_start_matches("#/components/schemas/").to_string(),
                        prop.to_string(),
                    ));
                }
            }
        }
    }
    for (leaf, prop) in leaves {
        let Some(obj) = spec
            .pointer_mut(&format!("/components/schemas/{leaf}"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if let Some(req) = obj.get_mut("required").and_then(Value::as_array_mut) {
            let before = req.len();
            let mut seen = std::collections::BTreeSet::new();
            req.retain(|v| seen.insert(v.to_string()));
            if req.len() != before {
                n += 1;
            }
        }
        if let Some(p) = obj.get_mut("properties").and_then(|p| p.get_mut(&prop))
            && p.get("$ref").is_some()
        {
            *p = json!({ "type": "string" });
        }
    }
    n
}

fn inline_discriminated_unions(spec: &mut Value) -> Result<(usize, usize, BTreeSet<String>), crate::Error> {
    let mut leaves = BTreeSet::new();
    let snapshot = spec
        .pointer("/components/schemas")
        .cloned()
        .ok_or("no components.schemas")?;
    let snapshot = snapshot.as_object().ok_or("components.schemas is not an object")?;
    let (mut unions, mut variants) = (0, 0);
    let names: Vec<String> = snapshot.keys().cloned().collect();
    for name in names {
        let union = &snapshot[&name];
        let (Some(one_of), Some(prop)) = (
            union.get("oneOf").and_then(Value::as_array),
            union.pointer("/discriminator/propertyName").and_then(Value::as_str),
        ) else {
            continue;
        };
        let mapping = union
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{name}: discriminator without mapping"))?;
        let mut inlined = Vec::new();
        for r in one_of {
            let target = r
                .get("$ref")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{name}: oneOf entry is not a $ref"))?;
            let tag = mapping
                .iter()
                .find(|(_, v)| v.as_str() == Some(target))
                .map(|(k, _)| k.clone())
                .ok_or_else(|| format!("{name}: {target} has no discriminator mapping"))?;
            let leaf_name = target.trim_start_matches("#/components/schemas/");
            leaves.insert(leaf_name.to_string());
            let mut leaf = snapshot
                .get(leaf_name)
                .cloned()
                .ok_or_else(|| format!("{name}: missing {leaf_name}"))?;
            let obj = leaf
                .as_object_mut()
                .ok_or_else(|| format!("{leaf_name} is not an object schema"))?;
            let props = obj.entry("properties").or_insert_with(|| json!({}));
            props
                .as_object_mut()
                .ok_or("properties is not a map")?
                .insert(prop.to_string(), json!({ "type": "string", "enum": [tag] }));
            let required = obj.entry("required").or_insert_with(|| json!([]));
            let required = required.as_array_mut().ok_or("required is not a list")?;
            if !required.iter().any(|v| v.as_str() == Some(prop)) {
                required.insert(0, Value::String(prop.to_string()));
            }
            // Where the variant came from, for readers of the normalized spec and for the facade's tests.
            obj.insert("x-kr-variant-of".into(), Value::String(leaf_name.to_string()));
            inlined.push(leaf);
            variants += 1;
        }
        let target = spec
            .pointer_mut(&format!("/components/schemas/{name}"))
            .and_then(Value::as_object_mut)
            .ok_or("union vanished")?;
        target.insert("oneOf".into(), Value::Array(inlined));
        unions += 1;
    }
    Ok((unions, variants, leaves))
}

fn drop_unreferenced_leaves(spec: &mut Value, leaves: &BTreeSet<String>) -> usize {
    let counts = common::ref_counts(spec);
    let Some(schemas) = spec.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return 0;
    };
    let before = schemas.len();
    schemas.retain(|name, _| !leaves.contains(name) || counts.contains_key(name));
    before - schemas.len()
}

/// Fields of a received union's variants that PortOne's own documented types leave out: (union, field).
const DOCUMENTED_MISSING: &[(&str, &str)] = &[("Payment", "origin")];

fn loosen_documented_missing(spec: &mut Value) -> Result<usize, crate::Error> {
    let sides = common::Sides::of(spec);
    let mut n = 0;
    for (union, field) in DOCUMENTED_MISSING {
        if !sides.received_only(union) {
            return Err(format!("`{union}` is sent in requests; its request side must stay strict").into());
        }
        let variants = spec
            .pointer_mut(&format!("/components/schemas/{union}/oneOf"))
            .and_then(Value::as_array_mut)
            .ok_or_else(|| format!("`{union}` is not a union"))?;
        for variant in variants.iter_mut() {
            if let Some(required) = variant.get_mut("required").and_then(Value::as_array_mut) {
                let before = required.len();
                required.retain(|f| f.as_str() != Some(*field));
                n += before - required.len();
            }
        }
    }
    Ok(n)
}
