//! Starts a host: opens the data directory, provisions the admin key, loads and
//! watches the connectors directory, and serves the API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::admin_key::{AdminKey, Provisioned};
use crate::api::{self, AppState};
use crate::runtime::watcher::{self, DirectoryWatch};
use crate::runtime::{ConnectorOverride, Runtime, RuntimeConfig, SandboxLimits};
use crate::store::{Db, StoreError};

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
    Runtime(#[from] crate::runtime::StartError),
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
    pub runtime: Arc<Runtime>,
    pub connectors_dir: PathBuf,
    /// Set when this start generated the admin key: show it once.
    pub generated_admin_key: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    _watch: DirectoryWatch,
}

impl RunningHost {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs until the server stops (it only stops on error or shutdown).
    pub async fn wait(self) -> std::io::Result<()> {
        let RunningHost {
            served,
            _watch,
            shutdown,
            ..
        } = self;
        let _keep_shutdown_sender = shutdown;
        served
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Stops accepting connections and finishes requests in flight.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.served
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

pub async fn start(config: HostConfig) -> Result<RunningHost, StartError> {
    let connectors_dir = config
        .connectors_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("connectors"));
    for dir in [&config.data_dir, &connectors_dir] {
        std::fs::create_dir_all(dir).map_err(|source| StartError::Directory {
            path: dir.clone(),
            source,
        })?;
    }
    let db = Db::open(&config.data_dir.join("db"))?;
    let (admin_key, provisioned) = AdminKey::provision(&db, config.admin_key.as_deref()).await?;

    let runtime = Runtime::new(RuntimeConfig {
        limits: config.limits.clone(),
        cache_dir: config.data_dir.join("cache").join("components"),
        overrides: config.overrides.clone(),
    })?;
    watcher::load_directory(&runtime, &connectors_dir)
        .await
        .map_err(|source| StartError::Directory {
            path: connectors_dir.clone(),
            source,
        })?;
    let watch = watcher::watch(runtime.clone(), connectors_dir.clone())?;

    let app = api::router(AppState {
        runtime: runtime.clone(),
        db,
        admin_key,
        connectors_dir: connectors_dir.clone(),
    });
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
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, connectors = %connectors_dir.display(), "serving");
    Ok(RunningHost {
        addr,
        runtime,
        connectors_dir,
        generated_admin_key: match provisioned {
            Provisioned::Generated(key) => Some(key),
            Provisioned::FromEnvironment | Provisioned::Stored => None,
        },
        shutdown: Some(tx),
        served,
        _watch: watch,
    })
}
