//! The QuickBooks simulator through real HTTP: OAuth with realmId and
//! rotating refresh tokens, the query language and its paging, SyncToken
//! staleness, duplicate names, invoices, CDC, batches, `requestid`
//! idempotency, the XML 429.

mod common;

use std::time::Duration;

use common::{client, location_params, param, small, start};
use serde_json::{Value, json};
use switchyard_simulators::{Provider, RateLimit, SimConfig, Simulator};

struct Qb {
    sim: Simulator,
    token: String,
}

impl Qb {
    async fn new(config: SimConfig) -> Qb {
        let sim = start(Provider::QuickBooks, config).await;
        let token = sim.control().issue_access_token();
        Qb { sim, token }
    }

    async fn query(&self, q: &str) -> (u16, Value) {
        let resp = client()
            .get(format!("{}/query", self.sim.api_base_url()))
            .query(&[("query", q), ("minorversion", "75")])
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json"))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_with(path, &[], body).await
    }

    /// A POST with extra query parameters (`requestid`, `operation`).
    async fn post_with(&self, path: &str, query: &[(&str, &str)], body: Value) -> (u16, Value) {
        let resp = client()
            .post(format!("{}/{path}", self.sim.api_base_url()))
            .query(&[("minorversion", "75")])
            .query(query)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json"))
    }
}

#[tokio::test]
async fn query_pages_and_hides_inactive_customers() {
    let qb = Qb::new(small(40, 5)).await;
    // Customers 17 and 34 are inactive.
    let (_, count) = qb.query("select count(*) from Customer").await;
    assert_eq!(count["QueryResponse"]["totalCount"], 38);
    let (_, all) = qb
        .query("SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)")
        .await;
    assert_eq!(all["QueryResponse"]["totalCount"], 40);

    let mut ids = Vec::new();
    let mut start = 1;
    loop {
        let (status, page) = qb
            .query(&format!(
                "select * from Customer STARTPOSITION {start} MAXRESULTS 15"
            ))
            .await;
        assert_eq!(status, 200);
        assert!(page["time"].is_string());
        let Some(rows) = page["QueryResponse"]["Customer"].as_array() else {
            assert_eq!(
                page["QueryResponse"],
                json!({}),
                "an empty page is an empty QueryResponse"
            );
            break;
        };
        assert_eq!(page["QueryResponse"]["startPosition"], start);
        assert_eq!(page["QueryResponse"]["maxResults"], rows.len());
        for r in rows {
            assert_eq!(r["Active"], true);
            assert!(
                r["MetaData"]["LastUpdatedTime"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("-07:00"))
            );
            ids.push(r["Id"].as_str().expect("Id").to_string());
        }
        start += rows.len();
    }
    assert_eq!(ids.len(), 38);
    assert!(!ids.contains(&"17".to_string()));

    let (status, err) = qb.query("select * form Customer").await;
    assert_eq!(status, 400);
    assert_eq!(err["Fault"]["type"], "ValidationFault");
    assert_eq!(err["Fault"]["Error"][0]["code"], "4000");
    let (status, err) = qb.query("select * from Customer where Shoe = 'x'").await;
    assert_eq!(status, 400);
    assert_eq!(err["Fault"]["Error"][0]["code"], "4001");

    // A request without minorversion works but is noted.
    let resp = client()
        .get(format!("{}/customer/1", qb.sim.api_base_url()))
        .bearer_auth(&qb.token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        qb.sim
            .control()
            .request_count("quickbooks: request without minorversion"),
        1
    );
    let wrong_realm = client()
        .get(format!(
            "{}/v3/company/123/customer/1?minorversion=75",
            qb.sim.base_url()
        ))
        .bearer_auth(&qb.token)
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_realm.status().as_u16(), 403);
}

