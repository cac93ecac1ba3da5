//! The Salesforce simulator through real HTTP: SOQL with nextRecordsUrl
//! paging, changed-since, sObject writes and their array-shaped errors,
//! deletes seen by queryAll and the deleted feed, upsert, collections,
//! OAuth with instance_url, the daily allowance.

mod common;

use std::time::Duration;

use common::{client, location_params, param, small, start};
use serde_json::{Value, json};
use switchyard_simulators::{Provider, RateLimit, SimConfig, Simulator};

const V: &str = "/services/data/v60.0";

async fn call(
    sim: &Simulator,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", sim.base_url()))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json")
        },
    )
}

async fn soql(sim: &Simulator, token: &str, endpoint: &str, q: &str) -> (u16, Value) {
    let resp = client()
        .get(format!("{}{V}/{endpoint}", sim.base_url()))
        .query(&[("q", q)])
        .header("Sforce-Query-Options", "batchSize=200")
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

#[tokio::test]
async fn soql_pages_through_next_records_url_and_finds_changes() {
    let sim = start(Provider::Salesforce, small(450, 20)).await;
    let token = sim.control().issue_access_token();
    let (status, mut page) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id, FirstName, LastName, Email, AccountId, SystemModstamp FROM Contact",
    )
    .await;
    assert_eq!(status, 200);
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    loop {
        assert_eq!(page["totalSize"], 450);
        let records = page["records"].as_array().expect("records");
        sizes.push(records.len());
        for r in records {
            assert_eq!(r["attributes"]["type"], "Contact");
            let id = r["Id"].as_str().expect("Id");
            assert_eq!(id.len(), 18);
            assert!(id.starts_with("003"));
            assert!(
                r["SystemModstamp"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(".000+0000") || t.ends_with("+0000"))
            );
            ids.push(id.to_string());
        }
        if page["done"] == true {
            assert!(page.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page["nextRecordsUrl"]
            .as_str()
            .expect("nextRecordsUrl")
            .to_string();
        assert!(next.starts_with("/services/data/v60.0/query/01g"));
        page = call(&sim, &token, reqwest::Method::GET, &next, None)
            .await
            .1;
    }
    assert_eq!(sizes, [200, 200, 50]);
    let snapshot: Vec<String> = sim
        .control()
        .contacts()
        .iter()
        .filter_map(|c| c["Id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids, snapshot);
    // AccountId points at real accounts.
    let account = sim
        .control()
        .contacts()
        .iter()
        .find_map(|c| c["AccountId"].as_str().map(str::to_string))
        .expect("some contact has an account");
    let (status, acc) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!("{V}/sobjects/Account/{account}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(acc["Id"], account.as_str());

    let cutoff = sim.control().contacts()[449]["SystemModstamp"]
        .as_str()
        .expect("stamp")
        .to_string();
    let target = ids[10].clone();
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{V}/sobjects/Contact/{target}"),
        Some(json!({"Title": "Updated"})),
    )
    .await;
    assert_eq!(status, 204);
    let since = cutoff.replace(".000+0000", "Z");
    let (_, changed) = soql(
        &sim,
        &token,
        "query",
        &format!(
            "SELECT Id, Title FROM Contact WHERE SystemModstamp > {since} ORDER BY SystemModstamp"
        ),
    )
    .await;
    assert_eq!(changed["totalSize"], 1);
    assert_eq!(changed["records"][0]["Id"], target.as_str());
    assert_eq!(changed["records"][0]["Title"], "Updated");

    let (status, err) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        err[0]["errorCode"], "INVALID_FIELD",
        "quoted datetime literal"
    );
    let (status, err) = soql(&sim, &token, "query", "SELECT Shoe FROM Contact").await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "INVALID_FIELD");
    let (status, err) = soql(&sim, &token, "query", "SELECT Id FROM Contact WHERE").await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "MALFORMED_QUERY");
    let (_, count) = soql(&sim, &token, "query", "SELECT COUNT() FROM Account").await;
    assert_eq!(count["totalSize"], 20);
}

#[tokio::test]
async fn writes_errors_deletes_and_upserts() {
    let sim = start(Provider::Salesforce, small(5, 3)).await;
    let token = sim.control().issue_access_token();
    let account = sim.control().companies()[0]["Id"]
        .as_str()
        .expect("Id")
        .to_string();

    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &format!("{V}/sobjects/Contact"),
        Some(json!({"FirstName": "No"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        err,
        json!([{"message": "Required fields are missing: [LastName]", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]}])
    );
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &format!("{V}/sobjects/Contact"),
        Some(json!({"LastName": "X", "AccountId": "nope"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "MALFORMED_ID");
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &format!("{V}/sobjects/Contact"),
        Some(json!({"LastName": "X", "Name": "Y"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "INVALID_FIELD_FOR_INSERT_UPDATE");

    let (status, created) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &format!("{V}/sobjects/Contact"),
        Some(json!({"attributes": {"type": "Contact"}, "FirstName": "Grace", "LastName": "Hopper", "Email": "grace@navy.example", "AccountId": account})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(created["success"], true);
    assert_eq!(created["errors"], json!([]));
    let id = created["id"].as_str().expect("id").to_string();
    let (_, read) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!("{V}/sobjects/Contact/{id}?fields=Name,AccountId"),
        None,
    )
    .await;
    assert_eq!(read["Name"], "Grace Hopper");
    assert_eq!(read["AccountId"], account.as_str());

    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::DELETE,
        &format!("{V}/sobjects/Contact/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!("{V}/sobjects/Contact/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err[0]["errorCode"], "NOT_FOUND");
    let (_, live) = soql(&sim, &token, "query", "SELECT Id FROM Contact").await;
    assert_eq!(live["totalSize"], 5);
    let (_, all) = soql(
        &sim,
        &token,
        "queryAll",
        &format!("SELECT Id, IsDeleted FROM Contact WHERE Id = '{id}'"),
    )
    .await;
    assert_eq!(all["records"][0]["IsDeleted"], true);
    let (_, feed) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!(
            "{V}/sobjects/Contact/deleted/?start=2020-01-01T00:00:00Z&end=2100-01-01T00:00:00Z"
        ),
        None,
    )
    .await;
    assert_eq!(feed["deletedRecords"][0]["id"], id.as_str());

    let (status, up) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{V}/sobjects/Account/External_Id__c/ext-1"),
        Some(json!({"Name": "Upserted Ltd"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(up["created"], true);
    let (status, again) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{V}/sobjects/Account/External_Id__c/ext-1"),
        Some(json!({"Phone": "123"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["created"], false);
    assert_eq!(again["id"], up["id"]);
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{V}/sobjects/Account/Email/x"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn collections_respect_all_or_none_and_the_limit() {
    let sim = start(Provider::Salesforce, small(2, 1)).await;
    let token = sim.control().issue_access_token();
    let path = format!("{V}/composite/sobjects");
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"attributes": {"type": "Contact"}, "LastName": format!("L{i}")}))
        .collect();
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &path,
        Some(json!({"records": many})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "EXCEEDED_ID_LIMIT");

    let records = json!([
        {"attributes": {"type": "Contact"}, "LastName": "Good"},
        {"attributes": {"type": "Contact"}, "FirstName": "Bad"},
    ]);
    let (status, results) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &path,
        Some(json!({"allOrNone": true, "records": records})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(
        sim.control().records_held()["Contact"],
        2,
        "nothing written"
    );

    let (_, results) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &path,
        Some(json!({"allOrNone": false, "records": records})),
    )
    .await;
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[1]["success"], false);
    assert_eq!(sim.control().records_held()["Contact"], 3);
    let new_id = results[0]["id"].as_str().expect("id").to_string();
    let (_, updated) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"records": [{"attributes": {"type": "Contact"}, "Id": new_id, "Title": "T"}]})),
    )
    .await;
    assert_eq!(updated[0]["success"], true);
    let (_, deleted) = call(
        &sim,
        &token,
        reqwest::Method::DELETE,
        &format!("{path}?ids={new_id}"),
        None,
    )
    .await;
    assert_eq!(deleted[0]["success"], true);
    assert_eq!(sim.control().records_held()["Contact"], 2);
}

#[tokio::test]
async fn oauth_answers_instance_url_without_expiry_and_does_not_rotate() {
    let sim = start(Provider::Salesforce, small(2, 1)).await;
    let http = client();
    let redirect = "http://127.0.0.1:1/cb";
    let resp = http
        .get(sim.authorize_url())
        .query(&[
            ("response_type", "code"),
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("state", "st"),
            ("auto_approve", "true"),
        ])
        .send()
        .await
        .expect("authorize");
    let code = param(&location_params(&resp), "code").expect("code");
    let wrong_redirect = http
        .post(sim.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://elsewhere/cb"),
            ("client_id", "switchyard-client"),
            ("client_secret", "switchyard-secret"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(wrong_redirect.status().as_u16(), 400);
    assert_eq!(
        wrong_redirect.json::<Value>().await.expect("json")["error"],
        "redirect_uri_mismatch"
    );

    let resp = http
        .get(sim.authorize_url())
        .query(&[
            ("response_type", "code"),
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("auto_approve", "true"),
        ])
        .send()
        .await
        .expect("authorize");
    let code = param(&location_params(&resp), "code").expect("code");
    let tokens: Value = http
        .post(sim.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("client_id", "switchyard-client"),
            ("client_secret", "switchyard-secret"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(tokens["instance_url"], sim.base_url().as_str());
    assert!(tokens.get("expires_in").is_none());
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        tokens["issued_at"]
            .as_str()
            .is_some_and(|s| s.parse::<i64>().is_ok())
    );
    let access = tokens["access_token"].as_str().expect("access").to_string();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    let (status, _) = call(
        &sim,
        &access,
        reqwest::Method::GET,
        &format!("{V}/query?q=SELECT+Id+FROM+Account"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    sim.control().expire_tokens();
    let (status, err) = call(
        &sim,
        &access,
        reqwest::Method::GET,
        &format!("{V}/query?q=SELECT+Id+FROM+Account"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        err,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );

    let refreshed: Value = http
        .post(sim.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", "switchyard-client"),
            ("client_secret", "switchyard-secret"),
        ])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    assert!(refreshed.get("refresh_token").is_none(), "no rotation");
    assert_eq!(refreshed["instance_url"], sim.base_url().as_str());
    let new_access = refreshed["access_token"].as_str().expect("access");
    assert_eq!(
        call(
            &sim,
            new_access,
            reqwest::Method::GET,
            &format!(
                "{V}/sobjects/Account/{}",
                sim.control().companies()[0]["Id"].as_str().expect("id")
            ),
            None
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn daily_allowance_is_reported_and_enforced() {
    let config = SimConfig {
        rate_limit: true,
        rate_limit_policy: Some(RateLimit {
            max: 2,
            window: Duration::from_secs(86_400),
        }),
        ..small(2, 1)
    };
    let sim = start(Provider::Salesforce, config).await;
    let token = sim.control().issue_access_token();
    let url = format!("{}{V}/query?q=SELECT+Id+FROM+Contact", sim.base_url());
    let first = client()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(first.headers()["sforce-limit-info"], "api-usage=1/2");
    let second = client()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(second.headers()["sforce-limit-info"], "api-usage=2/2");
    let third = client()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(third.status().as_u16(), 403);
    assert!(third.headers().get("retry-after").is_none());
    let body: Value = third.json().await.expect("json");
    assert_eq!(body[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
}

#[tokio::test]
async fn refresh_rotation_can_be_turned_on() {
    let config = SimConfig {
        rotate_refresh_tokens: Some(true),
        ..small(2, 1)
    };
    let sim = start(Provider::Salesforce, config).await;
    let http = client();
    let redirect = "http://127.0.0.1:1/cb";
    let resp = http
        .get(sim.authorize_url())
        .query(&[
            ("response_type", "code"),
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("auto_approve", "true"),
        ])
        .send()
        .await
        .expect("authorize");
    let code = param(&location_params(&resp), "code").expect("code");
    let form = |pairs: Vec<(&'static str, String)>| {
        http.post(sim.token_url())
            .basic_auth("switchyard-client", Some("switchyard-secret"))
            .form(&pairs)
            .send()
    };
    let tokens: Value = form(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", redirect.into()),
    ])
    .await
    .expect("token")
    .json()
    .await
    .expect("json");
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let refreshed: Value = form(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", first.clone()),
    ])
    .await
    .expect("refresh")
    .json()
    .await
    .expect("json");
    let second = refreshed["refresh_token"]
        .as_str()
        .expect("rotated refresh token");
    assert_ne!(second, first);
    let stale = form(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", first),
    ])
    .await
    .expect("refresh");
    assert_eq!(stale.status().as_u16(), 400);
    assert_eq!(
        stale.json::<Value>().await.expect("json")["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn only_ten_query_cursors_stay_open() {
    let sim = start(Provider::Salesforce, small(300, 1)).await;
    let token = sim.control().issue_access_token();
    let (_, first) = soql(&sim, &token, "query", "SELECT Id FROM Contact").await;
    let first_next = first["nextRecordsUrl"]
        .as_str()
        .expect("more than one batch")
        .to_string();
    for _ in 0..10 {
        let (status, _) = soql(&sim, &token, "query", "SELECT Id FROM Contact").await;
        assert_eq!(status, 200);
    }
    let (status, err) = call(&sim, &token, reqwest::Method::GET, &first_next, None).await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "INVALID_QUERY_LOCATOR");
}

#[tokio::test]
async fn soql_matches_in_lists_and_ors_of_ands_and_refuses_long_uris() {
    let sim = start(Provider::Salesforce, small(0, 0)).await;
    let token = sim.control().issue_access_token();
    let mut ids = Vec::new();
    for (first, last, email, mobile) in [
        ("Ann", "Lee", "ann@x.com", "+1 555 0100"),
        ("Bob", "O'Neil", "bob@x.com", "+1 555 0101"),
        ("Ann", "Moss", "moss@x.com", "+1 555 0102"),
    ] {
        let seeded = sim
            .control()
            .seed_record(
                "Contact",
                json!({"FirstName": first, "LastName": last, "Email": email, "MobilePhone": mobile}),
            )
            .expect("seeded");
        ids.push(seeded["Id"].as_str().expect("Id").to_owned());
    }
    let ids_of = |page: &Value| -> Vec<String> {
        page["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["Id"].as_str().map(str::to_owned))
            .collect()
    };

    let (status, page) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id, Email FROM Contact WHERE Email IN ('BOB@x.com', 'ann@x.com', 'nobody@x.com') ORDER BY CreatedDate ASC",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids_of(&page), [ids[0].clone(), ids[1].clone()]);

    let (status, page) = soql(
        &sim,
        &token,
        "query",
        r"SELECT Id, FirstName, LastName FROM Contact WHERE (FirstName = 'ann' AND LastName = 'moss') OR (FirstName = 'Bob' AND LastName = 'O\'Neil') OR (FirstName = 'Ann' AND LastName = 'Neil') ORDER BY CreatedDate ASC",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids_of(&page), [ids[1].clone(), ids[2].clone()]);

    let (status, page) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id FROM Contact WHERE Phone IN ('+1 555 0102') OR MobilePhone IN ('+1 555 0102')",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids_of(&page), [ids[2].clone()]);

    let (status, err) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id FROM Contact WHERE FirstName = 'Ann' AND LastName = 'Lee' OR Email = 'bob@x.com'",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "MALFORMED_QUERY");

    let many: Vec<String> = (0..2_000).map(|n| format!("'someone{n}@x.com'")).collect();
    let long = format!(
        "SELECT Id FROM Contact WHERE Email IN ({})",
        many.join(", ")
    );
    let resp = client()
        .get(format!("{}{V}/query", sim.base_url()))
        .query(&[("q", long.as_str())])
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 414);
}

#[tokio::test]
async fn global_describe_lists_the_objects_and_project_describes_its_fields() {
    let sim = start(Provider::Salesforce, small(2, 2)).await;
    let token = sim.control().issue_access_token();
    let (status, global) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        "/services/data/v59.0/sobjects",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(global["encoding"], "UTF-8");
    assert_eq!(global["maxBatchSize"], 200);
    let sobjects = global["sobjects"].as_array().expect("sobjects");
    let names: Vec<&str> = sobjects.iter().filter_map(|o| o["name"].as_str()).collect();
    assert_eq!(names, ["Account", "Contact", "Project__c"]);
    let project = &sobjects[2];
    assert_eq!(project["custom"], true);
    assert_eq!(project["label"], "Project");
    assert_eq!(project["labelPlural"], "Projects");
    assert_eq!(project["keyPrefix"], "a0P");
    for flag in ["queryable", "createable", "updateable", "deletable"] {
        assert_eq!(project[flag], true, "{flag}");
    }
    assert_eq!(
        project["urls"],
        json!({
            "sobject": "/services/data/v59.0/sobjects/Project__c",
            "describe": "/services/data/v59.0/sobjects/Project__c/describe",
            "rowTemplate": "/services/data/v59.0/sobjects/Project__c/{ID}",
        })
    );
    assert_eq!(sobjects[1]["custom"], false);
    assert_eq!(sobjects[1]["keyPrefix"], "003");

    let (status, described) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!("{V}/sobjects/Project__c/describe"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(described["name"], "Project__c");
    assert_eq!(described["custom"], true);
    assert_eq!(described["label"], "Project");
    let fields = described["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {fields:?}"))
            .clone()
    };
    let names: Vec<&str> = fields.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "Id",
            "IsDeleted",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
            "Name",
            "Budget__c",
            "Status__c",
            "Start_Date__c",
            "Project_Code__c",
            "Account__c"
        ]
    );
    let id = field("Id");
    assert_eq!(
        (&id["type"], &id["createable"]),
        (&json!("id"), &json!(false))
    );
    let name = field("Name");
    assert_eq!(name["label"], "Project Name");
    assert_eq!(name["type"], "string");
    assert_eq!(name["custom"], false);
    assert_eq!(name["createable"], true);
    assert_eq!(name["nillable"], false);
    for (f, ty, label) in [
        ("Budget__c", "currency", "Budget"),
        ("Status__c", "picklist", "Status"),
        ("Start_Date__c", "date", "Start Date"),
        ("Project_Code__c", "string", "Project Code"),
        ("Account__c", "reference", "Account"),
    ] {
        let d = field(f);
        assert_eq!(
            (&d["type"], &d["label"]),
            (&json!(ty), &json!(label)),
            "{d}"
        );
        assert_eq!(d["custom"], true, "{d}");
        assert_eq!(d["createable"], true, "{d}");
        assert_eq!(d["nillable"], true, "{d}");
    }
    let status_field = field("Status__c");
    assert_eq!(status_field["restrictedPicklist"], true);
    let values: Vec<&str> = status_field["picklistValues"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v["value"].as_str())
        .collect();
    assert_eq!(values, ["Planned", "Active", "Done"]);
    let code = field("Project_Code__c");
    assert_eq!(
        (&code["externalId"], &code["unique"]),
        (&json!(true), &json!(true))
    );
    let account = field("Account__c");
    assert_eq!(account["referenceTo"], json!(["Account"]));
    assert_eq!(account["relationshipName"], "Account__r");
    for f in [
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
        "IsDeleted",
    ] {
        let d = field(f);
        assert_eq!(
            (&d["createable"], &d["updateable"]),
            (&json!(false), &json!(false)),
            "{d}"
        );
    }
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!("{V}/sobjects/Invoice__c/describe"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err[0]["errorCode"], "NOT_FOUND");
}

#[tokio::test]
async fn projects_page_through_soql_and_changes_are_found_since() {
    let sim = start(Provider::Salesforce, small(3, 450)).await;
    let token = sim.control().issue_access_token();
    let accounts: Vec<(String, String)> = sim
        .control()
        .companies()
        .iter()
        .map(|a| {
            (
                a["Id"].as_str().expect("Id").to_string(),
                a["Name"].as_str().expect("Name").to_string(),
            )
        })
        .collect();
    let (status, mut page) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id, Name, Budget__c, Status__c, Start_Date__c, Project_Code__c, Account__c, SystemModstamp FROM Project__c",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let mut records = Vec::new();
    let mut sizes = Vec::new();
    loop {
        assert_eq!(page["totalSize"], 450);
        let batch = page["records"].as_array().expect("records");
        sizes.push(batch.len());
        records.extend(batch.iter().cloned());
        if page["done"] == true {
            break;
        }
        let next = page["nextRecordsUrl"].as_str().expect("next").to_string();
        page = call(&sim, &token, reqwest::Method::GET, &next, None)
            .await
            .1;
    }
    assert_eq!(sizes, [200, 200, 50]);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["attributes"]["type"], "Project__c");
        let id = r["Id"].as_str().expect("Id");
        assert!(id.len() == 18 && id.starts_with("a0P"), "{id}");
        assert_eq!(r["Account__c"], accounts[i].0.as_str());
        assert_eq!(r["Name"], format!("{} rollout", accounts[i].1).as_str());
        assert_eq!(r["Project_Code__c"], format!("PRJ-{:05}", i + 1).as_str());
        assert!(r["Budget__c"].is_number(), "{r}");
        assert!(
            ["Planned", "Active", "Done"].contains(&r["Status__c"].as_str().unwrap_or_default())
        );
    }
    let snapshot: Vec<Value> = sim.control().records("projects").expect("kind");
    assert_eq!(snapshot.len(), 450);
    assert_eq!(snapshot[0]["Id"], records[0]["Id"]);
    assert!(sim.control().kinds().contains(&"projects"));
    assert_eq!(sim.control().records_held()["projects"], 450);

    // A change since the last generated stamp comes back alone.
    let cutoff = records[449]["SystemModstamp"]
        .as_str()
        .expect("stamp")
        .to_string();
    let target = records[9]["Id"].as_str().expect("Id").to_string();
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{V}/sobjects/Project__c/{target}"),
        Some(json!({"Status__c": "Done", "Budget__c": 4200.5})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, changed) = soql(
        &sim,
        &token,
        "query",
        &format!(
            "SELECT Id, Status__c, Budget__c FROM Project__c WHERE LastModifiedDate >= {cutoff} ORDER BY LastModifiedDate ASC"
        ),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let ids: Vec<&str> = changed["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["Id"].as_str())
        .collect();
    // The last generated project, then the update.
    assert_eq!(
        ids,
        [records[449]["Id"].as_str().expect("Id"), target.as_str()]
    );
    assert_eq!(changed["records"][1]["Status__c"], "Done");
    assert_eq!(changed["records"][1]["Budget__c"], 4200.5);

    // Lookups by code, IN lists, dates, ordering and limits.
    let (_, one) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id, Project_Code__c FROM Project__c WHERE Project_Code__c = 'PRJ-00007'",
    )
    .await;
    assert_eq!(one["totalSize"], 1);
    assert_eq!(one["records"][0]["Id"], records[6]["Id"]);
    let (_, some) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id FROM Project__c WHERE Project_Code__c IN ('PRJ-00002', 'PRJ-00400', 'NOPE') ORDER BY Project_Code__c DESC LIMIT 5",
    )
    .await;
    let ids: Vec<&Value> = some["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| &r["Id"])
        .collect();
    assert_eq!(ids, [&records[399]["Id"], &records[1]["Id"]]);
    let (status, dated) = soql(
        &sim,
        &token,
        "query",
        "SELECT COUNT() FROM Project__c WHERE Start_Date__c >= 2023-01-01",
    )
    .await;
    assert_eq!(status, 200, "{dated}");
    assert_eq!(dated["totalSize"], 450);
    let (status, err) = soql(
        &sim,
        &token,
        "query",
        "SELECT Id FROM Project__c WHERE Start_Date__c >= '2023-01-01'",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "INVALID_FIELD");
    let (status, err) = soql(&sim, &token, "query", "SELECT Colour__c FROM Project__c").await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "INVALID_FIELD");

    // Deleted projects leave query but stay in queryAll.
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::DELETE,
        &format!("{V}/sobjects/Project__c/{target}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, live) = soql(&sim, &token, "query", "SELECT COUNT() FROM Project__c").await;
    assert_eq!(live["totalSize"], 449);
    let (_, all) = soql(
        &sim,
        &token,
        "queryAll",
        &format!("SELECT Id, IsDeleted FROM Project__c WHERE Id = '{target}'"),
    )
    .await;
    assert_eq!(all["records"][0]["IsDeleted"], true);
    assert_eq!(sim.control().records_held()["projects"], 449);
}

#[tokio::test]
async fn project_writes_upserts_and_field_checks() {
    let sim = start(Provider::Salesforce, small(2, 5)).await;
    let token = sim.control().issue_access_token();
    let account = sim.control().companies()[1]["Id"]
        .as_str()
        .expect("Id")
        .to_string();
    let path = format!("{V}/sobjects/Project__c");

    let (status, created) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &path,
        Some(json!({"attributes": {"type": "Project__c"}, "Name": "Moonshot", "Budget__c": 125000, "Status__c": "Active", "Start_Date__c": "2024-02-01", "Project_Code__c": "MOON-1", "Account__c": account})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("a0P") && id.len() == 18, "{id}");
    let (status, read) = call(
        &sim,
        &token,
        reqwest::Method::GET,
        &format!("{path}/{id}?fields=Name,Budget__c,Account__c,Project_Code__c"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read["Name"], "Moonshot");
    assert_eq!(read["Budget__c"], 125000.0);
    assert_eq!(read["Account__c"], account.as_str());
    assert_eq!(read["Project_Code__c"], "MOON-1");

    let dangling = "0015g0000099999AAA";
    for (body, code) in [
        (
            json!({"Name": "X", "Project_Code__c": "moon-1"}),
            "DUPLICATE_VALUE",
        ),
        (
            json!({"Name": "X", "Project_Code__c": "PRJ-00002"}),
            "DUPLICATE_VALUE",
        ),
        (json!({"Name": "X", "Colour__c": "red"}), "INVALID_FIELD"),
        (
            json!({"Name": "X", "CreatedDate": "2024-01-01T00:00:00Z"}),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
        (json!({"Budget__c": 5}), "REQUIRED_FIELD_MISSING"),
        (
            json!({"Name": "X", "Budget__c": "lots"}),
            "JSON_PARSER_ERROR",
        ),
        (
            json!({"Name": "X", "Start_Date__c": "soon"}),
            "JSON_PARSER_ERROR",
        ),
        (
            json!({"Name": "X", "Status__c": "Cancelled"}),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        (json!({"Name": "X", "Account__c": "nope"}), "MALFORMED_ID"),
        (
            json!({"Name": "X", "Account__c": dangling}),
            "FIELD_INTEGRITY_EXCEPTION",
        ),
    ] {
        let (status, err) = call(
            &sim,
            &token,
            reqwest::Method::POST,
            &path,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err[0]["errorCode"], code, "{body}: {err}");
    }
    let (_, dup) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &path,
        Some(json!({"Name": "X", "Project_Code__c": "MOON-1"})),
    )
    .await;
    assert_eq!(
        dup,
        json!([{"message": format!("duplicate value found: Project_Code__c duplicates value on record with id: {id}"), "errorCode": "DUPLICATE_VALUE", "fields": ["Project_Code__c"]}])
    );

    // Update; a code another project holds is refused.
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{path}/{id}"),
        Some(json!({"Status__c": "Done", "Budget__c": "99.5"})),
    )
    .await;
    assert_eq!(status, 204);
    let record = sim.control().record("projects", &id).expect("record");
    assert_eq!(record["Status__c"], "Done");
    assert_eq!(record["Budget__c"], 99.5);
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{path}/{id}"),
        Some(json!({"Project_Code__c": "PRJ-00004"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err[0]["errorCode"], "DUPLICATE_VALUE");

    // Upsert by the project code: a generated one is found, a new one made.
    let third = sim.control().records("projects").expect("projects")[2]["Id"].clone();
    let (status, up) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{path}/Project_Code__c/PRJ-00003"),
        Some(json!({"Budget__c": 1})),
    )
    .await;
    assert_eq!(status, 200, "{up}");
    assert_eq!(up["created"], false);
    assert_eq!(up["id"], third);
    let (status, fresh) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{path}/Project_Code__c/NEW-9"),
        Some(json!({"Name": "Fresh", "Account__c": account})),
    )
    .await;
    assert_eq!(status, 201, "{fresh}");
    assert_eq!(fresh["created"], true);
    let fresh_id = fresh["id"].as_str().expect("id");
    assert_eq!(
        sim.control().record("projects", fresh_id).expect("fresh")["Project_Code__c"],
        "NEW-9"
    );
    let (status, err) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{path}/Project_Code__c/NEW-10"),
        Some(json!({"Budget__c": 3})),
    )
    .await;
    assert_eq!(status, 400, "a new project needs its Name");
    assert_eq!(err[0]["errorCode"], "REQUIRED_FIELD_MISSING");

    // Collections: a code repeated within one request fails the later record.
    let composite = format!("{V}/composite/sobjects");
    let twins = json!([
        {"attributes": {"type": "Project__c"}, "Name": "Twin A", "Project_Code__c": "TWIN"},
        {"attributes": {"type": "Project__c"}, "Name": "Twin B", "Project_Code__c": "twin"},
    ]);
    let (status, results) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &composite,
        Some(json!({"allOrNone": true, "records": twins})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(results[1]["errors"][0]["statusCode"], "DUPLICATE_VALUE");
    // 5 generated, Moonshot, Fresh.
    assert_eq!(sim.control().records_held()["projects"], 7);
    let (_, results) = call(
        &sim,
        &token,
        reqwest::Method::POST,
        &composite,
        Some(json!({"allOrNone": false, "records": twins})),
    )
    .await;
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[1]["errors"][0]["statusCode"], "DUPLICATE_VALUE");
    let twin = results[0]["id"].as_str().expect("id").to_string();
    let (_, updated) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &composite,
        Some(json!({"records": [
            {"attributes": {"type": "Project__c"}, "Id": twin, "Status__c": "Planned"},
            {"attributes": {"type": "Project__c"}, "Id": id, "Status__c": "Paused"},
        ]})),
    )
    .await;
    assert_eq!(updated[0]["success"], true);
    assert_eq!(
        updated[1]["errors"][0]["statusCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(sim.control().records_held()["projects"], 8);

    // A deleted project's code can be used again.
    let (status, _) = call(
        &sim,
        &token,
        reqwest::Method::DELETE,
        &format!("{path}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, again) = call(
        &sim,
        &token,
        reqwest::Method::PATCH,
        &format!("{path}/Project_Code__c/MOON-1"),
        Some(json!({"Name": "Moonshot II"})),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["id"], id.as_str());
    assert_eq!(sim.control().records_held()["projects"], 8);
}
