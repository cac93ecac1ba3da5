//! Session endpoints: initiate, configuration, delete, list, attaching
//! existing credentials, provider lists, and per-schema association switches.

use axum::Json;
use axum::extract::{MatchedPath, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::page_meta;
use crate::cdm::{self, Validator};
use crate::credentials::StoredCredential;
use crate::http::input::{Body, Caller, QueryParams, http_url};
use crate::http::{ApiError, AppState};
use crate::runtime::CallError;
use crate::runtime::manifest::AuthSpec;
use crate::runtime::types::{Connection, ConnectorError, Purpose};
use crate::sessions::configuration::{
    configuration_object, configure, queue_configuration_webhook,
};
use crate::sessions::discovery::discover;
use crate::sessions::offering;
use crate::sessions::{CreateError, Session, SessionOptions, SessionSchema, Webhooks};
use crate::store::{encode, new_id, now_ms};
use crate::wire::Direction;

fn bad(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, field, message)
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

pub fn no_session() -> ApiError {
    ApiError::field(
        StatusCode::NOT_FOUND,
        "session_id",
        "No session with this session_id.",
    )
}

/// The account's session `session_id` of a body.
pub fn session_of(
    state: &AppState,
    caller: &Caller,
    session_id: &str,
) -> Result<Session, ApiError> {
    state
        .sessions
        .get(&caller.account, session_id)
        .map_err(ApiError::storage)?
        .ok_or_else(no_session)
}

/// `POST /api/session/initiate` (also `/api/pull/initiate`, `/api/push/initiate`).
/// The most a stored session may take (its schemas make its size).
pub const MAX_SESSION_BYTES: usize = 1 << 20;

pub async fn initiate(
    State(state): State<AppState>,
    caller: Caller,
    route: MatchedPath,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let mut schemas = Vec::new();
    if let Some(list) = body.array("schema")? {
        for (i, entry) in list.iter().enumerate() {
            let schema = parse_schema(&format!("schema[{i}]"), entry)?;
            if schemas
                .iter()
                .any(|s: &SessionSchema| s.name == schema.name)
            {
                return Err(bad(
                    &format!("schema[{i}]"),
                    format!("The schema {:?} is listed twice.", schema.name),
                ));
            }
            schemas.push(schema);
        }
    }
    let category = body.string("category")?;
    if let Some(category) = &category {
        let types = cdm::category_types(category);
        if types.is_empty() {
            return Err(bad(
                "category",
                format!("Unknown category {category:?}; categories are `crm` and `accounting`."),
            ));
        }
        for t in types {
            if !schemas.iter().any(|s| s.name == t) {
                schemas.push(default_schema_entry(t, false));
            }
        }
    }
    let provider = body.string("provider")?;
    if let Some(p) = &provider
        && state.runtime.registry().get(p).is_none()
    {
        return Err(bad(
            "provider",
            format!("No connector {p:?} is installed (see GET /api/integrations)."),
        ));
    }
    let list_id = body.string("integration_provider_list_id")?;
    if let Some(id) = &list_id
        && !offering::has_provider_list(&state.db, &caller.account, id)
            .map_err(ApiError::storage)?
    {
        return Err(bad(
            "integration_provider_list_id",
            "No provider list with this id (see GET /api/provider-lists).",
        ));
    }
    // Stored as parsed, so the redirect at the end of the connect flow
    // sends exactly what was checked.
    let redirect_url = match body.string("redirect_url")? {
        Some(text) => Some(http_url("redirect_url", &text)?.to_string()),
        None => None,
    };
    let name = body.string("name")?;
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(bad("name", "`name` is at most 200 characters."));
    }
    let hooks = &state.config.webhook_policy;
    let options = SessionOptions {
        name,
        provider,
        integration_provider_list_id: list_id,
        redirect_url,
        category,
        save_session: body.flag("save_session")?,
        sync: body.flag("sync")?,
        field_selection: body.flag("field_selection")?,
        schema_selection: body.flag("schema_selection")?,
        resource_selection: body.flag("resource_selection")?,
        passthrough_fields: body.flag("passthrough_fields")?,
        passthrough_schemas: body.flag("passthrough_schemas")?,
        statistics: body.flag("statistics")?,
        webhook_concurrency: body.flag("webhook_concurrency")?,
        bypass_ui: body.flag("bypass_ui")?,
        webhooks: Webhooks {
            configuration: body.webhook("configuration_webhook", hooks)?,
            data: body.webhook("data_webhook", hooks)?,
            completed: body.webhook("completed_webhook", hooks)?,
            error: body.webhook("error_webhook", hooks)?,
        },
        session_method: if route.as_str() == "/api/push/initiate" {
            Direction::Export
        } else {
            Direction::Import
        },
    };
    let created_ms = now_ms();
    let session = Session {
        id: new_id(),
        account: caller.account,
        created_ms,
        expires_ms: (!options.save_session)
            .then(|| created_ms + state.config.session_ttl.as_millis() as u64),
        options,
        schemas,
        connection: None,
        reauth_required: false,
        pending: None,
        objects: Vec::new(),
    };
    let size = encode(&session).len();
    if size > MAX_SESSION_BYTES {
        return Err(ApiError::field(
            StatusCode::PAYLOAD_TOO_LARGE,
            "schema",
            format!(
                "The session would take {size} bytes; a session takes at most {MAX_SESSION_BYTES} (its schemas above all). Split the schemas across sessions or trim them."
            ),
        ));
    }
    state
        .sessions
        .create(&session, state.config.max_sessions_per_account)
        .await
        .map_err(|e| match e {
            CreateError::AccountFull { limit } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "This account has reached the host's limit of {limit} sessions per account; delete sessions it no longer needs (POST /api/session/delete) to make room."
                ),
            ),
            CreateError::Store(e) => ApiError::storage(e),
        })?;
    Ok(Json(json!({ "success": true, "session_id": session.id })))
}

