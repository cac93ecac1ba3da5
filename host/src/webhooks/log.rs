//! The delivery log: what happened to each webhook delivery (every attempt's
//! time, the receiver's status or the error, and how long it took), where it
//! stands and when it is tried next. It is kept while the delivery waits in
//! the [`super::outbox`] and after it left it, so an operator can see why a
//! receiver missed something and send it again ([`super::redeliver`]).
//!
//! - `webhook_log`: account \0 seq → [`LogEntry`]: small (the last
//!   [`KEPT_ATTEMPTS`] attempts, never the body). Written in the same
//!   transaction as the outbox record it describes, so the two agree.
//! - `webhook_bodies`: account \0 seq → the exact body of a delivery that left
//!   the outbox (delivered or given up), so it can be sent again; while it
//!   waits its body is the outbox record's.
//!
//! Bounded ([`prune`], run by the sessions sweeper): of each account's
//! finished deliveries the newest [`KEPT_PER_ACCOUNT`] are kept, and none
//! that finished longer ago than the records retention
//! (`--records-retention-days`), since a data webhook's body holds records.
//! Waiting deliveries leave with the outbox's own give-up (72 h). A deleted
//! session's entries go with it ([`remove_session`]).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use super::outbox::Delivery;
use crate::store::{Db, StoreError, decode, encode, prefix, seq_key};

/// Attempts kept per delivery (the newest); `attempt_count` counts them all.
pub const KEPT_ATTEMPTS: usize = 20;
/// Finished deliveries kept per account: older ones are dropped by the sweeper.
pub const KEPT_PER_ACCOUNT: usize = 1_000;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not attempted yet.
    Pending,
    /// Its last attempt failed; it is tried again at `next_attempt_ms`.
    Retrying,
    /// The receiver answered 2xx.
    Delivered,
    /// Still failing when the outbox stopped retrying it (72 h by default).
    GivenUp,
}

impl State {
    pub fn is_finished(self) -> bool {
        matches!(self, State::Delivered | State::GivenUp)
    }

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Retrying => "retrying",
            State::Delivered => "delivered",
            State::GivenUp => "given_up",
        }
    }
}

/// One POST of a delivery (or an attempt that failed before it was sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at_ms: u64,
    pub duration_ms: u64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it failed; `None` when it was delivered.
    pub error: Option<String>,
}

/// What an attempt left a delivery as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Retrying { next_attempt_ms: u64 },
    Delivered,
    GivenUp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The delivery's id (its `x-switchyard-delivery`).
    pub seq: u64,
    pub session_id: String,
    pub event: String,
    pub endpoint: String,
    pub created_ms: u64,
    pub state: State,
    /// The newest [`KEPT_ATTEMPTS`], oldest first.
    pub attempts: Vec<Attempt>,
    pub attempt_count: u32,
    /// When it is tried next, while it is not finished.
    pub next_attempt_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    /// The delivery this one sends again, if it is a redelivery.
    #[serde(default)]
    pub redelivery_of: Option<u64>,
}

impl LogEntry {
    /// The entry of a delivery just put in the outbox.
    pub fn new(seq: u64, delivery: &Delivery) -> Self {
        LogEntry {
            seq,
            session_id: delivery.session_id.clone(),
            event: delivery.event.clone(),
            endpoint: delivery.endpoint.clone(),
            created_ms: delivery.created_ms,
            state: State::Pending,
            attempts: Vec::new(),
            attempt_count: 0,
            next_attempt_ms: Some(delivery.next_attempt_ms),
            finished_ms: None,
            redelivery_of: delivery.redelivery_of,
        }
    }

    fn record(&mut self, attempt: &Attempt, after: After) {
        self.attempt_count = self.attempt_count.saturating_add(1);
        self.attempts.push(attempt.clone());
        let excess = self.attempts.len().saturating_sub(KEPT_ATTEMPTS);
        self.attempts.drain(..excess);
        let ended = attempt.at_ms + attempt.duration_ms;
        (self.state, self.next_attempt_ms, self.finished_ms) = match after {
            After::Retrying { next_attempt_ms } => (State::Retrying, Some(next_attempt_ms), None),
            After::Delivered => (State::Delivered, None, Some(ended)),
            After::GivenUp => (State::GivenUp, None, Some(ended)),
        };
    }

    /// The delivery as `GET /api/webhooks/deliveries` lists it.
    pub fn to_json(&self) -> Value {
        let time = crate::time::rfc3339_ms;
        let attempts: Vec<Value> = self
            .attempts
            .iter()
            .map(|a| {
                json!({
                    "at": time(a.at_ms),
                    "status": a.status,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                })
            })
            .collect();
        json!({
            "delivery_id": self.seq.to_string(),
            "session_id": self.session_id,
            "event": self.event,
            "endpoint": self.endpoint,
            "state": self.state.as_str(),
            "created": time(self.created_ms),
            "attempt_count": self.attempt_count,
            "attempts": attempts,
            "next_attempt": self.next_attempt_ms.map(time),
            "finished": self.finished_ms.map(time),
            "redelivery_of": self.redelivery_of.map(|s| s.to_string()),
        })
    }
}

