//! HubSpot's data: contacts and companies (generated on demand, written ones
//! kept), contact-to-company associations and the email index behind the
//! duplicate check; plus the write rules (property validation, duplicate
//! emails, archive).

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::errors::HsError;
use super::model::{self, HsObject, Kind};
use crate::data::Dataset;
use crate::store::Table;

/// Everything the HubSpot simulator holds.
pub struct Store {
    ds: Dataset,
    contacts: Table<HsObject>,
    companies: Table<HsObject>,
    /// Companies of contacts whose associations changed (overrides generated).
    links: HashMap<u64, BTreeSet<u64>>,
    /// Lower-cased email → live contact, built on first use.
    emails: Option<HashMap<String, u64>>,
}

impl Store {
    pub fn new(ds: Dataset) -> Store {
        let (a, b) = (ds, ds);
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
            links: HashMap::new(),
            emails: None,
        }
    }

    pub fn table(&self, kind: Kind) -> &Table<HsObject> {
        match kind {
            Kind::Contacts => &self.contacts,
            Kind::Companies => &self.companies,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut Table<HsObject> {
        match kind {
            Kind::Contacts => &mut self.contacts,
            Kind::Companies => &mut self.companies,
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

    /// Ids of `kind` record `n`'s associated records of the other kind.
    pub fn associated(&self, kind: Kind, n: u64) -> Vec<u64> {
        match kind {
            Kind::Contacts => self.companies_of(n).into_iter().collect(),
            Kind::Companies => self
                .contacts
                .numbers_from(1)
                .filter(|c| self.contacts.is_live(*c) && self.companies_of(*c).contains(&n))
                .collect(),
        }
    }

    /// Associates `from` (of `kind`) with `to` (of the other kind).
    pub fn link(&mut self, kind: Kind, from: u64, to: u64) {
        let (contact, company) = match kind {
            Kind::Contacts => (from, to),
            Kind::Companies => (to, from),
        };
        let mut set = self.companies_of(contact);
        set.insert(company);
        self.links.insert(contact, set);
    }

    /// Removes an association.
    pub fn unlink(&mut self, kind: Kind, from: u64, to: u64) {
        let (contact, company) = match kind {
            Kind::Contacts => (from, to),
            Kind::Companies => (to, from),
        };
        let mut set = self.companies_of(contact);
        set.remove(&company);
        self.links.insert(contact, set);
    }

    fn emails(&mut self) -> &mut HashMap<String, u64> {
        if self.emails.is_none() {
            let mut index = HashMap::with_capacity(self.contacts.last() as usize);
            for n in self.contacts.numbers_from(1) {
                if let Some(c) = self.contacts.live(n)
                    && let Some(email) = c.props.get("email").filter(|e| !e.is_empty())
                {
                    index.insert(email.to_ascii_lowercase(), n);
                }
            }
            self.emails = Some(index);
        }
        self.emails.get_or_insert_with(HashMap::new)
    }

    /// The live contact with this email.
    pub fn contact_by_email(&mut self, email: &str) -> Option<u64> {
        self.emails().get(&email.to_ascii_lowercase()).copied()
    }

    /// Resolves an id (or, with `id_property`, a unique property value) to a
    /// live record number.
    pub fn resolve(&mut self, kind: Kind, id: &str, id_property: Option<&str>) -> Option<u64> {
        match id_property {
            Some("email") if kind == Kind::Contacts => self.contact_by_email(id),
            Some(p) if p != "hs_object_id" => None,
            _ => id.parse().ok().filter(|n| self.table(kind).is_live(*n)),
        }
    }

    /// Validates request properties; returns them as strings.
    pub fn check_props(
        kind: Kind,
        props: &Map<String, Value>,
    ) -> Result<Vec<(String, String)>, HsError> {
        let mut errors = Vec::new();
        let mut out = Vec::new();
        for (name, value) in props {
            let problem = if kind.is_system(name) {
                Some((
                    "READ_ONLY_VALUE",
                    format!("{name} is a read only property; its value cannot be set."),
                ))
            } else if !kind.is_known(name) {
                Some((
                    "PROPERTY_DOESNT_EXIST",
                    format!("Property \"{name}\" does not exist"),
                ))
            } else {
                match model::input_value(value) {
                    Some(v) if name == "email" && !v.is_empty() && !valid_email(&v) => {
                        Some(("INVALID_EMAIL", format!("Email address {v} is invalid")))
                    }
                    Some(v) => {
                        out.push((name.clone(), v));
                        None
                    }
                    None => Some((
                        "INVALID_OPTION",
                        format!("{name} must be a string, number or boolean"),
                    )),
                }
            };
            if let Some((code, message)) = problem {
                errors.push(json!({
                    "isValid": false,
                    "message": message,
                    "error": code,
                    "name": name,
                    "localizedErrorMessage": message,
                }));
            }
        }
        if errors.is_empty() {
            return Ok(out);
        }
        let summary = serde_json::to_string(&errors).unwrap_or_default();
        let details = errors
            .iter()
            .map(|e| json!({"message": e["message"], "code": e["error"], "in": e["name"]}))
            .collect();
        Err(HsError::Validation {
            message: format!("Property values were not valid: {summary}"),
            errors: details,
        })
    }

    /// Parses create-request associations into numbers of the other kind.
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
            let id = item["to"]["id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| item["to"]["id"].as_u64().map(|n| n.to_string()));
            let id = id.ok_or_else(|| invalid("to.id is required".into()))?;
            let types_ok = item["types"].as_array().is_some_and(|types| {
                !types.is_empty()
                    && types.iter().all(|t| {
                        t["associationTypeId"].as_u64()
                            == Some(u64::from(kind.association_type_id()))
                            || t["associationCategory"] == "USER_DEFINED"
                    })
            });
            if !types_ok {
                return Err(invalid(format!(
                    "association type must be HUBSPOT_DEFINED {} for {} to {}",
                    kind.association_type_id(),
                    kind.singular(),
                    kind.other().singular()
                )));
            }
            let n = id
                .parse::<u64>()
                .ok()
                .filter(|n| self.table(kind.other()).is_live(*n))
                .ok_or_else(|| {
                    invalid(format!("{} {id} does not exist", kind.other().singular()))
                })?;
            out.push(n);
        }
        Ok(out)
    }

    /// Creates a record; a duplicate contact email is a 409.
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
        let email = object.props.get("email").map(|e| e.to_ascii_lowercase());
        if kind == Kind::Contacts
            && let Some(email) = &email
        {
            if let Some(existing) = self.contact_by_email(email) {
                return Err(HsError::Conflict { existing });
            }
            object.props.insert("email".into(), email.clone());
        }
        let n = self.table_mut(kind).insert(object);
        if kind == Kind::Contacts {
            if let Some(email) = email {
                self.emails().insert(email, n);
            }
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
        let mut object = current.into_owned();
        let old_email = object.props.get("email").map(|e| e.to_ascii_lowercase());
        for (k, v) in values {
            if v.is_empty() {
                object.props.remove(&k);
            } else if k == "email" {
                object.props.insert(k, v.to_ascii_lowercase());
            } else {
                object.props.insert(k, v);
            }
        }
        let new_email = object.props.get("email").cloned();
        if kind == Kind::Contacts && new_email != old_email {
            if let Some(email) = &new_email
                && let Some(existing) = self.contact_by_email(email).filter(|e| *e != n)
            {
                return Err(HsError::Conflict { existing });
            }
            let index = self.emails();
            if let Some(old) = old_email {
                index.remove(&old);
            }
            if let Some(email) = new_email {
                index.insert(email, n);
            }
        }
        object.updated_ms = now;
        self.table_mut(kind).put(n, object);
        Ok(())
    }

    /// Archives a live record (no-op otherwise).
    pub fn archive(&mut self, kind: Kind, n: u64, now: i64) {
        let Some(current) = self.table(kind).live(n) else {
            return;
        };
        let mut object = current.into_owned();
        if let Some(email) = object.props.get("email") {
            let email = email.to_ascii_lowercase();
            self.emails().remove(&email);
        }
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
                ("createdate", Some(v)) => {
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
        let email = object.props.get("email").map(|e| e.to_ascii_lowercase());
        let n = self.table_mut(kind).insert(object);
        if let Some(email) = email {
            self.emails().insert(email, n);
        }
        n
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
