//! The runtime transfer work runs on (connector calls, mapping, commits),
//! apart from the one that serves the API, with its threads at a lower CPU
//! priority: when the machine is busy, requests are answered first and
//! transfers take what is left, instead of each request queueing behind
//! pages being mapped.

use tokio::runtime::{Builder, Handle, Runtime};

/// How much lower than the API's the work threads' priority is (a Unix
/// nice increment: 10 gives them about a tenth of a busy core's time next to
/// a request handler).
const NICE: libc::c_int = 10;

/// The work runtime; dropping it stops its tasks without waiting for them.
pub struct WorkRuntime(Option<Runtime>);

impl WorkRuntime {
    /// One worker thread per core, like the API's runtime.
    pub fn start() -> std::io::Result<WorkRuntime> {
        let runtime = Builder::new_multi_thread()
            .thread_name("switchyard-work")
            .enable_all()
            .on_thread_start(lower_priority)
            .build()?;
        Ok(WorkRuntime(Some(runtime)))
    }

    /// One that runs nothing (what a stopped host keeps).
    pub fn stopped() -> WorkRuntime {
        WorkRuntime(None)
    }

    /// Where to spawn work.
    pub fn handle(&self) -> Option<Handle> {
        self.0.as_ref().map(|r| r.handle().clone())
    }

    /// Stops it, waiting (at most `limit`) for the work under way to let go
    /// of what it holds (a commit on a blocking thread holds the database):
    /// a host started next on the same data then finds it free.
    pub async fn stop(mut self, limit: std::time::Duration) {
        if let Some(runtime) = self.0.take() {
            let _ = tokio::task::spawn_blocking(move || runtime.shutdown_timeout(limit)).await;
        }
    }
}

impl Drop for WorkRuntime {
    fn drop(&mut self) {
        // Dropping a runtime waits for its blocking tasks, which an async
        // caller (a test, the server's shutdown) must not do.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's priority; a failure leaves it as it was.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread's own id, no memory
    // is passed.
    let done = unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, NICE)
    };
    if done != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower a work thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn work_threads_run_at_a_lower_priority() {
        let work = WorkRuntime::start().unwrap();
        let handle = work.handle().unwrap();
        let nice = handle
            .block_on(handle.spawn(async {
                // SAFETY: reads the calling thread's own priority.
                unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
            }))
            .unwrap();
        // SAFETY: as above, for this test's thread.
        let here = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_eq!(nice, (here + NICE).min(19));
    }
}
