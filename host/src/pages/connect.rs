//! The end user's side of a session (the pages are drawn by [`crate::ui`]):
//! the provider choice, the OAuth2 redirect and callback, the API-key form,
//! then the selections the session allows (data types and resources, field
//! mapping). When the end user is done the session is configured, the
//! configuration webhook fires and the browser goes to the app's
//! `redirect_url`. `/session/reauthenticate` signs in again and keeps the
//! selections; `/session/edit` re-opens the selections.
//!
//! Between signing in and finishing the selections, the provider account
//! waits on the session as `pending`: transfers start only once it is
//! configured.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};

use crate::credentials::StoredCredential;
use crate::credentials::oauth::{self, PendingAuthorization};
use crate::http::AppState;
use crate::http::input::QueryParams;
use crate::runtime::manifest::{AuthSpec, Manifest};
use crate::runtime::types::{Connection, ConnectorError, Purpose};
use crate::sessions::configuration::{configure, queue_configuration_webhook};
use crate::sessions::discovery::{discover, discover_objects, example_values, unmapped_fields};
use crate::sessions::grants::{self, PASS_COOKIE};
use crate::sessions::offering::offered;
use crate::sessions::{ConnectionState, ProviderField, Session};
use crate::store::now_ms;
use crate::ui::key_form::{self, Rejection};
use crate::ui::layout::{Page, problem, q, unavailable};
use crate::ui::mapping::OfferedFields;
use crate::ui::steps::{self, Step, has_data_step, has_fields_step};
use crate::ui::{mapping, outcome, picker, samples, selection};

pub use crate::ui::layout::escape;

/// A redirect that makes the browser GET the target (after a form post too).
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn page_at(page: Page<'_>, status: StatusCode) -> Response {
    page.respond(status)
}

/// The live session of a page, or the page saying why there is none.
fn live_session(state: &AppState, session_id: Option<&str>) -> Result<Session, Box<Response>> {
    let Some(id) = session_id.filter(|id| !id.is_empty()) else {
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "The link has no session in it. Go back to the app that sent you here and start again.",
        )));
    };
    match state.sessions.get_any(id) {
        Ok(Some(s)) if s.expires_ms.is_none_or(|t| t > now_ms()) => Ok(s),
        Ok(Some(_)) => Err(Box::new(problem(
            StatusCode::GONE,
            "This link has expired",
            "Links to connect an account are valid for a limited time. Go back to the app that sent you here for a new one.",
        ))),
        Ok(None) => Err(Box::new(problem(
            StatusCode::NOT_FOUND,
            "We couldn't find this session",
            "This session does not exist or has expired: the link may be mistyped, or the app deleted it. Go back to the app that sent you here for a new link.",
        ))),
        Err(_) => Err(Box::new(unavailable())),
    }
}

/// The session was deleted while the end user was signing in.
fn session_gone() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "We couldn't find this session",
        "The app deleted this session while you were signing in, so nothing was kept. Go back to the app that sent you here for a new link.",
    )
}

/// Drops the credentials a sign-in stored for a session deleted meanwhile.
async fn forget_credentials(state: &AppState, session_id: &str) -> Response {
    match state.credentials.remove(session_id).await {
        Ok(()) => session_gone(),
        Err(_) => unavailable(),
    }
}

fn not_offered() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "This app isn't available",
        "The app you picked can't be used for this connection. Go back and choose another.",
    )
}

/// The cookie that binds an OAuth sign-in to the browser that started it.
const SIGN_IN_COOKIE: &str = "sy_sign_in";

fn browser_digest(nonce: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(nonce.as_bytes()))
}

