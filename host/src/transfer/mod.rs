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
//! - this module: the façade the API uses ([`Transfers`], [`TransferConfig`]).
//! - [`dispatcher`]: runs steps, commits them, decides what follows a failure.
//! - [`step`]: what one step is given, how it fails, and the retry policy.
//! - [`staging`]: error records and webhooks staged with a step's commit.
//! - [`model`]: the transfer record.  - [`queue`]: leases and fair scheduling.
//! - [`pull`], [`push`]: one step of each.  - [`writes`]: atomic commits.
//! - [`cancel`]: stopping one.  - [`rerun`]: running a finished one again.

pub mod cancel;
mod dispatcher;
pub mod model;
pub mod pull;
pub mod push;
pub mod queue;
pub mod records;
pub mod rerun;
pub mod staging;
pub mod step;
pub mod writes;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::credentials::Credentials;
use crate::runtime::Runtime;
use crate::sessions::Sessions;
use crate::store::{Db, StoreError, encode, get_json, key, now_ms};
use crate::webhooks::delivery::Doorbell;
use dispatcher::Dispatcher;
pub use model::{Checkpoint, Method, Stats, Status, Transfer};
use queue::Scheduler;
pub use staging::{Hook, stage_error, stage_webhook, webhook};
pub use step::{Decision, Progress, RetryPolicy, Step, StepError, classify};
use writes::{CommitError, TreeId, Writes, commit_in_background};

/// What the metrics say of the queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueGauges {
    /// Transfers waiting for their next slice.
    pub waiting: usize,
    /// Slices running now.
    pub running: usize,
    /// Age of the oldest transfer not finished yet.
    pub oldest_unfinished: Option<Duration>,
}

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

/// Pulled records one account may store, unless configured otherwise.
pub const DEFAULT_MAX_STORED_RECORDS: u64 = 10_000_000;

#[derive(Clone)]
pub struct Transfers {
    inner: Arc<Dispatcher>,
}
impl Transfers {
    /// Loads the unfinished transfers and starts the dispatcher on the
    /// current runtime (everything it runs is spawned there too).
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
        let engine = Arc::new(Dispatcher {
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
        let dispatcher = tokio::spawn(dispatcher::dispatch(engine.clone()));
        Ok((Transfers { inner: engine }, dispatcher))
    }

    /// Stores a new transfer with its queue entry (and, for pushes, its
    /// items) in one transaction, durably, then schedules it.
    pub async fn enqueue(&self, transfer: &Transfer, mut extra: Writes) -> Result<(), StoreError> {
        stage_new(&mut extra, transfer);
        // Off the async workers: the transaction waits at the write gate
        // while a flush runs, and other requests must go on meanwhile.
        commit_in_background(&self.inner.db, &transfer.id, None, extra)
            .await?
            .map_err(|e| match e {
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

    /// Cancels transfer `id` of `account` (see [`cancel`]), durably; the
    /// transfer as it ended. Whoever waits for it (`synchronous`) is woken.
    pub async fn cancel(&self, account: &str, id: &str) -> Result<Transfer, cancel::CancelError> {
        let (db, owner, transfer_id) = (self.inner.db.clone(), account.to_owned(), id.to_owned());
        // A transaction: off the async workers (it may wait for a flush).
        let ended = tokio::task::spawn_blocking(move || {
            cancel::cancel(&db, &owner, &transfer_id, crate::store::now_ms())
        })
        .await
        .map_err(StoreError::from)??;
        self.inner.db.flush().await?;
        let _ = self.inner.finished.send(ended.id.clone());
        tracing::info!(transfer = %ended.id, "transfer cancelled");
        Ok(ended)
    }

    /// Queues a new transfer that runs the finished `old` again (see
    /// [`rerun`]), durably; the new transfer.
    pub async fn retry(&self, old: &Transfer) -> Result<Transfer, rerun::RerunError> {
        let (db, original) = (self.inner.db.clone(), old.clone());
        // A push's items are copied: off the async workers.
        let (new, items) = tokio::task::spawn_blocking(move || {
            rerun::rerun(&db, &original, crate::store::now_ms())
        })
        .await
        .map_err(StoreError::from)??;
        self.enqueue(&new, items).await?;
        Ok(new)
    }

    /// A transfer by its id alone, whichever account's (the public
    /// statistics, whose only key is the unguessable id).
    pub fn get_any(&self, id: &str) -> Result<Option<Transfer>, StoreError> {
        get_json::<Transfer>(&self.inner.db.trees.transfers, id.as_bytes())
    }

    /// The transfers of a session, newest first.
    pub fn of_session(&self, session_id: &str) -> Result<Vec<Transfer>, StoreError> {
        of_session(&self.inner.db, session_id)
    }

    /// Writes records `offset..offset + limit` of `transfer` (pulled records,
    /// or push results) into `out` as JSON array members; how many.
    pub fn read_records(
        &self,
        transfer: &Transfer,
        offset: u64,
        limit: u64,
        out: &mut Vec<u8>,
    ) -> Result<u64, StoreError> {
        records::read_into(
            &self.inner.db.trees.records,
            &transfer.id,
            offset,
            limit,
            out,
        )
    }

    /// Notes that the app has read a continuous re-pull's records to the
    /// end, once (the sweeper deletes them a while later). Not flushed:
    /// should the note be lost in a crash, the records stay longer.
    pub fn mark_read(&self, transfer: &Transfer) -> Result<(), StoreError> {
        if !transfer.continuous || transfer.read_ms.is_some() {
            return Ok(());
        }
        let tree = &self.inner.db.trees.transfers;
        let Some(current) = tree.get(transfer.id.as_bytes())? else {
            return Ok(());
        };
        let mut stored: Transfer = crate::store::decode(&current)?;
        if stored.read_ms.is_some() {
            return Ok(());
        }
        stored.read_ms = Some(now_ms());
        // Whoever changed it meanwhile (the sweeper) wins; the next read
        // notes it again.
        let _ =
            tree.compare_and_swap(transfer.id.as_bytes(), Some(current), Some(encode(&stored)))?;
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

    /// A session was configured or signed in again: its parked transfers
    /// are looked at again.
    pub fn wake(&self) {
        self.inner.scheduler.unpark_all();
    }

    pub fn waiting_count(&self) -> usize {
        self.inner.scheduler.waiting_count()
    }

    /// The queue as the metrics report it. Reads every unfinished
    /// transfer: call it off the async workers.
    pub fn queue_gauges(&self) -> QueueGauges {
        let db = &self.inner.db;
        let now = now_ms();
        let oldest = db
            .trees
            .queue
            .iter()
            .keys()
            .filter_map(|id| get_json::<Transfer>(&db.trees.transfers, &id.ok()?).ok()?)
            .map(|t| t.created_ms)
            .min();
        QueueGauges {
            waiting: self.inner.scheduler.waiting_count(),
            running: self.inner.scheduler.running_count(),
            oldest_unfinished: oldest
                .map(|created| Duration::from_millis(now.saturating_sub(created))),
        }
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
        self.inner.stored_records_full(account).map_or(Ok(()), Err)
    }
}

/// The writes that create a transfer and its queue entry.
pub(crate) fn stage_new(writes: &mut Writes, transfer: &Transfer) {
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

/// The transfers of a session, newest first.
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
