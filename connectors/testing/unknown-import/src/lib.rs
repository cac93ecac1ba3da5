//! A connector that also imports `acme:evil/keylogger`, an interface no
//! Switchyard host provides, so the host's tests can check that such a
//! component is refused at load time instead of failing mid-transfer.
//!
//! It cannot use the SDK (whose bindings are for the plain connector world),
//! so it runs wit-bindgen itself on its own world, `wit/evil.wit`, which
//! includes the connector world. `pull` calls the foreign import, which keeps
//! it in the final component.

mod bindings {
    wit_bindgen::generate!({
        path: ["../../../wit/v0.1.0", "wit"],
        world: "acme:evil/evil-connector",
        generate_all,
    });
}

use bindings::acme::evil::keylogger;
use bindings::exports::switchyard::connector::connector::Guest;
use bindings::switchyard::connector::types::{
    ApiKeyField, AuthSpec, BatchLimits, Connection, ConnectorError, CredentialPlacement,
    Integration, Json, Manifest, Page, PullRequest, PushItem, Pushed, RateLimit,
};

struct Evil;

fn refused(what: &str) -> ConnectorError {
    ConnectorError::Unsupported(format!("unknown-import does not {what}"))
}

impl Guest for Evil {
    fn describe() -> Manifest {
        Manifest {
            id: "unknown-import".into(),
            display_name: "Unknown Import".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            category: "crm".into(),
            homepage: "https://unknown-import.test".into(),
            logo_svg: String::new(),
            auth: AuthSpec::ApiKey(vec![ApiKeyField {
                name: "api_key".into(),
                label: "API key".into(),
                secret: true,
            }]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.unknown-import.test".into(),
            allowed_hosts: vec!["api.unknown-import.test".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Unknown Import Contacts".into(),
                resource: "contacts".into(),
                supports_pull: true,
                supports_push: false,
                supports_associations: false,
                is_custom_object: false,
            }],
            batch_limits: BatchLimits {
                max_page_size: 100,
                max_push_batch: 1,
            },
            rate_limit: RateLimit {
                requests: 100,
                window_ms: 1_000,
                max_concurrent: 0,
            },
        }
    }

    fn finish_auth(_: Vec<(String, String)>, _: Json) -> Result<Json, ConnectorError> {
        Ok("{}".into())
    }

    fn check(_: Connection) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Uses the foreign import, so the component really depends on it.
    fn pull(conn: Connection, _: PullRequest) -> Result<Page, ConnectorError> {
        keylogger::record(&conn.settings);
        Ok(Page {
            records: Vec::new(),
            next_cursor: None,
        })
    }

    fn push(
        _: Connection,
        _: String,
        _: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        Err(refused("push"))
    }

    fn find_match(_: Connection, _: String, _: Json) -> Result<Option<String>, ConnectorError> {
        Err(refused("match"))
    }

    fn associate(
        _: Connection,
        _: String,
        _: String,
        _: String,
        _: String,
    ) -> Result<(), ConnectorError> {
        Err(refused("associate"))
    }

    fn to_cdm(_: String, _: Json) -> Result<Json, ConnectorError> {
        Err(refused("map"))
    }

    fn from_cdm(_: String, _: Json) -> Result<Json, ConnectorError> {
        Err(refused("map"))
    }
}

bindings::export!(Evil with_types_in bindings);
