//! The QuickBooks Online simulator: customers and invoices under
//! `/v3/company/{realmId}`, its query language, change data capture,
//! SyncToken locking, batches, `requestid` idempotency, OAuth (`/connect/oauth2`,
//! `/oauth2/v1/tokens/bearer`, rotating refresh tokens), 500 requests a
//! minute and 10 in flight per realm, and the XML 429.

mod api;
mod errors;
mod model;
mod oauth;
mod query;
mod request_id;
mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post};
use serde_json::Value;

use crate::context::{Ctx, lock};
use crate::control::Backend;
use crate::guard::{self, Hooks};
use model::Entity;
use store::Store;

/// Router state of the QuickBooks simulator.
pub struct QuickBooks {
    pub ctx: Arc<Ctx>,
    store: Mutex<Store>,
    answered: request_id::Answered,
}

impl QuickBooks {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

type QbState = axum::extract::State<Arc<QuickBooks>>;

fn token(headers: &HeaderMap, _uri: &Uri) -> Option<String> {
    crate::oauth::bearer(headers).map(str::to_string)
}

/// Builds the QuickBooks routes and the control backend.
pub fn build(ctx: Arc<Ctx>) -> (Router, Arc<dyn Backend>) {
    let qb = Arc::new(QuickBooks {
        store: Mutex::new(Store::new(ctx.dataset())),
        answered: request_id::Answered::default(),
        ctx: ctx.clone(),
    });
    let hooks = Hooks {
        token,
        unauthorized: errors::unauthorized,
        throttled: errors::throttled,
        server_error: errors::server_error,
        limit_headers: errors::limit_headers,
        search_limit: false,
        concurrency: Some(10),
        per_account: true,
    };
    let api = guard::guarded(
        Router::new()
            .route(
                "/v3/company/{realm}/query",
                get(api::query_get).post(api::query_post),
            )
            .route("/v3/company/{realm}/cdc", get(api::cdc))
            .route("/v3/company/{realm}/preferences", get(api::preferences))
            .route("/v3/company/{realm}/batch", post(api::batch))
            .route(
                "/v3/company/{realm}/companyinfo/{id}",
                get(api::company_info),
            )
            .route("/v3/company/{realm}/{entity}", post(api::write))
            .route("/v3/company/{realm}/{entity}/{id}", get(api::read))
            .with_state(qb.clone()),
        &ctx,
        hooks,
    );
    let oauth = crate::oauth::consent_routes("/connect/oauth2")
        .route("/oauth2/v1/tokens/bearer", post(oauth::token))
        .with_state(ctx);
    (api.merge(oauth), qb)
}

impl Backend for QuickBooks {
    fn kinds(&self) -> Vec<&'static str> {
        vec!["Customer", "Invoice"]
    }

    fn contact_kind(&self) -> &'static str {
        "Customer"
    }

    fn company_kind(&self) -> &'static str {
        "Invoice"
    }

    fn snapshot(&self, kind: &str) -> Option<Vec<Value>> {
        let entity = Entity::parse(kind)?;
        let store = self.store();
        let table = store.table(entity);
        Some(
            table
                .numbers_from(1)
                .filter_map(|n| table.live(n).map(|r| r.body.clone()))
                .collect(),
        )
    }

    fn record(&self, kind: &str, id: &str) -> Option<Value> {
        let entity = Entity::parse(kind)?;
        let store = self.store();
        store
            .table(entity)
            .get(id.parse().ok()?)
            .map(|r| r.body.clone())
    }

    fn seed(&self, kind: &str, record: Value) -> Result<Value, String> {
        let entity = Entity::parse(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
        let now = self.ctx.clock.tick();
        self.store().seed(entity, &record, now)
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        let store = self.store();
        BTreeMap::from([
            (
                "Customer".to_string(),
                store.table(Entity::Customer).live_count(),
            ),
            (
                "Invoice".to_string(),
                store.table(Entity::Invoice).live_count(),
            ),
        ])
    }
}
