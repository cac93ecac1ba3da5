//! The endpoint table: every route with who may call it, what it takes and
//! what it answers. The router is built from it (each row's access enforced
//! as a layer before its handler runs), and so is the OpenAPI document
//! ([`openapi`]), so neither can miss a route the other has.

pub mod openapi;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, delete, get, on, post};
use tracing::Instrument;

use self::openapi::Answer;
use crate::api::{
    admin_connectors, admin_keys, health, integrations, listing, logs, metrics, proxy, sessions,
    transfer_actions, transfers, webhook_log,
};
use crate::http::{
    ApiError, AppState, MAX_BODY_BYTES, MAX_COMPONENT_BYTES, MAX_FORM_BYTES, bearer,
    client_address, input, require_admin,
};
use crate::metrics::Metrics;
use crate::pages::{self, connect};

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Access {
    Public,
    ApiKey,
    Admin,
    /// A page for the end user's browser.
    Browser,
}

/// One endpoint as documented in the OpenAPI document; the router is built
/// from the same list, so neither can miss a route the other has.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub query: &'static [&'static str],
    pub body: &'static [&'static str],
    pub answer: Answer,
}

const fn ep(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    query: &'static [&'static str],
    body: &'static [&'static str],
    answer: Answer,
) -> Endpoint {
    Endpoint {
        method,
        path,
        summary,
        access,
        query,
        body,
        answer,
    }
}

const INITIATE_FIELDS: &[&str] = &[
    "schema",
    "category",
    "name",
    "provider",
    "integration_provider_list_id",
    "redirect_url",
    "save_session",
    "sync",
    "field_selection",
    "schema_selection",
    "resource_selection",
    "passthrough_fields",
    "passthrough_schemas",
    "statistics",
    "webhook_concurrency",
    "configuration_webhook",
    "data_webhook",
    "completed_webhook",
    "error_webhook",
    "bypass_ui",
];
const PULL_FIELDS: &[&str] = &[
    "session_id",
    "endgrate_type",
    "synchronous",
    "params",
    "associations",
    "include_remote_data",
    "data_webhook",
    "completed_webhook",
    "error_webhook",
];
const PUSH_FIELDS: &[&str] = &[
    "session_id",
    "endgrate_type",
    "transfer_data",
    "synchronous",
    "disable_upsert",
    "sample_data",
    "data_webhook",
    "completed_webhook",
    "error_webhook",
];
const DATA_QUERY: &[&str] = &["endgrate_type", "transfer_id", "limit", "offset"];

