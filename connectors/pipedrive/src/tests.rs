//! Native unit tests: `cargo test --target x86_64-unknown-linux-gnu -p pipedrive`.
//! `MockHttp` answers like Pipedrive (and the local simulator) do.

use serde_json::{Value, json};
use switchyard_connector_sdk::testing::MockHttp;

use super::*;

/// A custom field key, as Pipedrive makes them (40 hexadecimal characters).
const WEBSITE_KEY: &str = "d4de1c1518b4531717c676029a45911c340390a6";

/// A connection through the api-base (relative URLs), as with API tokens.
fn conn() -> Connection {
    Connection::new("https://api.pipedrive.com", json!({}))
}

/// A connection made by OAuth: every call goes to `api_domain`.
fn oauth_conn() -> Connection {
    Connection::new(
        "https://api.pipedrive.com",
        json!({"api_domain": "https://acme.pipedrive.com"}),
    )
}

/// A Pipedrive success envelope.
fn ok(data: Value, next_cursor: Option<&str>) -> Value {
    json!({"success": true, "data": data, "additional_data": {"next_cursor": next_cursor}})
}

/// A Pipedrive error body.
fn failure(error: &str, code: u16) -> Value {
    json!({"success": false, "error": error, "errorCode": code,
           "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
           "data": null, "additional_data": null})
}

fn person(id: u64, name: &str, email: &str, org: Option<u64>) -> Value {
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    json!({
        "id": id, "name": name, "first_name": first, "last_name": last, "owner_id": 1,
        "org_id": org,
        "emails": [{"value": email, "primary": true, "label": "work"}],
        "phones": [{"value": "+1 555 0100", "primary": true, "label": "work"}],
        "visible_to": 3, "label_ids": [], "custom_fields": {},
        "add_time": "2024-01-01T00:00:00Z", "update_time": "2024-05-01T12:00:00Z",
        "is_deleted": false
    })
}

fn organization(id: u64, name: &str, website: Option<&str>) -> Value {
    let custom = match website {
        Some(site) => json!({ WEBSITE_KEY: site }),
        None => json!({}),
    };
    json!({
        "id": id, "name": name, "owner_id": 1,
        "address": {
            "value": "12 Main St, Springfield, IL 62701, US",
            "street_number": "12", "route": "Main St", "sublocality": null,
            "locality": "Springfield", "admin_area_level_1": "IL", "admin_area_level_2": null,
            "country": "US", "postal_code": "62701",
            "formatted_address": "12 Main St, Springfield, IL 62701, US"
        },
        "visible_to": 3, "label_ids": [], "custom_fields": custom,
        "add_time": "2024-01-01T00:00:00Z", "update_time": "2024-06-01T08:30:00Z",
        "is_deleted": false
    })
}

