//! Native unit tests: `cargo test -p salesforce --target x86_64-unknown-linux-gnu`.
//! `MockHttp` answers like the Salesforce REST API (and the local simulator).

use serde_json::{Value, json};
use switchyard_connector_sdk::testing::MockHttp;

use super::*;

const INSTANCE: &str = "https://acme.my.salesforce.com";
const QUERY: &str = "/services/data/v60.0/query";
const QUERY_ALL: &str = "/services/data/v60.0/queryAll";
const COMPOSITE: &str = "/services/data/v60.0/composite/sobjects";
const CONTACT_FIELDS: &str = "Id, FirstName, LastName, Email, Phone, MobilePhone, Title, \
    AccountId, MailingStreet, MailingCity, MailingState, MailingPostalCode, MailingCountry, \
    SystemModstamp";
const ACCOUNT_FIELDS: &str = "Id, Name, Website, Phone, Industry, Description, BillingStreet, \
    BillingCity, BillingState, BillingPostalCode, BillingCountry, SystemModstamp";

/// A connection made by `finish-auth`: calls go to its instance.
fn conn() -> Connection {
    Connection::new(
        "https://login.salesforce.com",
        json!({ "instance_url": INSTANCE }),
    )
}

/// A connection without `instance_url` (sandbox mode, a simulator): calls
/// stay relative to the host's api-base.
fn relative() -> Connection {
    Connection::new("http://127.0.0.1:9003", json!({}))
}

fn contact(id: &str, fields: Value) -> Value {
    let mut raw = json!({
        "attributes": {"type": "Contact", "url": format!("/services/data/v60.0/sobjects/Contact/{id}")},
        "Id": id,
        "SystemModstamp": "2024-05-20T20:49:32.000+0000",
    });
    if let (Some(raw), Some(fields)) = (raw.as_object_mut(), fields.as_object()) {
        raw.extend(fields.clone());
    }
    raw
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

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The SOQL of a query request.
fn soql_of(request: &switchyard_connector_sdk::http::Request) -> String {
    request.query_param("q").unwrap_or_default()
}

// ---------------------------------------------------------------- describe

/// The host's `allowed-hosts` rule: a host name, optionally one leading `*.`
/// label and a `:port` (host/src/runtime/manifest.rs).
fn is_host_pattern(pattern: &str) -> bool {
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[test]
fn manifest_describes_salesforce() {
    let m = Salesforce::describe();
    assert_eq!(m.id, "salesforce");
    assert_eq!(m.display_name, "Salesforce");
    assert_eq!(m.category, "crm");
    assert_eq!(m.version, "0.1.0");
    assert_eq!(m.api_base, "https://login.salesforce.com");
    assert_eq!(
        m.allowed_hosts,
        ["*.my.salesforce.com", "*.salesforce.com", "*.force.com"]
    );
    assert!(m.allowed_hosts.iter().all(|h| is_host_pattern(h)));
    assert_eq!(
        m.credential_placement,
        CredentialPlacement::Authorization("Bearer".into())
    );
    assert!(m.logo_svg.starts_with("<svg") && m.logo_svg.ends_with("</svg>"));
    let AuthSpec::Oauth2(oauth) = &m.auth else {
        panic!("expected OAuth2");
    };
    assert_eq!(
        oauth.authorize_url,
        "https://login.salesforce.com/services/oauth2/authorize"
    );
    assert_eq!(
        oauth.token_url,
        "https://login.salesforce.com/services/oauth2/token"
    );
    assert_eq!(oauth.scopes, ["api", "refresh_token"]);
    assert_eq!(oauth.scope_separator, " ");
    assert_eq!(oauth.client_auth, ClientAuth::FormBody);
    assert!(oauth.pkce);
    let types: Vec<(&str, &str)> = m
        .integrations
        .iter()
        .map(|i| (i.endgrate_type.as_str(), i.resource.as_str()))
        .collect();
    assert_eq!(
        types,
        [("crm-contact", "Contact"), ("crm-company", "Account")]
    );
    assert!(
        m.integrations
            .iter()
            .all(|i| i.supports_pull && i.supports_push && i.supports_associations)
    );
    assert_eq!(m.batch_limits.max_page_size, 2000);
    assert_eq!(m.batch_limits.max_push_batch, 200);
    assert!(m.rate_limit.requests > 0 && m.rate_limit.max_concurrent > 0);
    assert_eq!(Salesforce::describe(), m);
}

// ------------------------------------------------------------- finish-auth

#[test]
fn finish_auth_keeps_the_instance_url() {
    let answer = json!({
        "signature": "x", "scope": "api refresh_token",
        "instance_url": "https://acme.my.salesforce.com/",
        "id": "https://login.salesforce.com/id/00D/005", "token_type": "Bearer",
        "issued_at": "1716238172000"
    });
    let settings = Salesforce::finish_auth(&[], &answer.to_string()).unwrap();
    assert_eq!(json_of(&settings), json!({ "instance_url": INSTANCE }));

    let _mock = MockHttp::new();
    assert_eq!(
        Salesforce::finish_auth(&[], r#"{"token_type":"Bearer"}"#),
        Ok("{}".to_owned())
    );
    assert!(matches!(
        Salesforce::finish_auth(&[], r#"{"instance_url":"acme.my.salesforce.com"}"#),
        Err(ConnectorError::Fatal(_))
    ));
    assert!(matches!(
        Salesforce::finish_auth(&[], "not json"),
        Err(ConnectorError::Fatal(_))
    ));
}

// ------------------------------------------------------------------ routing

#[test]
fn requests_go_to_the_instance_url_else_stay_relative() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY)
        .reply_json(200, json!({"totalSize": 0, "done": true, "records": []}));
    Salesforce::check(&conn()).unwrap();
    Salesforce::check(&relative()).unwrap();
    let trailing = Connection::new(
        "https://login.salesforce.com",
        json!({"instance_url": "https://acme.my.salesforce.com/", "other": 1}),
    );
    Salesforce::check(&trailing).unwrap();
    let urls: Vec<String> = mock.requests().into_iter().map(|r| r.url).collect();
    let q = "q=SELECT%20Id%20FROM%20Contact%20LIMIT%201";
    assert_eq!(
        urls,
        [
            format!("{INSTANCE}{QUERY}?{q}"),
            format!("{QUERY}?{q}"),
            format!("{INSTANCE}{QUERY}?{q}")
        ]
    );

    let bad = Connection::new(
        "https://login.salesforce.com",
        json!({"instance_url": "acme"}),
    );
    assert!(matches!(
        Salesforce::check(&bad),
        Err(ConnectorError::Fatal(m)) if m.contains("instance_url")
    ));
    let wrong_type = Connection::new("https://login.salesforce.com", json!({"instance_url": 3}));
    assert!(matches!(
        Salesforce::check(&wrong_type),
        Err(ConnectorError::Fatal(_))
    ));
}

// ------------------------------------------------------------------- errors

#[test]
fn check_reports_an_invalid_session_as_unauthorized() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        401,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
    );
    assert_eq!(
        Salesforce::check(&conn()),
        Err(ConnectorError::unauthorized(
            "Salesforce answered HTTP 401: Session expired or invalid (INVALID_SESSION_ID)"
        ))
    );
}

#[test]
fn errors_map_from_salesforce_error_arrays() {
    let mock = MockHttp::new();
    let answers = [
        (
            403,
            json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
        ),
        (
            400,
            json!([{"message": "No such column 'Shoe' on entity 'Contact'", "errorCode": "INVALID_FIELD", "fields": ["Shoe"]}]),
        ),
        (
            404,
            json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]),
        ),
        (
            503,
            json!([{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}]),
        ),
        (
            403,
            json!([{"message": "API is not enabled for this Organization or Partner", "errorCode": "API_DISABLED_FOR_ORG"}]),
        ),
        (502, json!({"message": "bad gateway"})),
    ];
    for (status, body) in &answers {
        mock.on("GET", QUERY)
            .once()
            .reply_json(*status, body.clone());
    }
    mock.on("GET", QUERY)
        .once()
        .header("retry-after", "4")
        .reply_json(429, json!([{"message": "slow", "errorCode": "X"}]));
    let got: Vec<ConnectorError> = (0..answers.len() + 1)
        .map(|_| Salesforce::check(&conn()).unwrap_err())
        .collect();
    assert_eq!(
        got,
        [
            ConnectorError::rate_limited(None),
            ConnectorError::invalid_data(
                "Salesforce answered HTTP 400: No such column 'Shoe' on entity 'Contact' \
                 (INVALID_FIELD, fields: Shoe)"
            ),
            ConnectorError::not_found(
                "Salesforce answered HTTP 404: The requested resource does not exist (NOT_FOUND)"
            ),
            ConnectorError::transient(
                "Salesforce answered HTTP 503: Server unavailable (SERVER_UNAVAILABLE)"
            ),
            ConnectorError::fatal(
                "Salesforce answered HTTP 403: API is not enabled for this Organization or \
                 Partner (API_DISABLED_FOR_ORG)"
            ),
            ConnectorError::transient("Salesforce answered HTTP 502: bad gateway"),
            ConnectorError::rate_limited(Some(4)),
        ]
    );
}

