//! The QuickBooks query language, the subset connectors use:
//! `SELECT * | COUNT(*) | f1, f2 FROM Customer|Invoice
//!  [WHERE cond [AND cond]...] [ORDERBY field [ASC|DESC]]
//!  [STARTPOSITION n] [MAXRESULTS m]` with `=, !=, <, <=, >, >=, IN (...),
//! LIKE '%x%'`. Keywords are case-insensitive; pages hold at most 1000.
//! As in QuickBooks, a Customer query without an `Active` condition only
//! returns active customers.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::errors::Fault;
use super::model::{Entity, QbRow, generated_active};
use crate::clock;
use crate::store::Table;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Comma,
    Open,
    Close,
    Star,
}

fn tokenize(q: &str) -> Result<Vec<Tok>, Fault> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(Fault::parse_error(format!(
                                "Lexical error: unterminated string at column {i}"
                            )));
                        }
                        Some('\\') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '<' | '>' | '!' => {
                let mut op = c.to_string();
                if matches!(chars.get(i + 1), Some('=') | Some('>')) && c != '=' {
                    op.push(chars[i + 1]);
                    i += 1;
                }
                out.push(Tok::Op(op));
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == ':' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(Fault::parse_error(format!(
                    "Lexical error at column {}. Encountered: \"{other}\"",
                    i + 1
                )));
            }
        }
    }
    Ok(out)
}

/// A comparison in the WHERE clause.
#[derive(Debug, Clone)]
pub struct Cond {
    pub field: String,
    pub op: String,
    pub values: Vec<String>,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    pub entity: Entity,
    pub count: bool,
    pub fields: Option<Vec<String>>,
    pub conds: Vec<Cond>,
    pub order: Option<(String, bool)>,
    pub start: usize,
    pub max: usize,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn expect_keyword(&mut self, k: &str) -> Result<(), Fault> {
        if self.keyword(k) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(k))
        }
    }
    fn unexpected(&self, wanted: &str) -> Fault {
        let found = match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) | Some(Tok::Op(w)) => w.clone(),
            Some(t) => format!("{t:?}"),
            None => "<EOF>".into(),
        };
        Fault::parse_error(format!(
            "Encountered \" \"{found}\" \" at token {}. Was expecting: {wanted}",
            self.pos + 1
        ))
    }
    fn word(&mut self, wanted: &str) -> Result<String, Fault> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            _ => {
                self.pos -= 1;
                Err(self.unexpected(wanted))
            }
        }
    }
    fn value(&mut self) -> Result<String, Fault> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => Ok(w),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("a value"))
            }
        }
    }
    fn number(&mut self, wanted: &str) -> Result<usize, Fault> {
        let w = self.word(wanted)?;
        w.parse()
            .map_err(|_| Fault::parse_error(format!("{wanted} expects a number, got {w}")))
    }
}