/// Every endpoint with its handler.
pub fn endpoints() -> Vec<(Endpoint, MethodRouter<AppState>)> {
    use Access::*;
    use Answer::*;
    let mut table = vec![
        (
            ep(
                "GET",
                "/healthz",
                "Answers 200 while the host serves and its storage takes writes, 503 after a storage failure.",
                Public,
                &[],
                &[],
                Json("Health"),
            ),
            get(health::healthz),
        ),
        (
            ep(
                "GET",
                "/api/openapi.json",
                "This document.",
                Public,
                &[],
                &[],
                Json("Document"),
            ),
            get(openapi::document),
        ),
        (
            ep(
                "GET",
                "/api/integrations",
                "Every installed connector and its integrations.",
                Public,
                &["provider", "category", "session_id"],
                &[],
                Json("Integrations"),
            ),
            get(integrations::list),
        ),
        (
            ep(
                "GET",
                "/api/integrations/{provider}/logo.svg",
                "A provider's logo.",
                Public,
                &[],
                &[],
                Svg,
            ),
            get(integrations::logo),
        ),
        (
            ep(
                "POST",
                "/api/session/initiate",
                "Creates a session.",
                ApiKey,
                &[],
                INITIATE_FIELDS,
                Json("SessionAnswer"),
            ),
            post(sessions::initiate),
        ),
        (
            ep(
                "POST",
                "/api/pull/initiate",
                "Creates a session (alias of /api/session/initiate).",
                ApiKey,
                &[],
                INITIATE_FIELDS,
                Json("SessionAnswer"),
            ),
            post(sessions::initiate),
        ),
        (
            ep(
                "POST",
                "/api/push/initiate",
                "Creates a session (alias of /api/session/initiate).",
                ApiKey,
                &[],
                INITIATE_FIELDS,
                Json("SessionAnswer"),
            ),
            post(sessions::initiate),
        ),
        (
            ep(
                "GET",
                "/api/session/configuration",
                "The configuration the end user chose; 409 until then.",
                ApiKey,
                &["session_id"],
                &[],
                Json("Configuration"),
            ),
            get(sessions::configuration),
        ),
        (
            ep(
                "POST",
                "/api/session/delete",
                "Deletes a session and everything stored for it.",
                ApiKey,
                &[],
                &["session_id"],
                Json("SessionAnswer"),
            ),
            post(sessions::delete),
        ),
        (
            ep(
                "POST",
                "/api/session/credentials",
                "Attaches existing credentials and configures the session.",
                ApiKey,
                &[],
                &["session_id", "provider", "credentials"],
                Json("SessionAnswer"),
            ),
            post(sessions::attach_credentials),
        ),
        (
            ep(
                "GET",
                "/api/sessions",
                "The account's sessions, newest first; `search` matches id, name or provider.",
                ApiKey,
                &["search", "limit", "offset"],
                &[],
                Json("Sessions"),
            ),
            get(sessions::list),
        ),
        (
            ep(
                "GET",
                "/api/sessions/{session_id}",
                "One session in detail, with the links to hand to its end user.",
                ApiKey,
                &[],
                &[],
                Json("SessionDetail"),
            ),
            get(listing::session),
        ),
        (
            ep(
                "GET",
                "/api/transfers",
                "The account's transfers (or one session's), newest first, with their statistics.",
                ApiKey,
                &["session_id", "limit", "offset"],
                &[],
                Json("Transfers"),
            ),
            get(listing::transfers),
        ),
        (
            ep(
                "POST",
                "/api/transfers/{id}/retry",
                "Runs a finished transfer again as a new one (same session, type, parameters, webhooks and, for a push, items); 409 while it is queued or running.",
                ApiKey,
                &[],
                &[],
                JsonAccepted("TransferStarted"),
            ),
            post(transfer_actions::retry),
        ),
        (
            ep(
                "POST",
                "/api/transfers/{id}/cancel",
                "Cancels a queued or running transfer: it ends `failed` with `cancelled: true`, what it stored stays readable; 409 if it has finished.",
                ApiKey,
                &[],
                &[],
                Json("Statistics"),
            ),
            post(transfer_actions::cancel),
        ),
        (
            ep(
                "GET",
                "/api/logs",
                "A session's provider requests (transfers, discovery, proxy), newest first: time, method, URL without credentials, status, duration, size, retry and rate-limit flags. Give session_id or transfer_id; status filters by 429, 4xx or error.",
                ApiKey,
                &["session_id", "transfer_id", "status", "limit", "offset"],
                &[],
                Json("RequestLog"),
            ),
            get(logs::logs),
        ),
        (
            ep(
                "GET",
                "/metrics",
                "The host's metrics in the Prometheus text format (also served without a key on --metrics-listen).",
                Admin,
                &[],
                &[],
                Text,
            ),
            get(metrics::metrics),
        ),
        (
            ep(
                "GET",
                "/api/webhooks/deliveries",
                "The account's webhook deliveries (or one session's, of one event), newest first, with their attempts and next attempt.",
                ApiKey,
                &["session_id", "event", "limit", "offset"],
                &[],
                Json("Deliveries"),
            ),
            get(webhook_log::deliveries),
        ),
        (
            ep(
                "POST",
                "/api/webhooks/deliveries/{id}/redeliver",
                "Sends a delivered or given-up webhook again, as a new delivery with a new id; 409 while it is still being retried.",
                ApiKey,
                &[],
                &[],
                JsonAccepted("DeliveryQueued"),
            ),
            post(webhook_log::redeliver),
        ),
        (
            ep(
                "GET",
                "/api/account",
                "The account of the API key.",
                ApiKey,
                &[],
                &[],
                Json("Account"),
            ),
            get(listing::account),
        ),
        (
            ep(
                "POST",
                "/api/provider-lists",
                "Creates a provider list.",
                ApiKey,
                &[],
                &["name", "providers"],
                Json("ProviderListCreated"),
            ),
            post(sessions::create_provider_list),
        ),
        (
            ep(
                "GET",
                "/api/provider-lists",
                "The account's provider lists.",
                ApiKey,
                &[],
                &[],
                Json("ProviderLists"),
            ),
            get(sessions::provider_lists),
        ),
        (
            ep(
                "POST",
                "/api/schemas",
                "Switches associations per schema of a session.",
                ApiKey,
                &[],
                &["session_id", "data"],
                Json("SessionAnswer"),
            ),
            post(sessions::set_associations),
        ),
        (
            ep(
                "GET",
                "/api/schemas/{endgrate_type}",
                "A default schema of the common data model.",
                Public,
                &[],
                &[],
                Json("Document"),
            ),
            get(sessions::default_schema),
        ),
        (
            ep(
                "POST",
                "/api/pull/transfer",
                "Triggers a pull.",
                ApiKey,
                &[],
                PULL_FIELDS,
                Json("TransferStarted"),
            ),
            post(transfers::pull),
        ),
        (
            ep(
                "GET",
                "/api/pull/data",
                "The records of a completed pull.",
                ApiKey,
                DATA_QUERY,
                &[],
                Json("PullData"),
            ),
            get(transfers::pull_data),
        ),
        (
            ep(
                "POST",
                "/api/push/transfer",
                "Triggers a push.",
                ApiKey,
                &[],
                PUSH_FIELDS,
                Json("TransferStarted"),
            ),
            post(transfers::push),
        ),
        (
            ep(
                "GET",
                "/api/push/data",
                "The results of a completed push, in push order.",
                ApiKey,
                DATA_QUERY,
                &[],
                Json("PushData"),
            ),
            get(transfers::push_data),
        ),
        (
            ep(
                "GET",
                "/api/statistics",
                "A transfer's statistics (or a session's transfers').",
                Public,
                &["transfer_id", "session_id"],
                &[],
                Json("StatisticsAnswer"),
            ),
            get(transfers::statistics),
        ),
        (
            ep(
                "GET",
                "/api/errors",
                "The account's errors, newest first.",
                ApiKey,
                &["session_id", "transfer_id", "limit", "offset"],
                &[],
                Json("Errors"),
            ),
            get(transfers::errors),
        ),
        (
            ep(
                "POST",
                "/api/errors/resolve",
                "Marks an error resolved (or not).",
                ApiKey,
                &[],
                &["pk", "resolved"],
                Json("ErrorResolved"),
            ),
            post(transfers::resolve_error),
        ),
        (
            ep(
                "GET",
                "/api/webhook-secret",
                "The account's webhook signing secret.",
                ApiKey,
                &[],
                &[],
                Json("WebhookSecret"),
            ),
            get(admin_keys::webhook_secret),
        ),
        (
            ep(
                "POST",
                "/api/admin/keys",
                "Creates an API key (shown once).",
                Admin,
                &[],
                &["account"],
                Json("KeyCreated"),
            ),
            post(admin_keys::create),
        ),
        (
            ep(
                "GET",
                "/api/admin/keys",
                "Lists API keys.",
                Admin,
                &[],
                &[],
                Json("Keys"),
            ),
            get(admin_keys::list),
        ),
        (
            ep(
                "DELETE",
                "/api/admin/keys/{key_id}",
                "Revokes an API key.",
                Admin,
                &[],
                &[],
                Json("KeyRevoked"),
            ),
            delete(admin_keys::revoke),
        ),
        (
            ep(
                "GET",
                "/api/admin/connectors",
                "Installed connectors.",
                Admin,
                &[],
                &[],
                Json("Connectors"),
            ),
            get(admin_connectors::list),
        ),
        (
            ep(
                "POST",
                "/api/admin/connectors",
                "Installs or replaces a connector (the component's bytes as the body).",
                Admin,
                &[],
                &[],
                JsonCreated("Connector"),
            ),
            post(admin_connectors::upload).layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES)),
        ),
        (
            ep(
                "DELETE",
                "/api/admin/connectors/{id}",
                "Unloads a connector.",
                Admin,
                &[],
                &[],
                Json("ConnectorRemoved"),
            ),
            delete(admin_connectors::remove),
        ),
        (
            ep(
                "GET",
                "/session",
                "The end user's connect page.",
                Browser,
                &["session_id"],
                &[],
                Html,
            ),
            get(connect::session_page),
        ),
        (
            ep(
                "GET",
                "/session/start",
                "Starts signing in with a provider.",
                Browser,
                &["session_id", "provider"],
                &[],
                Html,
            ),
            get(connect::start),
        ),
        (
            ep(
                "GET",
                "/session/reauthenticate",
                "Signs in again with the session's provider.",
                Browser,
                &["session_id"],
                &[],
                Html,
            ),
            get(connect::reauthenticate),
        ),
        (
            ep(
                "GET",
                "/session/callback",
                "The OAuth2 redirect back from the provider.",
                Browser,
                &["code", "state"],
                &[],
                Html,
            ),
            get(connect::callback),
        ),
        (
            ep(
                "POST",
                "/session/api-key",
                "The API-key form.",
                Browser,
                &[],
                &["session_id", "provider"],
                Html,
            ),
            post(connect::api_key),
        ),
        (
            ep(
                "GET",
                "/session/select",
                "Choosing the data types, resources and passthrough objects to share.",
                Browser,
                &["session_id"],
                &[],
                Html,
            ),
            get(connect::select_page),
        ),
        (
            ep(
                "POST",
                "/session/select",
                "The data-choice form's answer.",
                Browser,
                &[],
                &["session_id"],
                Html,
            ),
            post(connect::select_submit),
        ),
        (
            ep(
                "GET",
                "/session/fields",
                "Mapping fields and choosing each field's upsert behaviour.",
                Browser,
                &["session_id"],
                &[],
                Html,
            ),
            get(connect::fields_page),
        ),
        (
            ep(
                "POST",
                "/session/fields",
                "The field-mapping form's answer; configures the session.",
                Browser,
                &[],
                &["session_id"],
                Html,
            ),
            post(connect::fields_submit),
        ),
        (
            ep(
                "GET",
                "/session/edit",
                "Re-opens the selections of a connected session.",
                Browser,
                &["session_id"],
                &[],
                Html,
            ),
            get(connect::edit),
        ),
        (
            ep(
                "GET",
                "/session/done",
                "The end of the connect flow when the app gave no redirect_url.",
                Browser,
                &["session_id"],
                &[],
                Html,
            ),
            get(connect::done),
        ),
        (
            ep(
                "GET",
                "/statistics",
                "A transfer's live statistics page.",
                Browser,
                &["transfer_id"],
                &[],
                Html,
            ),
            get(pages::statistics::page),
        ),
        (
            ep(
                "GET",
                "/statistics/events",
                "A transfer's statistics as server-sent events, until it completes.",
                Public,
                &["transfer_id"],
                &[],
                Events,
            ),
            get(pages::statistics::events),
        ),
        (
            ep(
                "GET",
                "/dashboard",
                "The developer dashboard (signs in with an API key).",
                Browser,
                &[],
                &[],
                Html,
            ),
            get(pages::dashboard::page),
        ),
        (
            ep(
                "GET",
                "/ui/{file}",
                "The pages' embedded stylesheet, scripts and icons.",
                Public,
                &[],
                &[],
                Asset,
            ),
            get(pages::assets::serve),
        ),
        (
            ep(
                "GET",
                "/favicon.ico",
                "The site icon.",
                Public,
                &[],
                &[],
                Asset,
            ),
            get(pages::assets::favicon),
        ),
    ];
    for (method, filter) in [
        ("GET", MethodFilter::GET),
        ("POST", MethodFilter::POST),
        ("PUT", MethodFilter::PUT),
        ("PATCH", MethodFilter::PATCH),
        ("DELETE", MethodFilter::DELETE),
    ] {
        table.push((
            ep(
                method,
                PROXY_PATH,
                "Sends the request to the session's provider at `path` (below its API base; query and body as given) with the session's credential, and answers the provider's status, content type and body.",
                ApiKey,
                &[],
                &[],
                Passthrough,
            ),
            on(filter, proxy::forward),
        ));
    }
    table
}

