//! Salesforce's data and write rules: contacts and accounts, field checks
//! (unknown, read-only, required, malformed or dangling `AccountId`),
//! updates, deletes and upserts by external id.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::errors::SfError;
use super::model::{self, SObject, SfRow};
use crate::data::Dataset;
use crate::store::Table;

/// Everything the Salesforce simulator holds.
pub struct Store {
    contacts: Table<SfRow>,
    accounts: Table<SfRow>,
}

/// The result of an upsert.
pub struct Upserted {
    pub n: u64,
    pub created: bool,
}

impl Store {
    pub fn new(ds: Dataset) -> Store {
        let (a, b) = (ds, ds);
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
        }
    }

    pub fn table(&self, object: SObject) -> &Table<SfRow> {
        match object {
            SObject::Contact => &self.contacts,
            SObject::Account => &self.accounts,
        }
    }

    fn table_mut(&mut self, object: SObject) -> &mut Table<SfRow> {
        match object {
            SObject::Contact => &mut self.contacts,
            SObject::Account => &mut self.accounts,
        }
    }

    /// The live record with this id.
    pub fn find(&self, object: SObject, id: &str) -> Option<u64> {
        object.number(id).filter(|n| self.table(object).is_live(*n))
    }

    /// Checks and normalises request fields (`attributes` is ignored).
    pub fn check(
        &self,
        object: SObject,
        input: &Map<String, Value>,
        creating: bool,
    ) -> Result<BTreeMap<String, Value>, SfError> {
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
            if field == "AccountId"
                && let Some(id) = v.as_str().filter(|s| !s.is_empty())
            {
                if !model::looks_like_id(id) {
                    return Err(SfError::bad(
                        "MALFORMED_ID",
                        format!("Account ID: id value of incorrect type: {id}"),
                    )
                    .with_fields(&["AccountId"]));
                }
                if self.find(SObject::Account, id).is_none() {
                    return Err(SfError::bad(
                        "FIELD_INTEGRITY_EXCEPTION",
                        format!("Account ID: id value of incorrect type: {id}"),
                    )
                    .with_fields(&["AccountId"]));
                }
            }
            out.insert(field.to_string(), v.clone());
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
        Ok(out)
    }

    /// Creates a checked record.
    pub fn create(&mut self, object: SObject, fields: BTreeMap<String, Value>, now: i64) -> u64 {
        let values = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
        self.table_mut(object).insert(SfRow {
            values,
            created_ms: now,
            updated_ms: now,
            deleted: false,
        })
    }

    /// Applies checked fields to a live record (`null` clears).
    pub fn update(
        &mut self,
        object: SObject,
        n: u64,
        fields: BTreeMap<String, Value>,
        now: i64,
    ) -> Result<(), SfError> {
        let mut row = self.live_row(object, n)?;
        for (k, v) in fields {
            if v.is_null() {
                row.values.remove(&k);
            } else {
                row.values.insert(k, v);
            }
        }
        row.updated_ms = now;
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
        let mut row = self.live_row(object, n)?;
        row.deleted = true;
        row.updated_ms = now;
        self.table_mut(object).put(n, row);
        Ok(())
    }

    /// Upsert by `External_Id__c` (or `Id`).
    pub fn upsert(
        &mut self,
        object: SObject,
        field: &str,
        value: &str,
        input: &Map<String, Value>,
        now: i64,
    ) -> Result<Upserted, SfError> {
        let existing = match field {
            f if f.eq_ignore_ascii_case("Id") => self.find(object, value),
            f if f.eq_ignore_ascii_case("External_Id__c") => {
                let table = self.table(object);
                let value = Value::String(value.to_string());
                table.numbers_from(1).find(|n| {
                    table.written(*n).is_some_and(|r| {
                        !r.deleted && r.values.get("External_Id__c") == Some(&value)
                    })
                })
            }
            other => {
                return Err(SfError::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    format!(
                        "Provided external ID field does not exist or is not accessible: {other}"
                    ),
                ));
            }
        };
        match existing {
            Some(n) => {
                let fields = self.check(object, input, false)?;
                self.update(object, n, fields, now)?;
                Ok(Upserted { n, created: false })
            }
            None if field.eq_ignore_ascii_case("Id") => Err(SfError::not_found()),
            None => {
                let mut with_key = input.clone();
                with_key.insert("External_Id__c".into(), Value::String(value.to_string()));
                let fields = self.check(object, &with_key, true)?;
                Ok(Upserted {
                    n: self.create(object, fields, now),
                    created: true,
                })
            }
        }
    }
}