/// The account's organization fields: one of them is the website.
fn organization_fields() -> Value {
    json!({"success": true, "data": [
        {"id": 1, "key": "name", "name": "Name", "field_type": "varchar", "edit_flag": false, "active_flag": true},
        {"id": 2, "key": "address", "name": "Address", "field_type": "address", "edit_flag": false},
        {"id": 30, "key": "aaaa1c1518b4531717c676029a45911c340390a6", "name": "URL", "field_type": "varchar", "edit_flag": true},
        {"id": 31, "key": WEBSITE_KEY, "name": "Website", "field_type": "varchar", "edit_flag": true, "active_flag": true},
        {"id": 32, "key": "bbbb1c1518b4531717c676029a45911c340390a6", "name": "Website", "field_type": "enum", "edit_flag": true}
    ], "additional_data": {"pagination": {"start": 0, "limit": 500, "more_items_in_collection": false}}})
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

fn linked(mut item: PushItem, endgrate_type: &str, ids: &[&str]) -> PushItem {
    item.associations = vec![(
        endgrate_type.to_owned(),
        ids.iter().map(|id| (*id).to_owned()).collect(),
    )];
    item
}

fn parsed(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

#[test]
fn manifest_describes_pipedrive() {
    let m = Pipedrive::describe();
    assert_eq!(m.id, "pipedrive");
    assert_eq!(m.display_name, "Pipedrive");
    assert_eq!(m.category, "crm");
    assert_eq!(m.version, "0.1.0");
    assert_eq!(m.api_base, "https://api.pipedrive.com");
    assert_eq!(m.allowed_hosts, ["*.pipedrive.com"]);
    assert!(m.logo_svg.starts_with("<svg") && m.logo_svg.ends_with("</svg>"));
    let AuthSpec::Oauth2(oauth) = m.auth else {
        panic!("expected OAuth2");
    };
    assert_eq!(
        oauth.authorize_url,
        "https://oauth.pipedrive.com/oauth/authorize"
    );
    assert_eq!(oauth.token_url, "https://oauth.pipedrive.com/oauth/token");
    assert_eq!(oauth.client_auth, ClientAuth::Basic);
    assert!(!oauth.pkce);
    assert_eq!(
        m.credential_placement,
        CredentialPlacement::Authorization("Bearer".into())
    );
    let types: Vec<(&str, &str)> = m
        .integrations
        .iter()
        .map(|i| (i.endgrate_type.as_str(), i.resource.as_str()))
        .collect();
    assert_eq!(
        types,
        [("crm-contact", "persons"), ("crm-company", "organizations")]
    );
    assert!(m.integrations.iter().all(|i| i.supports_pull
        && i.supports_push
        && i.supports_associations
        && !i.is_custom_object));
    assert_eq!(m.batch_limits.max_page_size, 500);
    assert_eq!(m.batch_limits.max_push_batch, 10);
    assert_eq!((m.rate_limit.requests, m.rate_limit.window_ms), (80, 2_000));
    assert_eq!(Pipedrive::describe(), Pipedrive::describe());
}

#[test]
fn finish_auth_keeps_the_api_domain() {
    let answer = json!({"token_type": "Bearer", "expires_in": 3600, "scope": "base,contacts:full",
                        "api_domain": "https://acme.pipedrive.com/"});
    let settings = Pipedrive::finish_auth(&[], &answer.to_string()).unwrap();
    assert_eq!(
        parsed(&settings),
        json!({"api_domain": "https://acme.pipedrive.com"})
    );
    // The simulator answers with its own base URL.
    let local = json!({"api_domain": "http://127.0.0.1:4010"}).to_string();
    assert_eq!(
        parsed(&Pipedrive::finish_auth(&[], &local).unwrap()),
        json!({"api_domain": "http://127.0.0.1:4010"})
    );
    let bare = json!({"api_domain": "acme.pipedrive.com"}).to_string();
    assert_eq!(
        parsed(&Pipedrive::finish_auth(&[], &bare).unwrap()),
        json!({"api_domain": "https://acme.pipedrive.com"})
    );
    assert_eq!(
        Pipedrive::finish_auth(&[], r#"{"expires_in": 3600}"#).unwrap(),
        "{}"
    );
    assert_eq!(Pipedrive::finish_auth(&[], "").unwrap(), "{}");
    assert!(matches!(
        Pipedrive::finish_auth(&[], r#"{"api_domain": "not a host/at all"}"#),
        Err(ConnectorError::Fatal(_))
    ));
    match Pipedrive::finish_auth(&[], "{nope") {
        Err(ConnectorError::Fatal(message)) => {
            assert!(message.starts_with("Pipedrive returned malformed JSON: "))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn requests_go_to_api_domain_else_to_the_api_base() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/users/me")
        .reply_json(200, ok(json!({"id": 1, "name": "Sandbox User"}), None));
    Pipedrive::check(&oauth_conn()).unwrap();
    Pipedrive::check(&conn()).unwrap();
    let trailing = Connection::new(
        "https://api.pipedrive.com",
        json!({"api_domain": "https://acme.pipedrive.com/", "other": 1}),
    );
    Pipedrive::check(&trailing).unwrap();
    let empty = Connection::new("https://api.pipedrive.com", json!({"api_domain": ""}));
    Pipedrive::check(&empty).unwrap();
    let urls: Vec<String> = mock.requests().into_iter().map(|r| r.url).collect();
    assert_eq!(
        urls,
        [
            "https://acme.pipedrive.com/api/v1/users/me",
            "/api/v1/users/me",
            "https://acme.pipedrive.com/api/v1/users/me",
            "/api/v1/users/me",
        ]
    );
    let bad = Connection::new("https://api.pipedrive.com", json!({"api_domain": 7}));
    assert!(matches!(
        Pipedrive::check(&bad),
        Err(ConnectorError::Fatal(_))
    ));
}

#[test]
fn check_surfaces_a_rejected_token_as_unauthorized() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/users/me")
        .reply_json(401, failure("unauthorized access", 401));
    assert_eq!(
        Pipedrive::check(&oauth_conn()),
        Err(ConnectorError::unauthorized(
            "Pipedrive answered HTTP 401: unauthorized access"
        ))
    );
}

#[test]
fn full_pull_follows_the_cursor_and_maps_persons() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons").once().reply_json(
        200,
        ok(
            json!([{
                "id": 1, "name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace",
                "org_id": 7,
                "emails": [{"value": "", "primary": false, "label": "work"},
                           {"value": "ada@home.example", "primary": false, "label": "home"},
                           {"value": "ada@engines.example", "primary": true, "label": "work"}],
                "phones": [{"value": "+44 20 7946 0000", "primary": true, "label": "work"},
                           {"value": "+44 7700 900000", "primary": false, "label": "mobile"},
                           {"value": "+44 20 0000 0000", "primary": false, "label": "home"},
                           {"value": "+44 1", "primary": false, "label": "fax"}],
                "custom_fields": {}, "update_time": "2024-05-01T12:00:00Z", "is_deleted": false
            }]),
            Some("eyJpZCI6MX0"),
        ),
    );
    mock.on("GET", "/api/v2/persons").reply_json(
        200,
        ok(
            json!([person(2, "Grace Hopper", "grace@navy.example", None)]),
            None,
        ),
    );
    let mut req = PullRequest::new("crm-contact", 1000);
    req.associations = vec!["crm-company".to_owned()];
    let first = Pipedrive::pull(&oauth_conn(), req.clone()).unwrap();
    assert_eq!(first.next_cursor.as_deref(), Some("eyJpZCI6MX0"));
    assert_eq!(first.records[0].id, "1");
    assert!(!first.records[0].deleted);
    assert_eq!(
        first.records[0].data_as::<Value>().unwrap(),
        json!({
            "first_name": "Ada", "last_name": "Lovelace",
            "email_addresses": [
                {"email_address": "ada@engines.example", "email_address_type": "WORK"},
                {"email_address": "ada@home.example", "email_address_type": "PERSONAL"}
            ],
            "phone_numbers": [
                {"phone_number": "+44 20 7946 0000", "phone_number_type": "WORK"},
                {"phone_number": "+44 7700 900000", "phone_number_type": "MOBILE"},
                {"phone_number": "+44 20 0000 0000", "phone_number_type": "HOME"},
                {"phone_number": "+44 1", "phone_number_type": "OTHER"}
            ],
            "updated_at": "2024-05-01T12:00:00Z"
        })
    );
    assert_eq!(
        first.records[0].associations,
        [("crm-company".to_owned(), vec!["7".to_owned()])]
    );
    req.cursor = first.next_cursor;
    let last = Pipedrive::pull(&oauth_conn(), req).unwrap();
    assert_eq!(last.next_cursor, None);
    assert_eq!(
        last.records[0].associations,
        [("crm-company".to_owned(), Vec::<String>::new())]
    );
    let requests = mock.requests();
    assert_eq!(
        requests[0].url,
        "https://acme.pipedrive.com/api/v2/persons?limit=500"
    );
    assert_eq!(
        requests[1].url,
        "https://acme.pipedrive.com/api/v2/persons?limit=500&cursor=eyJpZCI6MX0"
    );
}

#[test]
fn an_absent_next_cursor_ends_the_pull() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons")
        .reply_json(200, json!({"success": true, "data": null}));
    let page = Pipedrive::pull(&conn(), PullRequest::new("crm-contact", 0)).unwrap();
    assert!(page.records.is_empty());
    assert_eq!(page.next_cursor, None);
    // A page size of 0 still asks for one record.
    assert_eq!(mock.requests()[0].url, "/api/v2/persons?limit=1");
}

#[test]
fn incremental_pull_asks_for_updated_since_in_update_order() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons").reply_json(
        200,
        ok(
            json!([person(50, "Alan Turing", "alan@x.example", Some(3)),
                   {"id": 51, "name": "Gone", "is_deleted": true}]),
            Some("next"),
        ),
    );
    let mut req = PullRequest::new("crm-contact", 100);
    req.since = Some("2024-05-01T00:00:00Z".to_owned());
    req.cursor = Some("abc".to_owned());
    let page = Pipedrive::pull(&conn(), req).unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("next"));
    assert_eq!(page.records[0].id, "50");
    assert!(page.records[0].associations.is_empty());
    assert!(page.records[1].deleted);
    assert_eq!(page.records[1].id, "51");
    let sent = &mock.requests()[0];
    assert_eq!(sent.path(), "/api/v2/persons");
    assert_eq!(sent.query_param("limit").as_deref(), Some("100"));
    assert_eq!(
        sent.query_param("updated_since").as_deref(),
        Some("2024-05-01T00:00:00Z")
    );
    assert_eq!(sent.query_param("sort_by").as_deref(), Some("update_time"));
    assert_eq!(sent.query_param("sort_direction").as_deref(), Some("asc"));
    assert_eq!(sent.query_param("cursor").as_deref(), Some("abc"));
}

