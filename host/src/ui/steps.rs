//! The connect flow's steps as the end user sees them: which steps this
//! session has (it depends on the options the app chose), and the header of
//! every connect card (brand, "Step 2 of 4", the step names).

use super::layout::{brand, escape};
use crate::runtime::manifest::{Integration, Manifest};
use crate::runtime::types::subject_object;
use crate::sessions::{ProviderObject, Session};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    Choose,
    SignIn,
    Data,
    Fields,
    Done,
}

impl Step {
    fn label(self) -> &'static str {
        match self {
            Step::Choose => "Choose app",
            Step::SignIn => "Sign in",
            Step::Data => "Choose data",
            Step::Fields => "Map fields",
            Step::Done => "Done",
        }
    }
}

/// What a session may add as passthrough schemas: the provider integrations
/// no schema of the session is served by, then the provider objects
/// discovery found (as integrations whose type is their subject).
pub fn passthrough_candidates(session: &Session, manifest: &Manifest) -> Vec<Integration> {
    if !session.options.passthrough_schemas {
        return Vec::new();
    }
    let integrations = manifest.integrations.iter().filter(|i| {
        !session.schemas.iter().any(|s| {
            !s.passthrough
                && (s.integration.as_deref() == Some(i.endgrate_type.as_str())
                    || s.endgrate_type.as_deref() == Some(i.endgrate_type.as_str())
                    || s.name == i.endgrate_type)
        })
    });
    integrations
        .cloned()
        .chain(session.objects.iter().map(ProviderObject::integration))
        .collect()
}

/// The name of the passthrough schema a candidate becomes: a provider
/// object's own name, or the integration's type.
pub fn passthrough_schema_name(candidate: &Integration) -> &str {
    subject_object(&candidate.endgrate_type).unwrap_or(&candidate.endgrate_type)
}

/// The session asks the end user to pick schemas, resources or passthrough objects.
pub fn has_data_step(session: &Session, manifest: &Manifest) -> bool {
    session.options.schema_selection
        || session.options.resource_selection
        || session.schemas.iter().any(|s| s.open_resource)
        || !passthrough_candidates(session, manifest).is_empty()
}

/// The session asks the end user to map fields.
pub fn has_fields_step(session: &Session) -> bool {
    session.options.field_selection && session.schemas.iter().any(|s| s.enabled)
}

/// The steps of this session's flow. `editing`: only the selections.
pub fn steps(session: &Session, manifest: Option<&Manifest>, editing: bool) -> Vec<Step> {
    let mut out = Vec::new();
    if !editing {
        if session.options.provider.is_none() && !session.options.bypass_ui {
            out.push(Step::Choose);
        }
        out.push(Step::SignIn);
    }
    match manifest {
        Some(m) if has_data_step(session, m) => out.push(Step::Data),
        None if session.options.schema_selection
            || session.options.resource_selection
            || session.schemas.iter().any(|s| s.open_resource) =>
        {
            out.push(Step::Data)
        }
        _ => {}
    }
    if has_fields_step(session) {
        out.push(Step::Fields);
    }
    out.push(Step::Done);
    out
}

/// The top of a connect card: brand, the step indicator, and the provider's
/// logo next to the title when one is chosen.
pub fn header(steps: &[Step], current: Step, provider: Option<&Manifest>, title: &str) -> String {
    let at = steps.iter().position(|s| *s == current).unwrap_or(0);
    let mut dots = String::new();
    for (i, s) in steps.iter().enumerate() {
        let class = if i < at {
            "done"
        } else if i == at {
            "current"
        } else {
            "todo"
        };
        let aria = if i == at {
            " aria-current=\"step\""
        } else {
            ""
        };
        dots.push_str(&format!(
            "<li class=\"{class}\"{aria}><span class=\"dot\" aria-hidden=\"true\"></span><span class=\"step-name\">{}</span></li>",
            s.label()
        ));
    }
    let logo = match provider {
        Some(m) => format!(
            "<div class=\"pair\" aria-hidden=\"true\"><img class=\"pair-logo\" src=\"/ui/logo.svg\" alt=\"\" width=\"40\" height=\"40\"><span class=\"pair-link\"></span><img class=\"pair-logo\" src=\"/api/integrations/{}/logo.svg\" alt=\"\" width=\"40\" height=\"40\"></div>",
            escape(&m.id)
        ),
        None => String::new(),
    };
    format!(
        "<header class=\"card-head\">{brand}\
         <nav aria-label=\"Progress\"><p class=\"step-count\">Step {n} of {total}</p><ol class=\"steps\">{dots}</ol></nav></header>\
         {logo}<h1>{title}</h1>",
        brand = brand(),
        n = at + 1,
        total = steps.len(),
        title = escape(title),
    )
}
