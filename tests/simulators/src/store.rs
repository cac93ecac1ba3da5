//! A table of records that derives its generated rows on demand and keeps only
//! the rows written since start in memory, so a 100,000-record data set costs
//! almost nothing until it is touched. Records are numbered from 1; rows are
//! also indexed by (modification time, number) for "changed since" queries.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::iter::Peekable;

/// What the table needs to know about a row.
pub trait Row: Clone {
    /// Last modification, Unix milliseconds.
    fn updated_ms(&self) -> i64;
    /// Deleted or archived rows stay in the table as tombstones.
    fn is_deleted(&self) -> bool {
        false
    }
}

type Derive<R> = Box<dyn Fn(u64) -> R + Send + Sync>;
type Stamp = Box<dyn Fn(u64) -> i64 + Send + Sync>;

/// Generated rows `1..=generated` plus everything written since.
pub struct Table<R> {
    generated: u64,
    derive: Derive<R>,
    generated_updated: Stamp,
    written: HashMap<u64, R>,
    by_updated: BTreeSet<(i64, u64)>,
    next: u64,
}

impl<R: Row> Table<R> {
    /// A table of `generated` rows made by `derive`; `generated_updated(n)`
    /// must equal `derive(n).updated_ms()` and grow with `n`.
    pub fn new(
        generated: u64,
        derive: impl Fn(u64) -> R + Send + Sync + 'static,
        generated_updated: impl Fn(u64) -> i64 + Send + Sync + 'static,
    ) -> Self {
        Table {
            generated,
            derive: Box::new(derive),
            generated_updated: Box::new(generated_updated),
            written: HashMap::new(),
            by_updated: BTreeSet::new(),
            next: generated + 1,
        }
    }

    /// Row `n`, tombstones included.
    pub fn get(&self, n: u64) -> Option<Cow<'_, R>> {
        match self.written.get(&n) {
            Some(r) => Some(Cow::Borrowed(r)),
            None if n >= 1 && n <= self.generated => Some(Cow::Owned((self.derive)(n))),
            None => None,
        }
    }

    /// Row `n` unless it is missing or deleted.
    pub fn live(&self, n: u64) -> Option<Cow<'_, R>> {
        self.get(n).filter(|r| !r.is_deleted())
    }

    /// Whether row `n` exists and is not deleted (without deriving it).
    pub fn is_live(&self, n: u64) -> bool {
        match self.written.get(&n) {
            Some(r) => !r.is_deleted(),
            None => n >= 1 && n <= self.generated,
        }
    }

    /// Row `n`'s modification time (without deriving it).
    pub fn updated_ms(&self, n: u64) -> Option<i64> {
        match self.written.get(&n) {
            Some(r) => Some(r.updated_ms()),
            None if n >= 1 && n <= self.generated => Some((self.generated_updated)(n)),
            None => None,
        }
    }

    /// Replaces row `n` (which must exist or be the next number).
    pub fn put(&mut self, n: u64, row: R) {
        if let Some(old) = self.written.get(&n) {
            self.by_updated.remove(&(old.updated_ms(), n));
        } else if n <= self.generated {
            self.by_updated.remove(&((self.generated_updated)(n), n));
        }
        self.by_updated.insert((row.updated_ms(), n));
        self.written.insert(n, row);
        self.next = self.next.max(n + 1);
    }

    /// Appends a row and returns its number.
    pub fn insert(&mut self, row: R) -> u64 {
        let n = self.next;
        self.put(n, row);
        n
    }

    /// The highest number handed out so far.
    pub fn last(&self) -> u64 {
        self.next - 1
    }

    /// Rows that are not deleted.
    pub fn live_count(&self) -> usize {
        let deleted = self.written.values().filter(|r| r.is_deleted()).count();
        self.last() as usize - deleted
    }

    /// Every row number from `from` upwards, in number order.
    pub fn numbers_from(&self, from: u64) -> std::ops::RangeInclusive<u64> {
        from.max(1)..=self.last()
    }

    /// `(updated_ms, n)` of every row at or after `key`, in that order.
    pub fn by_updated_from(&self, key: (i64, u64)) -> impl Iterator<Item = (i64, u64)> + '_ {
        // First generated number whose key is >= `key` (keys grow with n).
        let (mut lo, mut hi) = (1u64, self.generated + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if ((self.generated_updated)(mid), mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let generated = (lo..=self.generated)
            .filter(|n| !self.written.contains_key(n))
            .map(|n| ((self.generated_updated)(n), n));
        Merge {
            a: generated.peekable(),
            b: self.by_updated.range(key..).copied().peekable(),
        }
    }

    /// Row `n` if it was written since start.
    pub fn written(&self, n: u64) -> Option<&R> {
        self.written.get(&n)
    }
}

/// Merges two ascending streams.
struct Merge<A: Iterator, B: Iterator> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<A, B> Iterator for Merge<A, B>
where
    A: Iterator<Item = (i64, u64)>,
    B: Iterator<Item = (i64, u64)>,
{
    type Item = (i64, u64);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if x <= y => self.a.next(),
            (Some(_), Some(_)) => self.b.next(),
            (Some(_), None) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct R(i64, bool);
    impl Row for R {
        fn updated_ms(&self) -> i64 {
            self.0
        }
        fn is_deleted(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn overlay_and_ordering() {
        let mut t = Table::new(5, |n| R(n as i64 * 10, false), |n| n as i64 * 10);
        assert_eq!(t.get(3).map(|r| r.into_owned()), Some(R(30, false)));
        assert!(t.get(6).is_none());
        t.put(2, R(100, false));
        let n = t.insert(R(45, false));
        assert_eq!(n, 6);
        t.put(4, R(110, true));
        let order: Vec<u64> = t.by_updated_from((25, 0)).map(|(_, n)| n).collect();
        assert_eq!(order, vec![3, 6, 5, 2, 4]);
        assert_eq!(t.live_count(), 5);
        assert!(t.live(4).is_none());
    }
}
