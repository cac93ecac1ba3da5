//! The Pipedrive API v2 simulator: persons and organizations with cursor
//! paging, `updated_since`, search, writes and deletes; OAuth
//! (`/oauth/authorize`, `/oauth/token` answering `api_domain`) and API tokens
//! (`x-api-token` header or `api_token` query); the two-second burst limit.

mod errors;
mod items;
mod model;
mod oauth;
mod search;
mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::context::{Ctx, lock};
use crate::control::Backend;
use crate::guard::{self, Hooks};
use crate::params::Params;
use model::Kind;
use store::Store;

/// Router state of the Pipedrive simulator.
pub struct Pipedrive {
    pub ctx: Arc<Ctx>,
    store: Mutex<Store>,
}

impl Pipedrive {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

type PdState = axum::extract::State<Arc<Pipedrive>>;

/// Bearer token, `x-api-token` header or `api_token` query parameter.
fn token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(t) = crate::oauth::bearer(headers) {
        return Some(t.to_string());
    }
    if let Some(t) = headers.get("x-api-token").and_then(|v| v.to_str().ok()) {
        return Some(t.to_string());
    }
    Params::parse(uri.query())
        .get("api_token")
        .map(str::to_string)
}

/// `GET /api/v1/users/me`: who the token belongs to.
/// `GET /api/v1/personFields` / `organizationFields`, one page holding all.
async fn fields(kind: Kind) -> axum::Json<Value> {
    let data = model::field_definitions(kind);
    let limit = data.len();
    axum::Json(json!({
        "success": true,
        "data": data,
        "additional_data": { "pagination": { "start": 0, "limit": limit, "more_items_in_collection": false } },
    }))
}

async fn me(state: PdState) -> axum::Json<Value> {
    let seed = state.0.ctx.config.seed;
    axum::Json(json!({"success": true, "data": {
        "id": 1,
        "name": "Sandbox User",
        "email": "sandbox@switchyard.example",
        "company_id": 5_000_000 + seed % 100_000,
        "company_name": "Switchyard Sandbox",
        "company_domain": "switchyard-sandbox",
        "active_flag": true,
    }}))
}

/// Builds the Pipedrive routes and the control backend.
pub fn build(ctx: Arc<Ctx>) -> (Router, Arc<dyn Backend>) {
    let pd = Arc::new(Pipedrive {
        store: Mutex::new(Store::new(ctx.dataset())),
        ctx: ctx.clone(),
    });
    let hooks = Hooks {
        token,
        unauthorized: errors::unauthorized,
        throttled: errors::throttled,
        server_error: errors::server_error,
        limit_headers: errors::limit_headers,
        search_limit: false,
        concurrency: None,
        per_account: false,
    };
    let api = guard::guarded(
        Router::new()
            .route("/api/v2/{kind}", get(items::list).post(items::create))
            .route("/api/v2/{kind}/search", get(search::search))
            .route(
                "/api/v2/{kind}/{id}",
                get(items::read).patch(items::update).delete(items::delete),
            )
            .route("/api/v1/users/me", get(me))
            .route("/api/v1/personFields", get(|| fields(Kind::Persons)))
            .route(
                "/api/v1/organizationFields",
                get(|| fields(Kind::Organizations)),
            )
            .with_state(pd.clone()),
        &ctx,
        hooks,
    );
    let oauth = crate::oauth::consent_routes("/oauth/authorize")
        .route("/oauth/token", post(oauth::token))
        .with_state(ctx);
    (api.merge(oauth), pd)
}

impl Backend for Pipedrive {
    fn kinds(&self) -> Vec<&'static str> {
        vec!["persons", "organizations"]
    }

    fn contact_kind(&self) -> &'static str {
        "persons"
    }

    fn company_kind(&self) -> &'static str {
        "organizations"
    }

    fn snapshot(&self, kind: &str) -> Option<Vec<Value>> {
        let kind = Kind::parse(kind)?;
        let store = self.store();
        let table = store.table(kind);
        Some(
            table
                .numbers_from(1)
                .filter_map(|n| table.live(n).map(|r| r.render(n)))
                .collect(),
        )
    }

    fn record(&self, kind: &str, id: &str) -> Option<Value> {
        let kind = Kind::parse(kind)?;
        let n = id.parse().ok()?;
        self.store().table(kind).get(n).map(|r| r.render(n))
    }

    fn seed(&self, kind: &str, record: Value) -> Result<Value, String> {
        let kind = Kind::parse(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
        let input = record.as_object().ok_or("expected a JSON object")?;
        let now = self.ctx.clock.tick();
        let mut store = self.store();
        let n = store.create(kind, input, now).map_err(|e| e.message)?;
        store
            .table(kind)
            .get(n)
            .map(|r| r.render(n))
            .ok_or_else(|| "seed failed".into())
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        let store = self.store();
        BTreeMap::from([
            (
                "persons".to_string(),
                store.table(Kind::Persons).live_count(),
            ),
            (
                "organizations".to_string(),
                store.table(Kind::Organizations).live_count(),
            ),
        ])
    }
}
