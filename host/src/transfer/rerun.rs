//! Running a finished transfer again as a new one: the same session, type,
//! direction, parameters and webhooks, and for a push the same items (copied
//! as they were validated when the push was accepted). The new transfer
//! names the one it repeats (`retry_of`); the old one and its records stay
//! as they were.

use super::writes::{TreeId, Writes};
use super::{Checkpoint, Method, Stats, Status, Transfer};
use crate::store::{Db, StoreError, new_id, prefix};

#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("the transfer has not finished")]
    Unfinished(Status),
    #[error("this push's items were deleted at the end of the retention period")]
    ItemsExpired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The new transfer repeating `old` at `now_ms`, and the writes that store
/// its items (a push's; none for a pull), to be enqueued together.
pub fn rerun(db: &Db, old: &Transfer, now_ms: u64) -> Result<(Transfer, Writes), RerunError> {
    if !old.is_finished() {
        return Err(RerunError::Unfinished(old.status));
    }
    let mut new = Transfer {
        id: new_id(),
        created_ms: now_ms,
        started_ms: None,
        finished_ms: None,
        status: Status::Queued,
        error: None,
        // Like a trigger: a retried continuous re-pull pulls everything.
        continuous: false,
        not_before_ms: 0,
        checkpoint: Checkpoint::default(),
        stats: Stats::default(),
        attempts: 0,
        transfer_errors: false,
        records_expired_ms: None,
        read_ms: None,
        cancelled_ms: None,
        retry_of: Some(old.id.clone()),
        // The retry request's trace, not the original's.
        trace_parent: crate::telemetry::current_trace_parent(),
        ..old.clone()
    };
    let mut writes = Writes::default();
    if old.method == Method::Push {
        if old.records_expired_ms.is_some() {
            return Err(RerunError::ItemsExpired);
        }
        let from = prefix(&old.id);
        let mut copied = 0u64;
        for item in db.trees.push_items.scan_prefix(&from) {
            let (k, v) = item.map_err(StoreError::from)?;
            // `old id \0 index` → `new id \0 index`.
            let mut to = prefix(&new.id);
            to.extend_from_slice(&k[from.len()..]);
            writes.put(TreeId::PushItems, to, v.to_vec());
            copied += 1;
        }
        if copied != old.stats.records {
            return Err(RerunError::ItemsExpired);
        }
        new.stats.records = copied;
    }
    Ok((new, writes))
}
