//! State on disk, in an embedded sled database under the data directory.
//!
//! sled writes through a page cache and flushes on a timer, so every write the
//! API acknowledges is followed by [`Db::flush`] before the answer goes out: a
//! 2xx means it is on disk.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database could not be opened at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("storage failure: {0}")]
    Sled(#[from] sled::Error),
}

#[derive(Clone)]
pub struct Db {
    db: sled::Db,
    meta: sled::Tree,
}

/// Keys of the `meta` tree.
const ADMIN_KEY_HASH: &[u8] = b"admin_key_sha256";

impl Db {
    /// Opens (or creates) the database. Only one process may hold it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        let meta = db.open_tree("meta")?;
        Ok(Db { db, meta })
    }

    pub fn admin_key_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(self
            .meta
            .get(ADMIN_KEY_HASH)?
            .and_then(|v| <[u8; 32]>::try_from(v.as_ref()).ok()))
    }

    pub async fn set_admin_key_hash(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        self.meta.insert(ADMIN_KEY_HASH, &hash[..])?;
        self.flush().await
    }

    /// Waits until everything written so far is durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}
