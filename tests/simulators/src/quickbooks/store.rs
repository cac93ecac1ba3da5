//! QuickBooks' data and write rules: customers and invoices, the unique
//! `DisplayName` (fault 6240), `SyncToken` optimistic locking (fault 5010),
//! sparse versus full updates, invoice totals and deletes.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::errors::Fault;
use super::model::{self, Entity, QbRow};
use crate::clock;
use crate::data::Dataset;
use crate::store::Table;

/// Everything the QuickBooks simulator holds.
pub struct Store {
    customers: Table<QbRow>,
    invoices: Table<QbRow>,
    /// Lower-cased DisplayName → customer, built on first use.
    names: Option<HashMap<String, u64>>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn missing(param: &str) -> Fault {
    Fault::validation(
        "2020",
        "Required param missing, need to supply the required value for the API",
        format!("Required parameter {param} is missing in the request"),
    )
}

impl Store {
    pub fn new(ds: Dataset) -> Store {
        let (a, b) = (ds, ds);
        Store {
            customers: Table::new(
                ds.people,
                move |n| model::customer(&a, n),
                move |n| ds.person_updated(n),
            ),
            invoices: Table::new(
                ds.invoices,
                move |n| model::invoice(&b, n),
                move |n| ds.invoice_updated(n),
            ),
            names: None,
        }
    }

    pub fn table(&self, entity: Entity) -> &Table<QbRow> {
        match entity {
            Entity::Customer => &self.customers,
            Entity::Invoice => &self.invoices,
        }
    }

    fn table_mut(&mut self, entity: Entity) -> &mut Table<QbRow> {
        match entity {
            Entity::Customer => &mut self.customers,
            Entity::Invoice => &mut self.invoices,
        }
    }

    fn names(&mut self) -> &mut HashMap<String, u64> {
        if self.names.is_none() {
            let mut index = HashMap::with_capacity(self.customers.last() as usize);
            for n in self.customers.numbers_from(1) {
                if let Some(c) = self.customers.get(n)
                    && let Some(name) = c.body["DisplayName"].as_str()
                {
                    index.insert(name.to_lowercase(), n);
                }
            }
            self.names = Some(index);
        }
        self.names.get_or_insert_with(HashMap::new)
    }

    /// Rejects properties the entity does not have (fault 2010).
    fn check_fields(entity: Entity, body: &Map<String, Value>) -> Result<(), Fault> {
        match body.keys().find(|k| !entity.fields().contains(&k.as_str())) {
            Some(k) => Err(Fault::validation(
                "2010",
                "Request has invalid or unsupported property",
                format!(
                    "Property Name:Unrecognized field \"{k}\" specified is unsupported or invalid"
                ),
            )),
            None => Ok(()),
        }
    }

    /// Create (no `Id`) or update (with `Id` and the current `SyncToken`).
    pub fn write(&mut self, entity: Entity, body: &Value, now: i64) -> Result<Value, Fault> {
        let obj = body.as_object().ok_or_else(|| missing(entity.name()))?;
        Self::check_fields(entity, obj)?;
        match obj.get("Id").and_then(text) {
            None => self.create(entity, obj, now),
            Some(id) => self.update(entity, &id, obj, now),
        }
    }

    fn display_name(obj: &Map<String, Value>) -> Option<String> {
        if let Some(name) = obj
            .get("DisplayName")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        {
            return Some(name.trim().to_string());
        }
        let parts: Vec<&str> = ["Title", "GivenName", "MiddleName", "FamilyName", "Suffix"]
            .iter()
            .filter_map(|k| obj.get(*k).and_then(Value::as_str))
            .filter(|s| !s.trim().is_empty())
            .collect();
        if !parts.is_empty() {
            return Some(parts.join(" "));
        }
        obj.get("CompanyName")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    }

    /// Fills a customer's derived fields; checks the name.
    fn shape_customer(&mut self, n: u64, obj: &mut Map<String, Value>) -> Result<(), Fault> {
        let name = Self::display_name(obj).ok_or_else(|| {
            Fault::validation(
                "6000",
                "A business validation error has occurred while processing your request",
                "Business Validation Error: You must fill out at least one of the name fields (Title, GivenName, MiddleName, FamilyName, Suffix, DisplayName).".into(),
            )
        })?;
        if let Some(existing) = self
            .names()
            .get(&name.to_lowercase())
            .copied()
            .filter(|e| *e != n)
        {
            return Err(Fault::duplicate_name(existing));
        }
        for (k, v) in [
            ("domain", json!("QBO")),
            ("Active", json!(true)),
            ("Balance", json!(0)),
            ("BalanceWithJobs", json!(0)),
            ("Taxable", json!(false)),
            ("Job", json!(false)),
            ("BillWithParent", json!(false)),
            ("PreferredDeliveryMethod", json!("Print")),
            (
                "CurrencyRef",
                json!({"value": "USD", "name": "United States Dollar"}),
            ),
            ("PrintOnCheckName", json!(name)),
        ] {
            obj.entry(k).or_insert(v);
        }
        obj.insert("DisplayName".into(), json!(name));
        obj.insert("FullyQualifiedName".into(), json!(name));
        Ok(())
    }

