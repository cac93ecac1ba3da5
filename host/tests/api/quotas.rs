//! Per-account quotas: an account past its API request rate is answered 429
//! with `Retry-After` while other accounts are served, and is served again
//! once it waited as told; an account at its session cap is refused new
//! sessions until it deletes one, and the cap holds across restarts (a clean
//! one and a killed `switchyard serve` with the limits set by its flags).

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};
use switchyard::http::account_rate::AccountRateConfig;
use switchyard_simulators::{Provider, Simulator};

use crate::harness::{TestHost, install_hubspot, sim_config};
use crate::process::Process;

/// An answer with its `Retry-After` (whole seconds), if any.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

/// A call with `key`, its answer checked against the OpenAPI document.
async fn send(t: &TestHost, key: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    let mut request = t
        .http
        .request(method.parse().unwrap(), format!("{}{path}", t.url))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get(RETRY_AFTER).map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("Retry-After is not whole seconds: {v:?}"))
    });
    let body: Value = response.json().await.unwrap();
    crate::conforms::answer(method, path, status, &body);
    Answer {
        status,
        retry_after,
        body,
    }
}

fn message(answer: &Answer) -> &str {
    answer.body["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_past_its_rate_waits_while_other_accounts_are_served() {
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        c.account_rate = AccountRateConfig {
            requests_per_second: 1,
            burst: 3,
        };
    })
    .await;
    // Admin calls are not an account's.
    let alpha = t.key("alpha").await;
    let beta = t.key("beta").await;
    for _ in 0..3 {
        t.initiate(&alpha, json!({ "category": "crm" })).await;
    }

    // Alpha's burst is spent; beta's request in the same instant is not
    // slowed by it.
    let (refused, served) = tokio::join!(
        send(
            &t,
            &alpha,
            "POST",
            "/api/session/initiate",
            Some(json!({ "category": "crm" }))
        ),
        send(&t, &beta, "GET", "/api/account", None),
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.body["success"], false);
    assert!(
        message(&refused).contains("1 API requests per second")
            && message(&refused).contains("bursts of 3"),
        "the message names the limit: {}",
        refused.body
    );
    let wait = refused.retry_after.expect("a Retry-After header");
    assert_eq!(wait, 1, "one token a second comes within a second");
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.body["account"], "beta");

    // Waiting as told is enough, and the refused initiate created nothing.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let sessions = send(&t, &alpha, "GET", "/api/sessions", None).await;
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    assert_eq!(sessions.body["meta"]["count"], 3);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_cap_are_refused_until_one_is_deleted_also_after_a_restart() {
    let cap_of_two = |c: &mut switchyard::server::HostConfig| c.max_sessions_per_account = 2;
    let mut t = TestHost::start_with(sim_config(1, 1), cap_of_two).await;
    let alpha = t.key("alpha").await;
    let first = t.initiate(&alpha, json!({ "category": "crm" })).await;
    let (status, answer) = t
        .post(&alpha, "/api/push/initiate", json!({ "category": "crm" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let second = answer["session_id"].as_str().unwrap().to_owned();

    for path in ["/api/session/initiate", "/api/push/initiate"] {
        let refused = send(&t, &alpha, "POST", path, Some(json!({ "category": "crm" }))).await;
        assert_eq!(refused.status, 429, "{path}: {}", refused.body);
        assert_eq!(refused.body["success"], false);
        assert!(
            message(&refused).contains("limit of 2 sessions per account")
                && message(&refused).contains("delete sessions"),
            "the message names the limit and the way out: {}",
            refused.body
        );
        assert_eq!(
            refused.retry_after, None,
            "waiting alone does not make room"
        );
    }
    // The cap is the account's, whichever key asks; other accounts have their own.
    let alpha_again = t.key("alpha").await;
    let (status, _) = t
        .post(&alpha_again, "/api/session/initiate", json!({}))
        .await;
    assert_eq!(status, 429);
    let beta = t.key("beta").await;
    t.initiate(&beta, json!({})).await;

    // Deleting a session makes room for exactly one.
    let (status, answer) = t
        .post(
            &alpha,
            "/api/session/delete",
            json!({ "session_id": first }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let third = t.initiate(&alpha, json!({})).await;
    let (status, _) = t.post(&alpha, "/api/session/initiate", json!({})).await;
    assert_eq!(status, 429);

    // A restarted host counts from what it stored.
    t.restart_with(cap_of_two).await;
    let (status, answer) = t.post(&alpha, "/api/session/initiate", json!({})).await;
    assert_eq!(status, 429, "{answer}");
    // Two deletes of one session at once free its place once.
    let delete = || {
        t.post(
            &alpha,
            "/api/session/delete",
            json!({ "session_id": second }),
        )
    };
    let ((one, _), (other, _)) = tokio::join!(delete(), delete());
    assert!(
        [one, other].contains(&200) && [one, other].iter().all(|s| [200, 404].contains(s)),
        "{one} {other}"
    );
    t.initiate(&alpha, json!({})).await;
    let (status, _) = t.post(&alpha, "/api/session/initiate", json!({})).await;
    assert_eq!(status, 429);
    // The next deleted one (stored before the restart) frees its place too.
    let (status, answer) = t
        .post(
            &alpha,
            "/api/session/delete",
            json!({ "session_id": third }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    t.initiate(&alpha, json!({})).await;
    let (status, _) = t.post(&alpha, "/api/session/initiate", json!({})).await;
    assert_eq!(status, 429);
    t.stop().await;
}

/// The flags of `switchyard serve` set both limits, and a killed host still
/// knows how many sessions each account has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_flags_set_the_limits_and_a_killed_host_keeps_the_session_cap() {
    let sim = Simulator::start(Provider::HubSpot, sim_config(1, 1))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    install_hubspot(data.path());
    let cap_of_one = ["--max-sessions-per-account", "1"];
    let host = Process::start_with_args(data.path(), &sim, &cap_of_one).await;
    let key = host.api_key("alpha").await;
    let initiated = host
        .call("POST", "/api/session/initiate", &key, Some(json!({})))
        .await;
    let session = initiated["session_id"].as_str().unwrap().to_owned();
    let (status, answer) = host
        .send("POST", "/api/session/initiate", &key, Some(json!({})))
        .await;
    assert_eq!(status, 429, "{answer}");
    host.kill();

    let flags = [
        "--max-sessions-per-account",
        "1",
        "--api-requests-per-second",
        "1",
        "--api-request-burst",
        "3",
    ];
    let host = Process::start_with_args(data.path(), &sim, &flags).await;
    let (status, answer) = host
        .send("POST", "/api/session/initiate", &key, Some(json!({})))
        .await;
    assert_eq!(status, 429, "still at the cap after the kill: {answer}");
    host.call(
        "POST",
        "/api/session/delete",
        &key,
        Some(json!({ "session_id": session })),
    )
    .await;
    host.call("POST", "/api/session/initiate", &key, Some(json!({})))
        .await;
    // That was the third request of the burst of 3.
    let (status, answer) = host.send("GET", "/api/account", &key, None).await;
    assert_eq!(status, 429, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("1 API requests per second")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_past_the_stored_records_cap_are_refused_until_a_session_is_deleted() {
    // 25 contacts come in one page: the first pull stores them all, and then
    // the account is past a cap of 10.
    let cap_of_ten = |c: &mut switchyard::server::HostConfig| {
        c.transfers.max_stored_records_per_account = Some(10)
    };
    let mut t = TestHost::start_with(sim_config(25, 2), cap_of_ten).await;
    let alpha = t.key("alpha").await;
    let beta = t.key("beta").await;
    let pull = |session: &str| json!({ "session_id": session, "endgrate_type": "crm-contact" });

    let first = t.connected_session(&alpha, json!({})).await;
    let done = t.transfer(&alpha, "/api/pull/transfer", pull(&first)).await;
    assert_eq!(
        t.all_data(&alpha, "pull", "crm-contact", &done).await.len(),
        25
    );

    let refused = send(&t, &alpha, "POST", "/api/pull/transfer", Some(pull(&first))).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        message(&refused).contains("10 pulled records")
            && message(&refused).contains("delete sessions"),
        "the message names the limit and the way out: {}",
        refused.body
    );
    assert_eq!(
        refused.retry_after, None,
        "waiting alone does not make room"
    );
    // Pushes still go, and another account pulls as it likes.
    let other = t.connected_session(&beta, json!({})).await;
    let theirs = t.transfer(&beta, "/api/pull/transfer", pull(&other)).await;
    assert_eq!(
        t.all_data(&beta, "pull", "crm-contact", &theirs)
            .await
            .len(),
        25
    );

    // A restarted host counts again from what it stored.
    t.restart_with(cap_of_ten).await;
    let refused = send(&t, &beta, "POST", "/api/pull/transfer", Some(pull(&other))).await;
    assert_eq!(refused.status, 429, "{}", refused.body);

    // Deleting the session that holds the records makes room.
    let (status, answer) = t
        .post(
            &alpha,
            "/api/session/delete",
            json!({ "session_id": first }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let second = t.connected_session(&alpha, json!({})).await;
    let again = t
        .transfer(&alpha, "/api/pull/transfer", pull(&second))
        .await;
    assert_eq!(
        t.all_data(&alpha, "pull", "crm-contact", &again)
            .await
            .len(),
        25
    );
}
