//! Native unit tests: `cargo test --target x86_64-unknown-linux-gnu -p hubspot`.

use serde_json::{Value, json};
use switchyard_connector_sdk::testing::MockHttp;

use super::*;

fn conn() -> Connection {
    Connection::new("https://api.hubapi.com", json!({}))
}

fn contact(id: &str, props: Value) -> Value {
    json!({"id": id, "properties": props, "createdAt": "2024-01-01T00:00:00.000Z",
           "updatedAt": "2024-05-01T12:00:00.000Z", "archived": false})
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

#[test]
fn manifest_describes_hubspot() {
    let m = HubSpot::describe();
    assert_eq!(m.id, "hubspot");
    assert_eq!(m.display_name, "HubSpot");
    assert_eq!(m.version, "0.1.0");
    assert_eq!(m.allowed_hosts, ["api.hubapi.com"]);
    assert_eq!(m.integrations.len(), 2);
    assert!(m.logo_svg.starts_with("<svg"));
    let AuthSpec::Oauth2(oauth) = m.auth else {
        panic!("expected OAuth2");
    };
    assert_eq!(oauth.client_auth, ClientAuth::FormBody);
    assert_eq!(oauth.scopes.len(), 4);
    assert_eq!(m.rate_limit.requests, 100);
    assert_eq!(m.rate_limit.window_ms, 10_000);
}

#[test]
fn full_pull_pages_until_paging_is_absent() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/objects/contacts")
        .once()
        .reply_json(
            200,
            json!({
                "results": [contact("1", json!({
                    "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com",
                    "phone": "+1 555 0100", "mobilephone": "", "jobtitle": null,
                    "company": "Engines Ltd", "address": "1 Main St", "city": "London",
                    "zip": "N1", "country": "UK", "lastmodifieddate": "2024-05-01T12:00:00.000Z"
                }))],
                "paging": {"next": {"after": "2", "link": "https://api.hubapi.com/..."}}
            }),
        );
    mock.on("GET", "/crm/v3/objects/contacts").reply_json(
        200,
        json!({"results": [{"id": "2", "properties": {"email": "b@x.com"},
                            "associations": {"companies": {"results": [
                                {"id": "7", "type": "contact_to_company"}]}}}]}),
    );
    let mut req = PullRequest::new("crm-contact", 2);
    req.associations = vec!["crm-company".to_owned()];
    let first = HubSpot::pull(&conn(), req.clone()).unwrap();
    assert_eq!(first.next_cursor.as_deref(), Some("2"));
    assert_eq!(
        first.records[0].data_as::<Value>().unwrap(),
        json!({
            "first_name": "Ada", "last_name": "Lovelace",
            "email_addresses": [{"email_address": "ada@example.com", "email_address_type": "WORK"}],
            "phone_numbers": [{"phone_number": "+1 555 0100", "phone_number_type": "WORK"}],
            "company_name": "Engines Ltd",
            "addresses": [{"address_type": "PRIMARY", "street_1": "1 Main St", "city": "London",
                           "postal_code": "N1", "country": "UK"}],
            "updated_at": "2024-05-01T12:00:00.000Z"
        })
    );
    assert_eq!(
        first.records[0].associations,
        [("crm-company".to_owned(), Vec::<String>::new())]
    );
    req.cursor = first.next_cursor;
    let last = HubSpot::pull(&conn(), req).unwrap();
    assert_eq!(last.next_cursor, None);
    assert_eq!(
        last.records[0].associations,
        [("crm-company".to_owned(), vec!["7".to_owned()])]
    );
    let requests = mock.requests();
    assert_eq!(requests[0].query_param("limit").as_deref(), Some("2"));
    assert_eq!(requests[0].query_param("after"), None);
    assert_eq!(
        requests[0].query_param("associations").as_deref(),
        Some("companies")
    );
    assert_eq!(
        requests[0].query_param("properties"),
        Some(mapping::CONTACT_PROPERTIES.join(","))
    );
    assert_eq!(requests[1].query_param("after").as_deref(), Some("2"));
}

#[test]
fn incremental_pull_searches_by_last_modified_ascending() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/companies/search")
        .reply_json(
            200,
            json!({"total": 3, "results": [
            {"id": "5", "properties": {"name": "Acme", "domain": "acme.com", "phone": "123",
                                       "hs_lastmodifieddate": "2024-06-01T00:00:00Z"}},
            {"id": "6", "properties": {}, "archived": true}
        ], "paging": {"next": {"after": "2"}}}),
        );
    let mut req = PullRequest::new("crm-company", 2);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    let page = HubSpot::pull(&conn(), req).unwrap();
    // The last record has no modification time: the next page goes on by
    // position.
    let next: SearchCursor =
        switchyard_connector_sdk::cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(
        next,
        SearchCursor {
            after: "2".to_owned(),
            since: "2024-05-01T00:00:00Z".to_owned(),
            seen: Vec::new(),
        }
    );
    assert_eq!(
        page.records[0].data_as::<Value>().unwrap(),
        json!({"name": "Acme", "domain": "acme.com",
               "phone_numbers": [{"phone_number": "123", "phone_number_type": "WORK"}],
               "updated_at": "2024-06-01T00:00:00Z"})
    );
    assert!(page.records[1].deleted);
    let sent = &mock.requests()[0];
    assert!(sent.idempotent);
    let body = sent.body_json().unwrap();
    assert_eq!(
        body["filterGroups"],
        json!([{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                             "value": "2024-05-01T00:00:00Z"}]}])
    );
    assert_eq!(
        body["sorts"],
        json!([{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}])
    );
    assert_eq!(body["limit"], 2);
    assert_eq!(body["after"], "0");
    assert_eq!(body["properties"], json!(mapping::COMPANY_PROPERTIES));
}

