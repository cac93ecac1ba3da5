//! Contract 0.2.0: the bindings generated from `wit/v0.2.0/`, the conversions
//! between its types and the host's own ([`crate::runtime::types`]), and its
//! `http` and `log` imports, which forward to the version-free [`CallState`]
//! methods.
//!
//! 0.2.0 adds `find-matches`, rate classes, idempotency keys, discovery and
//! `http.prefetch` to 0.1.0.

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2.0",
        world: "connector-world",
        imports: {
            "switchyard:connector/http.send": async,
            "switchyard:connector/http.prefetch": async,
        },
        exports: { default: async },
    });
}

pub use generated::exports::switchyard::connector::connector::Guest;
use generated::switchyard::connector::{http, log, types as wit};
pub use generated::{ConnectorWorld, ConnectorWorldPre};

/// The export every 0.2.0 connector has.
pub const EXPORT_NAME: &str = "switchyard:connector/connector@0.2.0";

/// The interfaces a 0.2.0 connector may import from this host.
pub const IMPORTS: [&str; 3] = [
    "switchyard:connector/types@0.2.0",
    "switchyard:connector/http@0.2.0",
    "switchyard:connector/log@0.2.0",
];

use super::super::manifest::{
    ApiKeyField, AuthSpec, BatchLimits, ClientAuth, CredentialPlacement, Integration, Manifest,
    OAuth2Spec, Paging, RateClass, RateLimit,
};
use super::super::sandbox::CallState;
use super::super::types::{
    ConnectorError, FieldInfo, ObjectInfo, OutRequest, OutResponse, Page, PullRequest,
    PulledRecord, PushItem, Pushed,
};
use super::GuestConnection;

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
                    paging: i.paging.into_iter().map(Into::into).collect(),
                })
                .collect(),
            batch_limits: BatchLimits {
                max_page_size: m.batch_limits.max_page_size,
                max_push_batch: m.batch_limits.max_push_batch,
                max_lookup_batch: m.batch_limits.max_lookup_batch,
            },
            rate_limit: RateLimit {
                requests: m.rate_limit.requests,
                window_ms: m.rate_limit.window_ms,
                max_concurrent: m.rate_limit.max_concurrent,
            },
            rate_classes: m
                .rate_classes
                .into_iter()
                .map(|c| RateClass {
                    name: c.name,
                    requests: c.requests,
                    window_ms: c.window_ms,
                })
                .collect(),
            idempotent_creates: m.idempotent_creates,
        }
    }
}

impl From<wit::Paging> for Paging {
    fn from(p: wit::Paging) -> Self {
        match p {
            wit::Paging::QueryCursor(c) => Paging::QueryCursor {
                param: c.param,
                pointer: c.pointer,
            },
            wit::Paging::BodyCursor(c) => Paging::BodyCursor {
                param: c.param,
                pointer: c.pointer,
            },
            wit::Paging::NextUrl(pointer) => Paging::NextUrl { pointer },
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

impl From<&GuestConnection> for wit::Connection {
    fn from(c: &GuestConnection) -> Self {
        wit::Connection {
            api_base: c.api_base.clone(),
            settings: c.settings.clone(),
        }
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
            include_remote: r.include_remote,
            passthrough_fields: r.passthrough_fields.clone(),
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
                    remote: r.remote,
                    passthrough: r.passthrough,
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
            idempotency_key: i.idempotency_key.clone(),
            data: i.data.to_string(),
            associations: i.associations.clone(),
            passthrough: i.passthrough.as_ref().map(|p| p.to_string()),
        }
    }
}

impl From<wit::FieldInfo> for FieldInfo {
    fn from(f: wit::FieldInfo) -> Self {
        FieldInfo {
            name: f.name,
            label: f.label,
            json_type: f.json_type,
            custom: f.custom,
            read_only: f.read_only,
            options: f.options,
            mapped: f.mapped,
            unique: f.unique,
            required: f.required,
        }
    }
}

impl From<wit::ObjectInfo> for ObjectInfo {
    fn from(o: wit::ObjectInfo) -> Self {
        ObjectInfo {
            name: o.name,
            label: o.label,
            custom: o.custom,
            supports_pull: o.supports_pull,
            supports_push: o.supports_push,
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

impl wit::Host for CallState {}

impl http::Host for CallState {
    async fn send(&mut self, req: http::Request) -> Result<http::Response, wit::ConnectorError> {
        let request = OutRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            idempotent: req.idempotent,
            rate_class: req.rate_class,
        };
        self.send_request(request)
            .await
            .map(|r: OutResponse| http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(Into::into)
    }

    async fn prefetch(&mut self, req: http::Request) {
        let started = self.prefetch_request(OutRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            idempotent: req.idempotent,
            rate_class: req.rate_class,
        });
        if started {
            // The prefetch was spawned into this worker's next-task slot,
            // which other workers cannot steal: let it send its request
            // before the connector maps its page on this thread (else it
            // waits for the whole mapping).
            tokio::task::yield_now().await;
        }
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => tracing::Level::TRACE,
            log::Level::Debug => tracing::Level::DEBUG,
            log::Level::Info => tracing::Level::INFO,
            log::Level::Warn => tracing::Level::WARN,
            log::Level::Error => tracing::Level::ERROR,
        };
        self.write_log(level, message);
    }
}
