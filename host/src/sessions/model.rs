//! What a session holds: the options the app chose at `initiate`, its schemas,
//! and, once configured, the provider connection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cdm::mapping::FieldMapping;
use crate::runtime::manifest::{Integration, Manifest};
use crate::runtime::types::{object_subject, subject_object};
use crate::wire::Direction;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub account: String,
    pub created_ms: u64,
    /// When the sweeper deletes it; `None` with `save_session`.
    pub expires_ms: Option<u64>,
    pub options: SessionOptions,
    pub schemas: Vec<SessionSchema>,
    /// Set once the end user connected a provider and finished the page.
    pub connection: Option<ConnectionState>,
    /// The provider no longer accepts the stored credentials: the end user
    /// must authenticate again (`/session/reauthenticate`).
    #[serde(default)]
    pub reauth_required: bool,
    /// The provider account the end user signed in to on the connect page
    /// while the selections they still have to make (schemas, resources,
    /// fields) are pending; it becomes `connection` when they finish.
    #[serde(default)]
    pub pending: Option<ConnectionState>,
    /// With `passthrough_schemas`: the provider objects the connector's
    /// discovery found for the connected account that no integration
    /// serves (custom objects, mostly), offered as passthrough schemas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ProviderObject>,
}

/// A provider object found by discovery, moved as the connector subject
/// `object:<name>` with records made of the provider's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderObject {
    /// The provider's name for it (`Project__c`); also the name of the
    /// passthrough schema that carries it.
    pub name: String,
    /// What people call one record of it.
    pub label: String,
    /// The account's own object.
    pub custom: bool,
    pub supports_pull: bool,
    pub supports_push: bool,
}

impl ProviderObject {
    /// The connector subject (the `integration` of its schema).
    pub fn subject(&self) -> String {
        object_subject(&self.name)
    }

    /// The object as an integration, for the configuration object, errors
    /// and the session page, which describe what serves a schema that way.
    pub fn integration(&self) -> Integration {
        Integration {
            endgrate_type: self.subject(),
            display_name: self.label.clone(),
            resource: self.name.clone(),
            supports_pull: self.supports_pull,
            supports_push: self.supports_push,
            supports_associations: false,
            is_custom_object: self.custom,
            paging: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionOptions {
    pub name: Option<String>,
    pub provider: Option<String>,
    pub integration_provider_list_id: Option<String>,
    pub redirect_url: Option<String>,
    pub category: Option<String>,
    pub save_session: bool,
    pub sync: bool,
    pub field_selection: bool,
    pub schema_selection: bool,
    pub resource_selection: bool,
    pub passthrough_fields: bool,
    pub passthrough_schemas: bool,
    pub statistics: bool,
    pub webhook_concurrency: bool,
    pub bypass_ui: bool,
    pub webhooks: Webhooks,
    /// `EXPORT` for sessions made by `/api/push/initiate`, `IMPORT` otherwise
    /// (the configuration's `session_method`).
    #[serde(default)]
    pub session_method: Direction,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Webhooks {
    pub configuration: Option<Webhook>,
    pub data: Option<Webhook>,
    pub completed: Option<Webhook>,
    pub error: Option<Webhook>,
}

/// Where and with what metadata a webhook is POSTed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub endpoint: String,
    #[serde(default)]
    pub metadata: Value,
    /// Data webhooks only: re-pull every 15 minutes and send what changed.
    #[serde(default)]
    pub continuous: bool,
}

/// One data type the session moves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionSchema {
    /// What calls name it by: the `endgrate_type`, or a custom schema's title.
    pub name: String,
    /// The common-model type it is read from and written to, when known.
    pub endgrate_type: Option<String>,
    /// The JSON Schema records follow.
    pub schema: Value,
    /// A custom schema (given in full at initiate), mapped field by field.
    pub custom: bool,
    /// Pulls return associations (`POST /api/schemas` switches it).
    pub associations: bool,
    /// The end user may switch schemas off (`schema_selection`).
    pub enabled: bool,
    /// The provider integration serving it, chosen at configuration.
    pub integration: Option<String>,
    /// Custom schemas: custom field → common-model path.
    pub mapping: Option<FieldMapping>,
    /// How pushes that update an existing record treat each field, as the
    /// end user chose on the field-mapping page (absent: overwrite).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upsert: BTreeMap<String, UpsertBehaviour>,
    /// A provider object no schema named, enabled by the end user on the
    /// session page (`passthrough_schemas`).
    #[serde(default)]
    pub passthrough: bool,
    /// The provider fields it carries beside its own (`passthrough_fields`):
    /// those the connector's discovery listed and does not map, found when
    /// the session was configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_fields: Vec<ProviderField>,
    /// With `field_selection`: the passthrough fields the end user chose on
    /// the session page (by the provider's names); `None` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough_choice: Option<Vec<String>>,
    /// Given by its `title` only: the end user picks which provider resource
    /// fills it on the session page, and its records take that resource's
    /// common-model shape.
    #[serde(default)]
    pub open_resource: bool,
    /// A provider object's schema: the fields the provider holds at most one
    /// record per value of (discovery's `unique`), which pushes look records
    /// up by for upserts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upsert_keys: Vec<String>,
}

impl SessionSchema {
    /// The provider object it carries, by name, when it is a passthrough
    /// schema of an object found by discovery.
    pub fn object_name(&self) -> Option<&str> {
        subject_object(self.integration.as_deref()?)
    }

    /// The integration serving it: the one chosen, else the one of its
    /// type (or title).
    pub fn serving_integration(&self) -> &str {
        self.integration
            .as_deref()
            .or(self.endgrate_type.as_deref())
            .unwrap_or(&self.name)
    }

    /// The JSON types of its properties, by name (of a list of types such
    /// as `["string", "null"]`, the first that is not `null`).
    pub fn property_types(&self) -> BTreeMap<&str, &str> {
        self.schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, p)| {
                let json_type = match p.get("type")? {
                    Value::String(t) => t.as_str(),
                    Value::Array(types) => types
                        .iter()
                        .filter_map(Value::as_str)
                        .find(|t| *t != "null")?,
                    _ => return None,
                };
                Some((name.as_str(), json_type))
            })
            .collect()
    }
}

