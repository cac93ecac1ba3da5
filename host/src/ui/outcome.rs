//! The last cards of the connect flow: "You're connected" (when the app gave
//! no `redirect_url`), and the page a returning end user sees on a session
//! that is already connected, with the ways to change it.

use super::layout::{Page, Shape, escape, q};
use super::steps::{Step, header};
use crate::runtime::manifest::Manifest;
use crate::sessions::Session;
use crate::transfer::Transfer;

/// The flow finished and the app gave nowhere to go.
pub fn done(session: &Session, manifest: &Manifest, steps: &[Step]) -> Page<'static> {
    let mut body = header(steps, Step::Done, Some(manifest), "You're connected");
    body.push_str(&format!(
        "<div class=\"state\"><div class=\"state-icon icon-ok\" aria-hidden=\"true\"></div>\
         <p class=\"lead\">Your {} account is connected{}. You can close this window.</p></div>",
        escape(&manifest.display_name),
        session
            .options
            .name
            .as_deref()
            .map(|n| format!(" to <strong>{}</strong>", escape(n)))
            .unwrap_or_default(),
    ));
    body.push_str(&summary(session));
    Page {
        title: "You're connected",
        shape: Shape::Card,
        scripts: &[],
        body,
    }
}

/// A connected session opened again: what it shares, how to change it, and
/// (with the session's `statistics` option) its recent transfers.
pub fn connected(
    session: &Session,
    manifest: &Manifest,
    can_edit: bool,
    transfers: &[Transfer],
) -> Page<'static> {
    let sid = escape(&q(&session.id));
    let mut body = format!(
        "{}<div class=\"state\"><img class=\"state-logo\" src=\"/api/integrations/{}/logo.svg\" alt=\"\" width=\"56\" height=\"56\">\
         <h1>{} is connected</h1><p class=\"lead\">This link was already used to connect an account.</p></div>",
        super::layout::brand(),
        escape(&manifest.id),
        escape(&manifest.display_name),
    );
    body.push_str(&summary(session));
    if session.options.statistics && !transfers.is_empty() {
        body.push_str(
            "<div class=\"summary\"><h2>Recent transfers</h2><ul class=\"transfer-list\">",
        );
        for t in transfers.iter().take(5) {
            let status = format!("{:?}", t.status).to_lowercase();
            body.push_str(&format!(
                "<li><a href=\"/statistics?transfer_id={id}\">{method} {ty}</a><span class=\"badge\" data-status=\"{status}\">{label}</span></li>",
                id = escape(&q(&t.id)),
                method = if t.method == crate::transfer::Method::Pull { "Pull" } else { "Push" },
                ty = escape(&super::selection::type_label(&t.endgrate_type)),
                label = escape(&format!("{:?}", t.status)),
            ));
        }
        body.push_str("</ul></div>");
    }
    body.push_str("<div class=\"actions\">");
    if can_edit {
        body.push_str(&format!(
            "<a class=\"btn secondary\" id=\"edit\" href=\"/session/edit?session_id={sid}\">Change what is shared</a>"
        ));
    }
    body.push_str(&format!(
        "<a class=\"btn secondary\" id=\"reconnect\" href=\"/session/reauthenticate?session_id={sid}\">Sign in again</a></div>"
    ));
    Page {
        title: "Already connected",
        shape: Shape::Card,
        scripts: &[],
        body,
    }
}

/// The shared data types, as a short list.
fn summary(session: &Session) -> String {
    let items: Vec<String> = session
        .schemas
        .iter()
        .filter(|s| s.enabled)
        .map(|s| format!("<li>{}</li>", escape(&super::selection::schema_label(s))))
        .collect();
    if items.is_empty() {
        return String::new();
    }
    format!(
        "<div class=\"summary\"><h2>Shared</h2><ul class=\"tags\">{}</ul></div>",
        items.join("")
    )
}