#[test]
fn malformed_json_is_fatal_and_names_salesforce() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply(200, "{\"records\": [");
    match Salesforce::pull(&conn(), PullRequest::new("crm-contact", 100)) {
        Err(ConnectorError::Fatal(message)) => assert!(
            message.starts_with("Salesforce returned malformed JSON: "),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_types() {
    let _mock = MockHttp::new();
    assert!(matches!(
        Salesforce::pull(&conn(), PullRequest::new("crm-deal", 10)),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        Salesforce::push(&conn(), "accounting-invoice", vec![]),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        Salesforce::to_cdm("crm-deal", "{}"),
        Err(ConnectorError::Unsupported(_))
    ));
}

// --------------------------------------------------------------------- pull

#[test]
fn full_pull_selects_explicit_fields_and_follows_next_records_url() {
    let mock = MockHttp::new();
    let next = "/services/data/v60.0/query/01gD0000002HU6KIAW-2000";
    mock.on("GET", "/services/data/v60.0/query/01g").reply_json(
        200,
        json!({"totalSize": 3, "done": true, "records": [
            contact("003B", json!({"LastName": "Babbage", "AccountId": null}))
        ]}),
    );
    mock.on("GET", QUERY).reply_json(
        200,
        json!({"totalSize": 3, "done": false, "nextRecordsUrl": next, "records": [
            contact("003A", json!({
                "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com",
                "Phone": "+44 20 7946 0000", "MobilePhone": "+44 7700 900000",
                "Title": "Analyst", "AccountId": "001A",
                "MailingStreet": "12 St James's Square\nFloor 2", "MailingCity": "London",
                "MailingState": null, "MailingPostalCode": "SW1Y 4LB", "MailingCountry": "UK",
                "SystemModstamp": "2024-05-20T20:49:32.000+0000"
            }))
        ]}),
    );
    let mut req = PullRequest::new("crm-contact", 2000);
    req.associations = vec!["crm-company".to_owned()];
    let first = Salesforce::pull(&conn(), req.clone()).unwrap();
    assert_eq!(
        first.next_cursor.as_deref(),
        Some("/services/data/v60.0/query/01gD0000002HU6KIAW-2000#2024-05-20T20:49:32Z")
    );
    assert_eq!(first.records.len(), 1);
    let ada = &first.records[0];
    assert_eq!(ada.id, "003A");
    assert!(!ada.deleted);
    assert_eq!(
        ada.associations,
        [("crm-company".to_owned(), vec!["001A".to_owned()])]
    );
    assert_eq!(
        ada.data_as::<Value>().unwrap(),
        json!({
            "first_name": "Ada", "last_name": "Lovelace",
            "email_addresses": [{"email_address": "ada@example.com", "email_address_type": "WORK"}],
            "phone_numbers": [
                {"phone_number": "+44 20 7946 0000", "phone_number_type": "WORK"},
                {"phone_number": "+44 7700 900000", "phone_number_type": "MOBILE"}
            ],
            "title": "Analyst",
            "addresses": [{"address_type": "PRIMARY", "street_1": "12 St James's Square",
                           "street_2": "Floor 2", "city": "London", "postal_code": "SW1Y 4LB",
                           "country": "UK"}],
            "updated_at": "2024-05-20T20:49:32.000Z"
        })
    );

    req.cursor = first.next_cursor;
    let last = Salesforce::pull(&conn(), req).unwrap();
    assert_eq!(last.next_cursor, None);
    assert_eq!(
        last.records[0].associations,
        [("crm-company".to_owned(), Vec::<String>::new())]
    );

    let requests = mock.requests();
    assert_eq!(requests[0].path(), QUERY);
    assert!(requests[0].url.starts_with(INSTANCE));
    assert_eq!(
        soql_of(&requests[0]),
        format!("SELECT {CONTACT_FIELDS} FROM Contact ORDER BY SystemModstamp ASC")
    );
    assert_eq!(
        requests[0].header("sforce-query-options"),
        Some("batchSize=2000")
    );
    assert_eq!(requests[1].url, format!("{INSTANCE}{next}"));
}

#[test]
fn the_page_size_becomes_the_batch_size_within_salesforce_bounds() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY)
        .reply_json(200, json!({"totalSize": 0, "done": true, "records": []}));
    for size in [50, 500, 5000] {
        Salesforce::pull(&relative(), PullRequest::new("crm-company", size)).unwrap();
    }
    let sizes: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| {
            r.header("sforce-query-options")
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(sizes, ["batchSize=200", "batchSize=500", "batchSize=2000"]);
    assert_eq!(
        soql_of(&mock.requests()[0]),
        format!("SELECT {ACCOUNT_FIELDS} FROM Account ORDER BY SystemModstamp ASC")
    );
    // Relative to the api-base when the connection has no instance_url.
    assert!(mock.requests()[0].url.starts_with(QUERY));
}

#[test]
fn incremental_pull_uses_query_all_and_reports_deletions() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY_ALL).reply_json(
        200,
        json!({"totalSize": 2, "done": true, "records": [
            {"attributes": {"type": "Account"}, "Id": "001A", "Name": "Acme",
             "Website": "https://www.acme.com/", "IsDeleted": false,
             "SystemModstamp": "2024-06-01T00:00:00.000+0000"},
            {"attributes": {"type": "Account"}, "Id": "001B", "Name": "Gone", "IsDeleted": true,
             "SystemModstamp": "2024-06-02T00:00:00.000+0000"}
        ]}),
    );
    let mut req = PullRequest::new("crm-company", 2000);
    req.since = Some("2024-05-01T10:00:00.250+02:00".to_owned());
    let page = Salesforce::pull(&conn(), req).unwrap();
    assert_eq!(page.next_cursor, None);
    assert_eq!(page.records.len(), 2);
    assert_eq!(
        page.records[0].data_as::<Value>().unwrap(),
        json!({"name": "Acme", "domain": "acme.com", "website": "https://www.acme.com/",
               "updated_at": "2024-06-01T00:00:00.000Z"})
    );
    assert!(!page.records[0].deleted);
    assert_eq!(page.records[1].id, "001B");
    assert!(page.records[1].deleted);

    let sent = &mock.requests()[0];
    assert_eq!(sent.path(), QUERY_ALL);
    assert_eq!(
        soql_of(sent),
        format!(
            "SELECT {ACCOUNT_FIELDS}, IsDeleted FROM Account \
             WHERE SystemModstamp >= 2024-05-01T10:00:00+02:00 ORDER BY SystemModstamp ASC"
        )
    );
    // `+` must reach Salesforce as `%2B`, never as a space.
    assert!(
        sent.url.contains("2024-05-01T10%3A00%3A00%2B02%3A00"),
        "{}",
        sent.url
    );
}

#[test]
fn since_becomes_an_unquoted_utc_literal() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY_ALL)
        .reply_json(200, json!({"done": true, "records": []}));
    for since in [
        "2024-05-01T00:00:00Z",
        "2024-05-01T00:00:00.999+00:00",
        "2024-05-01",
    ] {
        let mut req = PullRequest::new("crm-contact", 200);
        req.since = Some(since.to_owned());
        Salesforce::pull(&conn(), req).unwrap();
    }
    for request in mock.requests() {
        assert!(
            soql_of(&request).contains(" WHERE SystemModstamp >= 2024-05-01T00:00:00Z ORDER BY"),
            "{}",
            soql_of(&request)
        );
    }
}

#[test]
fn a_since_that_is_not_an_instant_is_refused_before_any_request() {
    let _mock = MockHttp::new();
    for since in [
        "yesterday",
        "2024-05-01T00:00:00Z OR Name != null",
        "2024-13-01T00:00:00Z",
        "2024-05-01T00:00:00+5",
    ] {
        let mut req = PullRequest::new("crm-contact", 200);
        req.since = Some(since.to_owned());
        assert!(
            matches!(
                Salesforce::pull(&conn(), req),
                Err(ConnectorError::Unsupported(_))
            ),
            "{since}"
        );
    }
}

#[test]
fn an_expired_query_locator_restarts_from_the_last_modstamp() {
    let mock = MockHttp::new();
    mock.on("GET", "/services/data/v60.0/query/01g").reply_json(
        400,
        json!([{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]),
    );
    mock.on("GET", QUERY_ALL).reply_json(
        200,
        json!({"done": true, "records": [contact("003C", json!({"LastName": "C", "IsDeleted": false}))]}),
    );
    let mut req = PullRequest::new("crm-contact", 1000);
    req.since = Some("2024-01-01T00:00:00Z".to_owned());
    req.cursor = Some("/services/data/v60.0/query/01gXYZ-2000#2024-05-20T20:49:32Z".to_owned());
    let page = Salesforce::pull(&conn(), req.clone()).unwrap();
    assert_eq!(page.records[0].id, "003C");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path(), QUERY_ALL);
    assert!(soql_of(&requests[1]).contains("WHERE SystemModstamp >= 2024-05-20T20:49:32Z"));
    assert_eq!(
        requests[1].header("sforce-query-options"),
        Some("batchSize=1000")
    );

    // Without a resume point the error is reported.
    req.cursor = Some("/services/data/v60.0/query/01gXYZ-2000".to_owned());
    assert!(matches!(
        Salesforce::pull(&conn(), req),
        Err(ConnectorError::InvalidData(m)) if m.contains("INVALID_QUERY_LOCATOR")
    ));
}

