//! The SOQL subset connectors use: `SELECT f1, f2 | COUNT() FROM
//! Contact|Account|Project__c [WHERE expr] [ORDER BY field [ASC|DESC]]
//! [LIMIT n] [OFFSET n]`, where an expression joins conditions (`=, !=, <,
//! <=, >, >=, IN (...), LIKE`) and parenthesised expressions with `AND` or
//! `OR`; as in SOQL, `AND` and `OR` side by side need parentheses (`a AND b
//! OR c` is `MALFORMED_QUERY`). Datetime and date literals are unquoted (a
//! quoted one is Salesforce's `INVALID_FIELD` error); unknown fields are
//! `INVALID_FIELD`, syntax errors `MALFORMED_QUERY`.

use std::cmp::Ordering;

use serde_json::Value;

use super::errors::SfError;
use super::model::{FieldType, SObject, SfRow};
use crate::clock;
use crate::store::Table;

/// A literal in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
    /// Unquoted datetime or date, in milliseconds.
    Time(i64),
}

#[derive(Debug, Clone)]
pub struct Cond {
    pub field: &'static str,
    pub op: String,
    pub values: Vec<Literal>,
}

/// A `WHERE` expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Cond(Cond),
    /// Terms joined by `AND`.
    All(Vec<Expr>),
    /// Terms joined by `OR`.
    Any(Vec<Expr>),
}

impl Expr {
    /// Whether a record whose fields `value_of` reads satisfies it.
    fn holds(&self, value_of: &dyn Fn(&'static str) -> Value) -> bool {
        match self {
            Expr::Cond(c) => holds(c, &value_of(c.field)),
            Expr::All(terms) => terms.iter().all(|t| t.holds(value_of)),
            Expr::Any(terms) => terms.iter().any(|t| t.holds(value_of)),
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Soql {
    pub object: SObject,
    pub count: bool,
    pub fields: Vec<&'static str>,
    /// The `WHERE` expression as the terms of its top-level `AND`.
    pub conds: Vec<Expr>,
    pub order: Option<(&'static str, bool)>,
    pub limit: Option<usize>,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Comma,
    Open,
    Close,
}

fn tokenize(q: &str) -> Result<Vec<Tok>, SfError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
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
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(SfError::malformed_query(
                                "unexpected end of query: unterminated string literal",
                            ));
                        }
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                s.push(*n);
                            }
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
                if c != '=' && matches!(chars.get(i + 1), Some('=') | Some('>')) {
                    op.push(chars[i + 1]);
                    i += 1;
                }
                out.push(Tok::Op(op));
                i += 1;
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '+') => {
                let start = i;
                while chars.get(i).is_some_and(|c| {
                    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '+')
                }) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(SfError::malformed_query(format!(
                    "unexpected token: '{other}'"
                )));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    text: String,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn eat(&mut self, k: &str) -> bool {
        let found = self.keyword(k);
        if found {
            self.pos += 1;
        }
        found
    }
    fn error(&self, wanted: &str) -> SfError {
        let found = match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) | Some(Tok::Op(w)) => w.clone(),
            Some(Tok::Comma) => ",".into(),
            Some(Tok::Open) => "(".into(),
            Some(Tok::Close) => ")".into(),
            None => "end of query".into(),
        };
        SfError::malformed_query(format!(
            "\n{}\n^\nERROR at token {}: unexpected token: '{found}' (expecting {wanted})",
            self.text,
            self.pos + 1
        ))
    }
    fn word(&mut self, wanted: &str) -> Result<String, SfError> {
        match self.peek() {
            Some(Tok::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.error(wanted)),
        }
    }
    fn tok(&mut self, t: Tok, wanted: &str) -> Result<(), SfError> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(wanted))
        }
    }
}

fn no_such_column(object: SObject, field: &str) -> SfError {
    SfError::bad(
        "INVALID_FIELD",
        format!(
            "\nNo such column '{field}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
            object.name()
        ),
    )
}

fn literal(p: &mut Parser, object: SObject, field: &'static str) -> Result<Literal, SfError> {
    // Dates and datetimes take unquoted literals.
    let temporal = match object.field_type(field) {
        FieldType::DateTime => Some("dateTime"),
        FieldType::Date => Some("date"),
        _ => None,
    };
    match p.peek().cloned() {
        Some(Tok::Str(s)) => {
            p.pos += 1;
            if let Some(ty) = temporal {
                return Err(SfError::bad(
                    "INVALID_FIELD",
                    format!(
                        "\nvalue of filter criterion for field '{field}' must be of type {ty} and should not be enclosed in quotes"
                    ),
                ));
            }
            Ok(Literal::Text(s))
        }
        Some(Tok::Word(w)) => {
            p.pos += 1;
            if w.eq_ignore_ascii_case("null") {
                return Ok(Literal::Null);
            }
            if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") {
                return Ok(Literal::Bool(w.eq_ignore_ascii_case("true")));
            }
            if let Some(ms) = clock::parse(&w) {
                if temporal.is_none() {
                    return Err(SfError::bad(
                        "INVALID_FIELD",
                        format!(
                            "\nvalue of filter criterion for field '{field}' must be of type {} ",
                            object.name()
                        ),
                    ));
                }
                return Ok(Literal::Time(ms));
            }
            if let Ok(n) = w.parse::<f64>() {
                return Ok(Literal::Number(n));
            }
            Err(SfError::malformed_query(format!(
                "\nunexpected token: '{w}'"
            )))
        }
        _ => Err(p.error("a literal")),
    }
}

