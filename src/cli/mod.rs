//! The `uc-operator` command line, every subcommand in one place: `run` (the controller, in
//! `crate::controller`), `crd`, `script`, `validate` and `import`.

mod import;
mod output;
mod script;
pub mod secrets_dir;
pub mod validate;

use std::process::ExitCode;

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
    // Boxed: its flags make it several times the size of the other variants.
    Run(Box<crate::controller::RunArgs>),
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Print the manual setup (or cleanup) SQL script of a DatabricksIntegration manifest, offline.
    Script(script::ScriptArgs),
    /// Run the validation tests of a DatabricksIntegration manifest against its workspace,
    /// changing nothing: exit 0 when none failed, 1 when one did, 2 on bad input.
    Validate(validate::ValidateArgs),
    /// Convert an Immuta `/integrations` payload into a DatabricksIntegration and its Secrets.
    Import(import::ImportArgs),
}

/// Parses the command line and runs the subcommand.
pub fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Run(args) => {
            crate::telemetry::init(args.log_format);
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(crate::controller::run(*args))?;
        }
        Command::Crd => print!("{}", crate::api::crd_yaml()),
        Command::Script(args) => script::run(args)?,
        Command::Validate(args) => return Ok(validate::main(args)),
        Command::Import(args) => import::run(args)?,
    }
    Ok(ExitCode::SUCCESS)
}
