//! A test double for the host, so connector logic can be unit-tested natively
//! (`cargo test --target x86_64-unknown-linux-gnu`).
//!
//! Outside WebAssembly the SDK sends every request to the [`MockHttp`]
//! installed on the current thread and records every log line in it. (The
//! module also compiles for `wasm32-wasip2`, so test code type-checks there,
//! but a component always talks to the real host.)
//!
//! ```
//! use switchyard_connector_sdk::prelude::*;
//! use switchyard_connector_sdk::testing::MockHttp;
//!
//! let mock = MockHttp::new();
//! mock.on("GET", "/me").reply_json(200, serde_json::json!({"id": 7}));
//!
//! let me: serde_json::Value = Api::new("Acme").get("/me").send_json()?;
//! assert_eq!(me["id"], 7);
//! assert_eq!(mock.requests()[0].url, "/me");
//! # Ok::<(), ConnectorError>(())
//! ```
//!
//! Routes are tried in the order they were added; the first whose method
//! matches and whose path prefix matches the request's URL answers. A request
//! no route answers panics, naming the request, so a test fails loudly.

use std::cell::RefCell;
use std::rc::Rc;

use crate::ConnectorError;
use crate::bindings::switchyard::connector::http::{Request, Response as WireResponse};
use crate::bindings::switchyard::connector::log::Level;
use crate::urls::path_of;

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<State>>>> = const { RefCell::new(None) };
}

/// The canned host of one test: routes to answer with, and what was sent.
///
/// Creating one installs it for the current thread (replacing any earlier
/// one); dropping it uninstalls it. Tests run on separate threads, so they do
/// not see each other's mocks.
#[derive(Debug)]
pub struct MockHttp {
    state: Rc<RefCell<State>>,
}

#[derive(Debug, Default)]
struct State {
    routes: Vec<Route>,
    requests: Vec<Request>,
    prefetched: Vec<Request>,
    logs: Vec<(Level, String)>,
}

#[derive(Debug, Clone)]
struct Route {
    method: String,
    prefix: String,
    once: bool,
    answer: Result<WireResponse, ConnectorError>,
}

impl Route {
    fn matches(&self, request: &Request) -> bool {
        self.method.eq_ignore_ascii_case(&request.method)
            && (request.url.starts_with(&self.prefix)
                || path_of(&request.url).starts_with(&self.prefix))
    }
}

impl MockHttp {
    /// Creates a mock with no routes and installs it on this thread.
    pub fn new() -> Self {
        let state = Rc::new(RefCell::new(State::default()));
        CURRENT.with(|current| *current.borrow_mut() = Some(Rc::clone(&state)));
        Self { state }
    }

    /// Starts a route for requests with `method` whose URL (as sent, or its
    /// path alone for absolute URLs) starts with `prefix`. Finish it with one
    /// of [`RouteBuilder`]'s `reply`/`fail` methods.
    pub fn on(&self, method: &str, prefix: &str) -> RouteBuilder<'_> {
        RouteBuilder {
            mock: self,
            method: method.to_owned(),
            prefix: prefix.to_owned(),
            headers: Vec::new(),
            once: false,
        }
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.borrow().requests.clone()
    }

    /// Every request asked to be fetched ahead
    /// ([`RequestBuilder::prefetch`](crate::http::RequestBuilder::prefetch)),
    /// in order. The mock sends nothing for them: a later `send` of the same
    /// request is answered by its routes, as the host would answer it.
    pub fn prefetched(&self) -> Vec<Request> {
        self.state.borrow().prefetched.clone()
    }

    /// Every log line written so far, in order.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.borrow().logs.clone()
    }

    fn add(&self, route: Route) {
        self.state.borrow_mut().routes.push(route);
    }
}

impl Default for MockHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for MockHttp {
    fn drop(&mut self) {
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            if current
                .as_ref()
                .is_some_and(|installed| Rc::ptr_eq(installed, &self.state))
            {
                *current = None;
            }
        });
    }
}

