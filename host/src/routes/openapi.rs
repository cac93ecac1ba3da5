//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the same
//! endpoint list the router is built from, with every answer's schema (and
//! Endgrate's enumerated values) so a generated client can validate ours.

use axum::Json;
use serde_json::{Map, Value, json};

use super::{Access, Endpoint, endpoints};
use crate::wire::{AUTH_TYPES, ERROR_TYPES};

/// What an endpoint answers with on success.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// JSON following the named schema of `components.schemas`.
    Json(&'static str),
    /// JSON answered with `201 Created` (new) or `200` (replaced).
    JsonCreated(&'static str),
    /// JSON answered with `202 Accepted`: work was queued.
    JsonAccepted(&'static str),
    /// An HTML page (or a redirect to one).
    Html,
    /// An SVG image.
    Svg,
    /// Server-sent events.
    Events,
    /// An embedded file of the pages (CSS, script, image).
    Asset,
    /// The provider's answer, passed through unchanged.
    Passthrough,
    /// Plain text (the metrics).
    Text,
}

pub async fn document() -> Json<Value> {
    Json(build())
}

pub fn build() -> Value {
    let mut paths = Map::new();
    for (e, _) in endpoints() {
        let mut responses = Map::new();
        match e.answer {
            Answer::Json(schema) => {
                responses.insert("200".into(), json_response("Success.", schema));
            }
            Answer::JsonCreated(schema) => {
                responses.insert("200".into(), json_response("Replaced.", schema));
                responses.insert("201".into(), json_response("Created.", schema));
            }
            Answer::JsonAccepted(schema) => {
                responses.insert("202".into(), json_response("Queued.", schema));
            }
            Answer::Html => {
                responses.insert("200".into(), media("An HTML page.", "text/html"));
                responses.insert(
                    "303".into(),
                    json!({ "description": "A redirect to the next page or to the provider." }),
                );
            }
            Answer::Svg => {
                responses.insert("200".into(), media("The image.", "image/svg+xml"));
            }
            Answer::Text => {
                responses.insert(
                    "200".into(),
                    media("The Prometheus text format, version 0.0.4.", "text/plain"),
                );
            }
            Answer::Events => {
                responses.insert(
                    "200".into(),
                    media(
                        "Statistics objects as server-sent events.",
                        "text/event-stream",
                    ),
                );
            }
            Answer::Asset => {
                responses.insert("200".into(), json!({ "description": "The file." }));
            }
            Answer::Passthrough => {
                responses.insert(
                    "2XX".into(),
                    json!({ "description": "The provider's answer: its status, content type and body as the provider sent them." }),
                );
            }
        }
        if let Some(description) = too_many_requests(&e) {
            let mut answer = json_response(&description, "Error");
            answer["headers"] = json!({ "Retry-After": {
                "description": "Whole seconds to wait before trying again (absent when waiting alone does not help).",
                "schema": { "type": "integer", "minimum": 1 },
            } });
            responses.insert("429".into(), answer);
        }
        if e.path == "/healthz" {
            responses.insert(
                "503".into(),
                json_response("Storage failed; writes are refused.", "Health"),
            );
        }
        // Pages answer a person, so their errors are pages too.
        let failure = if e.answer == Answer::Html {
            media("A page saying what went wrong.", "text/html")
        } else if e.answer == Answer::Passthrough {
            json!({ "description": "The provider's own answer with any other status, unchanged; or the host's error (`Error`) when the request was refused or got no answer: 400 for a path outside the provider's API base, 404 for a session of another account, 429 when the connection's rate limit is used up, 502 when the provider could not be reached or rejected the session's credentials." })
        } else {
            json!({ "$ref": "#/components/responses/Error" })
        };
        responses.insert("default".into(), failure);
        let mut op = json!({ "summary": e.summary, "responses": responses });
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
                .map(|f| ((*f).to_owned(), body_field(f)))
                .collect();
            let content = if e.access == Access::Browser {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            op["requestBody"] = json!({ "content": { content: { "schema": { "type": "object", "properties": properties } } } });
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
        "webhooks": webhooks(),
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "An account's API key." },
                "adminKey": { "type": "http", "scheme": "bearer", "description": "The host's admin key." },
            },
            "responses": {
                "Error": json_response("`{\"success\": false, \"message\", \"errors\"}`", "Error"),
            },
            "schemas": schemas(),
        },
    })
}

