//! The seeds' quick start, sent verbatim but for the base URL and key.

use serde_json::{Value, json};

use crate::harness::{TestHost, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_start_requests_work_unchanged() {
    let mut t = TestHost::start(sim_config(620, 40)).await;
    let key = t.key("acme").await;

    // Initiate Session, exactly as the quick start sends it.
    let (status, answer) = t
        .post(&key, "/api/session/initiate", json!({ "schema": [{ "endgrate_type": "crm-contact" }, { "endgrate_type": "crm-company" }] }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], true);
    let session = answer["session_id"].as_str().unwrap().to_owned();

    // The end user's part, done by the app with our credentials endpoint.
    t.attach(&key, &session).await;
    let (status, config) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["endgrate"]["provider"], "hubspot");
    assert_eq!(
        config["schemas"]["crm-contact"]["integration"],
        "get-contacts"
    );

    // Pull Data.
    let (status, answer) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "synchronous": true }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let transfer = answer["transfer_id"].as_str().unwrap().to_owned();
    assert_eq!(
        answer["statistics"],
        format!("{}/statistics?transfer_id={transfer}", t.url)
    );

    let (status, first) = t
        .get(
            &key,
            &format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={transfer}"),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["meta"]["count"], 620);
    assert_eq!(
        first["transfer_data"].as_array().unwrap().len(),
        250,
        "limit defaults to 250"
    );
    assert!(first["meta"].get("previous").is_none());
    assert_eq!(first["meta"]["next"]["offset"], 250);
    let rows = t.all_data(&key, "pull", "crm-contact", &transfer).await;
    let source = t.sim.control().contacts();
    assert_eq!(rows.len(), source.len());
    let mut pulled: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut expected: Vec<String> = source
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    pulled.sort();
    expected.sort();
    assert_eq!(pulled, expected, "every contact exactly once");
    let by_id: std::collections::HashMap<&str, &Value> = rows
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), &r["data"]))
        .collect();
    for contact in source.iter().take(50) {
        let data = by_id[contact["id"].as_str().unwrap()];
        let props = &contact["properties"];
        assert_eq!(data["first_name"], props["firstname"]);
        assert_eq!(data["last_name"], props["lastname"]);
        assert_eq!(data["email_addresses"][0]["email_address"], props["email"]);
    }

    // Statistics.
    let (status, stats) = t
        .call(
            "GET",
            &format!("/api/statistics?transfer_id={transfer}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(stats["method"], "IMPORT");
    assert_eq!(stats["completed"], true);
    assert_eq!(stats["statistics"]["records_transferred"], 620);
    assert_eq!(stats["statistics"]["provider"], "hubspot");

    // Push Data: the quick start's company, then the push guide's contacts with associations.
    let (status, answer) = t
        .post(&key, "/api/push/transfer", json!({
            "session_id": session, "endgrate_type": "crm-company",
            "transfer_data": [{ "data": { "company_name": "Endgrate", "website": "https://endgrate.com" } }]
        }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let push = answer["transfer_id"].as_str().unwrap().to_owned();
    crate::harness::eventually(std::time::Duration::from_secs(30), "the push", || {
        let (t, key, push) = (&t, &key, &push);
        async move {
            t.get(
                key,
                &format!("/api/push/data?endgrate_type=crm-company&transfer_id={push}"),
            )
            .await
            .0 == 200
        }
    })
    .await;
    let (_, pushed) = t
        .get(
            &key,
            &format!("/api/push/data?endgrate_type=crm-company&transfer_id={push}"),
        )
        .await;
    let id = pushed["transfer_data"][0]["id"]
        .as_str()
        .expect("a provider id")
        .to_owned();
    let company = t
        .sim
        .control()
        .record("companies", &id)
        .expect("created at HubSpot");
    assert_eq!(company["properties"]["name"], "Endgrate");
    assert_eq!(company["properties"]["domain"], "endgrate.com");

    let contacts = json!({
        "endgrate_type": "crm-contact",
        "session_id": session,
        "transfer_data": [
            { "data": { "first_name": "Bob", "last_name": "Smith" },
              "associations": { "crm-company": [
                  { "data": { "name": "Acme Corporation" }, "internal_id": "Company1" },
                  { "data": { "name": "Bacme Corporation" }, "internal_id": "Company2" } ] },
              "internal_id": "Contact1" },
            { "data": { "first_name": "David", "last_name": "Jones" },
              "associations": { "crm-company": [ { "data": { "name": "C Inc." }, "internal_id": "Company3" } ] },
              "internal_id": "Contact2" }
        ]
    });
    let push = t.transfer(&key, "/api/push/transfer", contacts).await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["internal_id"], "Contact1");
    assert_eq!(results[1]["internal_id"], "Contact2");
    assert!(
        results.iter().all(|r| r.get("error").is_none()),
        "{results:?}"
    );
    let bob = t
        .sim
        .control()
        .record("contacts", results[0]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(bob["properties"]["firstname"], "Bob");
    assert_eq!(
        results[0]["associations"]["crm-company"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let names: Vec<String> = t
        .sim
        .control()
        .companies()
        .iter()
        .filter_map(|c| c["properties"]["name"].as_str().map(str::to_owned))
        .collect();
    for name in ["Acme Corporation", "Bacme Corporation", "C Inc."] {
        assert_eq!(
            names.iter().filter(|n| *n == name).count(),
            1,
            "{name} created once"
        );
    }

    // Delete Session.
    let (status, answer) = t
        .post(
            &key,
            "/api/session/delete",
            json!({ "session_id": session }),
        )
        .await;
    assert_eq!((status, answer["success"].clone()), (200, json!(true)));
    let (status, _) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = t
        .get(
            &key,
            &format!("/api/pull/data?endgrate_type=crm-contact&transfer_id={transfer}"),
        )
        .await;
    assert_eq!(status, 404, "the session's transfers went with it");
    t.stop().await;
}
