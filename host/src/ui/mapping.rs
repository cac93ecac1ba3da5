//! The "Map fields" step (`field_selection`): each field of the app's schema
//! is matched with a field of the provider's record (for custom schemas the
//! end user picks it; default schemas map one to one), shown with an example
//! value from the app's `sample_data` pushes, and given the behaviour a push
//! has when it updates an existing record: overwrite, do not update, or set
//! only if the provider has no value. Rendering, and reading the answer back.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::layout::{Page, Shape, escape};
use super::samples;
use super::selection::{current_resource, schema_label};
use super::steps::{Step, header};
use crate::cdm;
use crate::cdm::mapping::{FieldMapping, provider_path};
use crate::runtime::manifest::Manifest;
use crate::sessions::{ProviderField, Session, SessionSchema, UpsertBehaviour};

/// A field of a common-model record that a custom field may map to.
pub struct Target {
    pub path: String,
    pub label: String,
}

fn humanize(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Follows a local `$ref` (`#/$defs/x`) inside `root`.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/")
            .map(|p| {
                p.split('/')
                    .try_fold(root, |v, part| v.get(part))
                    .unwrap_or(schema)
            })
            .unwrap_or(schema),
        None => schema,
    }
}

fn has_type(schema: &Value, ty: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == ty,
        Some(Value::Array(ts)) => ts.iter().any(|t| t == ty),
        _ => false,
    }
}

/// Every field of a common-model schema a custom field can map to: plain
/// fields, fields of nested objects, and fields of a list's first element
/// (`email_addresses.0.email_address`).
pub fn targets(common: &Value) -> Vec<Target> {
    let mut out = Vec::new();
    let Some(props) = common.get("properties").and_then(Value::as_object) else {
        return out;
    };
    for (name, prop) in props {
        let prop = resolve(common, prop);
        let nested = if has_type(prop, "array") {
            prop.get("items")
                .map(|items| resolve(common, items))
                .map(|item| (item, format!("{name}.0")))
        } else if has_type(prop, "object") {
            Some((prop, name.clone()))
        } else {
            None
        };
        match nested.and_then(|(item, base)| {
            item.get("properties")
                .and_then(Value::as_object)
                .map(|p| (p, base))
        }) {
            Some((sub, base)) => {
                let group = humanize(name);
                let singular = group
                    .strip_suffix("es")
                    .filter(|s| s.ends_with("ss"))
                    .or_else(|| group.strip_suffix('s'))
                    .unwrap_or(&group)
                    .to_owned();
                for sub_name in sub.keys() {
                    let sub_label = humanize(sub_name);
                    // "Email address", not "Email addresses › Email address".
                    let label = if sub_label.starts_with(&singular) {
                        sub_label
                    } else {
                        format!("{singular} › {}", sub_label.to_lowercase())
                    };
                    out.push(Target {
                        path: format!("{base}.{sub_name}"),
                        label,
                    });
                }
            }
            None => out.push(Target {
                path: name.clone(),
                label: humanize(name),
            }),
        }
    }
    out
}

/// The common-model schema a schema's records are read from and written to.
fn common_schema<'a>(schema: &SessionSchema, manifest: &Manifest) -> Option<&'a Value> {
    current_resource(schema, manifest)
        .and_then(|i| cdm::default_schema(&i.endgrate_type))
        .or_else(|| {
            schema
                .endgrate_type
                .as_deref()
                .and_then(cdm::default_schema)
        })
}

/// The mapping the page starts from: the session's, or same-name fields.
fn starting_mapping(schema: &SessionSchema, manifest: &Manifest) -> FieldMapping {
    if let Some(m) = &schema.mapping {
        return m.clone();
    }
    let common: Vec<String> = common_schema(schema, manifest)
        .map(|c| targets(c).into_iter().map(|t| t.path).collect())
        .unwrap_or_default();
    FieldMapping::by_name(&cdm::schema_fields(&schema.schema), &common)
}

const BEHAVIOURS: [(UpsertBehaviour, &str); 3] = [
    (UpsertBehaviour::Overwrite, "Overwrite"),
    (UpsertBehaviour::DoNotUpdate, "Do not update"),
    (UpsertBehaviour::SetIfNotSet, "Set if not set"),
];

/// The provider fields a schema may carry beside its own, offered on the
/// field step, with a value each has on one of the account's records.
pub struct OfferedFields {
    pub fields: Vec<ProviderField>,
    /// By field name; a field no record has a value for has none.
    pub examples: serde_json::Map<String, Value>,
}

