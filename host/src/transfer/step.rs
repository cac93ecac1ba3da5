//! One step of a transfer: what it is given ([`Step`]), how it ends
//! ([`Progress`]) or fails ([`StepError`], from a connector's error by
//! [`classify`]), and what the queue does after a failure ([`RetryPolicy`], a
//! pure function the conformance suite uses too).

use std::sync::Arc;
use std::time::Duration;

use super::TransferConfig;
use super::queue::QueueEntry;
use super::writes::{CommitError, Writes, commit_in_background};
use crate::credentials::Credentials;
use crate::errors::ErrorType;
use crate::runtime::manifest::Manifest;
use crate::runtime::types::{Connection, ConnectorError};
use crate::runtime::{CallError, Runtime};
use crate::sessions::{Session, SessionSchema};
use crate::store::{Db, StoreError, encode, now_ms};

/// How a step ended.
pub enum Progress {
    More,
    Done,
}

/// Why a step did not move the transfer forward.
#[derive(Debug)]
pub enum StepError {
    /// Try again later (temporary provider failure); counts towards giving up.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// The provider asks to slow down: wait (its `Retry-After` if given) and
    /// go on; back-pressure is not a failure and never makes a transfer give up.
    RateLimited {
        after: Option<Duration>,
    },
    /// The credentials are no longer accepted: the end user must sign in again.
    Auth(String),
    /// The transfer cannot go on.
    Fail {
        error_type: ErrorType,
        message: String,
    },
    /// Cancelled, or the lease was lost.
    Lost,
    Store(StoreError),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(e)
    }
}

impl From<sled::Error> for StepError {
    fn from(e: sled::Error) -> Self {
        StepError::Store(e.into())
    }
}

/// A commit task that did not finish (it panicked).
impl From<tokio::task::JoinError> for StepError {
    fn from(e: tokio::task::JoinError) -> Self {
        StepError::Store(StoreError::Corrupt(format!("the commit task failed: {e}")))
    }
}

impl From<CommitError> for StepError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::LeaseLost => StepError::Lost,
            CommitError::Store(e) => StepError::Store(e),
        }
    }
}

/// What one step needs to know.
pub struct Step<'a> {
    pub db: &'a Db,
    pub runtime: &'a Runtime,
    pub public_url: &'a str,
    pub config: &'a TransferConfig,
    pub session: &'a Session,
    pub schema: &'a SessionSchema,
    pub manifest: &'a Manifest,
    /// The provider integration serving the schema.
    pub integration: &'a str,
    pub connection: Connection,
    pub credentials: &'a Credentials,
    pub token: u64,
}

impl Step<'_> {
    pub fn credential(&self) -> Arc<dyn crate::runtime::credentials::CredentialSource> {
        self.credentials.source(&self.session.id)
    }

    /// A connector call's failure, as a step error.
    pub fn classify(&self, err: CallError) -> StepError {
        classify(&self.manifest.display_name, err)
    }

    /// Commits `writes` under this step's lease, on the blocking pool
    /// ([`commit_in_background`]).
    pub async fn commit(&self, transfer_id: &str, writes: Writes) -> Result<(), StepError> {
        commit_in_background(self.db, transfer_id, Some(self.token), writes).await??;
        Ok(())
    }

    /// Renews the lease during a long step.
    pub fn renew(&self, transfer_id: &str) -> Result<(), StepError> {
        renew_lease(self.db, transfer_id, self.token, self.config.lease)
    }
}

/// A connector call's failure, as what the transfer does next.
pub fn classify(provider: &str, err: CallError) -> StepError {
    let named = |m: String| {
        if m.contains(provider) {
            m
        } else {
            format!("{provider}: {m}")
        }
    };
    match err {
        CallError::Connector { error, .. } => match error {
            ConnectorError::Unauthorized(m) => StepError::Auth(named(m)),
            ConnectorError::RateLimited(secs) => StepError::RateLimited {
                after: secs.map(|s| Duration::from_secs(u64::from(s))),
            },
            ConnectorError::Transient(m) => StepError::Retry {
                after: None,
                reason: named(m),
            },
            ConnectorError::InvalidData(m)
            | ConnectorError::NotFound(m)
            | ConnectorError::Fatal(m)
            | ConnectorError::Unsupported(m) => StepError::Fail {
                error_type: ErrorType::Upstream,
                message: named(m),
            },
        },
        CallError::Timeout { .. } => StepError::Retry {
            after: None,
            reason: err.to_string(),
        },
        other => StepError::Fail {
            error_type: ErrorType::Internal,
            message: other.to_string(),
        },
    }
}

