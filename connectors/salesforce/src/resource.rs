//! What a call is about at Salesforce: the sObject of a common type the
//! manifest lists (Contact, Account), or an object subject
//! (`object:Project__c`, a custom object), and the checks that let a name
//! into SOQL text and paths only when it is an identifier.

use switchyard_connector_sdk::prelude::*;

use crate::mapping::Kind;

/// The subject of a call, at Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A common type's sObject: records in the common model.
    Common(Kind),
    /// A custom object (`Project__c`, `ns__Project__c`): records are its
    /// own fields.
    Custom(&'a str),
}

impl<'a> Resource<'a> {
    /// Reads a call's `endgrate_type`: a common type the manifest lists, or
    /// `object:<name>` naming a custom object.
    pub fn parse(endgrate_type: &'a str) -> Result<Self, ConnectorError> {
        match Subject::parse(endgrate_type) {
            Subject::Common(_) => Kind::from_type(endgrate_type).map(Resource::Common),
            Subject::Object(name) => custom_object(name).map(Resource::Custom),
        }
    }

    /// The sObject name, in paths, SOQL and `attributes.type`.
    pub fn sobject(self) -> &'a str {
        match self {
            Resource::Common(kind) => kind.sobject(),
            Resource::Custom(name) => name,
        }
    }

    /// The common type's kind; `None` for a custom object.
    pub fn kind(self) -> Option<Kind> {
        match self {
            Resource::Common(kind) => Some(kind),
            Resource::Custom(_) => None,
        }
    }
}

/// Whether `name` is a SOQL identifier: letters, digits and `_` only.
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A field name allowed into SOQL and record bodies; anything else is
/// `invalid-data` naming it.
pub fn field_name(name: &str) -> Result<&str, ConnectorError> {
    if is_identifier(name) {
        Ok(name)
    } else {
        Err(ConnectorError::invalid_data(format!(
            "Salesforce has no field named {name:?}: field names are letters, digits and `_`"
        )))
    }
}

/// Whether `name` is a custom object's API name (`Project__c`).
pub fn is_custom_object(name: &str) -> bool {
    is_identifier(name) && name.len() > "__c".len() && name.ends_with("__c")
}

/// A custom object's name; a name that is not an identifier is
/// `invalid-data`, a standard object's `unsupported`.
pub fn custom_object(name: &str) -> Result<&str, ConnectorError> {
    if is_custom_object(name) {
        Ok(name)
    } else if is_identifier(name) {
        Err(ConnectorError::unsupported(format!(
            "Salesforce moves custom objects (`<Name>__c`) as object subjects, not {name}"
        )))
    } else {
        Err(ConnectorError::invalid_data(format!(
            "Salesforce has no object named {name:?}: custom object names are letters, digits \
             and `_`, ending in `__c`"
        )))
    }
}
