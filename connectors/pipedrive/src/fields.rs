//! Finds where an account keeps organizations' website.
//!
//! Pipedrive organizations have no standard website field; accounts add a
//! custom field for it, whose key is a random 40-character hash that differs
//! from one account to the next. The connection setting `website_field_key`
//! names it; without that setting the organization fields are read
//! (`GET /api/v1/organizationFields`) and the one named like "Website" is
//! used. An account without such a field has no website; so, with a
//! warning, has one whose field list is forbidden (`403`) or missing
//! (`404`).

use serde::Deserialize;
use serde_json::Value;
use switchyard_connector_sdk::prelude::*;

use crate::api::{Target, read};
use crate::mapping::{Kind, WebsiteField};

/// Fields asked for per page (Pipedrive's cap for v1 lists).
const FIELDS_PAGE: u32 = 500;

/// Pages read at most (accounts have a few dozen fields).
const MAX_FIELD_PAGES: usize = 10;

/// Field names taken as the website, best first, compared lower-cased with
/// everything but letters and digits removed.
const WEBSITE_NAMES: &[&str] = &[
    "website",
    "companywebsite",
    "websiteurl",
    "web",
    "homepage",
    "url",
];

/// Field types that hold plain text.
const TEXT_TYPES: &[&str] = &["varchar", "varchar_auto", "text"];

/// One entry of `organizationFields`.
#[derive(Debug, Deserialize)]
struct OrgField {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    field_type: Option<String>,
    #[serde(default)]
    active_flag: Option<bool>,
}

impl OrgField {
    /// Where this field ranks among [`WEBSITE_NAMES`], if it is one.
    fn rank(&self) -> Option<usize> {
        if self.active_flag == Some(false) {
            return None;
        }
        if let Some(ty) = &self.field_type
            && !TEXT_TYPES.contains(&ty.as_str())
        {
            return None;
        }
        let name: String = self
            .name
            .as_deref()?
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        WEBSITE_NAMES.iter().position(|n| *n == name)
    }
}

/// The account's website field, if it has one.
pub fn website_field(target: &Target) -> Result<Option<WebsiteField>, ConnectorError> {
    if let Some(key) = target.website_field_key() {
        return Ok(Some(WebsiteField::Custom(key.to_owned())));
    }
    let Some(definitions) = all_fields(target, "/api/v1/organizationFields")? else {
        // The website is one field among many: without a way to find it,
        // organizations are still moved, without it.
        log::warn!("pipedrive: the organization fields cannot be read, so no website field");
        return Ok(None);
    };
    let mut best: Option<(usize, String)> = None;
    for raw in definitions {
        // A field of another shape is not the website.
        let Ok(field) = serde_json::from_value::<OrgField>(raw) else {
            continue;
        };
        if let (Some(rank), Some(key)) = (field.rank(), &field.key)
            && !key.trim().is_empty()
            && best.as_ref().is_none_or(|(r, _)| rank < *r)
        {
            best = Some((rank, key.trim().to_owned()));
        }
    }
    let field = best.map(|(_, key)| WebsiteField::from_key(&key));
    if field.is_none() {
        log::info!("pipedrive: the account has no website organization field");
    }
    Ok(field)
}

/// Discovery: the fields of `kind` (`GET /api/v1/personFields` or
/// `organizationFields`), the company's own (`edit_flag`) marked custom. A
/// custom field's value sits in a record's `custom_fields` under its key
/// (an enum's as its option id); the others at the record's top level.
pub fn list(target: &Target, kind: Kind) -> Result<Vec<FieldInfo>, ConnectorError> {
    let path = match kind {
        Kind::Persons => "/api/v1/personFields",
        Kind::Organizations => "/api/v1/organizationFields",
    };
    let definitions = all_fields(target, path)?.unwrap_or_default();
    Ok(definitions
        .into_iter()
        .filter_map(|raw| serde_json::from_value::<FieldDefinition>(raw).ok())
        .filter(|f| f.active_flag != Some(false) && !f.key.trim().is_empty())
        .map(|f| FieldInfo {
            mapped: kind.mapped_fields().contains(&f.key.as_str()),
            json_type: match f.field_type.as_str() {
                "double" | "monetary" => "number",
                "int" | "enum" | "org" | "user" | "people" => "integer",
                _ => "string",
            }
            .to_owned(),
            custom: f.edit_flag,
            unique: false,
            required: false,
            read_only: matches!(f.key.as_str(), "id" | "add_time" | "update_time"),
            options: f
                .options
                .unwrap_or_default()
                .into_iter()
                .map(|o| (o.id.to_string(), o.label))
                .collect(),
            name: f.key,
            label: f.name,
        })
        .collect())
}

/// Whether `key` names one of the company's own fields: Pipedrive keys them
/// by a 40-character hexadecimal hash.
pub fn is_custom_key(key: &str) -> bool {
    key.len() == 40 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A passthrough field's value on a raw record: a custom field's under
/// `custom_fields`, another at the top level.
pub fn value_of(raw: &Value, key: &str) -> Option<Value> {
    let value = if is_custom_key(key) {
        raw.get("custom_fields")?.get(key)?
    } else {
        raw.get(key)?
    };
    (!value.is_null()).then(|| value.clone())
}

/// One entry of `personFields` / `organizationFields`, as discovery reads it.
#[derive(Debug, Deserialize)]
struct FieldDefinition {
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    field_type: String,
    #[serde(default)]
    edit_flag: bool,
    #[serde(default)]
    active_flag: Option<bool>,
    #[serde(default)]
    options: Option<Vec<FieldOption>>,
}

#[derive(Debug, Deserialize)]
struct FieldOption {
    id: Value,
    #[serde(default)]
    label: String,
}

/// Every field definition at `path`, page by page; `None` when the account
/// may not list them (`403`) or the API has no such list (`404`).
fn all_fields(target: &Target, path: &str) -> Result<Option<Vec<Value>>, ConnectorError> {
    let mut out = Vec::new();
    let mut start: u64 = 0;
    for _ in 0..MAX_FIELD_PAGES {
        let response = target
            .get(path)
            .query("start", start)
            .query("limit", FIELDS_PAGE)
            .send()?;
        if matches!(response.status(), 403 | 404) {
            log::warn!(
                "pipedrive: {path} answered HTTP {}, so no fields from it",
                response.status()
            );
            return Ok(None);
        }
        let answer = read(response)?;
        let next = answer
            .additional
            .pointer("/pagination/more_items_in_collection")
            .and_then(Value::as_bool)
            .filter(|more| *more)
            .and_then(|_| {
                answer
                    .additional
                    .pointer("/pagination/next_start")
                    .and_then(Value::as_u64)
            });
        out.extend(answer.records()?);
        match next {
            Some(next) if next > start => start = next,
            _ => break,
        }
    }
    Ok(Some(out))
}