/// The JSON Schema that a route's answer with `status` must follow, with
/// `$ref`s into `document` (a `build()` result); `None` when the document
/// gives no JSON schema for it (a page, an image, an undocumented status).
pub fn response_schema(document: &Value, method: &str, path: &str, status: u16) -> Option<Value> {
    let responses = &document["paths"][path][method.to_lowercase()]["responses"];
    let response = match responses.get(status.to_string()) {
        Some(r) => r,
        None if status >= 400 => responses.get("default")?,
        None => return None,
    };
    let response = match response["$ref"].as_str() {
        Some(reference) => document.pointer(reference.strip_prefix('#')?)?,
        None => response,
    };
    response["content"]["application/json"]
        .get("schema")
        .cloned()
}

/// What a `429` of endpoint `e` means, if it can answer one.
fn too_many_requests(e: &Endpoint) -> Option<String> {
    let mut description = match e.access {
        Access::ApiKey => "The account sent more API requests per second than the host allows (`--api-requests-per-second`), or too many wrong keys were sent from this address; `Retry-After` says when to try again.".to_owned(),
        Access::Admin => "Too many wrong keys were sent from this address; `Retry-After` says when to try again.".to_owned(),
        Access::Public | Access::Browser if e.path == "/statistics/events" => {
            return Some("The transfer already has its most live feeds open; poll `GET /api/statistics` instead.".into());
        }
        Access::Public | Access::Browser => return None,
    };
    if e.path.ends_with("/initiate") {
        description.push_str(" Also when the account already has its most sessions (`--max-sessions-per-account`), without `Retry-After`: delete sessions to make room.");
    }
    if e.path.ends_with("/transfer") || e.path.ends_with("/retry") {
        description.push_str(" Also when the account already has its most transfers waiting (`--max-waiting-transfers`), with `Retry-After: 5`.");
    }
    Some(description)
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": reference(schema) } },
    })
}

fn media(description: &str, content_type: &str) -> Value {
    json!({ "description": description, "content": { content_type: {} } })
}

fn reference(schema: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{schema}") })
}

