//! One tenant cannot starve the others: transfers waiting on a session that
//! cannot run yet are parked instead of being looked at on every pass, and
//! accounts take turns.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{TestHost, sim_config};

/// A custom schema of `fields` string properties with long descriptions.
fn wide_schema(title: &str, fields: usize) -> Value {
    let properties: serde_json::Map<String, Value> = (0..fields)
        .map(|i| {
            (
                format!("field_{i:04}"),
                json!({ "type": "string", "description": "d".repeat(60) }),
            )
        })
        .collect();
    json!({ "title": title, "type": "object", "properties": properties })
}

async fn timed_pull(t: &TestHost, key: &str, session: &str) -> Duration {
    let started = Instant::now();
    t.transfer(
        key,
        "/api/pull/transfer",
        json!({ "session_id": session, "endgrate_type": "crm-contact" }),
    )
    .await;
    started.elapsed()
}

async fn median_pull(t: &TestHost, key: &str, session: &str) -> Duration {
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(timed_pull(t, key, session).await);
    }
    runs.sort();
    runs[1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_a_huge_waiting_session_does_not_slow_another_accounts_pull() {
    let t = TestHost::start(sim_config(200, 5)).await;
    let victim = t.key("victim").await;
    let victim_session = t.connected_session(&victim, json!({})).await;
    let alone = median_pull(&t, &victim, &victim_session).await;

    // The other tenant: a session as large as allowed, never configured,
    // with twenty pulls waiting on it.
    let noisy = t.key("noisy").await;
    let schemas: Vec<Value> = (0..30)
        .map(|i| wide_schema(&format!("Wide{i}"), 300))
        .collect();
    let (status, answer) = t
        .post(
            &noisy,
            "/api/session/initiate",
            json!({ "schema": schemas }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let noisy_session = answer["session_id"].as_str().unwrap().to_owned();
    for i in 0..20 {
        let (status, answer) = t
            .post(
                &noisy,
                "/api/pull/transfer",
                json!({ "session_id": noisy_session, "endgrate_type": format!("Wide{}", i % 30) }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }

    let beside = median_pull(&t, &victim, &victim_session).await;
    // It took 11.7-15.6 s instead of 0.05 s when every pass decoded the
    // waiting session; the slack covers a busy machine's noise.
    assert!(
        beside <= alone * 2 + Duration::from_millis(250),
        "a pull took {beside:?} beside the waiting tenant, {alone:?} alone"
    );
    // The noisy tenant's pulls still wait for their session.
    let (_, transfers) = t
        .get(
            &noisy,
            &format!("/api/transfers?session_id={noisy_session}"),
        )
        .await;
    assert_eq!(transfers["meta"]["count"], 20);
    assert!(
        transfers["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"] == "queued"),
        "{transfers}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_larger_than_the_cap_is_refused() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let schemas: Vec<Value> = (0..60)
        .map(|i| wide_schema(&format!("Wide{i}"), 300))
        .collect();
    let (status, answer) = t
        .post(&key, "/api/session/initiate", json!({ "schema": schemas }))
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer["errors"]["schema"].is_string(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_waiting_for_configuration_run_once_it_is_done() {
    let t = TestHost::start(sim_config(30, 2)).await;
    let key = t.key("acme").await;
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let (_, queued) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let transfer = queued["transfer_id"].as_str().unwrap().to_owned();
    t.attach(&key, &session).await;
    t.until_completed(&transfer, Duration::from_secs(20), "the parked pull")
        .await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &transfer)
            .await
            .len(),
        30
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_statistics_feeds_of_a_transfer_share_one_snapshot_and_are_bounded() {
    use futures::StreamExt;
    use switchyard::pages::statistics::{MAX_STREAMS, feed_stats};

    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    // A pull that waits (its session is not configured yet) keeps its feeds open.
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let (_, queued) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let transfer = queued["transfer_id"].as_str().unwrap().to_owned();
    let url = format!("{}/statistics/events?transfer_id={transfer}", t.url);
    let mut feeds = Vec::new();
    for _ in 0..MAX_STREAMS {
        let response = t.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.bytes_stream();
        // Each feed sends its first snapshot at once.
        let first = body.next().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("event: statistics"));
        feeds.push(body);
    }
    let one_more = t.http.get(&url).send().await.unwrap();
    assert_eq!(one_more.status(), 429, "feeds per transfer are bounded");

    // Nothing changed while they were open: one snapshot served them all,
    // however many polls their feeds made.
    let (open, computed) = feed_stats(&transfer).unwrap();
    assert_eq!(open, MAX_STREAMS);
    assert_eq!(computed, 1);
    drop(feeds);
    crate::harness::eventually(Duration::from_secs(5), "the feeds to close", || async {
        feed_stats(&transfer).is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_may_have_only_so_many_transfers_waiting() {
    let t = TestHost::start_with(sim_config(1, 1), |c| {
        c.transfers.max_waiting_per_account = 3;
    })
    .await;
    let initiate = |key: String| {
        let t = &t;
        async move {
            let (_, answer) = t
                .post(
                    &key,
                    "/api/session/initiate",
                    json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
                )
                .await;
            answer["session_id"].as_str().unwrap().to_owned()
        }
    };
    let busy = t.key("busy").await;
    // Pulls of a session not configured yet wait.
    let session = initiate(busy.clone()).await;
    let pull = json!({ "session_id": session, "endgrate_type": "crm-contact" });
    for _ in 0..3 {
        assert_eq!(
            t.post(&busy, "/api/pull/transfer", pull.clone()).await.0,
            200
        );
    }
    let refused = t
        .http
        .post(format!("{}/api/pull/transfer", t.url))
        .bearer_auth(&busy)
        .json(&pull)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "5");
    // Another account is not held back by it.
    let other = t.key("other").await;
    let theirs = initiate(other.clone()).await;
    let (status, answer) = t
        .post(
            &other,
            "/api/pull/transfer",
            json!({ "session_id": theirs, "endgrate_type": "crm-contact" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}
