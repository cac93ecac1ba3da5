//! Local simulators of the providers' HTTP APIs (HubSpot, QuickBooks Online,
//! Salesforce, Pipedrive), each an HTTP server on its own loopback port, for
//! the tests, the benchmarks and `cargo xtask serve`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use switchyard_simulators::{Provider, SimConfig, Simulator};
//! let sim = Simulator::start(Provider::HubSpot, SimConfig { contacts: 1000, ..Default::default() }).await?;
//! let token = sim.control().issue_access_token();
//! let url = format!("{}/crm/v3/objects/contacts?limit=100", sim.base_url());
//! # let _ = (token, url);
//! sim.control().throttle_next(2); // the next two API calls answer 429
//! # Ok(()) }
//! ```
//!
//! Every simulator serves the provider's real paths, payload shapes, paging,
//! OAuth flow, rate limits and error bodies (see `shared/providers.md`), plus
//! control endpoints under `/_sim/...` mirroring [`Control`].
//!
//! | provider | API base | records (`Control::records` kinds) | OAuth authorize / token |
//! | --- | --- | --- | --- |
//! | HubSpot | `base_url()` | `contacts`, `companies`, `projects` (custom object `2-7411001`) | `/oauth/authorize`, `/oauth/v1/token` |
//! | QuickBooks | `base_url()/v3/company/{realmId}` | `Customer`, `Invoice` | `/connect/oauth2`, `/oauth2/v1/tokens/bearer` |
//! | Salesforce | `instance_url` = `base_url()` | `Contact`, `Account`, `projects` (custom object `Project__c`) | `/services/oauth2/authorize`, `/services/oauth2/token` |
//! | Pipedrive | `api_domain` = `base_url()` | `persons`, `organizations` | `/oauth/authorize`, `/oauth/token` |
//!
//! The authorize pages show a consent form with an Approve button; add
//! `auto_approve=true` to the query to be redirected at once. Static tokens
//! (`SimConfig::static_tokens`) work as HubSpot private-app tokens,
//! Pipedrive API tokens (`x-api-token` or `?api_token=`) and bearer tokens
//! everywhere; [`Control::issue_access_token`] mints an OAuth token directly.
//!
//! Data is derived from `SimConfig::seed`: record `n` of a kind is a pure
//! function of the seed and `n`, generated when first read, so start-up
//! costs nothing and only written records are held in memory. Generated
//! modification times grow with the id; writes get the wall clock.

mod clock;
mod config;
mod context;
mod control;
mod data;
mod faults;
mod guard;
mod oauth;
mod params;
mod rate_limit;
mod server;
mod store;

mod hubspot;
mod pipedrive;
mod quickbooks;
mod salesforce;

pub use config::{RateLimit, SimConfig};
pub use control::Control;
pub use faults::FaultSettings;
pub use server::{Provider, Simulator};
