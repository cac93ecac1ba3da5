//! Keeps sled's flush and its exclusive writes (transactions and batches)
//! apart, because together they can deadlock the whole process.
//!
//! sled 0.34 guards its trees with one process-wide reader-writer lock:
//! plain reads and writes share it, transactions and `apply_batch` take it
//! exclusively. `flush` holds it shared while it waits for the background
//! log flusher, and that flusher takes it shared too. If a transaction asks
//! for it exclusively in between, the lock (which lets a waiting writer go
//! first) makes the flusher wait for the transaction, the transaction wait
//! for the flush, and the flush wait for the flusher: every thread that
//! touches storage stops. (Seen in the full-disk test: the host stopped
//! answering, its workers parked in sled's `concurrency_control`.)
//!
//! So a flush holds this gate shared and an exclusive write holds it
//! exclusively: an exclusive write waits for running flushes (which then
//! finish, nothing stands between them and the flusher) instead of queueing
//! inside sled where it blocks them.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

/// Held for the duration of a sled `flush`.
pub fn flushing() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|p| p.into_inner())
}

/// Held for the duration of a sled transaction or `apply_batch`.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    GATE.write().unwrap_or_else(|p| p.into_inner())
}
