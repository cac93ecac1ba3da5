//! Transfers: the durable queue and the workers that run pulls and pushes.
//!
//! The API writes a transfer with its queue entry ([`Transfers::enqueue`]);
//! the dispatcher ([`Transfers::start`]) takes transfers in turn from the
//! scheduler and runs one step at a time (a page of a pull, a batch of a
//! push), each step committed with its checkpoint ([`writes`]). A transfer
//! waits while its session is unconfigured or needs re-authentication, retries
//! transient provider failures with backoff, and ends completed or failed,
//! with its webhooks in the outbox and `synchronous` callers woken.
//!
//! - [`model`]: the transfer record.  - [`queue`]: leases and fair scheduling.
//! - [`pull`], [`push`]: one step of each.  - [`writes`]: atomic commits.

pub mod model;
pub mod pull;
pub mod push;
pub mod queue;
pub mod writes;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinSet;

use crate::credentials::Credentials;
use crate::errors::{ErrorRecord, ErrorType, NewError};
use crate::runtime::manifest::Manifest;
use crate::runtime::types::{Connection, ConnectorError};
use crate::runtime::{CallError, Runtime};
use crate::sessions::configuration::{integration_info, provider_info};
use crate::sessions::{Session, SessionSchema, Sessions, Webhook};
use crate::store::{Db, StoreError, encode, get_json, key, now_ms};
use crate::webhooks::delivery::Doorbell;
use crate::webhooks::outbox::{self, Delivery};
pub use model::{Checkpoint, Method, Stats, Status, Transfer};
use queue::{Eligibility, Lease, QueueEntry, Scheduler};
use writes::{CommitError, TreeId, Writes, commit};

#[derive(Debug, Clone)]
pub struct TransferConfig {
    /// Steps running at once, across all sessions.
    pub workers: usize,
    /// How long a worker may hold a transfer for one step.
    pub lease: Duration,
    /// First retry delay after a transient failure (doubling each time).
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Consecutive failed attempts before a transfer fails.
    pub max_attempts: u32,
    /// Continuous data webhooks re-pull this often.
    pub continuous_interval: Duration,
    /// Sync pulls ask for changes from this long before the previous pull
    /// started (provider clocks and search indexes lag); repeats are dropped
    /// by content hash.
    pub sync_overlap: Duration,
    /// Sync pulls list every record (instead of the changes since the last
    /// pull) when the last full listing is older than this, and report the
    /// records it no longer returns as deleted: providers do not flag every
    /// deletion.
    pub full_resync: Duration,
    /// Transfers one account may have waiting; more are refused with 429.
    pub max_waiting_per_account: usize,
    /// Pulled records one account may store (its sessions' transfers
    /// together); `None` for no limit. Past it pulls are refused (429) and
    /// running pulls stop, failed, until sessions are deleted.
    pub max_stored_records_per_account: Option<u64>,
    /// Slices (pages, batches) of one session that may run at once.
    pub steps_per_session: usize,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            workers: 32,
            lease: Duration::from_secs(600),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(120),
            max_attempts: 8,
            continuous_interval: Duration::from_secs(15 * 60),
            sync_overlap: Duration::from_secs(60),
            full_resync: Duration::from_secs(24 * 3600),
            max_waiting_per_account: 10_000,
            max_stored_records_per_account: Some(DEFAULT_MAX_STORED_RECORDS),
            steps_per_session: 4,
        }
    }
}

#[derive(Clone)]
pub struct Transfers {
    inner: Arc<Engine>,
}

struct Engine {
    db: Db,
    runtime: Arc<Runtime>,
    sessions: Sessions,
    credentials: Credentials,
    doorbell: Doorbell,
    config: TransferConfig,
    scheduler: Scheduler,
    /// The host's address as apps reach it (absolute links in errors).
    public_url: String,
    /// Leases of other boots are void.
    boot: u64,
    finished: broadcast::Sender<String>,
}

/// How a step ended.
pub enum Progress {
    More,
    Done,
}

/// Why a step did not move the transfer forward.
#[derive(Debug)]
pub enum StepError {
    /// Try again later (temporary provider failure); counts towards giving up.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The provider asks to slow down: wait (its `Retry-After` if given) and
    /// go on; back-pressure is not a failure and never makes a transfer give up.
    RateLimited {
        after: Option<Duration>,
    },
    /// The credentials are no longer accepted: the end user must sign in again.
    Auth(String),
    /// The transfer cannot go on.
    Fail {
        error_type: ErrorType,
        message: String,
    },
    /// Cancelled, or the lease was lost.
    Lost,
    Store(StoreError),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(e)
    }
}

