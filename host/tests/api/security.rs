//! API keys, account isolation, credentials sealed at rest, the admin key's
//! strength, throttled guessing and a private data directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::json;
use switchyard::server::{self, HostConfig};

use crate::harness::{ADMIN_KEY, TestHost, eventually, sim_config};

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
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        // Every route is tried with wrong keys: more than the throttle allows.
        c.sign_in_throttle.max_failures = 1000;
    })
    .await;
    let key = t.key("acme").await;
    let admin: Vec<_> = switchyard::routes::endpoints()
        .into_iter()
        .filter(|(e, _)| e.access == switchyard::routes::Access::Admin)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_admin_key_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let mut config = HostConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_owned());
    config.admin_key = Some("a".into());
    let Err(err) = server::start(config).await else {
        panic!("a host started with a one-character admin key");
    };
    assert!(err.to_string().contains("at least 32"), "{err}");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("SWITCHYARD_ADMIN_KEY", "short-but-not-32-characters")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "SWITCHYARD_ADMIN_KEY or --admin-key) has 27 characters; it must have at least 32"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_from_one_address_are_throttled() {
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        c.sign_in_throttle.max_failures = 3;
        c.sign_in_throttle.window = Duration::from_secs(2);
    })
    .await;
    let key = t.key("acme").await;
    let admin = |key: &str| {
        t.http
            .get(format!("{}/api/admin/keys", t.url))
            .bearer_auth(key)
            .send()
    };

    for _ in 0..3 {
        assert_eq!(admin("sy_admin_guess").await.unwrap().status(), 401);
    }
    // No key at all is not a guess.
    assert_eq!(t.call("GET", "/api/admin/keys", None, None).await.0, 401);
    let refused = admin(ADMIN_KEY).await.unwrap();
    assert_eq!(
        refused.status(),
        429,
        "even the right key, or it would tell"
    );
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After: {wait}");
    // API keys are beyond guessing: a right one passes whatever the address did.
    let (status, body) = t.get(&key, "/api/account").await;
    assert_eq!(status, 200, "{body}");

    eventually(Duration::from_secs(5), "the end of the window", || async {
        admin(ADMIN_KEY).await.unwrap().status() == 200
    })
    .await;
    // Wrong API keys count the same way (the dashboard signs in with one):
    // past the limit they answer 429, while the right key goes on working.
    for _ in 0..3 {
        assert_eq!(t.get("sy_live_guess", "/api/account").await.0, 401);
    }
    assert_eq!(t.get("sy_live_guess", "/api/account").await.0, 429);
    assert_eq!(t.get(&key, "/api/account").await.0, 200);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_the_hosts_users_alone() {
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        // A directory someone left open, with a file anyone may read.
        fs::set_permissions(&c.data_dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(c.data_dir.join("notes.txt"), "x").unwrap();
        fs::set_permissions(
            c.data_dir.join("notes.txt"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    })
    .await;
    let key = t.key("acme").await;
    t.connected_session(&key, json!({})).await;
    let data = t.data.path().to_owned();
    let mode = |p: &std::path::Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(&data),
        0o700,
        "the data directory is {:o}",
        mode(&data)
    );
    let mut pending = vec![data];
    let mut files = 0;
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            files += 1;
        }
        assert_eq!(
            mode(&path) & 0o077,
            0,
            "{} is {:o}",
            path.display(),
            mode(&path)
        );
    }
    assert!(
        files >= 4,
        "the database, the key, a connector and its compilation"
    );
    t.stop().await;
}

/// A request refused before its body is read (no key, a wrong key) closes
/// its connection: the host drops the unread body, and a client that sent
/// its next request down the same connection would find it cut mid-answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_closes_its_connection() {
    let mut t = TestHost::start(sim_config(1, 1)).await;
    let body = vec![0u8; 256 * 1024];
    for (path, key) in [
        ("/api/admin/connectors", None),
        (
            "/api/admin/connectors",
            Some("sy_admin_wrong_0123456789abcdefghijklmnop"),
        ),
        ("/api/pull/transfer", None),
    ] {
        let mut request = t.http.post(format!("{}{path}", t.url)).body(body.clone());
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401, "{path}");
        assert_eq!(
            answer
                .headers()
                .get("connection")
                .map(|v| v.to_str().unwrap()),
            Some("close"),
            "{path}"
        );
    }
    // A bodiless refusal keeps the connection.
    let answer = t
        .http
        .get(format!("{}/api/sessions", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(answer.headers().get("connection").is_none());
    t.stop().await;
}
