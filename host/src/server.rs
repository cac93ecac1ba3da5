//! Starts a host: opens the data directory (private to the host's user),
//! provisions the admin key, loads and watches the connectors directory, and
//! serves the API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::accounts::Accounts;
use crate::admin_key::{AdminKey, AdminKeyError, Provisioned};
use crate::connections::{self, ConnectionLimits};
use crate::credentials::Credentials;
use crate::credentials::oauth::OAuthClients;
use crate::crypto::{KeyError, Sealer};
use crate::data_dir;
use crate::http::account_rate::{AccountRateConfig, AccountRateLimiter};
use crate::http::throttle::{SignInThrottle, ThrottleConfig};
use crate::http::{ApiConfig, AppState};
use crate::metrics::Metrics;
use crate::request_log::{LogRetention, RequestLog};
use crate::routes;
use crate::runtime::watcher::{self, DirectoryWatch};
use crate::runtime::{ConnectorOverride, Runtime, RuntimeConfig, SandboxLimits};
use crate::sessions::sweeper::Retention;
use crate::sessions::{self, Sessions};
use crate::store::{Db, StoreError, recovery};
use crate::transfer::{TransferConfig, Transfers};
use crate::webhooks::delivery::{self, Doorbell, WebhookConfig};
use crate::work::WorkRuntime;

/// Sessions one account may have unless configured otherwise.
pub const DEFAULT_MAX_SESSIONS_PER_ACCOUNT: usize = 100_000;

/// How long the records of a finished transfer are kept, unless configured
/// otherwise: long enough for any app to read them, short enough that
/// continuous pulls do not grow storage forever.
pub const DEFAULT_RECORDS_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long the records of a continuous re-pull are kept once the app has
/// read them to the end, unless configured otherwise: a day to read them
/// again, where a re-pull every 15 minutes would otherwise keep 2,880
/// copies for the records retention period.
pub const DEFAULT_READ_CONTINUOUS_RETENTION: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Defaults to `<data_dir>/connectors`.
    pub connectors_dir: Option<PathBuf>,
    /// From `SWITCHYARD_ADMIN_KEY`.
    pub admin_key: Option<String>,
    pub limits: SandboxLimits,
    pub overrides: HashMap<String, ConnectorOverride>,
    /// From `SWITCHYARD_ENCRYPTION_KEY`; otherwise `<data>/encryption.key`.
    pub encryption_key: Option<String>,
    /// This host's OAuth apps, by connector id.
    pub oauth: OAuthClients,
    /// How browsers and apps reach this host [default: `http://<listen>`].
    pub public_url: Option<String>,
    pub session_ttl: Duration,
    pub synchronous_cap: Duration,
    pub sweep_interval: Duration,
    /// The database's page cache, in bytes.
    pub cache_bytes: u64,
    /// How long the records of finished transfers are kept.
    pub retention: Retention,
    pub transfers: TransferConfig,
    pub webhooks: WebhookConfig,
    /// Header read timeout and connection cap.
    pub connections: ConnectionLimits,
    /// Failed admin and API keys allowed per client address.
    pub sign_in_throttle: ThrottleConfig,
    /// API requests per second allowed per account.
    pub account_rate: AccountRateConfig,
    /// Sessions one account may have; 0 for no limit.
    pub max_sessions_per_account: usize,
    /// Connection settings defaulted per provider (sandbox mode).
    pub default_settings: HashMap<String, Map<String, Value>>,
    /// Names shown instead of the connectors' own, by connector id.
    pub display_names: HashMap<String, String>,
    /// Also serve `GET /metrics`, without auth, on this address.
    pub metrics_listen: Option<SocketAddr>,
    /// How much of each session's provider requests is kept.
    pub request_log: LogRetention,
}

