//! Where requests and log lines go: to the host's `http` and `log` imports
//! inside a component, to the thread's [`MockHttp`](crate::testing::MockHttp)
//! natively. The one place that tells the two apart, so [`http`](crate::http)
//! and [`log`](crate::log) need not know about testing.

use crate::ConnectorError;
use crate::bindings::switchyard::connector::http::{Request, Response};
use crate::bindings::switchyard::connector::log::Level;

/// Hands a request to the host (in a component) or to the thread's mock.
pub(crate) fn send(request: &Request) -> Result<Response, ConnectorError> {
    #[cfg(target_family = "wasm")]
    return crate::bindings::switchyard::connector::http::send(request);
    #[cfg(not(target_family = "wasm"))]
    return crate::testing::send(request);
}

/// Asks the host (in a component) to send a request ahead; natively, the
/// thread's mock records it.
pub(crate) fn prefetch(request: &Request) {
    #[cfg(target_family = "wasm")]
    crate::bindings::switchyard::connector::http::prefetch(request);
    #[cfg(not(target_family = "wasm"))]
    crate::testing::prefetch(request);
}

/// Writes a log line to the host (in a component) or to the thread's mock.
pub(crate) fn log(level: Level, message: &str) {
    #[cfg(target_family = "wasm")]
    crate::bindings::switchyard::connector::log::log(level, message);
    #[cfg(not(target_family = "wasm"))]
    crate::testing::log(level, message);
}
