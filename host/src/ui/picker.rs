//! The provider picker: the first card of the connect page, one tile per
//! provider the session may use (logo, name, category), with a filter box
//! when the list is long.

use super::layout::{Page, Shape, escape, q};
use super::steps::{Step, header};
use crate::runtime::manifest::Manifest;
use crate::sessions::Session;

/// Lists longer than this get a filter box.
const FILTER_FROM: usize = 6;

pub fn page(session: &Session, providers: &[Manifest], steps: &[Step]) -> Page<'static> {
    let mut body = header(steps, Step::Choose, None, "Connect your account");
    let app = session
        .options
        .name
        .as_deref()
        .map(|n| format!(" for <strong>{}</strong>", escape(n)))
        .unwrap_or_default();
    body.push_str(&format!(
        "<p class=\"lead\">Choose the app you use{app}. You will sign in with it and choose what to share.</p>"
    ));
    if providers.len() >= FILTER_FROM {
        body.push_str(
            "<div class=\"filter\"><label class=\"sr-only\" for=\"provider-filter\">Search apps</label>\
             <input id=\"provider-filter\" type=\"search\" placeholder=\"Search apps\" autocomplete=\"off\" data-filter=\"#providers\"></div>",
        );
    }
    body.push_str("<ul class=\"providers\" id=\"providers\">");
    for m in providers {
        let how = match m.auth_type() {
            "oauth" => "Sign in",
            _ => "API key",
        };
        body.push_str(&format!(
            "<li data-name=\"{lname}\"><a class=\"provider\" id=\"provider-{id}\" href=\"/session/start?session_id={sid}&amp;provider={qid}\">\
             <img src=\"/api/integrations/{id}/logo.svg\" alt=\"\" width=\"40\" height=\"40\">\
             <span class=\"provider-text\"><span class=\"provider-name\">{name}</span><span class=\"provider-meta\">{category} · {how}</span></span>\
             <span class=\"chev\" aria-hidden=\"true\"></span></a></li>",
            lname = escape(&m.display_name.to_lowercase()),
            id = escape(&m.id),
            qid = escape(&q(&m.id)),
            sid = escape(&q(&session.id)),
            name = escape(&m.display_name),
            category = escape(&category_label(&m.category)),
        ));
    }
    body.push_str("</ul><p class=\"empty-filter\" hidden>No app matches your search.</p>");
    Page {
        title: "Connect your account",
        shape: Shape::Card,
        scripts: &["connect.js"],
        body,
    }
}

/// `crm` → `CRM`, `accounting` → `Accounting`.
pub fn category_label(category: &str) -> String {
    match category {
        "crm" => "CRM".to_owned(),
        other => {
            let mut chars = other.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}
