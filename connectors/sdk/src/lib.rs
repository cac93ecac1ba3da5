//! Write Switchyard provider connectors in plain Rust.
//!
//! A connector is a WebAssembly component that teaches the Switchyard host how
//! to talk to one provider. The host owns credentials, rate limits, retries,
//! token refresh, the transfer queue and batching; a connector describes
//! itself, turns provider pages into common-data-model records, and turns
//! common-data-model records into provider writes. This crate hides the
//! component plumbing: you implement one trait and call one macro.
//!
//! # A connector in one file
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "acme"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]   # built for wasm32-wasip2, the cdylib is the component
//!
//! [dependencies]
//! switchyard-connector-sdk = { path = "../sdk" }
//! serde = { version = "1", features = ["derive"] }
//! serde_json = "1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use serde::Deserialize;
//! use serde_json::json;
//! use switchyard_connector_sdk::prelude::*;
//!
//! /// Every request goes through this, so every error names the provider.
//! const API: Api = Api::new("Acme");
//!
//! struct Acme;
//!
//! #[derive(Deserialize)]
//! struct ContactsPage {
//!     data: Vec<AcmeContact>,
//!     next_cursor: Option<String>,
//! }
//!
//! #[derive(Deserialize)]
//! struct AcmeContact {
//!     id: String,
//!     name: String,
//! }
//!
//! impl Connector for Acme {
//!     fn describe() -> Manifest {
//!         Manifest {
//!             id: "acme".into(),
//!             display_name: "Acme".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             category: "crm".into(),
//!             homepage: "https://acme.example".into(),
//!             logo_svg: String::new(),
//!             auth: AuthSpec::ApiKey(vec![ApiKeyField {
//!                 name: "api_key".into(),
//!                 label: "API key".into(),
//!                 secret: true,
//!             }]),
//!             credential_placement: CredentialPlacement::Authorization("Bearer".into()),
//!             api_base: "https://api.acme.example".into(),
//!             allowed_hosts: vec!["api.acme.example".into()],
//!             integrations: vec![Integration {
//!                 endgrate_type: "crm-contact".into(),
//!                 display_name: "Acme Contacts".into(),
//!                 resource: "contacts".into(),
//!                 supports_pull: true,
//!                 supports_push: false,
//!                 supports_associations: false,
//!                 is_custom_object: false,
//!                 paging: Vec::new(),
//!             }],
//!             batch_limits: BatchLimits { max_page_size: 100, max_push_batch: 1, max_lookup_batch: 0 },
//!             rate_limit: RateLimit { requests: 10, window_ms: 1_000, max_concurrent: 0 },
//!             rate_classes: Vec::new(),
//!             idempotent_creates: false,
//!         }
//!     }
//!
//!     fn check(_conn: &Connection) -> Result<(), ConnectorError> {
//!         API.get("/me").send()?.error_for_status()?;
//!         Ok(())
//!     }
//!
//!     fn pull(_conn: &Connection, req: PullRequest) -> Result<Page, ConnectorError> {
//!         let page: ContactsPage = API
//!             .get("/contacts")
//!             .query("limit", req.page_size)
//!             .query_opt("cursor", req.cursor.as_deref())
//!             .send_json()?;
//!         let records = page
//!             .data
//!             .iter()
//!             .map(|c| PulledRecord::new(&c.id, &json!({ "first_name": c.name })))
//!             .collect::<Result<_, _>>()?;
//!         Ok(Page::new(records, page.next_cursor))
//!     }
//! }
//!
//! switchyard_connector_sdk::export_connector!(Acme);
//! # fn main() {}
//! ```
//!
//! `cargo build --release` inside `connectors/` (its `.cargo/config.toml`
//! targets `wasm32-wasip2`) writes the component to
//! `connectors/target/wasm32-wasip2/release/acme.wasm`.
//!
//! # Testing natively
//!
//! Outside WebAssembly, requests go to a [`testing::MockHttp`] that your test
//! installs, so connector logic runs under plain `cargo test --target
//! x86_64-unknown-linux-gnu`:
//!
//! ```text
//! let mock = MockHttp::new();
//! mock.on("GET", "/contacts").reply_json(200, json!({"data": [], "next_cursor": null}));
//! let page = Acme::pull(&Connection::new("https://api.acme.example", json!({})),
//!                       PullRequest::new("crm-contact", 100))?;
//! assert_eq!(mock.requests()[0].url, "/contacts?limit=100");
//! ```
//!
//! # What is where
//!
//! - [`Connector`] and [`export_connector!`]: what you implement and export.
//! - [`http`]: [`Api`](http::Api), the request builder, and
//!   [`Response`](http::Response).
//! - [`ConnectorError`]: one constructor per variant and
//!   [`ConnectorError::from_status`] for provider error answers.
//! - [`json`]: typed JSON for settings, parameters and records;
//!   [`cursor`]: state packed into paging cursors.
//! - [`cdm`]: the common data model's records as structs
//!   ([`CrmContact`](cdm::CrmContact), [`CrmCompany`](cdm::CrmCompany), ...).
//! - [`log`]: diagnostics. A panic is logged as `connector panicked: ...`
//!   before the instance traps.

#[doc(hidden)]
pub mod bindings;
pub mod cdm;
mod connector;
pub mod cursor;
mod error;
pub mod http;
pub mod json;
pub mod log;
pub mod lookups;
mod panic;
mod subject;
pub mod testing;
mod transport;
mod urls;

pub use bindings::switchyard::connector::types::{
    ApiKeyField, AuthSpec, BatchLimits, ClientAuth, Connection, ConnectorError,
    CredentialPlacement, CursorPaging, FieldInfo, Integration, Json, Manifest, Oauth2Spec,
    ObjectInfo, Page, Paging, PullRequest, PulledRecord, PushItem, Pushed, RateClass, RateLimit,
};
pub use connector::Connector;
pub use subject::Subject;

/// Everything a connector usually needs, in one `use`.
pub mod prelude {
    pub use crate::http::{Api, Method, Response};
    pub use crate::{
        ApiKeyField, AuthSpec, BatchLimits, ClientAuth, Connection, Connector, ConnectorError,
        CredentialPlacement, CursorPaging, FieldInfo, Integration, Json, Manifest, Oauth2Spec,
        ObjectInfo, Page, Paging, PullRequest, PulledRecord, PushItem, Pushed, RateClass,
        RateLimit, Subject, export_connector, log,
    };
}

/// Implementation details of [`export_connector!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::export_connector_world;
    pub use crate::connector::Export;
}

/// Exports a [`Connector`] implementation as the component's `connector`
/// interface. Call it once, at the top level of the connector crate:
///
/// ```text
/// switchyard_connector_sdk::export_connector!(Acme);
/// ```
///
/// Outside WebAssembly it only checks that the type implements [`Connector`],
/// so the crate still builds for native tests.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[cfg(target_family = "wasm")]
        const _: () = {
            type SwitchyardConnectorExport = $crate::__private::Export<$connector>;
            $crate::__private::export_connector_world!(
                SwitchyardConnectorExport with_types_in $crate::bindings
            );
        };
        #[cfg(not(target_family = "wasm"))]
        const _: () = {
            fn exported<C: $crate::Connector>() {}
            let _ = exported::<$connector>;
        };
    };
}
