//! Prefetching a pull's next page. When a provider answer says where the next
//! page is (the ways a connector declares in its integration's `paging`), the
//! host sends that request at once, in the background and under the same rate
//! limit, while the connector maps this page and the transfer commits it. If
//! the connector's next `pull` then sends exactly that request, it gets the
//! answer already on its way; any other request is sent as usual. The
//! connector's own cursor always decides: a wrong guess costs one request,
//! never a wrong page, and nothing here is durable (a restart just fetches
//! again).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;

use super::json_pointer;
use super::manifest::Paging;
use super::types::{OutRequest, OutResponse};

/// Prefetched answers kept at most, host-wide; beyond, the oldest go.
const MAX_ENTRIES: usize = 1024;
/// A prefetched answer nobody asked for within this long is dropped.
const MAX_AGE: Duration = Duration::from_secs(120);

/// What makes two requests the same one: the connection they are sent for,
/// the method, the URL with its query decoded, the headers and the body (JSON
/// bodies compared as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    connection: String,
    method: String,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Signature {
    pub fn of(connection: &str, req: &OutRequest, url: &Url) -> Signature {
        let mut bare = url.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        headers.sort();
        let body = req.body.as_ref().map(|bytes| {
            match serde_json::from_slice::<Value>(bytes) {
                // Objects' members in one order, whatever order they were sent in.
                Ok(json) => json.to_string().into_bytes(),
                Err(_) => bytes.clone(),
            }
        });
        // Parameters in any order (a parameter given twice keeps its order).
        let mut query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        query.sort_by(|a, b| a.0.cmp(&b.0));
        Signature {
            connection: connection.to_owned(),
            method: req.method.to_ascii_uppercase(),
            url: bare.to_string(),
            query,
            headers,
            body,
        }
    }
}

struct Entry {
    started: Instant,
    answer: JoinHandle<Option<OutResponse>>,
}

/// The prefetched answers in flight or waiting, host-wide.
#[derive(Default)]
pub struct Prefetches {
    entries: Mutex<HashMap<Signature, Entry>>,
    started: AtomicU64,
    finished: AtomicU64,
    served: AtomicU64,
}

/// How many prefetches were started, and how many answered a connector's
/// request (the rest were wasted requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefetchCounts {
    pub started: u64,
    /// Answered or failed (the rest are still in flight).
    pub finished: u64,
    pub served: u64,
}

impl Prefetches {
    /// Keeps the answer `fetch` will give for `signature`.
    pub fn insert(&self, signature: Signature, fetch: JoinHandle<Option<OutResponse>>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        entries.retain(|_, e| {
            let fresh = now.duration_since(e.started) < MAX_AGE;
            if !fresh {
                e.answer.abort();
            }
            fresh
        });
        if entries.len() >= MAX_ENTRIES {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.started)
                .map(|(s, _)| s.clone());
            if let Some(entry) = oldest.and_then(|s| entries.remove(&s)) {
                entry.answer.abort();
            }
        }
        let replaced = entries.insert(
            signature,
            Entry {
                started: now,
                answer: fetch,
            },
        );
        if let Some(old) = replaced {
            old.answer.abort();
        }
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> PrefetchCounts {
        PrefetchCounts {
            started: self.started.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            served: self.served.load(Ordering::Relaxed),
        }
    }

