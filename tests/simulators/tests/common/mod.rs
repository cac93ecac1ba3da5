//! Helpers shared by the simulator tests.
#![allow(dead_code)]

use switchyard_simulators::{Provider, SimConfig, Simulator};

/// A small data set with limits off unless a test turns them on.
pub fn small(contacts: usize, companies: usize) -> SimConfig {
    SimConfig {
        contacts,
        companies,
        invoices: 20,
        rate_limit: false,
        ..Default::default()
    }
}

pub async fn start(provider: Provider, config: SimConfig) -> Simulator {
    Simulator::start(provider, config)
        .await
        .expect("simulator starts")
}

/// A client that does not follow redirects (the OAuth tests read them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The query parameters of a redirect's `Location`.
pub fn location_params(resp: &reqwest::Response) -> Vec<(String, String)> {
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let query = location
        .split_once('?')
        .map(|(_, q)| q.to_string())
        .unwrap_or_default();
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3A", ":").replace("%2F", "/")))
        .collect()
}

pub fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}
