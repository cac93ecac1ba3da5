//! One step of a push: the next batch of items, their associated items first,
//! each upserted and written exactly once.
//!
//! Every write to the provider goes through a journal (`push_ops`): before a
//! batch is sent, each of its operations is stored as `Sending` (and flushed);
//! after, as `Done` with the provider id, together with the internal-id map,
//! and flushed before the next batch goes out. A create still `Sending` after
//! a crash or a failed call is never simply sent again: [`reconcile`] looks
//! the record up where it may; where it may not, it sends the create again
//! when the connector declares `idempotent-creates` (the same idempotency key
//! goes with it, so the provider makes it once), and otherwise reports its
//! outcome unknown, so it is never created twice.
//!
//! Each rejected item gets its own error record (`GET /api/errors`), and each
//! batch with rejected items one error webhook listing them, so a push of
//! thousands of bad items sends a webhook per batch, not per item.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod lookahead;
mod reconcile;

use super::records;
use super::writes::{TreeId, Writes};
use super::{Hook, Progress, Step, StepError, Transfer, stage_webhook, webhook};
use crate::cdm::mapping::PROVIDER_FIELDS;
use crate::errors::{ErrorRecord, ErrorType, NewError};
use crate::runtime::types::{ConnectorError, PushItem};
use crate::sessions::configuration::{integration_info, provider_info};
use crate::sessions::{ProviderField, SessionSchema, UpsertBehaviour};
use crate::store::{encode, get_json, key, seq_key};
use reconcile::Unconfirmed;

/// Item `index` of push `transfer_id`, as the app gave it.
pub fn item(
    db: &crate::store::Db,
    transfer_id: &str,
    index: u64,
) -> Result<Option<ItemIn>, crate::store::StoreError> {
    get_json(&db.trees.push_items, &seq_key(transfer_id, index))
}

/// An item as the app pushed it, validated when the transfer was accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemIn {
    pub id: Option<String>,
    pub internal_id: Option<String>,
    /// In the session schema's shape.
    pub data: Value,
    /// Associated items by schema name, pushed before this one and linked.
    #[serde(default)]
    pub associations: Vec<(String, Vec<ItemIn>)>,
    /// Why the item was rejected before anything was sent.
    pub invalid: Option<String>,
}

/// The journal entry of one write.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum OpState {
    /// Looked up, not sent yet: a retried step need not look it up again,
    /// unless the answer is older than [`RESOLVED_FOR_MS`].
    Resolved {
        update: Option<String>,
        /// When it was asked (0 in journals of earlier versions).
        #[serde(default)]
        asked_ms: u64,
    },
    Sending {
        update: Option<String>,
    },
    Done {
        id: String,
        created: bool,
        data: Value,
    },
    Failed {
        message: String,
        /// Sent, never confirmed, and not sent again: the provider may hold it.
        #[serde(default)]
        unknown: bool,
    },
}

/// How long a lookup's answer is trusted: a step retried later (after an
/// outage, or a host restart) asks again, since the provider's records may
/// have changed meanwhile.
const RESOLVED_FOR_MS: u64 = 10 * 60 * 1000;

impl OpState {
    /// A journal entry as the next step should take it: `None` for a lookup
    /// answer too old to trust.
    fn fresh(self, now_ms: u64) -> Option<Self> {
        match self {
            OpState::Resolved { asked_ms, .. }
                if now_ms.saturating_sub(asked_ms) > RESOLVED_FOR_MS =>
            {
                None
            }
            state => Some(state),
        }
    }

    fn resolved(update: Option<String>) -> Self {
        OpState::Resolved {
            update,
            asked_ms: crate::store::now_ms(),
        }
    }
}

/// One write to make: an item (or an associated item) of this batch.
struct Op<'a> {
    key: Vec<u8>,
    item: &'a ItemIn,
    /// Provider ids to link it to, by provider integration type.
    links: Vec<(String, Vec<String>)>,
}

