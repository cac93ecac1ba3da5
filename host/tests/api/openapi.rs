//! The OpenAPI document covers every route, and every documented route exists.

use crate::harness::{TestHost, sim_config};

/// Every endpoint of `shared/api-reference.md`.
const REFERENCE: &[(&str, &str)] = &[
    ("post", "/api/session/initiate"),
    ("post", "/api/pull/initiate"),
    ("post", "/api/push/initiate"),
    ("get", "/session"),
    ("get", "/session/reauthenticate"),
    ("get", "/api/session/configuration"),
    ("post", "/api/session/delete"),
    ("post", "/api/session/credentials"),
    ("post", "/api/provider-lists"),
    ("get", "/api/provider-lists"),
    ("get", "/api/sessions"),
    ("post", "/api/pull/transfer"),
    ("get", "/api/pull/data"),
    ("post", "/api/push/transfer"),
    ("get", "/api/push/data"),
    ("get", "/api/statistics"),
    ("get", "/api/errors"),
    ("post", "/api/schemas"),
    ("get", "/api/schemas/{endgrate_type}"),
    ("get", "/api/integrations"),
    ("post", "/api/admin/keys"),
    ("delete", "/api/admin/keys/{key_id}"),
    ("get", "/api/admin/connectors"),
    ("post", "/api/admin/connectors"),
    ("delete", "/api/admin/connectors/{id}"),
    ("get", "/healthz"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_served() {
    let mut t = TestHost::start(sim_config(1, 1)).await;
    let (status, doc) = t.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in REFERENCE {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is missing from the OpenAPI document"
        );
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{endgrate_type}", "crm-contact")
                .replace("{key_id}", "x")
                .replace("{id}", "x")
                .replace("{provider}", "x");
            let (status, body) = t.call(&method.to_uppercase(), &concrete, None, None).await;
            let unknown_route = status == 404 && body["message"] == "No such endpoint.";
            assert!(
                !unknown_route && status != 405,
                "{method} {path} is documented but not served ({status})"
            );
            assert!(
                status < 500,
                "{method} {path} answered {status} to an empty request: {body}"
            );
        }
    }
    t.stop().await;
}

/// The user-facing reference (`docs/api-reference.md`) has a section for
/// every route the host serves, and names no route it does not serve.
#[test]
fn every_route_has_a_section_in_the_api_reference() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api-reference.md");
    let text = std::fs::read_to_string(&path).expect("docs/api-reference.md exists");
    let headings: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| line.strip_prefix("### "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            let method = words.next()?;
            let path = words.next()?;
            (method.chars().all(|c| c.is_ascii_uppercase()) && path.starts_with('/'))
                .then(|| (method.to_owned(), path.to_owned()))
        })
        .collect();
    let served: Vec<(String, String)> = switchyard::routes::endpoints()
        .into_iter()
        .map(|(e, _)| (e.method.to_owned(), e.path.to_owned()))
        .collect();
    for route in &served {
        assert!(
            headings.contains(route),
            "docs/api-reference.md has no `### {} {}` section",
            route.0,
            route.1
        );
    }
    for heading in &headings {
        assert!(
            served.contains(heading),
            "docs/api-reference.md documents `{} {}`, which the host does not serve",
            heading.0,
            heading.1
        );
    }
}

/// The endpoint table's access column is what the host enforces: every
/// API-key route refuses a missing key, every admin route refuses an
/// account's key, and no public route asks for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_enforces_the_access_its_table_row_says() {
    use switchyard::routes::Access;
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    for (e, _) in switchyard::routes::endpoints() {
        let path = e
            .path
            .replace("{endgrate_type}", "crm-contact")
            .replace("{session_id}", "x")
            .replace("{key_id}", "x")
            .replace("{id}", "x")
            .replace("{provider}", "hubspot")
            .replace("{file}", "app.css");
        let (anonymous, _) = t.call(e.method, &path, None, None).await;
        let (with_key, _) = t.call(e.method, &path, Some(&key), None).await;
        match e.access {
            Access::ApiKey => {
                assert_eq!(anonymous, 401, "{} {} without a key", e.method, e.path);
                assert_ne!(with_key, 401, "{} {} with a key", e.method, e.path);
            }
            Access::Admin => {
                assert_eq!(anonymous, 401, "{} {} without a key", e.method, e.path);
                assert_eq!(with_key, 401, "{} {} with an API key", e.method, e.path);
            }
            Access::Public | Access::Browser => {
                assert_ne!(anonymous, 401, "{} {} is public", e.method, e.path);
            }
        }
    }
}
