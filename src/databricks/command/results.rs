//! What a finished 1.2 command answered: its rows, counted while decoded, or its error with
//! the SQLSTATE and the cause the transient checks look for, its HTML removed.

use serde::Deserialize;
use serde_json::Value;

use super::super::bounded::Bounded;
use super::super::error::Error;
use super::super::sql::{MAX_COLUMNS, QueryResult, Rows};

#[derive(Deserialize)]
pub(super) struct CommandStatus {
    pub(super) status: String,
    results: Option<CommandResults>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandResults {
    result_type: Option<String>,
    /// Rows of cells, counted while decoded (a hostile answer of millions of rows is refused,
    /// never built).
    #[serde(default)]
    data: Option<Data>,
    schema: Option<Bounded<SchemaField, MAX_COLUMNS>>,
    summary: Option<String>,
    cause: Option<String>,
}

#[derive(Deserialize)]
struct SchemaField {
    name: String,
}

/// `results.data`: rows of cells (a `text` command answers a scalar instead).
enum Data {
    Rows(Rows<Cell>),
    Other(Value),
}

/// One cell: a scalar. A list or object where a value belongs is refused, not built.
struct Cell(Value);

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(DataVisitor { rows: false })? {
            Data::Other(v) => Ok(Cell(v)),
            Data::Rows(_) => unreachable!("a cell visitor never reads rows"),
        }
    }
}

/// Reads rows (when `rows`) or a scalar; a list where a scalar belongs is refused at once.
struct DataVisitor {
    rows: bool,
}

impl<'de> Deserialize<'de> for Data {
    // By hand, not `untagged`: serde buffers an untagged value whole before trying variants,
    // which is what the row count is there to prevent.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor { rows: true })
    }
}

