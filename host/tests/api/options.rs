//! Every documented option of initiate and the transfers, end to end through
//! HTTP: what each one changes, as an app relying on it would see it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestHost, eventually, receiver, sim_config};

const CONTACT: &str = "crm-contact";

fn contact(first: &str, email: &str) -> Value {
    json!({ "first_name": first, "last_name": "Options", "email_addresses": [{ "email_address": email }] })
}

fn contacts_with_email(t: &TestHost, email: &str) -> Vec<Value> {
    t.sim
        .control()
        .contacts()
        .into_iter()
        .filter(|c| c["properties"]["email"] == email)
        .collect()
}

/// Lookups an upsert may make at HubSpot: reads by a unique property and searches.
fn lookups(t: &TestHost) -> u64 {
    let control = t.sim.control();
    control.request_count("GET /crm/v3/objects/{object}/{id}")
        + control.request_count("POST /crm/v3/objects/{object}/search")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiate_aliases_take_a_body_and_set_the_session_method() {
    let t = TestHost::start(sim_config(2, 1)).await;
    let key = t.key("acme").await;
    let mut methods = Vec::new();
    for path in [
        "/api/pull/initiate",
        "/api/push/initiate",
        "/api/session/initiate",
    ] {
        let (status, answer) = t
            .post(&key, path, json!({ "schema": [{ "endgrate_type": CONTACT }], "name": path, "save_session": true }))
            .await;
        assert_eq!(status, 200, "{answer}");
        let session = answer["session_id"].as_str().unwrap().to_owned();
        t.attach(&key, &session).await;
        let (_, config) = t
            .get(
                &key,
                &format!("/api/session/configuration?session_id={session}"),
            )
            .await;
        let schema = &config["schemas"][CONTACT];
        methods.push((
            schema["schema"]["session_method"].clone(),
            schema["integration"].clone(),
            schema["integration_info"]["method"].clone(),
        ));
        let (_, detail) = t.get(&key, &format!("/api/sessions/{session}")).await;
        assert_eq!(detail["session"]["name"], path, "the body's name was kept");
    }
    assert_eq!(
        methods,
        [
            (json!("IMPORT"), json!("get-contacts"), json!("IMPORT")),
            (json!("EXPORT"), json!("create-contacts"), json!("EXPORT")),
            (json!("IMPORT"), json!("get-contacts"), json!("IMPORT")),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_speaks_endgrates_wire_values() {
    let t = TestHost::start(sim_config(2, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let (status, config) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(status, 200, "{config}");
    let info = &config["endgrate"]["provider_info"];
    assert_eq!(info["auth_type"], "oauth");
    assert_eq!(info["specific"], json!({}));
    assert_eq!(info["endgrate_provider_type"], "CRM");
    assert_eq!(
        info["image"],
        format!("{}/api/integrations/hubspot/logo.svg", t.url)
    );
    let company = &config["schemas"]["crm-company"];
    assert_eq!(company["integration"], "get-companies");
    assert_eq!(
        company["integration_info"],
        json!({ "name": "get-companies", "display_name": "Get Companies", "method": "IMPORT", "endgrate_type": "crm-company", "supports_associations": true })
    );
    assert_eq!(company["schema"]["type"], "object");
    assert_eq!(company["schema"]["title"], "crm-company");
    assert_eq!(company["schema"]["endgrate_type"], "crm-company");
    // The logo the configuration points at is served there.
    let logo = t
        .http
        .get(info["image"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(logo.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_filter_by_category_and_by_session() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let names = |answer: &Value| -> Vec<String> {
        answer["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["provider"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, crm) = t
        .call("GET", "/api/integrations?category=crm", None, None)
        .await;
    assert_eq!(names(&crm), ["hubspot"]);
    let contacts = &crm["providers"][0]["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["endgrate_type"] == CONTACT)
        .cloned()
        .unwrap();
    assert_eq!(contacts["name"], "get-contacts");
    let (_, accounting) = t
        .call("GET", "/api/integrations?category=accounting", None, None)
        .await;
    assert!(names(&accounting).is_empty(), "{accounting}");

    // A session limited to a provider list offers only the listed providers.
    let (_, list) = t
        .post(
            &key,
            "/api/provider-lists",
            json!({ "name": "other", "providers": ["pipedrive"] }),
        )
        .await;
    let list_id = list["integration_provider_list_id"].as_str().unwrap();
    let (_, limited) = t
        .post(&key, "/api/session/initiate", json!({ "schema": [{ "endgrate_type": CONTACT }], "integration_provider_list_id": list_id }))
        .await;
    let limited = limited["session_id"].as_str().unwrap();
    let (_, open) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "schema": [{ "endgrate_type": CONTACT }] }),
        )
        .await;
    let open = open["session_id"].as_str().unwrap();
    let (_, offered) = t
        .call(
            "GET",
            &format!("/api/integrations?session_id={limited}"),
            None,
            None,
        )
        .await;
    assert!(names(&offered).is_empty(), "{offered}");
    let (_, offered) = t
        .call(
            "GET",
            &format!("/api/integrations?session_id={open}"),
            None,
            None,
        )
        .await;
    assert_eq!(names(&offered), ["hubspot"]);
    // And the connect page has nothing to offer on the limited session.
    let page = t
        .http
        .get(format!("{}/session?session_id={limited}", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("No app available"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypass_ui_sends_the_end_user_straight_to_the_providers_sign_in() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let session_with = |bypass: bool| {
        let t = &t;
        let key = key.clone();
        async move {
            let (_, answer) = t
                .post(
                    &key,
                    "/api/session/initiate",
                    json!({ "schema": [{ "endgrate_type": CONTACT }], "bypass_ui": bypass }),
                )
                .await;
            answer["session_id"].as_str().unwrap().to_owned()
        }
    };
    // The app rendered its own picker and passes the provider on.
    let bypassed = session_with(true).await;
    let page = t
        .http
        .get(format!(
            "{}/session?session_id={bypassed}&provider=hubspot",
            t.url
        ))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_redirection(), "{}", page.status());
    let location = page.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/session/start?") && location.contains("provider=hubspot"),
        "{location}"
    );
    // Without bypass_ui the page shows the picker and ignores `provider`.
    let plain = session_with(false).await;
    let page = t
        .http
        .get(format!(
            "{}/session?session_id={plain}&provider=hubspot",
            t.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("HubSpot"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_upsert_creates_without_looking_anything_up() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    // No email (HubSpot keeps emails unique): the upsert looks the name up.
    let item = json!({ "data": { "first_name": "Ada", "last_name": "Upsert" } });
    let adas = |t: &TestHost| {
        t.sim
            .control()
            .contacts()
            .iter()
            .filter(|c| {
                c["properties"]["firstname"] == "Ada" && c["properties"]["lastname"] == "Upsert"
            })
            .count()
    };
    t.transfer(
        &key,
        "/api/push/transfer",
        json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": [item] }),
    )
    .await;
    assert_eq!(adas(&t), 1);

    // With upserts on, the same item finds the record (a lookup) and creates nothing.
    t.sim.control().reset_counters();
    t.transfer(
        &key,
        "/api/push/transfer",
        json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": [item] }),
    )
    .await;
    assert!(lookups(&t) > 0);
    assert_eq!(adas(&t), 1);

    // With disable_upsert no lookup reaches HubSpot, and a second record is created.
    t.sim.control().reset_counters();
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": [item], "disable_upsert": true }))
        .await;
    assert_eq!(lookups(&t), 0, "{:?}", t.sim.control().requests());
    assert_eq!(adas(&t), 2);
    let results = t.all_data(&key, "push", CONTACT, &push).await;
    assert_eq!(results[0]["created"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_remote_data_gives_each_record_the_providers_own() {
    let t = TestHost::start(sim_config(30, 3)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let pull = |include: Value| {
        let (t, key, session) = (&t, key.clone(), session.clone());
        async move {
            let id = t
                .transfer(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "include_remote_data": include }))
                .await;
            t.all_data(&key, "pull", CONTACT, &id).await
        }
    };
    let rows = pull(json!(true)).await;
    assert_eq!(rows.len(), 30);
    for row in &rows {
        let remote = &row["remote_data"];
        assert_eq!(remote["id"], row["id"], "{row}");
        let held = t
            .sim
            .control()
            .record("contacts", row["id"].as_str().unwrap())
            .unwrap();
        assert_eq!(remote["properties"]["email"], held["properties"]["email"]);
        assert_eq!(
            row["data"]["email_addresses"][0]["email_address"],
            held["properties"]["email"]
        );
    }
    let rows = pull(json!(false)).await;
    assert!(rows.iter().all(|r| r.get("remote_data").is_none()));

    let (status, answer) = t
        .post(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "include_remote_data": "yes" }))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.to_string().contains("include_remote_data"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_item_with_an_id_updates_that_record() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let target = t.sim.control().contacts()[1].clone();
    let id = target["id"].as_str().unwrap().to_owned();
    let before = t.sim.control().contacts().len();
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": [{ "id": id, "data": { "first_name": "Renamed" } }] }))
        .await;
    let results = t.all_data(&key, "push", CONTACT, &push).await;
    assert_eq!(results[0]["id"], id.as_str(), "{results:?}");
    assert_eq!(results[0]["created"], false);
    assert_eq!(t.sim.control().contacts().len(), before);
    let after = t.sim.control().record("contacts", &id).unwrap();
    assert_eq!(after["properties"]["firstname"], "Renamed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_is_not_items_is_refused_naming_the_index() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let good = json!({ "data": contact("Bo", "bo@example.com") });
    for (items, field) in [
        (json!([good, "not an item"]), "transfer_data[1]"),
        (
            json!([good, { "first_name": "Bo" }]),
            "transfer_data[1].data",
        ),
        (json!([{ "data": [1, 2] }]), "transfer_data[0].data"),
        (
            json!([{ "data": {}, "internal_id": {} }]),
            "transfer_data[0].internal_id",
        ),
        (
            json!([{ "data": {}, "associations": { "crm-company": {} } }]),
            "transfer_data[0].associations.crm-company",
        ),
        (
            json!([{ "data": {}, "associations": { "crm-deal": [] } }]),
            "transfer_data[0].associations.crm-deal",
        ),
    ] {
        let (status, answer) = t
            .post(
                &key,
                "/api/push/transfer",
                json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": items }),
            )
            .await;
        assert_eq!(status, 400, "{items}: {answer}");
        assert!(answer["errors"][field].is_string(), "{field}: {answer}");
    }
    let (_, transfers) = t
        .get(&key, &format!("/api/transfers?session_id={session}"))
        .await;
    assert_eq!(transfers["meta"]["count"], 0, "nothing was queued");
    assert!(contacts_with_email(&t, "bo@example.com").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_of_a_session_list_its_transfers_newest_first() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let pull = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": CONTACT }),
        )
        .await;
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": [{ "data": contact("Cy", "cy@example.com") }] }))
        .await;
    let (status, stats) = t
        .call(
            "GET",
            &format!("/api/statistics?session_id={session}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    let transfers = stats["transfers"].as_array().unwrap();
    let listed: Vec<(&str, &str)> = transfers
        .iter()
        .map(|s| {
            (
                s["transfer_id"].as_str().unwrap(),
                s["method"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(push.as_str(), "EXPORT"), (pull.as_str(), "IMPORT")]
    );
    assert_eq!(transfers[1]["statistics"]["records_transferred"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfers_own_webhooks_win_over_the_sessions() {
    let t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let session_hooks = receiver().await;
    let transfer_hooks = receiver().await;
    let hook = |url: &str, tag: &str| json!({ "endpoint": url, "metadata": { "tag": tag } });
    let session = t
        .connected_session(
            &key,
            json!({ "completed_webhook": hook(&session_hooks.url, "session") }),
        )
        .await;
    let own = t
        .transfer(&key, "/api/pull/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "completed_webhook": hook(&transfer_hooks.url, "own") }))
        .await;
    let plain = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": CONTACT }),
        )
        .await;
    eventually(
        Duration::from_secs(10),
        "both completed webhooks",
        || async { !transfer_hooks.events().is_empty() && !session_hooks.events().is_empty() },
    )
    .await;
    let to_transfer: Vec<Value> = transfer_hooks.events().iter().map(|e| e.json()).collect();
    let to_session: Vec<Value> = session_hooks.events().iter().map(|e| e.json()).collect();
    assert_eq!(to_transfer.len(), 1);
    assert_eq!(to_transfer[0]["transfer_id"], own.as_str());
    assert_eq!(to_transfer[0]["metadata"]["tag"], "own");
    assert_eq!(to_session.len(), 1, "{to_session:?}");
    assert_eq!(to_session[0]["transfer_id"], plain.as_str());
}

/// Pushes `n` items that all break the contact schema, so the push stages
/// `n` error webhooks at once, without a request to the provider.
/// Pushes `n` invalid items, one push each, so each push stages one error
/// webhook (a push sends one per batch); their internal ids are `i0`, `i1`, ...
async fn push_invalid_items(t: &TestHost, key: &str, session: &str, n: usize) {
    for i in 0..n {
        let item = json!({ "data": { "first_name": 1 }, "internal_id": format!("i{i}") });
        t.transfer(
            key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": [item] }),
        )
        .await;
    }
}

fn internal_ids(events: &[crate::harness::Received]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.json()["internal_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_ordered_unless_webhook_concurrency_allows_otherwise() {
    // Retries wait long enough that a concurrent delivery always overtakes one.
    let t = TestHost::start_with(sim_config(1, 1), |c| {
        c.webhooks.backoff_base = Duration::from_millis(1500);
        c.webhooks.backoff_max = Duration::from_millis(1500);
    })
    .await;
    let key = t.key("acme").await;
    for concurrent in [false, true] {
        let hooks = receiver().await;
        // The first push's webhook is refused once, so it is retried after
        // the others were due.
        *hooks.refuse_once.lock().unwrap() = Some(|body| body["internal_id"] == "i0");
        let session = t
            .connected_session(&key, json!({ "error_webhook": { "endpoint": hooks.url }, "webhook_concurrency": concurrent }))
            .await;
        push_invalid_items(&t, &key, &session, 4).await;
        eventually(Duration::from_secs(20), "four error webhooks", || async {
            hooks.events().len() == 4
        })
        .await;
        let arrived = internal_ids(&hooks.events());
        if concurrent {
            assert_eq!(
                arrived.last().map(String::as_str),
                Some("i0"),
                "the refused webhook of the first push was overtaken: {arrived:?}"
            );
        } else {
            assert_eq!(arrived, ["i0", "i1", "i2", "i3"], "one at a time, in order");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_associations_switched_on_by_post_schemas_come_with_the_next_pull() {
    let t = TestHost::start(sim_config(6, 3)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let pull = || async {
        let id = t
            .transfer(
                &key,
                "/api/pull/transfer",
                json!({ "session_id": session, "endgrate_type": CONTACT }),
            )
            .await;
        t.all_data(&key, "pull", CONTACT, &id).await
    };
    let before = pull().await;
    assert!(before.iter().all(|r| r.get("associations").is_none()));
    let (status, answer) = t
        .post(&key, "/api/schemas", json!({ "session_id": session, "data": [{ "endgrate_type": CONTACT, "associations": true }] }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let after = pull().await;
    assert_eq!(after.len(), 6);
    let linked: Vec<&Value> = after
        .iter()
        .filter(|r| {
            r["associations"]["crm-company"]
                .as_array()
                .is_some_and(|ids| !ids.is_empty())
        })
        .collect();
    assert!(!linked.is_empty(), "{after:?}");
    // Each id is the simulator's own company link of that contact.
    for record in linked {
        let id = record["id"].as_str().unwrap();
        let company = record["associations"]["crm-company"][0].as_str().unwrap();
        assert!(t.sim.control().record("companies", company).is_some());
        let (_, via) = t.get(&key, &format!("/api/sessions/{session}")).await;
        assert_eq!(via["success"], true, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_filter_by_lists_nested_objects_and_ranges() {
    let t = TestHost::start(sim_config(0, 0)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let people = [
        ("Ann", "Lee", "ann@a.example", "Berlin"),
        ("Bob", "Lee", "bob@b.example", "Paris"),
        ("Cy", "Moe", "cy@c.example", "Berlin"),
        ("Di", "Lee", "di@d.example", "Rome"),
    ];
    let items: Vec<Value> = people
        .iter()
        .map(|(first, last, email, city)| {
            json!({ "data": {
                "first_name": first, "last_name": last,
                "email_addresses": [{ "email_address": email, "email_address_type": "WORK" }],
                "addresses": [{ "city": city, "address_type": "PRIMARY" }]
            } })
        })
        .collect();
    t.transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": CONTACT, "transfer_data": items, "disable_upsert": true }))
        .await;
    let firsts = |params: Value| {
        let t = &t;
        let key = key.clone();
        let session = session.clone();
        async move {
            let id = t
                .transfer(
                    &key,
                    "/api/pull/transfer",
                    json!({ "session_id": session, "endgrate_type": CONTACT, "params": params }),
                )
                .await;
            let mut names: Vec<String> = t
                .all_data(&key, "pull", CONTACT, &id)
                .await
                .iter()
                .map(|r| {
                    r["data"]["first_name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        firsts(json!({ "last_name": "Lee" })).await,
        ["Ann", "Bob", "Di"]
    );
    assert_eq!(
        firsts(json!({ "first_name": ["Ann", "Cy", "Zed"] })).await,
        ["Ann", "Cy"]
    );
    assert_eq!(
        firsts(json!({ "addresses": { "city": "Berlin" } })).await,
        ["Ann", "Cy"]
    );
    assert_eq!(
        firsts(json!({ "last_name": "Lee", "addresses": { "city": ["Paris", "Rome"] } })).await,
        ["Bob", "Di"]
    );
    let everyone =
        firsts(json!({ "updated_at__range": ["2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"] }))
            .await;
    assert_eq!(everyone, ["Ann", "Bob", "Cy", "Di"]);
    let nobody =
        firsts(json!({ "updated_at__range": ["1990-01-01T00:00:00Z", "1991-01-01T00:00:00Z"] }))
            .await;
    assert!(nobody.is_empty(), "{nobody:?}");
}
