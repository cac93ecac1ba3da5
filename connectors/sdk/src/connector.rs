//! The [`Connector`] trait authors implement, and the glue that exports an
//! implementation as the component's `connector` interface.
//!
//! Every call runs in a fresh instance, so the trait's functions take no
//! `self`: whatever must survive from one page to the next goes into the
//! cursor.

use std::marker::PhantomData;

use crate::bindings::exports::switchyard::connector::connector::Guest;
use crate::lookups::Lookups;
use crate::{
    Connection, ConnectorError, FieldInfo, Json, Manifest, ObjectInfo, Page, PullRequest, PushItem,
    Pushed,
};

/// A provider connector. Implement it on a unit struct and export it with
/// [`export_connector!`](crate::export_connector).
///
/// `describe`, `check` and `pull` are required; the rest default to what a
/// read-only connector without OAuth2 settings needs.
pub trait Connector {
    /// Self-description, called when the component is loaded. Must not do I/O
    /// and must return the same value every time.
    fn describe() -> Manifest;

    /// Turns the end of an OAuth2 flow into connection settings (a JSON
    /// object). `callback_params` are the query parameters of the redirect
    /// back (QuickBooks' `realmId`), `token_response` the token endpoint's
    /// answer without the tokens (Salesforce's `instance_url`). Must not do
    /// I/O. Defaults to no settings, `{}`.
    fn finish_auth(
        callback_params: &[(String, String)],
        token_response: &str,
    ) -> Result<Json, ConnectorError> {
        let _ = (callback_params, token_response);
        Ok("{}".to_owned())
    }

    /// Checks the connection with one cheap request; `unauthorized` tells the
    /// end user their credential is wrong.
    fn check(conn: &Connection) -> Result<(), ConnectorError>;

