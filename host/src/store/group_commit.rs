//! Durability by group commit: one flusher thread runs sled's blocking
//! `flush` whenever someone waits for one, and each flush covers every
//! caller that asked before it started.
//!
//! sled 0.34's own `flush_async` deadlocks when many callers await it at once
//! (spacejam/sled#1308, unfixed in any release): every sled I/O thread ends up
//! waiting in `make_stable` for a buffer write that no free thread is left to
//! perform. Here callers take a ticket after their write and wait until the
//! flusher publishes a durable ticket at least as new. Nothing is held while
//! they wait, so a caller on a busy (or low-priority) thread never keeps the
//! others from their flush, and 64 concurrent writers cost a handful of
//! fsyncs rather than 64.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::{Notify, watch};

use super::StoreError;

pub struct GroupCommit {
    shared: Arc<Shared>,
    /// What the flusher made durable so far.
    durable: watch::Receiver<Durable>,
    flusher: Option<JoinHandle<()>>,
}

/// What callers and the flusher share.
struct Shared {
    /// Tickets handed out; a ticket is taken after the caller's write.
    issued: AtomicU64,
    /// The newest ticket someone waits for, and whether to stop.
    wanted: Mutex<Wanted>,
    asked: Condvar,
    /// Set by the first failed flush: sled refuses every write after one
    /// (see [`super::recovery`]).
    failed: AtomicBool,
    failure: Notify,
    /// Where each flush's duration goes, once the host's metrics exist.
    flush_latency: OnceLock<Histogram>,
}

#[derive(Default)]
struct Wanted {
    ticket: u64,
    stop: bool,
}

/// The outcome of the latest flush.
#[derive(Clone, Copy, Default)]
struct Durable {
    /// Every write behind a ticket up to this one is on disk.
    ticket: u64,
    /// Flushes that failed so far; a caller waiting through one fails.
    failures: u64,
}

impl GroupCommit {
    pub fn new(db: sled::Db) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared {
            issued: AtomicU64::new(0),
            wanted: Mutex::new(Wanted::default()),
            asked: Condvar::new(),
            failed: AtomicBool::new(false),
            failure: Notify::new(),
            flush_latency: OnceLock::new(),
        });
        let (publish, durable) = watch::channel(Durable::default());
        let flusher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("switchyard-flush".into())
                .spawn(move || flusher(&db, &shared, &publish))
                .map_err(StoreError::Flusher)?
        };
        Ok(GroupCommit {
            shared,
            durable,
            flusher: Some(flusher),
        })
    }

    /// Records each flush's duration in `histogram` from now on (the first
    /// histogram given stays).
    pub fn observe_flushes(&self, histogram: Histogram) {
        let _ = self.shared.flush_latency.set(histogram);
    }

    /// Whether a flush has failed since the database was opened.
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::SeqCst)
    }

    /// Resolves once a flush has failed.
    pub async fn failure(&self) {
        while !self.failed() {
            self.shared.failure.notified().await;
        }
    }

    /// Waits until everything this caller wrote before calling is on disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        // Failures are counted before the ticket is taken: a flush that
        // fails after it, covering it or not, fails this caller.
        let mut durable = self.durable.clone();
        let failures_before = durable.borrow_and_update().failures;
        let ticket = self.shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut wanted = self
                .shared
                .wanted
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            wanted.ticket = wanted.ticket.max(ticket);
        }
        self.shared.asked.notify_one();
        loop {
            let now = *durable.borrow_and_update();
            if now.ticket >= ticket {
                return Ok(());
            }
            if now.failures > failures_before {
                return Err(StoreError::Corrupt(
                    "the database could not write to disk".into(),
                ));
            }
            if durable.changed().await.is_err() {
                return Err(StoreError::Corrupt("the flusher stopped".into()));
            }
        }
    }
}

impl Drop for GroupCommit {
    /// Stops the flusher and waits for it, so that the database is free for
    /// the next host on the same data once this one is gone.
    fn drop(&mut self) {
        self.shared
            .wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop = true;
        self.shared.asked.notify_one();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

/// The flusher thread: flushes whenever a ticket newer than the last durable
/// one is wanted, until told to stop.
fn flusher(db: &sled::Db, shared: &Shared, publish: &watch::Sender<Durable>) {
    let mut done = 0u64;
    loop {
        {
            let mut wanted = shared.wanted.lock().unwrap_or_else(PoisonError::into_inner);
            while wanted.ticket <= done && !wanted.stop {
                wanted = shared
                    .asked
                    .wait(wanted)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if wanted.stop {
                return;
            }
        }
        // Every write behind a ticket up to `covers` happened before this
        // flush starts, so the flush makes them durable.
        let covers = shared.issued.load(Ordering::SeqCst);
        let started = std::time::Instant::now();
        let flushed = {
            let _gate = super::write_gate::flushing();
            db.flush()
        };
        if let Some(histogram) = shared.flush_latency.get() {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        match flushed {
            Ok(_) => {
                done = covers;
                publish.send_modify(|d| d.ticket = covers);
            }
            Err(e) => {
                if !shared.failed.swap(true, Ordering::SeqCst) {
                    tracing::error!(error = %e, "storage failure: writes are refused until the data directory is writable again");
                }
                shared.failure.notify_one();
                // The callers waiting fail; the next one to ask tries again.
                done = covers;
                publish.send_modify(|d| d.failures += 1);
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
        let commits = std::sync::Arc::new(GroupCommit::new(db.clone()).unwrap());
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

    /// Dropping it lets go of the database: it opens again at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_it_releases_the_database() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = sled::open(dir.path()).expect("sled opens");
        let commits = GroupCommit::new(db.clone()).unwrap();
        db.insert(b"k", b"v").unwrap();
        commits.flush().await.unwrap();
        drop(commits);
        drop(db);
        let again = sled::open(dir.path()).expect("the database is free");
        assert_eq!(again.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}
