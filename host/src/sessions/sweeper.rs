//! Deletes sessions whose 72 hours (or the configured lifetime) are up, with
//! everything they own, the records of transfers finished longer ago than
//! the retention period, the change links, passes and OAuth sign-ins that
//! have expired, each account's errors beyond the newest 10,000, its
//! finished webhook deliveries beyond the newest 1,000 or past the retention
//! period, and logged provider requests past the request log's bounds.

use std::time::Duration;

use super::Sessions;
use crate::request_log::RequestLog;
use crate::store::now_ms;

/// Sweeps every `interval` until the host stops. `retention`: how long the
/// records of a finished transfer are kept (`None`: for the session's life).
pub fn spawn(
    sessions: Sessions,
    request_log: RequestLog,
    interval: Duration,
    retention: Option<Duration>,
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

/// Deletes every expired session, and the records of transfers finished
/// longer than `retention` ago; how many sessions went.
pub async fn sweep(
    sessions: &Sessions,
    retention: Option<Duration>,
) -> Result<usize, crate::store::StoreError> {
    let expired = sessions.expired(now_ms())?;
    for session in &expired {
        tracing::info!(session = %session.id, "session expired; deleting it and its data");
        sessions.delete(session).await?;
    }
    if let Some(retention) = retention {
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
    sessions.prune_webhook_log(retention).await?;
    Ok(expired.len())
}
