//! The HubSpot CRM v3 simulator: contacts, companies and the portal's custom
//! object `Projects` (with its schema), search, batches, v4 associations,
//! OAuth (`/oauth/authorize`, `/oauth/v1/token`) and private-app tokens, with
//! HubSpot's rate limits and error bodies.

mod associations;
mod batch;
mod errors;
mod model;
mod oauth;
mod objects;
mod properties;
mod schemas;
mod search;
mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use crate::context::{Ctx, lock};
use crate::control::Backend;
use crate::guard::{self, Hooks};
use errors::HsError;
use model::Kind;
use store::Store;

/// Router state of the HubSpot simulator.
pub struct HubSpot {
    pub ctx: Arc<Ctx>,
    pub store: Mutex<Store>,
}

impl HubSpot {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

type HsState = axum::extract::State<Arc<HubSpot>>;

/// The bearer token (OAuth access token or private-app token).
fn token(headers: &HeaderMap, _uri: &Uri) -> Option<String> {
    crate::oauth::bearer(headers).map(str::to_string)
}

/// Builds the HubSpot routes and the control backend.
pub fn build(ctx: Arc<Ctx>) -> (Router, Arc<dyn Backend>) {
    let hs = Arc::new(HubSpot {
        store: Mutex::new(Store::new(ctx.dataset())),
        ctx: ctx.clone(),
    });
    let hooks = Hooks {
        token,
        unauthorized: errors::unauthorized,
        throttled: errors::throttled,
        server_error: errors::server_error,
        limit_headers: errors::limit_headers,
        search_limit: true,
        concurrency: None,
        per_account: false,
    };
    let api = guard::guarded(
        Router::new()
            .route(
                "/crm/v3/objects/{object}",
                get(objects::list).post(objects::create),
            )
            .route(
                "/crm/v3/objects/{object}/{id}",
                get(objects::read)
                    .patch(objects::update)
                    .delete(objects::archive),
            )
            .route("/crm/v3/objects/{object}/search", post(search::search))
            .route("/crm/v3/properties/{object}", get(objects::properties))
            .route("/crm/v3/schemas", get(schemas::list))
            .route("/crm/v3/schemas/{object}", get(schemas::read))
            .route(
                "/crm/v3/objects/{object}/batch/{action}",
                post(batch::batch),
            )
            .route(
                "/crm/v4/objects/{from}/{from_id}/associations/default/{to}/{to_id}",
                put(associations::associate).delete(associations::remove),
            )
            .route(
                "/crm/v4/objects/{from}/{from_id}/associations/{to}",
                get(associations::list),
            )
            .route(
                "/crm/v4/associations/{from}/{to}/batch/associate/default",
                post(associations::batch_associate),
            )
            .with_state(hs.clone()),
        &ctx,
        hooks,
    );
    let oauth = crate::oauth::consent_routes("/oauth/authorize")
        .route("/oauth/v1/token", post(oauth::token))
        .route("/oauth/v1/access-tokens/{token}", get(oauth::token_info))
        .with_state(ctx);
    (api.merge(oauth), hs)
}

/// Parses a JSON request body, or answers HubSpot's invalid-JSON 400.
fn parse_body(body: &[u8]) -> Result<Value, HsError> {
    serde_json::from_slice(body).map_err(|e| {
        HsError::validation(format!(
            "Invalid input JSON on line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// The object type of a path, or HubSpot's 400.
fn kind_of(object: &str) -> Result<Kind, HsError> {
    Kind::parse(object)
        .ok_or_else(|| HsError::validation(format!("Unable to infer object type from: {object}")))
}

/// A JSON object field, or an empty map.
fn object_field<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

/// A control-surface kind: an object's name (`projects` for the custom
/// object) or anything its paths accept.
fn control_kind(kind: &str) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .find(|k| k.name() == kind)
        .or_else(|| Kind::parse(kind))
}

impl Backend for HubSpot {
    fn kinds(&self) -> Vec<&'static str> {
        Kind::ALL.iter().map(|k| k.name()).collect()
    }

    fn contact_kind(&self) -> &'static str {
        "contacts"
    }

    fn company_kind(&self) -> &'static str {
        "companies"
    }

    fn snapshot(&self, kind: &str) -> Option<Vec<Value>> {
        let kind = control_kind(kind)?;
        let store = self.store();
        let table = store.table(kind);
        let out = table
            .numbers_from(1)
            .filter_map(|n| {
                let o = table.live(n)?;
                let mut v = o.render(kind, n, None);
                if kind == Kind::Contacts
                    && let Some(a) = kind.association()
                {
                    let linked = store.associated(kind, n);
                    if !linked.is_empty() {
                        v["associations"] = objects::association_block(a, &linked);
                    }
                }
                Some(v)
            })
            .collect();
        Some(out)
    }

    fn record(&self, kind: &str, id: &str) -> Option<Value> {
        let kind = control_kind(kind)?;
        let n: u64 = id.parse().ok()?;
        let store = self.store();
        store.table(kind).get(n).map(|o| o.render(kind, n, None))
    }

    fn seed(&self, kind: &str, record: Value) -> Result<Value, String> {
        let kind = control_kind(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
        let props = object_field(&record, "properties").ok_or("expected {\"properties\":{...}}")?;
        let now = self.ctx.clock.tick();
        let mut store = self.store();
        let n = store.seed(kind, props, now);
        let object = store.table(kind).get(n).map(|o| o.render(kind, n, None));
        object.ok_or_else(|| "seed failed".to_string())
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        let store = self.store();
        Kind::ALL
            .into_iter()
            .map(|k| (k.name().to_string(), store.table(k).live_count()))
            .collect()
    }
}

/// `{"status":"COMPLETE","results":[...],"startedAt","completedAt"}` (+ errors).
fn batch_answer(
    started: i64,
    results: Vec<Value>,
    errors: Vec<Value>,
) -> (axum::http::StatusCode, Value) {
    let now = crate::clock::now_ms().max(started);
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": crate::clock::iso_millis_z(started),
        "completedAt": crate::clock::iso_millis_z(now),
    });
    if errors.is_empty() {
        return (axum::http::StatusCode::OK, body);
    }
    body["numErrors"] = json!(errors.len());
    body["errors"] = json!(errors);
    (axum::http::StatusCode::MULTI_STATUS, body)
}