    /// Fills an invoice's derived fields; checks the customer and lines.
    fn shape_invoice(
        &mut self,
        n: u64,
        obj: &mut Map<String, Value>,
        now: i64,
    ) -> Result<(), Fault> {
        let customer = obj
            .get("CustomerRef")
            .and_then(|r| text(r.get("value").unwrap_or(r)))
            .ok_or_else(|| missing("CustomerRef"))?;
        let row = customer
            .parse::<u64>()
            .ok()
            .and_then(|c| self.customers.live(c))
            .filter(|c| c.active())
            .ok_or_else(|| {
                Fault::validation(
                    "2500",
                    "Invalid Reference Id",
                    format!("Invalid Reference Id : Customer assigned to this transaction has been deleted. Before you can modify this transaction, you must restore Customer {customer}"),
                )
            })?;
        let name = row.body["DisplayName"].clone();
        obj.insert(
            "CustomerRef".into(),
            json!({"value": customer, "name": name}),
        );
        let lines = obj
            .get("Line")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| missing("Line"))?;
        let mut total = 0.0;
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line["DetailType"] == "SubTotalLineDetail" {
                continue;
            }
            let detail = &line["SalesItemLineDetail"];
            let amount = line["Amount"].as_f64().unwrap_or_else(|| {
                detail["Qty"].as_f64().unwrap_or(1.0) * detail["UnitPrice"].as_f64().unwrap_or(0.0)
            });
            total += amount;
            let mut l = line.clone();
            l["Id"] = json!((i + 1).to_string());
            l["LineNum"] = json!(i + 1);
            l["Amount"] = json!(amount);
            if l.get("DetailType").is_none() {
                l["DetailType"] = json!("SalesItemLineDetail");
            }
            out.push(l);
        }
        let total = (total * 100.0).round() / 100.0;
        out.push(
            json!({"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}),
        );
        obj.insert("Line".into(), json!(out));
        obj.insert("TotalAmt".into(), json!(total));
        // Custom fields: named from the company's definitions; an entry for
        // a definition the company does not use is dropped, as QuickBooks does.
        if let Some(Value::Array(given)) = obj.get("CustomField") {
            let kept: Vec<Value> = given
                .iter()
                .filter_map(|f| {
                    let id = text(f.get("DefinitionId")?)?;
                    model::SALES_CUSTOM_FIELDS
                        .iter()
                        .any(|(d, _)| *d == id)
                        .then(|| {
                            let value = f
                                .get("StringValue")
                                .and_then(Value::as_str)
                                .map(str::to_owned);
                            model::custom_field(&id, value)
                        })
                })
                .collect();
            obj.insert("CustomField".into(), json!(kept));
        }
        obj.entry("Balance").or_insert(json!(total));
        obj.entry("DocNumber")
            .or_insert(json!((1000 + n).to_string()));
        let txn = obj
            .get("TxnDate")
            .and_then(Value::as_str)
            .and_then(clock::parse)
            .unwrap_or(now);
        obj.entry("TxnDate").or_insert(json!(clock::date(txn)));
        obj.entry("DueDate")
            .or_insert(json!(clock::date(txn + 30 * 86_400_000)));
        obj.entry("CurrencyRef")
            .or_insert(json!({"value": "USD", "name": "United States Dollar"}));
        obj.entry("domain").or_insert(json!("QBO"));
        obj.entry("EmailStatus").or_insert(json!("NotSet"));
        obj.entry("PrintStatus").or_insert(json!("NeedToPrint"));
        Ok(())
    }

    fn shape(
        &mut self,
        entity: Entity,
        n: u64,
        obj: &mut Map<String, Value>,
        now: i64,
    ) -> Result<(), Fault> {
        match entity {
            Entity::Customer => self.shape_customer(n, obj),
            Entity::Invoice => self.shape_invoice(n, obj, now),
        }
    }

    fn store(
        &mut self,
        entity: Entity,
        n: u64,
        mut obj: Map<String, Value>,
        created: i64,
        now: i64,
        sync: u64,
    ) -> Value {
        obj.insert("Id".into(), json!(n.to_string()));
        obj.insert("SyncToken".into(), json!(sync.to_string()));
        obj.insert("sparse".into(), json!(false));
        obj.insert("MetaData".into(), model::metadata(created, now));
        let body = Value::Object(obj);
        if entity == Entity::Customer
            && let Some(name) = body["DisplayName"].as_str()
        {
            let name = name.to_lowercase();
            self.names().insert(name, n);
        }
        self.table_mut(entity).put(
            n,
            QbRow {
                body: body.clone(),
                updated_ms: now,
                deleted: false,
            },
        );
        body
    }

    fn create(
        &mut self,
        entity: Entity,
        obj: &Map<String, Value>,
        now: i64,
    ) -> Result<Value, Fault> {
        let n = self.table(entity).last() + 1;
        let mut obj = obj.clone();
        obj.remove("SyncToken");
        self.shape(entity, n, &mut obj, now)?;
        Ok(self.store(entity, n, obj, now, now, 0))
    }

    fn current(&self, entity: Entity, id: &str) -> Result<(u64, QbRow), Fault> {
        id.parse::<u64>()
            .ok()
            .and_then(|n| self.table(entity).live(n).map(|r| (n, r.into_owned())))
            .ok_or_else(|| Fault::not_found(entity.name(), id))
    }

    fn check_sync(current: &QbRow, obj: &Map<String, Value>) -> Result<(), Fault> {
        let given = obj
            .get("SyncToken")
            .and_then(text)
            .ok_or_else(|| missing("SyncToken"))?;
        if given.parse::<u64>().ok() != Some(current.sync_token()) {
            return Err(Fault::stale());
        }
        Ok(())
    }

    fn update(
        &mut self,
        entity: Entity,
        id: &str,
        obj: &Map<String, Value>,
        now: i64,
    ) -> Result<Value, Fault> {
        let (n, current) = self.current(entity, id)?;
        Self::check_sync(&current, obj)?;
        let sparse = obj.get("sparse").and_then(Value::as_bool).unwrap_or(false);
        let mut next = if sparse {
            let mut merged = current.body.as_object().cloned().unwrap_or_default();
            for (k, v) in obj {
                merged.insert(k.clone(), v.clone());
            }
            merged
        } else {
            obj.clone()
        };
        let old_name = current.body["DisplayName"].as_str().map(str::to_lowercase);
        self.shape(entity, n, &mut next, now)?;
        if let Some(old) = old_name {
            self.names().remove(&old);
        }
        let created = current.body["MetaData"]["CreateTime"]
            .as_str()
            .and_then(clock::parse)
            .unwrap_or(now);
        Ok(self.store(entity, n, next, created, now, current.sync_token() + 1))
    }

    /// `operation=delete` (invoices only; customers are made inactive).
    pub fn delete(&mut self, entity: Entity, body: &Value, now: i64) -> Result<Value, Fault> {
        if entity == Entity::Customer {
            return Err(Fault::validation(
                "6000",
                "A business validation error has occurred while processing your request",
                "Business Validation Error: Customers cannot be deleted; set Active to false."
                    .into(),
            ));
        }
        let obj = body.as_object().ok_or_else(|| missing("Id"))?;
        let id = obj.get("Id").and_then(text).ok_or_else(|| missing("Id"))?;
        let (n, current) = self.current(entity, &id)?;
        Self::check_sync(&current, obj)?;
        let mut row = current;
        row.deleted = true;
        row.updated_ms = now;
        self.table_mut(entity).put(n, row);
        Ok(json!({"status": "Deleted", "domain": "QBO", "Id": n.to_string()}))
    }

    /// Stores a body as given (for `Control`), assigning Id and MetaData.
    pub fn seed(&mut self, entity: Entity, body: &Value, now: i64) -> Result<Value, String> {
        let mut obj = body.as_object().cloned().ok_or("expected a JSON object")?;
        let n = self.table(entity).last() + 1;
        let updated = obj
            .get("MetaData")
            .and_then(|m| m["LastUpdatedTime"].as_str())
            .and_then(clock::parse)
            .unwrap_or(now);
        obj.remove("MetaData");
        Ok(self.store(entity, n, obj, updated, updated, 0))
    }
}
