//! The CRD's view of the checks' findings: the test results with bounded messages and results,
//! one entry per connection, and the overall status. The controller's status and the
//! `validate` command's output both render findings through here.

use super::{Findings, Outcome};
use crate::api::{ConnectionStatus, TestStatus, ValidationTest};
use crate::databricks::truncate;

/// At most this much JSON of a test's `result` goes into the status (the rest is dropped), and
/// at most [`RESULT_BUDGET`] for all of them.
const MAX_RESULT_BYTES: usize = 4 * 1024;
const RESULT_BUDGET: usize = 64 * 1024;
/// At most this much of a test's message; with many tests, their messages share
/// [`MESSAGE_BUDGET`] (never less than [`MIN_TEST_MESSAGE`] each). Every test keeps its name and
/// status: the status stays far below the API server's 1.5 MiB object limit at the largest spec
/// (50 connections of 50 catalogs each).
const MAX_TEST_MESSAGE: usize = 2 * 1024;
const MIN_TEST_MESSAGE: usize = 160;
const MESSAGE_BUDGET: usize = 256 * 1024;

/// The CRD's view of the checks' findings.
pub fn validation_tests(findings: &Findings) -> Vec<ValidationTest> {
    let share =
        (MESSAGE_BUDGET / findings.tests.len().max(1)).clamp(MIN_TEST_MESSAGE, MAX_TEST_MESSAGE);
    let mut result_bytes = 0usize;
    findings
        .tests
        .iter()
        .map(|t| {
            let (status, result) = match &t.outcome {
                Outcome::Passed { result, .. } => (TestStatus::Passed, result.clone()),
                Outcome::Warning(_) => (TestStatus::Warning, None),
                Outcome::Skipped(_) => (TestStatus::Skipped, None),
                Outcome::Failed(_) => (TestStatus::Failed, None),
            };
            let result = result.filter(|r| {
                let len = r.to_string().len();
                let fits = len <= MAX_RESULT_BYTES && result_bytes + len <= RESULT_BUDGET;
                if fits {
                    result_bytes += len;
                }
                fits
            });
            ValidationTest {
                name: t.name.clone(),
                status,
                message: t.message().map(|m| truncate(m, share)),
                result,
            }
        })
        .collect()
}

/// One entry per connection, the main one first: what was discovered and how its tests went.
/// An additional connection's tests are its connection test and its catalogs' access tests;
/// the main connection's are all the others.
pub fn connections(findings: &Findings, tests: &[ValidationTest]) -> Vec<ConnectionStatus> {
    let extra = findings.workspaces.iter().skip(1);
    let additional: Vec<String> = extra.flat_map(|w| w.own_tests()).collect();
    findings
        .workspaces
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let owned: Vec<ValidationTest> = if i == 0 {
                let main = tests.iter().filter(|t| !additional.contains(&t.name));
                main.cloned().collect()
            } else {
                let names = w.own_tests();
                let own = tests.iter().filter(|t| names.contains(&t.name));
                own.cloned().collect()
            };
            let failed = owned.iter().find(|t| t.status == TestStatus::Failed);
            ConnectionStatus {
                workspace_url: w.host.clone(),
                workspace_id: w.workspace_id,
                metastore_id: w.metastore_id.clone(),
                principal: w.principal.clone(),
                credential_expires_at: w
                    .credential_expires_at
                    .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time),
                status: (!owned.is_empty()).then(|| overall(&owned)),
                message: failed.map(|t| {
                    let m = t.message.as_deref().unwrap_or("failed");
                    truncate(&format!("{}: {m}", t.name), MAX_TEST_MESSAGE)
                }),
            }
        })
        .collect()
}

/// `failed` if any test failed, else `warning` if any warned, else `passed`.
pub fn overall(tests: &[ValidationTest]) -> TestStatus {
    if tests.iter().any(|t| t.status == TestStatus::Failed) {
        TestStatus::Failed
    } else if tests.iter().any(|t| t.status == TestStatus::Warning) {
        TestStatus::Warning
    } else {
        TestStatus::Passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Reason;

    #[test]
    fn findings_become_bounded_tests_and_per_connection_entries() {
        use crate::checks::Workspace;
        let mut f = Findings {
            workspaces: vec![
                Workspace {
                    host: "main".into(),
                    workspace_id: Some(1),
                    ..Default::default()
                },
                Workspace {
                    host: "other".into(),
                    workspace_id: None,
                    catalogs: vec!["far".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        f.passed(
            "Metastore validation",
            None,
            Some(serde_json::json!([{"1": 1}])),
        );
        f.passed("big", None, Some(serde_json::json!("x".repeat(10_000))));
        f.failed_user(
            &crate::checks::connection_test("other"),
            Reason::AuthenticationFailed,
            "bad token",
        );
        f.failed_user(
            &crate::checks::catalog_access_test("far"),
            Reason::AuthenticationFailed,
            "bad token",
        );
        let tests = validation_tests(&f);
        assert_eq!(tests[0].result, Some(serde_json::json!([{"1": 1}])));
        assert_eq!(tests[1].result, None, "an oversized result is dropped");
        assert_eq!(tests[2].status, TestStatus::Failed);
        let c = connections(&f, &tests);
        assert_eq!(c.len(), 2);
        // The other connection's catalog is its own: the main connection is not blamed.
        assert_eq!(c[0].status, Some(TestStatus::Passed));
        assert_eq!(c[1].status, Some(TestStatus::Failed));
        assert!(c[1].message.as_deref().unwrap().contains("bad token"));
    }

    #[test]
    fn thousands_of_long_messages_keep_every_test_and_stay_small() {
        let mut f = Findings::default();
        for i in 0..2600 {
            let name = crate::checks::catalog_access_test(&format!("catalog_{i}"));
            f.failed_user(&name, Reason::PermissionDenied, "x".repeat(5_000));
            f.passed(
                &format!("passed {i}"),
                None,
                Some(serde_json::json!("r".repeat(3_000))),
            );
        }
        let tests = validation_tests(&f);
        assert_eq!(tests.len(), 5200, "no test is dropped");
        assert!(tests.iter().all(|t| !t.name.is_empty()));
        let size = serde_json::to_string(&tests).unwrap().len();
        assert!(size < 1024 * 1024, "{size} bytes");
        // A few tests keep their whole message.
        let mut few = Findings::default();
        few.failed_user("one", Reason::PermissionDenied, "y".repeat(1_500));
        assert_eq!(
            validation_tests(&few)[0].message.as_ref().unwrap().len(),
            1_500
        );
    }

    #[test]
    fn overall_status_is_the_worst_test() {
        let t = |status| ValidationTest {
            name: "t".into(),
            status,
            message: None,
            result: None,
        };
        assert_eq!(
            overall(&[t(TestStatus::Passed), t(TestStatus::Skipped)]),
            TestStatus::Passed
        );
        assert_eq!(
            overall(&[t(TestStatus::Warning), t(TestStatus::Passed)]),
            TestStatus::Warning
        );
        assert_eq!(
            overall(&[t(TestStatus::Warning), t(TestStatus::Failed)]),
            TestStatus::Failed
        );
    }
}
