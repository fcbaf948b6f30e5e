//! Typed reads of a payload object's fields, with the field's path in every error and a record of
//! which fields were read (the rest are reported as not mapped).

use std::cell::RefCell;

use serde_json::{Map, Value};

use super::ImportError;
use super::error::invalid;
use super::parse::kind;
use crate::secret::SecretString;

/// A credential from the payload.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Credential {
    /// A real value: goes into the Secret as it is.
    Value(SecretString),
    /// A documentation or redaction placeholder (`REDACTED`, `<SECRET>`): the user must fill it.
    Placeholder,
    /// Left out of the payload (an update that keeps the stored credential).
    Missing,
}

/// Values that stand for a credential (or a client id, a thumbprint) rather than being one.
pub(super) fn is_placeholder(s: &str) -> bool {
    let t = s.trim();
    t.is_empty()
        || t.eq_ignore_ascii_case("redacted")
        || (t.starts_with('<') && t.ends_with('>'))
        || t.chars().all(|c| c == '*')
}

/// A JSON object being read, with the path used in messages (`config.audit`).
pub(super) struct Obj<'a> {
    pub(super) path: String,
    pub(super) map: &'a Map<String, Value>,
    used: RefCell<Vec<&'static str>>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(path: impl Into<String>, v: &'a Value) -> Result<Self, ImportError> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Obj {
                path,
                map,
                used: RefCell::default(),
            }),
            other => Err(invalid(
                path,
                format!("expected an object, found {}", kind(other)),
            )),
        }
    }

    /// The path of one of this object's fields.
    pub(super) fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The field, unless absent or null; either way it counts as read.
    pub(super) fn get(&self, key: &'static str) -> Option<&'a Value> {
        self.used.borrow_mut().push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn string(&self, key: &'static str) -> Result<Option<String>, ImportError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.expected(key, "a string", other)),
        }
    }

    pub(super) fn required(&self, key: &'static str) -> Result<String, ImportError> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(invalid(self.at(key), "is required")),
        }
    }

    /// A boolean, also spelled as the string `"true"` or `"false"`.
    pub(super) fn bool(&self, key: &'static str) -> Result<Option<bool>, ImportError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
            Some(other) => Err(self.expected(key, "a boolean", other)),
        }
    }

    pub(super) fn int(&self, key: &'static str) -> Result<Option<i64>, ImportError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_int(v)
                .map(Some)
                .ok_or_else(|| invalid(self.at(key), format!("expected an integer, found {v}"))),
        }
    }

    pub(super) fn list(&self, key: &'static str) -> Result<Option<&'a Vec<Value>>, ImportError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.expected(key, "a list", other)),
        }
    }

    /// Each item of the list at `key` through `read`; an item it refuses is named as `what`.
    pub(super) fn each<T>(
        &self,
        key: &str,
        items: &[Value],
        what: &str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Vec<T>, ImportError> {
        items
            .iter()
            .map(|i| read(i).ok_or_else(|| invalid(self.at(key), format!("not {what}: {i}"))))
            .collect()
    }

    pub(super) fn credential(&self, key: &'static str) -> Result<Credential, ImportError> {
        Ok(match self.string(key)? {
            None => Credential::Missing,
            Some(s) if is_placeholder(&s) => Credential::Placeholder,
            Some(s) => Credential::Value(SecretString::new(s)),
        })
    }

    /// Fields of the payload this importer has not read, for a note.
    pub(super) fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.map
            .keys()
            .filter(|k| !used.contains(&k.as_str()))
            .map(|k| self.at(k))
            .collect()
    }

    fn expected(&self, key: &str, what: &str, found: &Value) -> ImportError {
        invalid(
            self.at(key),
            format!("expected {what}, found {}", kind(found)),
        )
    }
}

/// An integer, also spelled as a string (`"443"`).
pub(super) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(e: ImportError) -> String {
        e.to_string()
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            "",
            "  ",
            "REDACTED",
            "redacted",
            "<SECRET>",
            "<CLIENT ID>",
            "****",
        ] {
            assert!(is_placeholder(p), "{p:?}");
        }
        for v in ["dapi123", "secret", "<half", "a*"] {
            assert!(!is_placeholder(v), "{v:?}");
        }
    }

    #[test]
    fn typed_reads_name_the_field_and_the_kind_found() {
        let v = json!({"s": "x", "n": 5, "b": "true", "l": [1], "nil": null, "blank": " "});
        let o = Obj::new("config", &v).unwrap();
        assert_eq!(o.string("s").unwrap().as_deref(), Some("x"));
        assert_eq!(o.string("nil").unwrap(), None);
        assert_eq!(
            message(o.string("n").unwrap_err()),
            "config.n: expected a string, found a number"
        );
        assert_eq!(o.bool("b").unwrap(), Some(true));
        assert_eq!(
            message(o.bool("s").unwrap_err()),
            "config.s: expected a boolean, found a string"
        );
        assert_eq!(o.int("n").unwrap(), Some(5));
        assert_eq!(
            message(o.int("l").unwrap_err()),
            "config.l: expected an integer, found [1]"
        );
        assert_eq!(o.list("l").unwrap().map(Vec::len), Some(1));
        assert_eq!(
            message(o.list("s").unwrap_err()),
            "config.s: expected a list, found a string"
        );
        assert_eq!(
            message(o.required("blank").unwrap_err()),
            "config.blank: is required"
        );
        assert_eq!(
            message(o.required("absent").unwrap_err()),
            "config.absent: is required"
        );
        assert_eq!(
            message(Obj::new("config", &json!([1])).err().unwrap()),
            "config: expected an object, found a list"
        );
    }

    #[test]
    fn credentials_are_values_placeholders_or_missing() {
        let v = json!({"t": "dapi-x", "p": "<SECRET>"});
        let o = Obj::new("c", &v).unwrap();
        assert_eq!(
            o.credential("t").unwrap(),
            Credential::Value(SecretString::new("dapi-x"))
        );
        assert_eq!(o.credential("p").unwrap(), Credential::Placeholder);
        assert_eq!(o.credential("gone").unwrap(), Credential::Missing);
    }

    #[test]
    fn list_items_are_read_or_named() {
        let v = json!({"ids": [1, "2", "x"]});
        let o = Obj::new("audit", &v).unwrap();
        let items = o.list("ids").unwrap().unwrap();
        assert_eq!(
            message(o.each("ids", items, "a workspace id", as_int).unwrap_err()),
            "audit.ids: not a workspace id: \"x\""
        );
        assert_eq!(o.each("ids", &items[..2], "an id", as_int).unwrap(), [1, 2]);
    }

    #[test]
    fn fields_not_read_are_reported_with_their_path() {
        let v = json!({"a": 1, "b": 2, "c": null});
        let o = Obj::new("config", &v).unwrap();
        o.get("a");
        o.get("c");
        assert_eq!(o.unused(), ["config.b"]);
    }
}
