//! The persistent outbox of webhook deliveries. A delivery is written in the
//! same write as the change it reports and leaves the outbox only when its
//! receiver answered 2xx (or it was given up on, or its session is gone), so a
//! restart loses nothing.
//!
//! Each delivery has a sequence number from sled's monotonic ids (its id, in
//! creation order), and its key says whether the deliverer has taken note of
//! it yet:
//!
//! - `n` ++ seq (big-endian): *arrived*, as [`entry`] and [`push`] write it.
//!   The deliverer reads only this part of the tree for what is new
//!   ([`arrivals`]), however many deliveries wait in the rest.
//! - seq (8 bytes, big-endian): *settled*: the deliverer knows it and keeps
//!   when it is due in memory ([`super::schedule`]), and reads the record
//!   again only to attempt it ([`load`]). A delivery that cannot be sent at
//!   once is moved here ([`settle`]); one sent at once never is.
//!
//! Arrival cannot be detected by scanning the sequence numbers past the
//! highest seen instead: a writer takes its number before its transaction
//! commits, so a lower number may commit after a higher one was seen.
//!
//! Every change to a delivery is written together with its entry in the
//! delivery log ([`super::log`]), which outlives it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::log::{self, After, Attempt};
use crate::store::{Db, StoreError, decode, encode};

/// The first byte of the key of a delivery the deliverer has not seen.
const ARRIVED: u8 = b'n';

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub account: String,
    pub session_id: String,
    /// `configuration`, `data`, `completed`, `error`.
    pub event: String,
    pub endpoint: String,
    /// The exact bytes POSTed (and signed).
    pub body: String,
    /// The session allows out-of-order, concurrent delivery.
    pub concurrent: bool,
    pub attempts: u32,
    pub next_attempt_ms: u64,
    pub created_ms: u64,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The delivery this one sends again ([`super::redeliver`]).
    #[serde(default)]
    pub redelivery_of: Option<u64>,
}

impl Delivery {
    pub fn new(
        account: &str,
        session_id: &str,
        event: &str,
        endpoint: &str,
        body: &Value,
        concurrent: bool,
    ) -> Self {
        Self::with_body(
            account,
            session_id,
            event,
            endpoint,
            body.to_string(),
            concurrent,
        )
    }

    /// A delivery of `body` exactly as given.
    pub fn with_body(
        account: &str,
        session_id: &str,
        event: &str,
        endpoint: &str,
        body: String,
        concurrent: bool,
    ) -> Self {
        let now = crate::store::now_ms();
        Delivery {
            account: account.to_owned(),
            session_id: session_id.to_owned(),
            event: event.to_owned(),
            endpoint: endpoint.to_owned(),
            body,
            concurrent,
            attempts: 0,
            next_attempt_ms: now,
            created_ms: now,
            last_error: None,
            redelivery_of: None,
        }
    }
}

/// What the deliverer keeps of a delivery between attempts (not its body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub seq: u64,
    pub account: String,
    pub session_id: String,
    pub concurrent: bool,
    pub next_attempt_ms: u64,
    /// Stored under its settled key (else under its arrival key).
    pub settled: bool,
}

/// The fields of a stored [`Delivery`] that make its [`Summary`]; the body is
/// skipped unread.
#[derive(Deserialize)]
struct SummaryFields {
    account: String,
    session_id: String,
    concurrent: bool,
    next_attempt_ms: u64,
}

impl Summary {
    fn decode(seq: u64, settled: bool, bytes: &[u8]) -> Result<Self, StoreError> {
        let f: SummaryFields = decode(bytes)?;
        Ok(Summary {
            seq,
            account: f.account,
            session_id: f.session_id,
            concurrent: f.concurrent,
            next_attempt_ms: f.next_attempt_ms,
            settled,
        })
    }
}