#[test]
fn organizations_read_the_website_from_its_custom_field() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields")
        .reply_json(200, organization_fields());
    mock.on("GET", "/api/v2/organizations").reply_json(
        200,
        ok(
            json!([
                organization(5, "Acme Corp", Some("https://www.acme.example/about")),
                {"id": 6, "name": "Bare", "address": {"value": "Somewhere 1, Tallinn"},
                 "custom_fields": {WEBSITE_KEY: {"value": "bare.example"}},
                 "update_time": "2024-06-02T00:00:00Z"},
                {"id": 8, "name": "Nothing", "address": null, "custom_fields": {WEBSITE_KEY: null}}
            ]),
            None,
        ),
    );
    let page = Pipedrive::pull(&oauth_conn(), PullRequest::new("crm-company", 50)).unwrap();
    let data: Vec<Value> = page
        .records
        .iter()
        .map(|r| r.data_as::<Value>().unwrap())
        .collect();
    assert_eq!(
        data[0],
        json!({
            "name": "Acme Corp",
            "website": "https://www.acme.example/about",
            "domain": "acme.example",
            "addresses": [{"address_type": "PRIMARY", "street_1": "12 Main St",
                           "city": "Springfield", "state": "IL", "postal_code": "62701",
                           "country": "US"}],
            "updated_at": "2024-06-01T08:30:00Z"
        })
    );
    assert_eq!(
        data[1],
        json!({
            "name": "Bare", "website": "bare.example", "domain": "bare.example",
            "addresses": [{"address_type": "PRIMARY", "street_1": "Somewhere 1, Tallinn"}],
            "updated_at": "2024-06-02T00:00:00Z"
        })
    );
    assert_eq!(data[2], json!({"name": "Nothing"}));
    let requests = mock.requests();
    assert_eq!(
        requests[0].url,
        "https://acme.pipedrive.com/api/v1/organizationFields?start=0&limit=500"
    );
    assert_eq!(
        requests[1].url,
        "https://acme.pipedrive.com/api/v2/organizations?limit=50"
    );
}

#[test]
fn the_website_field_comes_from_settings_or_a_paged_field_list() {
    // A setting names the field: no lookup.
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/organizations").reply_json(
        200,
        ok(json!([organization(5, "Acme", Some("acme.example"))]), None),
    );
    let configured = Connection::new(
        "https://api.pipedrive.com",
        json!({"website_field_key": WEBSITE_KEY}),
    );
    let page = Pipedrive::pull(&configured, PullRequest::new("crm-company", 10)).unwrap();
    assert_eq!(
        page.records[0].data_as::<Value>().unwrap()["website"],
        "acme.example"
    );
    assert_eq!(mock.requests().len(), 1);
    drop(mock);

    // Found on the second page of fields.
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields").once().reply_json(
        200,
        json!({"success": true, "data": [{"key": "name", "name": "Name", "field_type": "varchar"}],
               "additional_data": {"pagination": {"start": 0, "limit": 500,
                                                  "more_items_in_collection": true, "next_start": 500}}}),
    );
    mock.on("GET", "/api/v1/organizationFields")
        .once()
        .reply_json(200, organization_fields());
    mock.on("GET", "/api/v2/organizations").reply_json(
        200,
        ok(json!([organization(5, "Acme", Some("acme.example"))]), None),
    );
    let page = Pipedrive::pull(&conn(), PullRequest::new("crm-company", 10)).unwrap();
    assert_eq!(
        page.records[0].data_as::<Value>().unwrap()["domain"],
        "acme.example"
    );
    assert_eq!(
        mock.requests()[1].query_param("start").as_deref(),
        Some("500")
    );
    drop(mock);

    // No such endpoint, or no right to read it: no website,
    // the pull goes on.
    for (status, body) in [
        (404, String::new()),
        (403, failure("Scope and URL mismatch", 403).to_string()),
    ] {
        let mock = MockHttp::new();
        mock.on("GET", "/api/v1/organizationFields")
            .reply(status, body);
        mock.on("GET", "/api/v2/organizations").reply_json(
            200,
            ok(json!([organization(5, "Acme", Some("acme.example"))]), None),
        );
        let page = Pipedrive::pull(&conn(), PullRequest::new("crm-company", 10)).unwrap();
        let data = page.records[0].data_as::<Value>().unwrap();
        assert_eq!(data.get("website"), None);
        assert_eq!(data["name"], "Acme");
        assert!(
            mock.logs()
                .iter()
                .any(|(_, line)| line.contains("no website field"))
        );
    }
}

#[test]
fn organizations_carry_their_persons_when_asked() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields")
        .reply_json(200, organization_fields());
    mock.on("GET", "/api/v2/organizations").reply_json(
        200,
        ok(
            json!([
                organization(5, "Acme", None),
                organization(6, "Empty", None)
            ]),
            Some("orgs-2"),
        ),
    );
    mock.on("GET", "/api/v2/persons?org_id=5&limit=500&cursor=p2")
        .reply_json(
            200,
            ok(json!([person(12, "C D", "c@x.example", Some(5))]), None),
        );
    mock.on("GET", "/api/v2/persons?org_id=5").reply_json(
        200,
        ok(
            json!([
                person(10, "A B", "a@x.example", Some(5)),
                person(11, "B C", "b@x.example", Some(5))
            ]),
            Some("p2"),
        ),
    );
    mock.on("GET", "/api/v2/persons?org_id=6")
        .reply_json(200, ok(json!([]), None));
    let mut req = PullRequest::new("crm-company", 500);
    req.associations = vec!["crm-contact".to_owned()];
    let page = Pipedrive::pull(&conn(), req).unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("orgs-2"));
    assert_eq!(
        page.records[0].associations,
        [(
            "crm-contact".to_owned(),
            vec!["10".to_owned(), "11".to_owned(), "12".to_owned()]
        )]
    );
    assert_eq!(
        page.records[1].associations,
        [("crm-contact".to_owned(), Vec::<String>::new())]
    );
    // Each organization costs a request: the page is kept small.
    assert_eq!(mock.requests()[1].url, "/api/v2/organizations?limit=20");
}

