//! The per-connection request log: each request a session's connector or the
//! passthrough proxy sent to the provider (each attempt, retries included),
//! with its time, method, URL, status, duration, response size and the
//! retry and rate-limit flags. It never holds a header, a body, or the
//! credential: the URL is logged as the connector asked for it, before the
//! host adds a credential, and query parameters named like credentials are
//! dropped besides.
//!
//! Stored in the `request_log` tree under `session \0 time_ms seq`, so a
//! session's requests read newest first, and both bounds are cheap to keep:
//! the newest [`LogRetention::max_per_session`] of each session that logged
//! since the last sweep, and nothing older than [`LogRetention::max_age`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::store::{Db, StoreError, decode, encode, now_ms, prefix, remove_prefix};

/// Requests kept per session unless configured otherwise.
pub const DEFAULT_MAX_PER_SESSION: usize = 10_000;
/// How long requests are kept unless configured otherwise.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Query parameters never logged, whatever the connector put there.
const SECRET_PARAMETERS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "api-key",
    "client_secret",
    "code",
    "hapikey",
    "key",
    "password",
    "refresh_token",
    "secret",
    "signature",
    "sig",
    "token",
];

#[derive(Debug, Clone, Copy)]
pub struct LogRetention {
    pub max_per_session: usize,
    pub max_age: Duration,
}

impl Default for LogRetention {
    fn default() -> Self {
        LogRetention {
            max_per_session: DEFAULT_MAX_PER_SESSION,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// Why a request was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A step of this transfer.
    Transfer(String),
    /// The passthrough proxy (`/api/passthrough`).
    Proxy,
    /// Discovery of objects and fields.
    Discovery,
    /// Checking a credential before it is stored.
    #[default]
    Check,
}

impl Purpose {
    fn source(&self) -> &'static str {
        match self {
            Purpose::Transfer(_) => "transfer",
            Purpose::Proxy => "proxy",
            Purpose::Discovery => "discovery",
            Purpose::Check => "check",
        }
    }
}

/// One logged request, as stored and as `GET /api/logs` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub session_id: String,
    pub transfer_id: Option<String>,
    /// `transfer`, `proxy`, `discovery` or `check`.
    pub source: String,
    /// When it was sent, in Unix milliseconds.
    pub time_ms: u64,
    pub method: String,
    /// Scheme, host, path and query, credential parameters removed.
    pub url: String,
    /// `None` when no answer came (see `error`).
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: f64,
    pub response_bytes: Option<u64>,
    /// 1 for the first try.
    pub attempt: u32,
    /// The provider answered `429`.
    pub rate_limited: bool,
    /// Time spent waiting for the connection's rate limit before sending.
    pub rate_limit_wait_ms: f64,
}

impl LoggedRequest {
    pub fn retry(&self) -> bool {
        self.attempt > 1
    }
}

/// What a listing keeps.
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub transfer_id: Option<String>,
    /// An exact status (`429`) or a class (`4xx`), or `error` for requests
    /// that got no answer.
    pub status: Option<StatusFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatusFilter {
    Exact(u16),
    Class(u16),
    NoAnswer,
}

impl StatusFilter {
    /// `429`, `4xx` or `error`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        if text == "error" {
            return Some(StatusFilter::NoAnswer);
        }
        if let Some(class) = text.strip_suffix("xx") {
            return class
                .parse::<u16>()
                .ok()
                .filter(|c| (1..=5).contains(c))
                .map(StatusFilter::Class);
        }
        text.parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))
            .map(StatusFilter::Exact)
    }

    fn matches(self, status: Option<u16>) -> bool {
        match (self, status) {
            (StatusFilter::NoAnswer, None) => true,
            (StatusFilter::Exact(want), Some(s)) => s == want,
            (StatusFilter::Class(class), Some(s)) => s / 100 == class,
            _ => false,
        }
    }
}

impl LogFilter {
    fn keeps(&self, entry: &LoggedRequest) -> bool {
        self.transfer_id
            .as_ref()
            .is_none_or(|t| entry.transfer_id.as_ref() == Some(t))
            && self.status.is_none_or(|s| s.matches(entry.status))
    }
}

