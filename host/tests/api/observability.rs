//! Metrics (`GET /metrics`) and the per-session request log (`GET
//! /api/logs`), checked against what the simulator itself counted; traces
//! exported to an in-test OTLP collector, and the JSON log.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use switchyard_simulators::{Provider, Simulator};

use crate::harness::{ADMIN_KEY, TOKEN, TestHost, eventually, receiver, sim_config};
use crate::process::Process;

/// One sample of the exposition: name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Parses the Prometheus text format (0.0.4) strictly: every line is a
/// `# HELP`, a `# TYPE` of a known type, or a sample of a family whose type
/// was declared before it, with well-formed labels and a float value.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    let valid_name = |name: &str| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(valid_name(name), "HELP of a bad name: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(line);
            assert!(valid_name(name), "TYPE of a bad name: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "unknown type: {line}"
            );
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line: {line}");
        let (head, value) = line.rsplit_once(' ').expect(line);
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head, HashMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect(line);
                let mut labels = HashMap::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (key, after) = rest.split_once("=\"").expect(line);
                    let end = after.find('"').expect(line);
                    assert!(valid_name(key), "bad label name: {line}");
                    labels.insert(key.to_owned(), after[..end].to_owned());
                    rest = after[end + 1..].trim_start_matches(',');
                }
                (name, labels)
            }
        };
        assert!(valid_name(name), "bad sample name: {line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

/// The sum of the samples named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

async fn scrape(t: &TestHost) -> Vec<Sample> {
    let response = t
        .http
        .get(format!("{}/metrics", t.url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    parse_exposition(&response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_pull_and_a_push() {
    let t = TestHost::start_with(sim_config(130, 10), |c| {
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let key = t.key("acme").await;
    let hooks = receiver().await;
    let session = t
        .connected_session(
            &key,
            json!({ "completed_webhook": { "endpoint": hooks.url } }),
        )
        .await;

    // Behind the admin key on the API's listener; an API key is not enough.
    let (status, _) = t.get(&key, "/metrics").await;
    assert_eq!(status, 401);
    let (status, _) = t.call("GET", "/metrics", None, None).await;
    assert_eq!(status, 401);

    let before = scrape(&t).await;
    t.sim.control().reset_counters();
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let sent_for_pull = t.sim.control().total_requests() as f64;
    let push = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({
                "session_id": session,
                "endgrate_type": "crm-contact",
                "disable_upsert": true,
                "transfer_data": [
                    { "data": { "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com" } },
                    { "data": { "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com" } },
                    { "data": { "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com" } },
                ],
            }),
        )
        .await;
    let (_, statistics) = t
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={push}"),
            None,
            None,
        )
        .await;
    assert_eq!(
        statistics["statistics"]["records_transferred"], 3,
        "{statistics}"
    );
    let sent = t.sim.control().total_requests() as f64;
    // Each transfer's completed webhook, counted once delivered; and each
    // transfer's end, counted by its worker just after its commit landed
    // (which the API, and the webhook, may show first).
    let delivered = [("event", "completed"), ("outcome", "delivered")];
    let finished = |direction: &'static str| {
        [
            ("provider", "hubspot"),
            ("type", "crm-contact"),
            ("direction", direction),
            ("outcome", "completed"),
        ]
    };
    eventually(
        Duration::from_secs(10),
        "both webhooks and ends counted",
        || async {
            let now = scrape(&t).await;
            let ended = |direction| {
                value(
                    &now,
                    "switchyard_transfers_finished_total",
                    &finished(direction),
                ) - value(
                    &before,
                    "switchyard_transfers_finished_total",
                    &finished(direction),
                )
            };
            value(&now, "switchyard_webhook_deliveries_total", &delivered) == 2.0
                && ended("pull") >= 1.0
                && ended("push") >= 1.0
        },
    )
    .await;
    assert_eq!(hooks.events().len(), 2);
    let after = scrape(&t).await;
    assert_eq!(value(&after, "switchyard_webhook_outbox_depth", &[]), 0.0);
    let moved = |s: &[Sample], name: &str, labels: &[(&str, &str)]| {
        value(s, name, labels) - value(&before, name, labels)
    };

    let hubspot = ("provider", "hubspot");
    let contact = ("type", "crm-contact");
    let pulled = [hubspot, contact, ("direction", "pull")];
    let pushed = [hubspot, contact, ("direction", "push")];
    assert_eq!(moved(&after, "switchyard_records_total", &pulled), 130.0);
    assert_eq!(moved(&after, "switchyard_records_total", &pushed), 3.0);
    assert_eq!(
        moved(&after, "switchyard_transfers_started_total", &pulled),
        1.0
    );
    for labels in [pulled, pushed] {
        let mut completed = labels.to_vec();
        completed.push(("outcome", "completed"));
        assert_eq!(
            moved(&after, "switchyard_transfers_finished_total", &completed),
            1.0,
            "{labels:?}"
        );
        assert_eq!(
            moved(
                &after,
                "switchyard_transfer_duration_seconds_count",
                &completed
            ),
            1.0
        );
    }
    // Every request the simulator received, counted once, by status class.
    assert_eq!(
        moved(&after, "switchyard_provider_requests_total", &[hubspot]),
        sent
    );
    assert_eq!(
        moved(
            &after,
            "switchyard_provider_requests_total",
            &[hubspot, ("status", "2xx")]
        ),
        sent
    );
    assert_eq!(
        moved(
            &after,
            "switchyard_provider_request_duration_seconds_count",
            &[hubspot]
        ),
        sent
    );
    assert!(sent_for_pull >= 2.0, "130 contacts take two pages of 100");
    assert!(
        moved(
            &after,
            "switchyard_connector_calls_total",
            &[
                ("connector", "hubspot"),
                ("call", "pull"),
                ("outcome", "ok")
            ]
        ) >= 2.0
    );
    assert!(
        moved(
            &after,
            "switchyard_connector_calls_total",
            &[
                ("connector", "hubspot"),
                ("call", "push"),
                ("outcome", "ok")
            ]
        ) >= 1.0
    );
    assert_eq!(
        moved(
            &after,
            "switchyard_api_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/pull/transfer"),
                ("status", "200")
            ]
        ),
        1.0
    );
    assert!(
        value(
            &after,
            "switchyard_storage_flush_duration_seconds_count",
            &[]
        ) > 0.0
    );
    assert_eq!(value(&after, "switchyard_queue_waiting", &[]), 0.0);
    // No label carries an id.
    for (name, labels, _) in &after {
        for v in labels.values() {
            assert!(
                !v.contains(&session) && !v.contains(&pull) && !v.contains(&push),
                "{name} has an id in its labels"
            );
        }
    }

    // The unauthenticated listener serves the same metrics, and nothing else.
    let addr = t.host.as_ref().unwrap().metrics_addr.unwrap();
    let open = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    let open = parse_exposition(&open.text().await.unwrap());
    assert_eq!(
        value(&open, "switchyard_records_total", &pulled),
        value(&after, "switchyard_records_total", &pulled)
    );
    let other = reqwest::get(format!("http://{addr}/api/account"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_lists_exactly_the_requests_the_provider_received() {
    let t = TestHost::start(sim_config(250, 10)).await;
    let key = t.key("acme").await;
    let session = t
        .initiate(
            &key,
            json!({ "schema": [{ "endgrate_type": "crm-contact" }, { "endgrate_type": "crm-company" }] }),
        )
        .await;
    t.sim.control().reset_counters();
    t.attach(&key, &session).await;
    let before_pull = t.sim.control().total_requests();
    // Two 429s on the way: logged, flagged, and retried.
    t.sim.control().throttle_next(2);
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let received = t.sim.control().total_requests();
    let throttled = t.sim.control().throttled_count();
    assert_eq!(throttled, 2);

    let (status, page) = t
        .get(&key, &format!("/api/logs?session_id={session}&limit=1000"))
        .await;
    assert_eq!(status, 200, "{page}");
    let requests = page["requests"].as_array().unwrap();
    assert_eq!(page["meta"]["count"], received, "{page}");
    assert_eq!(requests.len() as u64, received);
    // Newest first.
    let times: Vec<&str> = requests
        .iter()
        .map(|r| r["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // Each entry as the simulator saw it: method and path.
    let mut logged: HashMap<String, u64> = HashMap::new();
    for r in requests {
        let url = url::Url::parse(r["url"].as_str().unwrap()).unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        *logged
            .entry(format!("{} {}", r["method"].as_str().unwrap(), url.path()))
            .or_default() += 1;
        assert!(r["duration_ms"].as_f64().unwrap() >= 0.0);
        assert!(r["status"].is_u64(), "{r}");
    }
    let simulated: u64 = t.sim.control().requests().values().sum();
    assert_eq!(logged.values().sum::<u64>(), simulated);

    // The pull's own requests, by transfer.
    let (_, of_pull) = t
        .get(
            &key,
            &format!("/api/logs?session_id={session}&transfer_id={pull}&limit=1000"),
        )
        .await;
    assert_eq!(of_pull["meta"]["count"], received - before_pull);
    assert!(
        of_pull["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["transfer_id"] == pull.as_str() && r["source"] == "transfer")
    );
    // The 429s: flagged, and each followed by a retry.
    let (_, limited) = t
        .get(&key, &format!("/api/logs?transfer_id={pull}&status=429"))
        .await;
    assert_eq!(limited["meta"]["count"], 2, "{limited}");
    assert!(
        limited["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["rate_limited"] == true && r["status"] == 429)
    );
    let retries = of_pull["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["retry"] == true)
        .count();
    assert_eq!(retries, 2);
    // Discovery and the credential check came before the pull.
    let sources: Vec<&str> = requests
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert!(sources.contains(&"check"), "{sources:?}");

    // Paged like the other lists.
    let (_, first) = t
        .get(&key, &format!("/api/logs?session_id={session}&limit=2"))
        .await;
    assert_eq!(first["requests"].as_array().unwrap().len(), 2);
    assert_eq!(first["meta"]["next"]["offset"], 2);
    assert_eq!(first["requests"][0], requests[0]);

    // Never a credential.
    let text = page.to_string();
    assert!(!text.contains(TOKEN), "the log holds the token");
    assert!(!text.to_ascii_lowercase().contains("authorization"));

    // Another account sees nothing of it; bad input names the field.
    let other = t.key("globex").await;
    let (status, _) = t
        .get(&other, &format!("/api/logs?session_id={session}"))
        .await;
    assert_eq!(status, 404);
    let (status, answer) = t
        .get(&other, &format!("/api/logs?transfer_id={pull}"))
        .await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = t.get(&key, "/api/logs").await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("session_id"));
    let (status, answer) = t
        .get(
            &key,
            &format!("/api/logs?session_id={session}&status=teapot"),
        )
        .await;
    assert_eq!(status, 400);
    assert!(answer["errors"]["status"].is_string(), "{answer}");

    // Deleting the session deletes its log.
    let (status, _) = t
        .post(
            &key,
            "/api/session/delete",
            json!({ "session_id": session }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = t
        .get(&key, &format!("/api/logs?session_id={session}"))
        .await;
    assert_eq!(status, 404);
}

/// An OTLP/HTTP collector: keeps every span it is sent.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

async fn collector() -> Collector {
    let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut kept = kept.lock().unwrap();
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        kept.extend(scope.spans);
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Collector { url, spans }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            any_value::Value::IntValue(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_api_request_to_the_provider_requests() {
    let collector = collector().await;
    let sim = Simulator::start(Provider::HubSpot, sim_config(150, 5))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    crate::harness::install_hubspot(data.path());
    let log_path = data.path().join("host.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let host = Process::start_with_output(
        data.path(),
        &sim,
        &["--otlp-endpoint", &collector.url, "--log-format", "json"],
        // Batches sent every 100 ms instead of 5 s.
        &[("OTEL_BSP_SCHEDULE_DELAY", "100")],
        Stdio::from(log),
    )
    .await;
    let key = host.api_key("acme").await;
    let session = host.connected_session(&key).await;
    let pull = host
        .trigger(
            &key,
            "pull",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "synchronous": true }),
        )
        .await;
    let pages = 2; // 150 contacts, 100 a page

    // The trace of the request that triggered the pull.
    let trace = |spans: &[Span]| {
        spans
            .iter()
            .find(|s| s.name == "POST /api/pull/transfer")
            .map(|s| s.trace_id.clone())
    };
    eventually(Duration::from_secs(30), "the pull's spans", || async {
        let spans = collector.spans.lock().unwrap();
        trace(&spans).is_some_and(|t| {
            spans
                .iter()
                .filter(|s| s.trace_id == t && s.name.starts_with("GET /crm/v3/objects/contacts"))
                .count()
                >= pages
        })
    })
    .await;
    let spans = collector.spans.lock().unwrap().clone();
    let trace_id = trace(&spans).unwrap();
    let in_trace: Vec<&Span> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let by_id: HashMap<&[u8], &Span> = in_trace.iter().map(|s| (&s.span_id[..], *s)).collect();
    let root = in_trace
        .iter()
        .find(|s| s.name == "POST /api/pull/transfer")
        .unwrap();
    assert_eq!(
        attribute(root, "http.response.status_code").as_deref(),
        Some("200")
    );
    // Every provider request hangs, through a connector call and a slice of
    // the transfer, from the API request.
    let provider_requests: Vec<&&Span> = in_trace
        .iter()
        .filter(|s| s.name.starts_with("GET /crm/v3/objects/contacts"))
        .collect();
    assert!(provider_requests.len() >= pages);
    for request in provider_requests {
        assert_eq!(attribute(request, "provider").as_deref(), Some("hubspot"));
        let mut names = Vec::new();
        let mut at: &Span = request;
        while let Some(parent) = by_id.get(&at.parent_span_id[..]) {
            names.push(parent.name.clone());
            at = parent;
        }
        assert_eq!(
            at.span_id, root.span_id,
            "{} is cut off: {names:?}",
            request.name
        );
        assert!(names.iter().any(|n| n == "hubspot pull"), "{names:?}");
        let slice = names
            .iter()
            .find(|n| n.starts_with("pull "))
            .expect("a transfer slice");
        assert_eq!(slice, "pull crm-contact");
    }
    let slice = in_trace
        .iter()
        .find(|s| s.name == "pull crm-contact")
        .unwrap();
    assert_eq!(
        attribute(slice, "transfer_id").as_deref(),
        Some(pull.as_str())
    );
    assert_eq!(
        attribute(slice, "session_id").as_deref(),
        Some(session.as_str())
    );
    assert_eq!(attribute(slice, "provider").as_deref(), Some("hubspot"));
    // No credential in any span.
    for span in &spans {
        for a in &span.attributes {
            assert!(
                !format!("{:?}", a.value).contains(TOKEN),
                "{}: {a:?}",
                span.name
            );
        }
    }

    // The JSON log: one object a line; the transfer's lines carry the trace id.
    let hex: String = trace_id.iter().map(|b| format!("{b:02x}")).collect();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let completed = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "transfer completed"
                && l["fields"]["transfer"] == pull.as_str()
        })
        .expect("the pull's completion is logged");
    assert!(
        completed["spans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["trace_id"] == hex.as_str()),
        "{completed}"
    );
    assert!(!text.contains(TOKEN));
    host.kill();
}