#[test]
fn to_cdm_maps_raw_records_and_api_answers() {
    let raw = json!({"id": 3, "name": "Plato", "emails": [], "phones": [
        {"value": "123", "primary": false}]});
    assert_eq!(
        parsed(&Pipedrive::to_cdm("crm-contact", &raw.to_string()).unwrap()),
        json!({"first_name": "Plato",
               "phone_numbers": [{"phone_number": "123", "phone_number_type": "WORK"}]})
    );
    // `name` is what writes set: parts that disagree with it give way.
    for (raw, first, last) in [
        (
            json!({"id": 9, "name": "Ada King", "first_name": "Ada", "last_name": "Lovelace"}),
            "Ada",
            "King",
        ),
        (
            json!({"id": 9, "name": "Mary Ann  Smith", "first_name": "Mary Ann", "last_name": "Smith"}),
            "Mary Ann",
            "Smith",
        ),
        (
            json!({"id": 9, "name": "Jean Luc Picard"}),
            "Jean",
            "Luc Picard",
        ),
    ] {
        let cdm = parsed(&Pipedrive::to_cdm("crm-contact", &raw.to_string()).unwrap());
        assert_eq!(
            (cdm["first_name"].as_str(), cdm["last_name"].as_str()),
            (Some(first), Some(last))
        );
    }
    let answer = ok(person(4, "Ada Lovelace", "ada@x.example", Some(1)), None);
    assert_eq!(
        parsed(&Pipedrive::to_cdm("crm-contact", &answer.to_string()).unwrap())["last_name"],
        "Lovelace"
    );
    // Pure: the account's website field is unknown, a top-level one is read.
    let org = organization(5, "Acme", Some("https://acme.example"));
    let cdm = parsed(&Pipedrive::to_cdm("crm-company", &org.to_string()).unwrap());
    assert_eq!(cdm.get("website"), None);
    assert_eq!(cdm["addresses"][0]["city"], "Springfield");
    let standard = json!({"id": 5, "name": "Acme", "website": "http://www.acme.example:8080/x"});
    assert_eq!(
        parsed(&Pipedrive::to_cdm("crm-company", &standard.to_string()).unwrap()),
        json!({"name": "Acme", "website": "http://www.acme.example:8080/x", "domain": "acme.example"})
    );
    assert!(matches!(
        Pipedrive::to_cdm("crm-contact", "not json"),
        Err(ConnectorError::InvalidData(_))
    ));
    assert!(matches!(
        Pipedrive::to_cdm("crm-deal", "{}"),
        Err(ConnectorError::Unsupported(_))
    ));
}

