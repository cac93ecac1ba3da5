//! The persistent outbox of webhook deliveries, in the order they were
//! created (keys are sled's monotonic ids). A delivery leaves the outbox only
//! when its receiver answered 2xx (or it was given up on), so a restart loses
//! nothing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Db, StoreError, decode, encode};

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
        let now = crate::store::now_ms();
        Delivery {
            account: account.to_owned(),
            session_id: session_id.to_owned(),
            event: event.to_owned(),
            endpoint: endpoint.to_owned(),
            body: body.to_string(),
            concurrent,
            attempts: 0,
            next_attempt_ms: now,
            created_ms: now,
            last_error: None,
        }
    }
}

/// The key and value that put `delivery` in the outbox, for a caller that
/// writes it together with other changes.
pub fn entry(db: &Db, delivery: &Delivery) -> Result<([u8; 8], Vec<u8>), StoreError> {
    Ok((db.next_id()?.to_be_bytes(), encode(delivery)))
}

/// Adds a delivery (not flushed: the caller flushes with the rest).
pub fn push(db: &Db, delivery: &Delivery) -> Result<(), StoreError> {
    let (k, v) = entry(db, delivery)?;
    db.trees.outbox.insert(k, v)?;
    Ok(())
}

/// Every delivery, oldest first.
pub fn pending(db: &Db) -> Result<Vec<(u64, Delivery)>, StoreError> {
    let mut out = Vec::new();
    for entry in db.trees.outbox.iter() {
        let (k, v) = entry?;
        let seq = <[u8; 8]>::try_from(k.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt("outbox key".into()))?;
        out.push((seq, decode(&v)?));
    }
    Ok(out)
}

pub fn remove_session(db: &Db, session_id: &str) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for entry in db.trees.outbox.iter() {
        let (k, v) = entry?;
        let delivery: Delivery = decode(&v)?;
        if delivery.session_id == session_id {
            batch.remove(k);
        }
    }
    db.trees.outbox.apply_batch(batch)?;
    Ok(())
}
