//! Provider credentials of sessions: sealed at rest, handed to the runtime
//! through [`CredentialSource`] (so they never enter the sandbox), refreshed
//! before they expire and once when a provider answers 401, one refresh at a
//! time per session (concurrent transfers never race two refreshes), with a
//! rotated refresh token stored in the same write as its access token.
//!
//! - [`oauth`]: the authorization-code flow and the token endpoint.

pub mod oauth;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::crypto::Sealer;
use crate::runtime::Runtime;
use crate::runtime::credentials::{CredentialError, CredentialSource, Secret};
use crate::runtime::manifest::AuthSpec;
use crate::store::{Db, StoreError, encode, now_ms};
use oauth::{OAuthClients, TokenError};

/// Refresh this long before the provider's expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A session's credentials, as sealed in the store.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct StoredCredential {
    pub provider: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_at_ms: Option<u64>,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("provider", &self.provider)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl StoredCredential {
    /// What goes on the wire: the access token, else the API key.
    fn secret(&self) -> Option<Secret> {
        self.access_token
            .as_deref()
            .or(self.api_key.as_deref())
            .map(Secret::new)
    }

    fn expires_soon(&self) -> bool {
        self.expires_at_ms
            .is_some_and(|t| t <= now_ms() + REFRESH_MARGIN.as_millis() as u64)
    }
}

#[derive(Clone)]
pub struct Credentials {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    sealer: Sealer,
    runtime: Arc<Runtime>,
    oauth: OAuthClients,
    http: reqwest::Client,
    /// One lock per session, taken to refresh.
    refreshing: SessionLocks,
    /// One lock per session, taken to replace its credential.
    changing: SessionLocks,
}

impl Credentials {
    /// Keeps an OAuth2 sign-in under its `state` until the callback, durably
    /// (the callback may reach another moment, or a restarted host).
    pub async fn begin_sign_in(
        &self,
        state: &str,
        pending: &oauth::PendingAuthorization,
    ) -> Result<(), StoreError> {
        self.inner
            .db
            .trees
            .oauth_states
            .insert(state, encode(pending))?;
        self.inner.db.flush().await
    }

    /// Takes the sign-in kept under `state` (single use); `None` when there
    /// is none, or it is older than [`oauth::STATE_TTL_MS`].
    pub fn take_sign_in(
        &self,
        state: &str,
    ) -> Result<Option<oauth::PendingAuthorization>, StoreError> {
        Ok(self
            .inner
            .db
            .trees
            .oauth_states
            .remove(state)?
            .and_then(|v| crate::store::decode::<oauth::PendingAuthorization>(&v).ok())
            .filter(|p| now_ms().saturating_sub(p.created_ms) < oauth::STATE_TTL_MS))
    }

