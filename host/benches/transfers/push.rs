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
    let c = sim.control();
    Pushed {
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
    host.stop().await;
    let upsert_records = 2 * upsert_contacts;
    println!(
        "push with upsert: {upsert_contacts} contacts + companies in {:.1} s, {} requests ({} searches), {} answered 429",
        upsert.seconds, upsert.requests, upsert.searches, upsert.throttled
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
            "What a user gets by default: before creating records the host looks each up at the provider by its upsert keys (contacts: email, then first + last name; companies: domain, then name), one `find-matches` call per push batch. The HubSpot connector answers it with one batch read by email (general limit) and one search per type with an `IN` filter group per property (search limit, 4/s, paced by the host as the `search` rate class). {} requests, {} of them searches, {} answered 429, for {upsert_records} records, in {:.1} s. Baseline: the batch ceiling as above. Target (issue 13): ≥ 0.4 with no 429.",
            upsert.requests,
            upsert.searches,
            upsert.throttled,
            upsert.seconds,
        ))
        .details(json!({
            "records": upsert_records,
            "seconds": upsert.seconds,
            "requests": upsert.requests,
            "searches": upsert.searches,
            "throttled": upsert.throttled,
        })),
    ]
}
