//! What became of a create that was sent but never confirmed: the journal
//! still says `Sending` because the host died, or the call failed, after the
//! request went out. The provider may have made the record or not.
//!
//! The host finds out by looking the record up by its keys (the upsert
//! lookup), and only when that is allowed and possible: not with
//! `disable_upsert` (the lookup could take another record sharing an email
//! for this one and overwrite it), and not for items without keys the
//! connector can match on (invoices, custom schemas without a common type,
//! contacts without email, phone or full name). Such a create is sent again
//! only when the connector declares `idempotent-creates`: its provider makes
//! a create once per idempotency key (QuickBooks `requestid`), and the key is
//! the same for every send of the item, so the provider answers with the
//! record it already made, or makes it now. Otherwise it is never sent
//! again, since it could then exist twice: its outcome is reported unknown,
//! so the app can check the provider.
//!
//! The lookups of a whole batch go to the connector in one `find-matches`
//! call (for a 0.1.0 connector the runtime turns it into `find-match` calls),
//! both for upserts and for reconciling.

use serde_json::Value;

use crate::cdm;
use crate::runtime::CallError;
use crate::runtime::types::ConnectorError;
use crate::sessions::SessionSchema;
use crate::transfer::{Step, StepError};

/// What the upsert lookup learnt about a record.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The provider holds it under this id.
    Found(String),
    /// The provider was asked by at least one key and has no match.
    Absent,
    /// Nothing to ask by: the type has no keys, the item has none of them,
    /// or the connector cannot match on any.
    Impossible,
}

impl Lookup {
    pub fn found(self) -> Option<String> {
        match self {
            Lookup::Found(id) => Some(id),
            Lookup::Absent | Lookup::Impossible => None,
        }
    }
}

/// An unconfirmed create, reconciled.
pub enum Unconfirmed {
    /// It was made (or a record with its keys exists): update that record.
    Exists(String),
    /// The lookup found nothing: it was not made, so create it.
    Absent,
    /// No lookup, but the provider makes a create once per idempotency key:
    /// send the same create again, with the same key.
    SendAgain,
    /// No way to know; the message says so. Never send it again.
    Unknown(String),
}

/// Reconciles a create left `Sending`, given what the upsert lookup found
/// (`None` when it was not asked: `disable_upsert`) and whether the
/// connector declares `idempotent-creates`.
pub fn create(provider: &str, lookup: Option<Lookup>, idempotent_creates: bool) -> Unconfirmed {
    match lookup {
        Some(Lookup::Found(id)) => Unconfirmed::Exists(id),
        Some(Lookup::Absent) => Unconfirmed::Absent,
        None | Some(Lookup::Impossible) if idempotent_creates => Unconfirmed::SendAgain,
        None => Unconfirmed::Unknown(unknown_message(
            provider,
            "the push has disable_upsert, so the host does not look records up by their fields",
        )),
        Some(Lookup::Impossible) => Unconfirmed::Unknown(unknown_message(
            provider,
            &format!("the host cannot look it up: it has no field {provider} can match it by"),
        )),
    }
}

/// The keys a record of `schema` is looked up by, most specific first: a
/// common type's (`crm-contact`: email, then phone, then full name), or a
/// provider object's unique fields, each alone. None for a schema without a
/// common type or unique fields.
pub fn upsert_keys(schema: &SessionSchema, record: &Value) -> Vec<Value> {
    if schema.object_name().is_some() {
        return schema
            .upsert_keys
            .iter()
            .filter_map(|field| {
                let value = record.get(field)?;
                let present = match value {
                    Value::Null => false,
                    Value::String(s) => !s.trim().is_empty(),
                    _ => true,
                };
                present.then(|| serde_json::json!({ field.as_str(): value }))
            })
            .collect();
    }
    match &schema.endgrate_type {
        Some(common_type) => cdm::upsert_keys(common_type, record),
        None => Vec::new(),
    }
}

/// The upsert lookups of `records`, in one `find-matches` call per
/// `max-lookup-batch` records: for each record, the first provider record
/// matching its keys, or why its lookup failed (a lookup throttled or cut
/// off fails alone, so the others' answers are kept).
pub async fn find_existing(
    step: &Step<'_>,
    schema: &SessionSchema,
    integration: &str,
    records: &[&Value],
) -> Result<Vec<Result<Lookup, StepError>>, StepError> {
    let key_sets: Vec<Vec<Value>> = records
        .iter()
        .map(|record| upsert_keys(schema, record))
        .collect();
    let mut lookups: Vec<Result<Lookup, StepError>> =
        key_sets.iter().map(|_| Ok(Lookup::Impossible)).collect();
    // Only records with keys are asked about.
    let asked: Vec<usize> = (0..key_sets.len())
        .filter(|&i| !key_sets[i].is_empty())
        .collect();
    for chunk in asked.chunks(step.manifest.batch_limits.lookup_batch()) {
        let items: Vec<Vec<Value>> = chunk.iter().map(|&i| key_sets[i].clone()).collect();
        let answers = step
            .runtime
            .find_matches(
                &step.manifest.id,
                &step.connection,
                Some(step.credential()),
                integration,
                &items,
            )
            .await
            .map_err(|e| step.classify(e))?;
        for (n, &i) in chunk.iter().enumerate() {
            lookups[i] = match answers.get(n) {
                Some(Ok(Some(id))) => Ok(Lookup::Found(id.clone())),
                Some(Ok(None)) => Ok(Lookup::Absent),
                // A provider that cannot match on any of its keys.
                Some(Err(ConnectorError::Unsupported(_))) => Ok(Lookup::Impossible),
                Some(Err(error)) => Err(step.classify(CallError::Connector {
                    connector: step.manifest.id.clone(),
                    error: error.clone(),
                })),
                None => {
                    return Err(step.classify(CallError::Connector {
                        connector: step.manifest.id.clone(),
                        error: ConnectorError::Fatal(format!(
                            "find-matches answered {} lookups for {} records",
                            answers.len(),
                            items.len()
                        )),
                    }));
                }
            };
        }
    }
    Ok(lookups)
}

fn unknown_message(provider: &str, why: &str) -> String {
    format!(
        "outcome unknown: the create of this item may or may not have reached {provider} \
         (the host stopped, or the call failed, before {provider} confirmed it), and it was \
         not retried, so that it is never created twice; {why}. Check {provider} for the \
         record before pushing it again"
    )
}

/// The `error_resolve_text` of an item whose outcome is unknown.
pub fn resolve_text(provider: &str) -> String {
    format!(
        "Switchyard cannot tell whether {provider} created this item. Check {provider}: if \
         the record is there, nothing needs pushing (push it with its id to change it); if \
         not, push the item again. The other items were not affected."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_that_cannot_be_looked_up_is_sent_again_only_when_creates_are_idempotent() {
        for lookup in [None, Some(Lookup::Impossible)] {
            assert!(matches!(
                create("QuickBooks", lookup.clone(), true),
                Unconfirmed::SendAgain
            ));
            assert!(
                matches!(create("HubSpot", lookup, false), Unconfirmed::Unknown(m) if m.contains("outcome unknown"))
            );
        }
        for idempotent in [true, false] {
            assert!(matches!(
                create("QuickBooks", Some(Lookup::Found("7".into())), idempotent),
                Unconfirmed::Exists(id) if id == "7"
            ));
            assert!(matches!(
                create("QuickBooks", Some(Lookup::Absent), idempotent),
                Unconfirmed::Absent
            ));
        }
    }
}
