//! The pages' static files (stylesheet, scripts, icons), embedded in the
//! binary and served from `/ui/{file}`: the pages work with no internet and
//! no CDN, and a host upgrade replaces them all at once.

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
