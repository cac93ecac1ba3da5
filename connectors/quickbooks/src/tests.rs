//! Native unit tests: `cargo test -p quickbooks --target x86_64-unknown-linux-gnu`.
//! `MockHttp` answers like QuickBooks Online (and its simulator) does.

use serde_json::{Value, json};
use switchyard_connector_sdk::cursor;
use switchyard_connector_sdk::testing::MockHttp;

use super::*;
use crate::pull::Changed;

const QUERY: &str = "/v3/company/123/query";
const BATCH: &str = "/v3/company/123/batch";
const CUSTOMER: &str = "/v3/company/123/customer";

fn conn() -> Connection {
    Connection::new(
        "https://quickbooks.api.intuit.com",
        json!({"realm_id": "123"}),
    )
}

fn item(id: Option<&str>, data: Value) -> PushItem {
    PushItem {
        id: id.map(str::to_owned),
        idempotency_key: String::new(),
        data: data.to_string(),
        associations: Vec::new(),
        passthrough: None,
    }
}

/// An item carrying the idempotency key `key`, as every item the host pushes.
fn keyed(id: Option<&str>, key: &str, data: Value) -> PushItem {
    PushItem {
        idempotency_key: key.to_owned(),
        ..item(id, data)
    }
}

fn customer(id: &str, updated: &str, fields: Value) -> Value {
    let mut raw = json!({
        "Id": id, "SyncToken": "0", "domain": "QBO", "sparse": false, "Active": true,
        "MetaData": {"CreateTime": "2024-01-01T00:00:00-07:00", "LastUpdatedTime": updated}
    });
    if let (Some(raw), Some(fields)) = (raw.as_object_mut(), fields.as_object()) {
        raw.extend(fields.clone());
    }
    raw
}

fn query_page(entity: &str, records: Vec<Value>) -> Value {
    let n = records.len();
    json!({"QueryResponse": {entity: records, "startPosition": 1, "maxResults": n},
           "time": "2024-06-01T10:00:00.000-07:00"})
}

fn empty_page() -> Value {
    json!({"QueryResponse": {}, "time": "2024-06-01T10:00:00.000-07:00"})
}

fn fault(code: &str, message: &str, detail: &str) -> Value {
    json!({"Fault": {"Error": [{"Message": message, "Detail": detail, "code": code}],
                     "type": "ValidationFault"}, "time": "2024-06-01T10:00:00.000-07:00"})
}

fn data(record: &PulledRecord) -> Value {
    record.data_as().unwrap_or(Value::Null)
}

/// The `query` parameter of request `n`.
fn query_of(mock: &MockHttp, n: usize) -> String {
    mock.requests()[n].query_param("query").unwrap_or_default()
}

fn parsed(json: Result<Json, ConnectorError>) -> Value {
    json.ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

#[test]
fn manifest_describes_quickbooks() {
    let m = QuickBooks::describe();
    assert_eq!(m.id, "quickbooks");
    assert_eq!(m.display_name, "QuickBooks");
    assert_eq!(m.category, "accounting");
    assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(m.api_base, "https://quickbooks.api.intuit.com");
    assert_eq!(
        m.allowed_hosts,
        [
            "quickbooks.api.intuit.com",
            "sandbox-quickbooks.api.intuit.com"
        ]
    );
    assert_eq!(
        m.credential_placement,
        CredentialPlacement::Authorization("Bearer".into())
    );
    let AuthSpec::Oauth2(oauth) = &m.auth else {
        panic!("expected OAuth2, got {:?}", m.auth);
    };
    assert_eq!(
        oauth.authorize_url,
        "https://appcenter.intuit.com/connect/oauth2"
    );
    assert_eq!(
        oauth.token_url,
        "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    );
    assert_eq!(oauth.scopes, ["com.intuit.quickbooks.accounting"]);
    assert_eq!(oauth.client_auth, ClientAuth::Basic);
    let types: Vec<(&str, &str, bool)> = m
        .integrations
        .iter()
        .map(|i| {
            (
                i.endgrate_type.as_str(),
                i.resource.as_str(),
                i.supports_push,
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("accounting-customer", "Customer", true),
            ("accounting-invoice", "Invoice", true)
        ]
    );
    assert_eq!(m.batch_limits.max_page_size, 1000);
    assert_eq!(m.batch_limits.max_push_batch, 30);
    assert_eq!(
        (
            m.rate_limit.requests,
            m.rate_limit.window_ms,
            m.rate_limit.max_concurrent
        ),
        (500, 60_000, 10)
    );
    assert!(m.idempotent_creates, "every write carries its requestid");
    assert!(m.logo_svg.starts_with("<svg") && m.logo_svg.ends_with("</svg>"));
    assert_eq!(QuickBooks::describe(), m, "describe is stable");
}

#[test]
fn finish_auth_keeps_the_realm_id() {
    let params = vec![
        ("code".to_owned(), "abc".to_owned()),
        ("state".to_owned(), "xyz".to_owned()),
        ("realmId".to_owned(), "9130354951245234".to_owned()),
    ];
    assert_eq!(
        parsed(QuickBooks::finish_auth(
            &params,
            r#"{"token_type":"bearer"}"#
        )),
        json!({"realm_id": "9130354951245234"})
    );
    let missing = QuickBooks::finish_auth(&params[..2], "{}");
    assert!(
        matches!(&missing, Err(ConnectorError::Fatal(m)) if m.contains("realmId")),
        "{missing:?}"
    );
}

#[test]
fn every_call_needs_the_realm_id_setting() {
    let mock = MockHttp::new();
    let bare = Connection::new("https://quickbooks.api.intuit.com", json!({}));
    let named = |result: Result<(), ConnectorError>| match result {
        Err(ConnectorError::Fatal(message)) => message.contains("realm_id"),
        _ => false,
    };
    assert!(named(QuickBooks::check(&bare)));
    assert!(named(
        QuickBooks::pull(&bare, PullRequest::new("accounting-customer", 10)).map(|_| ())
    ));
    assert!(named(
        QuickBooks::push(&bare, "accounting-customer", vec![item(None, json!({}))]).map(|_| ())
    ));
    assert!(named(
        QuickBooks::find_match(&bare, "accounting-customer", r#"{"customer_name":"A"}"#)
            .map(|_| ())
    ));
    assert!(named(QuickBooks::associate(
        &bare,
        "accounting-invoice",
        "1",
        "accounting-customer",
        "2"
    )));
    let empty = Connection::new("https://x", json!({"realm_id": " "}));
    assert!(named(QuickBooks::check(&empty)));
    assert!(mock.requests().is_empty());
    // A numeric realm id (settings written by hand) works too.
    mock.on("GET", "/v3/company/42/companyinfo/42")
        .reply_json(200, json!({"CompanyInfo": {"Id": "1"}}));
    let numeric = Connection::new("https://x", json!({"realm_id": 42}));
    assert_eq!(QuickBooks::check(&numeric), Ok(()));
}

#[test]
fn check_reads_the_company_info() {
    let mock = MockHttp::new();
    mock.on("GET", "/v3/company/123/companyinfo/123")
        .reply_json(
            200,
            json!({"CompanyInfo": {"Id": "1", "CompanyName": "Sandbox"}, "time": "x"}),
        );
    assert_eq!(QuickBooks::check(&conn()), Ok(()));
    let sent = &mock.requests()[0];
    assert_eq!(sent.url, "/v3/company/123/companyinfo/123?minorversion=75");
    assert_eq!(sent.method, "GET");
}

#[test]
fn check_reports_a_rejected_token_with_quickbooks_message() {
    let mock = MockHttp::new();
    mock.on("GET", "/v3/company/123/companyinfo/123")
        .reply_json(
            401,
            json!({"warnings": null, "intuitObject": null, "fault": {"error": [{
            "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "detail": "Token expired", "code": "3200"}], "type": "AUTHENTICATION"},
            "time": "2024-06-01T10:00:00.000-07:00"}),
        );
    assert_eq!(
        QuickBooks::check(&conn()),
        Err(ConnectorError::unauthorized(
            "QuickBooks answered HTTP 401: AuthenticationFailed: Token expired (code 3200)"
        ))
    );
}

#[test]
fn full_pull_pages_until_an_empty_query_response() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page(
            "Customer",
            vec![
                customer(
                    "1",
                    "2024-05-01T05:00:00-07:00",
                    json!({"DisplayName": "Ada"}),
                ),
                customer(
                    "17",
                    "2024-05-02T05:00:00-07:00",
                    json!({"DisplayName": "Bo", "Active": false}),
                ),
            ],
        ),
    );
    mock.on("GET", QUERY).reply_json(200, empty_page());
    let mut req = PullRequest::new("accounting-customer", 2);
    let first = QuickBooks::pull(&conn(), req.clone()).unwrap();
    assert_eq!(
        first
            .next_cursor
            .as_deref()
            .map(cursor::decode::<pull::Listed>),
        Some(Ok(pull::Listed {
            start: 3,
            last: "17".to_owned()
        }))
    );
    let ids: Vec<&str> = first.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["1", "17"]);
    // Inactive customers come back, marked inactive, not deleted.
    assert!(!first.records[1].deleted);
    assert_eq!(data(&first.records[1])["active"], false);

    req.cursor = first.next_cursor;
    let last = QuickBooks::pull(&conn(), req).unwrap();
    assert!(last.records.is_empty());
    assert_eq!(last.next_cursor, None);

    let requests = mock.requests();
    assert_eq!(requests[0].path(), QUERY);
    assert_eq!(
        requests[0].query_param("minorversion").as_deref(),
        Some("75")
    );
    assert_eq!(
        query_of(&mock, 0),
        "select * from Customer where Active IN (true, false) STARTPOSITION 1 MAXRESULTS 2"
    );
    assert_eq!(
        query_of(&mock, 1),
        "select * from Customer where Active IN (true, false) STARTPOSITION 1 MAXRESULTS 4"
    );
    assert!(requests.iter().all(|r| r.idempotent && r.method == "GET"));
    // Each page asked the host to fetch the next page's query ahead: exactly
    // the request the next call sent.
    let prefetched = mock.prefetched();
    assert_eq!(prefetched.len(), 1, "the last page has no next one");
    assert_eq!(prefetched[0], requests[1]);
}

fn invoice(id: u64) -> Value {
    json!({"Id": id.to_string(), "DocNumber": format!("{}", 1000 + id)})
}

fn invoices(ids: impl IntoIterator<Item = u64>) -> Value {
    query_page("Invoice", ids.into_iter().map(invoice).collect())
}

#[test]
fn a_deletion_during_a_full_pull_skips_no_record() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY)
        .once()
        .reply_json(200, invoices([1, 2, 3]));
    // Invoice 2 was deleted meanwhile: invoice 4 is now at position 3,
    // where a start position of 4 would skip it.
    mock.on("GET", QUERY)
        .once()
        .reply_json(200, invoices([1, 3, 4, 5, 6, 7]));
    let mut req = PullRequest::new("accounting-invoice", 3);
    let first = QuickBooks::pull(&conn(), req.clone()).unwrap();
    req.cursor = first.next_cursor;
    let second = QuickBooks::pull(&conn(), req).unwrap();
    let ids: Vec<&str> = second.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["4", "5", "6"]);
    assert_eq!(
        query_of(&mock, 1),
        "select * from Invoice STARTPOSITION 1 MAXRESULTS 6"
    );
    assert_eq!(
        second
            .next_cursor
            .as_deref()
            .map(cursor::decode::<pull::Listed>),
        Some(Ok(pull::Listed {
            start: 6,
            last: "6".to_owned()
        }))
    );
}

#[test]
fn many_deletions_during_a_full_pull_look_further_back() {
    let mock = MockHttp::new();
    // 150 invoices before 500 were deleted: position 401 now holds 551.
    mock.on("GET", QUERY)
        .once()
        .reply_json(200, invoices(551..=652));
    mock.on("GET", QUERY)
        .once()
        .reply_json(200, invoices((351..=500).chain(551..=650)));
    let mut req = PullRequest::new("accounting-invoice", 2);
    req.cursor = cursor::encode(&pull::Listed {
        start: 501,
        last: "500".to_owned(),
    })
    .ok();
    let page = QuickBooks::pull(&conn(), req).unwrap();
    let ids: Vec<&str> = page.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["551", "552"], "nothing after 500 is skipped");
    assert_eq!(
        query_of(&mock, 0),
        "select * from Invoice STARTPOSITION 401 MAXRESULTS 102"
    );
    assert!(query_of(&mock, 1).starts_with("select * from Invoice STARTPOSITION 1 "));
}

