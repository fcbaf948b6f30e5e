//! `databricks-sim`: runs the simulator for demos and scripts until SIGTERM or Ctrl-C.

use std::path::PathBuf;

use clap::Parser;
use databricks_sim::{Scenario, Simulator};
use serde_json::json;

#[derive(Parser)]
#[command(about = "A local Databricks workspace simulator")]
struct Args {
    /// Scenario YAML; without it, the built-in test scenario.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Where to write ca.pem and ready.json.
    #[arg(long, default_value = ".databricks-sim")]
    state_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let scenario = match &args.scenario {
        Some(p) => Scenario::from_yaml(&std::fs::read_to_string(p)?)?,
        None => Scenario::default_for_tests(),
    };
    let sim = Simulator::start_in(scenario, &args.state_dir).await?;
    let workspaces = sim.workspaces();
    let ready = json!({
        "workspaces": workspaces,
        "ca_path": sim.ca_path(),
    });
    std::fs::write(
        args.state_dir.join("ready.json"),
        serde_json::to_string_pretty(&ready)?,
    )?;
    let list: Vec<String> = workspaces
        .iter()
        .map(|w| format!("{}={} (workspace id {})", w.name, w.url, w.workspace_id))
        .collect();
    println!(
        "databricks-sim ready: {} ca={}",
        list.join(" "),
        sim.ca_path().display()
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}