fn default_schema_entry(endgrate_type: &str, associations: bool) -> SessionSchema {
    SessionSchema {
        name: endgrate_type.to_owned(),
        endgrate_type: Some(endgrate_type.to_owned()),
        schema: cdm::default_schema(endgrate_type)
            .cloned()
            .unwrap_or(Value::Null),
        custom: false,
        associations,
        enabled: true,
        integration: None,
        mapping: None,
        upsert: Default::default(),
        passthrough: false,
        passthrough_fields: Vec::new(),
        passthrough_choice: None,
        open_resource: false,
        upsert_keys: Vec::new(),
    }
}

/// One entry of `schema`: a default type by name, or a custom JSON Schema.
fn parse_schema(at: &str, entry: &Value) -> Result<SessionSchema, ApiError> {
    let Value::Object(fields) = entry else {
        return Err(bad(at, format!("`{at}` must be an object.")));
    };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(
                &format!("{at}.{name}"),
                format!("`{at}.{name}` must be a string."),
            )),
        }
    };
    let endgrate_type = text("endgrate_type")?;
    let associations = match fields.get("associations") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(bad(
                &format!("{at}.associations"),
                format!("`{at}.associations` must be true or false."),
            ));
        }
    };
    if let Some(t) = &endgrate_type
        && cdm::default_schema(t).is_none()
    {
        let known: Vec<&str> = cdm::default_types().collect();
        return Err(bad(
            &format!("{at}.endgrate_type"),
            format!(
                "Unknown endgrate_type {t:?}; the common data model has {}. A custom schema needs a `title` and `properties`.",
                known.join(", ")
            ),
        ));
    }
    let custom = fields.contains_key("properties");
    let title = text("title")?.filter(|t| !t.trim().is_empty());
    if let Some(title) = &title
        && (title.chars().count() > 100 || title.chars().any(|c| c.is_control()))
    {
        return Err(bad(
            &format!("{at}.title"),
            "A schema title is at most 100 printable characters.",
        ));
    }
    if !custom {
        return match (endgrate_type, title) {
            (Some(t), _) => Ok(default_schema_entry(&t, associations)),
            // The end user picks the provider resource that fills it.
            (None, Some(title)) => Ok(SessionSchema {
                schema: json!({ "title": title, "type": "object", "properties": {} }),
                name: title,
                endgrate_type: None,
                custom: false,
                associations,
                enabled: true,
                integration: None,
                mapping: None,
                upsert: Default::default(),
                passthrough: false,
                passthrough_fields: Vec::new(),
                passthrough_choice: None,
                open_resource: true,
                upsert_keys: Vec::new(),
            }),
            (None, None) => Err(bad(
                at,
                format!(
                    "`{at}` needs an `endgrate_type` (a default schema), a `title` (the end user picks the provider data that fills it), or a `title` and `properties` (a custom schema)."
                ),
            )),
        };
    }
    let title = title.ok_or_else(|| {
        bad(
            &format!("{at}.title"),
            format!("A custom schema needs a `title` (`{at}.title`)."),
        )
    })?;
    if !fields.get("properties").is_some_and(Value::is_object) {
        return Err(bad(
            &format!("{at}.properties"),
            format!("`{at}.properties` must be an object of JSON Schemas."),
        ));
    }
    let mut schema = Map::new();
    for (k, v) in fields {
        if !matches!(k.as_str(), "endgrate_type" | "associations") {
            schema.insert(k.clone(), v.clone());
        }
    }
    let schema = Value::Object(schema);
    Validator::compile(&schema)
        .map_err(|e| bad(at, format!("`{at}` is not a valid JSON Schema: {e}")))?;
    Ok(SessionSchema {
        name: endgrate_type.clone().unwrap_or(title),
        endgrate_type,
        schema,
        custom: true,
        associations,
        enabled: true,
        integration: None,
        mapping: None,
        upsert: Default::default(),
        passthrough: false,
        passthrough_fields: Vec::new(),
        passthrough_choice: None,
        open_resource: false,
        upsert_keys: Vec::new(),
    })
}

