//! One connector call's sandbox: the store state (WASI with nothing granted, a
//! memory cap, captured stderr, the `http` and `log` imports), the deadline, and
//! the translation of whatever went wrong into a [`CallError`] a person can act on.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::outbound::{HostRefusal, Outbound, SendError};
use super::types::{Answer, ConnectorError, OutRequest, OutResponse};

/// How much of the guest's stderr is kept for error messages.
const STDERR_CAPTURE_BYTES: usize = 16 << 10;
/// Longest log message passed on to the host's log.
const MAX_LOG_MESSAGE: usize = 4 << 10;

/// Why a connector call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no connector {0:?} is installed")]
    UnknownConnector(String),
    #[error("connector {connector} does not support {what}")]
    Unsupported { connector: String, what: String },
    #[error("connector {connector} did not finish within its {limit:?} deadline")]
    Timeout { connector: String, limit: Duration },
    #[error("connector {connector} exceeded its memory limit of {limit} bytes")]
    MemoryLimit { connector: String, limit: usize },
    #[error("connector {connector} crashed: {message}")]
    Trap { connector: String, message: String },
    #[error("connector {connector} tried to reach {host}, which was refused: {}", why.explain(connector, host))]
    ForbiddenHost {
        connector: String,
        host: String,
        why: HostRefusal,
    },
    #[error("connector {connector} received a response from {host} over the {limit}-byte cap")]
    ResponseTooLarge {
        connector: String,
        host: String,
        limit: usize,
    },
    #[error("connector {connector} could not be started: {message}")]
    Instantiate { connector: String, message: String },
    #[error("connector {connector}: {error}")]
    Connector {
        connector: String,
        error: ConnectorError,
    },
}

/// A sandbox rule the guest broke during the call. It decides the call's
/// outcome even if the guest swallowed the error it was given.
#[derive(Debug, Clone)]
enum Violation {
    ForbiddenHost(String, HostRefusal),
    ResponseTooLarge { host: String, limit: usize },
}

/// Caps the guest's linear memory and remembers that the cap was hit, so an
/// allocation failure is reported as what it is.
struct MemoryCap {
    limit: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of one call's `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    stderr: MemoryOutputPipe,
    /// None for calls that must not do I/O (`describe`, mapping).
    outbound: Option<Arc<Outbound>>,
    connector: Arc<str>,
    violation: Option<Violation>,
    /// The latest error-level log line: a panic message, via the SDK's hook.
    last_error_log: Option<String>,
    /// Prefetches the guest asked for during this call.
    prefetches_asked: u32,
}

/// Prefetches one call may ask for; more are ignored.
const MAX_PREFETCHES_PER_CALL: u32 = 4;

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Creates the store for one call, with its memory cap and deadline armed.
pub fn new_store(
    engine: &wasmtime::Engine,
    connector: Arc<str>,
    memory_limit: usize,
    outbound: Option<Arc<Outbound>>,
    deadline: Instant,
) -> Store<CallState> {
    let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
    // Nothing granted: no environment, arguments, preopened directories,
    // network or name lookups. Clocks and randomness are the standard ones.
    let wasi = WasiCtxBuilder::new()
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let state = CallState {
        wasi,
        table: ResourceTable::new(),
        memory: MemoryCap {
            limit: memory_limit,
            exceeded: false,
        },
        stderr,
        outbound,
        connector,
        violation: None,
        last_error_log: None,
        prefetches_asked: 0,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    let deadline = deadline.into_std();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if std::time::Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// Turns how a call ended into its result. `outcome` is `None` when the outer
/// wall-clock timeout fired (the guest was waiting in a host import).
pub fn conclude<T>(
    store: &Store<CallState>,
    limit: Duration,
    outcome: Option<Answer<T>>,
) -> Result<T, CallError> {
    let state = store.data();
    let connector = state.connector.to_string();
    if let Some(violation) = &state.violation {
        return Err(match violation.clone() {
            Violation::ForbiddenHost(host, why) => CallError::ForbiddenHost {
                connector,
                host,
                why,
            },
            Violation::ResponseTooLarge { host, limit } => CallError::ResponseTooLarge {
                connector,
                host,
                limit,
            },
        });
    }
    match outcome {
        None => Err(CallError::Timeout { connector, limit }),
        Some(Ok(Ok(value))) => Ok(value),
        Some(Ok(Err(error))) => Err(CallError::Connector { connector, error }),
        Some(Err(_)) if state.memory.exceeded => Err(CallError::MemoryLimit {
            connector,
            limit: state.memory.limit,
        }),
        Some(Err(err)) if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => {
            Err(CallError::Timeout { connector, limit })
        }
        Some(Err(err)) => Err(CallError::Trap {
            connector,
            message: trap_message(state, &err),
        }),
    }
}

/// The most useful words about a trap: the guest's panic message when it left
/// one (through the SDK's log hook, or on stderr), then what wasmtime saw.
fn trap_message(state: &CallState, err: &wasmtime::Error) -> String {
    let trap = match err.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{err}"),
    };
    let stderr = String::from_utf8_lossy(&state.stderr.contents()).into_owned();
    let said = state.last_error_log.clone().or_else(|| {
        stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::to_owned)
    });
    match said {
        Some(said) => format!("{said} ({trap})"),
        None => trap,
    }
}

