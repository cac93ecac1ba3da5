//! What a step stages beside its records, in the same commit: the error
//! records of a transfer and the webhooks (data, completed, error) that go
//! to the outbox.

use serde_json::Value;

use super::Transfer;
use super::writes::{TreeId, Writes};
use crate::errors::{ErrorRecord, ErrorType, NewError};
use crate::runtime::Runtime;
use crate::sessions::configuration::{integration_info, provider_info};
use crate::sessions::{Session, Webhook};
use crate::store::{Db, StoreError, encode};
use crate::webhooks::outbox::{self, Delivery};

/// Stages an error of a transfer, and its error webhook.
#[allow(clippy::too_many_arguments)]
pub fn stage_error(
    db: &Db,
    runtime: &Runtime,
    public_url: &str,
    writes: &mut Writes,
    transfer: &Transfer,
    session: &Session,
    error_type: ErrorType,
    message: String,
    index: Option<usize>,
    internal_id: Option<String>,
) -> Result<(), StoreError> {
    let manifest = session.provider().and_then(|p| runtime.manifest(p).ok());
    let integration = manifest.as_ref().and_then(|m| {
        let schema = session.schema(&transfer.endgrate_type)?;
        session.integration(m, schema.integration.as_deref()?)
    });
    let direction = transfer.method.direction();
    let record = ErrorRecord::new(
        db,
        NewError {
            account: &session.account,
            session_id: &session.id,
            transfer_id: Some(&transfer.id),
            error_type,
            message,
            provider_info: manifest
                .as_ref()
                .map_or(Value::Null, |m| provider_info(m, public_url)),
            integration_info: integration
                .as_ref()
                .map_or(Value::Null, |i| integration_info(i, direction)),
            index,
            internal_id,
        },
    )?;
    writes.put(TreeId::Errors, record.key(), encode(&record));
    if let Some(hook) = webhook(transfer, session, Hook::Error) {
        let mut body = record.to_json();
        body["metadata"] = hook.metadata.clone();
        stage_webhook(db, writes, session, "error", &hook, &body)?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
pub enum Hook {
    Data,
    Completed,
    Error,
}

/// The webhook of a transfer: its own, else its session's.
pub fn webhook(transfer: &Transfer, session: &Session, hook: Hook) -> Option<Webhook> {
    let pick = |w: &crate::sessions::Webhooks| match hook {
        Hook::Data => w.data.clone(),
        Hook::Completed => w.completed.clone(),
        Hook::Error => w.error.clone(),
    };
    pick(&transfer.webhooks).or_else(|| pick(&session.options.webhooks))
}

pub fn stage_webhook(
    db: &Db,
    writes: &mut Writes,
    session: &Session,
    event: &str,
    hook: &Webhook,
    body: &Value,
) -> Result<(), StoreError> {
    let delivery = Delivery::new(
        &session.account,
        &session.id,
        event,
        &hook.endpoint,
        body,
        session.options.webhook_concurrency,
    );
    let staged = outbox::entry(db, &delivery)?;
    writes.put(TreeId::Outbox, staged.outbox.0, staged.outbox.1);
    writes.put(TreeId::WebhookLog, staged.log.0, staged.log.1);
    Ok(())
}
