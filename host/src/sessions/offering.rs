//! Which providers a session offers its end user: the installed connectors,
//! narrowed to the session's `provider`, to its provider list
//! (`integration_provider_list_id`) and to those serving the data it asks for.

use serde_json::Value;

use super::Session;
use crate::runtime::Runtime;
use crate::runtime::manifest::Manifest;
use crate::store::{Db, get_json, key};

/// The providers `session` may offer, by display name.
pub fn offered(runtime: &Runtime, db: &Db, session: &Session) -> Vec<Manifest> {
    let listed = session
        .options
        .integration_provider_list_id
        .as_deref()
        .and_then(|id| provider_list(db, &session.account, id));
    let mut out: Vec<Manifest> = runtime
        .manifests()
        .into_iter()
        .filter(|m| session.options.provider.as_ref().is_none_or(|p| *p == m.id))
        .filter(|m| listed.as_ref().is_none_or(|l| l.contains(&m.id)))
        .filter(|m| {
            session.schemas.is_empty()
                || session.schemas.iter().any(|s| {
                    (s.open_resource && !m.integrations.is_empty())
                        || m.integration(s.endgrate_type.as_deref().unwrap_or(&s.name))
                            .is_some()
                })
        })
        .collect();
    out.sort_by_key(|m| m.display_name.to_lowercase());
    out
}

/// The providers of one of `account`'s provider lists.
pub fn provider_list(db: &Db, account: &str, id: &str) -> Option<Vec<String>> {
    let value: Value = get_json(&db.trees.provider_lists, &key(&[account, id])).ok()??;
    Some(
        value["providers"]
            .as_array()?
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect(),
    )
}