/// An object with these required members (`schema` of each given).
fn object(required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for (name, schema) in required.iter().chain(optional) {
        properties.insert((*name).to_owned(), schema.clone());
    }
    let required: Vec<&str> = required.iter().map(|(n, _)| *n).collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn nullable_string() -> Value {
    json!({ "type": ["string", "null"] })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

fn integer() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}

fn any_object() -> Value {
    json!({ "type": "object" })
}

fn success() -> Value {
    json!({ "const": true })
}

fn array_of(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn direction() -> Value {
    json!({ "type": "string", "enum": ["IMPORT", "EXPORT"] })
}

/// The schema of a request body's field, by its name (the same name means
/// the same thing in every request).
fn body_field(name: &str) -> Value {
    let webhook = || {
        object(
            &[("endpoint", string())],
            &[("metadata", any_object()), ("continuous", boolean())],
        )
    };
    match name {
        "schema" => array_of(any_object()),
        "transfer_data" => array_of(object(
            &[("data", any_object())],
            &[
                ("id", string()),
                ("internal_id", string()),
                ("associations", any_object()),
            ],
        )),
        "providers" => array_of(string()),
        "data" => array_of(object(
            &[("endgrate_type", string()), ("associations", boolean())],
            &[],
        )),
        "params" | "associations" | "credentials" => any_object(),
        "configuration_webhook" | "data_webhook" | "completed_webhook" | "error_webhook" => {
            webhook()
        }
        "save_session"
        | "sync"
        | "field_selection"
        | "schema_selection"
        | "resource_selection"
        | "passthrough_fields"
        | "passthrough_schemas"
        | "statistics"
        | "webhook_concurrency"
        | "bypass_ui"
        | "synchronous"
        | "include_remote_data"
        | "disable_upsert"
        | "sample_data"
        | "resolved" => boolean(),
        _ => string(),
    }
}

/// Every named schema of the answers and webhooks.
fn schemas() -> Value {
    let page_link = object(&[("offset", integer()), ("link", string())], &[]);
    let statistics = object(
        &[
            ("method", direction()),
            ("completed", boolean()),
            ("initiated", string()),
            (
                "statistics",
                object(
                    &[
                        ("provider", string()),
                        ("integration", string()),
                        ("batch_size", integer()),
                        ("records", integer()),
                        ("batches", integer()),
                        ("batches_queued", integer()),
                        ("batches_success", integer()),
                        ("batches_fail", integer()),
                        ("records_transferred", integer()),
                        ("completed", boolean()),
                    ],
                    &[],
                ),
            ),
        ],
        &[
            ("transfer_id", string()),
            ("endgrate_type", string()),
            (
                "status",
                json!({ "enum": ["queued", "running", "completed", "failed"] }),
            ),
            ("error", nullable_string()),
            ("cancelled", json!({ "const": true })),
            ("retry_of", string()),
        ],
    );
    let attempt = object(
        &[
            ("at", string()),
            ("status", json!({ "type": ["integer", "null"] })),
            ("error", nullable_string()),
            ("duration_ms", integer()),
        ],
        &[],
    );
    let delivery = object(
        &[
            ("delivery_id", string()),
            ("session_id", string()),
            (
                "event",
                json!({ "enum": ["configuration", "data", "completed", "error"] }),
            ),
            ("endpoint", string()),
            (
                "state",
                json!({ "enum": ["pending", "retrying", "delivered", "given_up"] }),
            ),
            ("created", string()),
            ("attempt_count", integer()),
            ("attempts", array_of(attempt)),
            ("next_attempt", nullable_string()),
            ("finished", nullable_string()),
            ("redelivery_of", nullable_string()),
        ],
        &[],
    );
    let configured_schema = object(
        &[
            ("integration", nullable_string()),
            (
                "integration_info",
                json!({ "oneOf": [reference("IntegrationInfo"), { "type": "null" }] }),
            ),
            (
                "schema",
                object(
                    &[
                        ("type", json!({ "const": "object" })),
                        ("title", string()),
                        ("properties", any_object()),
                        ("required", array_of(string())),
                        ("associations", boolean()),
                        ("session_method", direction()),
                    ],
                    &[("endgrate_type", string())],
                ),
            ),
            (
                "passthrough_fields",
                object(
                    &[
                        ("properties", any_object()),
                        ("required", array_of(string())),
                    ],
                    &[],
                ),
            ),
        ],
        &[
            ("associations", boolean()),
            ("field_mapping", json!({ "type": ["object", "null"] })),
            ("upsert_behaviour", any_object()),
        ],
    );
    let configured_schemas =
        json!({ "type": "object", "additionalProperties": reference("ConfiguredSchema") });
    let pulled = object(
        &[("id", string()), ("data", any_object())],
        &[
            ("associations", any_object()),
            ("deleted", boolean()),
            ("remote_data", any_object()),
        ],
    );
    let pushed = object(
        &[("data", any_object())],
        &[
            ("id", nullable_string()),
            ("sample_data", boolean()),
            ("internal_id", nullable_string()),
            ("created", boolean()),
            ("associations", any_object()),
            (
                "error",
                object(
                    &[
                        ("error_type", reference("ErrorType")),
                        ("message", string()),
                    ],
                    &[],
                ),
            ),
        ],
    );
    let data_page = |row: &str| {
        object(
            &[
                ("success", success()),
                ("meta", reference("PageMeta")),
                ("transfer_data", array_of(reference(row))),
                ("transfer_errors", boolean()),
            ],
            &[],
        )
    };
    let list_page = |member: &str, row: Value| {
        object(
            &[
                ("success", success()),
                ("meta", reference("PageMeta")),
                (member, array_of(row)),
            ],
            &[],
        )
    };
    let connector = object(
        &[
            ("id", string()),
            ("version", string()),
            (
                "contract",
                json!({ "type": "string", "enum": crate::runtime::contract::Version::ALL.map(|v| v.as_str()) }),
            ),
            ("hash", string()),
            ("loaded_at", string()),
            ("display_name", string()),
        ],
        &[("success", success()), ("replaced_version", string())],
    );
    json!({
        "Error": object(
            &[("success", json!({ "const": false })), ("message", string())],
            &[("errors", any_object())],
        ),
        "Health": object(&[("status", json!({ "enum": ["ok", "unavailable"] }))], &[("storage", string())]),
        "Document": any_object(),
        "ErrorType": { "type": "string", "enum": ERROR_TYPES },
        "SessionAnswer": object(&[("success", success()), ("session_id", string())], &[]),
        "ProviderInfo": object(
            &[
                ("name", string()),
                ("display_name", string()),
                ("url", string()),
                ("image", { let mut s = string(); s["format"] = json!("uri"); s }),
                ("auth_type", json!({ "type": "string", "enum": AUTH_TYPES })),
                ("specific", any_object()),
                ("endgrate_provider_type", string()),
            ],
            &[],
        ),
        "IntegrationInfo": object(
            &[
                ("name", string()),
                ("display_name", string()),
                ("method", direction()),
                ("endgrate_type", string()),
                ("supports_associations", boolean()),
            ],
            &[],
        ),
        "ConfiguredSchema": configured_schema,
        "Configuration": object(
            &[
                ("success", success()),
                ("session_id", string()),
                ("endgrate", object(&[("provider", string()), ("provider_info", reference("ProviderInfo"))], &[])),
                ("schemas", configured_schemas.clone()),
                ("passthrough_schemas", configured_schemas),
            ],
            &[],
        ),
        "Integrations": object(&[(
            "providers",
            array_of(object(
                &[
                    ("provider", reference("ProviderInfo")),
                    ("integrations", array_of(object(
                        &[
                            ("name", string()),
                            ("display_name", string()),
                            ("endgrate_type", string()),
                            ("supports_pull", boolean()),
                            ("supports_push", boolean()),
                            ("supports_associations", boolean()),
                            ("is_custom_object", boolean()),
                        ],
                        &[],
                    ))),
                ],
                &[],
            )),
        )], &[]),
        "PageMeta": object(
            &[("count", integer())],
            &[("limit", integer()), ("offset", integer()), ("previous", page_link.clone()), ("next", page_link)],
        ),
        "TransferStarted": object(
            &[("success", success()), ("transfer_id", string()), ("statistics", string())],
            &[("retry_of", string())],
        ),
        "Delivery": delivery,
        "Deliveries": list_page("deliveries", reference("Delivery")),
        "DeliveryQueued": object(&[("success", success()), ("delivery", reference("Delivery"))], &[]),
        "PulledRecord": pulled,
        "PushedRecord": pushed,
        "PullData": data_page("PulledRecord"),
        "PushData": data_page("PushedRecord"),
        "Statistics": statistics,
        "StatisticsAnswer": {
            "oneOf": [
                reference("Statistics"),
                object(
                    &[("success", success()), ("session_id", string()), ("transfers", array_of(reference("Statistics")))],
                    &[],
                ),
            ],
        },
        "ErrorRecord": object(
            &[
                ("pk", string()),
                ("transfer_id", nullable_string()),
                ("session_id", string()),
                ("timestamp", string()),
                ("error_type", reference("ErrorType")),
                ("message", string()),
                ("error_resolve_text", string()),
                ("resolved", boolean()),
                ("endgrate", object(
                    &[
                        ("provider_info", json!({ "oneOf": [reference("ProviderInfo"), { "type": "null" }] })),
                        ("integration_info", json!({ "oneOf": [reference("IntegrationInfo"), { "type": "null" }] })),
                    ],
                    &[],
                )),
            ],
            &[
                ("index", integer()),
                ("internal_id", nullable_string()),
                ("metadata", json!({})),
                // The error webhook of a push batch: its rejected items.
                ("count", integer()),
                ("items", array_of(object(
                    &[
                        ("pk", string()),
                        ("index", integer()),
                        ("internal_id", nullable_string()),
                        ("error_type", reference("ErrorType")),
                        ("message", string()),
                    ],
                    &[],
                ))),
            ],
        ),
        "Errors": list_page("errors", reference("ErrorRecord")),
        "ErrorResolved": object(&[("success", success()), ("pk", string()), ("resolved", boolean())], &[]),
        "Sessions": list_page("sessions", object(
            &[
                ("session_id", string()),
                ("name", nullable_string()),
                ("provider", nullable_string()),
                ("configured", boolean()),
                ("reauth_required", boolean()),
                ("created", string()),
                ("schemas", array_of(string())),
            ],
            &[("choosing", boolean()), ("expires", nullable_string())],
        )),
        "SessionDetail": object(&[("success", success()), ("session", object(
            &[
                ("session_id", string()),
                ("status", json!({ "enum": ["waiting", "choosing", "connected", "reauthentication_required"] })),
                ("configured", boolean()),
                ("created", string()),
            ],
            &[],
        ))], &[]),
        "Transfers": list_page("transfers", reference("Statistics")),
        "RequestLog": list_page("requests", object(
            &[
                ("time", string()),
                ("session_id", string()),
                ("transfer_id", nullable_string()),
                ("source", json!({ "enum": ["transfer", "proxy", "discovery", "check"] })),
                ("method", string()),
                ("url", string()),
                ("status", json!({ "type": ["integer", "null"] })),
                ("error", nullable_string()),
                ("duration_ms", json!({ "type": "number" })),
                ("response_bytes", json!({ "type": ["integer", "null"] })),
                ("attempt", integer()),
                ("retry", boolean()),
                ("rate_limited", boolean()),
                ("rate_limit_wait_ms", json!({ "type": "number" })),
            ],
            &[],
        )),
        "Account": object(&[("success", success()), ("account", string())], &[]),
        "ProviderListCreated": object(&[("success", success()), ("integration_provider_list_id", string())], &[]),
        "ProviderLists": object(&[("success", success()), ("provider_lists", array_of(object(
            &[("integration_provider_list_id", string()), ("name", string()), ("providers", array_of(string()))],
            &[("created", string())],
        )))], &[]),
        "WebhookSecret": object(&[("success", success()), ("webhook_secret", string())], &[("signature_header", string())]),
        "KeyCreated": object(
            &[("success", success()), ("account", string()), ("key_id", string()), ("api_key", string())],
            &[("webhook_secret", string())],
        ),
        "Keys": object(&[("success", success()), ("keys", array_of(object(
            &[("key_id", string()), ("account", string()), ("revoked", boolean())],
            &[("hint", string()), ("created", string())],
        )))], &[]),
        "KeyRevoked": object(&[("success", success()), ("key_id", string()), ("revoked", boolean())], &[]),
        "Connector": connector.clone(),
        "Connectors": array_of(connector),
        "ConnectorRemoved": object(&[("success", success()), ("id", string()), ("version", string())], &[]),
        "DataWebhook": object(
            &[
                ("success", boolean()),
                ("transfer_id", string()),
                ("session_id", string()),
                ("endgrate", object(&[("endgrate_type", string())], &[])),
                ("completed", boolean()),
                ("transfer_data", array_of(any_object())),
                ("transfer_errors", boolean()),
            ],
            &[("metadata", json!({}))],
        ),
        "CompletedWebhook": object(
            &[
                ("success", boolean()),
                ("transfer_id", string()),
                ("session_id", string()),
                ("endgrate", object(&[("endgrate_type", string())], &[])),
                ("completed", json!({ "const": true })),
            ],
            &[("metadata", json!({}))],
        ),
    })
}

/// The webhooks the host POSTs, by `x-switchyard-event`.
fn webhooks() -> Value {
    let header = |name: &str, description: &str| json!({ "name": name, "in": "header", "required": true, "schema": string(), "description": description });
    let headers = json!([
        header(
            "x-switchyard-timestamp",
            "When this attempt was signed, in Unix seconds."
        ),
        header(
            "x-switchyard-signature",
            "`t=<timestamp>,v1=<hex HMAC-SHA256 of \"<timestamp>.<delivery id>.<raw body>\">`, keyed with the account's webhook secret."
        ),
        header(
            "x-switchyard-delivery",
            "The delivery's id, the same on every retry."
        ),
        header(
            "x-switchyard-event",
            "`configuration`, `data`, `completed` or `error`."
        ),
        json!({ "name": "x-switchyard-redelivery-of", "in": "header", "required": false, "schema": string(),
            "description": "Only on a redelivery (`POST /api/webhooks/deliveries/{id}/redeliver`): the id of the delivery it sends again." }),
    ]);
    let post = |summary: &str, schema: &str| {
        json!({ "post": {
            "summary": summary,
            "parameters": headers,
            "requestBody": { "content": { "application/json": { "schema": reference(schema) } } },
            "responses": { "200": { "description": "Any 2xx acknowledges the delivery." } },
        } })
    };
    json!({
        "configuration": post("The session's configuration, once the end user finished the session page.", "Configuration"),
        "data": post("Records as a pull stores them, or results as a push returns them.", "DataWebhook"),
        "completed": post("A transfer completed.", "CompletedWebhook"),
        "error": post("An error of a transfer or a session. For a push batch with rejected items, one per batch: the first item's error (with its `index` and `internal_id`), `count`, and every rejected item in `items`.", "ErrorRecord"),
    })
}

/// The schema that a webhook of `event` must follow, with `$ref`s into `document`.
pub fn webhook_schema(document: &Value, event: &str) -> Option<Value> {
    document["webhooks"][event]["post"]["requestBody"]["content"]["application/json"]
        .get("schema")
        .cloned()
}
