//! Salesforce sObjects: Contact and Account, their fields (which are
//! writable, which required), 18-character record ids, how generated people
//! and organisations become records, and the `attributes`-tagged rendering.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::data::Dataset;
use crate::store::Row;

/// The API version served (others answer 404).
pub const VERSION: &str = "v60.0";

/// The sObject types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SObject {
    Contact,
    Account,
}

const SYSTEM: &[&str] = &[
    "Id",
    "IsDeleted",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
];
const CONTACT_WRITABLE: &[&str] = &[
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Title",
    "AccountId",
    "MailingStreet",
    "MailingCity",
    "MailingState",
    "MailingPostalCode",
    "MailingCountry",
    "Description",
    "External_Id__c",
    // The org's own custom fields.
    "Region__c",
    "Loyalty_Score__c",
];
const ACCOUNT_WRITABLE: &[&str] = &[
    "Name",
    "Website",
    "Phone",
    "Industry",
    "Description",
    "NumberOfEmployees",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "External_Id__c",
    // The org's own custom field.
    "Tier__c",
];
const CHECKSUM: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl SObject {
    /// Exact names, as Salesforce paths and SOQL use them (case-insensitive).
    pub fn parse(s: &str) -> Option<SObject> {
        if s.eq_ignore_ascii_case("contact") {
            Some(SObject::Contact)
        } else if s.eq_ignore_ascii_case("account") {
            Some(SObject::Account)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SObject::Contact => "Contact",
            SObject::Account => "Account",
        }
    }

    fn key_prefix(self) -> &'static str {
        match self {
            SObject::Contact => "003",
            SObject::Account => "001",
        }
    }

    pub fn writable(self) -> &'static [&'static str] {
        match self {
            SObject::Contact => CONTACT_WRITABLE,
            SObject::Account => ACCOUNT_WRITABLE,
        }
    }

    pub fn required(self) -> &'static str {
        match self {
            SObject::Contact => "LastName",
            SObject::Account => "Name",
        }
    }

    /// The canonical spelling of a field, if the object has it.
    pub fn field(self, name: &str) -> Option<&'static str> {
        let computed: &[&str] = match self {
            SObject::Contact => &["Name"],
            SObject::Account => &[],
        };
        SYSTEM
            .iter()
            .chain(self.writable())
            .chain(computed)
            .find(|f| f.eq_ignore_ascii_case(name))
            .copied()
    }

    pub fn is_datetime(field: &str) -> bool {
        matches!(field, "CreatedDate" | "LastModifiedDate" | "SystemModstamp")
    }

    /// All readable fields.
    pub fn fields(self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = SYSTEM.to_vec();
        out.extend(self.writable());
        if self == SObject::Contact {
            out.push("Name");
        }
        out
    }

    /// The 18-character id of record `n`.
    pub fn id(self, n: u64) -> String {
        let mut digits = [b'0'; 6];
        let mut rest = n;
        for d in digits.iter_mut().rev() {
            *d = BASE62[(rest % 62) as usize];
            rest /= 62;
        }
        let base = format!(
            "{}5g0000{}",
            self.key_prefix(),
            String::from_utf8_lossy(&digits)
        );
        format!("{base}{}", checksum(&base))
    }

    /// The record number of a 15- or 18-character id of this type.
    pub fn number(self, id: &str) -> Option<u64> {
        if !(id.len() == 15 || id.len() == 18)
            || !id.is_ascii()
            || !id.starts_with(self.key_prefix())
        {
            return None;
        }
        let base = &id[..15];
        if id.len() == 18 && !id[15..].eq_ignore_ascii_case(&checksum(base)) {
            return None;
        }
        if &base[3..9] != "5g0000" {
            return None;
        }
        base[9..].bytes().try_fold(0u64, |acc, b| {
            let d = BASE62.iter().position(|c| *c == b)? as u64;
            Some(acc * 62 + d)
        })
    }
}

/// Whether `id` looks like a Salesforce id of any type.
pub fn looks_like_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn checksum(base: &str) -> String {
    base.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            CHECKSUM[bits] as char
        })
        .collect()
}

/// One stored record: writable fields plus system timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct SfRow {
    pub values: BTreeMap<String, Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub deleted: bool,
}

impl Row for SfRow {
    fn updated_ms(&self) -> i64 {
        self.updated_ms
    }
    fn is_deleted(&self) -> bool {
        self.deleted
    }
}

impl SfRow {
    /// A field's value (`null` when empty).
    pub fn value(&self, object: SObject, n: u64, field: &str) -> Value {
        match field {
            "Id" => json!(object.id(n)),
            "IsDeleted" => json!(self.deleted),
            "CreatedDate" => json!(clock::salesforce(self.created_ms)),
            "LastModifiedDate" | "SystemModstamp" => json!(clock::salesforce(self.updated_ms)),
            "Name" if object == SObject::Contact => {
                let parts: Vec<&str> = ["FirstName", "LastName"]
                    .iter()
                    .filter_map(|f| self.values.get(*f).and_then(Value::as_str))
                    .collect();
                json!(parts.join(" "))
            }
            f => self.values.get(f).cloned().unwrap_or(Value::Null),
        }
    }

