//! HubSpot property definitions: every property of each object type with its
//! type, field type and options, as `/crm/v3/properties/{objectType}` and the
//! custom object's schema describe them, and the checks a written value must
//! pass for its type (numbers, enumeration options, dates).

use serde_json::{Value, json};

use super::model::{COLORS, Kind, PROJECT_STATUSES, TIERS};
use crate::clock;

const LIFECYCLE_STAGES: [&str; 8] = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
];

/// One property of an object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    pub name: &'static str,
    /// `None`: the name in sentence case.
    label: Option<&'static str>,
    /// `string`, `number`, `enumeration`, `bool`, `date` or `datetime`.
    pub ty: &'static str,
    pub field_type: &'static str,
    pub options: &'static [&'static str],
    /// HubSpot's own property (the portal's custom ones are not).
    pub hubspot_defined: bool,
    /// Computed by HubSpot; a write is refused.
    pub read_only: bool,
}

impl Property {
    pub fn label(&self) -> String {
        self.label
            .map_or_else(|| sentence_case(self.name), str::to_string)
    }

    /// Whether values are instants or days (compared as times in searches).
    pub fn is_date(&self) -> bool {
        matches!(self.ty, "date" | "datetime")
    }
}

const fn prop(
    name: &'static str,
    label: Option<&'static str>,
    ty: &'static str,
    field_type: &'static str,
    options: &'static [&'static str],
    hubspot_defined: bool,
) -> Property {
    Property {
        name,
        label,
        ty,
        field_type,
        options,
        hubspot_defined,
        read_only: false,
    }
}

/// The read-only properties HubSpot computes for every record.
fn system(kind: Kind) -> [Property; 3] {
    let (created, modified) = match kind {
        Kind::Projects => ("Object create date/time", "Object last modified date/time"),
        _ => ("Create Date", "Last Modified Date"),
    };
    [
        (kind.created_prop(), created, "datetime", "date"),
        ("hs_object_id", "Record ID", "number", "number"),
        (kind.modified_prop(), modified, "datetime", "date"),
    ]
    .map(|(name, label, ty, field_type)| Property {
        read_only: true,
        ..prop(name, Some(label), ty, field_type, &[], true)
    })
}

/// A writable property of `kind`.
fn writable(kind: Kind, name: &'static str) -> Property {
    let custom =
        |label, ty, field_type, options| prop(name, Some(label), ty, field_type, options, false);
    match (kind, name) {
        (Kind::Projects, "project_name") => custom("Project name", "string", "text", &[]),
        (Kind::Projects, "budget") => custom("Budget", "number", "number", &[]),
        (Kind::Projects, "status") => custom("Status", "enumeration", "select", &PROJECT_STATUSES),
        (Kind::Projects, "start_date") => custom("Start date", "date", "date", &[]),
        (Kind::Projects, "project_code") => custom("Project code", "string", "text", &[]),
        (_, "favorite_color") => custom("Favorite color", "enumeration", "select", &COLORS),
        (_, "loyalty_points") => custom("Loyalty points", "number", "number", &[]),
        (_, "newsletter_opt_in") => custom(
            "Newsletter opt-in",
            "bool",
            "booleancheckbox",
            &["true", "false"],
        ),
        (_, "account_tier") => custom("Account tier", "enumeration", "select", &TIERS),
        (_, "partner_since") => custom("Partner since", "date", "date", &[]),
        (_, "numberofemployees") => prop(
            name,
            Some("Number of Employees"),
            "number",
            "number",
            &[],
            true,
        ),
        (_, "lifecyclestage") => prop(
            name,
            Some("Lifecycle Stage"),
            "enumeration",
            "radio",
            &LIFECYCLE_STAGES,
            true,
        ),
        _ => prop(name, None, "string", "text", &[], true),
    }
}

/// Every property of `kind`: the system ones first.
pub fn all(kind: Kind) -> Vec<Property> {
    let mut out = system(kind).to_vec();
    out.extend(kind.writable().iter().map(|name| writable(kind, name)));
    out
}

/// The property `name` of `kind`.
pub fn find(kind: Kind, name: &str) -> Option<Property> {
    all(kind).into_iter().find(|p| p.name == name)
}

