//! The `switchyard` binary: parses the command line and runs the host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use switchyard::sessions::sweeper::Retention;
use switchyard::telemetry::{self, LogFormat};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use switchyard::accounts::Accounts;
use switchyard::crypto::Sealer;
use switchyard::http::account_rate::AccountRateConfig;
use switchyard::net_policy::AddressPolicy;
use switchyard::runtime::RequestRate;
use switchyard::runtime::credentials::Secret;
use switchyard::server::{self, HostConfig, Stopped};
use switchyard::store::Db;

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
    Serve(Box<ServeArgs>),
    /// Manages API keys (in the data directory of a stopped host, or
    /// through a running host's admin API with --url).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Creates an API key for an account (created on first use); the key is
    /// shown once.
    Create {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        target: KeysTarget,
    },
    /// Revokes an API key by its id.
    Revoke {
        key_id: String,
        #[command(flatten)]
        target: KeysTarget,
    },
    /// Lists API keys (never their secrets).
    List {
        #[command(flatten)]
        target: KeysTarget,
    },
}

#[derive(clap::Args)]
struct KeysTarget {
    /// Data directory of a stopped host.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// A running host's URL: the call goes through its admin API instead.
    #[arg(long)]
    url: Option<String>,
    /// The admin key, for --url.
    #[arg(long, env = "SWITCHYARD_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// From `SWITCHYARD_ENCRYPTION_KEY`, as for `serve`.
    #[arg(long, env = "SWITCHYARD_ENCRYPTION_KEY", hide_env_values = true)]
    encryption_key: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// How log lines are written to standard output.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Export traces over OTLP/HTTP to this collector (e.g.
    /// http://localhost:4318; `/v1/traces` is added).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
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
    /// The request rate of the provider accounts a connector serves, when it
    /// differs from the rate the connector declares (a higher tier), e.g.
    /// `hubspot=190/10` for 190 requests per 10 s. Repeatable.
    #[arg(long = "connector-rate", value_name = "ID=REQUESTS/SECONDS")]
    connector_rates: Vec<String>,
    /// This host's OAuth app at a provider: `hubspot=CLIENT_ID:CLIENT_SECRET`.
    /// Repeatable.
    #[arg(
        long = "oauth-client",
        value_name = "ID=CLIENT_ID:SECRET",
        env = "SWITCHYARD_OAUTH_CLIENTS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    oauth_clients: Vec<String>,
    /// Replaces a provider's OAuth authorize URL: `hubspot=URL`. Repeatable.
    #[arg(long = "oauth-authorize-url", value_name = "ID=URL")]
    oauth_authorize_urls: Vec<String>,
    /// Replaces a provider's OAuth token URL: `hubspot=URL`. Repeatable.
    #[arg(long = "oauth-token-url", value_name = "ID=URL")]
    oauth_token_urls: Vec<String>,
    /// The URL browsers and apps reach this host at [default: http://<listen>].
    #[arg(long)]
    public_url: Option<String>,
    /// 32 bytes in base64 that seal credentials at rest [default: the key
    /// file <data>/encryption.key, created on first start].
    #[arg(long, env = "SWITCHYARD_ENCRYPTION_KEY", hide_env_values = true)]
    encryption_key: Option<String>,
    /// Longest wait of a `synchronous` transfer trigger, in seconds.
    #[arg(long, default_value_t = 300)]
    synchronous_cap_secs: u64,
    /// Lifetime of sessions without `save_session`, in seconds.
    #[arg(long, default_value_t = 72 * 3600)]
    session_ttl_secs: u64,
    /// Transfer steps run at once.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Sync pulls list every record (to find deletions the provider does not
    /// flag) when the last full listing is older than this many hours.
    #[arg(long, default_value_t = 24)]
    full_resync_hours: u64,
    /// Transfers one account may have waiting; triggers past it answer 429.
    #[arg(long, default_value_t = 10_000)]
    max_waiting_transfers: usize,
    /// API requests per second one account may send (its API keys
    /// together); past it requests answer 429 with Retry-After. 0 for no
    /// limit.
    #[arg(long, default_value_t = 100)]
    api_requests_per_second: u32,
    /// API requests an idle account may send at once [default: twice
    /// --api-requests-per-second].
    #[arg(long)]
    api_request_burst: Option<u32>,
    /// Days the records of a finished transfer (pulled records, push
    /// results) are kept; then `GET /api/{pull,push}/data` answers 410. 0
    /// keeps them as long as their session.
    #[arg(long, default_value_t = 30)]
    records_retention_days: u64,
    /// Hours the records of a continuous re-pull are kept once the app has
    /// read them to the end (unread ones follow --records-retention-days).
    /// 0 keeps them as long as other records.
    #[arg(long, default_value_t = 24)]
    continuous_read_retention_hours: u64,
    /// Memory the database may keep as its cache, in MiB.
    #[arg(long, default_value_t = switchyard::store::DEFAULT_CACHE_MIB)]
    cache_mib: u64,
    /// Also serve `GET /metrics` on this address, without the admin key
    /// (for a Prometheus scraper on a private network).
    #[arg(long, env = "SWITCHYARD_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Provider requests kept in each session's request log (`GET /api/logs`).
    #[arg(long, default_value_t = switchyard::request_log::DEFAULT_MAX_PER_SESSION)]
    request_log_max_per_session: usize,
    /// Days provider requests are kept in the request log.
    #[arg(long, default_value_t = 7)]
    request_log_retention_days: u64,
    /// Sessions one account may have; creating more answers 429 until some
    /// are deleted (or expire). 0 for no limit.
    #[arg(long, default_value_t = switchyard::server::DEFAULT_MAX_SESSIONS_PER_ACCOUNT)]
    max_sessions_per_account: usize,
    /// Pulled records one account may store (all its sessions' pulls);
    /// past it new pulls answer 429 and running ones stop, failed, until
    /// sessions are deleted. 0 for no limit.
    #[arg(long, default_value_t = switchyard::transfer::DEFAULT_MAX_STORED_RECORDS)]
    max_stored_records_per_account: u64,
    /// Pages or batches of one session that may run at once (never more
    /// than the connector's declared concurrent requests).
    #[arg(long, default_value_t = 4)]
    steps_per_session: usize,
    /// Runs every provider's simulator inside the host and points the
    /// connectors at them (needs the `sandbox` feature). Webhooks may then
    /// go to this machine's loopback addresses.
    #[arg(long)]
    sandbox: bool,
    /// Lets webhooks go to private-network and loopback addresses, for
    /// receivers on the host's own network. Without it they go to public
    /// addresses only, so an API key cannot make the host call its
    /// neighbours.
    #[arg(long)]
    allow_private_webhooks: bool,
}

