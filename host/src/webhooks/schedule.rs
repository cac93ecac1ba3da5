//! Which deliveries may start, kept in memory so choosing costs nothing per
//! waiting delivery: each account's ready deliveries by due time, each
//! ordered session's deliveries by creation, and the in-flight caps.
//!
//! - A session without `webhook_concurrency` has one delivery at a time: only
//!   its oldest undelivered one is ever ready, and only while none of its
//!   deliveries is in flight, so the rest wait however many there are.
//! - At most `max` deliveries are in flight in all, and `per_account` of one
//!   account, so one account's slow or dead receivers cannot take every slot.
//!   Accounts take free slots by the due time of their earliest ready
//!   delivery.
//!
//! Built from the outbox when the deliverer starts ([`super::outbox::settled`])
//! and told of arrivals and of each attempt's outcome; it never reads the
//! outbox itself.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::outbox::Summary;

/// Due time (ms), then sequence number: the order in which ready deliveries
/// of one account start.
type Slot = (u64, u64);

#[derive(Default)]
struct Account {
    ready: BTreeSet<Slot>,
    in_flight: usize,
}

/// An ordered session's undelivered deliveries.
#[derive(Default)]
struct Session {
    account: String,
    /// By sequence number: the first is the one to deliver next.
    queue: BTreeSet<u64>,
    /// Its first delivery is in flight.
    busy: bool,
    /// Where the first delivery stands in its account's `ready`, if it does.
    ready: Option<Slot>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Out of the outbox: delivered, given up on, or its session is gone.
    Removed,
    /// To be tried again at `due_ms`; `moved` if its record now is under its
    /// settled key (else it stayed where it was).
    Retry { due_ms: u64, moved: bool },
}

pub struct Schedule {
    max: usize,
    per_account: usize,
    items: HashMap<u64, Summary>,
    accounts: HashMap<String, Account>,
    sessions: HashMap<String, Session>,
    running: HashSet<u64>,
}

impl Schedule {
    pub fn new(max: usize, per_account: usize) -> Self {
        Schedule {
            max: max.max(1),
            per_account: per_account.max(1),
            items: HashMap::new(),
            accounts: HashMap::new(),
            sessions: HashMap::new(),
            running: HashSet::new(),
        }
    }

