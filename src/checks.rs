//! The validation tests: domain logic between the spec and the Databricks client. They read
//! Databricks and report; they change nothing (the setup plan does that).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::api::{TestStatus, ValidationTest, WorkspaceStatus};
use crate::databricks::{self, Compute, WorkspaceClient};

pub const BASIC_CONNECTION_TEST: &str = "Basic Connection Test";
pub const METASTORE_VALIDATION: &str = "Metastore validation";
pub const CATALOG_VALIDATION: &str = "Catalog validation";
pub const AUDIT_VALIDATION: &str = "Query audit: system table access";

/// Whether a check may run SQL on stopped compute (which starts it, and costs money).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputePolicy {
    /// Creating or editing: the user just asked for work, so starting compute is expected.
    MayStart,
    /// Periodic re-validation: SQL only when the warehouse or cluster already runs.
    OnlyIfRunning,
}

/// What the checks need to know about the integration.
#[derive(Clone, Copy, Debug)]
pub struct Integration<'a> {
    /// `<namespace>/<name>`: the value of the ownership tag on the catalog.
    pub id: &'a str,
    pub catalog: &'a str,
    pub automatic: bool,
    pub audit: bool,
    /// Whether `account users` holding privileges on the catalog is a failure (it is, except
    /// before automatic setup, which revokes them).
    pub check_lockdown: bool,
}

/// What the catalog looks like from the service principal's seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogState {
    /// Not there (automatic setup will create it).
    Missing,
    /// Owned by the principal and tagged as this integration's.
    Ours,
    /// Owned by the principal but not tagged yet (setup was interrupted, or manual setup not
    /// finished).
    OursUntagged,
    /// Tagged as this integration's, but ownership or grants drifted.
    Drifted(String),
    /// Exists and belongs to someone else.
    Foreign { owner: String },
    /// Tagged by another integration: never taken over.
    OtherIntegration { id: String },
    /// Could not be determined (an earlier check failed).
    Unknown,
}

/// Why validation failed, for the conditions' reason and whether a retry can help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: &'static str,
    pub message: String,
    /// A retry may succeed without anyone changing anything (rate limits, outages).
    pub transient: bool,
}

#[derive(Debug)]
pub struct Findings {
    pub tests: Vec<ValidationTest>,
    pub workspace: WorkspaceStatus,
    pub catalog: CatalogState,
    /// Why each failed test failed: (reason, transient), by test name.
    reasons: std::collections::HashMap<String, (&'static str, bool)>,
    /// Whether the main connection's compute was (or was allowed to be) used for SQL.
    pub compute_available: bool,
}

impl Findings {
    /// The first failed test's failure, in the order the tests ran.
    pub fn failure(&self) -> Option<Failure> {
        let test = self.tests.iter().find(|t| t.status == TestStatus::Failed)?;
        let (reason, transient) = self
            .reasons
            .get(&test.name)
            .copied()
            .unwrap_or(("ValidationFailed", false));
        Some(Failure {
            reason,
            message: format!(
                "{}: {}",
                test.name,
                test.message.as_deref().unwrap_or("failed")
            ),
            transient,
        })
    }

    /// Whether the only failing test is the catalog test (drift that setup can repair).
    pub fn only_catalog_failed(&self) -> bool {
        self.tests
            .iter()
            .filter(|t| t.status == TestStatus::Failed)
            .all(|t| t.name == CATALOG_VALIDATION)
    }

    fn pass(&mut self, name: &str, message: Option<String>, result: Option<Value>) {
        self.push(name, TestStatus::Passed, message, result);
    }

    fn skip(&mut self, name: &str, message: String) {
        self.push(name, TestStatus::Skipped, Some(message), None);
    }

    fn warn(&mut self, name: &str, message: String) {
        self.push(name, TestStatus::Warning, Some(message), None);
    }

    fn fail(&mut self, name: &str, reason: &'static str, message: String, transient: bool) {
        self.reasons.insert(name.to_string(), (reason, transient));
        self.push(name, TestStatus::Failed, Some(message), None);
    }

    fn fail_with(&mut self, name: &str, context: &str, e: &databricks::Error) {
        self.fail(
            name,
            reason_of(e),
            format!("{context}: {e}"),
            e.is_retryable(),
        );
    }

