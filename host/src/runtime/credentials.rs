//! The seam between the sandbox's `http` import and wherever credentials live.
//!
//! The runtime asks a [`CredentialSource`] for the secret to attach to each
//! request, and for a fresh one once when the provider answers `401`. The
//! session store implements it with encrypted, refreshable OAuth2 tokens;
//! [`StaticCredential`] serves fixed API keys and tests.

use std::fmt;

use futures::future::BoxFuture;

/// A credential value. Its `Debug` never shows the secret, so it cannot leak
/// into logs by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The credential cannot be renewed (no refresh token, the refresh token
    /// was revoked): the end user must authenticate again.
    #[error("credentials can no longer be refreshed: {0}")]
    Revoked(String),
    /// There is nothing to renew the credential with (an API key, a token
    /// without a refresh token): what the provider said is the whole story.
    #[error("the credentials cannot be renewed")]
    NotRenewable,
    /// The token endpoint could not be reached or failed; try again later.
    #[error("token refresh failed temporarily: {0}")]
    Unavailable(String),
}

pub trait CredentialSource: Send + Sync {
    /// The credential to attach to the next request (refreshing first if it is
    /// about to expire).
    fn current(&self) -> BoxFuture<'_, Result<Secret, CredentialError>>;

    /// The provider rejected `rejected`. Returns a fresh credential; when another
    /// caller already refreshed, returns that one instead of refreshing again.
    fn refresh<'a>(
        &'a self,
        rejected: &'a Secret,
    ) -> BoxFuture<'a, Result<Secret, CredentialError>>;
}

/// A credential that never changes: an API key, or a long-lived private-app token.
#[derive(Debug, Clone)]
pub struct StaticCredential(pub Secret);

impl CredentialSource for StaticCredential {
    fn current(&self) -> BoxFuture<'_, Result<Secret, CredentialError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }

    fn refresh<'a>(
        &'a self,
        _rejected: &'a Secret,
    ) -> BoxFuture<'a, Result<Secret, CredentialError>> {
        Box::pin(async {
            Err(CredentialError::Revoked(
                "the provider rejected a static credential".into(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", StaticCredential(s)).contains("hunter2"));
    }
}
