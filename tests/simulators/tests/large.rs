//! One large data set: 100,000 contacts and 20,000 companies are served and
//! counted quickly, and a "changed since" search over them stays cheap.

mod common;

use std::time::Instant;

use serde_json::{Value, json};
use switchyard_simulators::{Provider, SimConfig};

#[tokio::test]
async fn hundred_thousand_contacts() {
    let started = Instant::now();
    let config = SimConfig {
        contacts: 100_000,
        companies: 20_000,
        rate_limit: false,
        ..Default::default()
    };
    let sim = common::start(Provider::HubSpot, config).await;
    let held = sim.control().records_held();
    assert_eq!(held["contacts"], 100_000);
    assert_eq!(held["companies"], 20_000);

    let snapshot = Instant::now();
    let contacts = sim.control().contacts();
    let elapsed = snapshot.elapsed();
    assert_eq!(contacts.len(), 100_000);
    assert_eq!(contacts[99_999]["id"], "100000");
    assert!(contacts.iter().take(1000).all(|c| {
        c["properties"]["email"]
            .as_str()
            .is_some_and(|e| e.contains('@'))
    }));
    eprintln!("100k contact snapshot in {elapsed:?}");

    let token = sim.control().issue_access_token();
    let cutoff = contacts[99_900]["properties"]["lastmodifieddate"]
        .as_str()
        .expect("date")
        .to_string();
    let page: Value = common::client()
        .post(format!("{}/crm/v3/objects/contacts/search", sim.base_url()))
        .bearer_auth(&token)
        .json(&json!({
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": cutoff}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "limit": 100,
        }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 100);
    assert_eq!(page["results"][0]["id"], "99901");

    // Listing archived contacts only looks at written rows.
    let http = common::client();
    let resp = http
        .delete(format!("{}/crm/v3/objects/contacts/50000", sim.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 204);
    let archived: Value = http
        .get(format!(
            "{}/crm/v3/objects/contacts?archived=true",
            sim.base_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(archived["results"][0]["id"], "50000");
    assert!(archived.get("paging").is_none());
    assert_eq!(sim.control().records_held()["contacts"], 99_999);
    eprintln!("whole test in {:?}", started.elapsed());
}
