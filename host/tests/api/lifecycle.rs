//! A session's life: transfers that wait for configuration, the synchronous
//! cap, sync pulls, the OAuth2 flow, and expiry.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TOKEN, TestHost, eventually, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_waits_for_configuration_then_runs() {
    let mut t = TestHost::start(sim_config(40, 4)).await;
    let key = t.key("acme").await;
    let (_, answer) = t
        .post(&key, "/api/session/initiate", json!({ "category": "crm" }))
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    let (_, answer) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-company" }),
        )
        .await;
    let transfer = answer["transfer_id"].as_str().unwrap().to_owned();
    let (_, stats) = t
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={transfer}"),
            None,
            None,
        )
        .await;
    assert_eq!(stats["completed"], false);
    assert_eq!(stats["status"], "queued");
    assert_eq!(
        t.sim.control().total_requests(),
        0,
        "nothing reached the provider before configuration"
    );

    t.attach(&key, &session).await;
    t.until_completed(&transfer, Duration::from_secs(30), "the waiting pull")
        .await;
    let rows = t.all_data(&key, "pull", "crm-company", &transfer).await;
    assert_eq!(rows.len(), 4);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_waits_at_most_the_cap() {
    let mut t = TestHost::start_with(sim_config(20, 2), |c| {
        c.synchronous_cap = Duration::from_millis(300)
    })
    .await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    t.sim.control().set_latency(Duration::from_secs(2));
    let (status, answer) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "synchronous": true }),
        )
        .await;
    assert_eq!(status, 200);
    let transfer = answer["transfer_id"].as_str().unwrap().to_owned();
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
        "answered at the cap, before the slow provider finished"
    );
    t.sim.control().set_latency(Duration::ZERO);
    t.until_completed(&transfer, Duration::from_secs(30), "the pull after the cap")
        .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_pulls_return_only_changes() {
    let mut t = TestHost::start(sim_config(30, 3)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({ "sync": true })).await;
    let pull = json!({ "session_id": session, "endgrate_type": "crm-contact" });
    let first = t.transfer(&key, "/api/pull/transfer", pull.clone()).await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &first).await.len(),
        30
    );

    let second = t.transfer(&key, "/api/pull/transfer", pull.clone()).await;
    assert!(
        t.all_data(&key, "pull", "crm-contact", &second)
            .await
            .is_empty(),
        "nothing changed"
    );

    let created = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": [
            { "data": { "first_name": "New", "last_name": "Person", "email_addresses": [{ "email_address": "new@example.com" }] } }] }))
        .await;
    let new_id = t.all_data(&key, "push", "crm-contact", &created).await[0]["id"].clone();
    let third = t.transfer(&key, "/api/pull/transfer", pull).await;
    let changed = t.all_data(&key, "pull", "crm-contact", &third).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["id"], new_id);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_pull_reports_a_record_deleted_when_a_full_listing_no_longer_returns_it() {
    // Every sync pull lists every record (HubSpot's full listing does not
    // flag deleted contacts: they are simply gone from it).
    // Three pages: ids of the first two are remembered across steps.
    let t = TestHost::start_with(sim_config(250, 2), |c| {
        c.transfers.full_resync = Duration::ZERO;
    })
    .await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({ "sync": true })).await;
    let pull = json!({ "session_id": session, "endgrate_type": "crm-contact" });
    let first = t.transfer(&key, "/api/pull/transfer", pull.clone()).await;
    let all = t.all_data(&key, "pull", "crm-contact", &first).await;
    assert_eq!(all.len(), 250);

    let gone = all[4]["id"].as_str().unwrap().to_owned();
    let archived = t
        .http
        .delete(format!(
            "{}/crm/v3/objects/contacts/{gone}",
            t.sim.base_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), 204);

    let second = t.transfer(&key, "/api/pull/transfer", pull.clone()).await;
    let changes = t.all_data(&key, "pull", "crm-contact", &second).await;
    assert_eq!(
        changes,
        [json!({ "id": gone, "data": {}, "deleted": true })],
        "only the deletion is reported"
    );
    let third = t.transfer(&key, "/api/pull/transfer", pull).await;
    let changes = t.all_data(&key, "pull", "crm-contact", &third).await;
    assert!(changes.is_empty(), "reported once: {changes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_params_filter_records() {
    let mut t = TestHost::start(sim_config(60, 3)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let all = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let all = t.all_data(&key, "pull", "crm-contact", &all).await;
    let last_name = all[0]["data"]["last_name"].clone();
    let expected = all
        .iter()
        .filter(|r| r["data"]["last_name"] == last_name)
        .count();
    let filtered = t
        .transfer(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "params": { "last_name": last_name } }))
        .await;
    let filtered = t.all_data(&key, "pull", "crm-contact", &filtered).await;
    assert_eq!(filtered.len(), expected);
    assert!(filtered.iter().all(|r| r["data"]["last_name"] == last_name));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_flow_configures_the_session_and_redirects() {
    let mut t = TestHost::start(sim_config(10, 2)).await;
    let key = t.key("acme").await;
    let (_, answer) = t
        .post(&key, "/api/session/initiate", json!({ "schema": [{ "endgrate_type": "crm-contact" }], "provider": "hubspot", "redirect_url": "https://app.example/done" }))
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();

    let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
    let start = t
        .http
        .get(format!("{}/session?session_id={session}", t.url))
        .send()
        .await
        .unwrap();
    assert!(
        start.status().is_redirection(),
        "a preset provider skips the picker"
    );
    let start = t
        .http
        .get(format!("{}{}", t.url, location(&start)))
        .send()
        .await
        .unwrap();
    assert!(start.status().is_redirection());
    let authorize = location(&start);
    assert!(authorize.starts_with(&t.sim.authorize_url()), "{authorize}");
    assert!(authorize.contains("state=") && authorize.contains("client_id=switchyard-client"));

    let consent = t
        .http
        .get(format!("{authorize}&auto_approve=true"))
        .send()
        .await
        .unwrap();
    let callback = location(&consent);
    assert!(
        callback.starts_with(&format!("{}/session/callback", t.url)),
        "{callback}"
    );
    let done = t.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&done), "https://app.example/done");
    let (status, config) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(status, 200, "{config}");

    // The state is single-use.
    let again = t.http.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already used"));

    let transfer = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &transfer)
            .await
            .len(),
        10
    );

    // Unknown sessions get a page, not a stack trace.
    let page = t
        .http
        .get(format!("{}/session?session_id=nope", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("does not exist or has expired")
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_with_everything_they_own_unless_saved() {
    let mut t = TestHost::start_with(sim_config(10, 2), |c| {
        c.session_ttl = Duration::from_millis(800);
        c.sweep_interval = Duration::from_millis(100);
    })
    .await;
    let key = t.key("acme").await;
    let doomed = t.connected_session(&key, json!({})).await;
    let kept = t
        .connected_session(&key, json!({ "save_session": true }))
        .await;
    let transfer = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": doomed, "endgrate_type": "crm-contact" }),
        )
        .await;
    eventually(Duration::from_secs(20), "the expiry sweep", || {
        let (t, key, doomed) = (&t, &key, &doomed);
        async move {
            t.get(
                key,
                &format!("/api/session/configuration?session_id={doomed}"),
            )
            .await
            .0 == 404
        }
    })
    .await;
    let (status, _) = t
        .get(
            &key,
            &format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={transfer}"),
        )
        .await;
    assert_eq!(status, 404, "its transfers and records went with it");
    let (status, _): (u16, Value) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={kept}"),
        )
        .await;
    assert_eq!(status, 200, "save_session keeps it");
    t.stop().await;
}
