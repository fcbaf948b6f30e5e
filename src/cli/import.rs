//! `uc-operator import -f payload.json`: the command around the import domain (`crate::import`):
//! reads the payload, prints the manifests on stdout and the notes on stderr.

use std::path::PathBuf;

use crate::import::{Format, Options, convert_with};

/// Arguments of `uc-operator import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The payload file (JSON or YAML; `-` reads standard input).
    #[arg(short = 'f', long = "file", value_name = "PAYLOAD")]
    pub file: PathBuf,
    /// The name of the DatabricksIntegration (default: derived from the workspace host). Secret
    /// names derive from it.
    #[arg(long)]
    pub name: Option<String>,
    /// The namespace written into every manifest (default: none, so `kubectl apply -n` decides).
    #[arg(long)]
    pub namespace: Option<String>,
    /// The integration id to convert when a `GET /integrations` list holds several Databricks
    /// integrations.
    #[arg(long)]
    pub id: Option<String>,
    /// The catalog's `MANAGED LOCATION` (`s3://`, `abfss://`, `gs://`, `r2://`), written to
    /// `spec.storageRoot`: the payload has no such field, and a metastore without root storage
    /// needs it.
    #[arg(long, value_name = "URL")]
    pub storage_root: Option<String>,
}

/// Prints the manifests on stdout and the notes (what the user must still do) on stderr.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let stdin = args.file.as_os_str() == "-";
    let (input, format) = if stdin {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        (s, Format::Auto)
    } else {
        let text = std::fs::read_to_string(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
        (text, Format::from_path(&args.file))
    };
    let options = Options {
        format,
        name: args.name,
        namespace: args.namespace,
        id: args.id,
        storage_root: args.storage_root,
    };
    let source = if stdin {
        "<stdin>".to_string()
    } else {
        args.file.display().to_string()
    };
    let imported = convert_with(&input, &options).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    print!("{}", imported.manifests);
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    Ok(())
}
