//! `--allowed-hosts`: no request, and so no credential, ever reaches a refused host, whether
//! it is the workspace, a configured authority URL or a token endpoint found by discovery.

use serde_json::json;
use uc_operator::databricks::{AllowedHosts, Error, ErrorKind, WorkspaceClient};

use super::*;
use crate::support::hostile::{Hostile, Reply};

fn refused_host(err: &Error) -> &str {
    match err {
        Error::HostNotAllowed { host } => host,
        other => panic!("expected HostNotAllowed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_workspace_outside_the_allowed_hosts_gets_no_request() {
    let server = Hostile::start(|_| scim_user());
    let mut s = settings_for(server.ca_pem());
    s.allowed_hosts = AllowedHosts::default();
    let c = hostile_client_with(&server, warehouse(), s);
    let err = c.me().await.unwrap_err();
    assert_eq!(refused_host(&err), "localhost");
    assert_eq!(err.kind(), ErrorKind::HostNotAllowed);
    let text = err.to_string();
    assert!(
        text.contains("localhost") && text.contains("--allowed-hosts"),
        "{text}"
    );
    assert!(c.execute("SELECT 1").await.is_err());
    assert_eq!(server.count(""), 0, "nothing reached the server");
}

#[tokio::test]
async fn an_authority_url_outside_the_allowed_hosts_gets_no_request() {
    let workspace = Hostile::start(|_| scim_user());
    let authority = Hostile::start(|_| Reply::json(200, json!({"access_token": "t"})));
    // Only `localhost` is allowed; the authority is the same machine under another name.
    let url = format!(
        "https://127.0.0.1:{}/tenant/oauth2/v2.0/token",
        authority.port()
    );
    let auth = oauth_secret("s3cret", Some(url));
    let config = config_at(&workspace.host(), warehouse(), auth);
    let c = WorkspaceClient::new(config, &settings_for(workspace.ca_pem())).unwrap();
    let err = c.me().await.unwrap_err();
    assert_eq!(refused_host(&err), "127.0.0.1");
    assert_eq!(authority.count(""), 0);
    assert_eq!(workspace.count(""), 0, "no call without a token");
}

#[tokio::test]
async fn a_discovered_token_endpoint_outside_the_allowed_hosts_gets_no_request() {
    let elsewhere = Hostile::start(|_| Reply::json(200, json!({"access_token": "t"})));
    let token_endpoint = format!("https://127.0.0.1:{}/oidc/v1/token", elsewhere.port());
    let workspace = Hostile::start(move |seen| {
        if seen.path.starts_with("/oidc/.well-known") {
            Reply::json(200, json!({"token_endpoint": token_endpoint.clone()}))
        } else {
            scim_user()
        }
    });
    let config = config_at(&workspace.host(), warehouse(), oauth_secret("s3cret", None));
    let c = WorkspaceClient::new(config, &settings_for(workspace.ca_pem())).unwrap();
    let err = c.me().await.unwrap_err();
    assert_eq!(refused_host(&err), "127.0.0.1");
    assert_eq!(elsewhere.count(""), 0);
    // Only the discovery document, which carries no credential, was fetched.
    let paths: Vec<String> = workspace.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/oidc/.well-known/oauth-authorization-server"]);
}
