//! The payload model: what an `/integrations` body or response says, read and type-checked, with
//! the fields that have no counterpart collected for a note.

use serde_json::Value;

use super::ImportError;
use super::error::invalid;
use super::fields::{Credential, Obj, as_int};
use super::select::id_of;
use crate::api::{Audit, AuthenticationType};

pub(super) struct Payload {
    pub(super) auto_bootstrap: bool,
    pub(super) id: Option<String>,
    /// The integration's status in the governance tool (`GET` responses only).
    pub(super) status: Option<String>,
    pub(super) main: ConnIn,
    pub(super) catalog: String,
    pub(super) audit: Option<Audit>,
    pub(super) additional: Vec<(ConnIn, Vec<String>)>,
    /// Paths of the fields no spec field takes (`config.lineage`).
    pub(super) ignored: Vec<String>,
}

/// One connection (the main one or an additional one) as the payload gives it.
pub(super) struct ConnIn {
    /// Where it is in the payload (`config`, `config.additionalWorkspaceConnections[0]`).
    pub(super) path: String,
    pub(super) workspace_url: String,
    pub(super) port: Option<i32>,
    pub(super) http_path: String,
    pub(super) auth: AuthenticationType,
    pub(super) token: Credential,
    pub(super) oauth: Option<OAuthIn>,
}

pub(super) struct OAuthIn {
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Credential,
    pub(super) authority_url: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) use_certificate: bool,
    pub(super) thumbprint: Option<String>,
    pub(super) private_key: Credential,
}

/// Top-level fields of a response that are read elsewhere or deliberately dropped: `type` and
/// `id` by selection, `status` by [`super::state`], `validationResults` has no counterpart worth
/// a note (the operator runs its own tests).
const RESPONSE_FIELDS: [&str; 3] = ["type", "id", "validationResults"];

impl Payload {
    pub(super) fn from_value(v: Value) -> Result<Self, ImportError> {
        let top = Obj::new("payload", &v)?;
        // A bare `config` object is accepted too: people copy just that part.
        let bare = top.map.get("config").is_none() && top.map.contains_key("workspaceUrl");
        let config = if bare {
            Obj::new("config", &v)?
        } else {
            let config = top
                .get("config")
                .ok_or_else(|| invalid("payload.config", "is required"))?;
            Obj::new("config", config)?
        };
        let (auto_bootstrap, status) = if bare {
            (true, None)
        } else {
            for k in RESPONSE_FIELDS {
                top.get(k);
            }
            // Leniently: a status that is not a string says nothing about the catalog.
            let status = top
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_string);
            (top.bool("autoBootstrap")?.unwrap_or(true), status)
        };
        let main = ConnIn::read(&config)?;
        let catalog = config.required("catalog")?;
        let mut ignored = Vec::new();
        let audit = read_audit(&config, &mut ignored)?;
        let additional = read_additional(&config, &mut ignored)?;
        ignored.extend(config.unused());
        if !bare {
            ignored.extend(top.unused());
        }
        Ok(Payload {
            auto_bootstrap,
            id: id_of(&v),
            status,
            main,
            catalog,
            audit,
            additional,
            ignored,
        })
    }
}

fn read_audit(config: &Obj, ignored: &mut Vec<String>) -> Result<Option<Audit>, ImportError> {
    let Some(a) = config.get("audit") else {
        return Ok(None);
    };
    let a = Obj::new(config.at("audit"), a)?;
    let enabled = a.bool("enabled")?.unwrap_or(false);
    let workspace_ids = match a.list("workspaceIds")? {
        None => None,
        Some(ids) => Some(a.each("workspaceIds", ids, "a workspace id", as_int)?),
    };
    ignored.extend(a.unused());
    Ok(Some(Audit {
        enabled,
        workspace_ids,
    }))
}

