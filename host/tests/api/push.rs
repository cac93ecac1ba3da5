//! Pushes: a bad item fails alone; internal ids and upserts update instead
//! of creating again; a create the provider may have made without saying so
//! is never sent twice, unless the provider makes it once per idempotency
//! key (QuickBooks `requestid`).

use serde_json::{Value, json};

use crate::harness::{TestHost, sim_config};

fn count_first_name(t: &TestHost, name: &str) -> usize {
    t.sim
        .control()
        .contacts()
        .iter()
        .filter(|c| c["properties"]["firstname"] == name)
        .count()
}

/// The result of an item whose create was sent but never confirmed.
fn assert_unknown(result: &Value) {
    assert_eq!(result["error"]["error_type"], "integration", "{result}");
    let message = result["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("outcome unknown") && message.contains("may or may not"),
        "{result}"
    );
    assert!(result.get("created").is_none(), "{result}");
    assert!(result["id"].is_null(), "{result}");
}

fn count_email(t: &TestHost, email: &str) -> usize {
    t.sim
        .control()
        .contacts()
        .iter()
        .filter(|c| c["properties"]["email"] == email)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_item_fails_alone_with_its_index_and_internal_id() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let push = t
        .transfer(&key, "/api/push/transfer", json!({
            "session_id": session, "endgrate_type": "crm-contact",
            "transfer_data": [
                { "data": { "first_name": "Ann", "last_name": "Lee", "email_addresses": [{ "email_address": "ann@example.com" }] }, "internal_id": "a" },
                { "data": { "first_name": 5 }, "internal_id": "bad" },
                { "data": { "email_addresses": "not a list" } },
                { "data": { "first_name": "Cy", "last_name": "Po", "email_addresses": [{ "email_address": "cy@example.com" }] }, "internal_id": "c" }
            ]
        }))
        .await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(results.len(), 4);
    assert!(
        results[0]["id"].is_string() && results[0].get("error").is_none(),
        "{results:?}"
    );
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("data/first_name"),
        "{results:?}"
    );
    assert!(results[2]["error"].is_object());
    assert!(results[3]["id"].is_string() && results[3].get("error").is_none());
    assert_eq!(count_email(&t, "ann@example.com"), 1);
    assert_eq!(count_email(&t, "cy@example.com"), 1);

    let (_, errors) = t
        .get(&key, &format!("/api/errors?transfer_id={push}"))
        .await;
    let errors = errors["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let bad = errors.iter().find(|e| e["index"] == 1).unwrap();
    assert_eq!(bad["internal_id"], "bad");
    assert_eq!(bad["error_type"], "mapping");
    // The host refused it, not HubSpot: the text must not blame the provider.
    let resolve = bad["error_resolve_text"].as_str().unwrap();
    assert!(
        resolve.contains("schema") && !resolve.contains("HubSpot"),
        "{resolve}"
    );
    assert_eq!(bad["endgrate"]["provider_info"]["name"], "hubspot");
    let (_, data) = t
        .get(
            &key,
            &format!("/api/push/data?endgrate_type=crm-contact&transfer_id={push}"),
        )
        .await;
    assert_eq!(data["transfer_errors"], true);

    // Marking an error resolved.
    let pk = bad["pk"].as_str().unwrap();
    let (status, _) = t
        .post(&key, "/api/errors/resolve", json!({ "pk": pk }))
        .await;
    assert_eq!(status, 200);
    let (_, errors) = t
        .get(&key, &format!("/api/errors?transfer_id={push}"))
        .await;
    assert!(
        errors["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["pk"] == pk && e["resolved"] == true)
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_ids_and_upserts_update_instead_of_creating() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let item = |name: &str| {
        json!({ "data": { "first_name": name, "last_name": "Lee", "email_addresses": [{ "email_address": "ann@example.com" }] },
                "internal_id": "u-1",
                "associations": { "crm-company": [{ "data": { "name": "Lee Ltd", "domain": "lee.example" }, "internal_id": "co-1" }] } })
    };
    let push = |name: &str| json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": [item(name)] });

    let first = t.transfer(&key, "/api/push/transfer", push("Ann")).await;
    let first = t.all_data(&key, "push", "crm-contact", &first).await;
    let id = first[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(first[0]["created"], true);
    let before = t.sim.control().companies().len();

    // The same internal id again: the same record is updated.
    let second = t.transfer(&key, "/api/push/transfer", push("Anne")).await;
    let second = t.all_data(&key, "push", "crm-contact", &second).await;
    assert_eq!(second[0]["id"], id.as_str());
    assert_eq!(second[0]["created"], false);
    assert_eq!(count_email(&t, "ann@example.com"), 1);
    assert_eq!(
        t.sim.control().record("contacts", &id).unwrap()["properties"]["firstname"],
        "Anne"
    );
    assert_eq!(
        t.sim.control().companies().len(),
        before,
        "the company was not created again"
    );

    // No internal id, same email: found by the upsert and updated.
    let third = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact",
            "transfer_data": [{ "data": { "first_name": "Annie", "email_addresses": [{ "email_address": "ann@example.com" }] } }] }))
        .await;
    let third = t.all_data(&key, "push", "crm-contact", &third).await;
    assert_eq!(third[0]["id"], id.as_str(), "{third:?}");
    assert_eq!(count_email(&t, "ann@example.com"), 1);

    // sample_data writes nothing.
    let total = t.sim.control().contacts().len();
    let sample = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "sample_data": true,
            "transfer_data": [{ "data": { "first_name": "Sam", "last_name": "Ple" } }] }),
        )
        .await;
    let sample: Vec<Value> = t.all_data(&key, "push", "crm-contact", &sample).await;
    assert_eq!(sample[0]["data"]["first_name"], "Sam");
    assert_eq!(t.sim.control().contacts().len(), total);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_built_to_backtrack_does_not_freeze_the_host() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let schema = json!({
        "title": "Lead", "type": "object",
        "properties": { "code": { "type": "string", "pattern": "^(a+)+$" } },
    });
    let session = t
        .connected_session(&key, json!({ "schema": [schema] }))
        .await;
    // Each value takes a backtracking engine exponential time to refuse.
    let evil = format!("{}b", "a".repeat(40));
    let items: Vec<Value> = (0..300)
        .map(|_| json!({ "data": { "code": evil } }))
        .collect();
    let push = || {
        let (t, key, session, items) = (&t, key.clone(), session.clone(), items.clone());
        async move {
            t.post(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "Lead", "transfer_data": items, "sample_data": true }))
                .await
                .0
        }
    };
    let pushes = futures::future::join_all([push(), push(), push(), push()]);
    let probe = async {
        let mut slowest = std::time::Duration::ZERO;
        for _ in 0..20 {
            let started = std::time::Instant::now();
            let (status, _) = t.call("GET", "/healthz", None, None).await;
            assert_eq!(status, 200);
            slowest = slowest.max(started.elapsed());
        }
        slowest
    };
    let (statuses, slowest) = tokio::join!(pushes, probe);
    assert_eq!(statuses, [200, 200, 200, 200]);
    // A backtracking engine kept /healthz waiting for seconds.
    assert!(
        slowest < std::time::Duration::from_secs(1),
        "/healthz waited {slowest:?} behind the pushes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_more_items_than_the_cap_is_refused_whole() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let items = vec![json!({ "data": {} }); switchyard::api::MAX_PUSH_ITEMS + 1];
    let (status, answer) = t
        .post(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": items }))
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer["errors"]["transfer_data"].is_string(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_that_needs_backtracking_is_refused_at_initiate() {
    let t = TestHost::start(sim_config(1, 1)).await;
    let key = t.key("acme").await;
    // Look-around needs a backtracking engine, which a crafted value keeps
    // busy for as long as its step limit allows, on every item.
    let schema = json!({
        "title": "Lead", "type": "object",
        "properties": { "code": { "type": "string", "pattern": "^(?=a)(a+)+$" } },
    });
    let (status, answer) = t
        .post(&key, "/api/session/initiate", json!({ "schema": [schema] }))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["errors"]["schema[0]"].is_string(), "{answer}");
}

/// With `disable_upsert`, a create whose answer was lost is not looked up by
/// its email afterwards: that would take another record sharing the email
/// for it and overwrite it. Its outcome is reported unknown instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_create_under_disable_upsert_is_unknown_not_matched() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let contact = |first: &str| {
        json!({ "data": { "first_name": first, "last_name": "Shared",
                          "email_addresses": [{ "email_address": "shared@example.com" }] },
                "internal_id": first })
    };
    let first = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact",
            "transfer_data": [contact("Xena")] }),
        )
        .await;
    let first = t.all_data(&key, "push", "crm-contact", &first).await;
    let xena = first[0]["id"].as_str().unwrap().to_owned();

    // Yann's create reaches HubSpot; its answer is cut on the way back.
    t.sim.control().cut_next(1);
    let push = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact",
            "disable_upsert": true, "transfer_data": [contact("Yann")] }),
        )
        .await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_unknown(&results[0]);
    let message = results[0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("disable_upsert"), "{message}");
    let xena_now = t.sim.control().record("contacts", &xena).unwrap();
    assert_eq!(
        xena_now["properties"]["firstname"], "Xena",
        "the record sharing the email was not overwritten: {xena_now}"
    );
    assert_eq!(count_first_name(&t, "Yann"), 0);

    let (_, errors) = t
        .get(&key, &format!("/api/errors?transfer_id={push}"))
        .await;
    let errors = errors["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["error_type"], "integration");
    assert_eq!(errors[0]["index"], 0);
    assert_eq!(errors[0]["internal_id"], "Yann");
    let resolve = errors[0]["error_resolve_text"].as_str().unwrap();
    assert!(
        resolve.contains("Check HubSpot") && !resolve.contains("rejected"),
        "{resolve}"
    );
    t.stop().await;
}

