//! Runs one or all simulators for manual use and demos:
//! `switchyard-simulators --provider hubspot --listen 127.0.0.1:9101 --contacts 1000`.
//! With `--provider all`, the four listen on consecutive ports from `--listen`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use switchyard_simulators::{Provider, RateLimit, SimConfig, Simulator};

#[derive(Debug, Parser)]
#[command(about = "Local provider API simulators (HubSpot, QuickBooks, Salesforce, Pipedrive)")]
struct Args {
    /// hubspot, quickbooks, salesforce, pipedrive or all.
    #[arg(long, default_value = "all")]
    provider: String,
    /// Address to listen on (the first of four consecutive ports with `all`).
    #[arg(long, default_value = "127.0.0.1:9101")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 1000)]
    contacts: usize,
    #[arg(long, default_value_t = 200)]
    companies: usize,
    #[arg(long, default_value_t = 500)]
    invoices: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Turn the provider's rate limits off.
    #[arg(long)]
    no_rate_limit: bool,
    /// Replace the provider's limit: at most N requests ...
    #[arg(long, requires = "rate_window_ms")]
    rate_max: Option<u32>,
    /// ... per this many milliseconds.
    #[arg(long, requires = "rate_max")]
    rate_window_ms: Option<u64>,
    /// Access-token lifetime in seconds (default: the provider's).
    #[arg(long)]
    token_lifetime: Option<u64>,
    #[arg(long, default_value = "switchyard-client")]
    client_id: String,
    #[arg(long, default_value = "switchyard-secret")]
    client_secret: String,
    /// Static tokens (private-app tokens, API tokens); repeatable.
    #[arg(long = "static-token", default_value = "static-token")]
    static_tokens: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let providers: Vec<Provider> = if args.provider == "all" {
        Provider::ALL.to_vec()
    } else {
        vec![args.provider.parse()?]
    };
    let mut running = Vec::new();
    for (i, provider) in providers.into_iter().enumerate() {
        let mut listen = args.listen;
        listen.set_port(args.listen.port() + i as u16);
        let config = SimConfig {
            listen: Some(listen),
            contacts: args.contacts,
            companies: args.companies,
            invoices: args.invoices,
            seed: args.seed,
            rate_limit: !args.no_rate_limit,
            rate_limit_policy: args
                .rate_max
                .zip(args.rate_window_ms)
                .map(|(max, ms)| RateLimit {
                    max,
                    window: Duration::from_millis(ms),
                }),
            token_lifetime: args.token_lifetime.map(Duration::from_secs),
            client_id: args.client_id.clone(),
            client_secret: args.client_secret.clone(),
            static_tokens: args.static_tokens.clone(),
            redirect_uris: Vec::new(),
            rotate_refresh_tokens: None,
        };
        let sim = Simulator::start(provider, config).await?;
        println!(
            "{:<18} api {}  authorize {}  token {}",
            provider.display_name(),
            sim.api_base_url(),
            sim.authorize_url(),
            sim.token_url()
        );
        running.push(sim);
    }
    tokio::signal::ctrl_c().await?;
    for sim in running {
        sim.stop().await;
    }
    Ok(())
}
