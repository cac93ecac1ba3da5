//! `cargo xtask`: the project's build, run and test commands, so that a fresh
//! machine needs exactly two: `cargo xtask serve` and `cargo xtask test`.

mod bench_report;
mod new_connector;
mod system_packages;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Builds every connector in release and copies the components into the
    /// connectors directory.
    BuildConnectors {
        /// Where the host loads connectors from.
        #[arg(long, default_value = "./data/connectors")]
        out: PathBuf,
    },
    /// Builds what is needed, then runs the host. Takes `switchyard serve`'s flags.
    Serve {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Runs every test: connectors (natively), host unit and integration tests.
    /// Installs Chromium and its driver for the browser tests when missing
    /// (as root with apt-get; otherwise says the command to run).
    Test,
    /// Creates a compiling connector skeleton with a passing test.
    NewConnector {
        /// Connector id: lowercase letters, digits and dashes.
        name: String,
    },
    /// Runs the benchmarks (release) and writes bench/results/latest.{json,md}.
    Bench {
        /// Only these scenarios, comma-separated: runtime, ceiling,
        /// rate-limited, push, latency, scale, judging.
        #[arg(long)]
        only: Option<String>,
        /// Small sizes, to try the benchmarks out in a minute.
        #[arg(long)]
        quick: bool,
    },
    /// Runs the reliability tests long: many more crashes at random points
    /// (seeded), bigger transfers, provider faults and hostile input, in release.
    Soak {
        /// Seed of the crash points (a failing run prints its seed).
        #[arg(long, default_value_t = 20261123)]
        seed: u64,
    },
}

fn main() -> Result<()> {
    let root = project_root();
    match Cli::parse().command {
        Task::BuildConnectors { out } => build_connectors(&root, &root.join(out)),
        Task::Serve { args } => serve(&root, args),
        Task::Test => test(&root),
        Task::NewConnector { name } => new_connector::run(&root, &name),
        Task::Bench { only, quick } => bench(&root, only.as_deref(), quick),
        Task::Soak { seed } => soak(&root, seed),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Installs the wasm32-wasip2 target when it is missing.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to install the wasm32-wasip2 target")?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    Ok(())
}

/// Chromium and its driver, for the browser tests (host/tests/browser.rs).
/// Those tests also take `CHROMIUM` and `CHROMEDRIVER` pointing at the
/// binaries; a binary given that way is not looked for.
fn ensure_browser() -> Result<()> {
    let needed: Vec<(&str, &str)> = [
        ("CHROMIUM", "chromium", "chromium"),
        ("CHROMEDRIVER", "chromedriver", "chromium-driver"),
    ]
    .into_iter()
    .filter(|(var, _, _)| std::env::var_os(var).is_none())
    .map(|(_, binary, package)| (binary, package))
    .collect();
    system_packages::ensure("the browser tests", &needed)
}

/// The target directory of the cargo workspace in `dir`, as cargo resolves
/// it: `CARGO_TARGET_DIR`, `build.target-dir` in `.cargo/config.toml`, or
/// the workspace's `target`.
fn target_dir(dir: &Path) -> Result<PathBuf> {
    let out = cargo()
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .with_context(|| format!("running cargo metadata in {}", dir.display()))?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata did not answer JSON")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata gave no target_directory")
}

/// Where `cargo build --release --target wasm32-wasip2` in `connectors/`
/// writes the components.
fn components_dir(root: &Path) -> Result<PathBuf> {
    Ok(target_dir(&root.join("connectors"))?.join("wasm32-wasip2/release"))
}

/// The real connectors: every member of the connectors workspace except the
/// SDK and the test components.
fn connector_crates(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("connectors");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().join("Cargo.toml").exists() && name != "sdk" && name != "testing" {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn build_connectors(root: &Path, out: &Path) -> Result<()> {
    ensure_wasm_target()?;
    let crates = connector_crates(root)?;
    std::fs::create_dir_all(out)?;
    if crates.is_empty() {
        println!("no connectors to build yet (connectors/ has only the SDK and test components)");
        return Ok(());
    }
    let mut cmd = cargo();
    cmd.current_dir(root.join("connectors")).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
    ]);
    for name in &crates {
        cmd.args(["-p", name]);
    }
    run(&mut cmd)?;
    let components = components_dir(root)?;
    for name in &crates {
        let built = components.join(format!("{}.wasm", name.replace('-', "_")));
        let target = out.join(format!("{name}.wasm"));
        // Write beside and rename, so a watching host never reads half a file.
        let tmp = out.join(format!(".{name}.wasm.tmp"));
        std::fs::copy(&built, &tmp).with_context(|| format!("copying {}", built.display()))?;
        std::fs::rename(&tmp, &target)?;
        println!("{name}: {}", target.display());
    }
    Ok(())
}