/// Contacts with no email, phone or full name cannot be looked up: when
/// their create reached HubSpot but the answer was cut, they are not sent
/// again (that would create them twice) and their outcome is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_create_without_lookup_keys_is_never_sent_twice() {
    let mut t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;

    // Nothing to look up, so the batch create is the push's first request.
    t.sim.control().cut_next(1);
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "crm-contact",
            "transfer_data": [
                { "data": { "first_name": "Keyless", "title": "Nobody in particular" }, "internal_id": "k" },
                { "data": { "first_name": "Nameless" } }
            ] }))
        .await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(results.len(), 2);
    for result in &results {
        assert_unknown(result);
        let message = result["error"]["message"].as_str().unwrap();
        assert!(message.contains("look it up"), "{message}");
    }
    for name in ["Keyless", "Nameless"] {
        assert_eq!(
            count_first_name(&t, name),
            1,
            "{name}: the create reached HubSpot once and was not sent again"
        );
    }
    let (_, data) = t
        .get(
            &key,
            &format!("/api/push/data?endgrate_type=crm-contact&transfer_id={push}"),
        )
        .await;
    assert_eq!(data["transfer_errors"], true);
    t.stop().await;
}

/// QuickBooks makes a create once per `requestid`: an invoice (no keys to
/// look it up by) whose create reached QuickBooks but whose answer was cut
/// is sent again with the same `requestid` by the retried step, answered
/// with the invoice already made, and reported a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_quickbooks_invoice_is_sent_again_and_made_once() {
    let mut t = TestHost::start_quickbooks(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.quickbooks_session(&key).await;
    let invoices = |t: &TestHost| t.sim.control().records("Invoice").unwrap_or_default();
    let before = invoices(&t).len();

    // Invoices have no lookup keys, so the create is the push's first request.
    t.sim.control().cut_next(1);
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "accounting-invoice",
            "transfer_data": [{ "internal_id": "inv-1", "data": {
                "number": "SY-IDEMPOTENT-1", "customer_id": "1", "issue_date": "2030-01-15",
                "line_items": [{ "description": "Hours", "quantity": 2, "unit_price": 50, "amount": 100 }]
            } }] }))
        .await;

    let results = t.all_data(&key, "push", "accounting-invoice", &push).await;
    assert_eq!(results.len(), 1);
    let result = &results[0];
    assert!(result.get("error").is_none(), "{result}");
    assert_eq!(result["created"], true, "{result}");
    let id = result["id"].as_str().expect("the invoice's id").to_owned();

    let made: Vec<Value> = invoices(&t)
        .into_iter()
        .filter(|i| i["DocNumber"] == "SY-IDEMPOTENT-1")
        .collect();
    assert_eq!(made.len(), 1, "made once: {made:?}");
    assert_eq!(made[0]["Id"], id.as_str());
    assert_eq!(invoices(&t).len(), before + 1);
    let control = t.sim.control();
    assert_eq!(
        control.request_count("POST /v3/company/{realm}/{entity}"),
        2,
        "sent twice: {:?}",
        control.requests()
    );
    assert_eq!(
        control.request_count("quickbooks: answered again by requestid"),
        1,
        "the second send carried the first one's requestid"
    );
    let (_, data) = t
        .get(
            &key,
            &format!("/api/push/data?endgrate_type=accounting-invoice&transfer_id={push}"),
        )
        .await;
    assert_eq!(data["transfer_errors"], false, "{data}");
    t.stop().await;
}

