//! The connector runtime: loads WebAssembly connector components, keeps the
//! registry of what is loaded, and runs each call in a fresh sandboxed instance.
//!
//! - [`contract`]: the contract versions this host speaks, one module each.
//! - [`engine`]: the wasmtime configuration and the epoch ticker.
//! - [`compile_cache`]: compiling components, cached on disk.
//! - [`manifest`]: what a connector says about itself, validated.
//! - [`registry`]: id → loaded version, hot-swapped.
//! - [`watcher`]: hot-loading from the connectors directory.
//! - [`sandbox`]: one call's store, limits and error reporting.
//! - [`outbound`]: the `http` import, the only way out of the sandbox.
//! - [`prefetch`]: fetching a pull's next page while this one is mapped.
//! - [`rate_limit`]: pacing requests per connected account.
//! - [`credentials`]: the seam to wherever credentials are kept.

pub mod compile_cache;
pub mod contract;
pub mod credentials;
pub mod engine;
mod json_pointer;
pub mod manifest;
pub mod outbound;
pub mod prefetch;
pub mod rate_limit;
pub mod registry;
pub mod sandbox;
pub mod types;
pub mod watcher;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::Instrument;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::metrics::Metrics;
use crate::request_log::{Logger, RequestLog};
use contract::{Answer, GuestConnection, Instance, InstancePre, Version};
use credentials::CredentialSource;
use manifest::{InvalidManifest, Manifest, RateLimit};
use outbound::{AllowedHosts, Outbound, Prefetcher, SendError};
use rate_limit::Limiters;
use registry::{InstallRefused, Installed, LoadedConnector, Registry};
pub use sandbox::CallError;
use sandbox::CallState;
use types::{
    Connection, ConnectorError, FieldInfo, ObjectInfo, OutRequest, OutResponse, Page, PullRequest,
    PushItem, Pushed,
};

/// Bounds on every call into a connector.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Most linear memory one instance may use.
    pub memory_bytes: usize,
    /// Wall-clock deadline of one call, host imports included.
    pub call_timeout: Duration,
    /// Most instances alive at once (the pooling allocator's size).
    pub max_instances: u32,
    /// Largest provider response handed to a connector.
    pub max_response_bytes: usize,
    /// Reuse pre-reserved slots for instances (much faster instantiation).
    /// Off only to measure what it buys.
    pub pooling: bool,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(60),
            max_instances: 256,
            max_response_bytes: 32 << 20,
            pooling: true,
        }
    }
}

/// Deadline of a call that must not do I/O (`describe`, mapping).
const PURE_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The host configuration's say over one connector: where its API really is
/// (a simulator, a regional endpoint), which other hosts it may reach (these
/// over plain http too), and the request rate of the provider accounts it
/// serves when that differs from the manifest's (a higher tier).
#[derive(Debug, Clone, Default)]
pub struct ConnectorOverride {
    pub api_base: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub rate: Option<RequestRate>,
}

/// At most `requests` requests per `window_ms` per connected account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRate {
    pub requests: u32,
    pub window_ms: u32,
}

#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub limits: SandboxLimits,
    /// Where compiled components are cached.
    pub cache_dir: PathBuf,
    /// By connector id.
    pub overrides: HashMap<String, ConnectorOverride>,
    /// Where provider requests and connector calls are counted.
    pub metrics: Metrics,
    /// Where each session's provider requests are logged (none: not logged).
    pub request_log: Option<RequestLog>,
}