#[tokio::test]
async fn sync_tokens_duplicates_and_changed_since() {
    let qb = Qb::new(small(10, 2)).await;
    let before =
        qb.sim.control().records("Customer").expect("customers")[9]["MetaData"]["LastUpdatedTime"]
            .as_str()
            .expect("time")
            .to_string();
    let (status, created) = qb.post("customer", json!({"DisplayName": "Acme Rockets", "PrimaryEmailAddr": {"Address": "a@acme.example"}})).await;
    assert_eq!(status, 200);
    let c = &created["Customer"];
    assert_eq!(c["SyncToken"], "0");
    assert_eq!(c["Active"], true);
    let id = c["Id"].as_str().expect("Id").to_string();
    assert_eq!(id, "11");

    let (status, dup) = qb
        .post("customer", json!({"DisplayName": "acme rockets"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(dup["Fault"]["Error"][0]["code"], "6240");
    assert_eq!(
        dup["Fault"]["Error"][0]["Detail"],
        "The name supplied already exists. : Id=11"
    );

    let (status, updated) = qb
        .post(
            "customer",
            json!({"Id": id, "SyncToken": "0", "sparse": true, "CompanyName": "Acme"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["Customer"]["SyncToken"], "1");
    assert_eq!(
        updated["Customer"]["PrimaryEmailAddr"]["Address"], "a@acme.example",
        "sparse keeps other fields"
    );
    let (status, stale) = qb
        .post(
            "customer",
            json!({"Id": id, "SyncToken": "0", "sparse": true, "CompanyName": "Late"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(stale["Fault"]["Error"][0]["code"], "5010");
    let (status, unknown) = qb
        .post("customer", json!({"DisplayName": "X", "Shoe": 1}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(unknown["Fault"]["Error"][0]["code"], "2010");

    // Deactivate customer 3: gone from the default query, seen by CDC and changed-since.
    let (_, three) = qb
        .post(
            "customer",
            json!({"Id": "3", "SyncToken": "0", "sparse": true, "Active": false}),
        )
        .await;
    assert_eq!(three["Customer"]["Active"], false);
    let (_, changed) = qb
        .query(&format!("select * from Customer where Metadata.LastUpdatedTime > '{before}' ORDERBY Metadata.LastUpdatedTime"))
        .await;
    let ids: Vec<&str> = changed["QueryResponse"]["Customer"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["Id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["11"],
        "inactive customer 3 is hidden without an Active condition"
    );
    let (_, changed) = qb
        .query(&format!("select * from Customer where Metadata.LastUpdatedTime > '{before}' and Active in (true, false) ORDERBY Metadata.LastUpdatedTime"))
        .await;
    let ids: Vec<&str> = changed["QueryResponse"]["Customer"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["Id"].as_str())
        .collect();
    assert_eq!(ids, ["11", "3"]);

    let since = "2020-01-01T00:00:00Z";
    let resp = client()
        .get(format!("{}/cdc", qb.sim.api_base_url()))
        .query(&[
            ("entities", "Customer"),
            ("changedSince", since),
            ("minorversion", "75"),
        ])
        .bearer_auth(&qb.token)
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.status().as_u16(),
        400,
        "CDC looks back 30 days at most"
    );
}

#[tokio::test]
async fn invoices_reference_customers_and_deletes_show_in_cdc() {
    let qb = Qb::new(small(5, 1)).await;
    let start = qb.sim.control().records("Invoice").expect("invoices").len();
    assert_eq!(start, 20);
    for inv in qb.sim.control().records("Invoice").expect("invoices") {
        let customer: u64 = inv["CustomerRef"]["value"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("ref");
        assert!((1..=5).contains(&customer));
    }
    let (status, created) = qb
        .post(
            "invoice",
            json!({"CustomerRef": {"value": "2"}, "Line": [
                {"Amount": 100.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"Qty": 2, "UnitPrice": 50.0}},
                {"Amount": 25.5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"Qty": 1, "UnitPrice": 25.5}}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let inv = &created["Invoice"];
    assert_eq!(inv["TotalAmt"], 125.5);
    assert_eq!(inv["CustomerRef"]["value"], "2");
    let id = inv["Id"].as_str().expect("Id").to_string();

    let (status, bad) = qb
        .post(
            "invoice",
            json!({"CustomerRef": {"value": "999"}, "Line": [{"Amount": 1.0}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(bad["Fault"]["Error"][0]["code"], "2500");

    let resp = client()
        .post(format!("{}/invoice", qb.sim.api_base_url()))
        .query(&[("operation", "delete"), ("minorversion", "75")])
        .bearer_auth(&qb.token)
        .json(&json!({"Id": id, "SyncToken": "0"}))
        .send()
        .await
        .expect("send");
    let deleted: Value = resp.json().await.expect("json");
    assert_eq!(deleted["Invoice"]["status"], "Deleted");

    let since = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        // One hour ago, as an RFC 3339 date the simulator parses.
        let t = now - 3600;
        let (d, s) = (t / 86_400, t % 86_400);
        let (y, m, day) = civil(d as i64);
        format!(
            "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    };
    let cdc: Value = client()
        .get(format!("{}/cdc", qb.sim.api_base_url()))
        .query(&[
            ("entities", "Invoice,Customer"),
            ("changedSince", since.as_str()),
            ("minorversion", "75"),
        ])
        .bearer_auth(&qb.token)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let responses = &cdc["CDCResponse"][0]["QueryResponse"];
    assert_eq!(responses[0]["Invoice"][0]["status"], "Deleted");
    assert_eq!(responses[0]["Invoice"][0]["Id"], id.as_str());
    assert_eq!(responses[1], json!({}));
    let (_, count) = qb.query("select count(*) from Invoice").await;
    assert_eq!(count["QueryResponse"]["totalCount"], 20);
}

/// Days since the epoch to (year, month, day).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[tokio::test]
async fn batches_are_capped_and_report_per_item_faults() {
    let qb = Qb::new(small(5, 1)).await;
    let items: Vec<Value> = (0..31).map(|i| json!({"bId": i.to_string(), "operation": "create", "Customer": {"DisplayName": format!("B{i}")}})).collect();
    let (status, err) = qb.post("batch", json!({"BatchItemRequest": items})).await;
    assert_eq!(status, 400);
    assert!(err["Fault"].is_object());

    let (status, body) = qb
        .post(
            "batch",
            json!({"BatchItemRequest": [
                {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
                {"bId": "2", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
                {"bId": "3", "operation": "update", "Customer": {"Id": "1", "SyncToken": "7", "sparse": true, "Notes": "x"}},
                {"bId": "4", "Query": "select count(*) from Customer"}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let r = body["BatchItemResponse"].as_array().expect("items");
    assert_eq!(r[0]["Customer"]["DisplayName"], "Batch One");
    assert_eq!(r[1]["Fault"]["Error"][0]["code"], "6240");
    assert_eq!(r[2]["Fault"]["Error"][0]["code"], "5010");
    assert_eq!(r[3]["QueryResponse"]["totalCount"], 6);
}

#[tokio::test]
async fn a_repeated_requestid_gets_the_first_answer_and_writes_nothing() {
    let qb = Qb::new(small(5, 1)).await;
    let customers = |qb: &Qb| qb.sim.control().records_held()["Customer"];
    let held = customers(&qb);
    let create = json!({"DisplayName": "Once Only"});
    let (status, first) = qb
        .post_with("customer", &[("requestid", "create-1")], create.clone())
        .await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = qb
        .post_with("customer", &[("requestid", "create-1")], create.clone())
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first, "the very same answer, time included");
    assert_eq!(customers(&qb), held + 1, "made once");
    assert_eq!(
        qb.sim
            .control()
            .request_count("quickbooks: answered again by requestid"),
        1
    );

    // Another id is another request: the same name is now a duplicate, and
    // that fault is what the id answers from then on, whatever is sent.
    let (status, fault) = qb
        .post_with("customer", &[("requestid", "create-2")], create.clone())
        .await;
    assert_eq!(status, 400);
    assert_eq!(fault["Fault"]["Error"][0]["code"], "6240");
    let (status, again) = qb
        .post_with(
            "customer",
            &[("requestid", "create-2")],
            json!({"DisplayName": "Another Name"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(again["Fault"]["Error"][0]["code"], "6240");
    assert_eq!(customers(&qb), held + 1);

    // An update sent again does not bump the SyncToken again.
    let id = first["Customer"]["Id"].as_str().expect("Id").to_owned();
    let update = json!({"Id": id, "SyncToken": "0", "sparse": true, "CompanyName": "Once Co"});
    let (_, updated) = qb
        .post_with("customer", &[("requestid", "update-1")], update.clone())
        .await;
    assert_eq!(updated["Customer"]["SyncToken"], "1");
    let (status, again) = qb
        .post_with("customer", &[("requestid", "update-1")], update)
        .await;
    assert_eq!(status, 200, "not a stale SyncToken: the first answer again");
    assert_eq!(again, updated);
    let (_, read) = qb
        .query(&format!("select * from Customer where Id = '{id}'"))
        .await;
    assert_eq!(read["QueryResponse"]["Customer"][0]["SyncToken"], "1");

    // Without a requestid every request is processed.
    let invoice = json!({"CustomerRef": {"value": "1"},
        "Line": [{"Amount": 10, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 10}}]});
    let invoices = |qb: &Qb| qb.sim.control().records_held()["Invoice"];
    let before = invoices(&qb);
    let (a, _) = qb.post("invoice", invoice.clone()).await;
    let (b, _) = qb.post("invoice", invoice.clone()).await;
    assert_eq!((a, b), (200, 200));
    assert_eq!(invoices(&qb), before + 2);

    // A batch's requestid covers the whole batch.
    let batch = json!({"BatchItemRequest": [
        {"bId": "1", "operation": "create", "Invoice": invoice},
    ]});
    let (_, first) = qb
        .post_with("batch", &[("requestid", "batch-1")], batch.clone())
        .await;
    let (_, again) = qb
        .post_with("batch", &[("requestid", "batch-1")], batch)
        .await;
    assert!(
        first["BatchItemResponse"][0]["Invoice"]["Id"].is_string(),
        "{first}"
    );
    assert_eq!(again, first);
    assert_eq!(invoices(&qb), before + 3);

    // Ids QuickBooks refuses: too long, or a batch's bIds too long with one.
    let long = "x".repeat(51);
    let (status, fault) = qb
        .post_with(
            "customer",
            &[("requestid", &long)],
            json!({"DisplayName": "Long"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(fault["Fault"]["type"], "ValidationFault");
    let (status, _) = qb
        .post_with(
            "batch",
            &[("requestid", &"b".repeat(37))],
            json!({"BatchItemRequest": []}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = qb
        .post_with(
            "batch",
            &[("requestid", "batch-2")],
            json!({"BatchItemRequest": [
                {"bId": "bid-longer-than-ten", "operation": "create", "Customer": {"DisplayName": "Long bId"}}
            ]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(customers(&qb), held + 1);
}

#[tokio::test]
async fn oauth_realm_id_and_rotating_refresh_tokens() {
    let qb = Qb::new(small(3, 1)).await;
    let sim = &qb.sim;
    let http = client();
    let redirect = "http://127.0.0.1:1/cb";
    let resp = http
        .get(sim.authorize_url())
        .query(&[
            ("client_id", "switchyard-client"),
            ("response_type", "code"),
            ("scope", "com.intuit.quickbooks.accounting"),
            ("redirect_uri", redirect),
            ("state", "xyz"),
            ("auto_approve", "true"),
        ])
        .send()
        .await
        .expect("authorize");
    let params = location_params(&resp);
    assert_eq!(
        param(&params, "realmId").as_deref(),
        Some(sim.control().realm_id())
    );
    let code = param(&params, "code").expect("code");

    let form_creds = http
        .post(sim.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", "switchyard-client"),
            ("client_secret", "switchyard-secret"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(form_creds.status().as_u16(), 401, "Intuit wants Basic auth");
    let body: Value = form_creds.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");

    let resp = http
        .post(sim.token_url())
        .basic_auth("switchyard-client", Some("switchyard-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status().as_u16(), 200);
    let tokens: Value = resp.json().await.expect("json");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["x_refresh_token_expires_in"], 8_726_400);
    let first_refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    let refresh = |rt: String| {
        http.post(sim.token_url())
            .basic_auth("switchyard-client", Some("switchyard-secret"))
            .form(&[
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", rt),
            ])
            .send()
    };
    let second: Value = refresh(first_refresh.clone())
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let second_refresh = second["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    assert_ne!(
        second_refresh, first_refresh,
        "QuickBooks rotates refresh tokens"
    );
    let old = refresh(first_refresh).await.expect("refresh");
    assert_eq!(old.status().as_u16(), 400);
    assert_eq!(
        old.json::<Value>().await.expect("json")["error"],
        "invalid_grant"
    );

    let access = second["access_token"].as_str().expect("access").to_string();
    let url = format!("{}/customer/1?minorversion=75", sim.api_base_url());
    assert_eq!(
        http.get(&url)
            .bearer_auth(&access)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16(),
        200
    );
    sim.control().expire_tokens();
    let resp = http
        .get(&url)
        .bearer_auth(&access)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["fault"]["error"][0]["code"], "3200");
    assert_eq!(body["fault"]["type"], "AUTHENTICATION");
}

#[tokio::test]
async fn throttling_answers_xml() {
    let config = SimConfig {
        rate_limit: true,
        rate_limit_policy: Some(RateLimit {
            max: 2,
            window: Duration::from_secs(60),
        }),
        ..small(3, 1)
    };
    let qb = Qb::new(config).await;
    assert_eq!(qb.query("select * from Customer").await.0, 200);
    assert_eq!(qb.query("select * from Customer").await.0, 200);
    let resp = client()
        .get(format!("{}/query", qb.sim.api_base_url()))
        .query(&[("query", "select * from Customer"), ("minorversion", "75")])
        .header("accept", "application/json")
        .bearer_auth(&qb.token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["content-type"], "application/xml");
    let text = resp.text().await.expect("body");
    assert!(text.contains("<Error code=\"3001\""));
    assert!(text.contains("message=ThrottleExceeded; errorCode=003001; statusCode=429"));
}
