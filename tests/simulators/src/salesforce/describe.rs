//! Describe: `GET /services/data/vXX.X/sobjects` lists the objects served
//! (Account, Contact and the custom `Project__c`), and
//! `.../sobjects/{type}/describe` answers one object with its fields: types,
//! labels, which are custom, createable, required, external ids, unique,
//! references and picklist values.

use axum::Json;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::model::{FieldType, SObject};
use super::sobjects::object;
use super::{SfState, check_version};

/// The `urls` of an object.
fn urls(version: &str, object: SObject) -> Value {
    let base = format!("/services/data/{version}/sobjects/{}", object.name());
    json!({
        "sobject": base,
        "describe": format!("{base}/describe"),
        "rowTemplate": format!("{base}/{{ID}}"),
    })
}

/// What the global describe and an object's describe share.
fn summary(version: &str, object: SObject) -> Value {
    json!({
        "name": object.name(),
        "label": object.label(),
        "labelPlural": object.label_plural(),
        "custom": object.is_custom(),
        "keyPrefix": object.key_prefix(),
        "queryable": true,
        "createable": true,
        "updateable": true,
        "deletable": true,
        "urls": urls(version, object),
    })
}

/// One field as describe reports it.
fn field(object: SObject, name: &'static str) -> Value {
    let ty = object.field_type(name);
    let writable = object.writable().contains(&name);
    let (picklist, restricted): (&[&str], bool) = match ty {
        FieldType::Picklist { values, restricted } => (values, restricted),
        _ => (&[], false),
    };
    let reference: Vec<&str> = match ty {
        FieldType::Reference(to) => vec![to.name()],
        _ => Vec::new(),
    };
    let relationship = match (ty, name.strip_suffix("__c")) {
        (FieldType::Reference(_), Some(bare)) => json!(format!("{bare}__r")),
        (FieldType::Reference(to), None) => json!(to.name()),
        _ => Value::Null,
    };
    let external = object.external_ids().contains(&name);
    json!({
        "name": name,
        "label": object.field_label(name),
        "type": ty.name(),
        "custom": name.ends_with("__c"),
        "createable": writable,
        "updateable": writable,
        "nillable": writable && name != object.required(),
        "externalId": external,
        "unique": object.is_unique(name),
        "idLookup": name == "Id" || external,
        "referenceTo": reference,
        "relationshipName": relationship,
        "restrictedPicklist": restricted,
        "picklistValues": picklist
            .iter()
            .map(|v| json!({ "value": v, "label": v, "active": true, "defaultValue": false }))
            .collect::<Vec<_>>(),
    })
}

/// `GET .../sobjects/{type}/describe`: the object and its fields.
pub fn describe(version: &str, object: SObject) -> Value {
    let fields: Vec<Value> = object
        .fields()
        .into_iter()
        .map(|name| field(object, name))
        .collect();
    let mut out = summary(version, object);
    out["fields"] = json!(fields);
    out
}

/// `GET .../sobjects`: the global describe.
pub async fn global(_: SfState, Path(version): Path<String>) -> Response {
    match check_version(&version) {
        Ok(()) => {
            let sobjects: Vec<Value> = SObject::ALL
                .into_iter()
                .map(|o| summary(&version, o))
                .collect();
            Json(json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}))
                .into_response()
        }
        Err(e) => e.respond(),
    }
}

/// `GET .../sobjects/{type}/describe`.
pub async fn read(_: SfState, Path((version, name)): Path<(String, String)>) -> Response {
    match object(&version, &name) {
        Ok(object) => Json(describe(&version, object)).into_response(),
        Err(e) => e.respond(),
    }
}
