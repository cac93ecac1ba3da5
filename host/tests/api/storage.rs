//! Storage failure: the host's files can no longer grow (its file-size limit
//! set to 0, as a full disk does). Writes answer 503 with a clear message and
//! `/healthz` says storage failed; once the limit is lifted the host restarts
//! itself on the same data, and everything it acknowledged is there, the
//! transfer it had accepted completes, and new writes succeed.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard_simulators::{Provider, Simulator};

use crate::harness::{eventually, install_hubspot, sim_config};
use crate::process::Process;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_the_host_recovers_when_there_is_room_again() {
    let sim = Simulator::start(Provider::HubSpot, sim_config(10, 2000))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    install_hubspot(data.path());
    let host = Process::start(data.path(), &sim).await;
    let key = host.api_key("acme").await;
    let new_session = || async {
        host.send(
            "POST",
            "/api/session/initiate",
            &key,
            Some(json!({ "category": "crm" })),
        )
        .await
    };
    let session = host.connected_session(&key).await;

    // A pull accepted before the disk fills, slowed so it is still running.
    sim.control().set_latency(Duration::from_millis(100));
    let pull = host
        .trigger(
            &key,
            "pull",
            json!({ "session_id": session, "endgrate_type": "crm-company" }),
        )
        .await;

    // The disk is full: create sessions until a write fails. Every session
    // acknowledged before that must survive.
    host.set_file_size_limit(Some(0));
    let mut acknowledged = Vec::new();
    let refused = loop {
        let (status, body) = new_session().await;
        if status.is_success() {
            acknowledged.push(body["session_id"].as_str().unwrap().to_owned());
            assert!(
                acknowledged.len() < 5000,
                "no write failed with the file-size limit at 0"
            );
            continue;
        }
        break (status, body);
    };
    assert_eq!(refused.0, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.1);
    assert_eq!(refused.1["success"], false);
    assert!(
        refused.1["message"]
            .as_str()
            .unwrap()
            .contains("Storage is unavailable"),
        "{}",
        refused.1
    );
    let health = host.send("GET", "/healthz", "", None).await;
    assert_eq!(health.0, StatusCode::SERVICE_UNAVAILABLE, "{}", health.1);
    assert!(health.1["storage"].as_str().unwrap().starts_with("failed"));
    for _ in 0..3 {
        let (status, body) = new_session().await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
    let (status, body) = host
        .send(
            "POST",
            "/api/pull/transfer",
            &key,
            Some(json!({ "session_id": session, "endgrate_type": "crm-contact" })),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    // Room again: the host restarts itself on the same data.
    host.set_file_size_limit(None);
    eventually(Duration::from_secs(60), "the host to recover", || async {
        host.http_status("/healthz").await == Some(StatusCode::OK)
    })
    .await;
    for id in &acknowledged {
        let (status, body) = host
            .send("GET", &format!("/api/sessions/{id}"), &key, None)
            .await;
        assert_eq!(status, StatusCode::OK, "acknowledged session {id}: {body}");
    }
    let (status, body) = new_session().await;
    assert_eq!(status, StatusCode::OK, "a write after recovery: {body}");

    host.until(&pull, "the accepted pull to complete", |s| {
        s["completed"] == true
    })
    .await;
    let rows = host.all(&key, "pull", "crm-company", &pull).await;
    let pulled: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = pulled.iter().copied().collect();
    assert_eq!(unique.len(), pulled.len(), "no record twice");
    let source: HashSet<String> = sim
        .control()
        .companies()
        .iter()
        .map(|c: &Value| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unique.len(), source.len(), "every record pulled");
    assert!(pulled.iter().all(|id| source.contains(*id)));
}
