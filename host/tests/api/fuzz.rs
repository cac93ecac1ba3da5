//! Hostile input against every endpoint of the OpenAPI document: malformed
//! JSON, wrong types in every field, huge and deeply nested values, odd
//! unicode, ids with path characters. Never a 5xx, never a crash, every
//! refusal a clear error; and the host still serves afterwards.

use serde_json::{Value, json};
use switchyard::http::account_rate::AccountRateConfig;

use crate::harness::{ADMIN_KEY, TestHost, sim_config};

/// Values that are wrong, odd or large in some way.
fn hostile_values() -> Vec<Value> {
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(""),
        json!("x".repeat(100_000)),
        json!([]),
        json!({}),
        json!([1, "two", null]),
        json!({ "a": { "b": { "c": [] } } }),
        json!("../../etc/passwd"),
        json!("a/b?c=d#e"),
        json!("\u{0}\u{1b}[31m\u{202e}"),
        json!("💥𝔘\u{FFFF}"),
        json!([{ "endgrate_type": "crm-contact", "properties": { "x": { "type": "nonsense" } }, "title": "T" }]),
        deep,
    ]
}

const RAW_BODIES: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    "\"text\"",
    "{\"a\":",
    "{\"a\" 1}",
    "\u{0}",
    "{}{}",
    "123456789012345678901234567890",
];
const QUERY_VALUES: &[&str] = &[
    "",
    "-1",
    "99999999999999999999999",
    "..%2F..%2Fetc",
    "%00",
    "a%20b",
    "%F0%9F%92%A5",
    "%7B%7D",
    "0",
    "abc",
];

fn assert_clear(method: &str, path: &str, sent: &str, status: u16, body: &Value) {
    assert!(status < 500, "{method} {path} with {sent}: {status} {body}");
    if status >= 400 && path.starts_with("/api/") {
        assert_eq!(
            body["success"], false,
            "{method} {path} with {sent}: {body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path} with {sent}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_makes_the_host_fail() {
    let mut t = TestHost::start_with(sim_config(5, 2), |c| {
        // This test is about input, not about the rate it is sent at (its
        // hundreds of requests would otherwise meet 429s, not the checks).
        c.account_rate = AccountRateConfig::unlimited();
    })
    .await;
    let key = t.key("fuzz").await;
    let session = t.connected_session(&key, json!({})).await;
    let (_, doc) = t.call("GET", "/api/openapi.json", None, None).await;
    let mut requests = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let auth = if path.contains("/admin/") {
                ADMIN_KEY
            } else {
                key.as_str()
            };
            let concrete = path.replace(['{', '}'], "");
            // Path parameters with path characters.
            if path.contains('{') {
                for id in [
                    "..%2F..%2Fetc",
                    "%00",
                    "x".repeat(5000).as_str(),
                    "%F0%9F%92%A5",
                ] {
                    let p = path.split('{').next().unwrap().to_owned()
                        + id
                        + path.split('}').nth(1).unwrap_or("");
                    let (status, body) = t.call(&method, &p, Some(auth), None).await;
                    assert_clear(&method, &p, id, status, &body);
                    requests += 1;
                }
            }
            // Query parameters.
            for param in op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
            {
                let name = param["name"].as_str().unwrap();
                for value in QUERY_VALUES {
                    let p = format!("{concrete}?{name}={value}&session_id={session}");
                    let (status, body) = t.call(&method, &p, Some(auth), None).await;
                    assert_clear(&method, &p, value, status, &body);
                    requests += 1;
                }
            }
            let Some(fields) =
                op["requestBody"]["content"]["application/json"]["schema"]["properties"]
                    .as_object()
            else {
                continue;
            };
            // Raw bodies that are not what was asked for.
            for raw in RAW_BODIES {
                let response = t
                    .http
                    .request(method.parse().unwrap(), format!("{}{concrete}", t.url))
                    .bearer_auth(auth)
                    .header("content-type", "application/json")
                    .body(raw.to_string())
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let body =
                    serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
                assert_clear(&method, &concrete, raw, status, &body);
                requests += 1;
            }
            // Every field, one hostile value at a time, the others plausible.
            for field in fields.keys() {
                for value in hostile_values() {
                    let mut body = json!({ "session_id": session, "endgrate_type": "crm-contact", "provider": "hubspot", "account": "fuzz" });
                    body[field] = value.clone();
                    let (status, answer) = t.call(&method, &concrete, Some(auth), Some(body)).await;
                    let shown: String = value.to_string().chars().take(60).collect();
                    assert_clear(
                        &method,
                        &concrete,
                        &format!("{field} = {shown}"),
                        status,
                        &answer,
                    );
                    requests += 1;
                }
            }
        }
    }
    assert!(requests > 500, "only {requests} requests were made");
    let (status, _) = t.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    let transfer = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-contact", &transfer)
            .await
            .len(),
        5,
        "still serving correctly"
    );
    t.stop().await;
}
