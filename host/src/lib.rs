//! Switchyard: a self-hosted, Endgrate-compatible unified API whose provider
//! connectors are sandboxed WebAssembly components.
//!
//! - [`runtime`]: loads, sandboxes and hot-swaps connector components.
//! - [`routes`]: the endpoint table, the router and the OpenAPI document;
//!   [`api`]: the JSON API's handlers; [`pages`]: the pages' handlers;
//!   [`http`]: what they share.
//! - [`store`]: state on disk (sled).
//! - [`ui`]: the connect pages, the statistics page and the dashboard.
//! - [`server`]: wires them together into a running host.

// The OpenAPI document's schema table is one `json!` literal, deeper than
// the default limit of 128 macro expansions.
#![recursion_limit = "256"]

pub mod accounts;
pub mod admin_key;
pub mod api;
pub mod cdm;
pub mod connections;
pub mod credentials;
pub mod crypto;
pub mod data_dir;
pub mod errors;
pub mod http;
pub mod metrics;
pub mod net_policy;
pub mod pages;
pub mod request_log;
pub mod routes;
pub mod runtime;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod server;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod transfer;
pub mod ui;
pub mod webhooks;
pub mod wire;
pub mod work;