#[test]
fn foreign_cursors_are_fatal() {
    let _mock = MockHttp::new();
    for cursor in [
        "https://evil.example.com/services/data/v60.0/query/01g-1",
        "/crm/v3/objects/contacts",
        "/services/data/v60.0/query/01g-2000#not a date",
    ] {
        let mut req = PullRequest::new("crm-contact", 200);
        req.cursor = Some(cursor.to_owned());
        assert!(
            matches!(Salesforce::pull(&conn(), req), Err(ConnectorError::Fatal(m)) if m.contains("not made by this connector")),
            "{cursor}"
        );
    }
}

#[test]
fn a_page_that_is_not_done_needs_a_next_records_url() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY)
        .reply_json(200, json!({"done": false, "records": []}));
    assert!(matches!(
        Salesforce::pull(&conn(), PullRequest::new("crm-contact", 200)),
        Err(ConnectorError::Fatal(m)) if m.contains("nextRecordsUrl")
    ));
}

#[test]
fn records_without_an_id_are_fatal() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY)
        .reply_json(200, json!({"done": true, "records": [{"LastName": "X"}]}));
    assert!(matches!(
        Salesforce::pull(&conn(), PullRequest::new("crm-contact", 200)),
        Err(ConnectorError::Fatal(_))
    ));
}

#[test]
fn company_pull_reads_its_contacts_for_associations() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).once().reply_json(
        200,
        json!({"done": true, "records": [
            {"Id": "001A", "Name": "Acme", "IsDeleted": false},
            {"Id": "001B", "Name": "Lonely"},
        ]}),
    );
    mock.on("GET", QUERY).once().reply_json(
        200,
        json!({"done": false, "nextRecordsUrl": "/services/data/v60.0/query/01gL-200",
               "records": [{"Id": "003X", "AccountId": "001A"}]}),
    );
    mock.on("GET", "/services/data/v60.0/query/01gL")
        .reply_json(
            200,
            json!({"done": true, "records": [{"Id": "003Y", "AccountId": "001A"}]}),
        );
    let mut req = PullRequest::new("crm-company", 2000);
    req.associations = vec!["crm-contact".to_owned()];
    let page = Salesforce::pull(&conn(), req).unwrap();
    assert_eq!(
        page.records[0].associations,
        [(
            "crm-contact".to_owned(),
            vec!["003X".to_owned(), "003Y".to_owned()]
        )]
    );
    assert_eq!(
        page.records[1].associations,
        [("crm-contact".to_owned(), Vec::<String>::new())]
    );
    assert_eq!(
        soql_of(&mock.requests()[1]),
        "SELECT Id, AccountId FROM Contact WHERE AccountId IN ('001A', '001B') ORDER BY Id ASC"
    );
}

// ------------------------------------------------------------------ mapping

#[test]
fn to_cdm_maps_accounts_field_by_field() {
    let raw = json!({
        "attributes": {"type": "Account"}, "Id": "001A", "Name": "Acme Tools",
        "Website": "http://WWW.Acme.com/about", "Phone": "(555) 0100", "Industry": "Manufacturing",
        "Description": "Anvils", "BillingStreet": "1 Road", "BillingCity": "Tucson",
        "BillingState": "AZ", "BillingPostalCode": "85701", "BillingCountry": "USA",
        "NumberOfEmployees": 12, "SystemModstamp": "2024-05-20T20:49:32.000+0000",
        "LastModifiedDate": "2024-05-19T00:00:00.000+0000"
    });
    let cdm = Salesforce::to_cdm("crm-company", &raw.to_string()).unwrap();
    assert_eq!(
        json_of(&cdm),
        json!({
            "name": "Acme Tools", "domain": "acme.com", "website": "http://WWW.Acme.com/about",
            "description": "Anvils", "industry": "Manufacturing",
            "phone_numbers": [{"phone_number": "(555) 0100", "phone_number_type": "WORK"}],
            "addresses": [{"address_type": "BILLING", "street_1": "1 Road", "city": "Tucson",
                           "state": "AZ", "postal_code": "85701", "country": "USA"}],
            "updated_at": "2024-05-20T20:49:32.000Z"
        })
    );
    // Blank and null fields produce nothing; LastModifiedDate stands in.
    let sparse = json!({"Id": "001B", "Name": " ", "Website": null,
                        "LastModifiedDate": "2024-05-19T01:02:03.000-0700"});
    assert_eq!(
        json_of(&Salesforce::to_cdm("crm-company", &sparse.to_string()).unwrap()),
        json!({"updated_at": "2024-05-19T01:02:03.000-07:00"})
    );
    assert!(matches!(
        Salesforce::to_cdm("crm-contact", "[1"),
        Err(ConnectorError::InvalidData(_))
    ));
}