impl From<sled::Error> for StepError {
    fn from(e: sled::Error) -> Self {
        StepError::Store(e.into())
    }
}

impl From<CommitError> for StepError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::LeaseLost => StepError::Lost,
            CommitError::Store(e) => StepError::Store(e),
        }
    }
}

/// What one step needs to know.
pub struct Step<'a> {
    pub db: &'a Db,
    pub runtime: &'a Runtime,
    pub public_url: &'a str,
    pub config: &'a TransferConfig,
    pub session: &'a Session,
    pub schema: &'a SessionSchema,
    pub manifest: &'a Manifest,
    /// The provider integration serving the schema.
    pub integration: &'a str,
    pub connection: Connection,
    pub credentials: &'a Credentials,
    pub token: u64,
}

impl Step<'_> {
    pub fn credential(&self) -> Arc<dyn crate::runtime::credentials::CredentialSource> {
        self.credentials.source(&self.session.id)
    }

    /// A connector call's failure, as a step error.
    pub fn classify(&self, err: CallError) -> StepError {
        classify(&self.manifest.display_name, err)
    }

    /// Renews the lease during a long step.
    pub fn renew(&self, transfer_id: &str) -> Result<(), StepError> {
        renew_lease(self.db, transfer_id, self.token, self.config.lease)
    }
}

impl Transfers {
    /// Loads the unfinished transfers and starts the dispatcher.
    pub fn start(
        db: Db,
        runtime: Arc<Runtime>,
        sessions: Sessions,
        credentials: Credentials,
        doorbell: Doorbell,
        config: TransferConfig,
        public_url: String,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        let (finished, _) = broadcast::channel(1024);
        let engine = Arc::new(Engine {
            boot: db.next_id()?,
            db,
            runtime,
            sessions,
            credentials,
            doorbell,
            config,
            scheduler: Scheduler::default(),
            public_url,
            finished,
        });
        let resumed = engine.scheduler.load(&engine.db)?;
        if resumed > 0 {
            tracing::info!(transfers = resumed, "resuming unfinished transfers");
        }
        let dispatcher = tokio::spawn(dispatch(engine.clone()));
        Ok((Transfers { inner: engine }, dispatcher))
    }

    /// Stores a new transfer with its queue entry (and, for pushes, its
    /// items) in one transaction, durably, then schedules it.
    pub async fn enqueue(&self, transfer: &Transfer, mut extra: Writes) -> Result<(), StoreError> {
        stage_new(&mut extra, transfer);
        commit(&self.inner.db, &transfer.id, None, &extra).map_err(|e| match e {
            CommitError::Store(e) => e,
            CommitError::LeaseLost => StoreError::Corrupt("unexpected lease check".into()),
        })?;
        self.inner.db.flush().await?;
        self.inner.doorbell.ring();
        self.inner
            .scheduler
            .add(&transfer.account, &transfer.session_id, &transfer.id);
        Ok(())
    }

    /// A transfer of `account`.
    pub fn get(&self, account: &str, id: &str) -> Result<Option<Transfer>, StoreError> {
        Ok(
            get_json::<Transfer>(&self.inner.db.trees.transfers, id.as_bytes())?
                .filter(|t| t.account == account),
        )
    }

    /// Waits until the transfer finished or `limit` passed; its state then.
    pub async fn wait(&self, id: &str, limit: Duration) -> Result<Option<Transfer>, StoreError> {
        let mut finished = self.inner.finished.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let transfer = get_json::<Transfer>(&self.inner.db.trees.transfers, id.as_bytes())?;
            match &transfer {
                Some(t) if !t.is_finished() => {}
                _ => return Ok(transfer),
            }
            match tokio::time::timeout_at(deadline, finished.recv()).await {
                Err(_) => return Ok(transfer),
                Ok(Ok(done)) if done != id => continue,
                // Our transfer, or we missed some news: look again.
                Ok(_) => {}
            }
        }
    }

    /// Something changed that may let waiting transfers run (a session was
    /// configured or re-authenticated).
    /// A session was configured or signed in again: its parked transfers
    /// are looked at again.
    pub fn wake(&self) {
        self.inner.scheduler.unpark_all();
    }

    pub fn waiting_count(&self) -> usize {
        self.inner.scheduler.waiting_count()
    }

    /// Refuses a new transfer of `account` when it already has as many
    /// waiting as [`TransferConfig::max_waiting_per_account`]; the limit.
    pub fn admits(&self, account: &str) -> Result<(), usize> {
        let limit = self.inner.config.max_waiting_per_account;
        if self.inner.scheduler.waiting_of(account) >= limit {
            return Err(limit);
        }
        Ok(())
    }

    /// Refuses a new pull of `account` when it already stores as many
    /// records as [`TransferConfig::max_stored_records_per_account`]; why.
    pub fn admits_pull(&self, account: &str) -> Result<(), String> {
        self.inner
            .check_stored_records(account)
            .map_err(|e| match e {
                StepError::Fail { message, .. } => message,
                other => format!("{other:?}"),
            })
    }
}

