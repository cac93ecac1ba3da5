//! Endgrate's vocabulary on the wire: the enumerated values and generated
//! names that Endgrate's own clients validate strictly (`auth_type`,
//! `method`, `endgrate_provider_type`, integration names such as
//! `get-contacts`), in one place so every answer and webhook says them alike.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::types::subject_object;

/// The direction of a transfer or a session, as Endgrate names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Direction {
    /// Pull: data comes from the provider.
    #[default]
    #[serde(rename = "IMPORT")]
    Import,
    /// Push: data goes to the provider.
    #[serde(rename = "EXPORT")]
    Export,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Import => "IMPORT",
            Direction::Export => "EXPORT",
        }
    }

    /// The verb of integration names: `get-contacts`, `create-contacts`.
    fn verb(self) -> &'static str {
        match self {
            Direction::Import => "get",
            Direction::Export => "create",
        }
    }
}

/// `auth_type` of `provider_info`: `oauth`, `api_key` or `custom`.
pub const AUTH_TYPES: [&str; 3] = ["oauth", "api_key", "custom"];

/// `error_type` of the error log: Endgrate's five.
pub const ERROR_TYPES: [&str; 5] = [
    "internal",
    "integration",
    "upstream",
    "authentication",
    "mapping",
];

/// `endgrate_provider_type`: the category in Endgrate's capitalisation
/// (`crm` → `CRM`, `accounting` → `Accounting`).
pub fn provider_type(category: &str) -> String {
    const ACRONYMS: [&str; 6] = ["crm", "ats", "hris", "erp", "pos", "lms"];
    if ACRONYMS.contains(&category.to_ascii_lowercase().as_str()) {
        return category.to_ascii_uppercase();
    }
    let mut chars = category.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The kebab-case verb-resource name of the integration serving
/// `endgrate_type` in `direction` (`crm-contact`, import → `get-contacts`).
pub fn integration_name(endgrate_type: &str, direction: Direction) -> String {
    // A provider object keeps its own name: `get-project__c`.
    if let Some(object) = subject_object(endgrate_type) {
        return format!("{}-{}", direction.verb(), object.to_lowercase());
    }
    let resource = endgrate_type
        .split_once('-')
        .map_or(endgrate_type, |(_, r)| r);
    format!("{}-{}", direction.verb(), plural(resource))
}

/// The display name of an integration name: `get-contacts` → `Get Contacts`.
pub fn integration_display_name(name: &str) -> String {
    name.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// English plural of a resource name, enough for type names
/// (`company` → `companies`, `address` → `addresses`).
fn plural(word: &str) -> String {
    let consonant_y = word.ends_with('y')
        && !word
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| "aeiou".contains(c));
    if consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

/// Brings a `provider_info` or `integration_info` stored by an earlier
/// version (errors keep a snapshot) to today's wire values.
pub fn upgrade_info(info: &mut Value) {
    let Some(object) = info.as_object_mut() else {
        return;
    };
    if object.get("auth_type").and_then(Value::as_str) == Some("oauth2") {
        object.insert("auth_type".into(), "oauth".into());
    }
    if object.contains_key("auth_type") && !object.contains_key("specific") {
        object.insert("specific".into(), Value::Object(Default::default()));
    }
    if let Some(category) = object
        .get("endgrate_provider_type")
        .and_then(Value::as_str)
        .map(provider_type)
    {
        object.insert("endgrate_provider_type".into(), category.into());
    }
    let upgraded = match object.get("method").and_then(Value::as_str) {
        None | Some("IMPORT" | "EXPORT") => None,
        Some("push") => Some(Direction::Export),
        Some(_) => Some(Direction::Import),
    };
    if let Some(direction) = upgraded {
        object.insert("method".into(), direction.as_str().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integration_names_are_kebab_verb_resource() {
        assert_eq!(
            integration_name("crm-contact", Direction::Import),
            "get-contacts"
        );
        assert_eq!(
            integration_name("crm-company", Direction::Export),
            "create-companies"
        );
        assert_eq!(
            integration_name("accounting-invoice", Direction::Import),
            "get-invoices"
        );
        assert_eq!(
            integration_name("crm-address", Direction::Import),
            "get-addresses"
        );
        assert_eq!(integration_name("crm-key", Direction::Import), "get-keys");
        assert_eq!(
            integration_display_name("get-contacts"),
            "Get Contacts".to_owned()
        );
    }

    #[test]
    fn provider_types_follow_endgrate_capitalisation() {
        assert_eq!(provider_type("crm"), "CRM");
        assert_eq!(provider_type("accounting"), "Accounting");
        assert_eq!(provider_type("Accounting"), "Accounting");
        assert_eq!(provider_type("hris"), "HRIS");
    }

    #[test]
    fn stored_infos_of_earlier_versions_are_upgraded() {
        let mut provider =
            json!({"name": "hubspot", "auth_type": "oauth2", "endgrate_provider_type": "crm"});
        upgrade_info(&mut provider);
        assert_eq!(
            provider,
            json!({"name": "hubspot", "auth_type": "oauth", "specific": {}, "endgrate_provider_type": "CRM"})
        );
        let mut integration = json!({"name": "crm-contact", "method": "pull_push"});
        upgrade_info(&mut integration);
        assert_eq!(integration["method"], "IMPORT");
        let mut push = json!({"method": "push"});
        upgrade_info(&mut push);
        assert_eq!(push["method"], "EXPORT");
        let mut today = json!({"method": "EXPORT"});
        upgrade_info(&mut today);
        assert_eq!(today["method"], "EXPORT");
    }
}