pub fn page(
    session: &Session,
    manifest: &Manifest,
    steps: &[Step],
    samples: &HashMap<String, BTreeMap<String, String>>,
    offered: &HashMap<usize, OfferedFields>,
    editing: bool,
    problem: Option<&str>,
) -> Page<'static> {
    let provider = escape(&manifest.display_name);
    let mut body = header(steps, Step::Fields, Some(manifest), "Match your fields");
    body.push_str(&format!(
        "<p class=\"lead\">Tell us which {provider} field holds each piece of data, and what happens when a record already exists in {provider}.</p>"
    ));
    if let Some(p) = problem {
        body.push_str(&format!(
            "<div class=\"notice error\" role=\"alert\">{}</div>",
            escape(p)
        ));
    }
    body.push_str(&format!(
        "<form class=\"stack\" method=\"post\" action=\"/session/fields\" id=\"fields-form\">\
         <input type=\"hidden\" name=\"session_id\" value=\"{}\">",
        escape(&session.id)
    ));
    for (i, schema) in session.schemas.iter().enumerate() {
        if !schema.enabled || schema.passthrough {
            continue;
        }
        let fields = cdm::schema_fields(&schema.schema);
        if fields.is_empty() {
            continue;
        }
        let empty = BTreeMap::new();
        let examples = samples.get(&schema.name).unwrap_or(&empty);
        let mapping = starting_mapping(schema, manifest);
        let options = common_schema(schema, manifest)
            .map(targets)
            .unwrap_or_default();
        body.push_str(&format!(
            "<fieldset class=\"mapping\" id=\"mapping-{i}\"><legend>{}</legend>\
             <div class=\"map-head\" aria-hidden=\"true\"><span>Your field</span><span>{provider} field</span><span>When it exists</span></div>",
            escape(&schema_label(schema))
        ));
        for field in &fields {
            let f = escape(field);
            let example = match examples.get(field) {
                Some(v) => format!(
                    "<span class=\"sample\" title=\"Example from your data\">{}</span>",
                    escape(v)
                ),
                None => "<span class=\"sample none\">No example yet</span>".into(),
            };
            let target = if schema.custom {
                let current = mapping.0.get(field);
                let mut select = format!(
                    "<select name=\"map:{i}:{f}\" id=\"map-{i}-{f}\" aria-label=\"{provider} field for {f}\">\
                     <option value=\"\">— Don't sync —</option>"
                );
                for t in &options {
                    select.push_str(&format!(
                        "<option value=\"{p}\"{sel}>{l}</option>",
                        p = escape(&t.path),
                        sel = if current == Some(&t.path) {
                            " selected"
                        } else {
                            ""
                        },
                        l = escape(&t.label),
                    ));
                }
                // The provider's own fields (custom ones above all), which
                // the common model does not carry.
                if let Some(offer) = offered.get(&i) {
                    select.push_str(&format!("<optgroup label=\"More {provider} fields\">"));
                    for f in &offer.fields {
                        let path = provider_path(&f.name);
                        select.push_str(&format!(
                            "<option value=\"{p}\"{sel}>{l}{c}</option>",
                            p = escape(&path),
                            sel = if current == Some(&path) {
                                " selected"
                            } else {
                                ""
                            },
                            l = escape(&f.title),
                            c = if f.custom { " (custom)" } else { "" },
                        ));
                    }
                    select.push_str("</optgroup>");
                }
                select.push_str("</select>");
                select
            } else {
                format!(
                    "<span class=\"fixed-target\">{provider} {}</span>",
                    escape(&humanize(field))
                )
            };
            let chosen = schema.upsert.get(field).copied().unwrap_or_default();
            let mut behaviour = format!(
                "<select name=\"upsert:{i}:{f}\" id=\"upsert-{i}-{f}\" aria-label=\"When {f} already has a value in {provider}\">"
            );
            for (b, label) in BEHAVIOURS {
                behaviour.push_str(&format!(
                    "<option value=\"{}\"{}>{label}</option>",
                    b.as_str(),
                    if b == chosen { " selected" } else { "" }
                ));
            }
            behaviour.push_str("</select>");
            body.push_str(&format!(
                "<div class=\"map-row\"><div class=\"map-source\"><span class=\"field-name\">{f}</span>{example}</div>\
                 <div class=\"map-target\"><span class=\"arrow\" aria-hidden=\"true\"></span><span class=\"mini-label\" aria-hidden=\"true\">{provider} field</span>{target}</div>\
                 <div class=\"map-behaviour\"><span class=\"mini-label\" aria-hidden=\"true\">When it exists</span>{behaviour}</div></div>"
            ));
        }
        if let Some(offer) = offered
            .get(&i)
            .filter(|_| session.options.passthrough_fields)
        {
            body.push_str(&passthrough_choices(i, schema, offer, &provider));
        }
        body.push_str("</fieldset>");
    }
    let label = if editing { "Save changes" } else { "Finish" };
    body.push_str(&format!(
        "<button class=\"btn primary block\" type=\"submit\" id=\"finish\"><span class=\"btn-label\">{label}</span><span class=\"spinner\" aria-hidden=\"true\"></span></button></form>"
    ));
    Page {
        title: "Match your fields",
        shape: Shape::Card,
        scripts: &["connect.js"],
        body,
    }
}

