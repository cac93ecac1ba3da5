//! What a call is about at HubSpot: the object type of a common type the
//! manifest lists (contacts, companies), or an object subject
//! (`object:<name>`, a custom object by its fully qualified name such as
//! `p_projects`), and the checks on the names that go into HubSpot's paths
//! and property lists.

use switchyard_connector_sdk::prelude::*;

use crate::mapping::Kind;

/// The last-modified property every HubSpot object type other than
/// contacts has, custom objects included.
pub const OBJECT_MODIFIED: &str = "hs_lastmodifieddate";

/// The subject of a call, at HubSpot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A common type's object type: records in the common model.
    Common(Kind),
    /// An object by the name its endpoints take (`p_projects`, `2-7411001`):
    /// records are its own properties.
    Object(&'a str),
}

impl<'a> Resource<'a> {
    /// Reads a call's `endgrate_type`: a common type the manifest lists, or
    /// `object:<name>` with a name HubSpot's paths can take.
    pub fn parse(endgrate_type: &'a str) -> Result<Self, ConnectorError> {
        match Subject::parse(endgrate_type) {
            Subject::Common(_) => Kind::from_type(endgrate_type).map(Resource::Common),
            Subject::Object(name) => object_name(name).map(Resource::Object),
        }
    }

    /// The object type in API paths (`contacts`, `p_projects`).
    pub fn path(self) -> &'a str {
        match self {
            Resource::Common(kind) => kind.path(),
            Resource::Object(name) => name,
        }
    }

    /// The `endgrate_type` the host names it by (`crm-contact`,
    /// `object:p_projects`).
    pub fn subject(self) -> String {
        match self {
            Resource::Common(kind) => kind.endgrate_type().to_owned(),
            Resource::Object(name) => Subject::object_type(name),
        }
    }
}

/// Whether `name` is made of letters, digits and `extra` only.
fn made_of(name: &str, extra: &[u8]) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// An object name HubSpot's paths take: a fully qualified name
/// (`p_projects`, `p12345_projects`), an object type id (`2-7411001`) or a
/// standard object's name (`deals`). Anything else is `invalid-data`.
pub fn object_name(name: &str) -> Result<&str, ConnectorError> {
    if made_of(name, b"_-") {
        Ok(name)
    } else {
        Err(ConnectorError::invalid_data(format!(
            "HubSpot has no object named {name:?}: object names are letters, digits, `_` and `-`"
        )))
    }
}

/// A property's internal name (`project_code`): letters, digits and `_`.
/// Anything else is `invalid-data` naming it.
pub fn property_name(name: &str) -> Result<&str, ConnectorError> {
    if made_of(name, b"_") {
        Ok(name)
    } else {
        Err(ConnectorError::invalid_data(format!(
            "HubSpot has no property named {name:?}: property names are letters, digits and `_`"
        )))
    }
}
