//! Issue 4's judging, through the host's API, for each provider: a
//! simulator with 100,000 people (QuickBooks: customers) and a static
//! token, as sandbox mode sets them up.
//!
//! - A pull returns exactly the simulator's records: every id once, none
//!   other, and every record equal field by field (the fields each
//!   connector maps, computed here from the raw record independently of
//!   the connector) with its company link.
//! - A push (to a simulator with 100 people of its own) of 1,000 contacts, each with a new company (QuickBooks, which
//!   has no company records: customers with a company name), creates
//!   exactly 1,000 of each, each contact linked to its own company.
//! - Pushing the same batch again in the same session (the internal-id map)
//!   and from a new session (the upsert lookups) creates nothing new.
//!
//! Each check is a row whose figure is the number of records that passed
//! and whose baseline is the number expected, so its target ratio is 1.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use serde_json::{Map, Value, json};
use switchyard_simulators::{Provider, Simulator};

use crate::api::Api;
use crate::expected::{
    at, hubspot_contact, pipedrive_person, quickbooks_customer, salesforce_contact, view,
};
use crate::hosts::{self, InProcess, Pacing, TOKEN};
use crate::push::contacts_with_companies;
use crate::report::Scenario;

/// Page size of the data reads here (the API's largest).
const DATA_PAGE: usize = 10_000;

struct Case {
    provider: Provider,
    people: &'static str,
    /// `None` for QuickBooks.
    companies: Option<&'static str>,
    /// The simulator's record kinds.
    people_kind: &'static str,
    companies_kind: Option<&'static str>,
    id: fn(&Value) -> String,
    expected: fn(&Value) -> Map<String, Value>,
    /// The company ids a raw person links to.
    links: fn(&Value) -> Vec<String>,
}

const CASES: [Case; 4] = [
    Case {
        provider: Provider::HubSpot,
        people: "crm-contact",
        companies: Some("crm-company"),
        people_kind: "contacts",
        companies_kind: Some("companies"),
        id: |r| text_at(r, "/id"),
        expected: hubspot_contact,
        links: |r| {
            r.pointer("/associations/companies/results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| text_at(a, "/id"))
                .collect()
        },
    },
    Case {
        provider: Provider::QuickBooks,
        people: "accounting-customer",
        companies: None,
        people_kind: "Customer",
        companies_kind: None,
        id: |r| text_at(r, "/Id"),
        expected: quickbooks_customer,
        links: |_| Vec::new(),
    },
    Case {
        provider: Provider::Salesforce,
        people: "crm-contact",
        companies: Some("crm-company"),
        people_kind: "Contact",
        companies_kind: Some("Account"),
        id: |r| text_at(r, "/Id"),
        expected: salesforce_contact,
        links: |r| ids_at(r, "/AccountId"),
    },
    Case {
        provider: Provider::Pipedrive,
        people: "crm-contact",
        companies: Some("crm-company"),
        people_kind: "persons",
        companies_kind: Some("organizations"),
        id: |r| text_at(r, "/id"),
        expected: pipedrive_person,
        links: |r| ids_at(r, "/org_id"),
    },
];

pub async fn judging(built: &Path, people: usize, pushed: usize) -> Vec<Scenario> {
    let mut rows = Vec::new();
    for case in &CASES {
        let sim = hosts::simulator(case.provider, people, people / 5, false).await;
        let host = InProcess::start(built, &[(case.provider, &sim)], Pacing::Unlimited).await;
        let api = Api::new(&host.url(), "judging").await;
        rows.push(pull(case, &api, &sim, people).await);
        host.stop().await;
        // The push goes to a simulator holding a few records of its own, so
        // the upsert lookups are judged against data they must not match
        // without each scanning 100,000 records (the simulators search
        // linearly; the providers index).
        let sim = hosts::simulator(case.provider, 100, 20, false).await;
        let host = InProcess::start(built, &[(case.provider, &sim)], Pacing::Unlimited).await;
        let api = Api::new(&host.url(), "judging").await;
        rows.push(push(case, &api, &sim, pushed).await);
        host.stop().await;
    }
    rows
}

fn schemas(case: &Case) -> Vec<&'static str> {
    let mut s = vec![case.people];
    s.extend(case.companies);
    s
}

