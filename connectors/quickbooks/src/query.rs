//! Writing QuickBooks query-language text: quoted literals (QuickBooks
//! escapes `'` as `\'`), `since` instants in the form QuickBooks compares,
//! and the statements pulls use.

use switchyard_connector_sdk::ConnectorError;

use crate::mapping::Kind;

/// The most records one query page returns.
pub const MAX_RESULTS: u32 = 1000;

/// `value` as a quoted literal: `O'Brien` is `'O\'Brien'`.
///
/// A backslash has no documented escape in QuickBooks' query language (a
/// trailing one would swallow the closing quote), so values holding one are
/// refused as `unsupported` rather than matched wrongly.
pub fn literal(value: &str) -> Result<String, ConnectorError> {
    if value.contains('\\') {
        return Err(ConnectorError::unsupported(format!(
            "QuickBooks' query language cannot match a value with a backslash: {value:?}"
        )));
    }
    Ok(format!("'{}'", value.replace('\'', "\\'")))
}

/// An RFC 3339 instant as QuickBooks compares times: whole seconds (rounded
/// down, so an inclusive `>=` still includes the instant's second) and a
/// numeric offset (`Z` becomes `-00:00`). A plain date passes as it is.
pub fn query_time(instant: &str) -> Result<String, ConnectorError> {
    let bad = || {
        ConnectorError::unsupported(format!(
            "QuickBooks cannot filter on the instant {instant:?}: expected RFC 3339, \
             e.g. 2024-05-01T12:00:00Z"
        ))
    };
    let text = instant.trim();
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let date_ok = digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10);
    if !date_ok {
        return Err(bad());
    }
    if bytes.len() == 10 {
        return Ok(text.to_owned());
    }
    let time_ok = matches!(bytes.get(10), Some(b'T' | b't' | b' '))
        && digits(11..13)
        && bytes.get(13) == Some(&b':')
        && digits(14..16)
        && bytes.get(16) == Some(&b':')
        && digits(17..19);
    if !time_ok {
        return Err(bad());
    }
    // Fractional seconds are dropped: times in QuickBooks have none.
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err(bad());
        }
        rest = &fraction[len..];
    }
    let offset = match rest {
        "Z" | "z" => "-00:00".to_owned(),
        _ => {
            let b = rest.as_bytes();
            let ok = b.len() == 6
                && matches!(b[0], b'+' | b'-')
                && b[1..3].iter().all(u8::is_ascii_digit)
                && b[3] == b':'
                && b[4..6].iter().all(u8::is_ascii_digit);
            if !ok {
                return Err(bad());
            }
            rest.to_owned()
        }
    };
    Ok(format!("{}T{}{offset}", &text[..10], &text[11..19]))
}

/// The statement of one pull page.
///
/// - A full pull walks QuickBooks' default order (ascending `Id`), which
///   writes during the pull do not disturb: new records come at the end.
/// - An incremental pull (`changed_since`) asks for records changed at or
///   after that time, oldest change first.
///
/// Customer queries include inactive customers (`Active IN (true, false)`):
/// QuickBooks leaves them out of any query that does not mention `Active`.
pub fn pull_statement(
    kind: Kind,
    changed_since: Option<&str>,
    start: u64,
    max: u32,
) -> Result<String, ConnectorError> {
    let mut conditions = Vec::new();
    if let Some(since) = changed_since {
        conditions.push(format!("Metadata.LastUpdatedTime >= {}", literal(since)?));
    }
    if kind == Kind::Customer {
        conditions.push(ALL_CUSTOMERS.to_owned());
    }
    let mut text = format!("select * from {}", kind.entity());
    if !conditions.is_empty() {
        text.push_str(" where ");
        text.push_str(&conditions.join(" and "));
    }
    if changed_since.is_some() {
        text.push_str(" ORDERBY Metadata.LastUpdatedTime");
    }
    text.push_str(&format!(" STARTPOSITION {start} MAXRESULTS {max}"));
    Ok(text)
}

/// The condition that keeps inactive customers in a customer query.
pub const ALL_CUSTOMERS: &str = "Active IN (true, false)";

/// `select * from <entity> where <conditions> [and Active IN (true, false)]
/// MAXRESULTS <max>`: a lookup by exact values, inactive customers included.
pub fn lookup_statement(kind: Kind, conditions: &[String], max: u32) -> String {
    let mut text = lookup_selection(kind, conditions);
    text.push_str(&format!(" MAXRESULTS {max}"));
    text
}

/// A page of a lookup that may find many records (`IN` over a batch's
/// values): [`lookup_statement`] from record `start` (1-based) on.
pub fn lookup_page_statement(kind: Kind, conditions: &[String], start: u64, max: u32) -> String {
    let mut text = lookup_selection(kind, conditions);
    text.push_str(&format!(" STARTPOSITION {start} MAXRESULTS {max}"));
    text
}

/// `select * from <entity> where <conditions> [and Active IN (true, false)]`.
fn lookup_selection(kind: Kind, conditions: &[String]) -> String {
    let mut all: Vec<&str> = conditions.iter().map(String::as_str).collect();
    if kind == Kind::Customer {
        all.push(ALL_CUSTOMERS);
    }
    let mut text = format!("select * from {}", kind.entity());
    if !all.is_empty() {
        text.push_str(" where ");
        text.push_str(&all.join(" and "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_refuse_backslashes() {
        assert_eq!(literal("plain"), Ok("'plain'".to_owned()));
        assert_eq!(literal("O'Brien's"), Ok(r"'O\'Brien\'s'".to_owned()));
        assert_eq!(literal(""), Ok("''".to_owned()));
        assert!(matches!(
            literal(r"C:\temp"),
            Err(ConnectorError::Unsupported(_))
        ));
    }

    #[test]
    fn times_become_whole_seconds_with_an_offset() {
        let t = |s: &str| query_time(s);
        assert_eq!(
            t("2024-05-01T12:30:15Z"),
            Ok("2024-05-01T12:30:15-00:00".to_owned())
        );
        assert_eq!(
            t("2024-05-01t12:30:15.999+02:00"),
            Ok("2024-05-01T12:30:15+02:00".to_owned())
        );
        assert_eq!(
            t("2024-05-01T12:30:15-07:00"),
            Ok("2024-05-01T12:30:15-07:00".to_owned())
        );
        assert_eq!(t("2024-05-01"), Ok("2024-05-01".to_owned()));
        for bad in [
            "",
            "yesterday",
            "2024-05-01T12:30",
            "2024-05-01T12:30:15",
            "2024-05-01T12:30:15.Z",
            "2024-05-01T12:30:15+0200",
            "2024-05-01T12:30:15Z' or '1'='1",
        ] {
            assert!(
                matches!(t(bad), Err(ConnectorError::Unsupported(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn statements() {
        assert_eq!(
            pull_statement(Kind::Invoice, None, 1, 100),
            Ok("select * from Invoice STARTPOSITION 1 MAXRESULTS 100".to_owned())
        );
        assert_eq!(
            pull_statement(Kind::Customer, Some("2024-05-01T00:00:00-00:00"), 3, 2),
            Ok("select * from Customer where Metadata.LastUpdatedTime >= \
                '2024-05-01T00:00:00-00:00' and Active IN (true, false) \
                ORDERBY Metadata.LastUpdatedTime STARTPOSITION 3 MAXRESULTS 2"
                .to_owned())
        );
        assert_eq!(
            lookup_statement(Kind::Invoice, &["DocNumber = '7'".to_owned()], 1),
            "select * from Invoice where DocNumber = '7' MAXRESULTS 1"
        );
    }
}
