//! The error log apps read at `GET /api/errors` and receive by error webhook:
//! what went wrong in a transfer or a session, of which type, and what a
//! person should do about it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::store::{Db, StoreError, decode, encode, key, prefix};
use crate::wire;

/// Endgrate's five kinds of error (`error_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// Something went wrong inside this host (or its connector).
    Internal,
    /// The connector or the provider refused what was asked (one pushed
    /// item rejected). Earlier versions stored it as `transfer_data`.
    #[serde(alias = "transfer_data")]
    Integration,
    /// The provider failed or could not be reached.
    Upstream,
    /// The end user must authenticate again.
    Authentication,
    /// A record did not fit the schema or the field mapping.
    Mapping,
}

impl ErrorType {
    /// What a person should do about it.
    pub fn resolve_text(self, provider: &str) -> String {
        match self {
            ErrorType::Internal => "Something failed inside Switchyard. The transfer was stopped; trigger it again, and if it keeps failing, send this error's message to your Switchyard operator.".to_owned(),
            ErrorType::Integration => format!("{provider} rejected this item. Correct the fields named in the message and push the item again; the other items were not affected."),
            ErrorType::Upstream => format!("{provider} failed or answered something unexpected. Check {provider}'s status, then trigger the transfer again; records already transferred are kept."),
            ErrorType::Authentication => format!("{provider} no longer accepts this session's credentials. Send the end user to /session/reauthenticate?session_id=<session_id> to sign in again; waiting transfers resume once they do."),
            ErrorType::Mapping => "The item does not fit the session's schema or field mapping, so it was not sent. Correct the fields named in the message and push the item again; the other items were not affected.".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub pk: String,
    pub account: String,
    pub session_id: String,
    pub transfer_id: Option<String>,
    pub timestamp: String,
    pub error_type: ErrorType,
    /// What happened, in plain words.
    pub message: String,
    pub error_resolve_text: String,
    pub resolved: bool,
    pub provider_info: Value,
    pub integration_info: Value,
    /// Push items: the item's position in `transfer_data` and its internal id.
    pub index: Option<usize>,
    pub internal_id: Option<String>,
}

/// What a new error is about.
pub struct NewError<'a> {
    pub account: &'a str,
    pub session_id: &'a str,
    pub transfer_id: Option<&'a str>,
    pub error_type: ErrorType,
    pub message: String,
    pub provider_info: Value,
    pub integration_info: Value,
    pub index: Option<usize>,
    pub internal_id: Option<String>,
}

impl ErrorRecord {
    pub fn new(db: &Db, e: NewError<'_>) -> Result<Self, StoreError> {
        let provider = e
            .provider_info
            .get("display_name")
            .and_then(Value::as_str)
            .unwrap_or("The provider")
            .to_owned();
        Ok(ErrorRecord {
            pk: format!("{:020}", db.next_id()?),
            account: e.account.to_owned(),
            session_id: e.session_id.to_owned(),
            transfer_id: e.transfer_id.map(str::to_owned),
            timestamp: crate::time::rfc3339_ms(crate::store::now_ms()),
            error_type: e.error_type,
            message: e.message,
            error_resolve_text: e.error_type.resolve_text(&provider),
            resolved: false,
            provider_info: e.provider_info,
            integration_info: e.integration_info,
            index: e.index,
            internal_id: e.internal_id,
        })
    }

    pub fn key(&self) -> Vec<u8> {
        key(&[&self.account, &self.pk])
    }

