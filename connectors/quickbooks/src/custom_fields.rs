//! Invoice custom fields. QuickBooks customers have none in the API;
//! invoices (sales forms) carry up to three text fields, which the company
//! turns on and names in its preferences (`SalesFormsPrefs.CustomField`:
//! `UseSalesCustomN` and `SalesCustomNameN`, N being the definition id).
//! Records carry them as `CustomField: [{"DefinitionId", "Name", "Type":
//! "StringType", "StringValue"}]`; discovery names them by their `Name`.

use serde_json::{Value, json};
use switchyard_connector_sdk::prelude::*;

use crate::api::{Company, parse};
use crate::mapping::Kind;

/// The company's sales-form custom fields in use: (definition id, name).
pub fn definitions(company: &Company) -> Result<Vec<(String, String)>, ConnectorError> {
    let answer = parse(company.get("preferences").send()?)?;
    let mut used = Vec::new();
    let mut names = Vec::new();
    let groups = answer
        .pointer("/Preferences/SalesFormsPrefs/CustomField")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for entry in groups.iter().flat_map(|g| {
        g.get("CustomField")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }) {
        let name = entry
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(id) = name.strip_prefix("SalesFormsPrefs.UseSalesCustom")
            && entry.get("BooleanValue").and_then(Value::as_bool) == Some(true)
        {
            used.push(id.to_owned());
        } else if let Some(id) = name.strip_prefix("SalesFormsPrefs.SalesCustomName")
            && let Some(label) = entry.get("StringValue").and_then(Value::as_str)
        {
            names.push((id.to_owned(), label.to_owned()));
        }
    }
    Ok(names
        .into_iter()
        .filter(|(id, label)| used.contains(id) && !label.trim().is_empty())
        .collect())
}

/// Discovery: invoices' custom fields in use (customers have none).
pub fn list(company: &Company, kind: Kind) -> Result<Vec<FieldInfo>, ConnectorError> {
    if kind != Kind::Invoice {
        return Ok(Vec::new());
    }
    Ok(definitions(company)?
        .into_iter()
        .map(|(_, name)| FieldInfo {
            label: name.clone(),
            name,
            json_type: "string".to_owned(),
            custom: true,
            unique: false,
            required: false,
            read_only: false,
            options: Vec::new(),
            mapped: false,
        })
        .collect())
}

/// The value of the custom field named `name` on a raw invoice.
pub fn value_of(raw: &Value, name: &str) -> Option<Value> {
    raw.get("CustomField")?
        .as_array()?
        .iter()
        .find(|f| f.get("Name").and_then(Value::as_str) == Some(name))?
        .get("StringValue")
        .filter(|v| !v.is_null())
        .cloned()
}

/// The `CustomField` entries that set `values` (by name), or which name
/// the company has no such field.
pub fn entries(
    definitions: &[(String, String)],
    values: &serde_json::Map<String, Value>,
) -> Result<Vec<Value>, ConnectorError> {
    values
        .iter()
        .map(|(name, value)| {
            let (id, _) = definitions.iter().find(|(_, n)| n == name).ok_or_else(|| {
                ConnectorError::invalid_data(format!(
                    "this QuickBooks company has no invoice custom field named {name:?}"
                ))
            })?;
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            Ok(json!({ "DefinitionId": id, "Type": "StringType", "StringValue": text }))
        })
        .collect()
}