/// The provider fields schema `i` can carry beside its own
/// (`passthrough_fields` with `field_selection`), each a checkbox: the ones
/// chosen before, or all at first. The hidden input says the choice was
/// offered, so that unchecking every box means none.
fn passthrough_choices(
    i: usize,
    schema: &SessionSchema,
    offer: &OfferedFields,
    provider: &str,
) -> String {
    let mut out = format!(
        "<div class=\"choices passthrough-choices\" id=\"passthrough-{i}\">\
         <p class=\"choices-head\">More {provider} fields to include</p>\
         <input type=\"hidden\" name=\"passthrough-offered:{i}\" value=\"1\">"
    );
    for (k, field) in offer.fields.iter().enumerate() {
        let example = offer
            .examples
            .get(&field.name)
            .and_then(samples::display)
            .map(|text| format!(" · e.g. {}", escape(&text)))
            .unwrap_or_default();
        let on = schema
            .passthrough_choice
            .as_ref()
            .is_none_or(|chosen| chosen.contains(&field.name));
        let kind = if field.custom {
            "Custom field"
        } else {
            "Standard field"
        };
        out.push_str(&format!(
            "<div class=\"choice\"><label class=\"choice-main\" for=\"passthrough-{i}-{k}\">\
             <input type=\"checkbox\" id=\"passthrough-{i}-{k}\" name=\"passthrough:{i}:{n}\" value=\"on\"{checked}>\
             <span class=\"choice-text\"><span class=\"choice-name\">{t}</span><span class=\"choice-meta\">{kind} · {n}{example}</span></span></label></div>",
            n = escape(&field.name),
            t = escape(&field.title),
            checked = if on { " checked" } else { "" },
        ));
    }
    out.push_str("</div>");
    out
}

/// Applies the form's answer; `Err` says what to correct.
pub fn apply(
    session: &mut Session,
    manifest: &Manifest,
    form: &[(String, String)],
    offered: &HashMap<usize, Vec<ProviderField>>,
) -> Result<(), String> {
    let values: HashMap<&str, &str> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut updates = Vec::new();
    for (i, schema) in session.schemas.iter().enumerate() {
        if !schema.enabled || schema.passthrough {
            continue;
        }
        let fields = cdm::schema_fields(&schema.schema);
        let mut upsert = BTreeMap::new();
        for field in &fields {
            if let Some(text) = values.get(format!("upsert:{i}:{field}").as_str()) {
                let b = UpsertBehaviour::parse(text)
                    .ok_or_else(|| format!("Choose what happens to {field} when it exists."))?;
                if b != UpsertBehaviour::Overwrite {
                    upsert.insert(field.clone(), b);
                }
            }
        }
        let mapping = if schema.custom {
            let mut allowed: Vec<String> = common_schema(schema, manifest)
                .map(|c| targets(c).into_iter().map(|t| t.path).collect())
                .unwrap_or_default();
            allowed.extend(
                offered
                    .get(&i)
                    .into_iter()
                    .flatten()
                    .map(|f| provider_path(&f.name)),
            );
            let mut m = BTreeMap::new();
            for field in &fields {
                match values.get(format!("map:{i}:{field}").as_str()).copied() {
                    Some("") | None => {}
                    Some(path) if allowed.iter().any(|a| a == path) => {
                        m.insert(field.clone(), path.to_owned());
                    }
                    Some(_) => {
                        return Err(format!(
                            "{field} cannot be matched with that {} field; pick one from the list.",
                            manifest.display_name
                        ));
                    }
                }
            }
            if m.is_empty() {
                return Err(format!(
                    "Match at least one field of {} so there is something to sync.",
                    schema_label(schema)
                ));
            }
            Some(FieldMapping(m))
        } else {
            None
        };
        // The passthrough fields chosen, when the choice was offered.
        let chosen = values
            .contains_key(format!("passthrough-offered:{i}").as_str())
            .then(|| {
                let prefix = format!("passthrough:{i}:");
                form.iter()
                    .filter_map(|(k, _)| k.strip_prefix(&prefix).map(str::to_owned))
                    .collect::<Vec<String>>()
            });
        updates.push((i, mapping, upsert, chosen));
    }
    for (i, mapping, upsert, chosen) in updates {
        if let Some(schema) = session.schemas.get_mut(i) {
            if mapping.is_some() {
                schema.mapping = mapping;
            }
            schema.upsert = upsert;
            if chosen.is_some() {
                schema.passthrough_choice = chosen;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_targets_reach_into_lists() {
        let common = cdm::default_schema("crm-contact").unwrap();
        let paths: Vec<String> = targets(common).into_iter().map(|t| t.path).collect();
        assert!(paths.contains(&"first_name".to_owned()));
        assert!(paths.contains(&"email_addresses.0.email_address".to_owned()));
        assert!(paths.contains(&"addresses.0.city".to_owned()));
    }
}
