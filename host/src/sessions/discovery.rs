//! What a connected provider account has beyond the common model, found by
//! asking the connector (contract 0.2 discovery): the account's own fields,
//! carried as passthrough fields (`passthrough_fields`), and its own objects,
//! carried as passthrough schemas (`passthrough_schemas`). Discovery failing
//! never stops a session from connecting: it then carries less, with a
//! warning in the log.

use serde_json::{Map, Value, json};

use super::{ConnectionState, ProviderField, ProviderObject, Session, SessionSchema};
use crate::credentials::Credentials;
use crate::runtime::manifest::Manifest;
use crate::runtime::types::{Connection, FieldInfo, PullRequest, Purpose};
use crate::runtime::{CallError, Runtime};

/// Everything discovery adds to a session just configured: its provider
/// objects and their schemas, then each schema's passthrough fields.
pub async fn discover(
    runtime: &Runtime,
    credentials: &Credentials,
    session: &mut Session,
    manifest: &Manifest,
) {
    let Some(connection) = session.connection.clone() else {
        return;
    };
    if session.options.passthrough_schemas {
        if session.objects.is_empty() {
            discover_objects(runtime, credentials, session, &connection, manifest).await;
        }
        enable_unoffered_objects(session);
        describe_objects(runtime, credentials, session, &connection).await;
    }
    discover_passthrough_fields(runtime, credentials, session, &connection).await;
}

/// With `passthrough_schemas`: lists the provider objects of `connection`
/// that none of `manifest`'s integrations serves (and no schema of the
/// session is named like) onto `session.objects`, for the end user to choose
/// from on the session page.
pub async fn discover_objects(
    runtime: &Runtime,
    credentials: &Credentials,
    session: &mut Session,
    connection: &ConnectionState,
    manifest: &Manifest,
) {
    if !session.options.passthrough_schemas {
        return;
    }
    let conn = connection_of(&session.id, connection);
    let listed = runtime
        .list_objects(
            &connection.provider,
            &conn,
            Some(credentials.source(&session.id)),
        )
        .await;
    let listed = match listed {
        Ok(listed) => listed,
        Err(err) => {
            tracing::warn!(session = %session.id, %err, "could not discover the provider's objects; none are offered");
            return;
        }
    };
    let served = |name: &str| {
        manifest
            .integrations
            .iter()
            .any(|i| i.resource.eq_ignore_ascii_case(name))
            || session
                .schemas
                .iter()
                .any(|s| !s.passthrough && s.name == name)
    };
    let objects: Vec<ProviderObject> = listed
        .into_iter()
        .filter(|o| (o.supports_pull || o.supports_push) && !served(&o.name))
        .map(|o| ProviderObject {
            name: o.name,
            label: o.label,
            custom: o.custom,
            supports_pull: o.supports_pull,
            supports_push: o.supports_push,
        })
        .collect();
    // Objects of an account signed in to before are not this one's.
    session.schemas.retain(|s| {
        s.object_name()
            .is_none_or(|name| objects.iter().any(|o| o.name == name))
    });
    session.objects = objects;
}

/// Objects the end user was never asked about (the session was connected
/// through `POST /api/session/credentials`) come along when they are the
/// account's own, as passthrough fields do without `field_selection`, up to
/// [`DEFAULT_OBJECTS`] of them (an org with hundreds of custom objects would
/// otherwise cost a describe each, and a session too large to keep); the
/// others can be chosen on the session page. The session page records every
/// object it offered, chosen or not.
fn enable_unoffered_objects(session: &mut Session) {
    let unoffered: Vec<ProviderObject> = session
        .objects
        .iter()
        .filter(|o| o.custom && !session.schemas.iter().any(|s| s.name == o.name))
        .cloned()
        .collect();
    let shared = session
        .schemas
        .iter()
        .filter(|s| s.object_name().is_some())
        .count();
    let room = DEFAULT_OBJECTS.saturating_sub(shared);
    if unoffered.len() > room {
        tracing::warn!(session = %session.id, objects = unoffered.len(), shared = room, "more custom objects than a session shares by default; the end user can choose the others on the session page");
    }
    for object in unoffered.into_iter().take(room) {
        session.schemas.push(object_schema(&object, &[]));
    }
}

/// The most custom objects a session shares without the end user choosing.
const DEFAULT_OBJECTS: usize = 20;