async fn pull(case: &Case, api: &Api, sim: &Simulator, people: usize) -> Scenario {
    let name = case.provider.name();
    let session = api.session(&schemas(case), name, TOKEN).await;
    let mut body = json!({ "session_id": session, "endgrate_type": case.people });
    if let Some(companies) = case.companies {
        body["associations"] = json!({ companies: true });
    }
    let start = Instant::now();
    let id = api.transfer("pull", body).await;
    let rows = api.all_data("pull", case.people, &id, DATA_PAGE).await;
    let seconds = start.elapsed().as_secs_f64();

    let raw = sim
        .control()
        .records(case.people_kind)
        .expect("the simulator's people");
    assert_eq!(raw.len(), people);
    let mut by_id: HashMap<String, &Value> = HashMap::new();
    let mut twice = 0;
    for row in &rows {
        let id = row["id"].as_str().unwrap_or_default().to_owned();
        if by_id.insert(id, row).is_some() {
            twice += 1;
        }
    }
    let mut equal: usize = 0;
    let mut problems: Vec<String> = Vec::new();
    for record in &raw {
        let id = (case.id)(record);
        let Some(row) = by_id.remove(&id) else {
            problems.push(format!("{id}: missing"));
            continue;
        };
        let expected = (case.expected)(record);
        let actual = view(case.people, &row["data"]);
        let mut wrong: Vec<String> = expected
            .iter()
            .filter(|(f, v)| actual.get(*f).unwrap_or(&Value::Null) != *v)
            .map(|(f, v)| {
                format!(
                    "{f}: expected {v}, got {}",
                    actual.get(f).unwrap_or(&Value::Null)
                )
            })
            .collect();
        if let Some(companies) = case.companies {
            let mut want = (case.links)(record);
            want.sort();
            let mut got: Vec<String> = row["associations"][companies]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            got.sort();
            if want != got {
                wrong.push(format!("links: expected {want:?}, got {got:?}"));
            }
        }
        if wrong.is_empty() {
            equal += 1;
        } else {
            problems.push(format!("{id}: {}", wrong.join("; ")));
        }
    }
    let extra = by_id.len();
    let figure = equal.saturating_sub(twice + extra);
    println!(
        "judging {name}: pulled {} of {people} in {seconds:.1} s; {equal} equal field by field, {twice} twice, {extra} unknown",
        rows.len()
    );
    for p in problems.iter().take(5) {
        println!("  {p}");
    }
    Scenario::higher(
        &format!("issue 4, {name}: pull of {people} {} equals the simulator's", case.people),
        "records",
        figure as f64,
        people as f64,
        Some(1.0),
    )
    .note(format!(
        "Through the host (trigger, then `GET /api/pull/data`){}, in {seconds:.1} s ({:.0} rec/s). Figure: records pulled once and equal to the simulator's record on every field the connector maps{}; {} differ or are missing, {twice} came twice, {extra} are not the simulator's.",
        if case.companies.is_some() { " with company associations" } else { "" },
        people as f64 / seconds,
        if case.companies.is_some() { " and on its company links" } else { "" },
        problems.len(),
    ))
    .details(json!({ "seconds": seconds, "problems": problems.iter().take(10).collect::<Vec<_>>() }))
}

fn customers(tag: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "internal_id": format!("{tag}-customer-{i}"),
                "data": {
                    "customer_name": format!("Bench Customer {tag}-{i}"),
                    "company_name": format!("Company {tag}-{i}"),
                    "email_addresses": [{ "email_address": format!("customer.{tag}.{i}@bench.example.org") }],
                },
            })
        })
        .collect()
}

async fn push_once(api: &Api, session: &str, case: &Case, items: &[Value]) -> (Vec<Value>, f64) {
    let start = Instant::now();
    let id = api
        .transfer(
            "push",
            json!({ "session_id": session, "endgrate_type": case.people, "transfer_data": items }),
        )
        .await;
    let seconds = start.elapsed().as_secs_f64();
    (
        api.all_data("push", case.people, &id, DATA_PAGE).await,
        seconds,
    )
}

fn held(sim: &Simulator, kind: Option<&str>) -> usize {
    kind.and_then(|k| sim.control().records_held().get(k).copied())
        .unwrap_or(0)
}

