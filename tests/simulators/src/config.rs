//! How a simulator is set up: data set sizes and seed, credentials, token
//! lifetimes and rate limits.

use std::net::SocketAddr;
use std::time::Duration;

/// A rate-limit policy: at most `max` requests per rolling `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

/// Settings for one simulator. `Default` gives a small data set, limits on at
/// the provider's real numbers and the provider's real token lifetime.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; `None` binds a free loopback port (`127.0.0.1:0`).
    pub listen: Option<SocketAddr>,
    /// People: HubSpot contacts, Salesforce Contacts, Pipedrive persons,
    /// QuickBooks customers.
    pub contacts: usize,
    /// Organisations: HubSpot companies, Salesforce Accounts, Pipedrive
    /// organizations (QuickBooks uses them as customers' company names).
    pub companies: usize,
    /// QuickBooks invoices (each references a customer).
    pub invoices: usize,
    /// Seed of the generated data (and of the fault injector's RNG).
    pub seed: u64,
    /// Enforce the provider's rate limits.
    pub rate_limit: bool,
    /// Replaces the provider's real limit (HubSpot 100/10 s, QuickBooks
    /// 500/min, Salesforce 100,000/day, Pipedrive 80/2 s) when set.
    pub rate_limit_policy: Option<RateLimit>,
    /// Access-token lifetime; `None` means the provider's real one (HubSpot
    /// 30 min, QuickBooks 1 h, Salesforce 2 h, Pipedrive 1 h).
    pub token_lifetime: Option<Duration>,
    /// The OAuth client the simulator accepts.
    pub client_id: String,
    pub client_secret: String,
    /// Tokens accepted without OAuth: HubSpot private-app tokens, Pipedrive
    /// API tokens (`x-api-token`), Salesforce session ids. QuickBooks has
    /// none in reality, but accepts these too for convenience.
    pub static_tokens: Vec<String>,
    /// Redirect URIs the authorize endpoint accepts; empty accepts any.
    pub redirect_uris: Vec<String>,
    /// Whether a refresh answers a new refresh token and retires the old
    /// one; `None` means the provider's default (QuickBooks rotates; HubSpot,
    /// Pipedrive and Salesforce, whose orgs can turn rotation on, do not).
    pub rotate_refresh_tokens: Option<bool>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: None,
            contacts: 200,
            companies: 40,
            invoices: 100,
            seed: 42,
            rate_limit: true,
            rate_limit_policy: None,
            token_lifetime: None,
            client_id: "switchyard-client".into(),
            client_secret: "switchyard-secret".into(),
            static_tokens: vec!["static-token".into()],
            redirect_uris: Vec::new(),
            rotate_refresh_tokens: None,
        }
    }
}
