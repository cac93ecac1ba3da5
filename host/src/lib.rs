//! Switchyard: a self-hosted, Endgrate-compatible unified API whose provider
//! connectors are sandboxed WebAssembly components.
//!
//! - [`runtime`]: loads, sandboxes and hot-swaps connector components.
//! - [`api`]: the HTTP API.
//! - [`store`]: state on disk (sled).
//! - [`server`]: wires them together into a running host.

pub mod admin_key;
pub mod api;
pub mod runtime;
pub mod server;
pub mod store;
pub mod time;
