//! API requests per second, counted per account: every request an account's
//! API key authenticates takes a token from that account's bucket, which
//! refills at `requests_per_second` up to `burst`. With the bucket empty the
//! request is answered 429 with `Retry-After` (the whole seconds until the
//! next token, at least 1) and takes nothing, so a client that waits as told
//! is served. Each account has its own bucket: one account at its limit
//! never slows another.
//!
//! Buckets live in memory only (a restart starts every account with a full
//! burst, harmless for a per-second limit), at most [`MAX_ACCOUNTS`] of them:
//! a full bucket is the same as none, so those are forgotten first.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How fast one account may call the API.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountRateConfig {
    /// Requests per second an account may keep up; 0 turns the limit off.
    pub requests_per_second: u32,
    /// Requests an account that was idle may send at once (at least 1).
    pub burst: u32,
}

impl AccountRateConfig {
    /// `requests_per_second`, with bursts of twice as many.
    pub fn per_second(requests_per_second: u32) -> Self {
        AccountRateConfig {
            requests_per_second,
            burst: requests_per_second.saturating_mul(2),
        }
    }

    pub fn unlimited() -> Self {
        AccountRateConfig::per_second(0)
    }

    fn is_unlimited(&self) -> bool {
        self.requests_per_second == 0
    }
}

impl Default for AccountRateConfig {
    fn default() -> Self {
        AccountRateConfig::per_second(100)
    }
}

/// An account used up its rate; it may send again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "more than {requests_per_second} requests per second (bursts of {burst}); try again in {} s",
    retry_after.as_secs()
)]
pub struct RateExceeded {
    pub requests_per_second: u32,
    pub burst: u32,
    /// Whole seconds, at least one.
    pub retry_after: Duration,
}

/// Accounts whose buckets are remembered at most.
const MAX_ACCOUNTS: usize = 10_000;

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct AccountRateLimiter {
    config: AccountRateConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl AccountRateLimiter {
    pub fn new(config: AccountRateConfig) -> Self {
        AccountRateLimiter {
            config: AccountRateConfig {
                burst: config.burst.max(1),
                ..config
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `account`, or refuses it when the account used
    /// up its rate.
    pub fn admit(&self, account: &str) -> Result<(), RateExceeded> {
        self.admit_at(account, Instant::now())
    }

    fn admit_at(&self, account: &str, now: Instant) -> Result<(), RateExceeded> {
        if self.config.is_unlimited() {
            return Ok(());
        }
        let rate = f64::from(self.config.requests_per_second);
        let burst = f64::from(self.config.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if !buckets.contains_key(account) && buckets.len() >= MAX_ACCOUNTS {
            self.forget_some(&mut buckets, now);
        }
        let bucket = match buckets.get_mut(account) {
            Some(bucket) => bucket,
            None => buckets.entry(account.to_owned()).or_insert(Bucket {
                tokens: burst,
                refilled: now,
            }),
        };
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let next_token = Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
        let whole_seconds = next_token.as_secs() + u64::from(next_token.subsec_nanos() > 0);
        Err(RateExceeded {
            requests_per_second: self.config.requests_per_second,
            burst: self.config.burst,
            retry_after: Duration::from_secs(whole_seconds.max(1)),
        })
    }

    /// Makes room for one more bucket: drops those that refilled (the same
    /// as having none), else the one used longest ago.
    fn forget_some(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let rate = f64::from(self.config.requests_per_second);
        let burst = f64::from(self.config.burst);
        buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.refilled).as_secs_f64() * rate < burst
        });
        if buckets.len() >= MAX_ACCOUNTS
            && let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, b)| b.refilled)
                .map(|(account, _)| account.clone())
        {
            buckets.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(requests_per_second: u32, burst: u32) -> AccountRateLimiter {
        AccountRateLimiter::new(AccountRateConfig {
            requests_per_second,
            burst,
        })
    }

    #[test]
    fn an_account_gets_its_burst_then_waits_and_others_do_not() {
        let limiter = limiter(2, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit_at("a", now), Ok(()));
        }
        let refused = limiter.admit_at("a", now).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(refused.requests_per_second, 2);
        assert_eq!(refused.burst, 3);
        assert_eq!(limiter.admit_at("b", now), Ok(()), "another account");
        // Half a second brings one token at 2/s; the refusal took none.
        let later = now + Duration::from_millis(500);
        assert_eq!(limiter.admit_at("a", later), Ok(()));
        assert!(limiter.admit_at("a", later).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_until_the_next_token() {
        let limiter = limiter(1, 1);
        let now = Instant::now();
        assert_eq!(limiter.admit_at("a", now), Ok(()));
        let soon = now + Duration::from_millis(100);
        assert_eq!(
            limiter.admit_at("a", soon).unwrap_err().retry_after,
            Duration::from_secs(1)
        );
        assert_eq!(limiter.admit_at("a", now + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn zero_is_no_limit() {
        let limiter = AccountRateLimiter::new(AccountRateConfig::unlimited());
        let now = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(limiter.admit_at("a", now), Ok(()));
        }
        assert!(limiter.buckets.lock().unwrap().is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let limiter = limiter(1, 5);
        let now = Instant::now();
        for i in 0..(MAX_ACCOUNTS + 100) {
            assert_eq!(limiter.admit_at(&format!("account-{i}"), now), Ok(()));
        }
        assert!(limiter.buckets.lock().unwrap().len() <= MAX_ACCOUNTS);
    }

    #[test]
    fn refilled_buckets_are_forgotten_before_busy_ones() {
        let limiter = limiter(1, 2);
        let now = Instant::now();
        for i in 0..MAX_ACCOUNTS - 1 {
            limiter.admit_at(&format!("idle-{i}"), now).unwrap();
        }
        let later = now + Duration::from_secs(5);
        limiter.admit_at("busy", later).unwrap();
        limiter.admit_at("busy", later).unwrap();
        limiter.admit_at("newcomer", later).unwrap();
        assert_eq!(
            limiter.buckets.lock().unwrap().len(),
            2,
            "the idle ones went"
        );
        assert!(
            limiter.admit_at("busy", later).is_err(),
            "the busy account kept its empty bucket"
        );
    }
}
