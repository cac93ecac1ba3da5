//! QuickBooks Customers and Invoices ↔ the common data model
//! (`accounting-customer`, `accounting-invoice`). See the README's tables.
//!
//! Reading, a field that is absent, `null` or empty produces no common field.
//! Writing, only the common fields present are written; `null` (or an empty
//! list) clears what it maps to, and a create leaves empty values out.

use serde_json::{Map, Number, Value, json};
use switchyard_connector_sdk::ConnectorError;

/// The two QuickBooks entities this connector moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer,
    Invoice,
}

impl Kind {
    /// The kind of a common type, or `unsupported`.
    pub fn from_type(endgrate_type: &str) -> Result<Kind, ConnectorError> {
        match endgrate_type {
            "accounting-customer" => Ok(Kind::Customer),
            "accounting-invoice" => Ok(Kind::Invoice),
            other => Err(ConnectorError::unsupported(format!(
                "QuickBooks does not support the common type {other} \
                 (only accounting-customer and accounting-invoice)"
            ))),
        }
    }

    /// The common type.
    pub fn endgrate_type(self) -> &'static str {
        match self {
            Kind::Customer => "accounting-customer",
            Kind::Invoice => "accounting-invoice",
        }
    }

    /// The entity name in queries and JSON bodies.
    pub fn entity(self) -> &'static str {
        match self {
            Kind::Customer => "Customer",
            Kind::Invoice => "Invoice",
        }
    }

    /// The entity in URL paths (`/v3/company/{realm}/customer`).
    pub fn path(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Invoice => "invoice",
        }
    }

    /// For messages: `customer`, `invoice`.
    pub fn noun(self) -> &'static str {
        self.path()
    }
}

/// The text at `pointer`: `None` when absent, `null` or empty.
fn text_at(raw: &Value, pointer: &str) -> Option<String> {
    match raw.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The number at `pointer` (numbers as they are, numeric strings parsed).
fn number_at(raw: &Value, pointer: &str) -> Option<Value> {
    match raw.pointer(pointer)? {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number),
        _ => None,
    }
}

/// The id of a QuickBooks record (`Id`, a string; numbers accepted).
pub fn id_of(raw: &Value) -> Option<String> {
    text_at(raw, "/Id")
}

/// The record's `MetaData.LastUpdatedTime`.
pub fn updated_at(raw: &Value) -> Option<String> {
    text_at(raw, "/MetaData/LastUpdatedTime")
}

/// The customer id an invoice references (`CustomerRef.value`).
pub fn customer_ref(raw: &Value) -> Option<String> {
    text_at(raw, "/CustomerRef/value")
}

/// A raw QuickBooks record (as the API returns it, or wrapped as
/// `{"Customer": {...}}`) in the common model.
pub fn to_cdm(kind: Kind, raw: &Value) -> Value {
    let raw = raw.get(kind.entity()).unwrap_or(raw);
    match kind {
        Kind::Customer => customer_to_cdm(raw),
        Kind::Invoice => invoice_to_cdm(raw),
    }
}

fn customer_to_cdm(raw: &Value) -> Value {
    let mut out = Map::new();
    let mut put = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(field.to_owned(), value);
        }
    };
    put(
        "customer_name",
        text_at(raw, "/DisplayName").map(Value::from),
    );
    put(
        "company_name",
        text_at(raw, "/CompanyName").map(Value::from),
    );
    put(
        "email_addresses",
        text_at(raw, "/PrimaryEmailAddr/Address")
            .map(|e| json!([{ "email_address": e, "email_address_type": "WORK" }])),
    );
    let phones: Vec<Value> = [
        ("/PrimaryPhone/FreeFormNumber", "WORK"),
        ("/Mobile/FreeFormNumber", "MOBILE"),
    ]
    .iter()
    .filter_map(|(pointer, ty)| {
        text_at(raw, pointer).map(|n| json!({ "phone_number": n, "phone_number_type": ty }))
    })
    .collect();
    put(
        "phone_numbers",
        (!phones.is_empty()).then_some(Value::Array(phones)),
    );
    let addresses: Vec<Value> = [("BillAddr", "BILLING"), ("ShipAddr", "SHIPPING")]
        .iter()
        .filter_map(|(name, ty)| address_to_cdm(raw.get(*name)?, ty))
        .collect();
    put(
        "addresses",
        (!addresses.is_empty()).then_some(Value::Array(addresses)),
    );
    put(
        "active",
        raw.get("Active").and_then(Value::as_bool).map(Value::from),
    );
    put("updated_at", updated_at(raw).map(Value::from));
    Value::Object(out)
}

