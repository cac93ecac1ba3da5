//! The "Choose data" step: which of the session's schemas to share
//! (`schema_selection`), which provider resource serves each
//! (`resource_selection`), and which of the provider's other objects to share
//! as passthrough schemas (`passthrough_schemas`). Rendering the form, and
//! reading its answer back onto the session.

use std::collections::HashMap;

use super::layout::{Page, Shape, escape};
use super::steps::{Step, header, passthrough_candidates, passthrough_schema_name};
use crate::cdm;
use crate::runtime::manifest::{Integration, Manifest};
use crate::sessions::discovery::object_schema;
use crate::sessions::{Session, SessionSchema};

/// The integrations that may serve `schema`: the one of its type first, then
/// the provider's custom objects.
pub fn resource_options<'a>(
    schema: &SessionSchema,
    manifest: &'a Manifest,
) -> Vec<&'a Integration> {
    if schema.open_resource {
        return manifest.integrations.iter().collect();
    }
    let wanted = schema.endgrate_type.as_deref().unwrap_or(&schema.name);
    let mut out: Vec<&Integration> = manifest
        .integrations
        .iter()
        .filter(|i| i.endgrate_type == wanted)
        .collect();
    for i in &manifest.integrations {
        let same_category = i.endgrate_type.split('-').next() == wanted.split('-').next();
        if !out.contains(&i) && (i.is_custom_object || (schema.custom && same_category)) {
            out.push(i);
        }
    }
    out
}

/// The integration serving `schema` now (chosen, or the default of its
/// type; a schema given by title only has none until the end user picks).
pub fn current_resource<'a>(
    schema: &SessionSchema,
    manifest: &'a Manifest,
) -> Option<&'a Integration> {
    let chosen = schema
        .integration
        .as_deref()
        .and_then(|i| manifest.integration(i));
    if schema.open_resource {
        return chosen;
    }
    chosen.or_else(|| resource_options(schema, manifest).into_iter().next())
}

/// Binds a schema given by title only to the resource the end user picked:
/// its records take that resource's common-model shape.
fn bind_open_resource(schema: &mut SessionSchema, chosen: &str) {
    schema.integration = Some(chosen.to_owned());
    if let Some(default) = cdm::default_schema(chosen) {
        let mut shaped = default.clone();
        shaped["title"] = serde_json::Value::String(schema.name.clone());
        schema.schema = shaped;
        schema.endgrate_type = Some(chosen.to_owned());
    }
}

/// What people call a schema: a default type's plural ("Contacts"), a
/// custom schema's title.
pub fn schema_label(schema: &SessionSchema) -> String {
    match (&schema.endgrate_type, schema.custom) {
        (Some(t), false) => type_label(t),
        _ => schema
            .schema
            .get("title")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(&schema.name)
            .to_owned(),
    }
}

/// `crm-contact` → `Contacts`.
pub fn type_label(endgrate_type: &str) -> String {
    match endgrate_type {
        "crm-contact" => "Contacts".into(),
        "crm-company" => "Companies".into(),
        "accounting-customer" => "Customers".into(),
        "accounting-invoice" => "Invoices".into(),
        other => other.to_owned(),
    }
}

fn access_label(i: &Integration) -> &'static str {
    match (i.supports_pull, i.supports_push) {
        (true, true) => "Read and write",
        (true, false) => "Read only",
        (false, true) => "Write only",
        (false, false) => "No access",
    }
}

