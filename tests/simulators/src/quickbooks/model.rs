//! QuickBooks entities: Customers (from generated people; a few inactive,
//! since customers are never deleted) and Invoices (each referencing a
//! customer), held as JSON bodies with `Id`, `SyncToken` and `MetaData`.

use serde_json::{Value, json};

use crate::clock;
use crate::data::{Dataset, money};
use crate::store::Row;

/// The entity types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Customer,
    Invoice,
}

const CUSTOMER_FIELDS: &[&str] = &[
    "Id",
    "SyncToken",
    "sparse",
    "domain",
    "MetaData",
    "DisplayName",
    "Title",
    "GivenName",
    "MiddleName",
    "FamilyName",
    "Suffix",
    "CompanyName",
    "FullyQualifiedName",
    "PrintOnCheckName",
    "PrimaryEmailAddr",
    "PrimaryPhone",
    "Mobile",
    "Fax",
    "AlternatePhone",
    "WebAddr",
    "BillAddr",
    "ShipAddr",
    "Notes",
    "Active",
    "Balance",
    "BalanceWithJobs",
    "Taxable",
    "Job",
    "BillWithParent",
    "ParentRef",
    "PreferredDeliveryMethod",
    "CurrencyRef",
    "OpenBalanceDate",
];
const INVOICE_FIELDS: &[&str] = &[
    "CustomField",
    "Id",
    "SyncToken",
    "sparse",
    "domain",
    "MetaData",
    "DocNumber",
    "TxnDate",
    "DueDate",
    "CustomerRef",
    "CurrencyRef",
    "Line",
    "TotalAmt",
    "Balance",
    "PrivateNote",
    "CustomerMemo",
    "BillEmail",
    "BillAddr",
    "ShipAddr",
    "EmailStatus",
    "PrintStatus",
    "SalesTermRef",
    "ApplyTaxAfterDiscount",
];

impl Entity {
    /// Case-insensitive, as the query language and paths are.
    pub fn parse(s: &str) -> Option<Entity> {
        if s.eq_ignore_ascii_case("customer") {
            Some(Entity::Customer)
        } else if s.eq_ignore_ascii_case("invoice") {
            Some(Entity::Invoice)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Entity::Customer => "Customer",
            Entity::Invoice => "Invoice",
        }
    }

    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Entity::Customer => CUSTOMER_FIELDS,
            Entity::Invoice => INVOICE_FIELDS,
        }
    }
}

/// One stored entity.
#[derive(Debug, Clone, PartialEq)]
pub struct QbRow {
    /// The full API body (with `Id`, `SyncToken`, `MetaData`).
    pub body: Value,
    pub updated_ms: i64,
    /// Deleted invoices (customers are only ever made inactive).
    pub deleted: bool,
}

impl Row for QbRow {
    fn updated_ms(&self) -> i64 {
        self.updated_ms
    }
    fn is_deleted(&self) -> bool {
        self.deleted
    }
}

