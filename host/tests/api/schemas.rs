//! Custom schemas mapped onto the common model, associations on pulls, and
//! continuous data webhooks.

use std::time::Duration;

use serde_json::json;

use crate::harness::{TestHost, eventually, receiver, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_schema_pulls_and_pushes_in_its_own_shape() {
    let mut t = TestHost::start(sim_config(20, 3)).await;
    let key = t.key("acme").await;
    let lead = json!({
        "title": "Lead", "type": "object", "endgrate_type": "crm-contact",
        "properties": { "first_name": { "type": "string" }, "last_name": { "type": "string" }, "title": { "type": ["string", "null"] } },
        "required": ["last_name"]
    });
    let (status, answer) = t
        .post(&key, "/api/session/initiate", json!({ "schema": [lead] }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let session = answer["session_id"].as_str().unwrap().to_owned();
    t.attach(&key, &session).await;
    let (_, config) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(config["schemas"]["crm-contact"]["schema"]["title"], "Lead");

    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let rows = t.all_data(&key, "pull", "crm-contact", &pull).await;
    assert_eq!(rows.len(), 20);
    for row in &rows {
        let fields: Vec<&String> = row["data"].as_object().unwrap().keys().collect();
        assert!(
            fields
                .iter()
                .all(|f| ["first_name", "last_name", "title"].contains(&f.as_str())),
            "{fields:?}"
        );
    }
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact",
            "transfer_data": [{ "data": { "first_name": "Cus", "last_name": "Tom" } }, { "data": { "first_name": "No last name" } }] }))
        .await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert!(results[0].get("error").is_none(), "{results:?}");
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last_name"),
        "the custom schema's `required` holds: {results:?}"
    );
    let created = t
        .sim
        .control()
        .record("contacts", results[0]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(created["properties"]["lastname"], "Tom");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_carry_associations_when_asked() {
    let mut t = TestHost::start(sim_config(40, 10)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let pull = t
        .transfer(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "associations": { "crm-company": true } }))
        .await;
    let rows = t.all_data(&key, "pull", "crm-contact", &pull).await;
    let linked: Vec<_> = rows
        .iter()
        .filter(|r| {
            r["associations"]["crm-company"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .collect();
    assert!(
        !linked.is_empty(),
        "the simulator's contacts have companies: {:?}",
        rows[0]
    );
    let companies: Vec<String> = t
        .sim
        .control()
        .companies()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    for row in linked {
        for id in row["associations"]["crm-company"].as_array().unwrap() {
            assert!(companies.contains(&id.as_str().unwrap().to_owned()));
        }
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_data_webhooks_send_what_changed() {
    let mut t = TestHost::start_with(sim_config(15, 2), |c| {
        c.transfers.continuous_interval = Duration::from_millis(300)
    })
    .await;
    let key = t.key("acme").await;
    let hooks = receiver().await;
    let session = t
        .connected_session(
            &key,
            json!({ "data_webhook": { "endpoint": hooks.url, "continuous": true } }),
        )
        .await;
    t.transfer(
        &key,
        "/api/pull/transfer",
        json!({ "session_id": session, "endgrate_type": "crm-contact" }),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the first data webhook",
        || async { !hooks.events().is_empty() },
    )
    .await;
    assert_eq!(
        hooks.events()[0].json()["transfer_data"]
            .as_array()
            .unwrap()
            .len(),
        15
    );

    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact",
            "transfer_data": [{ "data": { "first_name": "Late", "last_name": "Comer", "email_addresses": [{ "email_address": "late@example.com" }] } }] }))
        .await;
    let new_id = t.all_data(&key, "push", "crm-contact", &push).await[0]["id"].clone();
    eventually(
        Duration::from_secs(20),
        "a re-pull with the change",
        || async {
            hooks.events().iter().any(|e| {
                let b = e.json();
                b["transfer_data"]
                    .as_array()
                    .is_some_and(|d| d.len() == 1 && d[0]["id"] == new_id)
            })
        },
    )
    .await;
    t.stop().await;
}
