//! The sign-in form of providers that take an API key (and maybe other
//! values: a subdomain, an account id). The key is checked with the provider
//! through the connector before anything is kept; what the provider said is
//! shown next to the key field. `connect.js` submits it in place; without
//! script it is an ordinary form post.

use std::collections::HashMap;

use super::layout::{Page, Shape, escape};
use super::steps::{Step, header};
use crate::runtime::manifest::{ApiKeyField, Manifest};
use crate::sessions::Session;

/// The provider's answer to a rejected key, to show next to `field`.
pub struct Rejection {
    pub field: String,
    pub message: String,
}

pub fn page(
    session: &Session,
    manifest: &Manifest,
    fields: &[ApiKeyField],
    steps: &[Step],
    typed: &HashMap<String, String>,
    rejection: Option<&Rejection>,
) -> Page<'static> {
    let name = escape(&manifest.display_name);
    let mut body = header(
        steps,
        Step::SignIn,
        Some(manifest),
        &format!("Connect {}", manifest.display_name),
    );
    body.push_str(&format!(
        "<p class=\"lead\">Enter your {name} credentials. They are checked with {name} and stored encrypted; the app never sees them.</p>"
    ));
    body.push_str(&format!(
        "<form class=\"stack\" method=\"post\" action=\"/session/api-key\" id=\"key-form\" data-provider=\"{name}\" novalidate>\
         <input type=\"hidden\" name=\"session_id\" value=\"{sid}\"><input type=\"hidden\" name=\"provider\" value=\"{pid}\">",
        sid = escape(&session.id),
        pid = escape(&manifest.id),
    ));
    for (i, f) in fields.iter().enumerate() {
        let n = escape(&f.name);
        let error = rejection.filter(|r| r.field == f.name);
        let value = if f.secret {
            String::new()
        } else {
            typed.get(&f.name).map(|v| escape(v)).unwrap_or_default()
        };
        let described = if error.is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"error-{n}\"")
        } else {
            format!(" aria-describedby=\"error-{n}\"")
        };
        let autofocus = if error.is_some() || (rejection.is_none() && i == 0) {
            " autofocus"
        } else {
            ""
        };
        body.push_str(&format!(
            "<div class=\"field{invalid}\"><label for=\"field-{n}\">{label}</label>\
             <input id=\"field-{n}\" name=\"{n}\" type=\"{ty}\" value=\"{value}\" required autocomplete=\"off\" spellcheck=\"false\"{described}{autofocus}>\
             <p class=\"field-error\" id=\"error-{n}\" role=\"alert\"{hidden}>{message}</p></div>",
            invalid = if error.is_some() { " invalid" } else { "" },
            label = escape(&f.label),
            ty = if f.secret { "password" } else { "text" },
            hidden = if error.is_some() { "" } else { " hidden" },
            message = error.map(|e| escape(&e.message)).unwrap_or_default(),
        ));
    }
    body.push_str(&format!(
        "<button class=\"btn primary block\" type=\"submit\" id=\"connect\"><span class=\"btn-label\">Connect {name}</span><span class=\"spinner\" aria-hidden=\"true\"></span></button>\
         <p class=\"status-line\" role=\"status\" aria-live=\"polite\"></p></form>"
    ));
    if steps.contains(&Step::Choose) {
        body.push_str(&format!(
            "<p class=\"back\"><a href=\"/session?session_id={}\">Choose another app</a></p>",
            escape(&super::layout::q(&session.id))
        ));
    }
    Page {
        title: "Connect your account",
        shape: Shape::Card,
        scripts: &["connect.js"],
        body,
    }
}

/// The field a rejection is shown next to: the secret one.
pub fn secret_field(fields: &[ApiKeyField]) -> String {
    fields
        .iter()
        .find(|f| f.secret)
        .or(fields.first())
        .map(|f| f.name.clone())
        .unwrap_or_default()
}
