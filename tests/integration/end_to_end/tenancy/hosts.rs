//! Where credentials may go: a workspace, an `authorityUrl` and a token endpoint found by OIDC
//! discovery outside `--allowed-hosts` (here `localhost`; the servers are also reachable, and
//! certified, as `127.0.0.1`) are refused by validation, and the refused server sees nothing.

use databricks_sim::{SP_CLIENT_SECRET, SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::api::Phase;

use crate::support::hostile::{Hostile, Reply};
use crate::support::spawned::Env;
use crate::support::status::ready;

fn anything() -> Hostile {
    Hostile::start(|_| Reply::json(200, json!({})))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_outside_the_allow_list_get_no_request() {
    let mut t = Env::new("hostile-hosts", Scenario::default_for_tests()).await;
    let (workspace, authority, discovered) = (anything(), anything(), anything());
    let token_url = format!("https://127.0.0.1:{}/oidc/v1/token", discovered.port());
    // An allowed workspace whose discovery document points elsewhere.
    let discovery = Hostile::start(move |seen| {
        if seen.path == "/oidc/.well-known/oauth-authorization-server" {
            Reply::json(200, json!({"issuer": "x", "token_endpoint": token_url}))
        } else {
            Reply::json(404, json!({"error_code": "NOT_FOUND", "message": "no"}))
        }
    });
    t.trust(&[&workspace, &authority, &discovered, &discovery]);
    t.secret("sp-token", "token", SP_TOKEN).await;
    t.secret("sp-oauth", "clientSecret", SP_CLIENT_SECRET).await;
    t.start(&[]);

    let outside = format!("127.0.0.1:{}", workspace.port());
    let authority_url = format!("https://127.0.0.1:{}/oidc/v1/token", authority.port());
    let main = t.host("main");
    for manifest in [
        t.manifest_at("workspace", &outside, "workspace_catalog"),
        t.oauth_manifest("authority", &main, Some(&authority_url)),
        t.oauth_manifest("discovered", &discovery.host(), None),
    ] {
        t.apply(&manifest).await;
    }
    for name in ["workspace", "authority", "discovered"] {
        let dbi = t.wait_phase(name, Phase::CreateError).await;
        let (reason, message) = ready(&dbi);
        assert_eq!(reason, "HostNotAllowed", "{name}: {message}");
        assert!(
            message.contains("127.0.0.1") && message.contains("--allowed-hosts"),
            "{name}: {message}"
        );
    }
    assert!(
        discovery.count("/oidc/.well-known/") >= 1,
        "discovery was asked"
    );
    for (what, server) in [
        ("workspace", &workspace),
        ("authority", &authority),
        ("discovered token endpoint", &discovered),
    ] {
        assert_eq!(
            server.count(""),
            0,
            "the {what} outside the list was contacted"
        );
    }
    t.assert_no_secret_leaks("").await;
}