    fn push(
        &mut self,
        name: &str,
        status: TestStatus,
        message: Option<String>,
        result: Option<Value>,
    ) {
        // A re-run test replaces its earlier result (post-setup verification).
        self.tests.retain(|t| t.name != name);
        self.tests.push(ValidationTest {
            name: name.to_string(),
            status,
            message,
            result,
        });
    }
}

/// The reason users see for a Databricks error.
pub fn reason_of(e: &databricks::Error) -> &'static str {
    use databricks::Error as E;
    match e {
        E::Unauthenticated { .. } | E::OAuth { .. } => "AuthenticationFailed",
        E::PermissionDenied { .. } => "PermissionDenied",
        E::Sql {
            sql_state: Some(s), ..
        } if s == "42501" => "InsufficientPrivileges",
        e if e.is_retryable() => "WorkspaceUnavailable",
        _ => "ValidationFailed",
    }
}

fn is_auth(e: &databricks::Error) -> bool {
    matches!(
        e,
        databricks::Error::Unauthenticated { .. } | databricks::Error::OAuth { .. }
    )
}

fn compute_name(c: &Compute) -> String {
    match c {
        Compute::Warehouse { id } => format!("SQL warehouse {id}"),
        Compute::Cluster { cluster_id, .. } => format!("cluster {cluster_id}"),
    }
}

/// Runs every validation test against the main workspace and the additional connections.
pub async fn run(
    main: &WorkspaceClient,
    additional: &[(WorkspaceClient, Vec<String>)],
    it: &Integration<'_>,
    policy: ComputePolicy,
) -> Findings {
    let mut f = Findings {
        tests: Vec::new(),
        workspace: WorkspaceStatus::default(),
        catalog: CatalogState::Unknown,
        reasons: Default::default(),
        compute_available: false,
    };
    let host = main.host();

    // Metastore first: it needs no compute and proves the credentials work.
    match main.current_metastore_assignment().await {
        Ok(Some(a)) => {
            f.workspace.workspace_id = Some(a.workspace_id);
            f.workspace.metastore_id = Some(a.metastore_id.clone());
            f.pass(
                METASTORE_VALIDATION,
                Some(format!("metastore {} is assigned to workspace {}", a.metastore_id, a.workspace_id)),
                None,
            );
        }
        Ok(None) => f.fail(
            METASTORE_VALIDATION,
            "MetastoreNotAssigned",
            format!(
                "Error trying to get the current metastore info. No Unity Catalog metastore is assigned to workspace {host}: assign one in the account console"
            ),
            false,
        ),
        Err(e) if is_auth(&e) => {
            f.fail_with(METASTORE_VALIDATION, &format!("authentication to {host} failed"), &e);
            for name in [BASIC_CONNECTION_TEST, CATALOG_VALIDATION] {
                f.skip(name, "skipped: authentication failed".into());
            }
            return f;
        }
        Err(e) => f.fail_with(
            METASTORE_VALIDATION,
            "Error trying to get the current metastore info",
            &e,
        ),
    }

    basic_connection(main, policy, &mut f).await;
    let principal = match main.me().await {
        Ok(me) => {
            f.workspace.principal = Some(me.user_name.clone());
            Some(me.user_name)
        }
        Err(e) => {
            f.fail_with(
                CATALOG_VALIDATION,
                "could not look up the service principal (SCIM Me)",
                &e,
            );
            None
        }
    };
    if let (Some(principal), Some(metastore)) = (principal, f.workspace.metastore_id.clone()) {
        catalog(main, it, &principal, &metastore, &mut f).await;
    }
    audit(main, it, &mut f).await;
    connections(main, additional, &mut f).await;
    f
}

async fn basic_connection(main: &WorkspaceClient, policy: ComputePolicy, f: &mut Findings) {
    if policy == ComputePolicy::OnlyIfRunning {
        match main.compute_state().await {
            Ok(state) if state.is_running() => {}
            Ok(state) => {
                f.skip(
                    BASIC_CONNECTION_TEST,
                    format!(
                        "{} is {}: periodic re-validation does not start it",
                        compute_name(&state.compute),
                        state.state
                    ),
                );
                return;
            }
            Err(e) => {
                f.fail_with(
                    BASIC_CONNECTION_TEST,
                    "could not read the compute state",
                    &e,
                );
                return;
            }
        }
    }
    f.compute_available = true;
    match main.execute("SELECT 1").await {
        Ok(result) => {
            let rows: Vec<Value> = result.to_objects().into_iter().map(Value::Object).collect();
            f.pass(BASIC_CONNECTION_TEST, None, Some(Value::Array(rows)));
        }
        Err(e) => f.fail_with(BASIC_CONNECTION_TEST, "SELECT 1 failed", &e),
    }
}