/// A property as HubSpot describes it.
pub fn definition(kind: Kind, p: &Property) -> Value {
    let options: Vec<Value> = p
        .options
        .iter()
        .enumerate()
        .map(|(i, v)| json!({ "label": sentence_case(v), "value": v, "displayOrder": i, "hidden": false }))
        .collect();
    let group = match kind {
        Kind::Projects => "projects_information",
        _ if p.hubspot_defined => "contactinformation",
        _ => "custom_properties",
    };
    // HubSpot's own email uniqueness is not a property flag.
    let unique = !p.hubspot_defined && kind.unique_props().contains(&p.name);
    let mut d = json!({
        "name": p.name,
        "label": p.label(),
        "type": p.ty,
        "fieldType": p.field_type,
        "groupName": group,
        "options": options,
        "hasUniqueValue": unique,
        "modificationMetadata": { "archivable": !p.hubspot_defined, "readOnlyDefinition": p.hubspot_defined, "readOnlyValue": p.read_only },
    });
    if p.hubspot_defined {
        d["hubspotDefined"] = json!(true);
    }
    d
}

/// `GET /crm/v3/properties/{objectType}`: every property of `kind`, the
/// portal's custom ones without `hubspotDefined`.
pub fn definitions(kind: Kind) -> Vec<Value> {
    all(kind).iter().map(|p| definition(kind, p)).collect()
}

/// Checks a written (non-empty) value against its property's type; answers
/// the value to store, or HubSpot's error code and message.
pub fn check_value(p: &Property, value: String) -> Result<String, (&'static str, String)> {
    match p.ty {
        "number" if value.trim().parse::<f64>().is_err() => Err((
            "INVALID_INTEGER",
            format!("{value} was not a valid number."),
        )),
        "enumeration" if !p.options.contains(&value.as_str()) => Err((
            "INVALID_OPTION",
            format!(
                "{value} was not one of the allowed options: [{}]",
                p.options.join(", ")
            ),
        )),
        "date" => check_date(value),
        _ => Ok(value),
    }
}

/// A date is `YYYY-MM-DD` or the epoch milliseconds of a UTC midnight; it is
/// stored (and answered) as `YYYY-MM-DD`.
fn check_date(value: String) -> Result<String, (&'static str, String)> {
    if value.len() == 10 && clock::parse(&value).is_some() {
        return Ok(value);
    }
    match value.parse::<i64>() {
        Ok(ms) if ms.rem_euclid(86_400_000) == 0 => Ok(clock::date(ms)),
        Ok(ms) => Err((
            "INVALID_DATE",
            format!(
                "{value} is at {} UTC, not midnight!",
                &clock::iso_millis_z(ms)[11..23]
            ),
        )),
        Err(_) => Err(("INVALID_DATE", format!("{value} was not a valid date."))),
    }
}

/// `first_name` → `First name`.
fn sentence_case(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_their_property_type() {
        let budget = find(Kind::Projects, "budget").expect("budget");
        assert_eq!(check_value(&budget, "1250.5".into()), Ok("1250.5".into()));
        assert_eq!(
            check_value(&budget, "lots".into()).map_err(|e| e.0),
            Err("INVALID_INTEGER")
        );
        let status = find(Kind::Projects, "status").expect("status");
        assert_eq!(check_value(&status, "done".into()), Ok("done".into()));
        assert_eq!(
            check_value(&status, "Done".into()),
            Err((
                "INVALID_OPTION",
                "Done was not one of the allowed options: [planned, active, done]".into()
            ))
        );
        let start = find(Kind::Projects, "start_date").expect("start_date");
        assert_eq!(
            check_value(&start, "1704067200000".into()),
            Ok("2024-01-01".into())
        );
        assert_eq!(
            check_value(&start, "2024-01-01T10:00:00Z".into()).map_err(|e| e.0),
            Err("INVALID_DATE")
        );
        assert!(find(Kind::Projects, "hs_createdate").is_some_and(|p| p.read_only && p.is_date()));
        assert!(find(Kind::Projects, "createdate").is_none());
        assert_eq!(
            find(Kind::Contacts, "jobtitle").map(|p| p.label()),
            Some("Jobtitle".into())
        );
    }
}
