//! Discovery: an sObject's fields (`list-fields`, one `GET
//! .../sobjects/{name}/describe`) and the org's custom objects
//! (`list-objects`, one `GET .../sobjects`).

use serde::Deserialize;
use switchyard_connector_sdk::prelude::*;

use crate::client::{API, Org, parse};
use crate::mapping::Kind;
use crate::resource::{Resource, is_custom_object};

/// `GET .../sobjects/{name}/describe`, the parts discovery uses.
#[derive(Debug, Deserialize)]
struct Described {
    fields: Vec<DescribedField>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribedField {
    name: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    custom: bool,
    #[serde(default)]
    createable: bool,
    #[serde(default)]
    updateable: bool,
    /// Can be empty (`null`).
    #[serde(default = "yes")]
    nillable: bool,
    /// Salesforce fills it in when a create leaves it out.
    #[serde(default)]
    defaulted_on_create: bool,
    /// An external id: unique, and a key records can be looked up by.
    #[serde(default)]
    external_id: bool,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    picklist_values: Vec<PicklistValue>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct PicklistValue {
    value: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    active: bool,
}

/// `GET .../sobjects`, the parts discovery uses.
#[derive(Debug, Deserialize)]
struct Global {
    #[serde(default)]
    sobjects: Vec<GlobalObject>,
}

#[derive(Debug, Deserialize)]
struct GlobalObject {
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    custom: bool,
    #[serde(default)]
    queryable: bool,
    #[serde(default)]
    createable: bool,
    #[serde(default)]
    updateable: bool,
}

/// A described field as discovery lists it.
fn field_info(f: DescribedField, mapped: bool) -> FieldInfo {
    FieldInfo {
        mapped,
        json_type: match f.kind.as_str() {
            "double" | "currency" | "percent" => "number",
            "int" | "long" => "integer",
            "boolean" => "boolean",
            _ => "string",
        }
        .to_owned(),
        custom: f.custom,
        unique: f.external_id || f.unique,
        required: f.createable && !f.nillable && !f.defaulted_on_create,
        read_only: !f.createable && !f.updateable,
        options: f
            .picklist_values
            .into_iter()
            .filter(|p| p.active)
            .map(|p| (p.value, p.label))
            .collect(),
        name: f.name,
        label: f.label,
    }
}

/// The fields of a common type's sObject (`mapped` for those the
/// connector carries in the common model) or of a custom object's.
pub fn list_fields(org: &Org, resource: Resource) -> Result<Vec<FieldInfo>, ConnectorError> {
    let described: Described = parse(
        API.get(org.data(&format!("/sobjects/{}/describe", resource.sobject())))
            .send()?,
    )?;
    Ok(described
        .fields
        .into_iter()
        .map(|f| {
            let mapped = resource.kind().is_some_and(|kind| {
                kind.fields()
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&f.name))
            });
            field_info(f, mapped)
        })
        .collect())
}

/// The org's custom objects (`<Name>__c`) that can be read or written.
/// The sObjects the integrations serve, and the custom metadata types,
/// platform events and the like (other suffixes), are left out.
pub fn list_objects(org: &Org) -> Result<Vec<ObjectInfo>, ConnectorError> {
    let global: Global = parse(API.get(org.data("/sobjects")).send()?)?;
    let served = [Kind::Contact.sobject(), Kind::Account.sobject()];
    Ok(global
        .sobjects
        .into_iter()
        .filter(|o| o.custom && is_custom_object(&o.name) && !served.contains(&o.name.as_str()))
        .map(|o| ObjectInfo {
            supports_pull: o.queryable,
            supports_push: o.createable && o.updateable,
            label: if o.label.is_empty() {
                o.name.clone()
            } else {
                o.label
            },
            name: o.name,
            custom: true,
        })
        .filter(|o| o.supports_pull || o.supports_push)
        .collect())
}
