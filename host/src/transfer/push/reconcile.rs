//! What became of a create that was sent but never confirmed: the journal
//! still says `Sending` because the host died, or the call failed, after the
//! request went out. The provider may have made the record or not.
//!
//! The host finds out by looking the record up by its keys (the upsert
//! lookup), and only when that is allowed and possible: not with
//! `disable_upsert` (the lookup could take another record sharing an email
//! for this one and overwrite it), and not for items without keys the
//! connector can match on (invoices, custom schemas without a common type,
//! contacts without email, phone or full name). Such a create is never sent
//! again, since it could then exist twice: its outcome is reported unknown,
//! so the app can check the provider.
//!
//! Connector contract 0.1.0 gives the host no way to hand a connector an
//! idempotency key (a `push-item` is an id, data and associations), so a
//! provider's own mechanism (QuickBooks' `requestid`) cannot be used here.

use serde_json::Value;

use crate::cdm;
use crate::runtime::CallError;
use crate::runtime::types::ConnectorError;
use crate::transfer::{Step, StepError};

/// What the upsert lookup learnt about a record.
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
    /// No way to know; the message says so. Never send it again.
    Unknown(String),
}

/// Reconciles a create left `Sending`.
pub async fn create(
    step: &Step<'_>,
    disable_upsert: bool,
    common_type: Option<&str>,
    integration: &str,
    common: &Value,
) -> Result<Unconfirmed, StepError> {
    let provider = &step.manifest.display_name;
    if disable_upsert {
        return Ok(Unconfirmed::Unknown(unknown_message(
            provider,
            "the push has disable_upsert, so the host does not look records up by their fields",
        )));
    }
    Ok(
        match find_existing(step, common_type, integration, common).await? {
            Lookup::Found(id) => Unconfirmed::Exists(id),
            Lookup::Absent => Unconfirmed::Absent,
            Lookup::Impossible => Unconfirmed::Unknown(unknown_message(
                provider,
                &format!("the host cannot look it up: it has no field {provider} can match it by"),
            )),
        },
    )
}

/// The upsert lookup: the first provider record matching the record's keys.
pub async fn find_existing(
    step: &Step<'_>,
    common_type: Option<&str>,
    integration: &str,
    common: &Value,
) -> Result<Lookup, StepError> {
    let Some(common_type) = common_type else {
        return Ok(Lookup::Impossible);
    };
    let mut asked = false;
    for keys in cdm::upsert_keys(common_type, common) {
        let found = step
            .runtime
            .find_match(
                &step.manifest.id,
                &step.connection,
                Some(step.credential()),
                integration,
                &keys,
            )
            .await;
        match found {
            Ok(Some(id)) => return Ok(Lookup::Found(id)),
            Ok(None) => asked = true,
            // A provider that cannot match on this key: try the next.
            Err(CallError::Connector {
                error: ConnectorError::Unsupported(_),
                ..
            }) => {}
            Err(e) => return Err(step.classify(e)),
        }
    }
    Ok(if asked {
        Lookup::Absent
    } else {
        Lookup::Impossible
    })
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
