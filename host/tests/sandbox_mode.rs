//! Sandbox mode as a newcomer meets it: every provider simulated in the
//! host, listed as "<Provider> (sandbox)", connected with the static token
//! `sandbox`, pulled and pushed to through the API, and called directly
//! through the passthrough proxy.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use switchyard::server::{self, HostConfig};

const ADMIN_KEY: &str = "sy_admin_sandbox_0123456789abcdefghijk";
const CONNECTORS: [&str; 4] = ["hubspot", "quickbooks", "salesforce", "pipedrive"];

fn build_connectors(into: &Path) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connectors");
    let target = dir.join("target");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&dir)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target);
    for c in CONNECTORS {
        cmd.args(["-p", c]);
    }
    assert!(
        cmd.status().unwrap().success(),
        "building the connectors failed"
    );
    std::fs::create_dir_all(into).unwrap();
    for c in CONNECTORS {
        std::fs::copy(
            target.join(format!("wasm32-wasip2/release/{c}.wasm")),
            into.join(format!("{c}.wasm")),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sandbox_provider_pulls_and_pushes_with_the_sandbox_token() {
    let data = tempfile::tempdir().unwrap();
    tokio::task::block_in_place(|| build_connectors(&data.path().join("connectors")));
    let mut config = HostConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_owned());
    config.admin_key = Some(ADMIN_KEY.into());
    let sandbox = switchyard::sandbox::start(&mut config).await.unwrap();
    let realm = sandbox
        .simulators
        .iter()
        .find(|sim| sim.provider() == switchyard_simulators::Provider::QuickBooks)
        .map(|sim| sim.control().realm_id().to_owned())
        .unwrap();
    let host = server::start(config).await.unwrap();
    let url = host.url();
    let http = reqwest::Client::new();
    let call = |method: &str, path: &str, key: &str, body: Option<Value>| {
        let mut r = http
            .request(method.parse().unwrap(), format!("{url}{path}"))
            .bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let response = r.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert!(status.is_success(), "{status}: {body}");
            body
        }
    };

    let listed = call("GET", "/api/integrations", "", None).await;
    let mut names: Vec<&str> = listed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"]["display_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "HubSpot (sandbox)",
            "Pipedrive (sandbox)",
            "QuickBooks Online (sandbox)",
            "Salesforce (sandbox)"
        ]
    );

    let key = call(
        "POST",
        "/api/admin/keys",
        ADMIN_KEY,
        Some(json!({ "account": "newcomer" })),
    )
    .await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for (provider, pull_type, push_type, item) in [
        (
            "hubspot",
            "crm-contact",
            "crm-company",
            json!({ "data": { "company_name": "Endgrate", "website": "https://endgrate.com" } }),
        ),
        (
            "salesforce",
            "crm-contact",
            "crm-company",
            json!({ "data": { "company_name": "Endgrate", "website": "https://endgrate.com" } }),
        ),
        (
            "pipedrive",
            "crm-contact",
            "crm-company",
            json!({ "data": { "company_name": "Endgrate" } }),
        ),
        (
            "quickbooks",
            "accounting-customer",
            "accounting-customer",
            json!({ "data": { "customer_name": "Endgrate Inc" } }),
        ),
    ] {
        let category = pull_type.split('-').next().unwrap();
        let session = call(
            "POST",
            "/api/session/initiate",
            &key,
            Some(json!({ "category": category })),
        )
        .await["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        call("POST", "/api/session/credentials", &key, Some(json!({ "session_id": session, "provider": provider, "credentials": { "access_token": "sandbox" } }))).await;
        let pull = call(
            "POST",
            "/api/pull/transfer",
            &key,
            Some(json!({ "session_id": session, "endgrate_type": pull_type, "synchronous": true })),
        )
        .await;
        let pull = pull["transfer_id"].as_str().unwrap();
        let data = call(
            "GET",
            &format!("/api/pull/data?endgrate_type={pull_type}&transfer_id={pull}"),
            &key,
            None,
        )
        .await;
        assert_eq!(data["meta"]["count"], 1000, "{provider}");
        assert_eq!(data["transfer_errors"], false, "{provider}");
        let push = call("POST", "/api/push/transfer", &key, Some(json!({ "session_id": session, "endgrate_type": push_type, "transfer_data": [item], "synchronous": true }))).await;
        let push = push["transfer_id"].as_str().unwrap();
        let results = call(
            "GET",
            &format!("/api/push/data?endgrate_type={push_type}&transfer_id={push}"),
            &key,
            None,
        )
        .await;
        let result = &results["transfer_data"][0];
        assert!(
            result["id"].is_string() && result.get("error").is_none(),
            "{provider}: {result}"
        );

        // The passthrough proxy: a provider read and a provider write, with
        // the session's credential attached by the host.
        let (read, listed_at, write, created, new_id_at) = match provider {
            "hubspot" => (
                "crm/v3/objects/contacts?limit=2".to_owned(),
                "/results",
                "crm/v3/objects/companies".to_owned(),
                json!({ "properties": { "name": "Proxied" } }),
                "/id",
            ),
            "salesforce" => (
                "services/data/v60.0/query?q=SELECT+Id+FROM+Contact+LIMIT+2".to_owned(),
                "/records",
                "services/data/v60.0/sobjects/Account".to_owned(),
                json!({ "Name": "Proxied" }),
                "/id",
            ),
            "pipedrive" => (
                "api/v2/persons?limit=2".to_owned(),
                "/data",
                "api/v2/organizations".to_owned(),
                json!({ "name": "Proxied" }),
                "/data/id",
            ),
            _ => (
                format!("v3/company/{realm}/query?query=select+*+from+Customer+MAXRESULTS+2"),
                "/QueryResponse/Customer",
                format!("v3/company/{realm}/customer"),
                json!({ "DisplayName": "Proxied" }),
                "/Customer/Id",
            ),
        };
        let answer = call("GET", &format!("/api/proxy/{session}/{read}"), &key, None).await;
        assert_eq!(
            answer
                .pointer(listed_at)
                .and_then(Value::as_array)
                .map(Vec::len),
            Some(2),
            "{provider}: {answer}"
        );
        let answer = call(
            "POST",
            &format!("/api/proxy/{session}/{write}"),
            &key,
            Some(created),
        )
        .await;
        assert!(
            answer.pointer(new_id_at).is_some_and(|id| !id.is_null()),
            "{provider}: the provider's new record in {answer}"
        );
    }
    host.shutdown().await.unwrap();
}
