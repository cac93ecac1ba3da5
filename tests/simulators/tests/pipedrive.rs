//! The Pipedrive simulator through real HTTP: v2 cursor paging,
//! updated_since, writes and their errors, search, deletes, API tokens,
//! OAuth with api_domain, the burst limit and its headers.

mod common;

use std::time::Duration;

use common::{client, location_params, param, small, start};
use serde_json::{Value, json};
use switchyard_simulators::{Provider, RateLimit, SimConfig, Simulator};

async fn call(
    sim: &Simulator,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", sim.base_url()))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn cursor_paging_and_person_shape() {
    let sim = start(Provider::Pipedrive, small(250, 10)).await;
    let token = sim.control().issue_access_token();
    let mut path = "/api/v2/persons?limit=100".to_string();
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = call(&sim, &token, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["success"], true);
        pages += 1;
        for p in body["data"].as_array().expect("data") {
            ids.push(p["id"].as_u64().expect("numeric id"));
            assert_eq!(p["emails"][0]["primary"], true);
            assert!(
                p["emails"][0]["value"]
                    .as_str()
                    .is_some_and(|e| e.contains('@'))
            );
            assert!(
                p["update_time"]
                    .as_str()
                    .is_some_and(|t| t.ends_with('Z') && t.len() == 20)
            );
            assert!(
                p["org_id"].is_null()
                    || p["org_id"].as_u64().is_some_and(|o| (1..=10).contains(&o))
            );
        }
        match body["additional_data"]["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v2/persons?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, (1..=250).collect::<Vec<u64>>());

    let (_, orgs) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        "/api/v2/organizations?limit=500",
        None,
    )
    .await;
    let orgs = orgs["data"].as_array().expect("data").clone();
    assert_eq!(orgs.len(), 10);
    assert!(
        orgs.iter()
            .all(|o| o.get("website").is_none() && o.get("domain").is_none())
    );
    assert!(orgs[0]["address"]["locality"].is_string());

    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        "/api/v2/persons?limit=501",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["success"], false);
    assert_eq!(err["errorCode"], 400);
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        "/api/v2/persons?cursor=%25%25%25",
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn updated_since_in_update_order_with_cursors() {
    let sim = start(Provider::Pipedrive, small(50, 5)).await;
    let token = sim.control().issue_access_token();
    let cutoff = sim.control().contacts()[49]["update_time"]
        .as_str()
        .expect("time")
        .to_string();
    for id in [30, 4] {
        let (status, body) = call(
            &sim,
            &token,
            reqwest::Method::PATCH,
            &format!("/api/v2/persons/{id}"),
            Some(json!({"phones": [{"value": "+1 555 0000", "label": "mobile"}]})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["phones"][0]["primary"], true);
    }
    let mut path = format!(
        "/api/v2/persons?updated_since={}&sort_by=update_time&sort_direction=asc&limit=1",
        cutoff.replace(':', "%3A")
    );
    let mut ids = Vec::new();
    loop {
        let (status, body) = call(&sim, &token, reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        ids.extend(
            body["data"]
                .as_array()
                .expect("data")
                .iter()
                .filter_map(|p| p["id"].as_u64()),
        );
        match body["additional_data"]["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v2/persons?sort_by=update_time&limit=1&cursor={c}"),
            None => break,
        }
    }
    // Person 50 was last modified at the cutoff itself (">= since").
    assert_eq!(ids, [50, 30, 4]);
}

#[tokio::test]
async fn writes_search_and_deletes() {
    let sim = start(Provider::Pipedrive, small(5, 2)).await;
    let token = sim.control().issue_access_token();
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        "/api/v2/persons",
        Some(json!({"emails": [{"value": "x@y.example"}]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["success"], false);
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        "/api/v2/persons",
        Some(json!({"name": "Orphan", "org_id": 99})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        "/api/v2/persons",
        Some(json!({"name": "X", "website": "nope"})),
    )
    .await;
    assert_eq!(status, 400);

    let (status, created) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        "/api/v2/persons",
        Some(json!({"name": "Linus Torvalds", "org_id": 2, "emails": [{"value": "Linus@Kernel.example", "primary": true, "label": "work"}]})),
    )
    .await;
    assert_eq!(status, 200);
    let person = &created["data"];
    assert_eq!(person["id"], 6);
    assert_eq!(person["first_name"], "Linus");
    assert_eq!(person["org_id"], 2);

    let (_, found) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        "/api/v2/persons/search?term=linus%40kernel.example&fields=email&exact_match=true",
        None,
    )
    .await;
    assert_eq!(found["data"]["items"][0]["item"]["id"], 6);
    assert_eq!(found["data"]["items"][0]["item"]["organization"]["id"], 2);

    let (status, deleted) = call(
        &sim,
        &token,
        reqwest::Method::DELETE,
        "/api/v2/persons/6",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["data"]["id"], 6);
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        "/api/v2/persons/6",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"], "Person not found");
    let (_, found) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        "/api/v2/persons/search?term=linus%40kernel.example&fields=email&exact_match=true",
        None,
    )
    .await;
    assert_eq!(found["data"]["items"], json!([]));
    assert_eq!(sim.control().records_held()["persons"], 5);
    assert_eq!(
        sim.control().record("persons", "6").expect("tombstone")["is_deleted"],
        true
    );
}

