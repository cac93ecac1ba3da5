//! API latency at 64 concurrent clients, driven by the load generator in a
//! separate process against a separate host process: `POST
//! /api/pull/transfer` and `GET /api/pull/data`, with `GET /healthz` (the
//! same server, client and machine doing no work) as the baseline.

use std::path::Path;

use serde_json::json;
use switchyard_simulators::Provider;

use crate::api::Api;
use crate::hosts::{self, Process, TOKEN};
use crate::loadgen::{self, Outcome, Plan, Request};
use crate::report::Scenario;

pub const CLIENTS: usize = 64;
/// Records of the transfer whose data is read; also what each triggered pull moves.
const RECORDS: usize = 100;

pub async fn latency(built: &Path, seconds: f64) -> Vec<Scenario> {
    let sim = hosts::simulator(Provider::HubSpot, RECORDS, 10, false).await;
    let host = Process::start(built, &sim, None).await;
    let api = Api::new(&host.url, "bench").await;
    let mut sessions = Vec::new();
    for _ in 0..CLIENTS {
        sessions.push(
            api.session(&["crm-contact", "crm-company"], "hubspot", TOKEN)
                .await,
        );
    }
    let done = api
        .transfer(
            "pull",
            json!({ "session_id": sessions[0], "endgrate_type": "crm-contact" }),
        )
        .await;
    let plan = |requests: Vec<Request>| Plan {
        url: host.url.clone(),
        key: api.key.clone(),
        requests,
        concurrency: CLIENTS,
        seconds,
        warmup_seconds: 1.0,
    };
    let get = |path: String| Request {
        method: "GET".into(),
        path,
        body: None,
    };
    let health = loadgen::run(&plan(vec![get("/healthz".into())])).await;
    let data = loadgen::run(&plan(vec![get(format!(
        "/api/pull/data?endgrate_type=crm-contact&transfer_id={done}&limit={RECORDS}"
    ))]))
    .await;
    // Last: every trigger queues a pull that then runs in the background.
    let triggers: Vec<Request> = sessions
        .iter()
        .map(|s| Request {
            method: "POST".into(),
            path: "/api/pull/transfer".into(),
            body: Some(json!({ "session_id": s, "endgrate_type": "crm-contact" })),
        })
        .collect();
    let trigger = loadgen::run(&plan(triggers)).await;
    drop(host);
    for (name, o) in [
        ("healthz", &health),
        ("get-data", &data),
        ("trigger", &trigger),
    ] {
        println!(
            "latency {name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            o.per_second, o.p50_ms, o.p99_ms, o.errors
        );
    }
    let mut rows = Vec::new();
    for (what, o) in [
        (format!("get-data (a page of {RECORDS} records)"), &data),
        ("trigger-transfer (pull)".to_owned(), &trigger),
    ] {
        let note = format!(
            "{CLIENTS} clients, each sending its next request when the answer is read, for {seconds} s after 1 s of warm-up, from a load generator process against a host process on the same 2 cores; {} requests, {} errors. Baseline: `GET /healthz` the same way ({:.0} req/s, p50 {:.2} ms, p99 {:.2} ms). No target in issue 6: reported for comparison.",
            o.requests, o.errors, health.per_second, health.p50_ms, health.p99_ms
        );
        let details = json!({ "outcome": outcome_json(o), "healthz": outcome_json(&health) });
        rows.push(
            Scenario::higher(
                &format!("API {what} at {CLIENTS} clients: requests/s"),
                "req/s",
                o.per_second,
                health.per_second,
                None,
            )
            .note(note)
            .details(details),
        );
        rows.push(Scenario::lower(
            &format!("API {what} at {CLIENTS} clients: p50"),
            "ms",
            o.p50_ms,
            health.p50_ms,
            None,
        ));
        rows.push(Scenario::lower(
            &format!("API {what} at {CLIENTS} clients: p99"),
            "ms",
            o.p99_ms,
            health.p99_ms,
            None,
        ));
    }
    rows
}

fn outcome_json(o: &Outcome) -> serde_json::Value {
    serde_json::to_value(o).unwrap_or_default()
}
