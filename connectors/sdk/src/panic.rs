//! Reports a connector panic through the `log` import before the trap.
//!
//! On `wasm32-wasip2` a panic aborts: the instance traps with `unreachable`
//! and the host only sees a trap. The standard hook would print the message to
//! standard error, which the sandbox does not connect. The hook installed here
//! instead writes `connector panicked: <message> (at <file>:<line>:<column>)`
//! at `error` level, so the host can say why the call failed. The export glue
//! installs it at the start of every call.

use std::panic::PanicHookInfo;
use std::sync::Once;

use crate::log::{self, Level};

/// Installs the hook, once per instance. Natively (in tests) the standard
/// hook stays: it prints to the test's output, which is what a test wants.
pub(crate) fn install_hook() {
    static INSTALL: Once = Once::new();
    if cfg!(target_family = "wasm") {
        INSTALL.call_once(|| std::panic::set_hook(Box::new(report)));
    }
}

fn report(info: &PanicHookInfo<'_>) {
    log::write(Level::Error, &panic_line(info));
}

/// The line logged for a panic.
fn panic_line(info: &PanicHookInfo<'_>) -> String {
    let message = info
        .payload_as_str()
        .unwrap_or("(a panic without a message)");
    match info.location() {
        Some(at) => format!(
            "connector panicked: {message} (at {}:{}:{})",
            at.file(),
            at.line(),
            at.column()
        ),
        None => format!("connector panicked: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn the_line_carries_message_and_location() {
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&seen);
        let this_test = std::thread::current().id();
        // The hook is process-wide: ignore panics of tests on other threads.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == this_test
                && let Ok(mut line) = sink.lock()
            {
                *line = panic_line(info);
            }
        }));
        let result = std::panic::catch_unwind(|| panic!("boom {}", 42));
        std::panic::set_hook(previous);

        assert!(result.is_err());
        let line = seen.lock().map(|line| line.clone()).unwrap_or_default();
        assert!(
            line.starts_with("connector panicked: boom 42 (at sdk/src/panic.rs:"),
            "{line}"
        );
    }
}