/// The log; clones share it.
#[derive(Clone)]
pub struct RequestLog {
    db: Db,
    retention: LogRetention,
    /// Sessions that logged since the last sweep: the only ones that can
    /// be over the count bound.
    touched: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl RequestLog {
    pub fn new(db: Db, retention: LogRetention) -> Self {
        RequestLog {
            db,
            retention,
            touched: Arc::default(),
        }
    }

    /// Appends `entry` to its session's log. Not flushed: the log follows
    /// the transfers' own commits to disk.
    pub fn record(&self, entry: &LoggedRequest) -> Result<(), StoreError> {
        let seq = self.db.next_id()?;
        let mut key = prefix(&entry.session_id);
        key.extend_from_slice(&entry.time_ms.to_be_bytes());
        key.extend_from_slice(&seq.to_be_bytes());
        self.db.trees.request_log.insert(key, encode(entry))?;
        self.touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(entry.session_id.clone());
        Ok(())
    }

    /// A page of `session_id`'s requests that `filter` keeps, newest first,
    /// and how many it keeps in all.
    pub fn list(
        &self,
        session_id: &str,
        filter: &LogFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<LoggedRequest>, usize), StoreError> {
        let mut page = Vec::new();
        let mut total = 0;
        for entry in self
            .db
            .trees
            .request_log
            .scan_prefix(prefix(session_id))
            .values()
            .rev()
        {
            let entry: LoggedRequest = decode(&entry?)?;
            if !filter.keeps(&entry) {
                continue;
            }
            if total >= offset && page.len() < limit {
                page.push(entry);
            }
            total += 1;
        }
        Ok((page, total))
    }

    /// Keeps both bounds: drops requests older than the maximum age, and
    /// the oldest of each session past the maximum count. How many went.
    pub fn sweep(&self) -> Result<usize, StoreError> {
        let tree = &self.db.trees.request_log;
        let cutoff = now_ms().saturating_sub(self.retention.max_age.as_millis() as u64);
        let mut batch = sled::Batch::default();
        let mut gone = 0;
        // Age: each session's oldest requests come first; stop at the first
        // that is recent enough, then jump to the next session.
        let mut from: Vec<u8> = Vec::new();
        while let Some(next) = tree.range(from.clone()..).keys().next() {
            let key = next?;
            let Some(split) = key.iter().position(|b| *b == 0) else {
                // Not a key of ours: skip past it.
                from = successor(&key);
                continue;
            };
            let session = &key[..split];
            let mut session_end = session.to_vec();
            session_end.push(1);
            for key in tree.range(key.to_vec()..session_end.clone()).keys() {
                let key = key?;
                let time = key
                    .get(split + 1..split + 9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                if time >= cutoff {
                    break;
                }
                batch.remove(key);
                gone += 1;
            }
            from = session_end;
        }
        apply(tree, batch)?;
        let mut batch = sled::Batch::default();
        // Count: only sessions that logged since the last sweep can be over.
        let touched: Vec<String> = self
            .touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for session in touched {
            for key in tree
                .scan_prefix(prefix(&session))
                .keys()
                .rev()
                .skip(self.retention.max_per_session)
            {
                batch.remove(key?);
                gone += 1;
            }
        }
        apply(tree, batch)?;
        Ok(gone)
    }
}

fn apply(tree: &sled::Tree, batch: sled::Batch) -> Result<(), StoreError> {
    let _gate = crate::store::write_gate::exclusive();
    Ok(tree.apply_batch(batch)?)
}

/// Removes every logged request of a session (with the session).
pub fn remove_session(db: &Db, session_id: &str) -> Result<usize, StoreError> {
    remove_prefix(&db.trees.request_log, session_id)
}

/// The smallest key after every key that starts with `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// `url` as logged: no user name or password, no fragment, and no query
/// parameter named like a credential (`credential_parameter` is the one
/// the host adds, when the provider takes its credential in the query).
pub fn loggable_url(url: &Url, credential_parameter: Option<&str>) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_fragment(None);
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        SECRET_PARAMETERS.contains(&name.as_str())
            || credential_parameter.is_some_and(|p| p.eq_ignore_ascii_case(&name))
    };
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !secret(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            shown.set_query(None);
        } else {
            shown.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    shown.to_string()
}

/// Who is logging: the log, and the session and purpose requests are for.
#[derive(Clone)]
pub struct Logger {
    pub log: RequestLog,
    pub session_id: String,
    pub purpose: Purpose,
}

impl Logger {
    /// An entry of this logger's session and purpose.
    pub fn entry(&self, method: &str, url: String, time_ms: u64) -> LoggedRequest {
        LoggedRequest {
            session_id: self.session_id.clone(),
            transfer_id: match &self.purpose {
                Purpose::Transfer(id) => Some(id.clone()),
                _ => None,
            },
            source: self.purpose.source().to_owned(),
            time_ms,
            method: method.to_owned(),
            url,
            status: None,
            error: None,
            duration_ms: 0.0,
            response_bytes: None,
            attempt: 1,
            rate_limited: false,
            rate_limit_wait_ms: 0.0,
        }
    }

