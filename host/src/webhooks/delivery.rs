//! Delivers the outbox: POSTs each webhook with its signature, retries
//! failures with exponential backoff, and keeps each session's webhooks in
//! order (one at a time) unless the session set `webhook_concurrency`.
//!
//! The deliverer reads the whole outbox once, when it starts; after that it
//! reads only what arrived ([`outbox::arrivals`]) and the records it
//! attempts, and chooses what to send from memory ([`Schedule`]). So a
//! backlog costs work in proportion to its size, not to its size times the
//! number of deliveries made while it drains. Each account has only a few of
//! the in-flight slots, and connecting has its own short timeout, so a slow
//! or dead receiver of one account delays nobody else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::log::{After, Attempt};
use super::outbox::{self, Delivery, Summary};
use super::resolve::PolicyResolver;
use super::schedule::{Outcome, Schedule};
use crate::accounts::Accounts;
use crate::metrics::Metrics;
use crate::net_policy::AddressPolicy;
use crate::store::{Db, now_ms};

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The first retry waits this long; each next one twice as long.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A delivery still failing after this long is dropped (and logged).
    pub give_up_after: Duration,
    /// Connecting to the receiver (TCP and TLS) must not take longer.
    pub connect_timeout: Duration,
    /// The whole attempt, the receiver's answer included.
    pub timeout: Duration,
    /// Deliveries in flight at once, in all.
    pub max_in_flight: usize,
    /// Deliveries of one account in flight at once.
    pub max_in_flight_per_account: usize,
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
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(15),
            max_in_flight: 32,
            max_in_flight_per_account: 4,
            address_policy: AddressPolicy::public_only(),
            hosts: HashMap::new(),
        }
    }
}

/// Wakes the deliverer when something was added to the outbox, and shows
/// what it has done.
#[derive(Clone, Default)]
pub struct Doorbell {
    bell: Arc<Notify>,
    counters: Arc<Counters>,
}

impl Doorbell {
    pub fn ring(&self) {
        self.bell.notify_one();
    }

    /// What the deliverer has done since it started.
    pub fn stats(&self) -> DeliveryStats {
        let c = &self.counters;
        DeliveryStats {
            rounds: c.rounds.load(Ordering::Relaxed),
            decoded: c.decoded.load(Ordering::Relaxed),
            attempts: c.attempts.load(Ordering::Relaxed),
        }
    }
}

#[derive(Default)]
struct Counters {
    rounds: AtomicU64,
    decoded: AtomicU64,
    attempts: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Counts of the deliverer's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Times it chose what to send.
    pub rounds: u64,
    /// Outbox records it read and decoded.
    pub decoded: u64,
    /// POSTs it started (or would have, had the record still been there).
    pub attempts: u64,
}

