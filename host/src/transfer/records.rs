//! How a transfer's records (pulled records, push results) are stored: one
//! value per committed page, so a page of 100 is one write instead of 100,
//! and `GET /api/{pull,push}/data` answers by slicing those bytes without
//! parsing them.
//!
//! A page is keyed by its transfer and the number of its first record
//! (`transfer \0 seq`, big-endian). Its value is [`COMPRESSED`], the length
//! of the page it holds (little-endian `u32`), then that page compressed as
//! one LZ4 block: [`MAGIC`], the record count and each record's end offset
//! (little-endian `u32`s), then the records' JSON one after another. JSON
//! compresses several times over, and sled holds every value of a node it
//! touches in memory, so compressed pages keep the host's memory and disk
//! writes small while many transfers commit at once; reading a page back
//! costs one LZ4 decompression (several GB/s).
//!
//! Earlier hosts stored pages uncompressed ([`MAGIC`] first), and before
//! that one record per key with its JSON as the value; both still read (a
//! value starting with `{` is a page of one).

use std::borrow::Cow;

use sled::Tree;

use crate::store::{StoreError, seq_key};

/// What a page starts with, compressed or not (never the first byte of JSON).
const MAGIC: &[u8; 4] = b"\0SY1";
const COMPRESSED: &[u8; 4] = b"\0SY2";

/// The largest page a stored length may announce: far above any page a
/// connector can return, so a damaged length cannot ask for gigabytes.
const MAX_PAGE_BYTES: usize = 256 << 20;

/// One page of records, each the JSON text of one row, as stored.
pub fn page<I, R>(records: I) -> Vec<u8>
where
    I: IntoIterator<Item = R>,
    R: AsRef<[u8]>,
{
    let plain = plain_page(records);
    let packed = lz4_flex::block::compress(&plain);
    let mut out = Vec::with_capacity(COMPRESSED.len() + 4 + packed.len());
    out.extend_from_slice(COMPRESSED);
    out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    out.extend_from_slice(&packed);
    out
}

/// A page as earlier hosts stored it: uncompressed.
fn plain_page<I, R>(records: I) -> Vec<u8>
where
    I: IntoIterator<Item = R>,
    R: AsRef<[u8]>,
{
    let records: Vec<R> = records.into_iter().collect();
    let body: usize = records.iter().map(|r| r.as_ref().len()).sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 4 * (records.len() + 1) + body);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    let mut end = 0u32;
    for r in &records {
        end += r.as_ref().len() as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
    for r in &records {
        out.extend_from_slice(r.as_ref());
    }
    out
}

/// The key of the page of `transfer` whose first record is number `first`.
pub fn page_key(transfer: &str, first: u64) -> Vec<u8> {
    seq_key(transfer, first)
}

/// Writes records `offset..offset + limit` of `transfer` into `out` as the
/// members of a JSON array (comma-separated, without the brackets); how many.
pub fn read_into(
    tree: &Tree,
    transfer: &str,
    offset: u64,
    limit: u64,
    out: &mut Vec<u8>,
) -> Result<u64, StoreError> {
    let end = offset.saturating_add(limit);
    // The page holding record `offset` starts at or before it.
    let first = tree
        .range(page_key(transfer, 0)..=page_key(transfer, offset))
        .next_back()
        .transpose()?
        .map(|(k, _)| k.to_vec())
        .unwrap_or_else(|| page_key(transfer, offset));
    let mut written = 0u64;
    for entry in tree.range(first..page_key(transfer, end)) {
        let (key, value) = entry?;
        let start = first_record(&key)?;
        let value = unpacked(&value)?;
        for (n, record) in records(&value)?.enumerate() {
            let seq = start + n as u64;
            if seq < offset {
                continue;
            }
            if seq >= end {
                break;
            }
            if written > 0 {
                out.push(b',');
            }
            out.extend_from_slice(record);
            written += 1;
        }
    }
    Ok(written)
}

/// The number of a page key's first record.
fn first_record(key: &[u8]) -> Result<u64, StoreError> {
    key.len()
        .checked_sub(8)
        .and_then(|at| key[at..].try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Corrupt("a record page key without its number".into()))
}

/// A stored value with its page decompressed.
fn unpacked(value: &[u8]) -> Result<Cow<'_, [u8]>, StoreError> {
    let Some(rest) = value.strip_prefix(COMPRESSED.as_slice()) else {
        return Ok(Cow::Borrowed(value));
    };
    let damaged = |why: String| StoreError::Corrupt(format!("a compressed page of records {why}"));
    let length = rest
        .get(..4)
        .map(le_u32)
        .ok_or_else(|| damaged("is cut short".into()))?;
    if length > MAX_PAGE_BYTES {
        return Err(damaged(format!("announces {length} bytes")));
    }
    let plain = lz4_flex::block::decompress(&rest[4..], length)
        .map_err(|e| damaged(format!("does not decompress: {e}")))?;
    if plain.len() != length {
        return Err(damaged(format!(
            "holds {} bytes, not the {length} it announces",
            plain.len()
        )));
    }
    Ok(Cow::Owned(plain))
}

