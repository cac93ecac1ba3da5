//! Holds every answer the API tests receive, and every webhook their
//! receivers get, to the OpenAPI document's schema for that route and status
//! (or that webhook): an answer that drifts from the document fails the test
//! that received it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use switchyard::routes::openapi;

fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(openapi::build)
}

/// The document's path template that `path` (without its query) matches:
/// `/api/sessions/abc` → `/api/sessions/{session_id}`.
pub fn route_of(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document()["paths"].as_object()?;
    let matches = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        // A last `{path}` takes the rest of the path (the proxy's).
        let rest = parts.last() == Some(&"{path}") && segments.len() > parts.len();
        (parts.len() == segments.len() || rest)
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| *t == *s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()))
    };
    // A literal route wins over a template of the same shape.
    paths
        .keys()
        .filter(|t| matches(t))
        .min_by_key(|t| t.matches('{').count())
        .map(String::as_str)
}

type Cache = Mutex<HashMap<String, Arc<jsonschema::Validator>>>;

fn validator(cache_key: String, schema: Value) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(v) = cache.lock().unwrap().get(&cache_key) {
        return v.clone();
    }
    // The schema's `$ref`s point into the document, so the document is the root.
    let mut root = document().clone();
    if let (Some(root), Value::Object(schema)) = (root.as_object_mut(), schema) {
        root.extend(schema);
    }
    let compiled = Arc::new(
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the document's schema for {cache_key} is invalid: {e}")),
    );
    cache.lock().unwrap().insert(cache_key, compiled.clone());
    compiled
}

fn check(what: &str, validator: &jsonschema::Validator, body: &Value) {
    let problems: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        problems.is_empty(),
        "{what} contradicts /api/openapi.json:\n  {}\nbody: {body}",
        problems.join("\n  ")
    );
}

/// Fails unless `body`, answered with `status` to `method path`, follows the
/// document. Answers the document gives as non-JSON (pages, images) pass.
pub fn answer(method: &str, path: &str, status: u16, body: &Value) {
    let Some(route) = route_of(path) else {
        assert_eq!(
            status, 404,
            "{method} {path} is not in the document but answered {status}"
        );
        return;
    };
    let operation = &document()["paths"][route][method.to_lowercase()];
    if operation.is_null() {
        assert!(
            status == 404 || status == 405,
            "{method} {route} is not in the document but answered {status}"
        );
        return;
    }
    let responses = &operation["responses"];
    // Errors may fall under `default`, but a 429 tells the client to come
    // back later (and when), so the route must say it answers one.
    let listed = responses.get(status.to_string()).is_some()
        || responses.get(format!("{}XX", status / 100)).is_some();
    assert!(
        listed || (status >= 400 && status != 429),
        "{method} {route} answered {status}, which the document does not list"
    );
    if let Some(schema) = openapi::response_schema(document(), method, route, status) {
        let what = format!("{method} {route} → {status}");
        check(&what, &validator(what.clone(), schema), body);
    }
}

/// Fails unless a webhook body of `event` follows the document.
pub fn webhook(event: &str, body: &Value) {
    let schema = openapi::webhook_schema(document(), event)
        .unwrap_or_else(|| panic!("the document has no webhook {event:?}"));
    let what = format!("webhook {event}");
    check(&what, &validator(what.clone(), schema), body);
}