#[test]
fn pull_clamps_the_page_size_and_rejects_foreign_cursors() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(200, empty_page());
    let page = QuickBooks::pull(&conn(), PullRequest::new("accounting-invoice", 5000)).unwrap();
    assert_eq!(page.next_cursor, None);
    assert_eq!(
        query_of(&mock, 0),
        "select * from Invoice STARTPOSITION 1 MAXRESULTS 1000"
    );
    let mut req = PullRequest::new("accounting-invoice", 10);
    req.cursor = Some("after-7".to_owned());
    assert!(matches!(
        QuickBooks::pull(&conn(), req.clone()),
        Err(ConnectorError::Fatal(_))
    ));
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    assert!(matches!(
        QuickBooks::pull(&conn(), req),
        Err(ConnectorError::Fatal(_))
    ));
    assert!(matches!(
        QuickBooks::pull(&conn(), PullRequest::new("crm-contact", 10)),
        Err(ConnectorError::Unsupported(_))
    ));
}

#[test]
fn incremental_pull_asks_for_changes_since_oldest_first() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page(
            "Customer",
            vec![
                customer("4", "2024-05-01T00:00:00-07:00", json!({})),
                customer("9", "2024-05-03T10:00:00-07:00", json!({})),
                customer("2", "2024-05-03T10:00:00-07:00", json!({})),
            ],
        ),
    );
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page(
            "Customer",
            vec![customer("5", "2024-05-04T00:00:00-07:00", json!({}))],
        ),
    );
    mock.on("GET", QUERY).reply_json(200, empty_page());
    let mut req = PullRequest::new("accounting-customer", 3);
    req.since = Some("2024-05-01T07:00:00.250Z".to_owned());
    let first = QuickBooks::pull(&conn(), req.clone()).unwrap();
    assert_eq!(first.records.len(), 3);
    assert_eq!(
        query_of(&mock, 0),
        "select * from Customer where Metadata.LastUpdatedTime >= '2024-05-01T07:00:00-00:00' \
         and Active IN (true, false) ORDERBY Metadata.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 3"
    );
    // The next page restarts from the last change time seen, leaving out
    // the two records already returned that changed at that very second.
    let cursor_text = first.next_cursor.clone().unwrap();
    assert_eq!(
        cursor::decode::<Changed>(&cursor_text),
        Ok(Changed {
            after: "2024-05-03T10:00:00-07:00".to_owned(),
            skip: 0,
            seen: vec!["9/0".to_owned(), "2/0".to_owned()],
        })
    );
    req.cursor = first.next_cursor;
    let second = QuickBooks::pull(&conn(), req.clone()).unwrap();
    assert_eq!(second.records[0].id, "5");
    assert_eq!(
        query_of(&mock, 1),
        "select * from Customer where Metadata.LastUpdatedTime >= '2024-05-03T10:00:00-07:00' \
         and Active IN (true, false) ORDERBY Metadata.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 5"
    );
    req.cursor = second.next_cursor;
    let last = QuickBooks::pull(&conn(), req).unwrap();
    assert_eq!(last.next_cursor, None);
    assert!(query_of(&mock, 2).contains(">= '2024-05-04T00:00:00-07:00'"));
    assert!(query_of(&mock, 2).contains("STARTPOSITION 1 MAXRESULTS 4"));
}