/// `ID=VALUE`.
fn split_spec<'a>(flag: &str, spec: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    spec.split_once('=')
        .filter(|(id, v)| !id.is_empty() && !v.is_empty())
        .with_context(|| format!("{flag} must look like ID=VALUE (got {spec:?})"))
}

/// `REQUESTS/SECONDS`, both positive whole numbers.
fn parse_rate(text: &str) -> Option<RequestRate> {
    let (requests, seconds) = text.split_once('/')?;
    let requests: u32 = requests.trim().parse().ok().filter(|n| *n > 0)?;
    let seconds: u32 = seconds.trim().parse().ok().filter(|n| *n > 0)?;
    Some(RequestRate {
        requests,
        window_ms: seconds.checked_mul(1000)?,
    })
}

fn main() -> anyhow::Result<()> {
    ignore_file_size_signal();
    private_files();
    let cli = Cli::parse();
    // Before the async runtime: the trace exporter's client has its own.
    let _telemetry = match &cli.command {
        Command::Serve(args) => telemetry::install(args.log_format, args.otlp_endpoint.as_deref()),
        Command::Keys(_) => telemetry::install(LogFormat::Text, None),
    }?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(*args)),
        Command::Keys(command) => runtime.block_on(keys(command)),
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
        config.overrides.entry(id.to_owned()).or_default().api_base = Some(url.to_owned());
    }
    for spec in &args.connector_rates {
        let (id, rate) = split_spec("--connector-rate", spec)?;
        let rate = parse_rate(rate).with_context(|| {
            format!("--connector-rate must look like ID=REQUESTS/SECONDS, e.g. hubspot=190/10 (got {spec:?})")
        })?;
        config.overrides.entry(id.to_owned()).or_default().rate = Some(rate);
    }
    for spec in &args.oauth_clients {
        let (id, pair) = split_spec("--oauth-client", spec)?;
        let (client_id, secret) = pair
            .split_once(':')
            .context("--oauth-client must look like ID=CLIENT_ID:CLIENT_SECRET")?;
        let client = config.oauth.entry(id.to_owned()).or_default();
        client.client_id = client_id.to_owned();
        client.client_secret = Secret::new(secret);
    }
    for spec in &args.oauth_authorize_urls {
        let (id, url) = split_spec("--oauth-authorize-url", spec)?;
        config.oauth.entry(id.to_owned()).or_default().authorize_url = Some(url.to_owned());
    }
    for spec in &args.oauth_token_urls {
        let (id, url) = split_spec("--oauth-token-url", spec)?;
        config.oauth.entry(id.to_owned()).or_default().token_url = Some(url.to_owned());
    }
    config.public_url = args.public_url;
    config.encryption_key = args.encryption_key.filter(|k| !k.is_empty());
    config.synchronous_cap = Duration::from_secs(args.synchronous_cap_secs);
    config.session_ttl = Duration::from_secs(args.session_ttl_secs);
    config.transfers.workers = args.workers.max(1);
    config.transfers.full_resync = Duration::from_secs(args.full_resync_hours * 3600);
    config.transfers.max_waiting_per_account = args.max_waiting_transfers.max(1);
    config.transfers.max_stored_records_per_account =
        (args.max_stored_records_per_account > 0).then_some(args.max_stored_records_per_account);
    config.transfers.steps_per_session = args.steps_per_session.max(1);
    config.account_rate = AccountRateConfig::per_second(args.api_requests_per_second);
    if let Some(burst) = args.api_request_burst {
        config.account_rate.burst = burst;
    }
    config.max_sessions_per_account = args.max_sessions_per_account;
    config.cache_bytes = args.cache_mib.max(1) << 20;
    config.metrics_listen = args.metrics_listen;
    config.request_log = switchyard::request_log::LogRetention {
        max_per_session: args.request_log_max_per_session,
        max_age: Duration::from_secs(args.request_log_retention_days.max(1) * 24 * 3600),
    };
    config.retention = Retention {
        records: (args.records_retention_days > 0)
            .then(|| Duration::from_secs(args.records_retention_days * 24 * 3600)),
        read_continuous: (args.continuous_read_retention_hours > 0)
            .then(|| Duration::from_secs(args.continuous_read_retention_hours * 3600)),
    };
    if args.allow_private_webhooks {
        config.webhooks.address_policy = AddressPolicy::allow_private();
    }
    #[cfg(feature = "sandbox")]
    let _sandbox = if args.sandbox {
        Some(
            switchyard::sandbox::start(&mut config)
                .await
                .context("starting the sandbox simulators")?,
        )
    } else {
        None
    };
    #[cfg(not(feature = "sandbox"))]
    if args.sandbox {
        bail!(
            "this build has no sandbox: build with `--features sandbox` (cargo xtask serve does)"
        );
    }
    let host = server::start(config).await?;
    // Messages for the operator; with JSON logs they go to standard error,
    // so standard output holds log lines only.
    let say = |text: String| match args.log_format {
        LogFormat::Text => println!("{text}"),
        LogFormat::Json => eprintln!("{text}"),
    };
    if let Some(key) = &host.generated_admin_key {
        say(format!(
            "Generated the admin key. It is shown only this once; keep it safe:\n\n    SWITCHYARD_ADMIN_KEY={key}\n"
        ));
    }
    say(format!("Switchyard is listening on {}", host.url()));
    if args.sandbox {
        say(format!(
            "Sandbox mode: every provider is simulated locally. Connect an account on the session page, or attach\n\
             credentials with POST /api/session/credentials and {{\"access_token\": \"sandbox\"}}.\n\
             Webhooks may go to {}.",
            host.state.config.webhook_policy
        ));
    }
    let shutdown = tokio::signal::ctrl_c();
    tokio::select! {
        stopped = host.wait() => match stopped.context("the server stopped")? {
            Stopped::Served => {}
            Stopped::StorageRecovered => restart()?,
        },
        _ = shutdown => tracing::info!("shutting down"),
    }
    Ok(())
}

