//! How many sessions each account has, so the per-account cap is checked
//! without a scan: counted once from the `sessions_by_account` index when the
//! host opens its data, then moved with every create and delete under one
//! lock. Only the index is stored; the counts follow from it, so a restart
//! (or a crash between writing a session and answering) counts again from
//! what is on disk.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sled::Tree;

use crate::store::StoreError;

#[derive(Default)]
pub struct SessionCounts {
    by_account: Mutex<HashMap<String, usize>>,
}

impl SessionCounts {
    /// Counts the entries of `sessions_by_account` (`account \0 created \0
    /// id`) per account: one pass over its keys, which are sorted by account.
    pub fn count(index: &Tree) -> Result<Self, StoreError> {
        let mut by_account = HashMap::new();
        let mut current: Option<(Vec<u8>, usize)> = None;
        for key in index.iter().keys() {
            let key = key?;
            let account = key.split(|b| *b == 0).next().unwrap_or_default();
            match &mut current {
                Some((name, n)) if name.as_slice() == account => *n += 1,
                _ => {
                    if let Some((name, n)) = current.replace((account.to_vec(), 1)) {
                        by_account.insert(String::from_utf8_lossy(&name).into_owned(), n);
                    }
                }
            }
        }
        if let Some((name, n)) = current {
            by_account.insert(String::from_utf8_lossy(&name).into_owned(), n);
        }
        Ok(SessionCounts {
            by_account: Mutex::new(by_account),
        })
    }

    /// Counts one more session of `account`, unless it already has `limit`
    /// (`Err(limit)`). Undo with [`SessionCounts::release`] if the session
    /// is not stored after all.
    pub fn reserve(&self, account: &str, limit: Option<usize>) -> Result<(), usize> {
        let mut counts = self.lock();
        let count = match counts.get_mut(account) {
            Some(count) => count,
            None => counts.entry(account.to_owned()).or_default(),
        };
        if let Some(limit) = limit
            && *count >= limit
        {
            return Err(limit);
        }
        *count += 1;
        Ok(())
    }

    /// Counts one session of `account` fewer.
    pub fn release(&self, account: &str) {
        let mut counts = self.lock();
        if let Some(count) = counts.get_mut(account) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(account);
            }
        }
    }

    /// The sessions `account` has.
    pub fn of(&self, account: &str) -> usize {
        self.lock().get(account).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.by_account
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key;

    #[test]
    fn counts_follow_the_index_and_the_limit_holds() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let index = db.open_tree("sessions_by_account").unwrap();
        for (account, id) in [("a", "1"), ("a", "2"), ("a.b", "3"), ("b", "4")] {
            index
                .insert(key(&[account, "00000000000000000001", id]), &[])
                .unwrap();
        }
        let counts = SessionCounts::count(&index).unwrap();
        assert_eq!(
            (counts.of("a"), counts.of("a.b"), counts.of("b")),
            (2, 1, 1)
        );
        assert_eq!(counts.reserve("a", Some(2)), Err(2));
        assert_eq!(counts.reserve("b", Some(2)), Ok(()));
        assert_eq!(counts.reserve("b", Some(2)), Err(2));
        counts.release("a");
        assert_eq!(counts.reserve("a", Some(2)), Ok(()));
        assert_eq!(counts.reserve("c", None), Ok(()));
        assert_eq!(counts.of("c"), 1);
        counts.release("c");
        counts.release("c");
        assert_eq!(counts.of("c"), 0);
    }
}
