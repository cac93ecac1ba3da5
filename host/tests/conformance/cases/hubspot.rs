//! HubSpot: contacts and companies, every property a string.

use crate::*;

fn hubspot_update(object: &str, raw: &Value, properties: Value) -> ApiCall {
    ApiCall::new(
        "PATCH",
        format!("/crm/v3/objects/{object}/{}", id_lower(raw)),
        Some(json!({ "properties": properties })),
    )
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
        },
    ],
    parent: 1,
    child: 0,
};