/// A route being set up; it is added by the `reply`/`fail` call that ends it.
#[derive(Debug)]
#[must_use = "a route is only added by reply, reply_json or fail"]
pub struct RouteBuilder<'a> {
    mock: &'a MockHttp,
    method: String,
    prefix: String,
    headers: Vec<(String, String)>,
    once: bool,
}

impl RouteBuilder<'_> {
    /// Adds a response header (its name is lowercased, as the host does).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Answers only the first matching request, then is removed (for paging:
    /// add the pages in order, each `once`).
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Answers with `status` and a raw body.
    pub fn reply(self, status: u16, body: impl Into<Vec<u8>>) {
        let answer = Ok(WireResponse {
            status,
            headers: self.headers.clone(),
            body: body.into(),
        });
        self.finish(answer);
    }

    /// Answers with `status` and `body` as JSON (`content-type: application/json`).
    pub fn reply_json(self, status: u16, body: serde_json::Value) {
        self.header("content-type", "application/json")
            .reply(status, body.to_string());
    }

    /// Fails the request the way the host would (e.g. `fatal` for a host that
    /// is not allowed, `transient` for a cut connection).
    pub fn fail(self, error: ConnectorError) {
        self.finish(Err(error));
    }

    fn finish(self, answer: Result<WireResponse, ConnectorError>) {
        self.mock.add(Route {
            method: self.method,
            prefix: self.prefix,
            once: self.once,
            answer,
        });
    }
}

/// The native transport: answers `request` from the thread's mock.
#[cfg_attr(target_family = "wasm", allow(dead_code))]
pub(crate) fn send(request: &Request) -> Result<WireResponse, ConnectorError> {
    let Some(state) = CURRENT.with(|current| current.borrow().clone()) else {
        panic!(
            "{} {} was sent outside WebAssembly with no MockHttp on this thread: \
             create one with `let mock = MockHttp::new();` at the start of the test",
            request.method, request.url
        );
    };
    let answer = {
        let mut state = state.borrow_mut();
        state.requests.push(request.clone());
        match state.routes.iter().position(|route| route.matches(request)) {
            Some(index) if state.routes[index].once => Some(state.routes.remove(index).answer),
            Some(index) => Some(state.routes[index].answer.clone()),
            None => None,
        }
    };
    // The state is no longer borrowed here, so the panic hook may log.
    answer.unwrap_or_else(|| {
        let routes: Vec<String> = state
            .borrow()
            .routes
            .iter()
            .map(|route| format!("{} {}", route.method, route.prefix))
            .collect();
        panic!(
            "MockHttp has no route for {} {} (routes: {routes:?})",
            request.method, request.url
        )
    })
}

/// The native prefetch: records the request in the thread's mock, if any.
#[cfg_attr(target_family = "wasm", allow(dead_code))]
pub(crate) fn prefetch(request: &Request) {
    if let Some(state) = CURRENT.with(|current| current.borrow().clone()) {
        state.borrow_mut().prefetched.push(request.clone());
    }
}

/// The native log: records the line in the thread's mock, if any, and prints
/// it (the test harness shows it for failing tests).
#[cfg_attr(target_family = "wasm", allow(dead_code))]
pub(crate) fn log(level: Level, message: &str) {
    eprintln!("[{level:?}] {message}");
    if let Some(state) = CURRENT.with(|current| current.borrow().clone())
        && let Ok(mut state) = state.try_borrow_mut()
    {
        state.logs.push((level, message.to_owned()));
    }
}

/// A discovered field as a row to compare: name, JSON type, then whether
/// it is unique, required, read-only, custom and mapped.
pub type FieldFlags<'a> = (&'a str, &'a str, bool, bool, bool, bool, bool);

