//! The HTML shell every page shares (head, brand bar, footer), HTML escaping,
//! and the "something is wrong" page shown instead of a stack trace.
//!
//! Pages carry no inline script or style: everything comes from `/ui/*`, so
//! the Content-Security-Policy below can forbid anything else.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The policy every page is served with: only this host's own files.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query-string value.
pub fn q(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What kind of page: the end user's connect card, or a wide app page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A centred card (connect flow, statistics, problems).
    Card,
    /// The full-width dashboard application.
    App,
}

/// A whole page.
pub struct Page<'a> {
    pub title: &'a str,
    pub shape: Shape,
    /// Scripts under `/ui/` to load (deferred).
    pub scripts: &'a [&'a str],
    pub body: String,
}

impl Page<'_> {
    pub fn render(&self) -> String {
        let scripts: String = self
            .scripts
            .iter()
            .map(|s| format!("<script src=\"/ui/{s}\" defer></script>"))
            .collect();
        let body_class = match self.shape {
            Shape::Card => "shape-card",
            Shape::App => "shape-app",
        };
        let inner = match self.shape {
            Shape::Card => format!(
                "<div class=\"card-wrap\"><main class=\"card\" id=\"main\">{}</main>\
                 <footer class=\"card-foot\"><span class=\"lock\" aria-hidden=\"true\"></span>Secured by <strong>Switchyard</strong></footer></div>",
                self.body
            ),
            Shape::App => self.body.clone(),
        };
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light\">\
             <title>{title} · Switchyard</title>\
             <link rel=\"icon\" href=\"/ui/favicon.svg\" type=\"image/svg+xml\">\
             <link rel=\"stylesheet\" href=\"/ui/app.css\">{scripts}</head>\
             <body class=\"{body_class}\"><a class=\"skip\" href=\"#main\">Skip to content</a>{inner}</body></html>",
            title = escape(self.title),
        )
    }

    /// The page as a response with `status`.
    pub fn respond(&self, status: StatusCode) -> Response {
        let mut response = (status, Html(self.render())).into_response();
        secure_headers(&mut response);
        response
    }
}

/// Headers every page gets: the CSP, no caching of per-session pages, no framing.
pub fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
}

/// The small brand row at the top of a card.
pub fn brand() -> &'static str {
    "<div class=\"brand\"><img src=\"/ui/logo.svg\" alt=\"\" width=\"28\" height=\"28\"><span>Switchyard</span></div>"
}

/// A page telling the end user what went wrong and what to do, never a trace.
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let icon = if status.is_server_error() {
        "icon-warn"
    } else {
        "icon-info"
    };
    Page {
        title,
        shape: Shape::Card,
        scripts: &[],
        body: format!(
            "{brand}<div class=\"state\"><div class=\"state-icon {icon}\" aria-hidden=\"true\"></div>\
             <h1>{t}</h1><p class=\"muted\">{d}</p></div>",
            brand = brand(),
            t = escape(title),
            d = escape(detail)
        ),
    }
    .respond(status)
}

/// The storage is unavailable: try again.
pub fn unavailable() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again in a moment",
        "The service is briefly unavailable; nothing was lost. Reload this page in a few seconds.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn pages_load_only_local_assets() {
        let html = Page {
            title: "T <x>",
            shape: Shape::Card,
            scripts: &["connect.js"],
            body: "<p>hi</p>".into(),
        }
        .render();
        assert!(html.contains("<title>T &lt;x&gt; · Switchyard</title>"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains("/ui/connect.js"));
    }
}