/// Where the entry (and body) of delivery `seq` of `account` is stored.
pub fn key(account: &str, seq: u64) -> Vec<u8> {
    seq_key(account, seq)
}

/// The key and value of a new delivery's entry, for a caller that writes it
/// with the outbox record.
pub fn entry(seq: u64, delivery: &Delivery) -> (Vec<u8>, Vec<u8>) {
    (
        key(&delivery.account, seq),
        encode(&LogEntry::new(seq, delivery)),
    )
}

/// Records `attempt` of `delivery` in its entry, inside a transaction over
/// `webhook_log`. A delivery queued before the log existed gets its entry now.
pub(super) fn note(
    log: &TransactionalTree,
    seq: u64,
    delivery: &Delivery,
    attempt: &Attempt,
    after: After,
) -> Result<(), UnabortableTransactionError> {
    let k = key(&delivery.account, seq);
    let mut entry = match log.get(&k)? {
        Some(bytes) => decode::<LogEntry>(&bytes).unwrap_or_else(|err| {
            tracing::warn!(seq, %err, "a webhook's log entry is damaged; starting it again");
            LogEntry::new(seq, delivery)
        }),
        None => LogEntry::new(seq, delivery),
    };
    entry.record(attempt, after);
    log.insert(k, encode(&entry))?;
    Ok(())
}

/// The entry of delivery `seq`, if `account` has it.
pub fn get(db: &Db, account: &str, seq: u64) -> Result<Option<LogEntry>, StoreError> {
    match db.trees.webhook_log.get(key(account, seq))? {
        Some(bytes) => decode(&bytes).map(Some),
        None => Ok(None),
    }
}

/// The body of a delivery that left the outbox.
pub fn body(db: &Db, account: &str, seq: u64) -> Result<Option<String>, StoreError> {
    match db.trees.webhook_bodies.get(key(account, seq))? {
        Some(bytes) => String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("the body of webhook {seq}"))),
        None => Ok(None),
    }
}

