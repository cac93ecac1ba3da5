//! Hot-loading from the connectors directory: a `.wasm` file that appears or
//! changes is loaded (replacing the running version of its id); one that
//! disappears is unloaded. Events are debounced so a file still being copied is
//! read once, when it is complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::Runtime;

/// Quiet time after the last change to a file before it is read.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Keeps the watch alive; dropping it stops watching.
pub struct DirectoryWatch {
    _debouncer: Debouncer<notify_debouncer_mini::notify::RecommendedWatcher>,
    loads: Arc<AtomicU64>,
}

impl DirectoryWatch {
    /// Files read and installed because they changed, since the watch began.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
}

fn is_component_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
}

/// Loads every component already in `dir`; a broken file is logged and skipped.
pub async fn load_directory(runtime: &Runtime, dir: &Path) -> std::io::Result<()> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    let mut files = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        if is_component_file(&entry.path()) {
            files.push(entry.path());
        }
    }
    files.sort();
    for path in files {
        load_file(runtime, &path).await;
    }
    Ok(())
}

async fn load_file(runtime: &Runtime, path: &Path) {
    if let Err(err) = runtime.install_file(path).await {
        tracing::warn!(path = %path.display(), "connector not loaded: {err}");
    }
}

/// A file's identity and last change, as `stat` tells them (without reading
/// it, which would be an event of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Fingerprint {
    /// `None` when the file is gone.
    fn of(path: &Path) -> Option<Fingerprint> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(Fingerprint {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// Watches `dir` and applies every change to the runtime's registry.
pub fn watch(
    runtime: Arc<Runtime>,
    dir: PathBuf,
) -> notify_debouncer_mini::notify::Result<DirectoryWatch> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| match result {
        Ok(events) => {
            let _ = tx.send(events.into_iter().map(|e| e.path).collect());
        }
        Err(err) => tracing::warn!(%err, "watching the connectors directory failed"),
    })?;
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::NonRecursive)?;
    // Weak: the task ends some time after the watch is dropped, and must
    // not keep the runtime (and what it holds) alive after the host stopped.
    let runtime = Arc::downgrade(&runtime);
    let loads = Arc::new(AtomicU64::new(0));
    let counted = loads.clone();
    // What each file looked like when it was last read: reading a file is an
    // event too (inotify reports accesses), and must not make the watcher
    // read it again, and again. The files `load_directory` just read count
    // as read: a late event about one (a change of its mode) must not load
    // it again over a connector uploaded meanwhile.
    let mut seen: HashMap<PathBuf, Fingerprint> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| is_component_file(path))
        .filter_map(|path| Fingerprint::of(&path).map(|f| (path, f)))
        .collect();
    tokio::spawn(async move {
        while let Some(paths) = rx.recv().await {
            let Some(runtime) = runtime.upgrade() else {
                return;
            };
            for path in paths.into_iter().filter(|p| is_component_file(p)) {
                match Fingerprint::of(&path) {
                    Some(now) if seen.get(&path) == Some(&now) => {}
                    Some(now) => {
                        seen.insert(path.clone(), now);
                        counted.fetch_add(1, Ordering::Relaxed);
                        load_file(&runtime, &path).await;
                    }
                    None => {
                        seen.remove(&path);
                        if let Some(gone) = runtime.registry().remove_source(&path) {
                            tracing::info!(connector = %gone.manifest.id, path = %path.display(), "connector file removed; unloaded");
                        }
                    }
                }
            }
        }
    });
    Ok(DirectoryWatch {
        _debouncer: debouncer,
        loads,
    })
}