#[test]
fn incremental_contacts_fetch_associations_per_record() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .reply_json(
            200,
            json!({"total": 1, "results": [{"id": "3", "properties": {"email": "c@x.com"}}]}),
        );
    mock.on("GET", "/crm/v4/objects/contacts/3/associations/companies")
        .reply_json(
            200,
            json!({"results": [{"toObjectId": 11, "associationTypes": []}]}),
        );
    let mut req = PullRequest::new("crm-contact", 10);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    req.cursor = Some("20".to_owned());
    req.associations = vec!["crm-company".to_owned()];
    let page = HubSpot::pull(&conn(), req).unwrap();
    assert_eq!(page.next_cursor, None);
    assert_eq!(
        page.records[0].associations,
        [("crm-company".to_owned(), vec!["11".to_owned()])]
    );
    let body = mock.requests()[0].body_json().unwrap();
    assert_eq!(body["after"], "20");
    assert_eq!(
        body["filterGroups"][0]["filters"][0]["propertyName"],
        "lastmodifieddate"
    );
}

#[test]
fn malformed_json_is_fatal_and_names_hubspot() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/objects/contacts")
        .reply(200, "{not json");
    match HubSpot::pull(&conn(), PullRequest::new("crm-contact", 10)) {
        Err(ConnectorError::Fatal(message)) => {
            assert!(
                message.starts_with("HubSpot returned malformed JSON: "),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_map_through_from_status() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/objects/contacts")
        .once()
        .reply_json(
            401,
            json!({"status": "error", "message": "expired", "category": "EXPIRED_AUTHENTICATION"}),
        );
    mock.on("GET", "/crm/v3/objects/contacts")
        .header("retry-after", "2")
        .reply_json(429, json!({"status": "error", "message": "slow down"}));
    assert_eq!(
        HubSpot::check(&conn()),
        Err(ConnectorError::unauthorized(
            "HubSpot answered HTTP 401: expired"
        ))
    );
    assert_eq!(
        HubSpot::check(&conn()),
        Err(ConnectorError::rate_limited(Some(2)))
    );
    assert_eq!(mock.requests()[0].url, "/crm/v3/objects/contacts?limit=1");
}

#[test]
fn unsupported_types() {
    let _mock = MockHttp::new();
    assert!(matches!(
        HubSpot::pull(&conn(), PullRequest::new("crm-deal", 10)),
        Err(ConnectorError::Unsupported(_))
    ));
}

#[test]
fn from_cdm_maps_contacts_and_companies() {
    let contact = HubSpot::from_cdm(
        "crm-contact",
        &json!({
            "first_name": "Ada", "last_name": null, "title": "Analyst",
            "email_addresses": [{"email_address": "home@x.com", "email_address_type": "PERSONAL"},
                                {"email_address": "ada@x.com", "email_address_type": "WORK"}],
            "phone_numbers": [{"phone_number": "+2", "phone_number_type": "MOBILE"},
                              {"phone_number": "+1", "phone_number_type": "WORK"}],
            "addresses": [{"address_type": "PRIMARY", "street_1": "1 Main", "city": "X"}]
        })
        .to_string(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&contact).unwrap(),
        json!({"properties": {
            "firstname": "Ada", "lastname": "", "jobtitle": "Analyst", "email": "ada@x.com",
            "phone": "+1", "mobilephone": "+2", "address": "1 Main", "city": "X",
            "state": "", "zip": "", "country": ""
        }})
    );
    let company = HubSpot::from_cdm(
        "crm-company",
        &json!({"name": "Acme", "domain": "acme.com", "industry": "Tools"}).to_string(),
    )
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&company).unwrap(),
        json!({"properties": {"name": "Acme", "domain": "acme.com", "industry": "Tools"}})
    );
    assert!(matches!(
        HubSpot::from_cdm("crm-contact", r#"{"first_name": ["a"]}"#),
        Err(ConnectorError::InvalidData(_))
    ));
}

#[test]
fn to_cdm_round_trips_through_from_cdm() {
    let raw = contact(
        "9",
        json!({"firstname": "Bo", "email": "bo@x.com", "mobilephone": "+3", "state": "CA"}),
    );
    let cdm = HubSpot::to_cdm("crm-contact", &raw.to_string()).unwrap();
    let cdm: Value = serde_json::from_str(&cdm).unwrap();
    assert_eq!(
        cdm,
        json!({"first_name": "Bo",
               "email_addresses": [{"email_address": "bo@x.com", "email_address_type": "WORK"}],
               "phone_numbers": [{"phone_number": "+3", "phone_number_type": "MOBILE"}],
               "addresses": [{"address_type": "PRIMARY", "state": "CA"}],
               "updated_at": "2024-05-01T12:00:00.000Z"})
    );
    let back = mapping::from_cdm(Kind::Contacts, &cdm).unwrap();
    assert_eq!(back["firstname"], "Bo");
    assert_eq!(back["email"], "bo@x.com");
    assert_eq!(back["mobilephone"], "+3");
    assert_eq!(back["phone"], "");
    assert_eq!(back["state"], "CA");
}

#[test]
fn push_maps_unordered_batch_results_back_to_inputs() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/batch/create")
        .reply_json(
            201,
            json!({"status": "COMPLETE", "results": [
                contact("102", json!({"email": "b@x.com", "firstname": "B"})),
                contact("101", json!({"email": "a@x.com", "firstname": "A"}))
            ]}),
        );
    mock.on("POST", "/crm/v3/objects/contacts/batch/update")
        .reply_json(
            200,
            json!({"status": "COMPLETE", "results": [contact("55", json!({"firstname": "U"}))]}),
        );
    let items = vec![
        item(
            None,
            json!({"first_name": "A", "email_addresses": [{"email_address": "A@x.com"}]}),
        ),
        item(Some("55"), json!({"first_name": "U"})),
        item(
            None,
            json!({"first_name": "B", "email_addresses": [{"email_address": "b@x.com"}]}),
        ),
    ];
    let results = HubSpot::push(&conn(), "crm-contact", items).unwrap();
    let ids: Vec<(String, bool)> = results
        .iter()
        .map(|r| r.as_ref().map(|p| (p.id.clone(), p.created)).unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            ("101".to_owned(), true),
            ("55".to_owned(), false),
            ("102".to_owned(), true)
        ]
    );
    let create = mock.requests()[0].body_json().unwrap();
    assert_eq!(create["inputs"][0]["properties"]["email"], "A@x.com");
    assert_eq!(create["inputs"][1]["properties"]["firstname"], "B");
}