    pub fn new(db: Db, sealer: Sealer, runtime: Arc<Runtime>, oauth: OAuthClients) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Credentials {
            inner: Arc::new(Inner {
                db,
                sealer,
                runtime,
                oauth,
                http,
                refreshing: Mutex::new(HashMap::new()),
                changing: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn oauth_clients(&self) -> &OAuthClients {
        &self.inner.oauth
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Stores a session's credentials, sealed (durably).
    pub async fn store(
        &self,
        session_id: &str,
        credential: &StoredCredential,
    ) -> Result<(), StoreError> {
        self.write(session_id, credential)?;
        self.inner.db.flush().await
    }

    fn write(&self, session_id: &str, credential: &StoredCredential) -> Result<(), StoreError> {
        let sealed = self
            .inner
            .sealer
            .seal(&context(session_id), &encode(credential));
        self.inner.db.trees.credentials.insert(session_id, sealed)?;
        Ok(())
    }

    /// Forgets a session's credentials (durably).
    pub async fn remove(&self, session_id: &str) -> Result<(), StoreError> {
        self.inner.db.trees.credentials.remove(session_id)?;
        self.inner.db.flush().await
    }

    pub fn load(&self, session_id: &str) -> Result<Option<StoredCredential>, StoreError> {
        let Some(sealed) = self.inner.db.trees.credentials.get(session_id)? else {
            return Ok(None);
        };
        let plain = self
            .inner
            .sealer
            .open(&context(session_id), &sealed)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        crate::store::decode(&plain).map(Some)
    }

    /// The runtime's view of a session's credentials.
    pub fn source(&self, session_id: &str) -> Arc<dyn CredentialSource> {
        Arc::new(SessionCredential {
            credentials: self.clone(),
            session_id: session_id.to_owned(),
        })
    }

    fn lock_for(&self, session_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        session_lock(&self.inner.refreshing, session_id)
    }

    /// Refreshes unless someone else already replaced `rejected` (or, with
    /// `None`, unless the stored token is no longer about to expire).
    async fn refresh(
        &self,
        session_id: &str,
        rejected: Option<&Secret>,
    ) -> Result<Secret, CredentialError> {
        let lock = self.lock_for(session_id);
        let _held = lock.lock().await;
        let stored = self.load_or_revoked(session_id)?;
        let current = stored.secret();
        let already_fresh = match rejected {
            Some(rejected) => current.as_ref().is_some_and(|c| c != rejected),
            None => !stored.expires_soon(),
        };
        if already_fresh && let Some(secret) = current {
            return Ok(secret);
        }
        let renewed = self.renew(&stored).await?;
        // Gone meanwhile (the session was deleted): do not resurrect it.
        if self
            .inner
            .db
            .trees
            .credentials
            .get(session_id)
            .ok()
            .flatten()
            .is_none()
        {
            return Err(CredentialError::Revoked("the session was deleted".into()));
        }
        self.write(session_id, &renewed)
            .map_err(|e| CredentialError::Unavailable(e.to_string()))?;
        self.inner
            .db
            .flush()
            .await
            .map_err(|e| CredentialError::Unavailable(e.to_string()))?;
        tracing::info!(session = %session_id, provider = %stored.provider, "access token refreshed");
        renewed.secret().ok_or_else(|| {
            CredentialError::Unavailable("the token response had no access token".into())
        })
    }

    /// Trades `stored`'s refresh token for a new access token (kept in a
    /// rotated refresh token when the provider sends one); stores nothing.
    async fn renew(&self, stored: &StoredCredential) -> Result<StoredCredential, CredentialError> {
        let Some(refresh_token) = stored.refresh_token.clone() else {
            return Err(CredentialError::NotRenewable);
        };
        let manifest = self
            .inner
            .runtime
            .manifest(&stored.provider)
            .map_err(|e| CredentialError::Unavailable(e.to_string()))?;
        let AuthSpec::OAuth2(spec) = &manifest.auth else {
            return Err(CredentialError::Revoked(format!(
                "{} rejected the API key",
                manifest.display_name
            )));
        };
        let client = self
            .inner
            .oauth
            .get(&stored.provider)
            .cloned()
            .unwrap_or_default();
        let response = oauth::refresh(
            &self.inner.http,
            &manifest.display_name,
            spec,
            &client,
            &refresh_token,
        )
        .await;
        self.inner
            .runtime
            .metrics()
            .token_refresh(&stored.provider, response.is_ok());
        let response = response.map_err(|e| match e {
            TokenError::Refused { .. } => CredentialError::Revoked(e.to_string()),
            TokenError::Unavailable { .. } => CredentialError::Unavailable(e.to_string()),
        })?;
        let access = response
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        Ok(StoredCredential {
            provider: stored.provider.clone(),
            access_token: access,
            // A rotated refresh token replaces the old one in the same write.
            refresh_token: response
                .get("refresh_token")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .or(Some(refresh_token)),
            expires_at_ms: oauth::expires_in_ms(&response).map(|ms| now_ms() + ms),
            api_key: None,
        })
    }

    /// A credential on trial: the runtime may use it (and renew it, in
    /// memory) to check it with the provider before anything is stored.
    pub fn candidate(&self, credential: StoredCredential) -> Arc<Candidate> {
        Arc::new(Candidate {
            credentials: self.clone(),
            held: tokio::sync::Mutex::new(credential),
        })
    }

    /// Serialises changes of one session's credential (sign-ins, attaches):
    /// held from the check of a new credential until it is stored.
    pub async fn changing(&self, session_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        session_lock(&self.inner.changing, session_id)
            .lock_owned()
            .await
    }

    fn load_or_revoked(&self, session_id: &str) -> Result<StoredCredential, CredentialError> {
        match self.load(session_id) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(CredentialError::Revoked(
                "the session has no credentials".into(),
            )),
            Err(e) => Err(CredentialError::Unavailable(e.to_string())),
        }
    }
}

type SessionLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// The lock of one session in `locks`; locks nobody holds or waits for are
/// dropped once the map grows, so ended sessions do not accumulate.
fn session_lock(locks: &SessionLocks, session_id: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut locks = locks
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if locks.len() >= 1024 && !locks.contains_key(session_id) {
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
    }
    locks.entry(session_id.to_owned()).or_default().clone()
}

/// Binds a sealed credential to its session.
fn context(session_id: &str) -> Vec<u8> {
    format!("credentials\0{session_id}").into_bytes()
}

struct SessionCredential {
    credentials: Credentials,
    session_id: String,
}

impl CredentialSource for SessionCredential {
    fn current(&self) -> BoxFuture<'_, Result<Secret, CredentialError>> {
        Box::pin(async move {
            let stored = self.credentials.load_or_revoked(&self.session_id)?;
            if stored.expires_soon() && stored.refresh_token.is_some() {
                return self.credentials.refresh(&self.session_id, None).await;
            }
            stored
                .secret()
                .ok_or_else(|| CredentialError::Revoked("the session has no token or key".into()))
        })
    }

    fn refresh<'a>(
        &'a self,
        rejected: &'a Secret,
    ) -> BoxFuture<'a, Result<Secret, CredentialError>> {
        Box::pin(async move {
            self.credentials
                .refresh(&self.session_id, Some(rejected))
                .await
        })
    }
}

