//! What the pages show (views only: their handlers are in [`crate::pages`]),
//! with every asset embedded in the binary (no CDN, no build step:
//! hand-written HTML, CSS and vanilla JavaScript under `assets/`):
//!
//! - the end user's connect flow:
//!   [`steps`] (the flow and its header), [`picker`], [`key_form`],
//!   [`selection`] (data types, resources, passthrough objects), [`mapping`]
//!   (fields, with [`samples`] from `sample_data` pushes), [`outcome`];
//! - [`statistics`]: a transfer's live progress page;
//! - [`dashboard`]: the developer dashboard;
//! - [`layout`] (the shared shell, escaping, problem pages) and [`assets`].

pub mod assets;
pub mod dashboard;
pub mod key_form;
pub mod layout;
pub mod mapping;
pub mod outcome;
pub mod picker;
pub mod samples;
pub mod selection;
pub mod statistics;
pub mod steps;