    /// Reads one page of `req.endgrate_type`, at most `req.page_size` records,
    /// starting at `req.cursor`.
    fn pull(conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError>;

    /// Writes one batch; one result per item, in order. Defaults to
    /// `unsupported`.
    fn push(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        let _ = (conn, items);
        Err(unsupported::<Self>(&format!("pushing {endgrate_type}")))
    }

    /// Discovery: the fields `endgrate_type`'s records have at the provider
    /// for this connection, custom fields included, each marked `mapped` when
    /// the connector already carries it in the common model. The host offers
    /// the unmapped ones as the session's passthrough fields, asks for their
    /// values in [`PullRequest::passthrough_fields`] and hands pushed values
    /// in [`PushItem::passthrough`]. Defaults to none (no discovery).
    fn list_fields(
        conn: &Connection,
        endgrate_type: &str,
    ) -> Result<Vec<FieldInfo>, ConnectorError> {
        let _ = (conn, endgrate_type);
        Ok(Vec::new())
    }

    /// Discovery: the provider objects this connection reaches that the
    /// connector can pull or push as the subject `object:<name>` (see
    /// [`Subject`](crate::Subject)), custom objects marked `custom`. The host
    /// offers those no integration serves as the session's passthrough
    /// schemas. For an object subject, `pull`, `push`, `find_matches` and
    /// `list_fields` work with the provider's own fields instead of the
    /// common model. Defaults to none.
    fn list_objects(conn: &Connection) -> Result<Vec<ObjectInfo>, ConnectorError> {
        let _ = conn;
        Ok(Vec::new())
    }

    /// Finds the provider id of the record matching every field of `keys` (a
    /// JSON object of common-model fields), for upserts. Defaults to
    /// `unsupported`.
    fn find_match(
        conn: &Connection,
        endgrate_type: &str,
        keys: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let _ = (conn, keys);
        Err(unsupported::<Self>(&format!("matching {endgrate_type}")))
    }

    /// The upsert lookups of a whole push batch, which is how the host asks:
    /// before each batch that creates records (unless the push has
    /// `disable_upsert`), and to learn whether a create whose answer was lost
    /// went through. `items[i]` holds item `i`'s key sets in priority order
    /// (e.g. `{"email"}`, then `{"phone"}`, then `{"first_name", "last_name"}`);
    /// answer, per item, the id matching its first key set that matches a
    /// record, or `None`.
    ///
    /// The default asks [`find_match`](Self::find_match) for each key set in
    /// turn, skipping key sets it answers `unsupported` for. Override it to
    /// use the provider's batch reads or `IN` searches: one request for the
    /// batch instead of one per item and key.
    fn find_matches(
        conn: &Connection,
        endgrate_type: &str,
        items: Vec<Vec<Json>>,
    ) -> Result<Vec<Result<Option<String>, ConnectorError>>, ConnectorError> {
        Ok(items
            .iter()
            .map(|key_sets| first_match::<Self>(conn, endgrate_type, key_sets))
            .collect())
    }

    /// Links two existing records. Defaults to `unsupported`.
    fn associate(
        conn: &Connection,
        from_type: &str,
        from_id: &str,
        to_type: &str,
        to_id: &str,
    ) -> Result<(), ConnectorError> {
        let _ = (conn, from_id, to_id);
        Err(unsupported::<Self>(&format!(
            "associating {from_type} with {to_type}"
        )))
    }

    /// Maps one raw provider record to the common data model. Pure: no I/O.
    /// Defaults to `unsupported`.
    fn to_cdm(endgrate_type: &str, raw: &str) -> Result<Json, ConnectorError> {
        let _ = raw;
        Err(unsupported::<Self>(&format!(
            "mapping {endgrate_type} to the common model"
        )))
    }

    /// Maps one common-model record to the provider's write shape. Pure: no
    /// I/O. Defaults to `unsupported`.
    fn from_cdm(endgrate_type: &str, record: &str) -> Result<Json, ConnectorError> {
        let _ = record;
        Err(unsupported::<Self>(&format!(
            "mapping {endgrate_type} from the common model"
        )))
    }
}

/// The default `find_matches` for one item: `find_match` for each key set in
/// turn. A key set the connector cannot match on is skipped; when it can
/// match on none, the answer is `unsupported`.
fn first_match<C: Connector + ?Sized>(
    conn: &Connection,
    endgrate_type: &str,
    key_sets: &[Json],
) -> Result<Option<String>, ConnectorError> {
    let mut lookups = Lookups::new(1);
    for keys in key_sets {
        if !lookups.is_open(0) {
            break;
        }
        lookups.record(0, C::find_match(conn, endgrate_type, keys));
    }
    lookups.finish().remove(0)
}

/// `unsupported`, naming the connector.
fn unsupported<C: Connector + ?Sized>(what: &str) -> ConnectorError {
    ConnectorError::unsupported(format!(
        "the {} connector does not support {what}",
        C::describe().display_name
    ))
}

/// Adapts a [`Connector`] to the generated export trait. Used by
/// [`export_connector!`](crate::export_connector); not part of the API.
#[doc(hidden)]
pub struct Export<C>(PhantomData<C>);

impl<C: Connector> Guest for Export<C> {
    fn describe() -> Manifest {
        crate::panic::install_hook();
        C::describe()
    }

    fn finish_auth(
        callback_params: Vec<(String, String)>,
        token_response: Json,
    ) -> Result<Json, ConnectorError> {
        crate::panic::install_hook();
        C::finish_auth(&callback_params, &token_response)
    }

    fn check(conn: Connection) -> Result<(), ConnectorError> {
        crate::panic::install_hook();
        C::check(&conn)
    }

    fn pull(conn: Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        crate::panic::install_hook();
        C::pull(&conn, req)
    }

    fn push(
        conn: Connection,
        endgrate_type: String,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        crate::panic::install_hook();
        C::push(&conn, &endgrate_type, items)
    }

    fn list_fields(
        conn: Connection,
        endgrate_type: String,
    ) -> Result<Vec<FieldInfo>, ConnectorError> {
        crate::panic::install_hook();
        C::list_fields(&conn, &endgrate_type)
    }

    fn list_objects(conn: Connection) -> Result<Vec<ObjectInfo>, ConnectorError> {
        crate::panic::install_hook();
        C::list_objects(&conn)
    }

