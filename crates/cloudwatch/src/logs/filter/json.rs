//! JSON patterns: `{ $.level = "ERROR" && ($.latency > 100 || $.user.id NOT EXISTS) }`.
//!
//! A selector walks the event (which must be a JSON object) by `.key` and
//! `[index]`; conditions compare with `=`/`!=` (strings with `*` wildcards,
//! or numbers) and `<`/`<=`/`>`/`>=` (numbers), or test `IS NULL`,
//! `IS TRUE`, `IS FALSE`, `EXISTS`, `NOT EXISTS`.

use serde_json::Value;

use super::lex::{compare_numbers, tokenize, CmpOp, Literal, Token};

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Vec<Step>, CmpOp, Literal),
    IsNull(Vec<Step>),
    IsBool(Vec<Step>, bool),
    Exists(Vec<Step>, bool),
}

pub fn parse(source: &str) -> Result<Expr, String> {
    let tokens = tokenize(source)?;
    let mut parser = Parser { tokens, at: 0 };
    parser.expect(&Token::Open('{'))?;
    let expr = parser.or_expr()?;
    parser.expect(&Token::Close('}'))?;
    if parser.at != parser.tokens.len() {
        return Err("unexpected text after '}'".into());
    }
    Ok(expr)
}

pub fn matches(expr: &Expr, message: &str) -> bool {
    // Only a JSON object can match a JSON pattern.
    match serde_json::from_str::<Value>(message.trim()) {
        Ok(event @ Value::Object(_)) => eval(expr, &event),
        _ => false,
    }
}

fn eval(expr: &Expr, event: &Value) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, event) && eval(b, event),
        Expr::Or(a, b) => eval(a, event) || eval(b, event),
        Expr::IsNull(path) => matches!(select(event, path), Some(Value::Null)),
        Expr::IsBool(path, want) => matches!(select(event, path), Some(Value::Bool(b)) if b == want),
        Expr::Exists(path, want) => select(event, path).is_some() == *want,
        Expr::Compare(path, op, literal) => match (select(event, path), literal) {
            (None, _) => false,
            (Some(Value::Number(n)), Literal::Number(target)) => {
                n.as_f64().is_some_and(|v| compare_numbers(v, *op, *target))
            }
            (Some(Value::String(s)), Literal::Text(_)) => super::lex::compare_text(s, *op, literal),
            (Some(Value::Bool(b)), Literal::Text(_)) => super::lex::compare_text(&b.to_string(), *op, literal),
            // A string holding a number compares as text against a number literal's text.
            (Some(Value::String(s)), Literal::Number(_)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                super::lex::compare_text(s, *op, literal)
            }
            (Some(_), _) => *op == CmpOp::Ne,
        },
    }
}

/// The value at `selector` (`$.a.b[0]`) in a JSON message.
pub fn select_in(message: &str, selector: &str) -> Option<Value> {
    let path = parse_selector(selector).ok()?;
    let event: Value = serde_json::from_str(message.trim()).ok()?;
    select(&event, &path).cloned()
}

