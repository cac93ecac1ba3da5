//! The dispatcher: takes transfers in turn from the scheduler, runs their
//! steps (as many at once as there are workers, sessions in turn), commits
//! each with its checkpoint, and decides what follows a failed step
//! ([`RetryPolicy`]): a retry after backoff, a wait for re-authentication, or
//! the end of the transfer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::queue::{self, Eligibility, Lease, QueueEntry, Scheduler};
use super::staging::{Hook, stage_error, stage_webhook, webhook};
use super::step::{Decision, Progress, RetryPolicy, Step, StepError};
use super::writes::{CommitError, TreeId, Writes, commit, commit_in_background};
use super::{Checkpoint, Method, Stats, Status, Transfer, TransferConfig, pull, push, stage_new};
use crate::credentials::Credentials;
use crate::errors::ErrorType;
use crate::metrics::TransferKind;
use crate::runtime::Runtime;
use crate::runtime::types::{Connection, Purpose};
use crate::sessions::{Session, Sessions};
use crate::store::{Db, StoreError, encode, get_json, now_ms};
use crate::webhooks::delivery::Doorbell;

pub(super) struct Dispatcher {
    pub(super) db: Db,
    pub(super) runtime: Arc<Runtime>,
    pub(super) sessions: Sessions,
    pub(super) credentials: Credentials,
    pub(super) doorbell: Doorbell,
    pub(super) config: TransferConfig,
    pub(super) scheduler: Scheduler,
    /// The host's address as apps reach it (absolute links in errors).
    pub(super) public_url: String,
    /// Leases of other boots are void.
    pub(super) boot: u64,
    pub(super) finished: broadcast::Sender<String>,
}

