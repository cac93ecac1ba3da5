//! Delivers the outbox: POSTs each webhook with its signature, retries
//! failures with exponential backoff, and keeps each session's webhooks in
//! order (one at a time) unless the session set `webhook_concurrency`.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::outbox::{self, Delivery};
use super::resolve::PolicyResolver;
use crate::accounts::Accounts;
use crate::net_policy::AddressPolicy;
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
    /// The addresses receivers may have (public ones only by default).
    pub address_policy: AddressPolicy,
    /// Names resolved from this table instead of DNS, as `/etc/hosts`
    /// entries would be; the policy applies to their addresses too.
    pub hosts: HashMap<String, Vec<IpAddr>>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(72 * 3600),
            timeout: Duration::from_secs(15),
            max_in_flight: 32,
            address_policy: AddressPolicy::public_only(),
            hosts: HashMap::new(),
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
        let resolver = PolicyResolver::new(config.address_policy, config.hosts.clone());
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Every connection goes to an address the resolver checked: no
            // proxy from the environment resolves the name elsewhere.
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
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
    // An IP literal is connected to without the resolver: check it here.
    let endpoint = match url::Url::parse(&delivery.endpoint) {
        Ok(url) => url,
        Err(err) => {
            let why = format!("the endpoint is not a URL: {err}");
            return reschedule(db, config, &key, delivery, &why);
        }
    };
    if let Err(refused) = config.address_policy.check_url(&endpoint) {
        return reschedule(db, config, &key, delivery, &refused.to_string());
    }
    let outcome = client
        .post(endpoint)
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
        Err(err) => reschedule(db, config, &key, delivery, &with_causes(&err)),
    }
}

/// An error with its chain of causes: reqwest's own text leaves out why a
/// connection failed (refused, timed out, an address not allowed).
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
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
    next.last_error = Some(why.to_owned());
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
