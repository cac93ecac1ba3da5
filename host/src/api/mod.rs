//! The JSON API's handlers, one module per group of endpoints; the routes
//! they serve are in [`crate::routes`], what they share in [`crate::http`].

pub mod admin_connectors;
pub mod admin_keys;
pub mod health;
pub mod integrations;
pub mod listing;
pub mod logs;
pub mod metrics;
pub mod proxy;
pub mod sessions;
pub mod transfer_actions;
pub mod transfers;
pub mod webhook_log;

pub use transfers::MAX_PUSH_ITEMS;

use serde_json::{Value, json};

use crate::http::AppState;

/// `meta` of a paged answer: the count, and links to the pages around.
pub fn page_meta(
    state: &AppState,
    path: &str,
    filters: &[(&str, &str)],
    total: usize,
    offset: usize,
    limit: usize,
) -> Value {
    let link = |at: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in filters {
            q.append_pair(k, v);
        }
        q.append_pair("limit", &limit.to_string())
            .append_pair("offset", &at.to_string());
        json!({ "offset": at, "link": format!("{}{path}?{}", state.config.public_url, q.finish()) })
    };
    let mut meta = json!({ "count": total, "limit": limit, "offset": offset });
    if offset > 0 {
        meta["previous"] = link(offset.saturating_sub(limit));
    }
    if offset + limit < total {
        meta["next"] = link(offset + limit);
    }
    meta
}
