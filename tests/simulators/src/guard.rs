//! The path every API request takes before and after its handler:
//! authenticate, apply injected 429s and the rate limits, inject 5xx faults,
//! take an in-flight slot where the provider caps concurrency, add injected
//! latency, then add the limit headers and damage the response if a fault
//! says so. Each provider supplies its own bodies. (Requests are counted by
//! route in `count`, which wraps every route.)

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::Response;

use crate::context::{Ctx, lock};
use crate::faults::{self, Before};
use crate::oauth::Access;
use crate::rate_limit::Decision;

/// What a provider plugs into the guard.
#[derive(Clone, Copy)]
pub struct Hooks {
    /// The credential a request carries, if any.
    pub token: fn(&HeaderMap, &Uri) -> Option<String>,
    /// The provider's 401 answer.
    pub unauthorized: fn(&Ctx, Access) -> Response,
    /// The provider's answer when a limit is exceeded.
    pub throttled: fn(&Ctx, &Decision) -> Response,
    /// The provider's 5xx answer.
    pub server_error: fn(&Ctx, u16) -> Response,
    /// Adds the provider's rate-limit headers to a response.
    pub limit_headers: fn(&Decision, &mut HeaderMap),
    /// Paths ending in `/search` also count against the search limit.
    pub search_limit: bool,
    /// At most this many requests in flight (QuickBooks: 10).
    pub concurrency: Option<u32>,
    /// Limits count per account (QuickBooks' realm) rather than per token.
    pub per_account: bool,
}

/// State of the guard middleware.
#[derive(Clone)]
pub struct Guard {
    pub ctx: Arc<Ctx>,
    pub hooks: Hooks,
}

/// Puts a provider's API routes behind the guard (tokens, rate limits, faults).
pub fn guarded(api: axum::Router, ctx: &Arc<Ctx>, hooks: Hooks) -> axum::Router {
    api.route_layer(axum::middleware::from_fn_with_state(
        Guard {
            ctx: ctx.clone(),
            hooks,
        },
        guard,
    ))
}

/// Counts every request (API, OAuth and control endpoints alike) by route,
/// and holds it if a test holds its route (see `faults::Gate`).
pub async fn count(State(ctx): State<Arc<Ctx>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string());
    if !route.starts_with("/_sim") {
        let route = format!("{} {route}", req.method());
        ctx.count(&route);
        ctx.gate.pass(&route).await;
    }
    next.run(req).await
}

/// The API guard (see the module comment).
pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let Guard { ctx, hooks } = g;
    let token = (hooks.token)(req.headers(), req.uri());
    let access = token
        .as_deref()
        .map_or(Access::Unknown, |t| ctx.oauth().check(t));
    let Some(token) = token.filter(|_| access == Access::Valid) else {
        return (hooks.unauthorized)(&ctx, access);
    };
    let decision = {
        let before = lock(&ctx.faults).before();
        let now = Instant::now();
        let mut limits = lock(&ctx.limits);
        let enabled = limits.enabled;
        let key = if hooks.per_account {
            "account"
        } else {
            token.as_str()
        };
        let mut decision = limits.main.check(key, now);
        if !enabled {
            decision.allowed = true;
        }
        if before == Before::Throttle {
            decision.allowed = false;
            decision.remaining = 0;
        }
        if decision.allowed
            && enabled
            && hooks.search_limit
            && req.uri().path().ends_with("/search")
        {
            let search = limits.search.check(&token, now);
            if !search.allowed {
                drop(limits);
                ctx.count_throttled();
                return (hooks.throttled)(&ctx, &search);
            }
        }
        drop(limits);
        if !decision.allowed {
            ctx.count_throttled();
            let mut response = (hooks.throttled)(&ctx, &decision);
            (hooks.limit_headers)(&decision, response.headers_mut());
            return response;
        }
        if let Before::Fail(status) = before {
            return (hooks.server_error)(&ctx, status);
        }
        decision
    };
    let _slot = match hooks.concurrency {
        Some(max) => match ctx.in_flight.enter("account", max) {
            Some(slot) => Some(slot),
            None => {
                ctx.count_throttled();
                return (hooks.throttled)(&ctx, &decision);
            }
        },
        None => None,
    };
    // Injected latency holds the request (and its in-flight slot).
    let latency = lock(&ctx.faults).latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut response = next.run(req).await;
    if lock(&ctx.limits).enabled {
        (hooks.limit_headers)(&decision, response.headers_mut());
    }
    let after = lock(&ctx.faults).after();
    faults::damage(response, after).await
}
