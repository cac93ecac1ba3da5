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
//! push) and takes accounts in turn, and each account's sessions in turn, so
//! neither one huge transfer nor one busy tenant can starve the others; a
//! session runs at most its connection's concurrency limit at once. Sessions
//! that cannot run until they change (not configured, re-authentication
//! required) are parked out of the rotation until they do.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::store::{Db, StoreError, decode, encode};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueEntry {
    pub session_id: String,
    /// The session's account (absent in entries of earlier versions).
    #[serde(default)]
    pub account: String,
    pub lease: Option<Lease>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub boot: u64,
    pub token: u64,
    pub until_ms: u64,
}

/// The in-memory side: which transfers are waiting, per session and per
/// account, in turn.
#[derive(Default)]
pub struct Scheduler {
    state: Mutex<State>,
    pub wake: Notify,
}

#[derive(Default)]
struct State {
    /// Accounts with sessions in the rotation, in the order they get a turn.
    accounts: VecDeque<String>,
    /// Per account, its sessions in the rotation, in turn.
    sessions: HashMap<String, VecDeque<String>>,
    /// Per session, its waiting transfers (parked sessions' too).
    waiting: HashMap<String, VecDeque<String>>,
    account_of: HashMap<String, String>,
    /// Slices running per session.
    running: HashMap<String, usize>,
    /// Sessions that cannot run until they change (not configured yet, or
    /// waiting for re-authentication): out of the rotation until
    /// [`Scheduler::unpark_all`], so nobody looks at them on every pass.
    parked: HashSet<String>,
}

