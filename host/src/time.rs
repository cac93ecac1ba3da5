//! Timestamps as the API writes them: RFC 3339, UTC.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-23T10:00:00.123456Z`: as precise as `t`, trailing zeros of the
/// fraction left out (sync cursors; the API's own times use [`rfc3339_ms`]).
pub fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// A time given in milliseconds since the Unix epoch, as RFC 3339 with
/// exactly three digits of milliseconds (`2026-11-23T10:00:00.120Z`), as
/// JavaScript's `toISOString` writes them: the same width every time, so
/// the API's times sort as text too.
pub fn rfc3339_ms(ms: u64) -> String {
    let t = OffsetDateTime::from(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Milliseconds since the Unix epoch of `t` (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the Unix epoch of an RFC 3339 time.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn milliseconds_are_always_three_digits() {
        assert_eq!(
            super::rfc3339_ms(1_700_000_000_000),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            super::rfc3339_ms(1_700_000_000_120),
            "2023-11-14T22:13:20.120Z"
        );
        assert_eq!(
            super::rfc3339_ms(1_700_000_000_007),
            "2023-11-14T22:13:20.007Z"
        );
        let ms = 1_765_152_000_999;
        assert_eq!(super::parse_rfc3339_ms(&super::rfc3339_ms(ms)), Some(ms));
    }

    #[test]
    fn formats_utc() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(super::rfc3339(t), "2023-11-14T22:13:20Z");
    }
}
