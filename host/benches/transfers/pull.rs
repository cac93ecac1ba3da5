//! Pulls of HubSpot contacts: the ceiling (no rate limit, the host against
//! a plain client) and the rate-limited pull (against limit × page size).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_simulators::{Provider, Simulator};

use crate::api::Api;
use crate::hosts::{self, InProcess, Pacing, TOKEN};
use crate::report::Scenario;

/// HubSpot's largest list page, which the connector asks for.
pub const PAGE_SIZE: usize = 100;
/// Page size of `GET /api/pull/data` when the bench reads a transfer.
pub const DATA_PAGE: usize = 1000;

/// The properties the HubSpot connector asks for (connectors/hubspot/src/mapping.rs).
const CONTACT_PROPERTIES: &str = "email,firstname,lastname,phone,mobilephone,jobtitle,company,address,city,state,zip,country,lastmodifieddate";

/// A plain client: every page of contacts from the simulator, parsed.
async fn plain_pull(sim: &Simulator) -> (usize, Duration) {
    let http = reqwest::Client::new();
    let start = Instant::now();
    let mut records: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut request = http
            .get(format!("{}/crm/v3/objects/contacts", sim.base_url()))
            .bearer_auth(TOKEN)
            .query(&[
                ("limit", PAGE_SIZE.to_string().as_str()),
                ("properties", CONTACT_PROPERTIES),
            ]);
        if let Some(after) = &after {
            request = request.query(&[("after", after)]);
        }
        let response = request.send().await.expect("the simulator answers");
        assert!(response.status().is_success(), "{}", response.status());
        let bytes = response.bytes().await.expect("a body");
        let mut page: Value = serde_json::from_slice(&bytes).expect("a JSON page");
        if let Value::Array(results) = page["results"].take() {
            records.extend(results);
        }
        match page.pointer("/paging/next/after").and_then(Value::as_str) {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let elapsed = start.elapsed();
    (records.len(), elapsed)
}

/// Pulls `endgrate_type` through the host: trigger (synchronous) → completed
/// → every page read. (transfer id, time to completed, time to all read, rows).
async fn host_pull(
    api: &Api,
    session: &str,
    endgrate_type: &str,
) -> (String, Duration, Duration, Vec<Value>) {
    let start = Instant::now();
    let id = api
        .transfer(
            "pull",
            json!({ "session_id": session, "endgrate_type": endgrate_type }),
        )
        .await;
    let completed = start.elapsed();
    let rows = api.all_data("pull", endgrate_type, &id, DATA_PAGE).await;
    (id, completed, start.elapsed(), rows)
}

fn assert_each_once(rows: &[Value], expected: usize) {
    let ids: HashSet<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(rows.len(), expected, "records pulled");
    assert_eq!(ids.len(), expected, "distinct ids pulled");
}

/// The pull ceiling: `contacts` through the host vs a plain client.
pub async fn ceiling(built: &Path, contacts: usize) -> Vec<Scenario> {
    let sim = hosts::simulator(Provider::HubSpot, contacts, 10, false).await;
    // The plain client first and last, the host in between; the better
    // plain run is the baseline.
    let (n, plain_first) = plain_pull(&sim).await;
    assert_eq!(n, contacts);
    let host = InProcess::start(built, &[(Provider::HubSpot, &sim)], Pacing::Unlimited).await;
    let api = Api::new(&host.url(), "bench").await;
    let session = api
        .session(&["crm-contact", "crm-company"], "hubspot", TOKEN)
        .await;
    sim.control().reset_counters();
    let (_, completed, total, rows) = host_pull(&api, &session, "crm-contact").await;
    assert_each_once(&rows, contacts);
    let pages = sim.control().request_count("GET /crm/v3/objects/{object}");
    drop(rows);
    host.stop().await;
    let (_, plain_second) = plain_pull(&sim).await;
    let plain = plain_first.min(plain_second);

    let rate = |d: Duration| contacts as f64 / d.as_secs_f64();
    println!(
        "pull ceiling: host {:.1} s to completed, {:.1} s with every page read; plain client {:.1} s / {:.1} s",
        completed.as_secs_f64(),
        total.as_secs_f64(),
        plain_first.as_secs_f64(),
        plain_second.as_secs_f64()
    );
    vec![
        Scenario::higher(
            &format!("pull ceiling: {contacts} HubSpot contacts, host vs plain client"),
            "rec/s",
            rate(total),
            rate(plain),
            Some(0.8),
        )
        .note(format!(
            "No rate limit: the simulator enforces none and the host runs with `--connector-rate hubspot=1000000/1` instead of the declared 100 / 10 s. Host: trigger → completed in {:.1} s ({:.0} rec/s, {pages} pages of {PAGE_SIZE}), then every record read through `GET /api/pull/data` ({DATA_PAGE} a page) in {:.1} s; the figure is end to end. Plain client: the same {PAGE_SIZE}-record pages from the same simulator with reqwest, each parsed into `serde_json::Value` (best of two runs: {:.1} s, {:.1} s).",
            completed.as_secs_f64(),
            rate(completed),
            (total - completed).as_secs_f64(),
            plain_first.as_secs_f64(),
            plain_second.as_secs_f64(),
        ))
        .details(json!({
            "records": contacts,
            "host_seconds_to_completed": completed.as_secs_f64(),
            "host_seconds_end_to_end": total.as_secs_f64(),
            "plain_seconds": [plain_first.as_secs_f64(), plain_second.as_secs_f64()],
            "provider_requests": pages,
        })),
    ]
}

/// Companies in a rate-limited simulator: enough for [`fill_window`].
pub fn warmup_companies() -> usize {
    let limit = Provider::HubSpot.default_rate_limit().max as usize;
    // The credentials check made one list request; the warm-up makes the
    // other 2 × limit − 1: 2 × limit − 2 full pages and a last, short one.
    (2 * limit - 2) * PAGE_SIZE + PAGE_SIZE / 2
}

/// Leaves a HubSpot session's rate-limit window exactly full, so what runs
/// next in it runs at the sustained rate (limit × page size) with no free
/// first burst.
///
/// Starting from an empty window the first 100 requests go at once, which
/// would put a short transfer above the ceiling arithmetic. A pull of
/// [`warmup_companies`] makes, with the credentials check, 2 × limit list
/// requests: the second 100 go as the first leave the window, and the
/// window is full of them when the warm-up ends.
pub async fn fill_window(api: &Api, sim: &Simulator, session: &str) {
    let limit = u64::from(Provider::HubSpot.default_rate_limit().max);
    let route = "GET /crm/v3/objects/{object}";
    assert_eq!(
        sim.control().request_count(route),
        1,
        "the warm-up expects one list request (the credentials check) before it"
    );
    let _ = host_pull(api, session, "crm-company").await;
    assert_eq!(
        sim.control().request_count(route),
        2 * limit,
        "the warm-up must end with the rate-limit window exactly full"
    );
    sim.control().reset_counters();
}

/// The rate-limited pull: HubSpot's 100 requests per 10 s, which the host
/// paces each connected account to (the connector's declared limit) and the
/// simulator enforces per token, after [`fill_window`].
pub async fn rate_limited(built: &Path, contacts: usize) -> Vec<Scenario> {
    let sim = hosts::simulator(Provider::HubSpot, contacts, warmup_companies(), true).await;
    let limit = Provider::HubSpot.default_rate_limit();
    let host = InProcess::start(built, &[(Provider::HubSpot, &sim)], Pacing::Declared).await;
    let api = Api::new(&host.url(), "bench").await;
    let session = api
        .session(&["crm-contact", "crm-company"], "hubspot", TOKEN)
        .await;
    fill_window(&api, &sim, &session).await;
    let start = Instant::now();
    let id = api
        .transfer(
            "pull",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let elapsed = start.elapsed();
    let requests = sim.control().request_count("GET /crm/v3/objects/{object}");
    let rows = api.all_data("pull", "crm-contact", &id, DATA_PAGE).await;
    assert_each_once(&rows, contacts);
    host.stop().await;

    let pages = contacts.div_ceil(PAGE_SIZE) as u64;
    let throttled = requests.saturating_sub(pages);
    let share = throttled as f64 / requests.max(1) as f64;
    let ceiling = f64::from(limit.max) / limit.window.as_secs_f64() * PAGE_SIZE as f64;
    let rate = contacts as f64 / elapsed.as_secs_f64();
    println!(
        "rate-limited pull: {contacts} contacts in {:.1} s, {requests} requests, {throttled} answered 429",
        elapsed.as_secs_f64()
    );
    vec![
        Scenario::higher(
            &format!(
                "rate-limited pull: {contacts} contacts at {}/{} s vs limit × page size",
                limit.max,
                limit.window.as_secs()
            ),
            "rec/s",
            rate,
            ceiling,
            Some(0.95),
        )
        .note(format!(
            "The simulator enforces HubSpot's {} requests per {} s rolling window per token; ceiling = {} × {PAGE_SIZE} records / {} s = {ceiling:.0} rec/s. Trigger → completed in {:.1} s. A warm-up pull in the same session leaves the window exactly full first, so no free first burst inflates the figure. {requests} list requests for {pages} pages: {throttled} answered 429 ({:.2}%, target ≤ 1%).",
            limit.max,
            limit.window.as_secs(),
            limit.max,
            limit.window.as_secs(),
            elapsed.as_secs_f64(),
            share * 100.0
        ))
        .details(json!({
            "records": contacts,
            "seconds": elapsed.as_secs_f64(),
            "requests": requests,
            "throttled": throttled,
            "throttled_share": share,
        })),
        Scenario::lower(
            "rate-limited pull: share of requests answered 429",
            "%",
            share * 100.0,
            1.0,
            Some(1.0),
        )
        .note("Reported against the 1% ceiling of issue 6 (ratio = 1% ÷ share; ≥ 1 means within it)."),
    ]
}
