//! `/api/admin/connectors`: list, upload (hot-load) and unload connectors.
//!
//! An upload is validated completely (compiled, linked, described, manifest
//! checked) before anything changes; then it is written to the connectors
//! directory as `<id>.wasm` (so it survives a restart) and swapped in. A broken
//! upload changes nothing: the running version keeps serving. Only the admin
//! key reaches these: the router checks it before the body is read
//! ([`crate::routes::router`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::{ApiError, AppState};
use crate::runtime::LoadError;
use crate::runtime::compile_cache::write_atomically;
use crate::runtime::registry::{Installed, LoadedConnector};

fn entry(c: &LoadedConnector) -> Value {
    json!({
        "id": c.manifest.id,
        "version": c.manifest.version,
        "contract": c.contract().as_str(),
        "hash": c.hash,
        "loaded_at": crate::time::rfc3339_ms(crate::time::unix_ms(c.loaded_at)),
        "display_name": c.manifest.display_name,
    })
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all: Vec<Value> = state
        .runtime
        .registry()
        .list()
        .iter()
        .map(|c| entry(c))
        .collect();
    Ok(Json(Value::Array(all)))
}

pub async fn upload(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.is_empty() {
        return Err(ApiError::field(
            StatusCode::BAD_REQUEST,
            "body",
            "The body must be the connector component's bytes (a .wasm file).",
        ));
    }
    let runtime = &state.runtime;
    // Validate first, from memory, so a broken upload touches nothing.
    let mut loaded = runtime.load(body.to_vec(), None).await.map_err(rejected)?;
    let id = loaded.manifest.id.clone();
    let path = state.connectors_dir.join(format!("{id}.wasm"));
    loaded.source = Some(path.clone());
    let previous_source = runtime.registry().get(&id).and_then(|c| c.source.clone());
    let installed = runtime
        .registry()
        .install(loaded)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
    write_atomically(&path, &body).map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "The connector was loaded but could not be saved to {}: {e}",
                path.display()
            ),
        )
    })?;
    if let Some(old) = previous_source
        && old != path
        && old.starts_with(&state.connectors_dir)
        && let Err(err) = std::fs::remove_file(&old)
    {
        tracing::warn!(path = %old.display(), %err, "could not remove the replaced connector file");
    }
    let current = runtime.registry().get(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "The connector was unloaded meanwhile.",
        )
    })?;
    let mut answer = entry(&current);
    answer["success"] = json!(true);
    let status = match installed {
        Installed::New => StatusCode::CREATED,
        Installed::Replaced(old) => {
            answer["replaced_version"] = json!(old);
            StatusCode::OK
        }
        Installed::Unchanged => StatusCode::OK,
    };
    tracing::info!(connector = %id, version = %current.manifest.version, "connector uploaded");
    Ok((status, Json(answer)))
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let gone = state.runtime.registry().remove(&id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No connector {id:?} is installed."),
        )
    })?;
    if let Some(path) = &gone.source
        && path.starts_with(&state.connectors_dir)
        && let Err(err) = std::fs::remove_file(path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %err, "could not delete the connector file");
    }
    tracing::info!(connector = %id, "connector unloaded");
    Ok(Json(
        json!({ "success": true, "id": id, "version": gone.manifest.version }),
    ))
}

fn rejected(err: LoadError) -> ApiError {
    let status = match err {
        LoadError::Io { .. } => StatusCode::SERVICE_UNAVAILABLE,
        LoadError::Refused(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, format!("Connector rejected: {err}"))
}