fn read_additional(
    config: &Obj,
    ignored: &mut Vec<String>,
) -> Result<Vec<(ConnIn, Vec<String>)>, ImportError> {
    let Some(items) = config.list("additionalWorkspaceConnections")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let obj = Obj::new(
            format!("{}[{i}]", config.at("additionalWorkspaceConnections")),
            item,
        )?;
        let conn = ConnIn::read(&obj)?;
        let catalogs = match obj.list("catalogs") {
            Ok(Some(c)) if !c.is_empty() => obj.each("catalogs", c, "a catalog name", |c| {
                c.as_str().map(str::to_string)
            })?,
            _ => return Err(invalid(obj.at("catalogs"), "a non-empty list is required")),
        };
        ignored.extend(obj.unused());
        out.push((conn, catalogs));
    }
    Ok(out)
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

    /// An `oAuthM2M` connection whose payload leaves the whole config out (an update).
    pub(super) fn empty() -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Payload, String> {
        Payload::from_value(v).map_err(|e| e.to_string())
    }

    fn config(extra: Value) -> Value {
        let mut c = json!({"workspaceUrl": "w", "httpPath": "/sql/1.0/warehouses/a",
            "authenticationType": "token", "token": "t", "catalog": "c"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    }

    #[test]
    fn a_response_gives_its_id_and_status_and_drops_its_results() {
        let p = read(json!({"id": "5", "status": "enabled", "type": "Databricks",
            "validationResults": {}, "autoBootstrap": false, "config": config(json!({}))}))
        .unwrap();
        assert_eq!(
            (p.id.as_deref(), p.status.as_deref()),
            (Some("5"), Some("enabled"))
        );
        assert!(!p.auto_bootstrap);
        assert!(p.ignored.is_empty(), "{:?}", p.ignored);
        let odd = read(json!({"status": {"x": 1}, "config": config(json!({}))})).unwrap();
        assert_eq!(odd.status, None);
    }

    #[test]
    fn a_bare_config_is_automatic_setup_without_status() {
        let p = read(config(json!({"status": "enabled"}))).unwrap();
        assert!(p.auto_bootstrap);
        assert_eq!(p.status, None);
        assert_eq!(p.ignored, ["config.status"]);
    }

    #[test]
    fn the_authentication_type_is_inferred_when_left_out() {
        let oauth = config(json!({"authenticationType": null, "token": null,
            "oAuthClientConfig": {"clientId": "app"}}));
        let p = read(json!({"config": oauth})).unwrap();
        assert_eq!(p.main.auth, AuthenticationType::OAuthM2M);
        assert_eq!(p.main.oauth.unwrap().client_id.as_deref(), Some("app"));
        let token = read(json!({"config": config(json!({"authenticationType": null}))})).unwrap();
        assert_eq!(token.main.auth, AuthenticationType::Token);
        let neither = config(json!({"authenticationType": null, "token": null}));
        assert_eq!(
            read(json!({"config": neither})).err().unwrap(),
            "config.authenticationType: is required"
        );
        let bad = config(json!({"authenticationType": "password"}));
        assert!(
            read(json!({"config": bad}))
                .err()
                .unwrap()
                .contains("`password`")
        );
    }

    #[test]
    fn ports_and_lists_are_checked() {
        let port = |p: Value| read(json!({"config": config(json!({"port": p}))}));
        assert_eq!(port(json!("8443")).unwrap().main.port, Some(8443));
        assert_eq!(
            port(json!(0)).err().unwrap(),
            "config.port: 0 is not a port"
        );
        let audit = config(json!({"audit": {"enabled": true, "workspaceIds": "1"}}));
        assert_eq!(
            read(json!({"config": audit})).err().unwrap(),
            "config.audit.workspaceIds: expected a list, found a string"
        );
        let extra = |c: Value| {
            let item = json!({"workspaceUrl": "b", "httpPath": "/sql/1.0/warehouses/b",
                "token": "t", "catalogs": c});
            read(json!({"config": config(json!({"additionalWorkspaceConnections": [item]}))}))
        };
        let empty =
            "config.additionalWorkspaceConnections[0].catalogs: a non-empty list is required";
        assert_eq!(extra(json!([])).err().unwrap(), empty);
        assert_eq!(extra(json!("k")).err().unwrap(), empty);
        assert!(
            extra(json!([1]))
                .err()
                .unwrap()
                .contains("not a catalog name: 1")
        );
        assert_eq!(extra(json!(["k"])).unwrap().additional[0].1, ["k"]);
    }

    #[test]
    fn unmapped_fields_are_collected_from_every_level() {
        let item = json!({"workspaceUrl": "b", "httpPath": "/sql/1.0/warehouses/b",
            "token": "t", "catalogs": ["k"], "extra": 1});
        let c = config(
            json!({"lineage": {}, "audit": {"enabled": false, "scope": "x"},
            "additionalWorkspaceConnections": [item]}),
        );
        let p = read(json!({"config": c, "owner": "me"})).unwrap();
        assert_eq!(
            p.ignored,
            [
                "config.audit.scope",
                "config.additionalWorkspaceConnections[0].extra",
                "config.lineage",
                "payload.owner"
            ]
        );
    }

    #[test]
    fn a_payload_without_config_is_refused() {
        assert_eq!(
            read(json!({"type": "Databricks"})).err().unwrap(),
            "payload.config: is required"
        );
    }
}
