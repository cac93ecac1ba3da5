//! The pages' static files (stylesheet, scripts, icons), embedded in the
//! binary and served from `/ui/{file}`: the pages work with no internet and
//! no CDN, and a host upgrade replaces them all at once.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;

/// Every asset: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "connect.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/connect.js"),
    ),
    (
        "statistics.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/statistics.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/dashboard.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("assets/favicon.svg"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_bytes!("assets/logo.svg"),
    ),
];

/// An asset's content type and bytes.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, b)| (*t, *b))
}

/// `GET /ui/{file}`.
pub async fn serve(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (content_type, bytes) = asset(&file)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("No asset {file:?}.")))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated each time: a host upgrade must never leave a stale script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// `GET /favicon.ico`: browsers ask for it whatever the page says.
pub async fn favicon() -> Response {
    serve(Path("favicon.svg".to_owned()))
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_name_no_external_url() {
        for (name, _, bytes) in ASSETS {
            let text = String::from_utf8_lossy(bytes);
            for line in text.lines() {
                let external = (line.contains("http://") || line.contains("https://"))
                    && !line.contains("http://www.w3.org/2000/svg");
                assert!(!external, "{name} refers to an external URL: {line}");
            }
        }
    }
}
