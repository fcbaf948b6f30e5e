//! What the API server checks when a manifest is applied, offline: the CRD's own OpenAPI schema
//! (types, required fields, lengths, patterns, enums, bounds, sets) and its CEL rules
//! (`x-kubernetes-validations`), both read from [`super::crd`] — the same source the API server
//! gets — after the schema's defaults are filled in, as the API server does. `uc-operator
//! validate` runs it first, so a manifest the cluster would refuse is refused without a request.
//! Transition rules (`oldSelf`) only apply to updates and are skipped.

use cel_interpreter::{Context, Program};
use serde_json::{Map, Value};

/// Every reason the API server would refuse `object` (a `DatabricksIntegration` as JSON), each
/// naming the field as `kubectl` does (`spec.catalog: …`). Empty when it would be accepted.
pub fn refusals(object: &Value) -> Vec<String> {
    let schema = schema();
    let mut object = object.clone();
    default(&schema, &mut object);
    let mut out = Vec::new();
    check(&schema, &object, "", &mut out);
    out
}

fn schema() -> Value {
    let crd = serde_json::to_value(super::crd()).expect("the CRD serializes");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Fills in the schema's defaults where fields are absent, as the API server does before it
/// validates.
fn default(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(fields) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (name, sub) in props {
                if !fields.contains_key(name)
                    && let Some(d) = sub.get("default")
                {
                    fields.insert(name.clone(), d.clone());
                }
                if let Some(v) = fields.get_mut(name) {
                    default(sub, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                items.iter_mut().for_each(|i| default(sub, i));
            }
        }
        _ => {}
    }
}

fn at(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

// Long: one branch per schema keyword, in the order the API server reports them.
fn check(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let shown = if path.is_empty() { "<root>" } else { path };
    if value.is_null() {
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        out.push(format!(
            "{shown}: Invalid value: must be of type {}",
            ty.unwrap_or("?")
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        out.push(format!(
            "{shown}: Unsupported value: {value}: supported values: {}",
            list.join(", ")
        ));
    }
    match value {
        Value::String(s) => string(schema, s, shown, out),
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or_default();
            if let Some(limit) = beyond(schema, "minimum", n, false) {
                out.push(format!(
                    "{shown}: Invalid value: {n}: should be at least {limit}"
                ));
            }
            if let Some(limit) = beyond(schema, "maximum", n, true) {
                out.push(format!(
                    "{shown}: Invalid value: {n}: should be at most {limit}"
                ));
            }
        }
        Value::Array(items) => {
            let len = items.len() as f64;
            if let Some(limit) = beyond(schema, "maxItems", len, true) {
                out.push(format!(
                    "{shown}: Too many: {len}: must have at most {limit} items"
                ));
            }
            if let Some(limit) = beyond(schema, "minItems", len, false) {
                out.push(format!(
                    "{shown}: Invalid value: must have at least {limit} items"
                ));
            }
            if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set") {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        out.push(format!("{shown}[{i}]: Duplicate value: {item}"));
                    }
                }
            }
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(sub, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(fields) => object(schema, fields, path, out),
        _ => {}
    }
    rules(schema, value, path, out);
}

/// The schema's `key` bound when `n` lies past it (`over`: a maximum, else a minimum).
fn beyond(schema: &Value, key: &str, n: f64, over: bool) -> Option<f64> {
    let limit = schema.get(key).and_then(Value::as_f64)?;
    (if over { n > limit } else { n < limit }).then_some(limit)
}

fn string(schema: &Value, s: &str, shown: &str, out: &mut Vec<String>) {
    let len = s.chars().count() as f64;
    if let Some(limit) = beyond(schema, "maxLength", len, true) {
        out.push(format!(
            "{shown}: Too long: may not be more than {limit} bytes"
        ));
    }
    if let Some(limit) = beyond(schema, "minLength", len, false) {
        out.push(format!(
            "{shown}: Invalid value: should be at least {limit} chars long"
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(s))
    {
        out.push(format!(
            "{shown}: Invalid value: {s:?}: should match '{pattern}'"
        ));
    }
}

fn object(schema: &Value, fields: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !fields.contains_key(name) {
            out.push(format!("{}: Required value", at(path, name)));
        }
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, v) in fields {
        // Fields the schema does not know are pruned by the API server, not refused.
        if let Some(sub) = props.get(name) {
            check(sub, v, &at(path, name), out);
        }
    }
}

/// The node's CEL rules, with `self` bound to it.
fn rules(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let Some(rules) = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    else {
        return;
    };
    for r in rules {
        let rule = r["rule"].as_str().unwrap_or_default();
        if rule.contains("oldSelf") {
            continue;
        }
        let field = match r.get("fieldPath").and_then(Value::as_str) {
            Some(f) => format!("{path}{f}"),
            None => path.to_string(),
        };
        let shown = if field.is_empty() {
            "<root>".to_string()
        } else {
            field
        };
        let message = r["message"].as_str().unwrap_or(rule);
        match evaluate(rule, value) {
            Ok(true) => {}
            Ok(false) => out.push(format!("{shown}: Invalid value: {message}")),
            Err(e) => out.push(format!("{shown}: Invalid value: {message} ({e})")),
        }
    }
}

fn evaluate(rule: &str, value: &Value) -> Result<bool, String> {
    let program = Program::compile(rule).map_err(|e| format!("rule does not compile: {e}"))?;
    let mut context = Context::default();
    let bound = cel_interpreter::to_value(value).map_err(|e| e.to_string())?;
    context.add_variable_from_value("self", bound);
    match program.execute(&context) {
        Ok(cel_interpreter::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("the rule gave {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
