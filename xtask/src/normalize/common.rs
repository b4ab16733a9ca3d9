//! Rewrites shared by every spec.

use serde_json::{Map, Value, json};

/// Keys whose values are upstream prose. The normalized specs keep facts only.
const PROSE_KEYS: &[&str] = &[
    "description",
    "summary",
    "title",
    "example",
    "examples",
    "externalDocs",
    "contact",
    "termsOfService",
    "x-portone-title",
    "x-portone-description",
    "x-portone-summary",
    "x-portone-name",
    "x-portone-per-pg",
    "x-portone-enum",
    "x-portone-discriminator",
    "x-portone-categories",
];

/// Removes every prose key, everywhere except inside `properties` maps (where a key is a field name, not prose).
pub fn strip_prose(v: &mut Value) -> usize {
    let mut n = 0;
    strip_prose_inner(v, false, &mut n);
    n
}

fn strip_prose_inner(v: &mut Value, keys_are_names: bool, n: &mut usize) {
    match v {
        Value::Object(map) => {
            if !keys_are_names {
                let before = map.len();
                map.retain(|k, _| !PROSE_KEYS.contains(&k.as_str()));
                *n += before - map.len();
            }
            for (k, child) in map.iter_mut() {
                // Maps keyed by names: properties, schemas, paths, responses, mappings...
                let names = !keys_are_names
                    && matches!(
                        k.as_str(),
                        "properties"
                            | "schemas"
                            | "paths"
                            | "securitySchemes"
                            | "responses"
                            | "content"
                            | "definitions"
                    );
                strip_prose_inner(child, names, n);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| strip_prose_inner(c, false, n)),
        _ => {}
    }
}

/// Calls `f` on every schema-like object (anything with `type`, `$ref`, `allOf`, `oneOf`, `properties`, `enum`).
pub fn for_each_object(v: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    match v {
        Value::Object(map) => {
            f(map);
            for (_, child) in map.iter_mut() {
                for_each_object(child, f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| for_each_object(c, f)),
        _ => {}
    }
}

/// `default` becomes `x-server-default`: typify turns a property with a default into a field that is always
/// serialized, so a request would silently carry values the caller never chose (Toss `currency: USD`).
/// String defaults are dropped: upstream uses them for sample values, which are example text, not facts.
pub fn defaults_to_vendor_key(spec: &mut Value) -> usize {
    let mut n = 0;
    for_each_object(spec, &mut |m| {
        if let Some(d) = m.remove("default") {
            // Inside a `properties` map a property may be named "default"; those are objects with a schema.
            if d.is_object() && (d.get("type").is_some() || d.get("$ref").is_some()) {
                m.insert("default".into(), d);
            } else if d.is_string() {
                // String defaults upstream are sample values (ids, JSON snippets), i.e. example text: dropped.
                n += 1;
            } else {
                m.insert("x-server-default".into(), d);
                n += 1;
            }
        }
    });
    n
}

/// String and number bounds become `x-validation`: typify would emit constrained newtypes that reject server
/// values past the documented bound and force `.try_into()?` on every request field. The facades validate what
/// matters for money before sending.
pub fn constraints_to_vendor_key(spec: &mut Value) -> usize {
    const KEYS: &[&str] = &[
        "maxLength",
        "minLength",
        "pattern",
        "maximum",
        "minimum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "maxItems",
        "minItems",
        "uniqueItems",
    ];
    let mut n = 0;
    for_each_object(spec, &mut |m| {
        let is_schema = m.get("type").is_some_and(Value::is_string);
        if !is_schema {
            return;
        }
        let mut moved = Map::new();
        for k in KEYS {
            if let Some(v) = m.remove(*k) {
                // Bounds written as strings upstream ("1000") are numbers in fact.
                let v = match v {
                    Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(Value::String(s)),
                    other => other,
                };
                moved.insert((*k).to_string(), v);
            }
        }
        if !moved.is_empty() {
            n += moved.len();
            m.insert("x-validation".into(), Value::Object(moved));
        }
    });
    n
}

/// Makes every property of every component schema nullable (a `$ref` becomes `allOf: [$ref]` + `nullable`).
/// Toss and iamport send explicit `null` for properties their docs call required; without this a single
/// `null` fails the whole response.
pub fn make_component_properties_nullable(spec: &mut Value) -> usize {
    let mut n = 0;
    let Some(schemas) = spec.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return 0;
    };
    for (_, schema) in schemas.iter_mut() {
        for_each_properties_map(schema, &mut |props| {
            for (_, p) in props.iter_mut() {
                if let Some(obj) = p.as_object_mut() {
                    if obj.get("nullable") == Some(&Value::Bool(true)) {
                        continue;
                    }
                    if let Some(r) = obj.remove("$ref") {
                        obj.insert("allOf".into(), json!([{ "$ref": r }]));
                    }
                    obj.insert("nullable".into(), Value::Bool(true));
                    n += 1;
                }
            }
        });
    }
    n
}

/// Applies `f` to each `properties` map in a schema, including those nested in allOf / items / inline objects.
pub fn for_each_properties_map(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Some(obj) = schema.as_object_mut() else { return };
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        f(props);
        for (_, p) in props.iter_mut() {
            for_each_properties_map(p, f);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(items) = obj.get_mut(key).and_then(Value::as_array_mut) {
            items.iter_mut().for_each(|s| for_each_properties_map(s, f));
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(s) = obj.get_mut(key) {
            for_each_properties_map(s, f);
        }
    }
}

/// Counts `$ref`s to each component schema.
pub fn ref_counts(spec: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    fn walk(v: &Value, counts: &mut std::collections::BTreeMap<String, usize>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    if k == "$ref" {
                        if let Some(name) = c.as_str().and_then(|s| s.strip_prefix("#/components/schemas/")) {
                            *counts.entry(name.to_string()).or_insert(0) += 1;
                        }
                    } else if k == "x-kr-query-body" {
                        if let Some(name) = c.as_str() {
                            *counts.entry(name.to_string()).or_insert(0) += 1;
                        }
                    } else {
                        walk(c, counts);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, counts)),
            _ => {}
        }
    }
    walk(spec, &mut counts);
    counts
}

/// All operations as (path, method, operation) in document order.
pub fn operations_mut(spec: &mut Value) -> Vec<(String, String, &mut Map<String, Value>)> {
    let mut out = Vec::new();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            if let Some(item) = item.as_object_mut() {
                for (method, op) in item.iter_mut() {
                    if !matches!(
                        method.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                    ) {
                        continue;
                    }
                    if let Some(op) = op.as_object_mut() {
                        out.push((path.clone(), method.clone(), op));
                    }
                }
            }
        }
    }
    out
}

