//! The one pagination loop of the Unity Catalog lists.

use std::collections::HashSet;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::WorkspaceClient;
use super::error::Error;

/// The most pages one list follows, and the most bytes all its pages may hold: far past any
/// real list, and a bound on what an endless or repeating list can cost.
const MAX_PAGES: usize = 1000;
const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

impl WorkspaceClient {
    /// Every item of a paged list under `key`, following `next_page_token` through empty
    /// pages. `max_results=0` asks for the server's page length, which the SDK docs recommend
    /// over unpaginated calls (databricks-sdk-go `service/catalog/model.go`, e.g.
    /// `GetBindingsRequest.MaxResults`). A token seen twice, too many pages or too many bytes
    /// end in an error instead of a loop.
    pub(super) async fn paged<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        mut query: Vec<(&'static str, String)>,
        key: &str,
    ) -> Result<Vec<T>, Error> {
        query.push(("max_results", "0".to_owned()));
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut bytes = 0usize;
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = query.clone();
            q.extend(token.take().map(|t| ("page_token", t)));
            let body = self.call(Method::GET, endpoint, path, q, None).await?;
            bytes = bytes.saturating_add(body.len());
            if bytes > MAX_LIST_BYTES {
                return Err(Error::BodyTooLarge {
                    endpoint,
                    limit: MAX_LIST_BYTES,
                });
            }
            let mut page: Value = serde_json::from_slice(&body).map_err(|_| Error::Protocol {
                endpoint,
                message: "a page that is not JSON".into(),
            })?;
            let items = page
                .get_mut(key)
                .map(Value::take)
                .filter(|i| !i.is_null())
                .unwrap_or(Value::Array(vec![]));
            let items: Vec<T> = serde_json::from_value(items).map_err(|e| Error::Protocol {
                endpoint,
                message: format!("could not read {key}: {e}"),
            })?;
            out.extend(items);
            match page.get("next_page_token").and_then(Value::as_str) {
                None | Some("") => return Ok(out),
                Some(t) if !seen.insert(t.to_owned()) => {
                    return Err(Error::Protocol {
                        endpoint,
                        message: "the same page token came back again: the list never ends".into(),
                    });
                }
                Some(t) => token = Some(t.to_owned()),
            }
        }
        Err(Error::Protocol {
            endpoint,
            message: format!("the list goes on past {MAX_PAGES} pages"),
        })
    }
}
