//! Workload identity in tests: the simulator's service principal trusting a namespace's
//! ServiceAccount, the API server being the issuer, and the manifests that use it.

use databricks_sim::{FederationPolicySpec, SP_APP_ID, SP_CLIENT_ID, Scenario};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::harness::control_plane;

pub const SA: &str = "uc-governance";
pub const AUDIENCE: &str = "databricks-federation";
pub const ENTRA_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The default scenario whose service principal trusts `ns`'s ServiceAccount [`SA`] through a
/// Databricks federation policy (audience [`AUDIENCE`]) and an Entra federated credential
/// (the default Entra audience), the issuer being the test's API server.
pub fn trusting(ns: &str, clock_offset_secs: i64) -> Scenario {
    let (issuer, ca) = control_plane().public_issuer();
    let policy = |audience: &str| FederationPolicySpec {
        issuer: issuer.clone(),
        audiences: vec![audience.into()],
        subject: format!("system:serviceaccount:{ns}:{SA}"),
    };
    let mut scenario = Scenario::default_for_tests();
    let sp = scenario.principal_mut(SP_APP_ID);
    *sp = sp
        .clone()
        .with_federation_policy(SP_CLIENT_ID, policy(AUDIENCE))
        .with_federated_credential(SP_CLIENT_ID, policy(ENTRA_AUDIENCE));
    scenario.issuer_ca_pem = Some(ca);
    scenario.clock_offset_secs = clock_offset_secs;
    scenario
}

/// An OAuth integration for the workspace at `host` proving its identity with ServiceAccount
/// `sa` (at the workspace's endpoint, or at the simulator's Entra endpoint when `entra`).
pub fn manifest(name: &str, host: &str, sa: &str, audience: Option<&str>, entra: bool) -> Value {
    let catalog = format!("{}_catalog", name.replace('-', "_"));
    let mut m = super::manifests::integration(name, host, &catalog);
    let spec = m["spec"].as_object_mut().unwrap();
    spec.remove("tokenSecretRef");
    spec.insert("authenticationType".into(), json!("oAuthM2M"));
    let mut wi = json!({"serviceAccountName": sa});
    if let Some(a) = audience {
        wi["audience"] = json!(a);
    }
    let mut oauth = json!({"clientId": SP_CLIENT_ID, "workloadIdentity": wi});
    if entra {
        oauth["authorityUrl"] = json!(format!("https://{host}/tenant-1/oauth2/v2.0/token"));
    }
    spec.insert("oAuthClientConfig".into(), oauth);
    m
}

/// Creates or replaces ServiceAccount `name` of `ns`, opted in as a credential or not.
pub async fn service_account(client: &kube::Client, ns: &str, name: &str, labelled: bool) {
    let mut manifest = json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "labels": {}},
    });
    if labelled {
        manifest["metadata"]["labels"]["uc-operator.dev/credentials"] = json!("true");
    }
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::apply("tests").force(),
            &Patch::Apply(&manifest),
        )
        .await
        .unwrap();
}
