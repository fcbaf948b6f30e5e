//! Lists decoded with a cap: items are counted while they are read, and one past the cap ends
//! the decode with an error, so a response of millions of tiny items (`[[],[],…]`, `[{},{},…]`,
//! a few bytes each on the wire, tens of bytes each in memory) never becomes millions of values.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A JSON array of at most `N` items (`null` reads as empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bounded<T, const N: usize>(pub Vec<T>);

impl<T, const N: usize> Default for Bounded<T, N> {
    fn default() -> Self {
        Bounded(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Bounded<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(OptionalSeq::<T>(N, PhantomData))
            .map(Bounded)
    }
}

/// Reads a sequence (or `null`) of at most `.0` items.
struct OptionalSeq<T>(usize, PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OptionalSeq<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of at most {} items", self.0)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // The size hint comes from the input: never trust it for an allocation.
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            if items.len() == self.0 {
                return Err(serde::de::Error::custom(format!(
                    "a list of more than {} items",
                    self.0
                )));
            }
            items.push(item);
        }
        Ok(items)
    }
}

/// One page of a list: the items under `key` (at most `limit`) and `next_page_token`; every
/// other field is skipped without being built.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

/// Decodes a [`Page`] whose items sit under a key known only at run time.
pub(crate) struct PageSeed<'a, T> {
    pub key: &'a str,
    pub limit: usize,
    pub marker: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for PageSeed<'_, T> {
    type Value = Page<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Page<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for PageSeed<'_, T> {
    type Value = Page<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a page with {}", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page<T>, A::Error> {
        let mut page = Page {
            items: Vec::new(),
            next_page_token: None,
        };
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if k == self.key {
                let seq = ItemsSeed::<T>(self.limit, PhantomData);
                page.items = map.next_value_seed(seq)?;
            } else if k == "next_page_token" {
                page.next_page_token = map.next_value()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(page)
    }
}

struct ItemsSeed<T>(usize, PhantomData<T>);

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for ItemsSeed<T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_option(OptionalSeq::<T>(self.0, PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_over_its_cap_is_an_error_and_under_it_is_read() {
        let ok: Bounded<Vec<u8>, 3> = serde_json::from_str("[[1],[],[2,3]]").unwrap();
        assert_eq!(ok.0, vec![vec![1], vec![], vec![2, 3]]);
        let null: Bounded<u8, 3> = serde_json::from_str("null").unwrap();
        assert!(null.0.is_empty());
        let err = serde_json::from_str::<Bounded<Vec<u8>, 3>>("[[],[],[],[]]").unwrap_err();
        assert!(err.to_string().contains("more than 3 items"), "{err}");
    }

    #[test]
    fn a_page_keeps_its_items_and_token_and_skips_the_rest() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Item {
            name: String,
        }
        let seed = |limit| PageSeed::<Item> {
            key: "schemas",
            limit,
            marker: PhantomData,
        };
        let text = r#"{"junk": [[{}],{"a":1}], "schemas": [{"name":"a"},{"name":"b"}], "next_page_token": "t"}"#;
        let page = seed(2)
            .deserialize(&mut serde_json::Deserializer::from_str(text))
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_page_token.as_deref(), Some("t"));
        let err = seed(1)
            .deserialize(&mut serde_json::Deserializer::from_str(text))
            .err()
            .unwrap();
        assert!(err.to_string().contains("more than 1 items"), "{err}");
        let empty = seed(1)
            .deserialize(&mut serde_json::Deserializer::from_str(
                r#"{"schemas": null}"#,
            ))
            .unwrap();
        assert!(empty.items.is_empty() && empty.next_page_token.is_none());
    }
}
