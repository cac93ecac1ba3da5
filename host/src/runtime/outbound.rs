//! The `http` import: the connector's only way out of the sandbox.
//!
//! For each request it resolves the URL against the connection's base, refuses
//! hosts the connector did not declare, waits for the account's rate limiter,
//! attaches the credential (which the guest never sees), refreshes it once on a
//! `401`, honours `429`/`Retry-After`, retries transport errors and `5xx` of
//! idempotent requests with jittered backoff, and caps the response size, all
//! within the call's deadline.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderName, HeaderValue};
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::credentials::{CredentialError, CredentialSource, Secret};
use super::manifest::{CredentialPlacement, Paging};
use super::prefetch::{Prefetches, Signature, next_request};
use super::rate_limit::{self, ConnectionLimiter};
use super::types::{ConnectorError, OutRequest, OutResponse};
use crate::metrics::Metrics;
use crate::request_log::{Logger, loggable_url};
use crate::store::now_ms;

/// Most attempts for one request (the first try included).
const MAX_ATTEMPTS: u32 = 6;
/// Largest request body a connector may send.
const MAX_REQUEST_BYTES: usize = 16 << 20;

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A sandbox violation: the host is not allowed.
    #[error("request to {0} refused ({1:?})")]
    ForbiddenHost(String, HostRefusal),
    /// A sandbox violation: the answer was larger than the cap.
    #[error("response from {host} refused: larger than the {limit}-byte cap")]
    ResponseTooLarge { host: String, limit: usize },
    /// Reported to the connector as the contract's error.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// Which hosts a connector may reach, and over which schemes.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    /// From the manifest: https only.
    pub declared: Vec<String>,
    /// From the host's configuration (simulators, regional endpoints): http too.
    pub configured: Vec<String>,
}

/// Why a connector's request was refused before it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRefusal {
    /// Neither the manifest's allowed-hosts nor the host's configuration
    /// lists it.
    Undeclared,
    /// Declared, but asked over plain http: declared hosts are https only.
    PlainHttp,
    /// Neither https nor http.
    Scheme,
    /// The URL carries a user name or password.
    Credentials,
}

impl HostRefusal {
    /// What the refusal means for connector `id`, and what lifts it.
    pub fn explain(self, id: &str, url: &str) -> String {
        match self {
            HostRefusal::Undeclared => format!(
                "it is not in the connector's allowed-hosts; declare it there, or start the \
                 host with --connector-base {id}=<URL> to point {id} at another API"
            ),
            HostRefusal::PlainHttp => format!(
                "plain http is refused for the hosts a manifest declares (they are reached over \
                 https only); to reach a local or test API over http, start the host with \
                 --connector-base {id}={url}"
            ),
            HostRefusal::Scheme => "only https (and http to configured hosts) is allowed".into(),
            HostRefusal::Credentials => {
                "URLs with a user name or password are refused; the host attaches the credential"
                    .into()
            }
        }
    }
}

impl AllowedHosts {
    /// `Ok` when `url` may be requested; otherwise the `scheme://host[:port]`
    /// refused and why.
    pub fn check(&self, url: &Url) -> Result<(), (String, HostRefusal)> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = url.port_or_known_default();
        let shown = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let matches = |pattern: &String| host_matches(pattern, &host, port, url.scheme());
        let refused = |why| Err((format!("{}://{shown}", url.scheme()), why));
        if !url.username().is_empty() || url.password().is_some() {
            return refused(HostRefusal::Credentials);
        }
        match url.scheme() {
            "https" if self.declared.iter().chain(&self.configured).any(matches) => Ok(()),
            "http" if self.configured.iter().any(matches) => Ok(()),
            "http" if self.declared.iter().any(matches) => refused(HostRefusal::PlainHttp),
            "https" | "http" => refused(HostRefusal::Undeclared),
            _ => refused(HostRefusal::Scheme),
        }
    }
}

