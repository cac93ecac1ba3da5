//! Runtime benchmark (`cargo xtask bench`): what a connector call costs.
//!
//! - A fresh instance + a trivial call (`check`), p50/p99, with the pooling
//!   allocator and without it (the baseline, measured in the same run).
//! - Mapping 1,000 HubSpot-shaped contacts to the common model through the
//!   `mapper` component versus the very same mapping code compiled natively
//!   (parse, map, serialise in both).
//!
//! Writes its rows to `<parts>/runtime.json` (`SWITCHYARD_BENCH_PARTS`, or
//! `target/bench-parts`); `cargo xtask bench` merges the parts into
//! `bench/results/latest.json` and `latest.md`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard::runtime::types::Connection;
use switchyard::runtime::{Runtime, RuntimeConfig, SandboxLimits};

const CALLS: usize = 3_000;
const RECORDS: u64 = 1_000;
const MAPPING_ROUNDS: usize = 30;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A component of the connectors workspace, built in release.
fn component(package: &str) -> Vec<u8> {
    let status = Command::new(env!("CARGO"))
        .current_dir(root().join("connectors"))
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {package} failed");
    // `cargo xtask bench` says where the connectors' target directory is
    // (it honours CARGO_TARGET_DIR).
    let target = std::env::var_os("SWITCHYARD_CONNECTORS_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("connectors/target"));
    let file = format!("{}.wasm", package.replace('-', "_"));
    std::fs::read(target.join("wasm32-wasip2/release").join(&file)).expect(&file)
}

async fn runtime(pooling: bool, cache: &Path, wasm: &[u8]) -> Arc<Runtime> {
    let runtime = Runtime::new(RuntimeConfig {
        limits: SandboxLimits {
            pooling,
            ..SandboxLimits::default()
        },
        cache_dir: cache.to_owned(),
        ..RuntimeConfig::default()
    })
    .expect("runtime starts");
    runtime
        .install(wasm.to_vec(), None)
        .await
        .expect("mapper loads");
    runtime
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// p50 and p99 of a fresh instance + `check()`.
async fn instantiate_and_call(runtime: &Runtime) -> (Duration, Duration) {
    let conn = Connection::default();
    for _ in 0..200 {
        runtime.check("mapper", &conn, None).await.expect("check");
    }
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        runtime.check("mapper", &conn, None).await.expect("check");
        samples.push(start.elapsed());
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

/// p50 of a fresh instance + `finish-auth` (pure, tiny in every connector),
/// to compare what one call costs across contract versions.
async fn instantiate_and_finish_auth(runtime: &Runtime, id: &str) -> Duration {
    let answer = json!({});
    for _ in 0..200 {
        runtime
            .finish_auth(id, &[], &answer)
            .await
            .expect("finish-auth");
    }
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        runtime
            .finish_auth(id, &[], &answer)
            .await
            .expect("finish-auth");
        samples.push(start.elapsed());
    }
    samples.sort();
    percentile(&samples, 0.5)
}

/// Best-of-rounds time to map all records, natively and through the component.
async fn mapping(runtime: &Runtime) -> (Duration, Duration) {
    let raws: Vec<String> = (0..RECORDS)
        .map(|i| sample_mapping::sample_contact(i).to_string())
        .collect();
    let mut native = Duration::MAX;
    let mut wasm = Duration::MAX;
    for _ in 0..MAPPING_ROUNDS {
        let start = Instant::now();
        let mapped: Vec<String> = raws
            .iter()
            .map(|raw| {
                let value: Value = serde_json::from_str(raw).expect("valid sample");
                sample_mapping::contact_to_cdm(&value).to_string()
            })
            .collect();
        native = native.min(start.elapsed());
        std::hint::black_box(mapped);

        let start = Instant::now();
        let mapped = runtime
            .to_cdm("mapper", "crm-contact", &raws)
            .await
            .expect("maps");
        wasm = wasm.min(start.elapsed());
        assert!(mapped.iter().all(Result::is_ok));
    }
    (native, wasm)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wasm = component("mapper");
    let cache = tempfile::tempdir().expect("temp dir");
    let pooled = runtime(true, cache.path(), &wasm).await;
    let on_demand = runtime(false, cache.path(), &wasm).await;
    // The frozen-0.1 fixture beside the 0.2 mapper, on the same host.
    pooled
        .install(component("contract-v0-1"), None)
        .await
        .expect("the 0.1 fixture loads");

    let (pool_p50, pool_p99) = instantiate_and_call(&pooled).await;
    let (plain_p50, plain_p99) = instantiate_and_call(&on_demand).await;
    let (native, wasm_time) = mapping(&pooled).await;
    let v0_2_call = instantiate_and_finish_auth(&pooled, "mapper").await;
    let v0_1_call = instantiate_and_finish_auth(&pooled, "ledger").await;

    // ratio = figure ÷ baseline, oriented so that higher is better.
    let scenarios = vec![
        json!({"name": "instantiate + call p50 (pooling vs on-demand)", "unit": "µs",
               "figure": us(pool_p50), "baseline": us(plain_p50),
               "ratio": us(plain_p50) / us(pool_p50), "target": 1.0,
               "absolute_target": "≤ 50 µs", "met": us(pool_p50) <= 50.0}),
        json!({"name": "instantiate + call p99 (pooling vs on-demand)", "unit": "µs",
               "figure": us(pool_p99), "baseline": us(plain_p99),
               "ratio": us(plain_p99) / us(pool_p99), "target": 1.0}),
        json!({"name": "map 1,000 contacts: wasm vs native", "unit": "ms",
               "figure": wasm_time.as_secs_f64() * 1e3, "baseline": native.as_secs_f64() * 1e3,
               "ratio": native.as_secs_f64() / wasm_time.as_secs_f64(), "target": 0.5,
               "absolute_target": "wasm ≤ 2× native"}),
        json!({"name": "instantiate + call p50, a 0.1 component vs a 0.2 one", "unit": "µs",
               "figure": us(v0_1_call), "baseline": us(v0_2_call),
               "ratio": us(v0_2_call) / us(v0_1_call), "target": 0.9,
               "absolute_target": "within 10% of 0.2"}),
    ];
    for s in &scenarios {
        println!(
            "  {:<48} {:>9.1} {:<3} {:>9.1} {:<3} ratio {:.2}",
            s["name"].as_str().unwrap_or_default(),
            s["figure"].as_f64().unwrap_or_default(),
            s["unit"].as_str().unwrap_or_default(),
            s["baseline"].as_f64().unwrap_or_default(),
            s["unit"].as_str().unwrap_or_default(),
            s["ratio"].as_f64().unwrap_or_default(),
        );
    }
    let dir = std::env::var_os("SWITCHYARD_BENCH_PARTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/bench-parts"));
    std::fs::create_dir_all(&dir).expect("the parts directory");
    let part = json!({ "bench": "runtime", "scenarios": scenarios });
    std::fs::write(
        dir.join("runtime.json"),
        serde_json::to_string_pretty(&part).expect("json"),
    )
    .expect("write runtime.json");
}
