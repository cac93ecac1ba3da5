//! A transfer step's changes, written in one sled transaction together with
//! the transfer's new checkpoint, and only while the step's worker still holds
//! the transfer's lease. Either all of a step is stored or none of it.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::queue::QueueEntry;
use crate::store::{Db, StoreError, decode};

#[derive(Debug, Clone, Copy)]
pub enum TreeId {
    Transfers,
    Queue,
    Records,
    SyncState,
    Outbox,
    IdMap,
    PushOps,
    Errors,
    SessionTransfers,
    PushItems,
    WebhookLog,
}

#[derive(Debug, Default)]
pub struct Writes {
    ops: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>,
}

impl Writes {
    pub fn put(&mut self, tree: TreeId, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), Some(value.into())));
    }

    pub fn remove(&mut self, tree: TreeId, key: impl Into<Vec<u8>>) {
        self.ops.push((tree, key.into(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The transfer's lease is gone: it was cancelled, or another worker took it.
    #[error("the transfer's lease was lost")]
    LeaseLost,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `writes` if the queue entry of `transfer_id` still holds the lease
/// `token` (no check with `None`).
pub fn commit(
    db: &Db,
    transfer_id: &str,
    token: Option<u64>,
    writes: &Writes,
) -> Result<(), CommitError> {
    let t = &db.trees;
    let _gate = crate::store::write_gate::exclusive();
    let result = (
        &t.transfers,
        &t.queue,
        &t.records,
        &t.sync_state,
        &t.outbox,
        &t.id_map,
        &t.push_ops,
        &t.errors,
        &t.session_transfers,
        &t.push_items,
        &t.webhook_log,
    )
        .transaction(
            |(
                transfers,
                queue,
                records,
                sync_state,
                outbox,
                id_map,
                push_ops,
                errors,
                session_transfers,
                push_items,
                webhook_log,
            )| {
                if let Some(token) = token {
                    let held = match queue.get(transfer_id.as_bytes())? {
                        Some(v) => decode::<QueueEntry>(&v)
                            .ok()
                            .and_then(|e| e.lease)
                            .is_some_and(|l| l.token == token),
                        None => false,
                    };
                    if !held {
                        return Err(ConflictableTransactionError::Abort(()));
                    }
                }
                for (tree, key, value) in &writes.ops {
                    let tree = match tree {
                        TreeId::Transfers => transfers,
                        TreeId::Queue => queue,
                        TreeId::Records => records,
                        TreeId::SyncState => sync_state,
                        TreeId::Outbox => outbox,
                        TreeId::IdMap => id_map,
                        TreeId::PushOps => push_ops,
                        TreeId::Errors => errors,
                        TreeId::SessionTransfers => session_transfers,
                        TreeId::PushItems => push_items,
                        TreeId::WebhookLog => webhook_log,
                    };
                    match value {
                        Some(v) => {
                            tree.insert(key.as_slice(), v.as_slice())?;
                        }
                        None => {
                            tree.remove(key.as_slice())?;
                        }
                    }
                }
                Ok(())
            },
        );
    match result {
        Ok(()) => Ok(()),
        Err(TransactionError::Abort(())) => Err(CommitError::LeaseLost),
        Err(TransactionError::Storage(e)) => Err(CommitError::Store(e.into())),
    }
}

/// [`commit`] on the blocking pool: the transaction may wait for a flush at
/// the write gate (`store::write_gate`), and the async workers must go on
/// serving meanwhile.
pub fn commit_in_background(
    db: &Db,
    transfer_id: &str,
    token: Option<u64>,
    writes: Writes,
) -> tokio::task::JoinHandle<Result<(), CommitError>> {
    let (db, id) = (db.clone(), transfer_id.to_owned());
    tokio::task::spawn_blocking(move || commit(&db, &id, token, &writes))
}
