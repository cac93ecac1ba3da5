//! Passthrough fields (`passthrough_fields: true`): the provider's fields the
//! schema does not map, found by the connector's discovery, are listed in the
//! configuration, come back in pulled records under the provider's names
//! (typed as discovery says), can be filtered on, and can be pushed.

use serde_json::{Value, json};

use crate::harness::{TestHost, sim_config};

const CONTACT: &str = "crm-contact";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_properties_are_listed_pulled_filtered_and_pushed() {
    let t = TestHost::start(sim_config(24, 3)).await;
    let key = t.key("acme").await;
    let session = t
        .connected_session(&key, json!({ "passthrough_fields": true }))
        .await;

    // The configuration lists the unmapped properties, custom ones included.
    let (status, config) = t.configuration(&key, &session).await;
    assert_eq!(status, 200, "{config}");
    let contact = &config["schemas"][CONTACT];
    let fields = &contact["passthrough_fields"]["properties"];
    assert_eq!(
        fields["favorite_color"],
        json!({ "title": "Favorite color", "type": "string" })
    );
    assert_eq!(fields["loyalty_points"]["type"], "number");
    assert_eq!(fields["newsletter_opt_in"]["type"], "boolean");
    assert_eq!(fields["lifecyclestage"]["title"], "Lifecycle Stage");
    for mapped in ["email", "firstname", "lastname", "phone", "hs_object_id"] {
        assert!(fields.get(mapped).is_none(), "{mapped} is mapped: {fields}");
    }
    assert_eq!(
        contact["schema"]["properties"]["favorite_color"], fields["favorite_color"],
        "passthrough fields are among the schema's properties"
    );
    assert_eq!(
        config["schemas"]["crm-company"]["passthrough_fields"]["properties"]["account_tier"]["type"],
        "string"
    );

    // Pulled records carry their values, typed.
    let pulled = |params: Value| {
        let (t, key, session) = (&t, key.clone(), session.clone());
        async move {
            let id = t
                .transfer(
                    &key,
                    "/api/pull/transfer",
                    json!({ "session_id": session, "endgrate_type": CONTACT, "params": params }),
                )
                .await;
            t.all_data(&key, "pull", CONTACT, &id).await
        }
    };
    let rows = pulled(json!({})).await;
    assert_eq!(rows.len(), 24);
    for row in &rows {
        let held = t
            .sim
            .control()
            .record("contacts", row["id"].as_str().unwrap())
            .unwrap();
        let prop = |name: &str| held["properties"][name].as_str().unwrap().to_owned();
        let data = &row["data"];
        assert_eq!(data["favorite_color"], prop("favorite_color"), "{row}");
        assert_eq!(
            data["loyalty_points"],
            json!(prop("loyalty_points").parse::<i64>().unwrap())
        );
        assert_eq!(
            data["newsletter_opt_in"],
            json!(prop("newsletter_opt_in") == "true")
        );
        assert_eq!(data["email_addresses"][0]["email_address"], prop("email"));
    }

    // A pull filtered on a passthrough field.
    let red = rows
        .iter()
        .filter(|r| r["data"]["favorite_color"] == "red")
        .count();
    assert!(red > 0);
    let reds = pulled(json!({ "favorite_color": "red" })).await;
    assert_eq!(reds.len(), red);

    // A push sets them at the provider.
    let push = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({
                "session_id": session,
                "endgrate_type": CONTACT,
                "transfer_data": [{ "data": {
                    "first_name": "Pat",
                    "last_name": "Through",
                    "email_addresses": [{ "email_address": "pat@passthrough.example" }],
                    "favorite_color": "blue",
                    "loyalty_points": 7,
                } }],
            }),
        )
        .await;
    let results = t.all_data(&key, "push", CONTACT, &push).await;
    let id = results[0]["id"].as_str().expect("created").to_owned();
    let created = t.sim.control().record("contacts", &id).unwrap();
    assert_eq!(created["properties"]["favorite_color"], "blue");
    assert_eq!(created["properties"]["loyalty_points"], "7");
    assert_eq!(created["properties"]["email"], "pat@passthrough.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_passthrough_fields_nothing_beyond_the_schema_comes() {
    let t = TestHost::start(sim_config(5, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let (_, config) = t.configuration(&key, &session).await;
    assert_eq!(
        config["schemas"][CONTACT]["passthrough_fields"],
        json!({ "properties": {}, "required": [] })
    );
    let id = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": CONTACT }),
        )
        .await;
    let rows = t.all_data(&key, "pull", CONTACT, &id).await;
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|r| r["data"].get("favorite_color").is_none())
    );
    let (status, answer) = t
        .post(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "params": { "favorite_color": "red" } }))
        .await;
    assert_eq!(status, 400, "a field the session does not carry: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_pull_returns_a_record_whose_custom_field_changed() {
    let t = TestHost::start(sim_config(12, 2)).await;
    let key = t.key("acme").await;
    let session = t
        .connected_session(&key, json!({ "passthrough_fields": true, "sync": true }))
        .await;
    let pull = || {
        let (t, key, session) = (&t, key.clone(), session.clone());
        async move {
            let id = t
                .transfer(
                    &key,
                    "/api/pull/transfer",
                    json!({ "session_id": session, "endgrate_type": CONTACT }),
                )
                .await;
            t.all_data(&key, "pull", CONTACT, &id).await
        }
    };
    let first = pull().await;
    assert_eq!(first.len(), 12);
    let changed = first[3]["id"].as_str().unwrap().to_owned();
    let colour = if first[3]["data"]["favorite_color"] == "green" {
        "blue"
    } else {
        "green"
    };
    let answer = reqwest::Client::new()
        .patch(format!(
            "{}/crm/v3/objects/contacts/{changed}",
            t.sim.base_url()
        ))
        .bearer_auth(crate::harness::TOKEN)
        .json(&json!({ "properties": { "favorite_color": colour } }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let second = pull().await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0]["id"], changed.as_str());
    assert_eq!(second[0]["data"]["favorite_color"], colour);
}
