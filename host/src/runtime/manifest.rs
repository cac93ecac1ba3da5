//! What a connector says about itself (its `describe()` answer), and the checks
//! that turn a careless manifest into a load error naming the wrong field.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub id: String,
    pub display_name: String,
    pub version: String,
    pub category: String,
    pub homepage: String,
    #[serde(skip)]
    pub logo_svg: String,
    pub auth: AuthSpec,
    pub credential_placement: CredentialPlacement,
    pub api_base: String,
    pub allowed_hosts: Vec<String>,
    pub integrations: Vec<Integration>,
    pub batch_limits: BatchLimits,
    pub rate_limit: RateLimit,
    /// Limits on some requests only, beside `rate_limit` (contract 0.2; none
    /// for 0.1 connectors).
    pub rate_classes: Vec<RateClass>,
    /// The provider makes a create once however often its idempotency key is
    /// sent (contract 0.2; false for 0.1 connectors).
    pub idempotent_creates: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthSpec {
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2Spec),
    ApiKey(Vec<ApiKeyField>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OAuth2Spec {
    pub authorize_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
    pub scope_separator: String,
    pub client_auth: ClientAuth,
    pub pkce: bool,
    pub extra_authorize_params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    Basic,
    FormBody,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyField {
    pub name: String,
    pub label: String,
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialPlacement {
    Authorization(String),
    Header(String),
    Query(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integration {
    pub endgrate_type: String,
    pub display_name: String,
    pub resource: String,
    pub supports_pull: bool,
    pub supports_push: bool,
    pub supports_associations: bool,
    pub is_custom_object: bool,
    /// How its page answers point at the next page (contract 0.2; none for
    /// 0.1 connectors), for prefetching.
    pub paging: Vec<Paging>,
}

/// One way a provider answer points at its next page; see
/// [`crate::runtime::prefetch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Paging {
    /// Query parameter `param` of the same request, from JSON pointer `pointer`.
    QueryCursor { param: String, pointer: String },
    /// JSON pointer `param` of the same request's body, from `pointer`.
    BodyCursor { param: String, pointer: String },
    /// A `GET` of the URL at JSON pointer `pointer`.
    NextUrl { pointer: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchLimits {
    pub max_page_size: u32,
    pub max_push_batch: u32,
    /// Most items in one `find-matches` call; 0 means `max_push_batch`.
    pub max_lookup_batch: u32,
}

/// The largest `max-lookup-batch` the host honours.
pub const MAX_LOOKUP_BATCH: u32 = 10_000;

impl BatchLimits {
    /// Items in one push batch.
    pub fn push_batch(&self) -> usize {
        self.max_push_batch.max(1) as usize
    }

    /// Items in one `find-matches` call.
    pub fn lookup_batch(&self) -> usize {
        match self.max_lookup_batch {
            0 => self.push_batch(),
            n => n as usize,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub requests: u32,
    pub window_ms: u32,
    pub max_concurrent: u32,
}

/// A provider limit on one class of its requests (HubSpot's searches), per
/// connected account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateClass {
    pub name: String,
    pub requests: u32,
    pub window_ms: u32,
}

/// A manifest field that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid manifest: `{field}` {reason}")]
pub struct InvalidManifest {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> InvalidManifest {
    InvalidManifest {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Manifest {
    /// `auth_type` as Endgrate names it (`oauth`, `api_key`).
    pub fn auth_type(&self) -> &'static str {
        match self.auth {
            AuthSpec::OAuth2(_) => "oauth",
            AuthSpec::ApiKey(_) => "api_key",
        }
    }

    pub fn parsed_version(&self) -> Option<semver::Version> {
        semver::Version::parse(&self.version).ok()
    }

    pub fn integration(&self, endgrate_type: &str) -> Option<&Integration> {
        self.integrations
            .iter()
            .find(|i| i.endgrate_type == endgrate_type)
    }

    /// Checks every field a host relies on.
    pub fn validate(&self) -> Result<(), InvalidManifest> {
        if !is_slug(&self.id) {
            return Err(invalid(
                "id",
                format!(
                    "must be lowercase letters, digits and single dashes, 1-64 characters (got {:?})",
                    self.id
                ),
            ));
        }
        if self.display_name.trim().is_empty() {
            return Err(invalid("display-name", "must not be empty"));
        }
        if self.parsed_version().is_none() {
            return Err(invalid(
                "version",
                format!(
                    "must be a semantic version like 1.2.0 (got {:?})",
                    self.version
                ),
            ));
        }
        if !is_slug(&self.category) {
            return Err(invalid(
                "category",
                format!(
                    "must be a lowercase word like crm or accounting (got {:?})",
                    self.category
                ),
            ));
        }
        check_url("api-base", &self.api_base)?;
        if self.allowed_hosts.is_empty() {
            return Err(invalid(
                "allowed-hosts",
                "must name at least one host the connector talks to",
            ));
        }
        for (i, pattern) in self.allowed_hosts.iter().enumerate() {
            if !is_host_pattern(pattern) {
                return Err(invalid(
                    format!("allowed-hosts[{i}]"),
                    format!(
                        "must be a host name, optionally with one leading `*.` label and a `:port` (got {pattern:?})"
                    ),
                ));
            }
        }
        match &self.auth {
            AuthSpec::OAuth2(o) => {
                check_url("auth.oauth2.authorize-url", &o.authorize_url)?;
                check_url("auth.oauth2.token-url", &o.token_url)?;
            }
            AuthSpec::ApiKey(fields) => {
                if fields.iter().filter(|f| f.secret).count() != 1 {
                    return Err(invalid(
                        "auth.api-key",
                        "must have exactly one field marked secret (the credential)",
                    ));
                }
                for (i, f) in fields.iter().enumerate() {
                    if f.name.trim().is_empty() {
                        return Err(invalid(
                            format!("auth.api-key[{i}].name"),
                            "must not be empty",
                        ));
                    }
                }
            }
        }
        let placement_name = match &self.credential_placement {
            CredentialPlacement::Authorization(s) => s,
            CredentialPlacement::Header(h) => h,
            CredentialPlacement::Query(q) => q,
        };
        if placement_name.is_empty()
            || !placement_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(invalid(
                "credential-placement",
                format!("must name a header, scheme or parameter (got {placement_name:?})"),
            ));
        }
        if self.integrations.is_empty() {
            return Err(invalid(
                "integrations",
                "must list at least one common type",
            ));
        }
        for (i, integ) in self.integrations.iter().enumerate() {
            if !is_endgrate_type(&integ.endgrate_type) {
                return Err(invalid(
                    format!("integrations[{i}].endgrate-type"),
                    format!(
                        "must look like <category>-<resource>, e.g. crm-contact (got {:?})",
                        integ.endgrate_type
                    ),
                ));
            }
            if !integ.supports_pull && !integ.supports_push {
                return Err(invalid(
                    format!("integrations[{i}]"),
                    "must support pull, push or both",
                ));
            }
            if self.integrations[..i]
                .iter()
                .any(|other| other.endgrate_type == integ.endgrate_type)
            {
                return Err(invalid(
                    format!("integrations[{i}].endgrate-type"),
                    format!("{:?} is listed twice", integ.endgrate_type),
                ));
            }
            for (j, paging) in integ.paging.iter().enumerate() {
                let pointers = match paging {
                    Paging::QueryCursor { param, pointer } => {
                        if param.is_empty() {
                            return Err(invalid(
                                format!("integrations[{i}].paging[{j}].param"),
                                "must name a query parameter",
                            ));
                        }
                        vec![pointer]
                    }
                    Paging::BodyCursor { param, pointer } => vec![param, pointer],
                    Paging::NextUrl { pointer } => vec![pointer],
                };
                if let Some(bad) = pointers.into_iter().find(|p| !p.starts_with('/')) {
                    return Err(invalid(
                        format!("integrations[{i}].paging[{j}]"),
                        format!("{bad:?} is not a JSON pointer (they start with /)"),
                    ));
                }
            }
        }
        if self.batch_limits.max_page_size == 0 {
            return Err(invalid("batch-limits.max-page-size", "must be at least 1"));
        }
        if self.batch_limits.max_push_batch == 0 {
            return Err(invalid("batch-limits.max-push-batch", "must be at least 1"));
        }
        if self.batch_limits.max_lookup_batch > MAX_LOOKUP_BATCH {
            return Err(invalid(
                "batch-limits.max-lookup-batch",
                format!("must be at most {MAX_LOOKUP_BATCH} (0 means max-push-batch)"),
            ));
        }
        if self.rate_limit.requests == 0 || self.rate_limit.window_ms == 0 {
            return Err(invalid(
                "rate-limit",
                "requests and window-ms must both be at least 1",
            ));
        }
        for (i, class) in self.rate_classes.iter().enumerate() {
            if !is_slug(&class.name) {
                return Err(invalid(
                    format!("rate-classes[{i}].name"),
                    format!(
                        "must be lowercase letters, digits and single dashes (got {:?})",
                        class.name
                    ),
                ));
            }
            if self.rate_classes[..i].iter().any(|c| c.name == class.name) {
                return Err(invalid(
                    format!("rate-classes[{i}].name"),
                    format!("{:?} is listed twice", class.name),
                ));
            }
            if class.requests == 0 || class.window_ms == 0 {
                return Err(invalid(
                    format!("rate-classes[{i}]"),
                    "requests and window-ms must both be at least 1",
                ));
            }
        }
        Ok(())
    }
}

fn is_slug(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn is_endgrate_type(s: &str) -> bool {
    is_slug(s) && s.contains('-')
}

fn check_url(field: &str, value: &str) -> Result<(), InvalidManifest> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Ok(()),
        _ => Err(invalid(
            field,
            format!("must be an absolute http(s) URL (got {value:?})"),
        )),
    }
}

/// `api.hubapi.com`, `*.my.salesforce.com`, `127.0.0.1:9001`.
pub fn is_host_pattern(pattern: &str) -> bool {
    let (host, port) = match pattern.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (pattern, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return false;
    }
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Manifest {
        Manifest {
            id: "acme".into(),
            display_name: "Acme".into(),
            version: "1.0.0".into(),
            category: "crm".into(),
            homepage: "https://acme.example".into(),
            logo_svg: String::new(),
            auth: AuthSpec::ApiKey(vec![ApiKeyField {
                name: "api_key".into(),
                label: "API key".into(),
                secret: true,
            }]),
            credential_placement: CredentialPlacement::Authorization("Bearer".into()),
            api_base: "https://api.acme.example".into(),
            allowed_hosts: vec!["api.acme.example".into()],
            integrations: vec![Integration {
                endgrate_type: "crm-contact".into(),
                display_name: "Acme Contacts".into(),
                resource: "contacts".into(),
                supports_pull: true,
                supports_push: false,
                supports_associations: false,
                is_custom_object: false,
                paging: vec![Paging::QueryCursor {
                    param: "after".into(),
                    pointer: "/paging/next/after".into(),
                }],
            }],
            batch_limits: BatchLimits {
                max_page_size: 100,
                max_push_batch: 10,
                max_lookup_batch: 0,
            },
            rate_limit: RateLimit {
                requests: 100,
                window_ms: 10_000,
                max_concurrent: 4,
            },
            rate_classes: vec![RateClass {
                name: "search".into(),
                requests: 4,
                window_ms: 1_000,
            }],
            idempotent_creates: false,
        }
    }

    #[test]
    fn a_sound_manifest_passes() {
        assert_eq!(sample().validate(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Breakage = Box<dyn Fn(&mut Manifest)>;
        let cases: Vec<(&str, Breakage)> = vec![
            ("id", Box::new(|m| m.id = "Acme Corp".into())),
            ("version", Box::new(|m| m.version = "one".into())),
            (
                "api-base",
                Box::new(|m| m.api_base = "api.acme.example".into()),
            ),
            ("allowed-hosts", Box::new(|m| m.allowed_hosts.clear())),
            (
                "allowed-hosts[0]",
                Box::new(|m| m.allowed_hosts = vec!["https://x".into()]),
            ),
            (
                "integrations[0].endgrate-type",
                Box::new(|m| m.integrations[0].endgrate_type = "contact".into()),
            ),
            (
                "batch-limits.max-page-size",
                Box::new(|m| m.batch_limits.max_page_size = 0),
            ),
            (
                "batch-limits.max-lookup-batch",
                Box::new(|m| m.batch_limits.max_lookup_batch = MAX_LOOKUP_BATCH + 1),
            ),
            ("rate-limit", Box::new(|m| m.rate_limit.requests = 0)),
            (
                "integrations[0].paging[0]",
                Box::new(|m| {
                    m.integrations[0].paging = vec![Paging::NextUrl {
                        pointer: "nextRecordsUrl".into(),
                    }]
                }),
            ),
            (
                "rate-classes[0].name",
                Box::new(|m| m.rate_classes[0].name = "Search".into()),
            ),
            (
                "rate-classes[1].name",
                Box::new(|m| m.rate_classes.push(m.rate_classes[0].clone())),
            ),
            (
                "rate-classes[0]",
                Box::new(|m| m.rate_classes[0].window_ms = 0),
            ),
            (
                "auth.api-key",
                Box::new(|m| m.auth = AuthSpec::ApiKey(Vec::new())),
            ),
        ];
        for (field, break_it) in cases {
            let mut m = sample();
            break_it(&mut m);
            let err = m.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn lookups_go_in_push_batches_unless_the_connector_asks_for_more() {
        let mut limits = sample().batch_limits;
        assert_eq!(limits.lookup_batch(), 10);
        limits.max_lookup_batch = 500;
        assert_eq!(limits.lookup_batch(), 500);
        limits.max_lookup_batch = 4;
        assert_eq!(
            limits.lookup_batch(),
            4,
            "fewer than a push batch is honoured too"
        );
    }

    #[test]
    fn host_patterns() {
        for ok in [
            "api.hubapi.com",
            "*.my.salesforce.com",
            "127.0.0.1:9001",
            "localhost",
        ] {
            assert!(is_host_pattern(ok), "{ok}");
        }
        for bad in ["", "*.", "a..b", "https://x", "x:99999", "**.x", "a/b"] {
            assert!(!is_host_pattern(bad), "{bad}");
        }
    }
}