#[test]
fn push_reports_per_item_errors() {
    let mock = MockHttp::new();
    // One of two creates fails in the batch (207): the unmatched input gets
    // the batch's single error.
    mock.on("POST", "/crm/v3/objects/contacts/batch/create")
        .reply_json(
            207,
            json!({"status": "COMPLETE", "results": [contact("1", json!({"email": "new@x.com"}))],
               "numErrors": 1,
               "errors": [{"status": "error", "category": "CONFLICT",
                           "message": "Contact already exists. Existing ID: 9"}]}),
        );
    let items = vec![
        item(
            None,
            json!({"email_addresses": [{"email_address": "dup@x.com"}]}),
        ),
        item(
            None,
            json!({"email_addresses": [{"email_address": "new@x.com"}]}),
        ),
        item(None, json!({"first_name": 3.5, "last_name": {"x": 1}})),
    ];
    let results = HubSpot::push(&conn(), "crm-contact", items).unwrap();
    assert_eq!(
        results[0],
        Err(ConnectorError::invalid_data(
            "HubSpot rejected the record: Contact already exists. Existing ID: 9"
        ))
    );
    assert_eq!(results[1].as_ref().map(|p| p.id.as_str()), Ok("1"));
    assert!(matches!(results[2], Err(ConnectorError::InvalidData(_))));
}

#[test]
fn push_falls_back_to_single_writes_when_in_doubt() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/companies/batch/create")
        .reply_json(
            400,
            json!({"status": "error", "category": "VALIDATION_ERROR", "message": "bad input"}),
        );
    mock.on("POST", "/crm/v3/objects/companies/batch/update")
        .reply_json(
            207,
            json!({"status": "COMPLETE", "results": [],
               "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND",
                           "message": "Object not found.", "context": {"id": ["77"]}}]}),
        );
    mock.on("POST", "/crm/v3/objects/companies")
        .once()
        .reply_json(201, json!({"id": "31", "properties": {"name": "Good"}}));
    mock.on("POST", "/crm/v3/objects/companies").reply_json(
        400,
        json!({"status": "error", "category": "VALIDATION_ERROR", "message": "Property \"x\" is bad"}),
    );
    let mut linked = item(Some("77"), json!({"name": "Gone"}));
    linked.associations = vec![("crm-contact".to_owned(), vec!["5".to_owned()])];
    let items = vec![
        item(None, json!({"name": "Good"})),
        item(None, json!({"name": "Bad"})),
        linked,
    ];
    let results = HubSpot::push(&conn(), "crm-company", items).unwrap();
    assert_eq!(results[0].as_ref().map(|p| p.id.as_str()), Ok("31"));
    assert_eq!(
        results[1],
        Err(ConnectorError::invalid_data(
            "HubSpot answered HTTP 400: Property \"x\" is bad"
        ))
    );
    assert!(matches!(results[2], Err(ConnectorError::NotFound(_))));
}

#[test]
fn push_links_created_inline_and_updated_via_v4() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/batch/create")
        .reply_json(
            201,
            json!({"results": [contact("1", json!({"firstname": "N"}))]}),
        );
    mock.on("POST", "/crm/v3/objects/contacts/batch/update")
        .reply_json(
            200,
            json!({"results": [contact("2", json!({"firstname": "U"}))]}),
        );
    mock.on(
        "POST",
        "/crm/v4/associations/contacts/companies/batch/associate/default",
    )
    .reply_json(207, json!({"results": [], "errors": [{"message": "nope"}]}));
    mock.on(
        "PUT",
        "/crm/v4/objects/contacts/2/associations/default/companies/8",
    )
    .reply_json(404, json!({"message": "Object not found."}));
    let company = |id: &str| vec![("crm-company".to_owned(), vec![id.to_owned()])];
    let mut new = item(None, json!({"first_name": "N"}));
    new.associations = company("7");
    let mut old = item(Some("2"), json!({"first_name": "U"}));
    old.associations = company("8");
    let results = HubSpot::push(&conn(), "crm-contact", vec![new, old]).unwrap();
    assert!(results[0].is_ok());
    assert_eq!(
        results[1],
        Err(ConnectorError::not_found(
            "HubSpot answered HTTP 404: Object not found."
        ))
    );
    let create = mock.requests()[0].body_json().unwrap();
    assert_eq!(
        create["inputs"][0]["associations"],
        json!([{"to": {"id": "7"}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}])
    );
}

#[test]
fn push_fails_the_call_only_before_anything_is_written() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/batch/create")
        .reply_json(503, json!({"message": "down"}));
    let result = HubSpot::push(&conn(), "crm-contact", vec![item(None, json!({}))]);
    assert!(matches!(result, Err(ConnectorError::Transient(_))));
}

