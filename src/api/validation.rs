//! Every rule that can be checked without Databricks, added to the derived OpenAPI schema so the
//! API server refuses a bad manifest with a message that names the field.
//!
//! Kept in one place (rather than spread over derive attributes) so the whole rule set reads as a
//! table and the flattened connection fields get the same rules in the spec and in
//! `additionalWorkspaceConnections`.

use serde_json::{Value, json};

/// A host, `host:port` or `https://host[:port]`; no path, query or other scheme.
pub const WORKSPACE_URL_PATTERN: &str = "^(https://)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?/?$";
/// A SQL warehouse path or an all-purpose cluster path; leading slash optional.
pub const HTTP_PATH_PATTERN: &str =
    "^/?(sql/1[.]0/(warehouses|endpoints)/[^/?]+/?|sql/protocolv1/o/[0-9]+/[^/?&]+/?)$";
/// A Unity Catalog identifier.
pub const CATALOG_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// A Go-style duration made of whole units (`90s`, `1h30m`).
/// A cloud storage URL for `MANAGED LOCATION`: a scheme Unity Catalog accepts and a non-empty
/// bucket or container; no quote, backslash or space can get in (it becomes a SQL string literal).
pub const STORAGE_ROOT_PATTERN: &str =
    "^(s3|abfss|gs|r2)://[A-Za-z0-9@._-]+(/[A-Za-z0-9._~@%+=:,/-]*)?$";
pub const DURATION_PATTERN: &str = "^([0-9]+(ns|us|ms|s|m|h))+$";

fn rule(rule: &str, message: &str) -> Value {
    json!({ "rule": rule, "message": message })
}

fn rule_at(rule: &str, message: &str, field_path: &str, reason: &str) -> Value {
    json!({ "rule": rule, "message": message, "fieldPath": field_path, "reason": reason })
}

/// Rules shared by the main connection (flattened into `spec`) and each additional connection.
fn connection_rules() -> Vec<Value> {
    vec![
        rule_at(
            "self.authenticationType != 'token' || has(self.tokenSecretRef)",
            "tokenSecretRef is required when authenticationType is token",
            ".tokenSecretRef",
            "FieldValueRequired",
        ),
        rule_at(
            "self.authenticationType == 'token' || !has(self.tokenSecretRef)",
            "tokenSecretRef is only allowed when authenticationType is token",
            ".tokenSecretRef",
            "FieldValueForbidden",
        ),
        rule_at(
            "self.authenticationType != 'oAuthM2M' || has(self.oAuthClientConfig)",
            "oAuthClientConfig is required when authenticationType is oAuthM2M",
            ".oAuthClientConfig",
            "FieldValueRequired",
        ),
        rule_at(
            "self.authenticationType == 'oAuthM2M' || !has(self.oAuthClientConfig)",
            "oAuthClientConfig is only allowed when authenticationType is oAuthM2M",
            ".oAuthClientConfig",
            "FieldValueForbidden",
        ),
    ]
}

/// An `authorityUrl` the operator treats as Microsoft Entra ID: the paths of Entra's v1 and v2.0
/// token endpoints, or an Entra login host (`databricks::connection::entra_endpoint`).
pub const ENTRA_AUTHORITY_PATTERN: &str = "(?i)^(https://)?([^/]*/.*oauth2/(v2[.]0/)?token/?([?#].*)?|(login[.]microsoftonline[.](com|us)|login[.]chinacloudapi[.]cn|login[.]partner[.]microsoftonline[.]cn)(:[0-9]+)?(/.*)?)$";
/// Audiences every Kubernetes API server accepts by default; the cluster's own issuer is checked
/// at run time (`workload_identity.rs`).
pub const KUBERNETES_AUDIENCE_PATTERN: &str = "(?i)^(https://)?(kubernetes|kubernetes[.]default|kubernetes[.]default[.]svc|kubernetes[.]default[.]svc[.]cluster[.]local)(:443)?/?$";