pub fn page(
    session: &Session,
    manifest: &Manifest,
    steps: &[Step],
    editing: bool,
    problem: Option<&str>,
) -> Page<'static> {
    let opts = &session.options;
    let provider = escape(&manifest.display_name);
    let mut body = header(steps, Step::Data, Some(manifest), "Choose what to share");
    body.push_str(&format!(
        "<p class=\"lead\">Pick the {provider} data {app} may use. You can change this later.</p>",
        app = opts
            .name
            .as_deref()
            .map(|n| format!("<strong>{}</strong>", escape(n)))
            .unwrap_or_else(|| "this app".into()),
    ));
    if let Some(p) = problem {
        body.push_str(&format!(
            "<div class=\"notice error\" role=\"alert\" id=\"form-problem\">{}</div>",
            escape(p)
        ));
    }
    body.push_str(&format!(
        "<form class=\"stack\" method=\"post\" action=\"/session/select\" id=\"select-form\">\
         <input type=\"hidden\" name=\"session_id\" value=\"{}\">",
        escape(&session.id)
    ));
    let listed: Vec<(usize, &SessionSchema)> = session
        .schemas
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.passthrough)
        .collect();
    let open = listed.iter().any(|(_, s)| s.open_resource);
    if opts.schema_selection || opts.resource_selection || open {
        body.push_str("<fieldset class=\"choices\"><legend>Data types</legend>");
        for (i, s) in &listed {
            let label = escape(&schema_label(s));
            let options = resource_options(s, manifest);
            let current = current_resource(s, manifest);
            let detail = current
                .map(|c| format!("{} · {}", escape(&c.display_name), access_label(c)))
                .unwrap_or_else(|| {
                    if s.open_resource {
                        format!("Choose the {provider} data that fills it")
                    } else {
                        format!("{provider} has no matching data")
                    }
                });
            let control = if opts.schema_selection {
                format!(
                    "<input type=\"checkbox\" name=\"enable:{i}\" id=\"enable-{i}\" value=\"on\"{checked}{disabled}>",
                    checked = if s.enabled && current.is_some() {
                        " checked"
                    } else {
                        ""
                    },
                    disabled = if current.is_none() { " disabled" } else { "" },
                )
            } else {
                String::new()
            };
            body.push_str(&format!(
                "<div class=\"choice\"><label class=\"choice-main\" for=\"enable-{i}\">{control}\
                 <span class=\"choice-text\"><span class=\"choice-name\">{label}</span><span class=\"choice-meta\">{detail}</span></span></label>"
            ));
            if (opts.resource_selection || s.open_resource) && !options.is_empty() {
                body.push_str(&format!(
                    "<div class=\"choice-extra\"><label for=\"resource-{i}\">{provider} object</label><select id=\"resource-{i}\" name=\"resource:{i}\">"
                ));
                for o in &options {
                    let selected = current.is_some_and(|c| c.endgrate_type == o.endgrate_type);
                    body.push_str(&format!(
                        "<option value=\"{v}\"{sel}>{n} ({r})</option>",
                        v = escape(&o.endgrate_type),
                        sel = if selected { " selected" } else { "" },
                        n = escape(&o.display_name),
                        r = escape(&o.resource),
                    ));
                }
                body.push_str("</select></div>");
            }
            body.push_str("</div>");
        }
        body.push_str("</fieldset>");
    }
    let candidates = passthrough_candidates(session, manifest);
    if !candidates.is_empty() {
        body.push_str(&format!(
            "<fieldset class=\"choices\"><legend>More from {provider}</legend><p class=\"hint\">Other {provider} objects the app may use, with their own fields.</p>"
        ));
        for (j, c) in candidates.iter().enumerate() {
            let on = session
                .schemas
                .iter()
                .any(|s| s.passthrough && s.enabled && s.name == passthrough_schema_name(c));
            body.push_str(&format!(
                "<div class=\"choice\"><label class=\"choice-main\" for=\"passthrough-{j}\">\
                 <input type=\"checkbox\" id=\"passthrough-{j}\" name=\"passthrough\" value=\"{v}\"{checked}>\
                 <span class=\"choice-text\"><span class=\"choice-name\">{n}</span><span class=\"choice-meta\">{r} · {a}</span></span></label></div>",
                v = escape(&c.endgrate_type),
                checked = if on { " checked" } else { "" },
                n = escape(&c.display_name),
                r = escape(&c.resource),
                a = access_label(c),
            ));
        }
        body.push_str("</fieldset>");
    }
    let next = if session.options.field_selection {
        "Continue"
    } else if editing {
        "Save changes"
    } else {
        "Finish"
    };
    body.push_str(&format!(
        "<button class=\"btn primary block\" type=\"submit\" id=\"continue\"><span class=\"btn-label\">{next}</span><span class=\"spinner\" aria-hidden=\"true\"></span></button></form>"
    ));
    Page {
        title: "Choose what to share",
        shape: Shape::Card,
        scripts: &["connect.js"],
        body,
    }
}

/// Applies the form's answer to the session; `Err` says what to correct.
pub fn apply(
    session: &mut Session,
    manifest: &Manifest,
    form: &[(String, String)],
) -> Result<(), String> {
    let values: HashMap<&str, Vec<&str>> = form.iter().fold(HashMap::new(), |mut m, (k, v)| {
        m.entry(k.as_str()).or_default().push(v.as_str());
        m
    });
    let one = |k: &str| values.get(k).and_then(|v| v.first().copied());
    let candidates = passthrough_candidates(session, manifest);
    let opts = session.options.clone();
    for (i, schema) in session.schemas.iter_mut().enumerate() {
        if schema.passthrough {
            continue;
        }
        if (opts.resource_selection || schema.open_resource)
            && let Some(chosen) = one(&format!("resource:{i}"))
        {
            if !resource_options(schema, manifest)
                .iter()
                .any(|o| o.endgrate_type == chosen)
            {
                return Err(format!(
                    "{} cannot serve {} from that object; pick one of the listed objects.",
                    manifest.display_name,
                    schema_label(schema)
                ));
            }
            if schema.open_resource {
                bind_open_resource(schema, chosen);
            } else {
                schema.integration = Some(chosen.to_owned());
            }
        }
        if schema.open_resource && schema.enabled && schema.integration.is_none() {
            return Err(format!(
                "Choose the {} data that fills {}.",
                manifest.display_name,
                schema_label(schema)
            ));
        }
        if opts.schema_selection {
            schema.enabled = one(&format!("enable:{i}")) == Some("on")
                && current_resource(schema, manifest).is_some();
        }
    }
    let wanted: Vec<&str> = values.get("passthrough").cloned().unwrap_or_default();
    for c in &candidates {
        let on = wanted.contains(&c.endgrate_type.as_str());
        let name = passthrough_schema_name(c);
        let object = session.objects.iter().find(|o| o.name == name).cloned();
        let existing = session
            .schemas
            .iter_mut()
            .find(|s| s.passthrough && s.name == name);
        match (existing, object) {
            (Some(existing), _) => existing.enabled = on,
            // Every object offered is recorded, chosen or not: one the end
            // user left out is not added by default later.
            (None, Some(object)) => {
                let mut schema = object_schema(&object, &[]);
                schema.enabled = on;
                session.schemas.push(schema);
            }
            (None, None) if on => session.schemas.push(SessionSchema {
                name: c.endgrate_type.clone(),
                endgrate_type: cdm::default_schema(&c.endgrate_type)
                    .map(|_| c.endgrate_type.clone()),
                schema: cdm::default_schema(&c.endgrate_type)
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({ "type": "object" })),
                custom: false,
                associations: false,
                enabled: true,
                integration: Some(c.endgrate_type.clone()),
                mapping: None,
                upsert: Default::default(),
                passthrough: true,
                passthrough_fields: Vec::new(),
                passthrough_choice: None,
                open_resource: false,
                upsert_keys: Vec::new(),
            }),
            (None, None) => {}
        }
    }
    if !session.schemas.iter().any(|s| s.enabled) {
        return Err("Choose at least one kind of data to share.".into());
    }
    Ok(())
}
