//! Webhooks: signed, with metadata echoed, in order per session, and
//! delivered after the receiver was down, across a restart; never sent to
//! the host's own network unless the operator allowed it.

use std::net::Ipv4Addr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use switchyard::net_policy::AddressPolicy;
use switchyard::webhooks::outbox;

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
    // `t=<unix seconds>,v1=<HMAC of "<t>.<delivery id>.<body>">`, signed now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for e in &events {
        let (t, v1) = e
            .signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
            .unwrap_or_else(|| panic!("{}", e.signature));
        assert!(now.abs_diff(t.parse().unwrap()) < 300, "{}", e.signature);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{}.", e.delivery).as_bytes());
        mac.update(&e.body);
        assert_eq!(v1, hex::encode(mac.finalize().into_bytes()));
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
    // One error webhook per push batch, listing its rejected items.
    assert_eq!(bodies[5]["count"], 1);
    let items = bodies[5]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["index"], 0);
    assert_eq!(items[0]["internal_id"], "x9");
    assert_eq!(items[0]["error_type"], "mapping");
    assert_eq!(items[0]["pk"], bodies[5]["pk"]);
    assert_eq!(bodies[7]["transfer_id"], push.as_str());
    t.stop().await;
}

/// A host that sends webhooks to public addresses only, as `serve` does by
/// default, and resolves `inside.test` to this machine.
async fn strict_host() -> TestHost {
    TestHost::start_with(sim_config(5, 2), |c| {
        c.webhooks.address_policy = AddressPolicy::public_only();
        c.webhooks
            .hosts
            .insert("inside.test".into(), vec![Ipv4Addr::LOCALHOST.into()]);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_to_loopback_private_or_metadata_addresses_are_refused_with_the_field_named() {
    let mut t = strict_host().await;
    let key = t.key("acme").await;
    let hooks = receiver().await;
    let port = hooks
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let inside = [
        format!("http://127.0.0.1:{port}/hook"),
        "http://[::1]/x".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/x".to_owned(),
        "http://[::ffff:127.0.0.1]/x".to_owned(),
        format!("http://localhost:{port}/hook"),
        "http://0.0.0.0/x".to_owned(),
    ];
    for field in [
        "configuration_webhook",
        "data_webhook",
        "completed_webhook",
        "error_webhook",
    ] {
        for endpoint in &inside {
            let (status, body) = t
                .post(
                    &key,
                    "/api/session/initiate",
                    json!({ field: { "endpoint": endpoint } }),
                )
                .await;
            assert_eq!(status, 400, "{field} {endpoint}: {body}");
            let named = format!("{field}.endpoint");
            let message = body["errors"][&named].as_str().unwrap_or_default();
            assert!(
                message.contains("not allowed"),
                "{field} {endpoint}: {body}"
            );
        }
    }
    let (_, body) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "data_webhook": { "endpoint": "http://169.254.169.254/latest" } }),
        )
        .await;
    assert!(
        body["message"].as_str().unwrap().contains("metadata"),
        "{body}"
    );

    // Transfers take webhooks too.
    let session = t.connected_session(&key, json!({})).await;
    for path in ["/api/pull/transfer", "/api/push/transfer"] {
        for field in ["data_webhook", "completed_webhook", "error_webhook"] {
            let (status, body) = t
                .post(
                    &key,
                    path,
                    json!({
                        "session_id": session, "endgrate_type": "crm-contact",
                        "transfer_data": [{ "data": {} }],
                        field: { "endpoint": inside[0] },
                    }),
                )
                .await;
            assert_eq!(status, 400, "{path} {field}: {body}");
            assert!(
                body["errors"][format!("{field}.endpoint")].is_string(),
                "{body}"
            );
        }
    }
    let (_, sessions) = t.get(&key, "/api/sessions").await;
    assert_eq!(
        sessions["meta"]["count"], 1,
        "nothing was created by the refused calls"
    );
    assert!(hooks.events().is_empty());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_resolves_inside_is_not_delivered_and_the_failure_says_why() {
    let hooks = receiver().await;
    let endpoint = hooks.url.replace("127.0.0.1", "inside.test");
    let mut t = strict_host().await;
    let key = t.key("acme").await;
    let session = t
        .connected_session(
            &key,
            json!({ "configuration_webhook": { "endpoint": endpoint } }),
        )
        .await;
    let db = t.host.as_ref().unwrap().state.db.clone();
    let failure = || {
        outbox::pending(&db)
            .unwrap()
            .into_iter()
            .find(|(_, d)| d.session_id == session && d.attempts > 0)
            .map(|(_, d)| d)
    };
    eventually(Duration::from_secs(10), "a failed delivery", || async {
        failure().is_some()
    })
    .await;
    let why = failure().unwrap().last_error.unwrap();
    assert!(
        why.contains("inside.test") && why.contains("127.0.0.1") && why.contains("not allowed"),
        "{why}"
    );
    assert!(
        hooks.events().is_empty(),
        "the loopback receiver got nothing"
    );
    t.stop().await;

    // The same name, on a host allowed to call loopback: delivered, so the
    // refusal above came from the policy and not from the name.
    let mut t = TestHost::start_with(sim_config(5, 2), |c| {
        c.webhooks
            .hosts
            .insert("inside.test".into(), vec![Ipv4Addr::LOCALHOST.into()]);
    })
    .await;
    let key = t.key("acme").await;
    t.connected_session(
        &key,
        json!({ "configuration_webhook": { "endpoint": endpoint } }),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the configuration webhook",
        || async { !hooks.events().is_empty() },
    )
    .await;
    t.stop().await;
}
