//! State on disk, in an embedded sled database under the data directory.
//!
//! Each kind of record has its own tree (listed in [`Trees`]); the modules that
//! own a kind of record read and write it through the JSON helpers here.
//! Writes that must happen together go in one sled transaction over several
//! trees. sled flushes on a timer, so every write the API acknowledges is
//! followed by [`Db::flush`] before the answer goes out: a 2xx means it is on
//! disk. Flushes are grouped (see [`group_commit`]).

mod group_commit;
pub mod record_counts;
pub mod recovery;
pub mod write_gate;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Tree;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database could not be opened at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("storage failure: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored record is damaged ({0})")]
    Corrupt(String),
    #[error("the thread that flushes the database could not start: {0}")]
    Flusher(std::io::Error),
    #[error("a storage task on the blocking pool stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// Every tree, by what it holds. Keys join ids with `\0`; free text supplied
/// by users (internal ids) only ever comes last.
#[derive(Clone)]
pub struct Trees {
    /// Host-wide settings (the admin key's hash).
    pub meta: Tree,
    /// account name → [`crate::accounts::Account`].
    pub accounts: Tree,
    /// key id → API key record; `api_key_hashes`: sha256(key) → key id.
    pub api_keys: Tree,
    pub api_key_hashes: Tree,
    /// session id → session; `sessions_by_account`: account \0 created \0 id;
    /// `session_gates`: session id → what the scheduler needs of it.
    pub sessions: Tree,
    pub session_gates: Tree,
    pub sessions_by_account: Tree,
    /// session id → sealed credentials.
    pub credentials: Tree,
    /// OAuth2 `state` → pending authorization (single use).
    pub oauth_states: Tree,
    /// sha256 of a change link or a browser pass → what it allows, until when.
    pub session_grants: Tree,
    /// account \0 list id → provider list.
    pub provider_lists: Tree,
    /// transfer id → transfer (status, checkpoint, statistics).
    pub transfers: Tree,
    /// session \0 transfer id → (): the transfers of a session.
    pub session_transfers: Tree,
    /// transfer id → queue entry (lease); present while the transfer is unfinished.
    pub queue: Tree,
    /// transfer id \0 seq → pulled record or push result, in order.
    pub records: Tree,
    /// transfer id \0 index → push item as given.
    pub push_items: Tree,
    /// transfer id \0 op → push operation journal (exactly-once creation).
    pub push_ops: Tree,
    /// session \0 type \0 internal id → provider id.
    pub id_map: Tree,
    /// session \0 type \0 record id → content hash (sync pulls); session \0 type → since.
    pub sync_state: Tree,
    /// account \0 pk → error.
    pub errors: Tree,
    /// seq → webhook delivery (`n` seq until the deliverer saw it; see
    /// [`crate::webhooks::outbox`]).
    pub outbox: Tree,
    /// session \0 time seq → [`crate::request_log::LoggedRequest`].
    pub request_log: Tree,
    /// account \0 seq → what happened to webhook delivery `seq` (its
    /// attempts and state); `webhook_bodies`: account \0 seq → the body of
    /// one that left the outbox (see [`crate::webhooks::log`]).
    pub webhook_log: Tree,
    pub webhook_bodies: Tree,
}

#[derive(Clone)]
pub struct Db {
    db: sled::Db,
    commits: Arc<group_commit::GroupCommit>,
    /// One count per clone of this handle (see [`Db::released`]).
    holders: Arc<()>,
    pub trees: Trees,
}

/// Keys of the `meta` tree.
const ADMIN_KEY_HASH: &[u8] = b"admin_key_sha256";

/// How much memory the database keeps as its cache of pages by default
/// (sled's own default is 1 GiB, most of a small machine's memory).
pub const DEFAULT_CACHE_MIB: u64 = 128;