/// `term (AND term)*` or `term (OR term)*`.
fn expression(p: &mut Parser, object: SObject) -> Result<Expr, SfError> {
    let mut terms = vec![term(p, object)?];
    let mut joiner: Option<bool> = None;
    loop {
        let is_or = if p.keyword("and") {
            false
        } else if p.keyword("or") {
            true
        } else {
            break;
        };
        if joiner.is_some_and(|j| j != is_or) {
            // SOQL has no precedence between AND and OR.
            return Err(p.error("parentheses around the terms of an AND or an OR"));
        }
        joiner = Some(is_or);
        p.pos += 1;
        terms.push(term(p, object)?);
    }
    Ok(match joiner {
        Some(true) => Expr::Any(terms),
        Some(false) => Expr::All(terms),
        None => terms.pop().unwrap_or(Expr::All(Vec::new())),
    })
}

/// `( expression )` or one condition.
fn term(p: &mut Parser, object: SObject) -> Result<Expr, SfError> {
    if p.peek() == Some(&Tok::Open) {
        p.pos += 1;
        let inner = expression(p, object)?;
        p.tok(Tok::Close, ")")?;
        return Ok(inner);
    }
    condition(p, object).map(Expr::Cond)
}

/// `field op literal`, `field IN (literals)` or `field LIKE literal`.
fn condition(p: &mut Parser, object: SObject) -> Result<Cond, SfError> {
    let name = p.word("a field")?;
    let f = object
        .field(&name)
        .ok_or_else(|| no_such_column(object, &name))?;
    if p.eat("in") {
        p.tok(Tok::Open, "(")?;
        let mut values = vec![literal(p, object, f)?];
        while p.peek() == Some(&Tok::Comma) {
            p.pos += 1;
            values.push(literal(p, object, f)?);
        }
        p.tok(Tok::Close, ")")?;
        return Ok(Cond {
            field: f,
            op: "in".into(),
            values,
        });
    }
    if p.eat("like") {
        return Ok(Cond {
            field: f,
            op: "like".into(),
            values: vec![literal(p, object, f)?],
        });
    }
    let op = match p.peek() {
        Some(Tok::Op(op)) if matches!(op.as_str(), "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") => {
            op.clone()
        }
        _ => return Err(p.error("an operator")),
    };
    p.pos += 1;
    Ok(Cond {
        field: f,
        op,
        values: vec![literal(p, object, f)?],
    })
}

/// Parses a SOQL query.
pub fn parse(text: &str) -> Result<Soql, SfError> {
    let mut p = Parser {
        toks: tokenize(text)?,
        pos: 0,
        text: text.to_string(),
    };
    if !p.eat("select") {
        return Err(p.error("SELECT"));
    }
    let mut names = Vec::new();
    let mut count = false;
    if p.keyword("count") && p.toks.get(p.pos + 1) == Some(&Tok::Open) {
        p.pos += 1;
        p.tok(Tok::Open, "(")?;
        p.tok(Tok::Close, ")")?;
        count = true;
    } else {
        names.push(p.word("a field")?);
        while p.peek() == Some(&Tok::Comma) {
            p.pos += 1;
            names.push(p.word("a field")?);
        }
    }
    if !p.eat("from") {
        return Err(p.error("FROM"));
    }
    let object_name = p.word("an object")?;
    let object = SObject::parse(&object_name).ok_or_else(|| {
        SfError::bad("INVALID_TYPE", format!("\nsObject type '{object_name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name."))
    })?;
    let field = |name: &str| {
        object
            .field(name)
            .ok_or_else(|| no_such_column(object, name))
    };
    let fields = names
        .iter()
        .map(|n| field(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut conds = Vec::new();
    if p.eat("where") {
        conds = match expression(&mut p, object)? {
            Expr::All(terms) => terms,
            other => vec![other],
        };
    }
    let mut order = None;
    if p.eat("order") {
        if !p.eat("by") {
            return Err(p.error("BY"));
        }
        let f = field(&p.word("a field")?)?;
        let ascending = !p.eat("desc");
        if ascending {
            p.eat("asc");
        }
        if p.eat("nulls") {
            let _ = p.eat("first") || p.eat("last");
        }
        order = Some((f, ascending));
    }
    let mut limit = None;
    let mut offset = 0;
    loop {
        if p.eat("limit") {
            let w = p.word("a number")?;
            limit = Some(w.parse().map_err(|_| {
                SfError::malformed_query(format!("\nLIMIT expects a number, got '{w}'"))
            })?);
        } else if p.eat("offset") {
            let w = p.word("a number")?;
            offset = w.parse().map_err(|_| {
                SfError::malformed_query(format!("\nOFFSET expects a number, got '{w}'"))
            })?;
        } else {
            break;
        }
    }
    if p.peek().is_some() {
        return Err(p.error("end of query"));
    }
    Ok(Soql {
        object,
        count,
        fields,
        conds,
        order,
        limit,
        offset,
    })
}

fn compare(have: &Value, want: &Literal) -> Option<Ordering> {
    match (have, want) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::String(s), Literal::Time(ms)) => Some(clock::parse(s)?.cmp(ms)),
        (Value::String(s), Literal::Text(t)) => Some(s.to_lowercase().cmp(&t.to_lowercase())),
        (Value::Number(n), Literal::Number(m)) => n.as_f64()?.partial_cmp(m),
        (Value::Bool(b), Literal::Bool(c)) => Some(b.cmp(c)),
        _ => None,
    }
}

