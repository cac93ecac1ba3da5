//! `GET /dashboard`: the developer dashboard ([`crate::ui::dashboard`]).

use axum::http::StatusCode;
use axum::response::Response;

pub async fn page() -> Response {
    crate::ui::dashboard::page().respond(StatusCode::OK)
}
