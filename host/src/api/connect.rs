//! The end user's side of a session: the provider choice, the OAuth2
//! redirect and callback, and the API-key form. When the end user is done,
//! the session is configured, the configuration webhook fires and the browser
//! goes to the app's `redirect_url`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{Map, Value};

use super::AppState;
use super::input::QueryParams;
use crate::credentials::StoredCredential;
use crate::credentials::oauth::{self, PendingAuthorization};
use crate::runtime::manifest::{AuthSpec, Manifest};
use crate::runtime::types::Connection;
use crate::sessions::Session;
use crate::sessions::configuration::configure;
use crate::store::{decode, encode, now_ms};

/// A page telling the end user what went wrong, never a stack trace.
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (status, page(title, &format!("<p>{}</p>", escape(detail)))).into_response()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2933}}a.provider,button{{display:flex;gap:.75rem;align-items:center;padding:.75rem 1rem;margin:.5rem 0;border:1px solid #cbd2d9;border-radius:.5rem;text-decoration:none;color:inherit;background:#fff;font-size:1rem;cursor:pointer}}img{{width:2rem;height:2rem}}label{{display:block;margin:.75rem 0 .25rem}}input{{width:100%;padding:.5rem;font-size:1rem}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    ))
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The live session of a page, or the page saying why there is none.
fn live_session(state: &AppState, query: &QueryParams) -> Result<Session, Box<Response>> {
    let Some(id) = query.optional("session_id") else {
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "No session",
            "This link has no session_id. Ask the app that sent you here for a new link.",
        )));
    };
    match state.sessions.get_any(id) {
        Ok(Some(s)) if s.expires_ms.is_none_or(|t| t > now_ms()) => Ok(s),
        Ok(_) => Err(Box::new(problem(
            StatusCode::NOT_FOUND,
            "Session not found",
            "This session does not exist or has expired. Ask the app that sent you here for a new link.",
        ))),
        Err(_) => Err(Box::new(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "The service is temporarily unavailable.",
        ))),
    }
}

/// The providers this session may offer.
pub fn offered(state: &AppState, session: &Session) -> Vec<Manifest> {
    let listed = session
        .options
        .integration_provider_list_id
        .as_deref()
        .and_then(|id| super::sessions::provider_list(state, &session.account, id));
    state
        .runtime
        .manifests()
        .into_iter()
        .filter(|m| session.options.provider.as_ref().is_none_or(|p| *p == m.id))
        .filter(|m| listed.as_ref().is_none_or(|l| l.contains(&m.id)))
        .filter(|m| {
            session.schemas.is_empty()
                || session.schemas.iter().any(|s| {
                    m.integration(s.endgrate_type.as_deref().unwrap_or(&s.name))
                        .is_some()
                })
        })
        .collect()
}

/// `GET /session?session_id=`: pick a provider.
pub async fn session_page(State(state): State<AppState>, query: QueryParams) -> Response {
    let session = match live_session(&state, &query) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let providers = offered(&state, &session);
    if let [only] = providers.as_slice()
        && session.options.provider.is_some()
    {
        return start_page(&session, only);
    }
    if providers.is_empty() {
        return problem(
            StatusCode::NOT_FOUND,
            "No provider available",
            "No installed provider can serve this session's data types.",
        );
    }
    let mut body = String::from("<p>Choose the account to connect.</p>");
    for m in &providers {
        body.push_str(&format!(
            "<a class=\"provider\" href=\"/session/start?session_id={sid}&amp;provider={id}\"><img alt=\"\" src=\"/api/integrations/{id}/logo.svg\">{name}</a>",
            sid = escape(&session.id),
            id = escape(&m.id),
            name = escape(&m.display_name)
        ));
    }
    page("Connect your account", &body).into_response()
}

/// `GET /session/start?session_id=&provider=`: the OAuth redirect or the key form.
pub async fn start(State(state): State<AppState>, query: QueryParams) -> Response {
    let session = match live_session(&state, &query) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let provider = query.optional("provider").unwrap_or_default();
    let Some(manifest) = offered(&state, &session)
        .into_iter()
        .find(|m| m.id == provider)
    else {
        return problem(
            StatusCode::NOT_FOUND,
            "Provider not available",
            "This provider is not offered for this session.",
        );
    };
    match &manifest.auth {
        AuthSpec::OAuth2(_) => authorize(&state, &session, &manifest).await,
        AuthSpec::ApiKey(_) => start_page(&session, &manifest),
    }
}

