//! Typed records of the common data model, the shapes the host's default
//! schemas describe (`GET /api/schemas/<endgrate-type>` on any host serves
//! the same thing as JSON Schema).
//!
//! `pull` and `to_cdm` build these and hand them to
//! [`PulledRecord::new`](crate::PulledRecord::new); `push` and `from_cdm`
//! read them with [`PushItem::data_as`](crate::PushItem::data_as) or
//! [`json::from_json`](crate::json::from_json):
//!
//! ```
//! use switchyard_connector_sdk::cdm::{CrmContact, EmailAddress, EmailAddressType};
//! use switchyard_connector_sdk::prelude::*;
//!
//! let contact = CrmContact {
//!     first_name: Some("Ada".into()),
//!     email_addresses: Some(vec![EmailAddress::new("ada@example.com", EmailAddressType::Work)]),
//!     ..CrmContact::default()
//! };
//! let record = PulledRecord::new("c1", &contact)?;
//! assert_eq!(record.data, r#"{"first_name":"Ada","email_addresses":[{"email_address":"ada@example.com","email_address_type":"WORK"}]}"#);
//! # Ok::<(), ConnectorError>(())
//! ```
//!
//! Every field the schema lets be absent or `null` is an `Option` and is
//! left out of the JSON when `None`: on a push, a field that is absent is
//! not written, so an update built from these structs touches only what it
//! carries. Fields the schemas do not name are dropped when parsing; an enum
//! value the schema does not list (`"FAX"`) fails to parse, as the host's
//! validation refuses it too: map provider values onto the enums yourself.
//! `updated_at` is RFC 3339 text (`2024-05-01T12:00:00Z`); invoice dates are
//! `YYYY-MM-DD`.
//!
//! The SDK's tests compare every struct here with the host's schema files
//! (`host/src/cdm/schemas/`), field by field, so the two cannot drift apart.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A common-model record type, named as the host names it.
pub trait CommonType: Serialize + DeserializeOwned {
    /// The `endgrate-type` this struct is the shape of, e.g. `crm-contact`.
    const ENDGRATE_TYPE: &'static str;
}

/// A person in a CRM (`crm-contact`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrmContact {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// The first is the one upserts match on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<EmailAddress>>,
    /// The first is the one upserts match on when there is no email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    /// Job title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The employer's name as text (links to `crm-company` records are
    /// associations, not this field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    /// When the provider last changed the record, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl CommonType for CrmContact {
    const ENDGRATE_TYPE: &'static str = "crm-contact";
}

/// An organisation in a CRM (`crm-company`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrmCompany {
    /// Upserts match on it when there is no domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `example.com`. Upserts match on it first; a pushed company with a
    /// `website` but no `domain` gets the website's domain from the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    /// When the provider last changed the record, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl CommonType for CrmCompany {
    const ENDGRATE_TYPE: &'static str = "crm-company";
}

/// A customer in an accounting system (`accounting-customer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountingCustomer {
    /// The name the customer is filed under. Upserts match on it when there
    /// is no email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// The first is the one upserts match on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<EmailAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// When the provider last changed the record, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl CommonType for AccountingCustomer {
    const ENDGRATE_TYPE: &'static str = "accounting-customer";
}

/// An invoice in an accounting system (`accounting-invoice`). Invoices have
/// no upsert keys: a push without an `id` always creates one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountingInvoice {
    /// The invoice number people see (`INV-1001`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The provider id of the `accounting-customer` it bills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// ISO 4217 code as the provider gives it (`USD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_amount: Option<f64>,
    /// What is still owed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<f64>,
    /// The provider's status word (`paid`, `open`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_items: Option<Vec<InvoiceLineItem>>,
    /// When the provider last changed the record, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl CommonType for AccountingInvoice {
    const ENDGRATE_TYPE: &'static str = "accounting-invoice";
}

/// One line of an [`AccountingInvoice`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLineItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<f64>,
    /// The line's total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
}

/// An email address of a contact or customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailAddress {
    /// Required by the schema.
    pub email_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address_type: Option<EmailAddressType>,
}

impl EmailAddress {
    pub fn new(email_address: impl Into<String>, email_address_type: EmailAddressType) -> Self {
        Self {
            email_address: email_address.into(),
            email_address_type: Some(email_address_type),
        }
    }
}

/// What kind of email address it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmailAddressType {
    Work,
    Personal,
    Other,
}

impl EmailAddressType {
    /// Every value, in the schema's order.
    pub const ALL: [Self; 3] = [Self::Work, Self::Personal, Self::Other];
}

/// A phone number of a contact, company or customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// Required by the schema. As the provider stores it; the host does not
    /// normalise numbers.
    pub phone_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_type: Option<PhoneNumberType>,
}

impl PhoneNumber {
    pub fn new(phone_number: impl Into<String>, phone_number_type: PhoneNumberType) -> Self {
        Self {
            phone_number: phone_number.into(),
            phone_number_type: Some(phone_number_type),
        }
    }
}

/// What kind of phone number it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhoneNumberType {
    Work,
    Mobile,
    Home,
    Other,
}

impl PhoneNumberType {
    /// Every value, in the schema's order.
    pub const ALL: [Self; 4] = [Self::Work, Self::Mobile, Self::Home, Self::Other];
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_type: Option<AddressType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State, province or region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// What kind of address it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AddressType {
    Primary,
    Secondary,
    Office,
    Shipping,
    Billing,
    Other,
}

impl AddressType {
    /// Every value, in the schema's order.
    pub const ALL: [Self; 6] = [
        Self::Primary,
        Self::Secondary,
        Self::Office,
        Self::Shipping,
        Self::Billing,
        Self::Other,
    ];
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn none_fields_are_left_out_and_nulls_read_as_none() {
        let contact = CrmContact {
            last_name: Some("Lovelace".into()),
            ..CrmContact::default()
        };
        assert_eq!(
            serde_json::to_value(&contact).ok(),
            Some(json!({"last_name": "Lovelace"}))
        );
        let parsed: Result<CrmContact, _> = serde_json::from_value(
            json!({"first_name": null, "last_name": "Lovelace", "nickname": "Ada"}),
        );
        assert_eq!(parsed.ok(), Some(contact));
    }

    #[test]
    fn enums_use_the_schema_spelling() {
        let phone = PhoneNumber::new("+1 555", PhoneNumberType::Mobile);
        assert_eq!(
            serde_json::to_value(&phone).ok(),
            Some(json!({"phone_number": "+1 555", "phone_number_type": "MOBILE"}))
        );
        let unknown: Result<PhoneNumber, _> =
            serde_json::from_value(json!({"phone_number": "1", "phone_number_type": "FAX"}));
        assert!(unknown.is_err());
    }
}