fn oauth_rules() -> Vec<Value> {
    let cert = "(has(self.useCertificate) && self.useCertificate)";
    let entra = format!(
        "(has(self.authorityUrl) && self.authorityUrl.matches('{ENTRA_AUTHORITY_PATTERN}'))"
    );
    vec![
        rule_at(
            &format!(
                "[has(self.clientSecretRef), {cert}, has(self.workloadIdentity)].filter(x, x).size() == 1"
            ),
            "exactly one of clientSecretRef, useCertificate: true and workloadIdentity is required",
            ".clientSecretRef",
            "FieldValueRequired",
        ),
        // Databricks federation policies have no default audience the operator could know.
        rule_at(
            &format!(
                "!has(self.workloadIdentity) || has(self.workloadIdentity.audience) || {entra}"
            ),
            "workloadIdentity.audience (the federation policy's audience) is required unless authorityUrl is a Microsoft Entra token endpoint",
            ".workloadIdentity.audience",
            "FieldValueRequired",
        ),
        rule_at(
            &format!("!{cert} || has(self.publicCertificateThumbprint)"),
            "publicCertificateThumbprint is required when useCertificate is true",
            ".publicCertificateThumbprint",
            "FieldValueRequired",
        ),
        rule_at(
            &format!("!{cert} || has(self.privateKeySecretRef)"),
            "privateKeySecretRef is required when useCertificate is true",
            ".privateKeySecretRef",
            "FieldValueRequired",
        ),
        // Certificate credentials are an Entra ID feature: the workspace's own endpoint does not
        // take JWT client assertions, so there is nothing to discover.
        rule_at(
            &format!("!{cert} || has(self.authorityUrl)"),
            "authorityUrl (the Entra ID token endpoint) is required when useCertificate is true",
            ".authorityUrl",
            "FieldValueRequired",
        ),
    ]
}

/// Rules on the connection's own fields (they live in the connection's `properties`).
fn connection_field_rules(props: &mut Value) {
    add(
        &mut props["workspaceUrl"],
        rule(
            &format!("self.matches('{WORKSPACE_URL_PATTERN}')"),
            "workspaceUrl must be a host, host:port or https://host[:port], without a path, query or other scheme",
        ),
    );
    add(
        &mut props["httpPath"],
        rule(
            &format!("self.matches('{HTTP_PATH_PATTERN}')"),
            "httpPath must be a SQL warehouse path /sql/1.0/warehouses/<id> (or /sql/1.0/endpoints/<id>) or a cluster path sql/protocolv1/o/<org-id>/<cluster-id>",
        ),
    );
    let oauth = &mut props["oAuthClientConfig"];
    for r in oauth_rules() {
        add(oauth, r);
    }
    add(
        &mut oauth["properties"]["workloadIdentity"]["properties"]["audience"],
        rule(
            &format!("!self.matches('{KUBERNETES_AUDIENCE_PATTERN}')"),
            "workloadIdentity.audience must not be an audience the Kubernetes API server accepts: the token would let its bearer act as the ServiceAccount in this cluster",
        ),
    );
    add(
        &mut oauth["properties"]["authorityUrl"],
        rule(
            "!self.contains('://') || self.startsWith('https://')",
            "authorityUrl must be an https:// URL (https:// is assumed without a scheme)",
        ),
    );
}

fn add(schema: &mut Value, rule: Value) {
    assert!(
        schema.is_object(),
        "validation target missing from the derived schema"
    );
    let rules = schema
        .as_object_mut()
        .expect("object")
        .entry("x-kubernetes-validations")
        .or_insert_with(|| json!([]));
    rules.as_array_mut().expect("array").push(rule);
}

