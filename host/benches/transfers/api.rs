//! A small client of the host's API, as an app would use it.

use std::time::Duration;

use serde_json::{Value, json};

/// The admin key every bench host is started with.
pub const ADMIN_KEY: &str = "sy_admin_bench_0123456789abcdefghijklm";

#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub http: reqwest::Client,
    pub key: String,
}

impl Api {
    /// A client of the host at `url` with a new API key of `account`.
    pub async fn new(url: &str, account: &str) -> Api {
        let mut api = Api {
            url: url.to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(2048)
                .timeout(Duration::from_secs(900))
                .build()
                .expect("an HTTP client"),
            key: ADMIN_KEY.to_owned(),
        };
        let created = api
            .post("/api/admin/keys", json!({ "account": account }))
            .await;
        api.key = created["api_key"].as_str().expect("an api key").to_owned();
        api
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", self.url),
            )
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let bytes = response.bytes().await.expect("a body");
        let value: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call("POST", path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call("GET", path, None).await
    }

    /// A session of `schemas` (endgrate types), connected to `provider`
    /// with a static access token.
    pub async fn session(&self, schemas: &[&str], provider: &str, token: &str) -> String {
        let schema: Vec<Value> = schemas
            .iter()
            .map(|t| json!({ "endgrate_type": t }))
            .collect();
        let session = self
            .post("/api/session/initiate", json!({ "schema": schema }))
            .await["session_id"]
            .as_str()
            .expect("a session id")
            .to_owned();
        self.post(
            "/api/session/credentials",
            json!({ "session_id": session, "provider": provider, "credentials": { "access_token": token } }),
        )
        .await;
        session
    }

    /// Triggers a transfer and waits for it to finish (`synchronous`, then
    /// polling if it outlasts the host's synchronous cap); its id.
    pub async fn transfer(&self, kind: &str, mut body: Value) -> String {
        body["synchronous"] = json!(true);
        let id = self.post(&format!("/api/{kind}/transfer"), body).await["transfer_id"]
            .as_str()
            .expect("a transfer id")
            .to_owned();
        let mut stats = self.statistics(&id).await;
        while stats["status"] == "running" || stats["status"] == "queued" {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stats = self.statistics(&id).await;
        }
        assert_eq!(
            stats["status"], "completed",
            "transfer {id} did not complete: {stats}"
        );
        id
    }

    pub async fn statistics(&self, transfer: &str) -> Value {
        self.get(&format!("/api/statistics?transfer_id={transfer}"))
            .await
    }

    /// Every record of a finished transfer, `limit` a page.
    pub async fn all_data(
        &self,
        kind: &str,
        endgrate_type: &str,
        transfer: &str,
        limit: usize,
    ) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut offset = 0;
        loop {
            let mut page = self
                .get(&format!(
                    "/api/{kind}/data?endgrate_type={endgrate_type}&transfer_id={transfer}&limit={limit}&offset={offset}"
                ))
                .await;
            assert_eq!(
                page["transfer_errors"], false,
                "transfer {transfer} has errors"
            );
            let Value::Array(got) = page["transfer_data"].take() else {
                panic!("no transfer_data in {page}");
            };
            offset += got.len();
            rows.extend(got);
            if page["meta"].get("next").is_none() {
                return rows;
            }
        }
    }
}
