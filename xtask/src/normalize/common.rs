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

/// Makes the properties of component schemas nullable (a `$ref` becomes `allOf: [$ref]` + `nullable`). Toss and
/// iamport send explicit `null` for properties their docs call required; without this a single `null` fails the
/// whole response. A schema the client sends keeps its required properties as they are: `nullable` would make them
/// `Option` in the generated type, so a request without them would compile (and a builder could leave them out).
/// Returns (properties made nullable, required properties of sent schemas left alone).
pub fn make_component_properties_nullable(spec: &mut Value) -> (usize, usize) {
    let sides = Sides::of(spec);
    let (mut n, mut kept) = (0, 0);
    let Some(schemas) = spec.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return (0, 0);
    };
    for (name, schema) in schemas.iter_mut() {
        let sent = !sides.received_only(name);
        for_each_properties_map(schema, &mut |props, required| {
            for (prop, p) in props.iter_mut() {
                if sent && required.contains(prop) {
                    kept += 1;
                    continue;
                }
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
    (n, kept)
}

/// What [`for_each_properties_map`] calls: a `properties` map and the `required` list of the object holding it.
pub type PropertiesVisitor<'a> = dyn FnMut(&mut Map<String, Value>, &[String]) + 'a;

/// Applies `f` to each `properties` map in a schema, including those nested in allOf / items / inline objects,
/// with the `required` list of the object that holds the map.
pub fn for_each_properties_map(schema: &mut Value, f: &mut PropertiesVisitor<'_>) {
    let Some(obj) = schema.as_object_mut() else { return };
    let required: Vec<String> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(String::from).collect())
        .unwrap_or_default();
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        f(props, &required);
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

/// The component schemas reachable from the given keys of every operation (following `$ref`s, and the body
/// schemas named in `x-kr-query-body`): `["requestBody", "parameters"]` for what a client sends, `["responses"]`
/// for what it receives.
fn schemas_reachable_from(spec: &Value, keys: &[&str]) -> std::collections::BTreeSet<String> {
    use std::collections::BTreeSet;
    fn refs(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    match (k.as_str(), c) {
                        ("$ref", Value::String(r)) => {
                            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                                out.insert(name.to_string());
                            }
                        }
                        ("x-kr-query-body", Value::String(name)) => {
                            out.insert(name.clone());
                        }
                        _ => refs(c, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }
    let mut roots = BTreeSet::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for item in paths.values().filter_map(Value::as_object) {
            for op in item.values().filter_map(Value::as_object) {
                for key in keys {
                    if let Some(v) = op.get(*key) {
                        refs(v, &mut roots);
                    }
                }
            }
            // Path-level parameters apply to every operation of the path.
            if keys.contains(&"parameters")
                && let Some(v) = item.get("parameters")
            {
                refs(v, &mut roots);
            }
        }
    }
    let schemas = spec.pointer("/components/schemas").and_then(Value::as_object);
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.and_then(|s| s.get(&name)) {
            let mut next = BTreeSet::new();
            refs(schema, &mut next);
            todo.extend(next.into_iter().filter(|n| !seen.contains(n)));
        }
    }
    seen
}

/// Which side of the wire each component schema is on.
pub struct Sides {
    /// Reachable from a request body or parameter: a client sends it.
    pub sent: std::collections::BTreeSet<String>,
    /// Reachable from a response: a client receives it.
    pub received: std::collections::BTreeSet<String>,
}

impl Sides {
    pub fn of(spec: &Value) -> Sides {
        Sides {
            sent: schemas_reachable_from(spec, &["requestBody", "parameters"]),
            received: schemas_reachable_from(spec, &["responses"]),
        }
    }

    /// Only ever received: reachable from a response and not from a request, or reachable from no operation at
    /// all (webhook bodies, which the provider sends to the merchant).
    pub fn received_only(&self, name: &str) -> bool {
        !self.sent.contains(name)
    }

    /// Both sent and received.
    pub fn shared(&self, name: &str) -> bool {
        self.sent.contains(name) && self.received.contains(name)
    }
}

/// What [`reduce_received_required`] did.
#[derive(Debug, Default)]
pub struct Reduced {
    /// Received schemas whose `required` list was looked at.
    pub checked: usize,
    /// Entries taken off `required` lists (the property stays; it is optional now).
    pub removed: usize,
    /// Schemas that are both sent and received and have a `required` list: left as they are, so a request never
    /// loses a field it must send.
    pub shared: Vec<String>,
}

/// What to do with a received schema that `guaranteed` does not name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unlisted {
    /// Drop its whole `required` list: nothing in it is needed to tell the merchant the truth.
    Optional,
    /// Fail: the schema must be classified (used for a spec we author, where every schema is a decision).
    Refuse,
}

/// The tolerant reader: reduces the `required` list of every received-only component schema to the fields in
/// `guaranteed` (schema name → fields the provider's documentation guarantees and the facade needs). The
/// properties themselves are kept; a property that leaves `required` is generated as an optional field.
///
/// Fails when `guaranteed` names a schema that does not exist, that is sent in requests (its request side must
/// stay strict), or a field that the schema does not list as required (the table would claim more than the spec
/// says): each of those means the table is out of date.
pub fn reduce_received_required(
    spec: &mut Value,
    guaranteed: &[(&str, &[&str])],
    unlisted: Unlisted,
) -> Result<Reduced, crate::Error> {
    let sides = Sides::of(spec);
    let schemas = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or("no components.schemas")?;
    for (name, fields) in guaranteed {
        let schema = schemas
            .get(*name)
            .ok_or_else(|| format!("guaranteed fields name `{name}`, which the spec does not have"))?;
        if !sides.received_only(name) {
            return Err(format!("`{name}` is sent in requests too; split it before making its fields optional").into());
        }
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = fields.iter().find(|f| !required.contains(f)) {
            return Err(format!("`{name}.{missing}` is listed as guaranteed but the spec does not require it").into());
        }
    }
    let mut out = Reduced::default();
    for (name, schema) in schemas.iter_mut() {
        let Some(obj) = schema.as_object_mut() else { continue };
        let Some(required) = obj.get("required").and_then(Value::as_array) else {
            continue;
        };
        if required.is_empty() {
            continue;
        }
        if sides.shared(name) {
            out.shared.push(name.clone());
            continue;
        }
        if !sides.received_only(name) {
            continue;
        }
        out.checked += 1;
        let keep: &[&str] = match guaranteed.iter().find(|(n, _)| n == name) {
            Some((_, fields)) => fields,
            None if unlisted == Unlisted::Optional => &[],
            None => {
                return Err(format!(
                    "received schema `{name}` requires {required:?} but is not classified: add it to the table of \
                     guaranteed response fields with the fields the provider's documentation guarantees"
                )
                .into());
            }
        };
        let kept: Vec<Value> = required
            .iter()
            .filter(|f| f.as_str().is_some_and(|f| keep.contains(&f)))
            .cloned()
            .collect();
        out.removed += required.len() - kept.len();
        if kept.is_empty() {
            obj.remove("required");
        } else {
            obj.insert("required".into(), Value::Array(kept));
        }
    }
    Ok(out)
}

/// Marks every optional property of every received-only component schema `nullable`: a provider that sends
/// `null` for a field it may also leave out must not fail the whole answer.
pub fn make_received_optional_properties_nullable(spec: &mut Value) -> usize {
    let sides = Sides::of(spec);
    let Some(schemas) = spec.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return 0;
    };
    let mut n = 0;
    for (name, schema) in schemas.iter_mut() {
        if !sides.received_only(name) {
            continue;
        }
        let Some(obj) = schema.as_object_mut() else { continue };
        let required: Vec<String> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default();
        let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (prop, p) in props.iter_mut() {
            if required.contains(prop) {
                continue;
            }
            let Some(p) = p.as_object_mut() else { continue };
            if p.get("nullable") == Some(&Value::Bool(true)) {
                continue;
            }
            if let Some(r) = p.remove("$ref") {
                p.insert("allOf".into(), json!([{ "$ref": r }]));
            }
            p.insert("nullable".into(), Value::Bool(true));
            n += 1;
        }
    }
    n
}
