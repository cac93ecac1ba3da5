//! The versions of the connector contract this host speaks, and the one place
//! that tells them apart.
//!
//! Each shipped version has a frozen copy of its WIT under `wit/v<version>/`
//! and a module here ([`v0_1`], [`v0_2`]): its generated bindings, its
//! conversions to the host's version-free types ([`super::types`]) and its
//! `http`/`log` imports. The loader picks the version from the component's
//! export ([`Version::of_exports`]); [`InstancePre`] and [`Instance`] are the
//! dispatch enums the runtime calls through, so nothing above this module
//! matches on a version. Where an older version lacks a call, the runtime
//! adapts (`find-matches` on 0.1.0 becomes `find-match` calls).
//!
//! Adding a version: freeze its WIT under `wit/`, add its module and a variant
//! to each enum here, and keep every earlier one.

pub mod v0_1;
pub mod v0_2;

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::manifest::Manifest;
use super::sandbox::CallState;
pub use super::types::Answer;
use super::types::{ConnectorError, FieldInfo, ObjectInfo, Page, PullRequest, PushItem, Pushed};

/// A contract version this host loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V0_1,
    V0_2,
}

impl Version {
    /// Newest first, as the loader tries them.
    pub const ALL: [Version; 2] = [Version::V0_2, Version::V0_1];

    /// `0.2.0`, as the WIT package names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_1 => "0.1.0",
            Version::V0_2 => "0.2.0",
        }
    }

    /// The `connector` export a component of this version has.
    pub fn export_name(self) -> &'static str {
        match self {
            Version::V0_1 => v0_1::EXPORT_NAME,
            Version::V0_2 => v0_2::EXPORT_NAME,
        }
    }

    /// The version whose `connector` export is among `exports`.
    pub fn of_exports<'a>(exports: impl IntoIterator<Item = &'a str> + Clone) -> Option<Version> {
        Version::ALL
            .into_iter()
            .find(|v| exports.clone().into_iter().any(|e| e == v.export_name()))
    }

    /// Whether this host provides the import `name` (any version's).
    pub fn provides_import(name: &str) -> bool {
        name.starts_with("wasi:") || v0_1::IMPORTS.contains(&name) || v0_2::IMPORTS.contains(&name)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Adds every version's `http` and `log` imports to `linker`.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    v0_1::ConnectorWorld::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    v0_2::ConnectorWorld::add_to_linker::<_, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
}

/// The connection as a connector sees it: the resolved API base and the
/// non-secret settings, JSON text.
#[derive(Debug, Clone)]
pub struct GuestConnection {
    pub api_base: String,
    pub settings: String,
}

/// A compiled, linked component of a known version, ready to instantiate.
pub enum InstancePre {
    V0_1(v0_1::ConnectorWorldPre<CallState>),
    V0_2(v0_2::ConnectorWorldPre<CallState>),
}

impl InstancePre {
    pub fn new(
        linker: &Linker<CallState>,
        component: &Component,
        version: Version,
    ) -> wasmtime::Result<Self> {
        let pre = linker.instantiate_pre(component)?;
        Ok(match version {
            Version::V0_1 => InstancePre::V0_1(v0_1::ConnectorWorldPre::new(pre)?),
            Version::V0_2 => InstancePre::V0_2(v0_2::ConnectorWorldPre::new(pre)?),
        })
    }

    pub fn version(&self) -> Version {
        match self {
            InstancePre::V0_1(_) => Version::V0_1,
            InstancePre::V0_2(_) => Version::V0_2,
        }
    }

    pub async fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Instance> {
        Ok(match self {
            InstancePre::V0_1(pre) => Instance::V0_1(pre.instantiate_async(store).await?),
            InstancePre::V0_2(pre) => Instance::V0_2(pre.instantiate_async(store).await?),
        })
    }
}

/// One fresh instance of a connector.
pub enum Instance {
    V0_1(v0_1::ConnectorWorld),
    V0_2(v0_2::ConnectorWorld),
}

