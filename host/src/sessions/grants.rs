//! Who may change a session that is already connected. The session link
//! alone connects a new session (the app hands it to its end user); signing
//! in again or editing the choices of a connected one needs a change link
//! the app gets from the API: short-lived, single use, and turned on first
//! use into a pass (a cookie) for that browser alone. So a stranger who
//! learns a session id cannot point the session at their own account.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Db, StoreError, decode, encode, now_ms};

/// How long a change link may wait for its first use.
pub const LINK_TTL_MS: u64 = 60 * 60 * 1000;
/// How long the browser that used it may go on changing the session.
pub const PASS_TTL_MS: u64 = 60 * 60 * 1000;
/// The cookie that carries a pass.
pub const PASS_COOKIE: &str = "sy_session_pass";

#[derive(Serialize, Deserialize)]
struct Grant {
    session_id: String,
    /// A pass (else a change link, which is single use).
    pass: bool,
    expires_ms: u64,
}

#[derive(Clone)]
pub struct Grants {
    db: Db,
}

impl Grants {
    pub fn new(db: Db) -> Self {
        Grants { db }
    }

    /// A new change link's token for `session_id` (durably stored).
    pub async fn link(&self, session_id: &str) -> Result<String, StoreError> {
        let token = crate::admin_key::generate("sl_");
        self.put(&token, session_id, false, LINK_TTL_MS)?;
        self.db.flush().await?;
        Ok(token)
    }

    /// Uses up a change link of `session_id`; the pass it turns into, or
    /// `None` when the link is unknown, used, expired or for another session.
    pub async fn redeem(
        &self,
        token: &str,
        session_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let Some(value) = self.db.trees.session_grants.remove(digest(token))? else {
            return Ok(None);
        };
        let grant: Grant = decode(&value)?;
        if grant.pass || grant.session_id != session_id || grant.expires_ms <= now_ms() {
            self.db.flush().await?;
            return Ok(None);
        }
        let pass = crate::admin_key::generate("sp_");
        self.put(&pass, session_id, true, PASS_TTL_MS)?;
        self.db.flush().await?;
        Ok(Some(pass))
    }

    /// The browser holding `pass` may change `session_id`.
    pub fn allows(&self, pass: &str, session_id: &str) -> bool {
        match self.db.trees.session_grants.get(digest(pass)) {
            Ok(Some(value)) => decode::<Grant>(&value)
                .is_ok_and(|g| g.pass && g.session_id == session_id && g.expires_ms > now_ms()),
            _ => false,
        }
    }

    /// Drops expired links and passes; how many.
    pub fn sweep(&self) -> Result<usize, StoreError> {
        let now = now_ms();
        let mut gone = 0;
        for entry in self.db.trees.session_grants.iter() {
            let (k, v) = entry?;
            if decode::<Grant>(&v).map_or(true, |g| g.expires_ms <= now) {
                self.db.trees.session_grants.remove(k)?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    fn put(
        &self,
        secret: &str,
        session_id: &str,
        pass: bool,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let grant = Grant {
            session_id: session_id.to_owned(),
            pass,
            expires_ms: now_ms() + ttl_ms,
        };
        self.db
            .trees
            .session_grants
            .insert(digest(secret), encode(&grant))?;
        Ok(())
    }
}

/// Only hashes are stored: the database alone opens no session.
fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
