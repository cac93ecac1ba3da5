//! What a `pull`, `push`, `find_matches` or `list_fields` call is about: a
//! common type the manifest lists, or a provider object found by
//! `list_objects`, which the host names `object:<name>`.

/// The subject of a call, read from its `endgrate_type` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A common-data-model type, e.g. `crm-contact`: records are in the
    /// common model.
    Common(&'a str),
    /// A provider object by its `ObjectInfo::name`, e.g. `Project__c`:
    /// records are the provider's own fields.
    Object(&'a str),
}

/// How the host prefixes an object's name.
const OBJECT_PREFIX: &str = "object:";

impl<'a> Subject<'a> {
    /// Reads the `endgrate_type` argument of a call.
    pub fn parse(endgrate_type: &'a str) -> Subject<'a> {
        match endgrate_type.strip_prefix(OBJECT_PREFIX) {
            Some(name) => Subject::Object(name),
            None => Subject::Common(endgrate_type),
        }
    }

    /// The `endgrate_type` argument the host passes for object `name`.
    pub fn object_type(name: &str) -> String {
        format!("{OBJECT_PREFIX}{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types_and_objects_are_told_apart() {
        assert_eq!(
            Subject::parse("crm-contact"),
            Subject::Common("crm-contact")
        );
        assert_eq!(
            Subject::parse("object:Project__c"),
            Subject::Object("Project__c")
        );
        assert_eq!(
            Subject::parse(&Subject::object_type("p_projects")),
            Subject::Object("p_projects")
        );
    }
}
