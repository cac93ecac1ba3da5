//! Sandbox mode as a newcomer meets it: every provider simulated in the
//! host, listed as "<Provider> (sandbox)", connected with the static token
//! `sandbox`, pulled and pushed to through the API, and called directly
//! through the passthrough proxy.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use switchyard::server::{self, HostConfig};
use switchyard_simulators::Provider;

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

/// A host in sandbox mode with the four connectors, and an account's key.
struct Sandboxed {
    host: server::RunningHost,
    sandbox: switchyard::sandbox::Sandbox,
    url: String,
    http: reqwest::Client,
    key: String,
    _data: tempfile::TempDir,
}

impl Sandboxed {
    async fn start() -> Sandboxed {
        let data = tempfile::tempdir().unwrap();
        tokio::task::block_in_place(|| build_connectors(&data.path().join("connectors")));
        let mut config = HostConfig::new("127.0.0.1:0".parse().unwrap(), data.path().to_owned());
        config.admin_key = Some(ADMIN_KEY.into());
        let sandbox = switchyard::sandbox::start(&mut config).await.unwrap();
        let host = server::start(config).await.unwrap();
        let mut s = Sandboxed {
            url: host.url(),
            host,
            sandbox,
            http: reqwest::Client::new(),
            key: String::new(),
            _data: data,
        };
        let answer = s
            .call(
                "POST",
                "/api/admin/keys",
                ADMIN_KEY,
                Some(json!({ "account": "newcomer" })),
            )
            .await;
        s.key = answer["api_key"].as_str().unwrap().to_owned();
        s
    }

