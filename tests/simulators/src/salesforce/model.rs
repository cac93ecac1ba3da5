//! Salesforce sObjects: Contact, Account and the org's custom object
//! `Project__c`, their fields (which are writable, which required, their
//! types, external ids and references), 18-character record ids, how
//! generated people, organisations and projects become records, and the
//! `attributes`-tagged rendering.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::data::Dataset;
use crate::store::Row;

/// The API version served (others answer 404).
pub const VERSION: &str = "v60.0";

/// The sObject types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SObject {
    Contact,
    Account,
    /// The org's custom object.
    Project,
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
/// Every field of the custom object but `Name` is custom.
const PROJECT_WRITABLE: &[&str] = &[
    "Name",
    "Budget__c",
    "Status__c",
    "Start_Date__c",
    "Project_Code__c",
    "Account__c",
];
const CHECKSUM: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A field's type as describe reports it, with what a written value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Id,
    Boolean,
    DateTime,
    /// `YYYY-MM-DD`.
    Date,
    Email,
    Phone,
    Url,
    TextArea,
    Text,
    Int,
    Double,
    Currency,
    /// A picklist; a restricted one refuses values not in the list.
    Picklist {
        values: &'static [&'static str],
        restricted: bool,
    },
    /// The id of a live record of another type.
    Reference(SObject),
}

impl FieldType {
    /// The `type` describe reports.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::Boolean => "boolean",
            FieldType::DateTime => "datetime",
            FieldType::Date => "date",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::TextArea => "textarea",
            FieldType::Text => "string",
            FieldType::Int => "int",
            FieldType::Double => "double",
            FieldType::Currency => "currency",
            FieldType::Picklist { .. } => "picklist",
            FieldType::Reference(_) => "reference",
        }
    }
}

impl SObject {
    pub const ALL: [SObject; 3] = [SObject::Account, SObject::Contact, SObject::Project];

    /// Exact names, as Salesforce paths and SOQL use them (case-insensitive).
    pub fn parse(s: &str) -> Option<SObject> {
        SObject::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(s))
    }

    pub fn name(self) -> &'static str {
        match self {
            SObject::Contact => "Contact",
            SObject::Account => "Account",
            SObject::Project => "Project__c",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SObject::Contact => "Contact",
            SObject::Account => "Account",
            SObject::Project => "Project",
        }
    }

    pub fn label_plural(self) -> &'static str {
        match self {
            SObject::Contact => "Contacts",
            SObject::Account => "Accounts",
            SObject::Project => "Projects",
        }
    }

    /// A custom object (`__c`), defined by the org.
    pub fn is_custom(self) -> bool {
        self == SObject::Project
    }

    pub fn key_prefix(self) -> &'static str {
        match self {
            SObject::Contact => "003",
            SObject::Account => "001",
            SObject::Project => "a0P",
        }
    }

    pub fn writable(self) -> &'static [&'static str] {
        match self {
            SObject::Contact => CONTACT_WRITABLE,
            SObject::Account => ACCOUNT_WRITABLE,
            SObject::Project => PROJECT_WRITABLE,
        }
    }

    pub fn required(self) -> &'static str {
        match self {
            SObject::Contact => "LastName",
            SObject::Account | SObject::Project => "Name",
        }
    }

    /// Fields an upsert can match on (`PATCH .../{type}/{field}/{value}`).
    pub fn external_ids(self) -> &'static [&'static str] {
        match self {
            SObject::Contact | SObject::Account => &["External_Id__c"],
            SObject::Project => &["Project_Code__c"],
        }
    }

    /// External ids no two records share (`DUPLICATE_VALUE` otherwise).
    pub fn is_unique(self, field: &str) -> bool {
        self == SObject::Project && field == "Project_Code__c"
    }

    /// Whether generated records have external ids: a project its code;
    /// generated contacts and accounts have no `External_Id__c`.
    pub fn generates_external_ids(self) -> bool {
        self == SObject::Project
    }

    /// A field's type (the field being one of [`SObject::fields`]).
    pub fn field_type(self, field: &str) -> FieldType {
        match (self, field) {
            (_, "Id") => FieldType::Id,
            (SObject::Contact, "AccountId") | (SObject::Project, "Account__c") => {
                FieldType::Reference(SObject::Account)
            }
            (_, "IsDeleted") => FieldType::Boolean,
            (_, "CreatedDate" | "LastModifiedDate" | "SystemModstamp") => FieldType::DateTime,
            (_, "Start_Date__c") => FieldType::Date,
            (_, "Email") => FieldType::Email,
            (_, "Phone" | "MobilePhone") => FieldType::Phone,
            (_, "Website") => FieldType::Url,
            (_, "Description") => FieldType::TextArea,
            (_, "NumberOfEmployees") => FieldType::Int,
            (_, "Loyalty_Score__c") => FieldType::Double,
            (_, "Budget__c") => FieldType::Currency,
            (_, "Region__c") => FieldType::Picklist {
                values: &REGIONS,
                restricted: false,
            },
            (_, "Tier__c") => FieldType::Picklist {
                values: &TIERS,
                restricted: false,
            },
            (_, "Status__c") => FieldType::Picklist {
                values: &STATUSES,
                restricted: true,
            },
            _ => FieldType::Text,
        }
    }

    /// A field's label: `Loyalty_Score__c` → `Loyalty Score`, `MailingCity`
    /// → `Mailing City`.
    pub fn field_label(self, field: &str) -> String {
        match (self, field) {
            (SObject::Contact, "AccountId") => "Account ID".into(),
            (SObject::Project, "Name") => "Project Name".into(),
            _ => label(field),
        }
    }

    /// The canonical spelling of a field, if the object has it.
    pub fn field(self, name: &str) -> Option<&'static str> {
        let computed: &[&str] = match self {
            SObject::Contact => &["Name"],
            SObject::Account | SObject::Project => &[],
        };
        SYSTEM
            .iter()
            .chain(self.writable())
            .chain(computed)
            .find(|f| f.eq_ignore_ascii_case(name))
            .copied()
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

/// Generated project `n`, of account `n`.
pub fn project(ds: &Dataset, n: u64) -> SfRow {
    let p = ds.project(n);
    let row = values(vec![
        ("Name", json!(p.name)),
        ("Budget__c", json!(p.budget as f64)),
        ("Status__c", json!(STATUSES[p.stage])),
        ("Start_Date__c", json!(clock::date(p.start_ms))),
        ("Project_Code__c", json!(p.code)),
        ("Account__c", json!(SObject::Account.id(p.org))),
    ]);
    SfRow {
        values: row,
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
        deleted: false,
    }
}

/// Values of the seeded custom picklists.
const REGIONS: [&str; 3] = ["EMEA", "AMER", "APAC"];
const TIERS: [&str; 3] = ["Gold", "Silver", "Bronze"];
/// `Project__c.Status__c`, a restricted picklist (one value per project
/// stage).
const STATUSES: [&str; 3] = ["Planned", "Active", "Done"];

/// The label a field name reads as.
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
        let project = SObject::Project.id(42);
        assert!(project.starts_with("a0P"));
        assert_eq!(SObject::Project.number(&project), Some(42));
        assert_eq!(SObject::Account.number(&project), None);
    }
}