/// Why an item (or an associated item) has no provider record the host knows of.
#[derive(Debug, Clone)]
struct Failure {
    error_type: ErrorType,
    message: String,
    /// The provider may have created it all the same (see [`reconcile`]).
    unknown: bool,
}

impl Failure {
    fn integration(message: String, unknown: bool) -> Self {
        Failure {
            error_type: ErrorType::Integration,
            message,
            unknown,
        }
    }
}

type Outcome = Result<(String, bool, Value), Failure>;

pub async fn step(step: &Step<'_>, t: &mut Transfer) -> Result<(Progress, Writes), StepError> {
    let total = t.stats.records as usize;
    let batch = step.manifest.batch_limits.push_batch();
    let start = t.checkpoint.next_index;
    let end = (start + batch).min(total);
    let mut items = Vec::with_capacity(end - start);
    for index in start..end {
        let item: ItemIn = get_json(&step.db.trees.push_items, &seq_key(&t.id, index as u64))?
            .ok_or_else(|| {
                StepError::Store(crate::store::StoreError::Corrupt(format!(
                    "push item {index} is missing"
                )))
            })?;
        items.push(item);
    }

    lookahead::ask(step, t, start, &items).await?;

    let mut writes = Writes::default();
    let mut rejected: Vec<ErrorRecord> = Vec::new();
    let mut results = Vec::with_capacity(items.len());
    let mut succeeded = 0u64;
    if t.sample_data {
        for item in &items {
            results.push(
                json!({ "internal_id": item.internal_id, "data": item.data, "sample_data": true }),
            );
        }
    } else {
        // Associated items first, grouped by type.
        let mut child_outcomes: HashMap<Vec<u8>, Outcome> = HashMap::new();
        let mut by_type: Vec<(String, Vec<Op>)> = Vec::new();
        for (offset, item) in items.iter().enumerate() {
            if item.invalid.is_some() {
                continue;
            }
            for (ty, children) in &item.associations {
                for (j, child) in children.iter().enumerate() {
                    let op = Op {
                        key: op_key(&t.id, start + offset, Some((ty, j))),
                        item: child,
                        links: Vec::new(),
                    };
                    match by_type.iter_mut().find(|(name, _)| name == ty) {
                        Some((_, ops)) => ops.push(op),
                        None => by_type.push((ty.clone(), vec![op])),
                    }
                }
            }
        }
        for (ty, ops) in &by_type {
            let schema = step.session.schema(ty).ok_or_else(|| StepError::Fail {
                error_type: ErrorType::Internal,
                message: format!("the session has no schema {ty:?}"),
            })?;
            child_outcomes.extend(run_ops(step, t, schema, ops).await?);
        }

        // Then the items themselves, linked to their associated items.
        let mut ops = Vec::new();
        for (offset, item) in items.iter().enumerate() {
            if item.invalid.is_some() {
                continue;
            }
            let mut links = Vec::new();
            for (ty, children) in &item.associations {
                let integration = step
                    .session
                    .schema(ty)
                    .and_then(|s| s.integration.clone())
                    .unwrap_or_else(|| ty.clone());
                let ids: Vec<String> = (0..children.len())
                    .filter_map(|j| {
                        match child_outcomes.get(&op_key(&t.id, start + offset, Some((ty, j)))) {
                            Some(Ok((id, _, _))) => Some(id.clone()),
                            _ => None,
                        }
                    })
                    .collect();
                if !ids.is_empty() {
                    links.push((integration, ids));
                }
            }
            ops.push(Op {
                key: op_key(&t.id, start + offset, None),
                item,
                links,
            });
        }
        let outcomes = run_ops(step, t, step.schema, &ops).await?;

        for (offset, item) in items.iter().enumerate() {
            let index = start + offset;
            let mut result = json!({ "internal_id": item.internal_id });
            if let Some(message) = &item.invalid {
                result["id"] = json!(item.id);
                result["data"] = json!({});
                result["error"] = json!({ "error_type": ErrorType::Mapping, "message": message });
                let error = Failure {
                    error_type: ErrorType::Mapping,
                    message: message.clone(),
                    unknown: false,
                };
                stage_item_error(step, t, &mut writes, &mut rejected, index, item, error)?;
            } else {
                match outcomes.get(&op_key(&t.id, index, None)) {
                    Some(Ok((id, created, data))) => {
                        succeeded += 1;
                        result["id"] = json!(id);
                        result["created"] = json!(created);
                        result["data"] = data.clone();
                    }
                    failed => {
                        let error = match failed {
                            Some(Err(failure)) => failure.clone(),
                            _ => Failure::integration("the item was not written".into(), false),
                        };
                        result["id"] = json!(item.id);
                        result["data"] = json!({});
                        result["error"] =
                            json!({ "error_type": error.error_type, "message": error.message });
                        stage_item_error(step, t, &mut writes, &mut rejected, index, item, error)?;
                    }
                }
                // Associated items that failed are reported under their parent.
                let mut linked = serde_json::Map::new();
                for (ty, children) in &item.associations {
                    let mut ids = Vec::new();
                    for (j, child) in children.iter().enumerate() {
                        match child_outcomes.get(&op_key(&t.id, index, Some((ty, j)))) {
                            Some(Ok((id, _, _))) => ids.push(json!(id)),
                            Some(Err(failure)) => {
                                let error = Failure {
                                    message: format!("associated {ty} #{j}: {}", failure.message),
                                    ..failure.clone()
                                };
                                stage_item_error(
                                    step,
                                    t,
                                    &mut writes,
                                    &mut rejected,
                                    index,
                                    child,
                                    error,
                                )?;
                            }
                            None => {}
                        }
                    }
                    linked.insert(ty.clone(), Value::Array(ids));
                }
                if !linked.is_empty() {
                    result["associations"] = Value::Object(linked);
                }
            }
            results.push(result);
        }
    }

    stage_rejected(step, t, &mut writes, &rejected)?;
    if !results.is_empty() {
        writes.put(
            TreeId::Records,
            records::page_key(&t.id, start as u64),
            records::page(results.iter().map(encode)),
        );
    }
    let done = end >= total;
    t.checkpoint.next_index = end;
    t.checkpoint.written = end as u64;
    t.stats.batch_size = batch as u32;
    t.stats.batches_success += 1;
    t.stats.batches_queued = (total - end).div_ceil(batch) as u64;
    t.stats.records_transferred += succeeded;
    if let Some(hook) = webhook(t, step.session, Hook::Data) {
        let body = json!({
            "success": true,
            "transfer_id": t.id,
            "session_id": step.session.id,
            "metadata": hook.metadata,
            "endgrate": { "endgrate_type": t.endgrate_type },
            "completed": done,
            "transfer_data": results,
            "transfer_errors": t.transfer_errors,
        });
        stage_webhook(step.db, &mut writes, step.session, "data", &hook, &body)?;
    }
    Ok((if done { Progress::Done } else { Progress::More }, writes))
}