#[tokio::test]
async fn api_tokens_and_oauth_with_api_domain() {
    let sim = start(Provider::Pipedrive, small(3, 1)).await;
    let http = client();
    let url = format!("{}/api/v2/persons", sim.base_url());
    assert_eq!(
        http.get(&url)
            .header("x-api-token", "static-token")
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        http.get(format!("{url}?api_token=static-token"))
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    let resp = http
        .get(&url)
        .header("x-api-token", "wrong")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.json::<Value>().await.expect("json")["errorCode"], 401);

    let redirect = "http://127.0.0.1:1/cb";
    let resp = http
        .get(sim.authorize_url())
        .query(&[
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("state", "p"),
            ("auto_approve", "true"),
        ])
        .send()
        .await
        .expect("authorize");
    let code = param(&location_params(&resp), "code").expect("code");
    let tokens: Value = http
        .post(sim.token_url())
        .basic_auth("switchyard-client", Some("switchyard-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(tokens["api_domain"], sim.base_url().as_str());
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().expect("access").to_string();
    assert_eq!(
        http.get(&url)
            .bearer_auth(&access)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    sim.control().expire_tokens();
    assert_eq!(
        http.get(&url)
            .bearer_auth(&access)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        401
    );
    let refreshed: Value = http
        .post(sim.token_url())
        .basic_auth("switchyard-client", Some("switchyard-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("rt"),
            ),
        ])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let new_access = refreshed["access_token"].as_str().expect("access");
    assert_eq!(
        http.get(&url)
            .bearer_auth(new_access)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn burst_limit_headers_and_429() {
    let config = SimConfig {
        rate_limit: true,
        rate_limit_policy: Some(RateLimit {
            max: 2,
            window: Duration::from_secs(60),
        }),
        ..small(3, 1)
    };
    let sim = start(Provider::Pipedrive, config).await;
    let url = format!("{}/api/v2/organizations", sim.base_url());
    let first = client()
        .get(&url)
        .header("x-api-token", "static-token")
        .send()
        .await
        .expect("send");
    assert_eq!(first.headers()["x-ratelimit-limit"], "2");
    assert_eq!(first.headers()["x-ratelimit-remaining"], "1");
    assert!(
        first.headers()["x-ratelimit-reset"]
            .to_str()
            .is_ok_and(|s| s.parse::<u64>().is_ok_and(|r| r <= 60))
    );
    let _second = client()
        .get(&url)
        .header("x-api-token", "static-token")
        .send()
        .await
        .expect("send");
    let third = client()
        .get(&url)
        .header("x-api-token", "static-token")
        .send()
        .await
        .expect("send");
    assert_eq!(third.status().as_u16(), 429);
    assert_eq!(third.headers()["x-ratelimit-remaining"], "0");
    let body: Value = third.json().await.expect("json");
    assert_eq!(body["error"], "Rate limit exceeded");
    assert_eq!(body["errorCode"], 429);
}