#[test]
fn find_match_reads_a_contact_by_email_and_searches_the_rest() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/objects/contacts/a%40x.com")
        .reply_json(200, json!({"id": "42", "properties": {"email": "a@x.com"}}));
    mock.on("GET", "/crm/v3/objects/contacts/").reply_json(
        404,
        json!({"status": "error", "message": "Object not found", "category": "OBJECT_NOT_FOUND"}),
    );
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .reply_json(200, json!({"total": 0, "results": []}));
    let found = HubSpot::find_match(&conn(), "crm-contact", r#"{"email": "a@x.com"}"#);
    assert_eq!(found, Ok(Some("42".to_owned())));
    let missing = HubSpot::find_match(&conn(), "crm-contact", r#"{"email_addresses": "b@x.com"}"#);
    assert_eq!(missing, Ok(None), "a 404 is no match, not an error");
    let none = HubSpot::find_match(
        &conn(),
        "crm-contact",
        r#"{"phone": "+1", "last_name": "L"}"#,
    );
    assert_eq!(none, Ok(None));
    let requests = mock.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].query_param("idProperty").as_deref(),
        Some("email")
    );
    assert!(requests[2].idempotent);
    assert_eq!(
        requests[2].body_json().unwrap()["filterGroups"],
        json!([
            {"filters": [{"propertyName": "lastname", "operator": "EQ", "value": "L"},
                         {"propertyName": "phone", "operator": "EQ", "value": "+1"}]},
            {"filters": [{"propertyName": "lastname", "operator": "EQ", "value": "L"},
                         {"propertyName": "mobilephone", "operator": "EQ", "value": "+1"}]}
        ])
    );
    assert!(matches!(
        HubSpot::find_match(&conn(), "crm-company", r#"{"title": "x"}"#),
        Err(ConnectorError::Unsupported(_))
    ));
}

#[test]
fn associate_puts_the_v4_default_association() {
    let mock = MockHttp::new();
    mock.on(
        "PUT",
        "/crm/v4/objects/contacts/1/associations/default/companies/2",
    )
    .reply_json(200, json!({"status": "COMPLETE", "results": []}));
    assert_eq!(
        HubSpot::associate(&conn(), "crm-contact", "1", "crm-company", "2"),
        Ok(())
    );
    assert!(matches!(
        HubSpot::associate(&conn(), "crm-contact", "1", "crm-contact", "2"),
        Err(ConnectorError::Unsupported(_))
    ));
}

fn modified(id: &str, at: &str) -> Value {
    json!({"id": id, "properties": {"lastmodifieddate": at}})
}

#[test]
fn incremental_pages_go_on_from_the_last_change_not_an_offset() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .once()
        .reply_json(
            200,
            json!({"total": 3, "results": [
                modified("1", "2024-06-01T00:00:00.001Z"),
                modified("2", "2024-06-01T00:00:00.002Z"),
            ], "paging": {"next": {"after": "2"}}}),
        );
    // Contact 1 changed again meanwhile, so it moved to the end: an offset of
    // 2 would now skip contact 3.
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .once()
        .reply_json(
            200,
            json!({"total": 3, "results": [
                modified("2", "2024-06-01T00:00:00.002Z"),
                modified("3", "2024-06-01T00:00:00.003Z"),
                modified("1", "2024-06-01T00:00:09.000Z"),
            ]}),
        );
    let mut req = PullRequest::new("crm-contact", 2);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    let first = HubSpot::pull(&conn(), req.clone()).unwrap();
    assert_eq!(first.records.len(), 2);
    req.cursor = first.next_cursor;
    let second = HubSpot::pull(&conn(), req).unwrap();
    let ids: Vec<&str> = second.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["3", "1"],
        "contact 2 is not repeated, contact 3 not skipped"
    );
    assert_eq!(second.next_cursor, None);
    let body = mock.requests()[1].body_json().unwrap();
    assert_eq!(body["after"], "0");
    assert_eq!(body["limit"], 3, "room for the one record left out");
    assert_eq!(
        body["filterGroups"][0]["filters"][0]["value"],
        "2024-06-01T00:00:00.002Z"
    );
}

#[test]
fn a_full_page_of_records_left_out_still_fills_the_page() {
    let mock = MockHttp::new();
    // Three contacts changed in the same millisecond; pages of two.
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .once()
        .reply_json(
            200,
            json!({"results": [
                modified("1", "2024-06-01T00:00:00.001Z"),
                modified("2", "2024-06-01T00:00:00.001Z"),
            ], "paging": {"next": {"after": "2"}}}),
        );
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .once()
        .reply_json(
            200,
            json!({"results": [
                modified("1", "2024-06-01T00:00:00.001Z"),
                modified("2", "2024-06-01T00:00:00.001Z"),
                modified("3", "2024-06-01T00:00:00.001Z"),
            ]}),
        );
    let mut req = PullRequest::new("crm-contact", 2);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    let first = HubSpot::pull(&conn(), req.clone()).unwrap();
    req.cursor = first.next_cursor;
    let second = HubSpot::pull(&conn(), req).unwrap();
    let ids: Vec<&str> = second.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["3"]);
    assert_eq!(second.next_cursor, None);
    assert_eq!(mock.requests()[1].body_json().unwrap()["limit"], 4);
}

