//! HubSpot CRM objects: the object types (contacts, companies and the
//! portal's `Projects` custom object), their properties (every value a
//! string), how generated people, organisations and projects become records,
//! and how a record is rendered in API answers.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::data::Dataset;
use crate::store::Row;

/// The object types this simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Contacts,
    Companies,
    /// The portal's custom object `projects` (`2-7411001`, `p_projects`).
    Projects,
}

/// The custom object's `objectTypeId`.
pub const PROJECTS_TYPE_ID: &str = "2-7411001";
/// The custom object's `fullyQualifiedName`.
pub const PROJECTS_QUALIFIED_NAME: &str = "p_projects";

/// A default (`HUBSPOT_DEFINED`) association from one object type to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Association {
    pub to: Kind,
    pub type_id: u32,
    pub label: &'static str,
}

const CONTACT_PROPS: &[&str] = &[
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "jobtitle",
    "company",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "lifecyclestage",
    "website",
    "hs_lead_status",
    // The portal's own (custom) properties.
    "favorite_color",
    "loyalty_points",
    "newsletter_opt_in",
];
const COMPANY_PROPS: &[&str] = &[
    "name",
    "domain",
    "website",
    "industry",
    "phone",
    "description",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "numberofemployees",
    "lifecyclestage",
    // The portal's own (custom) properties.
    "account_tier",
    "partner_since",
];
/// Every property of the custom object is the portal's own.
const PROJECT_PROPS: &[&str] = &[
    "project_name",
    "budget",
    "status",
    "start_date",
    "project_code",
];

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Contacts, Kind::Companies, Kind::Projects];

    /// Accepts the names and ids HubSpot accepts in paths: a custom object
    /// only by its `objectTypeId` or `fullyQualifiedName`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "contacts" | "contact" | "0-1" => Some(Kind::Contacts),
            "companies" | "company" | "0-2" => Some(Kind::Companies),
            PROJECTS_TYPE_ID | PROJECTS_QUALIFIED_NAME => Some(Kind::Projects),
            _ => None,
        }
    }

    /// The object's name (a custom object's schema `name`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Companies => "companies",
            Kind::Projects => "projects",
        }
    }

    /// How the object is named in paths HubSpot hands out (paging links).
    pub fn path(self) -> &'static str {
        match self {
            Kind::Projects => PROJECTS_TYPE_ID,
            other => other.name(),
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Contacts => "contact",
            Kind::Companies => "company",
            Kind::Projects => "project",
        }
    }

    /// The default association of this type; the custom object has none.
    pub fn association(self) -> Option<Association> {
        match self {
            Kind::Contacts => Some(Association {
                to: Kind::Companies,
                type_id: 279,
                label: "contact_to_company",
            }),
            Kind::Companies => Some(Association {
                to: Kind::Contacts,
                type_id: 280,
                label: "company_to_contact",
            }),
            Kind::Projects => None,
        }
    }

    /// The creation property (`createdate`; `hs_createdate` on custom objects).
    pub fn created_prop(self) -> &'static str {
        match self {
            Kind::Projects => "hs_createdate",
            _ => "createdate",
        }
    }

    /// The last-modified property (`lastmodifieddate` / `hs_lastmodifieddate`).
    pub fn modified_prop(self) -> &'static str {
        match self {
            Kind::Contacts => "lastmodifieddate",
            Kind::Companies | Kind::Projects => "hs_lastmodifieddate",
        }
    }

    /// Properties returned when the request names none.
    pub fn default_props(self) -> &'static [&'static str] {
        match self {
            Kind::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            Kind::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            Kind::Projects => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
        }
    }

    /// Writable properties.
    pub fn writable(self) -> &'static [&'static str] {
        match self {
            Kind::Contacts => CONTACT_PROPS,
            Kind::Companies => COMPANY_PROPS,
            Kind::Projects => PROJECT_PROPS,
        }
    }

    /// Properties a create must give a value (the schema's
    /// `requiredProperties`).
    pub fn required_props(self) -> &'static [&'static str] {
        match self {
            Kind::Projects => &["project_name"],
            _ => &[],
        }
    }

    /// Properties no two live records share (case-insensitively), usable as
    /// `idProperty`: a contact's email, a project's code.
    pub fn unique_props(self) -> &'static [&'static str] {
        match self {
            Kind::Contacts => &["email"],
            Kind::Companies => &[],
            Kind::Projects => &["project_code"],
        }
    }

    /// Read-only properties the API computes.
    pub fn is_system(self, prop: &str) -> bool {
        prop == self.created_prop() || prop == "hs_object_id" || prop == self.modified_prop()
    }

    pub fn is_known(self, prop: &str) -> bool {
        self.is_system(prop) || self.writable().contains(&prop)
    }
}

/// One stored object: writable properties plus system timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct HsObject {
    pub props: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived_ms: Option<i64>,
}

impl Row for HsObject {
    fn updated_ms(&self) -> i64 {
        self.updated_ms
    }
    fn is_deleted(&self) -> bool {
        self.archived_ms.is_some()
    }
}

