//! `uc-operator validate -f <manifest>`: the validation tests of a manifest against its real
//! workspace, for a pre-merge CI check. It changes nothing: no setup, no status, no ConfigMap,
//! and by default it starts no stopped compute. Exit 0 when no test failed, 1 when one did, 2 on
//! bad input (the manifest, its Secrets, the flags).

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use kube::ResourceExt;

use super::output::{Format, Report};
use super::secrets_dir::SecretsDir;
use crate::api::{Connection, DatabricksIntegration};
use crate::checks::{self, Additional, ComputePolicy, Findings, Integration, Outcome};
use crate::credentials::{self, SecretReader, SecretSource};
use crate::databricks::{AllowedHosts, ClientSettings, WorkspaceClient};

/// Flags of `uc-operator validate`.
#[derive(clap::Args, Debug, Clone)]
pub struct ValidateArgs {
    /// The manifest (may hold other documents, such as Secrets); `-` reads standard input.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Read each referenced Secret key from the file DIR/<secret-name>/<key> instead of the
    /// cluster.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// The resource's namespace when the manifest names none (default: the kubeconfig's, else
    /// `default`). It is part of the integration's identity, which the catalog test checks.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Extra PEM CA certificates trusted for Databricks and OAuth endpoints.
    #[arg(long, env = "UC_OPERATOR_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Where credentials may be sent, as `run --allowed-hosts` takes it.
    #[arg(long, env = "UC_OPERATOR_ALLOWED_HOSTS", default_value_t = AllowedHosts::default())]
    pub allowed_hosts: AllowedHosts,
    /// Let the Basic Connection Test start a stopped SQL warehouse or cluster (which costs
    /// money); without it that test is skipped while the compute is stopped.
    #[arg(long)]
    pub allow_start: bool,
    /// The installation identity the operator runs with (`run --installation-id`).
    #[arg(long, env = "UC_OPERATOR_INSTALLATION_ID", default_value = crate::identity::DEFAULT_INSTALLATION)]
    pub installation_id: String,
}

