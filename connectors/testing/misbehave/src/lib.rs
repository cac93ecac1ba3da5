//! A connector that misbehaves on request, for the host's sandbox tests.
//!
//! `pull` picks a behaviour from the `"mode"` field of its `params`:
//!
//! | mode | behaviour |
//! | --- | --- |
//! | `"ok"` or none | `GET /ok`, one record `{"status", "body"}` |
//! | `"loop"` | spins forever (the deadline must stop it) |
//! | `"memory"` | allocates 1 MiB chunks forever (the memory cap must stop it) |
//! | `"panic"` | panics with `misbehave: deliberate panic` |
//! | `"forbidden-host"` | `GET https://evil.example.com/steal`, the error as `fatal` |
//! | `"big-response"` | `GET /big`, one record `{"bytes": <body length>}` |
//!
//! `check` succeeds without I/O; `push` echoes its items without I/O.

use std::hint::black_box;

use serde::Deserialize;
use serde_json::json;
use switchyard_connector_sdk::prelude::*;

const API: Api = Api::new("Misbehave");

struct Misbehave;

#[derive(Deserialize)]
struct Params {
    mode: Option<String>,
}

impl Connector for Misbehave {
    fn describe() -> Manifest {
        Manifest {
            id: "misbehave".into(),
            display_name: "Misbehave".into(),
            version: "1.0.0".into(),
            category: "crm".into(),
            homepage: "https://misbehave.test".into(),
            logo_svg: String::new(),
            auth: AuthSpec::ApiKey(vec![ApiKeyField {
                name: "api_key".into(),
                label: "API key".into(),
                secret: true,
            }]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.misbehave.test".into(),
            allowed_hosts: vec!["api.misbehave.test".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Misbehave Contacts".into(),
                resource: "contacts".into(),
                supports_pull: true,
                supports_push: true,
                supports_associations: false,
                is_custom_object: false,
                paging: Vec::new(),
            }],
            batch_limits: BatchLimits {
                max_page_size: 100,
                max_push_batch: 10,
                max_lookup_batch: 0,
            },
            rate_limit: RateLimit {
                requests: 100,
                window_ms: 1_000,
                max_concurrent: 0,
            },
            rate_classes: Vec::new(),
            idempotent_creates: false,
        }
    }

    fn check(_conn: &Connection) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn pull(_conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        let params: Params = req.params_as()?;
        match params.mode.as_deref().unwrap_or("ok") {
            "ok" => ok(),
            "loop" => spin(),
            "memory" => exhaust_memory(),
            "panic" => panic!("misbehave: deliberate panic"),
            "forbidden-host" => forbidden_host(),
            "big-response" => big_response(),
            other => Err(ConnectorError::unsupported(format!(
                "misbehave has no mode {other:?}"
            ))),
        }
    }

    fn push(
        _conn: &Connection,
        _endgrate_type: &str,
        items: Vec<PushItem>,
    ) -> Result<Vec<Result<Pushed, ConnectorError>>, ConnectorError> {
        Ok(items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let created = item.id.is_none();
                let id = item.id.unwrap_or_else(|| format!("new-{index}"));
                let data: serde_json::Value =
                    switchyard_connector_sdk::json::from_json(&item.data)?;
                Pushed::new(id, &data, created)
            })
            .collect())
    }
}

/// `GET /ok`: one record with the answer's status and body.
fn ok() -> Result<Page, ConnectorError> {
    let response = API.get("/ok").send()?;
    let record = PulledRecord::new(
        "1",
        &json!({ "status": response.status(), "body": response.text() }),
    )?;
    Ok(Page::new(vec![record], None))
}

/// A busy loop the optimiser cannot remove.
fn spin() -> ! {
    let mut turns: u64 = 0;
    loop {
        turns = black_box(turns.wrapping_add(1));
    }
}

/// Keeps 1 MiB chunks alive, touching every page of each, until the memory
/// cap stops the instance.
fn exhaust_memory() -> ! {
    const CHUNK: usize = 1 << 20;
    const PAGE: usize = 4096;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK];
        for offset in (0..CHUNK).step_by(PAGE) {
            chunk[offset] = 1;
        }
        chunks.push(black_box(chunk));
        black_box(&chunks);
    }
}

/// Asks for a host no connector may reach and reports the host's refusal.
fn forbidden_host() -> Result<Page, ConnectorError> {
    match API.get("https://evil.example.com/steal").send() {
        Err(refused) => Err(ConnectorError::fatal(refused.message())),
        Ok(response) => Err(ConnectorError::fatal(format!(
            "the host let a request to evil.example.com through (HTTP {})",
            response.status()
        ))),
    }
}

/// `GET /big`: one record with the body's length.
fn big_response() -> Result<Page, ConnectorError> {
    let response = API.get("/big").send()?;
    let record = PulledRecord::new("1", &json!({ "bytes": response.body().len() }))?;
    Ok(Page::new(vec![record], None))
}

switchyard_connector_sdk::export_connector!(Misbehave);

#[cfg(test)]
mod tests {
    use switchyard_connector_sdk::testing::MockHttp;

    use super::*;

    fn pull(mode: &str) -> Result<Page, ConnectorError> {
        let mut req = PullRequest::new("crm-contact", 10);
        req.params = json!({ "mode": mode }).to_string();
        Misbehave::pull(
            &Connection::new("https://api.misbehave.test", json!({})),
            req,
        )
    }

    #[test]
    fn ok_reports_status_and_body() {
        let mock = MockHttp::new();
        mock.on("GET", "/ok").reply(200, "fine");
        let page = pull("ok").map(|page| page.records);
        let data = page.map(|records| {
            records
                .iter()
                .map(|r| (r.id.clone(), r.data.clone()))
                .collect::<Vec<_>>()
        });
        assert_eq!(
            data,
            Ok(vec![(
                "1".to_owned(),
                r#"{"body":"fine","status":200}"#.to_owned()
            )])
        );
        assert_eq!(mock.requests().len(), 1);
    }

    #[test]
    fn forbidden_host_passes_the_refusal_on_as_fatal() {
        let mock = MockHttp::new();
        mock.on("GET", "https://evil.example.com/")
            .fail(ConnectorError::fatal(
                "evil.example.com is not an allowed host",
            ));
        assert_eq!(
            pull("forbidden-host"),
            Err(ConnectorError::fatal(
                "evil.example.com is not an allowed host"
            ))
        );
    }

    #[test]
    fn big_response_counts_bytes() {
        let mock = MockHttp::new();
        mock.on("GET", "/big").reply(200, vec![b'x'; 5000]);
        let data = pull("big-response").map(|page| page.records[0].data.clone());
        assert_eq!(data, Ok(r#"{"bytes":5000}"#.to_owned()));
    }

    #[test]
    #[should_panic(expected = "misbehave: deliberate panic")]
    fn panic_panics() {
        let _ = pull("panic");
    }

    #[test]
    fn unknown_modes_are_unsupported() {
        assert!(matches!(pull("dance"), Err(ConnectorError::Unsupported(_))));
    }
}