/// Why a component was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error("the component imports `{0}`, which this host does not provide")]
    UnsupportedImport(String),
    #[error(
        "the component does not export a connector interface this host knows ({}; it exports: {})",
        Version::ALL.map(Version::export_name).join(", "),
        .0.join(", ")
    )]
    NotAConnector(Vec<String>),
    #[error("the component cannot be linked: {0}")]
    Link(String),
    #[error("describe() failed: {0}")]
    Describe(CallError),
    #[error(transparent)]
    Manifest(#[from] InvalidManifest),
    #[error(transparent)]
    Refused(#[from] InstallRefused),
    #[error("could not read or write {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("could not start the connector runtime: {0}")]
pub struct StartError(String);

pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: compile_cache::CompileCache,
    registry: Registry,
    limiters: Limiters,
    prefetches: Arc<prefetch::Prefetches>,
    client: reqwest::Client,
    config: RuntimeConfig,
    /// Names shown instead of the manifests', by connector id.
    display_names: std::sync::RwLock<HashMap<String, String>>,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Arc<Self>, StartError> {
        let engine = engine::build(&config.limits).map_err(|e| StartError(format!("{e:?}")))?;
        engine::start_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| StartError(format!("{e:?}")))?;
        contract::add_to_linker(&mut linker).map_err(|e| StartError(format!("{e:?}")))?;
        let cache =
            compile_cache::CompileCache::new(&engine, config.cache_dir.clone()).map_err(|e| {
                StartError(format!(
                    "cache directory {}: {e}",
                    config.cache_dir.display()
                ))
            })?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StartError(e.to_string()))?;
        Ok(Arc::new(Runtime {
            engine,
            linker,
            cache,
            registry: Registry::default(),
            limiters: Limiters::default(),
            prefetches: Default::default(),
            client,
            config,
            display_names: Default::default(),
        }))
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// How prefetching has done since the host started.
    pub fn prefetch_counts(&self) -> prefetch::PrefetchCounts {
        self.prefetches.counts()
    }

    /// Where provider requests, connector calls and transfers are counted.
    pub fn metrics(&self) -> &Metrics {
        &self.config.metrics
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.config.limits
    }

    /// Compiles and validates a component without installing it.
    pub async fn load(
        &self,
        bytes: Vec<u8>,
        source: Option<PathBuf>,
    ) -> Result<LoadedConnector, LoadError> {
        let hash = hex::encode(Sha256::digest(&bytes));
        let component = {
            let engine = self.engine.clone();
            let hash = hash.clone();
            let cache = &self.cache;
            // Compilation is CPU-bound for up to ~100 ms: keep it off the async
            // workers. `block_in_place` lets it borrow the cache.
            tokio::task::block_in_place(|| cache.component(&engine, &bytes, &hash))
                .map_err(|e| LoadError::Invalid(one_line(&format!("{e:#}"))))?
        };
        self.check_imports(&component)?;
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let Some(version) = Version::of_exports(exports.iter().map(String::as_str)) else {
            return Err(LoadError::NotAConnector(exports));
        };
        let pre = InstancePre::new(&self.linker, &component, version)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let manifest = self.describe(&pre).await.map_err(LoadError::Describe)?;
        manifest.validate()?;
        Ok(LoadedConnector {
            manifest,
            hash,
            loaded_at: SystemTime::now(),
            source,
            pre,
        })
    }

    /// Loads and installs a component; the previous version of its id, if any,
    /// keeps serving the calls already running on it.
    pub async fn install(
        &self,
        bytes: Vec<u8>,
        source: Option<PathBuf>,
    ) -> Result<(Arc<LoadedConnector>, Installed), LoadError> {
        let loaded = self.load(bytes, source).await?;
        let id = loaded.manifest.id.clone();
        let installed = self.registry.install(loaded)?;
        let current = self
            .registry
            .get(&id)
            .ok_or_else(|| LoadError::Link(format!("connector {id} vanished while installing")))?;
        match &installed {
            Installed::New => {
                tracing::info!(connector = %id, version = %current.manifest.version, hash = %current.hash, "connector loaded")
            }
            Installed::Replaced(old) => {
                tracing::info!(connector = %id, from = %old, to = %current.manifest.version, hash = %current.hash, "connector replaced")
            }
            Installed::Unchanged => tracing::debug!(connector = %id, "connector unchanged"),
        }
        Ok((current, installed))
    }

    /// Loads one file of the connectors directory.
    pub async fn install_file(
        &self,
        path: &Path,
    ) -> Result<(Arc<LoadedConnector>, Installed), LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| LoadError::Io {
                path: path.to_owned(),
                source,
            })?;
        self.install(bytes, Some(path.to_owned())).await
    }

    /// Rejects imports no linker here provides, naming the first one.
    fn check_imports(&self, component: &Component) -> Result<(), LoadError> {
        for (name, _) in component.component_type().imports(&self.engine) {
            if !Version::provides_import(name) {
                return Err(LoadError::UnsupportedImport(name.to_owned()));
            }
        }
        Ok(())
    }

    async fn describe(&self, pre: &InstancePre) -> Result<Manifest, CallError> {
        let deadline = Instant::now() + PURE_CALL_TIMEOUT;
        let mut store = sandbox::new_store(
            &self.engine,
            Arc::from("(loading)"),
            self.config.limits.memory_bytes,
            None,
            deadline,
        );
        let instance = pre
            .instantiate(&mut store)
            .await
            .map_err(|e| CallError::Instantiate {
                connector: "(loading)".into(),
                message: format!("{e:#}"),
            })?;
        let outcome = tokio::time::timeout_at(deadline, instance.describe(&mut store))
            .await
            .ok();
        sandbox::conclude(&store, PURE_CALL_TIMEOUT, outcome)
    }

    /// Starts a call: the connector's current version, a fresh instance, and
    /// (for calls that talk to the provider) the outbound context.
    async fn start(
        &self,
        id: &str,
        io: Option<(&Connection, Option<Arc<dyn CredentialSource>>)>,
        pulling: Option<&str>,
    ) -> Result<Call, CallError> {
        let connector = self
            .registry
            .get(id)
            .ok_or_else(|| CallError::UnknownConnector(id.to_owned()))?;
        let limit = if io.is_some() {
            self.config.limits.call_timeout
        } else {
            PURE_CALL_TIMEOUT
        };
        let deadline = Instant::now() + limit;
        let api_base = io
            .as_ref()
            .map(|(conn, _)| self.api_base(&connector.manifest, conn))
            .unwrap_or_default();
        let guest_connection = GuestConnection {
            api_base: api_base.clone(),
            settings: io
                .as_ref()
                .map(|(conn, _)| conn.settings.to_string())
                .unwrap_or_default(),
        };
        let outbound = io.map(|(conn, credential)| {
            let mut outbound = self.outbound(&connector.manifest, conn, credential, deadline);
            // Every pull may prefetch: by its integration's declared paging,
            // or when the connector asks (`http.prefetch`).
            outbound.prefetch = pulling.map(|ty| Prefetcher {
                rules: connector
                    .manifest
                    .integration(ty)
                    .map(|integration| integration.paging.clone())
                    .unwrap_or_default(),
                prefetches: self.prefetches.clone(),
                connection: format!("{id}/{}", conn.key),
                timeout: self.config.limits.call_timeout,
            });
            Arc::new(outbound)
        });
        let mut store = sandbox::new_store(
            &self.engine,
            Arc::from(id),
            self.config.limits.memory_bytes,
            outbound,
            deadline,
        );
        let instance =
            connector
                .pre
                .instantiate(&mut store)
                .await
                .map_err(|e| CallError::Instantiate {
                    connector: id.to_owned(),
                    message: format!("{e:#}"),
                })?;
        Ok(Call {
            store,
            instance,
            guest_connection,
            deadline,
            limit,
            metrics: self.config.metrics.clone(),
            version: connector,
        })
    }

    /// The way out to `manifest`'s provider for connection `conn`: its API
    /// base and allowed hosts, its rate limiters (shared by every call of the
    /// connection), the credential and the call's deadline.
    fn outbound(
        &self,
        manifest: &Manifest,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        deadline: Instant,
    ) -> Outbound {
        let id = &manifest.id;
        Outbound {
            client: self.client.clone(),
            api_base: self.api_base(manifest, conn),
            allowed: self.allowed_hosts(manifest),
            credential,
            placement: manifest.credential_placement.clone(),
            limiter: self
                .limiters
                .get(id, &conn.key, self.rate_limit(id, manifest)),
            class_limiters: manifest
                .rate_classes
                .iter()
                .map(|class| {
                    let limit = RateLimit {
                        requests: class.requests,
                        window_ms: class.window_ms,
                        max_concurrent: 0,
                    };
                    let key = format!("{}#{}", conn.key, class.name);
                    (class.name.clone(), self.limiters.get(id, &key, limit))
                })
                .collect(),
            deadline,
            max_response_bytes: self.config.limits.max_response_bytes,
            provider: manifest.display_name.clone(),
            prefetch: None,
            metrics: self.config.metrics.clone(),
            provider_id: id.clone(),
            logger: self.config.request_log.as_ref().map(|log| Logger {
                log: log.clone(),
                session_id: conn.key.clone(),
                purpose: conn.purpose.clone(),
            }),
        }
    }

    /// Sends `req` (its URL relative to the connection's API base) to
    /// connector `id`'s provider as the host sends a connector's requests:
    /// the same rate limiters, allowed hosts, credential, refresh on `401`
    /// and retries, within one call's time. The passthrough proxy's way out.
    pub async fn proxy(
        &self,
        id: &str,
        conn: &Connection,
        credential: Arc<dyn CredentialSource>,
        mut req: OutRequest,
    ) -> Result<OutResponse, SendError> {
        let connector = self
            .registry
            .get(id)
            .ok_or_else(|| ConnectorError::Fatal(format!("no connector {id:?} is installed")))?;
        let deadline = Instant::now() + self.config.limits.call_timeout;
        let outbound = self.outbound(&connector.manifest, conn, Some(credential), deadline);
        // Always below the API base, never a URL of the caller's choosing.
        req.url = format!(
            "{}/{}",
            outbound.api_base.trim_end_matches('/'),
            req.url.trim_start_matches('/')
        );
        outbound.send(req).await
    }

    /// The manifest's rate limit, with the configured request rate instead
    /// of the declared one when there is one.
    fn rate_limit(&self, id: &str, manifest: &Manifest) -> RateLimit {
        let mut limit = manifest.rate_limit;
        if let Some(rate) = self.config.overrides.get(id).and_then(|o| o.rate) {
            limit.requests = rate.requests;
            limit.window_ms = rate.window_ms;
        }
        limit
    }

    /// The base URL relative requests resolve against: the connection's own
    /// (e.g. Salesforce `instance_url`), else the host configuration's, else the
    /// manifest's.
    fn api_base(&self, manifest: &Manifest, conn: &Connection) -> String {
        conn.api_base
            .clone()
            .or_else(|| {
                self.config
                    .overrides
                    .get(&manifest.id)
                    .and_then(|o| o.api_base.clone())
            })
            .unwrap_or_else(|| manifest.api_base.clone())
    }

    fn allowed_hosts(&self, manifest: &Manifest) -> AllowedHosts {
        let mut configured = Vec::new();
        if let Some(o) = self.config.overrides.get(&manifest.id) {
            configured.extend(o.allowed_hosts.iter().cloned());
            if let Some(host) = o.api_base.as_deref().and_then(host_and_port) {
                configured.push(host);
            }
        }
        AllowedHosts {
            declared: manifest.allowed_hosts.clone(),
            configured,
        }
    }

    /// The manifest of a loaded connector, as this host presents it.
    pub fn manifest(&self, id: &str) -> Result<Manifest, CallError> {
        self.registry
            .get(id)
            .map(|c| self.presented(&c.manifest))
            .ok_or_else(|| CallError::UnknownConnector(id.to_owned()))
    }

    /// Every loaded connector's manifest, as this host presents them.
    pub fn manifests(&self) -> Vec<Manifest> {
        self.registry
            .list()
            .iter()
            .map(|c| self.presented(&c.manifest))
            .collect()
    }

    fn presented(&self, manifest: &Manifest) -> Manifest {
        let mut m = manifest.clone();
        let renamed = self
            .display_names
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&m.id)
            .cloned();
        if let Some(name) = renamed {
            m.display_name = name;
        }
        m
    }

    /// Shows connector `id` under another name (e.g. "HubSpot (sandbox)").
    pub fn set_display_name(&self, id: &str, name: String) {
        self.display_names
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), name);
    }

    pub async fn check(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
    ) -> Result<(), CallError> {
        let mut call = self.start(id, Some((conn, credential)), None).await?;
        call.run("check", async |i, store, conn| i.check(store, conn).await)
            .await
    }

    /// Reads one page. Its answers start the prefetch of the next page when
    /// the integration declares its paging ([`prefetch`]).
    pub async fn pull(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        request: &PullRequest,
    ) -> Result<Page, CallError> {
        let mut call = self
            .start(id, Some((conn, credential)), Some(&request.endgrate_type))
            .await?;
        call.run("pull", async |i, store, conn| {
            i.pull(store, conn, request).await
        })
        .await
    }

    /// Writes one batch; one result per item, in order.
    pub async fn push(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        endgrate_type: &str,
        items: &[PushItem],
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, CallError> {
        let mut call = self.start(id, Some((conn, credential)), None).await?;
        call.run("push", async |i, store, conn| {
            i.push(store, conn, endgrate_type, items).await
        })
        .await
    }

    /// Discovery: the fields `endgrate_type`'s records have at the provider
    /// for this connection, custom fields included (none for a 0.1 connector).
    pub async fn list_fields(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        endgrate_type: &str,
    ) -> Result<Vec<FieldInfo>, CallError> {
        let mut call = self.start(id, Some((conn, credential)), None).await?;
        call.run("list_fields", async |i, store, conn| {
            i.list_fields(store, conn, endgrate_type).await
        })
        .await
    }

    /// Discovery: the provider objects this connection reaches that the
    /// connector can move as `object:<name>` subjects (none for a 0.1
    /// connector).
    pub async fn list_objects(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
    ) -> Result<Vec<ObjectInfo>, CallError> {
        let mut call = self.start(id, Some((conn, credential)), None).await?;
        call.run("list_objects", async |i, store, conn| {
            i.list_objects(store, conn).await
        })
        .await
    }

    pub async fn find_match(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        endgrate_type: &str,
        keys: &serde_json::Value,
    ) -> Result<Option<String>, CallError> {
        let mut call = self.start(id, Some((conn, credential)), None).await?;
        let keys = keys.to_string();
        call.run("find_match", async |i, store, conn| {
            i.find_match(store, conn, endgrate_type, &keys).await
        })
        .await
    }

    /// The upsert lookups of a batch: for each item, its key sets in priority
    /// order; the answer has one entry per item. A 0.2 connector answers in
    /// one call; for a 0.1 connector the host asks `find-match` for each key
    /// set in turn, [`FIND_MATCH_CONCURRENCY`] items at a time.
    pub async fn find_matches(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        endgrate_type: &str,
        items: &[Vec<serde_json::Value>],
    ) -> Result<Vec<Result<Option<String>, ConnectorError>>, CallError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut call = self
            .start(id, Some((conn, credential.clone())), None)
            .await?;
        if call.instance.version() >= Version::V0_2 {
            let items: Vec<Vec<String>> = items
                .iter()
                .map(|keys| keys.iter().map(|k| k.to_string()).collect())
                .collect();
            return call
                .run("find_matches", async |i, store, conn| {
                    i.find_matches(store, conn, endgrate_type, &items)
                        .await
                        .unwrap_or_else(|| {
                            Ok(Err(ConnectorError::Unsupported("find-matches".into())))
                        })
                })
                .await;
        }
        drop(call);
        let mut answers = Vec::with_capacity(items.len());
        for chunk in items.chunks(FIND_MATCH_CONCURRENCY) {
            let mut lookups = Vec::with_capacity(chunk.len());
            for keys in chunk {
                lookups.push(self.first_match(id, conn, credential.clone(), endgrate_type, keys));
            }
            for answer in futures::future::join_all(lookups).await {
                answers.push(answer?);
            }
        }
        Ok(answers)
    }

    /// `find-matches` for one item of a 0.1 connector: `find-match` for each
    /// key set in turn until one matches. A key set the connector cannot
    /// match on is skipped; none it can match on is `unsupported`.
    async fn first_match(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        endgrate_type: &str,
        keys: &[serde_json::Value],
    ) -> Result<Result<Option<String>, ConnectorError>, CallError> {
        let mut unsupported = None;
        let mut asked = false;
        for key_set in keys {
            match self
                .find_match(id, conn, credential.clone(), endgrate_type, key_set)
                .await
            {
                Ok(Some(found)) => return Ok(Ok(Some(found))),
                Ok(None) => asked = true,
                Err(CallError::Connector { error, .. }) => match error {
                    ConnectorError::Unsupported(_) => unsupported = Some(error),
                    other => return Ok(Err(other)),
                },
                Err(other) => return Err(other),
            }
        }
        Ok(match (asked, unsupported) {
            (false, Some(error)) => Err(error),
            _ => Ok(None),
        })
    }

    pub async fn associate(
        &self,
        id: &str,
        conn: &Connection,
        credential: Option<Arc<dyn CredentialSource>>,
        from: (&str, &str),
        to: (&str, &str),
    ) -> Result<(), CallError> {
        let mut call = self.start(id, Some((conn, credential)), None).await?;
        call.run("associate", async |i, store, conn| {
            i.associate(store, conn, from, to).await
        })
        .await
    }

    /// Turns the end of an OAuth2 flow into connection settings (a JSON object).
    pub async fn finish_auth(
        &self,
        id: &str,
        callback_params: &[(String, String)],
        token_response_without_tokens: &serde_json::Value,
    ) -> Result<String, CallError> {
        let mut call = self.start(id, None, None).await?;
        let token_response = token_response_without_tokens.to_string();
        call.run("finish_auth", async |i, store, _| {
            i.finish_auth(store, callback_params, &token_response).await
        })
        .await
    }

    /// Maps raw provider records to the common model in one instance.
    pub async fn to_cdm(
        &self,
        id: &str,
        endgrate_type: &str,
        raws: &[String],
    ) -> Result<Vec<Result<String, ConnectorError>>, CallError> {
        let mut call = self.start(id, None, None).await?;
        let mut mapped = Vec::with_capacity(raws.len());
        for raw in raws {
            let outcome = call
                .run("to_cdm", async |i, store, _| {
                    i.to_cdm(store, endgrate_type, raw).await.map(Ok)
                })
                .await?;
            mapped.push(outcome);
        }
        Ok(mapped)
    }

    /// Maps one common-model record to the provider's write shape.
    pub async fn from_cdm(
        &self,
        id: &str,
        endgrate_type: &str,
        record: &str,
    ) -> Result<String, CallError> {
        let mut call = self.start(id, None, None).await?;
        call.run("from_cdm", async |i, store, _| {
            i.from_cdm(store, endgrate_type, record).await
        })
        .await
    }
}