/// The value of the request's cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` for the connect pages (`/session...`) alone.
fn session_cookie(state: &AppState, name: &str, value: &str, max_age_ms: u64) -> String {
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{name}={value}; Path=/session; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age_ms / 1000
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = header::HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A connected session changes only in a browser that holds a pass for it
/// ([`crate::sessions::grants`]); one whose credentials the provider no
/// longer accepts may sign in again from its plain link, where Endgrate's
/// flow sends end users. A new session is connected from its link alone.
fn may_change(
    state: &AppState,
    headers: &HeaderMap,
    session: &Session,
    pass: Option<&str>,
) -> Result<(), Box<Response>> {
    if !session.is_configured() || session.reauth_required {
        return Ok(());
    }
    let grants = state.sessions.grants();
    let held = pass.or_else(|| cookie(headers, PASS_COOKIE));
    if held.is_some_and(|p| grants.allows(p, &session.id)) {
        return Ok(());
    }
    Err(Box::new(problem(
        StatusCode::FORBIDDEN,
        "This link can't change the connection",
        "This account is already connected. To sign in again or change what is shared, ask the app that sent you here for a new link: those links work once, within an hour.",
    )))
}

/// Uses up the change link (`grant`) a request carries, if any: the pass
/// it turns into, or the page saying it cannot be used.
async fn redeem(
    state: &AppState,
    query: &QueryParams,
    session: &Session,
) -> Result<Option<String>, Box<Response>> {
    let Some(grant) = query.optional("grant") else {
        return Ok(None);
    };
    match state.sessions.grants().redeem(grant, &session.id).await {
        Ok(Some(pass)) => Ok(Some(pass)),
        Ok(None) => Err(Box::new(problem(
            StatusCode::FORBIDDEN,
            "This link was already used",
            "Links to change a connection work once, within an hour. Ask the app that sent you here for a new one.",
        ))),
        Err(_) => Err(Box::new(unavailable())),
    }
}

/// The live session a change link (or a pass) lets this browser change, and
/// the pass a link turned into: the entry of `reauthenticate` and `edit`.
async fn session_to_change(
    state: &AppState,
    headers: &HeaderMap,
    query: &QueryParams,
) -> Result<(Session, Option<String>), Box<Response>> {
    let session = live_session(state, query.optional("session_id"))?;
    let pass = redeem(state, query, &session).await?;
    may_change(state, headers, &session, pass.as_deref())?;
    Ok((session, pass))
}

/// Sends the pass a change link turned into along with `response`.
fn keep_pass(state: &AppState, response: Response, pass: Option<String>) -> Response {
    match pass {
        Some(pass) => with_cookie(
            response,
            &session_cookie(state, PASS_COOKIE, &pass, grants::PASS_TTL_MS),
        ),
        None => response,
    }
}

/// `GET /session?session_id=`: the start of the flow (or where it stands).
pub async fn session_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let session = match live_session(&state, query.optional("session_id")) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    if let Some(pending) = &session.pending {
        return match state.runtime.manifest(&pending.provider) {
            Ok(m) => see_other(&next_selection_url(&session, &m, None)),
            Err(_) => not_offered(),
        };
    }
    if let Some(connection) = &session.connection {
        if session.reauth_required {
            return see_other(&format!(
                "/session/reauthenticate?session_id={}",
                q(&session.id)
            ));
        }
        return match state.runtime.manifest(&connection.provider) {
            Ok(m) => {
                let can_edit = (has_data_step(&session, &m) || has_fields_step(&session))
                    && may_change(&state, &headers, &session, None).is_ok();
                let transfers = if session.options.statistics {
                    crate::transfer::of_session(&state.db, &session.id).unwrap_or_default()
                } else {
                    Vec::new()
                };
                page_at(
                    outcome::connected(&session, &m, can_edit, &transfers),
                    StatusCode::OK,
                )
            }
            Err(_) => problem(
                StatusCode::NOT_FOUND,
                "This app isn't available any more",
                "The app this session is connected to has been removed. Ask the app that sent you here for a new link.",
            ),
        };
    }
    let providers = offered(&state.runtime, &state.db, &session);
    if providers.is_empty() {
        return problem(
            StatusCode::NOT_FOUND,
            "No app available",
            "None of the apps that can be connected here handle the data this session asks for. Let the app that sent you here know.",
        );
    }
    let asked = query
        .optional("provider")
        .filter(|_| session.options.bypass_ui);
    let direct = match (asked, providers.as_slice()) {
        (Some(p), _) => providers.iter().find(|m| m.id == p),
        (None, [only]) if session.options.provider.is_some() || session.options.bypass_ui => {
            Some(only)
        }
        _ => None,
    };
    if let Some(m) = direct {
        return match m.auth {
            // Through /session/start, the one place sign-ins begin.
            AuthSpec::OAuth2(_) => see_other(&format!(
                "/session/start?session_id={}&provider={}",
                q(&session.id),
                q(&m.id)
            )),
            AuthSpec::ApiKey(_) => sign_in(&state, &session, m).await,
        };
    }
    let steps = steps::steps(&session, None, false);
    page_at(picker::page(&session, &providers, &steps), StatusCode::OK)
}

