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
        "custom_fields": {
            FAVORITE_CHANNEL: CHANNELS[(n % 3) as usize].0,
            LIFETIME_VALUE: (n * 130 % 10_000) as f64 / 4.0,
        },
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
        "custom_fields": { SEGMENT: SEGMENTS[(n % 3) as usize] },
    });
    PdRow {
        body,
        added_ms: o.created_ms,
        updated_ms: o.updated_ms,
        deleted: false,
    }
}

/// The company's own (custom) fields: Pipedrive keys them by a 40-character
/// hash, and v2 records carry their values under `custom_fields`.
pub const FAVORITE_CHANNEL: &str = "5f3b1c9a2e7d4b6f8a0c1e3d5b7f9a2c4e6d8b0a";
pub const LIFETIME_VALUE: &str = "c8e2a4f6b1d3c5e7f9a0b2d4c6e8f0a1b3d5c7e9";
pub const SEGMENT: &str = "0d9f8e7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e";
/// The options of `FAVORITE_CHANNEL`: an enum value is its option's id.
const CHANNELS: [(u64, &str); 3] = [(11, "Email"), (12, "Phone"), (13, "Chat")];
const SEGMENTS: [&str; 3] = ["Enterprise", "Mid-market", "Small business"];

impl Kind {
    /// The custom fields of this entity type (their keys).
    pub fn custom_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Persons => &[FAVORITE_CHANNEL, LIFETIME_VALUE],
            Kind::Organizations => &[SEGMENT],
        }
    }
}

/// `GET /api/v1/personFields` / `organizationFields`: every field of `kind`,
/// as Pipedrive describes them (`edit_flag` true for the company's own).
pub fn field_definitions(kind: Kind) -> Vec<Value> {
    let builtin: &[(&str, &str, &str)] = match kind {
        Kind::Persons => &[
            ("id", "ID", "int"),
            ("name", "Name", "varchar"),
            ("first_name", "First name", "varchar"),
            ("last_name", "Last name", "varchar"),
            ("email", "Email", "varchar"),
            ("phone", "Phone", "phone"),
            ("org_id", "Organization", "org"),
            ("owner_id", "Owner", "user"),
            ("label_ids", "Labels", "set"),
            ("add_time", "Person created", "date"),
            ("update_time", "Update time", "date"),
            ("marketing_status", "Marketing status", "enum"),
        ],
        Kind::Organizations => &[
            ("id", "ID", "int"),
            ("name", "Name", "varchar"),
            ("owner_id", "Owner", "user"),
            ("address", "Address", "address"),
            ("label_ids", "Labels", "set"),
            ("add_time", "Organization created", "date"),
            ("update_time", "Update time", "date"),
        ],
    };
    let mut out: Vec<Value> = builtin
        .iter()
        .enumerate()
        .map(|(i, (key, name, ty))| {
            json!({ "id": 9000 + i, "key": key, "name": name, "field_type": ty, "edit_flag": false, "mandatory_flag": *key == "name", "options": null })
        })
        .collect();
    let custom: &[(&str, &str, &str)] = match kind {
        Kind::Persons => &[
            (FAVORITE_CHANNEL, "Favorite channel", "enum"),
            (LIFETIME_VALUE, "Lifetime value", "double"),
        ],
        Kind::Organizations => &[(SEGMENT, "Segment", "varchar")],
    };
    for (i, (key, name, ty)) in custom.iter().enumerate() {
        let options = (*key == FAVORITE_CHANNEL).then(|| {
            CHANNELS
                .iter()
                .map(|(id, label)| json!({ "id": id, "label": label }))
                .collect::<Vec<_>>()
        });
        out.push(json!({ "id": 12000 + i, "key": key, "name": name, "field_type": ty, "edit_flag": true, "mandatory_flag": false, "options": options }));
    }
    out
}