/// Re-runs the catalog test after setup, with the lockdown check, replacing the earlier result.
pub async fn verify_catalog(main: &WorkspaceClient, it: &Integration<'_>, f: &mut Findings) {
    let (Some(principal), Some(metastore)) = (
        f.workspace.principal.clone(),
        f.workspace.metastore_id.clone(),
    ) else {
        return;
    };
    let it = Integration {
        check_lockdown: true,
        ..*it
    };
    catalog(main, &it, &principal, &metastore, f).await;
}

async fn catalog(
    main: &WorkspaceClient,
    it: &Integration<'_>,
    principal: &str,
    metastore: &str,
    f: &mut Findings,
) {
    let name = it.catalog;
    let info = match main.get_catalog(name).await {
        Ok(info) => info,
        Err(e) => {
            f.fail_with(
                CATALOG_VALIDATION,
                &format!("could not read catalog {name}"),
                &e,
            );
            return;
        }
    };
    let Some(info) = info else {
        f.catalog = CatalogState::Missing;
        if it.automatic {
            can_create_catalog(main, principal, metastore, f).await;
        } else {
            f.warn(
                CATALOG_VALIDATION,
                format!(
                    "catalog {name} does not exist yet: waiting for the setup script to be run"
                ),
            );
        }
        return;
    };
    let tag = match main.get_catalog_tag(name, crate::setup::TAG_KEY).await {
        Ok(tag) => tag,
        Err(e) => {
            f.fail_with(
                CATALOG_VALIDATION,
                &format!("could not read the tags of catalog {name}"),
                &e,
            );
            return;
        }
    };
    let owner = info.owner.clone().unwrap_or_default();
    let owned = owner.eq_ignore_ascii_case(principal);
    f.catalog = match tag.as_deref() {
        Some(other) if other != it.id => CatalogState::OtherIntegration {
            id: other.to_string(),
        },
        Some(_) if !owned => CatalogState::Drifted(format!(
            "catalog {name} is owned by {owner}, not by the service principal {principal}"
        )),
        Some(_) => CatalogState::Ours,
        None if owned => CatalogState::OursUntagged,
        None => CatalogState::Foreign {
            owner: owner.clone(),
        },
    };
    if f.catalog == CatalogState::Ours && it.check_lockdown {
        match lockdown_drift(main, name).await {
            Ok(Some(drift)) => f.catalog = CatalogState::Drifted(drift),
            Ok(None) => {}
            Err(e) => {
                f.fail_with(
                    CATALOG_VALIDATION,
                    &format!("could not read the grants on catalog {name}"),
                    &e,
                );
                return;
            }
        }
    }
    match (&f.catalog, it.automatic) {
        (CatalogState::OtherIntegration { id }, _) => f.fail(
            CATALOG_VALIDATION,
            "CatalogOwnedByAnotherIntegration",
            format!("catalog {name} is owned by another integration ({id}); it is never taken over: choose another catalog"),
            false,
        ),
        (CatalogState::Ours, _) => f.pass(
            CATALOG_VALIDATION,
            Some(format!("catalog {name} exists and is owned by this integration")),
            None,
        ),
        (CatalogState::OursUntagged, true) => f.pass(
            CATALOG_VALIDATION,
            Some(format!("catalog {name} is owned by the service principal; setup will mark it as this integration's")),
            None,
        ),
        (CatalogState::Drifted(what), true) if !it.check_lockdown => f.pass(
            CATALOG_VALIDATION,
            Some(format!("{what}; setup will restore it")),
            None,
        ),
        (CatalogState::Drifted(what), _) => f.fail(CATALOG_VALIDATION, "CatalogDrifted", what.clone(), false),
        (CatalogState::Foreign { owner }, true) => f.fail(
            CATALOG_VALIDATION,
            "CatalogExists",
            format!("catalog {name} already exists and is owned by {owner}, not by the service principal {principal}: choose another catalog, or make the service principal its owner"),
            false,
        ),
        (_, false) => f.warn(
            CATALOG_VALIDATION,
            format!("catalog {name} is not set up yet (owner {owner}, not tagged as {}): waiting for the setup script to be run", it.id),
        ),
        (CatalogState::Missing | CatalogState::Unknown, true) => {}
    }
}

