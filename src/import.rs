//! `uc-operator import`: converts an Immuta `/integrations` payload for a Databricks Unity Catalog
//! integration into a `DatabricksIntegration` and the Secrets that hold its credentials.
//!
//! Accepted shapes (JSON or YAML): a `POST`/`PUT` request body `{type, autoBootstrap, config}`, a
//! `GET /integrations/{id}` response (the same plus `id`, `status`, `validationResults`, which are
//! ignored), the `GET /integrations` array (its Databricks entry; `--id` picks one when there are
//! several), or a bare `config` object.
//!
//! Credentials never go into the resource: an inline `token`, `clientSecret` or `oauthPrivateKey`
//! becomes a Secret referenced from the spec. A placeholder (`REDACTED`, `<SECRET>`, ...) or a
//! credential the payload leaves out becomes an empty Secret the user must fill; the notes say
//! which, without ever echoing a value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::{
    AdditionalWorkspaceConnection, Audit, AuthenticationType, ClientSecretRef, Connection,
    DatabricksIntegration, DatabricksIntegrationSpec, DeletionPolicy, OAuthClientConfig,
    PrivateKeySecretRef, TokenSecretRef,
};
use crate::secret::SecretString;

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
}

/// Prints the manifests on stdout and the notes (what the user must still do) on stderr.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let (input, format) = if args.file.as_os_str() == "-" {
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
    };
    let imported = convert_with(&input, &options).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}",
            if args.file.as_os_str() == "-" {
                "<stdin>".to_string()
            } else {
                args.file.display().to_string()
            }
        )
    })?;
    print!("{}", imported.manifests);
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// How to parse the input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// JSON when the text starts with `{` or `[` (so malformed JSON gets a JSON error), YAML
    /// otherwise.
    #[default]
    Auto,
}

impl Format {
    /// By extension: `.json` → JSON, `.yaml`/`.yml` → YAML, anything else → by content.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            Some(e) if e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml") => {
                Format::Yaml
            }
            _ => Format::Auto,
        }
    }
}

/// Everything `convert_with` needs besides the text.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub format: Format,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub id: Option<String>,
}