/// Stages the error record of a rejected item, kept in `rejected` for the
/// batch's error webhook.
fn stage_item_error(
    step: &Step<'_>,
    t: &mut Transfer,
    writes: &mut Writes,
    rejected: &mut Vec<ErrorRecord>,
    index: usize,
    item: &ItemIn,
    error: Failure,
) -> Result<(), StepError> {
    t.transfer_errors = true;
    let integration = step.session.integration(step.manifest, step.integration);
    let mut record = ErrorRecord::new(
        step.db,
        NewError {
            account: &step.session.account,
            session_id: &step.session.id,
            transfer_id: Some(&t.id),
            error_type: error.error_type,
            message: error.message,
            provider_info: provider_info(step.manifest, step.public_url),
            integration_info: integration
                .as_ref()
                .map_or(Value::Null, |i| integration_info(i, t.method.direction())),
            index: Some(index),
            internal_id: item.internal_id.clone(),
        },
    )?;
    if error.unknown {
        // Not "rejected, correct it and push it again": that could create it twice.
        record.error_resolve_text = reconcile::resolve_text(&step.manifest.display_name);
    }
    writes.put(TreeId::Errors, record.key(), encode(&record));
    rejected.push(record);
    Ok(())
}

/// The one error webhook of a batch with rejected items: the first item's
/// error, with `count` and every rejected item in `items`.
fn stage_rejected(
    step: &Step<'_>,
    t: &Transfer,
    writes: &mut Writes,
    rejected: &[ErrorRecord],
) -> Result<(), StepError> {
    let (Some(first), Some(hook)) = (rejected.first(), webhook(t, step.session, Hook::Error))
    else {
        return Ok(());
    };
    let mut body = first.to_json();
    body["metadata"] = hook.metadata.clone();
    body["count"] = json!(rejected.len());
    body["items"] = rejected
        .iter()
        .map(|r| {
            json!({
                "pk": r.pk,
                "index": r.index,
                "internal_id": r.internal_id,
                "error_type": r.error_type,
                "message": r.message,
            })
        })
        .collect();
    stage_webhook(step.db, writes, step.session, "error", &hook, &body)?;
    Ok(())
}

