//! Diagnostics through the host's `log` import.
//!
//! Lines land in the host's structured log, tagged with the connector and the
//! call. Never log personal data in bulk (whole records, whole pages).
//!
//! ```
//! use switchyard_connector_sdk::log;
//! log::info!("pulled {} contacts", 100);
//! log::write(log::Level::Debug, "plain text works too");
//! ```
//!
//! Natively (in `cargo test`) lines go to standard error and to the thread's
//! [`MockHttp`](crate::testing::MockHttp), if there is one.

/// How important a line is.
pub use crate::bindings::switchyard::connector::log::Level;

/// Writes one line at `level`.
pub fn write(level: Level, message: &str) {
    crate::transport::log(level, message);
}

/// Logs a `format!`-style line at `trace` level.
#[doc(inline)]
pub use crate::__log_trace as trace;

/// Logs a `format!`-style line at `debug` level.
#[doc(inline)]
pub use crate::__log_debug as debug;

/// Logs a `format!`-style line at `info` level.
#[doc(inline)]
pub use crate::__log_info as info;

/// Logs a `format!`-style line at `warn` level.
#[doc(inline)]
pub use crate::__log_warn as warn;

/// Logs a `format!`-style line at `error` level.
#[doc(inline)]
pub use crate::__log_error as error;

#[doc(hidden)]
#[macro_export]
macro_rules! __log_trace {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Trace, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_debug {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_info {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_warn {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_error {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}