impl HsObject {
    /// A property's value as the API reports it (system ones included).
    pub fn value(&self, kind: Kind, id: u64, prop: &str) -> Option<String> {
        match prop {
            "hs_object_id" => Some(id.to_string()),
            p if p == kind.created_prop() => Some(clock::iso_millis_z(self.created_ms)),
            p if p == kind.modified_prop() => Some(clock::iso_millis_z(self.updated_ms)),
            p => self.props.get(p).filter(|v| !v.is_empty()).cloned(),
        }
    }

    /// The API shape: `{"id","properties","createdAt","updatedAt","archived"}`.
    /// `props` names the properties to include (missing values are `null`);
    /// `None` includes every property that has a value.
    pub fn render(&self, kind: Kind, id: u64, props: Option<&[String]>) -> Value {
        let created = clock::iso_millis_z(self.created_ms);
        let updated = clock::iso_millis_z(self.updated_ms);
        let mut properties = Map::new();
        properties.insert(kind.created_prop().into(), json!(created));
        properties.insert("hs_object_id".into(), json!(id.to_string()));
        properties.insert(kind.modified_prop().into(), json!(updated));
        match props {
            Some(names) => {
                for name in names
                    .iter()
                    .filter(|n| kind.is_known(n) && !kind.is_system(n))
                {
                    properties.insert(name.clone(), json!(self.value(kind, id, name)));
                }
            }
            None => {
                for (k, v) in self.props.iter().filter(|(_, v)| !v.is_empty()) {
                    properties.insert(k.clone(), json!(v));
                }
            }
        }
        let mut out = json!({
            "id": id.to_string(),
            "properties": properties,
            "createdAt": created,
            "updatedAt": updated,
            "archived": self.archived_ms.is_some(),
        });
        if let Some(at) = self.archived_ms {
            out["archivedAt"] = json!(clock::iso_millis_z(at));
        }
        out
    }
}

fn props<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Generated contact `n`.
pub fn contact(ds: &Dataset, n: u64) -> HsObject {
    let p = ds.person(n);
    let mut map = props([
        ("email", p.email),
        ("firstname", p.first_name.to_string()),
        ("lastname", p.last_name.to_string()),
        ("phone", p.phone),
        ("jobtitle", p.title.to_string()),
        ("address", p.address.street),
        ("city", p.address.city.to_string()),
        ("state", p.address.state.to_string()),
        ("zip", p.address.postal_code),
        ("country", p.address.country.to_string()),
        ("lifecyclestage", p.lifecycle.to_string()),
    ]);
    if let Some(m) = p.mobile {
        map.insert("mobilephone".into(), m);
    }
    // The portal's custom properties, seeded on every contact.
    map.insert("favorite_color".into(), COLORS[(n % 3) as usize].into());
    map.insert("loyalty_points".into(), (n * 37 % 1000).to_string());
    map.insert("newsletter_opt_in".into(), n.is_multiple_of(2).to_string());
    if let Some(o) = p.org {
        map.insert("company".into(), ds.org_name(o));
    }
    HsObject {
        props: map,
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
        archived_ms: None,
    }
}

/// Generated company `n`.
pub fn company(ds: &Dataset, n: u64) -> HsObject {
    let o = ds.org(n);
    let map = props([
        ("name", o.name),
        ("domain", o.domain.clone()),
        ("website", format!("https://www.{}", o.domain)),
        ("industry", o.industry.to_string()),
        ("phone", o.phone),
        ("description", o.description),
        ("address", o.address.street),
        ("city", o.address.city.to_string()),
        ("state", o.address.state.to_string()),
        ("zip", o.address.postal_code),
        ("country", o.address.country.to_string()),
        ("numberofemployees", o.employees.to_string()),
        ("account_tier", TIERS[(n % 3) as usize].to_string()),
        (
            "partner_since",
            format!("20{:02}-0{}-15", 10 + n % 14, 1 + n % 9),
        ),
    ]);
    HsObject {
        props: map,
        created_ms: o.created_ms,
        updated_ms: o.updated_ms,
        archived_ms: None,
    }
}

/// Generated project `n` (of company `n`).
pub fn project(ds: &Dataset, n: u64) -> HsObject {
    let p = ds.project(n);
    let map = props([
        ("project_name", p.name),
        ("budget", p.budget.to_string()),
        ("status", PROJECT_STATUSES[p.stage].to_string()),
        ("start_date", clock::date(p.start_ms)),
        ("project_code", p.code),
    ]);
    HsObject {
        props: map,
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
        archived_ms: None,
    }
}

/// A property value from a request: HubSpot accepts strings, numbers and
/// booleans and stores them all as strings; `null` clears.
pub fn input_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Values of the seeded custom enumerations.
pub const COLORS: [&str; 3] = ["red", "green", "blue"];
pub const TIERS: [&str; 3] = ["gold", "silver", "bronze"];
/// A project's `status` options, one per project stage.
pub const PROJECT_STATUSES: [&str; 3] = ["planned", "active", "done"];
