//! One step of a pull, in two parts: [`fetch`] the next page from the
//! connector, then [`stage`] it: shape its records for the session
//! (custom-schema mapping, `params` filters, changes only in sync mode) and
//! stage them with the next cursor as one checkpoint. Only `stage` reads
//! what earlier pages committed, so the dispatcher lets the previous page's
//! commit finish while this page is fetched.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::records;
use super::writes::{TreeId, Writes};
use super::{Hook, Progress, Step, StepError, Transfer, stage_error, stage_webhook, webhook};
use crate::cdm::filter::Filter;
use crate::cdm::mapping::{FieldMapping, PROVIDER_FIELDS};
use crate::errors::ErrorType;
use crate::runtime::types::{Page, PullRequest, PulledRecord};
use crate::sessions::{Session, SessionSchema};
use crate::store::{encode, key};

/// Asks the connector for the page after `t`'s checkpoint. On the first page
/// it also settles what the pull asks for (everything, or changes since the
/// last sync).
pub async fn fetch(step: &Step<'_>, t: &mut Transfer) -> Result<Page, StepError> {
    let session = step.session;
    let Tracking {
        changes_only,
        track,
    } = Tracking::of(t, session);
    let state_key = key(&[&session.id, &t.endgrate_type]);
    let listed_key = key(&[&session.id, FULL_LISTING, &t.endgrate_type]);
    if !t.checkpoint.started && track {
        if changes_only {
            let listed_ms = step
                .db
                .trees
                .sync_state
                .get(&listed_key)?
                .and_then(|v| String::from_utf8_lossy(&v).parse::<u64>().ok());
            let listing_due = listed_ms.is_none_or(|ms| {
                crate::store::now_ms().saturating_sub(ms)
                    >= step.config.full_resync.as_millis() as u64
            });
            t.checkpoint.since = if listing_due {
                None
            } else {
                step.db
                    .trees
                    .sync_state
                    .get(&state_key)?
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            };
            // A filtered pull does not list every record.
            let unfiltered = t.params.as_object().is_none_or(|p| p.is_empty());
            t.checkpoint.full_listing = t.checkpoint.since.is_none() && unfiltered;
        }
        let start = std::time::SystemTime::now() - step.config.sync_overlap;
        t.checkpoint.next_since = Some(crate::time::rfc3339(start));
    }
    let request = PullRequest {
        endgrate_type: step.integration.to_owned(),
        cursor: t.checkpoint.cursor.clone(),
        since: t.checkpoint.since.clone(),
        page_size: step.manifest.batch_limits.max_page_size.max(1),
        params: t.params.clone(),
        associations: t.associations.clone(),
        include_remote: t.include_remote_data,
        passthrough_fields: fields_asked(step.schema),
    };
    step.runtime
        .pull(
            &step.manifest.id,
            &step.connection,
            Some(step.credential()),
            &request,
        )
        .await
        .map_err(|e| step.classify(e))
}

/// The provider fields a pull asks the connector for by name: a provider
/// object's own fields, or a schema's passthrough fields and the provider
/// fields its mapping reads.
fn fields_asked(schema: &SessionSchema) -> Vec<String> {
    if schema.object_name().is_some() {
        return schema
            .property_types()
            .into_keys()
            .map(str::to_owned)
            .collect();
    }
    let mut asked: Vec<String> = schema
        .passthrough_fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    if let (true, Some(mapping)) = (schema.custom, &schema.mapping) {
        for name in mapping.provider_fields() {
            if !asked.iter().any(|a| a == name) {
                asked.push(name.to_owned());
            }
        }
    }
    asked
}

/// Gives the custom fields a mapping reads from provider fields the type
/// the custom schema declares for them (providers such as HubSpot send
/// text).
fn type_provider_mapped(custom: &mut Value, mapping: &FieldMapping, schema: &SessionSchema) {
    let Value::Object(members) = custom else {
        return;
    };
    let declared = schema.property_types();
    for (field, path) in &mapping.0 {
        if !path.starts_with(PROVIDER_FIELDS) {
            continue;
        }
        if let (Some(json_type), Some(value)) =
            (declared.get(field.as_str()), members.get_mut(field))
        {
            *value = typed(value.take(), json_type);
        }
    }
}