/// Why a waiting transfer cannot run now.
pub enum Eligibility {
    Run,
    /// Not now (`not_before` ahead, concurrency full).
    Later,
    /// Not until its session changes: the whole session leaves the rotation.
    Parked,
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
            let transfer = String::from_utf8_lossy(&k).into_owned();
            let account = if entry.account.is_empty() {
                crate::store::get_json::<super::Transfer>(&db.trees.transfers, &k)?
                    .map(|t| t.account)
                    .unwrap_or_default()
            } else {
                entry.account
            };
            self.add(&account, &entry.session_id, &transfer);
            n += 1;
        }
        Ok(n)
    }

    /// Schedules a transfer (after its queue entry is on disk).
    pub fn add(&self, account: &str, session_id: &str, transfer_id: &str) {
        let mut s = self.lock();
        let queue = s.waiting.entry(session_id.to_owned()).or_default();
        if !queue.iter().any(|t| t == transfer_id) {
            queue.push_back(transfer_id.to_owned());
        }
        s.account_of
            .insert(session_id.to_owned(), account.to_owned());
        if !s.parked.contains(session_id) {
            s.enter_rotation(account, session_id);
        }
        drop(s);
        self.wake.notify_one();
    }

    /// Puts every parked session back in the rotation (a session was
    /// configured or signed in again).
    pub fn unpark_all(&self) {
        let mut s = self.lock();
        for session in std::mem::take(&mut s.parked) {
            if let Some(account) = s.account_of.get(&session).cloned() {
                s.enter_rotation(&account, &session);
            }
        }
        drop(s);
        self.wake.notify_one();
    }

    /// The next transfer to run a slice of, taking accounts in turn and each
    /// account's sessions in turn. `check(session, transfer,
    /// running_in_session)` says whether it may run.
    pub fn next(
        &self,
        mut check: impl FnMut(&str, &str, usize) -> Eligibility,
    ) -> Option<(String, String)> {
        let mut s = self.lock();
        for _ in 0..s.accounts.len() {
            let account = s.accounts.pop_front()?;
            let turns = s.sessions.get(&account).map_or(0, VecDeque::len);
            let mut picked = None;
            for _ in 0..turns {
                let Some(session) = s.sessions.get_mut(&account).and_then(VecDeque::pop_front)
                else {
                    break;
                };
                let (transfer, stays) = s.pick_in(&session, &mut check);
                if stays && let Some(line) = s.sessions.get_mut(&account) {
                    line.push_back(session.clone());
                }
                if let Some(transfer) = transfer {
                    picked = Some((session, transfer));
                    break;
                }
            }
            if s.sessions.get(&account).is_some_and(|l| !l.is_empty()) {
                s.accounts.push_back(account);
            } else {
                s.sessions.remove(&account);
            }
            if let Some((session, transfer)) = picked {
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
        let account = s.account_of.get(session_id).cloned().unwrap_or_default();
        drop(s);
        if again {
            self.add(&account, session_id, transfer_id);
        } else {
            self.wake.notify_one();
        }
    }

    /// Transfers of `account` waiting for their next slice (parked ones
    /// too; a slice running right now is not counted).
    pub fn waiting_of(&self, account: &str) -> usize {
        let s = self.lock();
        s.waiting
            .iter()
            .filter(|(session, _)| s.account_of.get(*session).is_some_and(|a| a == account))
            .map(|(_, queue)| queue.len())
            .sum()
    }

    pub fn waiting_count(&self) -> usize {
        self.lock().waiting.values().map(VecDeque::len).sum()
    }

    /// Slices running now, across sessions.
    pub fn running_count(&self) -> usize {
        self.lock().running.values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn enter_rotation(&mut self, account: &str, session: &str) {
        let line = self.sessions.entry(account.to_owned()).or_default();
        if !line.iter().any(|x| x == session) {
            line.push_back(session.to_owned());
        }
        if !self.accounts.iter().any(|a| a == account) {
            self.accounts.push_back(account.to_owned());
        }
    }

    /// The first transfer of `session` that may run, and whether the
    /// session stays in the rotation (it has more waiting and is not parked).
    fn pick_in(
        &mut self,
        session: &str,
        check: &mut impl FnMut(&str, &str, usize) -> Eligibility,
    ) -> (Option<String>, bool) {
        let running = self.running.get(session).copied().unwrap_or(0);
        let mut picked = None;
        let mut parked = false;
        if let Some(queue) = self.waiting.get_mut(session) {
            let mut i = 0;
            while i < queue.len() {
                match check(session, &queue[i], running) {
                    Eligibility::Run => {
                        picked = queue.remove(i);
                        break;
                    }
                    Eligibility::Later => i += 1,
                    Eligibility::Parked => {
                        parked = true;
                        break;
                    }
                    Eligibility::Gone => {
                        queue.remove(i);
                    }
                }
            }
        }
        let has_more = self.waiting.get(session).is_some_and(|q| !q.is_empty());
        if !has_more {
            self.waiting.remove(session);
            if !self.running.contains_key(session) {
                self.account_of.remove(session);
            }
        }
        if parked {
            self.parked.insert(session.to_owned());
        }
        (picked, has_more && !parked)
    }
}

/// Whether the worker with lease `token` still holds `transfer_id`: not
/// once the transfer was cancelled (its entry is gone) or its lease was
/// taken over. Workers ask before each step, so a cancel stops them at the
/// next page or batch rather than at their next commit.
pub fn holds_lease(db: &Db, transfer_id: &str, token: u64) -> Result<bool, StoreError> {
    Ok(match db.trees.queue.get(transfer_id)? {
        Some(v) => decode::<QueueEntry>(&v)?
            .lease
            .is_some_and(|l| l.token == token),
        None => false,
    })
}

/// The queue entry of a new transfer.
pub fn new_entry(account: &str, session_id: &str) -> Vec<u8> {
    encode(&QueueEntry {
        session_id: session_id.to_owned(),
        account: account.to_owned(),
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
            s.add("acme", "a", t);
        }
        s.add("acme", "b", "b1");
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
        s.add("acme", "a", "a1");
        assert!(s.next(|_, _, _| Eligibility::Gone).is_none());
        assert_eq!(s.waiting_count(), 0);
    }

    #[test]
    fn accounts_take_turns_whatever_their_number_of_sessions() {
        let s = Scheduler::default();
        for session in ["b1", "b2", "b3", "b4"] {
            s.add("busy", session, &format!("{session}-t"));
        }
        s.add("quiet", "q1", "q1-t");
        let run = |_: &str, _: &str, _: usize| Eligibility::Run;
        let first = s.next(run).unwrap();
        let second = s.next(run).unwrap();
        assert_eq!(first.0, "b1");
        assert_eq!(second.0, "q1", "the quiet account's turn comes second");
    }

    #[test]
    fn parked_sessions_leave_the_rotation_until_unparked() {
        let s = Scheduler::default();
        s.add("acme", "unconfigured", "u1");
        s.add("acme", "unconfigured", "u2");
        let mut looked = 0;
        let mut check = |session: &str, _: &str, _: usize| {
            looked += 1;
            if session == "unconfigured" {
                Eligibility::Parked
            } else {
                Eligibility::Run
            }
        };
        assert!(s.next(&mut check).is_none());
        assert!(s.next(&mut check).is_none());
        assert_eq!(looked, 1, "a parked session is not looked at again");
        assert_eq!(s.waiting_count(), 2, "its transfers wait");
        s.unpark_all();
        assert_eq!(
            s.next(|_, _, _| Eligibility::Run)
                .map(|(_, t)| t)
                .as_deref(),
            Some("u1")
        );
    }
}
