//! Webhooks: the configuration, data, completed and error notifications an
//! app receives. Each is written to a persistent outbox in the same write as
//! the state change it reports ([`outbox`]), then POSTed, signed, and retried
//! with backoff until the receiver answers 2xx ([`delivery`]), only ever to
//! an address the host's [`crate::net_policy`] permits ([`resolve`]).

pub mod delivery;
pub mod outbox;
pub mod resolve;
pub mod schedule;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with
/// the account's webhook secret.
pub const SIGNATURE_HEADER: &str = "x-switchyard-signature";
/// The delivery's id: the same on every retry, so a receiver can drop repeats.
pub const DELIVERY_HEADER: &str = "x-switchyard-delivery";
/// `configuration`, `data`, `completed` or `error`.
pub const EVENT_HEADER: &str = "x-switchyard-event";

/// `sha256=<hex>` of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