#[test]
fn a_bulk_change_in_one_millisecond_goes_on_by_position() {
    let mock = MockHttp::new();
    let results: Vec<Value> = (1..=100)
        .map(|i| modified(&i.to_string(), "2024-06-01T00:00:00.001Z"))
        .collect();
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .reply_json(
            200,
            json!({"results": results, "paging": {"next": {"after": "100"}}}),
        );
    let mut req = PullRequest::new("crm-contact", 100);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    let first = HubSpot::pull(&conn(), req.clone()).unwrap();
    let next: SearchCursor =
        switchyard_connector_sdk::cursor::decode(first.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(
        next,
        SearchCursor {
            after: "100".to_owned(),
            since: "2024-06-01T00:00:00.001Z".to_owned(),
            seen: Vec::new(),
        }
    );
    req.cursor = first.next_cursor;
    let second = HubSpot::pull(&conn(), req).unwrap();
    let next: SearchCursor =
        switchyard_connector_sdk::cursor::decode(second.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(next.after, "200");
    let body = mock.requests()[1].body_json().unwrap();
    assert_eq!(
        (body["after"].as_str(), body["limit"].as_u64()),
        (Some("100"), Some(100))
    );
}

/// A bare `after` (an offset) from an earlier version still works; the next
/// page goes on from the last change.
#[test]
fn incremental_cursors_of_earlier_versions_still_work() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .reply_json(
            200,
            json!({"total": 20000, "results": [
            {"id": "8", "properties": {"lastmodifieddate": "2024-07-01T00:00:00.000Z"}}
        ], "paging": {"next": {"after": "9950"}}}),
        );
    let mut req = PullRequest::new("crm-contact", 100);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    req.cursor = Some("9850".to_owned());
    let page = HubSpot::pull(&conn(), req.clone()).unwrap();
    let cursor = page.next_cursor.unwrap();
    assert!(!cursor.bytes().all(|b| b.is_ascii_digit()));
    req.cursor = Some(cursor);
    HubSpot::pull(&conn(), req).unwrap();
    let requests = mock.requests();
    let second = requests[1].body_json().unwrap();
    assert_eq!(second["after"], "0");
    assert_eq!(
        second["filterGroups"][0]["filters"][0]["value"],
        "2024-07-01T00:00:00.000Z"
    );
}

#[test]
fn find_matches_reads_emails_in_one_batch_and_falls_back_key_by_key() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/batch/read")
        .reply_json(
            207,
            json!({"status": "COMPLETE", "results": [
            {"id": "11", "properties": {"email": "ann@x.com"}},
            {"id": "12", "properties": {"email": "bob@x.com"}}
        ], "errors": [{"category": "OBJECT_NOT_FOUND", "context": {"ids": ["new@x.com"]}}]}),
        );
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .reply_json(
            200,
            json!({"total": 2, "results": [
                {"id": "76", "properties": {"firstname": "Di", "lastname": "Po"}},
                {"id": "77", "properties": {"firstname": "cy", "lastname": "PO"}}
            ]}),
        );
    let items = vec![
        vec![r#"{"email_addresses": "ANN@x.com"}"#.to_owned()],
        vec![
            r#"{"email_addresses": "new@x.com"}"#.to_owned(),
            r#"{"first_name": "Cy", "last_name": "Po"}"#.to_owned(),
        ],
        vec![r#"{"email_addresses": "bob@x.com"}"#.to_owned()],
        vec![r#"{"website_url": "x"}"#.to_owned()],
    ];
    let answers = HubSpot::find_matches(&conn(), "crm-contact", items).unwrap();
    assert_eq!(
        answers[0],
        Ok(Some("11".to_owned())),
        "emails match whatever their case"
    );
    assert_eq!(
        answers[1],
        Ok(Some("77".to_owned())),
        "the next key set when the first finds nothing"
    );
    assert_eq!(answers[2], Ok(Some("12".to_owned())));
    assert!(
        matches!(answers[3], Err(ConnectorError::Unsupported(_))),
        "{:?}",
        answers[3]
    );

    let requests = mock.requests();
    assert_eq!(
        requests.len(),
        2,
        "one batch read, one search: {requests:?}"
    );
    let read = requests[0].body_json().unwrap();
    assert_eq!(read["idProperty"], "email");
    assert_eq!(read["inputs"].as_array().unwrap().len(), 3);
    assert_eq!(requests[1].rate_class.as_deref(), Some("search"));
    let search = requests[1].body_json().unwrap();
    assert_eq!(
        search["filterGroups"],
        json!([{"filters": [{"propertyName": "lastname", "operator": "IN", "values": ["Po"]}]}])
    );
}

#[test]
fn find_matches_asks_every_company_key_in_one_search() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/companies/search")
        .reply_json(
            200,
            json!({"total": 2, "results": [
                {"id": "5", "properties": {"domain": "a.example"}},
                {"id": "6", "properties": {"domain": "b.example"}}
            ]}),
        );
    let items: Vec<Vec<String>> = ["a.example", "b.example", "c.example"]
        .iter()
        .map(|d| vec![json!({ "domain": d }).to_string()])
        .collect();
    let mut items = items;
    // A company without a domain is asked by name in the same search.
    items.push(vec![json!({ "name": "Acme" }).to_string()]);
    let answers = HubSpot::find_matches(&conn(), "crm-company", items).unwrap();
    assert_eq!(
        answers,
        [
            Ok(Some("5".to_owned())),
            Ok(Some("6".to_owned())),
            Ok(None),
            Ok(None)
        ]
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let groups = &requests[0].body_json().unwrap()["filterGroups"];
    assert_eq!(
        groups,
        &json!([
            {"filters": [{"propertyName": "domain", "operator": "IN", "values": ["a.example", "b.example", "c.example"]}]},
            {"filters": [{"propertyName": "name", "operator": "IN", "values": ["Acme"]}]}
        ])
    );
}

#[test]
fn a_failed_batch_read_fails_only_the_items_it_asked_about() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/contacts/batch/read")
        .reply_json(503, json!({"status": "error", "message": "down"}));
    mock.on("POST", "/crm/v3/objects/contacts/search")
        .reply_json(200, json!({"total": 0, "results": []}));
    let items = vec![
        vec![r#"{"email_addresses": "ann@x.com"}"#.to_owned()],
        vec![r#"{"first_name": "Cy", "last_name": "Po"}"#.to_owned()],
    ];
    let answers = HubSpot::find_matches(&conn(), "crm-contact", items).unwrap();
    assert!(
        matches!(answers[0], Err(ConnectorError::Transient(_))),
        "{:?}",
        answers[0]
    );
    assert_eq!(answers[1], Ok(None));
}

// ------------------------------------------------------------ custom objects

/// A property definition as `/crm/v3/properties` and the schemas give it.
fn property(name: &str, kind: &str, extra: Value) -> Value {
    let mut p = json!({"name": name, "label": name.to_uppercase(), "type": kind,
                       "fieldType": "text", "groupName": "project_information"});
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    p
}

fn schemas() -> Value {
    json!({"results": [
        {"id": "7411001", "objectTypeId": "2-7411001", "name": "projects",
         "fullyQualifiedName": "p_projects",
         "labels": {"singular": "Project", "plural": "Projects"},
         "primaryDisplayProperty": "project_name",
         "requiredProperties": ["project_name"],
         "properties": [
            property("project_name", "string", json!({})),
            property("project_code", "string", json!({"hasUniqueValue": true})),
            property("budget", "number", json!({})),
            property("hs_object_id", "number", json!({"hubspotDefined": true,
                "modificationMetadata": {"readOnlyValue": true}})),
            property("hs_secret", "string", json!({"hidden": true}))
         ]},
        {"objectTypeId": "2-7411002", "name": "vendors", "fullyQualifiedName": "p_vendors",
         "requiredProperties": [], "properties": []}
    ]})
}

fn project(id: &str, props: Value) -> Value {
    json!({"id": id, "properties": props, "createdAt": "2024-01-01T00:00:00.000Z",
           "updatedAt": "2024-05-01T12:00:00.000Z", "archived": false})
}

#[test]
fn manifest_asks_custom_object_scopes_as_optional() {
    let AuthSpec::Oauth2(oauth) = HubSpot::describe().auth else {
        panic!("expected OAuth2");
    };
    assert_eq!(
        oauth.extra_authorize_params,
        [(
            "optional_scope".to_owned(),
            "crm.schemas.custom.read crm.objects.custom.read crm.objects.custom.write".to_owned()
        )]
    );
}

#[test]
fn objects_are_the_custom_objects_of_the_schemas() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/schemas").reply_json(200, schemas());
    let objects = HubSpot::list_objects(&conn()).unwrap();
    let listed = |name: &str, label: &str| ObjectInfo {
        name: name.into(),
        label: label.into(),
        custom: true,
        supports_pull: true,
        supports_push: true,
    };
    assert_eq!(
        objects,
        [
            listed("p_projects", "Project"),
            listed("p_vendors", "vendors")
        ],
        "named by fullyQualifiedName, labelled by the singular label, else the name"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn a_portal_without_custom_object_access_lists_no_objects() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/schemas").reply_json(
        403,
        json!({"status": "error", "category": "MISSING_SCOPES", "message": "missing scopes"}),
    );
    assert_eq!(HubSpot::list_objects(&conn()), Ok(Vec::new()));
}

#[test]
fn fields_of_an_object_come_from_its_schema_in_one_request() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/schemas").reply_json(200, schemas());
    let fields = HubSpot::list_fields(&conn(), "object:p_projects").unwrap();
    let summary = switchyard_connector_sdk::testing::field_flags(&fields);
    assert_eq!(
        summary,
        [
            ("project_name", "string", false, true, false, true, false),
            ("project_code", "string", true, false, false, true, false),
            ("budget", "number", false, false, false, true, false),
            ("hs_object_id", "number", false, false, true, false, false),
        ],
        "the hidden property is left out"
    );
    assert_eq!(fields[0].label, "PROJECT_NAME");
    // Its object type id names it too.
    let by_id = HubSpot::list_fields(&conn(), "object:2-7411001").unwrap();
    assert_eq!(by_id.len(), 4);
    assert_eq!(mock.requests().len(), 2, "one request a call");
}

#[test]
fn fields_of_an_object_without_a_schema_come_from_its_properties() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/schemas").reply_json(200, schemas());
    mock.on("GET", "/crm/v3/properties/deals").reply_json(
        200,
        json!({"results": [property("dealname", "string", json!({"hubspotDefined": true}))]}),
    );
    let fields = HubSpot::list_fields(&conn(), "object:deals").unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(
        (
            fields[0].name.as_str(),
            fields[0].required,
            fields[0].custom
        ),
        ("dealname", false, false)
    );
}

#[test]
fn common_fields_say_which_properties_are_unique() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/properties/companies").reply_json(
        200,
        json!({"results": [
            property("domain", "string", json!({"hubspotDefined": true})),
            property("vat_number", "string", json!({"hasUniqueValue": true}))
        ]}),
    );
    let fields = HubSpot::list_fields(&conn(), "crm-company").unwrap();
    let flags: Vec<(&str, bool, bool, bool)> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.mapped, f.unique, f.required))
        .collect();
    assert_eq!(
        flags,
        [
            ("domain", true, false, false),
            ("vat_number", false, true, false)
        ]
    );
    assert_eq!(mock.requests()[0].url, "/crm/v3/properties/companies");
}