/// Gives each enabled passthrough schema of an object its schema, from the
/// fields the connector lists for it. An object whose fields cannot be
/// listed keeps the schema it had.
async fn describe_objects(
    runtime: &Runtime,
    credentials: &Credentials,
    session: &mut Session,
    connection: &ConnectionState,
) {
    let conn = connection_of(&session.id, connection);
    let objects = session.objects.clone();
    for schema in session.schemas.iter_mut().filter(|s| s.enabled) {
        let Some(object) = objects
            .iter()
            .find(|o| Some(o.name.as_str()) == schema.object_name())
        else {
            continue;
        };
        let fields = runtime
            .list_fields(
                &connection.provider,
                &conn,
                Some(credentials.source(&session.id)),
                &object.subject(),
            )
            .await;
        match fields {
            Ok(fields) => {
                let described = object_schema(object, &fields);
                schema.schema = described.schema;
                schema.upsert_keys = described.upsert_keys;
            }
            Err(err) => {
                tracing::warn!(session = %session.id, object = %object.name, %err, "could not list the fields of a provider object; its schema is unchanged");
            }
        }
    }
}

/// The passthrough schema of `object`, enabled, with `fields` as its
/// JSON Schema: each field typed, titled with its label, `readOnly` when
/// the provider computes it, an `enum` of its options; `required` those a
/// create needs. Pushes look records up by its unique fields.
pub fn object_schema(object: &ProviderObject, fields: &[FieldInfo]) -> SessionSchema {
    let mut properties = Map::new();
    for f in fields {
        let mut property = json!({ "title": f.label, "type": f.json_type });
        if f.read_only {
            property["readOnly"] = Value::Bool(true);
        }
        if !f.options.is_empty() && f.json_type == "string" {
            property["enum"] = f.options.iter().map(|(v, _)| v.clone()).collect();
        }
        properties.insert(f.name.clone(), property);
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required && !f.read_only)
        .map(|f| f.name.as_str())
        .collect();
    SessionSchema {
        name: object.name.clone(),
        endgrate_type: None,
        schema: json!({
            "title": object.label,
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }),
        custom: false,
        associations: false,
        enabled: true,
        integration: Some(object.subject()),
        mapping: None,
        upsert: Default::default(),
        passthrough: true,
        passthrough_fields: Vec::new(),
        passthrough_choice: None,
        open_resource: false,
        upsert_keys: fields
            .iter()
            .filter(|f| f.unique && !f.read_only)
            .map(|f| f.name.clone())
            .collect(),
    }
}

/// With `passthrough_fields`: asks the connector which fields each enabled
/// schema's records have at the provider, and keeps per schema those it does
/// not map (typically the account's custom fields), or those of them the end
/// user chose (`field_selection`). A provider object's schema already holds
/// all its fields. A schema whose discovery fails keeps none, with a warning.
async fn discover_passthrough_fields(
    runtime: &Runtime,
    credentials: &Credentials,
    session: &mut Session,
    connection: &ConnectionState,
) {
    if !session.options.passthrough_fields {
        return;
    }
    let session_id = session.id.clone();
    for schema in session.schemas.iter_mut().filter(|s| s.enabled) {
        let Some(integration) = schema.integration.clone() else {
            continue;
        };
        if schema.object_name().is_some() {
            continue;
        }
        match unmapped_fields(runtime, credentials, &session_id, connection, &integration).await {
            Ok(mut fields) => {
                if let Some(chosen) = &schema.passthrough_choice {
                    fields.retain(|f| chosen.contains(&f.name));
                }
                schema.passthrough_fields = fields;
            }
            Err(err) => {
                tracing::warn!(session = %session_id, schema = %schema.name, %err, "could not discover the provider's fields; the schema carries no passthrough fields");
            }
        }
    }
}

/// The fields `integration`'s records have at the provider of `connection`
/// that the connector does not map (the candidates for passthrough fields).
pub async fn unmapped_fields(
    runtime: &Runtime,
    credentials: &Credentials,
    session_id: &str,
    connection: &ConnectionState,
    integration: &str,
) -> Result<Vec<ProviderField>, CallError> {
    let listed = runtime
        .list_fields(
            &connection.provider,
            &connection_of(session_id, connection),
            Some(credentials.source(session_id)),
            integration,
        )
        .await?;
    Ok(listed
        .into_iter()
        .filter(|f| !f.mapped)
        .map(|f| ProviderField {
            name: f.name,
            title: f.label,
            json_type: f.json_type,
            custom: f.custom,
        })
        .collect())
}