#[test]
fn a_change_during_the_pull_skips_no_record() {
    let mock = MockHttp::new();
    let t = "2024-05-03T10:00:00-07:00";
    let record = |id: &str, at: &str, sync: &str| {
        json!({"Id": id, "SyncToken": sync, "DisplayName": id,
               "MetaData": {"LastUpdatedTime": at}})
    };
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page("Customer", vec![record("1", t, "0"), record("2", t, "0")]),
    );
    // Customer 1 changed again within the same second: it moved behind 3,
    // where a start position of 3 would now skip customer 3.
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page(
            "Customer",
            vec![
                record("2", t, "0"),
                record("3", t, "0"),
                record("1", t, "1"),
            ],
        ),
    );
    let mut req = PullRequest::new("accounting-customer", 2);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    let first = QuickBooks::pull(&conn(), req.clone()).unwrap();
    assert_eq!(first.records.len(), 2);
    req.cursor = first.next_cursor;
    let second = QuickBooks::pull(&conn(), req).unwrap();
    let ids: Vec<&str> = second.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["3", "1"],
        "2 is not repeated, 3 not skipped, 1 comes again"
    );
    assert!(query_of(&mock, 1).ends_with("STARTPOSITION 1 MAXRESULTS 4"));
}

#[test]
fn incremental_pages_within_one_second_keep_counting() {
    let mock = MockHttp::new();
    let same = "2024-05-03T10:00:00-07:00";
    mock.on("GET", QUERY).reply_json(
        200,
        query_page(
            "Invoice",
            vec![
                json!({"Id": "1", "MetaData": {"LastUpdatedTime": same}}),
                json!({"Id": "2", "MetaData": {"LastUpdatedTime": same}}),
            ],
        ),
    );
    let mut req = PullRequest::new("accounting-invoice", 2);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    req.cursor = cursor::encode(&Changed {
        after: same.to_owned(),
        skip: 4,
        seen: Vec::new(),
    })
    .ok();
    let page = QuickBooks::pull(&conn(), req).unwrap();
    assert_eq!(
        query_of(&mock, 0),
        format!(
            "select * from Invoice where Metadata.LastUpdatedTime >= '{same}' \
             ORDERBY Metadata.LastUpdatedTime STARTPOSITION 5 MAXRESULTS 2"
        )
    );
    assert_eq!(
        page.next_cursor.as_deref().map(cursor::decode::<Changed>),
        Some(Ok(Changed {
            after: same.to_owned(),
            skip: 6,
            seen: Vec::new(),
        }))
    );
}