#[test]
fn object_pull_lists_the_asked_properties_and_carries_only_those() {
    let mock = MockHttp::new();
    mock.on("GET", "/crm/v3/objects/p_projects").reply_json(
        200,
        json!({"results": [
            project("101", json!({"project_name": "Apollo", "project_code": "PRJ-00001",
                                  "budget": "12.5", "status": null,
                                  "hs_lastmodifieddate": "2024-05-01T12:00:00.000Z",
                                  "hs_object_id": "101"})),
            {"id": "102", "properties": {}, "archived": true}
        ], "paging": {"next": {"after": "102"}}}),
    );
    let mut req = PullRequest::new("object:p_projects", 50);
    req.passthrough_fields = vec![
        "project_name".into(),
        "project_code".into(),
        "budget".into(),
        "status".into(),
        "project_name".into(),
    ];
    req.include_remote = true;
    req.cursor = Some("100".into());
    let page = HubSpot::pull(&conn(), req).unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("102"));
    let first = &page.records[0];
    assert_eq!(first.id, "101");
    assert_eq!(
        first.data_as::<Value>().unwrap(),
        json!({"project_name": "Apollo", "project_code": "PRJ-00001", "budget": "12.5"}),
        "the asked properties only, as HubSpot sent them, nulls left out"
    );
    assert!(first.remote.is_some() && first.passthrough.is_none());
    assert!(first.associations.is_empty());
    assert!(page.records[1].deleted);
    let request = &mock.requests()[0];
    assert_eq!(request.query_param("limit").as_deref(), Some("50"));
    assert_eq!(request.query_param("after").as_deref(), Some("100"));
    assert_eq!(
        request.query_param("properties").as_deref(),
        Some("project_name,project_code,budget,status,hs_lastmodifieddate")
    );
    assert_eq!(request.query_param("associations"), None);
}

