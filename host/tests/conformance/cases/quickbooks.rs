//! QuickBooks Online: customers (never deleted) and invoices.

use crate::*;

/// A write to a QuickBooks entity (`customer`, `invoice`) of this realm.
fn quickbooks_write(sim: &Simulator, entity: &str, query: &str, body: Value) -> ApiCall {
    ApiCall::new(
        "POST",
        format!(
            "/v3/company/{}/{entity}?minorversion=75{query}",
            sim.control().realm_id()
        ),
        Some(body),
    )
}

/// A sparse update of `raw` at its current `SyncToken`.
fn quickbooks_update(sim: &Simulator, entity: &str, raw: &Value, mut fields: Value) -> ApiCall {
    fields["Id"] = raw["Id"].clone();
    fields["SyncToken"] = raw["SyncToken"].clone();
    fields["sparse"] = json!(true);
    quickbooks_write(sim, entity, "", fields)
}

/// `GET /v3/company/{realm}/preferences`: the sales-form custom fields in
/// use (`UseSalesCustomN`) and their names (`SalesCustomNameN`); invoices
/// carry their values in `CustomField`, by name.
fn quickbooks_invoice_fields(answer: &Value) -> Vec<Value> {
    let entries: Vec<Value> = answer
        .pointer("/Preferences/SalesFormsPrefs/CustomField")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|g| g["CustomField"].as_array().cloned().unwrap_or_default())
        .collect();
    let on = |id: &str| {
        entries.iter().any(|e| {
            e["Name"] == format!("SalesFormsPrefs.UseSalesCustom{id}")
                && e["BooleanValue"] == json!(true)
        })
    };
    entries
        .iter()
        .filter_map(|e| {
            let id = e["Name"]
                .as_str()?
                .strip_prefix("SalesFormsPrefs.SalesCustomName")?;
            on(id).then(|| json!({ "name": e["StringValue"] }))
        })
        .collect()
}

pub static QUICKBOOKS: Case = Case {
    connector: "quickbooks",
    min_page_size: 1,
    provider: Provider::QuickBooks,
    oauth_result: |sim| {
        (
            vec![
                ("code".to_owned(), "authorization-code".to_owned()),
                ("state".to_owned(), "state".to_owned()),
                ("realmId".to_owned(), sim.control().realm_id().to_owned()),
            ],
            json!({ "token_type": "bearer", "expires_in": 3600, "x_refresh_token_expires_in": 8_726_400 }),
        )
    },
    types: [
        TypeCase {
            endgrate_type: "accounting-customer",
            kind: "Customer",
            id: id_upper,
            expected: quickbooks_customer,
            link: None,
            update: |sim, raw, n| {
                quickbooks_update(
                    sim,
                    "customer",
                    raw,
                    json!({"CompanyName": format!("Changed Co {n}")}),
                )
            },
            // Customers are never deleted, only made inactive.
            delete: None,
            reports_deletions: false,
            // Raw, as QuickBooks holds it: every customer has `Active`.
            seed: || json!({"DisplayName": "Seeded Customer", "Active": true, "PrimaryEmailAddr": {"Address": "seeded.customer@example.org"}}),
            discovery: None,
        },
        TypeCase {
            endgrate_type: "accounting-invoice",
            kind: "Invoice",
            id: id_upper,
            expected: quickbooks_invoice,
            link: Some(Link {
                endgrate_type: "accounting-customer",
                ids: |raw| ids_at(raw, &["/CustomerRef/value"]),
            }),
            update: |sim, raw, n| {
                quickbooks_update(
                    sim,
                    "invoice",
                    raw,
                    // QuickBooks refuses to change an invoice of an inactive
                    // customer: it moves to customer 1, which is active.
                    json!({
                        "DueDate": format!("2031-01-{:02}", 1 + n % 28),
                        "CustomerRef": {"value": "1"},
                    }),
                )
            },
            delete: Some(|sim, raw| {
                let body = json!({"Id": raw["Id"], "SyncToken": raw["SyncToken"]});
                quickbooks_write(sim, "invoice", "&operation=delete", body)
            }),
            // Change data capture lists deleted invoices.
            reports_deletions: true,
            seed: || {
                json!({
                    "CustomerRef": {"value": "1"},
                    "Line": [{
                        "Description": "Seeded line",
                        "Amount": 20.0,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": 10.0},
                    }],
                })
            },
            discovery: Some(Discovery {
                call: |sim| {
                    ApiCall::new(
                        "GET",
                        format!(
                            "/v3/company/{}/preferences?minorversion=75",
                            sim.control().realm_id()
                        ),
                        None,
                    )
                },
                definitions: quickbooks_invoice_fields,
                name: |d| d["name"].as_str().unwrap_or_default().to_owned(),
                custom: |_| true,
                value: |raw, name| {
                    raw["CustomField"]
                        .as_array()?
                        .iter()
                        .find(|f| f["Name"] == name)?
                        .get("StringValue")
                        .cloned()
                },
            }),
        },
    ],
    parent: 0,
    child: 1,
    // No custom objects.
    object: None,
    prefetches_itself: true,
};
