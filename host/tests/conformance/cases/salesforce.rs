//! Salesforce: Contact and Account sObjects on the instance URL.

use crate::*;

const SALESFORCE_SOBJECTS: &str = "/services/data/v60.0/sobjects";

fn salesforce_record(object: &str, raw: &Value) -> String {
    format!("{SALESFORCE_SOBJECTS}/{object}/{}", id_upper(raw))
}

/// `GET .../sobjects/{type}/describe`: custom fields end in `__c` and say
/// `custom: true`; their values sit on the record under their names.
macro_rules! salesforce_discovery {
    ($object:literal) => {
        Discovery {
            call: |_| {
                ApiCall::new(
                    "GET",
                    format!("/services/data/v60.0/sobjects/{}/describe", $object),
                    None,
                )
            },
            definitions: |answer| answer["fields"].as_array().cloned().unwrap_or_default(),
            name: |d| d["name"].as_str().unwrap_or_default().to_owned(),
            custom: |d| d["custom"] == json!(true),
            value: |raw, name| raw.get(name).filter(|v| !v.is_null()).cloned(),
        }
    };
}

pub static SALESFORCE: Case = Case {
    connector: "salesforce",
    // Salesforce takes batch sizes from 200 (see the README).
    min_page_size: 200,
    provider: Provider::Salesforce,
    oauth_result: |sim| {
        (
            Vec::new(),
            json!({
                "instance_url": sim.base_url(),
                "id": format!("{}/id/00Dsf0000000001/005sf0000000001", sim.base_url()),
                "token_type": "Bearer",
                "issued_at": "1700000000000",
                "scope": "api refresh_token",
            }),
        )
    },
    types: [
        TypeCase {
            endgrate_type: "crm-contact",
            kind: "Contact",
            id: id_upper,
            expected: salesforce_contact,
            link: Some(Link {
                endgrate_type: "crm-company",
                ids: |raw| ids_at(raw, &["/AccountId"]),
            }),
            update: |_, raw, n| {
                ApiCall::new(
                    "PATCH",
                    salesforce_record("Contact", raw),
                    Some(json!({"Title": format!("Changed Title {n}")})),
                )
            },
            delete: Some(|_, raw| ApiCall::new("DELETE", salesforce_record("Contact", raw), None)),
            // queryAll returns records in the Recycle Bin.
            reports_deletions: true,
            seed: || json!({"FirstName": "Seeded", "LastName": "Person", "Email": "seeded.person@example.org"}),
            discovery: Some(salesforce_discovery!("Contact")),
        },
        TypeCase {
            endgrate_type: "crm-company",
            kind: "Account",
            id: id_upper,
            expected: salesforce_account,
            link: None,
            update: |_, raw, n| {
                ApiCall::new(
                    "PATCH",
                    salesforce_record("Account", raw),
                    Some(json!({"Description": format!("Changed description {n}")})),
                )
            },
            delete: Some(|_, raw| ApiCall::new("DELETE", salesforce_record("Account", raw), None)),
            reports_deletions: true,
            seed: || json!({"Name": "Seeded Account", "Website": "https://seeded.example.org"}),
            discovery: Some(salesforce_discovery!("Account")),
        },
    ],
    parent: 1,
    child: 0,
    object: Some(ObjectCase {
        name: "Project__c",
        kind: "projects",
        id: id_upper,
        value: |raw, name| raw.get(name).filter(|v| !v.is_null()).cloned(),
        unique: "Project_Code__c",
        new_record: |n| {
            json!({
                "Name": format!("Conformance project {n}"),
                "Project_Code__c": format!("CONF-{n:05}"),
                "Budget__c": 1250.5,
                "Status__c": "Active",
            })
        },
        change: ("Name", "Renamed project"),
    }),
    prefetches_itself: false,
};
