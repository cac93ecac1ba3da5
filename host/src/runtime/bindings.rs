//! Generated bindings for each version of the WIT contract the host speaks, and
//! the conversions between them and the host's own types ([`super::types`]).
//!
//! The rest of the host never touches generated types: when `@0.2.0` arrives it
//! gets its own module here (generated from a frozen copy of its WIT), the
//! loader picks the module from the component's exports, and a connector built
//! against `@0.1.0` keeps loading.

pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector-world",
        imports: { "switchyard:connector/http.send": async },
        exports: { default: async },
    });

    pub use self::switchyard::connector::{http, log, types};

    impl ConnectorWorld {
        /// The exported `connector` interface.
        pub fn guest(&self) -> &self::exports::switchyard::connector::connector::Guest {
            self.switchyard_connector_connector()
        }
    }

    /// The export every v0.1 connector must have; the loader names it when missing.
    pub const V0_1_EXPORT_NAME: &str = "switchyard:connector/connector@0.1.0";
}

use v0_1::types as wit;

use super::manifest::{
    ApiKeyField, AuthSpec, BatchLimits, ClientAuth, CredentialPlacement, Integration, Manifest,
    OAuth2Spec, RateLimit,
};
use super::types::{Connection, ConnectorError, Page, PullRequest, PulledRecord, PushItem, Pushed};

impl From<wit::Manifest> for Manifest {
    fn from(m: wit::Manifest) -> Self {
        Manifest {
            id: m.id,
            display_name: m.display_name,
            version: m.version,
            category: m.category,
            homepage: m.homepage,
            logo_svg: m.logo_svg,
            auth: match m.auth {
                wit::AuthSpec::Oauth2(o) => AuthSpec::OAuth2(OAuth2Spec {
                    authorize_url: o.authorize_url,
                    token_url: o.token_url,
                    scopes: o.scopes,
                    scope_separator: o.scope_separator,
                    client_auth: match o.client_auth {
                        wit::ClientAuth::Basic => ClientAuth::Basic,
                        wit::ClientAuth::FormBody => ClientAuth::FormBody,
                    },
                    pkce: o.pkce,
                    extra_authorize_params: o.extra_authorize_params,
                }),
                wit::AuthSpec::ApiKey(fields) => AuthSpec::ApiKey(
                    fields
                        .into_iter()
                        .map(|f| ApiKeyField {
                            name: f.name,
                            label: f.label,
                            secret: f.secret,
                        })
                        .collect(),
                ),
            },
            credential_placement: match m.credential_placement {
                wit::CredentialPlacement::Authorization(s) => CredentialPlacement::Authorization(s),
                wit::CredentialPlacement::Header(h) => CredentialPlacement::Header(h),
                wit::CredentialPlacement::Query(q) => CredentialPlacement::Query(q),
            },
            api_base: m.api_base,
            allowed_hosts: m.allowed_hosts,
            integrations: m
                .integrations
                .into_iter()
                .map(|i| Integration {
                    endgrate_type: i.endgrate_type,
                    display_name: i.display_name,
                    resource: i.resource,
                    supports_pull: i.supports_pull,
                    supports_push: i.supports_push,
                    supports_associations: i.supports_associations,
                    is_custom_object: i.is_custom_object,
                })
                .collect(),
            batch_limits: BatchLimits {
                max_page_size: m.batch_limits.max_page_size,
                max_push_batch: m.batch_limits.max_push_batch,
            },
            rate_limit: RateLimit {
                requests: m.rate_limit.requests,
                window_ms: m.rate_limit.window_ms,
                max_concurrent: m.rate_limit.max_concurrent,
            },
        }
    }
}

impl From<wit::ConnectorError> for ConnectorError {
    fn from(e: wit::ConnectorError) -> Self {
        match e {
            wit::ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized(m),
            wit::ConnectorError::RateLimited(s) => ConnectorError::RateLimited(s),
            wit::ConnectorError::InvalidData(m) => ConnectorError::InvalidData(m),
            wit::ConnectorError::NotFound(m) => ConnectorError::NotFound(m),
            wit::ConnectorError::Transient(m) => ConnectorError::Transient(m),
            wit::ConnectorError::Unsupported(m) => ConnectorError::Unsupported(m),
            wit::ConnectorError::Fatal(m) => ConnectorError::Fatal(m),
        }
    }
}

impl From<ConnectorError> for wit::ConnectorError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::Unauthorized(m) => wit::ConnectorError::Unauthorized(m),
            ConnectorError::RateLimited(s) => wit::ConnectorError::RateLimited(s),
            ConnectorError::InvalidData(m) => wit::ConnectorError::InvalidData(m),
            ConnectorError::NotFound(m) => wit::ConnectorError::NotFound(m),
            ConnectorError::Transient(m) => wit::ConnectorError::Transient(m),
            ConnectorError::Unsupported(m) => wit::ConnectorError::Unsupported(m),
            ConnectorError::Fatal(m) => wit::ConnectorError::Fatal(m),
        }
    }
}

pub fn connection(api_base: &str, conn: &Connection) -> wit::Connection {
    wit::Connection {
        api_base: api_base.to_owned(),
        settings: conn.settings.to_string(),
    }
}

impl From<&PullRequest> for wit::PullRequest {
    fn from(r: &PullRequest) -> Self {
        wit::PullRequest {
            endgrate_type: r.endgrate_type.clone(),
            cursor: r.cursor.clone(),
            since: r.since.clone(),
            page_size: r.page_size,
            params: r.params.to_string(),
            associations: r.associations.clone(),
        }
    }
}

impl From<wit::Page> for Page {
    fn from(p: wit::Page) -> Self {
        Page {
            records: p
                .records
                .into_iter()
                .map(|r| PulledRecord {
                    id: r.id,
                    data: r.data,
                    associations: r.associations,
                    deleted: r.deleted,
                })
                .collect(),
            next_cursor: p.next_cursor,
        }
    }
}

impl From<&PushItem> for wit::PushItem {
    fn from(i: &PushItem) -> Self {
        wit::PushItem {
            id: i.id.clone(),
            data: i.data.to_string(),
            associations: i.associations.clone(),
        }
    }
}

impl From<wit::Pushed> for Pushed {
    fn from(p: wit::Pushed) -> Self {
        Pushed {
            id: p.id,
            data: p.data,
            created: p.created,
        }
    }
}
