//! Deletes sessions whose 72 hours (or the configured lifetime) are up, with
//! everything they own, the records of transfers finished longer ago than
//! the retention period (and of continuous re-pulls the app has read, once
//! their shorter period is up: they would otherwise pile up every few
//! minutes), the change links, passes and OAuth sign-ins that
//! have expired, each account's errors beyond the newest 10,000, its
//! finished webhook deliveries beyond the newest 1,000 or past the retention
//! period, and logged provider requests past the request log's bounds.

use std::time::Duration;

use super::Sessions;
use crate::request_log::RequestLog;
use crate::store::now_ms;

/// How long the records of finished transfers are kept (`None`: for their
/// session's life).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Any finished transfer's, from when it finished.
    pub records: Option<Duration>,
    /// A continuous re-pull's once the app has read them to the end, from
    /// when it finished: what is unread or recent stays.
    pub read_continuous: Option<Duration>,
}

/// Sweeps every `interval` until the host stops.
pub fn spawn(
    sessions: Sessions,
    request_log: RequestLog,
    interval: Duration,
    retention: Retention,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = sweep(&sessions, retention).await {
                tracing::warn!(%err, "expired-session sweep failed; retrying next round");
            }
            let log = request_log.clone();
            match tokio::task::spawn_blocking(move || log.sweep()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(%err, "request log sweep failed; retrying next round")
                }
                Err(err) => tracing::warn!(%err, "request log sweep failed; retrying next round"),
            }
        }
    })
}

/// Deletes every expired session, and the records of transfers past their
/// `retention`; how many sessions went.
pub async fn sweep(
    sessions: &Sessions,
    retention: Retention,
) -> Result<usize, crate::store::StoreError> {
    let expired = sessions.expired(now_ms())?;
    for session in &expired {
        tracing::info!(session = %session.id, "session expired; deleting it and its data");
        sessions.delete(session).await?;
    }
    if retention.records.is_some() || retention.read_continuous.is_some() {
        let gone = sessions.expire_records(now_ms(), retention).await?;
        if gone > 0 {
            tracing::info!(
                transfers = gone,
                "deleted the records of transfers past the retention period"
            );
        }
    }
    sessions.grants().sweep()?;
    sessions.sweep_sign_ins()?;
    sessions.prune_errors()?;
    sessions.prune_webhook_log(retention.records).await?;
    Ok(expired.len())
}