/// The records of one stored value, in order.
fn records(value: &[u8]) -> Result<impl Iterator<Item = &[u8]>, StoreError> {
    let damaged = || StoreError::Corrupt("a page of records is cut short".into());
    let Some(rest) = value.strip_prefix(MAGIC.as_slice()) else {
        // One record, as hosts before page blobs stored it.
        return Ok(Records::One(Some(value)));
    };
    let count = rest.get(..4).map(le_u32).ok_or_else(damaged)?;
    let table = rest.get(4..4 + 4 * count).ok_or_else(damaged)?;
    let body = &rest[4 + 4 * count..];
    let last = table.chunks_exact(4).last().map_or(0, le_u32);
    if last > body.len() {
        return Err(damaged());
    }
    Ok(Records::Page {
        ends: table.chunks_exact(4),
        body,
        at: 0,
    })
}

/// A little-endian `u32` from the four bytes it is given (0 from any other
/// count, which no caller passes).
fn le_u32(bytes: &[u8]) -> usize {
    <[u8; 4]>::try_from(bytes).map_or(0, |four| u32::from_le_bytes(four) as usize)
}

enum Records<'a> {
    One(Option<&'a [u8]>),
    Page {
        ends: std::slice::ChunksExact<'a, u8>,
        body: &'a [u8],
        at: usize,
    },
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Records::One(one) => one.take(),
            Records::Page { ends, body, at } => {
                let end = ends.next().map(le_u32)?;
                // Ends only grow and the last is within the body (checked).
                let record = body.get(*at..end)?;
                *at = end;
                Some(record)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(pages: &[(u64, Vec<&str>)], legacy: &[(u64, &str)]) -> Tree {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("records").unwrap();
        for (first, rows) in pages {
            tree.insert(
                page_key("t1", *first),
                page(rows.iter().map(|r| r.as_bytes())),
            )
            .unwrap();
        }
        for (seq, row) in legacy {
            tree.insert(page_key("t1", *seq), row.as_bytes()).unwrap();
        }
        // Another transfer's records never show.
        tree.insert(page_key("t0", 0), page([b"{\"other\":1}"]))
            .unwrap();
        tree.insert(page_key("t2", 0), page([b"{\"other\":2}"]))
            .unwrap();
        tree
    }

    fn read(tree: &Tree, offset: u64, limit: u64) -> String {
        let mut out = Vec::new();
        let n = read_into(tree, "t1", offset, limit, &mut out).unwrap();
        let text = format!("[{}]", String::from_utf8(out).unwrap());
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed.as_array().unwrap().len() as u64, n);
        text
    }

    #[test]
    fn any_window_reads_across_pages() {
        let tree = stored(
            &[
                (0, vec!["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]),
                (3, vec!["{\"n\":3}", "{\"n\":4}"]),
                (5, vec!["{\"n\":5}"]),
            ],
            &[],
        );
        assert_eq!(read(&tree, 0, 2), "[{\"n\":0},{\"n\":1}]");
        assert_eq!(read(&tree, 2, 2), "[{\"n\":2},{\"n\":3}]");
        assert_eq!(
            read(&tree, 1, 10),
            "[{\"n\":1},{\"n\":2},{\"n\":3},{\"n\":4},{\"n\":5}]"
        );
        assert_eq!(read(&tree, 4, 1), "[{\"n\":4}]");
        assert_eq!(read(&tree, 6, 5), "[]");
    }

    #[test]
    fn pages_are_stored_compressed() {
        let rows: Vec<String> = (0..100)
            .map(|n| format!("{{\"id\":\"{n}\",\"first_name\":\"Bench\",\"email_addresses\":[{{\"email_address\":\"person{n}@example.com\"}}]}}"))
            .collect();
        let stored = page(rows.iter().map(String::as_bytes));
        let plain = plain_page(rows.iter().map(String::as_bytes));
        assert!(stored.starts_with(COMPRESSED));
        assert!(
            stored.len() * 3 < plain.len(),
            "{} bytes stored for {} of page",
            stored.len(),
            plain.len()
        );
        let unpacked = unpacked(&stored).unwrap();
        let back: Vec<&[u8]> = records(&unpacked).unwrap().collect();
        assert_eq!(back, rows.iter().map(String::as_bytes).collect::<Vec<_>>());
    }

    #[test]
    fn uncompressed_pages_of_earlier_hosts_still_read() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("records").unwrap();
        tree.insert(page_key("t1", 0), plain_page([b"{\"n\":0}", b"{\"n\":1}"]))
            .unwrap();
        tree.insert(page_key("t1", 2), page([b"{\"n\":2}"]))
            .unwrap();
        assert_eq!(read(&tree, 0, 3), "[{\"n\":0},{\"n\":1},{\"n\":2}]");
    }

    #[test]
    fn records_stored_one_per_key_still_read() {
        let tree = stored(
            &[(2, vec!["{\"n\":2}", "{\"n\":3}"])],
            &[(0, "{\"n\":0}"), (1, "{\"n\":1}")],
        );
        assert_eq!(read(&tree, 0, 3), "[{\"n\":0},{\"n\":1},{\"n\":2}]");
        assert_eq!(read(&tree, 3, 3), "[{\"n\":3}]");
    }

    #[test]
    fn a_damaged_page_is_an_error_not_a_panic() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("records").unwrap();
        let rows = [b"{\"n\":0}".as_slice(), b"{\"n\":1}"];
        let mut cut_plain = plain_page(rows);
        cut_plain.truncate(cut_plain.len() - 3);
        let mut cut = page(rows);
        cut.truncate(cut.len() - 3);
        let mut huge = page(rows);
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        for damaged in [cut_plain, cut, huge] {
            tree.insert(page_key("t1", 0), damaged).unwrap();
            let mut out = Vec::new();
            assert!(matches!(
                read_into(&tree, "t1", 0, 2, &mut out),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
