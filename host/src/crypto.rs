//! Encryption at rest for secrets (provider tokens, API keys, webhook signing
//! secrets): XChaCha20-Poly1305 with a random nonce per value, bound to the
//! record it belongs to by associated data, so a ciphertext copied under
//! another key does not decrypt.
//!
//! The key comes from configuration (`SWITCHYARD_ENCRYPTION_KEY`, 32 bytes in
//! base64) or from `<data>/encryption.key`, generated on first start with mode
//! 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the encryption key must be 32 bytes encoded in base64 ({0})")]
    Malformed(String),
    #[error("could not read or create the key file {}: {source}", .path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted: wrong encryption key, or the data is damaged")]
pub struct DecryptError;

/// Seals and opens secrets with the host's key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// The configured key if any, else the key file in `data_dir` (created on
    /// first use, readable by the owner only).
    pub fn provision(configured: Option<&str>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(text) = configured {
            return Ok(Sealer::from_key(&decode_key(text)?));
        }
        let path = data_dir.join("encryption.key");
        let file_error = |source| KeyError::File {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Sealer::from_key(&decode_key(text.trim())?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_private(&path, STANDARD.encode(key).as_bytes()).map_err(file_error)?;
                Ok(Sealer::from_key(&key))
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// `nonce || ciphertext`, bound to `context` (the record's key).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            // Encryption only fails for inputs beyond 256 GiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if sealed.len() < NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| DecryptError)
    }
}

fn decode_key(text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| KeyError::Malformed(e.to_string()))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| KeyError::Malformed(format!("{} bytes", bytes.len())))
}

/// Creates `path` with mode 0600 (never readable by others, not even briefly).
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let sealer = Sealer::from_key(&[7; 32]);
        let sealed = sealer.seal(b"session-1", b"token");
        assert!(!sealed.windows(5).any(|w| w == b"token"));
        assert_eq!(sealer.open(b"session-1", &sealed).unwrap(), b"token");
        assert!(sealer.open(b"session-2", &sealed).is_err());
        assert!(
            Sealer::from_key(&[8; 32])
                .open(b"session-1", &sealed)
                .is_err()
        );
        assert!(sealer.open(b"session-1", &sealed[..10]).is_err());
    }

    #[test]
    fn key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::provision(None, dir.path()).unwrap();
        let sealed = a.seal(b"x", b"secret");
        let b = Sealer::provision(None, dir.path()).unwrap();
        assert_eq!(b.open(b"x", &sealed).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("encryption.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn configured_key_must_be_32_bytes() {
        assert!(Sealer::provision(Some("c2hvcnQ="), Path::new("/nonexistent")).is_err());
        let key = STANDARD.encode([1u8; 32]);
        assert!(Sealer::provision(Some(&key), Path::new("/nonexistent")).is_ok());
    }
}
