//! A connector whose job is `to-cdm` for `crm-contact`, through the shared
//! `sample-mapping` crate: the host benchmarks it against the same mapping
//! compiled natively. Its `pull` serves mapped sample contacts without any I/O
//! (1,000 of them, paged by an offset cursor), a no-network data source for tests.

use switchyard_connector_sdk::prelude::*;

struct Mapper;

impl Connector for Mapper {
    fn describe() -> Manifest {
        Manifest {
            id: "mapper".into(),
            display_name: "Mapper".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            category: "crm".into(),
            homepage: "https://mapper.test".into(),
            logo_svg: String::new(),
            auth: AuthSpec::ApiKey(vec![ApiKeyField {
                name: "api_key".into(),
                label: "API key".into(),
                secret: true,
            }]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.mapper.test".into(),
            allowed_hosts: vec!["api.mapper.test".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Mapper Contacts".into(),
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

    fn pull(_conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
        const SAMPLE_CONTACTS: u64 = 1_000;
        if req.endgrate_type != "crm-contact" {
            return Err(ConnectorError::unsupported(format!(
                "the mapper connector cannot pull {}",
                req.endgrate_type
            )));
        }
        let start: u64 = match &req.cursor {
            Some(cursor) => cursor
                .parse()
                .map_err(|_| ConnectorError::fatal(format!("mapper: bad cursor {cursor:?}")))?,
            None => 0,
        };
        let end = (start + u64::from(req.page_size.max(1))).min(SAMPLE_CONTACTS);
        let mut records = Vec::new();
        for i in start..end {
            let mapped = sample_mapping::contact_to_cdm(&sample_mapping::sample_contact(i));
            records.push(PulledRecord::new(i.to_string(), &mapped)?);
        }
        Ok(Page::new(
            records,
            (end < SAMPLE_CONTACTS).then(|| end.to_string()),
        ))
    }

    fn to_cdm(endgrate_type: &str, raw: &str) -> Result<Json, ConnectorError> {
        if endgrate_type != "crm-contact" {
            return Err(ConnectorError::unsupported(format!(
                "the mapper connector cannot map {endgrate_type}"
            )));
        }
        let raw: serde_json::Value = switchyard_connector_sdk::json::from_json(raw)?;
        switchyard_connector_sdk::json::to_json(&sample_mapping::contact_to_cdm(&raw))
    }
}

switchyard_connector_sdk::export_connector!(Mapper);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_like_the_native_code() {
        let raw = sample_mapping::sample_contact(5);
        let mapped = Mapper::to_cdm("crm-contact", &raw.to_string())
            .and_then(|text| switchyard_connector_sdk::json::from_json::<serde_json::Value>(&text));
        assert_eq!(mapped, Ok(sample_mapping::contact_to_cdm(&raw)));
    }

    #[test]
    fn other_types_are_unsupported() {
        assert!(matches!(
            Mapper::to_cdm("crm-company", "{}"),
            Err(ConnectorError::Unsupported(_))
        ));
    }
}