#[test]
fn from_cdm_maps_contacts_field_by_field() {
    let record = json!({
        "first_name": "Ada", "last_name": "Lovelace", "title": null,
        "company_name": "Engines Ltd", "updated_at": "2024-01-01T00:00:00Z",
        "email_addresses": [
            {"email_address": "home@x.com", "email_address_type": "PERSONAL"},
            {"email_address": "ada@x.com", "email_address_type": "WORK"}
        ],
        "phone_numbers": [
            {"phone_number": "+2", "phone_number_type": "MOBILE"},
            {"phone_number": "+3", "phone_number_type": "HOME"}
        ],
        "addresses": [
            {"address_type": "SHIPPING", "street_1": "elsewhere"},
            {"address_type": "PRIMARY", "street_1": "1 Main", "street_2": "Flat 4",
             "city": "X", "postal_code": 12345}
        ]
    });
    let fields = Salesforce::from_cdm("crm-contact", &record.to_string()).unwrap();
    assert_eq!(
        json_of(&fields),
        json!({
            "FirstName": "Ada", "LastName": "Lovelace", "Title": null, "Email": "ada@x.com",
            "Phone": "+3", "MobilePhone": "+2",
            "MailingStreet": "1 Main\nFlat 4", "MailingCity": "X", "MailingState": null,
            "MailingPostalCode": "12345", "MailingCountry": null
        })
    );
    // Empty lists clear the fields they feed.
    let cleared = Salesforce::from_cdm(
        "crm-contact",
        r#"{"email_addresses": [], "phone_numbers": null}"#,
    )
    .unwrap();
    assert_eq!(
        json_of(&cleared),
        json!({"Email": null, "Phone": null, "MobilePhone": null})
    );
    for bad in [
        r#"{"first_name": ["a"]}"#,
        r#"{"email_addresses": "a@b.c"}"#,
        r#"{"phone_numbers": [{"phone_number": {"n": 1}}]}"#,
        r#"[]"#,
    ] {
        assert!(
            matches!(
                Salesforce::from_cdm("crm-contact", bad),
                Err(ConnectorError::InvalidData(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn from_cdm_maps_companies_field_by_field() {
    let record = json!({
        "name": "Acme", "domain": "acme.com", "description": "Anvils", "industry": "Tools",
        "phone_numbers": [{"phone_number": "+1", "phone_number_type": "MOBILE"}],
        "addresses": [{"address_type": "PRIMARY", "city": "P"},
                      {"address_type": "BILLING", "street_1": "1 Road", "city": "B"}]
    });
    let fields = Salesforce::from_cdm("crm-company", &record.to_string()).unwrap();
    assert_eq!(
        json_of(&fields),
        json!({
            "Name": "Acme", "Website": "acme.com", "Description": "Anvils", "Industry": "Tools",
            "Phone": "+1", "BillingStreet": "1 Road", "BillingCity": "B", "BillingState": null,
            "BillingPostalCode": null, "BillingCountry": null
        })
    );
    // A website wins over the domain.
    let fields = Salesforce::from_cdm(
        "crm-company",
        r#"{"domain": "acme.com", "website": "https://www.acme.com"}"#,
    )
    .unwrap();
    assert_eq!(json_of(&fields), json!({"Website": "https://www.acme.com"}));
}

#[test]
fn mappings_round_trip() {
    let contact_cdm = json!({
        "first_name": "Bo", "last_name": "Bell",
        "email_addresses": [{"email_address": "bo@x.com", "email_address_type": "WORK"}],
        "phone_numbers": [{"phone_number": "+1", "phone_number_type": "WORK"},
                          {"phone_number": "+2", "phone_number_type": "MOBILE"}],
        "title": "CTO",
        "addresses": [{"address_type": "PRIMARY", "street_1": "1 Main", "street_2": "Unit 2",
                       "city": "Austin", "state": "TX", "postal_code": "78701", "country": "US"}]
    });
    let company_cdm = json!({
        "name": "Acme", "domain": "acme.com", "website": "https://acme.com",
        "description": "d", "industry": "i",
        "phone_numbers": [{"phone_number": "+9", "phone_number_type": "WORK"}],
        "addresses": [{"address_type": "BILLING", "street_1": "2 Road", "city": "Reno"}]
    });
    for (endgrate_type, cdm) in [("crm-contact", contact_cdm), ("crm-company", company_cdm)] {
        let fields = Salesforce::from_cdm(endgrate_type, &cdm.to_string()).unwrap();
        let mut raw = json_of(&fields);
        raw["Id"] = json!("x");
        // Salesforce leaves out nothing; nulls come back as nulls.
        let back = Salesforce::to_cdm(endgrate_type, &raw.to_string()).unwrap();
        assert_eq!(json_of(&back), cdm, "{endgrate_type}");
    }
}

// --------------------------------------------------------------------- push

#[test]
fn push_creates_and_updates_through_collections_with_results_in_order() {
    let mock = MockHttp::new();
    mock.on("POST", COMPOSITE).reply_json(
        200,
        json!([
            {"id": "003N1", "success": true, "errors": []},
            {"success": false, "errors": [{
                "statusCode": "INVALID_EMAIL_ADDRESS", "message": "Email: invalid email address: nope",
                "fields": ["Email"]}]},
            {"id": "003N3", "success": true, "errors": []}
        ]),
    );
    mock.on("PATCH", COMPOSITE).reply_json(
        200,
        json!([
            {"success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED",
                                           "message": "entity is deleted", "fields": []}]},
            {"id": "003U2", "success": true, "errors": []}
        ]),
    );
    mock.on("GET", QUERY).reply_json(
        200,
        json!({"done": true, "records": [
            contact("003N1", json!({"LastName": "One", "Email": "one@x.com"})),
            contact("003N3", json!({"LastName": "Three", "AccountId": "001A"})),
            contact("003U2", json!({"FirstName": "Up", "LastName": "Two"}))
        ]}),
    );
    let items = vec![
        item(
            None,
            json!({"last_name": "One", "email_addresses": [{"email_address": "one@x.com"}]}),
        ),
        item(Some("003U1"), json!({"first_name": "Gone"})),
        item(
            None,
            json!({"last_name": "Bad", "email_addresses": [{"email_address": "nope"}]}),
        ),
        item(Some("003U2"), json!({"first_name": "Up"})),
        linked(
            item(None, json!({"last_name": "Three", "first_name": ""})),
            "crm-company",
            &["001A"],
        ),
        item(None, json!({"first_name": "No last name"})),
    ];
    let results = Salesforce::push(&conn(), "crm-contact", items).unwrap();
    assert_eq!(results.len(), 6);
    let one = results[0].as_ref().unwrap();
    assert_eq!((one.id.as_str(), one.created), ("003N1", true));
    assert_eq!(
        json_of(&one.data),
        json!({"last_name": "One",
               "email_addresses": [{"email_address": "one@x.com", "email_address_type": "WORK"}],
               "updated_at": "2024-05-20T20:49:32.000Z"})
    );
    assert_eq!(
        results[1],
        Err(ConnectorError::not_found(
            "Salesforce rejected the record: entity is deleted (ENTITY_IS_DELETED)"
        ))
    );
    assert_eq!(
        results[2],
        Err(ConnectorError::invalid_data(
            "Salesforce rejected the record: Email: invalid email address: nope \
             (INVALID_EMAIL_ADDRESS, fields: Email)"
        ))
    );
    let two = results[3].as_ref().unwrap();
    assert_eq!((two.id.as_str(), two.created), ("003U2", false));
    assert_eq!(json_of(&two.data)["first_name"], "Up");
    assert_eq!(results[4].as_ref().map(|p| p.id.as_str()), Ok("003N3"));
    assert_eq!(
        results[5],
        Err(ConnectorError::invalid_data(
            "Salesforce requires LastName (last_name) to create a Contact"
        ))
    );

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "POST");
    assert!(!requests[0].idempotent);
    assert_eq!(requests[0].url, format!("{INSTANCE}{COMPOSITE}"));
    assert_eq!(
        requests[0].body_json().unwrap(),
        json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "LastName": "One", "Email": "one@x.com"},
            {"attributes": {"type": "Contact"}, "LastName": "Bad", "Email": "nope"},
            {"attributes": {"type": "Contact"}, "LastName": "Three", "AccountId": "001A"}
        ]})
    );
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        requests[1].body_json().unwrap(),
        json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "Id": "003U1", "FirstName": "Gone"},
            {"attributes": {"type": "Contact"}, "Id": "003U2", "FirstName": "Up"}
        ]})
    );
    // One batched re-read of everything written.
    assert_eq!(
        soql_of(&requests[2]),
        format!("SELECT {CONTACT_FIELDS} FROM Contact WHERE Id IN ('003N1', '003N3', '003U2')")
    );
}

#[test]
fn push_sets_account_id_on_updates_and_can_clear_fields() {
    let mock = MockHttp::new();
    mock.on("PATCH", COMPOSITE)
        .reply_json(200, json!([{"id": "003A", "success": true, "errors": []}]));
    mock.on("GET", QUERY)
        .reply_json(200, json!({"done": true, "records": []}));
    let update = linked(
        item(Some("003A"), json!({"title": null, "email_addresses": []})),
        "crm-company",
        &["001A", "001B"],
    );
    let results = Salesforce::push(&conn(), "crm-contact", vec![update]).unwrap();
    // The re-read found nothing: the written fields are echoed with the id.
    let pushed = results[0].as_ref().unwrap();
    assert_eq!((pushed.id.as_str(), pushed.created), ("003A", false));
    assert_eq!(json_of(&pushed.data), json!({}));
    assert_eq!(
        mock.requests()[0].body_json().unwrap()["records"][0],
        json!({"attributes": {"type": "Contact"}, "Id": "003A", "Title": null, "Email": null,
               "AccountId": "001A"})
    );
    assert!(mock.requests()[0].idempotent);
    assert!(
        mock.logs()
            .iter()
            .any(|(_, line)| line.contains("linking the first of 2"))
    );
}

#[test]
fn push_refuses_to_clear_a_required_field() {
    let _mock = MockHttp::new();
    let results = Salesforce::push(
        &conn(),
        "crm-company",
        vec![
            item(Some("001A"), json!({"name": ""})),
            item(None, json!({"website": "x.com"})),
        ],
    )
    .unwrap();
    assert_eq!(
        results,
        [
            Err(ConnectorError::invalid_data(
                "Salesforce cannot clear the required Name (name) of an Account"
            )),
            Err(ConnectorError::invalid_data(
                "Salesforce requires Name (name) to create an Account"
            ))
        ]
    );
}

#[test]
fn push_fails_the_call_only_before_anything_is_written() {
    let mock = MockHttp::new();
    mock.on("POST", COMPOSITE).reply_json(
        503,
        json!([{"message": "unavailable", "errorCode": "SERVER_UNAVAILABLE"}]),
    );
    let result = Salesforce::push(
        &conn(),
        "crm-contact",
        vec![item(None, json!({"last_name": "L"}))],
    );
    assert!(matches!(result, Err(ConnectorError::Transient(_))));
    drop(mock);

    // Creates written, then the updates fail: per-item errors.
    let mock = MockHttp::new();
    mock.on("POST", COMPOSITE)
        .reply_json(200, json!([{"id": "003N", "success": true, "errors": []}]));
    mock.on("PATCH", COMPOSITE).reply(200, "<html>");
    mock.on("GET", QUERY).reply_json(
        500,
        json!([{"message": "boom", "errorCode": "UNKNOWN_EXCEPTION"}]),
    );
    let results = Salesforce::push(
        &conn(),
        "crm-contact",
        vec![
            item(None, json!({"last_name": "L", "first_name": "F"})),
            item(Some("003U"), json!({"last_name": "M"})),
        ],
    )
    .unwrap();
    let created = results[0].as_ref().unwrap();
    assert_eq!(created.id, "003N");
    // The re-read failed: the input is echoed.
    assert_eq!(
        json_of(&created.data),
        json!({"first_name": "F", "last_name": "L"})
    );
    assert!(
        matches!(&results[1], Err(ConnectorError::Fatal(m)) if m.starts_with("Salesforce returned malformed JSON"))
    );
}

#[test]
fn push_maps_per_item_limit_and_lock_errors() {
    let mock = MockHttp::new();
    mock.on("POST", COMPOSITE).reply_json(
        200,
        json!([
            {"success": false, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}]},
            {"success": false, "errors": []},
        ]),
    );
    let results = Salesforce::push(
        &conn(),
        "crm-contact",
        vec![
            item(None, json!({"last_name": "A"})),
            item(None, json!({"last_name": "B"})),
        ],
    )
    .unwrap();
    assert!(matches!(results[0], Err(ConnectorError::Transient(_))));
    assert!(matches!(results[1], Err(ConnectorError::InvalidData(_))));
}