/// Parses a query.
pub fn parse(text: &str) -> Result<Query, Fault> {
    let mut p = Parser {
        toks: tokenize(text)?,
        pos: 0,
    };
    p.expect_keyword("select")?;
    let mut count = false;
    let mut fields = None;
    if p.peek() == Some(&Tok::Star) {
        p.pos += 1;
    } else if p.keyword("count") {
        p.pos += 1;
        for t in [Tok::Open, Tok::Star, Tok::Close] {
            if p.next() != Some(t) {
                p.pos -= 1;
                return Err(p.unexpected("count(*)"));
            }
        }
        count = true;
    } else {
        let mut list = vec![p.word("a field")?];
        while p.peek() == Some(&Tok::Comma) {
            p.pos += 1;
            list.push(p.word("a field")?);
        }
        fields = Some(list);
    }
    p.expect_keyword("from")?;
    let name = p.word("an entity")?;
    let entity = Entity::parse(&name).ok_or_else(|| {
        Fault::validation("4001", "Invalid query", format!("QueryValidationError: Entity {name} is not supported by this simulator (Customer, Invoice)"))
    })?;
    let mut conds = Vec::new();
    if p.keyword("where") {
        p.pos += 1;
        loop {
            let field = p.word("a field")?;
            let cond = if p.keyword("in") {
                p.pos += 1;
                if p.next() != Some(Tok::Open) {
                    p.pos -= 1;
                    return Err(p.unexpected("("));
                }
                let mut values = vec![p.value()?];
                while p.peek() == Some(&Tok::Comma) {
                    p.pos += 1;
                    values.push(p.value()?);
                }
                if p.next() != Some(Tok::Close) {
                    p.pos -= 1;
                    return Err(p.unexpected(")"));
                }
                Cond {
                    field,
                    op: "in".into(),
                    values,
                }
            } else if p.keyword("like") {
                p.pos += 1;
                Cond {
                    field,
                    op: "like".into(),
                    values: vec![p.value()?],
                }
            } else {
                let op = match p.next() {
                    Some(Tok::Op(op))
                        if matches!(op.as_str(), "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") =>
                    {
                        op
                    }
                    _ => {
                        p.pos -= 1;
                        return Err(p.unexpected("an operator"));
                    }
                };
                Cond {
                    field,
                    op,
                    values: vec![p.value()?],
                }
            };
            conds.push(cond);
            if p.keyword("and") {
                p.pos += 1;
            } else {
                break;
            }
        }
    }
    let mut order = None;
    if p.keyword("orderby") || p.keyword("order") {
        if p.keyword("order") {
            p.pos += 1;
            p.expect_keyword("by")?;
        } else {
            p.pos += 1;
        }
        let field = p.word("a field")?;
        let mut ascending = true;
        if p.keyword("desc") {
            p.pos += 1;
            ascending = false;
        } else if p.keyword("asc") {
            p.pos += 1;
        }
        order = Some((field, ascending));
    }
    let mut start = 1;
    let mut max = 100;
    loop {
        if p.keyword("startposition") {
            p.pos += 1;
            start = p.number("STARTPOSITION")?.max(1);
        } else if p.keyword("maxresults") {
            p.pos += 1;
            max = p.number("MAXRESULTS")?.min(1000);
        } else {
            break;
        }
    }
    if p.peek().is_some() {
        return Err(p.unexpected("<EOF>"));
    }
    Ok(Query {
        entity,
        count,
        fields,
        conds,
        order,
        start,
        max,
    })
}

/// The JSON value at a dotted field path (case-insensitive segments;
/// `Metadata` means `MetaData`; a reference compares by its `value`).
fn lookup<'a>(body: &'a Value, field: &str) -> Option<&'a Value> {
    let mut v = body;
    for seg in field.split('.') {
        let obj = v.as_object()?;
        v = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))
            .map(|(_, v)| v)?;
    }
    if let Some(inner) = v
        .get("value")
        .or_else(|| v.get("Address"))
        .or_else(|| v.get("FreeFormNumber"))
    {
        return Some(inner);
    }
    Some(v)
}

/// How a query walks the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Modification order (the index).
    Time,
    /// Id order.
    Id,
    /// Collect, then sort.
    Sorted,
}

fn is_last_updated(field: &str) -> bool {
    field.to_ascii_lowercase().ends_with("lastupdatedtime")
}

fn is_time_field(field: &str) -> bool {
    let f = field.to_ascii_lowercase();
    f.ends_with("lastupdatedtime") || f.ends_with("createtime")
}

fn compare(field: &str, have: &Value, want: &str) -> Option<Ordering> {
    if is_time_field(field) {
        return Some(clock::parse(have.as_str()?)?.cmp(&clock::parse(want)?));
    }
    match have {
        Value::Bool(b) => Some(b.cmp(&want.eq_ignore_ascii_case("true"))),
        Value::Number(n) => n.as_f64()?.partial_cmp(&want.parse::<f64>().ok()?),
        Value::String(s) => Some(s.to_lowercase().cmp(&want.to_lowercase())),
        _ => None,
    }
}

