//! Bad input gets a clear error naming the field, and changes nothing.

use serde_json::{Value, json};

use crate::harness::{TestHost, sim_config};

fn names(body: &Value, field: &str) -> bool {
    body["errors"].get(field).is_some()
        && body["message"]
            .as_str()
            .is_some_and(|m| m.contains(field.split(['.', '[']).next().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_names_its_field() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let cases = [
        (
            "/api/session/initiate",
            json!({ "schema": [{ "endgrate_type": "crm-sandwich" }] }),
            400,
            "schema[0].endgrate_type",
        ),
        (
            "/api/session/initiate",
            json!({ "schema": "crm-contact" }),
            400,
            "schema",
        ),
        (
            "/api/session/initiate",
            json!({ "schema": [{ "properties": {} }] }),
            400,
            "schema[0].title",
        ),
        (
            "/api/session/initiate",
            json!({ "save_session": "yes" }),
            400,
            "save_session",
        ),
        (
            "/api/session/initiate",
            json!({ "category": "astrology" }),
            400,
            "category",
        ),
        (
            "/api/session/initiate",
            json!({ "redirect_url": "not a url" }),
            400,
            "redirect_url",
        ),
        (
            "/api/session/initiate",
            json!({ "data_webhook": { "metadata": {} } }),
            400,
            "data_webhook.endpoint",
        ),
        (
            "/api/session/initiate",
            json!({ "provider": "myspace" }),
            400,
            "provider",
        ),
        (
            "/api/pull/transfer",
            json!({ "endgrate_type": "crm-contact" }),
            400,
            "session_id",
        ),
        (
            "/api/session/delete",
            json!({ "session_id": 7 }),
            400,
            "session_id",
        ),
    ];
    for (path, body, status, field) in cases {
        let (got, answer) = t.post(&key, path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert_eq!(answer["success"], false);
        assert!(
            names(&answer, field),
            "{path} {body} should name {field}: {answer}"
        );
    }

    let (_, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    let session_cases = [
        (
            "/api/pull/transfer",
            json!({ "session_id": session }),
            400,
            "endgrate_type",
        ),
        (
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-company" }),
            422,
            "endgrate_type",
        ),
        (
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "params": { "shoe_size": 9 } }),
            400,
            "params.shoe_size",
        ),
        (
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "params": { "updated_at__range": [1] } }),
            400,
            "params.updated_at__range",
        ),
        (
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
            400,
            "transfer_data",
        ),
        (
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": {} }),
            400,
            "transfer_data",
        ),
        (
            "/api/session/credentials",
            json!({ "session_id": session, "provider": "hubspot" }),
            400,
            "credentials",
        ),
        (
            "/api/schemas",
            json!({ "session_id": session, "data": [{ "endgrate_type": "crm-deal", "associations": true }] }),
            422,
            "data[0].endgrate_type",
        ),
    ];
    for (path, body, status, field) in session_cases {
        let (got, answer) = t.post(&key, path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert!(
            names(&answer, field),
            "{path} {body} should name {field}: {answer}"
        );
    }
    let (status, answer) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(
        (status, answer["message"].as_str()),
        (409, Some("Session not yet configured."))
    );
    let (status, answer) = t
        .get(
            &key,
            "/api/session/configuration?session_id=../../etc/passwd",
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = t
        .get(&key, "/api/pull/data?endgrate_type=crm-contact")
        .await;
    assert_eq!(status, 400);
    assert!(names(&answer, "transfer_id"), "{answer}");

    // Malformed and oversized bodies.
    let response = t
        .http
        .post(format!("{}/api/session/initiate", t.url))
        .bearer_auth(&key)
        .body("{\"schema\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{answer}"
    );
    let huge = vec![b' '; (8 << 20) + 1];
    let response = t
        .http
        .post(format!("{}/api/push/transfer", t.url))
        .bearer_auth(&key)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["message"].as_str().unwrap().contains("8388608"),
        "{answer}"
    );

    // Nothing was created by any of it.
    let (_, sessions) = t.get(&key, "/api/sessions").await;
    assert_eq!(sessions["meta"]["count"], 1);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_refused_until_the_transfer_completes() {
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
    // Unconfigured: the transfer waits in the queue.
    let (_, answer) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let transfer = answer["transfer_id"].as_str().unwrap().to_owned();
    let (status, answer) = t
        .get(
            &key,
            &format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={transfer}"),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("not completed")
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_url_with_control_characters_is_refused_and_others_are_kept_normalised() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    for bad in [
        "https://app.example/done\n",
        "https://app.example/done\r\nSet-Cookie: session=evil",
        "https://app.example/\tdone",
        "https://app.example/done\u{7f}",
        "https://app.example/done\u{85}",
    ] {
        let (status, body) = t
            .post(
                &key,
                "/api/session/initiate",
                json!({ "provider": "hubspot", "redirect_url": bad }),
            )
            .await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        let message = body["errors"]["redirect_url"].as_str().unwrap_or_default();
        assert!(message.contains("control characters"), "{bad:?}: {body}");
    }

    // A URL the parser normalises is stored and used as normalised.
    let (status, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "schema": [{ "endgrate_type": "crm-contact" }], "provider": "hubspot",
                    "redirect_url": "HTTPS://App.Example:443/done?next=a b" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let session = answer["session_id"].as_str().unwrap().to_owned();
    let normalised = "https://app.example/done?next=a%20b";
    let (_, detail) = t.get(&key, &format!("/api/sessions/{session}")).await;
    assert_eq!(
        detail.to_string().matches(normalised).count(),
        1,
        "{detail}"
    );

    let location = |r: &reqwest::Response| r.headers()["location"].to_str().unwrap().to_owned();
    let start = format!(
        "{}/session/start?session_id={session}&provider=hubspot",
        t.url
    );
    let to_provider = t.http.get(start).send().await.unwrap();
    let consent = t
        .http
        .get(format!("{}&auto_approve=true", location(&to_provider)))
        .send()
        .await
        .unwrap();
    let back = t.http.get(location(&consent)).send().await.unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(location(&back), normalised);
    t.stop().await;
}

/// An API-key provider's credentials: the secret comes as `api_key` (or
/// under its form field's own name); a missing one, or a missing non-secret
/// form field, is refused naming the field and what the form calls it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_credentials_name_the_providers_form_fields() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let keyed = tokio::task::block_in_place(|| crate::harness::component("keyed"));
    std::fs::copy(keyed, t.data.path().join("connectors/keyed.wasm")).unwrap();
    crate::harness::eventually(
        std::time::Duration::from_secs(30),
        "keyed to hot-load",
        || async {
            t.call("GET", "/api/integrations?provider=keyed", None, None)
                .await
                .1["providers"]
                .as_array()
                .is_some_and(|p| p.len() == 1)
        },
    )
    .await;
    let key = t.key("acme").await;
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }] }),
        )
        .await;
    let attach = |credentials: serde_json::Value| json!({ "session_id": session, "provider": "keyed", "credentials": credentials });

    let (status, answer) = t
        .post(
            &key,
            "/api/session/credentials",
            attach(json!({ "subdomain": "acme" })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["errors"]["credentials"].as_str().unwrap();
    assert!(
        message.contains("`api_key`") && message.contains("\"API key\""),
        "{message}"
    );

    let (status, answer) = t
        .post(
            &key,
            "/api/session/credentials",
            attach(json!({ "api_key": "k" })),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["errors"]["credentials.subdomain"].as_str().unwrap();
    assert!(message.contains("Account subdomain"), "{message}");
}