#[test]
fn push_of_a_mismatched_answer_fails_its_items() {
    let mock = MockHttp::new();
    mock.on("POST", COMPOSITE)
        .reply_json(200, json!([{"id": "003N", "success": true, "errors": []}]));
    let results = Salesforce::push(
        &conn(),
        "crm-contact",
        vec![
            item(None, json!({"last_name": "A"})),
            item(None, json!({"last_name": "B"})),
        ],
    )
    .unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(ConnectorError::Fatal(_))))
    );
}

#[test]
fn push_of_companies_links_their_contacts() {
    let mock = MockHttp::new();
    mock.on("POST", COMPOSITE).reply_json(
        200,
        json!([{"id": "001N", "success": true, "errors": []},
               {"id": "001M", "success": true, "errors": []}]),
    );
    mock.on("PATCH", COMPOSITE).reply_json(
        200,
        json!([{"id": "003A", "success": true, "errors": []},
               {"success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted"}]}]),
    );
    mock.on("GET", QUERY).reply_json(
        200,
        json!({"done": true, "records": [{"Id": "001N", "Name": "N"}, {"Id": "001M", "Name": "M"}]}),
    );
    let results = Salesforce::push(
        &conn(),
        "crm-company",
        vec![
            linked(item(None, json!({"name": "N"})), "crm-contact", &["003A"]),
            linked(
                item(None, json!({"name": "M"})),
                "crm-contact",
                &["003GONE"],
            ),
        ],
    )
    .unwrap();
    assert_eq!(results[0].as_ref().map(|p| p.id.as_str()), Ok("001N"));
    assert!(matches!(results[1], Err(ConnectorError::NotFound(_))));
    let requests = mock.requests();
    assert_eq!(
        requests[1].body_json().unwrap(),
        json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "Id": "003A", "AccountId": "001N"},
            {"attributes": {"type": "Contact"}, "Id": "003GONE", "AccountId": "001M"}
        ]})
    );
    assert_eq!(
        soql_of(&requests[2]),
        format!("SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id IN ('001N')")
    );
}

#[test]
fn push_sends_at_most_200_records_per_request() {
    let mock = MockHttp::new();
    let ok = |n: usize| {
        let results: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("003{i:05}"), "success": true, "errors": []}))
            .collect();
        Value::Array(results)
    };
    mock.on("POST", COMPOSITE).once().reply_json(200, ok(200));
    mock.on("POST", COMPOSITE).once().reply_json(200, ok(50));
    mock.on("GET", QUERY)
        .reply_json(200, json!({"done": true, "records": []}));
    let items: Vec<PushItem> = (0..250)
        .map(|i| item(None, json!({"last_name": format!("L{i}")})))
        .collect();
    let results = Salesforce::push(&conn(), "crm-contact", items).unwrap();
    assert_eq!(results.len(), 250);
    assert!(results.iter().all(Result::is_ok));
    let posts: Vec<usize> = mock
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            r.body_json().unwrap()["records"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(posts, [200, 50]);
}

// --------------------------------------------------------------- find-match

#[test]
fn find_match_queries_with_escaped_literals() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).once().reply_json(
        200,
        json!({"done": true, "records": [{"attributes": {"type": "Contact"}, "Id": "003M"}]}),
    );
    mock.on("GET", QUERY)
        .reply_json(200, json!({"totalSize": 0, "done": true, "records": []}));
    let found = Salesforce::find_match(
        &conn(),
        "crm-contact",
        r#"{"email_addresses": [{"email_address": "o'brien@x.com", "email_address_type": "WORK"}]}"#,
    );
    assert_eq!(found, Ok(Some("003M".to_owned())));
    let none = Salesforce::find_match(
        &conn(),
        "crm-contact",
        r#"{"first_name": "Se\\an", "last_name": "O'Brien \"Jr\""}"#,
    );
    assert_eq!(none, Ok(None));
    let requests = mock.requests();
    assert_eq!(
        soql_of(&requests[0]),
        r"SELECT Id FROM Contact WHERE Email = 'o\'brien@x.com' ORDER BY CreatedDate ASC LIMIT 1"
    );
    assert_eq!(
        soql_of(&requests[1]),
        r#"SELECT Id FROM Contact WHERE FirstName = 'Se\\an' AND LastName = 'O\'Brien \"Jr\"' ORDER BY CreatedDate ASC LIMIT 1"#
    );
}

#[test]
fn find_match_tries_phone_then_mobile_phone() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY)
        .once()
        .reply_json(200, json!({"done": true, "records": []}));
    mock.on("GET", QUERY)
        .reply_json(200, json!({"done": true, "records": [{"Id": "003P"}]}));
    let found = Salesforce::find_match(
        &conn(),
        "crm-contact",
        r#"{"phone_numbers": [{"phone_number": "+1 555", "phone_number_type": "MOBILE"}]}"#,
    );
    assert_eq!(found, Ok(Some("003P".to_owned())));
    let queries: Vec<String> = mock.requests().iter().map(soql_of).collect();
    assert_eq!(
        queries,
        [
            "SELECT Id FROM Contact WHERE Phone = '+1 555' ORDER BY CreatedDate ASC LIMIT 1",
            "SELECT Id FROM Contact WHERE MobilePhone = '+1 555' ORDER BY CreatedDate ASC LIMIT 1"
        ]
    );
}

#[test]
fn find_match_of_a_domain_checks_the_website_domain() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).once().reply_json(
        200,
        json!({"done": true, "records": [
            {"Id": "001X", "Website": "https://notacme_co.com"},
            {"Id": "001Y", "Website": "https://www.ACME_co.com/home"}
        ]}),
    );
    let found = Salesforce::find_match(
        &conn(),
        "crm-company",
        r#"{"domain": "https://acme_co.com"}"#,
    );
    assert_eq!(found, Ok(Some("001Y".to_owned())));
    assert_eq!(
        soql_of(&mock.requests()[0]),
        r"SELECT Id, Website FROM Account WHERE Website LIKE '%acme\_co.com%' ORDER BY CreatedDate ASC LIMIT 200"
    );
    mock.on("GET", QUERY).reply_json(
        200,
        json!({"done": true, "records": [{"Id": "001X", "Website": "https://notacme.com"}]}),
    );
    let not_equal = Salesforce::find_match(&conn(), "crm-company", r#"{"domain": "acme.com"}"#);
    assert_eq!(not_equal, Ok(None));
}

#[test]
fn find_match_refuses_unknown_keys_and_skips_empty_ones() {
    let mock = MockHttp::new();
    assert!(matches!(
        Salesforce::find_match(&conn(), "crm-company", r#"{"title": "x"}"#),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(matches!(
        Salesforce::find_match(
            &conn(),
            "crm-contact",
            r#"{"email": "", "company_name": "x"}"#
        ),
        Err(ConnectorError::Unsupported(_))
    ));
    for keys in [
        r#"{}"#,
        r#"{"email": "  "}"#,
        r#"{"email_addresses": []}"#,
        r#"{"domain": "localhost"}"#,
    ] {
        let endgrate_type = if keys.contains("domain") {
            "crm-company"
        } else {
            "crm-contact"
        };
        assert_eq!(
            Salesforce::find_match(&conn(), endgrate_type, keys),
            Ok(None),
            "{keys}"
        );
    }
    assert!(mock.requests().is_empty());
}

// ------------------------------------------------------------- find-matches

/// `find-matches` items from key sets written as JSON values.
fn lookups(items: &[&[Value]]) -> Vec<Vec<Json>> {
    items
        .iter()
        .map(|sets| sets.iter().map(Value::to_string).collect())
        .collect()
}

fn records(records: Vec<Value>) -> Value {
    json!({"totalSize": records.len(), "done": true, "records": records})
}

#[test]
fn find_matches_asks_a_batch_of_emails_in_one_query() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        200,
        records(vec![
            contact("003A", json!({"Email": "ANN@x.com"})),
            contact("003O", json!({"Email": "o'brien@x.com"})),
            contact("003B", json!({"Email": "ann@x.com"})),
        ]),
    );
    let answers = Salesforce::find_matches(
        &conn(),
        "crm-contact",
        lookups(&[
            &[json!({"email_addresses": "ann@x.com"})],
            &[json!({"email_addresses": "nobody@x.com"})],
            &[json!({"email_addresses": [{"email_address": "O'Brien@x.com"}]})],
            &[json!({"email_addresses": "Ann@X.com"})],
        ]),
    );
    assert_eq!(
        answers,
        Ok(vec![
            Ok(Some("003A".to_owned())),
            Ok(None),
            Ok(Some("003O".to_owned())),
            Ok(Some("003A".to_owned())),
        ])
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].url.starts_with(INSTANCE));
    assert_eq!(
        soql_of(&requests[0]),
        r"SELECT Id, Email FROM Contact WHERE Email IN ('ann@x.com', 'nobody@x.com', 'o\'brien@x.com') ORDER BY CreatedDate ASC"
    );
}

