//! End-to-end tests of the Endgrate-compatible API: each starts its own host
//! on a free loopback port, with the HubSpot connector against a HubSpot
//! simulator, and talks to it over HTTP as an app would.

mod conforms;
mod harness;

mod auth;
mod contract_v0_1;
mod crash;
mod credential_changes;
mod custom_objects;
mod fairness;
mod faults;
mod fuzz;
mod hostile;
mod lifecycle;
mod limits;
mod observability;
mod openapi;
mod options;
mod pages;
mod passthrough;
mod process;
mod proxy;
mod push;
mod quick_start;
mod quotas;
mod retention;
mod schemas;
mod security;
mod storage;
mod takeover;
mod transfer_actions;
mod validation;
mod webhook_delivery;
mod webhook_log;
mod webhooks;