/// Stages `page`'s records and `t`'s next checkpoint as one set of writes.
pub fn stage(
    step: &Step<'_>,
    t: &mut Transfer,
    page: Page,
) -> Result<(Progress, Writes), StepError> {
    let session = step.session;
    let Tracking {
        changes_only,
        track,
    } = Tracking::of(t, session);
    let listed_key = key(&[&session.id, FULL_LISTING, &t.endgrate_type]);
    let page_size = step.manifest.batch_limits.max_page_size.max(1);
    let with_associations = !t.associations.is_empty();
    let filter = match t.params.as_object() {
        Some(params) if !params.is_empty() => Filter::parse(params, &[]).ok(),
        _ => None,
    };
    let custom_mapping = match (&step.schema.mapping, step.schema.custom) {
        (Some(mapping), true) => Some(mapping),
        _ => None,
    };
    // A provider object's values get the types its discovery declared.
    let object_types = step
        .schema
        .object_name()
        .map(|_| step.schema.property_types());
    let needs_tree = custom_mapping.is_some() || filter.is_some() || object_types.is_some();
    let mut writes = Writes::default();
    let done = page.next_cursor.is_none();
    let full_listing = t.checkpoint.full_listing;
    let seen_prefix = key(&[&session.id, SEEN, &t.id]);
    let mut seen_here: HashSet<&str> = HashSet::new();
    let mut out: Vec<PulledItem> = Vec::with_capacity(page.records.len());
    let mut malformed = 0usize;
    for record in &page.records {
        // The connector's JSON is kept as it is unless a mapping or a filter
        // needs it as a tree: most pulls store and serve it unparsed.
        let passthrough = passthrough_of(record);
        let parsed = if needs_tree || passthrough.is_some() {
            serde_json::from_str::<Value>(&record.data).map(Data::Tree)
        } else {
            serde_json::from_str::<&RawValue>(&record.data).map(Data::Raw)
        };
        let Ok(data) = parsed else {
            malformed += 1;
            continue;
        };
        if full_listing && !record.deleted {
            // The last page's ids are compared right away, not stored.
            seen_here.insert(&record.id);
            if !done {
                writes.put(
                    TreeId::SyncState,
                    seen_key(&seen_prefix, &record.id),
                    Vec::new(),
                );
            }
        }
        if track {
            let hash_key = key(&[&session.id, &t.endgrate_type, &record.id]);
            let hash = fingerprint(record);
            let previous = step.db.trees.sync_state.get(&hash_key)?;
            if record.deleted {
                writes.remove(TreeId::SyncState, hash_key);
                // Never seen and already gone, or not asked for: nothing to report.
                if !changes_only || previous.is_none() {
                    continue;
                }
            } else {
                let unchanged = previous.as_deref() == Some(&hash[..]);
                if !unchanged {
                    writes.put(TreeId::SyncState, hash_key, hash.to_vec());
                }
                if unchanged && changes_only {
                    continue;
                }
            }
        } else if record.deleted {
            continue;
        }
        let data = match data {
            Data::Tree(mut parsed) => {
                let mut shaped = match custom_mapping {
                    Some(mapping) => {
                        // Custom fields mapped to provider fields read them
                        // from beside the common record.
                        if let (Some(values), Value::Object(members)) = (&passthrough, &mut parsed)
                        {
                            members.insert(PROVIDER_FIELDS.into(), Value::Object(values.clone()));
                        }
                        let mut custom = mapping.to_custom(&parsed);
                        type_provider_mapped(&mut custom, mapping, step.schema);
                        custom
                    }
                    None => parsed,
                };
                if let (Some(types), Value::Object(members)) = (&object_types, &mut shaped) {
                    for (name, value) in members.iter_mut() {
                        if let Some(json_type) = types.get(name.as_str()) {
                            *value = typed(value.take(), json_type);
                        }
                    }
                }
                // Passthrough fields sit beside the schema's own, which win
                // a clash of names. Provider fields asked for a mapping only
                // are not among them.
                if let (Some(fields), Value::Object(members)) = (passthrough, &mut shaped) {
                    for (name, value) in fields {
                        let Some(declared) = step
                            .schema
                            .passthrough_fields
                            .iter()
                            .find(|f| f.name == name)
                        else {
                            continue;
                        };
                        members
                            .entry(name)
                            .or_insert_with(|| typed(value, &declared.json_type));
                    }
                }
                if let Some(filter) = &filter
                    && !record.deleted
                    && !filter.matches(&shaped)
                {
                    continue;
                }
                Data::Tree(shaped)
            }
            raw => raw,
        };
        out.push(PulledItem {
            id: &record.id,
            data,
            remote_data: remote(t, record),
            associations: with_associations.then(|| {
                record
                    .associations
                    .iter()
                    .map(|(ty, ids)| (ty.as_str(), ids.as_slice()))
                    .collect()
            }),
            deleted: record.deleted,
        });
    }
    let gone = if full_listing && done {
        sweep_unlisted(step, t, &seen_prefix, &seen_here, &mut writes)?
    } else {
        Vec::new()
    };
    out.extend(gone.iter().map(|id| PulledItem {
        id,
        data: Data::Raw(EMPTY.get_or_init(empty_object)),
        remote_data: None,
        associations: None,
        deleted: true,
    }));
    if !out.is_empty() {
        writes.put(
            TreeId::Records,
            records::page_key(&t.id, t.checkpoint.written),
            records::page(out.iter().map(encode)),
        );
    }
    if malformed > 0 {
        t.transfer_errors = true;
        stage_error(
            step.db,
            step.runtime,
            step.public_url,
            &mut writes,
            t,
            session,
            ErrorType::Upstream,
            format!("{malformed} record(s) of this page were not valid JSON and were skipped"),
            None,
            None,
        )?;
    }

    let n = out.len() as u64;
    t.checkpoint.started = true;
    t.checkpoint.cursor = page.next_cursor.clone();
    t.checkpoint.written += n;
    t.stats.batch_size = page_size;
    t.stats.records += n;
    t.stats.records_transferred += n;
    t.stats.batches += 1;
    t.stats.batches_success += 1;
    t.stats.batches_queued = u64::from(page.next_cursor.is_some());
    if let Some(hook) = webhook(t, session, Hook::Data)
        && (n > 0 || done)
    {
        let body = json!({
            "success": true,
            "transfer_id": t.id,
            "session_id": session.id,
            "metadata": hook.metadata,
            "endgrate": { "endgrate_type": t.endgrate_type },
            "completed": done,
            "transfer_data": out,
            "transfer_errors": t.transfer_errors,
        });
        stage_webhook(step.db, &mut writes, session, "data", &hook, &body)?;
    }
    if done {
        if full_listing {
            writes.put(
                TreeId::SyncState,
                listed_key,
                crate::store::now_ms().to_string().into_bytes(),
            );
        }
        if let Some(next) = &t.checkpoint.next_since {
            writes.put(
                TreeId::SyncState,
                key(&[&session.id, &t.endgrate_type]),
                next.as_bytes().to_vec(),
            );
        }
        Ok((Progress::Done, writes))
    } else {
        Ok((Progress::More, writes))
    }
}

