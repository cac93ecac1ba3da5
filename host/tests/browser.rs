//! The pages people use, driven in a real headless Chromium (Debian's
//! `chromium` and `chromium-driver`; missing ones fail the tests with the
//! command that installs them): the end user's connect flow against the
//! sandbox simulators, re-authentication, an API-key provider's rejection
//! shown on the form, the statistics page and the dashboard.
//!
//! Every test fails on console errors of the host's pages, saves a
//! screenshot under `target/browser-screenshots/FAILED-<test>.png` when it
//! fails, and a screenshot of each page it visits (desktop and phone) for
//! people to look at.

#[path = "browser/webdriver.rs"]
mod webdriver;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use futures::FutureExt;
use serde_json::{Value, json};
use switchyard::runtime::ConnectorOverride;
use switchyard::sandbox::Sandbox;
use switchyard::server::{self, HostConfig, RunningHost};
use switchyard_simulators::Provider;
use webdriver::{Browser, WAIT};

const ADMIN_KEY: &str = "sy_admin_browser_0123456789abcdefghijk";
const SANDBOX: [&str; 4] = ["hubspot", "quickbooks", "salesforce", "pipedrive"];

/// One Chromium at a time: the machines are small.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn connectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors")
}

/// The components the tests install, built once per test process.
fn component(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let target = connectors_dir().join("target");
    BUILT.get_or_init(|| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(connectors_dir())
            .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
            .env("CARGO_TARGET_DIR", &target);
        for p in SANDBOX.iter().chain(&["keyed", "probe"]) {
            cmd.args(["-p", p]);
        }
        assert!(
            cmd.status().expect("cargo runs").success(),
            "building the connectors failed"
        );
    });
    target.join(format!("wasm32-wasip2/release/{name}.wasm"))
}

/// What the app's backend sees: webhooks, and the page `redirect_url` lands on.
#[derive(Clone, Default)]
struct App {
    url: String,
    hooks: Arc<Mutex<Vec<(String, Value)>>>,
}

