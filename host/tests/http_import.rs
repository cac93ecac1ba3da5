//! The `http` import as a connector experiences it: the host attaches the
//! credential, refreshes it once on a `401`, honours `429`/`Retry-After`, and
//! retries `5xx` of idempotent requests, all invisible to the connector.

mod support;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use switchyard::runtime::credentials::{
    CredentialError, CredentialSource, Secret, StaticCredential,
};
use switchyard::runtime::types::{Connection, ConnectorError, PullRequest};
use switchyard::runtime::{CallError, ConnectorOverride, RequestRate, Runtime, RuntimeConfig};

/// A scripted answer: status, and the `Retry-After` header if any.
type ScriptedAnswer = (u16, Option<&'static str>);

/// A provider that answers `/ok` from a script (status, Retry-After) and then
/// 200 "hello", and records the Authorization header of every request.
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<VecDeque<ScriptedAnswer>>>,
    seen: Arc<Mutex<Vec<String>>>,
    /// When set, any other bearer token gets a 401.
    valid_token: Arc<Mutex<Option<String>>>,
}

async fn provider(state: Scripted) -> String {
    let app = axum::Router::new().route(
        "/ok",
        get(move |headers: HeaderMap| {
            let state = state.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                state.seen.lock().unwrap().push(auth.clone());
                if let Some(valid) = state.valid_token.lock().unwrap().clone()
                    && auth != format!("Bearer {valid}")
                {
                    return (
                        StatusCode::UNAUTHORIZED,
                        "{\"category\":\"EXPIRED_AUTHENTICATION\"}",
                    )
                        .into_response();
                }
                match state.script.lock().unwrap().pop_front() {
                    Some((status, retry_after)) => {
                        let mut headers = HeaderMap::new();
                        if let Some(secs) = retry_after {
                            headers.insert("retry-after", secs.parse().unwrap());
                        }
                        (StatusCode::from_u16(status).unwrap(), headers, "scripted").into_response()
                    }
                    None => "hello".into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn runtime(url: &str, cache: &std::path::Path) -> Arc<Runtime> {
    runtime_with_rate(url, cache, None).await
}

/// With `rate` instead of the 100 requests per second `misbehave` declares.
async fn runtime_with_rate(
    url: &str,
    cache: &std::path::Path,
    rate: Option<RequestRate>,
) -> Arc<Runtime> {
    let mut overrides = HashMap::new();
    overrides.insert(
        "misbehave".to_owned(),
        ConnectorOverride {
            api_base: Some(url.to_owned()),
            allowed_hosts: Vec::new(),
            rate,
        },
    );
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: cache.to_owned(),
        overrides,
        ..RuntimeConfig::default()
    })
    .unwrap();
    runtime
        .install(support::component("misbehave"), None)
        .await
        .unwrap();
    runtime
}

/// `misbehave` in mode "ok": GET /ok, returning what it got.
async fn fetch(
    runtime: &Runtime,
    credential: Arc<dyn CredentialSource>,
) -> Result<Value, CallError> {
    let conn = Connection {
        key: "acct".into(),
        ..Connection::default()
    };
    let request = PullRequest {
        endgrate_type: "crm-contact".into(),
        cursor: None,
        since: None,
        page_size: 1,
        params: json!({ "mode": "ok" }),
        associations: Vec::new(),
        include_remote: false,
        passthrough_fields: Vec::new(),
    };
    let page = runtime
        .pull("misbehave", &conn, Some(credential), &request)
        .await?;
    Ok(serde_json::from_str(&page.records[0].data).unwrap())
}

/// Hands out "old" until refreshed, then "new"; counts refreshes.
struct Expiring {
    refreshed: Mutex<u32>,
    refresh_works: bool,
}

impl CredentialSource for Expiring {
    fn current(&self) -> BoxFuture<'_, Result<Secret, CredentialError>> {
        Box::pin(async move {
            Ok(Secret::new(if *self.refreshed.lock().unwrap() > 0 {
                "new"
            } else {
                "old"
            }))
        })
    }

    fn refresh<'a>(
        &'a self,
        rejected: &'a Secret,
    ) -> BoxFuture<'a, Result<Secret, CredentialError>> {
        Box::pin(async move {
            assert_eq!(rejected.expose(), "old");
            if !self.refresh_works {
                return Err(CredentialError::Revoked("refresh token revoked".into()));
            }
            *self.refreshed.lock().unwrap() += 1;
            Ok(Secret::new("new"))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_attaches_the_credential() {
    let state = Scripted::default();
    let url = provider(state.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&url, cache.path()).await;
    let got = fetch(&runtime, Arc::new(StaticCredential(Secret::new("k-123"))))
        .await
        .unwrap();
    assert_eq!(got, json!({ "status": 200, "body": "hello" }));
    assert_eq!(*state.seen.lock().unwrap(), ["Bearer k-123"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_rate_replaces_the_declared_one() {
    let state = Scripted::default();
    let url = provider(state.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let credential = || Arc::new(StaticCredential(Secret::new("k"))) as Arc<dyn CredentialSource>;

    // As declared (100 per second): two requests in a row both go.
    let declared = runtime(&url, cache.path()).await;
    fetch(&declared, credential()).await.unwrap();
    fetch(&declared, credential()).await.unwrap();

    // One per hour: the second request's slot is past the call's deadline,
    // so the call ends at once as rate limited, and never reaches the provider.
    let one_an_hour = RequestRate {
        requests: 1,
        window_ms: 3_600_000,
    };
    let slow = runtime_with_rate(&url, cache.path(), Some(one_an_hour)).await;
    fetch(&slow, credential()).await.unwrap();
    let started = Instant::now();
    let refused = fetch(&slow, credential()).await;
    assert!(
        matches!(
            refused,
            Err(CallError::Connector {
                error: ConnectorError::RateLimited(_),
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused at once"
    );
    assert_eq!(state.seen.lock().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_refreshes_once_and_retries() {
    let state = Scripted::default();
    *state.valid_token.lock().unwrap() = Some("new".into());
    let url = provider(state.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&url, cache.path()).await;
    let credential = Arc::new(Expiring {
        refreshed: Mutex::new(0),
        refresh_works: true,
    });
    let got = fetch(&runtime, credential.clone()).await.unwrap();
    assert_eq!(got["status"], 200);
    assert_eq!(*state.seen.lock().unwrap(), ["Bearer old", "Bearer new"]);
    assert_eq!(*credential.refreshed.lock().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_is_unauthorized() {
    let state = Scripted::default();
    *state.valid_token.lock().unwrap() = Some("new".into());
    let url = provider(state.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&url, cache.path()).await;
    let credential = Arc::new(Expiring {
        refreshed: Mutex::new(0),
        refresh_works: false,
    });
    let err = fetch(&runtime, credential).await.unwrap_err();
    match err {
        CallError::Connector {
            error: ConnectorError::Unauthorized(m),
            ..
        } => assert!(m.contains("revoked"), "{m}"),
        other => panic!("expected an authentication failure, got {other}"),
    }
    assert_eq!(state.seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_retry_after() {
    let state = Scripted::default();
    state.script.lock().unwrap().push_back((429, Some("1")));
    let url = provider(state.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&url, cache.path()).await;
    let started = Instant::now();
    let got = fetch(&runtime, Arc::new(StaticCredential(Secret::new("k"))))
        .await
        .unwrap();
    assert_eq!(got["status"], 200);
    assert_eq!(state.seen.lock().unwrap().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_of_a_get_are_retried() {
    let state = Scripted::default();
    state
        .script
        .lock()
        .unwrap()
        .extend([(503, None), (502, None)]);
    let url = provider(state.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&url, cache.path()).await;
    let got = fetch(&runtime, Arc::new(StaticCredential(Secret::new("k"))))
        .await
        .unwrap();
    assert_eq!(got, json!({ "status": 200, "body": "hello" }));
    assert_eq!(state.seen.lock().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_error_names_neither_the_url_nor_the_credential() {
    // A port nothing listens on: the connection is refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{closed}/v1?api_key=sekret-in-query");
    let cache = tempfile::tempdir().unwrap();
    let runtime = runtime(&base, cache.path()).await;
    let err = fetch(
        &runtime,
        Arc::new(StaticCredential(Secret::new("sekret-token"))),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("could not reach"), "{text}");
    for leak in [&format!("127.0.0.1:{closed}"), "sekret", "/ok"] {
        assert!(!text.contains(leak), "{leak:?} leaked into: {text}");
    }
}
