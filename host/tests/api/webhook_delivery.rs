//! Webhook delivery under load: one account's receiver that never answers
//! holds up no other account's webhooks, a backlog of thousands drains with
//! each delivery read a bounded number of times, and what a stopped host
//! left in the outbox goes out in order after a restart; a push of many
//! rejected items sends one error webhook per batch. Every webhook is
//! checked against the OpenAPI document, headers and signature included.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchyard::store::Db;
use switchyard::webhooks::outbox::{self, Delivery};
use tokio::sync::watch;

use crate::harness::{TestHost, eventually, sim_config};

/// One webhook as answered.
#[derive(Debug, Clone)]
struct Got {
    headers: HeaderMap,
    raw: Bytes,
    body: Value,
}

/// A receiver whose answers wait until the test opens its gate.
#[derive(Clone)]
struct Gated {
    url: String,
    gate: Arc<watch::Sender<bool>>,
    answered: Arc<Mutex<Vec<Got>>>,
    /// Requests that reached it and are not answered yet.
    waiting: Arc<AtomicUsize>,
    most_waiting: Arc<AtomicUsize>,
}

impl Gated {
    async fn start(open: bool) -> Gated {
        let (gate, _) = watch::channel(open);
        let r = Gated {
            url: String::new(),
            gate: Arc::new(gate),
            answered: Arc::default(),
            waiting: Arc::default(),
            most_waiting: Arc::default(),
        };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let now = state.waiting.fetch_add(1, Ordering::SeqCst) + 1;
                    state.most_waiting.fetch_max(now, Ordering::SeqCst);
                    let mut gate = state.gate.subscribe();
                    let opened = gate.wait_for(|open| *open).await.is_ok();
                    state.waiting.fetch_sub(1, Ordering::SeqCst);
                    if !opened {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let raw = body;
                    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                    state
                        .answered
                        .lock()
                        .unwrap()
                        .push(Got { headers, raw, body });
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Gated {
            url: format!("http://{addr}/hook"),
            ..r
        }
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }

    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn count(&self) -> usize {
        self.answered.lock().unwrap().len()
    }

    /// What was answered, each checked against `expected`.
    fn answered(&self, expected: &Expected) -> Vec<Got> {
        let got = self.answered.lock().unwrap().clone();
        for g in &got {
            check(g, expected);
        }
        got
    }
}

fn header<'a>(got: &'a Got, name: &str) -> &'a str {
    got.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header: {:?}", got.headers))
}

/// What webhooks to an account must be: signed with its secret, and as the
/// host's OpenAPI document describes them.
struct Expected {
    secret: String,
    document: Value,
}

async fn expected(t: &TestHost, key: &str) -> Expected {
    let (_, answer) = t.get(key, "/api/webhook-secret").await;
    let (status, document) = t.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    Expected {
        secret: answer["webhook_secret"].as_str().unwrap().to_owned(),
        document,
    }
}

