//! Reading the payload text (JSON or YAML) into a JSON value, refusing repeated keys.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::ImportError;

/// How to parse the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// JSON when the text starts with `{` or `[` (so malformed JSON gets a JSON error), YAML
    /// otherwise.
    #[default]
    Auto,
}

impl Format {
    /// By extension: `.json` → JSON, `.yaml`/`.yml` → YAML, anything else → by content.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            Some(e) if e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml") => {
                Format::Yaml
            }
            _ => Format::Auto,
        }
    }

    fn is_json(self, input: &str) -> bool {
        match self {
            Format::Json => true,
            Format::Yaml => false,
            Format::Auto => matches!(input.trim_start().chars().next(), Some('{' | '[')),
        }
    }
}

pub(super) fn parse(input: &str, format: Format) -> Result<Value, ImportError> {
    if format.is_json(input) {
        let mut de = serde_json::Deserializer::from_str(input);
        let parsed = StrictValue::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
        parsed.map(|v| v.0).map_err(|e| ImportError::Json {
            line: e.line(),
            column: e.column(),
            message: strip_location(&e.to_string()),
        })
    } else {
        StrictValue::deserialize(serde_yaml::Deserializer::from_str(input))
            .map(|v| v.0)
            .map_err(|e| match e.location() {
                Some(l) => ImportError::Yaml {
                    line: l.line(),
                    column: l.column(),
                    message: strip_location(&e.to_string()),
                },
                None => ImportError::YamlUnlocated(e.to_string()),
            })
    }
}

/// Both parsers append " at line L column C"; the error prints the location its own way.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// What a value is, for messages that must not echo it (it may be a credential).
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A JSON value that refuses duplicate keys, so a payload such as the documentation's (which
/// repeats `clientSecret`) is refused where the repetition is, not silently half-read.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|v| v.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn the_format_follows_the_extension_then_the_content() {
        assert_eq!(Format::from_path(Path::new("a.JSON")), Format::Json);
        assert_eq!(Format::from_path(Path::new("a.yml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("a.yaml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("payload")), Format::Auto);
        assert!(Format::Auto.is_json("  \n[1]"));
        assert!(Format::Auto.is_json("{"));
        assert!(!Format::Auto.is_json("type: Databricks"));
        assert!(Format::Json.is_json("type: x") && !Format::Yaml.is_json("{}"));
    }

    #[test]
    fn json_and_yaml_read_to_the_same_value() {
        let want = json!({"type": "Databricks", "config": {"port": 443, "ids": [1, 2.5, null]}});
        let from_json = parse(&want.to_string(), Format::Auto).unwrap();
        let yaml = "type: Databricks\nconfig:\n  port: 443\n  ids: [1, 2.5, ~]\n";
        assert_eq!(from_json, want);
        assert_eq!(parse(yaml, Format::Auto).unwrap(), want);
    }

    #[test]
    fn repeated_keys_are_refused_in_both_formats() {
        let json = parse("{\"a\": {\"k\": 1,\n \"k\": 2}}", Format::Json).unwrap_err();
        assert!(
            matches!(&json, ImportError::Json { line: 2, message, .. } if message == "duplicate key `k`"),
            "{json}"
        );
        let yaml = parse("a:\n  k: 1\n  k: 2\n", Format::Yaml).unwrap_err();
        assert!(yaml.to_string().contains("duplicate key `k`"), "{yaml}");
    }

    #[test]
    fn trailing_text_after_json_is_refused() {
        let err = parse("{} {}", Format::Json).unwrap_err();
        assert!(matches!(err, ImportError::Json { line: 1, .. }), "{err}");
    }

    #[test]
    fn the_location_suffix_is_stripped_once() {
        assert_eq!(
            strip_location("expected `,` at line 3 column 3"),
            "expected `,`"
        );
        assert_eq!(strip_location("no location"), "no location");
    }

    #[test]
    fn kinds_name_the_value_without_showing_it() {
        assert_eq!(kind(&json!("dapi-secret")), "a string");
        assert_eq!(kind(&json!([1])), "a list");
        assert_eq!(kind(&json!({})), "an object");
        assert_eq!(kind(&json!(null)), "null");
        assert_eq!(kind(&json!(1)), "a number");
        assert_eq!(kind(&json!(true)), "a boolean");
    }
}
