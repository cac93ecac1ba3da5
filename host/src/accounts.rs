//! Accounts and their API keys. An account owns sessions (and through them
//! transfers, records and errors); every `/api/*` call acts for the account of
//! the key it carries. Keys are random, shown once and stored as SHA-256
//! hashes. Each account also has the secret its webhooks are signed with,
//! sealed at rest.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::admin_key::{generate, sha256};
use crate::crypto::Sealer;
use crate::store::{Db, StoreError, decode, encode, get_json, now_ms};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub created_ms: u64,
    /// The webhook signing secret, sealed, in base64.
    webhook_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    pub key_id: String,
    pub account: String,
    pub created_ms: u64,
    /// The first characters of the key, to tell keys apart in lists.
    pub hint: String,
    pub revoked: bool,
}

/// A key just created: the only time its secret is seen.
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("account names are 1 to 64 letters, digits, '-', '_' or '.' (got {0:?})")]
    InvalidName(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for AccountError {
    fn from(e: sled::Error) -> Self {
        AccountError::Store(e.into())
    }
}

#[derive(Clone)]
pub struct Accounts {
    db: Db,
    sealer: Sealer,
}

impl Accounts {
    pub fn new(db: Db, sealer: Sealer) -> Self {
        Accounts { db, sealer }
    }

    /// Creates a key for `account`, creating the account on first use.
    pub async fn create_key(&self, account: &str) -> Result<NewKey, AccountError> {
        validate_name(account)?;
        let trees = &self.db.trees;
        if trees.accounts.get(account)?.is_none() {
            let secret = generate("whsec_");
            let sealed = self.sealer.seal(account.as_bytes(), secret.as_bytes());
            let record = Account {
                name: account.to_owned(),
                created_ms: now_ms(),
                webhook_secret: STANDARD.encode(sealed),
            };
            // Two concurrent first keys must not give the account two secrets.
            let _ = trees.accounts.compare_and_swap(
                account,
                None as Option<&[u8]>,
                Some(encode(&record)),
            )?;
        }
        let secret = generate("sy_live_");
        let key = ApiKey {
            key_id: format!("key_{}", crate::store::new_id()),
            account: account.to_owned(),
            created_ms: now_ms(),
            hint: secret.chars().take(12).collect(),
            revoked: false,
        };
        trees.api_keys.insert(&key.key_id, encode(&key))?;
        trees
            .api_key_hashes
            .insert(sha256(&secret), key.key_id.as_bytes())?;
        self.db.flush().await?;
        Ok(NewKey { key, secret })
    }

    /// The account a presented key acts for, if the key is valid.
    pub fn authenticate(&self, presented: &str) -> Result<Option<String>, StoreError> {
        let trees = &self.db.trees;
        let Some(key_id) = trees.api_key_hashes.get(sha256(presented))? else {
            return Ok(None);
        };
        let key: Option<ApiKey> = get_json(&trees.api_keys, &key_id)?;
        Ok(key.filter(|k| !k.revoked).map(|k| k.account))
    }

    /// Revokes a key; `false` if there is no such key.
    pub async fn revoke(&self, key_id: &str) -> Result<bool, StoreError> {
        let trees = &self.db.trees;
        let Some(mut key) = get_json::<ApiKey>(&trees.api_keys, key_id.as_bytes())? else {
            return Ok(false);
        };
        key.revoked = true;
        trees.api_keys.insert(key_id, encode(&key))?;
        self.db.flush().await?;
        Ok(true)
    }

    pub fn keys(&self, account: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys = Vec::new();
        for entry in self.db.trees.api_keys.iter().values() {
            let key: ApiKey = decode(&entry?)?;
            if account.is_none_or(|a| a == key.account) {
                keys.push(key);
            }
        }
        keys.sort_by_key(|k| k.created_ms);
        Ok(keys)
    }

    /// The secret `account`'s webhooks are signed with.
    pub fn webhook_secret(&self, account: &str) -> Result<Option<String>, StoreError> {
        let Some(record) = get_json::<Account>(&self.db.trees.accounts, account.as_bytes())? else {
            return Ok(None);
        };
        let sealed = STANDARD
            .decode(&record.webhook_secret)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let secret = self
            .sealer
            .open(account.as_bytes(), &sealed)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        String::from_utf8(secret)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

fn validate_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        (dir, Accounts::new(db, Sealer::from_key(&[3; 32])))
    }

    #[tokio::test]
    async fn keys_authenticate_until_revoked() {
        let (_dir, accounts) = accounts();
        let a = accounts.create_key("acme").await.unwrap();
        let b = accounts.create_key("acme").await.unwrap();
        assert_eq!(
            accounts.authenticate(&a.secret).unwrap().as_deref(),
            Some("acme")
        );
        assert!(accounts.revoke(&a.key.key_id).await.unwrap());
        assert_eq!(accounts.authenticate(&a.secret).unwrap(), None);
        assert_eq!(
            accounts.authenticate(&b.secret).unwrap().as_deref(),
            Some("acme")
        );
        assert_eq!(accounts.authenticate("sy_live_nope").unwrap(), None);
        assert!(!accounts.revoke("key_missing").await.unwrap());
    }

    #[tokio::test]
    async fn one_webhook_secret_per_account_sealed() {
        let (_dir, accounts) = accounts();
        accounts.create_key("acme").await.unwrap();
        let first = accounts.webhook_secret("acme").unwrap().unwrap();
        accounts.create_key("acme").await.unwrap();
        assert_eq!(accounts.webhook_secret("acme").unwrap().unwrap(), first);
        let raw = accounts.db.trees.accounts.get("acme").unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains(&first));
    }

    #[tokio::test]
    async fn names_are_checked() {
        let (_dir, accounts) = accounts();
        assert!(accounts.create_key("").await.is_err());
        assert!(accounts.create_key("a/b").await.is_err());
    }
}
