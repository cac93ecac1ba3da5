//! Passthrough schemas (`passthrough_schemas: true`): the provider's own
//! objects (HubSpot's custom object "Projects", `p_projects`), found by the
//! connector's discovery, appear under `passthrough_schemas` with their
//! discovered schema and are pulled (`sync` included) and pushed (upserts by
//! the object's unique field, or by `internal_id`) like any type.

use serde_json::{Value, json};

use crate::harness::{TestHost, sim_config};

const PROJECTS: &str = "p_projects";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_object_is_configured_pulled_synced_and_pushed() {
    let t = TestHost::start(sim_config(12, 30)).await;
    let key = t.key("acme").await;
    let session = t
        .connected_session(
            &key,
            json!({ "passthrough_schemas": true, "schema_selection": true, "sync": true }),
        )
        .await;

    // The configuration lists the object with its discovered schema.
    let (status, config) = t.configuration(&key, &session).await;
    assert_eq!(status, 200, "{config}");
    let projects = &config["passthrough_schemas"][PROJECTS];
    assert_eq!(projects["integration"], "get-p_projects", "{config}");
    assert_eq!(projects["integration_info"]["endgrate_type"], PROJECTS);
    let schema = &projects["schema"];
    assert_eq!(schema["title"], "Project");
    assert_eq!(
        schema["properties"]["project_name"],
        json!({ "title": "Project name", "type": "string" })
    );
    assert_eq!(schema["properties"]["budget"]["type"], "number");
    assert_eq!(
        schema["properties"]["status"]["enum"],
        json!(["planned", "active", "done"])
    );
    assert_eq!(schema["properties"]["hs_createdate"]["readOnly"], true);
    assert_eq!(schema["required"], json!(["project_name"]));
    assert!(
        config["schemas"].get(PROJECTS).is_none(),
        "a passthrough schema is not among the schemas"
    );

    // A pull gives every project, its values typed as discovery says.
    let pull = || async {
        let id = t
            .transfer(
                &key,
                "/api/pull/transfer",
                json!({ "session_id": session, "endgrate_type": PROJECTS }),
            )
            .await;
        t.all_data(&key, "pull", PROJECTS, &id).await
    };
    let rows = pull().await;
    assert_eq!(rows.len(), 30);
    for row in &rows {
        let held = t
            .sim
            .control()
            .record("projects", row["id"].as_str().unwrap())
            .unwrap();
        let prop = |name: &str| held["properties"][name].as_str().unwrap().to_owned();
        let data = &row["data"];
        assert_eq!(data["project_name"], prop("project_name"), "{row}");
        assert_eq!(data["project_code"], prop("project_code"));
        assert_eq!(
            data["budget"].as_f64(),
            Some(prop("budget").parse::<f64>().unwrap()),
            "{row}"
        );
        assert_eq!(data["status"], prop("status"));
    }

    // With `sync`, the next pull has only what changed: nothing yet.
    assert_eq!(pull().await, Vec::<Value>::new());

    // Pushes: a create, then an upsert by the object's unique field (no id,
    // same project code) that updates it, then an update by internal id.
    let push = |items: Value| async {
        let items = items;
        let id = t
            .transfer(
                &key,
                "/api/push/transfer",
                json!({ "session_id": session, "endgrate_type": PROJECTS, "transfer_data": items }),
            )
            .await;
        t.all_data(&key, "push", PROJECTS, &id).await
    };
    let before = t.sim.control().records("projects").unwrap().len();
    let created = push(json!([{ "internal_id": "app-1", "data": {
        "project_name": "Launch", "project_code": "APP-00001", "budget": 5000, "status": "planned",
    } }]))
    .await;
    let id = created[0]["id"].as_str().expect("created").to_owned();
    let held = t.sim.control().record("projects", &id).unwrap();
    assert_eq!(held["properties"]["project_name"], "Launch");
    assert_eq!(held["properties"]["budget"], "5000");

    let upserted = push(json!([{ "data": {
        "project_name": "Launch, renamed", "project_code": "APP-00001",
    } }]))
    .await;
    assert_eq!(upserted[0]["id"], id.as_str(), "{upserted:?}");
    let by_internal = push(json!([{ "internal_id": "app-1", "data": { "status": "done" } }])).await;
    assert_eq!(by_internal[0]["id"], id.as_str(), "{by_internal:?}");
    let held = t.sim.control().record("projects", &id).unwrap();
    assert_eq!(held["properties"]["project_name"], "Launch, renamed");
    assert_eq!(held["properties"]["status"], "done");
    assert_eq!(
        t.sim.control().records("projects").unwrap().len(),
        before + 1,
        "one project created for three pushes"
    );

    // The sync pull now has the one that changed.
    let changed = pull().await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["id"], id.as_str());

    // A bad record fails alone, with the field named.
    let mixed = push(json!([
        { "data": { "project_name": "Bad", "status": "paused" } },
        { "data": { "project_name": "Computed", "hs_createdate": "2020-01-01" } },
        { "data": { "project_name": "Good", "project_code": "APP-00002" } },
    ]))
    .await;
    let error = |i: usize| {
        mixed[i]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(error(0).contains("status"), "{mixed:?}");
    assert!(error(1).contains("hs_createdate"), "{mixed:?}");
    assert!(mixed[2]["id"].as_str().is_some(), "{mixed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_passthrough_schemas_no_object_comes() {
    let t = TestHost::start(sim_config(3, 3)).await;
    let key = t.key("acme").await;
    let session = t.connected_session(&key, json!({})).await;
    let (_, config) = t.configuration(&key, &session).await;
    assert_eq!(config["passthrough_schemas"], json!({}));
    let (status, answer) = t
        .post(
            &key,
            "/api/pull/transfer",
            json!({ "session_id": session, "endgrate_type": PROJECTS }),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("endgrate_type")),
        "{answer}"
    );
}