/// One push carrying the same new record twice (same email, in another
/// case): the first creates it, the second updates that record, in the
/// order pushed; a third of the same key too. Nothing is created twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_twice_in_one_push_creates_one_record() {
    let t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let contact = |first: &str, email: &str| json!({ "data": { "first_name": first, "last_name": "Dup", "email_addresses": [{ "email_address": email }] } });
    let before = t.sim.control().contacts().len();
    let push = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": [
                contact("First", "dup@example.com"),
                contact("Other", "other@example.com"),
                contact("Second", "DUP@example.com"),
                contact("Third", "dup@example.com"),
            ] }),
        )
        .await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(results.len(), 4, "{results:?}");
    assert_eq!(t.sim.control().contacts().len(), before + 2, "{results:?}");
    assert_eq!(count_email(&t, "dup@example.com"), 1);
    let id = results[0]["id"].as_str().unwrap();
    assert_eq!(results[0]["created"], true);
    for later in [&results[2], &results[3]] {
        assert_eq!(later["id"], id, "{later}");
        assert_eq!(later["created"], false, "{later}");
    }
    assert_ne!(results[1]["id"], id);
    // The last one pushed is what the record holds.
    assert_eq!(
        t.sim.control().record("contacts", id).unwrap()["properties"]["firstname"],
        "Third"
    );
}

