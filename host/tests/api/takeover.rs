//! A stranger who learns a transfer or session id cannot point a connected
//! session at their own provider account: public answers carry no session
//! id, changing a connected session needs a single-use change link from the
//! API, and an OAuth sign-in finishes only in the browser that started it.

use std::time::Duration;

use serde_json::json;

use crate::harness::{TestHost, eventually, receiver, sim_config};

/// A client with its own cookie jar, as another person's browser.
fn stranger() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_with_a_statistics_link_cannot_reconnect_the_session() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let transfer = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    // What the statistics link shows anyone.
    let (_, stats) = t
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={transfer}"),
            None,
            None,
        )
        .await;
    assert!(!stats.to_string().contains(&session), "{stats}");
    let page = t
        .http
        .get(format!("{}/statistics?transfer_id={transfer}", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&session), "the page names the session");

    // Even knowing the session id, nothing that would change it works.
    let browser = stranger();
    for path in [
        format!("/session/reauthenticate?session_id={session}"),
        format!("/session/start?session_id={session}&provider=hubspot"),
        format!("/session/edit?session_id={session}"),
        format!("/session/select?session_id={session}"),
        format!("/session/reauthenticate?session_id={session}&grant=sl_made_up"),
    ] {
        let answer = browser
            .get(format!("{}{path}", t.url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{path}");
    }
    let form = browser
        .post(format!("{}/session/api-key", t.url))
        .form(&[("session_id", session.as_str()), ("provider", "hubspot")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_link_works_once_and_its_sign_in_fires_the_configuration_webhook() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let hooks = receiver().await;
    let session = t
        .connected_session(
            &key,
            json!({ "configuration_webhook": { "endpoint": hooks.url } }),
        )
        .await;
    let (_, detail) = t.get(&key, &format!("/api/sessions/{session}")).await;
    let link = detail["session"]["links"]["reauthenticate"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = link.strip_prefix(&t.url).unwrap();
    // The end user signs in again through it...
    t.sign_in(path).await;
    eventually(
        Duration::from_secs(10),
        "a configuration webhook for the new sign-in",
        || async { hooks.events().len() == 2 },
    )
    .await;
    // ...and nobody can use it a second time.
    let again = stranger().get(&link).send().await.unwrap();
    assert_eq!(again.status(), 403);
    assert!(again.text().await.unwrap().contains("already used"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_finishes_only_in_the_browser_that_started_it() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
    // The end user starts signing in...
    let authorize = t.authorize_url(&session).await;
    // ...and someone else's browser approves and comes back with the code.
    let other = stranger();
    let consent = other
        .get(format!("{authorize}&auto_approve=true"))
        .send()
        .await
        .unwrap();
    let back = other.get(location(&consent)).send().await.unwrap();
    assert_eq!(back.status(), 400);
    assert!(back.text().await.unwrap().contains("started elsewhere"));
    let (status, _) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(status, 409, "the session was not configured");
}