#[test]
fn from_cdm_maps_contacts_field_by_field() {
    let contact = json!({
        "first_name": "Ada", "last_name": "Lovelace", "title": "Analyst",
        "email_addresses": [
            {"email_address": "ada@engines.example", "email_address_type": "WORK"},
            {"email_address": "", "email_address_type": "OTHER"},
            {"email_address": "ada@home.example", "email_address_type": "PERSONAL"},
            {"email_address": "ada@else.example"}
        ],
        "phone_numbers": [
            {"phone_number": "+1 555 0101", "phone_number_type": "MOBILE"},
            {"phone_number": "+1 555 0100", "phone_number_type": "WORK"},
            {"phone_number": "+1 555 0102", "phone_number_type": "HOME"},
            {"phone_number": "+1 555 0103", "phone_number_type": "OTHER"}
        ]
    });
    assert_eq!(
        parsed(&Pipedrive::from_cdm("crm-contact", &contact.to_string()).unwrap()),
        json!({
            "name": "Ada Lovelace",
            "emails": [
                {"value": "ada@engines.example", "primary": true, "label": "work"},
                {"value": "ada@home.example", "primary": false, "label": "home"},
                {"value": "ada@else.example", "primary": false}
            ],
            "phones": [
                {"value": "+1 555 0101", "primary": true, "label": "mobile"},
                {"value": "+1 555 0100", "primary": false, "label": "work"},
                {"value": "+1 555 0102", "primary": false, "label": "home"},
                {"value": "+1 555 0103", "primary": false, "label": "other"}
            ]
        })
    );
    // null clears a list; one name part alone is the whole name.
    assert_eq!(
        parsed(
            &Pipedrive::from_cdm(
                "crm-contact",
                r#"{"last_name": "Hopper", "email_addresses": null}"#
            )
            .unwrap()
        ),
        json!({"name": "Hopper", "emails": []})
    );
    for bad in [
        r#"{"first_name": ["a"]}"#,
        r#"{"email_addresses": "a@b.c"}"#,
        r#"{"phone_numbers": [3]}"#,
        r#"[1]"#,
    ] {
        assert!(
            matches!(
                Pipedrive::from_cdm("crm-contact", bad),
                Err(ConnectorError::InvalidData(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn from_cdm_maps_companies_field_by_field() {
    let company = json!({
        "name": "Acme Corp", "website": "https://acme.example", "industry": "Tools",
        "addresses": [
            {"address_type": "BILLING", "street_1": "PO Box 1", "city": "Elsewhere"},
            {"address_type": "PRIMARY", "street_1": "12 Main St", "street_2": "Suite 3",
             "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"}
        ]
    });
    let address = json!({
        "value": "12 Main St, Suite 3, Springfield, IL 62701, US",
        "route": "12 Main St", "subpremise": "Suite 3", "locality": "Springfield",
        "admin_area_level_1": "IL", "postal_code": "62701", "country": "US"
    });
    // Pure: no website field is known, so no website is written.
    assert_eq!(
        parsed(&Pipedrive::from_cdm("crm-company", &company.to_string()).unwrap()),
        json!({"name": "Acme Corp", "address": address})
    );
    // With the account's field: the custom field carries it.
    let field = WebsiteField::Custom(WEBSITE_KEY.to_owned());
    let (body, dropped) = mapping::organization_from_cdm(&company, Some(&field)).unwrap();
    assert!(!dropped);
    assert_eq!(
        Value::Object(body),
        json!({"name": "Acme Corp", "custom_fields": {WEBSITE_KEY: "https://acme.example"},
               "address": address})
    );
    // `domain` fills the website when there is none.
    let (body, _) =
        mapping::organization_from_cdm(&json!({"domain": "acme.example"}), Some(&field)).unwrap();
    assert_eq!(
        Value::Object(body),
        json!({"custom_fields": {WEBSITE_KEY: "https://acme.example"}})
    );
    let standard = WebsiteField::from_key("website");
    let (body, _) = mapping::organization_from_cdm(
        &json!({"website": "x.example", "addresses": null}),
        Some(&standard),
    )
    .unwrap();
    assert_eq!(
        Value::Object(body),
        json!({"website": "x.example", "address": null})
    );
    let (_, dropped) =
        mapping::organization_from_cdm(&json!({"website": "x.example"}), None).unwrap();
    assert!(dropped);
    assert!(matches!(
        Pipedrive::from_cdm("crm-company", r#"{"addresses": ["12 Main St"]}"#),
        Err(ConnectorError::InvalidData(_))
    ));
}

#[test]
fn mapping_round_trips_through_the_website_field() {
    let field = WebsiteField::Custom(WEBSITE_KEY.to_owned());
    let raw = organization(5, "Acme Corp", Some("https://acme.example"));
    let cdm = mapping::to_cdm(Kind::Organizations, &raw, Some(&field));
    let (body, _) = mapping::organization_from_cdm(&cdm, Some(&field)).unwrap();
    assert_eq!(body["name"], "Acme Corp");
    assert_eq!(body["custom_fields"][WEBSITE_KEY], "https://acme.example");
    assert_eq!(body["address"]["locality"], "Springfield");
    assert_eq!(body["address"]["route"], "12 Main St");
    let back = mapping::to_cdm(
        Kind::Organizations,
        &json!({"id": 5, "name": body["name"], "address": body["address"],
                "custom_fields": body["custom_fields"], "update_time": "2024-06-01T08:30:00Z"}),
        Some(&field),
    );
    assert_eq!(back, cdm);
}

#[test]
fn push_creates_and_updates_and_fails_items_alone() {
    let mock = MockHttp::new();
    mock.on("POST", "/api/v2/persons").once().reply_json(
        200,
        ok(person(101, "Ada Lovelace", "ada@x.example", Some(7)), None),
    );
    mock.on("POST", "/api/v2/persons").once().reply_json(
        400,
        failure("Validation failed: name: Parameter 'name' is required", 400),
    );
    mock.on("PATCH", "/api/v2/persons/55").reply_json(
        200,
        ok(person(55, "Grace Hopper", "grace@x.example", None), None),
    );
    let items = vec![
        linked(
            item(
                None,
                json!({"first_name": "Ada", "last_name": "Lovelace",
                       "email_addresses": [{"email_address": "ada@x.example", "email_address_type": "WORK"}],
                       "phone_numbers": []}),
            ),
            "crm-company",
            &["7"],
        ),
        item(
            None,
            json!({"email_addresses": [{"email_address": "nameless@x.example"}]}),
        ),
        item(
            Some("55"),
            json!({"first_name": "Grace", "last_name": "Hopper", "phone_numbers": null}),
        ),
    ];
    let results = Pipedrive::push(&oauth_conn(), "crm-contact", items).unwrap();
    assert_eq!(results.len(), 3);
    let created = results[0].as_ref().unwrap();
    assert_eq!((created.id.as_str(), created.created), ("101", true));
    assert_eq!(
        parsed(&created.data),
        json!({"first_name": "Ada", "last_name": "Lovelace",
               "email_addresses": [{"email_address": "ada@x.example", "email_address_type": "WORK"}],
               "phone_numbers": [{"phone_number": "+1 555 0100", "phone_number_type": "WORK"}],
               "updated_at": "2024-05-01T12:00:00Z"})
    );
    assert_eq!(
        results[1],
        Err(ConnectorError::invalid_data(
            "Pipedrive answered HTTP 400: Validation failed: name: Parameter 'name' is required"
        ))
    );
    let updated = results[2].as_ref().unwrap();
    assert_eq!((updated.id.as_str(), updated.created), ("55", false));

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].url, "https://acme.pipedrive.com/api/v2/persons");
    // Empty values mean nothing on a create; the association sets org_id.
    assert_eq!(
        requests[0].body_json().unwrap(),
        json!({"name": "Ada Lovelace", "org_id": 7,
               "emails": [{"value": "ada@x.example", "primary": true, "label": "work"}]})
    );
    assert_eq!(
        requests[1].body_json().unwrap(),
        json!({"emails": [{"value": "nameless@x.example", "primary": true}]})
    );
    assert_eq!(requests[2].method, "PATCH");
    assert!(!requests[2].idempotent);
    // On an update, null clears.
    assert_eq!(
        requests[2].body_json().unwrap(),
        json!({"name": "Grace Hopper", "phones": []})
    );
}

#[test]
fn updating_one_name_part_reads_the_other() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons/9").reply_json(
        200,
        ok(person(9, "Ada Lovelace", "ada@x.example", None), None),
    );
    mock.on("PATCH", "/api/v2/persons/9")
        .reply_json(200, ok(person(9, "Ada King", "ada@x.example", None), None));
    let results = Pipedrive::push(
        &conn(),
        "crm-contact",
        vec![item(Some("9"), json!({"last_name": "King"}))],
    )
    .unwrap();
    assert_eq!(results[0].as_ref().map(|p| p.id.as_str()), Ok("9"));
    let requests = mock.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[1].body_json().unwrap(),
        json!({"name": "Ada King"})
    );
}

#[test]
fn push_stops_sending_after_an_unauthorized_answer() {
    let mock = MockHttp::new();
    mock.on("POST", "/api/v2/persons")
        .once()
        .reply_json(200, ok(person(1, "A B", "a@x.example", None), None));
    mock.on("POST", "/api/v2/persons")
        .reply_json(401, failure("unauthorized access", 401));
    let items = (0..4)
        .map(|i| item(None, json!({"first_name": format!("P{i}")})))
        .collect();
    let results = Pipedrive::push(&conn(), "crm-contact", items).unwrap();
    assert!(results[0].is_ok());
    let denied = Err(ConnectorError::unauthorized(
        "Pipedrive answered HTTP 401: unauthorized access",
    ));
    assert_eq!(results[1..], [denied.clone(), denied.clone(), denied]);
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn push_rejects_bad_items_without_sending_them() {
    let mock = MockHttp::new();
    let items = vec![
        linked(
            item(None, json!({"first_name": "A"})),
            "crm-company",
            &["acme"],
        ),
        item(None, json!("not an object")),
        item(Some("1"), json!({"first_name": {"x": 1}})),
    ];
    let results = Pipedrive::push(&conn(), "crm-contact", items).unwrap();
    assert_eq!(
        results[0],
        Err(ConnectorError::invalid_data(
            "Pipedrive organization ids are numbers, not \"acme\""
        ))
    );
    assert!(matches!(results[1], Err(ConnectorError::InvalidData(_))));
    assert!(matches!(results[2], Err(ConnectorError::InvalidData(_))));
    assert!(mock.requests().is_empty());
    assert_eq!(
        Pipedrive::push(&conn(), "crm-contact", Vec::new()),
        Ok(Vec::new())
    );
}

#[test]
fn push_writes_organizations_with_their_website_and_persons() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields")
        .reply_json(200, organization_fields());
    mock.on("POST", "/api/v2/organizations").reply_json(
        200,
        ok(
            organization(40, "Acme Corp", Some("https://acme.example")),
            None,
        ),
    );
    mock.on("PATCH", "/api/v2/persons/12")
        .reply_json(200, ok(person(12, "A B", "a@x.example", Some(40)), None));
    mock.on("PATCH", "/api/v2/persons/13")
        .reply_json(404, failure("Person not found", 404));
    let items = vec![
        linked(
            item(
                None,
                json!({"name": "Acme Corp", "website": "https://acme.example"}),
            ),
            "crm-contact",
            &["12"],
        ),
        linked(
            item(
                None,
                json!({"name": "Acme Corp", "website": "https://acme.example"}),
            ),
            "crm-contact",
            &["13"],
        ),
    ];
    let results = Pipedrive::push(&conn(), "crm-company", items).unwrap();
    let written = results[0].as_ref().unwrap();
    assert_eq!((written.id.as_str(), written.created), ("40", true));
    assert_eq!(parsed(&written.data)["website"], "https://acme.example");
    assert_eq!(parsed(&written.data)["domain"], "acme.example");
    assert_eq!(
        results[1],
        Err(ConnectorError::not_found(
            "organization 40 was written, but linking person 13 failed: \
             Pipedrive answered HTTP 404: Person not found"
        ))
    );
    let requests = mock.requests();
    // One field lookup for the whole call.
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path() == "/api/v1/organizationFields")
            .count(),
        1
    );
    assert_eq!(
        requests[1].body_json().unwrap(),
        json!({"name": "Acme Corp", "custom_fields": {WEBSITE_KEY: "https://acme.example"}})
    );
    assert_eq!(requests[2].body_json().unwrap(), json!({"org_id": 40}));
}