    /// The prefetched answer to `signature`, waited for until `deadline`;
    /// `None` when there is none (or it failed, or comes too late): the
    /// caller sends the request itself.
    pub async fn take(&self, signature: &Signature, deadline: Instant) -> Option<OutResponse> {
        let entry = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(signature)?;
        let answer = match tokio::time::timeout_at(deadline, entry.answer).await {
            Ok(Ok(answer)) => answer,
            _ => None,
        };
        if answer.is_some() {
            self.served.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }

    /// Counts a prefetch that got its answer (or gave up).
    pub fn finished(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    /// Answers held now.
    pub fn held(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The request for the page after `response`, by the first of `rules` that
/// finds a next page in it. Only the `2xx` JSON answers of idempotent
/// requests count.
pub fn next_request(
    rules: &[Paging],
    req: &OutRequest,
    url: &Url,
    response: &OutResponse,
) -> Option<OutRequest> {
    let idempotent =
        req.idempotent || matches!(req.method.to_ascii_uppercase().as_str(), "GET" | "HEAD");
    if rules.is_empty() || !idempotent || !(200..300).contains(&response.status) {
        return None;
    }
    // Only the cursor is read out of the answer, not the whole page.
    let at = |pointer: &str| json_pointer::lookup(&response.body, pointer);
    rules.iter().find_map(|rule| match rule {
        Paging::QueryCursor { param, pointer } => {
            let cursor = text(&at(pointer)?)?;
            let mut next = url.clone();
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .into_owned()
                .filter(|(name, _)| name != param)
                .collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair(param, &cursor);
            Some(OutRequest {
                url: next.to_string(),
                ..req.clone()
            })
        }
        Paging::BodyCursor { param, pointer } => {
            let cursor = at(pointer).filter(|v| !v.is_null())?;
            let mut body: Value = serde_json::from_slice(req.body.as_deref()?).ok()?;
            set_pointer(&mut body, param, cursor)?;
            Some(OutRequest {
                url: url.to_string(),
                body: Some(body.to_string().into_bytes()),
                ..req.clone()
            })
        }
        Paging::NextUrl { pointer } => {
            let next = text(&at(pointer)?)?;
            Some(OutRequest {
                method: "GET".into(),
                url: next,
                body: None,
                idempotent: true,
                ..req.clone()
            })
        }
    })
}

/// A cursor as text: a non-empty string, or a number.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Sets the member at JSON pointer `pointer` of `target`, creating the
/// objects on the way; `None` when the pointer runs into something that is
/// not an object.
fn set_pointer(target: &mut Value, pointer: &str, value: Value) -> Option<()> {
    let mut at = target;
    let mut tokens = json_pointer::tokens(pointer)?.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let object = at.as_object_mut()?;
        if tokens.peek().is_none() {
            object.insert(token, value);
            return Some(());
        }
        at = object
            .entry(token)
            .or_insert_with(|| Value::Object(Default::default()));
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn get(url: &str) -> OutRequest {
        OutRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
            idempotent: false,
            rate_class: None,
        }
    }

    fn answer(body: Value) -> OutResponse {
        OutResponse {
            status: 200,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn query_cursor() -> Vec<Paging> {
        vec![Paging::QueryCursor {
            param: "after".into(),
            pointer: "/paging/next/after".into(),
        }]
    }

    #[test]
    fn a_query_cursor_replaces_the_parameter_and_matches_the_connectors_request() {
        let url = Url::parse("https://api.test/contacts?limit=100&after=5").unwrap();
        let req = get(url.as_str());
        let next = next_request(
            &query_cursor(),
            &req,
            &url,
            &answer(json!({"results": [], "paging": {"next": {"after": "105"}}})),
        )
        .unwrap();
        let next_url = Url::parse(&next.url).unwrap();
        // The connector writes its query in another order and encoding: the
        // same request all the same.
        let theirs = get("https://api.test/contacts?after=105&limit=100");
        let theirs_url = Url::parse(&theirs.url).unwrap();
        assert_eq!(
            Signature::of("s", &next, &next_url),
            Signature::of("s", &theirs, &theirs_url)
        );
        // A different cursor is a different request.
        let other = get("https://api.test/contacts?limit=100&after=106");
        let other_url = Url::parse(&other.url).unwrap();
        assert_ne!(
            Signature::of("s", &next, &next_url),
            Signature::of("s", &other, &other_url)
        );
    }

    #[test]
    fn the_last_page_and_failed_or_unsafe_requests_prefetch_nothing() {
        let url = Url::parse("https://api.test/contacts?limit=100").unwrap();
        let last = answer(json!({"results": []}));
        assert!(next_request(&query_cursor(), &get(url.as_str()), &url, &last).is_none());
        let mut failed = answer(json!({"paging": {"next": {"after": "1"}}}));
        failed.status = 500;
        assert!(next_request(&query_cursor(), &get(url.as_str()), &url, &failed).is_none());
        let mut post = get(url.as_str());
        post.method = "POST".into();
        let more = answer(json!({"paging": {"next": {"after": "1"}}}));
        assert!(next_request(&query_cursor(), &post, &url, &more).is_none());
    }

    #[test]
    fn a_body_cursor_sets_the_member_and_a_next_url_is_a_get() {
        let url = Url::parse("https://api.test/search").unwrap();
        let search = OutRequest {
            method: "POST".into(),
            body: Some(br#"{"limit": 100, "filterGroups": []}"#.to_vec()),
            idempotent: true,
            ..get(url.as_str())
        };
        let rules = vec![Paging::BodyCursor {
            param: "/after".into(),
            pointer: "/paging/next/after".into(),
        }];
        let next = next_request(
            &rules,
            &search,
            &url,
            &answer(json!({"paging": {"next": {"after": "200"}}})),
        )
        .unwrap();
        let body: Value = serde_json::from_slice(next.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"limit": 100, "filterGroups": [], "after": "200"})
        );

        let rules = vec![Paging::NextUrl {
            pointer: "/nextRecordsUrl".into(),
        }];
        let next = next_request(
            &rules,
            &get(url.as_str()),
            &url,
            &answer(json!({"nextRecordsUrl": "/services/data/v60.0/query/01g-2000"})),
        )
        .unwrap();
        assert_eq!(next.method, "GET");
        assert_eq!(next.url, "/services/data/v60.0/query/01g-2000");
    }

    #[tokio::test]
    async fn an_answer_is_taken_once_and_only_by_its_request() {
        let prefetches = Prefetches::default();
        let url = Url::parse("https://api.test/contacts?after=1").unwrap();
        let req = get(url.as_str());
        let signature = Signature::of("s", &req, &url);
        prefetches.insert(
            signature.clone(),
            tokio::spawn(async { Some(answer(json!({"page": 2}))) }),
        );
        let elsewhere = Signature::of("other session", &req, &url);
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(prefetches.take(&elsewhere, deadline).await.is_none());
        let taken = prefetches.take(&signature, deadline).await.unwrap();
        assert_eq!(taken.body, br#"{"page":2}"#);
        assert!(prefetches.take(&signature, deadline).await.is_none());
        assert_eq!(prefetches.held(), 0);
    }
}
