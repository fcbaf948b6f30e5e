//! Docs: the configuration reference is generated from the CRD's OpenAPI schema.

use serde_json::Value;

use crate::support::harness::repo;

const REFERENCE: &str = "docs/reference.md";

fn md(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn type_of(schema: &Value) -> String {
    if let Some(values) = schema["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect();
        return format!("enum: {}", names.join(", "));
    }
    match schema["type"].as_str() {
        Some("array") => format!("[]{}", type_of(&schema["items"])),
        Some(t) => t.to_string(),
        None if schema["x-kubernetes-preserve-unknown-fields"] == true => "any".into(),
        None => "object".into(),
    }
}

/// Every rule on a field: its own bounds and CEL messages, and the parent's rules aimed at it.
fn rules_of(schema: &Value, inherited: &[String]) -> String {
    let mut rules: Vec<String> = Vec::new();
    // Bounds may be serialized as floats (`65535.0`).
    let bound = |k: &str| schema[k].as_f64().map(|f| f as i64);
    match (bound("minLength"), bound("maxLength")) {
        (Some(a), Some(b)) => rules.push(format!("length {a}–{b}")),
        (None, Some(b)) => rules.push(format!("at most {b} characters")),
        _ => {}
    }
    match (bound("minimum"), bound("maximum")) {
        (Some(a), Some(b)) => rules.push(format!("{a}–{b}")),
        (Some(a), None) => rules.push(format!("at least {a}")),
        _ => {}
    }
    match (bound("minItems"), bound("maxItems")) {
        (Some(a), Some(b)) => rules.push(format!("{a}–{b} items")),
        (None, Some(b)) => rules.push(format!("at most {b} items")),
        _ => {}
    }
    for r in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if r["fieldPath"].is_null() {
            rules.push(r["message"].as_str().unwrap_or_default().to_string());
        }
    }
    rules.extend(inherited.iter().cloned());
    md(&rules.join("; "))
}

fn reference_rows(schema: &Value, prefix: &str, out: &mut Vec<String>) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, field) in props {
        let path = format!("{prefix}{name}");
        // Rules the parent states about this field (e.g. "required when ...").
        let aimed: Vec<String> = schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["fieldPath"].as_str() == Some(&format!(".{name}")))
            .filter_map(|r| r["message"].as_str().map(str::to_string))
            .collect();
        let default = match &field["default"] {
            Value::Null => String::new(),
            v => format!(
                "`{}`",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ),
        };
        out.push(format!(
            "| `{path}` | {} | {} | {default} | {} | {} |",
            type_of(field),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            md(field["description"].as_str().unwrap_or_default()),
            rules_of(field, &aimed),
        ));
        // Standard Kubernetes conditions are documented upstream.
        if name == "conditions" {
            continue;
        }
        if field["type"] == "array" {
            reference_rows(&field["items"], &format!("{path}[]."), out);
        } else {
            reference_rows(field, &format!("{path}."), out);
        }
    }
}

/// The reference page, from the CRD the code generates.
fn reference() -> String {
    let crd = serde_json::to_value(uc_operator::api::crd()).unwrap();
    let version = &crd["spec"]["versions"][0];
    let schema = &version["schema"]["openAPIV3Schema"];
    let header =
        "| Field | Type | Required | Default | Description | Rules |\n|---|---|---|---|---|---|";
    let mut text = format!(
        "# Configuration reference\n\n<!-- Generated from the CRD by `UPDATE_GOLDEN=1 cargo test --test integration chart::`; do not edit. -->\n\n\
         `{}/{}` `{}` (namespaced; short name `dbi`, category `uc-operator`).\n\n{}\n\n\
         Every rule below is enforced by the API server when the resource is applied.\n",
        crd["spec"]["group"].as_str().unwrap(),
        version["name"].as_str().unwrap(),
        crd["spec"]["names"]["kind"].as_str().unwrap(),
        md(schema["properties"]["spec"]["description"]
            .as_str()
            .unwrap_or_default()),
    );
    for section in ["spec", "status"] {
        let mut rows = Vec::new();
        reference_rows(
            &schema["properties"][section],
            &format!("{section}."),
            &mut rows,
        );
        let spec_rules = if section == "spec" {
            let rules = rules_of(&schema["properties"]["spec"], &[]);
            if rules.is_empty() {
                String::new()
            } else {
                format!("\nRules on the whole spec: {rules}.\n")
            }
        } else {
            "\nWritten by the operator only. `conditions` are standard `metav1.Condition`s (see [phases and conditions](phases-and-conditions.md)).\n".to_string()
        };
        text.push_str(&format!(
            "\n## {section}\n{spec_rules}\n{header}\n{}\n",
            rows.join("\n")
        ));
    }
    text
}

#[test]
fn configuration_reference_matches_the_crd() {
    let generated = reference();
    let path = repo().join(REFERENCE);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap_or_default() == generated,
        "{REFERENCE} is stale: run `UPDATE_GOLDEN=1 cargo test --test integration chart::`"
    );
}