impl CallState {
    /// The `http` import of every contract version: sends through the call's
    /// [`Outbound`], and records a sandbox violation so it decides the call's
    /// outcome even if the guest swallows the error.
    pub async fn send_request(
        &mut self,
        request: OutRequest,
    ) -> Result<OutResponse, ConnectorError> {
        let Some(outbound) = self.outbound.clone() else {
            return Err(ConnectorError::Fatal(
                "network requests are not allowed during this call".into(),
            ));
        };
        match outbound.send(request).await {
            Ok(response) => Ok(response),
            Err(err) => {
                let message = err.to_string();
                let violation = match err {
                    SendError::Connector(e) => return Err(e),
                    SendError::ForbiddenHost(host, why) => Violation::ForbiddenHost(host, why),
                    SendError::ResponseTooLarge { host, limit } => {
                        Violation::ResponseTooLarge { host, limit }
                    }
                };
                tracing::warn!(connector = %self.connector, "sandbox: {message}");
                self.violation.get_or_insert(violation);
                Err(ConnectorError::Fatal(message))
            }
        }
    }

    /// The `log` import of every contract version: to the host's log, tagged
    /// with the connector, cut to a sane length. The last error-level line is
    /// kept (a panic message, through the SDK's hook) for the trap's report.
    /// Whether this call may send requests (not `describe` or mapping).
    pub fn talks_to_provider(&self) -> bool {
        self.outbound.is_some()
    }

    /// The guest expects to send `request` soon: start it now, if it may be
    /// prefetched (see [`Outbound::prefetch`]); at most
    /// [`MAX_PREFETCHES_PER_CALL`] a call. Whether it was started.
    pub fn prefetch_request(&mut self, request: OutRequest) -> bool {
        let Some(outbound) = &self.outbound else {
            return false;
        };
        if self.prefetches_asked >= MAX_PREFETCHES_PER_CALL {
            tracing::debug!(connector = %self.connector, "prefetch ignored: this call asked for {MAX_PREFETCHES_PER_CALL} already");
            return false;
        }
        self.prefetches_asked += 1;
        outbound.prefetch(request)
    }

    pub fn write_log(&mut self, level: tracing::Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let connector = &*self.connector;
        match level {
            tracing::Level::TRACE => tracing::trace!(connector, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(connector, "{message}"),
            tracing::Level::INFO => tracing::info!(connector, "{message}"),
            tracing::Level::WARN => tracing::warn!(connector, "{message}"),
            tracing::Level::ERROR => {
                tracing::error!(connector, "{message}");
                self.last_error_log = Some(message);
            }
        }
    }
}
