//! The OAuth2 authorization-code flow, driven by a connector's manifest: the
//! authorize URL (with a single-use `state` and PKCE where the provider takes
//! it), the code exchange and the refresh grant at the token endpoint.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::runtime::credentials::Secret;
use crate::runtime::manifest::{ClientAuth, OAuth2Spec};

/// This host's OAuth app at one provider, from configuration.
#[derive(Debug, Clone, Default)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Secret,
    /// Replace the manifest's endpoints (a simulator, a provider's sandbox).
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
}

/// OAuth apps by connector id.
pub type OAuthClients = HashMap<String, OAuthClient>;

/// A flow between the redirect to the provider and the callback; stored under
/// its `state` and removed when used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    pub session_id: String,
    pub provider: String,
    pub code_verifier: Option<String>,
    pub redirect_uri: String,
    pub created_ms: u64,
    /// sha256 (hex) of the nonce in the cookie of the browser that started
    /// the sign-in: only that browser may finish it.
    #[serde(default)]
    pub browser: Option<String>,
}

/// How long an end user has to finish signing in at the provider.
pub const STATE_TTL_MS: u64 = 30 * 60 * 1000;

/// Drops the sign-ins nobody finished in time; how many.
pub fn sweep_sign_ins(db: &crate::store::Db) -> Result<usize, crate::store::StoreError> {
    let tree = &db.trees.oauth_states;
    let mut gone = 0;
    for entry in tree.iter() {
        let (k, v) = entry?;
        let stale = crate::store::decode::<PendingAuthorization>(&v).map_or(true, |p| {
            crate::store::now_ms().saturating_sub(p.created_ms) >= STATE_TTL_MS
        });
        if stale {
            tree.remove(k)?;
            gone += 1;
        }
    }
    Ok(gone)
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The grant (code or refresh token) is no longer valid.
    #[error("{provider} refused the grant: {message}")]
    Refused { provider: String, message: String },
    /// The token endpoint failed or could not be reached.
    #[error("{provider}'s token endpoint failed: {message}")]
    Unavailable { provider: String, message: String },
}

/// The URL the end user is sent to.
pub fn authorize_url(
    spec: &OAuth2Spec,
    client: &OAuthClient,
    redirect_uri: &str,
    state: &str,
    code_verifier: Option<&str>,
) -> Result<String, url::ParseError> {
    let base = client
        .authorize_url
        .as_deref()
        .unwrap_or(&spec.authorize_url);
    let mut url = url::Url::parse(base)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        if !spec.scopes.is_empty() {
            q.append_pair("scope", &spec.scopes.join(&spec.scope_separator));
        }
        if let Some(verifier) = code_verifier {
            q.append_pair("code_challenge", &pkce_challenge(verifier))
                .append_pair("code_challenge_method", "S256");
        }
        for (k, v) in &spec.extra_authorize_params {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

/// A PKCE verifier: 43 characters of base64url.
pub fn new_verifier() -> String {
    crate::admin_key::generate("")
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Exchanges the authorization code for tokens; the raw token response.
pub async fn exchange_code(
    http: &reqwest::Client,
    provider: &str,
    spec: &OAuth2Spec,
    client: &OAuthClient,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&str>,
) -> Result<Value, TokenError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = code_verifier {
        form.push(("code_verifier", v));
    }
    token_request(http, provider, spec, client, form).await
}

/// Uses a refresh token; the raw token response.
pub async fn refresh(
    http: &reqwest::Client,
    provider: &str,
    spec: &OAuth2Spec,
    client: &OAuthClient,
    refresh_token: &str,
) -> Result<Value, TokenError> {
    let form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_request(http, provider, spec, client, form).await
}

async fn token_request(
    http: &reqwest::Client,
    provider: &str,
    spec: &OAuth2Spec,
    client: &OAuthClient,
    mut form: Vec<(&str, &str)>,
) -> Result<Value, TokenError> {
    let url = client.token_url.as_deref().unwrap_or(&spec.token_url);
    let mut request = http.post(url).header("accept", "application/json");
    match spec.client_auth {
        ClientAuth::Basic => {
            let pair = format!("{}:{}", client.client_id, client.client_secret.expose());
            request = request.header("authorization", format!("Basic {}", STANDARD.encode(pair)));
        }
        ClientAuth::FormBody => {
            form.push(("client_id", &client.client_id));
            form.push(("client_secret", client.client_secret.expose()));
        }
    }
    let unavailable = |message: String| TokenError::Unavailable {
        provider: provider.to_owned(),
        message,
    };
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| unavailable(e.without_url().to_string()))?;
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(unavailable(format!("HTTP {status}")));
    }
    if !status.is_success() {
        let message = parsed
            .as_ref()
            .and_then(|v| {
                let error = v.get("error").and_then(Value::as_str)?;
                let description = v.get("error_description").and_then(Value::as_str);
                Some(match description {
                    Some(d) => format!("{error}: {d}"),
                    None => error.to_owned(),
                })
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(TokenError::Refused {
            provider: provider.to_owned(),
            message,
        });
    }
    match parsed {
        Some(v) if v.get("access_token").and_then(Value::as_str).is_some() => Ok(v),
        _ => Err(unavailable(
            "the token response has no access_token".to_owned(),
        )),
    }
}

/// The token response without its secrets, for the connector's finish-auth.
pub fn without_tokens(response: &Value) -> Value {
    let mut v = response.clone();
    if let Some(fields) = v.as_object_mut() {
        for secret in ["access_token", "refresh_token", "id_token"] {
            fields.remove(secret);
        }
    }
    v
}

/// `expires_in` (a number or a numeric string) in milliseconds.
pub fn expires_in_ms(response: &Value) -> Option<u64> {
    let v = response.get("expires_in")?;
    let secs = v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())?;
    Some(secs.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_unpadded_base64url_sha256() {
        // Computed independently with Python's hashlib and base64.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB0unH24vgYJjBoRXs6Zn2rcPw3A-Q"),
            "rNVheOWXVSnKRv9z-JBO1dv3zTpOHzsKnvLB3-XocYI"
        );
    }

    #[test]
    fn tokens_never_reach_the_connector() {
        let r = serde_json::json!({"access_token": "a", "refresh_token": "r", "instance_url": "https://x"});
        let clean = without_tokens(&r);
        assert!(clean.get("access_token").is_none() && clean.get("refresh_token").is_none());
        assert_eq!(clean["instance_url"], "https://x");
        assert_eq!(
            expires_in_ms(&serde_json::json!({"expires_in": "3600"})),
            Some(3_600_000)
        );
    }
}