/// What `account users` still holds on the catalog, if anything.
async fn lockdown_drift(
    main: &WorkspaceClient,
    name: &str,
) -> Result<Option<String>, databricks::Error> {
    let grants = main.get_permissions("catalog", name).await?;
    let held: BTreeSet<String> = grants
        .into_iter()
        .filter(|a| {
            a.principal
                .eq_ignore_ascii_case(crate::setup::ACCOUNT_USERS)
        })
        .flat_map(|a| a.privileges)
        .collect();
    Ok((!held.is_empty()).then(|| {
        format!(
            "account users holds {} on catalog {name}",
            held.into_iter().collect::<Vec<_>>().join(", ")
        )
    }))
}

async fn can_create_catalog(
    main: &WorkspaceClient,
    principal: &str,
    metastore: &str,
    f: &mut Findings,
) {
    match main
        .effective_permissions("metastore", metastore, principal)
        .await
    {
        Ok(assignments) => {
            let can = assignments
                .iter()
                .flat_map(|a| &a.privileges)
                .any(|p| p.privilege == "CREATE_CATALOG" || p.privilege == "ALL_PRIVILEGES");
            if can {
                f.pass(
                    CATALOG_VALIDATION,
                    Some(
                        "the catalog does not exist yet and the service principal may create it"
                            .into(),
                    ),
                    None,
                );
            } else {
                f.fail(
                    CATALOG_VALIDATION,
                    "InsufficientPrivileges",
                    format!(
                        "the service principal {principal} lacks CREATE CATALOG on metastore {metastore}: run `GRANT CREATE CATALOG ON METASTORE TO `{principal}`` as a metastore admin, or set autoBootstrap: false for manual setup"
                    ),
                    false,
                );
            }
        }
        Err(e) => f.fail_with(
            CATALOG_VALIDATION,
            "could not check CREATE CATALOG on the metastore",
            &e,
        ),
    }
}

async fn audit(main: &WorkspaceClient, it: &Integration<'_>, f: &mut Findings) {
    if !it.audit {
        f.skip(AUDIT_VALIDATION, "query audit is off".into());
        return;
    }
    if !f.compute_available {
        f.skip(
            AUDIT_VALIDATION,
            "the compute is not running: periodic re-validation does not start it".into(),
        );
        return;
    }
    let tables: Vec<String> = crate::setup::AUDIT_TABLES
        .iter()
        .map(|(schema, table)| format!("system.{schema}.{table}"))
        .collect();
    let mut missing = Vec::new();
    for table in &tables {
        match main
            .execute(&format!("SELECT 1 FROM {table} LIMIT 1"))
            .await
        {
            Ok(_) => {}
            Err(databricks::Error::Sql {
                sql_state: Some(s), ..
            }) if s == "42501" => missing.push(format!("no SELECT on {table}")),
            Err(databricks::Error::Sql {
                sql_state: Some(s), ..
            }) if s == "42P01" => {
                missing.push(format!("{table} not found (is the system schema enabled?)"))
            }
            Err(e) => {
                f.fail_with(AUDIT_VALIDATION, &format!("could not read {table}"), &e);
                return;
            }
        }
    }
    if missing.is_empty() {
        f.pass(
            AUDIT_VALIDATION,
            Some(format!(
                "the service principal can read {}",
                tables.join(", ")
            )),
            None,
        );
    } else {
        f.fail(
            AUDIT_VALIDATION,
            "InsufficientPrivileges",
            format!(
                "{}: grant USE CATALOG on system, USE SCHEMA on system.access and system.query, and SELECT on each table",
                missing.join("; ")
            ),
            false,
        );
    }
}