#[test]
fn organization_items_with_bad_person_ids_are_not_written() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields")
        .reply_json(200, organization_fields());
    let items = vec![linked(
        item(None, json!({"name": "Acme"})),
        "crm-contact",
        &["12", "ada"],
    )];
    let results = Pipedrive::push(&conn(), "crm-company", items).unwrap();
    assert_eq!(
        results[0],
        Err(ConnectorError::invalid_data(
            "Pipedrive person ids are numbers, not \"ada\""
        ))
    );
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn a_failed_field_lookup_fails_the_push_before_anything_is_written() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields")
        .reply_json(503, failure("Service unavailable", 503));
    let result = Pipedrive::push(
        &conn(),
        "crm-company",
        vec![item(None, json!({"name": "Acme"}))],
    );
    assert_eq!(
        result,
        Err(ConnectorError::transient(
            "Pipedrive answered HTTP 503: Service unavailable"
        ))
    );
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn associate_sets_the_persons_org_id() {
    let mock = MockHttp::new();
    mock.on("PATCH", "/api/v2/persons/3")
        .reply_json(200, ok(person(3, "A B", "a@x.example", Some(9)), None));
    assert_eq!(
        Pipedrive::associate(&oauth_conn(), "crm-contact", "3", "crm-company", "9"),
        Ok(())
    );
    assert_eq!(
        Pipedrive::associate(&oauth_conn(), "crm-company", "9", "crm-contact", "3"),
        Ok(())
    );
    let requests = mock.requests();
    assert_eq!(
        requests[0].url,
        "https://acme.pipedrive.com/api/v2/persons/3"
    );
    assert_eq!(requests[0].body_json().unwrap(), json!({"org_id": 9}));
    assert_eq!(requests[1].body_json().unwrap(), json!({"org_id": 9}));
    assert!(matches!(
        Pipedrive::associate(&conn(), "crm-contact", "3", "crm-contact", "4"),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        Pipedrive::associate(&conn(), "crm-contact", "3", "crm-company", "x"),
        Err(ConnectorError::InvalidData(_))
    ));
    assert_eq!(mock.requests().len(), 2);
}

/// A search answer, as `/api/v2/{kind}/search` gives it.
fn hits(items: Value) -> Value {
    let items: Vec<Value> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| json!({"result_score": 1.0, "item": item}))
        .collect();
    ok(json!({ "items": items }), None)
}

#[test]
fn find_match_searches_persons_by_email_and_checks_the_hits() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons/search?term=ada%40x.example")
        .reply_json(
            200,
            hits(json!([
                {"id": 8, "type": "person", "name": "Someone Else", "emails": ["other@x.example"], "phones": []},
                {"id": 9, "type": "person", "name": "Ada Lovelace", "emails": ["ADA@x.example"],
                 "phones": ["+1 (555) 0100"], "organization": {"id": 2}}
            ])),
        );
    mock.on("GET", "/api/v2/persons/search")
        .reply_json(200, hits(json!([])));
    // A plain string, and the common model's list shape.
    for keys in [
        json!({"email_addresses": "ada@x.example"}),
        json!({"email_addresses": [{"email_address": "ada@x.example", "email_address_type": "WORK"}],
               "last_name": "Lovelace", "phone_numbers": "+15550100"}),
    ] {
        assert_eq!(
            Pipedrive::find_match(&conn(), "crm-contact", &keys.to_string()),
            Ok(Some("9".to_owned()))
        );
    }
    // The hit's name does not fit.
    assert_eq!(
        Pipedrive::find_match(
            &conn(),
            "crm-contact",
            r#"{"email": "ada@x.example", "first_name": "Grace"}"#
        ),
        Ok(None)
    );
    // Through the api_domain; nothing found.
    assert_eq!(
        Pipedrive::find_match(
            &oauth_conn(),
            "crm-contact",
            r#"{"email_addresses": "nobody@x.example"}"#
        ),
        Ok(None)
    );
    let requests = mock.requests();
    assert!(
        requests[3].url.starts_with(
            "https://acme.pipedrive.com/api/v2/persons/search?term=nobody%40x.example&"
        )
    );
    let sent = &requests[0];
    assert_eq!(sent.query_param("term").as_deref(), Some("ada@x.example"));
    assert_eq!(sent.query_param("fields").as_deref(), Some("email"));
    assert_eq!(sent.query_param("exact_match").as_deref(), Some("true"));
}

#[test]
fn find_match_by_phone_and_by_name() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons/search?term=%2B1%20555%200100")
        .reply_json(
            200,
            hits(json!([{"id": 4, "name": "Al B", "emails": [], "phones": ["+1 555 0100"]}])),
        );
    mock.on("GET", "/api/v2/persons/search?term=Grace%20Hopper")
        .reply_json(
            200,
            hits(json!([{"id": 5, "name": "grace  hopper", "emails": [], "phones": []}])),
        );
    mock.on("GET", "/api/v2/persons/search?term=Hopper")
        .reply_json(
            200,
            hits(json!([{"id": 6, "name": "Hopperton Smith"}, {"id": 7, "name": "Grace Hopper"}])),
        );
    let find = |keys: Value| Pipedrive::find_match(&conn(), "crm-contact", &keys.to_string());
    assert_eq!(
        find(
            json!({"phone_numbers": [{"phone_number": "+1 555 0100", "phone_number_type": "WORK"}]})
        ),
        Ok(Some("4".to_owned()))
    );
    assert_eq!(
        find(json!({"first_name": "Grace", "last_name": "Hopper"})),
        Ok(Some("5".to_owned()))
    );
    assert_eq!(
        find(json!({"last_name": "Hopper"})),
        Ok(Some("7".to_owned()))
    );
    let requests = mock.requests();
    assert_eq!(requests[0].query_param("fields").as_deref(), Some("phone"));
    assert_eq!(requests[1].query_param("fields").as_deref(), Some("name"));
    assert_eq!(
        requests[1].query_param("exact_match").as_deref(),
        Some("true")
    );
    // One name part: a partial search, checked afterwards.
    assert_eq!(
        requests[2].query_param("exact_match").as_deref(),
        Some("false")
    );
    // Keys it cannot match on, and empty keys.
    assert!(matches!(
        find(json!({"title": "CEO"})),
        Err(ConnectorError::Unsupported(_))
    ));
    assert_eq!(find(json!({"email_addresses": []})), Ok(None));
    assert_eq!(find(json!({})), Ok(None));
    assert_eq!(mock.requests().len(), 3);
}

