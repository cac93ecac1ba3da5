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
            discovery: None,
        },
    ],
    parent: 0,
    child: 1,
};
