//! The webhook delivery log: a delivery's failed attempts while its receiver
//! is down, then its success; a redelivery that reaches the receiver under a
//! new id with the same body; another account seeing and redelivering
//! nothing; and every bad input answered with the field named.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestHost, eventually, receiver, sim_config};

/// The account's deliveries (`query` appended to the path), as listed.
async fn deliveries(t: &TestHost, key: &str, query: &str) -> Vec<Value> {
    let (status, answer) = t
        .get(key, &format!("/api/webhooks/deliveries?limit=100{query}"))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["deliveries"].as_array().unwrap().clone()
}

/// The delivery `id` as listed.
async fn delivery(t: &TestHost, key: &str, id: &str) -> Value {
    deliveries(t, key, "")
        .await
        .into_iter()
        .find(|d| d["delivery_id"] == id)
        .unwrap_or_else(|| panic!("delivery {id} is listed"))
}

/// Polls the log until delivery `id` satisfies `check`; the delivery then.
async fn until_delivery(
    t: &TestHost,
    key: &str,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(Duration::from_secs(20), what, || async {
        check(&delivery(t, key, id).await)
    })
    .await;
    delivery(t, key, id).await
}

fn statuses(d: &Value) -> Vec<Value> {
    d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_shows_failures_then_success_and_a_redelivery_reaches_the_receiver() {
    let t = TestHost::start(sim_config(3, 0)).await;
    let (key, other) = (t.key("acme").await, t.key("beta").await);
    let hooks = receiver().await;
    *hooks.down.lock().unwrap() = true;
    let session = t
        .connected_session(
            &key,
            json!({ "completed_webhook": { "endpoint": hooks.url, "metadata": { "n": 1 } } }),
        )
        .await;
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;

    // The receiver is down: the completed webhook fails, and fails again.
    let listed = deliveries(&t, &key, "&event=completed").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["delivery_id"].as_str().unwrap().to_owned();
    let failing = until_delivery(&t, &key, &id, "two failed attempts", |d| {
        d["attempt_count"].as_u64() >= Some(2)
    })
    .await;
    assert_eq!(failing["state"], "retrying", "{failing}");
    assert_eq!(failing["session_id"], session.as_str());
    assert_eq!(failing["endpoint"], hooks.url.as_str());
    assert!(failing["next_attempt"].is_string(), "{failing}");
    assert!(failing["finished"].is_null());
    for attempt in failing["attempts"].as_array().unwrap() {
        assert_eq!(attempt["status"], 503, "{attempt}");
        let error = attempt["error"].as_str().unwrap();
        assert!(error.contains("503"), "{error}");
        assert!(attempt["at"].is_string() && attempt["duration_ms"].is_u64());
    }
    assert!(hooks.events().is_empty());

    // It comes back: the next attempt succeeds, after the failed ones.
    *hooks.down.lock().unwrap() = false;
    let done = until_delivery(&t, &key, &id, "the delivery", |d| d["state"] == "delivered").await;
    let seen = statuses(&done);
    let (last, failed) = seen.split_last().unwrap();
    assert_eq!(*last, 200, "{done}");
    assert!(
        failed.len() >= 2 && failed.iter().all(|s| *s == 503),
        "{done}"
    );
    assert_eq!(done["attempt_count"].as_u64(), Some(seen.len() as u64));
    assert!(done["attempts"][seen.len() - 1]["error"].is_null());
    assert!(done["next_attempt"].is_null() && done["finished"].is_string());
    let got = hooks.events();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].delivery, id, "the log's id is the header's");
    assert_eq!(got[0].json()["transfer_id"], pull.as_str());

    // Another account sees none of it and cannot send it again.
    assert!(deliveries(&t, &other, "").await.is_empty());
    let (status, answer) = t
        .get(
            &other,
            &format!("/api/webhooks/deliveries?session_id={session}"),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    let redeliver = format!("/api/webhooks/deliveries/{id}/redeliver");
    let (status, answer) = t.post(&other, &redeliver, json!({})).await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer.get("delivery").is_none());
    assert_eq!(hooks.events().len(), 1, "nothing was sent for it");

    // Sent again: a new delivery, with the same body, reaches the receiver.
    let (status, answer) = t.post(&key, &redeliver, json!({})).await;
    assert_eq!(status, 202, "{answer}");
    let again = answer["delivery"]["delivery_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(again, id);
    assert_eq!(answer["delivery"]["redelivery_of"], id.as_str());
    assert_eq!(answer["delivery"]["event"], "completed");
    eventually(Duration::from_secs(20), "the redelivery", || async {
        hooks.events().len() == 2
    })
    .await;
    let got = hooks.events();
    assert_eq!(
        (got[1].event.as_str(), got[1].delivery.as_str()),
        ("completed", again.as_str())
    );
    assert_eq!(got[1].body, got[0].body, "the same bytes");
    let redelivered = until_delivery(&t, &key, &again, "the redelivery logged", |d| {
        d["state"] == "delivered"
    })
    .await;
    assert_eq!(redelivered["redelivery_of"], id.as_str());
    assert_eq!(statuses(&redelivered), [json!(200)]);

    // Paged like the other lists, newest first.
    let (status, page) = t
        .get(&key, "/api/webhooks/deliveries?event=completed&limit=1")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["meta"]["count"], 2);
    assert_eq!(page["deliveries"][0]["delivery_id"], again.as_str());
    let next = page["meta"]["next"]["link"].as_str().unwrap();
    assert!(
        next.ends_with("/api/webhooks/deliveries?event=completed&limit=1&offset=1"),
        "{next}"
    );
    let (_, second) = t.get(&key, next.strip_prefix(&t.url).unwrap()).await;
    assert_eq!(second["deliveries"][0]["delivery_id"], id.as_str());

    // A delivery still being retried is not sent twice.
    *hooks.down.lock().unwrap() = true;
    let (status, answer) = t.post(&key, &redeliver, json!({})).await;
    assert_eq!(status, 202, "{answer}");
    let third = answer["delivery"]["delivery_id"]
        .as_str()
        .unwrap()
        .to_owned();
    until_delivery(&t, &key, &third, "a failed redelivery", |d| {
        d["state"] == "retrying"
    })
    .await;
    let (status, answer) = t
        .post(
            &key,
            &format!("/api/webhooks/deliveries/{third}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["errors"]["delivery_id"].is_string(), "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("retrying"),
        "{answer}"
    );
    *hooks.down.lock().unwrap() = false;
    until_delivery(&t, &key, &third, "the third delivery", |d| {
        d["state"] == "delivered"
    })
    .await;
    assert_eq!(hooks.events().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_survives_a_restart_and_goes_with_its_session() {
    let mut t = TestHost::start(sim_config(1, 0)).await;
    let key = t.key("acme").await;
    let hooks = receiver().await;
    let session = t
        .connected_session(
            &key,
            json!({ "configuration_webhook": { "endpoint": hooks.url } }),
        )
        .await;
    eventually(
        Duration::from_secs(20),
        "the configuration webhook",
        || async {
            deliveries(&t, &key, "")
                .await
                .first()
                .is_some_and(|d| d["state"] == "delivered")
        },
    )
    .await;
    let before = deliveries(&t, &key, "").await;
    t.restart().await;
    assert_eq!(deliveries(&t, &key, "").await, before, "kept on disk");
    let id = before[0]["delivery_id"].as_str().unwrap();
    let (status, answer) = t
        .post(
            &key,
            &format!("/api/webhooks/deliveries/{id}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    eventually(Duration::from_secs(20), "the redelivery", || async {
        hooks.events().len() == 2
    })
    .await;

    let (status, answer) = t
        .post(
            &key,
            "/api/session/delete",
            json!({ "session_id": session }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(deliveries(&t, &key, "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_refused_naming_the_field() {
    let t = TestHost::start(sim_config(1, 0)).await;
    let key = t.key("acme").await;
    for (query, status, field) in [
        ("?event=nope", 400, "event"),
        ("?limit=0", 400, "limit"),
        ("?limit=1001", 400, "limit"),
        ("?offset=-1", 400, "offset"),
        ("?session_id=000000000000000000000000", 404, "session_id"),
    ] {
        let (got, answer) = t
            .get(&key, &format!("/api/webhooks/deliveries{query}"))
            .await;
        assert_eq!(got, status, "{query}: {answer}");
        assert!(answer["errors"][field].is_string(), "{query}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{query}: {answer}"
        );
    }
    for (id, status) in [("abc", 400), ("-1", 400), ("987654321", 404)] {
        let (got, answer) = t
            .post(
                &key,
                &format!("/api/webhooks/deliveries/{id}/redeliver"),
                json!({}),
            )
            .await;
        assert_eq!(got, status, "{id}: {answer}");
        assert!(
            answer["errors"]["delivery_id"].is_string(),
            "{id}: {answer}"
        );
    }
}