#[test]
fn find_matches_finds_contacts_by_each_key_in_priority_order() {
    let mock = MockHttp::new();
    // Round 1, emails: only Ann's.
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![contact("003A", json!({"Email": "ann@x.com"}))]),
    );
    // Round 2, phones of the three left: Bob's mobile, and a newer record
    // whose Phone is Bob's number too, which wins.
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![
            contact("003M", json!({"Phone": null, "MobilePhone": "+1 555 0101"})),
            contact("003B", json!({"Phone": "+1 555 0101", "MobilePhone": null})),
        ]),
    );
    // Round 3, names of the two left: Cy's, on its second page.
    mock.on("GET", QUERY).once().reply_json(
        200,
        json!({"done": false, "nextRecordsUrl": "/services/data/v60.0/query/01gX-1", "records": [
            contact("003Z", json!({"FirstName": "Cy", "LastName": "Other"})),
        ]}),
    );
    mock.on("GET", "/services/data/v60.0/query/01gX-1")
        .once()
        .reply_json(
            200,
            records(vec![contact(
                "003C",
                json!({"FirstName": "CY", "LastName": "O'Hara"}),
            )]),
        );
    let answers = Salesforce::find_matches(
        &conn(),
        "crm-contact",
        lookups(&[
            &[
                json!({"email_addresses": "ann@x.com"}),
                json!({"phone_numbers": "+1 555 0100"}),
            ],
            &[
                json!({"email_addresses": "bob@x.com"}),
                json!({"phone_numbers": [{"phone_number": "+1 555 0101"}]}),
                json!({"first_name": "Bob", "last_name": "B"}),
            ],
            &[
                json!({"email_addresses": "cy@x.com"}),
                json!({"phone_numbers": "+1 555 0102"}),
                json!({"first_name": "Cy", "last_name": "O'Hara"}),
            ],
            &[
                json!({"email_addresses": "dee@x.com"}),
                json!({"phone_numbers": "+1 555 0103"}),
                json!({"first_name": "Dee", "last_name": "D"}),
            ],
        ]),
    );
    assert_eq!(
        answers,
        Ok(vec![
            Ok(Some("003A".to_owned())),
            Ok(Some("003B".to_owned())),
            Ok(Some("003C".to_owned())),
            Ok(None),
        ])
    );
    let queries: Vec<String> = mock.requests().iter().map(soql_of).collect();
    assert_eq!(
        queries,
        [
            "SELECT Id, Email FROM Contact WHERE Email IN ('ann@x.com', 'bob@x.com', 'cy@x.com', 'dee@x.com') ORDER BY CreatedDate ASC",
            "SELECT Id, Phone, MobilePhone FROM Contact WHERE Phone IN ('+1 555 0101', '+1 555 0102', '+1 555 0103') OR MobilePhone IN ('+1 555 0101', '+1 555 0102', '+1 555 0103') ORDER BY CreatedDate ASC",
            r"SELECT Id, FirstName, LastName FROM Contact WHERE (FirstName = 'cy' AND LastName = 'o\'hara') OR (FirstName = 'dee' AND LastName = 'd') ORDER BY CreatedDate ASC",
            "",
        ]
    );
    assert_eq!(
        mock.requests()[3].url,
        format!("{INSTANCE}/services/data/v60.0/query/01gX-1")
    );
}

#[test]
fn find_matches_finds_companies_by_domain_then_name() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![
            json!({"Id": "001N", "Website": "https://notacme.com"}),
            json!({"Id": "001A", "Website": "https://www.ACME.com/about"}),
        ]),
    );
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![json!({"Id": "001S", "Name": "Summit Ltd"})]),
    );
    let answers = Salesforce::find_matches(
        &conn(),
        "crm-company",
        lookups(&[
            &[json!({"domain": "acme.com"}), json!({"name": "Acme"})],
            &[
                json!({"domain": "summit.io"}),
                json!({"name": "summit ltd"}),
            ],
            &[json!({"domain": "localhost"}), json!({"name": "Nobody"})],
        ]),
    );
    assert_eq!(
        answers,
        Ok(vec![
            Ok(Some("001A".to_owned())),
            Ok(Some("001S".to_owned())),
            Ok(None),
        ])
    );
    let queries: Vec<String> = mock.requests().iter().map(soql_of).collect();
    assert_eq!(
        queries,
        [
            "SELECT Id, Website FROM Account WHERE Website LIKE '%acme.com%' OR Website LIKE '%summit.io%' ORDER BY CreatedDate ASC",
            "SELECT Id, Name FROM Account WHERE Name IN ('nobody', 'summit ltd') ORDER BY CreatedDate ASC",
        ]
    );
}

#[test]
fn find_matches_fails_only_the_items_of_a_failed_query() {
    let mock = MockHttp::new();
    // Emails are asked first, and fail; the names query still answers.
    mock.on("GET", QUERY).once().reply_json(
        500,
        json!([{"message": "try again", "errorCode": "SERVER_ERROR"}]),
    );
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![contact(
            "003C",
            json!({"FirstName": "Cy", "LastName": "Hale"}),
        )]),
    );
    let answers = Salesforce::find_matches(
        &conn(),
        "crm-contact",
        lookups(&[
            &[
                json!({"email_addresses": "ann@x.com"}),
                json!({"first_name": "Ann", "last_name": "A"}),
            ],
            &[json!({"first_name": "Cy", "last_name": "Hale"})],
            &[json!({"company_name": "Acme"})],
            &[
                json!({"company_name": "Acme"}),
                json!({"email_addresses": " "}),
            ],
            &["not an object".into()],
        ]),
    )
    .expect("answers");
    assert!(
        matches!(&answers[0], Err(ConnectorError::Transient(m)) if m.contains("SERVER_ERROR")),
        "{:?}",
        answers[0]
    );
    assert_eq!(answers[1], Ok(Some("003C".to_owned())));
    assert!(matches!(answers[2], Err(ConnectorError::Unsupported(_))));
    assert_eq!(
        answers[3],
        Ok(None),
        "an empty key is asked, and matches nothing"
    );
    assert!(answers[4].is_err());
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn find_matches_cuts_long_batches_into_queries_that_fit_a_uri() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        200,
        records(vec![contact(
            "003L",
            json!({"Email": format!("{}199@x.com", "a".repeat(60))}),
        )]),
    );
    let emails: Vec<Value> = (0..200)
        .map(|n| json!({"email_addresses": format!("{}{n}@x.com", "a".repeat(60))}))
        .collect();
    let items: Vec<&[Value]> = emails.iter().map(std::slice::from_ref).collect();
    let answers =
        Salesforce::find_matches(&conn(), "crm-contact", lookups(&items)).expect("answers");
    assert_eq!(answers[199], Ok(Some("003L".to_owned())));
    assert!(answers[..199].iter().all(|a| *a == Ok(None)));
    let requests = mock.requests();
    assert!(requests.len() > 1, "{} queries", requests.len());
    let mut asked = 0;
    for request in &requests {
        let soql = soql_of(request);
        assert!(
            switchyard_connector_sdk::http::encode(&soql).len() <= find::MAX_ENCODED_QUERY,
            "{} bytes",
            soql.len()
        );
        asked += soql.matches("@x.com").count();
    }
    assert_eq!(asked, 200, "every email is asked exactly once");
}

// ---------------------------------------------------------------- associate

#[test]
fn associate_sets_the_contact_account_id() {
    let mock = MockHttp::new();
    mock.on("PATCH", "/services/data/v60.0/sobjects/Contact/003A")
        .reply(204, "");
    mock.on("PATCH", "/services/data/v60.0/sobjects/Contact/003GONE")
        .reply_json(
            404,
            json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]),
        );
    assert_eq!(
        Salesforce::associate(&conn(), "crm-contact", "003A", "crm-company", "001B"),
        Ok(())
    );
    assert_eq!(
        Salesforce::associate(&conn(), "crm-company", "001C", "crm-contact", "003A"),
        Ok(())
    );
    assert!(matches!(
        Salesforce::associate(&conn(), "crm-contact", "003GONE", "crm-company", "001B"),
        Err(ConnectorError::NotFound(_))
    ));
    assert!(matches!(
        Salesforce::associate(&conn(), "crm-contact", "003A", "crm-contact", "003B"),
        Err(ConnectorError::Unsupported(_))
    ));
    let requests = mock.requests();
    assert_eq!(
        requests[0].url,
        format!("{INSTANCE}/services/data/v60.0/sobjects/Contact/003A")
    );
    assert_eq!(requests[0].body_json(), Some(json!({"AccountId": "001B"})));
    assert_eq!(requests[1].body_json(), Some(json!({"AccountId": "001C"})));
}

// ---------------------------------------------------------- pure functions

