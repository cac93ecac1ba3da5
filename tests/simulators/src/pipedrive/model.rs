//! Pipedrive API v2 entities: persons (joined to organizations through
//! `org_id`) and organizations (an `address` object, no website or domain
//! field), generated from the seed data and held as JSON bodies.

use serde_json::{Value, json};

use crate::clock;
use crate::data::Dataset;
use crate::store::Row;

/// The entity types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Persons,
    Organizations,
}

const PERSON_FIELDS: &[&str] = &[
    "name",
    "first_name",
    "last_name",
    "owner_id",
    "org_id",
    "emails",
    "phones",
    "visible_to",
    "label_ids",
    "add_time",
    "custom_fields",
    "marketing_status",
];
const ORG_FIELDS: &[&str] = &[
    "name",
    "owner_id",
    "address",
    "visible_to",
    "label_ids",
    "add_time",
    "custom_fields",
];

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "persons" => Some(Kind::Persons),
            "organizations" => Some(Kind::Organizations),
            _ => None,
        }
    }

    /// "Person" / "Organization", as error messages say.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Persons => "Person",
            Kind::Organizations => "Organization",
        }
    }

    pub fn writable(self) -> &'static [&'static str] {
        match self {
            Kind::Persons => PERSON_FIELDS,
            Kind::Organizations => ORG_FIELDS,
        }
    }
}

/// One stored entity: the API body plus timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct PdRow {
    pub body: Value,
    pub added_ms: i64,
    pub updated_ms: i64,
    pub deleted: bool,
}

impl Row for PdRow {
    fn updated_ms(&self) -> i64 {
        self.updated_ms
    }
    fn is_deleted(&self) -> bool {
        self.deleted
    }
}

impl PdRow {
    /// The API shape: the body with `id`, `add_time`, `update_time`, `is_deleted`.
    pub fn render(&self, n: u64) -> Value {
        let mut v = self.body.clone();
        v["id"] = json!(n);
        v["add_time"] = json!(clock::iso_seconds_z(self.added_ms));
        v["update_time"] = json!(clock::iso_seconds_z(self.updated_ms));
        v["is_deleted"] = json!(self.deleted);
        v
    }
}

/// Generated person `n`.
pub fn person(ds: &Dataset, n: u64) -> PdRow {
    let p = ds.person(n);
    let mut phones = vec![json!({"value": p.phone, "primary": true, "label": "work"})];
    if let Some(m) = &p.mobile {
        phones.push(json!({"value": m, "primary": false, "label": "mobile"}));
    }
    let body = json!({
        "name": format!("{} {}", p.first_name, p.last_name),
        "first_name": p.first_name,
        "last_name": p.last_name,
        "owner_id": 1,
        "org_id": p.org,
        "emails": [{"value": p.email, "primary": true, "label": "work"}],
        "phones": phones,
        "visible_to": 3,
        "label_ids": [],
        "picture_id": null,
        "custom_fields": {},
    });
    PdRow {
        body,
        added_ms: p.created_ms,
        updated_ms: p.updated_ms,
        deleted: false,
    }
}

/// Generated organization `n`.
pub fn organization(ds: &Dataset, n: u64) -> PdRow {
    let o = ds.org(n);
    let a = &o.address;
    let (number, route) = a.street.split_once(' ').unwrap_or(("", a.street.as_str()));
    let formatted = format!(
        "{}, {}, {} {}, {}",
        a.street, a.city, a.state, a.postal_code, a.country
    );
    let body = json!({
        "name": o.name,
        "owner_id": 1,
        "address": {
            "value": formatted,
            "street_number": number,
            "route": route,
            "sublocality": null,
            "locality": a.city,
            "admin_area_level_1": a.state,
            "admin_area_level_2": null,
            "country": a.country,
            "postal_code": a.postal_code,
            "formatted_address": formatted,
        },
        "visible_to": 3,
        "label_ids": [],
        "custom_fields": {},
    });
    PdRow {
        body,
        added_ms: o.created_ms,
        updated_ms: o.updated_ms,
        deleted: false,
    }
}
