//! Scale: 1, 10, 100 and 1,000 pulls at once, each in its own session,
//! against a fresh host process per level: total records per second and the
//! host's peak resident memory (`VmHWM`), and how both grow with the number
//! of transfers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use serde_json::{Value, json};
use switchyard_simulators::Provider;

use crate::api::Api;
use crate::hosts::{self, Process, TOKEN};
use crate::report::Scenario;

struct Level {
    transfers: usize,
    seconds: f64,
    records: usize,
    idle_kib: u64,
    peak_kib: u64,
}

impl Level {
    fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

async fn level(
    built: &Path,
    sim: &switchyard_simulators::Simulator,
    transfers: usize,
    per_transfer: usize,
    cache: Option<&Path>,
) -> (Level, PathBuf, Process) {
    let host = Process::start(built, sim, cache).await;
    let api = Api::new(&host.url, "bench").await;
    let sessions: Vec<String> = futures::stream::iter(0..transfers)
        .map(|_| {
            let api = api.clone();
            async move {
                api.session(&["crm-contact", "crm-company"], "hubspot", TOKEN)
                    .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let idle_kib = host.status_kib("VmRSS");
    let start = Instant::now();
    let done: Vec<String> = futures::stream::iter(sessions)
        .map(|session| {
            let api = api.clone();
            async move {
                api.transfer(
                    "pull",
                    json!({ "session_id": session, "endgrate_type": "crm-contact" }),
                )
                .await
            }
        })
        .buffer_unordered(transfers)
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let peak_kib = host.status_kib("VmHWM");
    let mut records = 0;
    for id in &done {
        let stats: Value = api.statistics(id).await;
        let n = stats["statistics"]["records_transferred"]
            .as_u64()
            .unwrap_or_default() as usize;
        assert_eq!(n, per_transfer, "records of transfer {id}");
        records += n;
    }
    let data = host.data.path().to_owned();
    (
        Level {
            transfers,
            seconds,
            records,
            idle_kib,
            peak_kib,
        },
        data,
        host,
    )
}

pub async fn scale(built: &Path, levels: &[usize], per_transfer: usize) -> Vec<Scenario> {
    let sim = hosts::simulator(Provider::HubSpot, per_transfer, 10, false).await;
    let mut results: Vec<Level> = Vec::new();
    // Later hosts reuse the first one's compiled connector.
    let mut first: Option<Process> = None;
    for &n in levels {
        let cache = first.as_ref().map(|p| p.data.path().to_owned());
        let (level, _, host) = level(built, &sim, n, per_transfer, cache.as_deref()).await;
        println!(
            "scale {n:>5}: {} records in {:.1} s = {:.0} rec/s; RSS idle {} MiB, peak {} MiB",
            level.records,
            level.seconds,
            level.rate(),
            level.idle_kib / 1024,
            level.peak_kib / 1024
        );
        results.push(level);
        if first.is_none() {
            first = Some(host);
        }
    }
    drop(first);

    let one = &results[0];
    let mib = |kib: u64| kib as f64 / 1024.0;
    let table: Vec<Value> = results
        .iter()
        .map(|l| {
            json!({
                "transfers": l.transfers,
                "records": l.records,
                "seconds": l.seconds,
                "records_per_second": l.rate(),
                "idle_rss_mib": mib(l.idle_kib),
                "peak_rss_mib": mib(l.peak_kib),
            })
        })
        .collect();
    let mut rows = Vec::new();
    for l in &results[1..] {
        let n = l.transfers;
        rows.push(
            Scenario::higher(
                &format!("scale: {n} concurrent transfers, total records/s vs 1 transfer"),
                "rec/s",
                l.rate(),
                one.rate(),
                Some(1.0),
            )
            .note(format!(
                "{n} pulls of {per_transfer} contacts at once, one session each, on a fresh host process: {} records in {:.1} s. Baseline: one pull alone ({:.0} rec/s). Ratio ≥ 1 means the time for n transfers grows no worse than linearly.",
                l.records, l.seconds, one.rate()
            ))
            .details(json!({ "levels": table })),
        );
        // Linear growth: the idle host plus n times what one transfer added.
        let per_transfer_kib = one.peak_kib.saturating_sub(one.idle_kib).max(1);
        let linear = l.idle_kib + n as u64 * per_transfer_kib;
        rows.push(
            Scenario::lower(
                &format!("scale: {n} concurrent transfers, host peak RSS vs linear"),
                "MiB",
                mib(l.peak_kib),
                mib(linear),
                Some(1.0),
            )
            .note(format!(
                "Peak RSS (VmHWM) of the host process {} MiB (idle after creating the sessions: {} MiB). Baseline: linear growth, the idle host plus {n} × what one transfer added ({:.1} MiB). Marginal memory per transfer at this level: {:.2} MiB.",
                mib(l.peak_kib).round(),
                mib(l.idle_kib).round(),
                mib(per_transfer_kib),
                mib(l.peak_kib.saturating_sub(l.idle_kib)) / n as f64
            )),
        );
    }
    rows
}
