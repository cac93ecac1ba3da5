//! Cancelling a transfer that has not finished: in one transaction it ends
//! `failed`, marked cancelled (`cancelled_ms`, and an error saying so), and
//! loses its queue entry. That entry holds the lease every step's commit
//! checks, so the worker running the transfer stores nothing more and stops
//! at its next page or batch ([`super::queue::holds_lease`]); and a
//! restarting host resumes only transfers with an entry, so it is not
//! resumed. What it stored before stays readable.
//!
//! `failed` because the transfer statuses apps know (`queued`, `running`,
//! `completed`, `failed`) have no cancelled one: the statistics say
//! `cancelled: true` beside it. No error record or error webhook is made:
//! the account asked for it.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Status, Transfer};
use crate::store::{Db, StoreError, decode, encode};

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no transfer with this id")]
    NotFound,
    #[error("the transfer already finished ({0:?})")]
    Finished(Status),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The error a cancelled transfer reports.
pub const CANCELLED: &str = "cancelled on request (POST /api/transfers/{id}/cancel) before it finished; what it stored before stays readable";

/// Cancels transfer `id` of `account` at `now_ms` (not flushed); the
/// transfer as it ended.
pub fn cancel(db: &Db, account: &str, id: &str, now_ms: u64) -> Result<Transfer, CancelError> {
    let t = &db.trees;
    let _gate = crate::store::write_gate::exclusive();
    let ended = (&t.transfers, &t.queue).transaction(|(transfers, queue)| {
        let abort = |e: CancelError| ConflictableTransactionError::Abort(e);
        let Some(bytes) = transfers.get(id.as_bytes())? else {
            return Err(abort(CancelError::NotFound));
        };
        let mut transfer: Transfer = decode(&bytes).map_err(|e| abort(e.into()))?;
        if transfer.account != account {
            return Err(abort(CancelError::NotFound));
        }
        if transfer.is_finished() {
            return Err(abort(CancelError::Finished(transfer.status)));
        }
        transfer.status = Status::Failed;
        transfer.finished_ms = Some(now_ms);
        transfer.cancelled_ms = Some(now_ms);
        transfer.error = Some(CANCELLED.to_owned());
        transfer.stats.batches_queued = 0;
        transfers.insert(id.as_bytes(), encode(&transfer))?;
        queue.remove(id.as_bytes())?;
        Ok(transfer)
    });
    ended.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => CancelError::Store(e.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::queue::{Lease, QueueEntry, holds_lease};
    use crate::transfer::writes::{CommitError, TreeId, Writes, commit};

    fn transfer(id: &str, status: Status) -> Transfer {
        Transfer {
            id: id.into(),
            account: "acme".into(),
            session_id: "s".into(),
            method: crate::transfer::Method::Pull,
            endgrate_type: "crm-contact".into(),
            created_ms: 1,
            started_ms: Some(2),
            finished_ms: None,
            status,
            error: None,
            params: serde_json::Value::Null,
            associations: Vec::new(),
            include_remote_data: false,
            disable_upsert: false,
            sample_data: false,
            webhooks: Default::default(),
            continuous: false,
            not_before_ms: 0,
            checkpoint: Default::default(),
            stats: Default::default(),
            attempts: 0,
            transfer_errors: false,
            records_expired_ms: None,
            read_ms: None,
            cancelled_ms: None,
            retry_of: None,
            trace_parent: None,
        }
    }

    #[test]
    fn a_cancelled_transfer_ends_failed_and_its_worker_can_store_nothing_more() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = Db::open(dir.path()).expect("the database opens");
        let running = transfer("t1", Status::Running);
        db.trees
            .transfers
            .insert("t1", encode(&running))
            .expect("written");
        let leased = QueueEntry {
            session_id: "s".into(),
            account: "acme".into(),
            lease: Some(Lease {
                boot: 1,
                token: 7,
                until_ms: u64::MAX,
            }),
        };
        db.trees
            .queue
            .insert("t1", encode(&leased))
            .expect("written");
        assert!(holds_lease(&db, "t1", 7).expect("read"));

        assert!(matches!(
            cancel(&db, "other", "t1", 5),
            Err(CancelError::NotFound)
        ));
        let ended = cancel(&db, "acme", "t1", 5).expect("cancelled");
        assert_eq!(
            (ended.status, ended.cancelled_ms, ended.finished_ms),
            (Status::Failed, Some(5), Some(5))
        );
        assert!(
            ended
                .error
                .as_deref()
                .is_some_and(|e| e.contains("cancelled"))
        );
        assert!(db.trees.queue.get("t1").expect("read").is_none());
        assert!(!holds_lease(&db, "t1", 7).expect("read"));

        // The worker's next checkpoint is refused.
        let mut writes = Writes::default();
        writes.put(TreeId::Transfers, "t1", encode(&running));
        assert!(matches!(
            commit(&db, "t1", Some(7), &writes),
            Err(CommitError::LeaseLost)
        ));
        let stored: Transfer = crate::store::get_json(&db.trees.transfers, b"t1")
            .expect("read")
            .expect("there");
        assert_eq!(stored.status, Status::Failed);

        assert!(matches!(
            cancel(&db, "acme", "t1", 6),
            Err(CancelError::Finished(Status::Failed))
        ));
        assert!(matches!(
            cancel(&db, "acme", "nope", 6),
            Err(CancelError::NotFound)
        ));
    }
}
