//! A HubSpot-shaped contact mapped to the common model's `crm-contact`, as
//! plain Rust with no WebAssembly dependency.
//!
//! The same code runs inside the `mapper` test component and natively in the
//! host's benchmark, so the two measure the cost of the sandbox and nothing
//! else. [`sample_contact`] makes deterministic, realistic input for both.

use serde_json::{Map, Value, json};

/// Maps a HubSpot CRM v3 contact (`{"id", "properties": {...}, ...}`, every
/// property a string) to a common-model `crm-contact`. Missing and empty
/// properties are left out of the result.
pub fn contact_to_cdm(raw: &Value) -> Value {
    let props = raw.get("properties").unwrap_or(&Value::Null);
    let prop = |name: &str| {
        props
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };

    let mut contact = Map::new();
    let mut put = |field: &str, value: Option<&str>| {
        if let Some(value) = value {
            contact.insert(field.to_owned(), Value::from(value));
        }
    };
    put("first_name", prop("firstname"));
    put("last_name", prop("lastname"));
    put("title", prop("jobtitle"));
    put("company_name", prop("company"));
    put(
        "updated_at",
        prop("lastmodifieddate").or_else(|| raw.get("updatedAt").and_then(Value::as_str)),
    );

    if let Some(email) = prop("email") {
        contact.insert(
            "email_addresses".to_owned(),
            json!([{ "email_address": email, "email_address_type": "WORK" }]),
        );
    }

    let phones: Vec<Value> = [("phone", "WORK"), ("mobilephone", "MOBILE")]
        .into_iter()
        .filter_map(|(property, kind)| {
            prop(property)
                .map(|number| json!({ "phone_number": number, "phone_number_type": kind }))
        })
        .collect();
    if !phones.is_empty() {
        contact.insert("phone_numbers".to_owned(), Value::Array(phones));
    }

    let mut address = Map::new();
    for (field, property) in [
        ("street_1", "address"),
        ("city", "city"),
        ("state", "state"),
        ("postal_code", "zip"),
        ("country", "country"),
    ] {
        if let Some(value) = prop(property) {
            address.insert(field.to_owned(), Value::from(value));
        }
    }
    if !address.is_empty() {
        address.insert("address_type".to_owned(), Value::from("PRIMARY"));
        contact.insert("addresses".to_owned(), json!([address]));
    }

    Value::Object(contact)
}

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Barbara",
    "Edsger",
    "Frances",
    "Donald",
    "Margaret",
    "Dennis",
    "Radia",
    "Ken",
    "Katherine",
    "Linus",
    "Sophie",
    "Tim",
    "Hedy",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Liskov",
    "Dijkstra",
    "Allen",
    "Knuth",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Thompson",
    "Johnson",
    "Torvalds",
    "Wilson",
    "Berners-Lee",
    "Lamarr",
];
const COMPANIES: &[(&str, &str)] = &[
    ("Analytical Engines Ltd", "analytical.example"),
    ("Cobol Works", "cobolworks.example"),
    ("Bletchley Systems", "bletchley.example"),
    ("Northwind Traders", "northwind.example"),
    ("Contoso", "contoso.example"),
    ("Globex Corporation", "globex.example"),
    ("Initech", "initech.example"),
];
const TITLES: &[&str] = &[
    "Engineer",
    "Head of Sales",
    "Account Executive",
    "CTO",
    "Office Manager",
    "Procurement Lead",
];
const PLACES: &[(&str, &str, &str, &str)] = &[
    ("Boston", "MA", "02110", "United States"),
    ("Austin", "TX", "73301", "United States"),
    ("Seattle", "WA", "98101", "United States"),
    ("Denver", "CO", "80202", "United States"),
    ("Portland", "OR", "97201", "United States"),
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Harbor Way",
    "Elm Street",
    "Market St",
];

