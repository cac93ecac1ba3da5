//! Shared by the host's integration tests: builds the test connector
//! components (once per test process), and runs a tiny stand-in provider.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::routing::get;
use tokio::sync::{Notify, mpsc};

fn connectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors")
}

/// Builds the connectors workspace's test components in release (cargo's own
/// lock keeps concurrent test processes from building twice at once).
fn build(target_dir: &Path, envs: &[(&str, &str)], packages: &[&str]) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(connectors_dir())
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let status = cmd.status().expect("cargo must be runnable");
    assert!(
        status.success(),
        "building test components {packages:?} failed"
    );
}

/// The bytes of a test component: `misbehave`, `probe`, `mapper`,
/// `unknown_import`.
pub fn component(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<()> = OnceLock::new();
    let target = connectors_dir().join("target");
    BUILT.get_or_init(|| {
        build(
            &target,
            &[],
            &["misbehave", "probe", "mapper", "unknown-import"],
        )
    });
    read(&target, name)
}

/// The `probe` component built as version 2.0.0.
pub fn probe_v2() -> Vec<u8> {
    static BUILT: OnceLock<()> = OnceLock::new();
    let target = connectors_dir().join("target").join("probe-v2");
    BUILT.get_or_init(|| build(&target, &[("PROBE_VERSION", "2.0.0")], &["probe"]));
    read(&target, "probe")
}

fn read(target: &Path, name: &str) -> Vec<u8> {
    let path = target.join(format!("wasm32-wasip2/release/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A stand-in provider on a free loopback port. `/ok` answers "hello", `/big`
/// answers `big_bytes` bytes, and `/wait` reports its arrival on `arrived`
/// and then holds the answer until `release` is notified.
pub struct FakeProvider {
    pub url: String,
    pub arrived: mpsc::UnboundedReceiver<()>,
    pub release: Arc<Notify>,
}

pub async fn fake_provider(big_bytes: usize) -> FakeProvider {
    let (tx, arrived) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let held = release.clone();
    let app = Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route("/big", get(move || async move { vec![b'x'; big_bytes] }))
        .route(
            "/wait",
            get(move || {
                let tx = tx.clone();
                let held = held.clone();
                async move {
                    let released = held.notified();
                    let _ = tx.send(());
                    released.await;
                    "released"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeProvider {
        url,
        arrived,
        release,
    }
}

/// The bytes of a real connector (`hubspot`, `quickbooks`, ...), built in
/// release for wasm32-wasip2 into `connectors/target/conformance`. The first
/// call builds every connector in `all` with one cargo invocation, once per
/// test process; `name` must be one of them.
pub fn connector(name: &str, all: &[&str]) -> Vec<u8> {
    static BUILT: OnceLock<()> = OnceLock::new();
    let target = connectors_dir().join("target").join("conformance");
    BUILT.get_or_init(|| build(&target, &[], all));
    assert!(
        all.contains(&name),
        "connector {name} is not among those built: {all:?}"
    );
    read(&target, name)
}