/// Runs steps until the host stops: as many at once as there are workers,
/// sessions in turn.
pub(super) async fn dispatch(engine: Arc<Dispatcher>) {
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
                let again = e.run_slice(&s, &t).await;
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

impl Dispatcher {
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

    /// Runs a slice of a transfer under one lease: steps one after another
    /// until the transfer ends, a step fails or [`SLICE`] has passed; whether
    /// it should run again.
    ///
    /// A step's checkpoint is committed in the background while the next
    /// step fetches its page; commits still land strictly in order, and
    /// nothing the next step reads from storage is read before the previous
    /// commit has landed (see [`Dispatcher::settle`]).
    async fn run_slice(&self, session_id: &str, transfer_id: &str) -> bool {
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
        let (mut transfer, session) = match self.load(session_id, transfer_id) {
            Ok(loaded) => loaded,
            Err(err) => {
                return self
                    .after_error(session_id, transfer_id, token, None, err)
                    .await;
            }
        };
        let span = tracing::info_span!(
            "transfer.slice",
            otel.name = %format!("{} {}", transfer.method.as_str(), transfer.endgrate_type),
            session_id = %transfer.session_id,
            transfer_id = %transfer.id,
            provider = %session.provider().unwrap_or_default(),
            endgrate_type = %transfer.endgrate_type,
            trace_id = tracing::field::Empty,
        );
        crate::telemetry::continue_trace(&span, transfer.trace_parent.as_deref());
        self.run_steps(session_id, transfer_id, token, &mut transfer, &session)
            .instrument(span)
            .await
    }

    /// The steps of one slice, until it is used up or the transfer ends.
    async fn run_steps(
        &self,
        session_id: &str,
        transfer_id: &str,
        token: u64,
        transfer: &mut Transfer,
        session: &Session,
    ) -> bool {
        let began = tokio::time::Instant::now();
        let mut pending = None;
        loop {
            let step = tokio::time::timeout(
                self.config.lease,
                self.step(session, transfer, token, &mut pending),
            );
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
            let err = match outcome {
                Ok(Progress::More) if began.elapsed() < SLICE => continue,
                Ok(Progress::More) => match self.settle(&mut pending).await {
                    Ok(()) => return true,
                    Err(err) => err,
                },
                Ok(Progress::Done) => return false,
                // A failure is recorded on top of every earlier page's commit.
                Err(err) => self.settle(&mut pending).await.err().unwrap_or(err),
            };
            let signed_in_ms = session.connection.as_ref().map(|c| c.configured_ms);
            return self
                .after_error(session_id, transfer_id, token, signed_in_ms, err)
                .await;
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

    /// A transfer and its session, as a slice starts.
    fn load(&self, session_id: &str, transfer_id: &str) -> Result<(Transfer, Session), StepError> {
        let transfer = get_json::<Transfer>(&self.db.trees.transfers, transfer_id.as_bytes())?
            .ok_or(StepError::Lost)?;
        let session = self.sessions.get_any(session_id)?.ok_or(StepError::Lost)?;
        Ok((transfer, session))
    }

    /// Runs one step of `transfer` and starts its commit, left in `pending`
    /// (settled here when the transfer is done).
    async fn step(
        &self,
        session: &Session,
        transfer: &mut Transfer,
        token: u64,
        pending: &mut Option<PendingCommit>,
    ) -> Result<Progress, StepError> {
        // Cancelled (or taken over) since the last step: stop before asking
        // the provider for more.
        if !queue::holds_lease(&self.db, &transfer.id, token)? {
            return Err(StepError::Lost);
        }
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
        let starting = transfer.status == Status::Queued;
        if starting {
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
            session,
            schema,
            manifest: &manifest,
            integration: &integration,
            connection: Connection {
                key: session.id.clone(),
                api_base: None,
                settings: connection.settings.clone(),
                purpose: Purpose::Transfer(transfer.id.clone()),
            },
            credentials: &self.credentials,
            token,
        };
        let records_before = transfer.stats.records;
        let moved_before = transfer.stats.records_transferred;
        let (progress, mut writes) = match transfer.method {
            Method::Pull => {
                self.check_stored_records(&transfer.account)?;
                let page = pull::fetch(&step, transfer).await?;
                // Staging reads what earlier pages committed (fingerprints,
                // the listing's seen-markers).
                self.settle(pending).await?;
                pull::stage(&step, transfer, page)?
            }
            Method::Push => {
                // A push step reads its journal first.
                self.settle(pending).await?;
                push::step(&step, transfer).await?
            }
        };
        transfer.attempts = 0;
        let kind = TransferKind::new(&transfer.endgrate_type, transfer.method.as_str());
        if starting {
            self.runtime
                .metrics()
                .transfer_started(&transfer.stats.provider, &kind);
        }
        let mut next = None;
        if let Progress::Done = progress {
            transfer.status = Status::Completed;
            transfer.finished_ms = Some(now_ms());
            transfer.stats.batches_queued = 0;
            writes.remove(TreeId::Queue, transfer.id.as_bytes());
            if let Some(hook) = webhook(transfer, session, Hook::Completed) {
                let body = json!({
                    "success": true,
                    "transfer_id": transfer.id,
                    "session_id": session.id,
                    "metadata": hook.metadata,
                    "endgrate": { "endgrate_type": transfer.endgrate_type },
                    "completed": true,
                    "transfer_errors": transfer.transfer_errors,
                });
                stage_webhook(&self.db, &mut writes, session, "completed", &hook, &body)?;
            }
            next = self.next_continuous(transfer, session, &mut writes);
        }
        writes.put(
            TreeId::Transfers,
            transfer.id.as_bytes(),
            encode(&*transfer),
        );
        *pending = Some(PendingCommit {
            commit: commit_in_background(&self.db, &transfer.id, Some(token), writes),
            account: transfer.account.clone(),
            pulled: match transfer.method {
                Method::Pull => transfer.stats.records.saturating_sub(records_before),
                Method::Push => 0,
            },
            moved: (
                transfer.stats.provider.clone(),
                kind,
                transfer
                    .stats
                    .records_transferred
                    .saturating_sub(moved_before),
            ),
        });
        if let Progress::Done = progress {
            self.settle(pending).await?;
            self.db.flush().await?;
            let _ = self.finished.send(transfer.id.clone());
            self.count_finished(transfer);
            tracing::info!(transfer = %transfer.id, method = transfer.method.as_str(), records = transfer.stats.records_transferred, "transfer completed");
            if let Some(next) = next {
                self.scheduler
                    .add(&next.account, &next.session_id, &next.id);
            }
        }
        Ok(progress)
    }

    /// Waits for the pending commit, if any, and does what follows it.
    /// Cancel-safe: until the commit has landed it stays in `pending`.
    async fn settle(&self, pending: &mut Option<PendingCommit>) -> Result<(), StepError> {
        let Some(p) = pending.as_mut() else {
            return Ok(());
        };
        let landed = (&mut p.commit).await;
        let Some(p) = pending.take() else {
            return Ok(());
        };
        landed??;
        let (provider, kind, moved) = &p.moved;
        self.runtime.metrics().records(provider, kind, *moved);
        if p.pulled > 0 {
            self.sessions.record_counts().add(&p.account, p.pulled);
        }
        self.doorbell.ring();
        Ok(())
    }

    /// A pull stops, failed with a message saying why, once its account
    /// stores as many records as [`TransferConfig::max_stored_records_per_account`].
    fn check_stored_records(&self, account: &str) -> Result<(), StepError> {
        self.stored_records_full(account).map_or(Ok(()), |message| {
            Err(StepError::Fail {
                error_type: ErrorType::Internal,
                message,
            })
        })
    }

    /// Why `account` may pull no more: it stores as many records as
    /// [`TransferConfig::max_stored_records_per_account`]; `None` while it may.
    pub(super) fn stored_records_full(&self, account: &str) -> Option<String> {
        let limit = self.config.max_stored_records_per_account?;
        (self.sessions.record_counts().of(account) >= limit).then(|| stored_records_message(limit))
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
            records_expired_ms: None,
            read_ms: None,
            // A later pull is a trace of its own.
            trace_parent: None,
            cancelled_ms: None,
            retry_of: None,
            ..done.clone()
        };
        stage_new(writes, &next);
        Some(next)
    }

    /// Handles a failed step; whether the transfer should run again.
    /// `signed_in_ms` is when the connection the step used was signed in
    /// (`configured_ms`), if the step got that far.
    async fn after_error(
        &self,
        session_id: &str,
        transfer_id: &str,
        token: u64,
        signed_in_ms: Option<u64>,
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
        let decision = self.policy().decide(&err, transfer.attempts);
        let again = match err {
            StepError::Lost => return false,
            StepError::Store(err) => {
                tracing::error!(%err, transfer = %transfer_id, "storage failure during a transfer step; retrying");
                self.retry_after(&mut transfer, &decision);
                true
            }
            StepError::Retry { reason, .. } => {
                transfer.attempts += 1;
                if decision == Decision::GiveUp {
                    let message = format!("gave up after {} attempts: {reason}", transfer.attempts);
                    self.fail(
                        &mut transfer,
                        &session,
                        &mut writes,
                        ErrorType::Upstream,
                        message,
                    )
                } else {
                    tracing::warn!(transfer = %transfer_id, attempt = transfer.attempts, ?decision, %reason, "transfer step failed; retrying");
                    transfer.stats.batches_fail += 1;
                    self.retry_after(&mut transfer, &decision);
                    true
                }
            }
            StepError::RateLimited { .. } => {
                tracing::debug!(transfer = %transfer_id, ?decision, "provider rate limiting; waiting");
                self.retry_after(&mut transfer, &decision);
                true
            }
            // The end user signed in again while the step was on its way
            // with the credentials they replaced: run again with the new ones
            // rather than ask them to sign in once more.
            StepError::Auth(message)
                if signed_in_ms.is_some()
                    && session.connection.as_ref().map(|c| c.configured_ms) != signed_in_ms =>
            {
                tracing::info!(session = %session_id, %message, "credentials replaced while a step used the old ones; running again");
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
            self.count_finished(&transfer);
        }
        again
    }

    /// Counts a transfer that just ended, completed or failed.
    fn count_finished(&self, transfer: &Transfer) {
        let kind = TransferKind::new(&transfer.endgrate_type, transfer.method.as_str());
        let since = transfer.started_ms.unwrap_or(transfer.created_ms);
        let took = transfer
            .finished_ms
            .unwrap_or_else(now_ms)
            .saturating_sub(since);
        self.runtime.metrics().transfer_finished(
            &transfer.stats.provider,
            &kind,
            transfer.status == Status::Completed,
            Duration::from_millis(took),
        );
    }

    /// The queue's retry policy, from the configuration.
    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: self.config.retry_base,
            max: self.config.retry_max,
            max_attempts: self.config.max_attempts,
        }
    }

    /// Holds `transfer` back as `decision` says.
    fn retry_after(&self, transfer: &mut Transfer, decision: &Decision) {
        if let Decision::Again { after, .. } = decision {
            transfer.not_before_ms = now_ms() + after.as_millis() as u64;
        }
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

/// How long one transfer keeps a worker before the scheduler's next turn:
/// long enough that a pull's pages run back to back (each commit overlapping
/// the next page's fetch), short enough that other transfers are not kept
/// waiting.
const SLICE: Duration = Duration::from_millis(250);

/// A step's checkpoint transaction, running on the blocking pool.
struct PendingCommit {
    commit: tokio::task::JoinHandle<Result<(), CommitError>>,
    account: String,
    /// Records the step added to its account's stored pulled records.
    pulled: u64,
    /// Records the step moved, counted in the metrics once committed:
    /// provider, kind, count.
    moved: (String, TransferKind, u64),
}

/// Why a pull is refused or stopped by the stored-records cap.
fn stored_records_message(limit: u64) -> String {
    format!(
        "This account stores {limit} pulled records, the most this host keeps for one account; \
         delete sessions whose data has been read (POST /api/session/delete) to make room, \
         then trigger the pull again."
    )
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