/// Fails when two operations share an operationId (progenitor needs them unique).
pub fn assert_unique_operation_ids(spec: &mut Value) -> Result<usize, crate::Error> {
    let mut seen = std::collections::BTreeSet::new();
    let mut n = 0;
    for (path, method, op) in operations_mut(spec) {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{method} {path} has no operationId"))?;
        if !seen.insert(id.to_string()) {
            return Err(format!("duplicate operationId `{id}` ({method} {path})").into());
        }
        n += 1;
    }
    Ok(n)
}

/// Fails when a `$ref` points at a schema that does not exist.
pub fn assert_refs_resolve(spec: &Value) -> Result<(), crate::Error> {
    let schemas = spec.pointer("/components/schemas").and_then(Value::as_object);
    for name in ref_counts(spec).keys() {
        if !schemas.is_some_and(|s| s.contains_key(name)) {
            return Err(format!("dangling $ref to `{name}`").into());
        }
    }
    Ok(())
}

/// Puts back what OpenAPI requires after prose was dropped: our own `info.title`, and a terse `description` on
/// every response (the field is mandatory; its upstream text is prose).
pub fn finalize(spec: &mut Value, title: &str) {
    if let Some(info) = spec.get_mut("info").and_then(Value::as_object_mut) {
        info.insert("title".into(), Value::String(title.to_string()));
    }
    for (_, _, op) in operations_mut(spec) {
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for (code, r) in responses.iter_mut() {
                if let Some(r) = r.as_object_mut() {
                    r.insert("description".into(), Value::String(format!("HTTP {code}")));
                }
            }
        }
    }
}
