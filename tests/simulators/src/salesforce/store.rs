//! Salesforce's data and write rules: contacts, accounts and projects, field
//! checks (unknown, read-only, required, values for their type, restricted
//! picklists, malformed or dangling references, duplicate unique values),
//! updates, deletes and upserts by external id, with an index of external-id
//! values behind upserts and duplicate checks.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use serde_json::{Map, Number, Value};

use super::errors::SfError;
use super::model::{self, FieldType, SObject, SfRow};
use crate::data::Dataset;
use crate::store::Table;

/// Lower-cased external-id value → live record, built on first use.
type Index = OnceCell<HashMap<String, u64>>;

/// Everything the Salesforce simulator holds.
pub struct Store {
    contacts: Table<SfRow>,
    accounts: Table<SfRow>,
    projects: Table<SfRow>,
    /// One index per (object, external-id field).
    external: HashMap<(SObject, &'static str), Index>,
}

/// The result of an upsert.
pub struct Upserted {
    pub n: u64,
    pub created: bool,
}

impl Store {
    pub fn new(ds: Dataset) -> Store {
        let (a, b, c) = (ds, ds, ds);
        let external = SObject::ALL
            .into_iter()
            .flat_map(|o| {
                o.external_ids()
                    .iter()
                    .map(move |f| ((o, *f), Index::new()))
            })
            .collect();
        Store {
            contacts: Table::new(
                ds.people,
                move |n| model::contact(&a, n),
                move |n| ds.person_updated(n),
            ),
            accounts: Table::new(
                ds.orgs,
                move |n| model::account(&b, n),
                move |n| ds.org_updated(n),
            ),
            projects: Table::new(
                ds.orgs,
                move |n| model::project(&c, n),
                move |n| ds.org_updated(n),
            ),
            external,
        }
    }

    pub fn table(&self, object: SObject) -> &Table<SfRow> {
        match object {
            SObject::Contact => &self.contacts,
            SObject::Account => &self.accounts,
            SObject::Project => &self.projects,
        }
    }

    fn table_mut(&mut self, object: SObject) -> &mut Table<SfRow> {
        match object {
            SObject::Contact => &mut self.contacts,
            SObject::Account => &mut self.accounts,
            SObject::Project => &mut self.projects,
        }
    }

    /// The live record with this id.
    pub fn find(&self, object: SObject, id: &str) -> Option<u64> {
        object.number(id).filter(|n| self.table(object).is_live(*n))
    }

    /// The live record whose external id `field` is `value` (any case).
    pub fn find_external(&self, object: SObject, field: &'static str, value: &str) -> Option<u64> {
        let index = self.external.get(&(object, field))?.get_or_init(|| {
            let table = self.table(object);
            let generated = object.generates_external_ids();
            // Generated rows are only derived when they carry external ids.
            let rows = table
                .numbers_from(1)
                .filter_map(|n| match table.written(n) {
                    Some(r) => Some((n, Cow::Borrowed(r))),
                    None if generated => table.get(n).map(|r| (n, r)),
                    None => None,
                });
            rows.filter(|(_, row)| !row.deleted)
                .filter_map(|(n, row)| {
                    let value = row.values.get(field)?.as_str()?.to_lowercase();
                    Some((value, n))
                })
                .collect()
        });
        index.get(&value.to_lowercase()).copied()
    }

    /// Points the external-id indexes (those built) at record `n`'s values:
    /// `old` ones dropped, `new` ones (a live row's) added.
    fn reindex(&mut self, object: SObject, n: u64, old: Option<&SfRow>, new: Option<&SfRow>) {
        for field in object.external_ids() {
            let Some(index) = self
                .external
                .get_mut(&(object, *field))
                .and_then(OnceCell::get_mut)
            else {
                continue;
            };
            let value = |r: Option<&SfRow>| {
                r.filter(|r| !r.deleted)
                    .and_then(|r| r.values.get(*field))
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
            };
            if let Some(before) = value(old)
                && index.get(&before) == Some(&n)
            {
                index.remove(&before);
            }
            if let Some(after) = value(new) {
                index.insert(after, n);
            }
        }
    }

