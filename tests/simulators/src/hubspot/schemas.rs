//! `/crm/v3/schemas`: the portal's custom object schemas. There is one,
//! `projects` (`objectTypeId` `2-7411001`, `fullyQualifiedName`
//! `p_projects`), with its labels, display, required and searchable
//! properties, property definitions and (no) associations.

use axum::Json;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::HsError;
use super::model::{Kind, PROJECTS_QUALIFIED_NAME, PROJECTS_TYPE_ID};
use super::{HsState, properties};
use crate::clock;
use crate::data::EPOCH_MS;

/// The schema of the `projects` custom object.
fn projects() -> Value {
    let kind = Kind::Projects;
    let defined = clock::iso_millis_z(EPOCH_MS);
    json!({
        "id": PROJECTS_TYPE_ID.trim_start_matches("2-"),
        "objectTypeId": PROJECTS_TYPE_ID,
        "name": kind.name(),
        "fullyQualifiedName": PROJECTS_QUALIFIED_NAME,
        "labels": {"singular": "Project", "plural": "Projects"},
        "primaryDisplayProperty": "project_name",
        "requiredProperties": kind.required_props(),
        "searchableProperties": ["project_name"],
        "secondaryDisplayProperties": [],
        "properties": properties::definitions(kind),
        "associations": [],
        "metaType": "PORTAL_SPECIFIC",
        "archived": false,
        "createdAt": defined,
        "updatedAt": defined,
    })
}

/// `GET /crm/v3/schemas`.
pub async fn list(_: HsState) -> Response {
    Json(json!({ "results": [projects()] })).into_response()
}

/// `GET /crm/v3/schemas/{objectType}` (an `objectTypeId` or
/// `fullyQualifiedName`); standard objects have no schema here.
pub async fn read(state: HsState, Path(object): Path<String>) -> Response {
    match Kind::parse(&object) {
        Some(Kind::Projects) => Json(projects()).into_response(),
        _ => HsError::NotFound { id: object }.respond(&state.0.ctx),
    }
}
