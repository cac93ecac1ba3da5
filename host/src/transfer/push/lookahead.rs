//! Upsert lookups asked ahead of the batch being written.
//!
//! A connector whose provider answers many lookups in one request declares
//! `max-lookup-batch` above its push batch (HubSpot: 500, where a push batch
//! is 100, because one search's five `IN` filter groups hold 500 values).
//! Before writing a batch that needs lookups, the host then asks those of
//! the following batches too, up to `max-lookup-batch` items, in one
//! `find-matches` call per schema, and journals each answer as `Resolved`:
//! those batches go straight to their writes, and the push takes a fifth of
//! the searches.
//!
//! An answer asked ahead is as old as the moment it was asked, so an item is
//! asked ahead only when nothing written before it in this push can change
//! its answer: no earlier item of the window shares one of its upsert keys
//! or its internal id. Such an item is asked in its own batch, after the
//! earlier one is written, exactly as without lookahead. Answers are kept
//! without a flush, like a batch's own: a crash costs only the lookups.

use std::collections::HashSet;

use serde_json::Value;

use super::reconcile;
use super::{ItemIn, OpState, claim_key, op_key, to_common};
use crate::sessions::SessionSchema;
use crate::store::{encode, get_json, key};
use crate::transfer::writes::{TreeId, Writes};
use crate::transfer::{Step, StepError, Transfer};

/// The writes of one schema in the window, in push order: each op's
/// journal key and its item.
struct Group<'a> {
    schema: &'a SessionSchema,
    ops: Vec<(Vec<u8>, &'a ItemIn)>,
}

/// What can be asked ahead for one schema: op keys and their records in the
/// common model.
struct Asking<'a> {
    schema: &'a SessionSchema,
    integration: String,
    ops: Vec<(Vec<u8>, Value)>,
}

/// Asks the lookups of the items from `start` up to `max-lookup-batch`
/// items on, when the batch `batch` (the items from `start`) needs any.
pub(super) async fn ask(
    step: &Step<'_>,
    t: &Transfer,
    start: usize,
    batch: &[ItemIn],
) -> Result<(), StepError> {
    let total = t.stats.records as usize;
    let end = start + batch.len();
    let window_end = (start + step.manifest.batch_limits.lookup_batch()).min(total);
    if t.disable_upsert || t.sample_data || window_end <= end {
        return Ok(());
    }
    // Only a batch that needs lookups asks ahead: the others are asked in
    // their own turn.
    let this_batch = askable(step, &ops_by_schema(step, t, start, batch))?;
    if this_batch.iter().all(|asking| asking.ops.is_empty()) {
        return Ok(());
    }

    let mut items = batch.to_vec();
    for index in end..window_end {
        let item = super::item(step.db, &t.id, index as u64)?.ok_or_else(|| {
            StepError::Store(crate::store::StoreError::Corrupt(format!(
                "push item {index} is missing"
            )))
        })?;
        items.push(item);
    }
    let mut decided = Writes::default();
    for asking in askable(step, &ops_by_schema(step, t, start, &items))? {
        if asking.ops.is_empty() {
            continue;
        }
        step.renew(&t.id)?;
        let records: Vec<&Value> = asking.ops.iter().map(|(_, common)| common).collect();
        let answers =
            reconcile::find_existing(step, asking.schema, &asking.integration, &records).await?;
        for ((op, _), answer) in asking.ops.iter().zip(answers) {
            // A failed lookup is asked again in its own batch.
            if let Ok(lookup) = answer {
                let state = OpState::resolved(lookup.found());
                decided.put(TreeId::PushOps, op.clone(), encode(&state));
            }
        }
    }
    step.commit(&t.id, decided).await
}

/// The writes of `items` (pushed from `start`), by schema in the order they
/// come: each item's associated items, then the item, as `(op key, item)`.
fn ops_by_schema<'a>(
    step: &'a Step<'_>,
    t: &Transfer,
    start: usize,
    items: &'a [ItemIn],
) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut add = |schema: &'a SessionSchema, op: Vec<u8>, item: &'a ItemIn| match groups
        .iter_mut()
        .find(|g| g.schema.name == schema.name)
    {
        Some(group) => group.ops.push((op, item)),
        None => groups.push(Group {
            schema,
            ops: vec![(op, item)],
        }),
    };
    for (offset, item) in items.iter().enumerate() {
        if item.invalid.is_some() {
            continue;
        }
        let index = start + offset;
        for (ty, children) in &item.associations {
            // A type the session lacks fails in the batch, not here.
            let Some(schema) = step.session.schema(ty) else {
                continue;
            };
            for (j, child) in children.iter().enumerate() {
                add(schema, op_key(&t.id, index, Some((ty, j))), child);
            }
        }
        add(step.schema, op_key(&t.id, index, None), item);
    }
    groups
}

/// Per schema, the writes that can be asked ahead, with their records in
/// the common model: no id given or known, no journal entry yet, upsert
/// keys to ask by, and no key or internal id of an earlier write of the
/// window.
fn askable<'a>(step: &Step<'_>, groups: &[Group<'a>]) -> Result<Vec<Asking<'a>>, StepError> {
    let now = crate::store::now_ms();
    let mut out = Vec::new();
    for Group { schema, ops } in groups {
        let Some(integration) = schema.integration.clone() else {
            continue;
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut asking = Vec::new();
        for (op, item) in ops {
            let common = to_common(schema, &item.data);
            let keys = reconcile::upsert_keys(schema, &common);
            let mut claimed: Vec<String> = keys.iter().map(claim_key).collect();
            if let Some(internal) = &item.internal_id {
                claimed.push(format!("internal_id\0{internal}"));
            }
            let shared = claimed.iter().any(|k| seen.contains(k));
            seen.extend(claimed);
            if shared || keys.is_empty() || item.id.is_some() {
                continue;
            }
            let journal = get_json::<OpState>(&step.db.trees.push_ops, op)?;
            if journal.and_then(|state| state.fresh(now)).is_some() {
                continue;
            }
            if let Some(internal) = &item.internal_id
                && step
                    .db
                    .trees
                    .id_map
                    .get(key(&[&step.session.id, &schema.name, internal]))?
                    .is_some()
            {
                continue;
            }
            asking.push((op.clone(), common));
        }
        out.push(Asking {
            schema,
            integration,
            ops: asking,
        });
    }
    Ok(out)
}
