//! A connector that reports which build of it answered, for the host's
//! hot-load tests.
//!
//! Its version comes from `PROBE_VERSION` at build time (default `1.0.0`), so
//! the tests can build a `1.0.0` and a `2.0.0` and swap one for the other while
//! a pull is waiting on `GET /wait`.

use serde_json::json;
use switchyard_connector_sdk::prelude::*;

/// The version this build reports, from `PROBE_VERSION` at build time.
const VERSION: &str = match option_env!("PROBE_VERSION") {
    Some(version) => version,
    None => "1.0.0",
};

const API: Api = Api::new("Probe");

struct Probe;

impl Connector for Probe {
    fn describe() -> Manifest {
        Manifest {
            id: "probe".into(),
            display_name: "Probe".into(),
            version: VERSION.into(),
            category: "crm".into(),
            homepage: "https://probe.test".into(),
            logo_svg: String::new(),
            auth: AuthSpec::ApiKey(vec![ApiKeyField {
                name: "api_key".into(),
                label: "API key".into(),
                secret: true,
            }]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.probe.test".into(),
            allowed_hosts: vec!["api.probe.test".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Probe Contacts".into(),
                resource: "contacts".into(),
                supports_pull: true,
                supports_push: false,
                supports_associations: false,
                is_custom_object: false,
                paging: Vec::new(),
            }],
            batch_limits: BatchLimits {
                max_page_size: 100,
                max_push_batch: 1,
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

    /// `GET /wait`, then one record saying which version answered and what
    /// the provider said.
    fn pull(_conn: &Connection, _req: PullRequest) -> Result<Page, ConnectorError> {
        let response = API.get("/wait").send()?;
        let record =
            PulledRecord::new("1", &json!({ "version": VERSION, "body": response.text() }))?;
        Ok(Page::new(vec![record], None))
    }
}

switchyard_connector_sdk::export_connector!(Probe);

#[cfg(test)]
mod tests {
    use switchyard_connector_sdk::testing::MockHttp;

    use super::*;

    #[test]
    fn pull_reports_version_and_body() {
        let mock = MockHttp::new();
        mock.on("GET", "/wait").reply(200, "done");
        let conn = Connection::new("https://api.probe.test", json!({}));
        let page = Probe::pull(&conn, PullRequest::new("crm-contact", 1));
        let data = page.and_then(|page| page.records[0].data_as::<serde_json::Value>());
        assert_eq!(data, Ok(json!({ "version": VERSION, "body": "done" })));
    }
}