/// Runs the command; bad input is reported on standard error with exit code 2.
pub fn main(args: ValidateArgs) -> ExitCode {
    init_logging();
    let result = tokio::runtime::Runtime::new()
        .context("starting the runtime")
        .and_then(|rt| rt.block_on(validate(&args)));
    match result {
        Ok(report) => {
            print!("{}", report.render(args.output));
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to standard error (standard output is the report), warnings only unless `RUST_LOG`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Every error here is bad input; only the report says whether a test failed.
async fn validate(args: &ValidateArgs) -> anyhow::Result<Report> {
    let mut dbi = read_manifest(args)?;
    let settings = ClientSettings {
        ca_bundle_pem: args
            .ca_bundle
            .as_deref()
            .map(crate::controller::read_ca_bundle)
            .transpose()?,
        allowed_hosts: args.allowed_hosts.clone(),
        ..ClientSettings::default()
    };
    let (main, additional) = match &args.secrets_dir {
        Some(dir) => {
            set_namespace(&mut dbi, args.namespace.as_deref(), None)?;
            clients(&mut SecretsDir::new(dir), &dbi, &settings).await?
        }
        None => {
            let config = kube::Config::infer()
                .await
                .context("no Kubernetes configuration to read the Secrets from (KUBECONFIG), and no --secrets-dir")?;
            let fallback = config.default_namespace.clone();
            set_namespace(&mut dbi, args.namespace.as_deref(), Some(&fallback))?;
            let client = kube::Client::try_from(config).context("connecting to Kubernetes")?;
            let namespace = dbi.namespace().unwrap_or_default();
            clients(&mut SecretReader::new(client, &namespace), &dbi, &settings).await?
        }
    };
    let id = crate::setup::integration_id(
        &dbi,
        &crate::identity::Installation::pinned(&args.installation_id),
    );
    // As when the manifest is applied: automatic setup revokes what others hold.
    let it = Integration::of(&dbi.spec, &id, checks::Stage::Create);
    let policy = if args.allow_start {
        ComputePolicy::MayStart
    } else {
        ComputePolicy::OnlyIfRunning
    };
    // A one-shot command may wait for a cluster it starts (the controller comes back instead).
    if args.allow_start
        && matches!(main.compute(), crate::databricks::Compute::Cluster { .. })
        && let Err(e) = main.ensure_running().await
    {
        eprintln!("note: the cluster did not start: {e}");
    }
    let findings = checks::run(&main, &additional, &it, policy).await;
    if policy == ComputePolicy::OnlyIfRunning && compute_stopped(&findings) {
        eprintln!("note: the compute is not running, so no SQL ran; --allow-start starts it");
    }
    Ok(Report::new(&findings))
}

/// The basic connection test ran (the metastore test passed) yet used no compute: it was stopped.
fn compute_stopped(findings: &Findings) -> bool {
    let metastore_ok = findings.tests.iter().any(|t| {
        t.name == checks::METASTORE_VALIDATION
            && matches!(t.outcome, Outcome::Passed { .. } | Outcome::Warning(_))
    });
    metastore_ok && !findings.compute_available
}

fn read_manifest(args: &ValidateArgs) -> anyhow::Result<DatabricksIntegration> {
    let name = args.file.display();
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {name}"))?
    };
    // What the API server would refuse is refused here first, naming the field: no test of a
    // manifest the cluster would never accept.
    if let Some(document) =
        crate::api::manifest_document(&text).with_context(|| format!("{name}"))?
    {
        let refusals = crate::api::admission::refusals(&document);
        if !refusals.is_empty() {
            bail!(
                "{name}: the API server would refuse this manifest:\n  {}",
                refusals.join("\n  ")
            );
        }
    }
    crate::api::integration_from_manifest(&text).with_context(|| format!("{name}"))
}

/// The manifest's namespace wins; `-n` must agree with it, as with `kubectl apply -n`.
fn set_namespace(
    dbi: &mut DatabricksIntegration,
    flag: Option<&str>,
    kubeconfig: Option<&str>,
) -> anyhow::Result<()> {
    match (dbi.metadata.namespace.as_deref(), flag) {
        (Some(ns), Some(flag)) if ns != flag => {
            bail!("the manifest's namespace {ns:?} does not match --namespace {flag:?}")
        }
        (Some(_), _) => {}
        (None, flag) => {
            let ns = flag.or(kubeconfig).unwrap_or("default");
            dbi.metadata.namespace = Some(ns.to_string());
        }
    }
    Ok(())
}

/// The client of each connection, its secrets from `source`.
async fn clients(
    source: &mut impl SecretSource,
    dbi: &DatabricksIntegration,
    settings: &ClientSettings,
) -> anyhow::Result<(WorkspaceClient, Vec<Additional>)> {
    let main = client(source, &dbi.spec.connection, settings).await?;
    let mut additional = Vec::new();
    for c in dbi.spec.additional_workspace_connections.iter().flatten() {
        additional.push(Additional {
            client: client(source, &c.connection, settings).await?,
            catalogs: c.catalogs.clone(),
        });
    }
    Ok((main, additional))
}

async fn client(
    source: &mut impl SecretSource,
    connection: &Connection,
    settings: &ClientSettings,
) -> anyhow::Result<WorkspaceClient> {
    let (config, restrictions) = credentials::resolve(source, connection).await?;
    let host = config.display_host();
    crate::databricks::Clients::new(settings.clone())
        .get_restricted(config, restrictions)
        .with_context(|| format!("a client for {host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbi(namespace: Option<&str>) -> DatabricksIntegration {
        let mut manifest = serde_json::json!({
            "apiVersion": "uc-operator.dev/v1alpha1",
            "kind": "DatabricksIntegration",
            "metadata": {"name": "a"},
            "spec": {
                "workspaceUrl": "adb-1.azuredatabricks.net",
                "httpPath": "/sql/1.0/warehouses/wh1",
                "authenticationType": "token",
                "tokenSecretRef": {"name": "sp-token"},
                "catalog": "gov",
            }
        });
        if let Some(ns) = namespace {
            manifest["metadata"]["namespace"] = ns.into();
        }
        serde_json::from_value(manifest).unwrap()
    }

    #[test]
    fn the_namespace_comes_from_the_manifest_then_the_flag_then_the_kubeconfig() {
        let ns = |mut d: DatabricksIntegration, flag, kc| {
            set_namespace(&mut d, flag, kc).map(|()| d.namespace().unwrap())
        };
        assert_eq!(ns(dbi(Some("team")), None, Some("kc")).unwrap(), "team");
        assert_eq!(ns(dbi(Some("team")), Some("team"), None).unwrap(), "team");
        assert_eq!(ns(dbi(None), Some("flag"), Some("kc")).unwrap(), "flag");
        assert_eq!(ns(dbi(None), None, Some("kc")).unwrap(), "kc");
        assert_eq!(ns(dbi(None), None, None).unwrap(), "default");
        let e = ns(dbi(Some("team")), Some("other"), None).unwrap_err();
        assert!(e.to_string().contains("\"team\""), "{e}");
    }
}
