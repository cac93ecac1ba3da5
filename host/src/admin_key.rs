//! The admin key: it alone authorises `/api/admin/*`. Taken from
//! `SWITCHYARD_ADMIN_KEY` or generated on first start and printed once; only its
//! SHA-256 is stored (keys are 256-bit random, so a fast hash is enough).

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{Db, StoreError};

#[derive(Clone)]
pub struct AdminKey {
    hash: [u8; 32],
}

/// What happened at start-up, for the binary to tell the operator.
pub enum Provisioned {
    /// A new key was generated: show it once, it cannot be recovered.
    Generated(String),
    FromEnvironment,
    Stored,
}

impl AdminKey {
    /// Sets up the admin key: `configured` (from the environment) replaces the
    /// stored one; with neither, a new key is generated.
    pub async fn provision(
        db: &Db,
        configured: Option<&str>,
    ) -> Result<(Self, Provisioned), StoreError> {
        if let Some(key) = configured {
            let hash = sha256(key);
            db.set_admin_key_hash(hash).await?;
            return Ok((AdminKey { hash }, Provisioned::FromEnvironment));
        }
        if let Some(hash) = db.admin_key_hash()? {
            return Ok((AdminKey { hash }, Provisioned::Stored));
        }
        let key = generate("sy_admin_");
        let hash = sha256(&key);
        db.set_admin_key_hash(hash).await?;
        Ok((AdminKey { hash }, Provisioned::Generated(key)))
    }

    pub fn verify(&self, presented: &str) -> bool {
        constant_time_eq(&sha256(presented), &self.hash)
    }
}

/// A random key: `prefix` + 43 characters of base64url (256 bits).
pub fn generate(prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

pub fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generated_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let (key, how) = AdminKey::provision(&db, None).await.unwrap();
        let Provisioned::Generated(secret) = how else {
            panic!("first start must generate a key")
        };
        assert!(key.verify(&secret));
        assert!(!key.verify("sy_admin_wrong"));
        let (again, how) = AdminKey::provision(&db, None).await.unwrap();
        assert!(matches!(how, Provisioned::Stored));
        assert!(again.verify(&secret));
    }

    #[tokio::test]
    async fn the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        AdminKey::provision(&db, None).await.unwrap();
        let (key, _) = AdminKey::provision(&db, Some("from-env")).await.unwrap();
        assert!(key.verify("from-env"));
        let (stored, _) = AdminKey::provision(&db, None).await.unwrap();
        assert!(stored.verify("from-env"));
    }
}
