//! Pipedrive's data and write rules: persons and organizations, field
//! checks (unknown fields, a required name, emails and phones as labelled
//! lists, an existing `org_id`), updates, deletes and the email index behind
//! exact-match search.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::errors::PdError;
use super::model::{self, Kind, PdRow};
use crate::data::Dataset;
use crate::store::Table;

/// Everything the Pipedrive simulator holds.
pub struct Store {
    persons: Table<PdRow>,
    organizations: Table<PdRow>,
    /// Lower-cased email → live person, built on first use.
    emails: Option<HashMap<String, u64>>,
}

fn emails_of(body: &Value) -> Vec<String> {
    body["emails"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["value"].as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

/// Normalises `emails` / `phones`: a list of `{value, primary, label}`.
fn contact_list(field: &str, v: &Value) -> Result<Value, PdError> {
    let items = v
        .as_array()
        .ok_or_else(|| PdError::bad(format!("Validation failed: {field}: must be an array")))?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let value = item["value"].as_str().ok_or_else(|| {
            PdError::bad(format!(
                "Validation failed: {field}[{i}].value: is required"
            ))
        })?;
        out.push(json!({
            "value": value,
            "primary": item["primary"].as_bool().unwrap_or(i == 0),
            "label": item["label"].as_str().unwrap_or("work"),
        }));
    }
    Ok(json!(out))
}

impl Store {
    pub fn new(ds: Dataset) -> Store {
        let (a, b) = (ds, ds);
        Store {
            persons: Table::new(
                ds.people,
                move |n| model::person(&a, n),
                move |n| ds.person_updated(n),
            ),
            organizations: Table::new(
                ds.orgs,
                move |n| model::organization(&b, n),
                move |n| ds.org_updated(n),
            ),
            emails: None,
        }
    }

    pub fn table(&self, kind: Kind) -> &Table<PdRow> {
        match kind {
            Kind::Persons => &self.persons,
            Kind::Organizations => &self.organizations,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut Table<PdRow> {
        match kind {
            Kind::Persons => &mut self.persons,
            Kind::Organizations => &mut self.organizations,
        }
    }

    fn emails(&mut self) -> &mut HashMap<String, u64> {
        if self.emails.is_none() {
            let mut index = HashMap::with_capacity(self.persons.last() as usize);
            for n in self.persons.numbers_from(1) {
                if let Some(p) = self.persons.live(n) {
                    for e in emails_of(&p.body) {
                        index.entry(e).or_insert(n);
                    }
                }
            }
            self.emails = Some(index);
        }
        self.emails.get_or_insert_with(HashMap::new)
    }

    /// Live persons with this email.
    pub fn persons_by_email(&mut self, email: &str) -> Vec<u64> {
        self.emails()
            .get(&email.to_lowercase())
            .copied()
            .into_iter()
            .collect()
    }

    fn reindex(&mut self, n: u64, old: &[String], new: &[String]) {
        let index = self.emails();
        for e in old {
            if index.get(e) == Some(&n) {
                index.remove(e);
            }
        }
        for e in new {
            index.entry(e.clone()).or_insert(n);
        }
    }

    /// Checks request fields and merges them into `into`.
    fn apply(
        &self,
        kind: Kind,
        input: &Map<String, Value>,
        into: &mut Map<String, Value>,
    ) -> Result<(), PdError> {
        for (k, v) in input {
            if !kind.writable().contains(&k.as_str()) {
                return Err(PdError::bad(format!(
                    "Validation failed: {k}: Parameter '{k}' is not allowed for this request"
                )));
            }
            let value = match k.as_str() {
                "emails" | "phones" => contact_list(k, v)?,
                // Only the fields given change; unknown keys are refused.
                "custom_fields" => {
                    let given = v.as_object().ok_or_else(|| {
                        PdError::bad("Validation failed: custom_fields: must be an object")
                    })?;
                    let mut merged = into
                        .get("custom_fields")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    for (key, value) in given {
                        if !kind.custom_fields().contains(&key.as_str()) {
                            return Err(PdError::bad(format!(
                                "Validation failed: custom_fields: Unknown custom field key '{key}'"
                            )));
                        }
                        merged.insert(key.clone(), value.clone());
                    }
                    Value::Object(merged)
                }
                "org_id" if !v.is_null() => {
                    let id = v.as_u64().ok_or_else(|| {
                        PdError::bad("Validation failed: org_id: must be an integer")
                    })?;
                    if !self.organizations.is_live(id) {
                        return Err(PdError::bad(format!(
                            "Validation failed: org_id: Organization with id {id} does not exist"
                        )));
                    }
                    json!(id)
                }
                "name" if v.as_str().is_none_or(|s| s.trim().is_empty()) => {
                    return Err(PdError::bad(
                        "Validation failed: name: Parameter 'name' must be a non-empty string",
                    ));
                }
                _ => v.clone(),
            };
            into.insert(k.clone(), value);
        }
        Ok(())
    }

    /// Creates an entity; `name` is required.
    pub fn create(
        &mut self,
        kind: Kind,
        input: &Map<String, Value>,
        now: i64,
    ) -> Result<u64, PdError> {
        if !input.contains_key("name") {
            return Err(PdError::bad(
                "Validation failed: name: Parameter 'name' is required",
            ));
        }
        let mut body = match kind {
            Kind::Persons => {
                json!({"owner_id": 1, "org_id": null, "emails": [], "phones": [], "visible_to": 3, "label_ids": [], "picture_id": null, "custom_fields": {}})
            }
            Kind::Organizations => {
                json!({"owner_id": 1, "address": null, "visible_to": 3, "label_ids": [], "custom_fields": {}})
            }
        };
        let obj = body
            .as_object_mut()
            .ok_or_else(|| PdError::bad("internal"))?;
        self.apply(kind, input, obj)?;
        if kind == Kind::Persons {
            let name = obj
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
            obj.entry("first_name").or_insert(json!(first));
            obj.entry("last_name").or_insert(json!(last));
        }
        let new_emails = emails_of(&body);
        let n = self.table_mut(kind).insert(PdRow {
            body,
            added_ms: now,
            updated_ms: now,
            deleted: false,
        });
        if kind == Kind::Persons {
            self.reindex(n, &[], &new_emails);
        }
        Ok(n)
    }

    /// Updates a live entity.
    pub fn update(
        &mut self,
        kind: Kind,
        n: u64,
        input: &Map<String, Value>,
        now: i64,
    ) -> Result<(), PdError> {
        let mut row = self
            .table(kind)
            .live(n)
            .map(|r| r.into_owned())
            .ok_or_else(|| PdError::not_found(kind.singular()))?;
        let old_emails = emails_of(&row.body);
        let mut obj = row.body.as_object().cloned().unwrap_or_default();
        self.apply(kind, input, &mut obj)?;
        row.body = Value::Object(obj);
        row.updated_ms = now;
        let new_emails = emails_of(&row.body);
        self.table_mut(kind).put(n, row);
        if kind == Kind::Persons {
            self.reindex(n, &old_emails, &new_emails);
        }
        Ok(())
    }

    /// Deletes a live entity.
    pub fn delete(&mut self, kind: Kind, n: u64, now: i64) -> Result<(), PdError> {
        let mut row = self
            .table(kind)
            .live(n)
            .map(|r| r.into_owned())
            .ok_or_else(|| PdError::not_found(kind.singular()))?;
        let old = emails_of(&row.body);
        row.deleted = true;
        row.updated_ms = now;
        self.table_mut(kind).put(n, row);
        if kind == Kind::Persons {
            self.reindex(n, &old, &[]);
        }
        Ok(())
    }
}
