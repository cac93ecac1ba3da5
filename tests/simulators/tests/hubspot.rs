//! The HubSpot simulator through real HTTP: paging quirks, search, writes,
//! duplicates, batches, associations, OAuth, rate limits and faults.

mod common;

use std::time::Duration;

use common::{client, location_params, param, small, start};
use serde_json::{Value, json};
use switchyard_simulators::{Provider, RateLimit, SimConfig};

async fn get(url: &str, token: &str) -> (u16, Value) {
    let resp = client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

async fn send(method: reqwest::Method, url: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = client()
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send");
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

#[tokio::test]
async fn list_pages_with_string_properties_and_no_paging_on_the_last_page() {
    let sim = start(Provider::HubSpot, small(25, 5)).await;
    let token = sim.control().issue_access_token();
    let mut url = format!("{}/crm/v3/objects/contacts?limit=10", sim.base_url());
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = get(&url, &token).await;
        assert_eq!(status, 200);
        pages += 1;
        for r in body["results"].as_array().expect("results") {
            ids.push(r["id"].as_str().expect("string id").to_string());
            let props = r["properties"].as_object().expect("properties");
            let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "createdate",
                    "email",
                    "firstname",
                    "hs_object_id",
                    "lastmodifieddate",
                    "lastname"
                ]
            );
            assert!(
                props.values().all(Value::is_string),
                "every value is a string: {props:?}"
            );
            assert_eq!(r["archived"], false);
        }
        match body.get("paging") {
            Some(p) => url = p["next"]["link"].as_str().expect("link").to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 25);
    // Raw snapshot agrees with the pull.
    let snapshot: Vec<String> = sim
        .control()
        .contacts()
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(snapshot, ids);

    // A full last page still has no `paging`.
    let (_, body) = get(
        &format!("{}/crm/v3/objects/companies?limit=5", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(5));
    assert!(body.get("paging").is_none());
    assert_eq!(
        body["results"][0]["properties"]["numberofemployees"],
        Value::Null,
        "not requested"
    );

    // Requested properties: numbers are strings, empty ones null.
    let (_, body) = get(
        &format!("{}/crm/v3/objects/companies?limit=1&properties=numberofemployees,hs_lead_status&associations=contacts", sim.base_url()),
        &token,
    )
    .await;
    let props = &body["results"][0]["properties"];
    assert!(
        props["numberofemployees"]
            .as_str()
            .is_some_and(|s| s.parse::<u64>().is_ok())
    );
    assert!(
        props.get("hs_lead_status").is_none(),
        "unknown to companies, ignored"
    );

    let (status, body) = get(
        &format!("{}/crm/v3/objects/contacts?limit=101", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
}

#[tokio::test]
async fn search_finds_changes_since_in_modification_order() {
    let sim = start(Provider::HubSpot, small(300, 10)).await;
    let token = sim.control().issue_access_token();
    let base = sim.base_url();
    let (status, before) = get(
        &format!("{base}/crm/v3/objects/contacts/7?properties=lastmodifieddate"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let cutoff = before["properties"]["lastmodifieddate"]
        .as_str()
        .expect("date")
        .to_string();

    for id in [250, 12] {
        let (status, _) = send(
            reqwest::Method::PATCH,
            &format!("{base}/crm/v3/objects/contacts/{id}"),
            &token,
            json!({"properties": {"jobtitle": "Chief Simulator"}}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let query = |after: &str, value: &str| {
        json!({
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": value}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["jobtitle"],
            "limit": 100,
            "after": after,
        })
    };
    let url = format!("{base}/crm/v3/objects/contacts/search");
    let (status, page) = send(reqwest::Method::POST, &url, &token, query("0", &cutoff)).await;
    assert_eq!(status, 200);
    // 7..=300 are at or after the cutoff: 294 contacts, 100 per page.
    assert_eq!(page["total"], 294);
    assert_eq!(page["paging"]["next"]["after"], "100");
    assert_eq!(page["results"][0]["id"], "7");
    let (_, last) = send(reqwest::Method::POST, &url, &token, query("200", &cutoff)).await;
    let results = last["results"].as_array().expect("results");
    assert_eq!(results.len(), 94);
    assert!(last.get("paging").is_none());
    let tail: Vec<&str> = results[92..]
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        tail,
        ["250", "12"],
        "updated contacts come last, in update order"
    );
    assert_eq!(results[93]["properties"]["jobtitle"], "Chief Simulator");

    // Epoch-millisecond values work too; the last update alone.
    let updated = results[93]["properties"]["lastmodifieddate"]
        .as_str()
        .expect("date");
    let ms = {
        let (_, one) = send(reqwest::Method::POST, &url, &token, query("0", updated)).await;
        assert_eq!(one["total"], 1);
        one["results"][0]["updatedAt"]
            .as_str()
            .expect("updatedAt")
            .to_string()
    };
    assert_eq!(ms, updated);

    // Email equality and the 10,000-result ceiling.
    let email = sim.control().contacts()[4]["properties"]["email"]
        .as_str()
        .expect("email")
        .to_string();
    let (_, found) = send(
        reqwest::Method::POST,
        &url,
        &token,
        json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email.to_uppercase()}]}]}),
    )
    .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["results"][0]["id"], "5");
    let (status, err) = send(
        reqwest::Method::POST,
        &url,
        &token,
        json!({"limit": 100, "after": "9950"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["category"], "VALIDATION_ERROR");
}

#[tokio::test]
async fn writes_duplicates_archive_and_associations() {
    let sim = start(Provider::HubSpot, small(10, 3)).await;
    let token = sim.control().issue_access_token();
    let base = sim.base_url();
    let create = json!({
        "properties": {"email": "Bob@Example.com", "firstname": "Bob", "lastname": "Stone", "phone": 5550100},
        "associations": [{"to": {"id": "2"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}],
    });
    let (status, bob) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts"),
        &token,
        create.clone(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(bob["id"], "11");
    assert_eq!(bob["properties"]["email"], "bob@example.com");
    assert_eq!(bob["properties"]["phone"], "5550100");

    let (status, dup) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts"),
        &token,
        create,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(dup["category"], "CONFLICT");
    assert_eq!(dup["message"], "Contact already exists. Existing ID: 11");
    assert!(dup["correlationId"].is_string());

    let (status, bad) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts"),
        &token,
        json!({"properties": {"favourite_colour": "blue"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(bad["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");

    let (_, assoc) = get(
        &format!("{base}/crm/v4/objects/contacts/11/associations/companies"),
        &token,
    )
    .await;
    assert_eq!(assoc["results"][0]["toObjectId"], 2);
    assert_eq!(assoc["results"][0]["associationTypes"][0]["typeId"], 279);

    let (status, _) = send(
        reqwest::Method::PUT,
        &format!("{base}/crm/v4/objects/contacts/11/associations/default/companies/3"),
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (status, batch) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v4/associations/contacts/companies/batch/associate/default"),
        &token,
        json!({"inputs": [{"from": {"id": "1"}, "to": {"id": "1"}}, {"from": {"id": "999"}, "to": {"id": "1"}}]}),
    )
    .await;
    assert_eq!(status, 207);
    assert_eq!(batch["numErrors"], 1);
    let (_, listed) = get(
        &format!("{base}/crm/v3/objects/contacts/11?associations=companies"),
        &token,
    )
    .await;
    let linked: Vec<&str> = listed["associations"]["companies"]["results"]
        .as_array()
        .expect("associations")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(linked, ["2", "3"]);

    // Archive: gone from the list and reads, visible with archived=true.
    let resp = client()
        .delete(format!("{base}/crm/v3/objects/contacts/11"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 204);
    let (status, _) = get(&format!("{base}/crm/v3/objects/contacts/11"), &token).await;
    assert_eq!(status, 404);
    let (_, archived) = get(
        &format!("{base}/crm/v3/objects/contacts?archived=true"),
        &token,
    )
    .await;
    assert_eq!(archived["results"][0]["id"], "11");
    assert_eq!(archived["results"][0]["archived"], true);
    assert_eq!(sim.control().records_held()["contacts"], 10);
    // The email is free again.
    let (status, _) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts"),
        &token,
        json!({"properties": {"email": "bob@example.com"}}),
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn batches_limit_inputs_report_partial_failures_and_upsert_by_email() {
    let sim = start(Provider::HubSpot, small(5, 2)).await;
    let token = sim.control().issue_access_token();
    let base = sim.base_url();
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"properties": {"firstname": format!("N{i}")}}))
        .collect();
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts/batch/create"),
        &token,
        json!({"inputs": too_many}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");

    let existing = sim.control().contacts()[0]["properties"]["email"]
        .as_str()
        .expect("email")
        .to_string();
    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts/batch/create"),
        &token,
        json!({"inputs": [{"properties": {"email": "new@x.example.com"}}, {"properties": {"email": existing}}]}),
    )
    .await;
    assert_eq!(status, 207);
    assert_eq!(body["status"], "COMPLETE");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["errors"][0]["category"], "CONFLICT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("Existing ID: 1"))
    );

    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts/batch/upsert"),
        &token,
        json!({"inputs": [
            {"idProperty": "email", "id": "new@x.example.com", "properties": {"lastname": "Known"}},
            {"idProperty": "email", "id": "fresh@x.example.com", "properties": {"lastname": "Fresh"}},
        ]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["new"], false);
    assert_eq!(body["results"][0]["id"], "6");
    assert_eq!(body["results"][1]["new"], true);
    assert_eq!(
        body["results"][1]["properties"]["email"],
        "fresh@x.example.com"
    );

    let (status, body) = send(
        reqwest::Method::POST,
        &format!("{base}/crm/v3/objects/contacts/batch/read"),
        &token,
        json!({"inputs": [{"id": "1"}, {"id": "404"}], "properties": ["email"]}),
    )
    .await;
    assert_eq!(status, 207);
    assert_eq!(body["errors"][0]["context"]["ids"][0], "404");
    assert_eq!(
        sim.control()
            .request_count("POST /crm/v3/objects/{object}/batch/{action}"),
        4
    );
}

#[tokio::test]
async fn oauth_code_flow_refresh_and_expiry() {
    let sim = start(Provider::HubSpot, small(3, 1)).await;
    let http = client();
    let redirect = "http://127.0.0.1:1/callback";
    let page = http
        .get(sim.authorize_url())
        .query(&[
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("scope", "crm.objects.contacts.read"),
            ("state", "s1"),
        ])
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("html").contains("Approve"));

    // The Approve button posts the form back.
    let approved = http
        .post(sim.authorize_url())
        .form(&[
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("state", "s1"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .expect("approve");
    assert_eq!(approved.status().as_u16(), 303);
    let params = location_params(&approved);
    assert_eq!(param(&params, "state").as_deref(), Some("s1"));
    assert!(param(&params, "code").is_some());

    // Scripted approval with PKCE.
    let verifier = "a-verifier-long-enough-for-pkce-0123456789";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let challenge = challenge.as_str();
    let auto = http
        .get(sim.authorize_url())
        .query(&[
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("state", "s2"),
            ("auto_approve", "true"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .expect("auto");
    assert!(auto.status().is_redirection());
    let code = param(&location_params(&auto), "code").expect("code");
    let exchange = |code: String, verifier: &'static str| {
        http.post(sim.token_url())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", "switchyard-client"),
                ("client_secret", "switchyard-secret"),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let bad = exchange(code.clone(), "wrong-verifier")
        .await
        .expect("token");
    assert_eq!(bad.status().as_u16(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["status"], "BAD_AUTH_CODE");
    // The code was used up by the failed attempt too.
    let again = exchange(code, verifier).await.expect("token");
    assert_eq!(again.status().as_u16(), 400);

    let auto = http
        .get(sim.authorize_url())
        .query(&[
            ("client_id", "switchyard-client"),
            ("redirect_uri", redirect),
            ("auto_approve", "true"),
            ("code_challenge", challenge),
        ])
        .send()
        .await
        .expect("auto");
    let code = param(&location_params(&auto), "code").expect("code");
    let tokens: Value = exchange(code, verifier)
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 1800);
    let access = tokens["access_token"].as_str().expect("access").to_string();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    let url = format!("{}/crm/v3/objects/contacts", sim.base_url());
    assert_eq!(get(&url, &access).await.0, 200);
    sim.control().expire_tokens();
    let (status, body) = get(&url, &access).await;
    assert_eq!(status, 401);
    assert_eq!(body["category"], "EXPIRED_AUTHENTICATION");
    let (status, body) = get(&url, "nonsense").await;
    assert_eq!(status, 401);
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");
    // Private-app tokens do not expire.
    assert_eq!(get(&url, "static-token").await.0, 200);

    let refreshed: Value = http
        .post(sim.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "switchyard-client"),
            ("client_secret", "switchyard-secret"),
        ])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    assert_eq!(
        refreshed["refresh_token"].as_str(),
        Some(refresh.as_str()),
        "HubSpot does not rotate"
    );
    let new_access = refreshed["access_token"].as_str().expect("access");
    assert_ne!(new_access, access);
    assert_eq!(get(&url, new_access).await.0, 200);

    let wrong = http
        .post(sim.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "switchyard-client"),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .expect("refresh");
    assert_eq!(wrong.status().as_u16(), 400);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["status"], "BAD_CLIENT_SECRET");
}

#[tokio::test]
async fn rate_limit_answers_hubspot_429_with_headers() {
    let config = SimConfig {
        rate_limit: true,
        rate_limit_policy: Some(RateLimit {
            max: 3,
            window: Duration::from_secs(60),
        }),
        ..small(3, 1)
    };
    let sim = start(Provider::HubSpot, config).await;
    let token = sim.control().issue_access_token();
    let url = format!("{}/crm/v3/objects/contacts", sim.base_url());
    for remaining in [2, 1, 0] {
        let resp = client()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["x-hubspot-ratelimit-max"], "3");
        assert_eq!(
            resp.headers()["x-hubspot-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        assert_eq!(
            resp.headers()["x-hubspot-ratelimit-interval-milliseconds"],
            "60000"
        );
    }
    let resp = client()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 429);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(
        body["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    // Another token (another account) has its own window.
    let other = sim.control().issue_access_token();
    assert_eq!(get(&url, &other).await.0, 200);
    sim.control().set_rate_limit(false, None);
    assert_eq!(get(&url, &token).await.0, 200);
}

#[tokio::test]
async fn injected_faults_are_deterministic_and_counted() {
    let sim = start(Provider::HubSpot, small(5, 1)).await;
    let token = sim.control().issue_access_token();
    let url = format!("{}/crm/v3/objects/contacts", sim.base_url());
    let c = sim.control();

    c.fail_next(2, 503);
    assert_eq!(get(&url, &token).await.0, 503);
    assert_eq!(get(&url, &token).await.0, 503);
    assert_eq!(get(&url, &token).await.0, 200);

    c.throttle_next(1);
    let (status, body) = get(&url, &token).await;
    assert_eq!(status, 429);
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");

    c.cut_next(1);
    let resp = client()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("headers arrive");
    assert!(resp.bytes().await.is_err(), "the body is cut");

    c.malform_next(1);
    let resp = client()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.json::<Value>().await.is_err(), "malformed JSON");
    assert_eq!(get(&url, &token).await.0, 200);

    // A seeded error rate fails the same requests every run.
    c.clear_faults();
    let mut pattern = Vec::new();
    for _ in 0..2 {
        c.set_error_rate(0.5);
        let mut run = Vec::new();
        for _ in 0..20 {
            run.push(get(&url, &token).await.0);
        }
        pattern.push(run);
    }
    c.clear_faults();
    assert_eq!(pattern[0], pattern[1]);
    assert!(pattern[0].contains(&500) && pattern[0].contains(&200));

    assert_eq!(c.request_count("GET /crm/v3/objects/{object}"), 47);
    // The same counters over HTTP.
    let counters: Value = client()
        .get(format!("{}/_sim/counters", sim.base_url()))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["requests"]["GET /crm/v3/objects/{object}"], 47);
    assert_eq!(counters["records"]["contacts"], 5);
    let resp = client()
        .post(format!("{}/_sim/faults", sim.base_url()))
        .json(&json!({"fail_next": 1, "error_status": 502}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(get(&url, &token).await.0, 502);
}

#[tokio::test]
async fn seeded_records_are_served() {
    let sim = start(Provider::HubSpot, small(2, 1)).await;
    let stored = sim
        .control()
        .seed_record("contacts", json!({"properties": {"email": "seed@x.example.com", "lastmodifieddate": "2020-01-01T00:00:00Z"}}))
        .expect("seed");
    assert_eq!(stored["id"], "3");
    let token = sim.control().issue_access_token();
    let (_, body) = get(
        &format!(
            "{}/crm/v3/objects/contacts/3?properties=email",
            sim.base_url()
        ),
        &token,
    )
    .await;
    assert_eq!(body["properties"]["email"], "seed@x.example.com");
    assert_eq!(body["updatedAt"], "2020-01-01T00:00:00.000Z");
    let via_http: Value = client()
        .get(format!("{}/_sim/records/contacts", sim.base_url()))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(via_http.as_array().map(Vec::len), Some(3));
}

/// The portal's custom object, by its objectTypeId.
const PROJECTS: &str = "2-7411001";

#[tokio::test]
async fn projects_schema_properties_and_pages_with_chosen_properties() {
    let sim = start(Provider::HubSpot, small(3, 25)).await;
    let token = sim.control().issue_access_token();
    let base = sim.base_url();

    let (status, schemas) = get(&format!("{base}/crm/v3/schemas"), &token).await;
    assert_eq!(status, 200);
    let results = schemas["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "one custom object: {schemas}");
    let schema = &results[0];
    assert_eq!(schema["id"], "7411001");
    assert_eq!(schema["objectTypeId"], PROJECTS);
    assert_eq!(schema["name"], "projects");
    assert_eq!(schema["fullyQualifiedName"], "p_projects");
    assert_eq!(
        schema["labels"],
        json!({"singular": "Project", "plural": "Projects"})
    );
    assert_eq!(schema["primaryDisplayProperty"], "project_name");
    assert_eq!(schema["requiredProperties"], json!(["project_name"]));
    assert_eq!(schema["searchableProperties"], json!(["project_name"]));
    assert_eq!(schema["secondaryDisplayProperties"], json!([]));
    assert_eq!(schema["associations"], json!([]));
    assert_eq!(schema["archived"], false);
    assert!(schema["createdAt"].is_string() && schema["updatedAt"].is_string());
    let (status, one) = get(&format!("{base}/crm/v3/schemas/p_projects"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(&one, schema);

    // The same property definitions by objectTypeId and fullyQualifiedName.
    let (status, props) = get(&format!("{base}/crm/v3/properties/{PROJECTS}"), &token).await;
    assert_eq!(status, 200);
    let (_, by_name) = get(&format!("{base}/crm/v3/properties/p_projects"), &token).await;
    assert_eq!(props, by_name);
    assert_eq!(props["results"], schema["properties"]);
    let defs = props["results"].as_array().expect("definitions");
    let def = |name: &str| {
        defs.iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {defs:?}"))
            .clone()
    };
    let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "hs_createdate",
            "hs_object_id",
            "hs_lastmodifieddate",
            "project_name",
            "budget",
            "status",
            "start_date",
            "project_code"
        ]
    );
    for (name, label, ty, field_type) in [
        ("project_name", "Project name", "string", "text"),
        ("budget", "Budget", "number", "number"),
        ("status", "Status", "enumeration", "select"),
        ("start_date", "Start date", "date", "date"),
        ("project_code", "Project code", "string", "text"),
    ] {
        let d = def(name);
        assert_eq!(
            (&d["label"], &d["type"], &d["fieldType"]),
            (&json!(label), &json!(ty), &json!(field_type)),
            "{d}"
        );
        assert!(d.get("hubspotDefined").is_none(), "custom: {d}");
        assert_eq!(d["modificationMetadata"]["readOnlyValue"], false);
        assert_eq!(d["hasUniqueValue"], name == "project_code", "{d}");
    }
    let options: Vec<(String, String)> = def("status")["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| (o["value"].to_string(), o["label"].to_string()))
        .collect();
    assert_eq!(
        options,
        [
            ("\"planned\"".into(), "\"Planned\"".into()),
            ("\"active\"".into(), "\"Active\"".into()),
            ("\"done\"".into(), "\"Done\"".into())
        ]
    );
    for name in ["hs_object_id", "hs_createdate", "hs_lastmodifieddate"] {
        let d = def(name);
        assert_eq!(d["hubspotDefined"], true, "{d}");
        assert_eq!(d["modificationMetadata"]["readOnlyValue"], true, "{d}");
    }

    // Only the objectTypeId and the fullyQualifiedName name the object.
    let (status, err) = get(&format!("{base}/crm/v3/objects/projects"), &token).await;
    assert_eq!(status, 400);
    assert_eq!(err["category"], "VALIDATION_ERROR");

    // Paging with chosen properties: those plus the three defaults, strings.
    let company_names: Vec<String> = sim
        .control()
        .companies()
        .iter()
        .filter_map(|c| c["properties"]["name"].as_str().map(str::to_string))
        .collect();
    let mut url =
        format!("{base}/crm/v3/objects/p_projects?limit=10&properties=project_name,budget");
    let mut seen = Vec::new();
    loop {
        let (status, page) = get(&url, &token).await;
        assert_eq!(status, 200, "{page}");
        for r in page["results"].as_array().expect("results") {
            let props = r["properties"].as_object().expect("properties");
            let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "budget",
                    "hs_createdate",
                    "hs_lastmodifieddate",
                    "hs_object_id",
                    "project_name"
                ]
            );
            assert!(props.values().all(Value::is_string), "{props:?}");
            assert!(
                props["budget"]
                    .as_str()
                    .is_some_and(|b| b.parse::<u64>().is_ok())
            );
            assert_eq!(props["hs_object_id"], r["id"]);
            seen.push((
                r["id"].as_str().expect("id").to_string(),
                props["project_name"].clone(),
            ));
        }
        match page.get("paging") {
            Some(p) => {
                url = p["next"]["link"].as_str().expect("link").to_string();
                assert!(
                    url.contains(&format!("/crm/v3/objects/{PROJECTS}?after=")),
                    "{url}"
                );
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0].0, "1");
    assert_eq!(seen[0].1, json!(format!("{} rollout", company_names[0])));
    assert_eq!(seen[24].1, json!(format!("{} rollout", company_names[24])));

    // No properties asked: the defaults alone; one read by id.
    let (_, page) = get(&format!("{base}/crm/v3/objects/{PROJECTS}?limit=1"), &token).await;
    let mut keys: Vec<&str> = page["results"][0]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]
    );
    let (status, three) = get(
        &format!("{base}/crm/v3/objects/{PROJECTS}/3?properties=project_code,status,start_date"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(three["properties"]["project_code"], "PRJ-00003");
    assert_eq!(three["properties"]["status"], "planned");
    assert!(
        three["properties"]["start_date"]
            .as_str()
            .is_some_and(|d| d.len() == 10 && d.starts_with("20"))
    );

    // The control surface knows the kind.
    let c = sim.control();
    assert!(c.kinds().contains(&"projects"));
    assert_eq!(c.records_held()["projects"], 25);
    assert_eq!(c.records("projects").map(|r| r.len()), Some(25));
    assert_eq!(
        c.record("projects", "2").expect("project 2")["properties"]["project_code"],
        "PRJ-00002"
    );
    let counters: Value = client()
        .get(format!("{base}/_sim/counters"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["records"]["projects"], 25);
}

#[tokio::test]
async fn projects_search_since_writes_upserts_and_rejections() {
    let sim = start(Provider::HubSpot, small(2, 30)).await;
    let token = sim.control().issue_access_token();
    let base = sim.base_url();
    let objects = format!("{base}/crm/v3/objects/{PROJECTS}");
    let post = |url: String, body: Value| {
        let token = token.clone();
        async move { send(reqwest::Method::POST, &url, &token, body).await }
    };

    // Changed since: project 20 onwards, then an updated one last.
    let (_, twenty) = get(
        &format!("{objects}/20?properties=hs_lastmodifieddate"),
        &token,
    )
    .await;
    let cutoff = twenty["properties"]["hs_lastmodifieddate"]
        .as_str()
        .expect("date")
        .to_string();
    let (status, _) = send(
        reqwest::Method::PATCH,
        &format!("{objects}/4"),
        &token,
        json!({"properties": {"status": "done", "budget": 7500}}),
    )
    .await;
    assert_eq!(status, 200);
    let since = |after: &str| {
        json!({
            "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": cutoff}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["status", "budget"],
            "limit": 5,
            "after": after,
        })
    };
    let search = format!("{objects}/search");
    let (status, first) = post(search.clone(), since("0")).await;
    assert_eq!(status, 200, "{first}");
    // 20..=30 plus the updated 4.
    assert_eq!(first["total"], 12);
    assert_eq!(first["results"][0]["id"], "20");
    assert_eq!(first["paging"]["next"]["after"], "5");
    let (_, last) = post(search.clone(), since("10")).await;
    assert_eq!(last["results"].as_array().map(Vec::len), Some(2));
    assert!(last.get("paging").is_none());
    assert_eq!(last["results"][1]["id"], "4");
    assert_eq!(last["results"][1]["properties"]["status"], "done");
    assert_eq!(last["results"][1]["properties"]["budget"], "7500");
    let (_, gt) = post(
        search.clone(),
        json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": cutoff}]}]}),
    )
    .await;
    assert_eq!(gt["total"], 11);

    // Upsert lookups: EQ and IN on the project code (any case).
    let (_, eq) = post(
        search.clone(),
        json!({"filterGroups": [{"filters": [{"propertyName": "project_code", "operator": "EQ", "value": "prj-00007"}]}], "properties": ["project_code"]}),
    )
    .await;
    assert_eq!(eq["total"], 1);
    assert_eq!(eq["results"][0]["id"], "7");
    assert_eq!(eq["results"][0]["properties"]["project_code"], "PRJ-00007");
    let (_, within) = post(
        search.clone(),
        json!({"filterGroups": [{"filters": [{"propertyName": "project_code", "operator": "IN", "values": ["PRJ-00009", "PRJ-00002", "PRJ-99999"]}]}]}),
    )
    .await;
    let ids: Vec<&str> = within["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, ["2", "9"]);
    let (_, by_status) = post(
        search.clone(),
        json!({"filterGroups": [{"filters": [{"propertyName": "status", "operator": "EQ", "value": "active"}]}]}),
    )
    .await;
    // Projects 1, 4, 7, ... 28 are active (stages cycle); 4 is now done.
    assert_eq!(by_status["total"], 9);

    // Create, with values checked for their types.
    let (status, created) = post(
        objects.clone(),
        json!({"properties": {"project_name": "Moonshot", "budget": 120000.5, "status": "active", "start_date": "2024-02-01", "project_code": "MOON-1"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "31");
    assert_eq!(created["properties"]["budget"], "120000.5");
    assert_eq!(created["properties"]["project_code"], "MOON-1");
    assert!(created["properties"]["hs_createdate"].is_string());
    for (properties, code) in [
        (
            json!({"project_name": "X", "project_code": "moon-1"}),
            "CONFLICT",
        ),
        (
            json!({"project_name": "X", "project_code": "PRJ-00003"}),
            "CONFLICT",
        ),
        (json!({"budget": "5"}), "REQUIRED_PROPERTY"),
        (
            json!({"project_name": "X", "colour": "red"}),
            "PROPERTY_DOESNT_EXIST",
        ),
        (
            json!({"project_name": "X", "budget": "lots"}),
            "INVALID_INTEGER",
        ),
        (
            json!({"project_name": "X", "status": "Done"}),
            "INVALID_OPTION",
        ),
        (
            json!({"project_name": "X", "start_date": "next week"}),
            "INVALID_DATE",
        ),
        (
            json!({"project_name": "X", "hs_createdate": "2024-01-01"}),
            "READ_ONLY_VALUE",
        ),
    ] {
        let (status, err) = post(objects.clone(), json!({ "properties": properties })).await;
        let found = err["errors"][0]["code"]
            .as_str()
            .or(err["category"].as_str());
        assert_eq!(found, Some(code), "{properties}: {err}");
        assert_eq!(status, if code == "CONFLICT" { 409 } else { 400 }, "{err}");
    }
    let (_, dup) = post(
        objects.clone(),
        json!({"properties": {"project_name": "X", "project_code": "MOON-1"}}),
    )
    .await;
    assert!(
        dup["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("Existing ID: 31")),
        "{dup}"
    );
    // Projects have no associations.
    let (status, _) = post(
        objects.clone(),
        json!({"properties": {"project_name": "Linked"}, "associations": [{"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]}),
    )
    .await;
    assert_eq!(status, 400);

    // Update by id and by the unique code; a taken code is a conflict.
    let (status, moved) = send(
        reqwest::Method::PATCH,
        &format!("{objects}/MOON-1?idProperty=project_code"),
        &token,
        json!({"properties": {"status": "done"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(moved["id"], "31");
    let (status, taken) = send(
        reqwest::Method::PATCH,
        &format!("{objects}/31"),
        &token,
        json!({"properties": {"project_code": "PRJ-00001"}}),
    )
    .await;
    assert_eq!(status, 409, "{taken}");

    // Batch upsert by project code: one known, one new.
    let (status, upserted) = post(
        format!("{objects}/batch/upsert"),
        json!({"inputs": [
            {"idProperty": "project_code", "id": "PRJ-00005", "properties": {"budget": "1"}},
            {"idProperty": "project_code", "id": "NEW-7", "properties": {"project_name": "Fresh"}},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{upserted}");
    assert_eq!(upserted["results"][0]["id"], "5");
    assert_eq!(upserted["results"][0]["new"], false);
    assert_eq!(upserted["results"][0]["properties"]["budget"], "1");
    assert_eq!(upserted["results"][1]["new"], true);
    assert_eq!(
        upserted["results"][1]["properties"]["project_code"],
        "NEW-7"
    );

    // Batch create and update report per-input conflicts; batch read by code.
    let (status, batch) = post(
        format!("{objects}/batch/create"),
        json!({"inputs": [
            {"properties": {"project_name": "B1", "project_code": "B-1"}},
            {"properties": {"project_name": "B2", "project_code": "NEW-7"}},
        ]}),
    )
    .await;
    assert_eq!(status, 207, "{batch}");
    assert_eq!(batch["errors"][0]["category"], "CONFLICT");
    let (status, updated) = post(
        format!("{objects}/batch/update"),
        json!({"inputs": [{"id": "6", "properties": {"status": "active"}}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["results"][0]["properties"]["status"], "active");
    let (status, read) = post(
        format!("{objects}/batch/read"),
        json!({"idProperty": "project_code", "inputs": [{"id": "B-1"}, {"id": "PRJ-00006"}], "properties": ["project_name", "status"]}),
    )
    .await;
    assert_eq!(status, 200, "{read}");
    let names: Vec<&Value> = read["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| &r["properties"]["project_name"])
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&&json!("B1")));

    // Archiving frees the code.
    let resp = client()
        .delete(format!("{objects}/31"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 204);
    let (status, _) = post(
        objects.clone(),
        json!({"properties": {"project_name": "Again", "project_code": "MOON-1"}}),
    )
    .await;
    assert_eq!(status, 201);
    // 30 generated + Moonshot (archived) + NEW-7 + B-1 + Again.
    assert_eq!(sim.control().records_held()["projects"], 33);
    assert_eq!(sim.control().records_held()["contacts"], 2);
}
