//! Sandbox mode (`switchyard serve --sandbox`, what `cargo xtask serve` runs
//! when no provider credentials are configured): the provider simulators
//! start inside the host, every connector is pointed at its simulator and
//! offered as "<Provider> (sandbox)", the OAuth flow signs in at the
//! simulator's consent page, and the static access token `sandbox` works for
//! every provider through `POST /api/session/credentials`, with the
//! connection settings each needs filled in. Webhooks may go to loopback
//! addresses, so a receiver on the developer's machine gets them.

use serde_json::{Map, Value};
use switchyard_simulators::{Provider, SimConfig, Simulator};

use crate::credentials::oauth::OAuthClient;
use crate::runtime::ConnectorOverride;
use crate::runtime::credentials::Secret;
use crate::server::HostConfig;

/// The access token every sandbox provider accepts.
pub const SANDBOX_TOKEN: &str = "sandbox";

/// The simulators; they run as long as this is kept.
pub struct Sandbox {
    pub simulators: Vec<Simulator>,
}

/// Starts a simulator per provider and points `config` at them.
pub async fn start(config: &mut HostConfig) -> std::io::Result<Sandbox> {
    config.webhooks.address_policy.allow_loopback = true;
    tracing::info!(
        webhooks = %config.webhooks.address_policy,
        "sandbox mode: webhooks may go to receivers on this machine"
    );
    let mut simulators = Vec::new();
    for provider in Provider::ALL {
        let sim_config = SimConfig {
            contacts: 1000,
            companies: 200,
            invoices: 500,
            static_tokens: vec![SANDBOX_TOKEN.to_owned()],
            ..SimConfig::default()
        };
        let sim = Simulator::start(provider, sim_config.clone()).await?;
        let id = provider.name().to_owned();
        config.overrides.insert(
            id.clone(),
            ConnectorOverride {
                api_base: Some(sim.base_url()),
                allowed_hosts: Vec::new(),
                rate: None,
            },
        );
        config.oauth.insert(
            id.clone(),
            OAuthClient {
                client_id: sim_config.client_id.clone(),
                client_secret: Secret::new(sim_config.client_secret.clone()),
                authorize_url: Some(sim.authorize_url()),
                token_url: Some(sim.token_url()),
            },
        );
        config
            .display_names
            .insert(id.clone(), format!("{} (sandbox)", provider.display_name()));
        let mut settings = Map::new();
        match provider {
            Provider::QuickBooks => {
                settings.insert(
                    "realm_id".into(),
                    Value::String(sim.control().realm_id().to_owned()),
                );
            }
            Provider::Salesforce => {
                settings.insert("instance_url".into(), Value::String(sim.base_url()));
            }
            Provider::Pipedrive => {
                settings.insert("api_domain".into(), Value::String(sim.base_url()));
            }
            Provider::HubSpot => {}
        }
        config.default_settings.insert(id, settings);
        tracing::info!(provider = provider.name(), url = %sim.base_url(), "sandbox simulator started");
        simulators.push(sim);
    }
    Ok(Sandbox { simulators })
}
