//! Sessions: the link between one of an app's end users and one provider
//! account. A session is created by the app (`initiate`), configured when the
//! end user (or `POST /api/session/credentials`) connects a provider, and
//! deleted with everything it owns, by the app or by the expiry sweeper.
//!
//! - [`model`]: what a session holds.
//! - [`counts`]: how many sessions each account has (for its cap).
//! - [`configuration`]: the configuration object apps read and receive.
//! - [`discovery`]: the provider's own fields and objects a session carries.
//! - [`offering`]: which providers a session offers its end user.
//! - [`grants`]: who may change a session that is already connected.
//! - [`sweeper`]: purges expired sessions.

pub mod configuration;
pub mod counts;
pub mod discovery;
pub mod grants;
pub mod model;
pub mod offering;
pub mod sweeper;

use std::sync::Arc;
use std::time::Duration;

use self::counts::SessionCounts;
use crate::store::record_counts::RecordCounts;
use crate::store::{Db, StoreError, decode, encode, get_json, key, prefix, remove_prefix};
pub use model::{
    ConnectionState, ProviderField, ProviderObject, Session, SessionOptions, SessionSchema,
    UpsertBehaviour, Webhook, Webhooks,
};

/// Sessions live this long unless `save_session` is set.
pub const DEFAULT_TTL: Duration = Duration::from_secs(72 * 3600);

#[derive(Clone)]
pub struct Sessions {
    db: Db,
    counts: Arc<SessionCounts>,
    /// Pulled records stored per account (their transfers go with the session).
    records: Arc<RecordCounts>,
}