#[test]
fn incremental_object_pull_searches_the_last_modified_property() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/p_projects/search")
        .reply_json(
            200,
            json!({"total": 2, "results": [
                project("7", json!({"project_code": "PRJ-7",
                                    "hs_lastmodifieddate": "2024-06-01T00:00:00.001Z"}))
            ], "paging": {"next": {"after": "1"}}}),
        );
    let mut req = PullRequest::new("object:p_projects", 1);
    req.since = Some("2024-05-01T00:00:00Z".into());
    req.passthrough_fields = vec!["project_code".into()];
    let page = HubSpot::pull(&conn(), req).unwrap();
    assert_eq!(
        page.records[0].data_as::<Value>().unwrap(),
        json!({"project_code": "PRJ-7"})
    );
    let next: SearchCursor =
        switchyard_connector_sdk::cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(next.since, "2024-06-01T00:00:00.001Z");
    assert_eq!(next.seen, ["7"]);
    let request = &mock.requests()[0];
    assert_eq!(request.rate_class.as_deref(), Some("search"));
    assert!(request.idempotent);
    let body = request.body_json().unwrap();
    assert_eq!(
        body["filterGroups"],
        json!([{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                             "value": "2024-05-01T00:00:00Z"}]}])
    );
    assert_eq!(
        body["sorts"],
        json!([{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}])
    );
    assert_eq!(
        body["properties"],
        json!(["project_code", "hs_lastmodifieddate"])
    );
}

