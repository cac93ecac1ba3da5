//! `GET /api/integrations`: every installed connector, in Endgrate's shape,
//! and each provider's logo (served here so pages work offline).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::http::input::QueryParams;
use crate::http::{ApiError, AppState};
use crate::runtime::manifest::Manifest;
use crate::sessions::configuration::{provider_info, served_direction};
use crate::sessions::offering::offered;
use crate::wire::{self, Direction};

/// `GET /api/integrations?provider&category&session_id`: with `session_id`,
/// only the providers that session may offer.
pub async fn list(
    State(state): State<AppState>,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let provider = query.optional("provider");
    let category = query.optional("category");
    let manifests = match query.optional("session_id") {
        Some(id) => {
            let session = state
                .sessions
                .get_any(id)
                .map_err(ApiError::storage)?
                .ok_or_else(|| {
                    ApiError::field(
                        StatusCode::NOT_FOUND,
                        "session_id",
                        "No session with this session_id.",
                    )
                })?;
            offered(&state.runtime, &state.db, &session)
        }
        None => state.runtime.manifests(),
    };
    let providers: Vec<Value> = manifests
        .iter()
        .filter(|m| provider.is_none_or(|p| p == m.id))
        .filter(|m| category.is_none_or(|c| c.eq_ignore_ascii_case(&m.category)))
        .map(|m| provider_entry(m, &state.config.public_url))
        .collect();
    Ok(Json(json!({ "providers": providers })))
}

/// One provider as `GET /api/integrations` lists it.
pub fn provider_entry(m: &Manifest, public_url: &str) -> Value {
    let integrations: Vec<Value> = m
        .integrations
        .iter()
        .map(|i| {
            let direction = served_direction(i, Direction::Import);
            json!({
                "name": wire::integration_name(&i.endgrate_type, direction),
                "display_name": i.display_name,
                "endgrate_type": i.endgrate_type,
                "supports_pull": i.supports_pull,
                "supports_push": i.supports_push,
                "supports_associations": i.supports_associations,
                "is_custom_object": i.is_custom_object,
            })
        })
        .collect();
    json!({
        "provider": provider_info(m, public_url),
        "integrations": integrations,
    })
}

pub async fn logo(
    State(state): State<AppState>,
    Path(provider): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let connector = state.runtime.registry().get(&provider).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No provider {provider:?} is installed."),
        )
    })?;
    let svg = if connector.manifest.logo_svg.trim().is_empty() {
        placeholder_logo(&connector.manifest.display_name)
    } else {
        connector.manifest.logo_svg.clone()
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            // A connector's SVG is its author's markup: never let it run script.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    ))
}

/// A monogram tile for connectors that ship no logo.
fn placeholder_logo(name: &str) -> String {
    let initial: String = name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into());
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#4f46e5"/><text x="32" y="42" font-family="system-ui,sans-serif" font-size="30" font-weight="600" fill="#fff" text-anchor="middle">{initial}</text></svg>"##
    )
}