/// The body follows the webhook's schema, every header the document lists
/// is there, and the signature is the HMAC of `<t>.<delivery>.<body>` with
/// `t` the timestamp header.
fn check(got: &Got, expected: &Expected) {
    let event = header(got, "x-switchyard-event").to_owned();
    crate::conforms::webhook(&event, &got.body);
    let listed = expected.document["webhooks"][&event]["post"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!listed.is_empty(), "the document lists the headers");
    for parameter in listed.iter().filter(|p| p["required"] == true) {
        header(got, parameter["name"].as_str().unwrap());
    }
    let timestamp = header(got, "x-switchyard-timestamp");
    let signature = header(got, "x-switchyard-signature");
    let v1 = signature
        .strip_prefix(&format!("t={timestamp},v1="))
        .unwrap_or_else(|| panic!("{signature} is not signed at {timestamp}"));
    let delivery = header(got, "x-switchyard-delivery");
    let mut mac = Hmac::<Sha256>::new_from_slice(expected.secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{delivery}.").as_bytes());
    mac.update(&got.raw);
    assert_eq!(v1, hex::encode(mac.finalize().into_bytes()));
}

/// A data webhook's body, numbered `n` in its metadata.
fn data_body(session: &str, n: usize) -> Value {
    json!({
        "success": true, "transfer_id": "t", "session_id": session,
        "metadata": { "n": n }, "endgrate": { "endgrate_type": "crm-contact" },
        "completed": false, "transfer_data": [], "transfer_errors": false,
    })
}

fn numbers(got: &[Got]) -> Vec<u64> {
    got.iter()
        .filter_map(|g| g.body["metadata"]["n"].as_u64())
        .collect()
}

fn db(t: &TestHost) -> Db {
    t.host.as_ref().unwrap().state.db.clone()
}

/// Puts `n` data webhooks of `session` in the outbox, as a transfer would.
fn queue(db: &Db, account: &str, session: &str, url: &str, n: usize, concurrent: bool) {
    for i in 0..n {
        let body = data_body(session, i);
        let delivery = Delivery::new(account, session, "data", url, &body, concurrent);
        outbox::push(db, &delivery).unwrap();
    }
}

async fn session(t: &TestHost, key: &str, options: Value) -> String {
    let (status, answer) = t.post(key, "/api/session/initiate", options).await;
    assert_eq!(status, 200, "{answer}");
    answer["session_id"].as_str().unwrap().to_owned()
}

/// Long enough that no attempt times out while a test holds it.
async fn patient_host() -> TestHost {
    TestHost::start_with(sim_config(1, 1), |c| {
        c.webhooks.timeout = Duration::from_secs(120);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_holds_up_no_other_accounts_webhooks() {
    let t = patient_host().await;
    let (alpha, beta) = (t.key("alpha").await, t.key("beta").await);
    let stuck = Gated::start(false).await;
    let fine = Gated::start(true).await;

    // More of alpha's webhooks than there are slots in all, every one
    // allowed to go at once, to a receiver that does not answer.
    let flood = session(&t, &alpha, json!({ "webhook_concurrency": true })).await;
    queue(&db(&t), "alpha", &flood, &stuck.url, 40, true);
    t.host.as_ref().unwrap().state.webhooks.ring();
    eventually(
        Duration::from_secs(10),
        "alpha's webhooks in flight",
        || async { stuck.waiting() >= 4 },
    )
    .await;

    // beta's configuration webhook (through the API) and ten more.
    let calm = t
        .connected_session(
            &beta,
            json!({ "configuration_webhook": { "endpoint": fine.url } }),
        )
        .await;
    queue(&db(&t), "beta", &calm, &fine.url, 10, false);
    t.host.as_ref().unwrap().state.webhooks.ring();
    eventually(
        Duration::from_secs(10),
        "beta's webhooks while alpha's hang",
        || async { fine.count() == 11 },
    )
    .await;
    assert_eq!(stuck.count(), 0, "alpha's are all still held");
    assert_eq!(stuck.waiting(), 4, "alpha has no more than its share");
    let beta_got = fine.answered(&expected(&t, &beta).await);
    assert_eq!(header(&beta_got[0], "x-switchyard-event"), "configuration");
    assert_eq!(numbers(&beta_got[1..]), (0..10).collect::<Vec<_>>());

    stuck.open();
    eventually(Duration::from_secs(30), "alpha's webhooks", || async {
        stuck.count() == 40
    })
    .await;
    let alpha_got = stuck.answered(&expected(&t, &alpha).await);
    let mut got = numbers(&alpha_got);
    got.sort_unstable();
    assert_eq!(got, (0..40).collect::<Vec<_>>());
    assert_eq!(stuck.most_waiting.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_thousands_drains_reading_each_delivery_a_bounded_number_of_times() {
    const SESSIONS: usize = 4;
    const EACH: usize = 750;
    let t = patient_host().await;
    let key = t.key("acme").await;
    let hooks = Gated::start(false).await;
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(session(&t, &key, json!({})).await);
    }
    let db = db(&t);
    let doorbell = t.host.as_ref().unwrap().state.webhooks.clone();
    let before = doorbell.stats();
    // Interleaved, as transfers of several sessions would write them; each
    // session's first one is held at the receiver while the rest pile up.
    for i in 0..EACH {
        for s in &sessions {
            let body = data_body(s, i);
            outbox::push(
                &db,
                &Delivery::new("acme", s, "data", &hooks.url, &body, false),
            )
            .unwrap();
        }
        doorbell.ring();
    }
    eventually(Duration::from_secs(10), "each session's first", || async {
        hooks.waiting() == SESSIONS
    })
    .await;
    hooks.open();
    let total = SESSIONS * EACH;
    eventually(Duration::from_secs(120), "the whole backlog", || async {
        hooks.count() == total
    })
    .await;
    eventually(Duration::from_secs(10), "an empty outbox", || async {
        outbox::pending(&db).unwrap().is_empty()
    })
    .await;

    let got = hooks.answered(&expected(&t, &key).await);
    let mut by_session: HashMap<String, Vec<u64>> = HashMap::new();
    for g in &got {
        let session = g.body["session_id"].as_str().unwrap().to_owned();
        by_session
            .entry(session)
            .or_default()
            .extend(numbers(std::slice::from_ref(g)));
    }
    for s in &sessions {
        assert_eq!(
            by_session[s],
            (0..EACH as u64).collect::<Vec<_>>(),
            "one at a time, in order"
        );
    }
    assert!(hooks.most_waiting.load(Ordering::SeqCst) <= SESSIONS);

    // Each delivery was decoded when it arrived and when it was sent: the
    // rounds in between did not read the backlog.
    let after = doorbell.stats();
    let (rounds, decoded) = (after.rounds - before.rounds, after.decoded - before.decoded);
    assert!(
        decoded <= 2 * total as u64,
        "{decoded} records decoded over {rounds} rounds for {total} deliveries"
    );
    assert!(rounds >= (total / SESSIONS) as u64, "{rounds} rounds");
    assert_eq!(after.attempts - before.attempts, total as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_stopped_host_left_in_the_outbox_goes_out_in_order_after_a_restart() {
    let mut t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let hooks = Gated::start(true).await;
    let ordered = session(&t, &key, json!({})).await;
    t.stop().await;

    // Half seen by the deliverer before it stopped (settled), half not.
    {
        let db = Db::open(&t.data.path().join("db")).unwrap();
        queue(&db, "acme", &ordered, &hooks.url, 6, false);
        let arrived: Vec<u64> = outbox::arrivals(&db, |_| false)
            .unwrap()
            .iter()
            .map(|s| s.seq)
            .collect();
        outbox::settle(&db, &arrived[..3]).unwrap();
        db.flush().await.unwrap();
    }
    t.restart().await;
    eventually(Duration::from_secs(10), "every webhook left", || async {
        hooks.count() == 6
    })
    .await;
    let got = hooks.answered(&expected(&t, &key).await);
    assert_eq!(numbers(&got), [0, 1, 2, 3, 4, 5]);
    let ids: Vec<u64> = got
        .iter()
        .map(|g| header(g, "x-switchyard-delivery").parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_many_rejected_items_sends_one_error_webhook_per_batch() {
    let t = TestHost::start(sim_config(0, 0)).await;
    let key = t.key("acme").await;
    let hooks = Gated::start(true).await;
    let session = t
        .connected_session(
            &key,
            json!({ "error_webhook": { "endpoint": hooks.url, "metadata": { "tag": "oops" } } }),
        )
        .await;
    // HubSpot takes 100 items a batch: three batches, every item invalid.
    let items: Vec<Value> = (0..250)
        .map(|i| json!({ "data": { "first_name": 1 }, "internal_id": format!("i{i}") }))
        .collect();
    let push = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": items }),
        )
        .await;
    let db = db(&t);
    eventually(Duration::from_secs(10), "every error webhook", || async {
        outbox::pending(&db).unwrap().is_empty()
    })
    .await;
    let got = hooks.answered(&expected(&t, &key).await);
    assert_eq!(got.len(), 3, "one per batch");
    let counts: Vec<u64> = got
        .iter()
        .map(|g| g.body["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [100, 100, 50]);
    let mut listed = Vec::new();
    for g in &got {
        let body = &g.body;
        assert_eq!(body["transfer_id"], push.as_str());
        assert_eq!(body["metadata"]["tag"], "oops");
        let items = body["items"].as_array().unwrap();
        // The body is the first rejected item's error.
        assert_eq!(body["index"], items[0]["index"]);
        assert_eq!(body["pk"], items[0]["pk"]);
        for item in items {
            assert_eq!(item["error_type"], "mapping");
            assert!(item["message"].as_str().is_some_and(|m| !m.is_empty()));
            let index = item["index"].as_u64().unwrap();
            assert_eq!(item["internal_id"], format!("i{index}"));
            listed.push(index);
        }
    }
    assert_eq!(listed, (0..250).collect::<Vec<_>>());

    // Apps still read one error per item.
    let (_, errors) = t
        .get(&key, &format!("/api/errors?transfer_id={push}&limit=1000"))
        .await;
    assert_eq!(errors["meta"]["count"], 250);
    let mut pks: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pk"].as_str().unwrap())
        .collect();
    pks.sort_unstable();
    let mut sent: Vec<&str> = got
        .iter()
        .flat_map(|g| g.body["items"].as_array().unwrap())
        .map(|i| i["pk"].as_str().unwrap())
        .collect();
    sent.sort_unstable();
    assert_eq!(pks, sent, "each listed error is the one in the webhook");
}