/// The common `address` fields and the QuickBooks `PhysicalAddress` fields
/// they come from (`street_2` also gathers `Line3`..`Line5` when reading).
const ADDRESS_FIELDS: &[(&str, &str)] = &[
    ("street_1", "Line1"),
    ("street_2", "Line2"),
    ("city", "City"),
    ("state", "CountrySubDivisionCode"),
    ("postal_code", "PostalCode"),
    ("country", "Country"),
];

fn address_to_cdm(addr: &Value, address_type: &str) -> Option<Value> {
    let mut out = Map::new();
    for (field, name) in ADDRESS_FIELDS {
        let value = if *field == "street_2" {
            let lines: Vec<String> = ["Line2", "Line3", "Line4", "Line5"]
                .iter()
                .filter_map(|line| text_at(addr, &format!("/{line}")))
                .collect();
            (!lines.is_empty()).then(|| lines.join(", "))
        } else {
            text_at(addr, &format!("/{name}"))
        };
        if let Some(value) = value {
            out.insert((*field).to_owned(), Value::from(value));
        }
    }
    if out.is_empty() {
        return None;
    }
    out.insert("address_type".to_owned(), Value::from(address_type));
    Some(Value::Object(out))
}

fn invoice_to_cdm(raw: &Value) -> Value {
    let mut out = Map::new();
    let mut put = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(field.to_owned(), value);
        }
    };
    put("number", text_at(raw, "/DocNumber").map(Value::from));
    put("customer_id", customer_ref(raw).map(Value::from));
    put("issue_date", text_at(raw, "/TxnDate").map(Value::from));
    put("due_date", text_at(raw, "/DueDate").map(Value::from));
    put(
        "currency",
        text_at(raw, "/CurrencyRef/value").map(Value::from),
    );
    let total = number_at(raw, "/TotalAmt");
    let balance = number_at(raw, "/Balance");
    put(
        "status",
        status(total.as_ref(), balance.as_ref()).map(Value::from),
    );
    put("total_amount", total);
    put("balance", balance);
    let lines: Vec<Value> = raw
        .get("Line")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .filter(|line| {
                    line.get("DetailType").and_then(Value::as_str) == Some("SalesItemLineDetail")
                })
                .map(line_to_cdm)
                .collect()
        })
        .unwrap_or_default();
    put(
        "line_items",
        (!lines.is_empty()).then_some(Value::Array(lines)),
    );
    put("updated_at", updated_at(raw).map(Value::from));
    Value::Object(out)
}

/// QuickBooks keeps no invoice status; it follows from what is left to pay:
/// nothing `PAID`, part of the total `PARTIALLY_PAID`, all of it `OPEN`.
fn status(total: Option<&Value>, balance: Option<&Value>) -> Option<&'static str> {
    let total = total?.as_f64()?;
    let balance = balance?.as_f64()?;
    Some(if balance <= 0.0 {
        "PAID"
    } else if balance < total {
        "PARTIALLY_PAID"
    } else {
        "OPEN"
    })
}

fn line_to_cdm(line: &Value) -> Value {
    let mut out = Map::new();
    if let Some(description) = text_at(line, "/Description") {
        out.insert("description".to_owned(), Value::from(description));
    }
    for (field, pointer) in [
        ("quantity", "/SalesItemLineDetail/Qty"),
        ("unit_price", "/SalesItemLineDetail/UnitPrice"),
        ("amount", "/Amount"),
    ] {
        if let Some(value) = number_at(line, pointer) {
            out.insert(field.to_owned(), value);
        }
    }
    Value::Object(out)
}

/// A common-model value as QuickBooks text: strings as they are, numbers and
/// booleans written out, `null` as `""` (which clears it on an update).
fn text(field: &str, value: &Value) -> Result<String, ConnectorError> {
    match value {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        _ => Err(ConnectorError::invalid_data(format!(
            "{field} must be a string, not {value}"
        ))),
    }
}

/// A common-model number (JSON numbers, or numeric strings).
fn number(field: &str, value: &Value) -> Result<Option<Value>, ConnectorError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(_) => Ok(Some(value.clone())),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(|n| Some(Value::Number(n)))
            .ok_or_else(|| {
                ConnectorError::invalid_data(format!("{field} must be a number, not {value}"))
            }),
        _ => Err(ConnectorError::invalid_data(format!(
            "{field} must be a number, not {value}"
        ))),
    }
}

/// A calendar date (`2024-05-01`; the date part of an RFC 3339 instant).
fn date(field: &str, value: &Value) -> Result<String, ConnectorError> {
    let text = text(field, value)?;
    if text.is_empty() {
        return Ok(text);
    }
    let day = text.get(..10).unwrap_or_default();
    let b = day.as_bytes();
    let ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if ok {
        Ok(day.to_owned())
    } else {
        Err(ConnectorError::invalid_data(format!(
            "{field} must be a date like 2024-05-01, not {value}"
        )))
    }
}

