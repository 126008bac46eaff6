//! Space-delimited patterns: `[ip, user, ..., status = 5* || status = 4*, size > 1000]`.
//!
//! The message is split on spaces; text in `"…"` or `[…]` is one field
//! (without its delimiters). Each pattern entry names one field; `...`
//! stands for any number of fields. An entry may carry conditions on
//! fields, joined by `&&` and `||` (`&&` binds tighter). Without `...` the
//! field counts must agree.

use super::lex::{compare_text, tokenize, CmpOp, Literal, Token};

#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Field(String),
    Ellipsis,
}

/// A condition: OR of ANDs of `field op literal`.
type Condition = Vec<Vec<(String, CmpOp, Literal)>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    entries: Vec<Entry>,
    conditions: Vec<Condition>,
}

pub fn parse(source: &str) -> Result<Fields, String> {
    let tokens = tokenize(source)?;
    if tokens.first() != Some(&Token::Open('[')) || tokens.last() != Some(&Token::Close(']')) {
        return Err("a space-delimited pattern is enclosed in [ ]".into());
    }
    let inner = &tokens[1..tokens.len() - 1];
    let mut entries = Vec::new();
    let mut conditions = Vec::new();
    for part in inner.split(|t| *t == Token::Comma) {
        let (name, rest) = match part.split_first() {
            Some((Token::Word(name), rest)) => (name.clone(), rest),
            _ => return Err("each field of [ ] needs a name".into()),
        };
        if name == "..." {
            if !rest.is_empty() {
                return Err("... takes no condition".into());
            }
            // `..., ...` means no more than one `...`; merging keeps matching cheap.
            if entries.last() != Some(&Entry::Ellipsis) {
                entries.push(Entry::Ellipsis);
            }
            continue;
        }
        entries.push(Entry::Field(name.clone()));
        if !rest.is_empty() {
            conditions.push(parse_condition(&name, rest)?);
        }
    }
    Ok(Fields { entries, conditions })
}

/// `op value [(&&|||) [name] op value]…`, the first term about `name`.
fn parse_condition(name: &str, tokens: &[Token]) -> Result<Condition, String> {
    let mut condition: Condition = vec![vec![]];
    let mut i = 0;
    let mut field = name.to_owned();
    loop {
        let op = match tokens.get(i) {
            Some(Token::Cmp(op)) => *op,
            _ => return Err(format!("expected a comparison for field {field}")),
        };
        let literal = tokens.get(i + 1).and_then(Literal::from_token).ok_or("expected a value")?;
        if matches!(literal, Literal::Text(_)) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err("only numbers can be compared with <, <=, > and >=".into());
        }
        if let Some(group) = condition.last_mut() {
            group.push((field.clone(), op, literal));
        }
        i += 2;
        match tokens.get(i) {
            None => return Ok(condition),
            Some(Token::And) => {}
            Some(Token::Or) => condition.push(vec![]),
            Some(other) => return Err(format!("unexpected {other:?}")),
        }
        i += 1;
        if let Some(Token::Word(next)) = tokens.get(i) {
            field = next.clone();
            i += 1;
        }
    }
}

/// Split a log line into fields: spaces separate, quotes and brackets group.
fn split_message(message: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = message.trim_start();
    while !rest.is_empty() {
        let close = match rest.as_bytes()[0] {
            b'"' => Some('"'),
            b'[' => Some(']'),
            _ => None,
        };
        let (field, after) = match close.and_then(|c| rest[1..].find(c).map(|end| (c, end))) {
            Some((_, end)) => (&rest[1..1 + end], &rest[end + 2..]),
            None => match rest.find(char::is_whitespace) {
                Some(end) => (&rest[..end], &rest[end..]),
                None => (rest, ""),
            },
        };
        fields.push(field);
        rest = after.trim_start();
    }
    fields
}

impl Fields {
    pub fn matches(&self, message: &str) -> bool {
        self.bindings(message).is_some()
    }

