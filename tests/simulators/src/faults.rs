//! Injected faults: 5xx error rates and fixed failures, latency, bursts of
//! 429s, responses cut mid-body and malformed JSON. Everything is driven by
//! counters or a seeded RNG, so a test run is repeatable.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::stream;
use serde::Deserialize;

use crate::data::mix;

/// Fault settings, as set through `Control` or `POST /_sim/faults`. Absent
/// fields leave the current setting unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Probability (0..=1) that an API request answers a 5xx.
    pub error_rate: Option<f64>,
    /// The status used for `error_rate` and `fail_next` (default 500).
    pub error_status: Option<u16>,
    /// The next N API requests answer a 5xx.
    pub fail_next: Option<u32>,
    /// Fixed latency added to every API request, in milliseconds.
    pub latency_ms: Option<u64>,
    /// The next N API requests answer the provider's 429.
    pub throttle_next: Option<u32>,
    /// The next N API responses are cut in the middle of the body.
    pub cut_next: Option<u32>,
    /// The next N API responses carry malformed JSON.
    pub malformed_next: Option<u32>,
}

/// What happens before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    Proceed,
    Throttle,
    Fail(u16),
}

/// What happens to the handler's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Keep,
    Cut,
    Malform,
}

/// Live fault state of one simulator.
#[derive(Debug)]
pub struct Faults {
    error_rate: f64,
    error_status: u16,
    fail_next: u32,
    latency: Duration,
    throttle_next: u32,
    cut_next: u32,
    malformed_next: u32,
    seed: u64,
    rng: u64,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Faults {
            error_rate: 0.0,
            error_status: 500,
            fail_next: 0,
            latency: Duration::ZERO,
            throttle_next: 0,
            cut_next: 0,
            malformed_next: 0,
            seed,
            rng: seed,
        }
    }

    /// Applies the given settings on top of the current ones.
    pub fn apply(&mut self, s: &FaultSettings) {
        if let Some(v) = s.error_rate {
            self.error_rate = v.clamp(0.0, 1.0);
            self.rng = self.seed;
        }
        if let Some(v) = s.error_status {
            self.error_status = v;
        }
        if let Some(v) = s.fail_next {
            self.fail_next = v;
        }
        if let Some(v) = s.latency_ms {
            self.latency = Duration::from_millis(v);
        }
        if let Some(v) = s.throttle_next {
            self.throttle_next = v;
        }
        if let Some(v) = s.cut_next {
            self.cut_next = v;
        }
        if let Some(v) = s.malformed_next {
            self.malformed_next = v;
        }
    }

    /// Back to no faults at all.
    pub fn clear(&mut self) {
        *self = Faults::new(self.seed);
    }

    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Decides the fate of a request before it is handled.
    pub fn before(&mut self) -> Before {
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Before::Throttle;
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Before::Fail(self.error_status);
        }
        if self.error_rate > 0.0 {
            self.rng = mix(self.rng);
            let roll = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
            if roll < self.error_rate {
                return Before::Fail(self.error_status);
            }
        }
        Before::Proceed
    }

    /// Decides what happens to the response once handled.
    pub fn after(&mut self) -> After {
        if self.cut_next > 0 {
            self.cut_next -= 1;
            return After::Cut;
        }
        if self.malformed_next > 0 {
            self.malformed_next -= 1;
            return After::Malform;
        }
        After::Keep
    }
}

/// Rewrites a buffered response as the fault requires.
pub async fn damage(response: Response, how: After) -> Response {
    if how == After::Keep {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    match how {
        After::Cut => {
            // Promise the whole length, send half, then fail the stream: the
            // connection is dropped mid-body.
            parts.headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(bytes.len().max(2)),
            );
            // The pause lets the head and the first half reach the client
            // before the connection is dropped.
            let chunks = stream::unfold(Some(half), |state| async move {
                match state {
                    Some(half) => Some((Ok(half), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let cut: Result<Bytes, std::io::Error> =
                            Err(std::io::Error::other("connection cut by fault injection"));
                        Some((cut, None))
                    }
                }
            });
            Response::from_parts(parts, Body::from_stream(chunks))
        }
        _ => {
            parts.headers.remove(header::CONTENT_LENGTH);
            let mut broken = half.to_vec();
            broken.extend_from_slice(b"<!-- \x00 truncated");
            Response::from_parts(parts, Body::from(broken))
        }
    }
}

/// Holds requests of one route at the door until a test lets them go, so a
/// test can change things (sign in again, revoke a token) while a request is
/// known to be on its way, without guessing at timings.
#[derive(Debug, Default)]
pub struct Gate {
    /// The route to hold (as the request counters name it, `POST
    /// /oauth/v1/token`) and how many more of its requests to hold.
    to_hold: std::sync::Mutex<Option<(String, u32)>>,
    waiting: std::sync::atomic::AtomicU32,
    released: tokio::sync::Notify,
}

impl Gate {
    /// The next `n` requests of `route` wait at the gate.
    pub fn hold_next(&self, route: &str, n: u32) {
        *self.to_hold.lock().unwrap_or_else(|p| p.into_inner()) = Some((route.to_owned(), n));
    }

    /// Requests waiting at the gate now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets every waiting request go on.
    pub fn release(&self) {
        self.released.notify_waiters();
    }

    /// Waits here if this request of `route` is one to hold.
    pub async fn pass(&self, route: &str) {
        {
            let mut to_hold = self.to_hold.lock().unwrap_or_else(|p| p.into_inner());
            match to_hold.as_mut() {
                Some((held, n)) if held == route && *n > 0 => *n -= 1,
                _ => return,
            }
        }
        // Registered before it counts as waiting, so a release that follows
        // a look at `waiting` reaches it.
        let released = self.released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        let _waiting = Waiting::enter(&self.waiting);
        released.await;
    }
}

/// Counts a request as waiting at the gate while it lives (a request whose
/// client gave up is dropped while waiting).
struct Waiting<'a>(&'a std::sync::atomic::AtomicU32);

impl<'a> Waiting<'a> {
    fn enter(count: &'a std::sync::atomic::AtomicU32) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gate_holds_the_next_requests_until_released() {
        let gate = std::sync::Arc::new(Gate::default());
        gate.hold_next("POST /token", 1);
        // Other routes go by.
        gate.pass("GET /contacts").await;
        let held = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass("POST /token").await }
        });
        while gate.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // Only the first request was to be held: the next one goes by.
        gate.pass("POST /token").await;
        assert!(!held.is_finished());
        gate.release();
        held.await.unwrap();
        assert_eq!(gate.waiting(), 0);
    }
}
