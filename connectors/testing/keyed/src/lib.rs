//! A connector that signs in with an API key and an account subdomain, for
//! the connect page's browser tests: `check` asks the provider's `GET /me`
//! (the host attaches the key), and a rejected key comes back with the
//! provider's own message, which the page shows next to the key field.
//! `pull` serves the contacts of `GET /contacts`.

use serde_json::Value;
use switchyard_connector_sdk::prelude::*;

const API: Api = Api::new("Keyed CRM");

struct Keyed;

impl Connector for Keyed {
    fn describe() -> Manifest {
        Manifest {
            id: "keyed".into(),
            display_name: "Keyed CRM".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            category: "crm".into(),
            homepage: "https://keyed.test".into(),
            logo_svg: String::new(),
            auth: AuthSpec::ApiKey(vec![
                ApiKeyField {
                    name: "subdomain".into(),
                    label: "Account subdomain".into(),
                    secret: false,
                },
                ApiKeyField {
                    name: "api_key".into(),
                    label: "API key".into(),
                    secret: true,
                },
            ]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.keyed.test".into(),
            allowed_hosts: vec!["api.keyed.test".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Keyed Contacts".into(),
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

    /// `GET /me`: 2xx is a good key; otherwise the provider's message.
    fn check(_conn: &Connection) -> Result<(), ConnectorError> {
        let response = API.get("/me").send()?;
        if response.is_success() {
            return Ok(());
        }
        let said = response
            .json::<Value>()
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| response.text().into_owned());
        Err(if response.status() == 401 || response.status() == 403 {
            ConnectorError::unauthorized(said)
        } else {
            ConnectorError::from_status(
                "Keyed CRM",
                response.status(),
                response.headers(),
                response.body(),
            )
        })
    }

    fn pull(_conn: &Connection, _req: PullRequest) -> Result<Page, ConnectorError> {
        let contacts: Vec<Value> = API.get("/contacts").send_json()?;
        let mut records = Vec::new();
        for (i, c) in contacts.iter().enumerate() {
            records.push(PulledRecord::new(i.to_string(), c)?);
        }
        Ok(Page::new(records, None))
    }
}

switchyard_connector_sdk::export_connector!(Keyed);

#[cfg(test)]
mod tests {
    use switchyard_connector_sdk::testing::MockHttp;

    use super::*;

    #[test]
    fn a_good_key_passes_the_check() {
        let mock = MockHttp::new();
        mock.on("GET", "/me").reply(200, r#"{"id": 7}"#);
        let conn = Connection::new("https://api.keyed.test", serde_json::json!({}));
        assert_eq!(Keyed::check(&conn), Ok(()));
    }

    #[test]
    fn a_rejected_key_carries_the_provider_s_message() {
        let mock = MockHttp::new();
        mock.on("GET", "/me")
            .reply(401, r#"{"message": "Invalid API key"}"#);
        let conn = Connection::new("https://api.keyed.test", serde_json::json!({}));
        assert_eq!(
            Keyed::check(&conn),
            Err(ConnectorError::unauthorized("Invalid API key"))
        );
    }
}