    fn find_match(
        conn: Connection,
        endgrate_type: String,
        keys: Json,
    ) -> Result<Option<String>, ConnectorError> {
        crate::panic::install_hook();
        C::find_match(&conn, &endgrate_type, &keys)
    }

    fn find_matches(
        conn: Connection,
        endgrate_type: String,
        items: Vec<Vec<Json>>,
    ) -> Result<Vec<Result<Option<String>, ConnectorError>>, ConnectorError> {
        crate::panic::install_hook();
        C::find_matches(&conn, &endgrate_type, items)
    }

    fn associate(
        conn: Connection,
        from_type: String,
        from_id: String,
        to_type: String,
        to_id: String,
    ) -> Result<(), ConnectorError> {
        crate::panic::install_hook();
        C::associate(&conn, &from_type, &from_id, &to_type, &to_id)
    }

    fn to_cdm(endgrate_type: String, raw: Json) -> Result<Json, ConnectorError> {
        crate::panic::install_hook();
        C::to_cdm(&endgrate_type, &raw)
    }

    fn from_cdm(endgrate_type: String, record: Json) -> Result<Json, ConnectorError> {
        crate::panic::install_hook();
        C::from_cdm(&endgrate_type, &record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthSpec, BatchLimits, CredentialPlacement, RateLimit};

    struct Minimal;

    impl Connector for Minimal {
        fn describe() -> Manifest {
            Manifest {
                id: "minimal".into(),
                display_name: "Minimal".into(),
                version: "1.0.0".into(),
                category: "crm".into(),
                homepage: String::new(),
                logo_svg: String::new(),
                auth: AuthSpec::ApiKey(Vec::new()),
                credential_placement: CredentialPlacement::Header("x-api-key".into()),
                api_base: "https://api.minimal.example".into(),
                allowed_hosts: Vec::new(),
                integrations: Vec::new(),
                batch_limits: BatchLimits {
                    max_page_size: 1,
                    max_push_batch: 1,
                    max_lookup_batch: 0,
                },
                rate_limit: RateLimit {
                    requests: 1,
                    window_ms: 1,
                    max_concurrent: 0,
                },
                rate_classes: Vec::new(),
                idempotent_creates: false,
            }
        }

        fn check(_conn: &Connection) -> Result<(), ConnectorError> {
            Ok(())
        }

        fn pull(_conn: &Connection, _req: PullRequest) -> Result<Page, ConnectorError> {
            Ok(Page::new(Vec::new(), None))
        }
    }

    type Exported = Export<Minimal>;

    fn conn() -> Connection {
        Connection::new("https://api.minimal.example", serde_json::json!({}))
    }

    #[test]
    fn the_glue_forwards_to_the_trait() {
        assert_eq!(Exported::describe().id, "minimal");
        assert_eq!(Exported::check(conn()), Ok(()));
        assert_eq!(
            Exported::pull(conn(), PullRequest::new("crm-contact", 1)),
            Ok(Page::new(Vec::new(), None))
        );
    }

    #[test]
    fn defaults_are_empty_settings_and_unsupported() {
        assert_eq!(
            Exported::finish_auth(Vec::new(), "{}".into()),
            Ok("{}".to_owned())
        );
        let unsupported = |what: &str| {
            Some(ConnectorError::Unsupported(format!(
                "the Minimal connector does not support {what}"
            )))
        };
        assert_eq!(
            Exported::push(conn(), "crm-contact".into(), Vec::new()).err(),
            unsupported("pushing crm-contact")
        );
        assert_eq!(
            Exported::find_match(conn(), "crm-contact".into(), "{}".into()).err(),
            unsupported("matching crm-contact")
        );
        assert_eq!(
            Exported::associate(
                conn(),
                "crm-contact".into(),
                "1".into(),
                "crm-company".into(),
                "2".into()
            )
            .err(),
            unsupported("associating crm-contact with crm-company")
        );
        assert_eq!(
            Exported::to_cdm("crm-contact".into(), "{}".into()).err(),
            unsupported("mapping crm-contact to the common model")
        );
        assert_eq!(
            Exported::from_cdm("crm-contact".into(), "{}".into()).err(),
            unsupported("mapping crm-contact from the common model")
        );
    }
}