/// The result of an import. `manifests` and `secrets` hold the payload's credentials, so
/// `Debug` leaves them out.
#[derive(Clone)]
pub struct Imported {
    /// Multi-document YAML: the Secrets first, then the DatabricksIntegration.
    pub manifests: String,
    /// What the user must still do (Secrets to fill, placeholders to replace, ignored fields).
    /// Never contains a credential.
    pub notes: Vec<String>,
    pub integration: DatabricksIntegration,
    pub secrets: Vec<Secret>,
}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secrets: Vec<_> = self.secrets.iter().map(|s| &s.metadata.name).collect();
        f.debug_struct("Imported")
            .field("manifests", &"REDACTED")
            .field("notes", &self.notes)
            .field("integration", &self.integration)
            .field("secrets", &secrets)
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid YAML at line {line}, column {column}: {message}")]
    Yaml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid YAML: {0}")]
    YamlUnlocated(String),
    #[error(
        "unsupported integration type `{0}`: uc-operator import converts Databricks (Unity Catalog) integrations only"
    )]
    UnsupportedType(String),
    #[error("the payload holds no Databricks integration (found: {0})")]
    NoDatabricks(String),
    #[error("the payload holds {} Databricks integrations ({}): choose one with --id", .0.len(), .0.join(", "))]
    Ambiguous(Vec<String>),
    #[error("the payload holds no Databricks integration with id `{0}`")]
    IdNotFound(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "invalid name `{0}`: a DatabricksIntegration name is lowercase letters, digits and '-', starts and ends with a letter or digit, at most 50 characters (Secret names derive from it)"
    )]
    InvalidName(String),
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// Converts with default options except the name and namespace.
pub fn convert(
    input: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<Imported, ImportError> {
    convert_with(
        input,
        &Options {
            name: name.map(str::to_string),
            namespace: namespace.map(str::to_string),
            ..Options::default()
        },
    )
}

/// The whole conversion, with no I/O.
pub fn convert_with(input: &str, options: &Options) -> Result<Imported, ImportError> {
    let value = parse(input, options.format)?;
    let entry = select(value, options.id.as_deref())?;
    let payload = Payload::from_value(entry)?;
    build(payload, options)
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn parse(input: &str, format: Format) -> Result<Value, ImportError> {
    let json = match format {
        Format::Json => true,
        Format::Yaml => false,
        Format::Auto => matches!(input.trim_start().chars().next(), Some('{' | '[')),
    };
    if json {
        let mut de = serde_json::Deserializer::from_str(input);
        let parsed = StrictValue::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
        parsed.map(|v| v.0).map_err(|e| ImportError::Json {
            line: e.line(),
            column: e.column(),
            message: strip_location(&e.to_string()),
        })
    } else {
        StrictValue::deserialize(serde_yaml::Deserializer::from_str(input))
            .map(|v| v.0)
            .map_err(|e| match e.location() {
                Some(l) => ImportError::Yaml {
                    line: l.line(),
                    column: l.column(),
                    message: strip_location(&e.to_string()),
                },
                None => ImportError::YamlUnlocated(e.to_string()),
            })
    }
}

/// Both parsers append " at line L column C"; the error prints the location its own way.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A JSON value that refuses duplicate keys, so a payload such as the documentation's (which
/// repeats `clientSecret`) is refused where the repetition is, not silently half-read.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|v| v.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

// ---------------------------------------------------------------------------------------------
// Selecting the integration

fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

fn is_databricks(t: &str) -> bool {
    t.eq_ignore_ascii_case("databricks")
}

fn id_of(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Picks the integration to convert: the object itself, or the Databricks entry of a list.
fn select(value: Value, id: Option<&str>) -> Result<Value, ImportError> {
    let entries = match value {
        Value::Array(entries) => entries,
        Value::Object(_) => {
            if let Some(t) = type_of(&value).filter(|t| !is_databricks(t)) {
                return Err(ImportError::UnsupportedType(t.to_string()));
            }
            if let (Some(want), Some(have)) = (id, id_of(&value))
                && want != have
            {
                return Err(ImportError::IdNotFound(want.to_string()));
            }
            return Ok(value);
        }
        other => {
            return Err(invalid(
                "payload",
                format!(
                    "expected an integration object or a list of them, found {}",
                    kind(&other)
                ),
            ));
        }
    };
    if let Some(want) = id
        && let Some(t) = entries
            .iter()
            .find(|e| id_of(e).as_deref() == Some(want))
            .and_then(type_of)
            .filter(|t| !is_databricks(t))
    {
        return Err(ImportError::UnsupportedType(t.to_string()));
    }
    let types: Vec<String> = entries
        .iter()
        .map(|e| type_of(e).unwrap_or("<no type>").to_string())
        .collect();
    let mut databricks: Vec<Value> = entries
        .into_iter()
        .filter(|e| type_of(e).is_some_and(is_databricks))
        .collect();
    if let Some(want) = id {
        return databricks
            .into_iter()
            .find(|e| id_of(e).as_deref() == Some(want))
            .ok_or_else(|| ImportError::IdNotFound(want.to_string()));
    }
    match databricks.len() {
        0 if types.is_empty() => Err(ImportError::NoDatabricks("an empty list".into())),
        0 => Err(ImportError::NoDatabricks(types.join(", "))),
        1 => Ok(databricks.remove(0)),
        _ => Err(ImportError::Ambiguous(
            databricks
                .iter()
                .map(|e| {
                    let host = e
                        .pointer("/config/workspaceUrl")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    format!("id {} on {host}", id_of(e).unwrap_or_else(|| "?".into()))
                })
                .collect(),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the payload

/// A credential from the payload.
#[derive(Clone, Debug, PartialEq)]
enum Credential {
    /// A real value: goes into the Secret as it is.
    Value(SecretString),
    /// A documentation or redaction placeholder (`REDACTED`, `<SECRET>`): the user must fill it.
    Placeholder,
    /// Left out of the payload (an update that keeps the stored credential).
    Missing,
}

/// Values that stand for a credential rather than being one.
fn is_placeholder(s: &str) -> bool {
    let t = s.trim();
    t.is_empty()
        || t.eq_ignore_ascii_case("redacted")
        || (t.starts_with('<') && t.ends_with('>'))
        || t.chars().all(|c| c == '*')
}

/// A field read from a JSON object, with the path used in messages.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    used: std::cell::RefCell<Vec<&'static str>>,
}

impl<'a> Obj<'a> {
    fn new(path: impl Into<String>, v: &'a Value) -> Result<Self, ImportError> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Obj {
                path,
                map,
                used: Default::default(),
            }),
            other => Err(invalid(
                path,
                format!("expected an object, found {}", kind(other)),
            )),
        }
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn get(&self, key: &'static str) -> Option<&'a Value> {
        self.used.borrow_mut().push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &'static str) -> Result<Option<String>, ImportError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(
                self.at(key),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    }

    fn required(&self, key: &'static str) -> Result<String, ImportError> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(invalid(self.at(key), "is required")),
        }
    }

    fn bool(&self, key: &'static str) -> Result<Option<bool>, ImportError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
            Some(other) => Err(invalid(
                self.at(key),
                format!("expected a boolean, found {}", kind(other)),
            )),
        }
    }

    fn int(&self, key: &'static str) -> Result<Option<i64>, ImportError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_int(v)
                .map(Some)
                .ok_or_else(|| invalid(self.at(key), format!("expected an integer, found {v}"))),
        }
    }

    fn credential(&self, key: &'static str) -> Result<Credential, ImportError> {
        Ok(match self.string(key)? {
            None => Credential::Missing,
            Some(s) if is_placeholder(&s) => Credential::Placeholder,
            Some(s) => Credential::Value(SecretString::new(s)),
        })
    }

    /// Fields of the payload this importer does not map, for a note.
    fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.map
            .keys()
            .filter(|k| !used.contains(&k.as_str()))
            .map(|k| self.at(k))
            .collect()
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

struct Payload {
    auto_bootstrap: bool,
    id: Option<String>,
    main: ConnIn,
    catalog: String,
    audit: Option<Audit>,
    additional: Vec<(ConnIn, Vec<String>)>,
    ignored: Vec<String>,
}

struct ConnIn {
    path: String,
    workspace_url: String,
    port: Option<i32>,
    http_path: String,
    auth: AuthenticationType,
    token: Credential,
    oauth: Option<OAuthIn>,
}

struct OAuthIn {
    client_id: Option<String>,
    client_secret: Credential,
    authority_url: Option<String>,
    scope: Option<String>,
    use_certificate: bool,
    thumbprint: Option<String>,
    private_key: Credential,
}

impl Payload {
    fn from_value(v: Value) -> Result<Self, ImportError> {
        let top = Obj::new("payload", &v)?;
        // A bare `config` object is accepted too: people copy just that part.
        let bare = top.map.get("config").is_none() && top.map.contains_key("workspaceUrl");
        let config = if bare {
            Obj::new("config", &v)?
        } else {
            Obj::new(
                "config",
                top.get("config")
                    .ok_or_else(|| invalid("payload.config", "is required"))?,
            )?
        };
        let auto_bootstrap = if bare {
            true
        } else {
            top.bool("autoBootstrap")?.unwrap_or(true)
        };
        if !bare {
            for k in ["type", "status", "validationResults", "id"] {
                top.get(k);
            }
        }
        let id = id_of(&v);
        let main = ConnIn::read(&config)?;
        let catalog = config.required("catalog")?;
        let audit = match config.get("audit") {
            None => None,
            Some(a) => {
                let a = Obj::new(config.at("audit"), a)?;
                let enabled = a.bool("enabled")?.unwrap_or(false);
                let workspace_ids = match a.get("workspaceIds") {
                    None => None,
                    Some(Value::Array(ids)) => Some(
                        ids.iter()
                            .map(|i| {
                                as_int(i).ok_or_else(|| {
                                    invalid(
                                        a.at("workspaceIds"),
                                        format!("not a workspace id: {i}"),
                                    )
                                })
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    Some(other) => {
                        return Err(invalid(
                            a.at("workspaceIds"),
                            format!("expected a list, found {}", kind(other)),
                        ));
                    }
                };
                let mut ignored = a.unused();
                if !ignored.is_empty() {
                    ignored.sort();
                }
                Some((
                    Audit {
                        enabled,
                        workspace_ids,
                    },
                    ignored,
                ))
            }
        };
        let mut ignored = Vec::new();
        let audit = audit.map(|(a, i)| {
            ignored.extend(i);
            a
        });
        let mut additional = Vec::new();
        if let Some(list) = config.get("additionalWorkspaceConnections") {
            let Value::Array(items) = list else {
                return Err(invalid(
                    config.at("additionalWorkspaceConnections"),
                    format!("expected a list, found {}", kind(list)),
                ));
            };
            for (i, item) in items.iter().enumerate() {
                let obj = Obj::new(
                    format!("{}[{i}]", config.at("additionalWorkspaceConnections")),
                    item,
                )?;
                let conn = ConnIn::read(&obj)?;
                let catalogs = match obj.get("catalogs") {
                    Some(Value::Array(c)) if !c.is_empty() => c
                        .iter()
                        .map(|c| {
                            c.as_str().map(str::to_string).ok_or_else(|| {
                                invalid(obj.at("catalogs"), format!("not a catalog name: {c}"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => return Err(invalid(obj.at("catalogs"), "a non-empty list is required")),
                };
                ignored.extend(obj.unused());
                additional.push((conn, catalogs));
            }
        }
        ignored.extend(config.unused());
        if !bare {
            ignored.extend(top.unused());
        }
        Ok(Payload {
            auto_bootstrap,
            id,
            main,
            catalog,
            audit,
            additional,
            ignored,
        })
    }
}

impl ConnIn {
    fn read(obj: &Obj) -> Result<Self, ImportError> {
        let workspace_url = obj.required("workspaceUrl")?;
        let port = match obj.int("port")? {
            None => None,
            Some(p) if (1..=65535).contains(&p) => Some(p as i32),
            Some(p) => return Err(invalid(obj.at("port"), format!("{p} is not a port"))),
        };
        let http_path = obj.required("httpPath")?;
        let oauth = match obj.get("oAuthClientConfig") {
            None => None,
            Some(v) => Some(OAuthIn::read(&Obj::new(obj.at("oAuthClientConfig"), v)?)?),
        };
        let token = obj.credential("token")?;
        let auth = match obj.string("authenticationType")? {
            Some(t) if t.eq_ignore_ascii_case("token") => AuthenticationType::Token,
            Some(t) if t.eq_ignore_ascii_case("oAuthM2M") => AuthenticationType::OAuthM2M,
            Some(t) => {
                return Err(invalid(
                    obj.at("authenticationType"),
                    format!("unsupported authentication type `{t}` (expected token or oAuthM2M)"),
                ));
            }
            // Older payloads leave it out; the credentials tell.
            None if oauth.is_some() => AuthenticationType::OAuthM2M,
            None if token != Credential::Missing => AuthenticationType::Token,
            None => return Err(invalid(obj.at("authenticationType"), "is required")),
        };
        Ok(ConnIn {
            path: obj.path.clone(),
            workspace_url,
            port,
            http_path,
            auth,
            token,
            oauth,
        })
    }
}

impl OAuthIn {
    fn read(obj: &Obj) -> Result<Self, ImportError> {
        Ok(OAuthIn {
            client_id: obj.string("clientId")?,
            client_secret: obj.credential("clientSecret")?,
            authority_url: obj.string("authorityUrl")?,
            scope: obj.string("scope")?,
            use_certificate: obj.bool("useCertificate")?.unwrap_or(false),
            thumbprint: obj.string("publicCertificateThumbprint")?,
            private_key: obj.credential("oauthPrivateKey")?,
        })
    }

    fn empty() -> Self {
        OAuthIn {
            client_id: None,
            client_secret: Credential::Missing,
            authority_url: None,
            scope: None,
            use_certificate: false,
            thumbprint: None,
            private_key: Credential::Missing,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Building the manifests

/// Stands where the payload has no client id (an update that leaves the config out): accepted by
/// the schema, so the manifests apply, and reported so the user replaces it.
pub const CLIENT_ID_PLACEHOLDER: &str = "<CLIENT ID>";
/// Same for a missing certificate thumbprint.
pub const THUMBPRINT_PLACEHOLDER: &str = "<THUMBPRINT>";

/// Stands for the Entra ID tenant in a certificate connection's missing token endpoint.
pub const TENANT_PLACEHOLDER: &str = "TENANT-ID";

/// The longest generated name: leaves room for `-<n>-oauth` and `-uc-setup` suffixes within the
/// 63 characters of a label value.
const MAX_NAME: usize = 50;

/// Collects the Secrets (one per connection and kind, several keys each) and the notes.
struct Builder {
    name: String,
    namespace: Option<String>,
    secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// Secret name → keys the user must fill.
    to_fill: BTreeMap<String, Vec<String>>,
    notes: Vec<String>,
}

impl Builder {
    /// Stores a credential in `secret`/`key` and returns nothing: the caller builds the ref.
    fn put(&mut self, secret: &str, key: &str, what: &str, where_: &str, cred: Credential) {
        let data = self.secrets.entry(secret.to_string()).or_default();
        match cred {
            Credential::Value(v) => {
                data.insert(key.to_string(), v.expose().to_string());
                self.notes.push(format!(
                    "{where_}: the {what} from the payload is in Secret {secret} (key {key})"
                ));
            }
            c => {
                data.insert(key.to_string(), String::new());
                self.to_fill
                    .entry(secret.to_string())
                    .or_default()
                    .push(key.to_string());
                let why = if c == Credential::Placeholder {
                    "is a placeholder in the payload"
                } else {
                    "is not in the payload"
                };
                self.notes.push(format!(
                    "{where_}: the {what} {why}: fill Secret {secret} (key {key}) before the integration can validate"
                ));
            }
        }
    }

    fn connection(&mut self, conn: ConnIn, prefix: &str, where_: &str) -> Connection {
        let mut out = Connection {
            workspace_url: conn.workspace_url,
            port: conn.port.unwrap_or(443),
            http_path: conn.http_path,
            authentication_type: conn.auth,
            token_secret_ref: None,
            oauth_client_config: None,
        };
        match conn.auth {
            AuthenticationType::Token => {
                let secret = format!("{prefix}-token");
                self.put(
                    &secret,
                    "token",
                    "personal access token",
                    where_,
                    conn.token,
                );
                out.token_secret_ref = Some(TokenSecretRef {
                    name: secret,
                    key: "token".into(),
                });
                if conn.oauth.is_some() {
                    self.notes.push(format!(
                        "{where_}: oAuthClientConfig is ignored because authenticationType is token"
                    ));
                }
            }
            AuthenticationType::OAuthM2M => {
                if conn.token != Credential::Missing {
                    self.notes.push(format!(
                        "{where_}: token is ignored because authenticationType is oAuthM2M"
                    ));
                }
                let o = conn.oauth.unwrap_or_else(OAuthIn::empty);
                let secret = format!("{prefix}-oauth");
                let client_id = match o.client_id {
                    Some(id) if !is_placeholder(&id) => id,
                    other => {
                        self.notes.push(format!(
                            "{where_}: oAuthClientConfig.clientId is {}: replace {CLIENT_ID_PLACEHOLDER} in the DatabricksIntegration",
                            if other.is_some() { "a placeholder" } else { "not in the payload" }
                        ));
                        CLIENT_ID_PLACEHOLDER.to_string()
                    }
                };
                let mut cfg = OAuthClientConfig {
                    client_id,
                    client_secret_ref: None,
                    authority_url: o.authority_url.filter(|u| !u.trim().is_empty()),
                    scope: o.scope.unwrap_or_else(|| "all-apis".into()),
                    use_certificate: o.use_certificate,
                    public_certificate_thumbprint: None,
                    private_key_secret_ref: None,
                };
                if o.use_certificate && cfg.authority_url.is_none() {
                    // Entra ID certificate credentials need the tenant's token endpoint.
                    self.notes.push(format!(
                        "{where_}: oAuthClientConfig.authorityUrl is not in the payload: replace {TENANT_PLACEHOLDER} in the DatabricksIntegration with the Entra ID tenant"
                    ));
                    cfg.authority_url = Some(format!(
                        "https://login.microsoftonline.com/{TENANT_PLACEHOLDER}/oauth2/v2.0/token"
                    ));
                }
                if o.use_certificate {
                    cfg.public_certificate_thumbprint = Some(match o.thumbprint {
                        Some(t) if !is_placeholder(&t) => t,
                        other => {
                            self.notes.push(format!(
                                "{where_}: oAuthClientConfig.publicCertificateThumbprint is {}: replace {THUMBPRINT_PLACEHOLDER} in the DatabricksIntegration",
                                if other.is_some() { "a placeholder" } else { "not in the payload" }
                            ));
                            THUMBPRINT_PLACEHOLDER.to_string()
                        }
                    });
                    self.put(
                        &secret,
                        "tls.key",
                        "certificate's private key",
                        where_,
                        o.private_key,
                    );
                    cfg.private_key_secret_ref = Some(PrivateKeySecretRef {
                        name: secret,
                        key: "tls.key".into(),
                    });
                    if o.client_secret != Credential::Missing {
                        self.notes.push(format!(
                            "{where_}: clientSecret is ignored because useCertificate is true"
                        ));
                    }
                } else {
                    self.put(
                        &secret,
                        "clientSecret",
                        "OAuth client secret",
                        where_,
                        o.client_secret,
                    );
                    cfg.client_secret_ref = Some(ClientSecretRef {
                        name: secret,
                        key: "clientSecret".into(),
                    });
                    if o.private_key != Credential::Missing {
                        self.notes.push(format!(
                            "{where_}: oauthPrivateKey is ignored because useCertificate is false"
                        ));
                    }
                }
                out.oauth_client_config = Some(cfg);
            }
        }
        out
    }

    fn meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: self.namespace.clone(),
            ..Default::default()
        }
    }
}

fn build(payload: Payload, options: &Options) -> Result<Imported, ImportError> {
    let name = match &options.name {
        Some(n) => {
            if !is_dns_name(n) {
                return Err(ImportError::InvalidName(n.clone()));
            }
            n.clone()
        }
        None => name_from_host(&payload.main.workspace_url),
    };
    if let Some(ns) = &options.namespace
        && (!is_dns_name(ns) || ns.len() > 63)
    {
        return Err(invalid(
            "--namespace",
            format!("`{ns}` is not a namespace name"),
        ));
    }
    let mut b = Builder {
        name: name.clone(),
        namespace: options.namespace.clone(),
        secrets: BTreeMap::new(),
        to_fill: BTreeMap::new(),
        notes: Vec::new(),
    };
    let main_path = payload.main.path.clone();
    let connection = b.connection(payload.main, &name, &main_path);
    let mut additional = Vec::new();
    for (i, (conn, catalogs)) in payload.additional.into_iter().enumerate() {
        let path = conn.path.clone();
        let c = b.connection(conn, &format!("{}-{}", b.name, i + 1), &path);
        additional.push(AdditionalWorkspaceConnection {
            connection: c,
            catalogs,
        });
    }
    if !payload.ignored.is_empty() {
        b.notes.push(format!(
            "not mapped (no DatabricksIntegration field): {}",
            payload.ignored.join(", ")
        ));
    }

    let spec = DatabricksIntegrationSpec {
        connection,
        catalog: payload.catalog,
        auto_bootstrap: payload.auto_bootstrap,
        audit: payload.audit,
        additional_workspace_connections: (!additional.is_empty()).then_some(additional),
        deletion_policy: DeletionPolicy::Delete,
        revalidation_interval: crate::api::DEFAULT_REVALIDATION_INTERVAL.into(),
        storage_root: None,
        adopt_existing_catalog: false,
        suspend: false,
    };
    let mut integration = DatabricksIntegration::new(&name, spec);
    integration.metadata.namespace = options.namespace.clone();
    if let Some(id) = &payload.id {
        integration.metadata.annotations = Some(BTreeMap::from([(
            "uc-operator.dev/imported-from".to_string(),
            format!("integration {id}"),
        )]));
    }

    let mut manifests = String::new();
    let mut secrets = Vec::new();
    for (secret_name, data) in &b.secrets {
        let secret = Secret {
            metadata: b.meta(secret_name),
            type_: Some("Opaque".into()),
            string_data: Some(data.clone()),
            ..Default::default()
        };
        if let Some(keys) = b.to_fill.get(secret_name) {
            manifests.push_str(&format!(
                "# FILL IN before the integration can validate: {}\n",
                keys.join(", ")
            ));
        }
        manifests.push_str(&to_yaml(&secret));
        manifests.push_str("---\n");
        secrets.push(secret);
    }
    manifests.push_str(&to_yaml(&integration));
    Ok(Imported {
        manifests,
        notes: b.notes,
        integration,
        secrets,
    })
}

fn to_yaml<T: Serialize>(v: &T) -> String {
    serde_yaml::to_string(v).expect("Kubernetes objects serialize to YAML")
}

/// A DNS-1123 label, which is also a valid object name: lowercase alphanumerics and '-'.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `https://www.example-workspace.cloud.databricks.com:443` → `example-workspace`;
/// `adb-123.7.azuredatabricks.net` → `adb-123-7`.
pub fn name_from_host(workspace_url: &str) -> String {
    let host = workspace_url.trim();
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(host);
    let host = host
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let mut base = host;
    for suffix in [
        ".cloud.databricks.com",
        ".gcp.databricks.com",
        ".azuredatabricks.net",
        ".databricks.azure.cn",
        ".databricks.com",
    ] {
        if let Some(b) = host.strip_suffix(suffix) {
            base = b;
            break;
        }
    }
    let mut name = String::new();
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    name.truncate(MAX_NAME);
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "databricks".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Option<String> {
        let dir = std::env::var("UC_OPERATOR_FIXTURES").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/fixtures/integrations-api"
            )
            .into()
        });
        std::fs::read_to_string(format!("{dir}/{name}")).ok()
    }

    fn secret<'a>(i: &'a Imported, name: &str) -> &'a BTreeMap<String, String> {
        i.secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .and_then(|s| s.string_data.as_ref())
            .unwrap_or_else(|| panic!("no Secret {name} in {}", i.manifests))
    }

    #[test]
    fn token_payload_maps_every_field_and_moves_the_token_to_a_secret() {
        let input = r#"{"type":"Databricks","autoBootstrap":false,"config":{
            "workspaceUrl":"https://dbc-1.cloud.databricks.com","port":8443,
            "httpPath":"/sql/1.0/warehouses/abc","authenticationType":"token",
            "token":"dapi-real-token","catalog":"gov",
            "audit":{"enabled":true,"workspaceIds":[1, "2"]}}}"#;
        let i = convert(input, None, Some("team-a")).unwrap();
        let spec = &i.integration.spec;
        assert_eq!(i.integration.metadata.name.as_deref(), Some("dbc-1"));
        assert_eq!(i.integration.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(
            spec.connection.workspace_url,
            "https://dbc-1.cloud.databricks.com"
        );
        assert_eq!(spec.connection.port, 8443);
        assert_eq!(spec.connection.http_path, "/sql/1.0/warehouses/abc");
        assert!(!spec.auto_bootstrap);
        assert_eq!(spec.catalog, "gov");
        assert_eq!(
            spec.audit,
            Some(Audit {
                enabled: true,
                workspace_ids: Some(vec![1, 2])
            })
        );
        assert_eq!(
            spec.connection.token_secret_ref,
            Some(TokenSecretRef {
                name: "dbc-1-token".into(),
                key: "token".into()
            })
        );
        assert_eq!(secret(&i, "dbc-1-token")["token"], "dapi-real-token");
        // The token is only in the Secret, and the notes never echo it.
        let dbi = to_yaml(&i.integration);
        assert!(!dbi.contains("dapi-real-token"));
        assert!(i.notes.iter().all(|n| !n.contains("dapi-real-token")));
        assert!(i.manifests.find("kind: Secret") < i.manifests.find("kind: DatabricksIntegration"));
        assert!(i.manifests.contains("namespace: team-a"));
    }

    #[test]
    fn placeholders_and_missing_credentials_become_empty_secrets_with_notes() {
        for token in [r#""REDACTED""#, r#""<REDACTED>""#, r#""<SECRET>""#, r#""""#] {
            let input = format!(
                r#"{{"type":"Databricks","config":{{"workspaceUrl":"w.cloud.databricks.com",
                "httpPath":"/sql/1.0/warehouses/a","authenticationType":"token","token":{token},
                "catalog":"c"}}}}"#
            );
            let i = convert(&input, Some("x"), None).unwrap();
            assert_eq!(secret(&i, "x-token")["token"], "");
            assert!(i.manifests.contains("# FILL IN"), "{}", i.manifests);
            assert!(
                i.notes
                    .iter()
                    .any(|n| n.contains("placeholder") && n.contains("x-token")),
                "{:?}",
                i.notes
            );
        }
        let input = r#"{"type":"Databricks","config":{"workspaceUrl":"w.cloud.databricks.com",
            "httpPath":"/sql/1.0/warehouses/a","authenticationType":"token","catalog":"c"}}"#;
        let i = convert(input, Some("x"), None).unwrap();
        assert_eq!(secret(&i, "x-token")["token"], "");
        assert!(i.notes.iter().any(|n| n.contains("not in the payload")));
    }

    #[test]
    fn oauth_secret_and_certificate_share_one_secret_per_connection() {
        let input = r#"{"type":"Databricks","config":{"workspaceUrl":"main.cloud.databricks.com",
            "httpPath":"/sql/1.0/warehouses/a","authenticationType":"oAuthM2M",
            "oAuthClientConfig":{"clientId":"app-1","clientSecret":"s3cret"},
            "catalog":"c","additionalWorkspaceConnections":[{
              "workspaceUrl":"b.cloud.databricks.com","httpPath":"/sql/1.0/warehouses/b",
              "authenticationType":"oAuthM2M","catalogs":["k1","k2"],
              "oAuthClientConfig":{"clientId":"app-2","useCertificate":true,
                "publicCertificateThumbprint":"ABCDEF","oauthPrivateKey":"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
                "authorityUrl":"login.example.com/token","scope":"custom"}}]}}"#;
        let i = convert(input, None, None).unwrap();
        let spec = &i.integration.spec;
        let o = spec.connection.oauth_client_config.as_ref().unwrap();
        assert_eq!(o.client_id, "app-1");
        assert_eq!(o.scope, "all-apis");
        assert!(!o.use_certificate);
        assert_eq!(o.client_secret_ref.as_ref().unwrap().name, "main-oauth");
        assert_eq!(o.client_secret_ref.as_ref().unwrap().key, "clientSecret");
        assert_eq!(secret(&i, "main-oauth")["clientSecret"], "s3cret");
        let extra = &spec.additional_workspace_connections.as_ref().unwrap()[0];
        assert_eq!(extra.catalogs, ["k1", "k2"]);
        let o2 = extra.connection.oauth_client_config.as_ref().unwrap();
        assert!(o2.use_certificate);
        assert!(o2.client_secret_ref.is_none());
        assert_eq!(o2.public_certificate_thumbprint.as_deref(), Some("ABCDEF"));
        assert_eq!(o2.authority_url.as_deref(), Some("login.example.com/token"));
        assert_eq!(o2.scope, "custom");
        let key = o2.private_key_secret_ref.as_ref().unwrap();
        assert_eq!(
            (key.name.as_str(), key.key.as_str()),
            ("main-1-oauth", "tls.key")
        );
        assert!(secret(&i, "main-1-oauth")["tls.key"].starts_with("-----BEGIN"));
        let dbi = to_yaml(&i.integration);
        assert!(!dbi.contains("s3cret") && !dbi.contains("BEGIN PRIVATE"));
        assert!(
            i.notes
                .iter()
                .all(|n| !n.contains("s3cret") && !n.contains("BEGIN"))
        );
    }

    #[test]
    fn missing_oauth_config_gets_placeholders_the_schema_accepts() {
        let input = r#"{"type":"Databricks","config":{"workspaceUrl":"a.cloud.databricks.com",
            "httpPath":"/sql/1.0/warehouses/a","authenticationType":"oAuthM2M","catalog":"c"}}"#;
        let i = convert(input, None, None).unwrap();
        let o = i
            .integration
            .spec
            .connection
            .oauth_client_config
            .clone()
            .unwrap();
        assert_eq!(o.client_id, CLIENT_ID_PLACEHOLDER);
        assert_eq!(o.client_secret_ref.unwrap().name, "a-oauth");
        assert!(i.notes.iter().any(|n| n.contains("clientId")));
        assert!(
            i.notes
                .iter()
                .any(|n| n.contains("a-oauth") && n.contains("clientSecret"))
        );
    }

    #[test]
    fn a_certificate_connection_without_authority_gets_an_entra_placeholder() {
        let input = r#"{"type":"Databricks","config":{"workspaceUrl":"a.azuredatabricks.net",
            "httpPath":"/sql/1.0/warehouses/a","authenticationType":"oAuthM2M","catalog":"c",
            "oAuthClientConfig":{"clientId":"app","useCertificate":true,
              "publicCertificateThumbprint":"AB12","oauthPrivateKey":"REDACTED"}}}"#;
        let i = convert(input, None, None).unwrap();
        let o = i.integration.spec.connection.oauth_client_config.as_ref();
        let authority = o.and_then(|o| o.authority_url.as_deref()).unwrap();
        assert!(authority.contains(TENANT_PLACEHOLDER));
        assert!(i.notes.iter().any(|n| n.contains("authorityUrl")));
        assert_eq!(secret(&i, "a-oauth")["tls.key"], "");
    }

    #[test]
    fn names_derive_from_the_host_and_are_dns_safe() {
        assert_eq!(
            name_from_host("www.example-workspace.cloud.databricks.com"),
            "example-workspace"
        );
        assert_eq!(
            name_from_host("https://adb-1234567890123456.7.azuredatabricks.net:443/"),
            "adb-1234567890123456-7"
        );
        assert_eq!(name_from_host("My_Host.example.org"), "my-host-example-org");
        assert_eq!(name_from_host("---"), "databricks");
        assert!(name_from_host(&"a".repeat(300)).len() <= MAX_NAME);
        assert!(matches!(
            convert(&fixture_min(), Some("Bad_Name"), None),
            Err(ImportError::InvalidName(_))
        ));
    }

    fn fixture_min() -> String {
        r#"{"type":"Databricks","config":{"workspaceUrl":"a.cloud.databricks.com",
            "httpPath":"/sql/1.0/warehouses/a","authenticationType":"token","token":"t","catalog":"c"}}"#
            .to_string()
    }

    #[test]
    fn malformed_json_is_refused_with_line_and_column() {
        let err = convert(
            "{\n  \"type\": \"Databricks\"\n  \"config\": {}\n}",
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ImportError::Json {
                line: 3,
                column: 3,
                message: "expected `,` or `}`".into()
            }
        );
        assert!(err.to_string().contains("line 3, column 3"));
        let dup = convert("{\"type\": \"Databricks\",\n \"type\": \"x\"}", None, None).unwrap_err();
        assert!(
            matches!(&dup, ImportError::Json { line: 2, message, .. } if message.contains("duplicate key `type`")),
            "{dup}"
        );
    }

    #[test]
    fn yaml_payloads_are_read_and_bad_yaml_is_located() {
        let yaml = "type: Databricks\nautoBootstrap: true\nconfig:\n  workspaceUrl: a.cloud.databricks.com\n  httpPath: /sql/1.0/warehouses/a\n  authenticationType: token\n  token: REDACTED\n  catalog: c\n";
        let i = convert(yaml, None, None).unwrap();
        assert_eq!(i.integration.spec.catalog, "c");
        let bad = convert("type: Databricks\nconfig:\n  a: [1, 2\n", None, None).unwrap_err();
        assert!(
            matches!(bad, ImportError::Yaml { line: 3 | 4, .. }),
            "{bad}"
        );
    }

    #[test]
    fn other_types_and_lists_are_handled() {
        let snow = r#"{"type":"Snowflake","config":{"host":"x"}}"#;
        let err = convert(snow, None, None).unwrap_err();
        assert_eq!(err, ImportError::UnsupportedType("Snowflake".into()));
        assert!(err.to_string().contains("`Snowflake`"));
        let only_snow = format!("[{snow}]");
        assert!(matches!(
            convert(&only_snow, None, None),
            Err(ImportError::NoDatabricks(t)) if t == "Snowflake"
        ));
        let a = fixture_min().replacen('{', r#"{"id":"7","#, 1);
        let b = a.replace("\"7\"", "\"8\"").replace("a.cloud", "b.cloud");
        let two = format!("[{snow},{a},{b}]");
        let err = convert(&two, None, None).unwrap_err();
        assert!(err.to_string().contains("--id"), "{err}");
        let picked = convert_with(
            &two,
            &Options {
                id: Some("8".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(picked.integration.metadata.name.as_deref(), Some("b"));
        assert_eq!(
            picked.integration.metadata.annotations.unwrap()["uc-operator.dev/imported-from"],
            "integration 8"
        );
    }

    #[test]
    fn unmapped_fields_are_reported() {
        let input =
            fixture_min().replace("\"catalog\"", "\"lineage\":{\"enabled\":true},\"catalog\"");
        let i = convert(&input, None, None).unwrap();
        assert!(
            i.notes.iter().any(|n| n.contains("config.lineage")),
            "{:?}",
            i.notes
        );
    }

    #[test]
    fn shared_fixtures_convert() {
        // The integration tests apply these for real; here only the mapping of the documented
        // examples (skipped when the shared fixtures are not beside the repository).
        let Some(text) = fixture("create-additional-workspaces.json") else {
            return;
        };
        let i = convert(&text, None, None).unwrap();
        assert_eq!(
            i.integration.metadata.name.as_deref(),
            Some("example-workspace")
        );
        let names: Vec<_> = i
            .secrets
            .iter()
            .filter_map(|s| s.metadata.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "example-workspace-1-oauth",
                "example-workspace-2-oauth",
                "example-workspace-oauth"
            ]
        );
        let err = convert(
            &fixture("create-additional-workspaces.as-documented.txt").unwrap(),
            None,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, ImportError::Json { line: 13, .. }), "{err}");
        let all = fixture("get-all-response.json").unwrap();
        let snowflake = Options {
            id: Some("1".into()),
            ..Default::default()
        };
        assert_eq!(
            convert_with(&all, &snowflake).unwrap_err(),
            ImportError::UnsupportedType("Snowflake".into())
        );
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_payload_credentials() {
        let payload = r#"{"type": "Databricks", "autoBootstrap": true, "config": {
            "workspaceUrl": "ws.cloud.databricks.com", "httpPath": "/sql/1.0/warehouses/w",
            "authenticationType": "token", "token": "dapi-very-secret", "catalog": "c"}}"#;
        let imported = convert(payload, Some("ws"), None).unwrap();
        assert!(imported.manifests.contains("dapi-very-secret"));
        assert!(!format!("{imported:?}").contains("dapi-very-secret"));
    }
}