/// [`FieldFlags`] of each field, in order, for asserting what a
/// connector's `list_fields` says in one comparison.
pub fn field_flags(fields: &[crate::FieldInfo]) -> Vec<FieldFlags<'_>> {
    fields
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.json_type.as_str(),
                f.unique,
                f.required,
                f.read_only,
                f.custom,
                f.mapped,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Api;

    const API: Api = Api::new("Acme");

    #[test]
    fn answers_from_the_first_matching_route_and_records_requests() {
        let mock = MockHttp::new();
        mock.on("GET", "/contacts?cursor=2").reply(200, "second");
        mock.on("get", "/contacts")
            .header("X-Page", "1")
            .reply(200, "first");
        mock.on("POST", "/contacts").reply(201, "created");

        let first = API.get("/contacts").query("limit", 2).send();
        let second = API.get("/contacts").query("cursor", 2).send();
        let created = API
            .post("/contacts")
            .body(b"{}".to_vec(), "application/json")
            .send();

        let first = first.map(|r| {
            (
                r.status(),
                r.text().into_owned(),
                r.header("x-page").map(str::to_owned),
            )
        });
        assert_eq!(first, Ok((200, "first".to_owned(), Some("1".to_owned()))));
        assert_eq!(
            second.map(|r| r.text().into_owned()),
            Ok("second".to_owned())
        );
        assert_eq!(created.map(|r| r.status()), Ok(201));

        let urls: Vec<String> = mock.requests().into_iter().map(|r| r.url).collect();
        assert_eq!(
            urls,
            ["/contacts?limit=2", "/contacts?cursor=2", "/contacts"]
        );
    }

    #[test]
    fn once_routes_answer_in_order() {
        let mock = MockHttp::new();
        mock.on("GET", "/page").once().reply(200, "1");
        mock.on("GET", "/page").once().reply(200, "2");
        mock.on("GET", "/page").reply(200, "last");
        let texts: Vec<String> = (0..4)
            .map(|_| API.get("/page").send().map(|r| r.text().into_owned()))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        assert_eq!(texts, ["1", "2", "last", "last"]);
    }

    #[test]
    fn absolute_urls_match_by_path_or_whole_url() {
        let mock = MockHttp::new();
        mock.on("GET", "https://evil.example.com/")
            .fail(ConnectorError::fatal(
                "host evil.example.com is not allowed",
            ));
        mock.on("GET", "/v1/me")
            .reply_json(200, serde_json::json!({"ok": true}));

        let denied = API.get("https://evil.example.com/steal").send();
        assert_eq!(
            denied,
            Err(ConnectorError::fatal(
                "host evil.example.com is not allowed"
            ))
        );
        let me: Result<serde_json::Value, _> =
            API.get("https://api.acme.example/v1/me").send_json();
        assert_eq!(me, Ok(serde_json::json!({"ok": true})));
    }

    #[test]
    fn records_logs() {
        let mock = MockHttp::new();
        crate::log::info!("hello");
        crate::log::warn!("{} apples", 3);
        assert_eq!(
            mock.logs(),
            [
                (Level::Info, "hello".to_owned()),
                (Level::Warn, "3 apples".to_owned())
            ]
        );
    }

    #[test]
    #[should_panic(expected = "MockHttp has no route for DELETE /contacts/1")]
    fn unmatched_requests_panic() {
        let mock = MockHttp::new();
        mock.on("GET", "/contacts").reply(200, "[]");
        let _ = API.delete("/contacts/1").send();
    }

    #[test]
    #[should_panic(expected = "no MockHttp on this thread")]
    fn sending_without_a_mock_panics() {
        let _ = API.get("/x").send();
    }

    #[test]
    fn dropping_uninstalls_only_its_own_mock() {
        let outer = MockHttp::new();
        outer.on("GET", "/").reply(200, "outer");
        drop(MockHttp::new());
        // The newer mock replaced `outer`; dropping it leaves none installed.
        assert!(CURRENT.with(|current| current.borrow().is_none()));
        let again = MockHttp::new();
        drop(outer);
        assert!(CURRENT.with(|current| {
            current
                .borrow()
                .as_ref()
                .is_some_and(|installed| Rc::ptr_eq(installed, &again.state))
        }));
    }
}
