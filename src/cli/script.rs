//! `uc-operator script -f dbi.yaml [--cleanup] [--principal ID]`: the manual setup (or cleanup)
//! SQL of a manifest, offline — the script the `<name>-uc-setup` ConfigMap gets.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::setup::{self, Script};

#[derive(clap::Args, Debug)]
pub struct ScriptArgs {
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
    #[arg(long, env = "UC_OPERATOR_INSTALLATION_ID", default_value = crate::identity::DEFAULT_INSTALLATION)]
    installation_id: String,
}

pub fn run(args: ScriptArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let dbi = crate::api::integration_from_manifest(&text)
        .with_context(|| format!("{}", args.file.display()))?;
    let which = if args.cleanup {
        Script::Cleanup
    } else {
        Script::Setup
    };
    let id = setup::integration_id(
        &dbi,
        &crate::identity::Installation::pinned(&args.installation_id),
    );
    print!(
        "{}",
        setup::script(&dbi, &id, args.principal.as_deref(), which)
    );
    Ok(())
}
