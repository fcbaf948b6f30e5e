//! What a hostile endpoint cannot make the client do: read an endless body, follow endless
//! pages. Each ends in a typed error naming the endpoint, after a bounded number of requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use uc_operator::databricks::{Error, ErrorKind, WorkspaceClient};

use super::*;
use crate::support::hostile::{Hostile, Reply};

const GRANTS: &str = "/api/2.1/unity-catalog/permissions/catalog/sales";

#[tokio::test]
async fn an_endless_body_is_cut_at_its_limit() {
    let server = Hostile::start(|_| Reply::Endless { status: 200 });
    let err = hostile_client(&server).me().await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { endpoint: ME, limit } if limit == 4 * 1024 * 1024),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::UnexpectedResponse);
    assert!(err.to_string().contains(ME), "{err}");
    assert_eq!(server.count(ME), 1, "not retried");

    // A token endpoint gets a much smaller limit.
    let url = format!("https://{}/oidc/v1/token", server.host());
    let config = config_at(&server.host(), warehouse(), oauth_secret("s", Some(url)));
    let c = WorkspaceClient::new(config, &settings_for(server.ca_pem())).unwrap();
    let err = c.me().await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { endpoint: "oauth_token", limit } if limit == 64 * 1024),
        "{err:?}"
    );

    // An endless error body is only cut: the status still says what happened.
    let server = Hostile::start(|_| Reply::Endless { status: 500 });
    let err = hostile_client(&server).me().await.unwrap_err();
    assert!(
        matches!(&err, Error::Api(api) if api.status == 500),
        "{err:?}"
    );
    assert!(err.to_string().len() < 2000, "the message is short");
}

#[tokio::test]
async fn the_same_page_token_forever_is_an_error() {
    let server = Hostile::start(|_| {
        Reply::json(
            200,
            json!({
                "privilege_assignments": [{"principal": "p", "privileges": ["SELECT"]}],
                "next_page_token": "again",
            }),
        )
    });
    let err = hostile_client(&server)
        .get_permissions("catalog", "sales")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedResponse, "{err:?}");
    assert!(err.to_string().contains("page token came back"), "{err}");
    assert_eq!(server.count(GRANTS), 2);
    // Every page asked for the server's page length.
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.query.contains("max_results=0"))
    );
}

#[tokio::test]
async fn pages_that_never_end_stop_at_a_bound() {
    let pages = Arc::new(AtomicUsize::new(0));
    let n = pages.clone();
    let server = Hostile::start(move |_| {
        let page = n.fetch_add(1, Ordering::SeqCst);
        Reply::json(
            200,
            json!({"bindings": [], "next_page_token": format!("t{page}")}),
        )
    });
    let err = hostile_client(&server)
        .catalog_bindings("sales")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedResponse, "{err:?}");
    assert!(err.to_string().contains("1000 pages"), "{err}");
    assert_eq!(
        server.count("/api/2.1/unity-catalog/bindings/catalog/sales"),
        1000
    );
}