/// One attempt as the metrics and the request log see it. Recorded when
/// dropped, so each way out of an attempt (an answer, a retry, an error)
/// records it exactly once.
struct AttemptRecord<'a> {
    outbound: &'a Outbound,
    method: &'a str,
    /// As logged; `None` when the session's requests are not logged.
    url: Option<String>,
    attempt: u32,
    sent_ms: u64,
    sent: std::time::Instant,
    /// Spent waiting for the rate limit before sending.
    waited: Duration,
    status: Option<u16>,
    error: Option<String>,
    bytes: Option<u64>,
    /// Until the answer was read (a retry's backoff is not counted).
    took: Option<Duration>,
}

impl Drop for AttemptRecord<'_> {
    fn drop(&mut self) {
        let took = self.took.unwrap_or_else(|| self.sent.elapsed());
        let out = self.outbound;
        out.metrics
            .provider_request(&out.provider_id, self.status, took, self.attempt > 1);
        out.metrics.rate_limit_wait(&out.provider_id, self.waited);
        let (Some(logger), Some(url)) = (&out.logger, self.url.take()) else {
            return;
        };
        let mut entry = logger.entry(self.method, url, self.sent_ms);
        entry.status = self.status;
        entry.error = self.error.take();
        entry.duration_ms = took.as_secs_f64() * 1000.0;
        entry.response_bytes = self.bytes;
        entry.attempt = self.attempt;
        entry.rate_limited = self.status == Some(429);
        entry.rate_limit_wait_ms = self.waited.as_secs_f64() * 1000.0;
        logger.record(&entry);
    }
}

fn host_matches(pattern: &str, host: &str, port: Option<u16>, scheme: &str) -> bool {
    let (pattern_host, pattern_port) = match pattern.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (pattern, None),
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    if port != Some(pattern_port.unwrap_or(default_port)) {
        return false;
    }
    let pattern_host = pattern_host.to_ascii_lowercase();
    match pattern_host.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
        None => host == pattern_host,
    }
}

/// Everything the `http` import needs for one call.
#[derive(Clone)]
pub struct Outbound {
    pub client: reqwest::Client,
    pub api_base: String,
    pub allowed: AllowedHosts,
    pub credential: Option<Arc<dyn CredentialSource>>,
    pub placement: CredentialPlacement,
    pub limiter: Arc<ConnectionLimiter>,
    /// One limiter per declared rate class, by class name.
    pub class_limiters: Vec<(String, Arc<ConnectionLimiter>)>,
    pub deadline: Instant,
    pub max_response_bytes: usize,
    /// Named in error messages, e.g. "hubspot".
    pub provider: String,
    /// For the calls of a pull whose integration declares its paging.
    pub prefetch: Option<Prefetcher>,
    /// Where each attempt is counted, under the connector's id.
    pub metrics: Metrics,
    pub provider_id: String,
    /// Where each attempt is logged for the session (none: not logged).
    pub logger: Option<Logger>,
}

/// What a pull's calls need to prefetch the next page.
#[derive(Clone)]
pub struct Prefetcher {
    /// The integration's declared paging.
    pub rules: Vec<Paging>,
    pub prefetches: Arc<Prefetches>,
    /// The connection's key: prefetched answers serve its own requests only.
    pub connection: String,
    /// How long a prefetch may take (a call's deadline).
    pub timeout: Duration,
}

impl Outbound {
    /// Sends a connector's request: with the prefetched answer when there is
    /// one for exactly this request, and starting the prefetch of the next
    /// page when the answer points at one.
    pub async fn send(&self, req: OutRequest) -> Result<OutResponse, SendError> {
        let Some(prefetch) = &self.prefetch else {
            return self.send_now(&req).await;
        };
        let url = self.resolve(&req.url)?;
        let signature = Signature::of(&prefetch.connection, &req, &url);
        let response = match prefetch.prefetches.take(&signature, self.deadline).await {
            Some(prefetched) => prefetched,
            None => self.send_now(&req).await?,
        };
        if let Some(next) = next_request(&prefetch.rules, &req, &url, &response) {
            self.start_prefetch(prefetch, next);
            // The prefetch was spawned into this worker's next-task slot,
            // which other workers cannot steal: let it send its request
            // before the connector maps this page on this thread.
            tokio::task::yield_now().await;
        }
        Ok(response)
    }

