//! How many pulled records each account stores, so the per-account cap
//! (`--max-stored-records-per-account`) is checked without a scan. Counted
//! once from the transfers' statistics when the host opens its data, then
//! moved as pull steps commit and sessions are deleted. Nothing extra is
//! stored: after a restart the counts follow again from what is on disk.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use sled::Tree;

use super::StoreError;

#[derive(Default)]
pub struct RecordCounts {
    by_account: Mutex<HashMap<String, u64>>,
}

/// What counting needs of a stored transfer.
#[derive(Deserialize)]
struct Counted {
    account: String,
    method: String,
    stats: CountedStats,
    /// Set once its records were deleted: they no longer count.
    #[serde(default)]
    records_expired_ms: Option<u64>,
}

#[derive(Deserialize)]
struct CountedStats {
    records: u64,
}

impl RecordCounts {
    /// Sums the records of every pull in `transfers` per account.
    pub fn count(transfers: &Tree) -> Result<Self, StoreError> {
        let counts = RecordCounts::default();
        for value in transfers.iter().values() {
            counts.add_stored(&value?);
        }
        Ok(counts)
    }

    /// The pulled records of the stored transfer `value`, when it is one:
    /// its account and how many.
    pub fn of_stored(value: &[u8]) -> Option<(String, u64)> {
        let t: Counted = serde_json::from_slice(value).ok()?;
        (t.method.eq_ignore_ascii_case("pull") && t.records_expired_ms.is_none())
            .then_some((t.account, t.stats.records))
    }

    fn add_stored(&self, value: &[u8]) {
        if let Some((account, n)) = Self::of_stored(value) {
            self.add(&account, n);
        }
    }

    pub fn add(&self, account: &str, n: u64) {
        if n == 0 {
            return;
        }
        let mut counts = self.lock();
        match counts.get_mut(account) {
            Some(count) => *count += n,
            None => {
                counts.insert(account.to_owned(), n);
            }
        }
    }

    /// Forgets the records of the stored transfer `value` (deleted).
    pub fn remove_stored(&self, value: &[u8]) {
        let Some((account, n)) = Self::of_stored(value) else {
            return;
        };
        let mut counts = self.lock();
        if let Some(count) = counts.get_mut(&account) {
            *count = count.saturating_sub(n);
            if *count == 0 {
                counts.remove(&account);
            }
        }
    }

    pub fn of(&self, account: &str) -> u64 {
        self.lock().get(account).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored(account: &str, method: &str, records: u64) -> Vec<u8> {
        json!({ "account": account, "method": method, "stats": { "records": records }, "other": 1 })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn pulls_count_per_account_and_deletes_give_back() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("transfers").unwrap();
        tree.insert("t1", stored("acme", "pull", 70)).unwrap();
        tree.insert("t2", stored("acme", "PULL", 30)).unwrap();
        tree.insert("t3", stored("acme", "push", 500)).unwrap();
        tree.insert("t4", stored("globex", "pull", 5)).unwrap();
        let counts = RecordCounts::count(&tree).unwrap();
        assert_eq!(counts.of("acme"), 100, "pushes are not pulled records");
        assert_eq!(counts.of("globex"), 5);
        counts.add("globex", 10);
        assert_eq!(counts.of("globex"), 15);
        counts.remove_stored(&stored("acme", "pull", 70));
        assert_eq!(counts.of("acme"), 30);
        counts.remove_stored(&stored("acme", "pull", 999));
        assert_eq!(counts.of("acme"), 0);
        assert_eq!(counts.of("nobody"), 0);
    }

    #[test]
    fn pulls_whose_records_expired_count_nothing() {
        let expired = json!({ "account": "acme", "method": "pull", "stats": { "records": 70 }, "records_expired_ms": 1 })
            .to_string()
            .into_bytes();
        assert_eq!(RecordCounts::of_stored(&expired), None);
        assert_eq!(
            RecordCounts::of_stored(&stored("acme", "pull", 70)),
            Some(("acme".to_owned(), 70))
        );
    }
}
