//! Starts hosts for the API tests: a host on a free loopback port with the
//! HubSpot connector installed and pointed at a HubSpot simulator, a client
//! that speaks the API, and a webhook receiver.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchyard::credentials::oauth::OAuthClient;
use switchyard::net_policy::AddressPolicy;
use switchyard::runtime::ConnectorOverride;
use switchyard::runtime::credentials::Secret;
use switchyard::server::{self, HostConfig, RunningHost};
use switchyard_simulators::{Provider, SimConfig, Simulator};
use tokio::sync::Notify;

pub const ADMIN_KEY: &str = "sy_admin_test_0123456789abcdefghijklmnop";
pub const TOKEN: &str = "static-token";

fn connectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors")
}

/// The HubSpot connector component, built once per test process.
pub fn hubspot_wasm() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| component("hubspot")).clone()
}

/// Builds a package of the connectors workspace (release, wasm32-wasip2);
/// the path of its component.
pub fn component(package: &str) -> PathBuf {
    let target = connectors_dir().join("target");
    let status = Command::new(env!("CARGO"))
        .current_dir(connectors_dir())
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo must be runnable");
    assert!(status.success(), "building {package} failed");
    target.join(format!(
        "wasm32-wasip2/release/{}.wasm",
        package.replace('-', "_")
    ))
}

/// A host's settings for tests: the HubSpot connector against `sim`.
pub fn config(data: &Path, sim: &Simulator) -> HostConfig {
    let mut config = HostConfig::new("127.0.0.1:0".parse().unwrap(), data.to_owned());
    config.admin_key = Some(ADMIN_KEY.into());
    config.overrides.insert(
        "hubspot".into(),
        ConnectorOverride {
            api_base: Some(sim.base_url()),
            allowed_hosts: Vec::new(),
            rate: None,
        },
    );
    config.oauth.insert(
        "hubspot".into(),
        OAuthClient {
            client_id: "switchyard-client".into(),
            client_secret: Secret::new("switchyard-secret"),
            authorize_url: Some(sim.authorize_url()),
            token_url: Some(sim.token_url()),
        },
    );
    config.transfers.retry_base = Duration::from_millis(50);
    config.transfers.retry_max = Duration::from_millis(500);
    config.webhooks.backoff_base = Duration::from_millis(50);
    config.webhooks.backoff_max = Duration::from_millis(200);
    // The receivers below listen on loopback.
    config.webhooks.address_policy = AddressPolicy::allow_loopback();
    config
}

/// The QuickBooks connector component, built once per test process.
pub fn quickbooks_wasm() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| component("quickbooks")).clone()
}

pub fn install_hubspot(data: &Path) {
    let dir = data.join("connectors");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(hubspot_wasm(), dir.join("hubspot.wasm")).unwrap();
}

pub struct TestHost {
    pub host: Option<RunningHost>,
    pub url: String,
    pub sim: Simulator,
    pub data: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub fn sim_config(contacts: usize, companies: usize) -> SimConfig {
    SimConfig {
        contacts,
        companies,
        rate_limit: false,
        ..Default::default()
    }
}

impl TestHost {
    pub async fn start(sim: SimConfig) -> TestHost {
        Self::start_with(sim, |_| {}).await
    }

    pub async fn start_with(sim: SimConfig, adjust: impl FnOnce(&mut HostConfig)) -> TestHost {
        // `RUST_LOG=switchyard=debug cargo test ...` shows the host's log.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let sim = Simulator::start(Provider::HubSpot, sim).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        install_hubspot(data.path());
        let mut config = config(data.path(), &sim);
        adjust(&mut config);
        let host = server::start(config).await.unwrap();
        TestHost {
            url: host.url(),
            host: Some(host),
            sim,
            data,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
        }
    }

    /// A host with the QuickBooks connector, pointed at a QuickBooks
    /// simulator, whose connections get the simulator's realm id.
    pub async fn start_quickbooks(sim: SimConfig) -> TestHost {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let sim = Simulator::start(Provider::QuickBooks, sim).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("connectors");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(quickbooks_wasm(), dir.join("quickbooks.wasm")).unwrap();
        let mut config = config(data.path(), &sim);
        config.overrides.insert(
            "quickbooks".into(),
            ConnectorOverride {
                api_base: Some(sim.base_url()),
                allowed_hosts: Vec::new(),
                rate: None,
            },
        );
        let mut settings = serde_json::Map::new();
        settings.insert("realm_id".into(), json!(sim.control().realm_id()));
        config
            .default_settings
            .insert("quickbooks".into(), settings);
        let host = server::start(config).await.unwrap();
        TestHost {
            url: host.url(),
            host: Some(host),
            sim,
            data,
            http: reqwest::Client::new(),
        }
    }

