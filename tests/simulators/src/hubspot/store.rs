//! HubSpot's data: contacts, companies and projects (generated on demand,
//! written ones kept), contact-to-company associations and the indexes of
//! unique properties (a contact's email, a project's code) behind duplicate
//! checks and `idProperty` lookups; plus the write rules (property
//! validation, required and unique properties, archive).

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::errors::HsError;
use super::model::{self, HsObject, Kind};
use super::properties;
use crate::data::Dataset;
use crate::store::Table;

/// Everything the HubSpot simulator holds.
pub struct Store {
    ds: Dataset,
    contacts: Table<HsObject>,
    companies: Table<HsObject>,
    projects: Table<HsObject>,
    /// Companies of contacts whose associations changed (overrides generated).
    links: HashMap<u64, BTreeSet<u64>>,
    /// Per unique property, lower-cased value → live record, built on first use.
    unique: HashMap<(Kind, &'static str), HashMap<String, u64>>,
}

impl Store {
    pub fn new(ds: Dataset) -> Store {
        let (a, b, c) = (ds, ds, ds);
        Store {
            ds,
            contacts: Table::new(
                ds.people,
                move |n| model::contact(&a, n),
                move |n| ds.person_updated(n),
            ),
            companies: Table::new(
                ds.orgs,
                move |n| model::company(&b, n),
                move |n| ds.org_updated(n),
            ),
            projects: Table::new(
                ds.orgs,
                move |n| model::project(&c, n),
                move |n| ds.org_updated(n),
            ),
            links: HashMap::new(),
            unique: HashMap::new(),
        }
    }

