//! Behaviour every simulator shares: configurable token lifetimes, injected
//! latency, the control endpoints over HTTP, QuickBooks' in-flight cap and
//! HubSpot's search limit.

mod common;

use std::time::{Duration, Instant};

use common::{client, small, start};
use futures::future::join_all;
use serde_json::{Value, json};
use switchyard_simulators::{Provider, SimConfig};

/// A cheap authenticated API path per provider.
fn probe(provider: Provider, sim: &switchyard_simulators::Simulator) -> String {
    match provider {
        Provider::HubSpot => format!("{}/crm/v3/objects/contacts?limit=1", sim.base_url()),
        Provider::QuickBooks => format!("{}/customer/1?minorversion=75", sim.api_base_url()),
        Provider::Salesforce => format!(
            "{}/services/data/v60.0/query?q=SELECT+Id+FROM+Account+LIMIT+1",
            sim.base_url()
        ),
        Provider::Pipedrive => format!("{}/api/v2/persons?limit=1", sim.base_url()),
    }
}

#[tokio::test]
async fn a_zero_token_lifetime_expires_tokens_at_once_everywhere() {
    for provider in Provider::ALL {
        let config = SimConfig {
            token_lifetime: Some(Duration::ZERO),
            ..small(3, 1)
        };
        let sim = start(provider, config).await;
        let token = sim.control().issue_access_token();
        let resp = client()
            .get(probe(provider, &sim))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 401, "{provider:?}");
        let body: Value = resp.json().await.expect("json");
        let expired = match provider {
            Provider::HubSpot => body["category"] == "EXPIRED_AUTHENTICATION",
            Provider::QuickBooks => body["fault"]["error"][0]["code"] == "3200",
            Provider::Salesforce => body[0]["errorCode"] == "INVALID_SESSION_ID",
            Provider::Pipedrive => body["errorCode"] == 401,
        };
        assert!(expired, "{provider:?}: {body}");
        // Static tokens are unaffected.
        let resp = client()
            .get(probe(provider, &sim))
            .bearer_auth("static-token")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200, "{provider:?}");
    }
}

#[tokio::test]
async fn control_endpoints_over_http() {
    let sim = start(Provider::Pipedrive, small(4, 1)).await;
    let base = sim.base_url();
    let http = client();
    let token: Value = http
        .post(format!("{base}/_sim/tokens"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("token").to_string();
    let url = probe(Provider::Pipedrive, &sim);
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );

    let resp = http
        .post(format!("{base}/_sim/tokens/expire"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        401
    );

    let resp = http
        .post(format!("{base}/_sim/rate-limit"))
        .json(&json!({"enabled": true, "max": 1, "window_ms": 60_000}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        http.get(&url)
            .bearer_auth("static-token")
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth("static-token")
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        429
    );
    let resp = http
        .post(format!("{base}/_sim/rate-limit"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 204);

    let resp = http
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"malformed_next": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 204);
    let resp = http
        .get(&url)
        .bearer_auth("static-token")
        .send()
        .await
        .expect("send");
    assert!(resp.json::<Value>().await.is_err());
    let resp = http
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"no_such_fault": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);

    let seeded = http
        .post(format!("{base}/_sim/records/persons"))
        .json(&json!({"name": "Seeded Person", "emails": [{"value": "seed@x.example"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(seeded.status().as_u16(), 201);
    let record: Value = http
        .get(format!("{base}/_sim/records/persons/5"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(record["name"], "Seeded Person");
    let counters: Value = http
        .get(format!("{base}/_sim/counters"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["records"]["persons"], 5);
    // 200, 401 (expired), 200, 429, malformed 200.
    assert_eq!(counters["requests"]["GET /api/v2/{kind}"], 5);
    let resp = http
        .delete(format!("{base}/_sim/counters"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(sim.control().total_requests(), 0);
}

#[tokio::test]
async fn injected_latency_delays_responses() {
    let sim = start(Provider::HubSpot, small(2, 1)).await;
    let token = sim.control().issue_access_token();
    sim.control().set_latency(Duration::from_millis(200));
    let started = Instant::now();
    let resp = client()
        .get(probe(Provider::HubSpot, &sim))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn quickbooks_caps_requests_in_flight_at_ten() {
    let sim = start(Provider::QuickBooks, small(3, 1)).await;
    let token = sim.control().issue_access_token();
    // Each request holds its slot for a second, so twelve at once overflow.
    sim.control().set_latency(Duration::from_secs(1));
    let http = client();
    let url = probe(Provider::QuickBooks, &sim);
    let statuses: Vec<u16> = join_all((0..12).map(|_| {
        let req = http.get(&url).bearer_auth(&token);
        async move { req.send().await.expect("send").status().as_u16() }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn hubspot_search_is_limited_to_four_per_second() {
    let sim = start(
        Provider::HubSpot,
        SimConfig {
            rate_limit: true,
            ..small(3, 1)
        },
    )
    .await;
    let token = sim.control().issue_access_token();
    let http = client();
    let url = format!("{}/crm/v3/objects/contacts/search", sim.base_url());
    let bodies: Vec<(u16, Value)> = join_all((0..6).map(|_| {
        let req = http
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"limit": 1}));
        async move {
            let resp = req.send().await.expect("send");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        }
    }))
    .await;
    let throttled: Vec<&Value> = bodies
        .iter()
        .filter(|(s, _)| *s == 429)
        .map(|(_, b)| b)
        .collect();
    assert!(throttled.len() >= 2, "{bodies:?}");
    assert!(throttled.iter().all(|b| b["policyName"] == "SECONDLY"));
}
