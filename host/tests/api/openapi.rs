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
