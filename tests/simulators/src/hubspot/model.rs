//! HubSpot CRM objects: the two object types, their properties (every value a
//! string), how generated people and organisations become contacts and
//! companies, and how an object is rendered in API answers.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::data::Dataset;
use crate::store::Row;

/// The object types this simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contacts,
    Companies,
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

impl Kind {
    /// Accepts the names and ids HubSpot accepts in paths.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "contacts" | "contact" | "0-1" => Some(Kind::Contacts),
            "companies" | "company" | "0-2" => Some(Kind::Companies),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Contacts => "contacts",
            Kind::Companies => "companies",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Contacts => "contact",
            Kind::Companies => "company",
        }
    }

    pub fn other(self) -> Kind {
        match self {
            Kind::Contacts => Kind::Companies,
            Kind::Companies => Kind::Contacts,
        }
    }

    /// The last-modified property (`lastmodifieddate` / `hs_lastmodifieddate`).
    pub fn modified_prop(self) -> &'static str {
        match self {
            Kind::Contacts => "lastmodifieddate",
            Kind::Companies => "hs_lastmodifieddate",
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
        }
    }

    /// Writable properties.
    pub fn writable(self) -> &'static [&'static str] {
        match self {
            Kind::Contacts => CONTACT_PROPS,
            Kind::Companies => COMPANY_PROPS,
        }
    }

    /// Read-only properties the API computes.
    pub fn is_system(self, prop: &str) -> bool {
        prop == "createdate" || prop == "hs_object_id" || prop == self.modified_prop()
    }

    pub fn is_known(self, prop: &str) -> bool {
        self.is_system(prop) || self.writable().contains(&prop)
    }

    /// The association type id from this kind to the other one.
    pub fn association_type_id(self) -> u32 {
        match self {
            Kind::Contacts => 279,
            Kind::Companies => 280,
        }
    }

    pub fn association_label(self) -> &'static str {
        match self {
            Kind::Contacts => "contact_to_company",
            Kind::Companies => "company_to_contact",
        }
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
            "createdate" => Some(clock::iso_millis_z(self.created_ms)),
            "hs_object_id" => Some(id.to_string()),
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
        properties.insert("createdate".into(), json!(created));
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
const COLORS: [&str; 3] = ["red", "green", "blue"];
const TIERS: [&str; 3] = ["gold", "silver", "bronze"];

/// `GET /crm/v3/properties/{objectType}`: every property of `kind`, the
/// portal's custom ones without `hubspotDefined`, as HubSpot describes them.
pub fn property_definitions(kind: Kind) -> Vec<Value> {
    let system = [
        ("createdate", "Create Date", "datetime", "date"),
        ("hs_object_id", "Record ID", "number", "number"),
        (
            kind.modified_prop(),
            "Last Modified Date",
            "datetime",
            "date",
        ),
    ];
    let mut out: Vec<Value> = system
        .iter()
        .map(|(name, label, ty, field)| definition(name, label, ty, field, &[], true, true))
        .collect();
    for name in kind.writable() {
        let (label, ty, field, options): (String, &str, &str, &[&str]) = match *name {
            "favorite_color" => ("Favorite color".into(), "enumeration", "select", &COLORS),
            "loyalty_points" => ("Loyalty points".into(), "number", "number", &[]),
            "newsletter_opt_in" => (
                "Newsletter opt-in".into(),
                "bool",
                "booleancheckbox",
                &["true", "false"],
            ),
            "account_tier" => ("Account tier".into(), "enumeration", "select", &TIERS),
            "partner_since" => ("Partner since".into(), "date", "date", &[]),
            "numberofemployees" => ("Number of Employees".into(), "number", "number", &[]),
            "lifecyclestage" => (
                "Lifecycle Stage".into(),
                "enumeration",
                "radio",
                &[
                    "subscriber",
                    "lead",
                    "marketingqualifiedlead",
                    "salesqualifiedlead",
                    "opportunity",
                    "customer",
                    "evangelist",
                    "other",
                ],
            ),
            other => (title_case(other), "string", "text", &[]),
        };
        let custom = matches!(
            *name,
            "favorite_color"
                | "loyalty_points"
                | "newsletter_opt_in"
                | "account_tier"
                | "partner_since"
        );
        out.push(definition(name, &label, ty, field, options, !custom, false));
    }
    out
}

fn definition(
    name: &str,
    label: &str,
    ty: &str,
    field_type: &str,
    options: &[&str],
    hubspot_defined: bool,
    read_only: bool,
) -> Value {
    let options: Vec<Value> = options
        .iter()
        .enumerate()
        .map(|(i, v)| json!({ "label": title_case(v), "value": v, "displayOrder": i, "hidden": false }))
        .collect();
    let mut d = json!({
        "name": name,
        "label": label,
        "type": ty,
        "fieldType": field_type,
        "groupName": if hubspot_defined { "contactinformation" } else { "custom_properties" },
        "options": options,
        "modificationMetadata": { "archivable": !hubspot_defined, "readOnlyDefinition": hubspot_defined, "readOnlyValue": read_only },
    });
    if hubspot_defined {
        d["hubspotDefined"] = json!(true);
    }
    d
}

/// `first_name` → `First name`.
fn title_case(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