/// The list at `field`: `None` when absent; `Some(&[])` for `null`.
fn list<'a>(
    record: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a [Value]>, ConnectorError> {
    match record.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(&[])),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(ConnectorError::invalid_data(format!(
            "{field} must be a list, not {other}"
        ))),
    }
}

/// The uppercase `type_key` of a list entry.
fn type_of(entry: &Value, type_key: &str) -> String {
    entry
        .get(type_key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The first entry whose type is in `preferred`, else the first whose type
/// is not in `excluded`.
fn pick<'a>(
    list: &'a [Value],
    type_key: &str,
    preferred: &[&str],
    excluded: &[&str],
) -> Option<&'a Value> {
    list.iter()
        .find(|v| preferred.contains(&type_of(v, type_key).as_str()))
        .or_else(|| {
            list.iter()
                .find(|v| !excluded.contains(&type_of(v, type_key).as_str()))
        })
}

fn object(kind: Kind, record: &Value) -> Result<&Map<String, Value>, ConnectorError> {
    record.as_object().ok_or_else(|| {
        ConnectorError::invalid_data(format!("a {} must be a JSON object", kind.endgrate_type()))
    })
}

/// A common-model customer as the fields of a QuickBooks Customer body (only
/// the fields present; `Id`, `SyncToken` and `sparse` are the writer's).
pub fn customer_from_cdm(record: &Value) -> Result<Map<String, Value>, ConnectorError> {
    let record = object(Kind::Customer, record)?;
    let mut out = Map::new();
    match record.get("customer_name") {
        // QuickBooks needs a name: a null one is left alone, not cleared.
        None | Some(Value::Null) => {}
        Some(value) => {
            out.insert(
                "DisplayName".to_owned(),
                Value::from(text("customer_name", value)?),
            );
        }
    }
    if let Some(value) = record.get("company_name") {
        out.insert(
            "CompanyName".to_owned(),
            Value::from(text("company_name", value)?),
        );
    }
    if let Some(emails) = list(record, "email_addresses")? {
        let email = pick(emails, "email_address_type", &["WORK"], &[])
            .and_then(|e| e.get("email_address"))
            .map(|e| text("email_address", e))
            .transpose()?
            .unwrap_or_default();
        out.insert("PrimaryEmailAddr".to_owned(), json!({ "Address": email }));
    }
    if let Some(phones) = list(record, "phone_numbers")? {
        let number = |entry: Option<&Value>| {
            entry
                .and_then(|p| p.get("phone_number"))
                .map(|n| text("phone_number", n))
                .transpose()
        };
        let primary = number(pick(phones, "phone_number_type", &["WORK"], &["MOBILE"]))?;
        let mobile = number(
            phones
                .iter()
                .find(|p| type_of(p, "phone_number_type") == "MOBILE"),
        )?;
        // An empty list clears both; otherwise only the numbers given are written.
        if phones.is_empty() || primary.is_some() {
            out.insert(
                "PrimaryPhone".to_owned(),
                json!({ "FreeFormNumber": primary.unwrap_or_default() }),
            );
        }
        if phones.is_empty() || mobile.is_some() {
            out.insert(
                "Mobile".to_owned(),
                json!({ "FreeFormNumber": mobile.unwrap_or_default() }),
            );
        }
    }
    if let Some(addresses) = list(record, "addresses")? {
        let billing = pick(
            addresses,
            "address_type",
            &["BILLING", "PRIMARY"],
            &["SHIPPING"],
        );
        let shipping = addresses
            .iter()
            .find(|a| type_of(a, "address_type") == "SHIPPING");
        // An empty list clears both; otherwise only the addresses given are written.
        if addresses.is_empty() || billing.is_some() {
            out.insert("BillAddr".to_owned(), address_from_cdm(billing)?);
        }
        if addresses.is_empty() || shipping.is_some() {
            out.insert("ShipAddr".to_owned(), address_from_cdm(shipping)?);
        }
    }
    match record.get("active") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(active)) => {
            out.insert("Active".to_owned(), Value::from(*active));
        }
        Some(Value::String(s))
            if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
        {
            out.insert(
                "Active".to_owned(),
                Value::from(s.eq_ignore_ascii_case("true")),
            );
        }
        Some(other) => {
            return Err(ConnectorError::invalid_data(format!(
                "active must be true or false, not {other}"
            )));
        }
    }
    Ok(out)
}