/// `GET /api/session/configuration?session_id=`.
pub async fn configuration(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let session = session_of(&state, &caller, query.required("session_id")?)?;
    let Some(connection) = &session.connection else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Session not yet configured.",
        ));
    };
    let manifest = state.runtime.manifest(&connection.provider).map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "The session's provider {:?} is no longer installed.",
                connection.provider
            ),
        )
    })?;
    Ok(Json(configuration_object(
        &session,
        &manifest,
        &state.config.public_url,
    )))
}

/// `POST /api/session/delete`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let session = session_of(&state, &caller, &body.required_string("session_id")?)?;
    state
        .sessions
        .delete(&session)
        .await
        .map_err(ApiError::storage)?;
    Ok(Json(json!({ "success": true, "session_id": session.id })))
}

/// `GET /api/sessions`: the account's sessions, newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = query.page(50, 1000)?;
    let search = query
        .optional("search")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let (sessions, total) = match &search {
        None => state
            .sessions
            .list(&caller.account, offset, limit)
            .map_err(ApiError::storage)?,
        // Matches the id, the label or the provider, case-insensitively.
        Some(needle) => {
            let all = state
                .sessions
                .list(&caller.account, 0, usize::MAX)
                .map_err(ApiError::storage)?
                .0;
            let found: Vec<Session> = all
                .into_iter()
                .filter(|s| {
                    s.id.to_lowercase().contains(needle)
                        || s.options
                            .name
                            .as_deref()
                            .is_some_and(|n| n.to_lowercase().contains(needle))
                        || s.provider()
                            .or(s.options.provider.as_deref())
                            .is_some_and(|p| p.contains(needle))
                })
                .collect();
            let total = found.len();
            (found.into_iter().skip(offset).take(limit).collect(), total)
        }
    };
    let rows: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "session_id": s.id,
                "name": s.options.name,
                "provider": s.provider().or(s.options.provider.as_deref()),
                "configured": s.is_configured(),
                "reauth_required": s.reauth_required,
                "choosing": s.pending.is_some(),
                "created": crate::time::rfc3339_ms(s.created_ms),
                "expires": s.expires_ms.map(crate::time::rfc3339_ms),
                "schemas": s.schema_names(),
            })
        })
        .collect();
    Ok(Json(json!({
        "success": true,
        "meta": page_meta(&state, "/api/sessions", &search.as_deref().map(|s| vec![("search", s)]).unwrap_or_default(), total, offset, limit),
        "sessions": rows,
    })))
}