impl Instance {
    pub fn version(&self) -> Version {
        match self {
            Instance::V0_1(_) => Version::V0_1,
            Instance::V0_2(_) => Version::V0_2,
        }
    }

    pub async fn describe(&self, store: &mut Store<CallState>) -> Answer<Manifest> {
        Ok(Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w).call_describe(store).await?.into(),
            Instance::V0_2(w) => guest_v0_2(w).call_describe(store).await?.into(),
        }))
    }

    pub async fn finish_auth(
        &self,
        store: &mut Store<CallState>,
        callback_params: &[(String, String)],
        token_response: &str,
    ) -> Answer<String> {
        Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w)
                .call_finish_auth(store, callback_params, &token_response.to_owned())
                .await?
                .map_err(Into::into),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_finish_auth(store, callback_params, &token_response.to_owned())
                .await?
                .map_err(Into::into),
        })
    }

    pub async fn check(&self, store: &mut Store<CallState>, conn: &GuestConnection) -> Answer<()> {
        Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w)
                .call_check(store, &conn.into())
                .await?
                .map_err(Into::into),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_check(store, &conn.into())
                .await?
                .map_err(Into::into),
        })
    }

    pub async fn pull(
        &self,
        store: &mut Store<CallState>,
        conn: &GuestConnection,
        request: &PullRequest,
    ) -> Answer<Page> {
        Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w)
                .call_pull(store, &conn.into(), &request.into())
                .await?
                .map(Into::into)
                .map_err(Into::into),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_pull(store, &conn.into(), &request.into())
                .await?
                .map(Into::into)
                .map_err(Into::into),
        })
    }

    pub async fn push(
        &self,
        store: &mut Store<CallState>,
        conn: &GuestConnection,
        endgrate_type: &str,
        items: &[PushItem],
    ) -> Answer<Vec<Result<Pushed, ConnectorError>>> {
        fn each<P: Into<Pushed>, E: Into<ConnectorError>>(
            results: Vec<Result<P, E>>,
        ) -> Vec<Result<Pushed, ConnectorError>> {
            results
                .into_iter()
                .map(|r| r.map(Into::into).map_err(Into::into))
                .collect()
        }
        Ok(match self {
            Instance::V0_1(w) => {
                let items: Vec<_> = items.iter().map(Into::into).collect();
                guest_v0_1(w)
                    .call_push(store, &conn.into(), endgrate_type, &items)
                    .await?
                    .map(each)
                    .map_err(Into::into)
            }
            Instance::V0_2(w) => {
                let items: Vec<_> = items.iter().map(Into::into).collect();
                guest_v0_2(w)
                    .call_push(store, &conn.into(), endgrate_type, &items)
                    .await?
                    .map(each)
                    .map_err(Into::into)
            }
        })
    }

    pub async fn find_match(
        &self,
        store: &mut Store<CallState>,
        conn: &GuestConnection,
        endgrate_type: &str,
        keys: &str,
    ) -> Answer<Option<String>> {
        Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w)
                .call_find_match(store, &conn.into(), endgrate_type, &keys.to_owned())
                .await?
                .map_err(Into::into),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_find_match(store, &conn.into(), endgrate_type, &keys.to_owned())
                .await?
                .map_err(Into::into),
        })
    }

    /// `None` when this version has no `find-matches` (0.1.0): the caller
    /// asks `find-match` instead.
    pub async fn find_matches(
        &self,
        store: &mut Store<CallState>,
        conn: &GuestConnection,
        endgrate_type: &str,
        items: &[Vec<String>],
    ) -> Option<Answer<Vec<Result<Option<String>, ConnectorError>>>> {
        match self {
            Instance::V0_1(_) => None,
            Instance::V0_2(w) => Some(
                guest_v0_2(w)
                    .call_find_matches(store, &conn.into(), endgrate_type, items)
                    .await
                    .map(|answer| {
                        answer
                            .map(|each| each.into_iter().map(|r| r.map_err(Into::into)).collect())
                            .map_err(Into::into)
                    }),
            ),
        }
    }

    /// A 0.1 component has no discovery: it lists no fields.
    pub async fn list_fields(
        &self,
        store: &mut Store<CallState>,
        conn: &GuestConnection,
        endgrate_type: &str,
    ) -> Answer<Vec<FieldInfo>> {
        Ok(match self {
            Instance::V0_1(_) => Ok(Vec::new()),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_list_fields(store, &conn.into(), endgrate_type)
                .await?
                .map(|fields| fields.into_iter().map(Into::into).collect())
                .map_err(Into::into),
        })
    }

    /// A 0.1 component has no discovery: it lists no objects.
    pub async fn list_objects(
        &self,
        store: &mut Store<CallState>,
        conn: &GuestConnection,
    ) -> Answer<Vec<ObjectInfo>> {
        Ok(match self {
            Instance::V0_1(_) => Ok(Vec::new()),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_list_objects(store, &conn.into())
                .await?
                .map(|objects| objects.into_iter().map(Into::into).collect())
                .map_err(Into::into),
        })
    }

    pub async fn associate(
        &self,
        store: &mut Store<CallState>,
        conn: &GuestConnection,
        from: (&str, &str),
        to: (&str, &str),
    ) -> Answer<()> {
        Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w)
                .call_associate(store, &conn.into(), from.0, from.1, to.0, to.1)
                .await?
                .map_err(Into::into),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_associate(store, &conn.into(), from.0, from.1, to.0, to.1)
                .await?
                .map_err(Into::into),
        })
    }

    pub async fn to_cdm(
        &self,
        store: &mut Store<CallState>,
        endgrate_type: &str,
        raw: &str,
    ) -> Answer<String> {
        Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w)
                .call_to_cdm(store, endgrate_type, &raw.to_owned())
                .await?
                .map_err(Into::into),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_to_cdm(store, endgrate_type, &raw.to_owned())
                .await?
                .map_err(Into::into),
        })
    }

    pub async fn from_cdm(
        &self,
        store: &mut Store<CallState>,
        endgrate_type: &str,
        record: &str,
    ) -> Answer<String> {
        Ok(match self {
            Instance::V0_1(w) => guest_v0_1(w)
                .call_from_cdm(store, endgrate_type, &record.to_owned())
                .await?
                .map_err(Into::into),
            Instance::V0_2(w) => guest_v0_2(w)
                .call_from_cdm(store, endgrate_type, &record.to_owned())
                .await?
                .map_err(Into::into),
        })
    }
}