/// `transfer \0 00000012` or `transfer \0 00000012/crm-company/0003`.
/// The idempotency key of one write: the same for every send of the same
/// item of the same transfer, 32 hex digits.
fn idempotency_key(op_key: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(op_key)[..16])
}

fn op_key(transfer: &str, index: usize, child: Option<(&str, usize)>) -> Vec<u8> {
    let op = match child {
        None => format!("{index:08}"),
        Some((ty, j)) => format!("{index:08}/{ty}/{j:04}"),
    };
    key(&[transfer, &op])
}

/// Writes `ops` of one schema: resolves each to a create or an update
/// (journal, id, internal id, upsert lookup), then sends them in batches.
async fn run_ops(
    step: &Step<'_>,
    t: &Transfer,
    schema: &SessionSchema,
    ops: &[Op<'_>],
) -> Result<HashMap<Vec<u8>, Outcome>, StepError> {
    let mut outcomes: HashMap<Vec<u8>, Outcome> = HashMap::new();
    let Some(integration) = schema.integration.clone() else {
        for op in ops {
            outcomes.insert(
                op.key.clone(),
                Err(Failure::integration(
                    format!(
                        "{} cannot store {}",
                        step.manifest.display_name, schema.name
                    ),
                    false,
                )),
            );
        }
        return Ok(outcomes);
    };
    let provider = &step.manifest.display_name;
    // Journal entries decided before anything is sent: kept, not flushed
    // (losing them only costs the lookups again).
    let mut decided = Writes::default();

    // 1. What the journal already knows, and which records need an upsert
    //    lookup. The same internal id twice in one batch is written once;
    //    a record with the upsert key of an earlier one in the batch becomes
    //    an update of that one's record once it is written (`deferred`), so
    //    a push never creates two records of one key.
    let mut first_of: HashMap<String, Vec<u8>> = HashMap::new();
    let mut aliases: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut planned: Vec<(&Op, Value, Plan)> = Vec::new();
    let mut claims = Claims::default();
    let mut deferred: Vec<(&Op, Vec<u8>)> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        if n % 20 == 19 {
            step.renew(&t.id)?;
        }
        if let Some(internal) = &op.item.internal_id {
            if let Some(first) = first_of.get(internal) {
                aliases.push((op.key.clone(), first.clone()));
                continue;
            }
            first_of.insert(internal.clone(), op.key.clone());
        }
        let common = to_common(schema, &op.item.data);
        let journal = get_json::<OpState>(&step.db.trees.push_ops, &op.key)?
            .and_then(|state| state.fresh(crate::store::now_ms()));
        let upserting = !t.disable_upsert;
        let keys = if upserting {
            reconcile::upsert_keys(schema, &common)
        } else {
            Vec::new()
        };
        let plan = match journal {
            Some(OpState::Done { id, created, data }) => {
                claims.claim(&keys, Claim::Written(id.clone()));
                outcomes.insert(op.key.clone(), Ok((id, created, data)));
                continue;
            }
            Some(OpState::Failed { message, unknown }) => {
                outcomes.insert(op.key.clone(), Err(Failure::integration(message, unknown)));
                continue;
            }
            // Sent before a crash or a failed call: did the create happen?
            Some(OpState::Sending { update: None }) if t.disable_upsert => {
                match reconcile::create(provider, None, step.manifest.idempotent_creates) {
                    Unconfirmed::Exists(id) => Plan::Write(Some(id)),
                    Unconfirmed::Absent | Unconfirmed::SendAgain => Plan::Write(None),
                    Unconfirmed::Unknown(message) => {
                        give_up(&mut decided, &mut outcomes, op, message);
                        continue;
                    }
                }
            }
            Some(OpState::Sending { update: None }) => Plan::Reconcile,
            Some(OpState::Sending { update: Some(id) }) => Plan::Write(Some(id)),
            Some(OpState::Resolved { update, .. }) => Plan::Write(update),
            None => {
                let mapped = match &op.item.internal_id {
                    Some(internal) => step
                        .db
                        .trees
                        .id_map
                        .get(key(&[&step.session.id, &schema.name, internal]))?
                        .map(|v| String::from_utf8_lossy(&v).into_owned()),
                    None => None,
                };
                match (op.item.id.clone().or(mapped), t.disable_upsert) {
                    (Some(id), _) => Plan::Write(Some(id)),
                    (None, true) => Plan::Write(None),
                    (None, false) => match claims.of(&keys) {
                        Some(Claim::Written(id)) => Plan::Write(Some(id.clone())),
                        Some(Claim::Pending(first)) => {
                            deferred.push((op, first.clone()));
                            continue;
                        }
                        None => Plan::Lookup,
                    },
                }
            }
        };
        match &plan {
            Plan::Write(Some(id)) => claims.claim(&keys, Claim::Written(id.clone())),
            _ => claims.claim(&keys, Claim::Pending(op.key.clone())),
        }
        planned.push((op, common, plan));
    }

    // 2. The upsert lookups of the whole batch, in one call.
    let asking: Vec<usize> = (0..planned.len())
        .filter(|&i| matches!(planned[i].2, Plan::Lookup | Plan::Reconcile))
        .collect();
    let records: Vec<&Value> = asking.iter().map(|&i| &planned[i].1).collect();
    let lookups = reconcile::find_existing(step, schema, &integration, &records).await?;
    let mut unknown = Vec::new();
    let mut failed_lookup: Option<StepError> = None;
    for (&i, lookup) in asking.iter().zip(lookups) {
        let lookup = match lookup {
            Ok(lookup) => lookup,
            Err(e) => {
                failed_lookup.get_or_insert(e);
                continue;
            }
        };
        let (op, _, plan) = &mut planned[i];
        *plan = match plan {
            Plan::Reconcile => {
                match reconcile::create(provider, Some(lookup), step.manifest.idempotent_creates) {
                    Unconfirmed::Exists(id) => Plan::Write(Some(id)),
                    Unconfirmed::Absent | Unconfirmed::SendAgain => Plan::Write(None),
                    Unconfirmed::Unknown(message) => {
                        give_up(&mut decided, &mut outcomes, op, message);
                        unknown.push(i);
                        continue;
                    }
                }
            }
            _ => {
                let update = lookup.found();
                decided.put(
                    TreeId::PushOps,
                    op.key.clone(),
                    encode(&OpState::resolved(update.clone())),
                );
                Plan::Write(update)
            }
        };
    }
    step.commit(&t.id, decided).await?;
    // The answers that came are kept; the step is tried again for the rest.
    if let Some(e) = failed_lookup {
        return Err(e);
    }

    // An update leaves alone the fields the end user chose not to update.
    let mut pending: Vec<(&Op, Option<String>, Value)> = Vec::new();
    for (i, (op, common, plan)) in planned.into_iter().enumerate() {
        let Plan::Write(update) = plan else {
            debug_assert!(unknown.contains(&i));
            continue;
        };
        let common = match update {
            Some(_) => to_common(schema, &kept_on_update(schema, &op.item.data)),
            None => common,
        };
        pending.push((op, update, common));
    }

    write_pending(step, t, schema, &integration, &pending, &mut outcomes).await?;

    // 3. The records deferred behind an earlier one of the same key: each
    //    an update of the record that one made, one per record a round (a
    //    batch must not update one record twice), in the order pushed.
    while !deferred.is_empty() {
        let mut round: Vec<(&Op, Option<String>, Value)> = Vec::new();
        let mut later = Vec::new();
        let mut taken: Vec<Vec<u8>> = Vec::new();
        for (op, first) in deferred {
            if taken.contains(&first) {
                later.push((op, first));
                continue;
            }
            taken.push(first.clone());
            match outcomes.get(&first) {
                Some(Ok((id, _, _))) => {
                    let common = to_common(schema, &kept_on_update(schema, &op.item.data));
                    round.push((op, Some(id.clone()), common));
                }
                // The first of its key was not written: this one is not
                // either, for the same reason, rather than guessed at.
                failed => {
                    let why = failed
                        .and_then(|outcome| outcome.as_ref().err())
                        .map_or("it has no outcome".to_owned(), |f| f.message.clone());
                    let message = format!(
                        "not sent: an earlier item of this push with the same upsert key was not written ({why})"
                    );
                    outcomes.insert(op.key.clone(), Err(Failure::integration(message, false)));
                }
            }
        }
        write_pending(step, t, schema, &integration, &round, &mut outcomes).await?;
        deferred = later;
    }
    for (alias, first) in aliases {
        if let Some(outcome) = outcomes.get(&first).cloned() {
            outcomes.insert(alias, outcome);
        }
    }
    Ok(outcomes)
}