/// `POST /api/session/credentials`: attach existing tokens or an API key
/// and configure the session with its default selections.
pub async fn attach_credentials(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let session = session_of(&state, &caller, &body.required_string("session_id")?)?;
    let provider = body.required_string("provider")?;
    let manifest = state.runtime.manifest(&provider).map_err(|_| {
        bad(
            "provider",
            format!("No connector {provider:?} is installed (see GET /api/integrations)."),
        )
    })?;
    if let Some(fixed) = &session.options.provider
        && *fixed != provider
    {
        return Err(unprocessable(
            "provider",
            format!("This session is for {fixed:?}, not {provider:?}."),
        ));
    }
    let Some(given) = body.object("credentials")? else {
        return Err(bad(
            "credentials",
            "`credentials` is required: {\"access_token\"} or {\"api_key\"}, plus connection settings.",
        ));
    };
    let secret = |name: &str| -> Result<Option<String>, ApiError> {
        match given.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(bad(
                &format!("credentials.{name}"),
                format!("`credentials.{name}` must be a non-empty string."),
            )),
        }
    };
    let access_token = secret("access_token")?;
    // An API-key provider's secret form field, by its own name too.
    let key_fields = match &manifest.auth {
        AuthSpec::ApiKey(fields) => fields.as_slice(),
        AuthSpec::OAuth2(_) => &[],
    };
    let secret_field = key_fields.iter().find(|f| f.secret);
    let api_key = match (secret("api_key")?, secret_field) {
        (Some(key), _) => Some(key),
        (None, Some(field)) if field.name != "access_token" => secret(&field.name)?,
        (None, _) => None,
    };
    if access_token.is_none() && api_key.is_none() {
        let message = match secret_field {
            Some(field) => format!(
                "`credentials` needs `api_key`: the value of {}'s {:?} (`{}`).",
                manifest.display_name, field.label, field.name
            ),
            None => "`credentials` needs an `access_token` or an `api_key`.".to_owned(),
        };
        return Err(bad("credentials", message));
    }
    let expires_at_ms = match given.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64().map(|secs| secs * 1000),
        Some(Value::String(s)) => Some(crate::time::parse_rfc3339_ms(s).ok_or_else(|| {
            bad(
                "credentials.expires_at",
                "`credentials.expires_at` must be an RFC 3339 time or Unix seconds.",
            )
        })?),
        Some(_) => {
            return Err(bad(
                "credentials.expires_at",
                "`credentials.expires_at` must be an RFC 3339 time or Unix seconds.",
            ));
        }
    };
    let stored = StoredCredential {
        provider: provider.clone(),
        access_token,
        refresh_token: secret("refresh_token")?,
        expires_at_ms,
        api_key,
    };
    // Everything else is a connection setting; the sandbox fills in defaults.
    let mut settings = state
        .config
        .default_settings
        .get(&provider)
        .cloned()
        .unwrap_or_default();
    for (k, v) in given {
        let is_secret = matches!(
            k.as_str(),
            "access_token" | "refresh_token" | "api_key" | "expires_at"
        ) || secret_field.is_some_and(|f| f.name == *k);
        if !is_secret {
            settings.insert(k.clone(), v.clone());
        }
    }
    // The form's other fields are the connection's settings: each is needed.
    if stored.access_token.is_none() {
        for field in key_fields.iter().filter(|f| !f.secret) {
            let given = settings.get(&field.name);
            if given.is_none_or(|v| v.is_null() || v.as_str().is_some_and(str::is_empty)) {
                return Err(bad(
                    &format!("credentials.{}", field.name),
                    format!(
                        "`credentials.{}` is required: {}'s {:?}.",
                        field.name, manifest.display_name, field.label
                    ),
                ));
            }
        }
    }
    let settings = Value::Object(settings);

    // Checked before anything is stored: a rejected credential never
    // replaces the session's, and transfers never run on an unchecked one.
    let _one_change = state.credentials.changing(&session.id).await;
    let candidate = state.credentials.candidate(stored);
    let connection = Connection {
        key: session.id.clone(),
        api_base: None,
        settings: settings.clone(),
        purpose: Purpose::Check,
    };
    state
        .runtime
        .check(&provider, &connection, Some(candidate.clone()))
        .await
        .map_err(|err| check_failed(&manifest.display_name, err))?;
    // Re-read after the wait: the session may have changed or gone.
    let mut session = session_of(&state, &caller, &session.id)?;
    state
        .credentials
        .store(&session.id, &candidate.checked().await)
        .await
        .map_err(ApiError::storage)?;
    configure(&mut session, &manifest, settings);
    discover(&state.runtime, &state.credentials, &mut session, &manifest).await;
    queue_configuration_webhook(&state.db, &session, &manifest, &state.config.public_url)
        .map_err(ApiError::storage)?;
    if !state
        .sessions
        .save(&session)
        .await
        .map_err(ApiError::storage)?
    {
        state
            .credentials
            .remove(&session.id)
            .await
            .map_err(ApiError::storage)?;
        return Err(no_session());
    }
    state.webhooks.ring();
    state.transfers.wake();
    Ok(Json(json!({ "success": true, "session_id": session.id })))
}

