//! The connectors currently loaded, by id. Replacing one is a pointer swap:
//! calls already running hold the old version until they finish, the next call
//! gets the new one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use super::contract::{InstancePre, Version};
use super::manifest::Manifest;

/// A validated, compiled connector, ready to instantiate.
pub struct LoadedConnector {
    pub manifest: Manifest,
    /// SHA-256 of the component's bytes, hex.
    pub hash: String,
    pub loaded_at: SystemTime,
    /// The file it came from, when it came from the connectors directory.
    pub source: Option<PathBuf>,
    pub(super) pre: InstancePre,
}

impl LoadedConnector {
    /// The contract version the component was built against.
    pub fn contract(&self) -> Version {
        self.pre.version()
    }
}

impl std::fmt::Debug for LoadedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedConnector")
            .field("id", &self.manifest.id)
            .field("version", &self.manifest.version)
            .field("hash", &self.hash)
            .field("source", &self.source)
            .finish()
    }
}

/// What installing a connector did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    New,
    /// Replaced this version.
    Replaced(String),
    /// The same bytes were already loaded.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallRefused {
    #[error(
        "connector {id} {loaded} from {} is newer than {offered} from {}; remove that file first",
        .loaded_from.display(), .offered_from.display()
    )]
    OlderThanLoaded {
        id: String,
        loaded: String,
        loaded_from: PathBuf,
        offered: String,
        offered_from: PathBuf,
    },
}

#[derive(Default)]
pub struct Registry {
    by_id: RwLock<HashMap<String, Arc<LoadedConnector>>>,
}

impl Registry {
    pub fn get(&self, id: &str) -> Option<Arc<LoadedConnector>> {
        self.read().get(id).cloned()
    }

    /// Every loaded connector, by id.
    pub fn list(&self) -> Vec<Arc<LoadedConnector>> {
        let mut all: Vec<_> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        all
    }

    /// Installs `connector`, replacing any loaded version of the same id. Two
    /// different files in the connectors directory with the same id: the higher
    /// version wins, whichever was read first.
    pub fn install(&self, connector: LoadedConnector) -> Result<Installed, InstallRefused> {
        let mut map = self.by_id.write().unwrap_or_else(PoisonError::into_inner);
        let id = connector.manifest.id.clone();
        let outcome = match map.get(&id) {
            None => Installed::New,
            Some(old) if old.hash == connector.hash => return Ok(Installed::Unchanged),
            Some(old) => {
                if let (Some(old_path), Some(new_path)) = (&old.source, &connector.source)
                    && old_path != new_path
                    && old.manifest.parsed_version() > connector.manifest.parsed_version()
                {
                    return Err(InstallRefused::OlderThanLoaded {
                        id,
                        loaded: old.manifest.version.clone(),
                        loaded_from: old_path.clone(),
                        offered: connector.manifest.version.clone(),
                        offered_from: new_path.clone(),
                    });
                }
                Installed::Replaced(old.manifest.version.clone())
            }
        };
        map.insert(id, Arc::new(connector));
        Ok(outcome)
    }

    /// Unloads `id`; returns what was loaded.
    pub fn remove(&self, id: &str) -> Option<Arc<LoadedConnector>> {
        self.by_id
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    }

    /// Unloads whatever was loaded from `path` (the file was deleted).
    pub fn remove_source(&self, path: &std::path::Path) -> Option<Arc<LoadedConnector>> {
        let mut map = self.by_id.write().unwrap_or_else(PoisonError::into_inner);
        let id = map
            .iter()
            .find(|(_, c)| c.source.as_deref() == Some(path))
            .map(|(id, _)| id.clone())?;
        map.remove(&id)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<LoadedConnector>>> {
        self.by_id.read().unwrap_or_else(PoisonError::into_inner)
    }
}
