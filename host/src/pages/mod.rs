//! The pages' handlers: the end user's connect flow ([`connect`]), a
//! transfer's live statistics ([`statistics`]), the developer dashboard
//! ([`dashboard`]) and the pages' embedded files ([`assets`]). What they
//! show is drawn by [`crate::ui`]; what they share with the JSON API is in
//! [`crate::http`].

pub mod assets;
pub mod connect;
pub mod dashboard;
pub mod statistics;
