//! Changing a session's credentials: a rejected credential never replaces
//! the one that works, and a session deleted while its end user signs in
//! stays deleted.

use serde_json::json;

use crate::harness::{TOKEN, TestHost, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_never_replace_the_working_one() {
    let t = TestHost::start(sim_config(20, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let attach = |token: &'static str| {
        let (t, key, session) = (&t, key.clone(), session.clone());
        async move {
            t.post(&key, "/api/session/credentials", json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": token } }))
                .await
                .0
        }
    };
    let pull = || {
        let (t, key, session) = (&t, key.clone(), session.clone());
        async move {
            t.post(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "synchronous": true }))
                .await
                .1["transfer_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    // Bad attaches race each other, a good one and running pulls.
    let (statuses, pulls) = tokio::join!(
        futures::future::join_all([
            attach("bad-1"),
            attach("bad-2"),
            attach(TOKEN),
            attach("bad-3"),
        ]),
        futures::future::join_all([pull(), pull(), pull()]),
    );
    assert_eq!(statuses, [422, 422, 200, 422]);
    for transfer in pulls.iter().chain([&pull().await]) {
        let (_, stats) = t
            .call(
                "GET",
                &format!("/api/statistics?transfer_id={transfer}"),
                None,
                None,
            )
            .await;
        assert_eq!(stats["status"], "completed", "{stats}");
        assert_eq!(stats["statistics"]["records_transferred"], 20);
    }
    let (_, errors) = t
        .get(&key, &format!("/api/errors?session_id={session}"))
        .await;
    assert_eq!(
        errors["meta"]["count"], 0,
        "no transfer saw a bad key: {errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_deleted_during_sign_in_stays_deleted() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
    // The end user is at the provider's consent page...
    let consent = t
        .http
        .get(format!(
            "{}&auto_approve=true",
            t.authorize_url(&session).await
        ))
        .send()
        .await
        .unwrap();
    // ...when the app deletes the session.
    let (status, _) = t
        .post(
            &key,
            "/api/session/delete",
            json!({ "session_id": session }),
        )
        .await;
    assert_eq!(status, 200);
    let back = t.http.get(location(&consent)).send().await.unwrap();
    assert_eq!(back.status(), 404);
    assert!(back.text().await.unwrap().contains("find this session"));

    let (status, _) = t.get(&key, &format!("/api/sessions/{session}")).await;
    assert_eq!(status, 404, "the session did not come back");
    let (status, _) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    assert_eq!(status, 404);
    let kept = t
        .host
        .as_ref()
        .unwrap()
        .state
        .credentials
        .load(&session)
        .unwrap();
    assert!(kept.is_none(), "no credential was kept for it");
}
