//! The Rust bindings wit-bindgen generates from `wit/v0.2.0/connector.wit`,
//! the contract version this SDK builds against.
//!
//! Connector authors never touch this module: the crate root re-exports the
//! contract's types under friendly names, and [`export_connector!`](crate::export_connector)
//! drives the generated export macro.

wit_bindgen::generate!({
    path: "../../wit/v0.2.0",
    world: "connector-world",
    additional_derives: [PartialEq],
    pub_export_macro: true,
    export_macro_name: "export_connector_world",
    default_bindings_module: "switchyard_connector_sdk::bindings",
});