/// A common `address` as a QuickBooks `PhysicalAddress`; `None` (clearing)
/// gives every field empty.
fn address_from_cdm(address: Option<&Value>) -> Result<Value, ConnectorError> {
    let mut out = Map::new();
    for (field, name) in ADDRESS_FIELDS {
        let value = match address {
            None => String::new(),
            Some(address) => match address.get(*field) {
                None => continue,
                Some(value) => text(field, value)?,
            },
        };
        out.insert((*name).to_owned(), Value::from(value));
    }
    Ok(Value::Object(out))
}

/// A common-model invoice as the fields of a QuickBooks Invoice body.
/// `total_amount`, `balance` and `status` are QuickBooks' to compute and are
/// not written; lines without an item are sold as `default_item_id`.
pub fn invoice_from_cdm(
    record: &Value,
    default_item_id: &str,
) -> Result<Map<String, Value>, ConnectorError> {
    let record = object(Kind::Invoice, record)?;
    let mut out = Map::new();
    if let Some(value) = record.get("number") {
        out.insert("DocNumber".to_owned(), Value::from(text("number", value)?));
    }
    match record.get("customer_id") {
        None | Some(Value::Null) => {}
        Some(value) => {
            out.insert(
                "CustomerRef".to_owned(),
                json!({ "value": text("customer_id", value)? }),
            );
        }
    }
    if let Some(value) = record.get("issue_date") {
        out.insert(
            "TxnDate".to_owned(),
            Value::from(date("issue_date", value)?),
        );
    }
    if let Some(value) = record.get("due_date") {
        out.insert("DueDate".to_owned(), Value::from(date("due_date", value)?));
    }
    match record.get("currency") {
        None | Some(Value::Null) => {}
        Some(value) => {
            out.insert(
                "CurrencyRef".to_owned(),
                json!({ "value": text("currency", value)?.to_ascii_uppercase() }),
            );
        }
    }
    if let Some(lines) = list(record, "line_items")? {
        let lines = lines
            .iter()
            .enumerate()
            .map(|(i, line)| line_from_cdm(i, line, default_item_id))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert("Line".to_owned(), Value::Array(lines));
    }
    Ok(out)
}

fn line_from_cdm(i: usize, line: &Value, item: &str) -> Result<Value, ConnectorError> {
    let at = format!("line_items[{i}]");
    let field = |name: &str| format!("{at}.{name}");
    let Some(line) = line.as_object() else {
        return Err(ConnectorError::invalid_data(format!(
            "{at} must be an object, not {line}"
        )));
    };
    let get = |name: &str| -> Result<Option<Value>, ConnectorError> {
        line.get(name)
            .map(|v| number(&field(name), v))
            .transpose()
            .map(Option::flatten)
    };
    let quantity = get("quantity")?;
    let unit_price = get("unit_price")?;
    let amount = match get("amount")? {
        Some(amount) => amount,
        None => {
            let product = quantity
                .as_ref()
                .and_then(Value::as_f64)
                .zip(unit_price.as_ref().and_then(Value::as_f64))
                .map(|(q, p)| (q * p * 100.0).round() / 100.0)
                .and_then(Number::from_f64)
                .ok_or_else(|| {
                    ConnectorError::invalid_data(format!(
                        "{at} needs amount, or quantity and unit_price"
                    ))
                })?;
            Value::Number(product)
        }
    };
    let mut detail = Map::new();
    detail.insert("ItemRef".to_owned(), json!({ "value": item }));
    if let Some(quantity) = quantity {
        detail.insert("Qty".to_owned(), quantity);
    }
    if let Some(unit_price) = unit_price {
        detail.insert("UnitPrice".to_owned(), unit_price);
    }
    let mut out = Map::new();
    if let Some(description) = line.get("description") {
        out.insert(
            "Description".to_owned(),
            Value::from(text(&field("description"), description)?),
        );
    }
    out.insert("Amount".to_owned(), amount);
    out.insert("DetailType".to_owned(), Value::from("SalesItemLineDetail"));
    out.insert("SalesItemLineDetail".to_owned(), Value::Object(detail));
    Ok(Value::Object(out))
}

/// The body of a create: the empty values an update uses to clear fields
/// mean nothing on a new record, so they are left out (also inside nested
/// objects such as addresses).
pub fn without_empty(body: Map<String, Value>) -> Map<String, Value> {
    body.into_iter()
        .filter_map(|(name, value)| match value {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::Object(fields) => {
                let fields = without_empty(fields);
                (!fields.is_empty()).then_some((name, Value::Object(fields)))
            }
            other => Some((name, other)),
        })
        .collect()
}