/// The writes that create a transfer and its queue entry.
fn stage_new(writes: &mut Writes, transfer: &Transfer) {
    writes.put(TreeId::Transfers, transfer.id.as_bytes(), encode(transfer));
    writes.put(
        TreeId::Queue,
        transfer.id.as_bytes(),
        queue::new_entry(&transfer.account, &transfer.session_id),
    );
    writes.put(
        TreeId::SessionTransfers,
        key(&[&transfer.session_id, &transfer.id]),
        Vec::new(),
    );
}

/// Runs steps until the host stops: as many at once as there are workers,
/// sessions in turn.
async fn dispatch(engine: Arc<Engine>) {
    let mut steps: JoinSet<(String, String, bool)> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, (String, String)> = HashMap::new();
    loop {
        while steps.len() < engine.config.workers {
            let picked = engine
                .scheduler
                .next(|session, transfer, running| engine.eligibility(session, transfer, running));
            let Some((session, transfer)) = picked else {
                break;
            };
            let e = engine.clone();
            let (s, t) = (session.clone(), transfer.clone());
            let handle = steps.spawn(async move {
                let again = e.run_step(&s, &t).await;
                (s, t, again)
            });
            running.insert(handle.id(), (session, transfer));
        }
        tokio::select! {
            Some(done) = steps.join_next_with_id(), if !steps.is_empty() => {
                match done {
                    Ok((id, (session, transfer, again))) => {
                        running.remove(&id);
                        engine.scheduler.finished_slice(&session, &transfer, again);
                    }
                    Err(err) => {
                        // A step panicked: its lease is void; run the transfer again.
                        if let Some((session, transfer)) = running.remove(&err.id()) {
                            tracing::error!(%transfer, %err, "a transfer step panicked; retrying it");
                            engine.scheduler.finished_slice(&session, &transfer, true);
                        }
                    }
                }
            }
            _ = engine.scheduler.wake.notified() => {}
            // Waiting transfers (`not_before`, unconfigured sessions) are looked at again.
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

impl Engine {
    fn eligibility(&self, session_id: &str, transfer_id: &str, running: usize) -> Eligibility {
        // No step can checkpoint while storage refuses writes; the host
        // restarts once it takes them again (store::recovery).
        if self.db.storage_failed() {
            return Eligibility::Later;
        }
        let transfer = match get_json::<Transfer>(&self.db.trees.transfers, transfer_id.as_bytes())
        {
            Ok(Some(t)) => t,
            Ok(None) => return Eligibility::Gone,
            Err(err) => {
                tracing::error!(%err, transfer = %transfer_id, "cannot read a transfer");
                return Eligibility::Later;
            }
        };
        if transfer.is_finished() {
            return Eligibility::Gone;
        }
        if transfer.not_before_ms > now_ms() {
            return Eligibility::Later;
        }
        // What scheduling needs of the session, not the session itself
        // (which may be large): decoded under the scheduler's lock.
        let gate = match self.sessions.gate(session_id) {
            Ok(Some(g)) => g,
            Ok(None) => return Eligibility::Gone,
            Err(_) => return Eligibility::Later,
        };
        let Some(provider) = gate.provider.as_deref() else {
            return Eligibility::Parked;
        };
        if gate.reauth_required {
            return Eligibility::Parked;
        }
        let limit = self.runtime.manifest(provider).map_or(1, |m| {
            steps_per_session(m.rate_limit.max_concurrent, self.config.steps_per_session)
        });
        if running >= limit {
            return Eligibility::Later;
        }
        Eligibility::Run
    }

    /// Runs one step of a transfer; whether it should run again.
    async fn run_step(&self, session_id: &str, transfer_id: &str) -> bool {
        let token = rand::random::<u64>();
        match self.take_lease(transfer_id, token) {
            Ok(true) => {}
            Ok(false) => return false,
            Err(err) => {
                tracing::error!(%err, "cannot lease a transfer; trying again in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return true;
            }
        }
        let step =
            tokio::time::timeout(self.config.lease, self.step(session_id, transfer_id, token));
        let outcome = match step.await {
            Ok(outcome) => outcome,
            Err(_) => Err(StepError::Retry {
                after: None,
                reason: format!(
                    "one step took longer than its {:?} lease",
                    self.config.lease
                ),
            }),
        };
        match outcome {
            Ok(Progress::More) => true,
            Ok(Progress::Done) => false,
            Err(err) => self.after_error(session_id, transfer_id, token, err).await,
        }
    }

    fn take_lease(&self, transfer_id: &str, token: u64) -> Result<bool, StoreError> {
        let queue = &self.db.trees.queue;
        let Some(current) = queue.get(transfer_id)? else {
            return Ok(false);
        };
        let mut entry: QueueEntry = crate::store::decode(&current)?;
        entry.lease = Some(Lease {
            boot: self.boot,
            token,
            until_ms: now_ms() + self.config.lease.as_millis() as u64,
        });
        // Fails only if the entry changed meanwhile (cancelled): then skip.
        Ok(queue
            .compare_and_swap(transfer_id, Some(current), Some(encode(&entry)))?
            .is_ok())
    }

    async fn step(
        &self,
        session_id: &str,
        transfer_id: &str,
        token: u64,
    ) -> Result<Progress, StepError> {
        let Some(mut transfer) =
            get_json::<Transfer>(&self.db.trees.transfers, transfer_id.as_bytes())?
        else {
            return Err(StepError::Lost);
        };
        let Some(session) = self.sessions.get_any(session_id)? else {
            return Err(StepError::Lost);
        };
        let Some(connection) = session.connection.clone() else {
            return Err(StepError::Retry {
                after: None,
                reason: "the session is not configured yet".into(),
            });
        };
        let manifest =
            self.runtime
                .manifest(&connection.provider)
                .map_err(|e| StepError::Fail {
                    error_type: ErrorType::Internal,
                    message: e.to_string(),
                })?;
        let Some(schema) = session.schema(&transfer.endgrate_type) else {
            return Err(StepError::Fail {
                error_type: ErrorType::Internal,
                message: format!("the session has no schema {:?}", transfer.endgrate_type),
            });
        };
        let Some(integration) = schema.integration.clone() else {
            let message = if schema.open_resource {
                format!(
                    "the end user has not chosen which {} data fills {:?}: send them to /session/edit?session_id={}",
                    manifest.display_name, transfer.endgrate_type, session.id
                )
            } else {
                format!(
                    "{} has no integration for {:?}: choose another provider or schema",
                    manifest.display_name, transfer.endgrate_type
                )
            };
            return Err(StepError::Fail {
                error_type: ErrorType::Integration,
                message,
            });
        };
        if transfer.status == Status::Queued {
            transfer.status = Status::Running;
            transfer.started_ms = Some(now_ms());
            transfer.stats.provider = manifest.id.clone();
            transfer.stats.integration = integration.clone();
        }
        let step = Step {
            db: &self.db,
            runtime: &self.runtime,
            public_url: &self.public_url,
            config: &self.config,
            session: &session,
            schema,
            manifest: &manifest,
            integration: &integration,
            connection: Connection {
                key: session.id.clone(),
                api_base: None,
                settings: connection.settings.clone(),
            },
            credentials: &self.credentials,
            token,
        };
        let records_before = transfer.stats.records;
        let (progress, mut writes) = match transfer.method {
            Method::Pull => {
                self.check_stored_records(&transfer.account)?;
                pull::step(&step, &mut transfer).await?
            }
            Method::Push => push::step(&step, &mut transfer).await?,
        };
        transfer.attempts = 0;
        let mut next = None;
        if let Progress::Done = progress {
            transfer.status = Status::Completed;
            transfer.finished_ms = Some(now_ms());
            transfer.stats.batches_queued = 0;
            writes.remove(TreeId::Queue, transfer.id.as_bytes());
            if let Some(hook) = webhook(&transfer, &session, Hook::Completed) {
                let body = json!({
                    "success": true,
                    "transfer_id": transfer.id,
                    "session_id": session.id,
                    "metadata": hook.metadata,
                    "endgrate": { "endgrate_type": transfer.endgrate_type },
                    "completed": true,
                    "transfer_errors": transfer.transfer_errors,
                });
                stage_webhook(&self.db, &mut writes, &session, "completed", &hook, &body)?;
            }
            next = self.next_continuous(&transfer, &session, &mut writes);
        }
        writes.put(TreeId::Transfers, transfer.id.as_bytes(), encode(&transfer));
        commit(&self.db, &transfer.id, Some(token), &writes)?;
        if transfer.method == Method::Pull {
            self.sessions.record_counts().add(
                &transfer.account,
                transfer.stats.records.saturating_sub(records_before),
            );
        }
        self.doorbell.ring();
        if let Progress::Done = progress {
            self.db.flush().await?;
            let _ = self.finished.send(transfer.id.clone());
            tracing::info!(transfer = %transfer.id, method = transfer.method.as_str(), records = transfer.stats.records_transferred, "transfer completed");
            if let Some(next) = next {
                self.scheduler
                    .add(&next.account, &next.session_id, &next.id);
            }
        }
        Ok(progress)
    }

    /// A pull stops, failed with a message saying why, once its account
    /// stores as many records as [`TransferConfig::max_stored_records_per_account`].
    fn check_stored_records(&self, account: &str) -> Result<(), StepError> {
        let Some(limit) = self.config.max_stored_records_per_account else {
            return Ok(());
        };
        let stored = self.sessions.record_counts().of(account);
        if stored < limit {
            return Ok(());
        }
        Err(StepError::Fail {
            error_type: ErrorType::Internal,
            message: stored_records_message(limit),
        })
    }

    /// A continuous data webhook schedules the next pull of the same type.
    fn next_continuous(
        &self,
        done: &Transfer,
        session: &Session,
        writes: &mut Writes,
    ) -> Option<Transfer> {
        let continuous = done.method == Method::Pull
            && webhook(done, session, Hook::Data).is_some_and(|h| h.continuous);
        if !continuous {
            return None;
        }
        let now = now_ms();
        let next = Transfer {
            id: crate::store::new_id(),
            created_ms: now,
            started_ms: None,
            finished_ms: None,
            status: Status::Queued,
            error: None,
            continuous: true,
            not_before_ms: now + self.config.continuous_interval.as_millis() as u64,
            checkpoint: Checkpoint::default(),
            stats: Stats::default(),
            attempts: 0,
            transfer_errors: false,
            ..done.clone()
        };
        stage_new(writes, &next);
        Some(next)
    }

    /// Handles a failed step; whether the transfer should run again.
    async fn after_error(
        &self,
        session_id: &str,
        transfer_id: &str,
        token: u64,
        err: StepError,
    ) -> bool {
        let Ok(Some(mut transfer)) =
            get_json::<Transfer>(&self.db.trees.transfers, transfer_id.as_bytes())
        else {
            return false;
        };
        let Ok(Some(mut session)) = self.sessions.get_any(session_id) else {
            return false;
        };
        let mut writes = Writes::default();
        let again = match err {
            StepError::Lost => return false,
            StepError::Store(err) => {
                tracing::error!(%err, transfer = %transfer_id, "storage failure during a transfer step; retrying");
                transfer.not_before_ms = now_ms() + 1000;
                true
            }
            StepError::Retry { after, reason } => {
                transfer.attempts += 1;
                if transfer.attempts > self.config.max_attempts {
                    let message = format!("gave up after {} attempts: {reason}", transfer.attempts);
                    self.fail(
                        &mut transfer,
                        &session,
                        &mut writes,
                        ErrorType::Upstream,
                        message,
                    )
                } else {
                    let backoff = after.unwrap_or_else(|| {
                        self.config
                            .retry_base
                            .saturating_mul(1 << transfer.attempts.min(16))
                            .min(self.config.retry_max)
                    });
                    tracing::warn!(transfer = %transfer_id, attempt = transfer.attempts, ?backoff, %reason, "transfer step failed; retrying");
                    transfer.stats.batches_fail += 1;
                    transfer.not_before_ms = now_ms() + backoff.as_millis() as u64;
                    true
                }
            }
            StepError::RateLimited { after } => {
                let wait = after.unwrap_or(self.config.retry_base.saturating_mul(4));
                tracing::debug!(transfer = %transfer_id, ?wait, "provider rate limiting; waiting");
                transfer.not_before_ms = now_ms() + wait.as_millis() as u64;
                true
            }
            StepError::Auth(message) => {
                tracing::warn!(session = %session_id, %message, "credentials rejected; the session needs re-authentication");
                if !session.reauth_required {
                    session.reauth_required = true;
                    if let Err(err) = self.sessions.save(&session).await {
                        tracing::error!(%err, "cannot mark the session for re-authentication");
                    }
                    let _ = self.record_error(
                        &transfer,
                        &session,
                        &mut writes,
                        ErrorType::Authentication,
                        message,
                        None,
                        None,
                    );
                }
                // It waits for the end user to sign in again.
                true
            }
            StepError::Fail {
                error_type,
                message,
            } => self.fail(&mut transfer, &session, &mut writes, error_type, message),
        };
        writes.put(TreeId::Transfers, transfer.id.as_bytes(), encode(&transfer));
        match commit(&self.db, transfer_id, Some(token), &writes) {
            Ok(()) => {}
            Err(CommitError::LeaseLost) => return false,
            Err(CommitError::Store(err)) => {
                tracing::error!(%err, "cannot record a transfer's failure");
                return true;
            }
        }
        self.doorbell.ring();
        if !again {
            let _ = self.db.flush().await;
            let _ = self.finished.send(transfer.id.clone());
        }
        again
    }

    /// Ends a transfer as failed; returns `false` (not to run again).
    fn fail(
        &self,
        transfer: &mut Transfer,
        session: &Session,
        writes: &mut Writes,
        error_type: ErrorType,
        message: String,
    ) -> bool {
        tracing::warn!(transfer = %transfer.id, ?error_type, %message, "transfer failed");
        transfer.status = Status::Failed;
        transfer.finished_ms = Some(now_ms());
        transfer.error = Some(message.clone());
        transfer.stats.batches_fail += 1;
        writes.remove(TreeId::Queue, transfer.id.as_bytes());
        let _ = self.record_error(transfer, session, writes, error_type, message, None, None);
        false
    }

    /// Stages an error record and its webhook.
    #[allow(clippy::too_many_arguments)]
    fn record_error(
        &self,
        transfer: &Transfer,
        session: &Session,
        writes: &mut Writes,
        error_type: ErrorType,
        message: String,
        index: Option<usize>,
        internal_id: Option<String>,
    ) -> Result<(), StoreError> {
        stage_error(
            &self.db,
            &self.runtime,
            &self.public_url,
            writes,
            transfer,
            session,
            error_type,
            message,
            index,
            internal_id,
        )
    }
}

/// The transfers of a session, newest first.
/// Pulled records one account may store, unless configured otherwise.
pub const DEFAULT_MAX_STORED_RECORDS: u64 = 10_000_000;

/// Why a pull is refused or stopped by the stored-records cap.
fn stored_records_message(limit: u64) -> String {
    format!(
        "This account stores {limit} pulled records, the most this host keeps for one account; \
         delete sessions whose data has been read (POST /api/session/delete) to make room, \
         then trigger the pull again."
    )
}

pub fn of_session(db: &Db, session_id: &str) -> Result<Vec<Transfer>, StoreError> {
    let mut out = Vec::new();
    for k in db
        .trees
        .session_transfers
        .scan_prefix(crate::store::prefix(session_id))
        .keys()
    {
        let k = k?;
        let id = k.rsplit(|b| *b == 0).next().unwrap_or_default();
        if let Some(t) = get_json::<Transfer>(&db.trees.transfers, id)? {
            out.push(t);
        }
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.created_ms));
    Ok(out)
}

/// Slices of one session that may run at once: the host's per-session cap,
/// and no more than the connector's `max-concurrent` requests in flight,
/// where 0 means the provider sets no such limit (the contract's meaning).
fn steps_per_session(max_concurrent: u32, cap: usize) -> usize {
    match max_concurrent {
        0 => cap.max(1),
        declared => (declared as usize).min(cap).max(1),
    }
}

/// Stages an error of a transfer, and its error webhook.
#[allow(clippy::too_many_arguments)]
pub fn stage_error(
    db: &Db,
    runtime: &Runtime,
    public_url: &str,
    writes: &mut Writes,
    transfer: &Transfer,
    session: &Session,
    error_type: ErrorType,
    message: String,
    index: Option<usize>,
    internal_id: Option<String>,
) -> Result<(), StoreError> {
    let manifest = session.provider().and_then(|p| runtime.manifest(p).ok());
    let integration = manifest.as_ref().and_then(|m| {
        let schema = session.schema(&transfer.endgrate_type)?;
        m.integration(schema.integration.as_deref()?)
    });
    let direction = transfer.method.direction();
    let record = ErrorRecord::new(
        db,
        NewError {
            account: &session.account,
            session_id: &session.id,
            transfer_id: Some(&transfer.id),
            error_type,
            message,
            provider_info: manifest
                .as_ref()
                .map_or(Value::Null, |m| provider_info(m, public_url)),
            integration_info: integration.map_or(Value::Null, |i| integration_info(i, direction)),
            index,
            internal_id,
        },
    )?;
    writes.put(TreeId::Errors, record.key(), encode(&record));
    if let Some(hook) = webhook(transfer, session, Hook::Error) {
        let mut body = record.to_json();
        body["metadata"] = hook.metadata.clone();
        stage_webhook(db, writes, session, "error", &hook, &body)?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
pub enum Hook {
    Data,
    Completed,
    Error,
}

/// The webhook of a transfer: its own, else its session's.
pub fn webhook(transfer: &Transfer, session: &Session, hook: Hook) -> Option<Webhook> {
    let pick = |w: &crate::sessions::Webhooks| match hook {
        Hook::Data => w.data.clone(),
        Hook::Completed => w.completed.clone(),
        Hook::Error => w.error.clone(),
    };
    pick(&transfer.webhooks).or_else(|| pick(&session.options.webhooks))
}

pub fn stage_webhook(
    db: &Db,
    writes: &mut Writes,
    session: &Session,
    event: &str,
    hook: &Webhook,
    body: &Value,
) -> Result<(), StoreError> {
    let delivery = Delivery::new(
        &session.account,
        &session.id,
        event,
        &hook.endpoint,
        body,
        session.options.webhook_concurrency,
    );
    let (k, v) = outbox::entry(db, &delivery)?;
    writes.put(TreeId::Outbox, k.to_vec(), v);
    Ok(())
}

fn renew_lease(db: &Db, transfer_id: &str, token: u64, lease: Duration) -> Result<(), StepError> {
    let queue = &db.trees.queue;
    let Some(current) = queue.get(transfer_id)? else {
        return Err(StepError::Lost);
    };
    let mut entry: QueueEntry = crate::store::decode(&current)?;
    match &mut entry.lease {
        Some(l) if l.token == token => l.until_ms = now_ms() + lease.as_millis() as u64,
        _ => return Err(StepError::Lost),
    }
    match queue.compare_and_swap(transfer_id, Some(current), Some(encode(&entry))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(StepError::Lost),
        Err(e) => Err(StepError::Store(e.into())),
    }
}

/// A connector call's failure, as what the transfer does next.
pub fn classify(provider: &str, err: CallError) -> StepError {
    let named = |m: String| {
        if m.contains(provider) {
            m
        } else {
            format!("{provider}: {m}")
        }
    };
    match err {
        CallError::Connector { error, .. } => match error {
            ConnectorError::Unauthorized(m) => StepError::Auth(named(m)),
            ConnectorError::RateLimited(secs) => StepError::RateLimited {
                after: secs.map(|s| Duration::from_secs(u64::from(s))),
            },
            ConnectorError::Transient(m) => StepError::Retry {
                after: None,
                reason: named(m),
            },
            ConnectorError::InvalidData(m)
            | ConnectorError::NotFound(m)
            | ConnectorError::Fatal(m)
            | ConnectorError::Unsupported(m) => StepError::Fail {
                error_type: ErrorType::Upstream,
                message: named(m),
            },
        },
        CallError::Timeout { .. } => StepError::Retry {
            after: None,
            reason: err.to_string(),
        },
        other => StepError::Fail {
            error_type: ErrorType::Internal,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_max_concurrent_means_no_limit_not_one_step() {
        assert_eq!(steps_per_session(0, 4), 4);
        assert_eq!(steps_per_session(1, 4), 1);
        assert_eq!(steps_per_session(10, 4), 4);
        assert_eq!(steps_per_session(0, 0), 1);
    }
}
