//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the same
//! endpoint list the router is built from.

use axum::Json;
use serde_json::{Map, Value, json};

use super::{Access, endpoints};

pub async fn document() -> Json<Value> {
    Json(build())
}

pub fn build() -> Value {
    let mut paths = Map::new();
    for (e, _) in endpoints() {
        let mut op = json!({
            "summary": e.summary,
            "responses": {
                "200": { "description": "Success." },
                "400": { "$ref": "#/components/responses/Error" },
                "401": { "$ref": "#/components/responses/Error" },
                "404": { "$ref": "#/components/responses/Error" },
            },
        });
        match e.access {
            Access::ApiKey => op["security"] = json!([{ "apiKey": [] }]),
            Access::Admin => op["security"] = json!([{ "adminKey": [] }]),
            Access::Public | Access::Browser => op["security"] = json!([]),
        }
        let mut parameters: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.split('}').next()))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        parameters.extend(
            e.query
                .iter()
                .map(|q| json!({ "name": q, "in": "query", "schema": { "type": "string" } })),
        );
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        if !e.body.is_empty() {
            let properties: Map<String, Value> = e
                .body
                .iter()
                .map(|f| ((*f).to_owned(), json!({})))
                .collect();
            op["requestBody"] = json!({ "content": { "application/json": { "schema": { "type": "object", "properties": properties } } } });
        }
        paths
            .entry(e.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(e.method.to_lowercase(), op));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchyard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A self-hosted, Endgrate-compatible unified API.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "An account's API key." },
                "adminKey": { "type": "http", "scheme": "bearer", "description": "The host's admin key." },
            },
            "responses": {
                "Error": {
                    "description": "`{\"success\": false, \"message\", \"errors\"}`",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "success": { "const": false }, "message": { "type": "string" }, "errors": { "type": "object" } },
                        "required": ["success", "message"],
                    } } },
                },
            },
        },
    })
}