/// A deterministic, realistic HubSpot contact: the same `i` always gives the
/// same contact, and different `i` give different ids, emails and phones.
pub fn sample_contact(i: u64) -> Value {
    let mut seed = i;
    let mut pick = |len: usize| {
        seed = splitmix64(seed);
        // `len` is a small table length, so the remainder fits in usize.
        usize::try_from(seed % len as u64).unwrap_or(0)
    };
    let first = FIRST_NAMES[pick(FIRST_NAMES.len())];
    let last = LAST_NAMES[pick(LAST_NAMES.len())];
    let (company, domain) = COMPANIES[pick(COMPANIES.len())];
    let title = TITLES[pick(TITLES.len())];
    let (city, state, zip, country) = PLACES[pick(PLACES.len())];
    let street = STREETS[pick(STREETS.len())];
    let house = 1 + pick(998);

    let id = 1_000 + i;
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let second = i % 60;
    let created = format!("2024-{month:02}-{day:02}T09:00:{second:02}.000Z");
    let modified = format!("2025-{month:02}-{day:02}T17:30:{second:02}.000Z");

    json!({
        "id": id.to_string(),
        "properties": {
            "createdate": created,
            "email": format!("{}.{}{i}@{domain}", first.to_lowercase(), last.to_lowercase()),
            "firstname": first,
            "lastname": last,
            "phone": format!("+1 617-555-{:04}", i % 10_000),
            "mobilephone": format!("+1 857-555-{:04}", (i * 7) % 10_000),
            "jobtitle": title,
            "company": company,
            "address": format!("{house} {street}"),
            "city": city,
            "state": state,
            "zip": zip,
            "country": country,
            "hs_object_id": id.to_string(),
            "lastmodifieddate": modified,
        },
        "createdAt": created,
        "updatedAt": modified,
        "archived": false,
    })
}

/// A small, well-mixed pseudo-random step (SplitMix64).
fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_full_contact() {
        let raw = json!({
            "id": "51",
            "properties": {
                "email": "bh@hubspot.com", "firstname": "Brian", "lastname": "Halligan",
                "phone": "+1 555 0100", "mobilephone": "+1 555 0199", "jobtitle": "CEO",
                "company": "HubSpot", "address": "25 First St", "city": "Cambridge",
                "state": "MA", "zip": "02141", "country": "United States",
                "lastmodifieddate": "2024-03-01T10:00:00.000Z"
            },
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-03-01T10:00:00.000Z",
            "archived": false
        });
        assert_eq!(
            contact_to_cdm(&raw),
            json!({
                "first_name": "Brian",
                "last_name": "Halligan",
                "email_addresses": [{"email_address": "bh@hubspot.com", "email_address_type": "WORK"}],
                "phone_numbers": [
                    {"phone_number": "+1 555 0100", "phone_number_type": "WORK"},
                    {"phone_number": "+1 555 0199", "phone_number_type": "MOBILE"}
                ],
                "title": "CEO",
                "company_name": "HubSpot",
                "addresses": [{
                    "address_type": "PRIMARY", "street_1": "25 First St", "city": "Cambridge",
                    "state": "MA", "postal_code": "02141", "country": "United States"
                }],
                "updated_at": "2024-03-01T10:00:00.000Z"
            })
        );
    }

    #[test]
    fn leaves_out_what_is_missing() {
        let raw = json!({
            "id": "7",
            "properties": {"email": "", "firstname": "Ada", "phone": null},
            "updatedAt": "2024-05-05T00:00:00Z"
        });
        assert_eq!(
            contact_to_cdm(&raw),
            json!({"first_name": "Ada", "updated_at": "2024-05-05T00:00:00Z"})
        );
        assert_eq!(contact_to_cdm(&json!("not a contact")), json!({}));
    }

    #[test]
    fn samples_are_deterministic_and_distinct() {
        assert_eq!(sample_contact(3), sample_contact(3));
        assert_ne!(sample_contact(3)["id"], sample_contact(4)["id"]);
        let mapped = contact_to_cdm(&sample_contact(12));
        for field in [
            "first_name",
            "last_name",
            "email_addresses",
            "phone_numbers",
            "title",
            "company_name",
            "addresses",
            "updated_at",
        ] {
            assert!(mapped.get(field).is_some(), "{field} missing in {mapped}");
        }
    }
}