    /// Stores `entry`; a failure is logged, never the request's.
    pub fn record(&self, entry: &LoggedRequest) {
        if let Err(err) = self.log.record(entry) {
            tracing::warn!(%err, session = %entry.session_id, "could not log a provider request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(session: &str, time_ms: u64, status: Option<u16>) -> LoggedRequest {
        LoggedRequest {
            session_id: session.into(),
            transfer_id: Some("t1".into()),
            source: "transfer".into(),
            time_ms,
            method: "GET".into(),
            url: "https://api.example.com/x".into(),
            status,
            error: None,
            duration_ms: 1.0,
            response_bytes: Some(10),
            attempt: 1,
            rate_limited: false,
            rate_limit_wait_ms: 0.0,
        }
    }

    #[test]
    fn removes_credentials_from_urls() {
        let url = Url::parse(
            "https://user:pw@api.example.com/v1/items?limit=5&api_key=s3cret&Token=x&auth=y#frag",
        )
        .unwrap();
        assert_eq!(
            loggable_url(&url, Some("auth")),
            "https://api.example.com/v1/items?limit=5"
        );
        let url = Url::parse("https://api.example.com/v1?hapikey=abc").unwrap();
        assert_eq!(loggable_url(&url, None), "https://api.example.com/v1");
    }

    #[test]
    fn parses_status_filters() {
        assert_eq!(StatusFilter::parse("429"), Some(StatusFilter::Exact(429)));
        assert_eq!(StatusFilter::parse("4xx"), Some(StatusFilter::Class(4)));
        assert_eq!(StatusFilter::parse("error"), Some(StatusFilter::NoAnswer));
        assert_eq!(StatusFilter::parse("9xx"), None);
        assert_eq!(StatusFilter::parse("abc"), None);
        assert!(StatusFilter::Class(2).matches(Some(204)));
        assert!(!StatusFilter::Class(2).matches(None));
    }

    #[test]
    fn lists_newest_first_and_keeps_both_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let log = RequestLog::new(
            db,
            LogRetention {
                max_per_session: 3,
                max_age: Duration::from_secs(3600),
            },
        );
        let now = now_ms();
        let old = now - 2 * 3600 * 1000;
        log.record(&entry("a", old, Some(200))).unwrap();
        for i in 0..5 {
            log.record(&entry("a", now + i, Some(if i == 2 { 429 } else { 200 })))
                .unwrap();
        }
        log.record(&entry("b", old, Some(200))).unwrap();
        log.record(&entry("b", now, None)).unwrap();

        let (page, total) = log.list("a", &LogFilter::default(), 0, 2).unwrap();
        assert_eq!(total, 6);
        assert_eq!(
            page.iter().map(|e| e.time_ms).collect::<Vec<_>>(),
            [now + 4, now + 3]
        );
        let only_429 = LogFilter {
            status: Some(StatusFilter::Exact(429)),
            ..LogFilter::default()
        };
        assert_eq!(log.list("a", &only_429, 0, 10).unwrap().1, 1);

        // "a": one too old, two past the count; "b": one too old.
        assert_eq!(log.sweep().unwrap(), 4);
        let (kept, total) = log.list("a", &LogFilter::default(), 0, 10).unwrap();
        assert_eq!(total, 3);
        assert_eq!(
            kept.iter().map(|e| e.time_ms).collect::<Vec<_>>(),
            [now + 4, now + 3, now + 2]
        );
        let (kept, _) = log.list("b", &LogFilter::default(), 0, 10).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].status, None);
        assert_eq!(remove_session(&log.db, "a").unwrap(), 3);
    }
}
