//! Pieces of URLs the SDK needs in more than one place.

/// The path part of an absolute or relative URL.
pub(crate) fn path_of(url: &str) -> &str {
    let after_scheme = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => url,
    };
    after_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or(after_scheme)
}