/// The passthrough proxy's route; its last parameter takes the rest of the
/// path (`{*path}` to the router).
const PROXY_PATH: &str = "/api/proxy/{session_id}/{path}";

/// The router of [`endpoints`]: each route's body limit follows from who may
/// call it, and its admin-only routes check the admin key before their
/// handler runs (so before a body is read).
pub fn router(state: AppState) -> axum::Router {
    let mut router = axum::Router::new();
    for (endpoint, handler) in endpoints() {
        let limit = match endpoint.access {
            Access::Browser => MAX_FORM_BYTES,
            Access::Public | Access::ApiKey | Access::Admin => MAX_BODY_BYTES,
        };
        // Layers added later run first; a route's own limit (the upload's)
        // was added before and so overrides this one.
        let mut handler = handler.layer(DefaultBodyLimit::max(limit));
        // The endpoint table's access column is enforced here, before any
        // handler (or body) runs: handlers cannot drift from it.
        match endpoint.access {
            Access::Admin => {
                handler = handler.layer(middleware::from_fn_with_state(state.clone(), admin_only));
            }
            Access::ApiKey => {
                handler =
                    handler.layer(middleware::from_fn_with_state(state.clone(), api_key_only));
            }
            Access::Public | Access::Browser => {}
        }
        let path = match endpoint.path {
            PROXY_PATH => "/api/proxy/{session_id}/{*path}",
            path => path,
        };
        // Outermost: counts refusals too.
        let handler = handler.layer(middleware::from_fn_with_state(
            (state.metrics.clone(), endpoint.path),
            count_request,
        ));
        router = router.route(path, handler);
    }
    let not_found = axum::handler::Handler::layer(
        not_found,
        middleware::from_fn_with_state((state.metrics.clone(), UNMATCHED), count_request),
    );
    router.fallback(not_found).with_state(state)
}

