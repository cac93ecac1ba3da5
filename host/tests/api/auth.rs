//! Token refresh: once for concurrent transfers, and re-authentication when
//! the provider no longer accepts the refresh token.

use std::time::Duration;

use serde_json::json;

use crate::harness::{TestHost, eventually, receiver, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_share_one_refresh() {
    let mut t = TestHost::start(sim_config(150, 120)).await;
    let key = t.key("acme").await;
    let session = t.initiate(&key, json!({ "category": "crm" })).await;
    t.sign_in(&format!(
        "/session/start?session_id={session}&provider=hubspot"
    ))
    .await;

    t.sim.control().expire_tokens();
    t.sim.control().reset_counters();
    let contacts = t.transfer(
        &key,
        "/api/pull/transfer",
        json!({ "session_id": session, "endgrate_type": "crm-contact" }),
    );
    let companies = t.transfer(
        &key,
        "/api/pull/transfer",
        json!({ "session_id": session, "endgrate_type": "crm-company" }),
    );
    let (contacts, companies) = tokio::join!(contacts, companies);
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &contacts)
            .await
            .len(),
        150
    );
    assert_eq!(
        t.all_data(&key, "pull", "crm-company", &companies)
            .await
            .len(),
        120
    );
    assert_eq!(
        t.sim.control().request_count("POST /oauth/v1/token"),
        1,
        "one refresh for both transfers: {:?}",
        t.sim.control().requests()
    );
    // And the metrics count that one.
    let metrics = t
        .http
        .get(format!("{}/metrics", t.url))
        .bearer_auth(crate::harness::ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"switchyard_token_refreshes_total{provider="hubspot",outcome="ok"} 1"#),
        "{metrics}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_waits_for_reauthentication_then_finishes() {
    let mut t = TestHost::start(sim_config(60, 5)).await;
    let key = t.key("acme").await;
    let hooks = receiver().await;
    let session = t.initiate(&key, json!({ "category": "crm", "error_webhook": { "endpoint": hooks.url, "metadata": { "who": "ops" } } })).await;
    t.sign_in(&format!(
        "/session/start?session_id={session}&provider=hubspot"
    ))
    .await;

    t.sim.control().revoke_refresh_tokens();
    t.sim.control().expire_tokens();
    let (_, answer) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let transfer = answer["transfer_id"].as_str().unwrap().to_owned();

    eventually(
        Duration::from_secs(30),
        "the authentication error webhook",
        || async { !hooks.events().is_empty() },
    )
    .await;
    let error = hooks.events()[0].json();
    assert_eq!(error["error_type"], "authentication");
    assert_eq!(error["metadata"]["who"], "ops");
    assert!(
        error["error_resolve_text"]
            .as_str()
            .unwrap()
            .contains("/session/reauthenticate")
    );
    let (_, sessions) = t.get(&key, "/api/sessions").await;
    assert_eq!(sessions["sessions"][0]["reauth_required"], true);
    let (_, stats) = t
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={transfer}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        stats["completed"], false,
        "the transfer waits instead of failing"
    );

    t.sign_in(&format!("/session/reauthenticate?session_id={session}"))
        .await;
    t.until_completed(&transfer, Duration::from_secs(30), "the resumed transfer")
        .await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &transfer)
            .await
            .len(),
        60
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_credential_is_explained_once_in_the_providers_words() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let (status, answer) = t
        .post(&key, "/api/session/credentials", json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": "not-a-token" } }))
        .await;
    assert_eq!(status, 422, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert_eq!(
        message.matches("rejected the credentials").count(),
        1,
        "{message}"
    );
    assert!(
        message.starts_with("HubSpot rejected the credentials"),
        "{message}"
    );
    assert!(message.contains("HubSpot said:"), "{message}");
    assert!(answer["errors"]["credentials"].is_string(), "{answer}");
}
