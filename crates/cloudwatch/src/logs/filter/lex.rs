//! Tokens of JSON and space-delimited patterns.

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Open(char),
    Close(char),
    Comma,
    And,
    Or,
    Cmp(CmpOp),
    /// `"…"`, escapes resolved.
    Quoted(String),
    /// `$.a.b[0]`.
    Selector(String),
    /// A bare word: a field name, number, keyword, `...`, or a wildcard value.
    Word(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

const SPECIAL: &[char] = &['{', '}', '(', ')', '[', ']', ',', '=', '!', '<', '>', '&', '|', '"'];

pub fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '{' | '(' | '[' => {
                tokens.push(Token::Open(c));
                i += 1;
            }
            '}' | ')' | ']' => {
                tokens.push(Token::Close(c));
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '&' if next == Some('&') => {
                tokens.push(Token::And);
                i += 2;
            }
            '|' if next == Some('|') => {
                tokens.push(Token::Or);
                i += 2;
            }
            '=' => {
                tokens.push(Token::Cmp(CmpOp::Eq));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '!' if next == Some('=') => {
                tokens.push(Token::Cmp(CmpOp::Ne));
                i += 2;
            }
            '<' | '>' => {
                let op = match (c, next == Some('=')) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    (_, false) => CmpOp::Gt,
                    (_, true) => CmpOp::Ge,
                };
                tokens.push(Token::Cmp(op));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string \"{text}")),
                        Some('\\') => {
                            text.extend(chars.get(i + 1));
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            text.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '$' => {
                // A selector: `$`, then `.name` and `[index]` steps.
                let start = i;
                i += 1;
                while let Some(&c) = chars.get(i) {
                    if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '$' | '@' | ':') {
                        i += 1;
                    } else if c == '[' {
                        let close = chars[i..].iter().position(|&c| c == ']').ok_or("unterminated [ in selector")?;
                        i += close + 1;
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Selector(chars[start..i].iter().collect()));
            }
            c if SPECIAL.contains(&c) => return Err(format!("unexpected '{c}'")),
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !SPECIAL.contains(&chars[i]) {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

/// A comparison's right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    /// A string, possibly with `*` wildcards.
    Text(String),
}

impl Literal {
    pub fn from_token(token: &Token) -> Option<Literal> {
        match token {
            Token::Quoted(s) => Some(Literal::Text(s.clone())),
            Token::Word(w) => Some(match w.parse::<f64>() {
                Ok(n) if n.is_finite() => Literal::Number(n),
                _ => Literal::Text(w.clone()),
            }),
            _ => None,
        }
    }
}

/// Compare a field's text against a literal as filter patterns do: numbers
/// numerically (a field that is not a number never matches), strings by
/// (wildcard) equality.
pub fn compare_text(field: &str, op: CmpOp, literal: &Literal) -> bool {
    match literal {
        Literal::Number(n) => match field.trim().parse::<f64>() {
            Ok(value) => compare_numbers(value, op, *n),
            Err(_) => false,
        },
        Literal::Text(pattern) => match op {
            CmpOp::Eq => super::wildcard_match(pattern, field),
            CmpOp::Ne => !super::wildcard_match(pattern, field),
            _ => false,
        },
    }
}

pub fn compare_numbers(value: f64, op: CmpOp, target: f64) -> bool {
    match op {
        CmpOp::Eq => value == target,
        CmpOp::Ne => value != target,
        CmpOp::Lt => value < target,
        CmpOp::Le => value <= target,
        CmpOp::Gt => value > target,
        CmpOp::Ge => value >= target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let tokens = tokenize(r#"{ $.a[0].b >= 10 && $.c != "x y" }"#).unwrap();
        assert_eq!(
            tokens,
            vec![
                Token::Open('{'),
                Token::Selector("$.a[0].b".into()),
                Token::Cmp(CmpOp::Ge),
                Token::Word("10".into()),
                Token::And,
                Token::Selector("$.c".into()),
                Token::Cmp(CmpOp::Ne),
                Token::Quoted("x y".into()),
                Token::Close('}'),
            ]
        );
        assert!(tokenize("\"open").is_err());
    }
}