fn holds(cond: &Cond, have: Option<&Value>) -> bool {
    let Some(have) = have else {
        return cond.op == "!=" || cond.op == "<>";
    };
    let want = cond.values.first().map(String::as_str).unwrap_or_default();
    match cond.op.as_str() {
        "in" => cond
            .values
            .iter()
            .any(|w| compare(&cond.field, have, w) == Some(Ordering::Equal)),
        "like" => {
            let text = have.as_str().unwrap_or_default().to_lowercase();
            let pattern = want.to_lowercase();
            let core = pattern.trim_matches('%');
            match (pattern.starts_with('%'), pattern.ends_with('%')) {
                (true, true) => text.contains(core),
                (true, false) => text.ends_with(core),
                (false, true) => text.starts_with(core),
                (false, false) => text == core,
            }
        }
        op => {
            let ord = compare(&cond.field, have, want);
            match op {
                "=" => ord == Some(Ordering::Equal),
                "!=" | "<>" => ord != Some(Ordering::Equal),
                "<" => ord == Some(Ordering::Less),
                "<=" => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                ">" => ord == Some(Ordering::Greater),
                ">=" => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                _ => false,
            }
        }
    }
}

/// Checks that every field a query names exists on the entity.
fn validate(q: &Query) -> Result<(), Fault> {
    let names = q
        .conds
        .iter()
        .map(|c| &c.field)
        .chain(q.order.iter().map(|(f, _)| f))
        .chain(q.fields.iter().flatten());
    for name in names {
        let top = name.split('.').next().unwrap_or_default();
        let known = q
            .entity
            .fields()
            .iter()
            .any(|f| f.eq_ignore_ascii_case(top))
            || top.eq_ignore_ascii_case("Metadata");
        if !known {
            return Err(Fault::validation(
                "4001",
                "Invalid query",
                format!("QueryValidationError: property '{name}' is not queryable"),
            ));
        }
    }
    Ok(())
}

