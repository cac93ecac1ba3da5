//! Object subjects (`object:Project__c`): a custom object's records as its
//! own fields, through the queries and collections Contact and Account use.
//!
//! - A pull runs `SELECT Id, SystemModstamp, <fields> FROM <name> ORDER BY
//!   SystemModstamp ASC` (with `since`: through `queryAll`, `IsDeleted`
//!   selected, `WHERE SystemModstamp >= <since>`) and follows
//!   `nextRecordsUrl` (see [`read_batch`](crate::read_batch)); its
//!   `passthrough-fields` are the fields each record's `data` holds, with
//!   Salesforce's values, nulls left out.
//! - A push writes `data`'s fields through sObject Collections (see
//!   [`push`](crate::push)).
//! - Lookups are batched `IN` queries (see [`find`](crate::find)).
//!
//! Every field name goes into SOQL or a record body only once it is an
//! identifier (see [`field_name`]).

use serde_json::{Map, Value};
use switchyard_connector_sdk::prelude::*;

use crate::client::Org;
use crate::resource::field_name;
use crate::{Listing, is_deleted, read_batch, record_id};

/// What every pull of an object selects first: the id, and the
/// modification time its cursor restarts from.
const BASE_FIELDS: &[&str] = &["Id", "SystemModstamp"];

/// The fields a pull of an object asks for, checked and without repeats.
fn asked(req: &PullRequest) -> Result<Vec<String>, ConnectorError> {
    let mut asked: Vec<String> = Vec::with_capacity(req.passthrough_fields.len());
    for name in &req.passthrough_fields {
        field_name(name)?;
        if !asked.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            asked.push(name.clone());
        }
    }
    Ok(asked)
}

/// One page of records of the custom object `name`.
pub fn pull(org: &Org, name: &str, req: &PullRequest) -> Result<Page, ConnectorError> {
    if let Some(other) = req.associations.first() {
        return Err(ConnectorError::unsupported(format!(
            "Salesforce does not link records of the object {name} to {other}"
        )));
    }
    let asked = asked(req)?;
    let listing = Listing {
        sobject: name,
        fields: BASE_FIELDS,
        extra: &asked,
    };
    let (page, next) = read_batch(org, &listing, req)?;
    let mut records = Vec::with_capacity(page.records.len());
    for raw in &page.records {
        let id = record_id(raw, name)?;
        if is_deleted(raw) {
            records.push(PulledRecord::deleted(id));
            continue;
        }
        records.push(PulledRecord::new(id, &data_of(raw, &asked))?.with_remote(req, raw)?);
    }
    log::debug!("salesforce: pulled {} {name} records", records.len());
    Ok(Page::new(records, next))
}

/// A field's value in a raw record: by its name, else by its name in
/// another case (SOQL names are not case-sensitive).
pub fn value_of<'a>(raw: &'a Value, name: &str) -> Option<&'a Value> {
    let record = raw.as_object()?;
    record.get(name).or_else(|| {
        record
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// The `asked` fields of a raw record (never `attributes`), with
/// Salesforce's values; a field without a value is left out.
pub fn data_of(raw: &Value, asked: &[String]) -> Map<String, Value> {
    asked
        .iter()
        .filter_map(|name| {
            let value = value_of(raw, name).filter(|v| !v.is_null())?;
            Some((name.clone(), value.clone()))
        })
        .collect()
}

fn cannot_store(name: &str, value: &Value) -> ConnectorError {
    ConnectorError::invalid_data(format!(
        "Salesforce cannot store {value} in the field {name}: values are text, numbers, \
         booleans or lists of texts (a multi-select picklist)"
    ))
}

/// The fields to write for one item of an object: its `data` (a JSON
/// object of field names and values, as Salesforce types them), then any
/// passthrough values. `attributes` and `Id` are not fields one writes; a
/// list of texts is a multi-select picklist's `;`-separated value.
pub fn fields_of(item: &PushItem) -> Result<Map<String, Value>, ConnectorError> {
    let data: Map<String, Value> = item.data_as()?;
    let mut fields = Map::new();
    for (name, value) in data.into_iter().chain(item.passthrough_values()?) {
        field_name(&name)?;
        if name.eq_ignore_ascii_case("Id") || name.eq_ignore_ascii_case("attributes") {
            return Err(ConnectorError::invalid_data(format!(
                "Salesforce records are not written with {name} among their fields: an \
                 update names its record by the item's id"
            )));
        }
        let value = match value {
            // A multi-select picklist's values are one `;`-separated text.
            Value::Array(values) => values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .map(|values| Value::String(values.join(";")))
                .ok_or_else(|| cannot_store(&name, &Value::Array(values.clone())))?,
            Value::Object(_) => return Err(cannot_store(&name, &value)),
            scalar => scalar,
        };
        fields.insert(name, value);
    }
    Ok(fields)
}