    /// A session for QuickBooks customers and invoices, connected with the
    /// simulator's static token.
    pub async fn quickbooks_session(&self, key: &str) -> String {
        let session = self
            .initiate(
                key,
                json!({ "schema": [{ "endgrate_type": "accounting-customer" }, { "endgrate_type": "accounting-invoice" }] }),
            )
            .await;
        let (status, answer) = self
            .post(key, "/api/session/credentials", json!({ "session_id": session, "provider": "quickbooks", "credentials": { "access_token": TOKEN } }))
            .await;
        assert_eq!(status, 200, "{answer}");
        session
    }

    /// A new API key of `account`.
    pub async fn key(&self, account: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/admin/keys",
                Some(ADMIN_KEY),
                Some(json!({ "account": account })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["api_key"].as_str().unwrap().to_owned()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        crate::conforms::answer(method, path, status, &value);
        (status, value)
    }

    /// Waits (up to `limit`) until the transfer's statistics say completed;
    /// on timeout the failure shows the statistics last seen.
    pub async fn until_completed(&self, transfer: &str, limit: Duration, what: &str) {
        let path = format!("/api/statistics?transfer_id={transfer}");
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let (_, statistics) = self.call("GET", &path, None, None).await;
            if statistics["completed"] == true {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; transfer {transfer} last seen as {statistics}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A form posted to one of the host's pages, as a browser would.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(key), Some(body)).await
    }

    pub async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        self.call("GET", path, Some(key), None).await
    }

    /// `GET /api/session/configuration` of `session`: status and answer.
    pub async fn configuration(&self, key: &str, session: &str) -> (u16, Value) {
        self.get(
            key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await
    }

    /// A new session of `key` initiated with `body`; its id.
    pub async fn initiate(&self, key: &str, body: Value) -> String {
        let (status, answer) = self.post(key, "/api/session/initiate", body).await;
        assert_eq!(status, 200, "{answer}");
        answer["session_id"].as_str().unwrap().to_owned()
    }

    /// Starts an OAuth sign-in of `session` with HubSpot in this client (a
    /// browser keeping cookies); the provider's authorize URL it was sent to.
    pub async fn authorize_url(&self, session: &str) -> String {
        let to_provider = self
            .http
            .get(format!(
                "{}/session/start?session_id={session}&provider=hubspot",
                self.url
            ))
            .send()
            .await
            .unwrap();
        assert!(to_provider.status().is_redirection());
        to_provider.headers()["location"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// A session for contacts and companies, connected with the simulator's static token.
    pub async fn connected_session(&self, key: &str, extra: Value) -> String {
        let mut body = json!({ "schema": [{ "endgrate_type": "crm-contact" }, { "endgrate_type": "crm-company" }] });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, answer) = self.post(key, "/api/session/initiate", body).await;
        assert_eq!(status, 200, "{answer}");
        let session = answer["session_id"].as_str().unwrap().to_owned();
        self.attach(key, &session).await;
        session
    }

    pub async fn attach(&self, key: &str, session: &str) {
        let (status, answer) = self
            .post(key, "/api/session/credentials", json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": TOKEN } }))
            .await;
        assert_eq!(status, 200, "{answer}");
    }

    /// Walks the end user's browser through the OAuth2 flow from `start`
    /// (e.g. `/session/start?session_id=..&provider=hubspot`), approving at
    /// the simulator's consent page.
    pub async fn sign_in(&self, start: &str) {
        let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
        let to_provider = self
            .http
            .get(format!("{}{start}", self.url))
            .send()
            .await
            .unwrap();
        assert!(
            to_provider.status().is_redirection(),
            "{}",
            to_provider.text().await.unwrap()
        );
        let consent = self
            .http
            .get(format!("{}&auto_approve=true", location(&to_provider)))
            .send()
            .await
            .unwrap();
        let back = self.http.get(location(&consent)).send().await.unwrap();
        assert!(
            back.status().is_success() || back.status().is_redirection(),
            "{}",
            back.text().await.unwrap()
        );
    }

    /// Triggers a transfer synchronously; its id.
    pub async fn transfer(&self, key: &str, path: &str, mut body: Value) -> String {
        body["synchronous"] = json!(true);
        self.trigger(key, path, body).await
    }

    /// Triggers a transfer without waiting for it; its id.
    pub async fn trigger(&self, key: &str, path: &str, body: Value) -> String {
        let (status, answer) = self.post(key, path, body).await;
        assert_eq!(status, 200, "{answer}");
        answer["transfer_id"].as_str().unwrap().to_owned()
    }

    /// A CRM session the end user connected to HubSpot through the OAuth2
    /// flow (so it holds a refresh token).
    pub async fn signed_in_session(&self, key: &str) -> String {
        let (status, answer) = self
            .post(key, "/api/session/initiate", json!({ "category": "crm" }))
            .await;
        assert_eq!(status, 200, "{answer}");
        let session = answer["session_id"].as_str().unwrap().to_owned();
        self.sign_in(&format!(
            "/session/start?session_id={session}&provider=hubspot"
        ))
        .await;
        session
    }

    /// Every page of a transfer's data, following `meta.next` links.
    pub async fn all_data(
        &self,
        key: &str,
        kind: &str,
        endgrate_type: &str,
        transfer: &str,
    ) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut path = format!(
            "/api/{kind}/data?endgrate_type={endgrate_type}&transfer_id={transfer}&limit=500"
        );
        loop {
            let (status, page) = self.get(key, &path).await;
            assert_eq!(status, 200, "{page}");
            rows.extend(page["transfer_data"].as_array().unwrap().iter().cloned());
            match page["meta"]["next"]["link"].as_str() {
                Some(link) => path = link.strip_prefix(&self.url).unwrap().to_owned(),
                None => return rows,
            }
        }
    }

    /// Stops the host and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// [`TestHost::restart`] with the settings `adjust` makes to the test
    /// defaults (those of the first start are not kept).
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut HostConfig)) {
        self.stop().await;
        let mut config = config(self.data.path(), &self.sim);
        adjust(&mut config);
        let host = server::start(config).await.unwrap();
        self.url = host.url();
        self.host = Some(host);
    }

    pub async fn stop(&mut self) {
        if let Some(host) = self.host.take() {
            host.shutdown().await.unwrap();
        }
    }
}

/// Polls `check` until it holds (a provider or a worker is on its way),
/// failing after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
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
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One webhook POST as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: String,
    pub signature: String,
    pub delivery: String,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Picks a webhook body (by its contents).
pub type PicksBody = fn(&Value) -> bool;

/// A webhook receiver on a free port; `down` makes it answer 503.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub down: Arc<Mutex<bool>>,
    /// Refuses (503) the first delivery whose body this picks, once.
    pub refuse_once: Arc<Mutex<Option<PicksBody>>>,
    pub refused: Arc<Mutex<u32>>,
    pub arrived: Arc<Notify>,
}

pub async fn receiver() -> Receiver {
    let r = Receiver {
        url: String::new(),
        received: Arc::default(),
        down: Arc::default(),
        refuse_once: Arc::default(),
        refused: Arc::default(),
        arrived: Arc::default(),
    };
    let state = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let refuse_one = {
                    let mut pick = state.refuse_once.lock().unwrap();
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let refuse = pick.is_some_and(|picks| picks(&body));
                    if refuse {
                        *pick = None;
                    }
                    refuse
                };
                if refuse_one || *state.down.lock().unwrap() {
                    *state.refused.lock().unwrap() += 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                state.received.lock().unwrap().push(Received {
                    event: header("x-switchyard-event"),
                    signature: header("x-switchyard-signature"),
                    delivery: header("x-switchyard-delivery"),
                    body,
                });
                state.arrived.notify_waiters();
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        ..r
    }
}

impl Receiver {
    /// What arrived so far, each checked against the OpenAPI document.
    pub fn events(&self) -> Vec<Received> {
        let events = self.received.lock().unwrap().clone();
        for event in &events {
            crate::conforms::webhook(&event.event, &event.json());
        }
        events
    }
}
