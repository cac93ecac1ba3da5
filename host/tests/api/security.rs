//! API keys, account isolation, and credentials sealed at rest.

use serde_json::json;

use crate::harness::{ADMIN_KEY, TestHost, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_required_checked_and_revocable() {
    let mut t = TestHost::start(sim_config(10, 2)).await;
    let (status, body) = t
        .call("POST", "/api/session/initiate", None, Some(json!({})))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["success"], false);
    let (status, _) = t
        .call(
            "POST",
            "/api/session/initiate",
            Some("sy_live_wrong"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 401);
    // The admin key is not an API key, and API keys are not admin keys.
    let (status, _) = t
        .call(
            "POST",
            "/api/session/initiate",
            Some(ADMIN_KEY),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 401);
    let key = t.key("acme").await;
    let (status, _) = t
        .call(
            "POST",
            "/api/admin/keys",
            Some(&key),
            Some(json!({ "account": "evil" })),
        )
        .await;
    assert_eq!(status, 401);

    let (status, _) = t.post(&key, "/api/session/initiate", json!({})).await;
    assert_eq!(status, 200);
    let (_, keys) = t
        .call("GET", "/api/admin/keys", Some(ADMIN_KEY), None)
        .await;
    let key_id = keys["keys"][0]["key_id"].as_str().unwrap().to_owned();
    assert!(
        !keys.to_string().contains(&key),
        "key lists never show secrets"
    );
    let (status, _) = t
        .call(
            "DELETE",
            &format!("/api/admin/keys/{key_id}"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = t.post(&key, "/api/session/initiate", json!({})).await;
    assert_eq!(status, 401, "a revoked key is refused");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_never_sees_another() {
    let mut t = TestHost::start(sim_config(30, 5)).await;
    let alice = t.key("alice").await;
    let mallory = t.key("mallory").await;
    let session = t.connected_session(&alice, json!({})).await;
    let transfer = t
        .transfer(
            &alice,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;

    let paths = [
        format!("/api/session/configuration?session_id={session}"),
        format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={transfer}"),
    ];
    for path in &paths {
        let (status, body) = t.get(&mallory, path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.to_string().contains("first_name"));
        assert_eq!(t.get(&alice, path).await.0, 200, "{path}");
    }
    for (path, body) in [
        ("/api/session/delete", json!({ "session_id": session })),
        (
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        ),
        (
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": [{ "data": {} }] }),
        ),
        (
            "/api/session/credentials",
            json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": "x" } }),
        ),
    ] {
        assert_eq!(t.post(&mallory, path, body).await.0, 404, "{path}");
    }
    let (_, sessions) = t.get(&mallory, "/api/sessions").await;
    assert_eq!(sessions["meta"]["count"], 0);
    let (_, errors) = t
        .get(&mallory, &format!("/api/errors?session_id={session}"))
        .await;
    assert_eq!(errors["meta"]["count"], 0);
    let (_, sessions) = t.get(&alice, "/api/sessions").await;
    assert_eq!(sessions["sessions"][0]["session_id"], session.as_str());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_sealed_on_disk_and_bad_ones_refused() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let (_, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    let (status, body) = t
        .post(&key, "/api/session/credentials", json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": "not-a-token" } }))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("HubSpot"),
        "{body}"
    );
    assert_eq!(
        t.get(
            &key,
            &format!("/api/session/configuration?session_id={session}")
        )
        .await
        .0,
        409
    );

    let token = t.sim.control().issue_access_token();
    let (status, body) = t
        .post(&key, "/api/session/credentials", json!({ "session_id": session, "provider": "hubspot", "credentials": { "access_token": token } }))
        .await;
    assert_eq!(status, 200, "{body}");
    let data = t.data.path().to_owned();
    t.stop().await;
    let mut files = vec![data];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{} holds the token in clear",
                path.display()
            );
        }
    }
    assert!(scanned > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_refuses_without_the_admin_key() {
    let mut t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let admin: Vec<_> = switchyard::api::endpoints()
        .into_iter()
        .filter(|(e, _)| e.access == switchyard::api::Access::Admin)
        .map(|(e, _)| (e.method, e.path.replace(['{', '}'], "")))
        .collect();
    assert!(admin.len() >= 6, "{admin:?}");
    for (method, path) in &admin {
        for presented in [None, Some("sy_admin_wrong"), Some(key.as_str())] {
            let (status, body) = t.call(method, path, presented, Some(json!({}))).await;
            assert_eq!(status, 401, "{method} {path} with {presented:?}: {body}");
        }
        let (status, _) = t.call(method, path, Some(ADMIN_KEY), None).await;
        assert_ne!(status, 401, "{method} {path} with the admin key");
    }
    t.stop().await;
}
