//! Tokens of DynamoDB's expression language, with their source spans so
//! syntax errors can quote the text near them as AWS does.

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A bare word: attribute name, function name or keyword.
    Ident(String),
    /// `#name` placeholder.
    Name(String),
    /// `:value` placeholder.
    Value(String),
    /// Digits, only meaningful inside `[ ]`.
    Int(String),
    Punct(&'static str),
    /// A character the language has no use for.
    Other(char),
    Eof,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's text as AWS quotes it in syntax errors.
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        match self.tok {
            Tok::Eof => "<EOF>",
            _ => &source[self.start..self.end],
        }
    }

    /// Whether this is the keyword `word` (case-insensitive).
    pub fn is_keyword(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub fn lex(source: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let mut i = 0;
    let end_of = |j: usize| chars.get(j).map(|&(p, _)| p).unwrap_or(source.len());
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let word_end = |mut j: usize| {
            while j < chars.len() && is_word(chars[j].1) {
                j += 1;
            }
            j
        };
        let (tok, next) = if c == '#' || c == ':' {
            let j = word_end(i + 1);
            let name = source[start..end_of(j)].to_owned();
            (if c == '#' { Tok::Name(name) } else { Tok::Value(name) }, j)
        } else if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && chars[j].1.is_ascii_digit() {
                j += 1;
            }
            // A word starting with a digit stays one (bad) token.
            let j = word_end(j);
            (Tok::Int(source[start..end_of(j)].to_owned()), j)
        } else if is_word(c) {
            let j = word_end(i);
            (Tok::Ident(source[start..end_of(j)].to_owned()), j)
        } else {
            let two = source.get(start..start + 2);
            match two {
                Some("<>") => (Tok::Punct("<>"), i + 2),
                Some("<=") => (Tok::Punct("<="), i + 2),
                Some(">=") => (Tok::Punct(">="), i + 2),
                _ => {
                    let p = match c {
                        '(' => "(",
                        ')' => ")",
                        '[' => "[",
                        ']' => "]",
                        '.' => ".",
                        ',' => ",",
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        '+' => "+",
                        '-' => "-",
                        _ => "",
                    };
                    (if p.is_empty() { Tok::Other(c) } else { Tok::Punct(p) }, i + 1)
                }
            }
        };
        out.push(Token { tok, start, end: end_of(next) });
        i = next;
    }
    out.push(Token { tok: Tok::Eof, start: source.len(), end: source.len() });
    out
}
