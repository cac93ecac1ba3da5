//! Transfer benchmarks (`cargo xtask bench`): the host end to end against
//! the physical limits of each scenario, measured side by side in the same
//! run (issue 6), and issue 4's judging scenarios.
//!
//! - `ceiling`: a pull of 100,000 HubSpot, Salesforce and Pipedrive contacts
//!   and QuickBooks customers through the host vs a plain client paging the
//!   same simulator as the connector does.
//! - `rate-limited`: a pull under HubSpot's 100 requests / 10 s vs limit ×
//!   page size, and the share of 429s.
//! - `push`: 10,000 contacts with companies through the batch endpoints vs
//!   the same ceiling arithmetic; and pushes of 1,000 and 10,000 with the
//!   default upsert lookups.
//! - `latency`: trigger-transfer and get-data at 64 clients from a load
//!   generator process against a host process.
//! - `scale`: 1, 10, 100 and 1,000 concurrent transfers: records/s and the
//!   host's peak RSS.
//! - `judging`: issue 4's judging for each of the four providers.
//!
//! `SWITCHYARD_BENCH_ONLY=ceiling,push` runs some; `SWITCHYARD_BENCH_QUICK=1`
//! runs small sizes (to try changes in a debug build: `cargo test --bench
//! transfers`). Writes its rows to `<parts>/transfers.json`, where `parts`
//! is `SWITCHYARD_BENCH_PARTS` or `target/bench-parts`; `cargo xtask bench`
//! merges the parts into `bench/results/latest.json` and `latest.md`.

mod api;
// What each connector must make of a raw record, shared with the conformance
// suite (which uses all of it; the judging here, part).
#[allow(dead_code)]
#[path = "../../tests/expected/mod.rs"]
mod expected;
mod hosts;
mod judging;
mod latency;
mod loadgen;
mod pull;
mod push;
mod report;
mod scale;

use std::path::PathBuf;

use serde_json::json;

use report::Scenario;

struct Sizes {
    ceiling: usize,
    rate_limited: usize,
    push: usize,
    push_upsert: usize,
    latency_seconds: f64,
    scale_levels: Vec<usize>,
    scale_per_transfer: usize,
    judging_people: usize,
    judging_pushed: usize,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            ceiling: 100_000,
            rate_limited: 50_000,
            push: 10_000,
            push_upsert: 1000,
            latency_seconds: 10.0,
            scale_levels: vec![1, 10, 100, 1000],
            scale_per_transfer: 1000,
            judging_people: 100_000,
            judging_pushed: 1000,
        }
    }

    fn quick() -> Sizes {
        Sizes {
            ceiling: 2_000,
            rate_limited: 2_000,
            push: 500,
            push_upsert: 5,
            latency_seconds: 3.0,
            scale_levels: vec![1, 10, 50],
            scale_per_transfer: 200,
            judging_people: 2_000,
            judging_pushed: 50,
        }
    }
}

fn parts_dir() -> PathBuf {
    std::env::var_os("SWITCHYARD_BENCH_PARTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| hosts::root().join("target/bench-parts"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--loadgen") {
        loadgen::main(args.get(i + 1).map(String::as_str).unwrap_or_default());
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

async fn run() {
    let sizes = if std::env::var_os("SWITCHYARD_BENCH_QUICK").is_some() {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    let only = std::env::var("SWITCHYARD_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o.trim() == name);
    let built = tokio::task::block_in_place(hosts::build_connectors);

    let mut rows: Vec<Scenario> = Vec::new();
    if wanted("ceiling") {
        rows.extend(pull::ceiling(&built, sizes.ceiling).await);
    }
    if wanted("rate-limited") {
        rows.extend(pull::rate_limited(&built, sizes.rate_limited).await);
    }
    if wanted("push") {
        rows.extend(push::push_scenarios(&built, sizes.push, sizes.push_upsert).await);
    }
    if wanted("latency") {
        rows.extend(latency::latency(&built, sizes.latency_seconds).await);
    }
    if wanted("scale") {
        rows.extend(scale::scale(&built, &sizes.scale_levels, sizes.scale_per_transfer).await);
    }
    if wanted("judging") {
        rows.extend(judging::judging(&built, sizes.judging_people, sizes.judging_pushed).await);
    }

    println!("\ntransfer scenarios:");
    for row in &rows {
        row.print();
    }
    let part = json!({
        "bench": "transfers",
        "quick": std::env::var_os("SWITCHYARD_BENCH_QUICK").is_some(),
        "scenarios": rows.iter().map(Scenario::to_json).collect::<Vec<_>>(),
    });
    let dir = parts_dir();
    std::fs::create_dir_all(&dir).expect("the parts directory");
    std::fs::write(
        dir.join("transfers.json"),
        serde_json::to_string_pretty(&part).expect("json"),
    )
    .expect("write transfers.json");
}
