//! The benchmark report: merges the rows each bench binary wrote to the parts
//! directory into `bench/results/latest.json` (`{"commit", "machine",
//! "scenarios": [{"name", "unit", "figure", "baseline", "ratio", "target"}]}`)
//! and `latest.md`, and prints the table.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// Reads `<parts>/<bench>.json` for each bench, in order, and writes the report.
pub fn write(root: &Path, parts: &Path, benches: &[&str]) -> Result<()> {
    let mut scenarios = Vec::new();
    for bench in benches {
        let path = parts.join(format!("{bench}.json"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("the {bench} bench wrote no results ({})", path.display()))?;
        let part: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if let Value::Array(rows) = &part["scenarios"] {
            scenarios.extend(rows.iter().cloned());
        }
    }
    let report = json!({
        "commit": git_commit(root),
        "machine": machine(),
        "scenarios": scenarios,
    });
    let md = markdown(&report);
    println!("\n{md}");
    let out = root.join("bench/results");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("latest.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    std::fs::write(out.join("latest.md"), md)?;
    println!("written: bench/results/latest.json and latest.md");
    Ok(())
}

fn markdown(report: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut md = format!(
        "# Benchmark results\n\ncommit `{}` on {}\n\nratio = figure ÷ baseline, oriented so that higher is better; a scenario meets its target when ratio ≥ target.\n\n| scenario | figure | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n",
        text(&report["commit"]),
        text(&report["machine"]),
    );
    let rows = report["scenarios"].as_array().cloned().unwrap_or_default();
    for s in &rows {
        let unit = text(&s["unit"]);
        let ratio = s["ratio"].as_f64().unwrap_or_default();
        let (target, met) = match s["target"].as_f64() {
            Some(t) => (
                format!("≥ {t}"),
                if ratio >= t { "yes" } else { "**no**" }.to_owned(),
            ),
            None => ("—".to_owned(), "—".to_owned()),
        };
        md.push_str(&format!(
            "| {} | {} {unit} | {} {unit} | {ratio:.3} | {target} | {met} |\n",
            text(&s["name"]),
            figure(&s["figure"]),
            figure(&s["baseline"]),
        ));
    }
    let notes: Vec<&Value> = rows.iter().filter(|s| s["note"].is_string()).collect();
    if !notes.is_empty() {
        md.push_str("\n## What each figure is\n\n");
        for s in notes {
            md.push_str(&format!(
                "- **{}**: {}\n",
                text(&s["name"]),
                text(&s["note"])
            ));
        }
    }
    md
}

fn figure(v: &Value) -> String {
    let x = v.as_f64().unwrap_or_default();
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// The commit measured, with `-dirty` when the tree had uncommitted changes.
fn git_commit(root: &Path) -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let commit = run(&["rev-parse", "--short", "HEAD"]);
    if commit.is_empty() {
        return "unknown".into();
    }
    let dirty = !run(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    }
}

/// CPU model, cores, memory and OS, so runs on different machines are told apart.
fn machine() -> String {
    let field = |file: &str, name: &str| {
        std::fs::read_to_string(file).ok().and_then(|c| {
            c.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
    };
    let cpu = field("/proc/cpuinfo", "model name").unwrap_or_else(|| std::env::consts::ARCH.into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = field("/proc/meminfo", "MemTotal")
        .and_then(|m| m.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!(", {} GiB", kib / (1024 * 1024)))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores{memory}, {}", std::env::consts::OS)
}