/// Writes `pending` (each an update of its id, or a create) in batches:
/// journaled as `Sending` (durably) before each batch goes out, then as
/// `Done` or `Failed` with the internal-id map, durably before the next.
async fn write_pending(
    step: &Step<'_>,
    t: &Transfer,
    schema: &SessionSchema,
    integration: &str,
    pending: &[(&Op<'_>, Option<String>, Value)],
    outcomes: &mut HashMap<Vec<u8>, Outcome>,
) -> Result<(), StepError> {
    let batch = step.manifest.batch_limits.push_batch();
    for chunk in pending.chunks(batch) {
        // 1. The journal says what is about to be sent, durably.
        let mut writes = Writes::default();
        for (op, update, _) in chunk {
            writes.put(
                TreeId::PushOps,
                op.key.clone(),
                encode(&OpState::Sending {
                    update: update.clone(),
                }),
            );
        }
        step.commit(&t.id, writes).await?;
        step.db.flush().await?;

        // 2. The provider writes.
        let items: Vec<PushItem> = chunk
            .iter()
            .map(|(op, update, common)| {
                let (data, passthrough) =
                    split_passthrough(common, &step.schema.passthrough_fields);
                PushItem {
                    id: update.clone(),
                    idempotency_key: idempotency_key(&op.key),
                    data,
                    associations: op.links.clone(),
                    passthrough,
                }
            })
            .collect();
        let answers = step
            .runtime
            .push(
                &step.manifest.id,
                &step.connection,
                Some(step.credential()),
                integration,
                &items,
            )
            .await
            .map_err(|e| step.classify(e))?;

        // 3. The outcome, with the internal-id map, durably before the next batch.
        let mut writes = Writes::default();
        let mut retry: Option<StepError> = None;
        for (i, (op, update, _)) in chunk.iter().enumerate() {
            let state = match answers.get(i) {
                Some(Ok(pushed)) => {
                    let data: Value =
                        serde_json::from_str(&pushed.data).unwrap_or_else(|_| json!({}));
                    let data = from_common(schema, data);
                    if let Some(internal) = &op.item.internal_id {
                        writes.put(
                            TreeId::IdMap,
                            key(&[&step.session.id, &schema.name, internal]),
                            pushed.id.as_bytes().to_vec(),
                        );
                    }
                    OpState::Done {
                        id: pushed.id.clone(),
                        created: pushed.created && update.is_none(),
                        data,
                    }
                }
                Some(Err(ConnectorError::RateLimited(secs))) => {
                    retry.get_or_insert(StepError::RateLimited {
                        after: secs.map(|s| std::time::Duration::from_secs(u64::from(s))),
                    });
                    continue;
                }
                Some(Err(ConnectorError::Transient(m))) => {
                    retry.get_or_insert(StepError::Retry {
                        after: None,
                        reason: m.clone(),
                    });
                    continue;
                }
                Some(Err(ConnectorError::Unauthorized(m))) => {
                    retry.get_or_insert(StepError::Auth(m.clone()));
                    continue;
                }
                Some(Err(e)) => OpState::Failed {
                    message: e.to_string(),
                    unknown: false,
                },
                None => OpState::Failed {
                    message: "the connector returned no result for this item".into(),
                    unknown: false,
                },
            };
            match &state {
                OpState::Done { id, created, data } => {
                    outcomes.insert(op.key.clone(), Ok((id.clone(), *created, data.clone())))
                }
                OpState::Failed { message, unknown } => outcomes.insert(
                    op.key.clone(),
                    Err(Failure::integration(message.clone(), *unknown)),
                ),
                OpState::Sending { .. } | OpState::Resolved { .. } => None,
            };
            writes.put(TreeId::PushOps, op.key.clone(), encode(&state));
        }
        step.commit(&t.id, writes).await?;
        step.db.flush().await?;
        if let Some(err) = retry {
            return Err(err);
        }
    }
    Ok(())
}

/// Which record of a batch holds each upsert key, so a later record with
/// one of its keys updates that record instead of creating another.
#[derive(Default)]
struct Claims {
    by_key: HashMap<String, Claim>,
}

#[derive(Debug, Clone, PartialEq)]
enum Claim {
    /// The provider holds it under this id (written, or to be updated).
    Written(String),
    /// The record of this op will make it (looked up or created first).
    Pending(Vec<u8>),
}

impl Claims {
    /// The first claim on any of `keys`.
    fn of(&self, keys: &[Value]) -> Option<&Claim> {
        keys.iter().find_map(|k| self.by_key.get(&claim_key(k)))
    }

    /// Claims each of `keys` not claimed yet.
    fn claim(&mut self, keys: &[Value], claim: Claim) {
        for k in keys {
            self.by_key
                .entry(claim_key(k))
                .or_insert_with(|| claim.clone());
        }
    }
}

/// A key set as compared within a batch: strings trimmed and lowercased, as
/// providers match emails and names.
fn claim_key(keys: &Value) -> String {
    fn fold(value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(s.trim().to_lowercase()),
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), fold(v))).collect(),
            Value::Array(items) => items.iter().map(fold).collect(),
            other => other.clone(),
        }
    }
    fold(keys).to_string()
}

