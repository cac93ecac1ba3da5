//! Hostile connectors under load: while a misbehaving connector loops,
//! bombs its memory, panics and reaches for a forbidden host in other
//! sessions, a well-behaved session's transfer completes in full, each
//! misbehaviour ends its own transfer with a clear error, and the host keeps
//! serving.

use std::time::Duration;

use serde_json::json;

use crate::harness::{TestHost, component, eventually, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_connectors_fail_alone_while_others_complete() {
    let mut t = TestHost::start_with(sim_config(900, 10), |c| {
        c.limits.call_timeout = Duration::from_secs(2);
        c.limits.memory_bytes = 32 << 20;
        c.transfers.max_attempts = 1;
    })
    .await;
    let misbehave = tokio::task::block_in_place(|| component("misbehave"));
    std::fs::copy(misbehave, t.data.path().join("connectors/misbehave.wasm")).unwrap();
    eventually(Duration::from_secs(30), "misbehave to hot-load", || async {
        t.call("GET", "/api/integrations?provider=misbehave", None, None)
            .await
            .1["providers"]
            .as_array()
            .is_some_and(|p| p.len() == 1)
    })
    .await;
    let key = t.key("acme").await;
    let good = t.connected_session(&key, json!({})).await;

    let probe = json!({ "title": "Probe", "endgrate_type": "crm-contact", "type": "object", "properties": { "mode": { "type": "string" } } });
    let mut hostile = Vec::new();
    for mode in ["loop", "memory", "panic", "forbidden-host"] {
        let (_, answer) = t
            .post(
                &key,
                "/api/session/initiate",
                json!({ "schema": [probe], "provider": "misbehave" }),
            )
            .await;
        let session = answer["session_id"].as_str().unwrap().to_owned();
        let (status, body) = t
            .post(&key, "/api/session/credentials", json!({ "session_id": session, "provider": "misbehave", "credentials": { "api_key": "k" } }))
            .await;
        assert_eq!(status, 200, "{body}");
        let (_, answer) = t.post(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "params": { "mode": mode } })).await;
        hostile.push((mode, answer["transfer_id"].as_str().unwrap().to_owned()));
    }
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": good, "endgrate_type": "crm-contact" }),
        )
        .await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &pull).await.len(),
        900,
        "the good session got everything"
    );

    for (mode, transfer) in &hostile {
        t.until_completed(
            transfer,
            Duration::from_secs(60),
            "the hostile transfers to end",
        )
        .await;
        let (_, stats) = t
            .call(
                "GET",
                &format!("/api/statistics?transfer_id={transfer}"),
                None,
                None,
            )
            .await;
        assert_eq!(stats["status"], "failed", "{mode}: {stats}");
        let error = stats["error"].as_str().unwrap();
        let expected = match *mode {
            "loop" => "deadline",
            "memory" => "memory limit",
            "panic" => "deliberate panic",
            _ => "evil.example.com",
        };
        assert!(error.contains(expected), "{mode}: {error}");
    }
    let (_, errors) = t.get(&key, "/api/errors").await;
    assert!(errors["errors"].as_array().unwrap().len() >= 4);
    assert_eq!(t.call("GET", "/healthz", None, None).await.0, 200);
    t.stop().await;
}