/// `GET /session/reauthenticate?session_id=`: sign in again with the same provider.
pub async fn reauthenticate(State(state): State<AppState>, query: QueryParams) -> Response {
    let session = match live_session(&state, &query) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let Some(provider) = session.provider().or(session.options.provider.as_deref()) else {
        return Redirect::to(&format!("/session?session_id={}", session.id)).into_response();
    };
    match state.runtime.manifest(provider) {
        Ok(m) => match &m.auth {
            AuthSpec::OAuth2(_) => authorize(&state, &session, &m).await,
            AuthSpec::ApiKey(_) => start_page(&session, &m),
        },
        Err(_) => problem(
            StatusCode::NOT_FOUND,
            "Provider not available",
            "This session's provider is no longer installed.",
        ),
    }
}

fn start_page(session: &Session, manifest: &Manifest) -> Response {
    match &manifest.auth {
        AuthSpec::OAuth2(_) => Redirect::to(&format!(
            "/session/start?session_id={}&provider={}",
            session.id, manifest.id
        ))
        .into_response(),
        AuthSpec::ApiKey(fields) => {
            let mut form = format!(
                "<form method=\"post\" action=\"/session/api-key\"><input type=\"hidden\" name=\"session_id\" value=\"{}\"><input type=\"hidden\" name=\"provider\" value=\"{}\">",
                escape(&session.id),
                escape(&manifest.id)
            );
            for f in fields {
                form.push_str(&format!(
                    "<label for=\"{n}\">{l}</label><input id=\"{n}\" name=\"{n}\" type=\"{t}\" required>",
                    n = escape(&f.name),
                    l = escape(&f.label),
                    t = if f.secret { "password" } else { "text" }
                ));
            }
            form.push_str("<button type=\"submit\">Connect</button></form>");
            page(&format!("Connect {}", manifest.display_name), &form).into_response()
        }
    }
}

async fn authorize(state: &AppState, session: &Session, manifest: &Manifest) -> Response {
    let AuthSpec::OAuth2(spec) = &manifest.auth else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Not an OAuth provider",
            "This provider signs in with a key.",
        );
    };
    let Some(client) = state.credentials.oauth_clients().get(&manifest.id) else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Provider not set up",
            &format!(
                "This service has no OAuth app configured for {}; its operator must add one.",
                manifest.display_name
            ),
        );
    };
    let state_token = crate::admin_key::generate("st_");
    let verifier = spec.pkce.then(oauth::new_verifier);
    let redirect_uri = format!("{}/session/callback", state.config.public_url);
    let pending = PendingAuthorization {
        session_id: session.id.clone(),
        provider: manifest.id.clone(),
        code_verifier: verifier.clone(),
        redirect_uri: redirect_uri.clone(),
        created_ms: now_ms(),
    };
    if state
        .db
        .trees
        .oauth_states
        .insert(&state_token, encode(&pending))
        .is_err()
        || state.db.flush().await.is_err()
    {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "The service is temporarily unavailable.",
        );
    }
    match oauth::authorize_url(
        spec,
        client,
        &redirect_uri,
        &state_token,
        verifier.as_deref(),
    ) {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Provider misconfigured",
            "The provider's authorize URL is invalid.",
        ),
    }
}

/// `GET /session/callback?code=&state=`: the provider sends the end user back.
pub async fn callback(State(state): State<AppState>, query: QueryParams) -> Response {
    if let Some(error) = query.optional("error") {
        let detail = query.optional("error_description").unwrap_or(error);
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in was not completed",
            &format!("The provider said: {detail}. Go back to the app and try again."),
        );
    }
    let (Some(state_token), Some(code)) = (query.optional("state"), query.optional("code")) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in link incomplete",
            "The provider's answer has no code or state.",
        );
    };
    // Single use: taken out of the store before anything else.
    let pending: Option<PendingAuthorization> =
        match state.db.trees.oauth_states.remove(state_token) {
            Ok(v) => v.and_then(|v| decode(&v).ok()),
            Err(_) => {
                return problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again shortly",
                    "The service is temporarily unavailable.",
                );
            }
        };
    let Some(pending) =
        pending.filter(|p| now_ms().saturating_sub(p.created_ms) < oauth::STATE_TTL_MS)
    else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in link expired",
            "This sign-in was already used or has expired. Start again from the app.",
        );
    };
    let Ok(Some(mut session)) = state.sessions.get_any(&pending.session_id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Session not found",
            "This session no longer exists.",
        );
    };
    let Ok(manifest) = state.runtime.manifest(&pending.provider) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Provider not available",
            "This provider is no longer installed.",
        );
    };
    let (AuthSpec::OAuth2(spec), Some(client)) = (
        &manifest.auth,
        state.credentials.oauth_clients().get(&manifest.id),
    ) else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Provider not set up",
            "This provider has no OAuth app configured.",
        );
    };
    let tokens = match oauth::exchange_code(
        state.credentials.http(),
        &manifest.display_name,
        spec,
        client,
        code,
        &pending.redirect_uri,
        pending.code_verifier.as_deref(),
    )
    .await
    {
        Ok(t) => t,
        Err(e) => return problem(StatusCode::BAD_GATEWAY, "Sign-in failed", &e.to_string()),
    };
    let callback_params: Vec<(String, String)> = query
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "code" | "state"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let settings = match state
        .runtime
        .finish_auth(
            &manifest.id,
            &callback_params,
            &oauth::without_tokens(&tokens),
        )
        .await
    {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .ok()
            .filter(Value::is_object)
            .unwrap_or(Value::Object(Map::new())),
        Err(e) => return problem(StatusCode::BAD_GATEWAY, "Sign-in failed", &e.to_string()),
    };
    let credential = StoredCredential {
        provider: manifest.id.clone(),
        access_token: tokens
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned),
        refresh_token: tokens
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_owned),
        expires_at_ms: oauth::expires_in_ms(&tokens).map(|ms| now_ms() + ms),
        api_key: None,
    };
    finish(&state, &mut session, &manifest, credential, settings).await
}

