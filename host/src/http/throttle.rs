//! Failed sign-ins, counted per client address: after `max_failures` wrong
//! admin or API keys within `window`, every key from that address is answered
//! 429 with `Retry-After` until the window ends, the right key included (or
//! the answers would tell a guesser when it guessed right).
//!
//! IPv6 clients are counted per /64, which one client usually holds whole.
//! The address is the TCP peer's: behind a reverse proxy every client shares
//! the proxy's, so a guesser there delays everyone's sign-ins, not only its
//! own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_failures: 10,
            window: Duration::from_secs(60),
        }
    }
}

/// Addresses remembered at most; beyond, the oldest windows are forgotten.
const MAX_CLIENTS: usize = 10_000;

struct Window {
    started: Instant,
    failures: u32,
}

pub struct SignInThrottle {
    config: ThrottleConfig,
    clients: Mutex<HashMap<IpAddr, Window>>,
}

impl SignInThrottle {
    pub fn new(config: ThrottleConfig) -> Self {
        SignInThrottle {
            config,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `client` used up its failures: try again after `wait`.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        let Some(client) = client.map(counted_as) else {
            return Ok(());
        };
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        match clients.get(&client) {
            Some(w) if w.failures >= self.config.max_failures => {
                match (w.started + self.config.window).checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Err(left),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong key from `client`.
    pub fn failed(&self, client: Option<IpAddr>) {
        let Some(client) = client.map(counted_as) else {
            return;
        };
        let now = Instant::now();
        let window = self.config.window;
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, w| now.duration_since(w.started) < window);
            if clients.len() >= MAX_CLIENTS
                && let Some(oldest) = clients
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(a, _)| *a)
            {
                clients.remove(&oldest);
            }
        }
        let entry = clients.entry(client).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(entry.started) >= window {
            *entry = Window {
                started: now,
                failures: 0,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }
}

/// The address failures are counted under: IPv4 (also IPv4-mapped) as is,
/// IPv6 by its /64.
fn counted_as(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn a_client_is_refused_after_its_failures_and_others_are_not() {
        let throttle = SignInThrottle::new(ThrottleConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
        });
        for _ in 0..3 {
            assert_eq!(throttle.check(ip("192.0.2.1")), Ok(()));
            throttle.failed(ip("192.0.2.1"));
        }
        let wait = throttle.check(ip("192.0.2.1")).unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(throttle.check(ip("::ffff:192.0.2.1")).is_err());
        assert_eq!(throttle.check(ip("192.0.2.2")), Ok(()));
        assert_eq!(throttle.check(None), Ok(()));
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let throttle = SignInThrottle::new(ThrottleConfig {
            max_failures: 2,
            window: Duration::from_secs(60),
        });
        throttle.failed(ip("2001:db8:1:2::1"));
        throttle.failed(ip("2001:db8:1:2:ffff::9"));
        assert!(throttle.check(ip("2001:db8:1:2::77")).is_err());
        assert_eq!(throttle.check(ip("2001:db8:1:3::1")), Ok(()));
    }

    #[test]
    fn the_window_ends() {
        let throttle = SignInThrottle::new(ThrottleConfig {
            max_failures: 1,
            window: Duration::ZERO,
        });
        throttle.failed(ip("192.0.2.1"));
        assert_eq!(throttle.check(ip("192.0.2.1")), Ok(()));
    }

    #[test]
    fn memory_is_bounded() {
        let throttle = SignInThrottle::new(ThrottleConfig::default());
        for i in 0..(MAX_CLIENTS as u32 + 100) {
            throttle.failed(Some(IpAddr::V4(i.into())));
        }
        assert!(throttle.clients.lock().unwrap().len() <= MAX_CLIENTS);
    }
}