/// The account's deliveries, newest first, of one session and of one event
/// if given; the page `offset..offset + limit` and how many match in all.
pub fn list(
    db: &Db,
    account: &str,
    session_id: Option<&str>,
    event: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<(Vec<LogEntry>, usize), StoreError> {
    let mut page = Vec::new();
    let mut total = 0;
    for value in db
        .trees
        .webhook_log
        .scan_prefix(prefix(account))
        .values()
        .rev()
    {
        let entry: LogEntry = decode(&value?)?;
        if session_id.is_some_and(|s| s != entry.session_id)
            || event.is_some_and(|e| e != entry.event)
        {
            continue;
        }
        if total >= offset && page.len() < limit {
            page.push(entry);
        }
        total += 1;
    }
    Ok((page, total))
}

/// Drops each account's finished deliveries beyond the newest `keep`, and
/// those that finished before `now_ms - max_age`; how many went.
pub fn prune(
    db: &Db,
    keep: usize,
    max_age: Option<Duration>,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let oldest = max_age.map(|age| now_ms.saturating_sub(age.as_millis() as u64));
    // Keys sort by account, then by sequence number: each account's
    // finished deliveries come oldest first.
    let mut finished: HashMap<Vec<u8>, Vec<(sled::IVec, u64)>> = HashMap::new();
    for item in db.trees.webhook_log.iter() {
        let (k, v) = item?;
        let Some(account) = k.split(|b| *b == 0).next() else {
            continue;
        };
        // A damaged entry cannot be told finished; it stays.
        let Ok(entry) = decode::<LogEntry>(&v) else {
            continue;
        };
        if let Some(done) = entry.finished_ms.filter(|_| entry.state.is_finished()) {
            finished
                .entry(account.to_vec())
                .or_default()
                .push((k, done));
        }
    }
    let mut gone = Vec::new();
    for entries in finished.into_values() {
        let excess = entries.len().saturating_sub(keep);
        for (i, (k, done)) in entries.into_iter().enumerate() {
            if i < excess || oldest.is_some_and(|o| done < o) {
                gone.push(k);
            }
        }
    }
    remove_keys(db, &gone)?;
    Ok(gone.len())
}

/// Removes a session's entries and bodies (when the session is deleted).
pub fn remove_session(db: &Db, account: &str, session_id: &str) -> Result<(), StoreError> {
    let mut gone = Vec::new();
    for item in db.trees.webhook_log.scan_prefix(prefix(account)) {
        let (k, v) = item?;
        // A damaged entry's session cannot be told; it stays.
        if decode::<LogEntry>(&v).is_ok_and(|e| e.session_id == session_id) {
            gone.push(k);
        }
    }
    remove_keys(db, &gone)
}

/// Removes the entry of delivery `seq` and its body, if any.
pub fn remove(db: &Db, account: &str, seq: u64) -> Result<(), StoreError> {
    remove_keys(db, &[key(account, seq).into()])
}

fn remove_keys(db: &Db, keys: &[sled::IVec]) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let (mut entries, mut bodies) = (sled::Batch::default(), sled::Batch::default());
    for k in keys {
        entries.remove(k.clone());
        bodies.remove(k.clone());
    }
    let _gate = crate::store::write_gate::exclusive();
    db.trees.webhook_log.apply_batch(entries)?;
    db.trees.webhook_bodies.apply_batch(bodies)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(account: &str, session: &str, event: &str) -> Delivery {
        Delivery::new(
            account,
            session,
            event,
            "http://127.0.0.1:9/hook",
            &Value::Null,
            false,
        )
    }

    fn add(db: &Db, d: &Delivery) -> u64 {
        let seq = db.next_id().expect("an id");
        let (k, v) = entry(seq, d);
        db.trees.webhook_log.insert(k, v).expect("written");
        seq
    }

    fn attempt(db: &Db, d: &Delivery, seq: u64, at_ms: u64, after: After) {
        let a = Attempt {
            at_ms,
            duration_ms: 5,
            status: Some(503),
            error: Some("the receiver answered 503".into()),
        };
        db.trees
            .webhook_log
            .transaction(|log| {
                note(log, seq, d, &a, after)?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .expect("noted");
    }

    #[test]
    fn attempts_are_kept_up_to_the_cap_and_the_state_follows_the_last() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = Db::open(dir.path()).expect("the database opens");
        let d = delivery("acme", "s", "data");
        let seq = add(&db, &d);
        assert_eq!(
            get(&db, "acme", seq).expect("read").expect("there").state,
            State::Pending
        );
        for i in 0..25 {
            let after = After::Retrying {
                next_attempt_ms: 1_000 + i,
            };
            attempt(&db, &d, seq, i, after);
        }
        let e = get(&db, "acme", seq).expect("read").expect("there");
        assert_eq!(
            (e.state, e.attempt_count, e.next_attempt_ms),
            (State::Retrying, 25, Some(1_024))
        );
        assert_eq!(e.attempts.len(), KEPT_ATTEMPTS);
        assert_eq!(e.attempts[0].at_ms, 5, "the oldest were dropped");
        attempt(&db, &d, seq, 99, After::Delivered);
        let e = get(&db, "acme", seq).expect("read").expect("there");
        assert_eq!(
            (e.state, e.next_attempt_ms, e.finished_ms),
            (State::Delivered, None, Some(104))
        );
        assert!(
            get(&db, "other", seq).expect("read").is_none(),
            "per account"
        );
    }

    #[test]
    fn lists_newest_first_filtered_and_prunes_finished_ones_by_count_and_age() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = Db::open(dir.path()).expect("the database opens");
        let mut seqs = Vec::new();
        for i in 0..6 {
            let d = delivery("acme", if i % 2 == 0 { "a" } else { "b" }, "data");
            let seq = add(&db, &d);
            if i < 5 {
                attempt(&db, &d, seq, 1_000 * i, After::Delivered);
            }
            seqs.push(seq);
        }
        let c = delivery("acme", "a", "completed");
        let completed = add(&db, &c);
        add(&db, &delivery("beta", "x", "data"));

        let (all, total) = list(&db, "acme", None, None, 0, 100).expect("listed");
        assert_eq!(total, 7);
        assert_eq!(all[0].seq, completed, "newest first");
        let (page, total) = list(&db, "acme", Some("a"), Some("data"), 1, 1).expect("listed");
        assert_eq!((page.len(), total), (1, 3));
        assert_eq!(page[0].seq, seqs[2]);

        // Five finished: keep three, and none that finished before 1,500.
        let gone = prune(&db, 3, Some(Duration::from_millis(1_500)), 3_000).expect("pruned");
        assert_eq!(
            gone, 2,
            "the two oldest by count (also the old ones by age)"
        );
        let gone = prune(&db, 3, Some(Duration::from_millis(900)), 3_000).expect("pruned");
        assert_eq!(gone, 1, "one more by age");
        let left: Vec<u64> = list(&db, "acme", None, None, 0, 100)
            .expect("listed")
            .0
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(left, [completed, seqs[5], seqs[4], seqs[3]]);
        assert_eq!(list(&db, "beta", None, None, 0, 100).expect("listed").1, 1);

        remove_session(&db, "acme", "a").expect("removed");
        let left: Vec<u64> = list(&db, "acme", None, None, 0, 100)
            .expect("listed")
            .0
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(left, [seqs[5], seqs[3]]);
    }
}
