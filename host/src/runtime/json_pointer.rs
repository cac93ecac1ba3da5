//! Reading the one value a JSON pointer (RFC 6901) names out of a JSON
//! document without building the document's tree: everything off the
//! pointer's path is scanned and skipped. The prefetcher looks up a page's
//! next cursor this way; a page of a hundred records parsed into a
//! `serde_json::Value` only to read one string cost more than the request.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The value at `pointer` in the JSON document `body`; `None` when the body
/// is not JSON, the pointer is malformed or nothing is at it. A member named
/// twice resolves to its first occurrence.
pub fn lookup(body: &[u8], pointer: &str) -> Option<Value> {
    let tokens = tokens(pointer)?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = At { path: &tokens }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    found
}

/// A pointer's reference tokens, unescaped (`~1` is `/`, `~0` is `~`);
/// `None` for a malformed pointer (neither empty nor starting with `/`).
pub fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    Some(
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// Deserializes the value at `path` below the current one, skipping the rest.
struct At<'p> {
    path: &'p [String],
}

impl<'de> DeserializeSeed<'de> for At<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Option<Value>, D::Error> {
        if self.path.is_empty() {
            serde::Deserialize::deserialize(de).map(Some)
        } else {
            de.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for At<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let (wanted, rest) = self.path.split_first().expect("a non-empty path");
        let mut found = None;
        while let Some(Key(key)) = map.next_key()? {
            if found.is_none() && key == wanted.as_str() {
                found = map.next_value_seed(At { path: rest })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        let (wanted, rest) = self.path.split_first().expect("a non-empty path");
        // RFC 6901: an index is "0" or digits without a leading zero.
        let index = (wanted == "0" || !wanted.starts_with('0'))
            .then(|| wanted.parse::<usize>().ok())
            .flatten();
        let mut found = None;
        let mut i = 0usize;
        loop {
            if Some(i) == index {
                match seq.next_element_seed(At { path: rest })? {
                    Some(value) => found = value,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }

    // A scalar has nothing below it.
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Option<Value>, E> {
        Ok(None)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<Value>, E> {
        Ok(None)
    }
}

/// An object member's name, borrowed from the document unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        de.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Whatever `Value::pointer` finds in a parsed tree, `lookup` finds too.
    #[test]
    fn agrees_with_a_parsed_tree() {
        let doc = json!({
            "results": [{"id": "1"}, {"id": "2", "tags": ["a", "b"]}],
            "paging": {"next": {"after": "200", "link": null}},
            "total": 7,
            "a/b": {"m~n": true},
            "": "empty name",
        });
        let body = serde_json::to_vec(&doc).expect("serializes");
        for pointer in [
            "",
            "/paging/next/after",
            "/paging/next/link",
            "/paging/next",
            "/results/1/id",
            "/results/1/tags/1",
            "/results/0",
            "/total",
            "/a~1b/m~0n",
            "/",
            "/results/2/id",
            "/results/01/id",
            "/results/x",
            "/total/deeper",
            "/missing",
        ] {
            assert_eq!(
                lookup(&body, pointer),
                doc.pointer(pointer).cloned(),
                "pointer {pointer:?}"
            );
        }
    }

    #[test]
    fn a_member_with_escapes_in_its_name_is_found() {
        let body = br#"{"na\u006De": {"x": 1}}"#;
        assert_eq!(lookup(body, "/name/x"), Some(json!(1)));
    }

    #[test]
    fn malformed_documents_and_pointers_find_nothing() {
        assert_eq!(lookup(br#"{"a": 1"#, "/a"), None);
        assert_eq!(lookup(br#"{"a": 1} trailing"#, "/a"), None);
        assert_eq!(lookup(br#"{"a": 1}"#, "a"), None);
        assert_eq!(lookup(b"not json", "/a"), None);
    }
}
