//! Pipedrive: persons and organizations on API v2.

use crate::*;

/// `GET /api/v1/personFields` / `organizationFields`: the company's own
/// fields have `edit_flag` and a 40-character hash as key; their values sit
/// in a record's `custom_fields`, the others at its top level.
macro_rules! pipedrive_discovery {
    ($path:literal) => {
        Discovery {
            call: |_| ApiCall::new("GET", $path.to_owned(), None),
            definitions: |answer| answer["data"].as_array().cloned().unwrap_or_default(),
            name: |d| d["key"].as_str().unwrap_or_default().to_owned(),
            custom: |d| d["edit_flag"] == json!(true),
            value: |raw, key| {
                let custom = key.len() == 40 && key.bytes().all(|b| b.is_ascii_hexdigit());
                let value = if custom {
                    raw["custom_fields"].get(key)
                } else {
                    raw.get(key)
                };
                value.filter(|v| !v.is_null()).cloned()
            },
        }
    };
}

pub static PIPEDRIVE: Case = Case {
    connector: "pipedrive",
    min_page_size: 1,
    provider: Provider::Pipedrive,
    oauth_result: |sim| {
        (
            Vec::new(),
            json!({ "token_type": "Bearer", "expires_in": 3600, "scope": "base,contacts:full,search:read", "api_domain": sim.base_url() }),
        )
    },
    types: [
        TypeCase {
            endgrate_type: "crm-contact",
            kind: "persons",
            id: id_lower,
            expected: pipedrive_person,
            link: Some(Link {
                endgrate_type: "crm-company",
                ids: |raw| ids_at(raw, &["/org_id"]),
            }),
            update: |_, raw, n| {
                ApiCall::new(
                    "PATCH",
                    format!("/api/v2/persons/{}", id_lower(raw)),
                    Some(json!({"name": format!("Changed Person{n}")})),
                )
            },
            delete: Some(|_, raw| {
                ApiCall::new("DELETE", format!("/api/v2/persons/{}", id_lower(raw)), None)
            }),
            // v2 lists return live records only (see the README).
            reports_deletions: false,
            seed: || json!({"name": "Seeded Person", "emails": [{"value": "seeded.person@example.org", "primary": true, "label": "work"}]}),
            discovery: Some(pipedrive_discovery!("/api/v1/personFields")),
        },
        TypeCase {
            endgrate_type: "crm-company",
            kind: "organizations",
            id: id_lower,
            expected: pipedrive_organization,
            link: None,
            update: |_, raw, n| {
                ApiCall::new(
                    "PATCH",
                    format!("/api/v2/organizations/{}", id_lower(raw)),
                    Some(json!({"name": format!("Changed Organization {n}")})),
                )
            },
            delete: Some(|_, raw| {
                ApiCall::new(
                    "DELETE",
                    format!("/api/v2/organizations/{}", id_lower(raw)),
                    None,
                )
            }),
            reports_deletions: false,
            seed: || json!({"name": "Seeded Organization"}),
            discovery: Some(pipedrive_discovery!("/api/v1/organizationFields")),
        },
    ],
    parent: 1,
    child: 0,
    // No custom objects.
    object: None,
    prefetches_itself: false,
};
