//! Acting on transfers: a retry runs a finished pull or push again as a new
//! transfer with the same records; a running one cannot be retried; a cancel
//! stops a running pull at its next page, keeps what it stored readable, and
//! holds across a restart; a queued one cancelled never runs; another
//! account's transfers are out of reach, and bad ids are named.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestHost, eventually, sim_config};

async fn stats(t: &TestHost, transfer: &str) -> Value {
    let (status, answer) = t
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={transfer}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn ids(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Triggers a pull without waiting; its id.
async fn start_pull(t: &TestHost, key: &str, session: &str, endgrate_type: &str) -> String {
    let (status, answer) = t
        .post(
            key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": endgrate_type }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["transfer_id"].as_str().unwrap().to_owned()
}

/// Runs a pull of the session's contacts to its end (while it runs, a
/// transfer that was not stopped would go on asking the provider); its id
/// and the provider requests counted meanwhile.
async fn barrier(t: &TestHost, key: &str, session: &str) -> (String, u64) {
    let before = t.sim.control().total_requests();
    let pull = t
        .transfer(
            key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    assert_eq!(stats(t, &pull).await["status"], "completed");
    (pull, t.sim.control().total_requests() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_pull_is_a_new_transfer_with_the_same_records_and_a_running_one_is_409() {
    let t = TestHost::start(sim_config(10, 450)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let all = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-company" }),
        )
        .await;
    let all_rows = t.all_data(&key, "pull", "crm-company", &all).await;
    assert_eq!(all_rows.len(), 450);
    let name = all_rows[0]["data"]["name"].clone();
    let first = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-company", "params": { "name": name } }),
        )
        .await;
    let filtered_rows = t.all_data(&key, "pull", "crm-company", &first).await;
    assert!(
        !filtered_rows.is_empty() && filtered_rows.len() < 450,
        "{} filtered",
        filtered_rows.len()
    );

    for (original, rows) in [(&all, &all_rows), (&first, &filtered_rows)] {
        let (status, answer) = t
            .post(&key, &format!("/api/transfers/{original}/retry"), json!({}))
            .await;
        assert_eq!(status, 202, "{answer}");
        let again = answer["transfer_id"].as_str().unwrap().to_owned();
        assert_ne!(&again, original);
        assert_eq!(answer["retry_of"], original.as_str());
        assert!(
            answer["statistics"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/statistics?transfer_id={again}"))
        );
        t.until_completed(&again, Duration::from_secs(30), "the retried pull")
            .await;
        let s = stats(&t, &again).await;
        assert_eq!(s["status"], "completed", "{s}");
        assert_eq!(s["retry_of"], original.as_str());
        assert_eq!(s["endgrate_type"], "crm-company");
        let again_rows = t.all_data(&key, "pull", "crm-company", &again).await;
        assert_eq!(ids(&again_rows), ids(rows), "the same records");
        assert_eq!(again_rows, *rows, "in the same shape");
        // The original is untouched.
        assert_eq!(
            t.all_data(&key, "pull", "crm-company", original).await,
            *rows
        );
    }
    assert!(
        filtered_rows.iter().all(|r| r["data"]["name"] == name),
        "the parameters came along"
    );

    // A pull that is still running cannot be retried.
    t.sim.control().set_latency(Duration::from_millis(60));
    let running = start_pull(&t, &key, &session, "crm-company").await;
    eventually(Duration::from_secs(20), "a running pull", || async {
        stats(&t, &running).await["status"] == "running"
    })
    .await;
    let (status, answer) = t
        .post(&key, &format!("/api/transfers/{running}/retry"), json!({}))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["errors"]["transfer_id"].is_string(), "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("running") && message.contains("cancel"),
        "{message}"
    );
    t.sim.control().clear_faults();
    t.until_completed(&running, Duration::from_secs(30), "the running pull")
        .await;

    // A finished one cannot be cancelled.
    let (status, answer) = t
        .post(&key, &format!("/api/transfers/{running}/cancel"), json!({}))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("completed"),
        "{answer}"
    );
    assert_eq!(stats(&t, &running).await["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_push_pushes_the_same_items_to_the_same_records() {
    let t = TestHost::start(sim_config(0, 0)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let items: Vec<Value> = (0..3)
        .map(|i| json!({ "internal_id": format!("c{i}"), "data": { "first_name": "Ann", "last_name": format!("Retry{i}"), "email_addresses": [{ "email_address": format!("retry{i}@example.com") }] } }))
        .collect();
    let push = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": items }),
        )
        .await;
    let first = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(first.len(), 3);
    let (status, answer) = t
        .post(&key, &format!("/api/transfers/{push}/retry"), json!({}))
        .await;
    assert_eq!(status, 202, "{answer}");
    let again = answer["transfer_id"].as_str().unwrap().to_owned();
    t.until_completed(&again, Duration::from_secs(30), "the retried push")
        .await;
    let s = stats(&t, &again).await;
    assert_eq!(
        (s["method"].as_str(), s["status"].as_str()),
        (Some("EXPORT"), Some("completed"))
    );
    assert_eq!(s["statistics"]["records"], 3);
    let second = t.all_data(&key, "push", "crm-contact", &again).await;
    let internal =
        |rows: &[Value]| -> Vec<Value> { rows.iter().map(|r| r["internal_id"].clone()).collect() };
    assert_eq!(
        internal(&second),
        internal(&first),
        "the same items, in order"
    );
    assert_eq!(
        ids(&second),
        ids(&first),
        "updating the records the first push made"
    );
    assert_eq!(t.sim.control().contacts().len(), 3, "nothing made twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_pull_stops_keeps_its_records_and_stays_cancelled_after_a_restart() {
    let mut t = TestHost::start(sim_config(500, 3000)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    t.sim.control().set_latency(Duration::from_millis(60));
    // What a pull of the contacts costs, measured while nothing else runs
    // (the first pull of a session may ask more: the second is measured).
    barrier(&t, &key, &session).await;
    let (_, cost) = barrier(&t, &key, &session).await;
    assert!(cost >= 5, "{cost} requests");

    let pull = start_pull(&t, &key, &session, "crm-company").await;
    eventually(Duration::from_secs(20), "some pages", || async {
        stats(&t, &pull).await["statistics"]["batches_success"].as_u64() >= Some(2)
    })
    .await;
    let (status, ended) = t
        .post(&key, &format!("/api/transfers/{pull}/cancel"), json!({}))
        .await;
    let at_cancel = t.sim.control().total_requests();
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["transfer_id"], pull.as_str());
    assert_eq!(ended["status"], "failed");
    assert_eq!(ended["cancelled"], true);
    assert_eq!(ended["completed"], true);
    assert!(
        ended["error"].as_str().unwrap().contains("cancelled"),
        "{ended}"
    );
    let stored = ended["statistics"]["records_transferred"].as_u64().unwrap();
    assert!((200..3000).contains(&stored), "stopped mid-way: {ended}");

    // Another pull runs to its end meanwhile; the cancelled one sent at
    // most the one request it had in flight.
    barrier(&t, &key, &session).await;
    let extra = (t.sim.control().total_requests() - at_cancel).saturating_sub(cost);
    assert!(extra <= 1, "{extra} requests after the cancel");
    assert_eq!(stats(&t, &pull).await, stats_after(&ended));

    // What it stored before stays readable.
    let rows = t.all_data(&key, "pull", "crm-company", &pull).await;
    assert_eq!(rows.len() as u64, stored);
    assert_eq!(ids(&rows).len(), rows.len());

    // Not resumed by a restart.
    t.restart().await;
    let (_, spent) = barrier(&t, &key, &session).await;
    assert_eq!(spent, cost, "only the new pull asked the provider");
    assert_eq!(stats(&t, &pull).await, stats_after(&ended));
    assert_eq!(
        t.all_data(&key, "pull", "crm-company", &pull).await.len() as u64,
        stored
    );
    let (status, answer) = t
        .post(&key, &format!("/api/transfers/{pull}/cancel"), json!({}))
        .await;
    assert_eq!(status, 409, "{answer}");

    // A cancelled transfer can be run again, to its end.
    t.sim.control().clear_faults();
    let (status, answer) = t
        .post(&key, &format!("/api/transfers/{pull}/retry"), json!({}))
        .await;
    assert_eq!(status, 202, "{answer}");
    let again = answer["transfer_id"].as_str().unwrap();
    t.until_completed(again, Duration::from_secs(60), "the retry")
        .await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-company", again).await.len(),
        3000
    );
    t.stop().await;
}

/// The statistics answer of a transfer whose cancel answered `cancelled`.
fn stats_after(cancelled: &Value) -> Value {
    let mut s = cancelled.clone();
    if let Some(fields) = s.as_object_mut() {
        fields.remove("session_id");
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_transfer_cancelled_before_its_session_connects_never_runs() {
    let t = TestHost::start(sim_config(5, 5)).await;
    let key = t.key("acme").await;
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }, { "endgrate_type": "crm-company" }] }),
        )
        .await;
    let waiting = start_pull(&t, &key, &session, "crm-company").await;
    assert_eq!(stats(&t, &waiting).await["status"], "queued");
    let (status, ended) = t
        .post(&key, &format!("/api/transfers/{waiting}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        (ended["status"].as_str(), ended["cancelled"].as_bool()),
        (Some("failed"), Some(true))
    );

    t.attach(&key, &session).await;
    barrier(&t, &key, &session).await;
    let s = stats(&t, &waiting).await;
    assert_eq!(s["status"], "failed");
    assert_eq!(s["statistics"]["batches"], 0, "never ran: {s}");
    assert_eq!(
        t.all_data(&key, "pull", "crm-company", &waiting)
            .await
            .len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_transfers_are_out_of_reach_and_bad_ids_are_named() {
    let t = TestHost::start(sim_config(2, 0)).await;
    let (key, other) = (t.key("acme").await, t.key("beta").await);
    let session = t.connected_session(&key, json!({})).await;
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    for id in [pull.as_str(), "000000000000000000000000", "nope"] {
        for action in ["retry", "cancel"] {
            let (status, answer) = t
                .post(&other, &format!("/api/transfers/{id}/{action}"), json!({}))
                .await;
            assert_eq!(status, 404, "{action} {id}: {answer}");
            assert!(answer["errors"]["transfer_id"].is_string(), "{answer}");
            assert!(
                answer["message"].as_str().unwrap().contains("transfer_id"),
                "{answer}"
            );
        }
    }
    let (_, listed) = t.get(&key, "/api/transfers").await;
    assert_eq!(listed["meta"]["count"], 1, "the other key made nothing");
}