async fn push(case: &Case, api: &Api, sim: &Simulator, n: usize) -> Scenario {
    let name = case.provider.name();
    let items = match case.companies {
        Some(_) => contacts_with_companies("judging", n),
        None => customers("judging", n),
    };
    let people_before = held(sim, Some(case.people_kind));
    let companies_before = held(sim, case.companies_kind);
    let session = api.session(&schemas(case), name, TOKEN).await;
    let (first, seconds) = push_once(api, &session, case, &items).await;
    let people_created = held(sim, Some(case.people_kind)) - people_before;
    let companies_created = held(sim, case.companies_kind) - companies_before;

    // Each contact created once, linked to the company pushed with it.
    let raw: HashMap<String, Value> = sim
        .control()
        .records(case.people_kind)
        .unwrap_or_default()
        .into_iter()
        .map(|r| ((case.id)(&r), r))
        .collect();
    let mut good: HashSet<usize> = HashSet::new();
    let mut problems = Vec::new();
    let ids: Vec<String> = first
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    for (i, result) in first.iter().enumerate() {
        let Some(record) = raw.get(&ids[i]) else {
            problems.push(format!("#{i}: not at the provider ({result})"));
            continue;
        };
        if result["created"] != true {
            problems.push(format!("#{i}: not reported created"));
            continue;
        }
        let linked = match case.companies {
            Some(companies) => {
                let company = result["associations"][companies][0]
                    .as_str()
                    .unwrap_or_default();
                !company.is_empty() && (case.links)(record) == vec![company.to_owned()]
            }
            None => text_at(record, "/CompanyName") == format!("Company judging-{i}"),
        };
        if linked {
            good.insert(i);
        } else {
            problems.push(format!("#{i}: not linked to its company"));
        }
    }
    let distinct: HashSet<&String> = ids.iter().collect();

    // The same batch again: in the same session, then from a new one.
    let (again, _) = push_once(api, &session, case, &items).await;
    let other = api.session(&schemas(case), name, TOKEN).await;
    let (upserted, _) = push_once(api, &other, case, &items).await;
    for (what, results) in [("same session", &again), ("new session", &upserted)] {
        for (i, r) in results.iter().enumerate() {
            if r["created"] != false || r["id"].as_str() != Some(ids[i].as_str()) {
                good.remove(&i);
                problems.push(format!("#{i}: pushed again ({what}): {}", r["id"]));
            }
        }
    }
    let people_after = held(sim, Some(case.people_kind)) - people_before;
    let companies_after = held(sim, case.companies_kind) - companies_before;
    let expected_companies = if case.companies.is_some() { n } else { 0 };
    // Records beyond the n expected (or missing) count against the figure.
    let excess = people_after.abs_diff(n) + companies_after.abs_diff(expected_companies);
    let figure = good.len().min(distinct.len()).saturating_sub(excess);
    println!(
        "judging {name}: push of {n} created {people_created} people and {companies_created} companies in {seconds:.1} s; after two more pushes {people_after} and {companies_after}; {} correct",
        good.len()
    );
    for p in problems.iter().take(5) {
        println!("  {p}");
    }
    Scenario::higher(
        &format!(
            "issue 4, {name}: push of {n} {}{} creates exactly {n}, pushed again creates none",
            case.people,
            if case.companies.is_some() { " with companies" } else { "" }
        ),
        "records",
        figure as f64,
        n as f64,
        Some(1.0),
    )
    .note(format!(
        "{} Created {people_created} people and {companies_created} companies in {seconds:.1} s ({:.0} rec/s); the same batch pushed again in the same session (internal-id map) and from a new session (upsert lookups) left {people_after} and {companies_after}. Figure: records created once, linked right, and found again by both re-pushes, less any record created beyond {n}.",
        if case.companies.is_some() {
            "Each contact with a new company in `associations`."
        } else {
            "QuickBooks has no company records: each customer carries its company name, checked as the link."
        },
        (people_created + companies_created) as f64 / seconds,
    ))
    .details(json!({
        "people_created": people_created,
        "companies_created": companies_created,
        "after_repushes": [people_after, companies_after],
        "problems": problems.iter().take(10).collect::<Vec<_>>(),
    }))
}

// ---------------------------------------------------------------------------
// Reading raw records (the expected mapping itself is in `expected`, shared
// with the conformance suite).

fn text_at(raw: &Value, pointer: &str) -> String {
    at(raw, pointer).as_str().unwrap_or_default().to_owned()
}

fn ids_at(raw: &Value, pointer: &str) -> Vec<String> {
    at(raw, pointer)
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect()
}