impl<'de> serde::de::Visitor<'de> for DataVisitor {
    type Value = Data;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(if self.rows {
            "rows of cells, or a scalar"
        } else {
            "a scalar cell"
        })
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Data, A::Error> {
        if !self.rows {
            return Err(serde::de::Error::custom("a cell holding a list"));
        }
        let rows = Rows::<Cell>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Data::Rows(rows))
    }
    fn visit_unit<E>(self) -> Result<Data, E> {
        Ok(Data::Other(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Data, E> {
        Ok(Data::Other(Value::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Data, E> {
        Ok(Data::Other(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Data, E> {
        Ok(Data::Other(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Data, E> {
        Ok(Data::Other(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Data, E> {
        Ok(Data::Other(Value::from(v)))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Data, E> {
        Ok(Data::Other(Value::String(super::super::truncate(v, 1000))))
    }
}

/// The `SQLSTATE: 42501` that Databricks error texts carry, for the command API which has no
/// field for it.
fn sql_state_in(text: &str) -> Option<String> {
    let idx = text.find("SQLSTATE: ")? + "SQLSTATE: ".len();
    let state: String = text[idx..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (state.len() == 5).then_some(state)
}

/// A 1.2 error `summary` without its HTML: tags removed, entities decoded, as databricks-sdk-go
/// does (`service/compute/ext_results.go` `Results.Error`: `<[^>]*>` removed, then
/// `html.UnescapeString`), so no markup reaches a status message.
fn plain_text(summary: &str) -> String {
    let mut text = String::with_capacity(summary.len());
    let mut rest = summary;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        match rest[open..].find('>') {
            Some(close) => rest = &rest[open + close + 1..],
            None => {
                // Not a tag: a lone `<` stays.
                text.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    text.push_str(rest);
    unescape(&text)
}

/// HTML character references: the named ones a summary carries, and numeric ones.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let decoded = tail.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &tail[1..end];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The rows of a finished command, or its error as [`Error::Sql`].
pub(super) fn command_result(status: CommandStatus) -> Result<QueryResult, Error> {
    let results = status.results;
    let result_type = results
        .as_ref()
        .and_then(|r| r.result_type.clone())
        .unwrap_or_default();
    if status.status != "Finished" || result_type == "error" {
        let (summary, cause) = results.map(|r| (r.summary, r.cause)).unwrap_or_default();
        let summary = summary.map(|s| plain_text(&s));
        // A server's text: cut before it reaches a status, event or log line.
        let message = summary
            .or(cause.clone())
            .map(|m| super::super::truncate(&m, 1000))
            .unwrap_or_else(|| {
                format!(
                    "the command ended {}",
                    super::super::truncate(&status.status, 100)
                )
            });
        let sql_state = sql_state_in(&message).or_else(|| cause.as_deref().and_then(sql_state_in));
        // The cause carries the exception name the transient checks look for.
        let message = match cause {
            Some(cause) if !message.contains(&cause) => {
                format!("{message} ({})", super::super::truncate(&cause, 500))
            }
            _ => message,
        };
        return Err(Error::Sql {
            sql_state,
            error_code: Some(super::super::truncate(&status.status, 100)),
            message,
        });
    }
    let Some(results) = results else {
        return Ok(QueryResult::default());
    };
    let columns = results
        .schema
        .unwrap_or_default()
        .0
        .into_iter()
        .map(|f| f.name)
        .collect();
    let rows = match results.data {
        Some(Data::Rows(rows)) => rows
            .0
            .into_iter()
            .map(|row| row.0.into_iter().map(|c| c.0).collect())
            .collect(),
        Some(Data::Other(Value::Null)) | None => Vec::new(),
        Some(Data::Other(other)) => vec![vec![other]],
    };

    Ok(QueryResult { columns, rows })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sql_state_from_text() {
        assert_eq!(
            sql_state_in("[TABLE_OR_VIEW_NOT_FOUND] x. SQLSTATE: 42P01"),
            Some("42P01".into())
        );
        assert_eq!(sql_state_in("no state"), None);
    }

    /// databricks-sdk-go `service/compute/ext_results_test.go`: "<b>NotFoundException: Things
    /// are going wrong…</b>" loses its tags.
    #[test]
    fn summaries_lose_their_markup() {
        assert_eq!(
            plain_text("<b>NotFoundException: Things are going wrong</b>"),
            "NotFoundException: Things are going wrong"
        );
        assert_eq!(
            plain_text(
                "<div class=\"ansiout\"><span class=\"ansi-red-fg\">AnalysisException</span>: [X] 'a' &lt; b &amp; c&#39;s &#x41;</div>"
            ),
            "AnalysisException: [X] 'a' < b & c's A"
        );
        assert_eq!(plain_text("a < b &unknown; & c"), "a < b &unknown; & c");
        let status: CommandStatus = serde_json::from_value(json!({
            "status": "Error",
            "results": {"resultType": "error", "summary": "<span>AnalysisException</span>: [PARSE_SYNTAX_ERROR] no. SQLSTATE: 42601", "cause": "x"}
        }))
        .unwrap();
        let err = command_result(status).unwrap_err().to_string();
        assert!(
            !err.contains('<') && err.contains("AnalysisException: [PARSE_SYNTAX_ERROR]"),
            "{err}"
        );
    }

    #[test]
    fn errors_keep_their_cause() {
        let status: CommandStatus = serde_json::from_value(json!({
            "status": "Finished",
            "results": {"resultType": "error", "summary": "failed", "cause": "ClusterNotReadyException: x"}
        }))
        .unwrap();
        let err = command_result(status).unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }

    #[test]
    fn rows_are_counted_while_decoded_and_cells_are_scalars() {
        let status = |data: &str| {
            serde_json::from_str::<CommandStatus>(&format!(
                r#"{{"status": "Finished", "results": {{"resultType": "table", "data": {data}, "schema": [{{"name": "1"}}]}}}}"#
            ))
        };
        let ok = command_result(status("[[1]]").unwrap()).unwrap();
        assert_eq!(ok.rows, vec![vec![json!(1)]]);
        let text = command_result(status(r#""hello""#).unwrap()).unwrap();
        assert_eq!(text.rows, vec![vec![json!("hello")]]);
        let many = format!("[{}[]]", "[],".repeat(crate::databricks::sql::MAX_ROWS));
        let err = status(&many).err().expect("more rows than asked for");
        assert!(err.to_string().contains("more than 100 items"), "{err}");
        let nested = status("[[[1, 2]]]").err().expect("a list in a cell");
        assert!(
            nested.to_string().contains("a cell holding a list"),
            "{nested}"
        );
        assert!(status(r#"{"a": 1}"#).is_err());
    }
}
