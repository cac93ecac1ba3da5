//! A connector built against the frozen contract 0.1.0 (the `contract-v0-1`
//! fixture, "Ledger") keeps working on this host, through the API as an app
//! uses it: it loads and is listed as 0.1.0, pulls every page, pushes with
//! upserts (the host adapts `find-matches` to 0.1.0's `find-match`), and is
//! hot-replaced by its next version. This test stays for as long as the host
//! supports 0.1.0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{Value, json};
use switchyard::runtime::ConnectorOverride;

use crate::harness::{ADMIN_KEY, TestHost, component, sim_config};

/// The stand-in Ledger API: contacts by id, paged two at a time.
#[derive(Clone, Default)]
struct Ledger {
    contacts: Arc<Mutex<BTreeMap<u64, Value>>>,
}

impl Ledger {
    fn with(names: &[(&str, &str)]) -> Ledger {
        let ledger = Ledger::default();
        for (name, email) in names {
            ledger.insert(json!({ "name": name, "email": email }));
        }
        ledger
    }

    fn insert(&self, mut contact: Value) -> Value {
        let mut contacts = self.contacts.lock().unwrap();
        let id = contacts.keys().last().map_or(1, |last| last + 1);
        contact["id"] = json!(id.to_string());
        contacts.insert(id, contact.clone());
        contact
    }

    fn by_email(&self, email: &str) -> Vec<Value> {
        let contacts = self.contacts.lock().unwrap();
        contacts
            .values()
            .filter(|c| c["email"] == email)
            .cloned()
            .collect()
    }

    async fn serve(self) -> String {
        async fn page(
            State(l): State<Ledger>,
            Query(q): Query<BTreeMap<String, String>>,
        ) -> Json<Value> {
            let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
            let all: Vec<Value> = l.contacts.lock().unwrap().values().cloned().collect();
            let results: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
            let next = (start + 2 < all.len()).then_some(start + 2);
            Json(json!({ "results": results, "next": next }))
        }
        async fn search(
            State(l): State<Ledger>,
            Query(q): Query<BTreeMap<String, String>>,
        ) -> Json<Value> {
            let email = q.get("email").cloned().unwrap_or_default();
            Json(json!({ "results": l.by_email(&email) }))
        }
        async fn create(State(l): State<Ledger>, Json(body): Json<Value>) -> Json<Value> {
            Json(l.insert(body))
        }
        async fn update(
            State(l): State<Ledger>,
            UrlPath(id): UrlPath<u64>,
            Json(body): Json<Value>,
        ) -> Json<Value> {
            let mut contacts = l.contacts.lock().unwrap();
            let contact = contacts.entry(id).or_default();
            if let (Some(c), Some(b)) = (contact.as_object_mut(), body.as_object()) {
                c.extend(b.clone());
            }
            Json(contact.clone())
        }
        let app = Router::new()
            .route("/contacts", get(page).post(create))
            .route("/contacts/search", get(search))
            .route("/contacts/{id}", patch(update))
            .with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }
}

/// The fixture built as version 2.0.0, in a target directory of its own.
fn ledger_v2() -> PathBuf {
    let connectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors");
    let target = connectors.join("target/ledger-v2");
    let status = Command::new(env!("CARGO"))
        .current_dir(&connectors)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .args(["-p", "contract-v0-1"])
        .env("CARGO_TARGET_DIR", &target)
        .env("LEDGER_VERSION", "2.0.0")
        .status()
        .expect("cargo must be runnable");
    assert!(status.success(), "building contract-v0-1 2.0.0 failed");
    target.join("wasm32-wasip2/release/contract_v0_1.wasm")
}

fn last_names(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            r["data"]["last_name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_connector_pulls_pushes_upserts_and_is_hot_replaced() {
    let ledger = Ledger::with(&[
        ("Ann", "ann@example.com"),
        ("Bob", "bob@example.com"),
        ("Cy", "cy@example.com"),
    ]);
    let ledger_url = ledger.clone().serve().await;
    let v1 = tokio::task::block_in_place(|| component("contract-v0-1"));
    let v2 = tokio::task::block_in_place(ledger_v2);
    let t = TestHost::start_with(sim_config(0, 0), |c| {
        std::fs::copy(&v1, c.data_dir.join("connectors/ledger.wasm")).unwrap();
        c.overrides.insert(
            "ledger".into(),
            ConnectorOverride {
                api_base: Some(ledger_url.clone()),
                allowed_hosts: Vec::new(),
                rate: None,
            },
        );
    })
    .await;

    // Loaded, and listed as built against 0.1.0.
    let (status, listed) = t
        .call("GET", "/api/admin/connectors", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200, "{listed}");
    let entry = |listed: &Value, id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} is not listed: {listed}"))
    };
    assert_eq!(entry(&listed, "ledger")["contract"], "0.1.0");
    assert_eq!(entry(&listed, "hubspot")["contract"], "0.2.0");

    let key = t.key("acme").await;
    let (_, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "schema": [{ "endgrate_type": "crm-contact" }], "provider": "ledger" }),
        )
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    let (status, body) = t
        .post(&key, "/api/session/credentials", json!({ "session_id": session, "provider": "ledger", "credentials": { "api_key": "k" } }))
        .await;
    assert_eq!(status, 200, "{body}");

    // Pull: every page (two contacts a page).
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let pulled = t.all_data(&key, "pull", "crm-contact", &pull).await;
    let mut names: Vec<&str> = pulled
        .iter()
        .map(|r| r["data"]["first_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Ann", "Bob", "Cy"]);
    assert_eq!(last_names(&pulled), ["1.0.0"; 3]);

    // Push with upserts: Bob's email finds Bob (updated, not created again),
    // Dee's finds nobody (created).
    let push = t
        .transfer(&key, "/api/push/transfer", json!({
            "session_id": session, "endgrate_type": "crm-contact",
            "transfer_data": [
                { "data": { "first_name": "Robert", "email_addresses": [{ "email_address": "bob@example.com" }] } },
                { "data": { "first_name": "Dee", "email_addresses": [{ "email_address": "dee@example.com" }] } }
            ]
        }))
        .await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        results.iter().all(|r| r.get("error").is_none()),
        "{results:?}"
    );
    assert_eq!(results[0]["created"], false, "{results:?}");
    assert_eq!(results[1]["created"], true, "{results:?}");
    let bob = ledger.by_email("bob@example.com");
    assert_eq!(bob.len(), 1, "{bob:?}");
    assert_eq!(bob[0]["name"], "Robert");
    assert_eq!(results[0]["id"], bob[0]["id"]);
    assert_eq!(ledger.by_email("dee@example.com").len(), 1);

    // Hot-replaced by 2.0.0 through the admin API: still 0.1.0, and the next
    // pull runs on the new build.
    let uploaded = t
        .http
        .post(format!("{}/api/admin/connectors", t.url))
        .bearer_auth(ADMIN_KEY)
        .body(std::fs::read(&v2).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 200);
    let uploaded: Value = uploaded.json().await.unwrap();
    assert_eq!(uploaded["replaced_version"], "1.0.0", "{uploaded}");
    assert_eq!(uploaded["version"], "2.0.0");
    assert_eq!(uploaded["contract"], "0.1.0");
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let pulled = t.all_data(&key, "pull", "crm-contact", &pull).await;
    assert_eq!(pulled.len(), 4);
    assert_eq!(last_names(&pulled), ["2.0.0"; 4]);
}