#[test]
fn soql_literals_are_escaped() {
    assert_eq!(soql::quote("plain"), "'plain'");
    assert_eq!(soql::quote(r"a'b\c"), r"'a\'b\\c'");
    assert_eq!(soql::quote("x\ny\t\"z\""), r#"'x\ny\t\"z\"'"#);
    assert_eq!(soql::contains_pattern("50%_off"), r"'%50\%\_off%'");
}

#[test]
fn datetime_literals() {
    let cases = [
        ("2024-05-20T20:49:32Z", Some("2024-05-20T20:49:32Z")),
        ("2024-05-20t20:49:32.123456z", Some("2024-05-20T20:49:32Z")),
        ("2024-05-20T20:49:32.000+0000", Some("2024-05-20T20:49:32Z")),
        (
            "2024-05-20T20:49:32-07:00",
            Some("2024-05-20T20:49:32-07:00"),
        ),
        (
            "2024-05-20T20:49:32.5+0530",
            Some("2024-05-20T20:49:32+05:30"),
        ),
        ("2024-05-20T20:49", Some("2024-05-20T20:49:00Z")),
        ("2024-05-20", Some("2024-05-20T00:00:00Z")),
        ("2024-05-20T24:00:00Z", None),
        ("2024-05-20T20:49:32.Z", None),
        ("2024-05-20T20:49:32Z'", None),
        ("2024/05/20", None),
        ("", None),
    ];
    for (input, want) in cases {
        assert_eq!(soql::datetime_literal(input).as_deref(), want, "{input}");
    }
}

#[test]
fn timestamps_and_domains() {
    assert_eq!(
        mapping::to_rfc3339("2024-05-20T20:49:32.000+0000"),
        "2024-05-20T20:49:32.000Z"
    );
    assert_eq!(
        mapping::to_rfc3339("2024-05-20T20:49:32.000+0530"),
        "2024-05-20T20:49:32.000+05:30"
    );
    assert_eq!(
        mapping::to_rfc3339("2024-05-20T20:49:32Z"),
        "2024-05-20T20:49:32Z"
    );
    assert_eq!(mapping::to_rfc3339("2024-05-20"), "2024-05-20");
    assert_eq!(
        mapping::domain_of("https://www.Acme.com/x?y"),
        Some("acme.com".into())
    );
    assert_eq!(mapping::domain_of("acme.co.uk"), Some("acme.co.uk".into()));
    assert_eq!(
        mapping::domain_of("http://user@shop.acme.com:8080"),
        Some("shop.acme.com".into())
    );
    assert_eq!(mapping::domain_of("localhost"), None);
    assert_eq!(mapping::domain_of(""), None);
}

#[test]
fn cursors_round_trip() {
    let cursor = Cursor {
        path: "/services/data/v60.0/query/01g-2000".to_owned(),
        resume: Some("2024-05-20T20:49:32Z".to_owned()),
    };
    assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
    let bare = Cursor::parse("/services/data/v60.0/query/01g-4000").unwrap();
    assert_eq!(bare.resume, None);
    assert_eq!(bare.encode(), "/services/data/v60.0/query/01g-4000");
}

// ---------------------------------------------------------- custom objects

const SOBJECTS: &str = "/services/data/v60.0/sobjects";

fn project(id: &str, fields: Value) -> Value {
    let mut raw = json!({
        "attributes": {"type": "Project__c",
                       "url": format!("/services/data/v60.0/sobjects/Project__c/{id}")},
        "Id": id,
        "SystemModstamp": "2024-05-20T20:49:32.000+0000",
    });
    if let (Some(raw), Some(fields)) = (raw.as_object_mut(), fields.as_object()) {
        raw.extend(fields.clone());
    }
    raw
}

/// A describe answer's field.
fn described(name: &str, kind: &str, flags: Value) -> Value {
    let mut field = json!({"name": name, "label": name.trim_end_matches("__c"), "type": kind,
                           "custom": name.ends_with("__c"), "createable": true,
                           "updateable": true, "nillable": true, "defaultedOnCreate": false,
                           "externalId": false, "unique": false, "picklistValues": []});
    if let (Some(field), Some(flags)) = (field.as_object_mut(), flags.as_object()) {
        field.extend(flags.clone());
    }
    field
}

#[test]
fn objects_are_the_orgs_custom_objects() {
    let mock = MockHttp::new();
    let sobject = |name: &str, label: &str, custom: bool, q: bool, c: bool, u: bool| {
        json!({"name": name, "label": label, "custom": custom, "queryable": q,
               "createable": c, "updateable": u, "keyPrefix": "a0X"})
    };
    mock.on("GET", SOBJECTS).reply_json(
        200,
        json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
            sobject("Account", "Account", false, true, true, true),
            sobject("Contact", "Contact", false, true, true, true),
            sobject("Project__c", "Project", true, true, true, true),
            sobject("Audit_Log__c", "Audit Log", true, true, false, false),
            sobject("Region__mdt", "Region", true, true, false, false),
            sobject("Order_Placed__e", "Order Placed", true, false, true, false),
            sobject("Project__Share", "Project Share", true, true, true, true),
            sobject("Hidden__c", "Hidden", true, false, false, false)
        ]}),
    );
    let objects = Salesforce::list_objects(&conn()).unwrap();
    let listed = |name: &str, label: &str, pull: bool, push: bool| ObjectInfo {
        name: name.into(),
        label: label.into(),
        custom: true,
        supports_pull: pull,
        supports_push: push,
    };
    assert_eq!(
        objects,
        [
            listed("Project__c", "Project", true, true),
            listed("Audit_Log__c", "Audit Log", true, false),
        ]
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url, format!("{INSTANCE}{SOBJECTS}"));
}

#[test]
fn fields_of_an_object_say_which_are_unique_and_required() {
    let mock = MockHttp::new();
    mock.on("GET", "/services/data/v60.0/sobjects/Project__c/describe")
        .reply_json(
            200,
            json!({"name": "Project__c", "custom": true, "fields": [
                described("Id", "id", json!({"createable": false, "updateable": false,
                                             "nillable": false, "defaultedOnCreate": true})),
                described("Name", "string", json!({"nillable": false})),
                described("Code__c", "string", json!({"externalId": true, "unique": true})),
                described("Legacy_Key__c", "string", json!({"unique": true})),
                described("Budget__c", "currency", json!({})),
                described("Active__c", "boolean", json!({"nillable": false,
                                                         "defaultedOnCreate": true})),
                described("Status__c", "picklist", json!({"picklistValues": [
                    {"value": "Open", "label": "Open", "active": true},
                    {"value": "Old", "label": "Old", "active": false}]}))
            ]}),
        );
    let fields = Salesforce::list_fields(&conn(), "object:Project__c").unwrap();
    let flags = switchyard_connector_sdk::testing::field_flags(&fields);
    assert_eq!(
        flags,
        [
            ("Id", "string", false, false, true, false, false),
            ("Name", "string", false, true, false, false, false),
            ("Code__c", "string", true, false, false, true, false),
            ("Legacy_Key__c", "string", true, false, false, true, false),
            ("Budget__c", "number", false, false, false, true, false),
            ("Active__c", "boolean", false, false, false, true, false),
            ("Status__c", "string", false, false, false, true, false),
        ]
    );
    assert_eq!(fields[6].options, [("Open".to_owned(), "Open".to_owned())]);
}

#[test]
fn common_fields_say_which_are_unique_and_required() {
    let mock = MockHttp::new();
    mock.on("GET", "/services/data/v60.0/sobjects/Contact/describe")
        .reply_json(
            200,
            json!({"name": "Contact", "fields": [
                described("LastName", "string", json!({"nillable": false})),
                described("Email", "email", json!({})),
                described("Badge__c", "string", json!({"externalId": true}))
            ]}),
        );
    let fields = Salesforce::list_fields(&conn(), "crm-contact").unwrap();
    let flags: Vec<(&str, bool, bool, bool)> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.mapped, f.unique, f.required))
        .collect();
    assert_eq!(
        flags,
        [
            ("LastName", true, false, true),
            ("Email", true, false, false),
            ("Badge__c", false, true, false)
        ]
    );
}

#[test]
fn object_pull_selects_the_asked_fields_and_carries_only_those() {
    let mock = MockHttp::new();
    let next = "/services/data/v60.0/query/01gD0000002HU6KIAW-200";
    mock.on("GET", QUERY).reply_json(
        200,
        json!({"totalSize": 2, "done": false, "nextRecordsUrl": next, "records": [
            project("a01A", json!({"Name": "Apollo", "Code__c": "PRJ-00001",
                                   "Budget__c": 12.5, "Status__c": null}))
        ]}),
    );
    let mut req = PullRequest::new("object:Project__c", 200);
    req.passthrough_fields = vec![
        "Name".into(),
        "Code__c".into(),
        "budget__c".into(),
        "Status__c".into(),
        "Id".into(),
        "Name".into(),
    ];
    req.include_remote = true;
    let page = Salesforce::pull(&conn(), req).unwrap();
    assert_eq!(
        page.next_cursor.as_deref(),
        Some("/services/data/v60.0/query/01gD0000002HU6KIAW-200#2024-05-20T20:49:32Z")
    );
    let record = &page.records[0];
    assert_eq!(record.id, "a01A");
    assert_eq!(
        record.data_as::<Value>().unwrap(),
        json!({"Name": "Apollo", "Code__c": "PRJ-00001", "budget__c": 12.5, "Id": "a01A"}),
        "the asked fields with Salesforce's values, no attributes, nulls left out"
    );
    assert!(record.remote.is_some() && record.passthrough.is_none());
    assert_eq!(
        soql_of(&mock.requests()[0]),
        "SELECT Id, SystemModstamp, Name, Code__c, budget__c, Status__c FROM Project__c \
         ORDER BY SystemModstamp ASC"
    );
}

