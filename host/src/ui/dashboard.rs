//! The developer dashboard `GET /dashboard`: a single page whose script
//! (`dashboard.js`) signs in with an API key (kept in the tab's session
//! storage only) and drives the JSON API: sessions with search and detail,
//! transfers with live progress, errors to resolve, connectors (upload
//! hot-loads; needs the admin key), API keys and the webhook secret.

use super::layout::{Page, Shape};

/// The page's markup; `dashboard.js` fills `#view`.
const SHELL: &str = include_str!("assets/dashboard.html");

/// The dashboard's page.
pub fn page() -> Page<'static> {
    Page {
        title: "Dashboard",
        shape: Shape::App,
        scripts: &["dashboard.js"],
        body: SHELL.to_owned(),
    }
}
