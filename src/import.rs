//! `uc-operator import` (being written).

/// Arguments of `uc-operator import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {}

pub fn run(_args: ImportArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