/// A provider field a session carries beside its schema's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderField {
    /// The provider's own name, used as the key in records' `data`.
    pub name: String,
    /// The name the provider shows.
    pub title: String,
    /// Its JSON Schema type.
    #[serde(rename = "type")]
    pub json_type: String,
    /// The account's own field (a custom field), not the provider's.
    #[serde(default)]
    pub custom: bool,
}

/// What a push that updates an existing provider record does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpsertBehaviour {
    /// The pushed value replaces the provider's.
    #[default]
    Overwrite,
    /// The provider's value is kept; the field is only written on creation.
    DoNotUpdate,
    /// The pushed value is written only where the provider has none. Kept on
    /// the session and in the configuration object; the host itself cannot
    /// enforce it yet, as the connector contract has no call that reads one
    /// record's current values (pushes write it like `Overwrite`).
    SetIfNotSet,
}

impl UpsertBehaviour {
    pub const ALL: [UpsertBehaviour; 3] = [
        UpsertBehaviour::Overwrite,
        UpsertBehaviour::DoNotUpdate,
        UpsertBehaviour::SetIfNotSet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UpsertBehaviour::Overwrite => "overwrite",
            UpsertBehaviour::DoNotUpdate => "do_not_update",
            UpsertBehaviour::SetIfNotSet => "set_if_not_set",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == text)
    }
}

/// The connected provider account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionState {
    pub provider: String,
    pub configured_ms: u64,
    /// Non-secret connection settings (`realm_id`, `instance_url`...).
    pub settings: Value,
}

impl Session {
    pub fn is_configured(&self) -> bool {
        self.connection.is_some()
    }

    pub fn schema(&self, name: &str) -> Option<&SessionSchema> {
        self.schemas.iter().find(|s| s.name == name)
    }

    pub fn schema_mut(&mut self, name: &str) -> Option<&mut SessionSchema> {
        self.schemas.iter_mut().find(|s| s.name == name)
    }

    pub fn schema_names(&self) -> Vec<&str> {
        self.schemas.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn provider(&self) -> Option<&str> {
        self.connection.as_ref().map(|c| c.provider.as_str())
    }

    /// What serves `integration` (a schema's `integration`) for this
    /// session: one of `manifest`'s integrations, or a discovered object.
    pub fn integration(&self, manifest: &Manifest, integration: &str) -> Option<Integration> {
        match subject_object(integration) {
            Some(name) => self
                .objects
                .iter()
                .find(|o| o.name == name)
                .map(ProviderObject::integration),
            None => manifest.integration(integration).cloned(),
        }
    }
}
