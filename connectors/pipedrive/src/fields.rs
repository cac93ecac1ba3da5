//! Finds where an account keeps organizations' website.
//!
//! Pipedrive organizations have no standard website field; accounts add a
//! custom field for it, whose key is a random 40-character hash that differs
//! from one account to the next. The connection setting `website_field_key`
//! names it; without that setting the organization fields are read
//! (`GET /api/v1/organizationFields`) and the one named like "Website" is
//! used. An account without such a field has no website; so, with a
//! warning, has one whose field list is forbidden (`403`) or missing (`404`,
//! as on the local simulator).

use serde::Deserialize;
use serde_json::Value;
use switchyard_connector_sdk::prelude::*;

use crate::api::{Target, read};
use crate::mapping::WebsiteField;

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
    let mut best: Option<(usize, String)> = None;
    let mut start: u64 = 0;
    for _ in 0..MAX_FIELD_PAGES {
        let response = target
            .get("/api/v1/organizationFields")
            .query("start", start)
            .query("limit", FIELDS_PAGE)
            .send()?;
        if matches!(response.status(), 403 | 404) {
            // The website is one field among many: without a way to find it,
            // organizations are still moved, without it.
            log::warn!(
                "pipedrive: organizationFields answered HTTP {}, so no website field",
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
        for raw in answer.records()? {
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
        match next {
            Some(next) if next > start => start = next,
            _ => break,
        }
    }
    let field = best.map(|(_, key)| WebsiteField::from_key(&key));
    if field.is_none() {
        log::info!("pipedrive: the account has no website organization field");
    }
    Ok(field)
}