/// Replaces this process with a fresh `switchyard` with the same arguments
/// and environment: the only way to reopen a database after a storage
/// failure (see `store::recovery`). Like a restart after a crash, it loses
/// nothing acknowledged; the listening address is free again at once.
fn restart() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    tracing::warn!("restarting to reopen the database after the storage failure");
    let exe = std::env::current_exe().context("finding this executable to restart it")?;
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(err).context("restarting after the storage failure")
}

/// Files and directories the host creates (the database's, the compile
/// cache's, uploaded connectors) are its user's alone (see
/// `switchyard::data_dir`).
fn private_files() {
    // SAFETY: umask only sets the process's file-creation mask; it cannot
    // fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// A full disk quota (`ulimit -f`) must fail the write with an error the host
/// reports, not kill it with `SIGXFSZ`.
fn ignore_file_size_signal() {
    // SAFETY: setting a signal to SIG_IGN installs no handler code and is
    // done before any other thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let target = match &command {
        KeysCommand::Create { target, .. }
        | KeysCommand::Revoke { target, .. }
        | KeysCommand::List { target } => target,
    };
    if let Some(url) = &target.url {
        return keys_over_http(url, target.admin_key.as_deref(), &command).await;
    }
    let db = Db::open(&target.data.join("db")).with_context(|| {
        format!(
            "opening {} (if the host is running, pass --url http://HOST:PORT and the admin key instead)",
            target.data.display()
        )
    })?;
    let sealer = Sealer::provision(target.encryption_key.as_deref(), &target.data)?;
    let accounts = Accounts::new(db, sealer);
    match &command {
        KeysCommand::Create { account, .. } => {
            let created = accounts.create_key(account).await?;
            println!(
                "Created API key {} for account {account}. It is shown only this once:\n\n    {}\n",
                created.key.key_id, created.secret
            );
        }
        KeysCommand::Revoke { key_id, .. } => {
            if !accounts.revoke(key_id).await? {
                bail!("no API key {key_id}");
            }
            println!("Revoked {key_id}.");
        }
        KeysCommand::List { .. } => {
            for k in accounts.keys(None)? {
                println!(
                    "{}\t{}\t{}…\t{}",
                    k.key_id,
                    k.account,
                    k.hint,
                    if k.revoked { "revoked" } else { "active" }
                );
            }
        }
    }
    Ok(())
}