/// Runs a query against a table; answers the `QueryResponse` object.
pub fn run(q: &Query, table: &Table<QbRow>) -> Result<Value, Fault> {
    validate(q)?;
    let mentions_active = q
        .conds
        .iter()
        .any(|c| c.field.eq_ignore_ascii_case("active"));
    let implicit_active = q.entity == Entity::Customer && !mentions_active;
    let time_lower = q
        .conds
        .iter()
        .filter(|c| is_last_updated(&c.field) && matches!(c.op.as_str(), ">" | ">=" | "="))
        .filter_map(|c| c.values.first().and_then(|v| clock::parse(v)))
        .max()
        .unwrap_or(i64::MIN);
    let walk = match &q.order {
        None if time_lower != i64::MIN => Walk::Time,
        None => Walk::Id,
        Some((f, true)) if is_last_updated(f) => Walk::Time,
        Some((f, true)) if f.eq_ignore_ascii_case("id") => Walk::Id,
        Some(_) => Walk::Sorted,
    };
    // (number, modification time when the walk knows it)
    let candidates: Box<dyn Iterator<Item = (u64, Option<i64>)> + '_> = if walk == Walk::Time {
        Box::new(
            table
                .by_updated_from((time_lower, 0))
                .map(|(t, n)| (n, Some(t))),
        )
    } else {
        Box::new(table.numbers_from(1).map(|n| (n, None)))
    };
    // Cheap checks first (no derivation): deleted rows, implicit Active.
    let cheap = |(n, _): &(u64, Option<i64>)| {
        if let Some(row) = table.written(*n) {
            !row.deleted && (!implicit_active || row.active())
        } else {
            !implicit_active || generated_active(*n)
        }
    };
    let sort_other = walk == Walk::Sorted;
    let mut matched: Vec<u64> = Vec::new();
    let mut rows: Vec<(u64, QbRow)> = Vec::new();
    for (n, time) in candidates.filter(cheap) {
        // Conditions on Id and (in a time walk) LastUpdatedTime need no body.
        let mut rest = Vec::new();
        let mut ok = true;
        for c in &q.conds {
            if c.field.eq_ignore_ascii_case("id") {
                ok &= holds(c, Some(&json!(n.to_string())));
            } else if q.entity == Entity::Customer
                && c.field.eq_ignore_ascii_case("active")
                && table.written(n).is_none()
            {
                // A generated customer's Active is known without deriving it.
                ok &= holds(c, Some(&json!(generated_active(n))));
            } else if let (Some(t), true) = (time, is_last_updated(&c.field)) {
                // QuickBooks times have whole seconds.
                ok &= holds(c, Some(&json!(clock::iso_millis_z(t - t.rem_euclid(1000)))));
            } else {
                rest.push(c);
            }
        }
        if !ok {
            continue;
        }
        if rest.is_empty() && !sort_other {
            matched.push(n);
            // Rows past the page are only needed to count them.
            if !q.count && matched.len() >= q.start - 1 + q.max {
                break;
            }
            continue;
        }
        let Some(row) = table.get(n) else { continue };
        if rest.iter().all(|c| holds(c, lookup(&row.body, &c.field))) {
            if sort_other {
                rows.push((n, row.into_owned()));
            } else {
                matched.push(n);
                if !q.count && matched.len() >= q.start - 1 + q.max {
                    break;
                }
            }
        }
    }
    if sort_other {
        if let Some((field, asc)) = &q.order {
            rows.sort_by(|(na, a), (nb, b)| {
                let ord = if field.eq_ignore_ascii_case("id") {
                    na.cmp(nb)
                } else if is_time_field(field) {
                    a.updated_ms.cmp(&b.updated_ms)
                } else {
                    let x = lookup(&a.body, field).map(|v| v.to_string().to_lowercase());
                    let y = lookup(&b.body, field).map(|v| v.to_string().to_lowercase());
                    x.cmp(&y)
                };
                let ord = if *asc { ord } else { ord.reverse() };
                ord.then(na.cmp(nb))
            });
        }
        matched = rows.into_iter().map(|(n, _)| n).collect();
    }
    if q.count {
        return Ok(json!({"totalCount": matched.len()}));
    }
    let page: Vec<Value> = matched
        .iter()
        .skip(q.start - 1)
        .take(q.max)
        .filter_map(|n| table.get(*n).map(|r| project(&r.body, q.fields.as_deref())))
        .collect();
    if page.is_empty() {
        return Ok(json!({}));
    }
    let count = page.len();
    Ok(json!({ q.entity.name(): page, "startPosition": q.start, "maxResults": count }))
}

/// Keeps only the selected fields (plus `Id`, `SyncToken`, `domain`).
fn project(body: &Value, fields: Option<&[String]>) -> Value {
    let Some(fields) = fields else {
        return body.clone();
    };
    let mut out = json!({"domain": "QBO", "sparse": true});
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            if k == "Id" || k == "SyncToken" || fields.iter().any(|f| f.eq_ignore_ascii_case(k)) {
                out[k.as_str()] = v.clone();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset() {
        let q = parse("select * from Customer where Metadata.LastUpdatedTime > '2024-01-01T00:00:00-00:00' ORDERBY Metadata.LastUpdatedTime STARTPOSITION 101 MAXRESULTS 5000").expect("parses");
        assert_eq!(q.entity, Entity::Customer);
        assert_eq!(q.conds[0].op, ">");
        assert_eq!(q.start, 101);
        assert_eq!(q.max, 1000);
        let q =
            parse("SELECT COUNT(*) FROM invoice WHERE CustomerRef IN ('1', '2')").expect("parses");
        assert!(q.count);
        assert_eq!(q.conds[0].values, ["1", "2"]);
        assert!(parse("select * form Customer").is_err());
        assert!(parse("select * from Customer where").is_err());
        assert!(parse("select * from Customer where DisplayName = 'unterminated").is_err());
    }
}
