//! Hosts for the scenarios: in this process (`server::start`, as the API
//! tests do) or as a separate `switchyard serve` process (for its peak RSS
//! and so a load generator does not share its runtime), each with the real
//! connectors pointed at simulators that accept a static token.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Map, Value};
use switchyard::credentials::oauth::OAuthClient;
use switchyard::http::account_rate::AccountRateConfig;
use switchyard::runtime::credentials::Secret;
use switchyard::runtime::{ConnectorOverride, RequestRate};
use switchyard::server::{self, HostConfig, RunningHost};
use switchyard_simulators::{Provider, SimConfig, Simulator};

use crate::api::ADMIN_KEY;

/// The token every bench simulator accepts (as sandbox mode's `sandbox`).
pub const TOKEN: &str = "sandbox";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the four connectors (release, wasm32-wasip2); their directory.
pub fn build_connectors() -> PathBuf {
    let dir = root().join("connectors");
    let target = dir.join("target");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&dir)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target);
    for provider in Provider::ALL {
        cmd.args(["-p", provider.name()]);
    }
    assert!(
        cmd.status().expect("cargo runs").success(),
        "building the connectors failed"
    );
    target.join("wasm32-wasip2/release")
}

/// Copies the connectors of `providers` into `<data>/connectors`, and the
/// compiled-component cache of an earlier host when there is one.
pub fn install(data: &Path, built: &Path, providers: &[Provider], cache_from: Option<&Path>) {
    let dir = data.join("connectors");
    std::fs::create_dir_all(&dir).expect("connectors dir");
    for p in providers {
        let name = format!("{}.wasm", p.name());
        std::fs::copy(built.join(&name), dir.join(&name)).expect("copy a connector");
    }
    if let Some(from) = cache_from {
        let from = from.join("cache/components");
        let to = data.join("cache/components");
        std::fs::create_dir_all(&to).expect("cache dir");
        for entry in std::fs::read_dir(&from).into_iter().flatten().flatten() {
            let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
        }
    }
}

/// A simulator of `provider` with `contacts` people and `companies`
/// organisations, accepting [`TOKEN`]; rate limits as given.
pub async fn simulator(
    provider: Provider,
    contacts: usize,
    companies: usize,
    rate_limit: bool,
) -> Simulator {
    Simulator::start(
        provider,
        SimConfig {
            contacts,
            companies,
            invoices: 0,
            rate_limit,
            static_tokens: vec![TOKEN.to_owned()],
            ..SimConfig::default()
        },
    )
    .await
    .expect("the simulator starts")
}

/// The connection settings a provider's connector needs with a static token
/// (as sandbox mode defaults them).
fn settings(provider: Provider, sim: &Simulator) -> Map<String, Value> {
    let mut settings = Map::new();
    match provider {
        Provider::QuickBooks => {
            settings.insert(
                "realm_id".into(),
                Value::String(sim.control().realm_id().to_owned()),
            );
        }
        Provider::Salesforce => {
            settings.insert("instance_url".into(), Value::String(sim.base_url()));
        }
        Provider::Pipedrive => {
            settings.insert("api_domain".into(), Value::String(sim.base_url()));
        }
        Provider::HubSpot => {}
    }
    settings
}

/// Whether the host paces requests to the connector's declared rate limit
/// (the simulator enforces it too), or sends as fast as it can (the
/// simulator enforces none: the scenarios that measure the host itself).
#[derive(Clone, Copy, PartialEq)]
pub enum Pacing {
    Declared,
    Unlimited,
}

/// `--connector-rate` for [`Pacing::Unlimited`].
const UNLIMITED: RequestRate = RequestRate {
    requests: 1_000_000,
    window_ms: 1000,
};

/// A host in this process, its connectors pointed at `sims`.
pub struct InProcess {
    pub host: RunningHost,
    /// Removed when dropped.
    _data: tempfile::TempDir,
}

impl InProcess {
    pub async fn start(built: &Path, sims: &[(Provider, &Simulator)], pacing: Pacing) -> InProcess {
        let data = tempfile::tempdir().expect("a temp dir");
        let providers: Vec<Provider> = sims.iter().map(|(p, _)| *p).collect();
        install(data.path(), built, &providers, None);
        let mut config = HostConfig::new(
            "127.0.0.1:0".parse().expect("an address"),
            data.path().to_owned(),
        );
        config.admin_key = Some(ADMIN_KEY.into());
        // The benches measure the host, not the per-account request limit.
        config.account_rate = AccountRateConfig::unlimited();
        for (provider, sim) in sims {
            let id = provider.name().to_owned();
            config.overrides.insert(
                id.clone(),
                ConnectorOverride {
                    api_base: Some(sim.base_url()),
                    allowed_hosts: Vec::new(),
                    rate: (pacing == Pacing::Unlimited).then_some(UNLIMITED),
                },
            );
            config.oauth.insert(
                id.clone(),
                OAuthClient {
                    client_id: "switchyard-client".into(),
                    client_secret: Secret::new("switchyard-secret"),
                    authorize_url: Some(sim.authorize_url()),
                    token_url: Some(sim.token_url()),
                },
            );
            config.default_settings.insert(id, settings(*provider, sim));
        }
        let host = server::start(config).await.expect("the host starts");
        InProcess { host, _data: data }
    }

    pub fn url(&self) -> String {
        self.host.url()
    }

    pub async fn stop(self) {
        self.host.shutdown().await.expect("the host stops");
    }
}

/// `switchyard serve` as a separate process with the HubSpot connector
/// pointed at `sim`, unpaced ([`Pacing::Unlimited`]).
pub struct Process {
    child: Child,
    pub url: String,
    pub data: tempfile::TempDir,
}

impl Process {
    pub async fn start(built: &Path, sim: &Simulator, cache_from: Option<&Path>) -> Process {
        let data = tempfile::tempdir().expect("a temp dir");
        install(data.path(), built, &[Provider::HubSpot], cache_from);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(data.path().join("host.log")).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data.path())
            .args(["--connector-base", &format!("hubspot={}", sim.base_url())])
            .args([
                "--connector-rate",
                &format!(
                    "hubspot={}/{}",
                    UNLIMITED.requests,
                    UNLIMITED.window_ms / 1000
                ),
            ])
            .args(["--api-requests-per-second", "0"])
            // The latency bench's 64 clients trigger pulls back to back:
            // each must be accepted, not answered 429 at the account's
            // default 10,000 waiting.
            .args(["--max-waiting-transfers", "1000000"])
            .env("SWITCHYARD_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the host binary starts");
        let p = Process {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data,
        };
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        loop {
            let up = http
                .get(format!("{}/healthz", p.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the host process did not serve: {}",
                std::fs::read_to_string(p.data.path().join("host.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        p
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of `/proc/PID/status` in KiB (`VmHWM`, `VmRSS`).
    pub fn status_kib(&self, field: &str) -> u64 {
        status_kib(self.pid(), field)
    }
}

pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(&format!("{field}:")))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