    /// The error as `GET /api/errors` and the error webhook show it.
    pub fn to_json(&self) -> Value {
        let mut provider_info = self.provider_info.clone();
        let mut integration_info = self.integration_info.clone();
        wire::upgrade_info(&mut provider_info);
        wire::upgrade_info(&mut integration_info);
        let mut v = json!({
            "pk": self.pk,
            "transfer_id": self.transfer_id,
            "session_id": self.session_id,
            "timestamp": self.timestamp,
            "error_type": self.error_type,
            "message": self.message,
            "error_resolve_text": self.error_resolve_text,
            "resolved": self.resolved,
            "endgrate": {
                "provider_info": provider_info,
                "integration_info": integration_info,
            },
        });
        if let Some(index) = self.index {
            v["index"] = json!(index);
        }
        if let Some(internal_id) = &self.internal_id {
            v["internal_id"] = json!(internal_id);
        }
        v
    }
}

/// Bumped whenever an error is resolved (or un-resolved), for readers that
/// cache what they show of errors (the statistics page's live feed).
static VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn version() -> u64 {
    VERSION.load(std::sync::atomic::Ordering::Relaxed)
}

/// Stores an error (not flushed: the caller flushes with the rest).
pub fn insert(db: &Db, record: &ErrorRecord) -> Result<(), StoreError> {
    db.trees.errors.insert(record.key(), encode(record))?;
    Ok(())
}

/// The account's errors, newest first, filtered by session and transfer.
pub fn list(
    db: &Db,
    account: &str,
    session_id: Option<&str>,
    transfer_id: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<(Vec<ErrorRecord>, usize), StoreError> {
    let mut matching = Vec::new();
    for value in db.trees.errors.scan_prefix(prefix(account)).values().rev() {
        let record: ErrorRecord = decode(&value?)?;
        if session_id.is_some_and(|s| s != record.session_id)
            || transfer_id.is_some_and(|t| Some(t) != record.transfer_id.as_deref())
        {
            continue;
        }
        matching.push(record);
    }
    let total = matching.len();
    Ok((
        matching.into_iter().skip(offset).take(limit).collect(),
        total,
    ))
}

/// Marks an error resolved; `false` if the account has no such error.
pub async fn resolve(db: &Db, account: &str, pk: &str, resolved: bool) -> Result<bool, StoreError> {
    let k = key(&[account, pk]);
    let Some(value) = db.trees.errors.get(&k)? else {
        return Ok(false);
    };
    let mut record: ErrorRecord = decode(&value)?;
    record.resolved = resolved;
    db.trees.errors.insert(k, encode(&record))?;
    VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    db.flush().await?;
    Ok(true)
}

/// Errors kept per account: older ones are dropped by the sweeper.
pub const KEPT_PER_ACCOUNT: usize = 10_000;

/// Drops each account's oldest errors beyond `keep`; how many went. Keys
/// are `account \0 pk` with pks ascending, so one pass in key order sees
/// each account's errors oldest first.
pub fn prune(db: &Db, keep: usize) -> Result<usize, StoreError> {
    let tree = &db.trees.errors;
    let mut per_account: std::collections::HashMap<Vec<u8>, usize> = Default::default();
    for k in tree.iter().keys() {
        let k = k?;
        let account = k.split(|b| *b == 0).next().unwrap_or_default().to_vec();
        *per_account.entry(account).or_default() += 1;
    }
    let mut gone = 0;
    for (account, count) in per_account {
        let excess = count.saturating_sub(keep);
        if excess == 0 {
            continue;
        }
        let mut prefix = account;
        prefix.push(0);
        let mut batch = sled::Batch::default();
        for k in tree.scan_prefix(&prefix).keys().take(excess) {
            batch.remove(k?);
        }
        {
            let _gate = crate::store::write_gate::exclusive();
            tree.apply_batch(batch)?;
        }
        gone += excess;
    }
    Ok(gone)
}

/// Removes a session's errors (when the session is deleted).
pub fn remove_session(db: &Db, account: &str, session_id: &str) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for entry in db.trees.errors.scan_prefix(prefix(account)) {
        let (k, v) = entry?;
        let record: ErrorRecord = decode(&v)?;
        if record.session_id == session_id {
            batch.remove(k);
        }
    }
    let _gate = crate::store::write_gate::exclusive();
    db.trees.errors.apply_batch(batch)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error as version 0.1 of the host stored it.
    #[test]
    fn errors_stored_by_earlier_versions_read_with_todays_values() {
        let stored = json!({
            "pk": "00000000000000000042", "account": "acme", "session_id": "s1",
            "transfer_id": "t1", "timestamp": "2026-11-01T00:00:00Z",
            "error_type": "transfer_data", "message": "bad item",
            "error_resolve_text": "fix it", "resolved": false,
            "provider_info": { "name": "hubspot", "display_name": "HubSpot", "url": "https://www.hubspot.com",
                "image": "/api/integrations/hubspot/logo.svg", "auth_type": "oauth2", "endgrate_provider_type": "crm" },
            "integration_info": { "name": "crm-contact", "display_name": "HubSpot Contacts", "method": "pull_push" },
            "index": 3, "internal_id": "x"
        });
        let record: ErrorRecord = crate::store::decode(&encode(&stored)).unwrap();
        assert_eq!(record.error_type, ErrorType::Integration);
        let shown = record.to_json();
        assert_eq!(shown["error_type"], "integration");
        let provider = &shown["endgrate"]["provider_info"];
        assert_eq!(provider["auth_type"], "oauth");
        assert_eq!(provider["specific"], json!({}));
        assert_eq!(provider["endgrate_provider_type"], "CRM");
        assert_eq!(shown["endgrate"]["integration_info"]["method"], "IMPORT");
    }

    #[test]
    fn pruning_keeps_each_accounts_newest_errors() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let add = |account: &str, n: usize| {
            for _ in 0..n {
                let record = ErrorRecord::new(
                    &db,
                    NewError {
                        account,
                        session_id: "s",
                        transfer_id: None,
                        error_type: ErrorType::Internal,
                        message: "m".into(),
                        provider_info: Value::Null,
                        integration_info: Value::Null,
                        index: None,
                        internal_id: None,
                    },
                )
                .unwrap();
                insert(&db, &record).unwrap();
            }
        };
        add("big", 30);
        add("small", 5);
        let newest = list(&db, "big", None, None, 0, 1).unwrap().0[0].pk.clone();
        assert_eq!(prune(&db, 10).unwrap(), 20);
        let (kept, total) = list(&db, "big", None, None, 0, 100).unwrap();
        assert_eq!(total, 10);
        assert_eq!(kept[0].pk, newest, "the newest stay");
        assert_eq!(list(&db, "small", None, None, 0, 100).unwrap().1, 5);
    }
}
