//! Starting and stopping a simulator: bind a loopback port, assemble the
//! provider's routes with the guard and the control routes, serve until
//! dropped.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{RateLimit, SimConfig};
use crate::context::Ctx;
use crate::control::{self, Backend, Control};
use crate::guard;
use crate::{hubspot, pipedrive, quickbooks, salesforce};

/// The simulated providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    HubSpot,
    QuickBooks,
    Salesforce,
    Pipedrive,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::HubSpot,
        Provider::QuickBooks,
        Provider::Salesforce,
        Provider::Pipedrive,
    ];

    /// Lower-case name: `hubspot`, `quickbooks`, `salesforce`, `pipedrive`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::HubSpot => "hubspot",
            Provider::QuickBooks => "quickbooks",
            Provider::Salesforce => "salesforce",
            Provider::Pipedrive => "pipedrive",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Provider::HubSpot => "HubSpot",
            Provider::QuickBooks => "QuickBooks Online",
            Provider::Salesforce => "Salesforce",
            Provider::Pipedrive => "Pipedrive",
        }
    }

    pub(crate) fn default_token_lifetime(self) -> Duration {
        match self {
            Provider::HubSpot => Duration::from_secs(1800),
            Provider::Salesforce => Duration::from_secs(7200),
            Provider::QuickBooks | Provider::Pipedrive => Duration::from_secs(3600),
        }
    }

    /// The provider's real limit.
    pub fn default_rate_limit(self) -> RateLimit {
        match self {
            Provider::HubSpot => RateLimit {
                max: 100,
                window: Duration::from_secs(10),
            },
            Provider::QuickBooks => RateLimit {
                max: 500,
                window: Duration::from_secs(60),
            },
            Provider::Salesforce => RateLimit {
                max: 100_000,
                window: Duration::from_secs(86_400),
            },
            Provider::Pipedrive => RateLimit {
                max: 80,
                window: Duration::from_secs(2),
            },
        }
    }

    pub(crate) fn token_prefix(self) -> &'static str {
        match self {
            Provider::HubSpot => "hs",
            Provider::QuickBooks => "qb",
            Provider::Salesforce => "00Dsf",
            Provider::Pipedrive => "pd",
        }
    }

    fn authorize_path(self) -> &'static str {
        match self {
            Provider::HubSpot | Provider::Pipedrive => "/oauth/authorize",
            Provider::QuickBooks => "/connect/oauth2",
            Provider::Salesforce => "/services/oauth2/authorize",
        }
    }

    fn token_path(self) -> &'static str {
        match self {
            Provider::HubSpot => "/oauth/v1/token",
            Provider::QuickBooks => "/oauth2/v1/tokens/bearer",
            Provider::Salesforce => "/services/oauth2/token",
            Provider::Pipedrive => "/oauth/token",
        }
    }
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown provider {s:?} (hubspot, quickbooks, salesforce, pipedrive)")
            })
    }
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct Simulator {
    provider: Provider,
    addr: SocketAddr,
    control: Control,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Binds `config.listen` (default: a free loopback port) and serves.
    pub async fn start(provider: Provider, config: SimConfig) -> std::io::Result<Simulator> {
        let listen = config
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let ctx = Arc::new(Ctx::new(provider, config, format!("http://{addr}")));
        let (api, backend): (Router, Arc<dyn Backend>) = match provider {
            Provider::HubSpot => hubspot::build(ctx.clone()),
            Provider::QuickBooks => quickbooks::build(ctx.clone()),
            Provider::Salesforce => salesforce::build(ctx.clone()),
            Provider::Pipedrive => pipedrive::build(ctx.clone()),
        };
        let control = Control::new(ctx.clone(), backend);
        let app = api
            .route_layer(middleware::from_fn_with_state(ctx.clone(), guard::count))
            .merge(control::routes(control.clone()));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        tracing::info!(provider = provider.name(), %addr, "simulator listening");
        Ok(Simulator {
            provider,
            addr,
            control,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the API host (Salesforce's `instance_url`,
    /// Pipedrive's `api_domain`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base of API paths: for QuickBooks `{base}/v3/company/{realmId}`,
    /// for the others the same as `base_url()`.
    pub fn api_base_url(&self) -> String {
        match self.provider {
            Provider::QuickBooks => {
                format!("{}/v3/company/{}", self.base_url(), self.control.realm_id())
            }
            _ => self.base_url(),
        }
    }

    /// The OAuth consent page (append the usual query parameters).
    pub fn authorize_url(&self) -> String {
        format!("{}{}", self.base_url(), self.provider.authorize_path())
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.base_url(), self.provider.token_path())
    }

    /// In-process control: faults, counters, tokens, records.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Idle keep-alive connections would hold a graceful shutdown open.
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