/// HubSpot answers 500 lookups in one search, so a push asks the lookups of
/// the batches after the current one ahead (`max-lookup-batch`): a push of
/// three batches of new contacts searches once instead of three times. An
/// item whose answer an earlier write of the push could change (the email
/// of an earlier item, or its internal id) is not asked ahead: it still
/// updates the record that earlier item made, and nothing is created twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_of_later_batches_are_asked_ahead_and_nothing_is_created_twice() {
    let t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let existing = t.sim.control().contacts();
    let email_of = |c: &Value| c["properties"]["email"].as_str().unwrap().to_owned();
    let (first_existing, second_existing) = (email_of(&existing[0]), email_of(&existing[1]));
    let items: Vec<Value> = (0..250)
        .map(|i| {
            let (internal, email) = match i {
                120 => (format!("int-{i}"), first_existing.clone()),
                170 => (format!("int-{i}"), "Ahead5@example.com".to_owned()),
                210 => ("int-20".to_owned(), format!("moved{i}@example.com")),
                230 => (format!("int-{i}"), second_existing.clone()),
                _ => (format!("int-{i}"), format!("ahead{i}@example.com")),
            };
            let mut data = json!({ "email_addresses": [{ "email_address": email }] });
            if i != 170 {
                // 249 last names: three IN groups of one search.
                data["first_name"] = json!("Ahead");
                data["last_name"] = json!(format!("Ahead{i}"));
            }
            json!({ "internal_id": internal, "data": data })
        })
        .collect();
    let before = existing.len();
    t.sim.control().reset_counters();
    let push = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": items }),
        )
        .await;
    let results = t.all_data(&key, "push", "crm-contact", &push).await;
    assert_eq!(results.len(), 250);
    assert!(
        results.iter().all(|r| r.get("error").is_none()),
        "{results:?}"
    );
    let id = |i: usize| results[i]["id"].as_str().unwrap().to_owned();
    let existing_id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    for (later, earlier) in [
        (120, existing_id(&existing[0])),
        (230, existing_id(&existing[1])),
        (170, id(5)),
        (210, id(20)),
    ] {
        assert_eq!(id(later), earlier, "item {later}: {}", results[later]);
        assert_eq!(results[later]["created"], false, "item {later}");
    }
    let created = results.iter().filter(|r| r["created"] == true).count();
    assert_eq!(created, 246);
    assert_eq!(t.sim.control().contacts().len(), before + 246);
    let fives = t
        .sim
        .control()
        .contacts()
        .iter()
        .filter(|c| {
            c["properties"]["email"].as_str().map(str::to_lowercase)
                == Some("ahead5@example.com".into())
        })
        .count();
    assert_eq!(fives, 1);
    assert_eq!(
        t.sim
            .control()
            .request_count("POST /crm/v3/objects/{object}/search"),
        1,
        "one search for the names of all three batches"
    );
}