    /// The guest asked to send `req` ahead: started when this is a pull's
    /// call and `req` only reads (`GET`, `HEAD`, or a `POST` marked
    /// idempotent, such as a search), since it may be sent and never used;
    /// otherwise ignored.
    /// Whether it was started.
    pub fn prefetch(&self, req: OutRequest) -> bool {
        let Some(prefetch) = &self.prefetch else {
            return false;
        };
        let reads = match req.method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => true,
            "POST" => req.idempotent,
            _ => false,
        };
        if reads {
            self.start_prefetch(prefetch, req);
        }
        reads
    }

    /// Sends `next` in the background, under this call's limits but with a
    /// deadline of its own, and keeps its answer for the request that wants it.
    fn start_prefetch(&self, prefetch: &Prefetcher, next: OutRequest) {
        let Ok(url) = self.resolve(&next.url) else {
            return;
        };
        let signature = Signature::of(&prefetch.connection, &next, &url);
        let background = Outbound {
            deadline: Instant::now() + prefetch.timeout,
            prefetch: None,
            ..self.clone()
        };
        let prefetches = prefetch.prefetches.clone();
        let fetch = tokio::spawn(
            async move {
                let answer = background.send_now(&next).await.ok();
                prefetches.finished();
                answer
            }
            .instrument(tracing::Span::current()),
        );
        prefetch.prefetches.insert(signature, fetch);
    }

    /// Sends one request now.
    async fn send_now(&self, req: &OutRequest) -> Result<OutResponse, SendError> {
        let method = parse_method(&req.method)?;
        let url = self.resolve(&req.url)?;
        self.allowed
            .check(&url)
            .map_err(|(host, why)| SendError::ForbiddenHost(host, why))?;
        if req
            .body
            .as_ref()
            .is_some_and(|b| b.len() > MAX_REQUEST_BYTES)
        {
            return Err(ConnectorError::InvalidData(format!(
                "request body larger than {MAX_REQUEST_BYTES} bytes"
            ))
            .into());
        }
        let idempotent = req.idempotent
            || matches!(
                method,
                reqwest::Method::GET
                    | reqwest::Method::HEAD
                    | reqwest::Method::PUT
                    | reqwest::Method::DELETE
            );

        let class_limiter = self.class_limiter(req.rate_class.as_deref())?;
        let mut secret = self.current_secret().await?;
        let mut refreshed = false;
        let logged_url = self.logger.as_ref().map(|_| {
            let credential_parameter = match &self.placement {
                CredentialPlacement::Query(name) => Some(name.as_str()),
                _ => None,
            };
            loggable_url(&url, credential_parameter)
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let waiting = std::time::Instant::now();
            let limiters: &[&ConnectionLimiter] = match class_limiter {
                Some(class) => &[class, &self.limiter],
                None => &[&self.limiter],
            };
            let Some(_permit) = rate_limit::acquire_all(limiters, self.deadline).await else {
                return Err(ConnectorError::RateLimited(None).into());
            };
            let request = self.build(&method, &url, req, secret.as_ref())?;
            let mut record = AttemptRecord {
                outbound: self,
                method: method.as_str(),
                url: logged_url.clone(),
                attempt,
                sent_ms: now_ms(),
                sent: std::time::Instant::now(),
                waited: waiting.elapsed(),
                status: None,
                error: None,
                bytes: None,
                took: None,
            };
            let span = tracing::info_span!(
                "provider.request",
                otel.name = %format!("{} {}", method, url.path()),
                otel.kind = "client",
                provider = %self.provider_id,
                http.request.method = %method,
                url.path = url.path(),
                attempt,
                http.response.status_code = tracing::field::Empty,
            );
            let outcome = tokio::time::timeout_at(self.deadline, self.client.execute(request))
                .instrument(span.clone())
                .await;
            if let Ok(Ok(response)) = &outcome {
                span.record("http.response.status_code", response.status().as_u16());
            }
            let response = match outcome {
                Err(_elapsed) => {
                    record.error = Some("no answer before the call's deadline".into());
                    return Err(ConnectorError::Transient(format!(
                        "{} did not answer before the call's deadline",
                        self.provider
                    ))
                    .into());
                }
                Ok(Err(err)) => {
                    // A refused connection never reached the provider, so it is
                    // safe to retry whatever the method.
                    let retryable = err.is_connect() || idempotent;
                    let error = transport_error(err, secret.as_ref());
                    record.error = Some(error.clone());
                    drop(record);
                    if retryable && self.backoff(attempt, None).await {
                        continue;
                    }
                    return Err(ConnectorError::Transient(format!(
                        "could not reach {}: {error}",
                        self.provider,
                    ))
                    .into());
                }
                Ok(Ok(response)) => response,
            };

            let status = response.status().as_u16();
            record.status = Some(status);
            record.bytes = response.content_length();
            record.took = Some(record.sent.elapsed());
            match status {
                401 if !refreshed => {
                    if let (Some(source), Some(used)) = (&self.credential, &secret) {
                        match source.refresh(used).await {
                            Ok(fresh) => {
                                secret = Some(fresh);
                                refreshed = true;
                                continue;
                            }
                            // Cannot be renewed (an API key, a revoked grant):
                            // say what the provider said, and why not.
                            Err(
                                e @ (CredentialError::Revoked(_) | CredentialError::NotRenewable),
                            ) => {
                                let body = self.read_body(response, &url).await.unwrap_or_default();
                                let said =
                                    format!("{} said: {}", self.provider, provider_message(&body));
                                let message = match e {
                                    CredentialError::Revoked(reason) => {
                                        format!("{said} ({reason})")
                                    }
                                    _ => said,
                                };
                                return Err(ConnectorError::Unauthorized(message).into());
                            }
                            Err(e) => return Err(credential_error(e)),
                        }
                    }
                }
                401 if self.credential.is_some() => {
                    let body = self.read_body(response, &url).await.unwrap_or_default();
                    return Err(ConnectorError::Unauthorized(format!(
                        "{} rejected the refreshed credentials: {}",
                        self.provider,
                        excerpt(&body)
                    ))
                    .into());
                }
                429 => {
                    // A class's own limit pauses that class only.
                    let wait = retry_after(response.headers());
                    let paused = class_limiter.unwrap_or(&self.limiter);
                    if self.backoff_on(paused, attempt, wait).await {
                        continue;
                    }
                    return Err(ConnectorError::RateLimited(
                        wait.map(|w| w.as_secs().try_into().unwrap_or(u32::MAX)),
                    )
                    .into());
                }
                500..=599 if idempotent => {
                    let wait = retry_after(response.headers());
                    if self.backoff(attempt, wait).await {
                        continue;
                    }
                }
                _ => {}
            }
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = self.read_body(response, &url).await;
            match &body {
                Ok(body) => {
                    record.bytes = Some(body.len() as u64);
                    record.took = Some(record.sent.elapsed());
                }
                Err(e) => record.error = Some(e.to_string()),
            }
            return Ok(OutResponse {
                status,
                headers,
                body: body?,
            });
        }
    }

    fn resolve(&self, raw: &str) -> Result<Url, SendError> {
        let absolute = if raw.starts_with("https://") || raw.starts_with("http://") {
            raw.to_owned()
        } else {
            format!(
                "{}/{}",
                self.api_base.trim_end_matches('/'),
                raw.trim_start_matches('/')
            )
        };
        Url::parse(&absolute).map_err(|e| {
            ConnectorError::Fatal(format!("invalid request URL {absolute:?}: {e}")).into()
        })
    }

    async fn current_secret(&self) -> Result<Option<Secret>, SendError> {
        match &self.credential {
            Some(source) => Ok(Some(source.current().await.map_err(credential_error)?)),
            None => Ok(None),
        }
    }

    fn build(
        &self,
        method: &reqwest::Method,
        url: &Url,
        req: &OutRequest,
        secret: Option<&Secret>,
    ) -> Result<reqwest::Request, SendError> {
        let mut url = url.clone();
        if let (CredentialPlacement::Query(name), Some(secret)) = (&self.placement, secret) {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != name)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair(name, secret.expose());
        }
        let mut request = reqwest::Request::new(method.clone(), url);
        let headers = request.headers_mut();
        for (name, value) in &req.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConnectorError::Fatal(format!("invalid request header name {name:?}"))
            })?;
            if is_reserved_header(&name, &self.placement) {
                continue;
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                ConnectorError::Fatal(format!("invalid value for request header {name}"))
            })?;
            headers.append(name, value);
        }
        if let Some(secret) = secret {
            let (name, value) = match &self.placement {
                CredentialPlacement::Authorization(scheme) => (
                    reqwest::header::AUTHORIZATION,
                    format!("{scheme} {}", secret.expose()),
                ),
                CredentialPlacement::Header(name) => (
                    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        ConnectorError::Fatal(format!("invalid credential header {name:?}"))
                    })?,
                    secret.expose().to_owned(),
                ),
                CredentialPlacement::Query(_) => (reqwest::header::AUTHORIZATION, String::new()),
            };
            if !value.is_empty() {
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    ConnectorError::Unauthorized(
                        "the stored credential is not a valid header value".into(),
                    )
                })?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }
        *request.body_mut() = req.body.clone().map(reqwest::Body::from);
        Ok(request)
    }

    /// Reads the body, refusing it past the size cap.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        url: &Url,
    ) -> Result<Vec<u8>, SendError> {
        let limit = self.max_response_bytes;
        let too_large = || SendError::ResponseTooLarge {
            host: url.host_str().unwrap_or_default().to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            let chunk = tokio::time::timeout_at(self.deadline, response.chunk())
                .await
                .map_err(|_| {
                    ConnectorError::Transient(format!(
                        "{} was still sending its answer at the call's deadline",
                        self.provider
                    ))
                })?
                .map_err(|e| {
                    ConnectorError::Transient(format!(
                        "{}'s answer was cut off: {}",
                        self.provider,
                        transport_error(e, None)
                    ))
                })?;
            match chunk {
                Some(chunk) if body.len() + chunk.len() > limit => return Err(too_large()),
                Some(chunk) => body.extend_from_slice(&chunk),
                None => return Ok(body),
            }
        }
    }

    /// Waits before another attempt: `wait` when the provider said, otherwise a
    /// jittered exponential backoff. False when no attempt is left or the wait
    /// would pass the deadline.
    async fn backoff(&self, attempt: u32, wait: Option<Duration>) -> bool {
        self.backoff_on(&self.limiter, attempt, wait).await
    }

    /// Like [`Self::backoff`], pausing `limiter` meanwhile.
    async fn backoff_on(
        &self,
        limiter: &ConnectionLimiter,
        attempt: u32,
        wait: Option<Duration>,
    ) -> bool {
        if attempt >= MAX_ATTEMPTS {
            return false;
        }
        let wait = wait.unwrap_or_else(|| jittered(attempt));
        let until = Instant::now() + wait;
        if until >= self.deadline {
            return false;
        }
        limiter.pause_until(until);
        tokio::time::sleep_until(until).await;
        true
    }

    /// The limiter of the rate class a request names; a class the manifest
    /// does not declare is the connector's mistake, named.
    fn class_limiter(&self, class: Option<&str>) -> Result<Option<&ConnectionLimiter>, SendError> {
        let Some(class) = class else {
            return Ok(None);
        };
        match self.class_limiters.iter().find(|(name, _)| name == class) {
            Some((_, limiter)) => Ok(Some(limiter)),
            None => Err(ConnectorError::Fatal(format!(
                "the request names rate class {class:?}, which the manifest's rate-classes do not declare (declared: {})",
                if self.class_limiters.is_empty() {
                    "none".to_owned()
                } else {
                    self.class_limiters
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
            .into()),
        }
    }
}

/// Full jitter over 100 ms x 2^attempt, at most 5 s.
fn jittered(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(100)
        .saturating_mul(1 << attempt.min(6))
        .min(Duration::from_secs(5));
    ceiling.mul_f64(rand::rng().random_range(0.5..=1.0))
}

fn parse_method(method: &str) -> Result<reqwest::Method, SendError> {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Ok(reqwest::Method::GET),
        "POST" => Ok(reqwest::Method::POST),
        "PUT" => Ok(reqwest::Method::PUT),
        "PATCH" => Ok(reqwest::Method::PATCH),
        "DELETE" => Ok(reqwest::Method::DELETE),
        "HEAD" => Ok(reqwest::Method::HEAD),
        other => Err(ConnectorError::Fatal(format!("unsupported HTTP method {other:?}")).into()),
    }
}

/// Headers the host owns: credentials, and framing that reqwest sets itself.
fn is_reserved_header(name: &HeaderName, placement: &CredentialPlacement) -> bool {
    use reqwest::header::*;
    [
        AUTHORIZATION,
        PROXY_AUTHORIZATION,
        COOKIE,
        HOST,
        CONTENT_LENGTH,
        TRANSFER_ENCODING,
        CONNECTION,
    ]
    .contains(name)
        || matches!(placement, CredentialPlacement::Header(h) if name.as_str().eq_ignore_ascii_case(h))
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

fn credential_error(err: CredentialError) -> SendError {
    match err {
        CredentialError::Revoked(m) => ConnectorError::Unauthorized(m).into(),
        e @ CredentialError::NotRenewable => ConnectorError::Unauthorized(e.to_string()).into(),
        CredentialError::Unavailable(m) => ConnectorError::Transient(m).into(),
    }
}

/// A transport failure in words fit for the connector, the error log and
/// the logs: without the request's URL (its query may carry a credential)
/// and with the credential's value blanked wherever it still appears.
fn transport_error(err: reqwest::Error, secret: Option<&Secret>) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    match secret.map(Secret::expose).filter(|s| s.len() >= 4) {
        Some(value) => text.replace(value, "[credential]"),
        None => text,
    }
}

/// The provider's own words in an error answer: a JSON `message`,
/// `error_description`, `error` or `detail`, else the start of the body.
fn provider_message(body: &[u8]) -> String {
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["message", "error_description", "error", "detail"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
        });
    said.unwrap_or_else(|| excerpt(body))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedHosts {
        AllowedHosts {
            declared: vec!["api.hubapi.com".into(), "*.my.salesforce.com".into()],
            configured: vec!["127.0.0.1:9001".into()],
        }
    }

    #[test]
    fn declared_hosts_over_https_only() {
        let a = allowed();
        let ok = |u: &str| a.check(&Url::parse(u).unwrap());
        assert!(ok("https://api.hubapi.com/crm/v3/objects/contacts").is_ok());
        assert!(ok("https://acme.my.salesforce.com/services").is_ok());
        // Declared, but over http: the refusal says so, not "undeclared".
        assert_eq!(
            ok("http://api.hubapi.com/x"),
            Err(("http://api.hubapi.com".into(), HostRefusal::PlainHttp))
        );
        let why = |u: &str| ok(u).err().map(|(_, why)| why);
        assert_eq!(
            why("https://my.salesforce.com/"),
            Some(HostRefusal::Undeclared)
        );
        assert_eq!(
            why("https://api.hubapi.com.evil.com/"),
            Some(HostRefusal::Undeclared)
        );
        assert_eq!(
            why("https://api.hubapi.com:8443/"),
            Some(HostRefusal::Undeclared)
        );
        assert_eq!(
            why("https://user:pw@api.hubapi.com/"),
            Some(HostRefusal::Credentials)
        );
        assert_eq!(why("ftp://api.hubapi.com/"), Some(HostRefusal::Scheme));
        let said = HostRefusal::PlainHttp.explain("acme", "http://127.0.0.1:18765");
        assert!(
            said.contains("--connector-base acme=http://127.0.0.1:18765"),
            "{said}"
        );
    }

    #[test]
    fn configured_hosts_may_use_http() {
        let a = allowed();
        assert!(
            a.check(&Url::parse("http://127.0.0.1:9001/x").unwrap())
                .is_ok()
        );
        assert!(
            a.check(&Url::parse("http://127.0.0.1:9002/x").unwrap())
                .is_err()
        );
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(
            "retry-after",
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let d = jittered(attempt);
            assert!(d <= Duration::from_secs(5));
            assert!(d >= Duration::from_millis(100));
        }
    }
}
