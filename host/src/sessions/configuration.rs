//! Configuring a session with a provider, and the configuration object that
//! `GET /api/session/configuration` answers and the configuration webhook
//! carries.

use serde_json::{Map, Value, json};

use super::{ConnectionState, Session, SessionSchema};
use crate::cdm::{self, mapping::FieldMapping};
use crate::runtime::manifest::{Integration, Manifest};
use crate::runtime::types::subject_object;
use crate::store::{Db, StoreError, now_ms};
use crate::webhooks::outbox::{self, Delivery};
use crate::wire::{self, Direction};

/// Connects `session` to `manifest`'s provider with its default selections:
/// every schema the provider serves is enabled, served by the integration of
/// its type, and custom schemas map same-name fields. Selections already made
/// on the session page (enabled schemas, mappings) are kept.
pub fn configure(session: &mut Session, manifest: &Manifest, settings: Value) {
    for schema in session
        .schemas
        .iter_mut()
        .filter(|s| s.object_name().is_none())
    {
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

/// `provider_info` as the configuration object, integrations and errors
/// show it; `public_url` makes the logo's URL absolute.
pub fn provider_info(manifest: &Manifest, public_url: &str) -> Value {
    json!({
        "name": manifest.id,
        "display_name": manifest.display_name,
        "url": manifest.homepage,
        "image": format!("{public_url}/api/integrations/{}/logo.svg", manifest.id),
        "auth_type": manifest.auth_type(),
        "specific": {},
        "endgrate_provider_type": wire::provider_type(&manifest.category),
    })
}

/// The direction an integration serves a session in: the session's own,
/// unless the integration only goes the other way.
pub fn served_direction(integration: &Integration, wanted: Direction) -> Direction {
    match wanted {
        Direction::Import if !integration.supports_pull && integration.supports_push => {
            Direction::Export
        }
        Direction::Export if !integration.supports_push && integration.supports_pull => {
            Direction::Import
        }
        _ => wanted,
    }
}

/// `integration_info` of one integration serving `direction`.
pub fn integration_info(integration: &Integration, direction: Direction) -> Value {
    let name = wire::integration_name(&integration.endgrate_type, direction);
    json!({
        "display_name": wire::integration_display_name(&name),
        "name": name,
        "method": direction.as_str(),
        "endgrate_type": subject_object(&integration.endgrate_type).unwrap_or(&integration.endgrate_type),
        "supports_associations": integration.supports_associations,
    })
}

/// The `schema` member of a configured schema: its JSON Schema with the
/// members Endgrate's configuration carries.
fn configured_schema(schema: &SessionSchema, direction: Direction) -> Value {
    let mut out = match &schema.schema {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    out.insert("type".into(), "object".into());
    out.entry("title")
        .or_insert_with(|| schema.name.clone().into());
    out.entry("properties").or_insert_with(|| json!({}));
    out.entry("required").or_insert_with(|| json!([]));
    if let Some(t) = &schema.endgrate_type {
        out.insert("endgrate_type".into(), t.clone().into());
    }
    out.insert("associations".into(), schema.associations.into());
    out.insert("session_method".into(), direction.as_str().into());
    // Passthrough fields are among the schema's properties too.
    if let Some(Value::Object(properties)) = out.get_mut("properties") {
        for (name, field) in passthrough_properties(schema) {
            properties.entry(name).or_insert(field);
        }
    }
    Value::Object(out)
}

/// The JSON Schema properties of a schema's passthrough fields.
fn passthrough_properties(schema: &SessionSchema) -> Map<String, Value> {
    schema
        .passthrough_fields
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                json!({ "title": f.title, "type": f.json_type }),
            )
        })
        .collect()
}

/// The configuration object of a configured session.
pub fn configuration_object(session: &Session, manifest: &Manifest, public_url: &str) -> Value {
    let mut schemas = Map::new();
    let mut passthrough = Map::new();
    for schema in session.schemas.iter().filter(|s| s.enabled) {
        let integration = schema
            .integration
            .as_deref()
            .and_then(|i| session.integration(manifest, i));
        let integration = integration.as_ref();
        let direction = integration.map_or(session.options.session_method, |i| {
            served_direction(i, session.options.session_method)
        });
        let into = if schema.passthrough {
            &mut passthrough
        } else {
            &mut schemas
        };
        into.insert(
            schema.name.clone(),
            json!({
                "integration": integration.map(|i| wire::integration_name(&i.endgrate_type, direction)),
                "integration_info": integration.map(|i| integration_info(i, direction)),
                "schema": configured_schema(schema, direction),
                "associations": schema.associations,
                "field_mapping": schema.mapping,
                "upsert_behaviour": schema.upsert,
                "passthrough_fields": { "properties": passthrough_properties(schema), "required": [] },
            }),
        );
    }
    json!({
        "success": true,
        "session_id": session.id,
        "endgrate": {
            "provider": manifest.id,
            "provider_info": provider_info(manifest, public_url),
        },
        "schemas": schemas,
        "passthrough_schemas": passthrough,
    })
}

/// Queues the configuration webhook, if the session has one (written with
/// the caller's next flush).
pub fn queue_configuration_webhook(
    db: &Db,
    session: &Session,
    manifest: &Manifest,
    public_url: &str,
) -> Result<(), StoreError> {
    if let Some(hook) = &session.options.webhooks.configuration {
        let mut body = configuration_object(session, manifest, public_url);
        body["metadata"] = hook.metadata.clone();
        let delivery = Delivery::new(
            &session.account,
            &session.id,
            "configuration",
            &hook.endpoint,
            &body,
            session.options.webhook_concurrency,
        );
        outbox::push(db, &delivery)?;
    }
    Ok(())
}
