//! Typed JSON in and out of the contract's `json` strings.
//!
//! Records, settings, parameters and keys cross the boundary as JSON text.
//! These helpers parse that text into your own `serde` types (or a
//! [`serde_json::Value`]) and back, turning failures into the right
//! [`ConnectorError`]: bad record data is `invalid-data` (only that record
//! fails), bad settings are `fatal`, unknown parameters are `unsupported`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Connection, ConnectorError, Json, Page, PullRequest, PulledRecord, PushItem, Pushed};

/// Serialises `value` to JSON text.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Json, ConnectorError> {
    serde_json::to_string(value)
        .map_err(|err| ConnectorError::fatal(format!("could not encode JSON: {err}")))
}

/// Parses record JSON (`raw` in `to-cdm`, `record` in `from-cdm`, push item
/// data) into `T`; a record of another shape is `invalid-data`.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, ConnectorError> {
    serde_json::from_str(text)
        .map_err(|err| ConnectorError::invalid_data(format!("the record does not fit: {err}")))
}

/// Parses an object the host sends that may be empty text: `""` reads as `{}`.
fn object<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    serde_json::from_str(text)
}

impl Connection {
    /// The connection's non-secret settings (what `finish-auth` returned plus
    /// the non-secret API-key form fields) as `T`. Settings of another shape
    /// are `fatal`: the connection cannot work until it is set up again.
    pub fn settings_as<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        object(&self.settings).map_err(|err| {
            ConnectorError::fatal(format!(
                "the connection settings are not what this connector expects: {err}"
            ))
        })
    }

    /// A connection as the host would pass it, for tests.
    pub fn new(api_base: impl Into<String>, settings: serde_json::Value) -> Self {
        Self {
            api_base: api_base.into(),
            settings: settings.to_string(),
        }
    }
}

impl PullRequest {
    /// The pull's `params` as `T`; parameters of another shape are `unsupported`.
    pub fn params_as<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        object(&self.params).map_err(|err| {
            ConnectorError::unsupported(format!("unsupported pull parameters: {err}"))
        })
    }

    /// The cursor decoded with [`cursor::decode`](crate::cursor::decode);
    /// `None` on the first page.
    pub fn cursor_as<T: DeserializeOwned>(&self) -> Result<Option<T>, ConnectorError> {
        self.cursor
            .as_deref()
            .map(crate::cursor::decode)
            .transpose()
    }

    /// A first-page request for `endgrate_type`, for tests.
    pub fn new(endgrate_type: impl Into<String>, page_size: u32) -> Self {
        Self {
            endgrate_type: endgrate_type.into(),
            cursor: None,
            since: None,
            page_size,
            params: "{}".to_owned(),
            associations: Vec::new(),
            include_remote: false,
            passthrough_fields: Vec::new(),
        }
    }
}

impl PushItem {
    /// An item that creates a record from common-model `data`, for tests. Set
    /// `id` to make it an update, and add `associations` as needed.
    pub fn new<T: Serialize + ?Sized>(data: &T) -> Result<Self, ConnectorError> {
        Ok(Self {
            id: None,
            idempotency_key: "test-item".to_owned(),
            data: to_json(data)?,
            associations: Vec::new(),
            passthrough: None,
        })
    }

    /// The item's record as `T`; a record of another shape is `invalid-data`.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        from_json(&self.data)
    }

    /// The values of passthrough fields pushed with this item, by the
    /// provider's names (empty when none).
    pub fn passthrough_values(
        &self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ConnectorError> {
        match &self.passthrough {
            Some(text) => from_json(text),
            None => Ok(serde_json::Map::new()),
        }
    }

    /// The provider ids to link this item to for `endgrate_type`.
    pub fn associated_ids(&self, endgrate_type: &str) -> &[String] {
        self.associations
            .iter()
            .find(|(ty, _)| ty == endgrate_type)
            .map_or(&[], |(_, ids)| ids.as_slice())
    }
}

impl PulledRecord {
    /// A record with provider id `id` and common-model `data`, no associations,
    /// not deleted.
    pub fn new<T: Serialize + ?Sized>(
        id: impl Into<String>,
        data: &T,
    ) -> Result<Self, ConnectorError> {
        Ok(Self {
            id: id.into(),
            data: to_json(data)?,
            associations: Vec::new(),
            deleted: false,
            remote: None,
            passthrough: None,
        })
    }