/// Items whose `find-match` lookups run at once for a 0.1 connector.
const FIND_MATCH_CONCURRENCY: usize = 4;

/// One call in progress: the instance, its store, and the version it runs on
/// (held so a hot swap cannot unload it mid-call).
struct Call {
    store: wasmtime::Store<CallState>,
    instance: Instance,
    guest_connection: GuestConnection,
    deadline: Instant,
    limit: Duration,
    metrics: Metrics,
    version: Arc<LoadedConnector>,
}

impl Call {
    /// Runs one export of the instance under the call's deadline, and turns
    /// how it ended into the call's result.
    /// `name` is the export's, as the metrics count calls.
    async fn run<T>(
        &mut self,
        name: &str,
        export: impl AsyncFnOnce(
            &Instance,
            &mut wasmtime::Store<CallState>,
            &GuestConnection,
        ) -> Answer<T>,
    ) -> Result<T, CallError> {
        let started = std::time::Instant::now();
        let connector = &self.version.manifest.id;
        // Calls that talk to the provider get a span (their requests hang
        // from it); pure mapping calls, many per page, do not.
        let span = if self.store.data().talks_to_provider() {
            tracing::info_span!(
                "connector.call",
                otel.name = %format!("{connector} {name}"),
                connector = %connector,
                call = name,
            )
        } else {
            tracing::Span::none()
        };
        let outcome = tokio::time::timeout_at(
            self.deadline,
            export(&self.instance, &mut self.store, &self.guest_connection),
        )
        .instrument(span)
        .await
        .ok();
        let result = sandbox::conclude(&self.store, self.limit, outcome);
        self.metrics.connector_call(
            &self.version.manifest.id,
            name,
            call_outcome(&result),
            started.elapsed(),
        );
        result
    }
}

/// How a call ended, as the metrics name it.
fn call_outcome<T>(result: &Result<T, CallError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(CallError::Timeout { .. }) => "timeout",
        Err(CallError::MemoryLimit { .. }) => "memory_limit",
        Err(CallError::Trap { .. } | CallError::Instantiate { .. }) => "trap",
        Err(CallError::ForbiddenHost { .. }) => "forbidden_host",
        Err(CallError::ResponseTooLarge { .. }) => "too_large",
        Err(
            CallError::Connector { .. }
            | CallError::UnknownConnector(_)
            | CallError::Unsupported { .. },
        ) => "error",
    }
}

/// Folds wasmtime's multi-line diagnostics (byte dumps, backtraces) onto one
/// line, fit for a JSON error message.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `host[:port]` of a URL, as allowed-host patterns write it.
fn host_and_port(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}