/// A value each of `fields` has on one of the account's `integration`
/// records (the first of one page that has one), to show beside the field
/// on the session page. One pull request; nothing when it fails.
pub async fn example_values(
    runtime: &Runtime,
    credentials: &Credentials,
    session_id: &str,
    connection: &ConnectionState,
    integration: &str,
    fields: &[ProviderField],
) -> Map<String, Value> {
    let request = PullRequest {
        endgrate_type: integration.to_owned(),
        cursor: None,
        since: None,
        page_size: EXAMPLE_PAGE,
        params: json!({}),
        associations: Vec::new(),
        include_remote: false,
        passthrough_fields: fields.iter().map(|f| f.name.clone()).collect(),
    };
    let page = runtime
        .pull(
            &connection.provider,
            &connection_of(session_id, connection),
            Some(credentials.source(session_id)),
            &request,
        )
        .await;
    let mut examples = Map::new();
    let Ok(page) = page else {
        return examples;
    };
    for record in &page.records {
        let Some(Ok(Value::Object(values))) =
            record.passthrough.as_deref().map(serde_json::from_str)
        else {
            continue;
        };
        for (name, value) in values {
            let empty = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
            if !empty {
                examples.entry(name).or_insert(value);
            }
        }
    }
    examples
}

/// How many records [`example_values`] looks through.
const EXAMPLE_PAGE: u32 = 20;

/// The connector's view of a session's connection.
fn connection_of(session_id: &str, connection: &ConnectionState) -> Connection {
    Connection {
        key: session_id.to_owned(),
        api_base: None,
        settings: connection.settings.clone(),
        purpose: Purpose::Discovery,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::SessionOptions;

    fn session_with(objects: usize) -> Session {
        Session {
            id: "s1".into(),
            account: "acme".into(),
            created_ms: 0,
            expires_ms: None,
            options: SessionOptions {
                passthrough_schemas: true,
                ..SessionOptions::default()
            },
            schemas: Vec::new(),
            connection: None,
            reauth_required: false,
            pending: None,
            objects: (0..objects)
                .map(|n| ProviderObject {
                    name: format!("Object{n}__c"),
                    label: format!("Object {n}"),
                    custom: n % 2 == 0 || objects > 4,
                    supports_pull: true,
                    supports_push: true,
                })
                .collect(),
        }
    }

    #[test]
    fn custom_objects_come_by_default_up_to_a_bound() {
        let mut few = session_with(4);
        enable_unoffered_objects(&mut few);
        let names: Vec<&str> = few.schemas.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Object0__c", "Object2__c"], "only the custom ones");
        assert!(few.schemas.iter().all(|s| s.passthrough && s.enabled));
        assert_eq!(few.schemas[0].object_name(), Some("Object0__c"));

        let mut many = session_with(300);
        enable_unoffered_objects(&mut many);
        assert_eq!(many.schemas.len(), DEFAULT_OBJECTS);
        // Once shared, none is added again.
        enable_unoffered_objects(&mut many);
        assert_eq!(many.schemas.len(), DEFAULT_OBJECTS);
    }

    #[test]
    fn an_objects_schema_follows_its_fields() {
        let object = ProviderObject {
            name: "Project__c".into(),
            label: "Project".into(),
            custom: true,
            supports_pull: true,
            supports_push: true,
        };
        let field = |name: &str, json_type: &str| FieldInfo {
            name: name.into(),
            label: name.to_uppercase(),
            json_type: json_type.into(),
            custom: true,
            read_only: false,
            options: Vec::new(),
            mapped: false,
            unique: false,
            required: false,
        };
        let fields = vec![
            FieldInfo {
                required: true,
                ..field("Name", "string")
            },
            FieldInfo {
                unique: true,
                ..field("Code__c", "string")
            },
            FieldInfo {
                options: vec![("Active".into(), "Active".into())],
                ..field("Status__c", "string")
            },
            FieldInfo {
                read_only: true,
                unique: true,
                ..field("Id", "string")
            },
            field("Budget__c", "number"),
        ];
        let schema = object_schema(&object, &fields);
        assert_eq!(schema.integration.as_deref(), Some("object:Project__c"));
        assert_eq!(
            schema.upsert_keys,
            ["Code__c"],
            "read-only fields are no keys"
        );
        assert_eq!(schema.schema["required"], json!(["Name"]));
        assert_eq!(
            schema.schema["properties"]["Status__c"]["enum"],
            json!(["Active"])
        );
        assert_eq!(schema.schema["properties"]["Id"]["readOnly"], true);
        assert_eq!(
            schema.schema["properties"]["Budget__c"],
            json!({ "title": "BUDGET__C", "type": "number" })
        );
    }
}
