//! The `uc-operator` command line: thin dispatch to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "uc-operator",
    version,
    about = "Kubernetes operator for a Databricks Unity Catalog integration"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (uses KUBECONFIG or the in-cluster configuration).
    Run(uc_operator::controller::RunArgs),
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Print the manual setup (or cleanup) SQL script of a DatabricksIntegration manifest, offline.
    Script {
        /// The manifest (may hold other documents, such as Secrets).
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Print the cleanup script instead.
        #[arg(long)]
        cleanup: bool,
        /// The service principal's application id (default: a placeholder to fill in).
        #[arg(long)]
        principal: Option<String>,
        /// The installation identity the operator runs with (`run --installation-id`).
        #[arg(long, env = "UC_OPERATOR_INSTALLATION_ID", default_value = uc_operator::identity::DEFAULT_INSTALLATION)]
        installation_id: String,
    },
    /// Run the validation tests of a DatabricksIntegration manifest against its workspace,
    /// changing nothing: exit 0 when none failed, 1 when one did, 2 on bad input.
    Validate(uc_operator::cli::validate::ValidateArgs),
    /// Convert an Immuta `/integrations` payload into a DatabricksIntegration and its Secrets.
    Import(uc_operator::import::ImportArgs),
}

// jemalloc, configured to give freed memory back: glibc's malloc keeps what a burst of
// reconciles freed (and an arena per thread), and musl's, in the image, is slow. A background
// thread returns unused pages after about a second even when the operator is idle; no MADV_FREE
// stage (such pages still count in RSS); two arenas instead of four per CPU (docs/performance.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 70] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2\0";

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Run(args) => {
            uc_operator::telemetry::init(args.log_format);
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(uc_operator::controller::run(args))?;
        }
        Command::Crd => print!("{}", uc_operator::api::crd_yaml()),
        Command::Script {
            file,
            cleanup,
            principal,
            installation_id,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let dbi = uc_operator::api::integration_from_manifest(&text)
                .with_context(|| format!("{}", file.display()))?;
            let which = if cleanup {
                uc_operator::setup::Script::Cleanup
            } else {
                uc_operator::setup::Script::Setup
            };
            let id = uc_operator::setup::integration_id(&dbi, &installation_id);
            print!(
                "{}",
                uc_operator::setup::script(&dbi, &id, principal.as_deref(), which)
            );
        }
        Command::Validate(args) => return Ok(uc_operator::cli::validate::main(args)),
        Command::Import(args) => uc_operator::import::run(args)?,
    }
    Ok(ExitCode::SUCCESS)
}