    /// `DUPLICATE_VALUE` if a unique field of `fields` repeats another live
    /// record's value (record `n` itself aside).
    fn check_duplicates(
        &self,
        object: SObject,
        n: Option<u64>,
        fields: &BTreeMap<String, Value>,
    ) -> Result<(), SfError> {
        for field in object.external_ids() {
            if !object.is_unique(field) {
                continue;
            }
            let Some(value) = fields.get(*field).and_then(Value::as_str) else {
                continue;
            };
            if let Some(other) = self
                .find_external(object, field, value)
                .filter(|o| Some(*o) != n)
            {
                return Err(duplicate(field, &object.id(other)));
            }
        }
        Ok(())
    }

    /// Checks and normalises request fields (`attributes` is ignored);
    /// `n` is the record an update writes to.
    pub fn check(
        &self,
        object: SObject,
        input: &Map<String, Value>,
        n: Option<u64>,
    ) -> Result<BTreeMap<String, Value>, SfError> {
        let creating = n.is_none();
        let mut out = BTreeMap::new();
        let mut read_only = Vec::new();
        for (k, v) in input {
            if k == "attributes" {
                continue;
            }
            let Some(field) = object.field(k) else {
                return Err(SfError::bad(
                    "INVALID_FIELD",
                    format!("No such column '{k}' on sobject of type {}", object.name()),
                ));
            };
            if !object.writable().contains(&field) {
                read_only.push(field);
                continue;
            }
            if !matches!(
                v,
                Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
            ) {
                return Err(SfError::bad(
                    "JSON_PARSER_ERROR",
                    format!("Cannot deserialize instance of {field} from a JSON object or array"),
                )
                .with_fields(&[field]));
            }
            let value = self.check_value(object, field, v)?;
            out.insert(field.to_string(), value);
        }
        if !read_only.is_empty() {
            return Err(SfError::bad(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!("Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", read_only.join(", ")),
            )
            .with_fields(&read_only));
        }
        let required = object.required();
        let blank = |v: Option<&Value>| {
            v.is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
        };
        if (creating && blank(out.get(required)))
            || (!creating && out.contains_key(required) && blank(out.get(required)))
        {
            return Err(SfError::bad(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{required}]"),
            )
            .with_fields(&[required]));
        }
        self.check_duplicates(object, n, &out)?;
        Ok(out)
    }