/// The route label of requests no endpoint serves.
const UNMATCHED: &str = "unmatched";

/// Counts one request of the endpoint `route` (its pattern, so the label's
/// values are the endpoint table's).
async fn count_request(
    State((metrics, route)): State<(Metrics, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let span = tracing::info_span!(
        "api.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    // A caller's own trace goes on through the host.
    let caller_trace = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    crate::telemetry::continue_trace(&span, caller_trace);
    let started = std::time::Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    metrics.api_request(method.as_str(), route, status, started.elapsed());
    response
}

/// The gate of [`Access::Admin`] routes.
async fn admin_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let client = client_address(request.extensions());
    match require_admin(&state, request.headers(), client) {
        Ok(()) => next.run(request).await,
        Err(refused) => before_body(&request, refused.into_response()),
    }
}

/// A refusal answered before the request's body was read closes the
/// connection after it (`Connection: close`): the server drops the unread
/// body, so a client must not send its next request down the same
/// connection (it would find it closed mid-answer).
fn before_body(request: &Request, mut refusal: Response) -> Response {
    let headers = request.headers();
    let has_body = headers.contains_key(axum::http::header::TRANSFER_ENCODING)
        || headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    if has_body {
        refusal.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    refusal
}

/// The gate of [`Access::ApiKey`] routes: the key's account goes to the
/// handler as [`input::Caller`].
/// A wrong key counts as a failed sign-in of the client's address
/// ([`crate::http::throttle`]): past the limit it answers 429 instead of 401.
/// A right key passes the sign-in throttle: API keys are 256 random bits,
/// beyond guessing, so refusing them would only let one client's mistakes
/// lock out every other client behind the same address. It counts against
/// its account's request rate instead ([`crate::http::account_rate`]), which
/// answers 429 past the limit, before the body is read.
async fn api_key_only(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(key) = bearer(request.headers()) else {
        return before_body(&request, ApiError::unauthorized().into_response());
    };
    match state.accounts.authenticate(key) {
        Ok(Some(account)) => {
            if let Err(exceeded) = state.account_rate.admit(&account) {
                return before_body(
                    &request,
                    ApiError::account_rate_exceeded(exceeded).into_response(),
                );
            }
            request.extensions_mut().insert(input::Caller { account });
            next.run(request).await
        }
        Ok(None) => {
            let client = client_address(request.extensions());
            if let Err(wait) = state.sign_in.check(client) {
                return before_body(&request, ApiError::too_many_failures(wait).into_response());
            }
            state.sign_in.failed(client);
            before_body(&request, ApiError::unauthorized().into_response())
        }
        Err(e) => before_body(&request, ApiError::storage(e).into_response()),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "No such endpoint.")
}
