//! Hot-loading: a new version replaces the old atomically (calls in flight
//! finish on the old one), broken components are rejected with the reason while
//! the old version keeps serving, and a running host picks up files dropped in
//! its connectors directory and uploads through the admin API.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard::runtime::types::{Connection, PullRequest};
use switchyard::runtime::{ConnectorOverride, LoadError, Runtime, RuntimeConfig};
use switchyard::server::{self, HostConfig};

const ADMIN_KEY: &str = "sy_admin_hot_load_0123456789abcdefghij";

fn probe_pull() -> PullRequest {
    PullRequest {
        endgrate_type: "crm-contact".into(),
        cursor: None,
        since: None,
        page_size: 1,
        params: json!({}),
        associations: Vec::new(),
        include_remote: false,
        passthrough_fields: Vec::new(),
    }
}

async fn runtime_for(provider_url: &str, cache: &std::path::Path) -> Arc<Runtime> {
    let mut overrides = HashMap::new();
    overrides.insert(
        "probe".to_owned(),
        ConnectorOverride {
            api_base: Some(provider_url.to_owned()),
            allowed_hosts: Vec::new(),
            rate: None,
        },
    );
    Runtime::new(RuntimeConfig {
        cache_dir: cache.to_owned(),
        overrides,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn version_of(data: &str) -> String {
    let v: Value = serde_json::from_str(data).unwrap();
    v["version"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_finishes_on_the_old_version() {
    let mut provider = support::fake_provider(0).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime_for(&provider.url, cache.path()).await;
    runtime
        .install(support::component("probe"), None)
        .await
        .unwrap();

    let conn = Connection {
        key: "a".into(),
        ..Connection::default()
    };
    let in_flight = {
        let runtime = runtime.clone();
        let conn = conn.clone();
        tokio::spawn(async move { runtime.pull("probe", &conn, None, &probe_pull()).await })
    };
    // v1 is now waiting on the provider.
    provider.arrived.recv().await.unwrap();

    let (_, installed) = runtime.install(support::probe_v2(), None).await.unwrap();
    assert_eq!(
        installed,
        switchyard::runtime::registry::Installed::Replaced("1.0.0".into())
    );
    assert_eq!(runtime.manifest("probe").unwrap().version, "2.0.0");

    // The next call runs on v2 (its request is released at once).
    provider.release.notify_one();
    provider.release.notify_one();
    let next = runtime
        .pull("probe", &conn, None, &probe_pull())
        .await
        .unwrap();
    assert_eq!(version_of(&next.records[0].data), "2.0.0");
    let old = in_flight.await.unwrap().unwrap();
    assert_eq!(version_of(&old.records[0].data), "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_component_is_rejected_and_the_old_version_keeps_serving() {
    let provider = support::fake_provider(0).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime_for(&provider.url, cache.path()).await;
    runtime
        .install(support::component("mapper"), None)
        .await
        .unwrap();

    let mut corrupt = support::component("mapper");
    corrupt.truncate(corrupt.len() / 2);
    let err = runtime.install(corrupt, None).await.unwrap_err();
    assert!(matches!(err, LoadError::Invalid(_)), "{err}");

    let raw = sample_mapping::sample_contact(3).to_string();
    let mapped = runtime
        .to_cdm("mapper", "crm-contact", &[raw])
        .await
        .unwrap();
    assert!(mapped[0].is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_import_is_rejected_by_name() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime_for("http://127.0.0.1:9", cache.path()).await;
    let err = runtime
        .install(support::component("unknown_import"), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("acme:evil/keylogger@1.0.0"),
        "the message must name the import: {err}"
    );
    assert!(runtime.registry().list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime_for("http://127.0.0.1:9", cache.path()).await;
    runtime
        .install(support::component("mapper"), None)
        .await
        .unwrap();
    let cached: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(cached.len(), 1);
    // A second runtime (a restart) loads from the cache: same hash, same manifest.
    let again = runtime_for("http://127.0.0.1:9", cache.path()).await;
    let (loaded, _) = again
        .install(support::component("mapper"), None)
        .await
        .unwrap();
    assert_eq!(loaded.hash, runtime.registry().get("mapper").unwrap().hash);
}

/// Polls `check` until it holds, for at most `limit` (the watcher reacts to
/// the file system on its own thread; this waits for its visible effect).
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

async fn providers(client: &reqwest::Client, url: &str) -> Vec<String> {
    let body: Value = client
        .get(format!("{url}/api/integrations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_host_hot_loads_its_directory_and_uploads() {
    let data = tempfile::tempdir().unwrap();
    let mut config = HostConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_owned());
    config.admin_key = Some(ADMIN_KEY.into());
    let host = server::start(config).await.unwrap();
    let url = host.url();
    let client = reqwest::Client::new();
    assert!(providers(&client, &url).await.is_empty());

    // Dropped into the directory: listed within 2 seconds, no restart.
    let dropped = Instant::now();
    std::fs::write(
        host.connectors_dir.join("mapper.wasm"),
        support::component("mapper"),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || providers(&client, &url)
            .await
            == ["mapper"])
        .await,
        "the dropped connector was not listed within 2 s"
    );
    eprintln!("hot-loaded from the directory in {:?}", dropped.elapsed());
    // Reading a file is not changing it: the watcher's own read of
    // mapper.wasm (and ours) must not load it again. Another file dropped
    // after it is loaded once too, after anything queued before it.
    let _ = std::fs::read(host.connectors_dir.join("mapper.wasm")).unwrap();
    std::fs::write(
        host.connectors_dir.join("second.wasm"),
        support::component("probe"),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || providers(&client, &url)
            .await
            .len()
            == 2)
        .await,
        "the second dropped connector was not listed within 2 s"
    );
    assert_eq!(host.directory_loads(), 2, "each file is loaded once");
    std::fs::remove_file(host.connectors_dir.join("second.wasm")).unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || providers(&client, &url)
            .await
            == ["mapper"])
        .await,
        "the second connector was still listed after its file went"
    );

    // The admin API needs the admin key.
    let unauthorised = client
        .post(format!("{url}/api/admin/connectors"))
        .body(support::component("probe"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);

    let uploaded = client
        .post(format!("{url}/api/admin/connectors"))
        .bearer_auth(ADMIN_KEY)
        .body(support::component("probe"))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let listed: Value = client
        .get(format!("{url}/api/admin/connectors"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let probe = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "probe")
        .expect("probe is listed");
    assert_eq!(probe["version"], "1.0.0");
    assert_eq!(probe["hash"].as_str().unwrap().len(), 64);
    assert!(host.connectors_dir.join("probe.wasm").exists());

    // A broken upload is refused with the reason; v1 keeps serving.
    let broken = client
        .post(format!("{url}/api/admin/connectors"))
        .bearer_auth(ADMIN_KEY)
        .body(support::component("unknown_import"))
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 422);
    let reason: Value = broken.json().await.unwrap();
    assert_eq!(reason["success"], false);
    assert!(
        reason["message"]
            .as_str()
            .unwrap()
            .contains("acme:evil/keylogger")
    );
    assert_eq!(host.runtime.manifest("probe").unwrap().version, "1.0.0");

    // A new version replaces the old.
    let replaced = client
        .post(format!("{url}/api/admin/connectors"))
        .bearer_auth(ADMIN_KEY)
        .body(support::probe_v2())
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["version"], "2.0.0");
    assert_eq!(replaced["replaced_version"], "1.0.0");

    // Unloading removes it from the listing and from the directory.
    let removed = client
        .delete(format!("{url}/api/admin/connectors/probe"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    assert_eq!(providers(&client, &url).await, ["mapper"]);
    assert!(!host.connectors_dir.join("probe.wasm").exists());

    // Deleting the file unloads too.
    std::fs::remove_file(host.connectors_dir.join("mapper.wasm")).unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || providers(&client, &url)
            .await
            .is_empty())
        .await,
        "the removed connector was still listed after 2 s"
    );
    host.shutdown().await.unwrap();
}