/// What becomes of one record of a batch before it is sent.
enum Plan {
    /// Look it up by its keys first (an upsert).
    Lookup,
    /// A create that was sent but never confirmed: look it up to learn
    /// whether it was made.
    Reconcile,
    /// Send it: an update of this id, or a create.
    Write(Option<String>),
}

/// Records an unconfirmed create as unknown for good: never sent again, and
/// reported the same by a retried step without asking again.
fn give_up(
    decided: &mut Writes,
    outcomes: &mut HashMap<Vec<u8>, Outcome>,
    op: &Op<'_>,
    message: String,
) {
    let state = OpState::Failed {
        message: message.clone(),
        unknown: true,
    };
    decided.put(TreeId::PushOps, op.key.clone(), encode(&state));
    outcomes.insert(op.key.clone(), Err(Failure::integration(message, true)));
}

/// An item's data without the fields marked "do not update" on the session's
/// field-mapping page (they are written when a record is created only).
fn kept_on_update(schema: &SessionSchema, data: &Value) -> Value {
    let mut data = data.clone();
    if let Value::Object(fields) = &mut data {
        fields.retain(|name, _| schema.upsert.get(name) != Some(&UpsertBehaviour::DoNotUpdate));
    }
    data
}

fn to_common(schema: &SessionSchema, data: &Value) -> Value {
    match (&schema.mapping, schema.custom) {
        (Some(mapping), true) => mapping.to_common(data),
        _ => data.clone(),
    }
}

