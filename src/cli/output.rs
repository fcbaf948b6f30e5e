//! What `validate` prints: a table (one line per test) or JSON (the tests and what was
//! discovered), in the CRD status's own vocabulary so a CI log reads like `kubectl get -o yaml`.

use serde::Serialize;

use crate::api::{ConnectionStatus, TestStatus, ValidationTest, WorkspaceStatus};
use crate::checks::Findings;
use crate::checks::results as status;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// The result of one `validate` run.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `passed`, `warning` or `failed`: the worst test.
    pub status: TestStatus,
    pub validation_tests: Vec<ValidationTest>,
    /// The main workspace, as `status.workspace` would show it.
    pub workspace: WorkspaceStatus,
    /// One entry per connection, the main one first, as `status.connections`.
    pub connections: Vec<ConnectionStatus>,
}

impl Report {
    pub fn new(findings: &Findings) -> Self {
        let tests = status::validation_tests(findings);
        let main = findings.main();
        Report {
            status: status::overall(&tests),
            connections: status::connections(findings, &tests),
            workspace: WorkspaceStatus {
                workspace_id: main.workspace_id,
                metastore_id: main.metastore_id,
                principal: main.principal,
            },
            validation_tests: tests,
        }
    }

    /// Warnings and skips pass; only a failed test fails the run.
    pub fn passed(&self) -> bool {
        self.status != TestStatus::Failed
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => table(&self.validation_tests),
            Format::Json => {
                let mut text = serde_json::to_string_pretty(self).expect("a report serializes");
                text.push('\n');
                text
            }
        }
    }
}

fn status_word(s: TestStatus) -> &'static str {
    match s {
        TestStatus::Passed => "passed",
        TestStatus::Failed => "failed",
        TestStatus::Warning => "warning",
        TestStatus::Skipped => "skipped",
    }
}

/// `NAME  STATUS  MESSAGE`, columns aligned like `kubectl get`; a message stays on its line.
fn table(tests: &[ValidationTest]) -> String {
    let width = tests.iter().map(|t| t.name.len()).max().unwrap_or(0).max(4);
    let mut out = format!("{:<width$}  {:<7}  MESSAGE\n", "NAME", "STATUS");
    for t in tests {
        let message = t
            .message
            .as_deref()
            .unwrap_or("")
            .replace(['\r', '\n'], " ");
        let line = format!(
            "{:<width$}  {:<7}  {message}",
            t.name,
            status_word(t.status)
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Workspace;
    use crate::failure::{Failure, Reason};

    fn findings() -> Findings {
        let mut f = Findings::default();
        f.workspaces.push(Workspace {
            host: "adb-1.azuredatabricks.net".into(),
            workspace_id: Some(1001),
            metastore_id: Some("m-1".into()),
            principal: Some("app-1".into()),
            ..Workspace::default()
        });
        f.passed("Metastore validation", None, None);
        f.skipped("Basic Connection Test", "warehouse wh1 is STOPPED");
        f.failed(
            "Catalog validation",
            Failure::user(Reason::CatalogExists, "owned by\nsomeone"),
        );
        f
    }

    #[test]
    fn the_table_has_one_aligned_line_per_test() {
        let report = Report::new(&findings());
        assert!(!report.passed());
        let text = report.render(Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "NAME                   STATUS   MESSAGE");
        assert_eq!(lines[1], "Metastore validation   passed");
        assert_eq!(
            lines[2],
            "Basic Connection Test  skipped  warehouse wh1 is STOPPED"
        );
        assert_eq!(lines[3], "Catalog validation     failed   owned by someone");
    }

    #[test]
    fn json_has_the_tests_and_the_workspace() {
        let mut f = findings();
        f.tests.pop();
        let report = Report::new(&f);
        assert!(report.passed(), "a skipped test passes");
        let v: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
        assert_eq!(v["status"], "passed");
        assert_eq!(v["validationTests"][1]["status"], "skipped");
        assert_eq!(v["workspace"]["workspaceId"], 1001);
        assert_eq!(v["workspace"]["principal"], "app-1");
        assert_eq!(
            v["connections"][0]["workspaceUrl"],
            "adb-1.azuredatabricks.net"
        );
    }
}
