//! Time for the simulators: a strictly increasing millisecond clock for record
//! timestamps, and the date formats and parsers the providers use.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Hands out strictly increasing millisecond timestamps, so two writes never
/// share a modification time and "changed since" orderings are total.
#[derive(Debug, Default)]
pub struct Clock {
    last: AtomicI64,
}

impl Clock {
    /// The next timestamp: the wall clock, or one past the previous one.
    pub fn tick(&self) -> i64 {
        let now = now_ms();
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev + 1);
            match self
                .last
                .compare_exchange(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => prev = actual,
            }
        }
    }
}

/// Calendar parts of a UTC instant.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3_600_000) as u32,
        minute: (rem / 60_000 % 60) as u32,
        second: (rem / 1000 % 60) as u32,
        millis: (rem % 1000) as u32,
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-01-01T00:00:00.000Z` (HubSpot).
pub fn iso_millis_z(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// `2024-01-01T00:00:00Z` (Pipedrive).
pub fn iso_seconds_z(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2024-05-20T20:49:32.000+0000` (Salesforce).
pub fn salesforce(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// `2024-01-01T10:00:00-07:00`: QuickBooks answers in the company's Pacific
/// time with an explicit offset and no fraction.
pub fn quickbooks(ms: i64) -> String {
    let c = civil(ms - 7 * 3_600_000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}-07:00",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2024-01-01` (a calendar date).
pub fn date(ms: i64) -> String {
    let c = civil(ms);
    format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
}

fn digits(s: &[u8], from: usize, len: usize) -> Option<u32> {
    let part = s.get(from..from + len)?;
    part.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parses `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM|±HHMM]`
/// (no zone means UTC) into Unix milliseconds.
pub fn parse(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let year = i64::from(digits(s, 0, 4)?);
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(s, 5, 2)?;
    let day = digits(s, 8, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let base = days_from_civil(year, month, day) * 86_400_000;
    if s.len() == 10 {
        return Some(base);
    }
    if !matches!(s.get(10), Some(b'T' | b't' | b' ')) || s.get(13) != Some(&b':') {
        return None;
    }
    let hour = digits(s, 11, 2)?;
    let minute = digits(s, 14, 2)?;
    let (second, mut pos) = if s.get(16) == Some(&b':') {
        (digits(s, 17, 2)?, 19)
    } else {
        (0, 16)
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut millis = 0i64;
    if s.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while s.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let frac = std::str::from_utf8(s.get(start..pos)?).ok()?;
        let padded = format!("{frac:0<3}");
        millis = padded.get(..3)?.parse().ok()?;
    }
    let offset_ms = match s.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if s.len() == pos + 1 => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = i64::from(digits(s, pos + 1, 2)?);
            let om_at = if s.get(pos + 3) == Some(&b':') {
                pos + 4
            } else {
                pos + 3
            };
            let om = i64::from(digits(s, om_at, 2)?);
            if s.len() != om_at + 2 {
                return None;
            }
            let off = (oh * 60 + om) * 60_000;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(
        base + i64::from(hour) * 3_600_000
            + i64::from(minute) * 60_000
            + i64::from(second) * 1000
            + millis
            - offset_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_716_238_172_123;
        assert_eq!(iso_millis_z(ms), "2024-05-20T20:49:32.123Z");
        assert_eq!(salesforce(ms), "2024-05-20T20:49:32.123+0000");
        assert_eq!(quickbooks(ms), "2024-05-20T13:49:32-07:00");
        assert_eq!(parse(&iso_millis_z(ms)), Some(ms));
        assert_eq!(parse(&salesforce(ms)), Some(ms));
        assert_eq!(parse(&quickbooks(ms)), Some(ms - 123));
        assert_eq!(parse("2024-01-01"), Some(1_704_067_200_000));
        assert_eq!(parse("2024-01-01T00:00:00-00:00"), Some(1_704_067_200_000));
        assert_eq!(parse("yesterday"), None);
    }
}