/// Why [`Sessions::create`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the account already has {limit} sessions, the most it may have")]
    AccountFull { limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Sessions {
    /// The sessions of `db`, counting each account's from storage.
    pub fn open(db: Db) -> Result<Self, StoreError> {
        let counts = SessionCounts::count(&db.trees.sessions_by_account)?;
        let records = RecordCounts::count(&db.trees.transfers)?;
        Ok(Sessions {
            db,
            counts: Arc::new(counts),
            records: Arc::new(records),
        })
    }

    /// How many pulled records each account stores.
    pub fn record_counts(&self) -> &Arc<RecordCounts> {
        &self.records
    }

    /// Stores a new session (durably), unless its account already has
    /// `limit` sessions.
    pub async fn create(&self, session: &Session, limit: Option<usize>) -> Result<(), CreateError> {
        self.counts
            .reserve(&session.account, limit)
            .map_err(|limit| CreateError::AccountFull { limit })?;
        // The index entry is written last and only then is the count kept:
        // the count is always the index's (a cancelled request cannot undo
        // it after the entry was written, since no await comes between).
        if let Err(e) = self.write_new(session) {
            self.counts.release(&session.account);
            return Err(e.into());
        }
        Ok(self.db.flush().await?)
    }

    fn write_new(&self, session: &Session) -> Result<(), StoreError> {
        let trees = &self.db.trees;
        trees.sessions.insert(&session.id, encode(session))?;
        trees
            .session_gates
            .insert(&session.id, encode(&Gate::of(session)))?;
        trees.sessions_by_account.insert(
            index_key(&session.account, session.created_ms, &session.id),
            &[],
        )?;
        Ok(())
    }

    /// Change links and browser passes of connected sessions.
    pub fn grants(&self) -> grants::Grants {
        grants::Grants::new(self.db.clone())
    }

    /// What the scheduler needs of session `id` (small, whatever the
    /// session's size); `None` once it is deleted.
    pub fn gate(&self, id: &str) -> Result<Option<Gate>, StoreError> {
        if let Some(gate) = get_json(&self.db.trees.session_gates, id.as_bytes())? {
            return Ok(Some(gate));
        }
        // Sessions stored by an earlier version have none yet.
        let Some(session) = self.get_any(id)? else {
            return Ok(None);
        };
        let gate = Gate::of(&session);
        self.db.trees.session_gates.insert(id, encode(&gate))?;
        Ok(Some(gate))
    }

    /// The session `id` if `account` owns it.
    pub fn get(&self, account: &str, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(self.get_any(id)?.filter(|s| s.account == account))
    }

    /// The session `id`, whoever owns it (for the end user's pages and workers).
    pub fn get_any(&self, id: &str) -> Result<Option<Session>, StoreError> {
        get_json(&self.db.trees.sessions, id.as_bytes())
    }

    /// Rewrites a session that still exists (durably). `false` when it was
    /// deleted meanwhile: a write after a wait (a sign-in, a credential
    /// check) never brings a deleted session back.
    pub async fn save(&self, session: &Session) -> Result<bool, StoreError> {
        let value = encode(session);
        let kept = self
            .db
            .trees
            .sessions
            .update_and_fetch(&session.id, |old| old.map(|_| value.clone()))?;
        if kept.is_some() {
            self.db
                .trees
                .session_gates
                .insert(&session.id, encode(&Gate::of(session)))?;
        }
        self.db.flush().await?;
        Ok(kept.is_some())
    }

    /// The account's sessions, newest first.
    pub fn list(
        &self,
        account: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Session>, usize), StoreError> {
        let index = &self.db.trees.sessions_by_account;
        let mut ids = Vec::new();
        for k in index.scan_prefix(prefix(account)).keys().rev() {
            let k = k?;
            let id = k.rsplit(|b| *b == 0).next().unwrap_or_default();
            ids.push(String::from_utf8_lossy(id).into_owned());
        }
        let total = ids.len();
        let mut sessions = Vec::new();
        for id in ids.iter().skip(offset).take(limit) {
            if let Some(s) = self.get_any(id)? {
                sessions.push(s);
            }
        }
        Ok((sessions, total))
    }

    /// Drops each account's oldest errors beyond [`crate::errors::KEPT_PER_ACCOUNT`].
    pub fn prune_errors(&self) -> Result<usize, StoreError> {
        crate::errors::prune(&self.db, crate::errors::KEPT_PER_ACCOUNT)
    }

    /// Drops each account's finished webhook deliveries beyond the newest
    /// [`crate::webhooks::log::KEPT_PER_ACCOUNT`], and those that finished
    /// longer than `retention` ago; how many.
    pub async fn prune_webhook_log(
        &self,
        retention: Option<Duration>,
    ) -> Result<usize, StoreError> {
        let db = self.db.clone();
        // A pass over every account's log: off the async workers.
        tokio::task::spawn_blocking(move || {
            crate::webhooks::log::prune(
                &db,
                crate::webhooks::log::KEPT_PER_ACCOUNT,
                retention,
                crate::store::now_ms(),
            )
        })
        .await?
    }

    /// Drops OAuth sign-ins (`state`s) nobody finished in time; how many.
    pub fn sweep_sign_ins(&self) -> Result<usize, StoreError> {
        crate::credentials::oauth::sweep_sign_ins(&self.db)
    }

    /// Every session that expired before `now_ms`.
    pub fn expired(&self, now_ms: u64) -> Result<Vec<Session>, StoreError> {
        let mut out = Vec::new();
        for value in self.db.trees.sessions.iter().values() {
            let session: Session = decode(&value?)?;
            if session.expires_ms.is_some_and(|t| t <= now_ms) {
                out.push(session);
            }
        }
        Ok(out)
    }

    /// Deletes the session and everything stored for it: credentials,
    /// transfers (which stops those still queued or running), their records,
    /// push journals, id mappings, sync cursors, errors, undelivered
    /// webhooks and the log of its deliveries. Durable when it returns.
    pub async fn delete(&self, session: &Session) -> Result<(), StoreError> {
        let (sessions, session) = (self.clone(), session.clone());
        // Off the async workers: a session with many transfers is many
        // removals, and requests must go on meanwhile.
        tokio::task::spawn_blocking(move || sessions.remove_everything(&session)).await??;
        self.db.flush().await
    }

    /// [`Sessions::delete`] without the flush.
    fn remove_everything(&self, session: &Session) -> Result<(), StoreError> {
        let t = &self.db.trees;
        let id = session.id.as_str();
        // The session goes first: nothing new can start for it after this.
        t.sessions.remove(id)?;
        t.session_gates.remove(id)?;
        // Only the delete that removed the index entry counts it, so two
        // deletes of one session free one place.
        if t.sessions_by_account
            .remove(index_key(&session.account, session.created_ms, id))?
            .is_some()
        {
            self.counts.release(&session.account);
        }
        t.credentials.remove(id)?;
        for k in t.session_transfers.scan_prefix(prefix(id)).keys() {
            let k = k?;
            let transfer =
                String::from_utf8_lossy(k.rsplit(|b| *b == 0).next().unwrap_or_default())
                    .into_owned();
            t.queue.remove(transfer.as_bytes())?;
            if let Some(stored) = t.transfers.remove(transfer.as_bytes())? {
                self.records.remove_stored(&stored);
            }
            remove_prefix(&t.records, &transfer)?;
            remove_prefix(&t.push_items, &transfer)?;
            remove_prefix(&t.push_ops, &transfer)?;
        }
        remove_prefix(&t.session_transfers, id)?;
        remove_prefix(&t.id_map, id)?;
        remove_prefix(&t.sync_state, id)?;
        crate::request_log::remove_session(&self.db, id)?;
        crate::errors::remove_session(&self.db, &session.account, id)?;
        crate::webhooks::outbox::remove_session(&self.db, id)?;
        crate::webhooks::log::remove_session(&self.db, &session.account, id)?;
        Ok(())
    }
}

impl Sessions {
    /// Deletes the records (pulled records, push results, push journals) of
    /// every transfer past its `retention` at `now_ms`, and marks it so
    /// (`records_expired_ms`); how many. The transfer itself, its statistics
    /// and the session's id mappings and sync state stay.
    pub async fn expire_records(
        &self,
        now_ms: u64,
        retention: sweeper::Retention,
    ) -> Result<usize, StoreError> {
        let sessions = self.clone();
        // A pass over every transfer: off the async workers.
        let expired =
            tokio::task::spawn_blocking(move || sessions.expire_now(now_ms, retention)).await??;
        if expired > 0 {
            self.db.flush().await?;
        }
        Ok(expired)
    }

    /// [`Sessions::expire_records`] without the flush.
    fn expire_now(&self, now_ms: u64, retention: sweeper::Retention) -> Result<usize, StoreError> {
        let t = &self.db.trees;
        let due =
            |period: Option<Duration>| period.map(|p| now_ms.saturating_sub(p.as_millis() as u64));
        let (records_due, read_due) = (due(retention.records), due(retention.read_continuous));
        let mut expired = 0;
        for entry in t.transfers.iter() {
            let (key, value) = entry?;
            // Read as JSON rather than as a `Transfer`: only a few members
            // matter here, and the rest is written back as it was.
            let mut transfer: serde_json::Value = decode(&value)?;
            let member = |name: &str| transfer.get(name).and_then(serde_json::Value::as_u64);
            let Some(finished) = member("finished_ms") else {
                continue;
            };
            if member("records_expired_ms").is_some() {
                continue;
            }
            let continuous = transfer
                .get("continuous")
                .and_then(serde_json::Value::as_bool);
            let read_continuous = continuous == Some(true) && member("read_ms").is_some();
            let past = |due: Option<u64>| due.is_some_and(|d| finished <= d);
            if !(past(records_due) || (read_continuous && past(read_due))) {
                continue;
            }
            let id = String::from_utf8_lossy(&key).into_owned();
            remove_prefix(&t.records, &id)?;
            remove_prefix(&t.push_items, &id)?;
            remove_prefix(&t.push_ops, &id)?;
            transfer["records_expired_ms"] = now_ms.into();
            // Only the write that marks it gives its records back, so a
            // session deleted meanwhile is not counted twice.
            if t.transfers
                .compare_and_swap(&key, Some(&value), Some(encode(&transfer)))?
                .is_ok()
            {
                self.records.remove_stored(&value);
                expired += 1;
            }
        }
        Ok(expired)
    }
}

/// What scheduling needs of a session, kept beside it so the scheduler never
/// decodes whole sessions.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Gate {
    /// The connected provider (`None` until the session is configured).
    pub provider: Option<String>,
    pub reauth_required: bool,
}

impl Gate {
    fn of(session: &Session) -> Gate {
        Gate {
            provider: session.provider().map(str::to_owned),
            reauth_required: session.reauth_required,
        }
    }
}

fn index_key(account: &str, created_ms: u64, id: &str) -> Vec<u8> {
    key(&[account, &format!("{created_ms:020}"), id])
}