/// `GET /session/start?session_id=&provider=`: the OAuth redirect or the key form.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let session = match live_session(&state, query.optional("session_id")) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    if let Err(page) = may_change(&state, &headers, &session, None) {
        return *page;
    }
    let provider = query.optional("provider").unwrap_or_default();
    match offered(&state.runtime, &state.db, &session)
        .into_iter()
        .find(|m| m.id == provider)
    {
        Some(m) => sign_in(&state, &session, &m).await,
        None => not_offered(),
    }
}

/// `GET /session/reauthenticate?session_id=`: sign in again with the same
/// provider; the selections stay as they are.
pub async fn reauthenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let (session, pass) = match session_to_change(&state, &headers, &query).await {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let Some(provider) = session
        .provider()
        .or(session.pending.as_ref().map(|p| p.provider.as_str()))
        .or(session.options.provider.as_deref())
    else {
        return see_other(&format!("/session?session_id={}", q(&session.id)));
    };
    match state.runtime.manifest(provider) {
        Ok(m) => keep_pass(&state, sign_in(&state, &session, &m).await, pass),
        Err(_) => problem(
            StatusCode::NOT_FOUND,
            "This app isn't available any more",
            "The app this session is connected to has been removed. Ask the app that sent you here for a new link.",
        ),
    }
}

/// `GET /session/edit?session_id=`: the selections again, for a connected session.
pub async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let (session, pass) = match session_to_change(&state, &headers, &query).await {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let Some(provider) = session
        .provider()
        .or(session.pending.as_ref().map(|p| p.provider.as_str()))
    else {
        return see_other(&format!("/session?session_id={}", q(&session.id)));
    };
    let Ok(manifest) = state.runtime.manifest(provider) else {
        return not_offered();
    };
    if !has_data_step(&session, &manifest) && !has_fields_step(&session) {
        return problem(
            StatusCode::OK,
            "Nothing to change here",
            "This connection has no choices to make: it shares what the app asked for. To use another account, sign in again from the app.",
        );
    }
    keep_pass(
        &state,
        see_other(&next_selection_url(&session, &manifest, None)),
        pass,
    )
}

/// The first selection step after `after` (None: the first of all).
fn next_selection_url(session: &Session, manifest: &Manifest, after: Option<Step>) -> String {
    let sid = q(&session.id);
    if after.is_none() && has_data_step(session, manifest) {
        format!("/session/select?session_id={sid}")
    } else if after != Some(Step::Fields) && has_fields_step(session) {
        format!("/session/fields?session_id={sid}")
    } else {
        format!("/session/done?session_id={sid}")
    }
}

/// Sends the end user to sign in with `manifest`'s provider.
async fn sign_in(state: &AppState, session: &Session, manifest: &Manifest) -> Response {
    match &manifest.auth {
        AuthSpec::OAuth2(_) => authorize(state, session, manifest).await,
        AuthSpec::ApiKey(fields) => {
            let steps = flow_steps(session, manifest);
            page_at(
                key_form::page(session, manifest, fields, &steps, &HashMap::new(), None),
                StatusCode::OK,
            )
        }
    }
}

/// The steps of the connect flow (not of an edit).
fn flow_steps(session: &Session, manifest: &Manifest) -> Vec<Step> {
    steps::steps(session, Some(manifest), false)
}