impl App {
    async fn start() -> App {
        let hooks: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let keep = hooks.clone();
        let router = axum::Router::new()
            .route(
                "/done",
                get(|| async {
                    Html("<!doctype html><html><head><title>Acme</title><link rel=\"icon\" href=\"data:,\"></head><body><h1 id=\"back\">Back in Acme</h1></body></html>")
                }),
            )
            .route(
                "/hook",
                post(move |headers: HeaderMap, body: Bytes| {
                    let hooks = keep.clone();
                    async move {
                        let event = headers
                            .get("x-switchyard-event")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        hooks.lock().unwrap().push((event, body));
                        StatusCode::OK
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        App { url, hooks }
    }

    fn configuration(&self) -> Option<Value> {
        self.hooks
            .lock()
            .unwrap()
            .iter()
            .find(|(_, body)| body.get("schemas").is_some())
            .map(|(_, b)| b.clone())
    }
}

/// A provider that takes API keys: `GET /me` accepts only `good-key`.
async fn keyed_provider() -> String {
    let router = axum::Router::new()
        .route(
            "/me",
            get(|headers: HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if auth == "Bearer good-key" {
                    (StatusCode::OK, Json(json!({ "id": 7, "name": "Acme" })))
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        Json(
                            json!({ "message": "Invalid API key: it was revoked or never existed." }),
                        ),
                    )
                }
            }),
        )
        .route(
            "/contacts",
            get(|| async {
                Json(json!([
                    { "first_name": "Grace", "last_name": "Hopper", "email_addresses": [{ "email_address": "grace@keyed.test", "email_address_type": "WORK" }] }
                ]))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// A host in sandbox mode with the four sandbox connectors (and the
/// API-key test connector when `keyed` gives its provider's address).
struct Env {
    host: Option<RunningHost>,
    url: String,
    sandbox: Sandbox,
    http: reqwest::Client,
    app: App,
    key: String,
    _data: tempfile::TempDir,
}

impl Env {
    async fn start(keyed: Option<String>) -> Env {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("connectors");
        std::fs::create_dir_all(&dir).unwrap();
        let mut names: Vec<&str> = SANDBOX.to_vec();
        if keyed.is_some() {
            names.push("keyed");
        }
        for name in names {
            let built = tokio::task::block_in_place(|| component(name));
            std::fs::copy(built, dir.join(format!("{name}.wasm"))).unwrap();
        }
        let mut config = HostConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_owned());
        config.admin_key = Some(ADMIN_KEY.into());
        config.transfers.retry_base = Duration::from_millis(50);
        config.transfers.retry_max = Duration::from_millis(500);
        config.webhooks.backoff_base = Duration::from_millis(50);
        config.webhooks.backoff_max = Duration::from_millis(200);
        config.webhooks.address_policy = switchyard::net_policy::AddressPolicy::allow_loopback();
        if let Some(base) = keyed {
            config.overrides.insert(
                "keyed".into(),
                ConnectorOverride {
                    api_base: Some(base),
                    allowed_hosts: Vec::new(),
                    rate: None,
                },
            );
        }
        let sandbox = switchyard::sandbox::start(&mut config).await.unwrap();
        let host = server::start(config).await.unwrap();
        let url = host.url();
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("{url}/api/admin/keys"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({ "account": "acme" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Env {
            key: answer["api_key"].as_str().unwrap().to_owned(),
            host: Some(host),
            url,
            sandbox,
            http,
            app: App::start().await,
            _data: data,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer
    }

    async fn initiate(&self, body: Value) -> String {
        self.ok("POST", "/api/session/initiate", Some(body)).await["session_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn simulator(&self, provider: Provider) -> &switchyard_simulators::Simulator {
        self.sandbox
            .simulators
            .iter()
            .find(|s| s.provider() == provider)
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(host) = self.host.take() {
            host.shutdown().await.unwrap();
        }
    }
}

/// Polls `check` until it holds, failing after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ends a browser test: a failure saves a screenshot and fails; a pass
/// still fails on console errors of the host's pages.
async fn finish(browser: Browser, env: &Env, outcome: std::thread::Result<()>) {
    match outcome {
        Ok(()) => {
            let errors = browser.console_errors(&env.url).await;
            if !errors.is_empty() {
                let shot = browser.failure_shot().await;
                browser.quit().await;
                panic!(
                    "console errors on the host's pages (screenshot {}):\n{}",
                    shot.display(),
                    errors.join("\n")
                );
            }
            browser.quit().await;
        }
        Err(panic) => {
            let shot = browser.failure_shot().await;
            eprintln!("browser test failed; screenshot at {}", shot.display());
            browser.quit().await;
            std::panic::resume_unwind(panic);
        }
    }
}

/// The custom schema of the end-user flow: the app's own names for a contact.
fn lead_schema() -> Value {
    json!({
        "title": "Lead",
        "endgrate_type": "crm-contact",
        "type": "object",
        "properties": {
            "given_name": { "type": ["string", "null"] },
            "surname": { "type": ["string", "null"] },
            "work_email": { "type": ["string", "null"] },
            "color": { "type": ["string", "null"] },
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_user_connects_hubspot_chooses_data_maps_fields_and_pulls_the_mapped_shape() {
    let _one = ONE_BROWSER.lock().await;
    let env = Env::start(None).await;
    let session = env
        .initiate(json!({
            "name": "Acme onboarding",
            "schema": [lead_schema(), { "endgrate_type": "crm-company" }],
            "schema_selection": true,
            "field_selection": true,
            "passthrough_fields": true,
            "passthrough_schemas": true,
            "redirect_url": format!("{}/done", env.app.url),
            "configuration_webhook": { "endpoint": format!("{}/hook", env.app.url), "metadata": { "user": 42 } },
        }))
        .await;
    // Example values for the mapping page, pushed before the end user arrives.
    env.ok(
        "POST",
        "/api/push/transfer",
        Some(json!({
            "session_id": session, "endgrate_type": "crm-contact", "sample_data": true,
            "transfer_data": [{ "data": { "given_name": "Ada", "surname": "Lovelace", "work_email": "ada@acme.test" } }],
        })),
    )
    .await;

    let browser = Browser::start("end_user_flow").await;
    let b = &browser;
    let outcome = AssertUnwindSafe(async {
        b.goto(&format!("{}/session?session_id={session}", env.url))
            .await;
        b.wait_for_text("h1", "Connect your account").await;
        for name in [
            "HubSpot (sandbox)",
            "Pipedrive (sandbox)",
            "Salesforce (sandbox)",
        ] {
            b.wait_for_text("#providers", name).await;
        }
        // Only providers that serve the session's data: QuickBooks has no contacts.
        assert!(!b.exists("#provider-quickbooks").await);
        b.snap("01-connect-picker").await;
        b.snap_phone("01-connect-picker").await;

        b.click("#provider-hubspot").await;
        // The simulator's own consent page (another origin).
        b.click("#approve").await;
        b.wait_for_url("the data step", |u| u.contains("/session/select"))
            .await;
        b.wait_for_text("h1", "Choose what to share").await;
        b.snap("02-connect-choose-data").await;
        b.snap_phone("02-connect-choose-data").await;
        // Companies off: only contacts are shared, and HubSpot's custom
        // object "Projects", offered as more data, is chosen.
        b.click("#enable-1").await;
        b.wait_for_text("label[for='passthrough-0']", "Project").await;
        b.click("#passthrough-0").await;
        b.click("#continue").await;

        b.wait_for_url("the mapping step", |u| u.contains("/session/fields"))
            .await;
        b.wait_for_text("#fields-form", "Ada").await;
        b.wait_for_text("#fields-form", "ada@acme.test").await;
        assert!(!b.exists("#mapping-1").await, "companies were switched off");
        b.click("select[name='map:0:given_name'] option[value='first_name']")
            .await;
        b.click("select[name='map:0:surname'] option[value='last_name']")
            .await;
        b.click("select[name='map:0:work_email'] option[value='email_addresses.0.email_address']")
            .await;
        b.click("select[name='upsert:0:work_email'] option[value='do_not_update']")
            .await;
        // A field of the app's mapped to a custom field of HubSpot's.
        b.click("select[name='map:0:color'] option[value='$provider.favorite_color']")
            .await;
        // HubSpot's other contact properties, custom ones marked, all on at
        // first: the end user leaves one out.
        b.wait_for_text("#passthrough-0", "Favorite color").await;
        b.wait_for_text("#passthrough-0", "Custom field · loyalty_points")
            .await;
        b.click("input[name='passthrough:0:loyalty_points']").await;
        // Each with a value one of the account's records has.
        let shown = b
            .eval(
                "return document.querySelector(\"label[for='\" + document.querySelector(\"input[name='passthrough:0:favorite_color']\").id + \"']\").textContent;",
                json!([]),
            )
            .await;
        let example = shown
            .as_str()
            .and_then(|t| t.split("e.g. ").nth(1))
            .unwrap_or_else(|| panic!("no example value: {shown}"));
        assert!(
            ["red", "green", "blue"].contains(&example.trim()),
            "{shown}"
        );
        b.snap("03-connect-map-fields").await;
        b.snap_phone("03-connect-map-fields").await;
        b.click("#finish").await;

        let back = format!("{}/done", env.app.url);
        b.wait_for_url("the app's redirect_url", |u| u.starts_with(&back))
            .await;
        b.wait_for_text("#back", "Back in Acme").await;

        // The end user comes back to change a choice: the edit link the app
        // gets from the API (single use) re-opens them.
        let detail = env
            .ok("GET", &format!("/api/sessions/{session}"), None)
            .await;
        b.goto(detail["session"]["links"]["edit"].as_str().unwrap())
            .await;
        b.wait_for_url("the data step", |u| u.contains("/session/select"))
            .await;
        assert_eq!(
            b.eval(
                "return document.getElementById('enable-1').checked;",
                json!([])
            )
            .await,
            json!(false),
            "the page shows the choices made"
        );
        b.click("#continue").await;
        b.wait_for_url("the mapping step", |u| u.contains("/session/fields"))
            .await;
        b.wait_for_text("#finish", "Save changes").await;
        assert_eq!(
            b.eval(
                "return [document.querySelector(\"input[name='passthrough:0:loyalty_points']\").checked, \
                 document.querySelector(\"input[name='passthrough:0:favorite_color']\").checked];",
                json!([])
            )
            .await,
            json!([false, true]),
            "the page shows the fields chosen"
        );
        b.click("select[name='upsert:0:work_email'] option[value='overwrite']")
            .await;
        b.snap("18-connect-edit-fields").await;
        b.click("#finish").await;
        b.wait_for_url("the app's redirect_url", |u| u.starts_with(&back))
            .await;
    })
    .catch_unwind()
    .await;
    finish(browser, &env, outcome).await;

    // The configuration webhook carries the end user's choices.
    eventually(WAIT, "the configuration webhook", || async {
        env.app.configuration().is_some()
    })
    .await;
    let config = env.app.configuration().unwrap();
    assert_eq!(config["session_id"], session);
    assert_eq!(config["metadata"]["user"], 42);
    assert_eq!(config["endgrate"]["provider"], "hubspot");
    let schemas = config["schemas"].as_object().unwrap();
    assert_eq!(
        schemas.keys().collect::<Vec<_>>(),
        ["crm-contact"],
        "{config}"
    );
    assert_eq!(
        schemas["crm-contact"]["field_mapping"],
        json!({ "given_name": "first_name", "surname": "last_name", "work_email": "email_addresses.0.email_address", "color": "$provider.favorite_color" })
    );
    assert_eq!(
        schemas["crm-contact"]["upsert_behaviour"],
        json!({ "work_email": "do_not_update" })
    );
    // The edit replaced it.
    let now = env
        .ok(
            "GET",
            &format!("/api/session/configuration?session_id={session}"),
            None,
        )
        .await;
    assert_eq!(
        now["schemas"]["crm-contact"]["upsert_behaviour"],
        json!({}),
        "{now}"
    );
    assert_eq!(
        now["schemas"]["crm-contact"]["field_mapping"]["work_email"],
        "email_addresses.0.email_address"
    );
    // The provider fields chosen come along; the one left out does not.
    let passthrough = &now["schemas"]["crm-contact"]["passthrough_fields"]["properties"];
    assert_eq!(
        passthrough["favorite_color"]["title"], "Favorite color",
        "{now}"
    );
    assert!(passthrough.get("loyalty_points").is_none(), "{now}");
    // The custom object chosen, with its discovered schema.
    let projects = &now["passthrough_schemas"]["p_projects"];
    assert_eq!(projects["schema"]["title"], "Project", "{now}");
    assert_eq!(
        projects["schema"]["properties"]["budget"]["type"], "number",
        "{now}"
    );

    // A pull returns records in the app's own shape.
    let pulled = env
        .ok(
            "POST",
            "/api/pull/transfer",
            Some(json!({ "session_id": session, "endgrate_type": "crm-contact", "synchronous": true })),
        )
        .await;
    let transfer = pulled["transfer_id"].as_str().unwrap();
    let data = env
        .ok(
            "GET",
            &format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={transfer}&limit=50"),
            None,
        )
        .await;
    let rows = data["transfer_data"].as_array().unwrap();
    assert_eq!(rows.len(), 50);
    let chosen: Vec<&str> = passthrough
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for row in rows {
        let fields = row["data"].as_object().unwrap();
        assert!(
            fields
                .keys()
                .all(
                    |k| ["given_name", "surname", "work_email", "color"].contains(&k.as_str())
                        || chosen.contains(&k.as_str())
                ),
            "{row}"
        );
        assert!(fields["favorite_color"].is_string(), "{row}");
        assert_eq!(fields["color"], fields["favorite_color"], "{row}");
        assert!(fields.get("loyalty_points").is_none(), "{row}");
    }
    assert!(
        rows.iter().any(|r| r["data"]["work_email"]
            .as_str()
            .is_some_and(|e| e.contains('@'))),
        "{data}"
    );
    // A push writes the mapped field to the custom field.
    let pushed = env
        .ok(
            "POST",
            "/api/push/transfer",
            Some(json!({
                "session_id": session, "endgrate_type": "crm-contact", "synchronous": true,
                "transfer_data": [{ "data": { "given_name": "Grace", "surname": "Hopper", "work_email": "grace@acme.test", "color": "green" } }],
            })),
        )
        .await;
    let transfer = pushed["transfer_id"].as_str().unwrap();
    let results = env
        .ok(
            "GET",
            &format!("/api/push/data?endgrate_type=crm-contact&transfer_id={transfer}"),
            None,
        )
        .await;
    let id = results["transfer_data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{results}"));
    let at_hubspot = env
        .ok(
            "GET",
            &format!(
                "/api/proxy/{session}/crm/v3/objects/contacts/{id}?properties=favorite_color,email"
            ),
            None,
        )
        .await;
    assert_eq!(
        at_hubspot["properties"]["favorite_color"], "green",
        "{at_hubspot}"
    );
    assert_eq!(at_hubspot["properties"]["email"], "grace@acme.test");

    // Companies were switched off by the end user.
    let (status, _) = env
        .call(
            "POST",
            "/api/pull/transfer",
            Some(json!({ "session_id": session, "endgrate_type": "crm-company" })),
        )
        .await;
    assert_eq!(status, 422);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_user_signs_in_again_after_the_tokens_are_revoked() {
    let _one = ONE_BROWSER.lock().await;
    let env = Env::start(None).await;
    let session = env
        .initiate(json!({ "name": "Re-auth demo", "category": "crm" }))
        .await;
    let browser = Browser::start("reauthentication").await;
    let b = &browser;
    let sid = session.clone();
    let outcome = AssertUnwindSafe(async {
        b.goto(&format!("{}/session?session_id={sid}", env.url))
            .await;
        b.click("#provider-hubspot").await;
        b.click("#approve").await;
        b.wait_for_url("the done page", |u| u.contains("/session/done"))
            .await;
        b.wait_for_text("h1", "You're connected").await;
        b.snap("04-connect-done").await;
        b.snap_phone("04-connect-done").await;

        // The tokens stop working: the next pull asks for re-authentication.
        let hubspot = env.simulator(Provider::HubSpot).control();
        hubspot.revoke_refresh_tokens();
        hubspot.expire_tokens();
        let pulled = env
            .ok(
                "POST",
                "/api/pull/transfer",
                Some(json!({ "session_id": sid, "endgrate_type": "crm-contact" })),
            )
            .await;
        let transfer = pulled["transfer_id"].as_str().unwrap().to_owned();
        eventually(WAIT, "the session to need re-authentication", || async {
            env.ok("GET", &format!("/api/sessions/{sid}"), None).await["session"]["status"]
                == "reauthentication_required"
        })
        .await;
        let detail = env.ok("GET", &format!("/api/sessions/{sid}"), None).await;
        let link = detail["session"]["links"]["reauthenticate"]
            .as_str()
            .unwrap()
            .to_owned();

        // The end user follows the link, approves again, and the waiting pull goes on.
        b.goto(&link).await;
        b.click("#approve").await;
        b.wait_for_url("the done page", |u| u.contains("/session/done"))
            .await;
        b.wait_for_text("h1", "You're connected").await;
        eventually(WAIT, "the waiting pull to complete", || async {
            let (_, s) = env
                .call(
                    "GET",
                    &format!("/api/statistics?transfer_id={transfer}"),
                    None,
                )
                .await;
            s["completed"] == true
        })
        .await;
        let (_, s) = env
            .call(
                "GET",
                &format!("/api/statistics?transfer_id={transfer}"),
                None,
            )
            .await;
        assert_eq!(s["status"], "completed", "{s}");
        assert_eq!(s["statistics"]["records_transferred"], 1000, "{s}");

        // Opening the session link again shows the connection and how to change it.
        b.goto(&format!("{}/session?session_id={sid}", env.url))
            .await;
        b.wait_for_text("h1", "HubSpot (sandbox) is connected")
            .await;
        assert!(b.exists("#reconnect").await);
        b.snap("05-connect-already-connected").await;

        // The developer sees the authentication error in the dashboard and resolves it.
        b.goto(&format!("{}/dashboard#/errors", env.url)).await;
        b.type_into("#api-key", &env.key).await;
        b.click("#signin-button").await;
        b.wait_for_text("#view", "authentication").await;
        b.wait_for_text("#view", "/session/reauthenticate").await;
        b.snap("17-dashboard-errors-open").await;
        let errors = env
            .ok("GET", &format!("/api/errors?session_id={sid}"), None)
            .await;
        let pk = errors["errors"][0]["pk"].as_str().unwrap().to_owned();
        b.click(&format!("button[data-pk='{pk}']")).await;
        eventually(WAIT, "the error to be marked resolved", || async {
            env.ok("GET", &format!("/api/errors?session_id={sid}"), None)
                .await["errors"][0]["resolved"]
                == true
        })
        .await;
        b.wait_for(
            "the resolved error to leave the list",
            "return !document.querySelector(`button[data-pk='${arguments[0]}']`);",
            json!([pk]),
        )
        .await;
    })
    .catch_unwind()
    .await;
    finish(browser, &env, outcome).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_provider_s_rejection_is_shown_next_to_the_field() {
    let _one = ONE_BROWSER.lock().await;
    let provider = keyed_provider().await;
    let env = Env::start(Some(provider)).await;
    let session = env
        .initiate(json!({
            "name": "Keyed", "provider": "keyed",
            "schema": [{ "endgrate_type": "crm-contact" }],
            "redirect_url": format!("{}/done", env.app.url),
        }))
        .await;
    let browser = Browser::start("api_key_form").await;
    let b = &browser;
    let sid = session.clone();
    let outcome = AssertUnwindSafe(async {
        // An unknown session gets a clear page, not a trace.
        b.goto(&format!("{}/session?session_id=no-such-session", env.url))
            .await;
        b.wait_for_text("h1", "We couldn't find this session").await;
        b.snap("06-connect-unknown-session").await;
        // (Chromium logs the 404 of that page itself; it is the point of it.)
        let _ = b.console().await;

        b.goto(&format!("{}/session?session_id={sid}", env.url))
            .await;
        b.wait_for_text("h1", "Connect Keyed CRM").await;
        b.type_into("#field-subdomain", "acme").await;
        b.type_into("#field-api_key", "wrong-key").await;
        b.click("#connect").await;
        b.wait_for_text(
            "#error-api_key",
            "Invalid API key: it was revoked or never existed.",
        )
        .await;
        assert_eq!(
            b.attribute("#field-api_key", "aria-invalid")
                .await
                .as_deref(),
            Some("true")
        );
        assert!(
            b.url().await.contains("/session?session_id="),
            "the end user stays on the form"
        );
        b.snap("07-connect-api-key-rejected").await;
        b.snap_phone("07-connect-api-key-rejected").await;

        b.type_into("#field-api_key", "good-key").await;
        b.click("#connect").await;
        let back = format!("{}/done", env.app.url);
        b.wait_for_url("the app's redirect_url", |u| u.starts_with(&back))
            .await;
    })
    .catch_unwind()
    .await;
    finish(browser, &env, outcome).await;

    let config = env
        .ok(
            "GET",
            &format!("/api/session/configuration?session_id={session}"),
            None,
        )
        .await;
    assert_eq!(config["endgrate"]["provider"], "keyed");
    let pulled = env
        .ok(
            "POST",
            "/api/pull/transfer",
            Some(json!({ "session_id": session, "endgrate_type": "crm-contact", "synchronous": true })),
        )
        .await;
    let data = env
        .ok(
            "GET",
            &format!(
                "/api/pull/data?endgrate_type=crm-contact&transfer_id={}",
                pulled["transfer_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(data["transfer_data"][0]["data"]["first_name"], "Grace");
    env.stop().await;
}

/// A pull slow enough to watch: the simulator answers each page late.
async fn slow_pull(env: &Env, session: &str) -> String {
    env.simulator(Provider::HubSpot)
        .control()
        .set_latency(Duration::from_millis(600));
    env.ok(
        "POST",
        "/api/pull/transfer",
        Some(json!({ "session_id": session, "endgrate_type": "crm-contact" })),
    )
    .await["transfer_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_page_and_dashboard_follow_a_running_transfer_and_upload_a_connector() {
    let _one = ONE_BROWSER.lock().await;
    let env = Env::start(None).await;
    let session = env
        .initiate(json!({
            "name": "Dashboard demo",
            "schema": [{ "endgrate_type": "crm-contact" }, { "endgrate_type": "crm-company" }],
            "statistics": true,
            "passthrough_fields": true,
            "passthrough_schemas": true,
        }))
        .await;
    env.ok(
        "POST",
        "/api/session/credentials",
        Some(json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": "sandbox" } })),
    )
    .await;
    // A second, unconfigured session, for the list and its search.
    env.initiate(json!({ "name": "Other customer", "category": "crm" }))
        .await;
    // A third, which the developer deletes from the sessions tab.
    let doomed = env
        .initiate(json!({ "name": "Churned customer", "category": "crm" }))
        .await;
    let probe = tokio::task::block_in_place(|| component("probe"))
        .canonicalize()
        .unwrap();

    let browser = Browser::start("statistics_and_dashboard").await;
    let b = &browser;
    let outcome = AssertUnwindSafe(async {
        // The statistics page follows a transfer live and stops when it completes.
        let transfer = slow_pull(&env, &session).await;
        b.goto(&format!("{}/statistics?transfer_id={transfer}", env.url))
            .await;
        b.wait_for(
            "the statistics page to show records arriving",
            "const s = document.getElementById('status'); const r = document.getElementById('records');\
             return s.dataset.status === 'running' && parseInt(r.textContent.replace(/\\D/g, ''), 10) > 0;",
            json!([]),
        )
        .await;
        b.snap("08-statistics-running").await;
        b.wait_for_text("#status", "Completed").await;
        b.wait_for_text("#records", "1,000").await;
        b.wait_for_text("#live", "This transfer has finished.").await;
        b.wait_for(
            "the progress bar to fill",
            "const f = document.getElementById('bar-fill').getBoundingClientRect();\
             const b = document.getElementById('bar').getBoundingClientRect();\
             return Math.abs(f.width - b.width) < 1;",
            json!([]),
        )
        .await;
        b.snap("09-statistics-completed").await;
        b.snap_phone("09-statistics-completed").await;

        // The dashboard: sign in with the API key.
        b.goto(&format!("{}/dashboard", env.url)).await;
        b.type_into("#api-key", &env.key).await;
        b.snap("10-dashboard-sign-in").await;
        b.click("#signin-button").await;
        b.wait_for_text("#view", "Dashboard demo").await;
        b.wait_for_text("#view", "Other customer").await;
        b.wait_for_text("#account-name", "acme").await;
        b.snap("11-dashboard-sessions").await;
        b.snap_phone("11-dashboard-sessions").await;
        // Deleting a session from the list (the confirmation accepted).
        b.wait_for_text("#view", "Churned customer").await;
        b.eval("window.confirm = () => true;", json!([])).await;
        b.click(&format!("button[data-delete-session='{doomed}']"))
            .await;
        b.wait_for(
            "the deleted session to leave the list",
            "return !document.querySelector('#view').innerText.includes('Churned customer') && document.querySelector('#view').innerText.includes('Other customer');",
            json!([]),
        )
        .await;
        let (status, _) = env
            .call("GET", &format!("/api/sessions/{doomed}"), None)
            .await;
        assert_eq!(status, 404, "the session is gone from the API too");
        b.type_into("#session-search", "demo").await;
        b.wait_for(
            "the search to leave one session",
            "return document.querySelectorAll('#view tbody tr').length === 1 && document.querySelector('#view tbody').innerText.includes('Dashboard demo');",
            json!([]),
        )
        .await;

        // A running transfer's progress, live.
        let running = slow_pull(&env, &session).await;
        b.goto(&format!("{}/dashboard#/transfers", env.url)).await;
        b.wait_for(
            "the dashboard to show the running transfer's progress",
            "const row = document.querySelector(`tr[data-transfer='${arguments[0]}']`);\
             if (!row) return false;\
             const n = parseInt(row.querySelector('.records').textContent.replace(/\\D/g, ''), 10);\
             return row.querySelector('.badge').dataset.status === 'running' && n > 0 && n < 1000;",
            json!([running]),
        )
        .await;
        b.snap("12-dashboard-transfers-running").await;
        b.wait_for(
            "the dashboard to show it completed",
            "const row = document.querySelector(`tr[data-transfer='${arguments[0]}']`);\
             return !!row && row.querySelector('.badge').dataset.status === 'completed' && row.querySelector('.records').textContent.includes('1,000');",
            json!([running]),
        )
        .await;
        env.simulator(Provider::HubSpot)
            .control()
            .set_latency(Duration::ZERO);

        // The session's detail: transfers and the link to hand to the end user.
        b.goto(&format!("{}/dashboard#/sessions/{session}", env.url))
            .await;
        b.wait_for_text("#view", "Links for your end user").await;
        // The provider fields discovered for it, the portal's custom ones included.
        b.wait_for_text("#view", "Favorite color · custom").await;
        b.wait_for_text("#view", "Account tier · custom").await;
        // And the portal's custom object, shared with its fields.
        b.wait_for_text("#provider-objects", "Project · custom").await;
        b.wait_for_text("#view", "Project code").await;
        let link = b
            .eval(
                "return document.getElementById('link-reauth').value;",
                json!([]),
            )
            .await;
        let link = link.as_str().unwrap_or_default();
        assert!(
            link.starts_with(&format!(
                "{}/session/reauthenticate?session_id={session}&grant=",
                env.url
            )),
            "a single-use change link: {link}"
        );
        b.wait_for(
            "the session's transfers",
            "return document.querySelectorAll('tr[data-transfer]').length === 2;",
            json!([]),
        )
        .await;
        b.snap("13-dashboard-session-detail").await;

        // The session's activity: its provider requests, as the log lists
        // them, and only one transfer's when filtered.
        let logged = env
            .ok("GET", &format!("/api/logs?session_id={session}&limit=50"), None)
            .await;
        let shown = logged["requests"].as_array().unwrap().len();
        assert!(shown > 0, "{logged}");
        b.wait_for(
            "the session's provider requests",
            "return document.querySelectorAll('#activity tr[data-request-status]').length === arguments[0];",
            json!([shown]),
        )
        .await;
        b.wait_for_text("#activity", "GET /crm/v3/objects/contacts").await;
        let first_transfer = logged["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|r| r["transfer_id"].as_str())
            .unwrap()
            .to_owned();
        let of_transfer = env
            .ok(
                "GET",
                &format!("/api/logs?session_id={session}&transfer_id={first_transfer}&limit=50"),
                None,
            )
            .await;
        let of_transfer = of_transfer["requests"].as_array().unwrap().len();
        b.eval(
            "var s = document.getElementById('activity-transfer'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
            json!([first_transfer]),
        )
        .await;
        b.wait_for(
            "only that transfer's requests",
            "return document.querySelectorAll('#activity tr[data-request-status]').length === arguments[0] && document.getElementById('activity-transfer').value === arguments[1];",
            json!([of_transfer, first_transfer]),
        )
        .await;
        b.snap("13b-dashboard-session-activity").await;

        // Connectors: the admin key unlocks them; an upload hot-loads.
        b.goto(&format!("{}/dashboard#/connectors", env.url)).await;
        b.type_into("#admin-key", ADMIN_KEY).await;
        b.click("#admin-signin").await;
        b.wait_for_text("#view", "HubSpot (sandbox)").await;
        b.send_keys("#connector-file", &probe.display().to_string())
            .await;
        b.wait_for_text("#connector-file-name", "probe.wasm").await;
        b.click("#upload-connector").await;
        b.wait_for_text("#upload-result", "Loaded Probe 1.0.0").await;
        b.wait_for(
            "the probe connector in the list",
            "return !!document.querySelector(\"tr[data-connector='probe']\");",
            json!([]),
        )
        .await;
        b.snap("14-dashboard-connectors").await;

        // Keys and the webhook secret.
        b.goto(&format!("{}/dashboard#/keys", env.url)).await;
        b.click("#reveal-secret").await;
        b.wait_for(
            "the webhook secret",
            "return !document.getElementById('webhook-secret').textContent.includes('•');",
            json!([]),
        )
        .await;
        b.wait_for_text("#view", "acme").await;
        b.snap("15-dashboard-keys").await;
        b.goto(&format!("{}/dashboard#/errors", env.url)).await;
        b.wait_for_text("#view", "No errors").await;
        b.snap("16-dashboard-errors").await;
    })
    .catch_unwind()
    .await;
    finish(browser, &env, outcome).await;

    // The upload really installed it.
    let (_, listed) = {
        let r = env
            .http
            .get(format!("{}/api/admin/connectors", env.url))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "probe" && c["version"] == "1.0.0"),
        "{listed}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sandbox_provider_connects_in_the_browser_and_pulls() {
    let _one = ONE_BROWSER.lock().await;
    let env = Env::start(None).await;
    let browser = Browser::start("every_sandbox_provider").await;
    let b = &browser;
    let outcome = AssertUnwindSafe(async {
        for (provider, category, pull) in [
            ("hubspot", "crm", "crm-contact"),
            ("salesforce", "crm", "crm-contact"),
            ("pipedrive", "crm", "crm-company"),
            ("quickbooks", "accounting", "accounting-customer"),
        ] {
            let started = std::time::Instant::now();
            let session = env
                .initiate(json!({ "name": format!("{provider} newcomer"), "category": category }))
                .await;
            b.goto(&format!("{}/session?session_id={session}", env.url))
                .await;
            b.click(&format!("#provider-{provider}")).await;
            b.click("#approve").await;
            b.wait_for_url("the done page", |u| u.contains("/session/done"))
                .await;
            b.wait_for_text("h1", "You're connected").await;
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{provider}: the connect flow took {:?}",
                started.elapsed()
            );
            let pulled = env
                .ok(
                    "POST",
                    "/api/pull/transfer",
                    Some(json!({ "session_id": session, "endgrate_type": pull, "synchronous": true })),
                )
                .await;
            let transfer = pulled["transfer_id"].as_str().unwrap();
            let (_, stats) = env
                .call("GET", &format!("/api/statistics?transfer_id={transfer}"), None)
                .await;
            assert_eq!(stats["status"], "completed", "{provider}: {stats}");
            assert!(
                stats["statistics"]["records_transferred"].as_u64().unwrap_or(0) > 0,
                "{provider}: {stats}"
            );
        }
    })
    .catch_unwind()
    .await;
    finish(browser, &env, outcome).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_cancels_and_retries_transfers_and_redelivers_a_webhook() {
    let _one = ONE_BROWSER.lock().await;
    let env = Env::start(None).await;
    let hook = format!("{}/hook", env.app.url);
    let session = env
        .initiate(json!({
            "name": "Actions demo",
            "schema": [{ "endgrate_type": "crm-contact" }],
            "completed_webhook": { "endpoint": hook },
        }))
        .await;
    env.ok(
        "POST",
        "/api/session/credentials",
        Some(json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": "sandbox" } })),
    )
    .await;
    let done = env
        .ok(
            "POST",
            "/api/pull/transfer",
            Some(json!({ "session_id": session, "endgrate_type": "crm-contact", "synchronous": true })),
        )
        .await["transfer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let completed_hooks = || {
        env.app
            .hooks
            .lock()
            .unwrap()
            .iter()
            .filter(|(event, _)| event == "completed")
            .count()
    };
    eventually(Duration::from_secs(20), "the completed webhook", || async {
        completed_hooks() == 1
    })
    .await;
    let (_, listed) = env
        .call("GET", "/api/webhooks/deliveries?event=completed", None)
        .await;
    let delivery = listed["deliveries"][0]["delivery_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let running = slow_pull(&env, &session).await;

    let browser = Browser::start("dashboard_actions").await;
    let b = &browser;
    let outcome = AssertUnwindSafe(async {
        b.goto(&format!("{}/dashboard", env.url)).await;
        b.type_into("#api-key", &env.key).await;
        b.click("#signin-button").await;
        b.wait_for_text("#account-name", "acme").await;

        // Cancel the running pull (the confirmation accepted).
        b.goto(&format!("{}/dashboard#/transfers", env.url)).await;
        b.eval("window.confirm = () => true;", json!([])).await;
        b.click(&format!("button[data-cancel-transfer='{running}']"))
            .await;
        b.wait_for(
            "the cancelled transfer",
            "const row = document.querySelector(`tr[data-transfer='${arguments[0]}']`);\
             return !!row && row.querySelector('.badge').dataset.status === 'cancelled' && !row.querySelector('[data-cancel-transfer]');",
            json!([running]),
        )
        .await;
        b.snap("17-dashboard-transfer-cancelled").await;
        env.simulator(Provider::HubSpot)
            .control()
            .set_latency(Duration::ZERO);

        // Retry the completed one: a new transfer that names it.
        b.click(&format!("button[data-retry-transfer='{done}']"))
            .await;
        b.wait_for_text("#view", &format!("retry of {}", &done[..8]))
            .await;

        // The webhook's delivery, its attempt, and a redelivery.
        b.goto(&format!("{}/dashboard#/webhooks", env.url)).await;
        let row = format!("tr[data-delivery='{delivery}']");
        b.wait_for(
            "the delivered webhook",
            "const row = document.querySelector(arguments[0]);\
             return !!row && row.querySelector('.badge').dataset.status === 'delivery-delivered';",
            json!([row]),
        )
        .await;
        b.click(&format!("{row} summary")).await;
        b.wait_for_text(&format!("{row} details"), "200").await;
        b.snap("18-dashboard-webhooks").await;
        b.click(&format!("button[data-redeliver='{delivery}']"))
            .await;
        b.wait_for(
            "the redelivery listed",
            "return [...document.querySelectorAll('tr[data-delivery]')].some(r => r.innerText.includes(arguments[0]));",
            json!([format!("again #{delivery}")]),
        )
        .await;
    })
    .catch_unwind()
    .await;
    finish(browser, &env, outcome).await;

    let (_, stats) = env
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={running}"),
            None,
        )
        .await;
    assert_eq!(
        (stats["status"].as_str(), stats["cancelled"].as_bool()),
        (Some("failed"), Some(true)),
        "{stats}"
    );
    let (_, listed) = env.call("GET", "/api/transfers", None).await;
    let retried = listed["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["retry_of"] == done.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("a retry of {done}: {listed}"));
    let again = retried["transfer_id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "the retry", || async {
        let (_, s) = env
            .call("GET", &format!("/api/statistics?transfer_id={again}"), None)
            .await;
        s["status"] == "completed"
    })
    .await;
    // The retry's own completed webhook and the redelivered one.
    eventually(
        Duration::from_secs(20),
        "the redelivered webhook",
        || async { completed_hooks() == 3 },
    )
    .await;
    env.stop().await;
}