fn arrived_key(seq: u64) -> [u8; 9] {
    let mut k = [ARRIVED; 9];
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn settled_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Where the delivery `seq` is stored.
fn key_of(seq: u64, settled: bool) -> Vec<u8> {
    if settled {
        settled_key(seq).to_vec()
    } else {
        arrived_key(seq).to_vec()
    }
}

/// The sequence number and whether it is settled, of a key of either shape.
fn parse_key(k: &[u8]) -> Option<(u64, bool)> {
    match k.len() {
        8 => <[u8; 8]>::try_from(k)
            .ok()
            .map(|s| (u64::from_be_bytes(s), true)),
        9 if k[0] == ARRIVED => <[u8; 8]>::try_from(&k[1..])
            .ok()
            .map(|s| (u64::from_be_bytes(s), false)),
        _ => None,
    }
}

/// The writes that add a delivery: its outbox record and its log entry.
pub struct Staged {
    /// The delivery's sequence number (its id).
    pub seq: u64,
    pub outbox: (Vec<u8>, Vec<u8>),
    pub log: (Vec<u8>, Vec<u8>),
}

/// What puts `delivery` in the outbox and the log, for a caller that writes
/// it together with other changes.
pub fn entry(db: &Db, delivery: &Delivery) -> Result<Staged, StoreError> {
    let seq = db.next_id()?;
    Ok(Staged {
        seq,
        outbox: (arrived_key(seq).to_vec(), encode(delivery)),
        log: log::entry(seq, delivery),
    })
}

/// Adds a delivery and its log entry (not flushed: the caller flushes with
/// the rest); its sequence number. The outbox record goes first: a crash in
/// between leaves a delivery without a log entry, which its first attempt
/// makes ([`log::note`]), never an entry without its delivery.
pub fn push(db: &Db, delivery: &Delivery) -> Result<u64, StoreError> {
    let staged = entry(db, delivery)?;
    db.trees.outbox.insert(staged.outbox.0, staged.outbox.1)?;
    db.trees.webhook_log.insert(staged.log.0, staged.log.1)?;
    Ok(staged.seq)
}

/// The deliveries that arrived, oldest first, except those `known` already
/// (looked up by sequence number before anything is decoded). A damaged one
/// is logged and settled, so it is not read again.
pub fn arrivals(db: &Db, known: impl Fn(u64) -> bool) -> Result<Vec<Summary>, StoreError> {
    let mut out = Vec::new();
    let mut damaged = Vec::new();
    for entry in db.trees.outbox.scan_prefix([ARRIVED]) {
        let (k, v) = entry?;
        let Some((seq, false)) = parse_key(&k) else {
            continue;
        };
        if known(seq) {
            continue;
        }
        match Summary::decode(seq, false, &v) {
            Ok(summary) => out.push(summary),
            Err(err) => {
                tracing::error!(seq, %err, "a webhook in the outbox is damaged and cannot be sent");
                damaged.push(seq);
            }
        }
    }
    if !damaged.is_empty() {
        settle(db, &damaged)?;
    }
    Ok(out)
}

/// Every settled delivery, oldest first: what the deliverer knew before it
/// (re)started. Damaged ones are logged and left out.
pub fn settled(db: &Db) -> Result<Vec<Summary>, StoreError> {
    let mut out = Vec::new();
    for entry in db.trees.outbox.iter() {
        let (k, v) = entry?;
        let Some((seq, true)) = parse_key(&k) else {
            continue;
        };
        match Summary::decode(seq, true, &v) {
            Ok(summary) => out.push(summary),
            Err(err) => {
                tracing::error!(seq, %err, "a webhook in the outbox is damaged and cannot be sent")
            }
        }
    }
    Ok(out)
}

/// Moves arrived deliveries to their settled keys, all at once.
pub fn settle(db: &Db, seqs: &[u64]) -> Result<(), StoreError> {
    let tree = &db.trees.outbox;
    let mut batch = sled::Batch::default();
    for &seq in seqs {
        let from = arrived_key(seq);
        // Gone meanwhile (its session was deleted): nothing to move.
        if let Some(value) = tree.get(from)? {
            batch.remove(&from[..]);
            batch.insert(&settled_key(seq)[..], value);
        }
    }
    let _gate = crate::store::write_gate::exclusive();
    tree.apply_batch(batch)?;
    Ok(())
}

/// The delivery `seq`, if it is still in the outbox.
pub fn load(db: &Db, seq: u64, settled: bool) -> Result<Option<Delivery>, StoreError> {
    match db.trees.outbox.get(key_of(seq, settled))? {
        Some(bytes) => decode(&bytes).map(Some),
        None => Ok(None),
    }
}

/// Takes a delivery out of the outbox, and out of the log, without a trace
/// (its session is gone).
pub fn discard(db: &Db, seq: u64, settled: bool, account: &str) -> Result<(), StoreError> {
    db.trees.outbox.remove(key_of(seq, settled))?;
    log::remove(db, account, seq)
}

/// Takes `delivery` out of the outbox after `attempt`, delivered or given
/// up on (`after`), and keeps its body with its log entry so it can be sent
/// again: `false`, changing nothing, if it is no longer in the outbox (its
/// session was deleted).
pub fn finish(
    db: &Db,
    seq: u64,
    settled: bool,
    delivery: &Delivery,
    attempt: &Attempt,
    after: After,
) -> Result<bool, StoreError> {
    let t = &db.trees;
    let from = key_of(seq, settled);
    let body_key = log::key(&delivery.account, seq);
    let _gate = crate::store::write_gate::exclusive();
    let finished =
        (&t.outbox, &t.webhook_log, &t.webhook_bodies).transaction(|(outbox, entries, bodies)| {
            if outbox.remove(from.as_slice())?.is_none() {
                return Err(ConflictableTransactionError::Abort(()));
            }
            log::note(entries, seq, delivery, attempt, after)?;
            bodies.insert(body_key.as_slice(), delivery.body.as_bytes())?;
            Ok(())
        });
    match finished {
        Ok(()) => Ok(true),
        Err(TransactionError::Abort(())) => Ok(false),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}

/// Replaces `old` by `new` (settled, whatever it was) after the failed
/// `attempt`, which the log records: `false`, changing nothing, if `old` is
/// no longer what is stored (its session was deleted).
pub fn update(
    db: &Db,
    seq: u64,
    settled: bool,
    old: &Delivery,
    new: &Delivery,
    attempt: &Attempt,
) -> Result<bool, StoreError> {
    let (old, encoded) = (encode(old), encode(new));
    let from = key_of(seq, settled);
    let to = settled_key(seq);
    let after = After::Retrying {
        next_attempt_ms: new.next_attempt_ms,
    };
    let t = &db.trees;
    let _gate = crate::store::write_gate::exclusive();
    let swapped = (&t.outbox, &t.webhook_log).transaction(|(outbox, entries)| {
        if outbox.get(&from)?.as_deref() != Some(old.as_slice()) {
            return Err(ConflictableTransactionError::Abort(()));
        }
        if !settled {
            outbox.remove(from.as_slice())?;
        }
        outbox.insert(&to[..], encoded.as_slice())?;
        log::note(entries, seq, new, attempt, after)?;
        Ok(())
    });
    match swapped {
        Ok(()) => Ok(true),
        Err(TransactionError::Abort(())) => Ok(false),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}

/// Deliveries not yet delivered.
pub fn depth(db: &Db) -> usize {
    db.trees.outbox.len()
}

/// Every delivery with its sequence number, oldest first (for tools and
/// tests: it reads the whole outbox).
pub fn pending(db: &Db) -> Result<Vec<(u64, Delivery)>, StoreError> {
    let mut out = Vec::new();
    for entry in db.trees.outbox.iter() {
        let (k, v) = entry?;
        let (seq, _) = parse_key(&k).ok_or_else(|| StoreError::Corrupt("outbox key".into()))?;
        out.push((seq, decode(&v)?));
    }
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out)
}

pub fn remove_session(db: &Db, session_id: &str) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for entry in db.trees.outbox.iter() {
        let (k, v) = entry?;
        // A damaged record's session cannot be told; it stays.
        let Ok(delivery) = decode::<Delivery>(&v) else {
            continue;
        };
        if delivery.session_id == session_id {
            batch.remove(k);
        }
    }
    let _gate = crate::store::write_gate::exclusive();
    db.trees.outbox.apply_batch(batch)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(session: &str) -> Delivery {
        Delivery::new(
            "acme",
            session,
            "data",
            "http://127.0.0.1:9/hook",
            &Value::Null,
            false,
        )
    }

    #[test]
    fn arrivals_are_read_until_settled_and_damaged_ones_are_set_aside() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = Db::open(dir.path()).expect("the database opens");
        for s in ["a", "b", "c"] {
            push(&db, &delivery(s)).expect("pushed");
        }
        let arrived = arrivals(&db, |_| false).expect("arrivals");
        let seqs: Vec<u64> = arrived.iter().map(|s| s.seq).collect();
        assert_eq!(arrived.len(), 3);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first");
        assert!(arrivals(&db, |seq| seq == seqs[0]).expect("arrivals").len() == 2);

        settle(&db, &seqs[..2]).expect("settled");
        let left = arrivals(&db, |_| false).expect("arrivals");
        assert_eq!(left.iter().map(|s| s.seq).collect::<Vec<_>>(), [seqs[2]]);
        let known = settled(&db).expect("settled");
        assert_eq!(known.iter().map(|s| s.seq).collect::<Vec<_>>(), seqs[..2]);
        assert!(known.iter().all(|s| s.settled && s.session_id != "c"));

        // A retry of the unsettled one settles it too.
        let old = load(&db, seqs[2], false).expect("read").expect("there");
        let mut new = old.clone();
        new.attempts = 1;
        let failed = Attempt {
            at_ms: 1,
            duration_ms: 2,
            status: None,
            error: Some("refused".into()),
        };
        assert!(update(&db, seqs[2], false, &old, &new, &failed).expect("updated"));
        assert!(!update(&db, seqs[2], false, &old, &new, &failed).expect("no longer there"));
        let noted = log::get(&db, "acme", seqs[2])
            .expect("read")
            .expect("logged");
        assert_eq!(noted.attempts, std::slice::from_ref(&failed));
        assert!(arrivals(&db, |_| false).expect("arrivals").is_empty());
        assert_eq!(
            load(&db, seqs[2], true)
                .expect("read")
                .expect("there")
                .attempts,
            1
        );

        // A damaged arrival is set aside, not read again and again.
        db.trees
            .outbox
            .insert(arrived_key(db.next_id().expect("an id")), &b"{"[..])
            .expect("written");
        assert!(arrivals(&db, |_| false).expect("arrivals").is_empty());
        assert!(arrivals(&db, |_| false).expect("arrivals").is_empty());
        assert_eq!(settled(&db).expect("settled").len(), 3, "without it");

        // Delivered: out of the outbox, its body kept with its log entry.
        let b = load(&db, seqs[1], true).expect("read").expect("there");
        let ok = Attempt {
            at_ms: 3,
            duration_ms: 1,
            status: Some(200),
            error: None,
        };
        assert!(finish(&db, seqs[1], true, &b, &ok, After::Delivered).expect("finished"));
        assert!(!finish(&db, seqs[1], true, &b, &ok, After::Delivered).expect("gone"));
        assert!(load(&db, seqs[1], true).expect("read").is_none());
        let entry = log::get(&db, "acme", seqs[1])
            .expect("read")
            .expect("logged");
        assert_eq!(entry.state, log::State::Delivered);
        assert_eq!(
            log::body(&db, "acme", seqs[1]).expect("read"),
            Some(b.body.clone())
        );
        let b_again = Delivery::with_body("acme", "b", "data", &b.endpoint, b.body.clone(), false);
        push(&db, &b_again).expect("pushed");

        remove_session(&db, "a").expect("removed, the damaged one in the way");
        let all: Vec<String> = settled(&db)
            .expect("settled")
            .into_iter()
            .map(|s| s.session_id)
            .collect();
        assert_eq!(all, ["c"], "b was delivered; its second is still arriving");
        assert_eq!(arrivals(&db, |_| false).expect("arrivals").len(), 1);
    }
}