    /// A deletion marker for incremental pulls.
    pub fn deleted(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            data: "{}".to_owned(),
            associations: Vec::new(),
            deleted: true,
            remote: None,
            passthrough: None,
        }
    }

    /// Adds the provider ids of linked records of `endgrate_type`.
    pub fn with_associations(mut self, endgrate_type: impl Into<String>, ids: Vec<String>) -> Self {
        self.associations.push((endgrate_type.into(), ids));
        self
    }

    /// Adds the provider's record as the provider returned it, when the pull
    /// asks for it ([`PullRequest::include_remote`]); otherwise returns the
    /// record unchanged, so a connector can call it on every record.
    pub fn with_remote<T: Serialize + ?Sized>(
        mut self,
        req: &PullRequest,
        raw: &T,
    ) -> Result<Self, ConnectorError> {
        if req.include_remote {
            self.remote = Some(to_json(raw)?);
        }
        Ok(self)
    }

    /// Adds the values of the passthrough fields the pull asked for
    /// ([`PullRequest::passthrough_fields`]): `value_of` gives a field's value
    /// by its provider name, `None` when the record has none. Asks nothing
    /// when the pull asked for no fields.
    pub fn with_passthrough(
        mut self,
        req: &PullRequest,
        value_of: impl Fn(&str) -> Option<serde_json::Value>,
    ) -> Result<Self, ConnectorError> {
        let values: serde_json::Map<String, serde_json::Value> = req
            .passthrough_fields
            .iter()
            .filter_map(|name| Some((name.clone(), value_of(name)?)))
            .collect();
        if !values.is_empty() {
            self.passthrough = Some(to_json(&values)?);
        }
        Ok(self)
    }

    /// The record's data parsed back, e.g. in tests.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        from_json(&self.data)
    }
}

impl Page {
    /// A page; `next_cursor` is `None` on the last page.
    pub fn new(records: Vec<PulledRecord>, next_cursor: Option<String>) -> Self {
        Self {
            records,
            next_cursor,
        }
    }
}

impl Pushed {
    /// The outcome of writing one item: the provider's id, the record as the
    /// provider returned it (common model), and whether it was created.
    pub fn new<T: Serialize + ?Sized>(
        id: impl Into<String>,
        data: &T,
        created: bool,
    ) -> Result<Self, ConnectorError> {
        Ok(Self {
            id: id.into(),
            data: to_json(data)?,
            created,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Settings {
        realm_id: String,
    }

    #[test]
    fn settings_parse_or_are_fatal() {
        let conn = Connection::new("https://x", json!({"realm_id": "123"}));
        assert_eq!(
            conn.settings_as::<Settings>(),
            Ok(Settings {
                realm_id: "123".to_owned()
            })
        );
        let empty = Connection {
            api_base: String::new(),
            settings: String::new(),
        };
        assert_eq!(empty.settings_as::<serde_json::Value>(), Ok(json!({})));
        assert!(matches!(
            empty.settings_as::<Settings>(),
            Err(ConnectorError::Fatal(_))
        ));
    }

    #[test]
    fn params_and_cursor() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Params {
            mode: Option<String>,
        }
        let mut req = PullRequest::new("crm-contact", 10);
        assert_eq!(req.params_as::<Params>(), Ok(Params { mode: None }));
        assert_eq!(req.cursor_as::<u32>(), Ok(None));
        req.params = r#"{"mode": 3}"#.to_owned();
        assert!(matches!(
            req.params_as::<Params>(),
            Err(ConnectorError::Unsupported(_))
        ));
        req.cursor = crate::cursor::encode(&7u32).ok();
        assert_eq!(req.cursor_as::<u32>(), Ok(Some(7)));
    }

    #[test]
    fn the_remote_record_is_kept_only_when_asked_for() {
        let raw = json!({"id": "1", "properties": {"email": "a@b.c"}});
        let mut req = PullRequest::new("crm-contact", 10);
        let plain = PulledRecord::new("1", &json!({})).and_then(|r| r.with_remote(&req, &raw));
        assert_eq!(plain.map(|r| r.remote), Ok(None));
        req.include_remote = true;
        let asked = PulledRecord::new("1", &json!({})).and_then(|r| r.with_remote(&req, &raw));
        let remote = asked.ok().and_then(|r| r.remote);
        assert_eq!(
            remote.and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok()),
            Some(raw)
        );
    }

    #[test]
    fn records_round_trip() {
        let record = PulledRecord::new("1", &json!({"email": "a@b.c"}))
            .map(|r| r.with_associations("crm-company", vec!["9".to_owned()]));
        let Ok(record) = record else {
            panic!("a JSON value always encodes");
        };
        assert_eq!(
            record.data_as::<serde_json::Value>(),
            Ok(json!({"email": "a@b.c"}))
        );
        assert_eq!(
            record.associations,
            [("crm-company".to_owned(), vec!["9".to_owned()])]
        );
        assert!(PulledRecord::deleted("2").deleted);

        let item = PushItem {
            data: "not json".to_owned(),
            associations: vec![("crm-company".to_owned(), vec!["5".to_owned()])],
            ..PushItem::new(&json!({})).unwrap()
        };
        assert!(matches!(
            item.data_as::<serde_json::Value>(),
            Err(ConnectorError::InvalidData(_))
        ));
        assert_eq!(item.associated_ids("crm-company"), ["5"]);
        assert!(item.associated_ids("crm-deal").is_empty());
    }
}
