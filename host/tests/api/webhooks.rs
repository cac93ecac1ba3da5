//! Webhooks: signed, with metadata echoed, in order per session, and
//! delivered after the receiver was down, across a restart.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::harness::{TestHost, eventually, receiver, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_arrive_signed_in_order_after_the_receiver_was_down_across_a_restart() {
    let mut t = TestHost::start(sim_config(250, 5)).await;
    let key = t.key("acme").await;
    let (_, secret) = t.get(&key, "/api/webhook-secret").await;
    let secret = secret["webhook_secret"].as_str().unwrap().to_owned();
    let hooks = receiver().await;
    *hooks.down.lock().unwrap() = true;
    let hook = |tag: &str| json!({ "endpoint": hooks.url, "metadata": { "tag": tag } });
    let session = t
        .connected_session(
            &key,
            json!({
                "configuration_webhook": hook("config"), "data_webhook": hook("data"),
                "completed_webhook": hook("done"), "error_webhook": hook("oops"),
            }),
        )
        .await;
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": [{ "data": { "first_name": 1 }, "internal_id": "x9" }] }))
        .await;
    eventually(Duration::from_secs(10), "a refused delivery", || async {
        *hooks.refused.lock().unwrap() > 0
    })
    .await;
    assert!(hooks.events().is_empty());

    // The host restarts while the receiver is down; nothing is lost.
    t.restart().await;
    *hooks.down.lock().unwrap() = false;
    // configuration, 3 data pages + completed (pull), data + error + completed (push).
    eventually(Duration::from_secs(30), "every webhook", || async {
        hooks.events().len() >= 8
    })
    .await;
    let events = hooks.events();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "configuration",
            "data",
            "data",
            "data",
            "completed",
            "error",
            "data",
            "completed"
        ],
        "in order"
    );
    let ids: Vec<u64> = events.iter().map(|e| e.delivery.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for e in &events {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&e.body);
        assert_eq!(
            e.signature,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
    }
    let bodies: Vec<_> = events.iter().map(|e| e.json()).collect();
    assert_eq!(bodies[0]["metadata"]["tag"], "config");
    assert_eq!(bodies[0]["endgrate"]["provider"], "hubspot");
    let pulled: usize = bodies[1..4]
        .iter()
        .map(|b| b["transfer_data"].as_array().unwrap().len())
        .sum();
    assert_eq!(pulled, 250);
    assert!(
        bodies[1..4]
            .iter()
            .all(|b| b["transfer_id"] == pull.as_str() && b["metadata"]["tag"] == "data")
    );
    assert_eq!(bodies[4]["metadata"]["tag"], "done");
    assert_eq!(bodies[4]["completed"], true);
    assert_eq!(bodies[5]["error_type"], "mapping");
    assert_eq!(bodies[5]["internal_id"], "x9");
    assert_eq!(bodies[5]["index"], 0);
    assert_eq!(bodies[5]["metadata"]["tag"], "oops");
    assert_eq!(bodies[7]["transfer_id"], push.as_str());
    t.stop().await;
}
