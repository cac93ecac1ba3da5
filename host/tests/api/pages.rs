//! The endpoints behind the pages, without a browser: the dashboard's JSON
//! views (`/api/account`, `/api/sessions/{id}`, `/api/transfers`, session
//! search), the connect flow's selection steps as plain form posts, the
//! statistics event feed, the embedded assets and the problem pages.

use serde_json::{Value, json};

use crate::harness::{TestHost, receiver, sim_config};

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_views_list_sessions_transfers_and_one_session() {
    let mut t = TestHost::start(sim_config(30, 3)).await;
    let key = t.key("acme").await;
    let other = t.key("globex").await;

    let (status, me) = t.get(&key, "/api/account").await;
    assert_eq!((status, &me["account"]), (200, &json!("acme")));

    let session = t
        .connected_session(&key, json!({ "name": "Northwind onboarding" }))
        .await;
    let (_, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "name": "Someone else", "category": "crm" }),
        )
        .await;
    let waiting = answer["session_id"].as_str().unwrap().to_owned();

    let (_, found) = t.get(&key, "/api/sessions?search=NORTHWIND").await;
    assert_eq!(found["meta"]["count"], 1, "{found}");
    assert_eq!(found["sessions"][0]["session_id"], session.as_str());
    let (_, found) = t.get(&key, "/api/sessions?search=hubspot").await;
    assert_eq!(
        found["meta"]["count"], 1,
        "only the connected one has a provider"
    );
    let (_, found) = t.get(&key, "/api/sessions?search=zzz").await;
    assert_eq!(found["meta"]["count"], 0);
    let (_, all) = t.get(&key, "/api/sessions").await;
    assert_eq!(all["meta"]["count"], 2);

    let (status, detail) = t.get(&key, &format!("/api/sessions/{session}")).await;
    assert_eq!(status, 200, "{detail}");
    let s = &detail["session"];
    assert_eq!(s["status"], "connected");
    assert_eq!(s["provider"], "hubspot");
    // A connected session changes only through a single-use change link.
    let reauthenticate = s["links"]["reauthenticate"].as_str().unwrap();
    assert!(
        reauthenticate.starts_with(&format!(
            "{}/session/reauthenticate?session_id={session}&grant=",
            t.url
        )),
        "{reauthenticate}"
    );
    assert_eq!(s["schemas"].as_array().unwrap().len(), 2);
    let (_, detail) = t.get(&key, &format!("/api/sessions/{waiting}")).await;
    assert_eq!(detail["session"]["status"], "waiting");
    let (status, _) = t.get(&other, &format!("/api/sessions/{session}")).await;
    assert_eq!(status, 404, "another account's session is not visible");

    let pulled = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let (status, listed) = t.get(&key, "/api/transfers").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["meta"]["count"], 1);
    let row = &listed["transfers"][0];
    assert_eq!(row["transfer_id"], pulled.as_str());
    assert_eq!(row["completed"], true);
    assert_eq!(row["statistics"]["records_transferred"], 30);
    assert_eq!(row["session_name"], "Northwind onboarding");
    assert_eq!(
        row["statistics_page"],
        format!("{}/statistics?transfer_id={pulled}", t.url)
    );
    let (_, listed) = t
        .get(&key, &format!("/api/transfers?session_id={waiting}"))
        .await;
    assert_eq!(listed["meta"]["count"], 0);
    let (_, listed) = t.get(&other, "/api/transfers").await;
    assert_eq!(listed["meta"]["count"], 0, "transfers are per account");
    let (status, _) = t
        .get(&other, &format!("/api/transfers?session_id={session}"))
        .await;
    assert_eq!(status, 404);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_selection_steps_store_schemas_mapping_and_upsert_behaviour() {
    let mut t = TestHost::start(sim_config(12, 2)).await;
    let hooks = receiver().await;
    let key = t.key("acme").await;
    let (_, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({
                "schema": [
                    { "title": "Lead", "endgrate_type": "crm-contact", "type": "object",
                      "properties": { "who": { "type": ["string", "null"] }, "mail": { "type": ["string", "null"] } } },
                    { "endgrate_type": "crm-company" },
                ],
                "schema_selection": true,
                "field_selection": true,
                "redirect_url": "https://app.example/back",
                "configuration_webhook": { "endpoint": hooks.url },
            }),
        )
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    let (status, _) = t
        .post(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "sample_data": true,
                    "transfer_data": [{ "data": { "who": "Ann Example", "mail": "ann@example.com" } }] }),
        )
        .await;
    assert_eq!(status, 200);

    // OAuth: the callback sends the end user to the choices, not to the app.
    let to_provider = t
        .http
        .get(format!(
            "{}/session/start?session_id={session}&provider=hubspot",
            t.url
        ))
        .send()
        .await
        .unwrap();
    let consent = t
        .http
        .get(format!("{}&auto_approve=true", location(&to_provider)))
        .send()
        .await
        .unwrap();
    let back = t.http.get(location(&consent)).send().await.unwrap();
    assert_eq!(
        location(&back),
        format!("/session/select?session_id={session}")
    );
    let (status, _) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(status, 409, "not configured before the choices are made");

    let page = t
        .http
        .get(format!("{}/session/select?session_id={session}", t.url))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Choose what to share"), "{html}");

    // Nothing chosen: the page says so.
    let refused = t
        .post_form("/session/select", &[("session_id", session.as_str())])
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Choose at least one kind of data")
    );

    let chose = t
        .post_form(
            "/session/select",
            &[("session_id", session.as_str()), ("enable:0", "on")],
        )
        .await;
    assert_eq!(
        location(&chose),
        format!("/session/fields?session_id={session}")
    );
    let fields = t
        .http
        .get(format!("{}/session/fields?session_id={session}", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        fields.contains("ann@example.com"),
        "the sample value is shown"
    );
    assert!(!fields.contains("mapping-1"), "companies were switched off");

    let bad = t
        .post_form(
            "/session/fields",
            &[
                ("session_id", session.as_str()),
                ("map:0:mail", "no.such.path"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);

    let done = t
        .post_form(
            "/session/fields",
            &[
                ("session_id", session.as_str()),
                ("map:0:who", "first_name"),
                ("map:0:mail", "email_addresses.0.email_address"),
                ("upsert:0:who", "set_if_not_set"),
                ("upsert:0:mail", "overwrite"),
            ],
        )
        .await;
    assert_eq!(location(&done), "https://app.example/back");

    let (status, config) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(status, 200, "{config}");
    let lead = &config["schemas"]["crm-contact"];
    assert_eq!(
        lead["field_mapping"],
        json!({ "who": "first_name", "mail": "email_addresses.0.email_address" })
    );
    assert_eq!(lead["upsert_behaviour"], json!({ "who": "set_if_not_set" }));
    assert!(config["schemas"].get("crm-company").is_none());
    crate::harness::eventually(
        std::time::Duration::from_secs(20),
        "the configuration webhook",
        || async { !hooks.events().is_empty() },
    )
    .await;
    assert_eq!(hooks.events()[0].json()["session_id"], session.as_str());

    // Edit re-opens the choices of the configured session, from the change
    // link the app gets from the API.
    let (_, detail) = t.get(&key, &format!("/api/sessions/{session}")).await;
    let edit = t
        .http
        .get(detail["session"]["links"]["edit"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&edit),
        format!("/session/select?session_id={session}")
    );

    // The data arrives in the mapped shape.
    let pulled = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    let rows = t.all_data(&key, "pull", "crm-contact", &pulled).await;
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| {
        r["data"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k == "who" || k == "mail")
    }));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_feed_assets_and_problem_pages() {
    let mut t = TestHost::start(sim_config(5, 1)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let pulled = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact" }),
        )
        .await;
    // A completed transfer's feed sends one snapshot and ends.
    let feed = t
        .http
        .get(format!("{}/statistics/events?transfer_id={pulled}", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(std::time::Duration::from_secs(20), feed.text())
        .await
        .expect("the feed of a completed transfer ends")
        .unwrap();
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let snapshot: Value = serde_json::from_str(data).unwrap();
    assert_eq!(snapshot["completed"], true);
    assert_eq!(snapshot["statistics"]["records_transferred"], 5);
    assert_eq!(snapshot["errors"]["total"], 0);

    let page = t
        .http
        .get(format!("{}/statistics?transfer_id={pulled}", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("/ui/statistics.js"));

    for (asset, kind) in [
        ("app.css", "text/css"),
        ("connect.js", "text/javascript"),
        ("dashboard.js", "text/javascript"),
        ("logo.svg", "image/svg+xml"),
    ] {
        let r = t
            .http
            .get(format!("{}/ui/{asset}", t.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{asset}"
        );
    }
    let (status, _) = t.call("GET", "/ui/nope.js", None, None).await;
    assert_eq!(status, 404);

    for (path, status, says) in [
        (
            "/session?session_id=unknown",
            404,
            "couldn&#39;t find this session",
        ),
        ("/session", 400, "This link is incomplete"),
        (
            "/statistics?transfer_id=unknown",
            404,
            "couldn&#39;t find this transfer",
        ),
        (
            "/session/select?session_id=unknown",
            404,
            "couldn&#39;t find this session",
        ),
    ] {
        let r = t.http.get(format!("{}{path}", t.url)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains(says), "{path}: {html}");
        assert!(html.starts_with("<!doctype html>"), "{path}");
    }
    let dashboard = t
        .http
        .get(format!("{}/dashboard", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), 200);
    assert!(dashboard.text().await.unwrap().contains("/ui/dashboard.js"));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_do_not_update_field_is_left_alone_when_a_push_updates_a_record() {
    let mut t = TestHost::start(sim_config(3, 1)).await;
    let key = t.key("acme").await;
    let (_, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "schema": [{ "endgrate_type": "crm-contact" }], "field_selection": true }),
        )
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    t.sign_in(&format!(
        "/session/start?session_id={session}&provider=hubspot"
    ))
    .await;
    let done = t
        .post_form(
            "/session/fields",
            &[
                ("session_id", session.as_str()),
                ("upsert:0:first_name", "do_not_update"),
            ],
        )
        .await;
    assert_eq!(
        location(&done),
        format!("/session/done?session_id={session}")
    );
    let existing = t.sim.control().contacts()[0].clone();
    let props = &existing["properties"];
    let email = props["email"].as_str().unwrap().to_owned();
    let first = props["firstname"].clone();

    let pushed = t
        .transfer(
            &key,
            "/api/push/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-contact", "transfer_data": [
                { "data": { "first_name": "Changed", "title": "Chief Tester",
                            "email_addresses": [{ "email_address": email, "email_address_type": "WORK" }] } },
                { "data": { "first_name": "Newcomer", "last_name": "Person",
                            "email_addresses": [{ "email_address": "newcomer@example.test", "email_address_type": "WORK" }] } },
            ] }),
        )
        .await;
    let rows = t.all_data(&key, "push", "crm-contact", &pushed).await;
    assert_eq!(rows[0]["id"], existing["id"], "{rows:?}");
    let after = t
        .sim
        .control()
        .record("contacts", existing["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(after["properties"]["firstname"], first, "kept on update");
    assert_eq!(
        after["properties"]["jobtitle"], "Chief Tester",
        "others overwrite"
    );
    let created = t
        .sim
        .control()
        .record("contacts", rows[1]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        created["properties"]["firstname"], "Newcomer",
        "set on creation"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_passthrough_objects_are_chosen_on_the_data_step() {
    let mut t = TestHost::start(sim_config(6, 4)).await;
    let key = t.key("acme").await;
    let (_, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({
                "schema": [{ "endgrate_type": "crm-contact" }],
                "resource_selection": true,
                "passthrough_schemas": true,
                "statistics": true,
            }),
        )
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    t.sign_in(&format!(
        "/session/start?session_id={session}&provider=hubspot"
    ))
    .await;
    let page = t
        .http
        .get(format!("{}/session/select?session_id={session}", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"resource:0\""), "{page}");
    assert!(page.contains("More from"), "companies are offered: {page}");

    let wrong = t
        .post_form(
            "/session/select",
            &[
                ("session_id", session.as_str()),
                ("resource:0", "accounting-invoice"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let done = t
        .post_form(
            "/session/select",
            &[
                ("session_id", session.as_str()),
                ("resource:0", "crm-contact"),
                ("passthrough", "crm-company"),
            ],
        )
        .await;
    assert_eq!(
        location(&done),
        format!("/session/done?session_id={session}")
    );
    let (_, config) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    assert_eq!(
        config["schemas"]["crm-contact"]["integration"],
        "get-contacts"
    );
    assert_eq!(
        config["passthrough_schemas"]["crm-company"]["integration"], "get-companies",
        "{config}"
    );
    let pulled = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "crm-company" }),
        )
        .await;
    assert_eq!(
        t.all_data(&key, "pull", "crm-company", &pulled).await.len(),
        4
    );

    // With `statistics`, the session page lists its transfers.
    let again = t
        .http
        .get(format!("{}/session?session_id={session}", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        again.contains(&format!("/statistics?transfer_id={pulled}")),
        "{again}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_link_gets_a_clear_page() {
    let mut t = TestHost::start_with(sim_config(1, 1), |c| {
        c.session_ttl = std::time::Duration::from_millis(1);
        // The sweeper would delete it (a 404 page); this test wants it still there.
        c.sweep_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    let key = t.key("acme").await;
    let (_, answer) = t
        .post(&key, "/api/session/initiate", json!({ "category": "crm" }))
        .await;
    let session = answer["session_id"].as_str().unwrap().to_owned();
    crate::harness::eventually(
        std::time::Duration::from_secs(5),
        "the session's lifetime to pass",
        || async {
            t.http
                .get(format!("{}/session?session_id={session}", t.url))
                .send()
                .await
                .unwrap()
                .status()
                == 410
        },
    )
    .await;
    let page = t
        .http
        .get(format!("{}/session?session_id={session}", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("This link has expired"), "{page}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_given_by_title_only_is_filled_by_the_resource_the_end_user_picks() {
    let t = TestHost::start(sim_config(5, 2)).await;
    let key = t.key("acme").await;
    let (status, answer) = t
        .post(
            &key,
            "/api/session/initiate",
            json!({ "schema": [{ "title": "Accounts" }] }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let session = answer["session_id"].as_str().unwrap().to_owned();
    t.sign_in(&format!(
        "/session/start?session_id={session}&provider=hubspot"
    ))
    .await;
    let page = t
        .http
        .get(format!("{}/session/select?session_id={session}", t.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"resource:0\""), "{page}");
    assert!(
        page.contains("Choose the HubSpot data that fills it"),
        "{page}"
    );

    // Finishing without a choice is refused with a reason.
    let unchosen = t
        .post_form("/session/select", &[("session_id", session.as_str())])
        .await;
    assert_eq!(unchosen.status(), 422);
    assert!(unchosen.text().await.unwrap().contains("fills Accounts"));
    let done = t
        .post_form(
            "/session/select",
            &[
                ("session_id", session.as_str()),
                ("resource:0", "crm-company"),
            ],
        )
        .await;
    assert_eq!(
        location(&done),
        format!("/session/done?session_id={session}")
    );
    let (_, config) = t
        .get(
            &key,
            &format!("/api/session/configuration?session_id={session}"),
        )
        .await;
    let accounts = &config["schemas"]["Accounts"];
    assert_eq!(accounts["integration"], "get-companies", "{config}");
    assert_eq!(accounts["schema"]["title"], "Accounts");
    assert!(accounts["schema"]["properties"]["domain"].is_object());

    // It pulls the companies under its title, and pushes one.
    let pulled = t
        .transfer(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": "Accounts" }),
        )
        .await;
    let rows = t.all_data(&key, "pull", "Accounts", &pulled).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r["data"]["name"].is_string()),
        "{rows:?}"
    );
    let pushed = t
        .transfer(&key, "/api/push/transfer", json!({ "session_id": session, "endgrate_type": "Accounts", "transfer_data": [{ "data": { "name": "Title Only Ltd", "domain": "title-only.example" } }] }))
        .await;
    let results = t.all_data(&key, "push", "Accounts", &pushed).await;
    let id = results[0]["id"].as_str().expect("created");
    assert_eq!(
        t.sim.control().record("companies", id).unwrap()["properties"]["name"],
        "Title Only Ltd"
    );
}