async fn authorize(state: &AppState, session: &Session, manifest: &Manifest) -> Response {
    let AuthSpec::OAuth2(spec) = &manifest.auth else {
        return not_offered();
    };
    let Some(client) = state.credentials.oauth_clients().get(&manifest.id) else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{} isn't set up yet", manifest.display_name),
            &format!(
                "This service has no {} app configured, so you can't sign in with it yet. Let the app that sent you here know.",
                manifest.display_name
            ),
        );
    };
    let state_token = crate::admin_key::generate("st_");
    // Only the browser that starts a sign-in may finish it.
    let browser = crate::admin_key::generate("sb_");
    let verifier = spec.pkce.then(oauth::new_verifier);
    let redirect_uri = format!("{}/session/callback", state.config.public_url);
    let pending = PendingAuthorization {
        session_id: session.id.clone(),
        provider: manifest.id.clone(),
        code_verifier: verifier.clone(),
        redirect_uri: redirect_uri.clone(),
        created_ms: now_ms(),
        browser: Some(browser_digest(&browser)),
    };
    if state
        .credentials
        .begin_sign_in(&state_token, &pending)
        .await
        .is_err()
    {
        return unavailable();
    }
    match oauth::authorize_url(
        spec,
        client,
        &redirect_uri,
        &state_token,
        verifier.as_deref(),
    ) {
        Ok(url) => with_cookie(
            Redirect::to(&url).into_response(),
            &session_cookie(state, SIGN_IN_COOKIE, &browser, oauth::STATE_TTL_MS),
        ),
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{} isn't set up correctly", manifest.display_name),
            "The sign-in address of this app is invalid. Let the app that sent you here know.",
        ),
    }
}

/// `GET /session/callback?code=&state=`: the provider sends the end user back.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    if let Some(error) = query.optional("error") {
        let detail = query.optional("error_description").unwrap_or(error);
        // The sign-in attempt is over either way.
        if let Some(token) = query.optional("state") {
            let _ = state.credentials.take_sign_in(token);
        }
        let message = if error == "access_denied" {
            "You declined access, so nothing was connected.".to_owned()
        } else {
            format!("The app said: {detail}.")
        };
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in was not completed",
            &format!("{message} Go back to the app that sent you here to try again."),
        );
    }
    let (Some(state_token), Some(code)) = (query.optional("state"), query.optional("code")) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in link incomplete",
            "The answer from the app you signed in with has no code. Start again from the app that sent you here.",
        );
    };
    // Single use: taken out of the store before anything else.
    let pending = match state.credentials.take_sign_in(state_token) {
        Ok(pending) => pending,
        Err(_) => return unavailable(),
    };
    let Some(pending) = pending else {
        return problem(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired",
            "This sign-in was already used or took too long. Start again from the app that sent you here.",
        );
    };
    let same_browser = match &pending.browser {
        Some(expected) => {
            cookie(&headers, SIGN_IN_COOKIE).is_some_and(|b| browser_digest(b) == *expected)
        }
        // Started before sign-ins were bound to their browser.
        None => true,
    };
    if !same_browser {
        return problem(
            StatusCode::BAD_REQUEST,
            "This sign-in was started elsewhere",
            "Finish signing in in the browser where you started it, or start again from the app that sent you here.",
        );
    }
    let mut session = match live_session(&state, Some(&pending.session_id)) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let Ok(manifest) = state.runtime.manifest(&pending.provider) else {
        return not_offered();
    };
    let (AuthSpec::OAuth2(spec), Some(client)) = (
        &manifest.auth,
        state.credentials.oauth_clients().get(&manifest.id),
    ) else {
        return not_offered();
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
        Err(e) => {
            return problem(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                &format!("{e}. Start again from the app that sent you here."),
            );
        }
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
        Err(e) => {
            return problem(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                &format!("{e}. Start again from the app that sent you here."),
            );
        }
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
    match signed_in(&state, &mut session, &manifest, credential, settings).await {
        Ok(next) => see_other(&next),
        Err(page) => page,
    }
}

