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
