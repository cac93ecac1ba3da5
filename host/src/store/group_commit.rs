//! Durability by group commit: one blocking `flush` at a time, each covering
//! every caller that asked before it started.
//!
//! sled 0.34's own `flush_async` deadlocks when many callers await it at once
//! (spacejam/sled#1308, unfixed in any release): every sled I/O thread ends up
//! waiting in `make_stable` for a buffer write that no free thread is left to
//! perform. Here callers take a ticket after their write; one of them (the
//! leader) notes the newest ticket, runs sled's blocking `flush` on tokio's
//! blocking pool, and marks everything up to that ticket durable. Callers whose
//! ticket a finished flush already covers return without flushing, so 64
//! concurrent writers cost a handful of fsyncs rather than 64.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

use super::StoreError;

pub struct GroupCommit {
    db: sled::Db,
    /// Tickets handed out; a ticket is taken after the caller's write.
    issued: AtomicU64,
    /// The newest ticket a completed flush covers. Held while flushing, so
    /// one flush runs at a time.
    durable: tokio::sync::Mutex<u64>,
    /// Set by the first failed flush: sled refuses every write after one
    /// (see [`super::recovery`]).
    failed: AtomicBool,
    failure: Notify,
}

impl GroupCommit {
    pub fn new(db: sled::Db) -> Self {
        GroupCommit {
            db,
            issued: AtomicU64::new(0),
            durable: tokio::sync::Mutex::new(0),
            failed: AtomicBool::new(false),
            failure: Notify::new(),
        }
    }

    /// Whether a flush has failed since the database was opened.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Resolves once a flush has failed.
    pub async fn failure(&self) {
        while !self.failed() {
            self.failure.notified().await;
        }
    }

    /// Waits until everything this caller wrote before calling is on disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut durable = self.durable.lock().await;
        if *durable >= ticket {
            return Ok(());
        }
        // Every write behind a ticket up to `covers` happened before this
        // flush starts, so the flush makes them durable.
        let covers = self.issued.load(Ordering::SeqCst);
        let db = self.db.clone();
        let flushed = tokio::task::spawn_blocking(move || {
            let _gate = super::write_gate::flushing();
            db.flush()
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("the flush task failed: {e}")))
        .and_then(|r| r.map_err(StoreError::from));
        match flushed {
            Ok(_) => {
                *durable = covers;
                Ok(())
            }
            Err(e) => {
                if !self.failed.swap(true, Ordering::SeqCst) {
                    tracing::error!(error = %e, "storage failure: writes are refused until the data directory is writable again");
                }
                self.failure.notify_one();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What deadlocked with `flush_async`: hundreds of writers flushing at
    /// once. Each must return, and its write must be in the database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_all_return() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = sled::open(dir.path()).expect("sled opens");
        let commits = std::sync::Arc::new(GroupCommit::new(db.clone()));
        let mut writers = tokio::task::JoinSet::new();
        for i in 0u32..400 {
            let (db, commits) = (db.clone(), commits.clone());
            writers.spawn(async move {
                db.insert(i.to_be_bytes(), &[1u8][..])?;
                commits.flush().await?;
                Ok::<u32, StoreError>(i)
            });
        }
        let all = tokio::time::timeout(std::time::Duration::from_secs(120), async {
            let mut done = 0;
            while let Some(r) = writers.join_next().await {
                r.expect("a writer").expect("its flush");
                done += 1;
            }
            done
        })
        .await
        .expect("every flush returns (no deadlock)");
        assert_eq!(all, 400);
        assert_eq!(db.len(), 400);
    }
}
