//! Discovery: the properties of an object type (`list-fields`) and the
//! account's custom objects (`list-objects`).
//!
//! - A common type's fields are `GET /crm/v3/properties/{type}`.
//! - The custom objects are `GET /crm/v3/schemas`, whose every schema also
//!   carries the object's property definitions and its `requiredProperties`:
//!   so an object's fields, with which of them are required, take that one
//!   request too. An object the schemas do not list (a standard object
//!   such as `deals`) takes its properties from `/crm/v3/properties/{name}`,
//!   none of them marked required (HubSpot does not say).

use serde::Deserialize;
use switchyard_connector_sdk::prelude::*;

use crate::mapping::Kind;
use crate::resource::{self, Resource};
use crate::{API, parse};

/// `GET /crm/v3/properties/{objectType}`.
#[derive(Debug, Deserialize)]
struct PropertyList {
    results: Vec<PropertyDefinition>,
}

/// One property definition, as the properties and schemas answers give it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropertyDefinition {
    name: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    /// True for HubSpot's own properties; absent for the portal's.
    #[serde(default)]
    hubspot_defined: bool,
    #[serde(default)]
    hidden: bool,
    /// HubSpot holds at most one record per value.
    #[serde(default)]
    has_unique_value: bool,
    #[serde(default)]
    options: Vec<PropertyOption>,
    #[serde(default, rename = "modificationMetadata")]
    modification: Option<ModificationMetadata>,
}

#[derive(Debug, Deserialize)]
struct PropertyOption {
    label: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModificationMetadata {
    #[serde(default)]
    read_only_value: bool,
}

/// `GET /crm/v3/schemas`.
#[derive(Debug, Deserialize)]
struct Schemas {
    #[serde(default)]
    results: Vec<Schema>,
}

/// One custom object's schema.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Schema {
    #[serde(default)]
    object_type_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// `p_projects`: the name the object endpoints take.
    #[serde(default)]
    fully_qualified_name: Option<String>,
    #[serde(default)]
    labels: Option<Labels>,
    #[serde(default)]
    required_properties: Vec<String>,
    #[serde(default)]
    properties: Vec<PropertyDefinition>,
}

#[derive(Debug, Deserialize)]
struct Labels {
    #[serde(default)]
    singular: Option<String>,
}

impl Schema {
    /// The name the connector gives the object: its fully qualified name,
    /// else its object type id.
    fn object_name(&self) -> Option<&str> {
        self.fully_qualified_name
            .as_deref()
            .or(self.object_type_id.as_deref())
            .filter(|name| !name.is_empty())
    }

    /// Whether `name` refers to this object (HubSpot's paths take the fully
    /// qualified name and the object type id alike).
    fn is_named(&self, name: &str) -> bool {
        [&self.fully_qualified_name, &self.object_type_id, &self.name]
            .into_iter()
            .any(|n| n.as_deref() == Some(name))
    }
}

/// A property definition as discovery lists it.
fn field_info(p: PropertyDefinition, mapped: bool, required: bool) -> FieldInfo {
    FieldInfo {
        mapped,
        json_type: match p.kind.as_str() {
            "number" => "number",
            "bool" => "boolean",
            _ => "string",
        }
        .to_owned(),
        custom: !p.hubspot_defined,
        unique: p.has_unique_value,
        required,
        read_only: p.modification.is_some_and(|m| m.read_only_value),
        options: p.options.into_iter().map(|o| (o.value, o.label)).collect(),
        name: p.name,
        label: p.label,
    }
}

/// `GET /crm/v3/properties/{path}`, hidden ones left out.
fn properties(path: &str) -> Result<Vec<PropertyDefinition>, ConnectorError> {
    let answer: PropertyList = parse(API.get(format!("/crm/v3/properties/{path}")).send()?)?;
    Ok(answer.results.into_iter().filter(|p| !p.hidden).collect())
}

fn schemas() -> Result<Response, ConnectorError> {
    API.get("/crm/v3/schemas").send()
}

/// The fields of a common type's records (`mapped` for the properties the
/// connector carries in the common model) or of an object's.
pub fn list_fields(resource: Resource) -> Result<Vec<FieldInfo>, ConnectorError> {
    match resource {
        Resource::Common(kind) => Ok(properties(kind.path())?
            .into_iter()
            .map(|p| {
                let mapped = is_mapped(kind, &p.name);
                field_info(p, mapped, false)
            })
            .collect()),
        Resource::Object(name) => {
            let answer: Schemas = parse(schemas()?)?;
            match answer.results.into_iter().find(|s| s.is_named(name)) {
                Some(schema) => {
                    let required = schema.required_properties;
                    Ok(schema
                        .properties
                        .into_iter()
                        .filter(|p| !p.hidden)
                        .map(|p| {
                            let required = required.contains(&p.name);
                            field_info(p, false, required)
                        })
                        .collect())
                }
                None => Ok(properties(name)?
                    .into_iter()
                    .map(|p| field_info(p, false, false))
                    .collect()),
            }
        }
    }
}

/// Whether the connector carries `property` of `kind` in the common model.
fn is_mapped(kind: Kind, property: &str) -> bool {
    kind.properties().contains(&property) || property == "hs_object_id"
}

/// The account's custom objects, by fully qualified name. A token without
/// the schema scope (a portal without custom objects) reaches none: `403`
/// is an empty list.
pub fn list_objects() -> Result<Vec<ObjectInfo>, ConnectorError> {
    let response = schemas()?;
    if response.status() == 403 {
        log::warn!("hubspot: no access to custom object schemas (HTTP 403); listing none");
        return Ok(Vec::new());
    }
    let answer: Schemas = parse(response)?;
    Ok(answer
        .results
        .iter()
        .filter_map(|schema| {
            let name = schema.object_name()?;
            if resource::object_name(name).is_err() {
                log::warn!("hubspot: skipping the custom object {name:?}: not a name paths take");
                return None;
            }
            let label = schema
                .labels
                .as_ref()
                .and_then(|l| l.singular.clone())
                .filter(|l| !l.is_empty())
                .or_else(|| schema.name.clone())
                .unwrap_or_else(|| name.to_owned());
            Some(ObjectInfo {
                name: name.to_owned(),
                label,
                custom: true,
                supports_pull: true,
                supports_push: true,
            })
        })
        .collect())
}