fn select<'a>(mut value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    for step in path {
        value = match (step, value) {
            (Step::Key(key), Value::Object(map)) => map.get(key)?,
            (Step::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

/// `$.a.b[0]["c"]`-style selector text into steps.
fn parse_selector(text: &str) -> Result<Vec<Step>, String> {
    let rest = text.strip_prefix('$').ok_or_else(|| format!("selector {text} must start with $"))?;
    let mut steps = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(c) = chars.next_if(|c| *c != '.' && *c != '[') {
                    key.push(c);
                }
                if key.is_empty() {
                    return Err(format!("empty key in selector {text}"));
                }
                steps.push(Step::Key(key));
            }
            '[' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                let index = inner.trim().parse::<usize>().map_err(|_| format!("bad index [{inner}] in {text}"))?;
                steps.push(Step::Index(index));
            }
            _ => return Err(format!("unexpected '{c}' in selector {text}")),
        }
    }
    if steps.is_empty() {
        return Err(format!("selector {text} selects nothing"));
    }
    Ok(steps)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, want: &Token) -> Result<(), String> {
        match self.next() {
            Some(ref got) if got == want => Ok(()),
            Some(got) => Err(format!("expected {want:?}, found {got:?}")),
            None => Err(format!("expected {want:?} at the end")),
        }
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Open('(')) => {
                let expr = self.or_expr()?;
                self.expect(&Token::Close(')'))?;
                Ok(expr)
            }
            Some(Token::Selector(text)) => {
                let path = parse_selector(&text)?;
                self.condition(path)
            }
            Some(other) => Err(format!("expected a selector, found {other:?}")),
            None => Err("expected a selector".into()),
        }
    }

    fn condition(&mut self, path: Vec<Step>) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Cmp(op)) => {
                let literal = self.next().as_ref().and_then(Literal::from_token).ok_or("expected a value")?;
                if matches!(literal, Literal::Text(_)) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Err("only numbers can be compared with <, <=, > and >=".into());
                }
                Ok(Expr::Compare(path, op, literal))
            }
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("IS") => match self.next() {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("NULL") => Ok(Expr::IsNull(path)),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("TRUE") => Ok(Expr::IsBool(path, true)),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("FALSE") => Ok(Expr::IsBool(path, false)),
                _ => Err("expected NULL, TRUE or FALSE after IS".into()),
            },
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("NOT") => match self.next() {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("EXISTS") => Ok(Expr::Exists(path, false)),
                _ => Err("expected EXISTS after NOT".into()),
            },
            Some(Token::Word(word)) if word.eq_ignore_ascii_case("EXISTS") => Ok(Expr::Exists(path, true)),
            _ => Err("expected a comparison after the selector".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        matches(&parse(pattern).unwrap(), message)
    }

    const EVENT: &str = r#"{"level":"ERROR","latency":150,"user":{"id":"u-42","admin":true},"tags":["a","b"],"gone":null,"code":"503"}"#;

    #[test]
    fn string_and_numeric_comparisons() {
        assert!(m(r#"{ $.level = "ERROR" && $.latency > 100 }"#, EVENT));
        assert!(!m(r#"{ $.level = "ERROR" && $.latency > 200 }"#, EVENT));
        assert!(m(r#"{ $.level = "WARN" || $.latency >= 150 }"#, EVENT));
        assert!(m(r#"{ $.level != "INFO" }"#, EVENT));
        assert!(m(r#"{ $.latency = 150 }"#, EVENT));
        assert!(m(r#"{ $.latency <= 150 && $.latency < 151 }"#, EVENT));
        assert!(m(r#"{ $.level = ERROR }"#, EVENT));
    }

    #[test]
    fn wildcards_nesting_and_arrays() {
        assert!(m(r#"{ $.user.id = "u-*" }"#, EVENT));
        assert!(!m(r#"{ $.user.id = "x-*" }"#, EVENT));
        assert!(m(r#"{ $.tags[1] = "b" }"#, EVENT));
        assert!(!m(r#"{ $.tags[5] = "b" }"#, EVENT));
        assert!(m(r#"{ ($.level = "X" || $.code = 5*) && $.user.admin IS TRUE }"#, EVENT));
    }

    #[test]
    fn null_exists_and_booleans() {
        assert!(m("{ $.gone IS NULL }", EVENT));
        assert!(!m("{ $.level IS NULL }", EVENT));
        assert!(m("{ $.missing NOT EXISTS }", EVENT));
        assert!(!m("{ $.gone NOT EXISTS }", EVENT));
        assert!(m("{ $.user.admin IS TRUE }", EVENT));
        assert!(!m("{ $.user.admin IS FALSE }", EVENT));
        assert!(m("{ $.user EXISTS }", EVENT));
    }

    #[test]
    fn non_json_events_never_match() {
        assert!(!m(r#"{ $.level = "ERROR" }"#, "ERROR plain text"));
        assert!(!m(r#"{ $.level != "ERROR" }"#, "[1,2]"));
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        assert!(parse("{ $.a = }").is_err());
        assert!(parse("{ $.a > \"x\" }").is_err());
        assert!(parse("{ $.a = 1 ").is_err());
        assert!(parse("{ level = 1 }").is_err());
        assert!(parse("{ $.a IS MAYBE }").is_err());
    }
}