impl Db {
    /// Opens (or creates) the database with the default cache. Only one
    /// process may hold it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_MIB << 20)
    }

    /// [`Db::open`] with a cache of at most `cache_bytes`.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        let trees = Trees {
            meta: db.open_tree("meta")?,
            accounts: db.open_tree("accounts")?,
            api_keys: db.open_tree("api_keys")?,
            api_key_hashes: db.open_tree("api_key_hashes")?,
            sessions: db.open_tree("sessions")?,
            session_gates: db.open_tree("session_gates")?,
            sessions_by_account: db.open_tree("sessions_by_account")?,
            credentials: db.open_tree("credentials")?,
            oauth_states: db.open_tree("oauth_states")?,
            session_grants: db.open_tree("session_grants")?,
            provider_lists: db.open_tree("provider_lists")?,
            transfers: db.open_tree("transfers")?,
            session_transfers: db.open_tree("session_transfers")?,
            queue: db.open_tree("queue")?,
            records: db.open_tree("records")?,
            push_items: db.open_tree("push_items")?,
            push_ops: db.open_tree("push_ops")?,
            id_map: db.open_tree("id_map")?,
            sync_state: db.open_tree("sync_state")?,
            errors: db.open_tree("errors")?,
            outbox: db.open_tree("outbox")?,
            request_log: db.open_tree("request_log")?,
            webhook_log: db.open_tree("webhook_log")?,
            webhook_bodies: db.open_tree("webhook_bodies")?,
        };
        let commits = Arc::new(group_commit::GroupCommit::new(db.clone())?);
        Ok(Db {
            db,
            commits,
            holders: Arc::new(()),
            trees,
        })
    }

    pub fn admin_key_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(self
            .trees
            .meta
            .get(ADMIN_KEY_HASH)?
            .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok()))
    }

    pub async fn set_admin_key_hash(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        self.trees.meta.insert(ADMIN_KEY_HASH, &hash[..])?;
        self.flush().await
    }

    /// A number never handed out before (monotonic across restarts).
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// Waits until everything written so far is durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.commits.flush().await
    }

    /// Records each flush's duration in `histogram` from now on.
    pub fn observe_flushes(&self, histogram: prometheus_client::metrics::histogram::Histogram) {
        self.commits.observe_flushes(histogram);
    }

    /// Waits (at most `limit`) until this is the last handle of the
    /// database, so that dropping it closes the database and frees it for
    /// the next process; whether it is. A stopping host calls it: a task it
    /// aborted may still be finishing a write on the blocking pool.
    pub async fn released(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while Arc::strong_count(&self.holders) > 1 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        true
    }

    /// Whether writes have failed since the database was opened (see
    /// [`recovery`]).
    pub fn storage_failed(&self) -> bool {
        self.commits.failed()
    }
}

/// Reads a JSON record.
pub fn get_json<T: DeserializeOwned>(tree: &Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
    match tree.get(key)? {
        Some(bytes) => decode(&bytes).map(Some),
        None => Ok(None),
    }
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising plain data structures to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `a \0 b \0 c`.
pub fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

/// `prefix \0` followed by a big-endian sequence number, so keys sort in order.
pub fn seq_key(prefix: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 9);
    k.extend_from_slice(prefix.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The prefix of every key that starts with `prefix \0`.
pub fn prefix(prefix: &str) -> Vec<u8> {
    let mut k = prefix.as_bytes().to_vec();
    k.push(0);
    k
}

/// Removes every key under `prefix \0` of `tree`.
pub fn remove_prefix(tree: &Tree, p: &str) -> Result<usize, StoreError> {
    let mut batch = sled::Batch::default();
    let mut n = 0;
    for entry in tree.scan_prefix(prefix(p)).keys() {
        batch.remove(entry?);
        n += 1;
    }
    let _gate = write_gate::exclusive();
    tree.apply_batch(batch)?;
    Ok(n)
}

/// A random id of 24 hex digits (the shape Endgrate's ids have).
pub fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stopping host waits for every other handle of the database; once
    /// the last one goes, the database opens again in the same process.
    #[tokio::test]
    async fn released_waits_for_every_other_handle() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = Db::open(dir.path()).unwrap();
        let other = db.clone();
        assert!(!db.released(std::time::Duration::from_millis(20)).await);
        drop(other);
        assert!(db.released(std::time::Duration::ZERO).await);
        drop(db);
        assert!(Db::open(dir.path()).is_ok(), "the database is free again");
    }
}