fn holds(c: &Cond, have: &Value) -> bool {
    let first = c.values.first().unwrap_or(&Literal::Null);
    match c.op.as_str() {
        "in" => c
            .values
            .iter()
            .any(|v| compare(have, v) == Some(Ordering::Equal)),
        "like" => {
            let (Value::String(text), Literal::Text(pattern)) = (have, first) else {
                return false;
            };
            let (text, pattern) = (text.to_lowercase(), pattern.to_lowercase());
            let core = pattern.trim_matches('%');
            match (pattern.starts_with('%'), pattern.ends_with('%')) {
                (true, true) => text.contains(core),
                (true, false) => text.ends_with(core),
                (false, true) => text.starts_with(core),
                (false, false) => text == core,
            }
        }
        op => {
            let ord = compare(have, first);
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

fn is_modstamp(field: &str) -> bool {
    matches!(field, "SystemModstamp" | "LastModifiedDate")
}

/// Runs a query; answers the matching record numbers in order.
pub fn run(q: &Soql, table: &Table<SfRow>, include_deleted: bool) -> Vec<u64> {
    let lower = q
        .conds
        .iter()
        .filter_map(|e| match e {
            Expr::Cond(c) => Some(c),
            _ => None,
        })
        .filter(|c| is_modstamp(c.field) && matches!(c.op.as_str(), ">" | ">=" | "="))
        .filter_map(|c| match c.values.first() {
            Some(Literal::Time(ms)) => Some(*ms),
            _ => None,
        })
        .max();
    let by_time = match q.order {
        Some((f, true)) => is_modstamp(f),
        Some(_) => false,
        None => lower.is_some(),
    };
    let by_id = matches!(q.order, None | Some(("Id", true))) && !by_time;
    let candidates: Box<dyn Iterator<Item = (u64, Option<i64>)> + '_> = if by_time {
        Box::new(
            table
                .by_updated_from((lower.unwrap_or(i64::MIN), 0))
                .map(|(t, n)| (n, Some(t))),
        )
    } else {
        Box::new(table.numbers_from(1).map(|n| (n, None)))
    };
    let mut matched: Vec<(u64, Option<SfRow>)> = Vec::new();
    for (n, time) in candidates {
        let written = table.written(n);
        if !include_deleted && written.is_some_and(|r| r.deleted) {
            continue;
        }
        let mut rest = Vec::new();
        let mut ok = true;
        for e in &q.conds {
            match (e, time) {
                (Expr::Cond(c), Some(t)) if is_modstamp(c.field) => {
                    ok &= holds(c, &Value::String(clock::salesforce(t)))
                }
                (Expr::Cond(c), _) if c.field == "Id" => {
                    ok &= holds(c, &Value::String(q.object.id(n)))
                }
                _ => rest.push(e),
            }
        }
        if !ok {
            continue;
        }
        if rest.is_empty() && (by_time || by_id) {
            matched.push((n, None));
            continue;
        }
        let Some(row) = table.get(n) else { continue };
        let value_of = |field: &'static str| row.value(q.object, n, field);
        if rest.iter().all(|e| e.holds(&value_of)) {
            let keep = (!(by_time || by_id)).then(|| row.into_owned());
            matched.push((n, keep));
        }
    }
    if let (Some((field, ascending)), false) = (q.order, by_time || by_id) {
        matched.sort_by(|(na, a), (nb, b)| {
            let va = a
                .as_ref()
                .map(|r| r.value(q.object, *na, field))
                .unwrap_or(Value::Null);
            let vb = b
                .as_ref()
                .map(|r| r.value(q.object, *nb, field))
                .unwrap_or(Value::Null);
            let ord = match (&va, &vb) {
                (Value::Null, Value::Null) => Ordering::Equal,
                (Value::Null, _) => Ordering::Less,
                (_, Value::Null) => Ordering::Greater,
                (Value::Number(x), Value::Number(y)) => x
                    .as_f64()
                    .partial_cmp(&y.as_f64())
                    .unwrap_or(Ordering::Equal),
                _ => va
                    .to_string()
                    .to_lowercase()
                    .cmp(&vb.to_string().to_lowercase()),
            };
            let ord = if ascending { ord } else { ord.reverse() };
            ord.then(na.cmp(nb))
        });
    }
    matched
        .into_iter()
        .skip(q.offset)
        .take(q.limit.unwrap_or(usize::MAX))
        .map(|(n, _)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset_and_rejects_quoted_datetimes() {
        let q = parse("SELECT Id, FirstName, LastName, Email, AccountId, SystemModstamp FROM Contact WHERE SystemModstamp > 2024-01-01T00:00:00Z ORDER BY SystemModstamp").expect("parses");
        assert_eq!(q.fields.len(), 6);
        let Expr::Cond(since) = &q.conds[0] else {
            panic!("one condition: {:?}", q.conds);
        };
        assert_eq!(since.values[0], Literal::Time(1_704_067_200_000));
        let err = parse("SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01T00:00:00Z'")
            .expect_err("quoted");
        assert_eq!(err.code, "INVALID_FIELD");
        assert_eq!(
            parse("SELECT Shoe FROM Contact").expect_err("field").code,
            "INVALID_FIELD"
        );
        assert_eq!(
            parse("SELECT Id FROM Contact WHERE")
                .expect_err("syntax")
                .code,
            "MALFORMED_QUERY"
        );
        assert!(
            parse("select count() from account where Name like 'Sum%' limit 5")
                .expect("parses")
                .count
        );
    }

    #[test]
    fn and_and_or_nest_in_parentheses_but_never_mix_bare() {
        let q = parse(
            "SELECT Id FROM Contact WHERE (FirstName = 'A' AND LastName = 'B') \
             OR (FirstName = 'C' AND (Phone = '1' OR MobilePhone = '1'))",
        )
        .expect("parses");
        let [Expr::Any(terms)] = q.conds.as_slice() else {
            panic!("one OR: {:?}", q.conds);
        };
        assert!(matches!(terms.as_slice(), [Expr::All(_), Expr::All(_)]));
        let q = parse("SELECT Id FROM Contact WHERE Email IN ('a', 'b') AND (Title = 'x')")
            .expect("parses");
        assert_eq!(q.conds.len(), 2);
        for bare in [
            "SELECT Id FROM Contact WHERE Email = 'a' AND Title = 'x' OR Phone = '1'",
            "SELECT Id FROM Contact WHERE Email = 'a' OR Title = 'x' AND Phone = '1'",
            "SELECT Id FROM Contact WHERE (Email = 'a' OR Title = 'x'",
            "SELECT Id FROM Contact WHERE Email = 'a' OR",
        ] {
            assert_eq!(
                parse(bare).expect_err(bare).code,
                "MALFORMED_QUERY",
                "{bare}"
            );
        }
        assert_eq!(
            parse("SELECT Id FROM Contact WHERE Email = 'a' OR Shoe = 'b'")
                .expect_err("unknown field")
                .code,
            "INVALID_FIELD"
        );
    }

    #[test]
    fn expressions_hold_as_soql_evaluates_them() {
        let q = parse(
            "SELECT Id FROM Contact WHERE (FirstName = 'ann' AND LastName = 'LEE') \
             OR Email IN ('b@x.com', 'c@x.com')",
        )
        .expect("parses");
        let record = |first: &str, last: &str, email: &str| {
            let (first, last, email) = (first.to_owned(), last.to_owned(), email.to_owned());
            move |field: &'static str| match field {
                "FirstName" => Value::String(first.clone()),
                "LastName" => Value::String(last.clone()),
                "Email" => Value::String(email.clone()),
                _ => Value::Null,
            }
        };
        let holds =
            |value_of: &dyn Fn(&'static str) -> Value| q.conds.iter().all(|e| e.holds(value_of));
        assert!(holds(&record("Ann", "Lee", "z@x.com")));
        assert!(holds(&record("Bob", "Lee", "C@X.com")));
        assert!(!holds(&record("Ann", "Leeds", "z@x.com")));
        assert!(!holds(&record("Bob", "Lee", "d@x.com")));
    }
}
