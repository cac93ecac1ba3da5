//! The passthrough proxy (`/api/proxy/{session_id}/{path}`): a request
//! reaches the session's provider below its API base with the session's
//! credential attached by the host, the provider's answer comes back as it
//! was, and nothing leaves the API base or crosses accounts.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{TOKEN, TestHost, sim_config};

/// The simulator's own answer to `GET path` with the static token.
async fn direct(t: &TestHost, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", t.sim.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_the_provider_with_the_sessions_credential() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;

    // GET: the provider's own answer, its content type, and no credential.
    let listed = format!("/api/proxy/{session}/crm/v3/objects/contacts?limit=2");
    let (status, answer) = t.call("GET", &listed, Some(&key), None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, direct(&t, "/crm/v3/objects/contacts?limit=2").await);
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(2));
    let raw = t
        .http
        .get(format!("{}{listed}", t.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(
        raw.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(raw.headers().get("authorization").is_none());
    assert!(!raw.text().await.unwrap().contains(TOKEN));

    // POST with a body: the record is created at the provider.
    let created = json!({ "properties": { "email": "proxied@example.com", "firstname": "Pro" } });
    let (status, answer) = t
        .call(
            "POST",
            &format!("/api/proxy/{session}/crm/v3/objects/contacts"),
            Some(&key),
            Some(created),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["id"].as_str().expect("the provider's new id");
    let stored = t.sim.control().record("contacts", id).expect("created");
    assert_eq!(stored["properties"]["email"], "proxied@example.com");

    // PATCH and the provider's own error status, both passed through.
    let (status, answer) = t
        .call(
            "PATCH",
            &format!("/api/proxy/{session}/crm/v3/objects/contacts/{id}"),
            Some(&key),
            Some(json!({ "properties": { "firstname": "Renamed" } })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        t.sim.control().record("contacts", id).unwrap()["properties"]["firstname"],
        "Renamed"
    );
    let (status, answer) = t
        .call(
            "GET",
            &format!("/api/proxy/{session}/crm/v3/objects/contacts/999999999"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    // Each answer has its own correlation id; the rest is the provider's.
    let without_correlation = |mut v: Value| {
        v.as_object_mut().map(|o| o.remove("correlationId"));
        v
    };
    assert_eq!(answer["category"], "OBJECT_NOT_FOUND");
    assert_eq!(
        without_correlation(answer),
        without_correlation(direct(&t, "/crm/v3/objects/contacts/999999999").await),
        "the provider's error body, unchanged"
    );
    t.stop().await;
}

/// `GET path` sent byte for byte (an HTTP client would normalise `..`).
async fn raw_get(t: &TestHost, key: &str, path: &str) -> (u16, String) {
    let address = t.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_out_of_the_api_base_is_refused_before_a_request_leaves() {
    let mut t = TestHost::start(sim_config(2, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    t.sim.control().reset_counters();
    for escape in [
        "../../api/admin/keys",
        "crm/../../../etc/passwd",
        "./crm/v3/objects/contacts",
        "crm/%2e%2e/%2e%2e/secret",
        "crm/%2E%2E/secret",
        "crm%2F..%2F..%2Fsecret",
        "crm%5c..%5csecret",
        "/evil.example/x",
        "https://evil.example/x",
        "https:%2F%2Fevil.example/x",
        "crm/v3//objects",
        "crm/%00/x",
    ] {
        let (status, answer) = raw_get(&t, &key, &format!("/api/proxy/{session}/{escape}")).await;
        assert_eq!(status, 400, "{escape}: {answer}");
        assert!(
            answer.contains("\"path\""),
            "{escape}: the field is named: {answer}"
        );
    }
    assert_eq!(
        t.sim.control().total_requests(),
        0,
        "nothing reached the provider: {:?}",
        t.sim.control().requests()
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_session_is_not_found_and_an_unconnected_one_is_refused() {
    let mut t = TestHost::start(sim_config(2, 1)).await;
    let acme = t.key("acme").await;
    let globex = t.key("globex").await;
    let session = t.connected_session(&acme, json!({})).await;
    let path = format!("/api/proxy/{session}/crm/v3/objects/contacts");
    let (status, answer) = t.call("GET", &path, Some(&globex), None).await;
    assert_eq!(status, 404, "{answer}");
    let (status, _) = t.call("GET", &path, None, None).await;
    assert_eq!(status, 401);

    let unconnected = t.initiate(&acme, json!({ "category": "crm" })).await;
    let (status, answer) = t
        .call(
            "GET",
            &format!("/api/proxy/{unconnected}/crm/v3/objects/contacts"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("connect page"));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed_once_and_the_request_answered() {
    let mut t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session = t.initiate(&key, json!({ "category": "crm" })).await;
    t.sign_in(&format!(
        "/session/start?session_id={session}&provider=hubspot"
    ))
    .await;
    t.sim.control().expire_tokens();
    t.sim.control().reset_counters();
    let (status, answer) = t
        .call(
            "GET",
            &format!("/api/proxy/{session}/crm/v3/objects/contacts?limit=3"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(t.sim.control().request_count("POST /oauth/v1/token"), 1);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_gets_no_answer_is_a_502_in_the_sessions_error_log() {
    let mut t = TestHost::start(sim_config(2, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    // A POST whose answer is cut is not sent again (it may have been applied).
    t.sim.control().cut_next(1);
    let (status, answer) = t
        .call(
            "POST",
            &format!("/api/proxy/{session}/crm/v3/objects/contacts"),
            Some(&key),
            Some(json!({ "properties": { "email": "cut@example.com" } })),
        )
        .await;
    assert_eq!(status, 502, "{answer}");
    let (_, errors) = t
        .get(&key, &format!("/api/errors?session_id={session}"))
        .await;
    assert_eq!(errors["meta"]["count"], 1, "{errors}");
    let message = errors["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("passthrough proxy: "), "{errors}");
    assert!(!errors.to_string().contains(TOKEN));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_requests_share_the_connections_rate_limit_with_its_transfers() {
    use switchyard::runtime::RequestRate;
    use switchyard_simulators::RateLimit;
    // The provider allows 10 requests a second; the host sends this
    // connection 8 a second. Were the proxy paced apart from the running
    // pull, the two together would go past the provider's limit.
    let mut sim = sim_config(1000, 1);
    sim.rate_limit = true;
    sim.rate_limit_policy = Some(RateLimit {
        max: 10,
        window: std::time::Duration::from_secs(1),
    });
    let mut t = TestHost::start_with(sim, |config| {
        if let Some(hubspot) = config.overrides.get_mut("hubspot") {
            hubspot.rate = Some(RequestRate {
                requests: 8,
                window_ms: 1000,
            });
        }
    })
    .await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    t.sim.control().reset_counters();
    let pull = t.transfer(
        &key,
        "/api/pull/transfer",
        json!({ "session_id": session, "endgrate_type": "crm-contact" }),
    );
    let proxied = futures::future::join_all((0..16).map(|i| {
        let (t, key) = (&t, &key);
        let path = format!("/api/proxy/{session}/crm/v3/objects/companies?limit=1&n={i}");
        async move { t.call("GET", &path, Some(key), None).await.0 }
    }));
    let (pull, statuses) = tokio::join!(pull, proxied);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &pull).await.len(),
        1000
    );
    assert_eq!(
        t.sim.control().throttled_count(),
        0,
        "the provider answered 429: {:?}",
        t.sim.control().requests()
    );
    t.stop().await;
}