#[test]
fn object_subjects_refuse_bad_names_and_common_model_calls() {
    let mock = MockHttp::new();
    let mut req = PullRequest::new("object:p_projects", 10);
    req.passthrough_fields = vec!["name,hs_secret".into()];
    match HubSpot::pull(&conn(), req) {
        Err(ConnectorError::InvalidData(message)) => {
            assert!(message.contains("\"name,hs_secret\""), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match HubSpot::pull(&conn(), PullRequest::new("object:p_projects/../x", 10)) {
        Err(ConnectorError::InvalidData(message)) => {
            assert!(message.contains("p_projects/../x"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let mut linked = PullRequest::new("object:p_projects", 10);
    linked.associations = vec!["crm-company".into()];
    assert!(matches!(
        HubSpot::pull(&conn(), linked),
        Err(ConnectorError::Unsupported(_))
    ));
    match HubSpot::to_cdm("object:p_projects", "{}") {
        Err(ConnectorError::Unsupported(message)) => {
            assert!(message.contains("p_projects"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        mock.requests().is_empty(),
        "every refusal comes before a request"
    );
}

#[test]
fn object_push_sends_properties_as_text_through_the_batches() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/p_projects/batch/create")
        .reply_json(
            201,
            json!({"status": "COMPLETE", "results": [
                project("201", json!({"project_name": "Apollo", "budget": "12.5",
                                      "active": "true", "tags": "a;b", "hs_object_id": "201",
                                      "status": null}))
            ]}),
        );
    mock.on("POST", "/crm/v3/objects/p_projects/batch/update")
        .reply_json(
            200,
            json!({"status": "COMPLETE", "results": [
                project("55", json!({"project_name": "Gemini", "budget": ""}))
            ]}),
        );
    let mut linked = item(None, json!({"project_name": "Linked"}));
    linked.associations = vec![("crm-company".into(), vec!["9".into()])];
    let items = vec![
        item(
            None,
            json!({"project_name": "Apollo", "budget": 12.5, "active": true,
                   "tags": ["a", "b"], "status": null}),
        ),
        item(
            Some("55"),
            json!({"project_name": "Gemini", "budget": null}),
        ),
        item(None, json!({"project name": "x"})),
        item(None, json!({"owner": {"id": 1}})),
        linked,
    ];
    let results = HubSpot::push(&conn(), "object:p_projects", items).unwrap();
    let created = results[0].as_ref().unwrap();
    assert_eq!((created.id.as_str(), created.created), ("201", true));
    assert_eq!(
        serde_json::from_str::<Value>(&created.data).unwrap(),
        json!({"project_name": "Apollo", "budget": "12.5", "active": "true", "tags": "a;b",
               "hs_object_id": "201"}),
        "the properties HubSpot returned"
    );
    let updated = results[1].as_ref().unwrap();
    assert_eq!((updated.id.as_str(), updated.created), ("55", false));
    match &results[2] {
        Err(ConnectorError::InvalidData(message)) => {
            assert!(message.contains("\"project name\""), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match &results[3] {
        Err(ConnectorError::InvalidData(message)) => {
            assert!(message.contains("owner"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(results[4], Err(ConnectorError::Unsupported(_))));

    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "one batch create, one batch update");
    assert_eq!(
        requests[0].body_json().unwrap(),
        json!({"inputs": [{"properties": {"project_name": "Apollo", "budget": "12.5",
                                          "active": "true", "tags": "a;b"}}]}),
        "text values; nothing to clear on a create; no associations"
    );
    assert_eq!(
        requests[1].body_json().unwrap(),
        json!({"inputs": [{"id": "55", "properties": {"project_name": "Gemini", "budget": ""}}]}),
        "a null clears the property on an update"
    );
}

#[test]
fn object_push_rejected_in_the_batch_fails_item_by_item() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/p_projects/batch/create")
        .reply_json(
            400,
            json!({"status": "error", "category": "VALIDATION_ERROR", "message": "bad input"}),
        );
    mock.on("POST", "/crm/v3/objects/p_projects")
        .once()
        .reply_json(201, project("301", json!({"project_name": "Good"})));
    mock.on("POST", "/crm/v3/objects/p_projects").reply_json(
        400,
        json!({"status": "error", "category": "VALIDATION_ERROR",
               "message": "Property values were not valid: project_name is required"}),
    );
    let items = vec![
        item(None, json!({"project_name": "Good"})),
        item(None, json!({"budget": 3})),
    ];
    let results = HubSpot::push(&conn(), "object:p_projects", items).unwrap();
    assert_eq!(results[0].as_ref().map(|p| p.id.as_str()), Ok("301"));
    assert!(
        matches!(&results[1], Err(ConnectorError::InvalidData(m)) if m.contains("project_name is required")),
        "{:?}",
        results[1]
    );
}

#[test]
fn object_lookups_ask_single_property_keys_in_one_in_search() {
    let mock = MockHttp::new();
    // The batch search (IN), then the search of the two-property key (EQ).
    mock.on("POST", "/crm/v3/objects/p_projects/search")
        .once()
        .reply_json(
            200,
            json!({"total": 2, "results": [
                {"id": "11", "properties": {"project_code": "prj-00001", "budget": null}},
                {"id": "12", "properties": {"project_code": "PRJ-00002"}},
                {"id": "13", "properties": {"budget": "7"}}
            ]}),
        );
    mock.on("POST", "/crm/v3/objects/p_projects/search")
        .once()
        .reply_json(200, json!({"total": 1, "results": [{"id": "21"}]}));
    let items = vec![
        vec![json!({"project_code": "PRJ-00001"}).to_string()],
        vec![
            json!({"project_code": "PRJ-99999"}).to_string(),
            json!({"budget": 7}).to_string(),
        ],
        vec![json!({"project_code": "PRJ-00002"}).to_string()],
        vec![json!({"project_name": "Apollo", "owner": "ann"}).to_string()],
        vec![json!({"project_code": ""}).to_string()],
        vec![json!({"project code": "x"}).to_string()],
    ];
    let answers = HubSpot::find_matches(&conn(), "object:p_projects", items).unwrap();
    assert_eq!(
        answers[..5],
        [
            Ok(Some("11".to_owned())),
            Ok(Some("13".to_owned())),
            Ok(Some("12".to_owned())),
            Ok(Some("21".to_owned())),
            Ok(None),
        ]
    );
    assert!(
        matches!(&answers[5], Err(ConnectorError::InvalidData(m)) if m.contains("project code")),
        "{:?}",
        answers[5]
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].rate_class.as_deref(), Some("search"));
    let batch = requests[0].body_json().unwrap();
    assert_eq!(
        batch["filterGroups"],
        json!([
            {"filters": [{"propertyName": "budget", "operator": "IN", "values": ["7"]}]},
            {"filters": [{"propertyName": "project_code", "operator": "IN",
                          "values": ["PRJ-00001", "PRJ-00002", "PRJ-99999"]}]}
        ])
    );
    assert_eq!(batch["properties"], json!(["budget", "project_code"]));
    assert_eq!(
        requests[1].body_json().unwrap()["filterGroups"],
        json!([{"filters": [
            {"propertyName": "owner", "operator": "EQ", "value": "ann"},
            {"propertyName": "project_name", "operator": "EQ", "value": "Apollo"}
        ]}])
    );
}

#[test]
fn object_find_match_searches_every_property_with_eq() {
    let mock = MockHttp::new();
    mock.on("POST", "/crm/v3/objects/p_projects/search")
        .reply_json(200, json!({"total": 1, "results": [{"id": "31"}]}));
    assert_eq!(
        HubSpot::find_match(&conn(), "object:p_projects", r#"{"budget": 12.5}"#),
        Ok(Some("31".to_owned()))
    );
    assert_eq!(
        HubSpot::find_match(&conn(), "object:p_projects", r#"{"budget": null}"#),
        Ok(None)
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].body_json().unwrap()["filterGroups"],
        json!([{"filters": [{"propertyName": "budget", "operator": "EQ", "value": "12.5"}]}])
    );
}
