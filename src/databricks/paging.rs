//! The one pagination loop of the Unity Catalog lists.

use std::collections::HashSet;
use std::marker::PhantomData;

use reqwest::Method;
use serde::de::{DeserializeOwned, DeserializeSeed};

use super::WorkspaceClient;
use super::bounded::PageSeed;
use super::error::Error;

/// The most pages one list follows, and the most bytes all its pages may hold: far past any
/// real list, and a bound on what an endless or repeating list can cost.
const MAX_PAGES: usize = 1000;
const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;
/// The most items one list may hold, counted while pages are decoded: the operator lists its
/// own catalog's schemas, tables, grants and bindings, a handful each.
const MAX_LIST_ITEMS: usize = 10_000;

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
            // Typed and counted while decoded: items past the list's room are never built.
            let seed = PageSeed::<T> {
                key,
                limit: MAX_LIST_ITEMS - out.len(),
                marker: PhantomData,
            };
            let page = seed
                .deserialize(&mut serde_json::Deserializer::from_slice(&body))
                .map_err(|e| Error::Protocol {
                    endpoint,
                    message: format!(
                        "could not read {key}: {}",
                        super::truncate(&e.to_string(), 200)
                    ),
                })?;
            out.extend(page.items);
            match page.next_page_token.as_deref() {
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
