//! Sending a finished webhook delivery again on request (after a receiver
//! lost or mishandled it): a fresh delivery, with a new id, of the same
//! event and the same body to the same endpoint.
//!
//! A new id rather than the old delivery re-armed: receivers are told to drop
//! a delivery id they have already accepted (the id stays the same across
//! the retries of one delivery), so the old id would be dropped by exactly
//! the receivers that deduplicate as told. The new delivery names the one it
//! repeats ([`super::REDELIVERY_HEADER`], and `redelivery_of` in the log).
//! Only a finished delivery (delivered or given up) is sent again: one still
//! waiting is retried on its own, and a copy beside it would reach the
//! receiver twice.

use super::log::{self, LogEntry, State};
use super::outbox::{self, Delivery};
use crate::store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error("no webhook delivery with this id")]
    NotFound,
    #[error("the delivery is still {}: it is retried on its own", .state.as_str())]
    Unfinished {
        state: State,
        next_attempt_ms: Option<u64>,
    },
    #[error("the body of this delivery is no longer stored")]
    BodyGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Queues delivery `seq` of `account` again, to a session whose webhooks
/// are `concurrent` or not (not flushed: the caller flushes, then rings the
/// deliverer); the new delivery's log entry.
pub fn redeliver(
    db: &Db,
    account: &str,
    seq: u64,
    concurrent: bool,
) -> Result<LogEntry, RedeliverError> {
    let original = log::get(db, account, seq)?.ok_or(RedeliverError::NotFound)?;
    if !original.state.is_finished() {
        return Err(RedeliverError::Unfinished {
            state: original.state,
            next_attempt_ms: original.next_attempt_ms,
        });
    }
    let body = log::body(db, account, seq)?.ok_or(RedeliverError::BodyGone)?;
    let mut delivery = Delivery::with_body(
        account,
        &original.session_id,
        &original.event,
        &original.endpoint,
        body,
        concurrent,
    );
    delivery.redelivery_of = Some(seq);
    let new_seq = outbox::push(db, &delivery)?;
    Ok(LogEntry::new(new_seq, &delivery))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::log::{After, Attempt};

    #[test]
    fn only_a_finished_delivery_is_sent_again_under_a_new_id_with_the_same_body() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = Db::open(dir.path()).expect("the database opens");
        let d = Delivery::with_body(
            "acme",
            "s",
            "completed",
            "http://127.0.0.1:9/hook",
            r#"{"exact":  "bytes"}"#.into(),
            false,
        );
        let seq = outbox::push(&db, &d).expect("pushed");
        assert!(matches!(
            redeliver(&db, "acme", seq, false),
            Err(RedeliverError::Unfinished {
                state: State::Pending,
                ..
            })
        ));
        assert!(matches!(
            redeliver(&db, "other", seq, false),
            Err(RedeliverError::NotFound)
        ));
        let ok = Attempt {
            at_ms: 1,
            duration_ms: 1,
            status: Some(204),
            error: None,
        };
        let arrived = outbox::arrivals(&db, |_| false).expect("arrivals");
        assert!(
            outbox::finish(&db, seq, arrived[0].settled, &d, &ok, After::Delivered)
                .expect("finished")
        );

        let again = redeliver(&db, "acme", seq, true).expect("queued again");
        assert_ne!(again.seq, seq);
        assert_eq!(
            (again.redelivery_of, again.state, again.event.as_str()),
            (Some(seq), State::Pending, "completed")
        );
        let queued = outbox::load(&db, again.seq, false)
            .expect("read")
            .expect("in the outbox");
        assert_eq!(queued.body, d.body, "the same bytes");
        assert!(queued.concurrent);
        let logged = log::get(&db, "acme", again.seq)
            .expect("read")
            .expect("logged");
        assert_eq!(logged, again);
    }
}
