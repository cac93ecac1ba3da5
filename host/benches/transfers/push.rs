//! Pushes of HubSpot contacts, each with its company, through the batch
//! endpoints, against the rate-limit ceiling (limit × batch size).

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use switchyard_simulators::Provider;

use crate::api::Api;
use crate::hosts::{self, InProcess, Pacing, TOKEN};
use crate::pull::{self, DATA_PAGE};
use crate::report::Scenario;

/// HubSpot's largest batch, which the connector uses.
const BATCH: usize = 100;

/// `n` contacts, each with a company of its own to create and link; `tag`
/// keeps emails and names apart between pushes.
pub fn contacts_with_companies(tag: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "internal_id": format!("{tag}-person-{i}"),
                "data": {
                    "first_name": "Bench",
                    "last_name": format!("Person {tag}-{i}"),
                    "email_addresses": [{ "email_address": format!("person.{tag}.{i}@bench.example.org") }],
                },
                "associations": { "crm-company": [{
                    "internal_id": format!("{tag}-company-{i}"),
                    "data": {
                        "name": format!("Company {tag}-{i}"),
                        "website": format!("https://company-{tag}-{i}.bench.example.org"),
                    },
                }] },
            })
        })
        .collect()
}

struct Pushed {
    seconds: f64,
    requests: u64,
    batch_requests: u64,
    searches: u64,
    /// Answered 429 by the simulator.
    throttled: u64,
    /// Seconds the host held requests for the rate limit, in all and
    /// before the first one.
    waited: f64,
    first_wait: f64,
    /// Seconds the provider took to answer, by kind of request.
    answering: Value,
}

