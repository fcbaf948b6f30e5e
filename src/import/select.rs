//! Picking the Databricks integration out of what was read: a single object (a request body or a
//! `GET /integrations/{id}` response) or the `GET /integrations` list.

use serde_json::Value;

use super::ImportError;
use super::error::invalid;
use super::parse::kind;

fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

fn is_databricks(t: &str) -> bool {
    t.eq_ignore_ascii_case("databricks")
}

/// The integration id of a response entry (the API returns it as a string; numbers are taken too).
pub(super) fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Picks the integration to convert: the object itself, or the Databricks entry of a list.
pub(super) fn select(value: Value, id: Option<&str>) -> Result<Value, ImportError> {
    match value {
        Value::Array(entries) => from_list(entries, id),
        Value::Object(_) => {
            if let Some(t) = type_of(&value).filter(|t| !is_databricks(t)) {
                return Err(ImportError::UnsupportedType(t.to_string()));
            }
            if let (Some(want), Some(have)) = (id, id_of(&value))
                && want != have
            {
                return Err(ImportError::IdNotFound(want.to_string()));
            }
            Ok(value)
        }
        other => Err(invalid(
            "payload",
            format!(
                "expected an integration object or a list of them, found {}",
                kind(&other)
            ),
        )),
    }
}

fn from_list(entries: Vec<Value>, id: Option<&str>) -> Result<Value, ImportError> {
    // An id that names another type is refused as that type, not as "not found".
    if let Some(want) = id
        && let Some(t) = entries
            .iter()
            .find(|e| id_of(e).as_deref() == Some(want))
            .and_then(type_of)
            .filter(|t| !is_databricks(t))
    {
        return Err(ImportError::UnsupportedType(t.to_string()));
    }
    let types: Vec<String> = entries
        .iter()
        .map(|e| type_of(e).unwrap_or("<no type>").to_string())
        .collect();
    let mut databricks: Vec<Value> = entries
        .into_iter()
        .filter(|e| type_of(e).is_some_and(is_databricks))
        .collect();
    if let Some(want) = id {
        return databricks
            .into_iter()
            .find(|e| id_of(e).as_deref() == Some(want))
            .ok_or_else(|| ImportError::IdNotFound(want.to_string()));
    }
    match databricks.len() {
        0 if types.is_empty() => Err(ImportError::NoDatabricks("an empty list".into())),
        0 => Err(ImportError::NoDatabricks(types.join(", "))),
        1 => Ok(databricks.remove(0)),
        _ => Err(ImportError::Ambiguous(
            databricks.iter().map(describe).collect(),
        )),
    }
}

/// `id 7 on w.cloud.databricks.com`, to tell entries apart in the `--id` message.
fn describe(entry: &Value) -> String {
    let host = entry
        .pointer("/config/workspaceUrl")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!(
        "id {} on {host}",
        id_of(entry).unwrap_or_else(|| "?".into())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db(id: &str, host: &str) -> Value {
        json!({"id": id, "type": "Databricks", "config": {"workspaceUrl": host}})
    }

    #[test]
    fn a_single_object_is_taken_unless_its_type_or_id_differ() {
        let one = db("7", "a");
        assert_eq!(select(one.clone(), None).unwrap(), one);
        assert_eq!(select(one.clone(), Some("7")).unwrap(), one);
        assert_eq!(
            select(one, Some("8")).unwrap_err(),
            ImportError::IdNotFound("8".into())
        );
        // The type is matched without regard to case; a bare config has none and is taken.
        assert!(select(json!({"type": "DATABRICKS"}), None).is_ok());
        assert!(select(json!({"workspaceUrl": "w"}), None).is_ok());
        assert_eq!(
            select(json!({"type": "Redshift"}), None).unwrap_err(),
            ImportError::UnsupportedType("Redshift".into())
        );
    }

    #[test]
    fn a_scalar_is_refused_naming_what_it_is() {
        let err = select(json!("text"), None).unwrap_err();
        assert!(err.to_string().contains("found a string"), "{err}");
    }

    #[test]
    fn a_list_yields_its_one_databricks_entry() {
        let snow = json!({"id": 1, "type": "Snowflake"});
        let list = json!([snow, db("2", "a")]);
        assert_eq!(select(list.clone(), None).unwrap(), db("2", "a"));
        assert_eq!(
            select(list, Some("1")).unwrap_err(),
            ImportError::UnsupportedType("Snowflake".into())
        );
        assert_eq!(
            select(json!([{"id": 1, "type": "Snowflake"}, {}]), None).unwrap_err(),
            ImportError::NoDatabricks("Snowflake, <no type>".into())
        );
        assert_eq!(
            select(json!([]), None).unwrap_err(),
            ImportError::NoDatabricks("an empty list".into())
        );
    }

    #[test]
    fn several_databricks_entries_need_an_id() {
        let list = json!([db("2", "a"), db("3", "b"), {"type": "Databricks"}]);
        assert_eq!(
            select(list.clone(), None).unwrap_err(),
            ImportError::Ambiguous(vec![
                "id 2 on a".into(),
                "id 3 on b".into(),
                "id ? on ?".into()
            ])
        );
        assert_eq!(select(list.clone(), Some("3")).unwrap(), db("3", "b"));
        assert_eq!(
            select(list, Some("9")).unwrap_err(),
            ImportError::IdNotFound("9".into())
        );
    }

    #[test]
    fn numeric_ids_match_their_string() {
        assert_eq!(id_of(&json!({"id": 12})).as_deref(), Some("12"));
        assert_eq!(id_of(&json!({"id": true})), None);
        assert!(select(json!([{"id": 12, "type": "Databricks"}]), Some("12")).is_ok());
    }
}
