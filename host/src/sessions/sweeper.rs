//! Deletes sessions whose 72 hours (or the configured lifetime) are up, with
//! everything they own, the change links, passes and OAuth sign-ins that
//! have expired, and each account's errors beyond the newest 10,000.

use std::time::Duration;

use super::Sessions;
use crate::store::now_ms;

/// Sweeps every `interval` until the host stops.
pub fn spawn(sessions: Sessions, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = sweep(&sessions).await {
                tracing::warn!(%err, "expired-session sweep failed; retrying next round");
            }
        }
    })
}

/// Deletes every expired session; how many went.
pub async fn sweep(sessions: &Sessions) -> Result<usize, crate::store::StoreError> {
    let expired = sessions.expired(now_ms())?;
    for session in &expired {
        tracing::info!(session = %session.id, "session expired; deleting it and its data");
        sessions.delete(session).await?;
    }
    sessions.grants().sweep()?;
    sessions.sweep_sign_ins()?;
    sessions.prune_errors()?;
    Ok(expired.len())
}