#[test]
fn find_match_companies_by_name_and_by_domain() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/organizations/search?term=Acme%20Corp")
        .reply_json(
            200,
            hits(
                json!([{"id": 3, "type": "organization", "name": "Acme Corporation"},
                        {"id": 4, "type": "organization", "name": "ACME corp"}]),
            ),
        );
    mock.on("GET", "/api/v1/organizationFields")
        .reply_json(200, organization_fields());
    mock.on("GET", "/api/v2/organizations/search?term=acme.example")
        .reply_json(
            200,
            hits(json!([{"id": 20, "name": "Acme Fan Club"}, {"id": 21, "name": "Acme Corp"}])),
        );
    mock.on("GET", "/api/v2/organizations?ids=").reply_json(
        200,
        ok(
            json!([
                organization(21, "Acme Corp", Some("https://www.acme.example/")),
                organization(
                    20,
                    "Acme Fan Club",
                    Some("https://acme.example.fans.example")
                )
            ]),
            None,
        ),
    );
    let find = |keys: Value| Pipedrive::find_match(&conn(), "crm-company", &keys.to_string());
    assert_eq!(find(json!({"name": "Acme Corp"})), Ok(Some("4".to_owned())));
    assert_eq!(
        find(json!({"domain": "acme.example"})),
        Ok(Some("21".to_owned()))
    );
    assert_eq!(
        find(json!({"website": "http://acme.example/contact", "name": "Acme Corp"})),
        Ok(Some("21".to_owned()))
    );
    assert_eq!(
        find(json!({"domain": "acme.example", "name": "Acme Fan Club"})),
        Ok(None)
    );
    assert!(matches!(
        find(json!({"industry": "Tools"})),
        Err(ConnectorError::Unsupported(_))
    ));
    let requests = mock.requests();
    assert_eq!(requests[0].query_param("fields").as_deref(), Some("name"));
    assert_eq!(
        requests[2].query_param("fields").as_deref(),
        Some("custom_fields")
    );
    assert_eq!(
        requests[2].query_param("exact_match").as_deref(),
        Some("false")
    );
    assert_eq!(requests[3].query_param("ids").as_deref(), Some("20,21"));
}

#[test]
fn find_match_by_domain_without_a_website_field_finds_nothing() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields").reply(404, "");
    assert_eq!(
        Pipedrive::find_match(&conn(), "crm-company", r#"{"domain": "acme.example"}"#),
        Ok(None)
    );
    assert_eq!(mock.requests().len(), 1);
}

/// `find-matches` items from key sets written as JSON values.
fn lookups(items: &[&[Value]]) -> Vec<Vec<Json>> {
    items
        .iter()
        .map(|sets| sets.iter().map(Value::to_string).collect())
        .collect()
}

/// The `term` of every search sent, in order.
fn search_terms(mock: &MockHttp) -> Vec<String> {
    mock.requests()
        .iter()
        .filter_map(|r| r.query_param("term"))
        .collect()
}

#[test]
fn find_matches_finds_persons_by_each_key_and_asks_a_repeated_key_once() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons/search?term=ada%40x.example")
        .reply_json(
            200,
            hits(json!([{"id": 9, "name": "Ada Lovelace", "emails": ["ada@x.example"], "phones": []}])),
        );
    mock.on("GET", "/api/v2/persons/search?term=%2B1%20555%200104")
        .reply_json(
            200,
            hits(json!([{"id": 4, "name": "Al B", "emails": [], "phones": ["+1 (555) 0104"]}])),
        );
    mock.on("GET", "/api/v2/persons/search?term=Grace%20Hopper")
        .reply_json(
            200,
            hits(json!([{"id": 5, "name": "Grace Hopper", "emails": [], "phones": []}])),
        );
    mock.on("GET", "/api/v2/persons/search")
        .reply_json(200, hits(json!([])));
    let answers = Pipedrive::find_matches(
        &conn(),
        "crm-contact",
        lookups(&[
            &[json!({"email_addresses": "ada@x.example"})],
            &[
                json!({"email_addresses": "al@x.example"}),
                json!({"phone_numbers": "+1 555 0104"}),
            ],
            &[
                json!({"email_addresses": "grace@x.example"}),
                json!({"phone_numbers": "+1 555 0199"}),
                json!({"first_name": "Grace", "last_name": "Hopper"}),
            ],
            // Ada again, in another case: answered from the first search.
            &[json!({"email_addresses": [{"email_address": "ADA@x.example"}]})],
            &[
                json!({"email_addresses": "nobody@x.example"}),
                json!({"phone_numbers": "+1 555 0199"}),
                json!({"first_name": "No", "last_name": "Body"}),
            ],
        ]),
    );
    assert_eq!(
        answers,
        Ok(vec![
            Ok(Some("9".to_owned())),
            Ok(Some("4".to_owned())),
            Ok(Some("5".to_owned())),
            Ok(Some("9".to_owned())),
            Ok(None),
        ])
    );
    assert_eq!(
        search_terms(&mock),
        [
            "ada@x.example",
            "al@x.example",
            "+1 555 0104",
            "grace@x.example",
            "+1 555 0199",
            "Grace Hopper",
            "nobody@x.example",
            "No Body",
        ],
        "one search per distinct key, none repeated"
    );
    let requests = mock.requests();
    assert_eq!(requests[1].query_param("fields").as_deref(), Some("email"));
    assert_eq!(requests[2].query_param("fields").as_deref(), Some("phone"));
    assert_eq!(requests[5].query_param("fields").as_deref(), Some("name"));
    assert!(
        requests
            .iter()
            .all(|r| r.query_param("exact_match").as_deref() == Some("true"))
    );
}

#[test]
fn find_matches_finds_companies_by_domain_then_name_reading_shared_answers_once() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v1/organizationFields")
        .reply_json(200, organization_fields());
    mock.on("GET", "/api/v2/organizations/search?term=acme.example")
        .reply_json(
            200,
            hits(json!([{"id": 20, "name": "Acme Fan Club"}, {"id": 21, "name": "Acme Corp"}])),
        );
    mock.on("GET", "/api/v2/organizations/search?term=summit.example")
        .reply_json(200, hits(json!([])));
    mock.on("GET", "/api/v2/organizations/search?term=Summit")
        .reply_json(
            200,
            hits(json!([{"id": 30, "type": "organization", "name": "summit"}])),
        );
    mock.on("GET", "/api/v2/organizations/search")
        .reply_json(200, hits(json!([])));
    mock.on("GET", "/api/v2/organizations?ids=").reply_json(
        200,
        ok(
            json!([
                organization(21, "Acme Corp", Some("https://www.acme.example/")),
                organization(20, "Acme Fan Club", Some("https://fans.example"))
            ]),
            None,
        ),
    );
    let answers = Pipedrive::find_matches(
        &conn(),
        "crm-company",
        lookups(&[
            &[json!({"domain": "acme.example"}), json!({"name": "Acme"})],
            &[
                json!({"domain": "summit.example"}),
                json!({"name": "Summit"}),
            ],
            &[json!({"domain": "https://acme.example/about"})],
            &[json!({"domain": "none.example"}), json!({"name": "None"})],
        ]),
    );
    assert_eq!(
        answers,
        Ok(vec![
            Ok(Some("21".to_owned())),
            Ok(Some("30".to_owned())),
            Ok(Some("21".to_owned())),
            Ok(None),
        ])
    );
    let paths: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.url.split('?').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with("organizationFields"))
            .count(),
        1,
        "the website field is looked up once: {paths:?}"
    );
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with("/organizations"))
            .count(),
        1,
        "the candidates are read once: {paths:?}"
    );
    assert_eq!(
        search_terms(&mock),
        [
            "acme.example",
            "summit.example",
            "Summit",
            "none.example",
            "None"
        ]
    );
}