/// What a pull keeps of the records it sees.
struct Tracking {
    /// Only changes are returned: in sync mode and by continuous re-pulls.
    changes_only: bool,
    /// Fingerprints are kept: by every pull of a session that may ask for
    /// changes later.
    track: bool,
}

impl Tracking {
    fn of(t: &Transfer, session: &Session) -> Tracking {
        let changes_only = session.options.sync || t.continuous;
        Tracking {
            changes_only,
            track: changes_only || webhook(t, session, Hook::Data).is_some_and(|h| h.continuous),
        }
    }
}

/// Sync-state keys of the ids a full listing returned, and of the time of
/// the last full listing (session id first, so deleting a session clears them).
const SEEN: &str = "\u{1}seen";
const FULL_LISTING: &str = "\u{1}full-listing";

fn seen_key(seen_prefix: &[u8], id: &str) -> Vec<u8> {
    let mut k = seen_prefix.to_vec();
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

static EMPTY: std::sync::OnceLock<Box<RawValue>> = std::sync::OnceLock::new();

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("{} is JSON")
}

/// At the end of a full listing: the ids the session saw before (they have
/// a fingerprint) that the listing returned neither on an earlier page (a
/// seen-marker) nor on this last one (`seen_here`). Their fingerprints and
/// the listing's seen-markers are removed in the same commit.
fn sweep_unlisted(
    step: &Step<'_>,
    t: &Transfer,
    seen_prefix: &[u8],
    seen_here: &HashSet<&str>,
    writes: &mut Writes,
) -> Result<Vec<String>, StepError> {
    let tree = &step.db.trees.sync_state;
    let mut fingerprints = key(&[&step.session.id, &t.endgrate_type]);
    fingerprints.push(0);
    let mut gone = Vec::new();
    for entry in tree.scan_prefix(&fingerprints).keys() {
        let k = entry?;
        let id = String::from_utf8_lossy(&k[fingerprints.len()..]).into_owned();
        let listed =
            seen_here.contains(id.as_str()) || tree.contains_key(seen_key(seen_prefix, &id))?;
        if !listed {
            writes.remove(TreeId::SyncState, k.to_vec());
            gone.push(id);
        }
    }
    let mut markers = seen_prefix.to_vec();
    markers.push(0);
    for entry in tree.scan_prefix(&markers).keys() {
        writes.remove(TreeId::SyncState, entry?.to_vec());
    }
    Ok(gone)
}