/// `POST /session/api-key` (form): the key form's answer, checked with the provider.
pub async fn api_key(
    State(state): State<AppState>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    let query = QueryParams(form.clone());
    let mut session = match live_session(&state, &query) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let provider = form.get("provider").cloned().unwrap_or_default();
    let Some(manifest) = offered(&state, &session)
        .into_iter()
        .find(|m| m.id == provider)
    else {
        return problem(
            StatusCode::NOT_FOUND,
            "Provider not available",
            "This provider is not offered for this session.",
        );
    };
    let AuthSpec::ApiKey(fields) = &manifest.auth else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Not a key provider",
            "This provider signs in with OAuth.",
        );
    };
    let mut secret = None;
    let mut settings = Map::new();
    for f in fields {
        let value = form.get(&f.name).cloned().unwrap_or_default();
        if f.secret {
            secret = Some(value);
        } else {
            settings.insert(f.name.clone(), Value::String(value));
        }
    }
    let credential = StoredCredential {
        provider: manifest.id.clone(),
        api_key: secret,
        ..Default::default()
    };
    let settings = Value::Object(settings);
    let previous = state.credentials.load(&session.id).ok().flatten();
    if state
        .credentials
        .store(&session.id, &credential)
        .await
        .is_err()
    {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "The service is temporarily unavailable.",
        );
    }
    let connection = Connection {
        key: session.id.clone(),
        api_base: None,
        settings: settings.clone(),
    };
    if let Err(e) = state
        .runtime
        .check(
            &manifest.id,
            &connection,
            Some(state.credentials.source(&session.id)),
        )
        .await
    {
        let _ = match previous {
            Some(p) => state.credentials.store(&session.id, &p).await,
            None => state
                .db
                .trees
                .credentials
                .remove(&session.id)
                .map(|_| ())
                .map_err(Into::into),
        };
        return (StatusCode::UNPROCESSABLE_ENTITY, page(&format!("Connect {}", manifest.display_name), &format!(
            "<p role=\"alert\" class=\"field-error\">{} rejected the key: {}</p><p><a href=\"/session/start?session_id={}&amp;provider={}\">Try again</a></p>",
            escape(&manifest.display_name), escape(&e.to_string()), escape(&session.id), escape(&manifest.id)
        ))).into_response();
    }
    finish(&state, &mut session, &manifest, credential, settings).await
}

/// Stores the credentials, configures the session, fires the configuration
/// webhook and sends the end user back to the app.
async fn finish(
    state: &AppState,
    session: &mut Session,
    manifest: &Manifest,
    credential: StoredCredential,
    settings: Value,
) -> Response {
    if state
        .credentials
        .store(&session.id, &credential)
        .await
        .is_err()
    {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "The service is temporarily unavailable.",
        );
    }
    configure(session, manifest, settings);
    if super::sessions::fire_configuration(state, session, manifest).is_err()
        || state.sessions.save(session).await.is_err()
    {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "The service is temporarily unavailable.",
        );
    }
    state.webhooks.ring();
    state.transfers.wake();
    match &session.options.redirect_url {
        Some(url) => Redirect::to(url).into_response(),
        None => (
            [(header::CACHE_CONTROL, "no-store")],
            page(
                "You're connected",
                &format!(
                    "<p>Your {} account is connected. You can close this window.</p>",
                    escape(&manifest.display_name)
                ),
            ),
        )
            .into_response(),
    }
}