/// `POST /session/api-key` (form): the key form's answer, checked with the
/// provider. A request that accepts JSON (the page's script) gets
/// `{"ok": true, "redirect"}` or `{"ok": false, "field", "message"}`.
pub async fn api_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let mut session = match live_session(&state, form.get("session_id").map(String::as_str)) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    if let Err(page) = may_change(&state, &headers, &session, None) {
        return *page;
    }
    let provider = form.get("provider").cloned().unwrap_or_default();
    let manifest = match offered(&state.runtime, &state.db, &session)
        .into_iter()
        .find(|m| m.id == provider)
    {
        Some(m) => m,
        None if session.provider() == Some(provider.as_str()) => {
            match state.runtime.manifest(&provider) {
                Ok(m) => m,
                Err(_) => return not_offered(),
            }
        }
        None => return not_offered(),
    };
    let AuthSpec::ApiKey(fields) = &manifest.auth else {
        return not_offered();
    };
    let reject = |field: String, message: String, session: &Session| -> Response {
        if wants_json {
            return Json(json!({ "ok": false, "field": field, "message": message }))
                .into_response();
        }
        let steps = flow_steps(session, &manifest);
        let rejection = Rejection { field, message };
        page_at(
            key_form::page(session, &manifest, fields, &steps, &form, Some(&rejection)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let mut secret = None;
    let mut settings = state
        .config
        .default_settings
        .get(&manifest.id)
        .cloned()
        .unwrap_or_default();
    for f in fields {
        let value = form
            .get(&f.name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        if value.is_empty() {
            return reject(f.name.clone(), format!("Enter your {}.", f.label), &session);
        }
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
    // Checked before anything is stored: a rejected key never replaces the
    // session's, and transfers never run on an unchecked one.
    let _one_change = state.credentials.changing(&session.id).await;
    let candidate = state.credentials.candidate(credential);
    let connection = Connection {
        key: session.id.clone(),
        api_base: None,
        settings: settings.clone(),
        purpose: Purpose::Check,
    };
    if let Err(e) = state
        .runtime
        .check(&manifest.id, &connection, Some(candidate.clone()))
        .await
    {
        let message = match &e {
            // The provider's own words, when the host's message carries them.
            crate::runtime::CallError::Connector {
                error: ConnectorError::Unauthorized(m) | ConnectorError::InvalidData(m),
                ..
            } => {
                let said = m.rsplit_once(" said: ").map_or(m.as_str(), |(_, s)| s);
                format!("{} didn't accept this: {said}", manifest.display_name)
            }
            crate::runtime::CallError::Connector { error, .. } => {
                format!("{} didn't accept this: {error}", manifest.display_name)
            }
            other => format!(
                "{} couldn't be reached to check it ({other}). Try again in a moment.",
                manifest.display_name
            ),
        };
        return reject(key_form::secret_field(fields), message, &session);
    }
    let credential = candidate.checked().await;
    match signed_in(&state, &mut session, &manifest, credential, settings).await {
        Ok(next) if wants_json => Json(json!({ "ok": true, "redirect": next })).into_response(),
        Ok(next) => see_other(&next),
        Err(page) => page,
    }
}

/// The end user signed in: keep the credentials, then either finish (a
/// re-authentication, or nothing to choose) or go to the selections.
/// Answers where the browser goes next.
async fn signed_in(
    state: &AppState,
    session: &mut Session,
    manifest: &Manifest,
    credential: StoredCredential,
    settings: Value,
) -> Result<String, Response> {
    if state
        .credentials
        .store(&session.id, &credential)
        .await
        .is_err()
    {
        return Err(unavailable());
    }
    // The sign-in took a while: the app may have changed the session, or
    // deleted it, meanwhile.
    match state.sessions.get_any(&session.id) {
        Ok(Some(fresh)) => *session = fresh,
        Ok(None) => return Err(forget_credentials(state, &session.id).await),
        Err(_) => return Err(unavailable()),
    }
    let reauthentication = session.provider() == Some(manifest.id.as_str());
    if !reauthentication {
        let signed_in_as = ConnectionState {
            provider: manifest.id.clone(),
            configured_ms: now_ms(),
            settings: settings.clone(),
        };
        discover_objects(
            &state.runtime,
            &state.credentials,
            session,
            &signed_in_as,
            manifest,
        )
        .await;
    }
    if !reauthentication && (has_data_step(session, manifest) || has_fields_step(session)) {
        session.pending = Some(ConnectionState {
            provider: manifest.id.clone(),
            configured_ms: now_ms(),
            settings,
        });
        match state.sessions.save(session).await {
            Ok(true) => {}
            Ok(false) => return Err(forget_credentials(state, &session.id).await),
            Err(_) => return Err(unavailable()),
        }
        return Ok(next_selection_url(session, manifest, None));
    }
    complete(state, session, manifest, Some(settings)).await
}

/// Configures the session with its selections, fires the configuration
/// webhook and answers where the browser goes: the app's `redirect_url`, or
/// the "You're connected" card.
async fn complete(
    state: &AppState,
    session: &mut Session,
    manifest: &Manifest,
    settings: Option<Value>,
) -> Result<String, Response> {
    let settings = settings
        .or_else(|| session.pending.as_ref().map(|p| p.settings.clone()))
        .or_else(|| session.connection.as_ref().map(|c| c.settings.clone()))
        .unwrap_or_else(|| Value::Object(Map::new()));
    configure(session, manifest, settings);
    discover(&state.runtime, &state.credentials, session, manifest).await;
    if queue_configuration_webhook(&state.db, session, manifest, &state.config.public_url).is_err()
    {
        return Err(unavailable());
    }
    match state.sessions.save(session).await {
        Ok(true) => {}
        Ok(false) => return Err(forget_credentials(state, &session.id).await),
        Err(_) => return Err(unavailable()),
    }
    state.webhooks.ring();
    state.transfers.wake();
    Ok(match &session.options.redirect_url {
        Some(url) => url.clone(),
        None => format!("/session/done?session_id={}", q(&session.id)),
    })
}

/// The provider and mode of a session in its selection steps: signing in
/// (`pending`) or editing a configured session.
fn selecting(state: &AppState, session: &Session) -> Result<(Manifest, bool), Box<Response>> {
    let (provider, editing) = match (&session.pending, &session.connection) {
        (Some(p), _) => (p.provider.as_str(), false),
        (None, Some(c)) => (c.provider.as_str(), true),
        (None, None) => {
            return Err(Box::new(see_other(&format!(
                "/session?session_id={}",
                q(&session.id)
            ))));
        }
    };
    state
        .runtime
        .manifest(provider)
        .map(|m| (m, editing))
        .map_err(|_| Box::new(not_offered()))
}

/// The live session a selection form was posted for, with its provider's
/// manifest and mode (see [`selecting`]).
fn selecting_form(
    state: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(Session, Manifest, bool), Box<Response>> {
    let sid = form
        .iter()
        .find(|(k, _)| k == "session_id")
        .map(|(_, v)| v.as_str());
    let session = live_session(state, sid)?;
    may_change(state, headers, &session, None)?;
    let (manifest, editing) = selecting(state, &session)?;
    Ok((session, manifest, editing))
}

fn selection_steps(session: &Session, manifest: &Manifest, editing: bool) -> Vec<Step> {
    steps::steps(session, Some(manifest), editing)
}

/// `GET /session/select?session_id=`: data types, resources, passthrough objects.
pub async fn select_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let session = match live_session(&state, query.optional("session_id")) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    if let Err(page) = may_change(&state, &headers, &session, None) {
        return *page;
    }
    let (manifest, editing) = match selecting(&state, &session) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    if !has_data_step(&session, &manifest) {
        return see_other(&next_selection_url(&session, &manifest, Some(Step::Data)));
    }
    let steps = selection_steps(&session, &manifest, editing);
    page_at(
        selection::page(&session, &manifest, &steps, editing, None),
        StatusCode::OK,
    )
}

/// `POST /session/select` (form).
pub async fn select_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let (mut session, manifest, editing) = match selecting_form(&state, &headers, &form) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    if let Err(problem) = selection::apply(&mut session, &manifest, &form) {
        let steps = selection_steps(&session, &manifest, editing);
        return page_at(
            selection::page(&session, &manifest, &steps, editing, Some(&problem)),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if has_fields_step(&session) {
        match state.sessions.save(&session).await {
            Ok(true) => {}
            Ok(false) => return session_gone(),
            Err(_) => return unavailable(),
        }
        return see_other(&next_selection_url(&session, &manifest, Some(Step::Data)));
    }
    match complete(&state, &mut session, &manifest, None).await {
        Ok(next) => see_other(&next),
        Err(page) => page,
    }
}

/// `GET /session/fields?session_id=`: the field mapping.
pub async fn fields_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let session = match live_session(&state, query.optional("session_id")) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    if let Err(page) = may_change(&state, &headers, &session, None) {
        return *page;
    }
    let (manifest, editing) = match selecting(&state, &session) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    if !has_fields_step(&session) {
        return see_other(&next_selection_url(&session, &manifest, Some(Step::Fields)));
    }
    fields_form(&state, &session, &manifest, editing, None, StatusCode::OK).await
}

async fn fields_form(
    state: &AppState,
    session: &Session,
    manifest: &Manifest,
    editing: bool,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let offered = offered_with_examples(state, session, manifest).await;
    let examples: HashMap<String, _> = session
        .schemas
        .iter()
        .filter(|s| s.enabled)
        .map(|s| {
            (
                s.name.clone(),
                samples::sample_values(&state.db, &session.id, &s.name),
            )
        })
        .collect();
    let steps = selection_steps(session, manifest, editing);
    page_at(
        mapping::page(
            session, manifest, &steps, &examples, &offered, editing, problem,
        ),
        status,
    )
}

/// The provider fields each schema (by index) may carry beside its own
/// (`passthrough_fields`) or map a custom field to, as the connector's
/// discovery lists them. A schema whose fields cannot be listed offers none.
async fn provider_fields_offered(
    state: &AppState,
    session: &Session,
    manifest: &Manifest,
) -> HashMap<usize, Vec<ProviderField>> {
    let mut offered = HashMap::new();
    let Some(connection) = session.pending.as_ref().or(session.connection.as_ref()) else {
        return offered;
    };
    for (i, schema) in session.schemas.iter().enumerate() {
        let wanted = schema.enabled
            && !schema.passthrough
            && (session.options.passthrough_fields || schema.custom);
        let integration = schema.serving_integration();
        if !wanted || manifest.integration(integration).is_none() {
            continue;
        }
        match unmapped_fields(
            &state.runtime,
            &state.credentials,
            &session.id,
            connection,
            integration,
        )
        .await
        {
            Ok(fields) if !fields.is_empty() => {
                offered.insert(i, fields);
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(session = %session.id, schema = %schema.name, %err, "could not list the provider's fields for the field step");
            }
        }
    }
    offered
}

/// [`provider_fields_offered`], each with a value one of the account's
/// records has, for the field step.
async fn offered_with_examples(
    state: &AppState,
    session: &Session,
    manifest: &Manifest,
) -> HashMap<usize, OfferedFields> {
    let mut out = HashMap::new();
    let Some(connection) = session.pending.as_ref().or(session.connection.as_ref()) else {
        return out;
    };
    for (i, fields) in provider_fields_offered(state, session, manifest).await {
        let Some(schema) = session.schemas.get(i) else {
            continue;
        };
        let integration = schema.serving_integration();
        let examples = example_values(
            &state.runtime,
            &state.credentials,
            &session.id,
            connection,
            integration,
            &fields,
        )
        .await;
        out.insert(i, OfferedFields { fields, examples });
    }
    out
}

/// `POST /session/fields` (form): the mapping, then the session is configured.
pub async fn fields_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let (mut session, manifest, editing) = match selecting_form(&state, &headers, &form) {
        Ok(x) => x,
        Err(page) => return *page,
    };
    let offered = provider_fields_offered(&state, &session, &manifest).await;
    if let Err(problem) = mapping::apply(&mut session, &manifest, &form, &offered) {
        return fields_form(
            &state,
            &session,
            &manifest,
            editing,
            Some(&problem),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match complete(&state, &mut session, &manifest, None).await {
        Ok(next) => see_other(&next),
        Err(page) => page,
    }
}

/// `GET /session/done?session_id=`: "You're connected" (no `redirect_url`).
pub async fn done(State(state): State<AppState>, query: QueryParams) -> Response {
    let session = match live_session(&state, query.optional("session_id")) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let Some(provider) = session.provider() else {
        return see_other(&format!("/session?session_id={}", q(&session.id)));
    };
    match state.runtime.manifest(provider) {
        Ok(m) => {
            let steps = flow_steps(&session, &m);
            page_at(outcome::done(&session, &m, &steps), StatusCode::OK)
        }
        Err(_) => not_offered(),
    }
}