    /// A value for its field's type (`null` always passes: it clears).
    fn check_value(
        &self,
        object: SObject,
        field: &'static str,
        v: &Value,
    ) -> Result<Value, SfError> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let ty = object.field_type(field);
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let not_a = |what: &str| {
            SfError::bad(
                "JSON_PARSER_ERROR",
                format!("Cannot deserialize instance of {what} from VALUE_STRING value {text} or request may be missing a required field"),
            )
            .with_fields(&[field])
        };
        match ty {
            FieldType::Int | FieldType::Double | FieldType::Currency => {
                let parsed = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                let number = match (ty, parsed) {
                    (FieldType::Int, Some(x)) if x.fract() == 0.0 => Some(Number::from(x as i64)),
                    (FieldType::Int, _) => None,
                    (_, Some(x)) => Number::from_f64(x),
                    (_, None) => None,
                };
                number.map(Value::Number).ok_or_else(|| not_a(ty.name()))
            }
            FieldType::Date => match v.as_str() {
                Some(s) if s.len() == 10 && crate::clock::parse(s).is_some() => Ok(v.clone()),
                _ => Err(not_a("date")),
            },
            FieldType::Picklist {
                values,
                restricted: true,
            } if !values.contains(&text.as_str()) => Err(SfError::bad(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                format!(
                    "{}: bad value for restricted picklist field: {text}",
                    object.field_label(field)
                ),
            )
            .with_fields(&[field])),
            FieldType::Reference(to) if !text.is_empty() => {
                let label = object.field_label(field);
                if !model::looks_like_id(&text) {
                    return Err(SfError::bad(
                        "MALFORMED_ID",
                        format!("{label}: id value of incorrect type: {text}"),
                    )
                    .with_fields(&[field]));
                }
                if self.find(to, &text).is_none() {
                    return Err(SfError::bad(
                        "FIELD_INTEGRITY_EXCEPTION",
                        format!("{label}: id value of incorrect type: {text}"),
                    )
                    .with_fields(&[field]));
                }
                Ok(v.clone())
            }
            _ => Ok(v.clone()),
        }
    }

    /// Creates a checked record (a duplicate unique value is refused again,
    /// in case an earlier write of the same request took it).
    pub fn create(
        &mut self,
        object: SObject,
        fields: BTreeMap<String, Value>,
        now: i64,
    ) -> Result<u64, SfError> {
        self.check_duplicates(object, None, &fields)?;
        let values = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
        let row = SfRow {
            values,
            created_ms: now,
            updated_ms: now,
            deleted: false,
        };
        let n = self.table_mut(object).insert(row.clone());
        self.reindex(object, n, None, Some(&row));
        Ok(n)
    }

    /// Applies checked fields to a live record (`null` clears).
    pub fn update(
        &mut self,
        object: SObject,
        n: u64,
        fields: BTreeMap<String, Value>,
        now: i64,
    ) -> Result<(), SfError> {
        let old = self.live_row(object, n)?;
        self.check_duplicates(object, Some(n), &fields)?;
        let mut row = old.clone();
        for (k, v) in fields {
            if v.is_null() {
                row.values.remove(&k);
            } else {
                row.values.insert(k, v);
            }
        }
        row.updated_ms = now;
        self.reindex(object, n, Some(&old), Some(&row));
        self.table_mut(object).put(n, row);
        Ok(())
    }

    fn live_row(&self, object: SObject, n: u64) -> Result<SfRow, SfError> {
        match self.table(object).get(n) {
            Some(r) if r.deleted => Err(SfError::new(
                StatusCode::NOT_FOUND,
                "ENTITY_IS_DELETED",
                "entity is deleted",
            )),
            Some(r) => Ok(r.into_owned()),
            None => Err(SfError::not_found()),
        }
    }

    /// Deletes a live record (it stays queryable through `queryAll`).
    pub fn delete(&mut self, object: SObject, n: u64, now: i64) -> Result<(), SfError> {
        let old = self.live_row(object, n)?;
        let mut row = old.clone();
        row.deleted = true;
        row.updated_ms = now;
        self.reindex(object, n, Some(&old), None);
        self.table_mut(object).put(n, row);
        Ok(())
    }

    /// Upsert by an external id (`External_Id__c`, `Project_Code__c`) or `Id`.
    pub fn upsert(
        &mut self,
        object: SObject,
        field: &str,
        value: &str,
        input: &Map<String, Value>,
        now: i64,
    ) -> Result<Upserted, SfError> {
        let external = object
            .external_ids()
            .iter()
            .find(|f| f.eq_ignore_ascii_case(field))
            .copied();
        let existing = match external {
            _ if field.eq_ignore_ascii_case("Id") => self.find(object, value),
            Some(f) => self.find_external(object, f, value),
            None => {
                return Err(SfError::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    format!(
                        "Provided external ID field does not exist or is not accessible: {field}"
                    ),
                ));
            }
        };
        match (existing, external) {
            (Some(n), _) => {
                let fields = self.check(object, input, Some(n))?;
                self.update(object, n, fields, now)?;
                Ok(Upserted { n, created: false })
            }
            (None, Some(key)) => {
                let mut with_key = input.clone();
                with_key.insert(key.into(), Value::String(value.to_string()));
                let fields = self.check(object, &with_key, None)?;
                Ok(Upserted {
                    n: self.create(object, fields, now)?,
                    created: true,
                })
            }
            (None, None) => Err(SfError::not_found()),
        }
    }
}

/// `DUPLICATE_VALUE`: record `id` already has this value in `field`.
pub fn duplicate(field: &str, id: &str) -> SfError {
    SfError::bad(
        "DUPLICATE_VALUE",
        format!("duplicate value found: {field} duplicates value on record with id: {id}"),
    )
    .with_fields(&[field])
}