/// QuickBooks answers 50 values in one `IN` query, so the connector takes
/// 150 lookups a call: a push of 150 customers asks each key field in three
/// queries rather than once per batch of 30, and still finds what exists
/// and what an earlier batch of the same push made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickbooks_lookups_of_later_batches_are_asked_ahead() {
    let t = TestHost::start_quickbooks(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let session = t.quickbooks_session(&key).await;
    let customers = |t: &TestHost| t.sim.control().records("Customer").unwrap_or_default();
    let existing = customers(&t)
        .into_iter()
        .find(|c| c["PrimaryEmailAddr"]["Address"].is_string())
        .expect("a customer with an email");
    let existing_email = existing["PrimaryEmailAddr"]["Address"]
        .as_str()
        .unwrap()
        .to_owned();
    let items: Vec<Value> = (0..150)
        .map(|i| {
            let email = match i {
                100 => existing_email.clone(),
                // The email item 10 creates, in another case.
                140 => "Ahead10@example.com".to_owned(),
                _ => format!("ahead{i}@example.com"),
            };
            json!({ "internal_id": format!("cust-{i}"), "data": {
                "customer_name": format!("Ahead Customer {i}"),
                "email_addresses": [{ "email_address": email }]
            } })
        })
        .collect();
    let before = customers(&t).len();
    t.sim.control().reset_counters();
    let push = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "accounting-customer", "transfer_data": items }))
        .await;
    let results = t.all_data(&key, "push", "accounting-customer", &push).await;
    assert_eq!(results.len(), 150);
    assert!(
        results.iter().all(|r| r.get("error").is_none()),
        "{results:?}"
    );
    let id = |i: usize| results[i]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id(100),
        existing["Id"].as_str().unwrap(),
        "{}",
        results[100]
    );
    assert_eq!(id(140), id(10), "{}", results[140]);
    for i in [100, 140] {
        assert_eq!(results[i]["created"], false, "item {i}");
    }
    assert_eq!(customers(&t).len(), before + 148);
    // Lookups: the emails of items 0..150 but 140 in three queries, the
    // names of the 148 not found by email in three more, and item 140 (its
    // email is item 10's, so it waits for its own batch) in one. Then the
    // two updates each read their record's SyncToken. Asked batch by batch,
    // the lookups alone took ten queries.
    let control = t.sim.control();
    assert_eq!(
        control.request_count("GET /v3/company/{realm}/query"),
        6 + 1 + 2,
        "{:?}",
        control.requests()
    );
}