    /// The named fields of a matching message (`ip` → `127.0.0.1`), or
    /// `None` when it does not match.
    pub fn bindings(&self, message: &str) -> Option<Vec<(String, String)>> {
        let values = split_message(message);
        // Without `...` the field counts must agree: a cheap early exit.
        if !self.entries.contains(&Entry::Ellipsis) && values.len() != self.entries.len() {
            return None;
        }
        let mut bound = Vec::with_capacity(self.entries.len());
        let mut found = None;
        self.bind(&self.entries, &values, &mut bound, &mut found);
        found
    }

    /// Try every way `entries` can cover `values` (each `...` takes zero or
    /// more fields) until one satisfies all conditions; that binding goes
    /// to `found`.
    fn bind<'p, 'm>(
        &'p self,
        entries: &'p [Entry],
        values: &[&'m str],
        bound: &mut Vec<(&'p str, &'m str)>,
        found: &mut Option<Vec<(String, String)>>,
    ) -> bool {
        match entries.split_first() {
            None => {
                let ok = values.is_empty() && self.conditions.iter().all(|c| holds(c, bound));
                if ok {
                    *found = Some(bound.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
                }
                ok
            }
            Some((Entry::Ellipsis, rest)) => {
                (0..=values.len()).any(|skip| self.bind(rest, &values[skip..], bound, found))
            }
            Some((Entry::Field(name), rest)) => {
                let Some((value, remaining)) = values.split_first() else { return false };
                // Bindings form a stack; a later duplicate name shadows an earlier one.
                bound.push((name.as_str(), value));
                let ok = self.bind(rest, remaining, bound, found);
                bound.pop();
                ok
            }
        }
    }
}

fn holds(condition: &Condition, bound: &[(&str, &str)]) -> bool {
    let lookup = |field: &str| bound.iter().rev().find(|(name, _)| *name == field).map(|(_, value)| *value);
    condition.iter().any(|group| {
        group.iter().all(|(field, op, literal)| lookup(field).is_some_and(|v| compare_text(v, *op, literal)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 503 1534"#;

    fn m(pattern: &str, message: &str) -> bool {
        parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn splits_quotes_and_brackets_into_single_fields() {
        assert_eq!(
            split_message(LINE),
            vec!["127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /index.html HTTP/1.0", "503", "1534"]
        );
    }

    #[test]
    fn named_fields_with_conditions() {
        assert!(m("[ip, id, user, timestamp, request, status, size]", LINE));
        assert!(!m("[ip, id, user, timestamp, request, status]", LINE));
        assert!(m("[ip, id, user = frank, timestamp, request = *html*, status = 5*, size > 1000]", LINE));
        assert!(!m("[ip, id, user, timestamp, request, status = 4*, size]", LINE));
        assert!(!m("[ip, id, user, timestamp, request, status, size > 2000]", LINE));
        assert!(m("[ip, id, user, timestamp, request, status = 404 || status = 503, size]", LINE));
        assert!(m("[ip, id, user, timestamp, request, status >= 500 && status < 600, size]", LINE));
        assert!(m("[ip, id, user != bob, timestamp, request, status, size]", LINE));
    }

    #[test]
    fn ellipsis_stands_for_any_fields() {
        assert!(m("[ip, user, ..., status=5*, size>1000]", LINE));
        assert!(m("[..., status = 503, size]", LINE));
        assert!(m("[ip = 127.*, ...]", LINE));
        assert!(!m("[ip = 10.*, ...]", LINE));
        assert!(m("[..., request = \"GET *\", ...]", LINE));
    }

    #[test]
    fn bindings_name_the_fields() {
        let fields = parse("[ip, ..., status, size]").unwrap().bindings(LINE).unwrap();
        assert_eq!(
            fields,
            vec![("ip".into(), "127.0.0.1".into()), ("status".into(), "503".into()), ("size".into(), "1534".into())]
        );
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        assert!(parse("[a, b").is_err());
        assert!(parse("[a, b >]").is_err());
        assert!(parse("[a, = 3]").is_err());
        assert!(parse("[a > x]").is_err());
    }
}
