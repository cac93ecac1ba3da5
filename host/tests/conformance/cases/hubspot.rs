//! HubSpot: contacts and companies, every property a string.

use crate::*;

fn hubspot_update(object: &str, raw: &Value, properties: Value) -> ApiCall {
    ApiCall::new(
        "PATCH",
        format!("/crm/v3/objects/{object}/{}", id_lower(raw)),
        Some(json!({ "properties": properties })),
    )
}

/// `GET /crm/v3/properties/{object}`: custom properties lack
/// `hubspotDefined`; their values sit in `properties`, as text.
macro_rules! hubspot_discovery {
    ($object:literal) => {
        Discovery {
            call: |_| ApiCall::new("GET", format!("/crm/v3/properties/{}", $object), None),
            definitions: |answer| answer["results"].as_array().cloned().unwrap_or_default(),
            name: |d| d["name"].as_str().unwrap_or_default().to_owned(),
            custom: |d| d["hubspotDefined"] != json!(true),
            value: |raw, name| {
                raw["properties"]
                    .get(name)
                    .filter(|v| !v.is_null())
                    .cloned()
            },
        }
    };
}

pub static HUBSPOT: Case = Case {
    connector: "hubspot",
    min_page_size: 1,
    provider: Provider::HubSpot,
    oauth_result: |_| {
        (
            Vec::new(),
            json!({ "token_type": "bearer", "expires_in": 1800 }),
        )
    },
    types: [
        TypeCase {
            endgrate_type: "crm-contact",
            kind: "contacts",
            id: id_lower,
            expected: hubspot_contact,
            link: Some(Link {
                endgrate_type: "crm-company",
                ids: hubspot_contact_companies,
            }),
            update: |_, raw, n| {
                hubspot_update(
                    "contacts",
                    raw,
                    json!({"jobtitle": format!("Changed Title {n}"), "lastname": "Changed"}),
                )
            },
            delete: Some(|_, raw| {
                ApiCall::new(
                    "DELETE",
                    format!("/crm/v3/objects/contacts/{}", id_lower(raw)),
                    None,
                )
            }),
            // Searches never return archived records (see the README).
            reports_deletions: false,
            seed: || json!({"properties": {"firstname": "Seeded", "lastname": "Person", "email": "seeded.person@example.org"}}),
            discovery: Some(hubspot_discovery!("contacts")),
        },
        TypeCase {
            endgrate_type: "crm-company",
            kind: "companies",
            id: id_lower,
            expected: hubspot_company,
            link: None,
            update: |_, raw, n| {
                hubspot_update(
                    "companies",
                    raw,
                    json!({"description": format!("Changed description {n}")}),
                )
            },
            delete: Some(|_, raw| {
                ApiCall::new(
                    "DELETE",
                    format!("/crm/v3/objects/companies/{}", id_lower(raw)),
                    None,
                )
            }),
            reports_deletions: false,
            seed: || json!({"properties": {"name": "Seeded Company", "domain": "seeded.example.org"}}),
            discovery: Some(hubspot_discovery!("companies")),
        },
    ],
    parent: 1,
    child: 0,
    object: Some(ObjectCase {
        name: "p_projects",
        kind: "projects",
        id: id_lower,
        value: |raw, name| {
            raw["properties"]
                .get(name)
                .filter(|v| !v.is_null())
                .cloned()
        },
        unique: "project_code",
        new_record: |n| {
            json!({
                "project_name": format!("Conformance project {n}"),
                "project_code": format!("CONF-{n:05}"),
                "budget": "1250.5",
                "status": "active",
            })
        },
        change: ("project_name", "Renamed project"),
    }),
    prefetches_itself: false,
};