async fn keys_over_http(
    url: &str,
    admin_key: Option<&str>,
    command: &KeysCommand,
) -> anyhow::Result<()> {
    let admin_key =
        admin_key.context("--url needs the admin key (--admin-key or SWITCHYARD_ADMIN_KEY)")?;
    let client = reqwest::Client::new();
    let base = url.trim_end_matches('/');
    let request = match command {
        KeysCommand::Create { account, .. } => client
            .post(format!("{base}/api/admin/keys"))
            .json(&serde_json::json!({ "account": account })),
        KeysCommand::Revoke { key_id, .. } => {
            client.delete(format!("{base}/api/admin/keys/{key_id}"))
        }
        KeysCommand::List { .. } => client.get(format!("{base}/api/admin/keys")),
    };
    let response = request.bearer_auth(admin_key).send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "{status}: {}",
            body["message"].as_str().unwrap_or("request failed")
        );
    }
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_requests_per_whole_seconds() {
        assert_eq!(
            parse_rate("190/10"),
            Some(RequestRate {
                requests: 190,
                window_ms: 10_000
            })
        );
        for bad in ["", "190", "0/10", "10/0", "-1/10", "ten/10", "10/1.5"] {
            assert_eq!(parse_rate(bad), None, "{bad:?}");
        }
    }
}