#[test]
fn incremental_object_pull_uses_query_all_and_reports_deletions() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY_ALL).reply_json(
        200,
        records(vec![
            project("a01A", json!({"Code__c": "PRJ-1", "IsDeleted": false})),
            project("a01B", json!({"Code__c": "PRJ-2", "IsDeleted": true})),
        ]),
    );
    let mut req = PullRequest::new("object:Project__c", 500);
    req.since = Some("2024-05-01T10:00:00.250Z".into());
    req.passthrough_fields = vec!["Code__c".into()];
    let page = Salesforce::pull(&conn(), req).unwrap();
    assert_eq!(page.next_cursor, None);
    assert_eq!(
        page.records[0].data_as::<Value>().unwrap(),
        json!({"Code__c": "PRJ-1"})
    );
    assert!(page.records[1].deleted);
    let request = &mock.requests()[0];
    assert_eq!(request.path(), QUERY_ALL);
    assert_eq!(
        soql_of(request),
        "SELECT Id, SystemModstamp, Code__c, IsDeleted FROM Project__c \
         WHERE SystemModstamp >= 2024-05-01T10:00:00Z ORDER BY SystemModstamp ASC"
    );
    assert_eq!(
        request.header("sforce-query-options"),
        Some("batchSize=500")
    );
}

#[test]
fn object_names_and_field_names_stay_out_of_soql_unless_identifiers() {
    let mock = MockHttp::new();
    let refused = |endgrate_type: &str, fields: &[&str]| {
        let mut req = PullRequest::new(endgrate_type, 200);
        req.passthrough_fields = fields.iter().map(|f| (*f).to_owned()).collect();
        Salesforce::pull(&conn(), req).err()
    };
    match refused("object:Project__c", &["Name FROM User --"]) {
        Some(ConnectorError::InvalidData(message)) => {
            assert!(message.contains("\"Name FROM User --\""), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match refused("object:Project__c WHERE Id != null", &[]) {
        Some(ConnectorError::InvalidData(message)) => {
            assert!(message.contains("Project__c WHERE"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match refused("object:Opportunity", &[]) {
        Some(ConnectorError::Unsupported(message)) => {
            assert!(message.contains("Opportunity"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let mut linked = PullRequest::new("object:Project__c", 200);
    linked.associations = vec!["crm-company".into()];
    assert!(matches!(
        Salesforce::pull(&conn(), linked),
        Err(ConnectorError::Unsupported(_))
    ));
    let answers = Salesforce::find_matches(
        &conn(),
        "object:Project__c",
        lookups(&[&[json!({"Code__c') OR Name != ('": "x"})]]),
    )
    .unwrap();
    assert!(
        matches!(&answers[0], Err(ConnectorError::InvalidData(m)) if m.contains("Code__c')")),
        "{answers:?}"
    );
    assert!(matches!(
        Salesforce::to_cdm("object:Project__c", "{}"),
        Err(ConnectorError::Unsupported(_))
    ));
    assert!(
        mock.requests().is_empty(),
        "every refusal comes before a request"
    );
}

#[test]
fn object_push_writes_the_fields_through_collections() {
    let mock = MockHttp::new();
    mock.on("POST", COMPOSITE).reply_json(
        200,
        json!([
            {"id": "a01N1", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "DUPLICATE_VALUE",
                "message": "duplicate value found: Code__c duplicates value on record with id: a01A",
                "fields": ["Code__c"]}]}
        ]),
    );
    mock.on("PATCH", COMPOSITE)
        .reply_json(200, json!([{"id": "a01U", "success": true, "errors": []}]));
    let mut linked = item(None, json!({"Name": "Linked"}));
    linked.associations = vec![("crm-company".into(), vec!["001A".into()])];
    let items = vec![
        item(
            None,
            json!({"Name": "Apollo", "Budget__c": 12.5, "Active__c": true,
                   "Tags__c": ["a", "b"], "Notes__c": null}),
        ),
        item(None, json!({"Name": "Dup", "Code__c": "PRJ-1"})),
        item(Some("a01U"), json!({"Notes__c": null, "Budget__c": 3})),
        item(None, json!({"Name, Id": "x"})),
        item(None, json!({"Owner__c": {"Id": "005"}})),
        linked,
    ];
    let results = Salesforce::push(&conn(), "object:Project__c", items).unwrap();
    let created = results[0].as_ref().unwrap();
    assert_eq!((created.id.as_str(), created.created), ("a01N1", true));
    assert_eq!(
        json_of(&created.data),
        json!({"Name": "Apollo", "Budget__c": 12.5, "Active__c": true, "Tags__c": "a;b"})
    );
    assert!(
        matches!(&results[1], Err(ConnectorError::InvalidData(m)) if m.contains("DUPLICATE_VALUE")),
        "{:?}",
        results[1]
    );
    let updated = results[2].as_ref().unwrap();
    assert_eq!((updated.id.as_str(), updated.created), ("a01U", false));
    assert!(
        matches!(&results[3], Err(ConnectorError::InvalidData(m)) if m.contains("\"Name, Id\"")),
        "{:?}",
        results[3]
    );
    assert!(
        matches!(&results[4], Err(ConnectorError::InvalidData(m)) if m.contains("Owner__c")),
        "{:?}",
        results[4]
    );
    assert!(matches!(results[5], Err(ConnectorError::Unsupported(_))));

    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "no read-back: {requests:?}");
    assert_eq!(
        requests[0].body_json().unwrap(),
        json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Project__c"}, "Name": "Apollo", "Budget__c": 12.5,
             "Active__c": true, "Tags__c": "a;b"},
            {"attributes": {"type": "Project__c"}, "Name": "Dup", "Code__c": "PRJ-1"}
        ]}),
        "nothing to clear on a create"
    );
    assert_eq!(
        requests[1].body_json().unwrap(),
        json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Project__c"}, "Id": "a01U", "Notes__c": null,
             "Budget__c": 3}
        ]}),
        "a null clears the field on an update"
    );
}

#[test]
fn object_lookups_ask_a_batch_per_field_with_in() {
    let mock = MockHttp::new();
    // First round: the two-field key set, then the codes; second round: the
    // budget of the item whose code matched nothing.
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![project(
            "a01N",
            json!({"Name": "Apollo", "Active__c": true}),
        )]),
    );
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![
            project("a01A", json!({"Code__c": "prj-00001"})),
            project("a01O", json!({"Code__c": "O'Brien-1"})),
        ]),
    );
    mock.on("GET", QUERY).once().reply_json(
        200,
        records(vec![project("a01B", json!({"Budget__c": 7.0}))]),
    );
    let answers = Salesforce::find_matches(
        &conn(),
        "object:Project__c",
        lookups(&[
            &[json!({"Code__c": "PRJ-00001"})],
            &[json!({"Code__c": "o'brien-1"})],
            &[json!({"Code__c": "PRJ-404"}), json!({"Budget__c": 7})],
            &[json!({"Name": "Apollo", "Active__c": true})],
            &[json!({"Code__c": "  "})],
        ]),
    )
    .unwrap();
    assert_eq!(
        answers,
        [
            Ok(Some("a01A".to_owned())),
            Ok(Some("a01O".to_owned())),
            Ok(Some("a01B".to_owned())),
            Ok(Some("a01N".to_owned())),
            Ok(None),
        ]
    );
    let queries: Vec<String> = mock.requests().iter().map(soql_of).collect();
    assert_eq!(
        queries,
        [
            "SELECT Id, Active__c, Name FROM Project__c WHERE (Active__c = true AND Name = \
             'apollo') ORDER BY CreatedDate ASC",
            "SELECT Id, Code__c FROM Project__c WHERE Code__c IN ('o\\'brien-1', 'prj-00001', \
             'prj-404') ORDER BY CreatedDate ASC",
            "SELECT Id, Budget__c FROM Project__c WHERE Budget__c IN (7) ORDER BY CreatedDate ASC",
        ],
        "a round per key set; one query per shape, numbers and booleans bare"
    );
}

#[test]
fn object_find_match_is_the_batch_lookup_of_one_key_set() {
    let mock = MockHttp::new();
    mock.on("GET", QUERY).reply_json(
        200,
        records(vec![project("a01A", json!({"Code__c": "PRJ-1"}))]),
    );
    assert_eq!(
        Salesforce::find_match(&conn(), "object:Project__c", r#"{"Code__c": "PRJ-1"}"#),
        Ok(Some("a01A".to_owned()))
    );
    assert_eq!(
        soql_of(&mock.requests()[0]),
        "SELECT Id, Code__c FROM Project__c WHERE Code__c IN ('prj-1') ORDER BY CreatedDate ASC"
    );
}