/// A pulled record as stored and served: `{"id", "data", "associations"?,
/// "deleted"?}`.
#[derive(Serialize)]
struct PulledItem<'a> {
    id: &'a str,
    data: Data<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    associations: Option<BTreeMap<&'a str, &'a [String]>>,
    /// With `include_remote_data`: the provider's record as it came.
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    /// The connector's JSON as it came.
    Raw(&'a RawValue),
    /// Parsed, because a custom mapping or a filter works on it.
    Tree(Value),
}

/// The values of the session's passthrough fields a record came with (a
/// JSON object; anything else is left out).
fn passthrough_of(record: &PulledRecord) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str(record.passthrough.as_deref()?) {
        Ok(Value::Object(fields)) if !fields.is_empty() => Some(fields),
        _ => None,
    }
}

/// A provider value (a passthrough field's, a provider object's) as the type
/// discovery declared for it: providers such as HubSpot send every value as
/// text.
fn typed(value: Value, json_type: &str) -> Value {
    let Value::String(text) = &value else {
        return value;
    };
    match json_type {
        "number" | "integer" if text.trim().is_empty() => Value::Null,
        "number" | "integer" => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.trim().parse::<f64>().map(Value::from))
            .unwrap_or(value),
        "boolean" => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "" => Value::Null,
            _ => value,
        },
        _ => value,
    }
}

/// The provider's record to serve as `remote_data`, when the transfer asks
/// for it and the connector gave valid JSON (a 0.1 connector gives none).
fn remote<'a>(t: &Transfer, record: &'a PulledRecord) -> Option<&'a RawValue> {
    let text = record.remote.as_deref().filter(|_| t.include_remote_data)?;
    match serde_json::from_str(text) {
        Ok(raw) => Some(raw),
        Err(err) => {
            tracing::warn!(transfer = %t.id, record = %record.id, %err, "the connector's remote record is not JSON; left out");
            None
        }
    }
}

/// What a record looks like, to tell whether it changed since the last pull.
fn fingerprint(record: &PulledRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(record.data.as_bytes());
    // A change to a passthrough field is a change too.
    if let Some(passthrough) = &record.passthrough {
        h.update(b"\0passthrough\0");
        h.update(passthrough.as_bytes());
    }
    for (ty, ids) in &record.associations {
        h.update(ty.as_bytes());
        for id in ids {
            h.update(b"\0");
            h.update(id.as_bytes());
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_values_take_the_type_discovery_declared() {
        assert_eq!(typed(json!("412"), "number"), json!(412));
        assert_eq!(typed(json!("4.5"), "number"), json!(4.5));
        assert_eq!(typed(json!(""), "number"), Value::Null);
        assert_eq!(typed(json!("n/a"), "number"), json!("n/a"));
        assert_eq!(typed(json!("true"), "boolean"), json!(true));
        assert_eq!(typed(json!("false"), "boolean"), json!(false));
        assert_eq!(typed(json!("red"), "string"), json!("red"));
        assert_eq!(typed(json!(7), "string"), json!(7));
    }
}
