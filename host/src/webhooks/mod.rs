//! Webhooks: the configuration, data, completed and error notifications an
//! app receives. Each is written to a persistent outbox in the same write as
//! the state change it reports ([`outbox`]), then POSTed, signed, and retried
//! with backoff until the receiver answers 2xx ([`delivery`]), only ever to
//! an address the host's [`crate::net_policy`] permits ([`resolve`]). Each
//! delivery's attempts are kept in a log ([`log`]), and a finished one can be
//! sent again ([`redeliver`]).

pub mod delivery;
pub mod log;
pub mod outbox;
pub mod redeliver;
pub mod resolve;
pub mod schedule;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256>` of
/// `"<unix seconds>.<delivery id>.<raw body>"`, keyed with the account's
/// webhook secret: a receiver can refuse old timestamps (replays) and repeats
/// of a delivery id, and neither can be changed without the secret.
pub const SIGNATURE_HEADER: &str = "x-switchyard-signature";
/// When this attempt was signed, in Unix seconds (the `t` of the signature).
pub const TIMESTAMP_HEADER: &str = "x-switchyard-timestamp";
/// The delivery's id: the same on every retry, so a receiver can drop repeats.
pub const DELIVERY_HEADER: &str = "x-switchyard-delivery";
/// `configuration`, `data`, `completed` or `error`.
pub const EVENT_HEADER: &str = "x-switchyard-event";
/// On a redelivery only: the id of the delivery it sends again.
pub const REDELIVERY_HEADER: &str = "x-switchyard-redelivery-of";

/// The signature header's value for one attempt of delivery `delivery` at
/// `timestamp` (Unix seconds): `t=<timestamp>,v1=<hex>`.
pub fn sign(secret: &str, timestamp: u64, delivery: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("{timestamp}.{delivery}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn signs_timestamp_delivery_and_body() {
        // HMAC-SHA256("Jefe", "1700000000.42.what do ya want for nothing?"),
        // as Python's hmac module computes it.
        assert_eq!(
            super::sign("Jefe", 1_700_000_000, "42", b"what do ya want for nothing?"),
            "t=1700000000,v1=e6f716f7ef1a500105d8028f5a012cc9d6785b68afbdea819e2638c12ff36889"
        );
    }
}
