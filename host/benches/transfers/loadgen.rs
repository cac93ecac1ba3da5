//! The load generator: this bench binary run again as a separate process
//! (`transfers --loadgen '<json>'`), so it does not share the host's or the
//! bench's runtime. Keeps `concurrency` clients busy for `seconds` (after
//! `warmup_seconds` not counted), each sending its request again as soon as
//! the answer is read (requests sent after the warm-up and answered within
//! the window are counted), and prints one JSON line: requests, errors, requests
//! per second, p50 and p99 in milliseconds.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub url: String,
    pub key: String,
    /// Client `i` sends `requests[i % len]`.
    pub requests: Vec<Request>,
    pub concurrency: usize,
    pub seconds: f64,
    pub warmup_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs `plan` in a child process of this binary.
pub async fn run(plan: &Plan) -> Outcome {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = tokio::process::Command::new(exe)
        .arg("--loadgen")
        .arg(serde_json::to_string(plan).expect("a plan"))
        .output()
        .await
        .expect("the load generator runs");
    assert!(
        out.status.success(),
        "the load generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("load generator output {text:?}: {e}"))
}

/// The child process's `main`.
pub fn main(plan: &str) {
    let plan: Plan = serde_json::from_str(plan).expect("a load plan");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let outcome = runtime.block_on(generate(plan));
    println!("{}", serde_json::to_string(&outcome).expect("an outcome"));
}

async fn generate(plan: Plan) -> Outcome {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client");
    let start = Instant::now();
    let counted_from = start + Duration::from_secs_f64(plan.warmup_seconds);
    let until = counted_from + Duration::from_secs_f64(plan.seconds);
    let mut tasks = Vec::new();
    for i in 0..plan.concurrency {
        let http = http.clone();
        let request = plan.requests[i % plan.requests.len()].clone();
        let url = format!("{}{}", plan.url, request.path);
        let key = plan.key.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let method: reqwest::Method = request.method.parse().expect("a method");
            let body = request.body.as_ref().map(|b| b.to_string());
            loop {
                let sent = Instant::now();
                if sent >= until {
                    break;
                }
                let mut r = http.request(method.clone(), &url).bearer_auth(&key);
                if let Some(body) = &body {
                    r = r
                        .header("content-type", "application/json")
                        .body(body.clone());
                }
                let ok = match r.send().await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        ok && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                // Counted: sent after the warm-up and answered in the window.
                let answered = Instant::now();
                if sent < counted_from || answered > until {
                    continue;
                }
                if ok {
                    let micros = (answered - sent).as_micros();
                    latencies.push(micros.min(u128::from(u32::MAX)) as u32);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.expect("a client");
        all.extend(latencies);
        errors += e;
    }
    all.sort_unstable();
    let at = |p: f64| {
        if all.is_empty() {
            0.0
        } else {
            f64::from(all[((all.len() - 1) as f64 * p).round() as usize]) / 1000.0
        }
    };
    Outcome {
        requests: all.len() as u64,
        errors,
        per_second: all.len() as f64 / plan.seconds,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    }
}
