//! The state every part of one simulator shares: its settings, OAuth tokens,
//! faults, request counters, rate limiters and clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{RateLimit, SimConfig};
use crate::data::{Dataset, mix};
use crate::faults::{Faults, Gate};
use crate::oauth::OAuth;
use crate::rate_limit::{InFlight, Limiter};
use crate::server::Provider;

/// Locks a mutex, ignoring poisoning (a panicked handler must not wedge the
/// simulator for the rest of a test run).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Rate-limit state: on/off plus the windows.
#[derive(Debug)]
pub struct Limits {
    pub enabled: bool,
    pub main: Limiter,
    /// HubSpot's search endpoints: about 4 requests per second per token.
    pub search: Limiter,
}

/// Shared state of one running simulator.
#[derive(Debug)]
pub struct Ctx {
    pub provider: Provider,
    pub config: SimConfig,
    pub base_url: String,
    /// The QuickBooks company id (used in every QuickBooks API path).
    pub realm_id: String,
    pub clock: Clock,
    pub faults: Mutex<Faults>,
    pub limits: Mutex<Limits>,
    pub in_flight: InFlight,
    /// Requests a test holds at the door (see [`Gate`]).
    pub gate: Gate,
    oauth: Mutex<OAuth>,
    counters: Mutex<BTreeMap<String, u64>>,
    /// Requests answered with the provider's rate-limit error.
    throttled: AtomicU64,
    correlation: AtomicU64,
}

impl Ctx {
    pub fn new(provider: Provider, config: SimConfig, base_url: String) -> Ctx {
        let lifetime = config
            .token_lifetime
            .unwrap_or(provider.default_token_lifetime());
        let policy = config
            .rate_limit_policy
            .unwrap_or(provider.default_rate_limit());
        let oauth = OAuth::new(
            &config.client_id,
            &config.client_secret,
            lifetime,
            provider.token_prefix(),
            config.seed ^ provider as u64,
            &config.static_tokens,
        );
        let realm_id = format!(
            "{}",
            9_130_000_000_000_000 + mix(config.seed) % 1_000_000_000_000
        );
        Ctx {
            provider,
            realm_id,
            base_url,
            clock: Clock::default(),
            faults: Mutex::new(Faults::new(config.seed)),
            limits: Mutex::new(Limits {
                enabled: config.rate_limit,
                main: Limiter::new(policy),
                search: Limiter::new(RateLimit {
                    max: 4,
                    window: Duration::from_secs(1),
                }),
            }),
            in_flight: InFlight::default(),
            gate: Gate::default(),
            oauth: Mutex::new(oauth),
            counters: Mutex::new(BTreeMap::new()),
            throttled: AtomicU64::new(0),
            correlation: AtomicU64::new(0),
            config,
        }
    }

    /// Whether refreshes rotate the refresh token.
    pub fn rotates_refresh_tokens(&self) -> bool {
        self.config
            .rotate_refresh_tokens
            .unwrap_or(self.provider == Provider::QuickBooks)
    }

    /// The data set the configuration describes.
    pub fn dataset(&self) -> Dataset {
        Dataset {
            seed: self.config.seed,
            people: self.config.contacts as u64,
            orgs: self.config.companies as u64,
            invoices: self.config.invoices as u64,
        }
    }

    pub fn oauth(&self) -> MutexGuard<'_, OAuth> {
        lock(&self.oauth)
    }

    /// Counts one request under `label` (e.g. `GET /crm/v3/objects/{object}`).
    pub fn count(&self, label: &str) {
        *lock(&self.counters).entry(label.to_string()).or_default() += 1;
    }

    pub fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.counters).clone()
    }

    pub fn reset_counters(&self) {
        lock(&self.counters).clear();
        self.throttled.store(0, Ordering::Relaxed);
    }

    /// Counts a request answered with the rate-limit error.
    pub fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// A deterministic UUID-looking id for error bodies.
    pub fn correlation_id(&self) -> String {
        let n = self.correlation.fetch_add(1, Ordering::Relaxed);
        let h = mix(self.config.seed ^ mix(n));
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            h >> 32,
            (h >> 16) & 0xffff,
            h & 0xfff,
            (h >> 20) & 0xfff,
            n
        )
    }
}