/// Adds the rules to the resource's OpenAPI v3 schema (the `openAPIV3Schema` value).
// Long: one flat list of every rule, so the whole table reads in one place.
pub fn apply(root: &mut Value) {
    let spec = &mut root["properties"]["spec"];
    for r in connection_rules() {
        add(spec, r);
    }
    add(
        spec,
        rule_at(
            "!has(oldSelf.storageRoot) || (has(self.storageRoot) && self.storageRoot == oldSelf.storageRoot)",
            "storageRoot is immutable once set",
            ".storageRoot",
            "FieldValueInvalid",
        ),
    );
    add(
        spec,
        rule_at(
            "!self.adoptExistingCatalog || self.autoBootstrap",
            "adoptExistingCatalog applies to automatic setup only (autoBootstrap: true)",
            ".adoptExistingCatalog",
            "FieldValueForbidden",
        ),
    );

    let props = &mut spec["properties"];
    connection_field_rules(props);

    add(
        &mut props["catalog"],
        rule(
            &format!("self.matches('{CATALOG_PATTERN}')"),
            "catalog must start with a letter or underscore and contain only letters, digits and underscores",
        ),
    );
    add(
        &mut props["catalog"],
        rule("self == oldSelf", "catalog is immutable"),
    );
    let interval = &mut props["revalidationInterval"];
    add(
        interval,
        rule(
            &format!("self.matches('{DURATION_PATTERN}')"),
            "revalidationInterval must be a duration such as 30m, 1h or 2h30m",
        ),
    );
    add(
        interval,
        rule(
            &format!("!self.matches('{DURATION_PATTERN}') || duration(self) >= duration('1m')"),
            "revalidationInterval must be at least 1m",
        ),
    );

    add(
        &mut props["storageRoot"],
        rule(
            &format!("self.matches('{STORAGE_ROOT_PATTERN}')"),
            "storageRoot must be a cloud storage URL: s3://, abfss://, gs:// or r2:// followed by a bucket or container",
        ),
    );
    let governed = &mut props["governedCatalogs"];
    governed["x-kubernetes-list-type"] = json!("set");
    add(
        &mut governed["items"],
        rule(
            &format!("self.matches('{CATALOG_PATTERN}')"),
            "each governed catalog must start with a letter or underscore and contain only letters, digits and underscores",
        ),
    );
    add(
        spec,
        rule_at(
            "!has(self.governedCatalogs) || self.governedCatalogs.all(c, c != self.catalog)",
            "governedCatalogs must not list catalog, the integration's own catalog",
            ".governedCatalogs",
            "FieldValueInvalid",
        ),
    );
    add(
        spec,
        rule_at(
            "!has(self.governedCatalogs) || !has(self.additionalWorkspaceConnections) || self.governedCatalogs.all(c, self.additionalWorkspaceConnections.all(a, !(c in a.catalogs)))",
            "a governed catalog of the main workspace must not also be listed in an additional workspace connection's catalogs",
            ".governedCatalogs",
            "FieldValueInvalid",
        ),
    );
    let props = &mut spec["properties"];
    let additional = &mut props["additionalWorkspaceConnections"];
    add(
        additional,
        rule(
            "self.all(a, a.catalogs.all(c, self.filter(b, c in b.catalogs).size() == 1))",
            "a catalog may appear in at most one additional workspace connection",
        ),
    );
    let item = &mut additional["items"];
    for r in connection_rules() {
        add(item, r);
    }
    connection_field_rules(&mut item["properties"]);
    let catalogs = &mut item["properties"]["catalogs"];
    catalogs["x-kubernetes-list-type"] = json!("set");
    add(
        &mut catalogs["items"],
        rule(
            &format!("self.matches('{CATALOG_PATTERN}')"),
            "each catalog must start with a letter or underscore and contain only letters, digits and underscores",
        ),
    );

    // The setup ConfigMap is `<name>-uc-setup`: a longer name could not have one.
    add(
        root,
        rule(
            "self.metadata.name.size() <= 244",
            "metadata.name may have at most 244 characters (the setup ConfigMap <name>-uc-setup must fit in 253)",
        ),
    );

    let status = &mut root["properties"]["status"]["properties"];
    // kstatus and server-side apply merge conditions by type.
    status["conditions"]["x-kubernetes-list-type"] = json!("map");
    status["conditions"]["x-kubernetes-list-map-keys"] = json!(["type"]);
    // A test's result is free-form JSON (e.g. `[{"1": 1}]`).
    status["validationResults"]["properties"]["validationTests"]["items"]["properties"]["result"] = json!({
        "description": "The test's result, e.g. [{\"1\": 1}] for the basic connection test.",
        "x-kubernetes-preserve-unknown-fields": true
    });
}