fn serve(root: &Path, args: Vec<String>) -> Result<()> {
    let data = flag_value(&args, "--data").unwrap_or_else(|| "./data".into());
    let connectors = flag_value(&args, "--connectors")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&data).join("connectors"));
    build_connectors(root, &root.join(connectors))?;
    // With no provider credentials configured, providers are simulated.
    let no_sandbox = args.iter().any(|a| a == "--no-sandbox");
    let has_credentials = args.iter().any(|a| a.starts_with("--oauth-client"))
        || std::env::var_os("SWITCHYARD_OAUTH_CLIENTS").is_some();
    let args: Vec<String> = args.into_iter().filter(|a| a != "--no-sandbox").collect();
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["run", "--release", "--package", "switchyard"]);
    let sandbox = !no_sandbox && !has_credentials;
    if sandbox {
        command.args(["--features", "sandbox"]);
    }
    command.args(["--", "serve"]).args(args);
    if sandbox {
        command.arg("--sandbox");
    }
    run(&mut command)
}

/// The value of `--flag VALUE` or `--flag=VALUE`.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == flag {
            return iter.next().cloned();
        }
        if let Some(value) = arg.strip_prefix(&format!("{flag}=")) {
            return Some(value.to_owned());
        }
    }
    None
}

fn test(root: &Path) -> Result<()> {
    // First, so a missing package stops the run before a long build.
    ensure_browser()?;
    ensure_wasm_target()?;
    let host_triple = host_triple()?;
    // Connectors: every component must build for wasm, and their own tests
    // run natively against the SDK's MockHttp.
    run(cargo().current_dir(root.join("connectors")).args([
        "build",
        "--release",
        "--workspace",
        "--target",
        "wasm32-wasip2",
    ]))?;
    run(cargo().current_dir(root.join("connectors")).args([
        "test",
        "--workspace",
        "--target",
        &host_triple,
    ]))?;
    // The host workspace: unit and integration tests (the integration tests
    // build and load the test components themselves).
    // With the sandbox feature, so sandbox mode is tested too.
    run(cargo()
        .current_dir(root)
        .args(["test", "--workspace", "--features", "switchyard/sandbox"]))
}

fn soak(root: &Path, seed: u64) -> Result<()> {
    ensure_wasm_target()?;
    run(cargo()
        .current_dir(root)
        .args([
            "test",
            "--release",
            "--package",
            "switchyard",
            "--test",
            "api",
            "--",
        ])
        .args([
            "crash::",
            "faults::",
            "fuzz::",
            "hostile::",
            "webhooks::",
            "--test-threads",
            "1",
        ])
        .env("SWITCHYARD_SOAK_KILLS", "20")
        .env("SWITCHYARD_SOAK_TRANSFERS", "20")
        .env("SWITCHYARD_SOAK_RECORDS", "10000")
        .env("SWITCHYARD_SOAK_ITEMS", "400")
        .env("SWITCHYARD_SOAK_SEED", seed.to_string()))
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV did not name the host triple")
}

fn bench(root: &Path, only: Option<&str>, quick: bool) -> Result<()> {
    ensure_wasm_target()?;
    let wanted: Vec<&str> = only
        .map(|o| o.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let parts = target_dir(root)?.join("bench-parts");
    // The runtime bench builds the mapper component and reads it from here.
    let connectors_target = target_dir(&root.join("connectors"))?;
    let _ = std::fs::remove_dir_all(&parts);
    let mut benches = Vec::new();
    if wanted.is_empty() || wanted.contains(&"runtime") {
        benches.push("runtime");
    }
    if wanted.is_empty() || wanted.iter().any(|w| *w != "runtime") {
        benches.push("transfers");
    }
    for bench in &benches {
        let mut cmd = cargo();
        cmd.current_dir(root)
            .args(["bench", "--package", "switchyard", "--bench", bench])
            .env("SWITCHYARD_BENCH_PARTS", &parts)
            .env("SWITCHYARD_CONNECTORS_TARGET", &connectors_target);
        if let Some(only) = only {
            cmd.env("SWITCHYARD_BENCH_ONLY", only);
        }
        if quick {
            cmd.env("SWITCHYARD_BENCH_QUICK", "1");
        }
        run(&mut cmd)?;
    }
    bench_report::write(root, &parts, &benches)
}
