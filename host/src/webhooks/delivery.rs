//! Delivers the outbox: POSTs each webhook with its signature, retries
//! failures with exponential backoff, and keeps each session's webhooks in
//! order (one at a time) unless the session set `webhook_concurrency`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::outbox::{self, Delivery};
use crate::accounts::Accounts;
use crate::store::{Db, encode, now_ms};

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The first retry waits this long; each next one twice as long.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A delivery still failing after this long is dropped (and logged).
    pub give_up_after: Duration,
    pub timeout: Duration,
    pub max_in_flight: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(72 * 3600),
            timeout: Duration::from_secs(15),
            max_in_flight: 32,
        }
    }
}

/// Wakes the deliverer when something was added to the outbox.
#[derive(Clone, Default)]
pub struct Doorbell(Arc<Notify>);

impl Doorbell {
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

pub fn spawn(
    db: Db,
    accounts: Accounts,
    config: WebhookConfig,
    doorbell: Doorbell,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchyard-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let mut in_flight: HashSet<u64> = HashSet::new();
        let mut attempts: JoinSet<u64> = JoinSet::new();
        loop {
            let mut next_due: Option<u64> = None;
            match outbox::pending(&db) {
                Ok(pending) => {
                    let now = now_ms();
                    // Sessions whose earliest undelivered webhook is not done.
                    let mut waiting: HashSet<String> = HashSet::new();
                    for (seq, delivery) in pending {
                        let ordered = !delivery.concurrent;
                        if ordered && waiting.contains(&delivery.session_id) {
                            continue;
                        }
                        if ordered {
                            waiting.insert(delivery.session_id.clone());
                        }
                        if in_flight.contains(&seq) {
                            continue;
                        }
                        if delivery.next_attempt_ms > now {
                            next_due = Some(next_due.map_or(delivery.next_attempt_ms, |d: u64| {
                                d.min(delivery.next_attempt_ms)
                            }));
                            continue;
                        }
                        if in_flight.len() >= config.max_in_flight {
                            break;
                        }
                        in_flight.insert(seq);
                        let (db, accounts, client, config) =
                            (db.clone(), accounts.clone(), client.clone(), config.clone());
                        attempts.spawn(async move {
                            attempt(&db, &accounts, &client, &config, seq, delivery).await;
                            seq
                        });
                    }
                }
                Err(err) => tracing::error!(%err, "cannot read the webhook outbox"),
            }
            let wait = next_due
                .map(|due| Duration::from_millis(due.saturating_sub(now_ms())))
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            tokio::select! {
                _ = doorbell.0.notified() => {}
                Some(done) = attempts.join_next(), if !attempts.is_empty() => {
                    if let Ok(seq) = done {
                        in_flight.remove(&seq);
                    }
                    // A panicked attempt leaves its seq in flight; clear all
                    // that are no longer running.
                    if attempts.is_empty() {
                        in_flight.clear();
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// One POST of one delivery; on failure, schedules the next attempt.
async fn attempt(
    db: &Db,
    accounts: &Accounts,
    client: &reqwest::Client,
    config: &WebhookConfig,
    seq: u64,
    delivery: Delivery,
) {
    let key = seq.to_be_bytes();
    let secret = match accounts.webhook_secret(&delivery.account) {
        Ok(Some(secret)) => secret,
        Ok(None) => String::new(),
        Err(err) => {
            tracing::error!(%err, "cannot read the webhook secret; retrying later");
            return reschedule(db, config, &key, delivery, "webhook secret unreadable");
        }
    };
    let outcome = client
        .post(&delivery.endpoint)
        .header("content-type", "application/json")
        .header(
            super::SIGNATURE_HEADER,
            super::sign(&secret, delivery.body.as_bytes()),
        )
        .header(super::DELIVERY_HEADER, seq.to_string())
        .header(super::EVENT_HEADER, &delivery.event)
        .body(delivery.body.clone())
        .send()
        .await;
    match outcome {
        Ok(response) if response.status().is_success() => {
            if let Err(err) = db.trees.outbox.remove(key) {
                tracing::error!(%err, "delivered webhook could not be removed from the outbox");
            }
        }
        Ok(response) => {
            let why = format!("the receiver answered {}", response.status());
            reschedule(db, config, &key, delivery, &why)
        }
        Err(err) => reschedule(db, config, &key, delivery, &err.to_string()),
    }
}

fn reschedule(db: &Db, config: &WebhookConfig, key: &[u8; 8], delivery: Delivery, why: &str) {
    let now = now_ms();
    let age = Duration::from_millis(now.saturating_sub(delivery.created_ms));
    if age > config.give_up_after {
        tracing::error!(endpoint = %delivery.endpoint, event = %delivery.event, session = %delivery.session_id, attempts = delivery.attempts + 1, %why, "webhook given up after retrying for too long");
        let _ = db.trees.outbox.remove(key);
        return;
    }
    let mut next = delivery.clone();
    next.attempts += 1;
    let backoff = config
        .backoff_base
        .saturating_mul(1u32 << next.attempts.min(20))
        .min(config.backoff_max);
    // Up to 20% jitter so many failed deliveries do not retry in lockstep.
    let jitter = backoff.mul_f64(rand::random::<f64>() * 0.2);
    next.next_attempt_ms = now + (backoff + jitter).as_millis() as u64;
    tracing::warn!(endpoint = %delivery.endpoint, event = %delivery.event, attempts = next.attempts, %why, "webhook delivery failed; will retry");
    // Only if it is still there (its session may have been deleted meanwhile).
    let _ = db
        .trees
        .outbox
        .compare_and_swap(key, Some(encode(&delivery)), Some(encode(&next)));
}