/// A failed credential check, as the answer to the app.
pub fn check_failed(provider: &str, err: CallError) -> ApiError {
    match err {
        CallError::Connector {
            error: ConnectorError::Transient(m),
            ..
        } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{provider} could not be reached to check the credentials: {m}. Try again."),
        ),
        // The connector's words without its own "rejected the credentials".
        CallError::Connector {
            error: ConnectorError::Unauthorized(m),
            ..
        } => unprocessable(
            "credentials",
            format!("{provider} rejected the credentials ({m})."),
        ),
        CallError::Connector { error, .. } => unprocessable(
            "credentials",
            format!("{provider} rejected the credentials ({error})."),
        ),
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("The credentials could not be checked: {other}"),
        ),
    }
}

/// `POST /api/provider-lists`.
pub async fn create_provider_list(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let name = body.required_string("name")?;
    let Some(list) = body.array("providers")? else {
        return Err(bad(
            "providers",
            "`providers` is required: a list of provider names.",
        ));
    };
    let mut providers = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let Some(p) = p.as_str() else {
            return Err(bad(
                &format!("providers[{i}]"),
                "Provider names are strings.",
            ));
        };
        providers.push(p.to_owned());
    }
    let id = new_id();
    let record = json!({ "integration_provider_list_id": id, "name": name, "providers": providers, "created": crate::time::rfc3339_ms(now_ms()) });
    offering::save_provider_list(&state.db, &caller.account, &id, &record)
        .await
        .map_err(ApiError::storage)?;
    Ok(Json(
        json!({ "success": true, "integration_provider_list_id": id }),
    ))
}

/// `GET /api/provider-lists`.
pub async fn provider_lists(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let lists = offering::provider_lists(&state.db, &caller.account).map_err(ApiError::storage)?;
    Ok(Json(json!({ "success": true, "provider_lists": lists })))
}

/// `POST /api/schemas`: switch associations per schema.
pub async fn set_associations(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let mut session = session_of(&state, &caller, &body.required_string("session_id")?)?;
    let Some(entries) = body.array("data")? else {
        return Err(bad(
            "data",
            "`data` is required: [{\"endgrate_type\", \"associations\"}].",
        ));
    };
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("data[{i}]");
        let Some(t) = entry.get("endgrate_type").and_then(Value::as_str) else {
            return Err(bad(
                &format!("{at}.endgrate_type"),
                format!("`{at}.endgrate_type` is required."),
            ));
        };
        let Some(on) = entry.get("associations").and_then(Value::as_bool) else {
            return Err(bad(
                &format!("{at}.associations"),
                format!("`{at}.associations` must be true or false."),
            ));
        };
        let names = session.schema_names().join(", ");
        let schema = session.schema_mut(t).ok_or_else(|| {
            unprocessable(
                &format!("{at}.endgrate_type"),
                format!("This session has no schema {t:?} (it has: {names})."),
            )
        })?;
        schema.associations = on;
    }
    if !state
        .sessions
        .save(&session)
        .await
        .map_err(ApiError::storage)?
    {
        return Err(no_session());
    }
    Ok(Json(json!({ "success": true, "session_id": session.id })))
}

/// `GET /api/schemas/{endgrate_type}`: a default schema of the common data model.
pub async fn default_schema(
    axum::extract::Path(endgrate_type): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    cdm::default_schema(&endgrate_type)
        .cloned()
        .map(Json)
        .ok_or_else(|| {
            let known: Vec<&str> = cdm::default_types().collect();
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "No default schema {endgrate_type:?}; there are {}.",
                    known.join(", ")
                ),
            )
        })
}