fn guest_v0_1(w: &v0_1::ConnectorWorld) -> &v0_1::Guest {
    w.switchyard_connector_connector()
}

fn guest_v0_2(w: &v0_2::ConnectorWorld) -> &v0_2::Guest {
    w.switchyard_connector_connector()
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// A shipped version's WIT never changes: connectors built against it
    /// are out there. A new contract is a new version beside it.
    #[test]
    fn shipped_contracts_are_frozen() {
        let v0_1 = include_str!("../../../../wit/v0.1.0/connector.wit");
        assert_eq!(
            hex::encode(Sha256::digest(v0_1)),
            "605e0bcb3802badf8f4f2df993462d3ee261fe41af176c71bb9e4e6503267c2a",
            "wit/v0.1.0 was changed; put the change in a new version instead"
        );
    }

    #[test]
    fn the_version_comes_from_the_export() {
        let v0_1 = ["wasi:cli/run@0.2.0", "switchyard:connector/connector@0.1.0"];
        assert_eq!(Version::of_exports(v0_1), Some(Version::V0_1));
        let v0_2 = ["switchyard:connector/connector@0.2.0"];
        assert_eq!(Version::of_exports(v0_2), Some(Version::V0_2));
        assert_eq!(Version::of_exports(["acme:thing/x@1.0.0"]), None);
        assert!(Version::provides_import("switchyard:connector/http@0.1.0"));
        assert!(Version::provides_import("switchyard:connector/http@0.2.0"));
        assert!(!Version::provides_import("switchyard:connector/http@0.3.0"));
    }
}
