//! Rolling-window request limits per key (token or realm), as the providers
//! enforce them, plus a concurrent-request cap (QuickBooks allows 10).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// The outcome of one check, with what the rate-limit headers report.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub max: u32,
    pub remaining: u32,
    pub window: Duration,
    /// Time until the oldest counted request leaves the window.
    pub reset_after: Duration,
}

/// A rolling window per key.
#[derive(Debug)]
pub struct Limiter {
    policy: RateLimit,
    hits: HashMap<String, VecDeque<Instant>>,
}

impl Limiter {
    pub fn new(policy: RateLimit) -> Self {
        Limiter {
            policy,
            hits: HashMap::new(),
        }
    }

    pub fn policy(&self) -> RateLimit {
        self.policy
    }

    /// Replaces the policy and forgets past requests.
    pub fn set_policy(&mut self, policy: RateLimit) {
        self.policy = policy;
        self.hits.clear();
    }

    /// Counts a request for `key` unless the window is full.
    pub fn check(&mut self, key: &str, now: Instant) -> Decision {
        let RateLimit { max, window } = self.policy;
        let hits = self.hits.entry(key.to_string()).or_default();
        while hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            hits.pop_front();
        }
        let allowed = (hits.len() as u32) < max;
        if allowed {
            hits.push_back(now);
        }
        let reset_after = hits
            .front()
            .map_or(window, |t| window.saturating_sub(now.duration_since(*t)));
        Decision {
            allowed,
            max,
            remaining: max.saturating_sub(hits.len() as u32),
            window,
            reset_after,
        }
    }
}

/// Counts requests in flight per key.
#[derive(Debug, Default, Clone)]
pub struct InFlight {
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

/// Releases one in-flight slot when dropped.
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Mutex<HashMap<String, u32>>>,
    key: String,
}

impl InFlight {
    /// Takes a slot unless `max` requests for `key` are already running.
    pub fn enter(&self, key: &str, max: u32) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(key.to_string()).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.counts.clone(),
            key: key.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rolls() {
        let mut l = Limiter::new(RateLimit {
            max: 2,
            window: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        assert!(l.check("a", t0).allowed);
        assert!(l.check("a", t0).allowed);
        let d = l.check("a", t0 + Duration::from_secs(1));
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(l.check("b", t0).allowed);
        assert!(l.check("a", t0 + Duration::from_secs(10)).allowed);
    }

    #[test]
    fn in_flight_caps() {
        let f = InFlight::default();
        let a = f.enter("r", 1);
        assert!(a.is_some());
        assert!(f.enter("r", 1).is_none());
        drop(a);
        assert!(f.enter("r", 1).is_some());
    }
}
