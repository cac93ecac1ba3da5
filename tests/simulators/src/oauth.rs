//! The OAuth 2.0 machinery every simulator shares: the consent page with its
//! Approve button (or `auto_approve=true` for scripts), single-use
//! authorization codes bound to their redirect URI and PKCE challenge, access
//! tokens with lifetimes, refresh tokens (rotating or not) and static tokens.
//! The providers render the answers and errors in their own shapes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::context::Ctx;
use crate::data::mix;
use crate::server::Provider;

/// An authorization code waiting to be exchanged.
#[derive(Debug)]
struct Grant {
    redirect_uri: String,
    challenge: Option<String>,
}

/// Whether a presented access token is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Valid,
    Expired,
    Unknown,
}

/// Why a token request failed; each provider renders it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    InvalidClient,
    InvalidCode,
    InvalidRefreshToken,
    RedirectMismatch,
    PkceMismatch,
    UnsupportedGrantType,
}

/// Tokens handed out by a successful token request.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// A token request, from the form body and the `Authorization: Basic` header.
#[derive(Debug, Default, Clone)]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: String,
    pub redirect_uri: String,
    pub refresh_token: String,
    pub code_verifier: Option<String>,
    pub client_id: String,
    pub client_secret: String,
}

impl TokenRequest {
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> TokenRequest {
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        let mut req = TokenRequest {
            grant_type: field("grant_type"),
            code: field("code"),
            redirect_uri: field("redirect_uri"),
            refresh_token: field("refresh_token"),
            code_verifier: form.get("code_verifier").cloned(),
            client_id: field("client_id"),
            client_secret: field("client_secret"),
        };
        if let Some((id, secret)) = basic_credentials(headers) {
            req.client_id = id;
            req.client_secret = secret;
        }
        req
    }
}

/// `Authorization: Basic base64(id:secret)`, decoded.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .or_else(|| value.strip_prefix("OAuth "))
        .map(str::trim)
}

/// The OAuth state of one simulator.
#[derive(Debug)]
pub struct OAuth {
    client_id: String,
    client_secret: String,
    lifetime: Duration,
    prefix: &'static str,
    seed: u64,
    counter: u64,
    codes: HashMap<String, Grant>,
    access: HashMap<String, Instant>,
    refresh: HashSet<String>,
    statics: HashSet<String>,
}

impl OAuth {
    pub fn new(
        client_id: &str,
        client_secret: &str,
        lifetime: Duration,
        prefix: &'static str,
        seed: u64,
        statics: &[String],
    ) -> Self {
        OAuth {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            lifetime,
            prefix,
            seed,
            counter: 0,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashSet::new(),
            statics: statics.iter().cloned().collect(),
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A fresh, deterministic token string.
    fn mint(&mut self, kind: &str) -> String {
        self.counter += 1;
        let h = mix(self.seed ^ mix(self.counter));
        format!("{}-{kind}-{}-{h:016x}", self.prefix, self.counter)
    }

    /// Issues an authorization code for `redirect_uri` (and a PKCE S256
    /// challenge when one was given).
    pub fn issue_code(&mut self, redirect_uri: &str, challenge: Option<String>) -> String {
        let code = self.mint("code");
        self.codes.insert(
            code.clone(),
            Grant {
                redirect_uri: redirect_uri.to_string(),
                challenge,
            },
        );
        code
    }

    /// A valid access token, issued directly (for tests and `Control`).
    pub fn issue_access(&mut self) -> String {
        let token = self.mint("at");
        self.access
            .insert(token.clone(), Instant::now() + self.lifetime);
        token
    }

    fn issue_pair(&mut self, refresh: Option<String>) -> Issued {
        let access_token = self.issue_access();
        let refresh_token = refresh.unwrap_or_else(|| self.mint("rt"));
        self.refresh.insert(refresh_token.clone());
        Issued {
            access_token,
            refresh_token,
            expires_in: self.lifetime.as_secs(),
        }
    }

    /// Handles a token request. `rotate` makes a refresh answer a new refresh
    /// token and retire the old one (QuickBooks).
    pub fn grant(&mut self, req: &TokenRequest, rotate: bool) -> Result<Issued, GrantError> {
        if req.client_id != self.client_id || req.client_secret != self.client_secret {
            return Err(GrantError::InvalidClient);
        }
        match req.grant_type.as_str() {
            "authorization_code" => {
                // Single use: the code is gone whatever happens next.
                let grant = self
                    .codes
                    .remove(&req.code)
                    .ok_or(GrantError::InvalidCode)?;
                if grant.redirect_uri != req.redirect_uri {
                    return Err(GrantError::RedirectMismatch);
                }
                if let Some(challenge) = grant.challenge {
                    let verifier = req.code_verifier.as_deref().unwrap_or_default();
                    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                    if computed != challenge {
                        return Err(GrantError::PkceMismatch);
                    }
                }
                Ok(self.issue_pair(None))
            }
            "refresh_token" => {
                if !self.refresh.contains(&req.refresh_token) {
                    return Err(GrantError::InvalidRefreshToken);
                }
                if rotate {
                    self.refresh.remove(&req.refresh_token);
                    Ok(self.issue_pair(None))
                } else {
                    Ok(self.issue_pair(Some(req.refresh_token.clone())))
                }
            }
            _ => Err(GrantError::UnsupportedGrantType),
        }
    }

    /// Checks an access token (static tokens never expire).
    pub fn check(&self, token: &str) -> Access {
        if self.statics.contains(token) {
            return Access::Valid;
        }
        match self.access.get(token) {
            Some(expiry) if Instant::now() < *expiry => Access::Valid,
            Some(_) => Access::Expired,
            None => Access::Unknown,
        }
    }

    /// Expires every access token issued so far.
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for expiry in self.access.values_mut() {
            *expiry = now;
        }
    }

    /// Invalidates every refresh token issued so far.
    pub fn revoke_refresh_tokens(&mut self) {
        self.refresh.clear();
    }
}

/// The query of an authorize request.
fn param<'a>(p: &'a HashMap<String, String>, k: &str) -> &'a str {
    p.get(k).map(String::as_str).unwrap_or_default()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn error_page(message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p>{}</p></body></html>",
        escape(message)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

/// Checks an authorize request; `Err` is the error page to show.
fn validate(ctx: &Ctx, p: &HashMap<String, String>) -> Result<(), &'static str> {
    let oauth = ctx.oauth();
    if param(p, "client_id") != oauth.client_id() {
        return Err("Unknown client_id.");
    }
    let redirect = param(p, "redirect_uri");
    if redirect.is_empty() {
        return Err("Missing redirect_uri.");
    }
    if !ctx.config.redirect_uris.is_empty()
        && !ctx.config.redirect_uris.iter().any(|u| u == redirect)
    {
        return Err("redirect_uri does not match the app's registered redirect URLs.");
    }
    let response_type = param(p, "response_type");
    if !response_type.is_empty() && response_type != "code" {
        return Err("Unsupported response_type; only 'code' is allowed.");
    }
    if p.contains_key("code_challenge") && !matches!(param(p, "code_challenge_method"), "" | "S256")
    {
        return Err("Only code_challenge_method=S256 is supported.");
    }
    Ok(())
}