/// From transfer `id`'s request log: the rate-limit waits of its provider
/// requests (`rate_limit_wait_ms`), in seconds, in all and the first
/// request's; and how long the provider took to answer, by kind of request.
async fn request_log_figures(api: &Api, id: &str) -> (f64, f64, Value) {
    let mut waits = Vec::new();
    let mut answering: serde_json::Map<String, Value> = serde_json::Map::new();
    loop {
        let page = api
            .get(&format!(
                "/api/logs?transfer_id={id}&limit=1000&offset={}",
                waits.len()
            ))
            .await;
        let requests = page["requests"].as_array().cloned().unwrap_or_default();
        if requests.is_empty() {
            break;
        }
        for r in &requests {
            waits.push(r["rate_limit_wait_ms"].as_f64().unwrap_or(0.0) / 1000.0);
            let url = r["url"].as_str().unwrap_or_default();
            let kind = ["search", "batch/read", "batch/create", "batch/update"]
                .into_iter()
                .find(|k| url.contains(k))
                .unwrap_or("other");
            let seconds = r["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0;
            let total = answering.entry(kind).or_insert(json!(0.0));
            *total = json!(total.as_f64().unwrap_or(0.0) + seconds);
        }
    }
    // Newest first: the first request is the last listed.
    (
        waits.iter().sum(),
        waits.last().copied().unwrap_or(0.0),
        Value::Object(answering),
    )
}

async fn push(
    api: &Api,
    sim: &switchyard_simulators::Simulator,
    session: &str,
    items: Vec<Value>,
    disable_upsert: bool,
) -> Pushed {
    let n = items.len();
    sim.control().reset_counters();
    let before = sim.control().records_held();
    let start = Instant::now();
    let id = api
        .transfer(
            "push",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": items, "disable_upsert": disable_upsert }),
        )
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let after = sim.control().records_held();
    for kind in ["contacts", "companies"] {
        assert_eq!(
            after[kind] - before[kind],
            n,
            "{kind} created by a push of {n} contacts with companies"
        );
    }
    let results = api.all_data("push", "crm-contact", &id, DATA_PAGE).await;
    assert_eq!(results.len(), n);
    assert!(
        results
            .iter()
            .all(|r| r["created"] == true && r["associations"]["crm-company"][0].is_string()),
        "every contact created and linked"
    );
    let (waited, first_wait, answering) = request_log_figures(api, &id).await;
    println!("provider answering seconds by request kind: {answering}");
    let c = sim.control();
    Pushed {
        answering,
        waited,
        first_wait,
        seconds,
        requests: c.total_requests(),
        batch_requests: c.request_count("POST /crm/v3/objects/{object}/batch/{action}"),
        searches: c.request_count("POST /crm/v3/objects/{object}/search"),
        throttled: c.throttled_count(),
    }
}

/// 10,000 contacts with companies without upsert lookups, then a smaller
/// push as a user gets it by default (an upsert lookup per record).
pub async fn push_scenarios(
    built: &Path,
    contacts: usize,
    upsert_contacts: usize,
) -> Vec<Scenario> {
    let sim = hosts::simulator(Provider::HubSpot, 10, pull::warmup_companies(), true).await;
    let limit = Provider::HubSpot.default_rate_limit();
    let per_second = f64::from(limit.max) / limit.window.as_secs_f64();
    let host = InProcess::start(built, &[(Provider::HubSpot, &sim)], Pacing::Declared).await;
    let api = Api::new(&host.url(), "bench").await;
    let session = api
        .session(&["crm-contact", "crm-company"], "hubspot", TOKEN)
        .await;
    pull::fill_window(&api, &sim, &session).await;

    let plain = push(
        &api,
        &sim,
        &session,
        contacts_with_companies("batch", contacts),
        true,
    )
    .await;
    let records = 2 * contacts;
    let expected_requests = 2 * contacts.div_ceil(BATCH) as u64;
    let throttled = plain.requests.saturating_sub(expected_requests);
    let ceiling = per_second * BATCH as f64;
    println!(
        "push: {contacts} contacts + {contacts} companies in {:.1} s, {} requests ({} batch), {throttled} answered 429",
        plain.seconds, plain.requests, plain.batch_requests
    );

    let upsert = push(
        &api,
        &sim,
        &session,
        contacts_with_companies("upsert", upsert_contacts),
        false,
    )
    .await;
    // The same as the batch push above, with lookups: long enough that the
    // wait for the window the previous push left full is a small part.
    let sustained = push(
        &api,
        &sim,
        &session,
        contacts_with_companies("sustained", contacts),
        false,
    )
    .await;
    host.stop().await;
    let upsert_records = 2 * upsert_contacts;
    println!(
        "push with upsert: {upsert_contacts} contacts + companies in {:.1} s, {} requests ({} searches), {} answered 429, {:.1} s waiting for the rate limit ({:.1} s before the first request)",
        upsert.seconds,
        upsert.requests,
        upsert.searches,
        upsert.throttled,
        upsert.waited,
        upsert.first_wait
    );
    println!(
        "push with upsert, sustained: {contacts} contacts + companies in {:.1} s, {} requests ({} searches), {} answered 429, {:.1} s waiting for the rate limit ({:.1} s before the first request)",
        sustained.seconds,
        sustained.requests,
        sustained.searches,
        sustained.throttled,
        sustained.waited,
        sustained.first_wait
    );
    vec![
        Scenario::higher(
            &format!("push: {contacts} contacts + companies, batch endpoints, disable_upsert"),
            "rec/s",
            records as f64 / plain.seconds,
            ceiling,
            Some(0.9),
        )
        .note(format!(
            "{contacts} contacts, each with a new company to create and link, in one transfer with `disable_upsert: true`: per batch of {BATCH}, one batch create of companies and one of contacts with inline associations. Ceiling = {} requests / {} s × {BATCH} records a request = {ceiling:.0} rec/s (records = contacts + companies = {records}). The rate-limit window is left full by a warm-up first, as for the rate-limited pull. {} requests for {expected_requests} batches: {throttled} answered 429.",
            limit.max,
            limit.window.as_secs(),
            plain.requests,
        ))
        .details(json!({
            "records": records,
            "seconds": plain.seconds,
            "requests": plain.requests,
            "throttled": throttled,
        })),
        Scenario::higher(
            &format!("push: {upsert_contacts} contacts + companies, default upsert lookups"),
            "rec/s",
            upsert_records as f64 / upsert.seconds,
            ceiling,
            Some(0.4),
        )
        .note(format!(
            "What a user gets by default: before creating records the host looks each up at the provider by its upsert keys (contacts: email, then first + last name; companies: domain, then name). The HubSpot connector declares `max-lookup-batch` 500, so before a batch that needs lookups the host asks those of the next five batches in one `find-matches` call per type; the connector answers it with batch reads by email (100 each, general limit) and one search per 500 values of a property, five `IN` filter groups of 100 (search limit, 4/s, paced by the host as the `search` rate class). {} requests, {} of them searches, {} answered 429, for {upsert_records} records, in {:.1} s, {:.1} s of it waiting for the rate limit ({:.1} s before the first request). It starts right after the push above, whose last 100 requests still fill the 10 s window: this push's first request waits for the oldest of them to leave it, which is most of its time at this size (the sustained row below has the same wait over ten times the records). Baseline: the batch ceiling as above. Target (issue 13): ≥ 0.4 with no 429.",
            upsert.requests,
            upsert.searches,
            upsert.throttled,
            upsert.seconds,
            upsert.waited,
            upsert.first_wait,
        ))
        .details(json!({
            "records": upsert_records,
            "seconds": upsert.seconds,
            "requests": upsert.requests,
            "searches": upsert.searches,
            "throttled": upsert.throttled,
            "rate_limit_wait_seconds": upsert.waited,
            "first_request_wait_seconds": upsert.first_wait,
            "provider_answering_seconds": upsert.answering,
        })),
        Scenario::higher(
            &format!("push: {contacts} contacts + companies, default upsert lookups, sustained"),
            "rec/s",
            records as f64 / sustained.seconds,
            ceiling,
            Some(0.4),
        )
        .note(format!(
            "The batch push above again ({contacts} new contacts, each with a new company), with the default upsert lookups as in the row above, right after it: the throughput a long push with lookups keeps under HubSpot's limits. {} requests ({} batch reads and creates, {} searches), {} answered 429, for {records} records, in {:.1} s, {:.1} s of it waiting for the rate limit ({:.1} s before the first request). Every lookup takes a request slot of the same 100 per 10 s as the creates: at a steady 10 requests a second this comes to the creates' share of the requests (200 of 360, 0.56); it starts with most of the window free (the push before used only 36 of it), which it spends first. Baseline: the batch ceiling as above.",
            sustained.requests,
            sustained.batch_requests,
            sustained.searches,
            sustained.throttled,
            sustained.seconds,
            sustained.waited,
            sustained.first_wait,
        ))
        .details(json!({
            "records": records,
            "seconds": sustained.seconds,
            "requests": sustained.requests,
            "searches": sustained.searches,
            "throttled": sustained.throttled,
            "rate_limit_wait_seconds": sustained.waited,
            "first_request_wait_seconds": sustained.first_wait,
            "provider_answering_seconds": sustained.answering,
        })),
    ]
}