impl HostConfig {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        HostConfig {
            listen,
            data_dir,
            connectors_dir: None,
            admin_key: None,
            limits: SandboxLimits::default(),
            overrides: HashMap::new(),
            encryption_key: None,
            oauth: OAuthClients::new(),
            public_url: None,
            session_ttl: sessions::DEFAULT_TTL,
            synchronous_cap: Duration::from_secs(300),
            sweep_interval: Duration::from_secs(60),
            cache_bytes: crate::store::DEFAULT_CACHE_MIB << 20,
            retention: Retention {
                records: Some(DEFAULT_RECORDS_RETENTION),
                read_continuous: Some(DEFAULT_READ_CONTINUOUS_RETENTION),
            },
            transfers: TransferConfig::default(),
            webhooks: WebhookConfig::default(),
            connections: ConnectionLimits::default(),
            sign_in_throttle: ThrottleConfig::default(),
            account_rate: AccountRateConfig::default(),
            max_sessions_per_account: DEFAULT_MAX_SESSIONS_PER_ACCOUNT,
            default_settings: HashMap::new(),
            display_names: HashMap::new(),
            metrics_listen: None,
            request_log: LogRetention::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not create {}: {source}", .path.display())]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    AdminKey(#[from] AdminKeyError),
    #[error(transparent)]
    Runtime(#[from] crate::runtime::StartError),
    #[error("the runtime for transfer work could not start: {0}")]
    Work(std::io::Error),
    #[error(transparent)]
    EncryptionKey(#[from] KeyError),
    #[error("could not watch the connectors directory: {0}")]
    Watch(#[from] notify_debouncer_mini::notify::Error),
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A host that is serving.
pub struct RunningHost {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served without auth (`--metrics-listen`).
    pub metrics_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub runtime: Arc<Runtime>,
    pub connectors_dir: PathBuf,
    /// Set when this start generated the admin key: show it once.
    pub generated_admin_key: Option<String>,
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    _watch: DirectoryWatch,
    /// Where transfers run; stopped last.
    work: WorkRuntime,
}

/// Why [`RunningHost::wait`] returned.
#[derive(Debug, PartialEq)]
pub enum Stopped {
    /// The server stopped serving.
    Served,
    /// Storage failed and now takes writes again: restart to reopen it.
    StorageRecovered,
}

impl RunningHost {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connector files loaded because the watched directory changed.
    pub fn directory_loads(&self) -> u64 {
        self._watch.loads()
    }

    /// Runs until the server stops on an error, or until storage failed and
    /// then took writes again: the caller should then start a new host on
    /// the same data, since the database cannot recover in place
    /// ([`crate::store::recovery`]).
    pub async fn wait(self) -> std::io::Result<Stopped> {
        let RunningHost {
            served,
            _watch,
            work,
            shutdown,
            background,
            state,
            data_dir,
            ..
        } = self;
        let _keep_background = background;
        let _keep_shutdown_sender = shutdown;
        let stopped = tokio::select! {
            served = served => served
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
                .map(|()| Stopped::Served),
            () = recovery::writable_again(&state.db, &data_dir) => Ok(Stopped::StorageRecovered),
        };
        work.stop(Duration::from_secs(10)).await;
        stopped
    }

    /// Stops accepting connections, finishes requests in flight and stops
    /// the workers (a step cut short resumes from its checkpoint next start).
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = (&mut self.served)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        for task in &self.background {
            task.abort();
        }
        for task in self.background.drain(..) {
            let _ = task.await;
        }
        let work = std::mem::replace(&mut self.work, WorkRuntime::stopped());
        work.stop(Duration::from_secs(10)).await;
        // What an aborted background task started on the blocking pool (a
        // sweep, a delivery's record) still holds the database: wait for it,
        // so the host started next on the same data finds it free.
        let db = self.state.db.clone();
        drop(self);
        if !db.released(Duration::from_secs(10)).await {
            tracing::warn!("storage still in use 10 s after the host stopped");
        }
        served
    }
}

pub async fn start(config: HostConfig) -> Result<RunningHost, StartError> {
    let connectors_dir = config
        .connectors_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("connectors"));
    let directory_error = |path: &PathBuf| {
        let path = path.clone();
        move |source| StartError::Directory { path, source }
    };
    data_dir::create_private(&config.data_dir).map_err(directory_error(&config.data_dir))?;
    std::fs::create_dir_all(&connectors_dir).map_err(directory_error(&connectors_dir))?;
    let db = Db::open_with_cache(&config.data_dir.join("db"), config.cache_bytes)?;
    let metrics = Metrics::new();
    db.observe_flushes(metrics.flush_latency());
    let request_log = RequestLog::new(db.clone(), config.request_log);
    let (admin_key, provisioned) = AdminKey::provision(&db, config.admin_key.as_deref()).await?;

    let runtime = Runtime::new(RuntimeConfig {
        limits: config.limits.clone(),
        cache_dir: config.data_dir.join("cache").join("components"),
        overrides: config.overrides.clone(),
        metrics: metrics.clone(),
        request_log: Some(request_log.clone()),
    })?;
    for (id, name) in &config.display_names {
        runtime.set_display_name(id, name.clone());
    }
    watcher::load_directory(&runtime, &connectors_dir)
        .await
        .map_err(|source| StartError::Directory {
            path: connectors_dir.clone(),
            source,
        })?;
    let sealer = Sealer::provision(config.encryption_key.as_deref(), &config.data_dir)?;
    // What sled, the compile cache and an earlier version created with the
    // umask's modes (before the watch starts: a mode changed is an event).
    data_dir::tighten(&config.data_dir).map_err(directory_error(&config.data_dir))?;
    let watch = watcher::watch(runtime.clone(), connectors_dir.clone())?;
    let accounts = Accounts::new(db.clone(), sealer.clone());
    let sessions = Sessions::open(db.clone())?;
    let credentials = Credentials::new(db.clone(), sealer, runtime.clone(), config.oauth.clone());
    let doorbell = Doorbell::default();
    let mut background = vec![
        delivery::spawn(
            db.clone(),
            accounts.clone(),
            config.webhooks.clone(),
            doorbell.clone(),
            metrics.clone(),
        ),
        sessions::sweeper::spawn(
            sessions.clone(),
            request_log.clone(),
            config.sweep_interval,
            config.retention,
        ),
    ];
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    let work = WorkRuntime::start().map_err(StartError::Work)?;
    let Some(work_handle) = work.handle() else {
        return Err(StartError::Work(std::io::Error::other("no work runtime")));
    };
    // Transfers run on the work runtime, apart from the API's.
    let entered = work_handle.enter();
    let started = Transfers::start(
        db.clone(),
        runtime.clone(),
        sessions.clone(),
        credentials.clone(),
        doorbell.clone(),
        config.transfers.clone(),
        public_url.clone(),
    );
    drop(entered);
    let (transfers, dispatcher) = started?;
    background.push(dispatcher);

    let state = AppState {
        runtime: runtime.clone(),
        db,
        admin_key,
        connectors_dir: connectors_dir.clone(),
        accounts,
        sessions,
        credentials,
        transfers,
        webhooks: doorbell,
        config: std::sync::Arc::new(ApiConfig {
            public_url,
            session_ttl: config.session_ttl,
            synchronous_cap: config.synchronous_cap,
            default_settings: config.default_settings.clone(),
            webhook_policy: config.webhooks.address_policy,
            max_sessions_per_account: (config.max_sessions_per_account > 0)
                .then_some(config.max_sessions_per_account),
        }),
        sign_in: Arc::new(SignInThrottle::new(config.sign_in_throttle.clone())),
        account_rate: Arc::new(AccountRateLimiter::new(config.account_rate)),
        metrics,
        request_log,
    };
    let app = routes::router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = futures::FutureExt::shared(async move {
        let _ = rx.await;
    });
    let mut metrics_addr = None;
    if let Some(addr) = config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Listen { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        metrics_addr = Some(bound);
        tracing::info!(addr = %bound, "serving GET /metrics without auth");
        let (state, stop) = (state.clone(), rx.clone());
        background.push(tokio::spawn(async move {
            if let Err(err) =
                crate::api::metrics::serve_unauthenticated(listener, state, stop).await
            {
                tracing::error!(%err, "the metrics listener stopped");
            }
        }));
    }
    let served = tokio::spawn(connections::serve(
        listener,
        app,
        config.connections.clone(),
        rx,
    ));
    tracing::info!(%addr, connectors = %connectors_dir.display(), "serving");
    Ok(RunningHost {
        addr,
        metrics_addr,
        data_dir: config.data_dir.clone(),
        runtime,
        connectors_dir,
        generated_admin_key: match provisioned {
            Provisioned::Generated(key) => Some(key),
            Provisioned::FromEnvironment | Provisioned::Stored => None,
        },
        state,
        shutdown: Some(tx),
        served,
        background,
        _watch: watch,
        work,
    })
}