async fn connections(
    main: &WorkspaceClient,
    additional: &[(WorkspaceClient, Vec<String>)],
    f: &mut Findings,
) {
    if additional.is_empty() {
        return;
    }
    // Workspaces reachable through any connection, by id.
    let mut reachable: Vec<(i64, String)> = f
        .workspace
        .workspace_id
        .map(|id| (id, main.host()))
        .into_iter()
        .collect();
    let mut ids = Vec::new();
    for (client, _) in additional {
        let name = format!("Workspace connection: {}", client.host());
        match client.current_metastore_assignment().await {
            Ok(Some(a)) => {
                reachable.push((a.workspace_id, client.host()));
                ids.push(Some(a.workspace_id));
                f.pass(
                    &name,
                    Some(format!(
                        "workspace {} (metastore {})",
                        a.workspace_id, a.metastore_id
                    )),
                    None,
                );
            }
            Ok(None) => {
                ids.push(None);
                f.fail(
                    &name,
                    "MetastoreNotAssigned",
                    "no Unity Catalog metastore is assigned to this workspace".into(),
                    false,
                );
            }
            Err(e) => {
                ids.push(None);
                f.fail_with(&name, &format!("could not reach {}", client.host()), &e);
            }
        }
    }
    for ((client, catalogs), own_id) in additional.iter().zip(ids) {
        for catalog in catalogs {
            catalog_access(main, client, own_id, catalog, &reachable, f).await;
        }
    }
}

async fn catalog_access(
    main: &WorkspaceClient,
    client: &WorkspaceClient,
    own_id: Option<i64>,
    catalog: &str,
    reachable: &[(i64, String)],
    f: &mut Findings,
) {
    let name = format!("Catalog access: {catalog}");
    let info = match client.get_catalog(catalog).await {
        Ok(Some(info)) if !info.is_isolated() => {
            f.pass(
                &name,
                Some(format!(
                    "catalog {catalog} is OPEN and reachable through {}",
                    client.host()
                )),
                None,
            );
            return;
        }
        Ok(info) => Ok(info),
        // Not accessible from this workspace may mean bound elsewhere: the bindings tell.
        Err(e @ databricks::Error::PermissionDenied { .. }) => Err(e),
        Err(e) => {
            f.fail_with(
                &name,
                &format!("could not read catalog {catalog} through {}", client.host()),
                &e,
            );
            return;
        }
    };
    let bindings = match client.catalog_bindings(catalog).await {
        Ok(b) => Ok(b),
        Err(_) => main.catalog_bindings(catalog).await,
    };
    let bound: Vec<i64> = match (bindings, info) {
        (Ok(b), _) => b.into_iter().map(|b| b.workspace_id).collect(),
        (Err(_), Err(denied)) => {
            f.fail_with(
                &name,
                &format!(
                    "catalog {catalog} is not accessible through {}",
                    client.host()
                ),
                &denied,
            );
            return;
        }
        (Err(_), Ok(None)) => {
            f.fail(
                &name,
                "CatalogNotFound",
                format!("catalog {catalog} not found through {}", client.host()),
                false,
            );
            return;
        }
        (Err(e), Ok(Some(_))) => {
            f.fail_with(
                &name,
                &format!("could not read the workspace bindings of catalog {catalog}"),
                &e,
            );
            return;
        }
    };
    let list = |ids: &[i64]| {
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if own_id.is_some_and(|id| bound.contains(&id)) {
        f.pass(
            &name,
            Some(format!(
                "catalog {catalog} is bound to workspaces [{}], including {}",
                list(&bound),
                client.host()
            )),
            None,
        );
    } else if let Some((id, host)) = reachable.iter().find(|(id, _)| bound.contains(id)) {
        f.warn(&name, format!("catalog {catalog} is bound to workspaces [{}]: reachable through {host} (workspace {id}), not through {} where it is listed", list(&bound), client.host()));
    } else {
        let reach: Vec<i64> = reachable.iter().map(|(id, _)| *id).collect();
        f.fail(
            &name,
            "CatalogNotReachable",
            format!(
                "catalog {catalog} is bound to workspaces [{}], none of which the connections reach (they reach [{}]): add a connection to one of them or bind the catalog to a reachable workspace",
                list(&bound),
                list(&reach)
            ),
            false,
        );
    }
}