    /// A call that must succeed; its JSON answer.
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Value {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status}: {body}");
        body
    }

    /// A call with the account's key.
    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, path, &self.key, body).await
    }

    /// A session initiated with `options` and connected to `provider` with
    /// the sandbox token.
    async fn session(&self, provider: &str, options: Value) -> String {
        let session = self
            .api("POST", "/api/session/initiate", Some(options))
            .await["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.api("POST", "/api/session/credentials", Some(json!({ "session_id": session, "provider": provider, "credentials": { "access_token": "sandbox" } }))).await;
        session
    }

    /// Every record a synchronous pull of `endgrate_type` returns.
    async fn pull(&self, session: &str, endgrate_type: &str, extra: Value) -> Vec<Value> {
        let mut body =
            json!({ "session_id": session, "endgrate_type": endgrate_type, "synchronous": true });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let pull = self.api("POST", "/api/pull/transfer", Some(body)).await;
        let transfer = pull["transfer_id"].as_str().unwrap().to_owned();
        let mut rows = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .api(
                    "GET",
                    &format!("/api/pull/data?endgrate_type={endgrate_type}&transfer_id={transfer}&offset={offset}&limit=500"),
                    None,
                )
                .await;
            let got = page["transfer_data"].as_array().unwrap().clone();
            offset += got.len();
            rows.extend(got);
            if page["meta"].get("next").is_none() {
                return rows;
            }
        }
    }

    fn simulator(&self, provider: Provider) -> &switchyard_simulators::Simulator {
        self.sandbox
            .simulators
            .iter()
            .find(|sim| sim.provider() == provider)
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sandbox_provider_pulls_and_pushes_with_the_sandbox_token() {
    let s = Sandboxed::start().await;
    let realm = s
        .simulator(Provider::QuickBooks)
        .control()
        .realm_id()
        .to_owned();
    let key = s.key.clone();

    let listed = s.call("GET", "/api/integrations", "", None).await;
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
        let session = s
            .call(
                "POST",
                "/api/session/initiate",
                &key,
                Some(json!({ "category": category })),
            )
            .await["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.call("POST", "/api/session/credentials", &key, Some(json!({ "session_id": session, "provider": provider, "credentials": { "access_token": "sandbox" } }))).await;
        let pull = s.call(
            "POST",
            "/api/pull/transfer",
            &key,
            Some(json!({ "session_id": session, "endgrate_type": pull_type, "synchronous": true })),
        )
        .await;
        let pull = pull["transfer_id"].as_str().unwrap();
        let data = s
            .call(
                "GET",
                &format!("/api/pull/data?endgrate_type={pull_type}&transfer_id={pull}"),
                &key,
                None,
            )
            .await;
        assert_eq!(data["meta"]["count"], 1000, "{provider}");
        assert_eq!(data["transfer_errors"], false, "{provider}");
        let push = s.call("POST", "/api/push/transfer", &key, Some(json!({ "session_id": session, "endgrate_type": push_type, "transfer_data": [item], "synchronous": true }))).await;
        let push = push["transfer_id"].as_str().unwrap();
        let results = s
            .call(
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
        let answer = s
            .call("GET", &format!("/api/proxy/{session}/{read}"), &key, None)
            .await;
        assert_eq!(
            answer
                .pointer(listed_at)
                .and_then(Value::as_array)
                .map(Vec::len),
            Some(2),
            "{provider}: {answer}"
        );
        let answer = s
            .call(
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
    s.host.shutdown().await.unwrap();
}

/// Provider-native data through the API only, as an app developer tries it
/// in sandbox mode: HubSpot's custom contact properties as passthrough
/// fields, Salesforce's custom object `Project__c` as a passthrough schema,
/// and each provider's own record beside the common one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_native_data_through_the_api_in_sandbox_mode() {
    let s = Sandboxed::start().await;

    // HubSpot: the custom contact properties, listed and pulled.
    let session = s
        .session(
            "hubspot",
            json!({ "schema": [{ "endgrate_type": "crm-contact" }], "passthrough_fields": true }),
        )
        .await;
    let config = s
        .api(
            "GET",
            &format!("/api/session/configuration?session_id={session}"),
            None,
        )
        .await;
    let fields = &config["schemas"]["crm-contact"]["passthrough_fields"]["properties"];
    for custom in ["favorite_color", "loyalty_points", "newsletter_opt_in"] {
        assert!(fields.get(custom).is_some(), "{custom}: {config}");
    }
    let rows = s
        .pull(
            &session,
            "crm-contact",
            json!({ "include_remote_data": true }),
        )
        .await;
    assert_eq!(rows.len(), 1000);
    let hubspot = s.simulator(Provider::HubSpot).control();
    for row in rows.iter().step_by(97) {
        let id = row["id"].as_str().unwrap();
        let held = hubspot.record("contacts", id).unwrap();
        assert_eq!(
            row["data"]["favorite_color"], held["properties"]["favorite_color"],
            "{row}"
        );
        // The provider's record, as HubSpot returned it.
        assert_eq!(row["remote_data"]["id"], id, "{row}");
        assert_eq!(
            row["remote_data"]["properties"]["email"], held["properties"]["email"],
            "{row}"
        );
    }

    // Salesforce: the custom object, offered and pulled by its name.
    let session = s
        .session(
            "salesforce",
            json!({ "schema": [{ "endgrate_type": "crm-contact" }], "passthrough_schemas": true, "schema_selection": true }),
        )
        .await;
    let config = s
        .api(
            "GET",
            &format!("/api/session/configuration?session_id={session}"),
            None,
        )
        .await;
    let project = &config["passthrough_schemas"]["Project__c"];
    assert_eq!(project["schema"]["title"], "Project", "{config}");
    assert_eq!(
        project["schema"]["properties"]["Budget__c"]["type"], "number",
        "{config}"
    );
    let rows = s.pull(&session, "Project__c", json!({})).await;
    let held = s
        .simulator(Provider::Salesforce)
        .control()
        .records("projects")
        .unwrap();
    assert_eq!(rows.len(), held.len());
    let by_id: std::collections::HashMap<&str, &Value> = held
        .iter()
        .map(|r| (r["Id"].as_str().unwrap(), r))
        .collect();
    for row in &rows {
        let raw = by_id[row["id"].as_str().unwrap()];
        for field in ["Name", "Project_Code__c", "Budget__c", "Status__c"] {
            assert_eq!(row["data"][field], raw[field], "{field}: {row}");
        }
    }
    s.host.shutdown().await.unwrap();
}

/// The check of observability, as an operator makes it: a sandbox
/// pull of each provider shows in `GET /metrics` (its provider requests and
/// records) and in the session's request log (its requests, with statuses
/// and durations, and no secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_pull_shows_in_the_metrics_and_the_request_log() {
    let s = Sandboxed::start().await;
    let metric = |text: &str, line_start: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(line_start))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
            .sum()
    };
    let scrape = || async {
        s.http
            .get(format!("{}/metrics", s.url))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    for (provider, sim, endgrate_type) in [
        ("hubspot", Provider::HubSpot, "crm-contact"),
        ("salesforce", Provider::Salesforce, "crm-contact"),
        ("pipedrive", Provider::Pipedrive, "crm-contact"),
        ("quickbooks", Provider::QuickBooks, "accounting-customer"),
    ] {
        let before = scrape().await;
        s.simulator(sim).control().reset_counters();
        let session = s
            .session(
                provider,
                json!({ "schema": [{ "endgrate_type": endgrate_type }] }),
            )
            .await;
        let rows = s.pull(&session, endgrate_type, json!({})).await;
        let received = s.simulator(sim).control().total_requests() as f64;
        let after = scrape().await;
        let moved = |line_start: &str| metric(&after, line_start) - metric(&before, line_start);
        assert_eq!(
            moved(&format!(
                "switchyard_records_total{{provider=\"{provider}\",type=\"{endgrate_type}\",direction=\"pull\"}}"
            )),
            rows.len() as f64,
            "{provider}"
        );
        assert_eq!(
            moved(&format!(
                "switchyard_provider_requests_total{{provider=\"{provider}\""
            )),
            received,
            "{provider}"
        );

        let log = s
            .api(
                "GET",
                &format!("/api/logs?session_id={session}&limit=1000"),
                None,
            )
            .await;
        assert_eq!(
            log["meta"]["count"].as_f64(),
            Some(received),
            "{provider}: {log}"
        );
        for request in log["requests"].as_array().unwrap() {
            assert!(request["status"].is_u64(), "{request}");
            assert!(request["duration_ms"].as_f64().unwrap() >= 0.0);
        }
        assert!(
            !log.to_string().contains("\"sandbox\""),
            "the token is logged"
        );
    }
}