/// Extends the lease `token` holds on `transfer_id` by `lease`; `Lost` when
/// it holds it no more.
fn renew_lease(db: &Db, transfer_id: &str, token: u64, lease: Duration) -> Result<(), StepError> {
    let queue = &db.trees.queue;
    let Some(current) = queue.get(transfer_id)? else {
        return Err(StepError::Lost);
    };
    let mut entry: QueueEntry = crate::store::decode(&current)?;
    match &mut entry.lease {
        Some(l) if l.token == token => l.until_ms = now_ms() + lease.as_millis() as u64,
        _ => return Err(StepError::Lost),
    }
    match queue.compare_and_swap(transfer_id, Some(current), Some(encode(&entry))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(StepError::Lost),
        Err(e) => Err(StepError::Store(e.into())),
    }
}

/// How the queue retries failed steps: what follows a failure depends only
/// on the error and the attempts that failed before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff; it doubles with each failed attempt.
    pub base: Duration,
    /// The longest backoff.
    pub max: Duration,
    /// Failed attempts before the transfer gives up (rate limiting and
    /// storage hiccups do not count).
    pub max_attempts: u32,
}

/// What follows a failed step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the step again after `after`; `counts` when it was a failed
    /// attempt (towards giving up).
    Again { after: Duration, counts: bool },
    /// Wait until the end user signs in again.
    AwaitReauth,
    /// The transfer fails (or, lost, stops here).
    GiveUp,
}

impl RetryPolicy {
    /// What follows `err`, after `attempts_before` failed attempts.
    pub fn decide(&self, err: &StepError, attempts_before: u32) -> Decision {
        match err {
            StepError::Retry { after, .. } => {
                let attempts = attempts_before + 1;
                if attempts > self.max_attempts {
                    Decision::GiveUp
                } else {
                    Decision::Again {
                        after: after.unwrap_or_else(|| self.backoff(attempts)),
                        counts: true,
                    }
                }
            }
            // Back-pressure is not a failure: wait as told and go on.
            StepError::RateLimited { after } => Decision::Again {
                after: after.unwrap_or(self.base.saturating_mul(4)),
                counts: false,
            },
            StepError::Store(_) => Decision::Again {
                after: Duration::from_secs(1),
                counts: false,
            },
            StepError::Auth(_) => Decision::AwaitReauth,
            StepError::Fail { .. } | StepError::Lost => Decision::GiveUp,
        }
    }

    /// The backoff after `attempts` failed attempts: doubling from `base`,
    /// at most `max`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        self.base
            .saturating_mul(1 << attempts.min(16))
            .min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
        max_attempts: 3,
    };

    fn retry(after: Option<Duration>) -> StepError {
        StepError::Retry {
            after,
            reason: "5xx".into(),
        }
    }

    #[test]
    fn failures_back_off_doubling_then_give_up() {
        let again = |attempts| POLICY.decide(&retry(None), attempts);
        assert_eq!(
            again(0),
            Decision::Again {
                after: Duration::from_millis(200),
                counts: true
            }
        );
        assert_eq!(
            again(2),
            Decision::Again {
                after: Duration::from_millis(800),
                counts: true
            }
        );
        assert_eq!(again(3), Decision::GiveUp);
        let said = POLICY.decide(&retry(Some(Duration::from_secs(7))), 0);
        assert_eq!(
            said,
            Decision::Again {
                after: Duration::from_secs(7),
                counts: true
            }
        );
        assert_eq!(POLICY.backoff(30), Duration::from_secs(1));
    }

    #[test]
    fn throttling_waits_without_counting_and_auth_waits_for_the_user() {
        let throttled = StepError::RateLimited {
            after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            POLICY.decide(&throttled, 99),
            Decision::Again {
                after: Duration::from_secs(2),
                counts: false
            }
        );
        assert_eq!(
            POLICY.decide(&StepError::Auth("no".into()), 0),
            Decision::AwaitReauth
        );
        let failed = StepError::Fail {
            error_type: ErrorType::Upstream,
            message: "no".into(),
        };
        assert_eq!(POLICY.decide(&failed, 0), Decision::GiveUp);
    }

    #[test]
    fn connector_errors_are_classified_by_what_follows() {
        let from = |error| {
            classify(
                "HubSpot",
                CallError::Connector {
                    connector: "hubspot".into(),
                    error,
                },
            )
        };
        assert!(matches!(
            from(ConnectorError::Transient("x".into())),
            StepError::Retry { .. }
        ));
        assert!(
            matches!(from(ConnectorError::RateLimited(Some(3))), StepError::RateLimited { after: Some(d) } if d == Duration::from_secs(3))
        );
        assert!(
            matches!(from(ConnectorError::Unauthorized("x".into())), StepError::Auth(m) if m.starts_with("HubSpot"))
        );
        assert!(matches!(
            from(ConnectorError::Fatal("x".into())),
            StepError::Fail {
                error_type: ErrorType::Upstream,
                ..
            }
        ));
    }
}