    /// Deliveries known (waiting or in flight).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.items.contains_key(&seq)
    }

    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// Whether `seq` is in flight.
    pub fn is_running(&self, seq: u64) -> bool {
        self.running.contains(&seq)
    }

    /// Takes note of a delivery (a repeat is ignored).
    pub fn add(&mut self, item: Summary) {
        if self.items.contains_key(&item.seq) {
            return;
        }
        let (seq, due) = (item.seq, item.next_attempt_ms);
        if item.concurrent {
            let account = self.accounts.entry(item.account.clone()).or_default();
            account.ready.insert((due, seq));
        } else {
            let session = self
                .sessions
                .entry(item.session_id.clone())
                .or_insert_with(|| Session {
                    account: item.account.clone(),
                    ..Session::default()
                });
            session.queue.insert(seq);
        }
        let session = (!item.concurrent).then(|| item.session_id.clone());
        self.items.insert(seq, item);
        if let Some(session) = session {
            self.refresh(&session);
        }
    }

    /// Marks arrived deliveries as moved to their settled keys.
    pub fn settled(&mut self, seqs: &[u64]) {
        for seq in seqs {
            if let Some(item) = self.items.get_mut(seq) {
                item.settled = true;
            }
        }
    }

    /// Starts every delivery that may start at `now`, earliest due first
    /// across accounts; what to attempt.
    pub fn start(&mut self, now: u64) -> Vec<Summary> {
        let mut started = Vec::new();
        while self.running.len() < self.max {
            let next = self
                .accounts
                .iter()
                .filter(|(_, a)| a.in_flight < self.per_account)
                .filter_map(|(name, a)| a.ready.first().map(|slot| (*slot, name)))
                .filter(|((due, _), _)| *due <= now)
                .min_by_key(|(slot, _)| *slot)
                .map(|(slot, name)| (slot, name.clone()));
            let Some((slot, name)) = next else { break };
            let Some(account) = self.accounts.get_mut(&name) else {
                break;
            };
            account.ready.remove(&slot);
            let Some(item) = self.items.get(&slot.1) else {
                continue;
            };
            account.in_flight += 1;
            self.running.insert(item.seq);
            if !item.concurrent
                && let Some(session) = self.sessions.get_mut(&item.session_id)
            {
                session.busy = true;
                session.ready = None;
            }
            started.push(item.clone());
        }
        started
    }

    /// An attempt of `seq` ended.
    pub fn finished(&mut self, seq: u64, outcome: Outcome) {
        if !self.running.remove(&seq) {
            return;
        }
        let Some(item) = self.items.get_mut(&seq) else {
            return;
        };
        let account = self.accounts.entry(item.account.clone()).or_default();
        account.in_flight = account.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Removed => {}
            Outcome::Retry { due_ms, moved } => {
                item.next_attempt_ms = due_ms;
                item.settled |= moved;
                if item.concurrent {
                    account.ready.insert((due_ms, seq));
                }
            }
        }
        let (name, session) = (item.account.clone(), item.session_id.clone());
        let ordered = !item.concurrent;
        if outcome == Outcome::Removed {
            self.items.remove(&seq);
        }
        if ordered {
            if let Some(s) = self.sessions.get_mut(&session) {
                s.busy = false;
                if outcome == Outcome::Removed {
                    s.queue.remove(&seq);
                }
            }
            self.refresh(&session);
        }
        self.forget_if_idle(&name);
    }

    /// The earliest time something not yet ready to start will be, if a
    /// slot is free for it.
    pub fn next_due(&self) -> Option<u64> {
        if self.running.len() >= self.max {
            return None;
        }
        self.accounts
            .values()
            .filter(|a| a.in_flight < self.per_account)
            .filter_map(|a| a.ready.first().map(|(due, _)| *due))
            .min()
    }

    /// Puts an ordered session's first delivery among its account's ready
    /// ones (unless one is in flight), replacing whichever stood there.
    fn refresh(&mut self, name: &str) {
        let Some(session) = self.sessions.get_mut(name) else {
            return;
        };
        let wanted = match (session.busy, session.queue.first()) {
            (false, Some(seq)) => self.items.get(seq).map(|item| (item.next_attempt_ms, *seq)),
            _ => None,
        };
        if wanted != session.ready {
            let account = self.accounts.entry(session.account.clone()).or_default();
            if let Some(old) = session.ready.take() {
                account.ready.remove(&old);
            }
            if let Some(slot) = wanted {
                account.ready.insert(slot);
            }
            session.ready = wanted;
        }
        if session.queue.is_empty() && !session.busy {
            let account = session.account.clone();
            self.sessions.remove(name);
            self.forget_if_idle(&account);
        }
    }

    fn forget_if_idle(&mut self, name: &str) {
        if self
            .accounts
            .get(name)
            .is_some_and(|a| a.in_flight == 0 && a.ready.is_empty())
        {
            self.accounts.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(seq: u64, account: &str, session: &str, concurrent: bool, due: u64) -> Summary {
        Summary {
            seq,
            account: account.into(),
            session_id: session.into(),
            concurrent,
            next_attempt_ms: due,
            settled: true,
        }
    }

    fn seqs(started: &[Summary]) -> Vec<u64> {
        started.iter().map(|s| s.seq).collect()
    }

    #[test]
    fn an_ordered_session_sends_one_at_a_time_in_creation_order() {
        let mut s = Schedule::new(32, 4);
        // Arrived out of order; the lower sequence number goes first.
        s.add(item(3, "a", "s", false, 0));
        s.add(item(1, "a", "s", false, 0));
        s.add(item(2, "a", "s", false, 0));
        assert_eq!(seqs(&s.start(10)), [1]);
        assert!(s.start(10).is_empty(), "one at a time");
        assert!(s.is_running(1) && !s.is_running(2));
        // A failure holds the others back until the retry is due.
        s.finished(
            1,
            Outcome::Retry {
                due_ms: 50,
                moved: true,
            },
        );
        assert!(s.start(10).is_empty());
        assert_eq!(s.next_due(), Some(50));
        assert_eq!(seqs(&s.start(50)), [1]);
        s.finished(1, Outcome::Removed);
        assert_eq!(seqs(&s.start(50)), [2]);
        s.finished(2, Outcome::Removed);
        assert_eq!(seqs(&s.start(50)), [3]);
        s.finished(3, Outcome::Removed);
        assert!(s.is_empty() && s.accounts.is_empty() && s.sessions.is_empty());
    }

    #[test]
    fn concurrent_deliveries_overtake_a_failing_one_by_due_time() {
        let mut s = Schedule::new(32, 4);
        for seq in 1..=3 {
            s.add(item(seq, "a", "s", true, 0));
        }
        assert_eq!(seqs(&s.start(0)), [1, 2, 3]);
        s.finished(
            1,
            Outcome::Retry {
                due_ms: 100,
                moved: true,
            },
        );
        s.finished(2, Outcome::Removed);
        s.add(item(4, "a", "s", true, 5));
        assert_eq!(seqs(&s.start(10)), [4]);
        assert_eq!(seqs(&s.start(100)), [1]);
    }

    #[test]
    fn one_account_takes_at_most_its_share_and_the_others_still_start() {
        let mut s = Schedule::new(6, 2);
        for seq in 0..100 {
            s.add(item(seq, "busy", &format!("s{seq}"), false, 0));
        }
        s.add(item(100, "quiet", "q", true, 1));
        s.add(item(101, "quiet", "q", true, 1));
        s.add(item(102, "quiet", "q", true, 1));
        let started = s.start(1);
        assert_eq!(seqs(&started), [0, 1, 100, 101]);
        assert_eq!(s.in_flight(), 4);
        assert!(s.start(1).is_empty(), "each account at its cap");
        s.finished(100, Outcome::Removed);
        assert_eq!(seqs(&s.start(1)), [102]);
        s.finished(0, Outcome::Removed);
        assert_eq!(seqs(&s.start(1)), [2]);
    }

    #[test]
    fn the_global_cap_holds_across_accounts() {
        let mut s = Schedule::new(3, 2);
        for (seq, account) in ["a", "b", "c", "d"].iter().enumerate() {
            s.add(item(seq as u64, account, account, true, 0));
        }
        assert_eq!(s.start(0).len(), 3);
        assert_eq!(s.next_due(), None, "no slot is free");
        s.finished(0, Outcome::Removed);
        assert_eq!(seqs(&s.start(0)), [3]);
    }
}
