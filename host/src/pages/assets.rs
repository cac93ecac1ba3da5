//! `GET /ui/{file}` and `/favicon.ico`: the pages' embedded files
//! ([`crate::ui::assets`]), revalidated on each load.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::ApiError;
use crate::ui::assets::asset;

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
