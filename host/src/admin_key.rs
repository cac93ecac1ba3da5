//! The admin key: it alone authorises `/api/admin/*`. Taken from
//! `SWITCHYARD_ADMIN_KEY` or generated on first start and printed once; only its
//! SHA-256 is stored. A fast hash is enough because keys are long: generated
//! ones are 256-bit random, and a configured one must have at least
//! [`MIN_LENGTH`] characters (failed attempts are also throttled, see
//! `api::throttle`).

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{Db, StoreError};

/// The fewest characters a configured admin key may have.
pub const MIN_LENGTH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AdminKeyError {
    #[error(
        "the admin key (SWITCHYARD_ADMIN_KEY or --admin-key) has {0} characters; it must have \
         at least {MIN_LENGTH} (make one with `openssl rand -base64 32`, or leave it unset to \
         have one generated)"
    )]
    TooShort(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
    ) -> Result<(Self, Provisioned), AdminKeyError> {
        if let Some(key) = configured {
            let length = key.chars().count();
            if length < MIN_LENGTH {
                return Err(AdminKeyError::TooShort(length));
            }
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

    const FROM_ENV: &str = "from-the-environment-0123456789a"; // 32 characters

    #[tokio::test]
    async fn the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        AdminKey::provision(&db, None).await.unwrap();
        let (key, _) = AdminKey::provision(&db, Some(FROM_ENV)).await.unwrap();
        assert!(key.verify(FROM_ENV));
        let (stored, _) = AdminKey::provision(&db, None).await.unwrap();
        assert!(stored.verify(FROM_ENV));
    }

    #[tokio::test]
    async fn a_short_configured_key_is_refused_and_the_stored_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let (_, how) = AdminKey::provision(&db, None).await.unwrap();
        let Provisioned::Generated(secret) = how else {
            panic!("first start must generate a key")
        };
        for short in ["a", "sy_admin_test", &FROM_ENV[1..]] {
            let err = AdminKey::provision(&db, Some(short)).await.err().unwrap();
            assert!(matches!(err, AdminKeyError::TooShort(n) if n == short.len()));
            assert!(err.to_string().contains("at least 32"), "{err}");
        }
        let (stored, _) = AdminKey::provision(&db, None).await.unwrap();
        assert!(stored.verify(&secret));
    }
}
