//! Recovery from a storage failure: a full disk, a read-only data directory,
//! an I/O error.
//!
//! sled 0.34 latches its first I/O error: every later write fails, so a host
//! cannot heal in place. While storage is failed every request that writes
//! answers 503 and `/healthz` says so; nothing acknowledged is lost, since a
//! 2xx is only sent after its flush succeeded. [`writable_again`] resolves once
//! the data directory takes a probe write again; the binary then restarts
//! itself on the same data, which reopens the database exactly as after a
//! crash (and the queue and push journals are built to survive crashes).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::Db;

/// How often a failed host checks whether the disk takes writes again.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// Written and removed by each probe: room for sled to make progress, not
/// just a directory entry.
const PROBE_BYTES: usize = 1 << 20;

/// Resolves after a write to `db` has failed and `data_dir` then accepted a
/// probe write.
pub async fn writable_again(db: &Db, data_dir: &Path) {
    db.commits.failure().await;
    let probe_path = data_dir.join(".write-probe");
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let path = probe_path.clone();
        match tokio::task::spawn_blocking(move || probe(&path)).await {
            Ok(Ok(())) => {
                tracing::warn!("the data directory takes writes again");
                return;
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "the data directory still refuses writes"),
            Err(e) => tracing::debug!(error = %e, "the write probe did not run"),
        }
    }
}

fn probe(path: &Path) -> std::io::Result<()> {
    let written = std::fs::File::create(path).and_then(|mut f| {
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(path);
    written
}
