//! The durable queue of unfinished transfers and the fair scheduler over it.
//!
//! On disk (`queue` tree) a transfer has an entry from the moment it is
//! accepted until it finishes, holding the lease of the worker running it: a
//! boot id, a token and an expiry. Every checkpoint a worker writes checks its
//! token in the same transaction, so a worker whose lease was taken away (it
//! hung, or the transfer was cancelled) cannot write. After a restart every
//! entry is ready again (leases of an earlier boot are void).
//!
//! In memory the scheduler works in slices (one page of a pull, one batch of a
//! push) and takes sessions in turn, so one huge transfer cannot starve the
//! others; a session runs at most its connection's concurrency limit at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::store::{Db, StoreError, decode, encode};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueEntry {
    pub session_id: String,
    pub lease: Option<Lease>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub boot: u64,
    pub token: u64,
    pub until_ms: u64,
}

/// The in-memory side: which transfers are waiting, per session, in turn.
#[derive(Default)]
pub struct Scheduler {
    state: Mutex<State>,
    pub wake: Notify,
}

#[derive(Default)]
struct State {
    /// Sessions with waiting transfers, in the order they get their turn.
    rotation: VecDeque<String>,
    waiting: HashMap<String, VecDeque<String>>,
    /// Slices running per session.
    running: HashMap<String, usize>,
}

/// Why a waiting transfer cannot run now.
pub enum Eligibility {
    Run,
    /// Not now (session unconfigured, `not_before` ahead, concurrency full).
    Later,
    /// Drop it from the schedule (finished, cancelled, its session deleted).
    Gone,
}

impl Scheduler {
    /// Everything unfinished on disk, for a starting host.
    pub fn load(&self, db: &Db) -> Result<usize, StoreError> {
        let mut n = 0;
        for entry in db.trees.queue.iter() {
            let (k, v) = entry?;
            let entry: QueueEntry = decode(&v)?;
            self.add(&entry.session_id, &String::from_utf8_lossy(&k));
            n += 1;
        }
        Ok(n)
    }

    /// Schedules a transfer (after its queue entry is on disk).
    pub fn add(&self, session_id: &str, transfer_id: &str) {
        let mut s = self.lock();
        let queue = s.waiting.entry(session_id.to_owned()).or_default();
        if !queue.iter().any(|t| t == transfer_id) {
            queue.push_back(transfer_id.to_owned());
        }
        if !s.rotation.iter().any(|x| x == session_id) {
            s.rotation.push_back(session_id.to_owned());
        }
        drop(s);
        self.wake.notify_one();
    }

    /// The next transfer to run a slice of, taking sessions in turn.
    /// `check(session, transfer, running_in_session)` says whether it may run.
    pub fn next(
        &self,
        mut check: impl FnMut(&str, &str, usize) -> Eligibility,
    ) -> Option<(String, String)> {
        let mut s = self.lock();
        for _ in 0..s.rotation.len() {
            let session = s.rotation.pop_front()?;
            let running = s.running.get(&session).copied().unwrap_or(0);
            let mut picked = None;
            if let Some(queue) = s.waiting.get_mut(&session) {
                let mut i = 0;
                while i < queue.len() {
                    match check(&session, &queue[i], running) {
                        Eligibility::Run => {
                            picked = queue.remove(i);
                            break;
                        }
                        Eligibility::Later => i += 1,
                        Eligibility::Gone => {
                            queue.remove(i);
                        }
                    }
                }
            }
            let has_more = s.waiting.get(&session).is_some_and(|q| !q.is_empty());
            if has_more {
                s.rotation.push_back(session.clone());
            } else {
                s.waiting.remove(&session);
            }
            if let Some(transfer) = picked {
                *s.running.entry(session.clone()).or_default() += 1;
                return Some((session, transfer));
            }
        }
        None
    }

    /// A slice ended; `again` puts the transfer back at the end of its
    /// session's line.
    pub fn finished_slice(&self, session_id: &str, transfer_id: &str, again: bool) {
        let mut s = self.lock();
        if let Some(n) = s.running.get_mut(session_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.running.remove(session_id);
            }
        }
        drop(s);
        if again {
            self.add(session_id, transfer_id);
        } else {
            self.wake.notify_one();
        }
    }

    pub fn waiting_count(&self) -> usize {
        self.lock().waiting.values().map(VecDeque::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The queue entry of a new transfer.
pub fn new_entry(session_id: &str) -> Vec<u8> {
    encode(&QueueEntry {
        session_id: session_id.to_owned(),
        lease: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_take_turns() {
        let s = Scheduler::default();
        for t in ["a1", "a2", "a3"] {
            s.add("a", t);
        }
        s.add("b", "b1");
        let run = |_: &str, _: &str, running: usize| {
            if running == 0 {
                Eligibility::Run
            } else {
                Eligibility::Later
            }
        };
        let (first, _) = s.next(run).unwrap();
        let (second, _) = s.next(run).unwrap();
        assert_ne!(first, second, "the second session gets the next turn");
        // Both sessions have one running slice: nothing else may start.
        assert!(s.next(run).is_none());
        s.finished_slice("a", "a1", true);
        let (third, t) = s.next(run).unwrap();
        assert_eq!((third.as_str(), t.as_str()), ("a", "a2"));
    }

    #[test]
    fn gone_transfers_leave_the_schedule() {
        let s = Scheduler::default();
        s.add("a", "a1");
        assert!(s.next(|_, _, _| Eligibility::Gone).is_none());
        assert_eq!(s.waiting_count(), 0);
    }
}
