//! The Salesforce REST simulator: Contact, Account and the org's custom
//! object `Project__c` through SOQL queries with `nextRecordsUrl` paging,
//! describe, sObject CRUD and upsert, sObject Collections, the
//! deleted-records feed, OAuth (`/services/oauth2/...`, `instance_url`, no
//! `expires_in`), the daily request allowance and Salesforce's array-shaped
//! errors.

mod composite;
mod describe;
mod errors;
mod model;
mod oauth;
mod query;
mod sobjects;
mod soql;
mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};

use crate::context::{Ctx, lock};
use crate::control::Backend;
use crate::guard::{self, Hooks};
use errors::SfError;
use model::{SObject, VERSION};
use store::Store;

/// Router state of the Salesforce simulator.
pub struct Salesforce {
    pub ctx: Arc<Ctx>,
    store: Mutex<Store>,
    cursors: Mutex<query::Cursors>,
}

impl Salesforce {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn cursors(&self) -> MutexGuard<'_, query::Cursors> {
        lock(&self.cursors)
    }
}

type SfState = axum::extract::State<Arc<Salesforce>>;

/// Accepts API versions `v20.0` to `v62.0`.
fn check_version(version: &str) -> Result<(), SfError> {
    let ok = version
        .strip_prefix('v')
        .and_then(|v| v.parse::<f64>().ok())
        .is_some_and(|v| (20.0..=62.0).contains(&v));
    if ok {
        Ok(())
    } else {
        Err(SfError::not_found())
    }
}

fn token(headers: &HeaderMap, _uri: &Uri) -> Option<String> {
    crate::oauth::bearer(headers).map(str::to_string)
}

/// Builds the Salesforce routes and the control backend.
pub fn build(ctx: Arc<Ctx>) -> (Router, Arc<dyn Backend>) {
    let sf = Arc::new(Salesforce {
        store: Mutex::new(Store::new(ctx.dataset())),
        cursors: Mutex::new(query::Cursors::default()),
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
        per_account: true,
    };
    let api = guard::guarded(
        Router::new()
            .route("/services/data/{version}/query", get(query::query))
            .route("/services/data/{version}/queryAll", get(query::query_all))
            .route("/services/data/{version}/query/{locator}", get(query::next))
            .route("/services/data/{version}/sobjects", get(describe::global))
            .route(
                "/services/data/{version}/sobjects/{object}",
                post(sobjects::create),
            )
            .route(
                "/services/data/{version}/sobjects/{object}/{id}",
                get(sobjects::read)
                    .patch(sobjects::update)
                    .delete(sobjects::delete),
            )
            .route(
                "/services/data/{version}/sobjects/{object}/describe",
                get(describe::read),
            )
            .route(
                "/services/data/{version}/sobjects/{object}/deleted/",
                get(sobjects::deleted),
            )
            .route(
                "/services/data/{version}/sobjects/{object}/{field}/{value}",
                patch(sobjects::upsert),
            )
            .route(
                "/services/data/{version}/composite/sobjects",
                post(composite::create)
                    .patch(composite::update)
                    .delete(composite::delete),
            )
            .with_state(sf.clone()),
        &ctx,
        hooks,
    );
    let oauth = crate::oauth::consent_routes("/services/oauth2/authorize")
        .route("/services/oauth2/token", post(oauth::token))
        .with_state(ctx);
    let versions = Router::new().route(
        "/services/data",
        get(|| async {
            axum::Json(json!([{"label": "Spring '24", "url": format!("/services/data/{VERSION}"), "version": "60.0"}]))
        }),
    );
    (api.merge(oauth).merge(versions), sf)
}

/// The control-surface kind of an object: its name, but `projects` for the
/// custom object.
fn control_name(object: SObject) -> &'static str {
    match object {
        SObject::Project => "projects",
        other => other.name(),
    }
}

/// A control-surface kind: [`control_name`] or an sObject name.
fn control_kind(kind: &str) -> Option<SObject> {
    SObject::ALL
        .into_iter()
        .find(|o| control_name(*o) == kind)
        .or_else(|| SObject::parse(kind))
}

impl Backend for Salesforce {
    fn kinds(&self) -> Vec<&'static str> {
        SObject::ALL.iter().map(|o| control_name(*o)).collect()
    }

    fn contact_kind(&self) -> &'static str {
        "Contact"
    }

    fn company_kind(&self) -> &'static str {
        "Account"
    }

    fn snapshot(&self, kind: &str) -> Option<Vec<Value>> {
        let object = control_kind(kind)?;
        let fields = object.fields();
        let store = self.store();
        let table = store.table(object);
        Some(
            table
                .numbers_from(1)
                .filter_map(|n| table.live(n).map(|r| r.render(object, n, &fields)))
                .collect(),
        )
    }

    fn record(&self, kind: &str, id: &str) -> Option<Value> {
        let object = control_kind(kind)?;
        let n = object.number(id)?;
        let store = self.store();
        store
            .table(object)
            .get(n)
            .map(|r| r.render(object, n, &object.fields()))
    }

    fn seed(&self, kind: &str, record: Value) -> Result<Value, String> {
        let object = control_kind(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
        let input = record.as_object().ok_or("expected a JSON object")?;
        let now = self.ctx.clock.tick();
        let mut store = self.store();
        let fields = store.check(object, input, None).map_err(|e| e.message)?;
        let n = store.create(object, fields, now).map_err(|e| e.message)?;
        store
            .table(object)
            .get(n)
            .map(|r| r.render(object, n, &object.fields()))
            .ok_or_else(|| "seed failed".into())
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        let store = self.store();
        SObject::ALL
            .into_iter()
            .map(|o| (control_name(o).to_string(), store.table(o).live_count()))
            .collect()
    }
}