    pub fn table(&self, kind: Kind) -> &Table<HsObject> {
        match kind {
            Kind::Contacts => &self.contacts,
            Kind::Companies => &self.companies,
            Kind::Projects => &self.projects,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut Table<HsObject> {
        match kind {
            Kind::Contacts => &mut self.contacts,
            Kind::Companies => &mut self.companies,
            Kind::Projects => &mut self.projects,
        }
    }

    /// The companies a contact is associated with.
    pub fn companies_of(&self, contact: u64) -> BTreeSet<u64> {
        if let Some(set) = self.links.get(&contact) {
            return set.clone();
        }
        if contact <= self.ds.people {
            let org = self.ds.person_org(contact);
            return org
                .filter(|o| self.companies.is_live(*o))
                .into_iter()
                .collect();
        }
        BTreeSet::new()
    }

    /// Ids of `kind` record `n`'s associated records (of its association's
    /// type).
    pub fn associated(&self, kind: Kind, n: u64) -> Vec<u64> {
        match kind {
            Kind::Contacts => self.companies_of(n).into_iter().collect(),
            Kind::Companies => self
                .contacts
                .numbers_from(1)
                .filter(|c| self.contacts.is_live(*c) && self.companies_of(*c).contains(&n))
                .collect(),
            Kind::Projects => Vec::new(),
        }
    }

    /// The (contact, company) pair of an association from `kind`.
    fn pair(kind: Kind, from: u64, to: u64) -> Option<(u64, u64)> {
        match kind {
            Kind::Contacts => Some((from, to)),
            Kind::Companies => Some((to, from)),
            Kind::Projects => None,
        }
    }

    /// Associates `from` (of `kind`) with `to` (of its association's type).
    pub fn link(&mut self, kind: Kind, from: u64, to: u64) {
        if let Some((contact, company)) = Self::pair(kind, from, to) {
            let mut set = self.companies_of(contact);
            set.insert(company);
            self.links.insert(contact, set);
        }
    }

    /// Removes an association.
    pub fn unlink(&mut self, kind: Kind, from: u64, to: u64) {
        if let Some((contact, company)) = Self::pair(kind, from, to) {
            let mut set = self.companies_of(contact);
            set.remove(&company);
            self.links.insert(contact, set);
        }
    }

    /// The index of unique property `prop` of `kind`.
    fn index(&mut self, kind: Kind, prop: &'static str) -> &mut HashMap<String, u64> {
        if !self.unique.contains_key(&(kind, prop)) {
            let table = self.table(kind);
            let mut index = HashMap::with_capacity(table.last() as usize);
            for n in table.numbers_from(1) {
                if let Some(o) = table.live(n)
                    && let Some(value) = o.props.get(prop).filter(|v| !v.is_empty())
                {
                    index.insert(value.to_ascii_lowercase(), n);
                }
            }
            self.unique.insert((kind, prop), index);
        }
        self.unique.entry((kind, prop)).or_default()
    }

    /// The live record of `kind` whose unique property `prop` is `value`.
    pub fn find_unique(&mut self, kind: Kind, prop: &str, value: &str) -> Option<u64> {
        let prop = kind.unique_props().iter().find(|p| **p == prop)?;
        self.index(kind, prop)
            .get(&value.to_ascii_lowercase())
            .copied()
    }

    /// Points the unique-property indexes at `n`'s current values, dropping
    /// `old` ones.
    fn reindex(&mut self, kind: Kind, n: u64, old: Option<&HsObject>, new: Option<&HsObject>) {
        for prop in kind.unique_props() {
            let value = |o: Option<&HsObject>| {
                o.and_then(|o| o.props.get(*prop))
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_ascii_lowercase())
            };
            let (before, after) = (value(old), value(new));
            let index = self.index(kind, prop);
            if let Some(before) = before
                && index.get(&before) == Some(&n)
            {
                index.remove(&before);
            }
            if let Some(after) = after {
                index.insert(after, n);
            }
        }
    }

    /// A 409 if another live record of `kind` holds one of the unique values
    /// `new` sets (values it keeps from `old` are not checked again).
    fn check_unique(
        &mut self,
        kind: Kind,
        n: Option<u64>,
        old: Option<&HsObject>,
        new: &HsObject,
    ) -> Result<(), HsError> {
        for prop in kind.unique_props() {
            let Some(value) = new.props.get(*prop).filter(|v| !v.is_empty()) else {
                continue;
            };
            if old.and_then(|o| o.props.get(*prop)) == Some(value) {
                continue;
            }
            if let Some(existing) = self
                .find_unique(kind, prop, value)
                .filter(|e| Some(*e) != n)
            {
                return Err(match kind {
                    Kind::Contacts => HsError::contact_exists(existing),
                    _ => HsError::unique_taken(kind, prop, value, existing),
                });
            }
        }
        Ok(())
    }

    /// Resolves an id (or, with `id_property`, a unique property value) to a
    /// live record number.
    pub fn resolve(&mut self, kind: Kind, id: &str, id_property: Option<&str>) -> Option<u64> {
        match id_property {
            Some(p) if p != "hs_object_id" => self.find_unique(kind, p, id),
            _ => id.parse().ok().filter(|n| self.table(kind).is_live(*n)),
        }
    }

    /// Validates request properties (names, read-only ones, values for their
    /// type); returns them as strings to store (empty clears).
    pub fn check_props(
        kind: Kind,
        props: &Map<String, Value>,
    ) -> Result<Vec<(String, String)>, HsError> {
        let mut errors = Vec::new();
        let mut out = Vec::new();
        for (name, value) in props {
            let problem = match properties::find(kind, name) {
                Some(p) if p.read_only => Err((
                    "READ_ONLY_VALUE",
                    format!("{name} is a read only property; its value cannot be set."),
                )),
                None => Err((
                    "PROPERTY_DOESNT_EXIST",
                    format!("Property \"{name}\" does not exist"),
                )),
                Some(p) => match model::input_value(value) {
                    Some(v) if v.is_empty() => Ok(v),
                    Some(v) if name == "email" && !valid_email(&v) => {
                        Err(("INVALID_EMAIL", format!("Email address {v} is invalid")))
                    }
                    Some(v) if name == "email" => Ok(v.to_ascii_lowercase()),
                    Some(v) => properties::check_value(&p, v),
                    None => Err((
                        "INVALID_OPTION",
                        format!("{name} must be a string, number or boolean"),
                    )),
                },
            };
            match problem {
                Ok(v) => out.push((name.clone(), v)),
                Err((code, message)) => errors.push(invalid_property(name, code, message)),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(invalid_properties(errors))
        }
    }

    /// Parses create-request associations into numbers of the associated
    /// type; an object type without associations accepts none.
    pub fn check_associations(
        &self,
        kind: Kind,
        assoc: Option<&Value>,
    ) -> Result<Vec<u64>, HsError> {
        let Some(list) = assoc.filter(|v| !v.is_null()) else {
            return Ok(Vec::new());
        };
        let invalid = |why: String| {
            HsError::validation(format!("One or more associations are invalid: {why}"))
        };
        let items = list
            .as_array()
            .ok_or_else(|| invalid("associations must be an array".into()))?;
        let mut out = Vec::new();
        for item in items {
            let Some(a) = kind.association() else {
                return Err(invalid(format!(
                    "no association is defined from {}",
                    kind.name()
                )));
            };
            let id = item["to"]["id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| item["to"]["id"].as_u64().map(|n| n.to_string()));
            let id = id.ok_or_else(|| invalid("to.id is required".into()))?;
            let types_ok = item["types"].as_array().is_some_and(|types| {
                !types.is_empty()
                    && types.iter().all(|t| {
                        t["associationTypeId"].as_u64() == Some(u64::from(a.type_id))
                            || t["associationCategory"] == "USER_DEFINED"
                    })
            });
            if !types_ok {
                return Err(invalid(format!(
                    "association type must be HUBSPOT_DEFINED {} for {} to {}",
                    a.type_id,
                    kind.singular(),
                    a.to.singular()
                )));
            }
            let n = id
                .parse::<u64>()
                .ok()
                .filter(|n| self.table(a.to).is_live(*n))
                .ok_or_else(|| invalid(format!("{} {id} does not exist", a.to.singular())))?;
            out.push(n);
        }
        Ok(out)
    }

    /// Creates a record: required properties must have values, and a value
    /// a unique property already has elsewhere is a 409.
    pub fn create(
        &mut self,
        kind: Kind,
        props: &Map<String, Value>,
        associations: Option<&Value>,
        now: i64,
    ) -> Result<u64, HsError> {
        let values = Self::check_props(kind, props)?;
        let links = self.check_associations(kind, associations)?;
        let mut object = HsObject {
            props: Default::default(),
            created_ms: now,
            updated_ms: now,
            archived_ms: None,
        };
        for (k, v) in values {
            if !v.is_empty() {
                object.props.insert(k, v);
            }
        }
        let missing: Vec<Value> = kind
            .required_props()
            .iter()
            .filter(|p| !object.props.contains_key(**p))
            .map(|p| invalid_property(p, "REQUIRED_PROPERTY", format!("{p} is required")))
            .collect();
        if !missing.is_empty() {
            return Err(invalid_properties(missing));
        }
        self.check_unique(kind, None, None, &object)?;
        let n = self.table_mut(kind).insert(object.clone());
        self.reindex(kind, n, None, Some(&object));
        if kind == Kind::Contacts {
            self.links.insert(n, BTreeSet::new());
        }
        for to in links {
            self.link(kind, n, to);
        }
        Ok(n)
    }

    /// Updates a live record's properties (an empty value clears one).
    pub fn update(
        &mut self,
        kind: Kind,
        n: u64,
        props: &Map<String, Value>,
        now: i64,
    ) -> Result<(), HsError> {
        let values = Self::check_props(kind, props)?;
        let Some(current) = self.table(kind).live(n) else {
            return Err(HsError::NotFound { id: n.to_string() });
        };
        let old = current.into_owned();
        let mut object = old.clone();
        for (k, v) in values {
            if v.is_empty() {
                object.props.remove(&k);
            } else {
                object.props.insert(k, v);
            }
        }
        self.check_unique(kind, Some(n), Some(&old), &object)?;
        self.reindex(kind, n, Some(&old), Some(&object));
        object.updated_ms = now;
        self.table_mut(kind).put(n, object);
        Ok(())
    }

    /// Archives a live record (no-op otherwise); its unique values are free
    /// again.
    pub fn archive(&mut self, kind: Kind, n: u64, now: i64) {
        let Some(current) = self.table(kind).live(n) else {
            return;
        };
        let mut object = current.into_owned();
        self.reindex(kind, n, Some(&object), None);
        object.archived_ms = Some(now);
        object.updated_ms = now;
        self.table_mut(kind).put(n, object);
    }

    /// Stores an object as given, bypassing validation (for `Control`).
    pub fn seed(&mut self, kind: Kind, props: &Map<String, Value>, now: i64) -> u64 {
        let mut object = HsObject {
            props: Default::default(),
            created_ms: now,
            updated_ms: now,
            archived_ms: None,
        };
        for (k, v) in props {
            match (k.as_str(), model::input_value(v)) {
                (p, Some(v)) if p == kind.created_prop() => {
                    object.created_ms = crate::clock::parse(&v).unwrap_or(now)
                }
                (p, Some(v)) if p == kind.modified_prop() => {
                    object.updated_ms = crate::clock::parse(&v).unwrap_or(now)
                }
                ("hs_object_id", _) => {}
                (_, Some(v)) if !v.is_empty() => {
                    object.props.insert(k.clone(), v);
                }
                _ => {}
            }
        }
        let n = self.table_mut(kind).insert(object.clone());
        self.reindex(kind, n, None, Some(&object));
        n
    }
}

/// One entry of HubSpot's per-property validation errors.
fn invalid_property(name: &str, code: &str, message: String) -> Value {
    json!({
        "isValid": false,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    })
}

/// The 400 listing per-property problems.
fn invalid_properties(errors: Vec<Value>) -> HsError {
    let summary = serde_json::to_string(&errors).unwrap_or_default();
    let details = errors
        .iter()
        .map(|e| json!({"message": e["message"], "code": e["error"], "in": e["name"]}))
        .collect();
    HsError::Validation {
        message: format!("Property values were not valid: {summary}"),
        errors: details,
    }
}

fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}
