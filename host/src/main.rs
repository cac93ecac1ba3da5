//! The `switchyard` binary: parses the command line and runs the host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use switchyard::runtime::ConnectorOverride;
use switchyard::server::{self, HostConfig};

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Self-hosted unified API with WebAssembly connectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the host.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory: the database, compiled-component cache and keys.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// Connectors directory, watched for .wasm files [default: <data>/connectors].
    #[arg(long)]
    connectors: Option<PathBuf>,
    /// The admin key (otherwise the stored one, or a new one printed once).
    #[arg(long, env = "SWITCHYARD_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Memory cap of one connector instance, in MiB.
    #[arg(long, default_value_t = 64)]
    memory_limit_mib: usize,
    /// Deadline of one connector call, in seconds.
    #[arg(long, default_value_t = 60)]
    call_timeout_secs: u64,
    /// Points a connector at another API base (a simulator, a regional
    /// endpoint), e.g. `hubspot=http://127.0.0.1:9101`; that host may then be
    /// reached over http too. Repeatable.
    #[arg(long = "connector-base", value_name = "ID=URL")]
    connector_bases: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = HostConfig::new(args.listen, args.data);
    config.connectors_dir = args.connectors;
    config.admin_key = args.admin_key.filter(|k| !k.is_empty());
    config.limits.memory_bytes = args.memory_limit_mib << 20;
    config.limits.call_timeout = Duration::from_secs(args.call_timeout_secs);
    for spec in &args.connector_bases {
        let Some((id, url)) = spec.split_once('=') else {
            bail!("--connector-base must look like ID=URL (got {spec:?})");
        };
        url::Url::parse(url).with_context(|| format!("--connector-base {spec:?}: invalid URL"))?;
        config.overrides.insert(
            id.to_owned(),
            ConnectorOverride {
                api_base: Some(url.to_owned()),
                allowed_hosts: Vec::new(),
            },
        );
    }
    let host = server::start(config).await?;
    if let Some(key) = &host.generated_admin_key {
        println!(
            "Generated the admin key. It is shown only this once; keep it safe:\n\n    SWITCHYARD_ADMIN_KEY={key}\n"
        );
    }
    println!("Switchyard is listening on {}", host.url());
    let shutdown = tokio::signal::ctrl_c();
    tokio::select! {
        served = host.wait() => served.context("the server stopped")?,
        _ = shutdown => tracing::info!("shutting down"),
    }
    Ok(())
}