impl QbRow {
    pub fn sync_token(&self) -> u64 {
        self.body["SyncToken"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    pub fn active(&self) -> bool {
        self.body["Active"].as_bool().unwrap_or(true)
    }
}

/// `MetaData` for the given times.
pub fn metadata(created: i64, updated: i64) -> Value {
    json!({"CreateTime": clock::quickbooks(created), "LastUpdatedTime": clock::quickbooks(updated)})
}

/// Whether generated customer `n` is active (about one in 17 is not).
pub fn generated_active(n: u64) -> bool {
    !n.is_multiple_of(17)
}

/// The display name of generated customer `n` (unique).
pub fn generated_display_name(ds: &Dataset, n: u64) -> String {
    let p = ds.person(n);
    format!("{} {} ({n})", p.first_name, p.last_name)
}

/// Generated customer `n`.
pub fn customer(ds: &Dataset, n: u64) -> QbRow {
    let p = ds.person(n);
    let name = format!("{} {} ({n})", p.first_name, p.last_name);
    let mut body = json!({
        "Id": n.to_string(),
        "SyncToken": "0",
        "domain": "QBO",
        "sparse": false,
        "DisplayName": name,
        "FullyQualifiedName": name,
        "PrintOnCheckName": format!("{} {}", p.first_name, p.last_name),
        "GivenName": p.first_name,
        "FamilyName": p.last_name,
        "PrimaryEmailAddr": {"Address": p.email},
        "PrimaryPhone": {"FreeFormNumber": p.phone},
        "BillAddr": {
            "Id": (n * 2).to_string(),
            "Line1": p.address.street,
            "City": p.address.city,
            "CountrySubDivisionCode": p.address.state,
            "PostalCode": p.address.postal_code,
            "Country": p.address.country,
        },
        "Active": generated_active(n),
        "Balance": 0,
        "BalanceWithJobs": 0,
        "Taxable": false,
        "Job": false,
        "BillWithParent": false,
        "PreferredDeliveryMethod": "Print",
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "MetaData": metadata(p.created_ms, p.updated_ms),
    });
    if let Some(m) = p.mobile {
        body["Mobile"] = json!({"FreeFormNumber": m});
    }
    if let Some(o) = p.org {
        body["CompanyName"] = json!(ds.org_name(o));
        body["WebAddr"] = json!({"URI": format!("https://www.{}", ds.org_domain(o))});
    }
    QbRow {
        body,
        updated_ms: p.updated_ms,
        deleted: false,
    }
}

/// Generated invoice `n`.
pub fn invoice(ds: &Dataset, n: u64) -> QbRow {
    let inv = ds.invoice(n);
    let mut lines: Vec<Value> = inv
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "Id": (i + 1).to_string(),
                "LineNum": i + 1,
                "Description": l.description,
                "Amount": money(l.quantity * l.unit_cents),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "1", "name": "Services"},
                    "Qty": l.quantity,
                    "UnitPrice": money(l.unit_cents),
                },
            })
        })
        .collect();
    lines.push(json!({"Amount": money(inv.total_cents), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}));
    let body = json!({
        "Id": n.to_string(),
        "SyncToken": "0",
        "domain": "QBO",
        "sparse": false,
        "DocNumber": (1000 + n).to_string(),
        "TxnDate": clock::date(inv.txn_ms),
        "DueDate": clock::date(inv.due_ms),
        "CustomerRef": {"value": inv.customer.to_string(), "name": generated_display_name(ds, inv.customer)},
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "Line": lines,
        "TotalAmt": money(inv.total_cents),
        "Balance": money(inv.balance_cents),
        "EmailStatus": "NotSet",
        "PrintStatus": "NeedToPrint",
        "MetaData": metadata(inv.created_ms, inv.updated_ms),
        "CustomField": [
            custom_field("1", Some(format!("C-{}", n % 40))),
            custom_field("2", Some(SALES_REPS[(n % 3) as usize].to_owned())),
        ],
    });
    QbRow {
        body,
        updated_ms: inv.updated_ms,
        deleted: false,
    }
}

/// The company's sales-form custom fields, by definition id: QuickBooks
/// offers three, of which this company uses two.
pub const SALES_CUSTOM_FIELDS: [(&str, &str); 2] = [("1", "Crew #"), ("2", "Sales rep")];
const SALES_REPS: [&str; 3] = ["Avery", "Blake", "Casey"];

/// An invoice's `CustomField` entry for definition `id`, as QuickBooks
/// returns it (without `StringValue` when unset); `None` for an id the
/// company does not use.
pub fn custom_field(id: &str, value: Option<String>) -> Value {
    let name = SALES_CUSTOM_FIELDS
        .iter()
        .find(|(d, _)| *d == id)
        .map_or("", |(_, n)| n);
    let mut field = json!({ "DefinitionId": id, "Name": name, "Type": "StringType" });
    if let Some(value) = value {
        field["StringValue"] = json!(value);
    }
    field
}

/// `GET /v3/company/{realm}/preferences`, the parts the simulator keeps:
/// which sales-form custom fields are on, and their names, in QuickBooks'
/// nested name-value shape.
pub fn preferences() -> Value {
    let used: Vec<Value> = (1..=3)
        .map(|i| {
            let on = SALES_CUSTOM_FIELDS.iter().any(|(d, _)| *d == i.to_string());
            json!({ "Name": format!("SalesFormsPrefs.UseSalesCustom{i}"), "Type": "BooleanType", "BooleanValue": on })
        })
        .collect();
    let names: Vec<Value> = SALES_CUSTOM_FIELDS
        .iter()
        .map(|(id, name)| {
            json!({ "Name": format!("SalesFormsPrefs.SalesCustomName{id}"), "Type": "StringType", "StringValue": name })
        })
        .collect();
    json!({
        "SalesFormsPrefs": {
            "CustomField": [{ "CustomField": used }, { "CustomField": names }],
            "AllowDeposit": true,
            "AllowDiscount": true,
        },
        "CurrencyPrefs": { "MultiCurrencyEnabled": false, "HomeCurrency": { "value": "USD" } },
        "domain": "QBO",
        "sparse": false,
        "Id": "1",
        "SyncToken": "0",
    })
}
