//! What changed between two versions of a normalized spec, in API terms.

use serde_json::Value;
use std::collections::BTreeMap;

fn operations(spec: &Value) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let id = op.get("operationId").and_then(Value::as_str).unwrap_or("?").to_string();
                out.insert(id, (format!("{} {path}", method.to_uppercase()), op.clone()));
            }
        }
    }
    out
}

fn schemas(spec: &Value) -> BTreeMap<String, Value> {
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Lines describing the change from `old` to `new`; empty when the two are the same API.
pub fn describe(old: &Value, new: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let (oo, no) = (operations(old), operations(new));
    for (id, (route, _)) in &no {
        if !oo.contains_key(id) {
            lines.push(format!("operation added: {id} ({route})"));
        }
    }
    for (id, (route, _)) in &oo {
        if !no.contains_key(id) {
            lines.push(format!("operation removed: {id} ({route})"));
        }
    }
    for (id, (route, op)) in &no {
        if let Some((old_route, old_op)) = oo.get(id) {
            if old_route != route {
                lines.push(format!("operation changed: {id} moved from {old_route} to {route}"));
            } else if old_op != op {
                lines.push(format!("operation changed: {id} ({route})"));
            }
        }
    }
    let (os, ns) = (schemas(old), schemas(new));
    for name in ns.keys().filter(|k| !os.contains_key(*k)) {
        lines.push(format!("schema added: {name}"));
    }
    for name in os.keys().filter(|k| !ns.contains_key(*k)) {
        lines.push(format!("schema removed: {name}"));
    }
    for (name, s) in &ns {
        if os.get(name).is_some_and(|o| o != s) {
            lines.push(format!("schema changed: {name}"));
        }
    }
    if lines.is_empty() && old != new {
        lines.push("top-level fields changed (info, servers or security)".into());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::describe;
    use serde_json::json;

    #[test]
    fn describes_changes_in_api_terms() {
        let old = json!({
            "paths": {"/a": {"get": {"operationId": "getA"}}, "/b": {"post": {"operationId": "postB"}}},
            "components": {"schemas": {"A": {"type": "object"}, "Gone": {"type": "string"}}}
        });
        let new = json!({
            "paths": {"/a": {"get": {"operationId": "getA", "parameters": []}}, "/c": {"get": {"operationId": "getC"}}},
            "components": {"schemas": {"A": {"type": "object"}, "New": {"type": "string"}}}
        });
        let lines = describe(&old, &new);
        for expected in [
            "operation added: getC (GET /c)",
            "operation removed: postB (POST /b)",
            "operation changed: getA (GET /a)",
            "schema added: New",
            "schema removed: Gone",
        ] {
            assert!(lines.iter().any(|l| l == expected), "missing {expected:?} in {lines:?}");
        }
        assert!(describe(&old, &old).is_empty());
    }
}