fn from_common(schema: &SessionSchema, data: Value) -> Value {
    match (&schema.mapping, schema.custom) {
        (Some(mapping), true) => mapping.to_custom(&data),
        _ => data,
    }
}

/// An item's record without the session's passthrough fields and the
/// provider fields its mapping wrote (under [`PROVIDER_FIELDS`]), and those
/// values by the provider's names when it has any.
fn split_passthrough(record: &Value, fields: &[ProviderField]) -> (Value, Option<Value>) {
    let Value::Object(members) = record else {
        return (record.clone(), None);
    };
    let mut common = serde_json::Map::new();
    let mut passthrough = serde_json::Map::new();
    for (name, value) in members {
        if name == PROVIDER_FIELDS {
            if let Value::Object(mapped) = value {
                passthrough.extend(mapped.clone());
            }
        } else if fields.iter().any(|f| &f.name == name) {
            passthrough.insert(name.clone(), value.clone());
        } else {
            common.insert(name.clone(), value.clone());
        }
    }
    let passthrough = (!passthrough.is_empty()).then_some(Value::Object(passthrough));
    (Value::Object(common), passthrough)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_fields_are_split_off_the_common_record() {
        let field = |name: &str| ProviderField {
            name: name.into(),
            title: name.into(),
            json_type: "string".into(),
            custom: true,
        };
        let record = json!({ "first_name": "Ada", "favorite_color": "red", "loyalty_points": 3 });
        let (common, passthrough) =
            split_passthrough(&record, &[field("favorite_color"), field("loyalty_points")]);
        assert_eq!(common, json!({ "first_name": "Ada" }));
        assert_eq!(
            passthrough,
            Some(json!({ "favorite_color": "red", "loyalty_points": 3 }))
        );
        assert_eq!(split_passthrough(&record, &[]), (record.clone(), None));
        assert_eq!(
            split_passthrough(&record, &[field("other")]),
            (record.clone(), None)
        );
        // Values a mapping wrote to provider fields go the same way.
        let mapped = json!({ "first_name": "Ada", "$provider": { "favorite_color": "blue" } });
        assert_eq!(
            split_passthrough(&mapped, &[]),
            (
                json!({ "first_name": "Ada" }),
                Some(json!({ "favorite_color": "blue" }))
            )
        );
    }
    use crate::store::decode;

    #[test]
    fn journals_of_earlier_versions_read_as_known_failures() {
        let old = br#"{"Failed":{"message":"HubSpot rejected the record: bad email"}}"#;
        let state: OpState = decode(old).expect("an earlier journal entry reads");
        assert!(matches!(state, OpState::Failed { unknown: false, .. }));
        let unknown = OpState::Failed {
            message: "outcome unknown".into(),
            unknown: true,
        };
        let back: OpState = decode(&encode(&unknown)).expect("round trip");
        assert!(matches!(back, OpState::Failed { unknown: true, .. }));
    }

    #[test]
    fn a_lookup_answer_is_trusted_for_a_while_then_asked_again() {
        let now = 1_000_000_000;
        let asked = |asked_ms| OpState::Resolved {
            update: Some("12".into()),
            asked_ms,
        };
        assert!(asked(now - 1000).fresh(now).is_some());
        assert!(asked(now - RESOLVED_FOR_MS - 1).fresh(now).is_none());
        // Written by a version that did not date its answers: asked again.
        let old: OpState = decode(br#"{"Resolved":{"update":"12"}}"#).expect("reads");
        assert!(old.fresh(now).is_none());
        // Only lookup answers age: what was sent stays.
        let done = OpState::Done {
            id: "12".into(),
            created: true,
            data: json!({}),
        };
        assert!(done.fresh(u64::MAX).is_some());
    }
}
