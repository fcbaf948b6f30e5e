//! The `uc-operator` command line: thin dispatch to the library.

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
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Convert an Immuta `/integrations` payload into a DatabricksIntegration and its Secrets.
    Import(uc_operator::import::ImportArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd => print!("{}", uc_operator::api::crd_yaml()),
        Command::Import(args) => uc_operator::import::run(args)?,
    }
    Ok(())
}
