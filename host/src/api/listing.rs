//! Read-only views the dashboard is built on (ours): who the key belongs to,
//! the account's transfers, and one session in detail with the links to hand
//! to its end user.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::page_meta;
use super::sessions::session_of;
use crate::http::input::{Caller, QueryParams};
use crate::http::{ApiError, AppState};
use crate::sessions::{Session, SessionSchema};
use crate::transfer::Transfer;

/// `GET /api/account`: the API key's account.
pub async fn account(caller: Caller) -> Json<Value> {
    Json(json!({ "success": true, "account": caller.account }))
}

/// The transfers of `session`, newest first.
fn session_transfers(state: &AppState, session: &Session) -> Result<Vec<Transfer>, ApiError> {
    state
        .transfers
        .of_session(&session.id)
        .map_err(ApiError::storage)
}

fn transfer_row(state: &AppState, t: &Transfer, session: &Session) -> Value {
    let mut row = t.statistics_json();
    row["session_name"] = json!(session.options.name);
    row["provider_display_name"] = json!(
        state
            .runtime
            .manifest(&t.stats.provider)
            .map(|m| m.display_name)
            .ok()
            .or_else(|| session.provider().map(str::to_owned))
    );
    row["sample_data"] = json!(t.sample_data);
    row["statistics_page"] = json!(format!(
        "{}/statistics?transfer_id={}",
        state.config.public_url, t.id
    ));
    row
}

/// `GET /api/transfers?session_id&limit&offset`: the account's transfers
/// (or one session's), newest first.
pub async fn transfers(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = query.page(50, 1000)?;
    let sessions: Vec<Session> = match query.optional("session_id") {
        Some(id) => vec![session_of(&state, &caller, id)?],
        None => {
            state
                .sessions
                .list(&caller.account, 0, usize::MAX)
                .map_err(ApiError::storage)?
                .0
        }
    };
    let mut rows: Vec<(u64, Value)> = Vec::new();
    for s in &sessions {
        for t in session_transfers(&state, s)? {
            rows.push((t.created_ms, transfer_row(&state, &t, s)));
        }
    }
    rows.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    let filters = query.given(&["session_id"]);
    Ok(Json(json!({
        "success": true,
        "meta": page_meta(&state, "/api/transfers", &filters, total, offset, limit),
        "transfers": page,
    })))
}

/// `GET /api/sessions/{session_id}`: one session in detail.
pub async fn session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = session_of(&state, &caller, &session_id)?;
    let provider = s
        .provider()
        .or(s.pending.as_ref().map(|p| p.provider.as_str()))
        .or(s.options.provider.as_deref());
    let manifest = provider.and_then(|p| state.runtime.manifest(p).ok());
    let base = &state.config.public_url;
    let sid = url::form_urlencoded::byte_serialize(s.id.as_bytes()).collect::<String>();
    let schemas: Vec<Value> = s
        .schemas
        .iter()
        .map(|x| {
            json!({
                "name": x.name,
                "endgrate_type": x.endgrate_type,
                "custom": x.custom,
                "enabled": x.enabled,
                "passthrough": x.passthrough,
                "integration": x.integration,
                "associations": x.associations,
                "field_mapping": x.mapping,
                "upsert_behaviour": x.upsert,
                "passthrough_fields": x.passthrough_fields,
                "object": x.object_name(),
                "object_fields": x.object_name().map(|_| object_fields(x)),
            })
        })
        .collect();
    let status = if s.reauth_required {
        "reauthentication_required"
    } else if s.is_configured() {
        "connected"
    } else if s.pending.is_some() {
        "choosing"
    } else {
        "waiting"
    };
    // A connected session changes only through a change link: one use, one
    // hour (see `sessions::grants`).
    let grant = || async {
        if !s.is_configured() {
            return Ok(String::new());
        }
        let token = state.sessions.grants().link(&s.id).await;
        token
            .map(|t| format!("&grant={t}"))
            .map_err(ApiError::storage)
    };
    let (reauth_grant, edit_grant) = (grant().await?, grant().await?);
    let o = &s.options;
    Ok(Json(json!({
        "success": true,
        "session": {
            "session_id": s.id,
            "name": o.name,
            "status": status,
            "provider": provider,
            "provider_display_name": manifest.as_ref().map(|m| m.display_name.clone()),
            "configured": s.is_configured(),
            "configured_at": s.connection.as_ref().map(|c| crate::time::rfc3339_ms(c.configured_ms)),
            "reauth_required": s.reauth_required,
            "created": crate::time::rfc3339_ms(s.created_ms),
            "expires": s.expires_ms.map(crate::time::rfc3339_ms),
            "options": {
                "redirect_url": o.redirect_url,
                "save_session": o.save_session,
                "sync": o.sync,
                "schema_selection": o.schema_selection,
                "resource_selection": o.resource_selection,
                "field_selection": o.field_selection,
                "passthrough_schemas": o.passthrough_schemas,
                "bypass_ui": o.bypass_ui,
                "integration_provider_list_id": o.integration_provider_list_id,
            },
            "schemas": schemas,
            "objects": s.objects,
            "links": {
                "connect": format!("{base}/session?session_id={sid}"),
                "reauthenticate": format!("{base}/session/reauthenticate?session_id={sid}{reauth_grant}"),
                "edit": format!("{base}/session/edit?session_id={sid}{edit_grant}"),
            },
        },
    })))
}

/// A provider object's fields as its schema lists them, for the dashboard.
fn object_fields(schema: &SessionSchema) -> Vec<Value> {
    schema
        .schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, p)| {
            json!({
                "name": name,
                "title": p.get("title").cloned().unwrap_or_else(|| name.clone().into()),
                "type": p.get("type"),
                "read_only": p.get("readOnly").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}