/// A credential being checked before it is kept ([`Credentials::candidate`]).
pub struct Candidate {
    credentials: Credentials,
    held: tokio::sync::Mutex<StoredCredential>,
}

impl Candidate {
    /// The credential as it stands after the check (renewed, if it was).
    pub async fn checked(&self) -> StoredCredential {
        self.held.lock().await.clone()
    }
}

impl CredentialSource for Candidate {
    fn current(&self) -> BoxFuture<'_, Result<Secret, CredentialError>> {
        Box::pin(async move {
            let mut held = self.held.lock().await;
            if held.expires_soon() && held.refresh_token.is_some() {
                *held = self.credentials.renew(&held).await?;
            }
            held.secret().ok_or(CredentialError::NotRenewable)
        })
    }

    fn refresh<'a>(
        &'a self,
        rejected: &'a Secret,
    ) -> BoxFuture<'a, Result<Secret, CredentialError>> {
        Box::pin(async move {
            let mut held = self.held.lock().await;
            if held.secret().is_some_and(|s| &s != rejected) {
                return held.secret().ok_or(CredentialError::NotRenewable);
            }
            *held = self.credentials.renew(&held).await?;
            held.secret().ok_or(CredentialError::NotRenewable)
        })
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn locks_of_ended_sessions_are_dropped_and_held_ones_kept() {
        let locks = SessionLocks::default();
        let held = session_lock(&locks, "held");
        for i in 0..2000 {
            drop(session_lock(&locks, &format!("s{i}")));
        }
        let size = locks.lock().unwrap().len();
        assert!(size <= 1025, "{size} locks kept");
        assert!(Arc::ptr_eq(&held, &session_lock(&locks, "held")));
    }
}