/// `redirect_uri` with `pairs` appended to its query.
fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{sep}{}", query.finish())).into_response()
}

/// Approves: issues a code and redirects back with code, state (and the
/// QuickBooks realmId).
fn approve(ctx: &Ctx, p: &HashMap<String, String>) -> Response {
    let redirect_uri = param(p, "redirect_uri");
    let challenge = p.get("code_challenge").filter(|c| !c.is_empty()).cloned();
    let code = ctx.oauth().issue_code(redirect_uri, challenge);
    let mut pairs = vec![("code", code.as_str()), ("state", param(p, "state"))];
    if ctx.provider == Provider::QuickBooks {
        pairs.push(("realmId", ctx.realm_id.as_str()));
    }
    redirect_with(redirect_uri, &pairs)
}

/// `GET` authorize: the consent page, or an immediate redirect with
/// `auto_approve=true`.
pub async fn authorize_page(
    State(ctx): State<Arc<Ctx>>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    if let Err(message) = validate(&ctx, &p) {
        return error_page(message);
    }
    if param(&p, "auto_approve") == "true" {
        return approve(&ctx, &p);
    }
    let hidden: String = p
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let scope = param(&p, "scope");
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name} - Authorize access</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:4rem auto}}button{{padding:.6rem 1.4rem;margin-right:1rem}}</style></head>\
         <body><h1>{name} (simulator)</h1><p>The application <b>{client}</b> asks for access to your {name} account.</p>\
         <p>Scopes: <code>{scope}</code></p>\
         <form method=\"post\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form></body></html>",
        name = ctx.provider.display_name(),
        client = escape(param(&p, "client_id")),
        scope = escape(if scope.is_empty() {
            "(set on the app)"
        } else {
            scope
        }),
    );
    Html(body).into_response()
}

/// `POST` authorize: the consent form's Approve or Deny.
pub async fn authorize_decision(State(ctx): State<Arc<Ctx>>, body: Bytes) -> Response {
    let p: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if let Err(message) = validate(&ctx, &p) {
        return error_page(message);
    }
    if param(&p, "decision") == "approve" {
        approve(&ctx, &p)
    } else {
        redirect_with(
            param(&p, "redirect_uri"),
            &[("error", "access_denied"), ("state", param(&p, "state"))],
        )
    }
}

/// The provider's consent page at `authorize_path`: GET shows it, POST takes
/// the end user's decision. Providers add their token routes to it.
pub fn consent_routes(authorize_path: &str) -> axum::Router<Arc<Ctx>> {
    axum::Router::new().route(
        authorize_path,
        axum::routing::get(authorize_page).post(authorize_decision),
    )
}
