//! Configuring a session with a provider, and the configuration object that
//! `GET /api/session/configuration` answers and the configuration webhook
//! carries.

use serde_json::{Map, Value, json};

use super::{ConnectionState, Session};
use crate::cdm::{self, mapping::FieldMapping};
use crate::runtime::manifest::{Integration, Manifest};
use crate::store::now_ms;

/// Connects `session` to `manifest`'s provider with its default selections:
/// every schema the provider serves is enabled, served by the integration of
/// its type, and custom schemas map same-name fields. Selections already made
/// on the session page (enabled schemas, mappings) are kept.
pub fn configure(session: &mut Session, manifest: &Manifest, settings: Value) {
    for schema in &mut session.schemas {
        let wanted = schema.endgrate_type.as_deref().unwrap_or(&schema.name);
        let served = schema
            .integration
            .as_deref()
            .and_then(|i| manifest.integration(i))
            .or_else(|| manifest.integration(wanted));
        schema.integration = served.map(|i| i.endgrate_type.clone());
        if schema.custom && schema.mapping.is_none() {
            let common = schema
                .endgrate_type
                .as_deref()
                .and_then(cdm::default_schema)
                .map(cdm::schema_fields)
                .unwrap_or_default();
            schema.mapping = Some(FieldMapping::by_name(
                &cdm::schema_fields(&schema.schema),
                &common,
            ));
        }
    }
    session.connection = Some(ConnectionState {
        provider: manifest.id.clone(),
        configured_ms: now_ms(),
        settings,
    });
    session.reauth_required = false;
    session.pending = None;
}

/// `provider_info` as the configuration object and errors show it.
pub fn provider_info(manifest: &Manifest) -> Value {
    json!({
        "name": manifest.id,
        "display_name": manifest.display_name,
        "url": manifest.homepage,
        "image": format!("/api/integrations/{}/logo.svg", manifest.id),
        "auth_type": manifest.auth_type(),
        "endgrate_provider_type": manifest.category,
    })
}

/// `integration_info` of one integration.
pub fn integration_info(integration: &Integration) -> Value {
    let method = match (integration.supports_pull, integration.supports_push) {
        (true, true) => "pull_push",
        (true, false) => "pull",
        (false, true) => "push",
        (false, false) => "none",
    };
    json!({
        "name": integration.endgrate_type,
        "display_name": integration.display_name,
        "method": method,
    })
}

/// The configuration object of a configured session.
pub fn configuration_object(session: &Session, manifest: &Manifest) -> Value {
    let mut schemas = Map::new();
    let mut passthrough = Map::new();
    for schema in session.schemas.iter().filter(|s| s.enabled) {
        let integration = schema
            .integration
            .as_deref()
            .and_then(|i| manifest.integration(i));
        let into = if schema.passthrough {
            &mut passthrough
        } else {
            &mut schemas
        };
        into.insert(
            schema.name.clone(),
            json!({
                "integration": integration.map(|i| i.endgrate_type.clone()),
                "integration_info": integration.map(integration_info),
                "schema": schema.schema,
                "associations": schema.associations,
                "field_mapping": schema.mapping,
                "upsert_behaviour": schema.upsert,
                "passthrough_fields": {},
            }),
        );
    }
    json!({
        "success": true,
        "session_id": session.id,
        "endgrate": {
            "provider": manifest.id,
            "provider_info": provider_info(manifest),
        },
        "schemas": schemas,
        "passthrough_schemas": passthrough,
    })
}
