//! The Databricks client against the simulator and against a hostile local HTTPS server
//! (`hostile.rs`): authentication, retries, SQL on warehouses and clusters, Unity Catalog reads,
//! allowed hosts, typed errors, bounded everything, and no secret in any error or log line.
//! No test asserts on how long something took: they count requests instead.

mod auth;
mod bounds;
mod compute;
mod hosts;
mod leaks;
mod retries;
mod sql;
mod unity;

use std::time::Duration;

use databricks_sim::{SP_CLIENT_ID, Scenario, Simulator, WAREHOUSE_ID};
use uc_operator::databricks::{
    AllowedHosts, AuthConfig, ClientSettings, Compute, ConnectionConfig, PollPolicy, RetryPolicy,
    WorkspaceClient, parse_workspace_url,
};
use uc_operator::secret::SecretString;

use crate::support::hostile::Hostile;

const ME: &str = "/api/2.0/preview/scim/v2/Me";

async fn start(scenario: Scenario) -> Simulator {
    Simulator::start(scenario).await.expect("simulator starts")
}

/// Fast policies; credentials may go to `localhost` only (the hostile server's second name,
/// `127.0.0.1`, stays refused for the allowed-hosts tests).
fn settings_for(ca_pem: String) -> ClientSettings {
    ClientSettings {
        ca_bundle_pem: Some(ca_pem),
        retry: RetryPolicy {
            total_budget: Duration::from_secs(30),
            per_request_timeout: Duration::from_secs(10),
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(60),
        },
        poll: PollPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            give_up_after: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(10),
        },
        allowed_hosts: AllowedHosts::parse("localhost").unwrap(),
        ..ClientSettings::default()
    }
}

fn settings(sim: &Simulator) -> ClientSettings {
    settings_for(sim.ca_pem())
}

fn warehouse() -> Compute {
    Compute::Warehouse {
        id: WAREHOUSE_ID.into(),
    }
}

fn config_at(host: &str, compute: Compute, auth: AuthConfig) -> ConnectionConfig {
    let (host, port) = parse_workspace_url(host, 443).unwrap();
    ConnectionConfig {
        host,
        port,
        compute,
        auth,
    }
}

fn config(sim: &Simulator, compute: Compute, auth: AuthConfig) -> ConnectionConfig {
    config_at(&sim.workspace("main").host, compute, auth)
}

fn client(sim: &Simulator, auth: AuthConfig) -> WorkspaceClient {
    WorkspaceClient::new(config(sim, warehouse(), auth), &settings(sim)).unwrap()
}

/// A client of the hostile server with a token, on a warehouse.
fn hostile_client(server: &Hostile) -> WorkspaceClient {
    hostile_client_with(server, warehouse(), settings_for(server.ca_pem()))
}

fn hostile_client_with(
    server: &Hostile,
    compute: Compute,
    settings: ClientSettings,
) -> WorkspaceClient {
    let config = config_at(&server.host(), compute, token("dapi-hostile"));
    WorkspaceClient::new(config, &settings).unwrap()
}

fn token(t: &str) -> AuthConfig {
    AuthConfig::Token(SecretString::from(t))
}

fn oauth_secret(secret: &str, token_url: Option<String>) -> AuthConfig {
    AuthConfig::OAuthSecret {
        client_id: SP_CLIENT_ID.into(),
        client_secret: SecretString::from(secret),
        token_url,
        scope: "all-apis".into(),
    }
}

fn certificate_auth(sim: &Simulator, thumbprint_hex: &str, key_pem: &str) -> AuthConfig {
    AuthConfig::OAuthCertificate {
        client_id: SP_CLIENT_ID.into(),
        thumbprint_hex: thumbprint_hex.into(),
        private_key_pem: SecretString::from(key_pem),
        token_url: entra_url(sim),
        scope: "all-apis".into(),
        certificate_pem: None,
    }
}

fn token_requests(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/token"))
        .count()
}

fn entra_url(sim: &Simulator) -> String {
    // No scheme: `https://` is assumed, as for a configured authorityUrl.
    format!("{}/tenant-1/oauth2/v2.0/token", sim.workspace("main").host)
}

/// A SCIM `Me` answer.
fn scim_user() -> crate::support::hostile::Reply {
    crate::support::hostile::Reply::json(
        200,
        serde_json::json!({"userName": "app-1", "groups": []}),
    )
}
