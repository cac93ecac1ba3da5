//! Opaque paging cursors that carry connector state.
//!
//! The host stores the cursor a page returns and hands it back for the next
//! page; nothing else survives between calls. When a provider's own cursor is
//! not enough (a search that pages by offset *and* remembers a `since`, a pull
//! that walks several endpoints), pack the state into a struct and encode it:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use switchyard_connector_sdk::cursor;
//!
//! #[derive(Serialize, Deserialize, PartialEq, Debug)]
//! struct State { offset: u64, since: Option<String> }
//!
//! let next = cursor::encode(&State { offset: 200, since: None })?;
//! let back: State = cursor::decode(&next)?;
//! assert_eq!(back.offset, 200);
//! # Ok::<(), switchyard_connector_sdk::ConnectorError>(())
//! ```
//!
//! The encoding is URL-safe base64 of the JSON, so it survives any transport.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ConnectorError;

/// Encodes `state` as an opaque cursor string.
pub fn encode<T: Serialize + ?Sized>(state: &T) -> Result<String, ConnectorError> {
    let json = serde_json::to_vec(state)
        .map_err(|err| ConnectorError::fatal(format!("could not encode a cursor: {err}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// Decodes a cursor made by [`encode`]. Anything else (a cursor from another
/// connector version with a different state shape, a mangled string) is a
/// `fatal` error: the pull cannot resume from it.
pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, ConnectorError> {
    let invalid = |why: String| {
        ConnectorError::fatal(format!(
            "the cursor {cursor:?} was not made by this connector: {why}"
        ))
    };
    let json = URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .map_err(|err| invalid(err.to_string()))?;
    serde_json::from_slice(&json).map_err(|err| invalid(err.to_string()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct State {
        after: String,
        since: Option<String>,
        stage: u8,
    }

    #[test]
    fn round_trips_and_is_url_safe() {
        let state = State {
            after: "a/b+c?d==".to_owned(),
            since: Some("2024-01-01T00:00:00Z".to_owned()),
            stage: 2,
        };
        let cursor = encode(&state).unwrap_or_default();
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{cursor}"
        );
        assert_eq!(decode::<State>(&cursor), Ok(state));
    }

    #[test]
    fn plain_values_work_too() {
        let cursor = encode(&42u64).unwrap_or_default();
        assert_eq!(decode::<u64>(&cursor), Ok(42));
    }

    #[test]
    fn foreign_cursors_are_fatal() {
        for bad in ["not base64!", "bm90IGpzb24", ""] {
            match decode::<State>(bad) {
                Err(ConnectorError::Fatal(message)) => {
                    assert!(
                        message.contains("was not made by this connector"),
                        "{message}"
                    );
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