#[test]
fn incremental_pull_refuses_a_since_it_cannot_read() {
    let mock = MockHttp::new();
    let mut req = PullRequest::new("accounting-customer", 10);
    req.since = Some("last tuesday' or '1'='1".to_owned());
    assert!(matches!(
        QuickBooks::pull(&conn(), req),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(mock.requests().is_empty());
}

#[test]
fn customers_map_to_the_common_model_field_by_field() {
    let raw = customer(
        "7",
        "2024-05-01T05:00:00-07:00",
        json!({
            "DisplayName": "Ada Lovelace (7)", "GivenName": "Ada", "FamilyName": "Lovelace",
            "CompanyName": "Engines Ltd",
            "PrimaryEmailAddr": {"Address": "ada@example.com"},
            "PrimaryPhone": {"FreeFormNumber": "+1 555 0100"},
            "Mobile": {"FreeFormNumber": "+1 555 0199"},
            "Fax": {"FreeFormNumber": "+1 555 0111"},
            "WebAddr": {"URI": "https://engines.example"},
            "BillAddr": {"Id": "14", "Line1": "1 Main St", "Line2": "Floor 2", "Line3": "Suite 9",
                         "City": "London", "CountrySubDivisionCode": "LDN",
                         "PostalCode": "N1", "Country": "UK"},
            "ShipAddr": {"Id": "15", "Line1": "2 Dock Rd", "City": "Leeds"},
            "Active": false, "Balance": 120.5
        }),
    );
    let cdm = parsed(QuickBooks::to_cdm("accounting-customer", &raw.to_string()));
    assert_eq!(
        cdm,
        json!({
            "customer_name": "Ada Lovelace (7)",
            "company_name": "Engines Ltd",
            "email_addresses": [{"email_address": "ada@example.com", "email_address_type": "WORK"}],
            "phone_numbers": [
                {"phone_number": "+1 555 0100", "phone_number_type": "WORK"},
                {"phone_number": "+1 555 0199", "phone_number_type": "MOBILE"}
            ],
            "addresses": [
                {"address_type": "BILLING", "street_1": "1 Main St", "street_2": "Floor 2, Suite 9",
                 "city": "London", "state": "LDN", "postal_code": "N1", "country": "UK"},
                {"address_type": "SHIPPING", "street_1": "2 Dock Rd", "city": "Leeds"}
            ],
            "active": false,
            "updated_at": "2024-05-01T05:00:00-07:00"
        })
    );
    // A wrapped record ({"Customer": {...}}) maps the same; empty fields are left out.
    let sparse = json!({"Customer": {"Id": "8", "DisplayName": "X", "CompanyName": "",
                                      "PrimaryEmailAddr": {"Address": null},
                                      "BillAddr": {"Id": "3"}}});
    assert_eq!(
        parsed(QuickBooks::to_cdm(
            "accounting-customer",
            &sparse.to_string()
        )),
        json!({"customer_name": "X"})
    );
}

#[test]
fn invoices_map_to_the_common_model_with_their_customer() {
    let mock = MockHttp::new();
    let invoice = json!({
        "Id": "130", "SyncToken": "0", "DocNumber": "1130", "TxnDate": "2024-04-20",
        "DueDate": "2024-05-20", "CustomerRef": {"value": "58", "name": "Ada Lovelace (58)"},
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "TotalAmt": 125.5, "Balance": 25.5,
        "Line": [
            {"Id": "1", "LineNum": 1, "Description": "Consulting", "Amount": 100.0,
             "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": 50.0}},
            {"Id": "2", "LineNum": 2, "Amount": 25.5, "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"Qty": 1, "UnitPrice": 25.5}},
            {"Amount": 125.5, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
        ],
        "MetaData": {"CreateTime": "2024-04-20T09:00:00-07:00",
                     "LastUpdatedTime": "2024-04-21T09:00:00-07:00"}
    });
    mock.on("GET", QUERY)
        .once()
        .reply_json(200, query_page("Invoice", vec![invoice.clone()]));
    let mut req = PullRequest::new("accounting-invoice", 100);
    req.associations = vec!["accounting-customer".to_owned()];
    let page = QuickBooks::pull(&conn(), req).unwrap();
    let record = &page.records[0];
    assert_eq!(record.id, "130");
    assert_eq!(
        record.associations,
        [("accounting-customer".to_owned(), vec!["58".to_owned()])]
    );
    assert_eq!(
        data(record),
        json!({
            "number": "1130", "customer_id": "58", "issue_date": "2024-04-20",
            "due_date": "2024-05-20", "currency": "USD", "total_amount": 125.5,
            "balance": 25.5, "status": "PARTIALLY_PAID",
            "line_items": [
                {"description": "Consulting", "quantity": 2, "unit_price": 50.0, "amount": 100.0},
                {"quantity": 1, "unit_price": 25.5, "amount": 25.5}
            ],
            "updated_at": "2024-04-21T09:00:00-07:00"
        })
    );
    let status = |total: f64, balance: f64| {
        let raw = json!({"Id": "1", "TotalAmt": total, "Balance": balance});
        parsed(QuickBooks::to_cdm("accounting-invoice", &raw.to_string()))["status"].clone()
    };
    assert_eq!(status(10.0, 0.0), "PAID");
    assert_eq!(status(10.0, 10.0), "OPEN");
    assert_eq!(status(10.0, 4.0), "PARTIALLY_PAID");
}

#[test]
fn customers_map_from_the_common_model_field_by_field() {
    let record = json!({
        "customer_name": "Ada Lovelace", "company_name": "Engines Ltd",
        "email_addresses": [{"email_address": "home@x.com", "email_address_type": "PERSONAL"},
                            {"email_address": "ada@x.com", "email_address_type": "WORK"}],
        "phone_numbers": [{"phone_number": "+2", "phone_number_type": "MOBILE"},
                          {"phone_number": "+1", "phone_number_type": "WORK"}],
        "addresses": [{"address_type": "SHIPPING", "street_1": "2 Dock Rd", "city": "Leeds"},
                      {"address_type": "PRIMARY", "street_1": "1 Main St", "street_2": "Floor 2",
                       "city": "London", "state": "LDN", "postal_code": "N1", "country": "UK"}],
        "active": true, "updated_at": "2024-01-01T00:00:00Z"
    });
    assert_eq!(
        parsed(QuickBooks::from_cdm(
            "accounting-customer",
            &record.to_string()
        )),
        json!({
            "DisplayName": "Ada Lovelace", "CompanyName": "Engines Ltd",
            "PrimaryEmailAddr": {"Address": "ada@x.com"},
            "PrimaryPhone": {"FreeFormNumber": "+1"}, "Mobile": {"FreeFormNumber": "+2"},
            "BillAddr": {"Line1": "1 Main St", "Line2": "Floor 2", "City": "London",
                         "CountrySubDivisionCode": "LDN", "PostalCode": "N1", "Country": "UK"},
            "ShipAddr": {"Line1": "2 Dock Rd", "City": "Leeds"},
            "Active": true
        })
    );
    // For an update, null clears (except the name, which QuickBooks needs).
    let update = mapping::customer_from_cdm(&json!({
        "customer_name": null, "company_name": null, "email_addresses": null,
        "phone_numbers": [{"phone_number": "+3", "phone_number_type": "MOBILE"}],
        "active": "false"
    }))
    .unwrap();
    assert_eq!(
        Value::Object(update),
        json!({"CompanyName": "", "PrimaryEmailAddr": {"Address": ""},
               "Mobile": {"FreeFormNumber": "+3"}, "Active": false})
    );
    for bad in [
        json!({"customer_name": ["A"]}),
        json!({"email_addresses": "a@b.c"}),
        json!({"active": "yes"}),
        json!(["not", "an", "object"]),
    ] {
        assert!(
            matches!(
                QuickBooks::from_cdm("accounting-customer", &bad.to_string()),
                Err(ConnectorError::InvalidData(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn customers_round_trip_through_the_common_model() {
    let raw = customer(
        "3",
        "2024-05-01T05:00:00-07:00",
        json!({"DisplayName": "Bo", "CompanyName": "Acme",
               "PrimaryEmailAddr": {"Address": "bo@acme.example"},
               "Mobile": {"FreeFormNumber": "+3"},
               "BillAddr": {"Line1": "1 Main", "City": "X", "Country": "US"}}),
    );
    let cdm = QuickBooks::to_cdm("accounting-customer", &raw.to_string()).unwrap();
    let back = parsed(QuickBooks::from_cdm("accounting-customer", &cdm));
    assert_eq!(
        back,
        json!({"DisplayName": "Bo", "CompanyName": "Acme",
               "PrimaryEmailAddr": {"Address": "bo@acme.example"},
               "Mobile": {"FreeFormNumber": "+3"},
               "BillAddr": {"Line1": "1 Main", "City": "X", "Country": "US"},
               "Active": true})
    );
}

#[test]
fn invoices_map_from_the_common_model_field_by_field() {
    let record = json!({
        "number": 1001, "customer_id": "58", "issue_date": "2024-04-20T10:00:00Z",
        "due_date": "2024-05-20", "currency": "usd",
        "total_amount": 999, "balance": 999, "status": "OPEN",
        "line_items": [
            {"description": "Consulting", "quantity": 2, "unit_price": 50.0, "amount": 100.0},
            {"description": "Travel", "quantity": "3", "unit_price": 10.25}
        ]
    });
    assert_eq!(
        parsed(QuickBooks::from_cdm(
            "accounting-invoice",
            &record.to_string()
        )),
        json!({
            "DocNumber": "1001", "CustomerRef": {"value": "58"}, "TxnDate": "2024-04-20",
            "DueDate": "2024-05-20", "CurrencyRef": {"value": "USD"},
            "Line": [
                {"Description": "Consulting", "Amount": 100.0, "DetailType": "SalesItemLineDetail",
                 "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": 50.0}},
                {"Description": "Travel", "Amount": 30.75, "DetailType": "SalesItemLineDetail",
                 "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 3.0,
                                         "UnitPrice": 10.25}}
            ]
        })
    );
    for bad in [
        json!({"issue_date": "20/04/2024"}),
        json!({"line_items": [{"description": "no amount"}]}),
        json!({"line_items": [{"amount": "ten"}]}),
        json!({"line_items": ["x"]}),
    ] {
        assert!(
            matches!(
                QuickBooks::from_cdm("accounting-invoice", &bad.to_string()),
                Err(ConnectorError::InvalidData(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        QuickBooks::from_cdm("crm-contact", "{}"),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        QuickBooks::to_cdm("accounting-customer", "not json"),
        Err(ConnectorError::InvalidData(_))
    ));
}

#[test]
fn push_batches_and_matches_results_back_by_bid() {
    let mock = MockHttp::new();
    // The current SyncToken of the record to update.
    mock.on("GET", QUERY).reply_json(
        200,
        query_page(
            "Customer",
            vec![customer(
                "7",
                "2024-05-01T05:00:00-07:00",
                json!({"SyncToken": "3"}),
            )],
        ),
    );
    // Answers come back in another order; the duplicate name fails alone.
    mock.on("POST", BATCH).reply_json(
        200,
        json!({"BatchItemResponse": [
            {"bId": "3", "Fault": {"Error": [{"Message": "Duplicate Name Exists Error",
                "Detail": "The name supplied already exists. : Id=5", "code": "6240"}],
                "type": "ValidationFault"}},
            {"bId": "1", "Customer": customer("7", "2024-06-01T05:00:00-07:00",
                json!({"SyncToken": "4", "DisplayName": "Old Name", "CompanyName": "New Co"}))},
            {"bId": "0", "Customer": customer("41", "2024-06-01T05:00:00-07:00",
                json!({"DisplayName": "New One",
                       "PrimaryEmailAddr": {"Address": "new@x.com"}}))}
        ], "time": "2024-06-01T10:00:00.000-07:00"}),
    );
    let items = vec![
        item(
            None,
            json!({"customer_name": "New One", "company_name": "",
                   "email_addresses": [{"email_address": "new@x.com"}]}),
        ),
        item(Some("7"), json!({"company_name": "New Co"})),
        item(None, json!({"customer_name": ["not", "text"]})),
        item(None, json!({"customer_name": "Taken"})),
        item(Some("999"), json!({"company_name": "Ghost"})),
    ];
    let results = QuickBooks::push(&conn(), "accounting-customer", items).unwrap();
    assert_eq!(results.len(), 5);
    let ok = |i: usize| results[i].as_ref().map(|p| (p.id.as_str(), p.created));
    assert_eq!(ok(0), Ok(("41", true)));
    assert_eq!(ok(1), Ok(("7", false)));
    assert!(matches!(results[2], Err(ConnectorError::InvalidData(_))));
    assert_eq!(
        results[3],
        Err(ConnectorError::invalid_data(
            "QuickBooks rejected the customer: the name \"Taken\" is already used by another \
             customer, vendor or employee (DisplayName must be unique): Duplicate Name Exists \
             Error: The name supplied already exists. : Id=5 (code 6240)"
        ))
    );
    assert_eq!(
        results[4],
        Err(ConnectorError::not_found(
            "QuickBooks has no customer with Id 999"
        ))
    );
    let written: Value = results[0]
        .as_ref()
        .ok()
        .and_then(|p| serde_json::from_str(&p.data).ok())
        .unwrap_or_default();
    assert_eq!(
        written,
        json!({"customer_name": "New One",
               "email_addresses": [{"email_address": "new@x.com", "email_address_type": "WORK"}],
               "active": true, "updated_at": "2024-06-01T05:00:00-07:00"})
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        query_of(&mock, 0),
        "select * from Customer where Id IN ('7', '999') and Active IN (true, false) MAXRESULTS 2"
    );
    let batch = &requests[1];
    assert_eq!(batch.url, "/v3/company/123/batch?minorversion=75");
    assert!(!batch.idempotent);
    assert_eq!(
        batch.body_json().unwrap(),
        json!({"BatchItemRequest": [
            {"bId": "0", "operation": "create",
             "Customer": {"DisplayName": "New One", "PrimaryEmailAddr": {"Address": "new@x.com"}}},
            {"bId": "1", "operation": "update",
             "Customer": {"CompanyName": "New Co", "Id": "7", "SyncToken": "3", "sparse": true}},
            {"bId": "3", "operation": "create", "Customer": {"DisplayName": "Taken"}}
        ]})
    );
}

#[test]
fn push_retries_a_stale_sync_token_once_after_reading_it_again() {
    let mock = MockHttp::new();
    let token = |t: &str| {
        query_page(
            "Customer",
            vec![customer(
                "7",
                "2024-05-01T05:00:00-07:00",
                json!({"SyncToken": t}),
            )],
        )
    };
    let stale = json!({"bId": "0", "Fault": {"Error": [{"Message": "Stale Object Error",
        "Detail": "Stale Object Error : You and root were working on this at the same time.",
        "code": "5010"}], "type": "ValidationFault"}});
    mock.on("GET", QUERY).once().reply_json(200, token("1"));
    mock.on("POST", BATCH)
        .once()
        .reply_json(200, json!({"BatchItemResponse": [stale.clone()]}));
    mock.on("GET", QUERY).once().reply_json(200, token("2"));
    mock.on("POST", BATCH).once().reply_json(
        200,
        json!({"BatchItemResponse": [{"bId": "0", "Customer": customer(
            "7", "2024-06-01T05:00:00-07:00", json!({"SyncToken": "3", "CompanyName": "Late"}))}]}),
    );
    let results = QuickBooks::push(
        &conn(),
        "accounting-customer",
        vec![item(Some("7"), json!({"company_name": "Late"}))],
    )
    .unwrap();
    assert_eq!(
        results[0].as_ref().map(|p| (p.id.as_str(), p.created)),
        Ok(("7", false))
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 4);
    let sent_token = |n: usize| {
        requests[n].body_json().unwrap()["BatchItemRequest"][0]["Customer"]["SyncToken"].clone()
    };
    assert_eq!(sent_token(1), "1");
    assert_eq!(sent_token(3), "2");

    // Stale again after the retry: the item fails alone, as retryable.
    mock.on("GET", QUERY).reply_json(200, token("5"));
    mock.on("POST", BATCH)
        .reply_json(200, json!({"BatchItemResponse": [stale]}));
    let results = QuickBooks::push(
        &conn(),
        "accounting-customer",
        vec![item(Some("7"), json!({"company_name": "Later"}))],
    )
    .unwrap();
    assert!(
        matches!(&results[0], Err(ConnectorError::Transient(m)) if m.contains("5010")),
        "{results:?}"
    );
    assert_eq!(mock.requests().len(), 8, "exactly one retry");
}

#[test]
fn push_fails_as_a_whole_only_before_anything_was_written() {
    let mock = MockHttp::new();
    mock.on("POST", BATCH)
        .once()
        .reply_json(503, fault("10000", "An application error has occurred", ""));
    let result = QuickBooks::push(
        &conn(),
        "accounting-customer",
        vec![item(None, json!({"customer_name": "A"}))],
    );
    assert!(
        matches!(result, Err(ConnectorError::Transient(_))),
        "{result:?}"
    );

    // The stale retry's batch failing leaves the first batch's results alone.
    mock.on("GET", QUERY).reply_json(
        200,
        query_page(
            "Customer",
            vec![customer("7", "2024-05-01T05:00:00-07:00", json!({}))],
        ),
    );
    mock.on("POST", BATCH).once().reply_json(
        200,
        json!({"BatchItemResponse": [
            {"bId": "0", "Customer": customer("8", "2024-05-01T05:00:00-07:00", json!({}))},
            {"bId": "1", "Fault": {"Error": [{"Message": "Stale Object Error", "code": "5010"}]}}
        ]}),
    );
    mock.on("POST", BATCH).reply(429, "<IntuitResponse><Fault type=\"SERVICE\"><Error code=\"3001\"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message></Error></Fault></IntuitResponse>");
    let results = QuickBooks::push(
        &conn(),
        "accounting-customer",
        vec![
            item(None, json!({"customer_name": "B"})),
            item(Some("7"), json!({"customer_name": "C"})),
        ],
    )
    .unwrap();
    assert_eq!(results[0].as_ref().map(|p| p.id.as_str()), Ok("8"));
    assert_eq!(results[1], Err(ConnectorError::rate_limited(None)));
}

#[test]
fn push_splits_more_than_thirty_items_into_batches() {
    let mock = MockHttp::new();
    let answer = |from: usize, to: usize| {
        let items: Vec<Value> = (from..to)
            .map(|i| {
                json!({"bId": i.to_string(), "Customer": customer(&format!("{}", 100 + i),
                "2024-05-01T05:00:00-07:00", json!({}))})
            })
            .collect();
        json!({"BatchItemResponse": items})
    };
    mock.on("POST", BATCH).once().reply_json(200, answer(0, 30));
    mock.on("POST", BATCH)
        .once()
        .reply_json(200, answer(30, 31));
    let items: Vec<PushItem> = (0..31)
        .map(|i| item(None, json!({"customer_name": format!("C{i}")})))
        .collect();
    let results = QuickBooks::push(&conn(), "accounting-customer", items).unwrap();
    assert_eq!(results[30].as_ref().map(|p| p.id.as_str()), Ok("130"));
    let sizes: Vec<usize> = mock
        .requests()
        .iter()
        .map(|r| {
            r.body_json().unwrap()["BatchItemRequest"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(sizes, [30, 1]);
}

#[test]
fn pushed_invoices_reference_their_customer() {
    let mock = MockHttp::new();
    mock.on("POST", BATCH).reply_json(
        200,
        json!({"BatchItemResponse": [{"bId": "0", "Invoice": {
            "Id": "300", "DocNumber": "1300", "CustomerRef": {"value": "58", "name": "Ada"},
            "TotalAmt": 10.0, "Balance": 10.0,
            "Line": [{"Amount": 10.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"Qty": 1, "UnitPrice": 10.0}},
                     {"Amount": 10.0, "DetailType": "SubTotalLineDetail"}]}}]}),
    );
    let mut linked = item(None, json!({"line_items": [{"amount": 10.0}]}));
    linked.associations = vec![("accounting-customer".to_owned(), vec!["58".to_owned()])];
    let orphan = item(None, json!({"line_items": [{"amount": 5.0}]}));
    let with_item = Connection::new(
        "https://quickbooks.api.intuit.com",
        json!({"realm_id": "123", "default_item_id": "19"}),
    );
    let results = QuickBooks::push(&with_item, "accounting-invoice", vec![linked, orphan]).unwrap();
    let pushed = results[0].as_ref().unwrap();
    assert_eq!((pushed.id.as_str(), pushed.created), ("300", true));
    assert_eq!(
        serde_json::from_str::<Value>(&pushed.data).unwrap()["customer_id"],
        "58"
    );
    assert!(
        matches!(&results[1], Err(ConnectorError::InvalidData(m)) if m.contains("customer")),
        "{:?}",
        results[1]
    );
    let body = mock.requests()[0].body_json().unwrap();
    assert_eq!(
        body["BatchItemRequest"],
        json!([{"bId": "0", "operation": "create", "Invoice": {
            "CustomerRef": {"value": "58"},
            "Line": [{"Amount": 10.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "19"}}}]}}])
    );
}

#[test]
fn find_match_queries_exact_values_with_escaped_quotes() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page(
            "Customer",
            vec![customer("12", "2024-05-01T05:00:00-07:00", json!({}))],
        ),
    );
    mock.on("GET", QUERY).reply_json(200, empty_page());
    let found = QuickBooks::find_match(
        &conn(),
        "accounting-customer",
        r#"{"customer_name": "O'Brien & Sons"}"#,
    );
    assert_eq!(found, Ok(Some("12".to_owned())));
    assert_eq!(
        query_of(&mock, 0),
        r"select * from Customer where DisplayName = 'O\'Brien & Sons' and Active IN (true, false) MAXRESULTS 1"
    );
    // The common model's list and object shapes work as keys too.
    let none = QuickBooks::find_match(
        &conn(),
        "accounting-customer",
        r#"{"email_addresses": [{"email_address": "d'arcy@x.com", "email_address_type": "WORK"}],
            "company_name": {"ignored": true}}"#,
    );
    assert_eq!(none, Ok(None), "an empty key matches nothing");
    let none = QuickBooks::find_match(
        &conn(),
        "accounting-customer",
        r#"{"email_addresses": {"email_address": "d'arcy@x.com"}}"#,
    );
    assert_eq!(none, Ok(None));
    assert_eq!(
        query_of(&mock, 1),
        r"select * from Customer where PrimaryEmailAddr = 'd\'arcy@x.com' and Active IN (true, false) MAXRESULTS 1"
    );
    let invoice = QuickBooks::find_match(&conn(), "accounting-invoice", r#"{"number": 1001}"#);
    assert_eq!(invoice, Ok(None));
    assert_eq!(
        query_of(&mock, 2),
        "select * from Invoice where DocNumber = '1001' MAXRESULTS 1"
    );
    assert_eq!(mock.requests().len(), 3);
}

#[test]
fn find_match_compares_phones_itself_and_refuses_what_it_cannot_query() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        200,
        query_page(
            "Customer",
            vec![
                customer(
                    "1",
                    "t",
                    json!({"PrimaryPhone": {"FreeFormNumber": "(555) 010-0000"}}),
                ),
                customer(
                    "2",
                    "t",
                    json!({"Mobile": {"FreeFormNumber": "555-0199-000"}}),
                ),
            ],
        ),
    );
    let found = QuickBooks::find_match(
        &conn(),
        "accounting-customer",
        r#"{"company_name": "Acme", "phone_numbers": [{"phone_number": "+1 555 0199 000"}]}"#,
    );
    assert_eq!(found, Ok(Some("2".to_owned())));
    assert_eq!(
        query_of(&mock, 0),
        "select * from Customer where CompanyName = 'Acme' and Active IN (true, false) MAXRESULTS 100"
    );
    for keys in [
        r#"{"phone_numbers": "+1 555 0100"}"#,
        r#"{"first_name": "Ada"}"#,
        r#"{"customer_name": "C:\\temp"}"#,
    ] {
        assert!(
            matches!(
                QuickBooks::find_match(&conn(), "accounting-customer", keys),
                Err(ConnectorError::Unsupported(_))
            ),
            "{keys}"
        );
    }
    assert!(matches!(
        QuickBooks::find_match(&conn(), "accounting-invoice", r#"{"customer_name": "A"}"#),
        Err(ConnectorError::Unsupported(_))
    ));
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn errors_map_quickbooks_faults() {
    let mock = MockHttp::new();
    let companyinfo = "/v3/company/123/companyinfo/123";
    mock.on("GET", companyinfo).once().reply(
        429,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><IntuitResponse \
         xmlns=\"http://schema.intuit.com/finance/v3\" time=\"2024-06-01T10:00:00.000-07:00\">\
         <Fault type=\"SERVICE\"><Error code=\"3001\" element=\"\"><Message>message=ThrottleExceeded; \
         errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.</Detail>\
         </Error></Fault></IntuitResponse>",
    );
    mock.on("GET", companyinfo)
        .once()
        .header("retry-after", "4")
        .reply(429, "<IntuitResponse/>");
    mock.on("GET", companyinfo).once().reply_json(
        400,
        fault(
            "4000",
            "Error parsing query",
            "QueryParserError: Encountered \"form\"",
        ),
    );
    mock.on("GET", companyinfo)
        .once()
        .reply(200, "{\"CompanyInfo\": ");
    mock.on("GET", companyinfo).once().reply_json(
        500,
        json!({"Fault": {"Error": [{"Message": "An application error has occurred",
            "Detail": "System Failure Error", "code": "10000"}], "type": "SystemFault"}}),
    );
    mock.on("GET", companyinfo).once().reply_json(
        403,
        json!({"Fault": {"Error": [{"Message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            "Detail": "The token is not authorized for company 123", "code": "3100"}],
            "type": "AuthorizationFault"}}),
    );
    mock.on("GET", companyinfo)
        .once()
        .reply(404, "<html>Not Found</html>");
    mock.on("GET", companyinfo).once().reply(
        400,
        "<IntuitResponse><Fault type=\"ValidationFault\"><Error code=\"2010\"><Message>Invalid \
         &amp; unsupported</Message><Detail>Property Shoe</Detail></Error></Fault></IntuitResponse>",
    );
    mock.on("GET", companyinfo).once().reply_json(
        200,
        fault(
            "610",
            "Object Not Found",
            "Object Not Found : (Customer Id=9)",
        ),
    );
    mock.on("GET", companyinfo)
        .fail(ConnectorError::unauthorized("refresh token rejected"));

    let check = || QuickBooks::check(&conn());
    assert_eq!(check(), Err(ConnectorError::rate_limited(None)));
    assert_eq!(check(), Err(ConnectorError::rate_limited(Some(4))));
    assert_eq!(
        check(),
        Err(ConnectorError::invalid_data(
            "QuickBooks answered HTTP 400: Error parsing query: QueryParserError: \
             Encountered \"form\" (code 4000)"
        ))
    );
    match check() {
        Err(ConnectorError::Fatal(message)) => assert!(
            message.starts_with("QuickBooks returned malformed JSON: "),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        check(),
        Err(ConnectorError::transient(
            "QuickBooks answered HTTP 500: An application error has occurred: \
             System Failure Error (code 10000)"
        ))
    );
    assert_eq!(
        check(),
        Err(ConnectorError::unauthorized(
            "QuickBooks answered HTTP 403: ApplicationAuthorizationFailed: \
             The token is not authorized for company 123 (code 3100)"
        ))
    );
    assert_eq!(
        check(),
        Err(ConnectorError::not_found(
            "QuickBooks answered HTTP 404: <html>Not Found</html>"
        ))
    );
    assert_eq!(
        check(),
        Err(ConnectorError::invalid_data(
            "QuickBooks answered HTTP 400: Invalid & unsupported: Property Shoe (code 2010)"
        ))
    );
    assert_eq!(
        check(),
        Err(ConnectorError::not_found(
            "QuickBooks answered HTTP 200: Object Not Found : (Customer Id=9) (code 610)"
        ))
    );
    assert_eq!(
        check(),
        Err(ConnectorError::unauthorized("refresh token rejected"))
    );
}

#[test]
fn a_duplicate_name_outside_a_batch_names_the_rule() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        400,
        fault(
            "6240",
            "Duplicate Name Exists Error",
            "The name supplied already exists. : Id=11",
        ),
    );
    let result = QuickBooks::pull(&conn(), PullRequest::new("accounting-customer", 5));
    assert_eq!(
        result,
        Err(ConnectorError::invalid_data(
            "QuickBooks answered HTTP 400: Duplicate Name Exists Error: The name supplied \
             already exists. : Id=11 (code 6240); DisplayName must be unique across \
             customers, vendors and employees"
        ))
    );
}

#[test]
fn associate_sets_the_invoice_customer_with_a_sparse_update() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        200,
        query_page(
            "Invoice",
            vec![json!({"Id": "300", "SyncToken": "2", "CustomerRef": {"value": "1"}})],
        ),
    );
    mock.on("POST", BATCH).reply_json(
        200,
        json!({"BatchItemResponse": [{"bId": "0", "Invoice": {
            "Id": "300", "SyncToken": "3", "CustomerRef": {"value": "58"}}}]}),
    );
    assert_eq!(
        QuickBooks::associate(
            &conn(),
            "accounting-customer",
            "58",
            "accounting-invoice",
            "300"
        ),
        Ok(())
    );
    assert_eq!(
        query_of(&mock, 0),
        "select * from Invoice where Id IN ('300') MAXRESULTS 1"
    );
    assert_eq!(
        mock.requests()[1].body_json().unwrap()["BatchItemRequest"][0],
        json!({"bId": "0", "operation": "update", "Invoice": {
            "CustomerRef": {"value": "58"}, "Id": "300", "SyncToken": "2", "sparse": true}})
    );
    for (from, to) in [
        ("accounting-customer", "accounting-customer"),
        ("accounting-invoice", "accounting-invoice"),
    ] {
        assert!(matches!(
            QuickBooks::associate(&conn(), from, "1", to, "2"),
            Err(ConnectorError::Unsupported(m)) if m.contains("CustomerRef")
        ));
    }
    assert!(matches!(
        QuickBooks::associate(&conn(), "crm-contact", "1", "accounting-customer", "2"),
        Err(ConnectorError::Unsupported(_))
    ));
}

#[test]
fn incremental_invoice_pulls_end_with_the_deletions_cdc_reports() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(200, empty_page());
    mock.on("GET", "/v3/company/123/cdc").once().reply_json(
        200,
        json!({"CDCResponse": [{"QueryResponse": [{
            "Invoice": [
                {"domain": "QBO", "status": "Deleted", "Id": "31",
                 "MetaData": {"LastUpdatedTime": "2024-05-02T10:00:00-07:00"}},
                {"Id": "32", "DocNumber": "1032", "TotalAmt": 5.0, "Balance": 5.0}
            ],
            "startPosition": 1, "maxResults": 2, "totalCount": 2
        }]}], "time": "2024-06-01T10:00:00.000-07:00"}),
    );
    mock.on("GET", "/v3/company/123/cdc").reply_json(
        400,
        fault(
            "2010",
            "Invalid request parameter",
            "changedSince must be within the last 30 days",
        ),
    );
    let mut req = PullRequest::new("accounting-invoice", 50);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    req.cursor = cursor::encode(&Changed {
        after: "2024-05-03T10:00:00-07:00".to_owned(),
        skip: 1,
        seen: Vec::new(),
    })
    .ok();
    let page = QuickBooks::pull(&conn(), req.clone()).unwrap();
    assert_eq!(page.next_cursor, None);
    assert_eq!(page.records, [PulledRecord::deleted("31")]);
    let cdc = &mock.requests()[1];
    assert_eq!(cdc.path(), "/v3/company/123/cdc");
    assert_eq!(cdc.query_param("entities").as_deref(), Some("Invoice"));
    assert_eq!(
        cdc.query_param("changedSince").as_deref(),
        Some("2024-05-01T00:00:00-00:00")
    );
    assert_eq!(cdc.query_param("minorversion").as_deref(), Some("75"));

    // Beyond CDC's 30 days the pull still ends, with no deletions and a warning.
    let page = QuickBooks::pull(&conn(), req).unwrap();
    assert!(page.records.is_empty() && page.next_cursor.is_none());
    assert!(mock.logs().iter().any(|(_, line)| line.contains("30 days")));
    // Customers are never deleted: no CDC for them.
    let mut req = PullRequest::new("accounting-customer", 50);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    let before = mock.requests().len();
    QuickBooks::pull(&conn(), req).unwrap();
    assert_eq!(mock.requests().len(), before + 1);
}

#[test]
fn keyed_items_are_written_one_by_one_with_their_key_as_requestid() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        200,
        query_page(
            "Customer",
            vec![customer(
                "7",
                "2024-05-01T05:00:00-07:00",
                json!({"SyncToken": "3"}),
            )],
        ),
    );
    mock.on("POST", CUSTOMER).once().reply_json(
        200,
        json!({"Customer": customer("41", "2024-06-01T05:00:00-07:00",
            json!({"DisplayName": "New One"})), "time": "2024-06-01T10:00:00.000-07:00"}),
    );
    mock.on("POST", CUSTOMER).once().reply_json(
        200,
        json!({"Customer": customer("7", "2024-06-01T05:00:00-07:00",
            json!({"SyncToken": "4", "CompanyName": "New Co"}))}),
    );
    mock.on("POST", CUSTOMER).once().reply_json(
        400,
        fault(
            "6240",
            "Duplicate Name Exists Error",
            "The name supplied already exists. : Id=5",
        ),
    );
    let key = "0123456789abcdef0123456789abcdef";
    let items = vec![
        keyed(None, key, json!({"customer_name": "New One"})),
        keyed(Some("7"), "k-update", json!({"company_name": "New Co"})),
        keyed(None, "k-taken", json!({"customer_name": "Taken"})),
        keyed(Some("999"), "k-ghost", json!({"company_name": "Ghost"})),
    ];
    let results = QuickBooks::push(&conn(), "accounting-customer", items).unwrap();
    let ok = |i: usize| results[i].as_ref().map(|p| (p.id.as_str(), p.created));
    assert_eq!(ok(0), Ok(("41", true)));
    assert_eq!(ok(1), Ok(("7", false)));
    assert!(
        matches!(&results[2], Err(ConnectorError::InvalidData(m))
            if m.contains("\"Taken\" is already used") && m.contains("6240")),
        "{results:?}"
    );
    assert_eq!(
        results[3],
        Err(ConnectorError::not_found(
            "QuickBooks has no customer with Id 999"
        ))
    );

    let requests = mock.requests();
    assert_eq!(
        requests.len(),
        4,
        "one token query, then one POST per write"
    );
    assert_eq!(
        query_of(&mock, 0),
        "select * from Customer where Id IN ('7', '999') and Active IN (true, false) MAXRESULTS 2"
    );
    let post = |n: usize| (requests[n].url.as_str(), requests[n].body_json().unwrap());
    assert_eq!(
        post(1),
        (
            "/v3/company/123/customer?minorversion=75&requestid=0123456789abcdef0123456789abcdef",
            json!({"DisplayName": "New One"})
        )
    );
    assert_eq!(
        post(2),
        (
            "/v3/company/123/customer?minorversion=75&requestid=k-update",
            json!({"CompanyName": "New Co", "Id": "7", "SyncToken": "3", "sparse": true})
        )
    );
    assert_eq!(
        requests[3].query_param("requestid").as_deref(),
        Some("k-taken")
    );
    assert!(
        requests[1..].iter().all(|r| r.idempotent),
        "the same requestid writes once, so the host may send it again"
    );
}

#[test]
fn a_keyed_update_with_a_stale_sync_token_retries_under_its_own_requestid() {
    let mock = MockHttp::new();
    let token = |t: &str| {
        query_page(
            "Invoice",
            vec![json!({"Id": "300", "SyncToken": t, "CustomerRef": {"value": "1"}})],
        )
    };
    mock.on("GET", QUERY).once().reply_json(200, token("1"));
    mock.on("POST", "/v3/company/123/invoice")
        .once()
        .reply_json(
            400,
            fault("5010", "Stale Object Error", "Stale Object Error"),
        );
    mock.on("GET", QUERY).once().reply_json(200, token("2"));
    mock.on("POST", "/v3/company/123/invoice")
        .once()
        .reply_json(
            200,
            json!({"Invoice": {"Id": "300", "SyncToken": "3", "CustomerRef": {"value": "1"},
                           "DocNumber": "A-1"}}),
        );
    // The longest key QuickBooks takes: the retry's id stays within 50.
    let key = "k".repeat(50);
    let results = QuickBooks::push(
        &conn(),
        "accounting-invoice",
        vec![keyed(Some("300"), &key, json!({"number": "A-1"}))],
    )
    .unwrap();
    assert_eq!(
        results[0].as_ref().map(|p| (p.id.as_str(), p.created)),
        Ok(("300", false))
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 4);
    let sent = |n: usize| {
        (
            requests[n].query_param("requestid").unwrap_or_default(),
            requests[n].body_json().unwrap()["SyncToken"].clone(),
        )
    };
    assert_eq!(sent(1), (key.clone(), json!("1")));
    let retry = format!("{}-2", "k".repeat(48));
    assert_eq!(
        sent(3),
        (retry, json!("2")),
        "QuickBooks would answer the first id with its stale fault again"
    );
}

#[test]
fn a_keyed_write_that_fails_as_a_whole_stops_the_rest() {
    let mock = MockHttp::new();
    // Nothing confirmed yet: the call fails, and the host sends it all again.
    mock.on("POST", CUSTOMER)
        .once()
        .fail(ConnectorError::transient("connection cut"));
    let result = QuickBooks::push(
        &conn(),
        "accounting-customer",
        vec![
            keyed(None, "k-a", json!({"customer_name": "A"})),
            keyed(None, "k-b", json!({"customer_name": "B"})),
        ],
    );
    assert_eq!(result, Err(ConnectorError::transient("connection cut")));
    assert_eq!(mock.requests().len(), 1);

    // After a confirmed write, the rest fail with the error, unsent.
    mock.on("POST", CUSTOMER).once().reply_json(
        200,
        json!({"Customer": customer("8", "2024-05-01T05:00:00-07:00", json!({}))}),
    );
    mock.on("POST", CUSTOMER).once().reply(
        429,
        "<IntuitResponse><Fault type=\"SERVICE\"><Error code=\"3001\"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message></Error></Fault></IntuitResponse>",
    );
    let results = QuickBooks::push(
        &conn(),
        "accounting-customer",
        vec![
            keyed(None, "k-a", json!({"customer_name": "A"})),
            keyed(None, "k-b", json!({"customer_name": "B"})),
            keyed(None, "k-c", json!({"customer_name": "C"})),
        ],
    )
    .unwrap();
    assert_eq!(results[0].as_ref().map(|p| p.id.as_str()), Ok("8"));
    assert_eq!(results[1], Err(ConnectorError::rate_limited(None)));
    assert_eq!(results[2], Err(ConnectorError::rate_limited(None)));
    assert_eq!(mock.requests().len(), 3, "C was not sent");
}

#[test]
fn find_matches_asks_each_round_with_one_in_query_per_field() {
    let mock = MockHttp::new();
    // Round 1, emails: b@x.com is held twice; the lowest Id comes first.
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page(
            "Customer",
            vec![
                customer(
                    "8",
                    "2024-05-01T05:00:00-07:00",
                    json!({"PrimaryEmailAddr": {"Address": "b@x.com"}}),
                ),
                customer(
                    "9",
                    "2024-05-01T05:00:00-07:00",
                    json!({"PrimaryEmailAddr": {"Address": "B@X.com"}}),
                ),
            ],
        ),
    );
    // Round 1, names: nobody is called O'Brien.
    mock.on("GET", QUERY).once().reply_json(200, empty_page());
    // Round 2: Ann, whose email matched nobody, by name.
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page(
            "Customer",
            vec![customer(
                "21",
                "2024-05-01T05:00:00-07:00",
                json!({"DisplayName": "ANN"}),
            )],
        ),
    );
    let items = vec![
        vec![
            r#"{"email_addresses": "a@x.com"}"#.to_owned(),
            r#"{"customer_name": "Ann"}"#.to_owned(),
        ],
        vec![r#"{"email_addresses": [{"email_address": "B@x.com"}]}"#.to_owned()],
        vec![r#"{"customer_name": "O'Brien"}"#.to_owned()],
        vec![r#"{"phone_numbers": "555 0100"}"#.to_owned()],
        vec![],
        vec!["not json".to_owned()],
    ];
    let answers = QuickBooks::find_matches(&conn(), "accounting-customer", items).unwrap();
    assert_eq!(answers[0], Ok(Some("21".to_owned())));
    assert_eq!(answers[1], Ok(Some("8".to_owned())));
    assert_eq!(answers[2], Ok(None));
    assert!(
        matches!(&answers[3], Err(ConnectorError::Unsupported(m)) if m.contains("phone")),
        "{answers:?}"
    );
    assert_eq!(answers[4], Ok(None));
    assert!(matches!(answers[5], Err(ConnectorError::InvalidData(_))));

    assert_eq!(mock.requests().len(), 3, "one query per field and round");
    assert_eq!(
        query_of(&mock, 0),
        "select * from Customer where PrimaryEmailAddr IN ('a@x.com', 'B@x.com') \
         and Active IN (true, false) STARTPOSITION 1 MAXRESULTS 1000"
    );
    assert_eq!(
        query_of(&mock, 1),
        r"select * from Customer where DisplayName IN ('O\'Brien') and Active IN (true, false) STARTPOSITION 1 MAXRESULTS 1000"
    );
    assert_eq!(
        query_of(&mock, 2),
        "select * from Customer where DisplayName IN ('Ann') and Active IN (true, false) \
         STARTPOSITION 1 MAXRESULTS 1000"
    );
}

#[test]
fn find_matches_pages_and_fails_only_the_items_a_query_asked_about() {
    let mock = MockHttp::new();
    // Several fields together go through find-match, item by item.
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page("Invoice", vec![json!({"Id": "77", "DocNumber": "9"})]),
    );
    // DocNumbers: a full page, then the rest.
    let full: Vec<Value> = (0..1000)
        .map(|n| json!({"Id": (1000 + n).to_string(), "DocNumber": "1001"}))
        .collect();
    mock.on("GET", QUERY)
        .once()
        .reply_json(200, query_page("Invoice", full));
    mock.on("GET", QUERY).once().reply_json(
        200,
        query_page("Invoice", vec![json!({"Id": "5000", "DocNumber": "1002"})]),
    );
    // Customers: throttled.
    mock.on("GET", QUERY).once().reply(
        429,
        "<IntuitResponse><Fault type=\"SERVICE\"><Error code=\"3001\"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message></Error></Fault></IntuitResponse>",
    );
    let items = vec![
        vec![r#"{"number": "1001"}"#.to_owned()],
        vec![r#"{"number": 1002}"#.to_owned()],
        vec![r#"{"number": "9", "customer_id": "3"}"#.to_owned()],
        vec![r#"{"customer_id": "3"}"#.to_owned()],
    ];
    let answers = QuickBooks::find_matches(&conn(), "accounting-invoice", items).unwrap();
    assert_eq!(answers[0], Ok(Some("1000".to_owned())));
    assert_eq!(answers[1], Ok(Some("5000".to_owned())));
    assert_eq!(answers[2], Ok(Some("77".to_owned())));
    assert_eq!(answers[3], Err(ConnectorError::rate_limited(None)));
    assert_eq!(
        query_of(&mock, 0),
        "select * from Invoice where CustomerRef = '3' and DocNumber = '9' MAXRESULTS 1"
    );
    assert_eq!(
        query_of(&mock, 1),
        "select * from Invoice where DocNumber IN ('1001', '1002') STARTPOSITION 1 MAXRESULTS 1000"
    );
    assert_eq!(
        query_of(&mock, 2),
        "select * from Invoice where DocNumber IN ('1001', '1002') STARTPOSITION 1001 MAXRESULTS 1000"
    );
    assert_eq!(
        query_of(&mock, 3),
        "select * from Invoice where CustomerRef IN ('3') STARTPOSITION 1 MAXRESULTS 1000"
    );
}
