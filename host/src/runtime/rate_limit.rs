//! Pacing of outgoing requests per connected account, so a transfer stays under
//! the provider's published limit instead of bouncing off `429`s.
//!
//! Providers count requests in a rolling window ("100 per 10 s"), so the pacer
//! keeps the send times of the last `requests` requests: the next may go when
//! the oldest of them has left the window. A `429` with `Retry-After` pauses the
//! whole account. An optional semaphore caps requests in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::manifest::RateLimit;

/// Slack added to the window, so clock skew between us and the provider does not
/// put request N+1 inside the provider's window.
const WINDOW_MARGIN: Duration = Duration::from_millis(50);

pub struct ConnectionLimiter {
    window: Duration,
    requests: usize,
    state: Mutex<PacerState>,
    in_flight: Option<Arc<Semaphore>>,
}

struct PacerState {
    /// Send times granted, oldest first; at most `requests` long.
    sent: VecDeque<Instant>,
    /// No request before this instant (set by a `429`).
    paused_until: Option<Instant>,
}

/// Held while a request is in flight.
pub struct Permit {
    _in_flight: Vec<OwnedSemaphorePermit>,
}

impl ConnectionLimiter {
    pub fn new(limit: RateLimit) -> Self {
        ConnectionLimiter {
            window: Duration::from_millis(u64::from(limit.window_ms)) + WINDOW_MARGIN,
            requests: limit.requests.max(1) as usize,
            state: Mutex::new(PacerState {
                sent: VecDeque::new(),
                paused_until: None,
            }),
            in_flight: (limit.max_concurrent > 0)
                .then(|| Arc::new(Semaphore::new(limit.max_concurrent as usize))),
        }
    }

    /// Waits for a slot, or answers `None` at once when none comes before
    /// `deadline` (nothing is reserved then).
    pub async fn acquire(&self, deadline: Instant) -> Option<Permit> {
        acquire_all(&[self], deadline).await
    }

    /// The earliest send time at or after `now` this limiter allows.
    fn earliest(&self, state: &PacerState, now: Instant) -> Instant {
        let mut at = now.max(state.paused_until.unwrap_or(now));
        if state.sent.len() >= self.requests
            && let Some(oldest) = state.sent.front()
        {
            at = at.max(*oldest + self.window);
        }
        at
    }

    /// Books a send at `at` (no earlier than [`Self::earliest`]).
    fn book(&self, state: &mut PacerState, at: Instant) {
        if state.sent.len() >= self.requests {
            state.sent.pop_front();
        }
        state.sent.push_back(at);
    }

    /// Nothing this limiter remembers can delay a request any more: its last
    /// send left the window and no pause is pending.
    fn idle(&self, now: Instant) -> bool {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .sent
            .back()
            .is_none_or(|last| *last + self.window <= now)
            && state.paused_until.is_none_or(|until| until <= now)
    }

    /// The provider said to wait: hold every request of this account until `until`.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
    }
}

/// Waits for a slot in every one of `limiters` at the same instant, or
/// answers `None` at once when none comes before `deadline` (nothing is
/// reserved then). A request that counts against several limits (its rate
/// class and the general one) is so booked in each at the time it is really
/// sent: booked in one while it waited for the other, it would leave that
/// one's window early and let a burst through. Locks are taken in the order
/// given; callers give a rate class before the general limiter.
pub async fn acquire_all(limiters: &[&ConnectionLimiter], deadline: Instant) -> Option<Permit> {
    let mut in_flight = Vec::new();
    for limiter in limiters {
        if let Some(sem) = &limiter.in_flight {
            let permit = tokio::time::timeout_at(deadline, sem.clone().acquire_owned()).await;
            in_flight.push(permit.ok()?.ok()?);
        }
    }
    let send_at = {
        let now = Instant::now();
        let mut states: Vec<_> = limiters
            .iter()
            .map(|l| l.state.lock().unwrap_or_else(PoisonError::into_inner))
            .collect();
        let at = limiters
            .iter()
            .zip(&states)
            .map(|(l, state)| l.earliest(state, now))
            .max()
            .unwrap_or(now);
        if at > deadline {
            return None;
        }
        for (limiter, state) in limiters.iter().zip(states.iter_mut()) {
            limiter.book(state, at);
        }
        at
    };
    // A request the limits let through now goes now: tokio's timer rounds
    // a deadline up to its next millisecond tick, so sleeping until "now"
    // would cost every unpaced request about a millisecond.
    if send_at > Instant::now() {
        tokio::time::sleep_until(send_at).await;
    }
    Some(Permit {
        _in_flight: in_flight,
    })
}

/// One limiter per (connector, account), created on first use and dropped
/// again once idle (swept after as many new limiters as half the map, at
/// least [`SWEEP_EVERY`]: amortised constant work), so deleted and idle
/// sessions do not accumulate.
#[derive(Default)]
pub struct Limiters {
    by_connection: Mutex<LimiterMap>,
}

#[derive(Default)]
struct LimiterMap {
    limiters: HashMap<(String, String), Arc<ConnectionLimiter>>,
    created_since_sweep: usize,
}

/// New limiters between sweeps, at least.
const SWEEP_EVERY: usize = 1024;

impl Limiters {
    pub fn get(
        &self,
        connector: &str,
        connection: &str,
        limit: RateLimit,
    ) -> Arc<ConnectionLimiter> {
        let mut map = self
            .by_connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (connector.to_owned(), connection.to_owned());
        if let Some(limiter) = map.limiters.get(&key) {
            return limiter.clone();
        }
        map.created_since_sweep += 1;
        if map.created_since_sweep >= SWEEP_EVERY.max(map.limiters.len() / 2) {
            let now = Instant::now();
            // Held by nobody else (no request in flight) and idle: forgotten.
            map.limiters
                .retain(|_, l| Arc::strong_count(l) > 1 || !l.idle(now));
            map.created_since_sweep = 0;
        }
        let limiter = Arc::new(ConnectionLimiter::new(limit));
        map.limiters.insert(key, limiter.clone());
        limiter
    }

