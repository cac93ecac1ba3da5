//! The sandbox holds: each misbehaving connector gets a clear error, and the
//! host keeps serving other calls while it misbehaves.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchyard::runtime::outbound::HostRefusal;
use switchyard::runtime::types::{Connection, PullRequest};
use switchyard::runtime::{CallError, ConnectorOverride, Runtime, RuntimeConfig, SandboxLimits};

const MEMORY_CAP: usize = 32 << 20;
const RESPONSE_CAP: usize = 256 << 10;
const DEADLINE: Duration = Duration::from_secs(2);

struct Setup {
    runtime: Arc<Runtime>,
    _cache: tempfile::TempDir,
}

async fn setup() -> Setup {
    let provider = support::fake_provider(RESPONSE_CAP + 1).await;
    let cache = tempfile::tempdir().unwrap();
    let mut overrides = HashMap::new();
    for id in ["misbehave", "probe"] {
        overrides.insert(
            id.to_owned(),
            ConnectorOverride {
                api_base: Some(provider.url.clone()),
                allowed_hosts: Vec::new(),
                rate: None,
            },
        );
    }
    let runtime = Runtime::new(RuntimeConfig {
        limits: SandboxLimits {
            memory_bytes: MEMORY_CAP,
            call_timeout: DEADLINE,
            max_instances: 32,
            max_response_bytes: RESPONSE_CAP,
            pooling: true,
        },
        cache_dir: cache.path().to_owned(),
        overrides,
        ..RuntimeConfig::default()
    })
    .unwrap();
    runtime
        .install(support::component("misbehave"), None)
        .await
        .unwrap();
    runtime
        .install(support::component("mapper"), None)
        .await
        .unwrap();
    Setup {
        runtime,
        _cache: cache,
    }
}

fn pull(mode: &str) -> PullRequest {
    PullRequest {
        endgrate_type: "crm-contact".into(),
        cursor: None,
        since: None,
        page_size: 10,
        params: json!({ "mode": mode }),
        associations: Vec::new(),
        include_remote: false,
        passthrough_fields: Vec::new(),
    }
}

async fn misbehave(runtime: &Runtime, mode: &str) -> Result<String, CallError> {
    let conn = Connection {
        key: "test".into(),
        ..Connection::default()
    };
    let page = runtime.pull("misbehave", &conn, None, &pull(mode)).await?;
    Ok(page.records[0].data.clone())
}

/// Runs a misbehaving call and, while it runs, a normal call on another
/// connector, which must be served before the misbehaving call ends.
async fn while_misbehaving(setup: &Setup, mode: &str) -> CallError {
    let runtime = setup.runtime.clone();
    let mode = mode.to_owned();
    let bad = tokio::spawn(async move { misbehave(&runtime, &mode).await });
    let raw = sample_mapping::sample_contact(1).to_string();
    let mapped = setup
        .runtime
        .to_cdm("mapper", "crm-contact", &[raw])
        .await
        .unwrap();
    assert!(mapped[0].as_ref().unwrap().contains("first_name"));
    bad.await
        .unwrap()
        .expect_err("the misbehaving call must fail")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_call_works() {
    let setup = setup().await;
    let data = misbehave(&setup.runtime, "ok").await.unwrap();
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data, json!({ "status": 200, "body": "hello" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_stops_at_the_deadline() {
    let setup = setup().await;
    let started = std::time::Instant::now();
    let err = while_misbehaving(&setup, "loop").await;
    assert!(
        matches!(err, CallError::Timeout { ref connector, .. } if connector == "misbehave"),
        "{err}"
    );
    assert!(
        started.elapsed() < DEADLINE * 3,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_memory_stops_at_the_cap() {
    let setup = setup().await;
    let err = while_misbehaving(&setup, "memory").await;
    assert_eq!(
        err,
        CallError::MemoryLimit {
            connector: "misbehave".into(),
            limit: MEMORY_CAP
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_with_its_message() {
    let setup = setup().await;
    let err = while_misbehaving(&setup, "panic").await;
    match err {
        CallError::Trap { message, .. } => {
            assert!(message.contains("misbehave: deliberate panic"), "{message}")
        }
        other => panic!("expected a trap, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_host_is_refused() {
    let setup = setup().await;
    let err = while_misbehaving(&setup, "forbidden-host").await;
    assert_eq!(
        err,
        CallError::ForbiddenHost {
            connector: "misbehave".into(),
            host: "https://evil.example.com".into(),
            why: HostRefusal::Undeclared,
        }
    );
    assert!(
        err.to_string().contains("--connector-base misbehave="),
        "the refusal names the flag that lifts it: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_response_is_refused() {
    let setup = setup().await;
    let err = while_misbehaving(&setup, "big-response").await;
    assert!(
        matches!(err, CallError::ResponseTooLarge { limit, .. } if limit == RESPONSE_CAP),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_serves_on_after_every_kind_of_misbehaviour() {
    let setup = setup().await;
    for mode in ["loop", "memory", "panic", "forbidden-host", "big-response"] {
        assert!(misbehave(&setup.runtime, mode).await.is_err(), "{mode}");
        assert!(
            misbehave(&setup.runtime, "ok").await.is_ok(),
            "after {mode}"
        );
    }
}