pub fn spawn(
    db: Db,
    accounts: Accounts,
    config: WebhookConfig,
    doorbell: Doorbell,
    metrics: Metrics,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let resolver = PolicyResolver::new(config.address_policy, config.hosts.clone());
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Every connection goes to an address the resolver checked: no
            // proxy from the environment resolves the name elsewhere.
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .user_agent(concat!("switchyard-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let counters = doorbell.counters.clone();
        let mut schedule = Schedule::new(config.max_in_flight, config.max_in_flight_per_account);
        let mut attempts: JoinSet<Outcome> = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, u64> = HashMap::new();
        let mut loaded = false;
        loop {
            Counters::add(&counters.rounds, 1);
            // The one full read, of what was waiting before a restart (tried
            // again each round until it succeeds).
            if !loaded {
                match outbox::settled(&db) {
                    Ok(known) => {
                        Counters::add(&counters.decoded, known.len());
                        for item in known {
                            schedule.add(item);
                        }
                        loaded = true;
                    }
                    Err(err) => tracing::error!(%err, "cannot read the webhook outbox"),
                }
            }
            let arrived = match outbox::arrivals(&db, |seq| schedule.contains(seq)) {
                Ok(arrived) => arrived,
                Err(err) => {
                    tracing::error!(%err, "cannot read the webhook outbox");
                    Vec::new()
                }
            };
            Counters::add(&counters.decoded, arrived.len());
            for item in &arrived {
                schedule.add(item.clone());
            }
            for item in schedule.start(now_ms()) {
                let seq = item.seq;
                let (db, accounts, client, config) =
                    (db.clone(), accounts.clone(), client.clone(), config.clone());
                let (counters, metrics) = (counters.clone(), metrics.clone());
                let task = attempts.spawn(async move {
                    attempt(&db, &accounts, &client, &config, &counters, &metrics, item).await
                });
                running.insert(task.id(), seq);
            }
            // What arrived and must wait is moved out of the way of the
            // next look at arrivals.
            let waiting: Vec<u64> = arrived
                .iter()
                .map(|item| item.seq)
                .filter(|seq| !schedule.is_running(*seq))
                .collect();
            if !waiting.is_empty() {
                match outbox::settle(&db, &waiting) {
                    Ok(()) => schedule.settled(&waiting),
                    // They stay where they are, and are attempted there.
                    Err(err) => tracing::error!(%err, "cannot settle arrived webhooks"),
                }
            }
            let wait = schedule
                .next_due()
                .map(|due| Duration::from_millis(due.saturating_sub(now_ms())))
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            tokio::select! {
                _ = doorbell.bell.notified() => {}
                Some(done) = attempts.join_next_with_id(), if !attempts.is_empty() => {
                    let (id, outcome) = match done {
                        Ok((id, outcome)) => (id, outcome),
                        // A panicked attempt changed nothing on disk: try
                        // it again later.
                        Err(err) => {
                            let due_ms = now_ms() + config.backoff_base.as_millis() as u64;
                            (err.id(), Outcome::Retry { due_ms, moved: false })
                        }
                    };
                    if let Some(seq) = running.remove(&id) {
                        schedule.finished(seq, outcome);
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// One POST of one delivery; on failure, schedules the next attempt. Every
/// attempt is recorded in the delivery log, with its outcome.
async fn attempt(
    db: &Db,
    accounts: &Accounts,
    client: &reqwest::Client,
    config: &WebhookConfig,
    counters: &Counters,
    metrics: &Metrics,
    item: Summary,
) -> Outcome {
    Counters::add(&counters.attempts, 1);
    let (seq, settled) = (item.seq, item.settled);
    let delivery = match outbox::load(db, seq, settled) {
        Ok(Some(delivery)) => delivery,
        // Its session was deleted meanwhile.
        Ok(None) => return Outcome::Removed,
        Err(err) => {
            tracing::error!(%err, "cannot read a webhook from the outbox; retrying later");
            let due_ms = now_ms() + config.backoff_base.as_millis() as u64;
            return Outcome::Retry {
                due_ms,
                moved: false,
            };
        }
    };
    Counters::add(&counters.decoded, 1);
    let ended = send(db, accounts, client, config, seq, &delivery).await;
    match &ended {
        Ended::Delivered(_) => metrics.webhook_delivery(&delivery.event, true),
        Ended::Failed(_) => metrics.webhook_delivery(&delivery.event, false),
        Ended::SessionGone => {}
    }
    let place = Place {
        db: db.clone(),
        seq,
        settled,
    };
    let backoff = Backoff::of(config);
    // Recording is a transaction, which may wait at the write gate while a
    // flush runs: off the async workers.
    match tokio::task::spawn_blocking(move || place.record(backoff, delivery, ended)).await {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::error!(%err, "recording a webhook attempt failed; retrying it later");
            Outcome::Retry {
                due_ms: now_ms() + backoff.base.as_millis() as u64,
                moved: false,
            }
        }
    }
}

/// How an attempt ended, before it is recorded.
enum Ended {
    Delivered(Attempt),
    Failed(Attempt),
    /// Its session was deleted: it is not sent.
    SessionGone,
}

/// POSTs `delivery` (number `seq`), signed, unless something stops it first.
async fn send(
    db: &Db,
    accounts: &Accounts,
    client: &reqwest::Client,
    config: &WebhookConfig,
    seq: u64,
    delivery: &Delivery,
) -> Ended {
    let clock = Clock::start();
    // A session deleted while its deliveries were being moved can leave one
    // behind; it is not sent.
    match db
        .trees
        .sessions
        .contains_key(delivery.session_id.as_bytes())
    {
        Ok(true) => {}
        Ok(false) => return Ended::SessionGone,
        Err(err) => {
            tracing::error!(%err, "cannot look up a webhook's session; retrying later");
            return Ended::Failed(clock.failed(None, "storage failure"));
        }
    }
    let secret = match accounts.webhook_secret(&delivery.account) {
        Ok(Some(secret)) => secret,
        Ok(None) => String::new(),
        Err(err) => {
            tracing::error!(%err, "cannot read the webhook secret; retrying later");
            return Ended::Failed(clock.failed(None, "webhook secret unreadable"));
        }
    };
    // An IP literal is connected to without the resolver: check it here.
    let endpoint = match url::Url::parse(&delivery.endpoint) {
        Ok(url) => url,
        Err(err) => {
            let why = format!("the endpoint is not a URL: {err}");
            return Ended::Failed(clock.failed(None, &why));
        }
    };
    if let Err(refused) = config.address_policy.check_url(&endpoint) {
        return Ended::Failed(clock.failed(None, &refused.to_string()));
    }
    let id = seq.to_string();
    let timestamp = now_ms() / 1000;
    let mut request = client
        .post(endpoint)
        .header("content-type", "application/json")
        .header(super::TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            super::SIGNATURE_HEADER,
            super::sign(&secret, timestamp, &id, delivery.body.as_bytes()),
        )
        .header(super::DELIVERY_HEADER, &id)
        .header(super::EVENT_HEADER, &delivery.event);
    if let Some(original) = delivery.redelivery_of {
        request = request.header(super::REDELIVERY_HEADER, original.to_string());
    }
    match request.body(delivery.body.clone()).send().await {
        Ok(response) if response.status().is_success() => {
            Ended::Delivered(clock.delivered(response.status().as_u16()))
        }
        Ok(response) => {
            let status = response.status();
            let why = format!("the receiver answered {status}");
            Ended::Failed(clock.failed(Some(status.as_u16()), &why))
        }
        Err(err) => Ended::Failed(clock.failed(None, &with_causes(&err))),
    }
}

/// Times one attempt, for its log entry.
struct Clock {
    at_ms: u64,
    started: std::time::Instant,
}

impl Clock {
    fn start() -> Self {
        Clock {
            at_ms: now_ms(),
            started: std::time::Instant::now(),
        }
    }

    fn attempt(&self, status: Option<u16>, error: Option<String>) -> Attempt {
        Attempt {
            at_ms: self.at_ms,
            duration_ms: self.started.elapsed().as_millis() as u64,
            status,
            error,
        }
    }

    fn delivered(&self, status: u16) -> Attempt {
        self.attempt(Some(status), None)
    }

    fn failed(&self, status: Option<u16>, why: &str) -> Attempt {
        self.attempt(status, Some(why.to_owned()))
    }
}

/// The retry settings [`Place::record`] needs.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    base: Duration,
    max: Duration,
    give_up_after: Duration,
}

impl Backoff {
    fn of(config: &WebhookConfig) -> Self {
        Backoff {
            base: config.backoff_base,
            max: config.backoff_max,
            give_up_after: config.give_up_after,
        }
    }
}

/// Where an attempted delivery is stored.
struct Place {
    db: Db,
    seq: u64,
    settled: bool,
}

impl Place {
    /// Stores how an attempt of `delivery` ended.
    fn record(&self, backoff: Backoff, delivery: Delivery, ended: Ended) -> Outcome {
        match ended {
            Ended::Delivered(attempt) => self.finish(&delivery, &attempt, After::Delivered),
            Ended::Failed(attempt) => self.reschedule(backoff, delivery, attempt),
            Ended::SessionGone => self.discard(&delivery),
        }
    }

    /// Out of the outbox and the log: its session is gone.
    fn discard(&self, delivery: &Delivery) -> Outcome {
        if let Err(err) = outbox::discard(&self.db, self.seq, self.settled, &delivery.account) {
            tracing::error!(%err, "a webhook of a deleted session could not be removed from the outbox");
        }
        Outcome::Removed
    }

    /// Out of the outbox, delivered or given up on, and logged so.
    fn finish(&self, delivery: &Delivery, attempt: &Attempt, after: After) -> Outcome {
        // `Ok(false)`: gone meanwhile (its session was deleted).
        if let Err(err) = outbox::finish(&self.db, self.seq, self.settled, delivery, attempt, after)
        {
            // It stays in the outbox until the next start, and is attempted
            // again then (delivery is at least once).
            tracing::error!(%err, "a finished webhook could not be taken out of the outbox");
        }
        Outcome::Removed
    }

    /// After a failed `attempt`: the next one, with backoff, or the end of
    /// the delivery if it has failed for too long.
    fn reschedule(&self, backoff: Backoff, delivery: Delivery, attempt: Attempt) -> Outcome {
        let now = now_ms();
        let why = attempt.error.clone().unwrap_or_default();
        let age = Duration::from_millis(now.saturating_sub(delivery.created_ms));
        if age > backoff.give_up_after {
            tracing::error!(endpoint = %delivery.endpoint, event = %delivery.event, session = %delivery.session_id, attempts = delivery.attempts + 1, %why, "webhook given up after retrying for too long");
            return self.finish(&delivery, &attempt, After::GivenUp);
        }
        let mut next = delivery.clone();
        next.attempts += 1;
        next.last_error = Some(why.clone());
        let wait = backoff
            .base
            .saturating_mul(1u32 << next.attempts.min(20))
            .min(backoff.max);
        // Up to 20% jitter so many failed deliveries do not retry in lockstep.
        let jitter = wait.mul_f64(rand::random::<f64>() * 0.2);
        next.next_attempt_ms = now + (wait + jitter).as_millis() as u64;
        tracing::warn!(endpoint = %delivery.endpoint, event = %delivery.event, attempts = next.attempts, %why, "webhook delivery failed; will retry");
        // Only if it is still there (its session may have been deleted meanwhile).
        match outbox::update(&self.db, self.seq, self.settled, &delivery, &next, &attempt) {
            Ok(true) => Outcome::Retry {
                due_ms: next.next_attempt_ms,
                moved: true,
            },
            Ok(false) => Outcome::Removed,
            Err(err) => {
                tracing::error!(%err, "cannot record a failed webhook attempt");
                // Tried again where it still is.
                Outcome::Retry {
                    due_ms: next.next_attempt_ms,
                    moved: false,
                }
            }
        }
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