    /// `{"attributes":{"type","url"},"Id",...fields}`.
    pub fn render(&self, object: SObject, n: u64, fields: &[&str]) -> Value {
        let id = object.id(n);
        let mut out = Map::new();
        out.insert(
            "attributes".into(),
            json!({"type": object.name(), "url": format!("/services/data/{VERSION}/sobjects/{}/{id}", object.name())}),
        );
        for f in fields {
            out.insert((*f).to_string(), self.value(object, n, f));
        }
        Value::Object(out)
    }
}

fn values(pairs: Vec<(&str, Value)>) -> BTreeMap<String, Value> {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Generated contact `n`.
pub fn contact(ds: &Dataset, n: u64) -> SfRow {
    let p = ds.person(n);
    let row = values(vec![
        ("FirstName", json!(p.first_name)),
        ("LastName", json!(p.last_name)),
        ("Email", json!(p.email)),
        ("Phone", json!(p.phone)),
        ("MobilePhone", json!(p.mobile)),
        ("Title", json!(p.title)),
        ("AccountId", json!(p.org.map(|o| SObject::Account.id(o)))),
        ("MailingStreet", json!(p.address.street)),
        ("MailingCity", json!(p.address.city)),
        ("MailingState", json!(p.address.state)),
        ("MailingPostalCode", json!(p.address.postal_code)),
        ("MailingCountry", json!(p.address.country)),
        ("Region__c", json!(REGIONS[(n % 3) as usize])),
        ("Loyalty_Score__c", json!((n * 7 % 100) as f64 + 0.5)),
    ]);
    SfRow {
        values: row,
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
        deleted: false,
    }
}

/// Generated account `n`.
pub fn account(ds: &Dataset, n: u64) -> SfRow {
    let o = ds.org(n);
    let row = values(vec![
        ("Name", json!(o.name)),
        ("Website", json!(format!("https://www.{}", o.domain))),
        ("Phone", json!(o.phone)),
        ("Industry", json!(o.industry)),
        ("Description", json!(o.description)),
        ("NumberOfEmployees", json!(o.employees)),
        ("BillingStreet", json!(o.address.street)),
        ("BillingCity", json!(o.address.city)),
        ("BillingState", json!(o.address.state)),
        ("BillingPostalCode", json!(o.address.postal_code)),
        ("BillingCountry", json!(o.address.country)),
        ("Tier__c", json!(TIERS[(n % 3) as usize])),
    ]);
    SfRow {
        values: row,
        created_ms: o.created_ms,
        updated_ms: o.updated_ms,
        deleted: false,
    }
}

/// Values of the seeded custom picklists.
const REGIONS: [&str; 3] = ["EMEA", "AMER", "APAC"];
const TIERS: [&str; 3] = ["Gold", "Silver", "Bronze"];

/// `GET .../sobjects/{type}/describe`: the object and its fields, custom
/// ones (`__c`) marked, as Salesforce describes them.
pub fn describe(object: SObject) -> Value {
    let fields: Vec<Value> = object
        .fields()
        .into_iter()
        .map(|name| {
            let custom = name.ends_with("__c");
            let (ty, picklist): (&str, &[&str]) = match name {
                "Id" | "AccountId" => ("id", &[]),
                "IsDeleted" => ("boolean", &[]),
                "CreatedDate" | "LastModifiedDate" | "SystemModstamp" => ("datetime", &[]),
                "Email" => ("email", &[]),
                "Phone" | "MobilePhone" => ("phone", &[]),
                "Website" => ("url", &[]),
                "Description" => ("textarea", &[]),
                "NumberOfEmployees" => ("int", &[]),
                "Loyalty_Score__c" => ("double", &[]),
                "Region__c" => ("picklist", &REGIONS),
                "Tier__c" => ("picklist", &TIERS),
                _ => ("string", &[]),
            };
            let system = SYSTEM.contains(&name) || name == "Name";
            json!({
                "name": name,
                "label": label(name),
                "type": ty,
                "custom": custom,
                "createable": !system,
                "updateable": !system,
                "nillable": name != object.required() && !system,
                "picklistValues": picklist
                    .iter()
                    .map(|v| json!({ "value": v, "label": v, "active": true, "defaultValue": false }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "name": object.name(),
        "label": object.name(),
        "custom": false,
        "queryable": true,
        "createable": true,
        "updateable": true,
        "fields": fields,
    })
}

/// `Loyalty_Score__c` → `Loyalty Score`, `MailingCity` → `Mailing City`.
fn label(name: &str) -> String {
    let bare = name.trim_end_matches("__c").replace('_', " ");
    let mut out = String::new();
    for (i, c) in bare.chars().enumerate() {
        let previous = bare.chars().nth(i.wrapping_sub(1));
        if i > 0 && c.is_uppercase() && previous.is_some_and(char::is_lowercase) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_with_checksums() {
        for n in [1, 61, 62, 99_999, 1_000_000] {
            let id = SObject::Contact.id(n);
            assert_eq!(id.len(), 18);
            assert_eq!(SObject::Contact.number(&id), Some(n));
            assert_eq!(SObject::Contact.number(&id[..15]), Some(n));
            assert_eq!(SObject::Account.number(&id), None);
        }
        assert_eq!(checksum("001A0000006Vm9r"), "IAC");
    }
}