    /// Limiters held now.
    pub fn held(&self) -> usize {
        self.by_connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .limiters
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, window_ms: u32) -> RateLimit {
        RateLimit {
            requests,
            window_ms,
            max_concurrent: 0,
        }
    }

    /// A request the limits let through now is sent on the spot, not at
    /// the timer's next millisecond tick (which cost every provider request
    /// about a millisecond).
    #[tokio::test]
    async fn a_request_the_limits_let_through_is_not_held_for_a_timer_tick() {
        let limiter = ConnectionLimiter::new(limit(5, 1000));
        let far = Instant::now() + Duration::from_secs(60);
        let limiters = [&limiter];
        let mut waker = std::task::Context::from_waker(std::task::Waker::noop());
        for _ in 0..5 {
            let mut acquiring = std::pin::pin!(acquire_all(&limiters, far));
            let polled = std::future::Future::poll(acquiring.as_mut(), &mut waker);
            assert!(matches!(polled, std::task::Poll::Ready(Some(_))));
        }
        // The sixth waits for the window.
        let mut sixth = std::pin::pin!(acquire_all(&limiters, far));
        let polled = std::future::Future::poll(sixth.as_mut(), &mut waker);
        assert!(polled.is_pending());
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_any_window() {
        let limiter = ConnectionLimiter::new(limit(5, 1000));
        let far = Instant::now() + Duration::from_secs(60);
        let mut sends = Vec::new();
        for _ in 0..20 {
            assert!(limiter.acquire(far).await.is_some());
            sends.push(Instant::now());
        }
        let window = Duration::from_millis(1000);
        for (i, t) in sends.iter().enumerate() {
            let in_window = sends[i..].iter().filter(|s| **s < *t + window).count();
            assert!(in_window <= 5, "{in_window} requests within one window");
        }
        // The first five go at once: bursts up to the limit are allowed.
        assert_eq!(sends[4], sends[0]);
        assert!(sends[5] >= sends[0] + window);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_past_the_deadline_is_refused_without_reserving() {
        let limiter = ConnectionLimiter::new(limit(1, 10_000));
        let now = Instant::now();
        assert!(
            limiter
                .acquire(now + Duration::from_secs(1))
                .await
                .is_some()
        );
        assert!(
            limiter
                .acquire(now + Duration::from_secs(1))
                .await
                .is_none()
        );
        assert_eq!(limiter.state.lock().unwrap().sent.len(), 1);
    }

    /// Searches (4 per s) that waited for the general window (8 per 10 s
    /// here, full) are booked in their class when they are sent, not when
    /// they started waiting: they still keep to 4 in any second.
    #[tokio::test(start_paused = true)]
    async fn a_request_of_a_class_is_booked_in_both_limits_when_it_is_sent() {
        let general = ConnectionLimiter::new(limit(8, 10_000));
        let search = ConnectionLimiter::new(limit(4, 1000));
        let far = Instant::now() + Duration::from_secs(120);
        for _ in 0..8 {
            assert!(general.acquire(far).await.is_some());
        }
        let mut sends = Vec::new();
        for _ in 0..8 {
            assert!(acquire_all(&[&search, &general], far).await.is_some());
            sends.push(Instant::now());
        }
        for (i, t) in sends.iter().enumerate() {
            let in_a_second = sends[i..]
                .iter()
                .filter(|s| **s < *t + Duration::from_millis(1000))
                .count();
            assert!(in_a_second <= 4, "{in_a_second} searches within one second");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_request() {
        let limiter = ConnectionLimiter::new(limit(100, 1000));
        let start = Instant::now();
        limiter.pause_until(start + Duration::from_secs(3));
        assert!(
            limiter
                .acquire(start + Duration::from_secs(10))
                .await
                .is_some()
        );
        assert!(Instant::now() >= start + Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_capped() {
        let limiter = ConnectionLimiter::new(RateLimit {
            requests: 100,
            window_ms: 1000,
            max_concurrent: 1,
        });
        let far = Instant::now() + Duration::from_secs(5);
        let held = limiter.acquire(far).await;
        assert!(held.is_some());
        let soon = Instant::now() + Duration::from_millis(100);
        assert!(limiter.acquire(soon).await.is_none());
        drop(held);
        assert!(limiter.acquire(far).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_limiters_are_forgotten_and_busy_ones_kept() {
        let limiters = Limiters::default();
        let busy = limiters.get("hubspot", "busy", limit(1, 1000));
        busy.acquire(Instant::now() + Duration::from_secs(1)).await;
        let used = |round: &str, i: usize| {
            let l = limiters.get("hubspot", &format!("{round}{i}"), limit(1, 1000));
            async move {
                l.acquire(Instant::now() + Duration::from_secs(1))
                    .await
                    .is_some()
            }
        };
        for i in 0..SWEEP_EVERY {
            assert!(used("old", i).await);
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        for i in 0..SWEEP_EVERY {
            assert!(used("new", i).await);
        }
        // The old round went idle and was swept; the new one and the held
        // limiter stay.
        assert!(limiters.held() <= SWEEP_EVERY + 2, "{}", limiters.held());
        assert!(Arc::ptr_eq(
            &busy,
            &limiters.get("hubspot", "busy", limit(1, 1000))
        ));
    }
}
