//! Which providers a session offers its end user: the installed connectors,
//! narrowed to the session's `provider`, to its provider list
//! (`integration_provider_list_id`) and to those serving the data it asks for.

use serde_json::Value;

use super::Session;
use crate::runtime::Runtime;
use crate::runtime::manifest::Manifest;
use crate::store::{Db, StoreError, get_json, key};

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

/// Keeps a new provider list of `account` (`record` is its API shape, with
/// `providers`), durably.
pub async fn save_provider_list(
    db: &Db,
    account: &str,
    id: &str,
    record: &Value,
) -> Result<(), StoreError> {
    db.trees
        .provider_lists
        .insert(key(&[account, id]), crate::store::encode(record))?;
    db.flush().await
}

/// Whether `account` has a provider list `id`.
pub fn has_provider_list(db: &Db, account: &str, id: &str) -> Result<bool, StoreError> {
    Ok(db.trees.provider_lists.contains_key(key(&[account, id]))?)
}

/// Every provider list of `account`, in their API shape.
pub fn provider_lists(db: &Db, account: &str) -> Result<Vec<Value>, StoreError> {
    let mut lists = Vec::new();
    for value in db
        .trees
        .provider_lists
        .scan_prefix(crate::store::prefix(account))
        .values()
    {
        lists.push(crate::store::decode(&value?)?);
    }
    Ok(lists)
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