#[test]
fn find_matches_fails_only_the_items_of_a_failed_search() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons/search?term=ada%40x.example")
        .reply_json(500, failure("Internal server error", 500));
    mock.on("GET", "/api/v2/persons/search?term=al%40x.example")
        .reply_json(
            200,
            hits(json!([{"id": 4, "name": "Al B", "emails": ["al@x.example"], "phones": []}])),
        );
    mock.on("GET", "/api/v2/persons/search")
        .reply_json(200, hits(json!([])));
    let answers = Pipedrive::find_matches(
        &conn(),
        "crm-contact",
        lookups(&[
            &[
                json!({"email_addresses": "ada@x.example"}),
                json!({"first_name": "Ada", "last_name": "L"}),
            ],
            &[json!({"email_addresses": "al@x.example"})],
            &[json!({"job_title": "CEO"})],
            &[json!({"job_title": "CEO"}), json!({"email_addresses": []})],
            &["[1, 2]".into()],
        ]),
    )
    .expect("answers");
    assert!(
        matches!(&answers[0], Err(ConnectorError::Transient(_))),
        "{:?}",
        answers[0]
    );
    assert_eq!(answers[1], Ok(Some("4".to_owned())));
    assert!(matches!(answers[2], Err(ConnectorError::Unsupported(_))));
    assert_eq!(
        answers[3],
        Ok(None),
        "an empty key is asked, and matches nothing"
    );
    assert!(answers[4].is_err());
    assert_eq!(search_terms(&mock), ["ada@x.example", "al@x.example"]);
}

#[test]
fn rate_limits_wait_as_pipedrive_says() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons")
        .once()
        .header("retry-after", "3")
        .header("x-ratelimit-reset", "9")
        .reply_json(429, failure("Rate limit exceeded", 429));
    mock.on("GET", "/api/v2/persons")
        .once()
        .header("x-ratelimit-limit", "80")
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", "2")
        .reply_json(429, failure("Rate limit exceeded", 429));
    mock.on("GET", "/api/v2/persons")
        .reply_json(429, failure("Rate limit exceeded", 429));
    let pull = || Pipedrive::pull(&conn(), PullRequest::new("crm-contact", 10));
    assert_eq!(pull(), Err(ConnectorError::rate_limited(Some(3))));
    assert_eq!(pull(), Err(ConnectorError::rate_limited(Some(2))));
    assert_eq!(pull(), Err(ConnectorError::rate_limited(None)));
}

#[test]
fn error_answers_map_to_variants() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/persons/1")
        .reply_json(404, failure("Person not found", 404));
    mock.on("GET", "/api/v2/persons/2")
        .reply(502, "<html>Bad Gateway</html>");
    mock.on("GET", "/api/v2/persons/3")
        .reply_json(403, failure("You do not have the scope", 403));
    mock.on("GET", "/api/v2/persons/4").reply(200, "{not json");
    mock.on("GET", "/api/v2/persons/5")
        .reply_json(200, failure("Something odd", 200));
    mock.on("GET", "/api/v2/persons/6").reply(500, "");
    mock.on("GET", "/api/v2/persons/7")
        .reply_json(200, ok(json!([1, 2]), None));
    let get = |id: &str| {
        api::read(
            api::API
                .get(format!("/api/v2/persons/{id}"))
                .send()
                .unwrap(),
        )
        .and_then(api::Answer::record)
    };
    assert_eq!(
        get("1").err(),
        Some(ConnectorError::not_found(
            "Pipedrive answered HTTP 404: Person not found"
        ))
    );
    assert_eq!(
        get("2").err(),
        Some(ConnectorError::transient(
            "Pipedrive answered HTTP 502: <html>Bad Gateway</html>"
        ))
    );
    assert_eq!(
        get("3").err(),
        Some(ConnectorError::fatal(
            "Pipedrive answered HTTP 403: You do not have the scope"
        ))
    );
    match get("4") {
        Err(ConnectorError::Fatal(message)) => {
            assert!(
                message.starts_with("Pipedrive returned malformed JSON: "),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        get("5").err(),
        Some(ConnectorError::fatal(
            "Pipedrive answered HTTP 200 without success: Something odd"
        ))
    );
    assert_eq!(
        get("6").err(),
        Some(ConnectorError::transient(
            "Pipedrive answered HTTP 500: (empty body)"
        ))
    );
    assert!(matches!(get("7"), Err(ConnectorError::Fatal(_))));
}

#[test]
fn malformed_pages_are_fatal() {
    let mock = MockHttp::new();
    mock.on("GET", "/api/v2/organizations?limit=1&cursor=a")
        .reply_json(200, ok(json!([{"name": "No id"}]), None));
    mock.on("GET", "/api/v2/organizations")
        .reply(200, "<html>oops</html>");
    let configured = Connection::new(
        "https://api.pipedrive.com",
        json!({"website_field_key": WEBSITE_KEY}),
    );
    match Pipedrive::pull(&configured, PullRequest::new("crm-company", 1)) {
        Err(ConnectorError::Fatal(message)) => {
            assert!(message.starts_with("Pipedrive returned malformed JSON: "))
        }
        other => panic!("{other:?}"),
    }
    let mut req = PullRequest::new("crm-company", 1);
    req.cursor = Some("a".to_owned());
    assert_eq!(
        Pipedrive::pull(&configured, req),
        Err(ConnectorError::fatal(
            "Pipedrive returned an unexpected answer: a listed organization has no id"
        ))
    );
}

#[test]
fn unsupported_types() {
    let _mock = MockHttp::new();
    assert!(matches!(
        Pipedrive::pull(&conn(), PullRequest::new("crm-deal", 10)),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        Pipedrive::push(&conn(), "accounting-invoice", Vec::new()),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        Pipedrive::find_match(&conn(), "crm-deal", "{}"),
        Err(ConnectorError::Unsupported(_))
    ));
}

#[test]
fn domains_come_from_website_hosts() {
    for (site, domain) in [
        ("https://www.Acme.example/about?x=1", Some("acme.example")),
        ("acme.example", Some("acme.example")),
        (
            "http://user@shop.acme.example:8443",
            Some("shop.acme.example"),
        ),
        ("https://localhost/", None),
        ("", None),
    ] {
        assert_eq!(mapping::domain_of(site).as_deref(), domain, "{site}");
    }
    assert_eq!(
        WebsiteField::from_key(WEBSITE_KEY),
        WebsiteField::Custom(WEBSITE_KEY.to_owned())
    );
    assert_eq!(
        WebsiteField::from_key("website"),
        WebsiteField::Standard("website".to_owned())
    );
}
