//! Recursive-descent parser shared by every expression kind.
//!
//! Syntax errors abort at once, quoting the offending token as AWS does.
//! Semantic errors (undefined placeholders, reserved words, misused
//! functions…) are collected while parsing and the highest-priority one is
//! reported once the whole expression is known to be well-formed, which is
//! the order AWS reports them in.

use nimbus_core::AwsError;

use super::lexer::{lex, Tok, Token};
use super::{is_reserved, Attrs, Cmp, Cond, Kind, Operand, Path, PathElem};
use crate::error::Result;
use crate::types::{AttributeValue, Number};

/// Semantic error classes. Each keeps the first error of its class; which
/// class AWS reports first depends on the expression kind (see `finish`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Parens = 0,
    UnknownFunction,
    MisusedFunction,
    Reserved,
    /// A SET, REMOVE, ADD or DELETE section given twice.
    Section,
    UndefinedName,
    UndefinedValue,
    /// Update targets that overlap or conflict.
    Paths,
    Operands,
    Distinct,
    /// An ADD or DELETE value of the wrong type.
    UpdateOperand,
    Function,
}

const SLOTS: usize = 12;

/// Conditions, filters, key conditions and projections: the last six
/// classes share one place, so the first of them written is reported.
const CONDITION_ORDER: [Slot; 5] =
    [Slot::Parens, Slot::UnknownFunction, Slot::MisusedFunction, Slot::Reserved, Slot::UndefinedName];
/// Update expressions: reserved words come first, and names, values, paths,
/// ADD/DELETE operands and functions each have their own rank.
const UPDATE_ORDER: [Slot; 11] = [
    Slot::Reserved,
    Slot::UnknownFunction,
    Slot::MisusedFunction,
    Slot::Parens,
    Slot::Section,
    Slot::UndefinedName,
    Slot::UndefinedValue,
    Slot::Paths,
    Slot::UpdateOperand,
    Slot::Operands,
    Slot::Function,
];

/// Expressions are at most 4 KB, as sent (placeholders not substituted).
const MAX_EXPRESSION_BYTES: usize = 4096;
/// At most 300 operators and functions per expression.
const MAX_OPERATORS: usize = 300;
/// Each level of parentheses around an OR or AND costs two operators, so
/// nesting deeper than this has too many operators or redundant parentheses.
/// The cap keeps recursion far from the stack's end (a debug build's
/// 2 MB thread stack holds about twice this).
const MAX_NESTING: usize = MAX_OPERATORS / 2;

/// A document path reaches at most 32 levels, its first name included.
const MAX_PATH_DEPTH: usize = 32;

/// The functions that make a condition (all but `size`).
const CONDITION_FUNCTIONS: [&str; 5] =
    ["attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"];

/// The keywords that can never be a path's name, by expression kind.
const CONDITION_KEYWORDS: [&str; 5] = ["AND", "OR", "NOT", "BETWEEN", "IN"];
const UPDATE_KEYWORDS: [&str; 4] = ["SET", "REMOVE", "ADD", "DELETE"];

pub(crate) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    pub(crate) kind: Kind,
    pub(crate) attrs: &'a mut Attrs,
    errors: [Option<String>; SLOTS],
    /// Token positions of the parentheses of each closed group.
    groups: Vec<(usize, usize)>,
    operators: usize,
    depth: usize,
}

/// A parsed term before we know whether it stands for a value or a condition.
enum Term {
    Operand(Operand),
    Func(String, Vec<Term>),
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, kind: Kind, attrs: &'a mut Attrs) -> Result<Self> {
        if src.trim().is_empty() {
            return Err(kind.error("The expression can not be empty;"));
        }
        if src.len() > MAX_EXPRESSION_BYTES {
            // AWS names the size for conditions but not for update expressions.
            let size = if kind == Kind::Update { String::new() } else { format!(" expression size: {}", src.len()) };
            return Err(kind.error(format!("Expression size has exceeded the maximum allowed size;{size}")));
        }
        Ok(Parser {
            src,
            toks: lex(src),
            pos: 0,
            kind,
            attrs,
            errors: Default::default(),
            groups: Vec::new(),
            operators: 0,
            depth: 0,
        })
    }

    pub(crate) fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    pub(crate) fn peek_at(&self, offset: usize) -> &Token {
        &self.toks[(self.pos + offset).min(self.toks.len() - 1)]
    }

    pub(crate) fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn at_punct(&self, p: &str) -> bool {
        matches!(self.peek().tok, Tok::Punct(q) if q == p)
    }

    pub(crate) fn at_eof(&self) -> bool {
        self.peek().tok == Tok::Eof
    }

    pub(crate) fn expect_punct(&mut self, p: &str) -> Result<()> {
        if self.at_punct(p) {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// "Syntax error; token: "x", near: "a x b"": the token with its neighbours.
    pub(crate) fn syntax_error(&self) -> AwsError {
        let pos = self.pos.min(self.toks.len() - 1);
        let t = &self.toks[pos];
        let start = if pos > 0 { self.toks[pos - 1].start } else { t.start };
        let end = match self.toks.get(pos + 1) {
            Some(next) if next.tok != Tok::Eof => next.end,
            _ => t.end.max(self.src.len().min(t.end)),
        };
        let near = self.src.get(start..end).unwrap_or("");
        self.kind.error(format!("Syntax error; token: \"{}\", near: \"{near}\"", t.text(self.src)))
    }

    pub(crate) fn defer(&mut self, slot: Slot, message: impl FnOnce() -> String) {
        let shared = if self.kind == Kind::Update {
            // Operand counts, operand types and document-path demands share
            // a rank in updates, in the order written.
            if slot == Slot::Operands {
                Slot::Function
            } else {
                slot
            }
        } else if slot as usize >= Slot::UndefinedName as usize {
            // Undefined placeholders, operand counts, distinctness and operand
            // types are reported in the order they are written.
            Slot::UndefinedName
        } else {
            slot
        };
        let entry = &mut self.errors[shared as usize];
        if entry.is_none() {
            *entry = Some(message());
        }
    }

    /// Count one operator or function towards the expression's limit.
    pub(crate) fn operator(&mut self) {
        self.operators += 1;
    }

    /// Enter one level of nesting (parentheses, NOT, function arguments).
    pub(crate) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(match self.operators > MAX_OPERATORS {
                true => self.too_many_operators(),
                false => self.kind.error("The expression has redundant parentheses;"),
            });
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// AWS stops counting at the first operator over the limit.
    fn too_many_operators(&self) -> AwsError {
        let count = MAX_OPERATORS + 1;
        self.kind.error(format!("The expression contains too many operators; operator count: {count}"))
    }

    /// The first deferred error by priority, if any.
    pub(crate) fn finish(self) -> Result<()> {
        if !self.at_eof() {
            return Err(self.syntax_error());
        }
        if self.operators > MAX_OPERATORS {
            return Err(self.too_many_operators());
        }
        let order: &[Slot] = if self.kind == Kind::Update { &UPDATE_ORDER } else { &CONDITION_ORDER };
        let mut errors = self.errors;
        match order.iter().find_map(|&slot| errors[slot as usize].take()) {
            Some(message) => Err(self.kind.error(message)),
            None => Ok(()),
        }
    }

    fn keywords(&self) -> &'static [&'static str] {
        if self.kind == Kind::Update {
            &UPDATE_KEYWORDS
        } else {
            &CONDITION_KEYWORDS
        }
    }

    /// A path element name: a bare word (not reserved) or a `#placeholder`.
    fn path_name(&mut self) -> Result<String> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Ident(word) if !self.keywords().iter().any(|k| word.eq_ignore_ascii_case(k)) => {
                if !word.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    return Err(self.syntax_error());
                }
                self.advance();
                if is_reserved(word) {
                    self.defer(Slot::Reserved, || {
                        format!("Attribute name is a reserved keyword; reserved keyword: {word}")
                    });
                }
                Ok(word.clone())
            }
            Tok::Name(key) => {
                self.advance();
                Ok(self.attrs.name(key).unwrap_or_else(|| {
                    self.defer(Slot::UndefinedName, || {
                        format!("An expression attribute name used in the document path is not defined; attribute name: {key}")
                    });
                    key.clone()
                }))
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// `a.b[3].#c`
    pub(crate) fn path(&mut self) -> Result<Path> {
        let first = PathElem::Name(self.path_name()?);
        self.path_steps(vec![first])
    }

    /// The `.name` and `[index]` steps after the start of a path.
    fn path_steps(&mut self, mut elems: Vec<PathElem>) -> Result<Path> {
        loop {
            if self.at_punct(".") {
                self.advance();
                elems.push(PathElem::Name(self.path_name()?));
            } else if self.at_punct("[") {
                self.advance();
                let index = match &self.peek().tok {
                    Tok::Int(digits) => digits.parse::<usize>().ok(),
                    _ => None,
                };
                let Some(index) = index else {
                    return Err(self.syntax_error());
                };
                self.advance();
                self.expect_punct("]")?;
                elems.push(PathElem::Index(index));
            } else {
                if elems.len() > MAX_PATH_DEPTH {
                    return Err(self.kind.error(format!(
                        "The document path has too many nesting levels; nesting levels: {}",
                        elems.len()
                    )));
                }
                return Ok(Path(elems));
            }
        }
    }

    /// Resolve a `:value` placeholder token.
    pub(crate) fn value(&mut self, key: &str) -> AttributeValue {
        self.attrs.value(key).unwrap_or_else(|| {
            self.defer(Slot::UndefinedValue, || {
                format!("An expression attribute value used in expression is not defined; attribute value: {key}")
            });
            AttributeValue::Null
        })
    }

    /// Whether the next tokens are `word (`: a function call.
    /// Like attribute names, function names start with a letter: `_f(` is a
    /// syntax error on `_f`, not an unknown function.
    pub(crate) fn at_function(&self) -> Option<String> {
        match (&self.peek().tok, &self.peek_at(1).tok) {
            (Tok::Ident(name), Tok::Punct("(")) if name.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                Some(name.clone())
            }
            _ => None,
        }
    }

    // ---- conditions ----

    fn or(&mut self) -> Result<Cond> {
        let mut left = self.and()?;
        while self.peek().is_keyword("OR") {
            self.advance();
            self.operator();
            let right = self.and()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond> {
        let mut left = self.not()?;
        while self.peek().is_keyword("AND") {
            self.advance();
            self.operator();
            let right = self.not()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond> {
        // A run of NOTs is counted in a loop, not by recursion: each is an
        // operator, and the operator limit rejects a long run.
        let mut nots = 0;
        while self.peek().is_keyword("NOT") {
            self.advance();
            self.operator();
            nots += 1;
        }
        let mut cond = self.primary()?;
        for _ in 0..nots {
            cond = Cond::Not(Box::new(cond));
        }
        Ok(cond)
    }

    /// Whether the `(` here encloses an operand, as in `(a) = :v` or
    /// `(a.b).c < :v`, rather than a condition: what follows its `)` says.
    fn at_operand_group(&self) -> bool {
        let mut depth = 0usize;
        for (i, t) in self.toks[self.pos..].iter().enumerate() {
            match t.tok {
                Tok::Punct("(") => depth += 1,
                Tok::Punct(")") => {
                    depth -= 1;
                    if depth == 0 {
                        let after = &self.toks[(self.pos + i + 1).min(self.toks.len() - 1)];
                        return matches!(after.tok, Tok::Punct("=" | "<>" | "<" | "<=" | ">" | ">=" | "." | "["))
                            || after.is_keyword("BETWEEN")
                            || after.is_keyword("IN");
                    }
                }
                Tok::Eof => return false,
                _ => {}
            }
        }
        false
    }

    /// Close a parenthesised group opened at token `open`; a group directly
    /// inside another is redundant.
    fn close_group(&mut self, open: usize) -> Result<()> {
        let close = self.pos;
        self.expect_punct(")")?;
        if self.groups.iter().any(|&(o, c)| o == open + 1 && c == close - 1) {
            self.defer(Slot::Parens, || "The expression has redundant parentheses;".into());
        }
        self.groups.push((open, close));
        Ok(())
    }

    fn primary(&mut self) -> Result<Cond> {
        if self.at_punct("(") && !self.at_operand_group() {
            let open = self.pos;
            self.advance();
            self.enter()?;
            let inner = self.or()?;
            self.leave();
            self.close_group(open)?;
            return Ok(inner);
        }
        let first = self.term()?;
        let cmp = match self.peek().tok {
            Tok::Punct("=") => Some(Cmp::Eq),
            Tok::Punct("<>") => Some(Cmp::Ne),
            Tok::Punct("<") => Some(Cmp::Lt),
            Tok::Punct("<=") => Some(Cmp::Le),
            Tok::Punct(">") => Some(Cmp::Gt),
            Tok::Punct(">=") => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(cmp) = cmp {
            self.advance();
            self.operator();
            let second = self.term()?;
            let (a, b) = (self.operand(first), self.operand(second));
            self.check_distinct(cmp.symbol(), &a, &b);
            if !matches!(cmp, Cmp::Eq | Cmp::Ne) {
                self.check_orderable(cmp.symbol(), &[&a, &b]);
            }
            return Ok(Cond::Compare(cmp, a, b));
        }
        if self.peek().is_keyword("BETWEEN") {
            self.advance();
            self.operator();
            let low = self.term()?;
            if !self.peek().is_keyword("AND") {
                return Err(self.syntax_error());
            }
            self.advance();
            let high = self.term()?;
            let (a, low, high) = (self.operand(first), self.operand(low), self.operand(high));
            self.check_orderable("BETWEEN", &[&a, &low, &high]);
            self.check_between(&low, &high);
            return Ok(Cond::Between(a, low, high));
        }
        if self.peek().is_keyword("IN") {
            self.advance();
            self.operator();
            self.expect_punct("(")?;
            let mut list = vec![];
            loop {
                let t = self.term()?;
                list.push(self.operand(t));
                if self.at_punct(",") {
                    self.advance();
                } else {
                    break;
                }
            }
            self.expect_punct(")")?;
            if list.len() > 100 {
                let n = list.len();
                self.defer(Slot::Operands, || {
                    format!("The IN operator is provided with too many operands; number of operands: {n}")
                });
            }
            let a = self.operand(first);
            return Ok(Cond::In(a, list));
        }
        match first {
            Term::Func(name, args) => self.condition_function(name, args),
            Term::Operand(_) => Err(self.syntax_error()),
        }
    }

    /// A path, a `:value`, or a function call (validated by the caller).
    fn term(&mut self) -> Result<Term> {
        if self.at_punct("(") {
            // An operand in parentheses; a path in them may go on: `(a.b).c`.
            let open = self.pos;
            self.advance();
            self.enter()?;
            let inner = self.term()?;
            self.leave();
            self.close_group(open)?;
            return match inner {
                Term::Operand(Operand::Path(p)) if self.at_punct(".") || self.at_punct("[") => {
                    Ok(Term::Operand(Operand::Path(self.path_steps(p.0)?)))
                }
                other => Ok(other),
            };
        }
        if let Some(name) = self.at_function() {
            self.advance();
            self.advance();
            self.operator();
            self.enter()?;
            let mut args = vec![];
            loop {
                args.push(self.term()?);
                if self.at_punct(",") {
                    self.advance();
                } else {
                    break;
                }
            }
            self.leave();
            self.expect_punct(")")?;
            return Ok(Term::Func(name, args));
        }
        if let Tok::Value(key) = &self.peek().tok {
            let key = key.clone();
            self.advance();
            return Ok(Term::Operand(Operand::Value(self.value(&key))));
        }
        Ok(Term::Operand(Operand::Path(self.path()?)))
    }

    fn known_function(&mut self, name: &str, args: usize) -> bool {
        let arity = match name {
            "attribute_exists" | "attribute_not_exists" | "size" => 1,
            "attribute_type" | "begins_with" | "contains" => 2,
            "if_not_exists" | "list_append" => {
                self.defer(Slot::MisusedFunction, || {
                    format!("The function is not allowed in a condition expression; function: {name}")
                });
                return false;
            }
            _ => {
                self.defer(Slot::UnknownFunction, || format!("Invalid function name; function: {name}"));
                return false;
            }
        };
        if arity != args {
            self.defer(Slot::Operands, || {
                format!("Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {args}")
            });
            return false;
        }
        true
    }

    /// A term used where a value is needed: only `size()` may be a function.
    fn operand(&mut self, term: Term) -> Operand {
        match term {
            Term::Operand(op) => op,
            Term::Func(name, args) => {
                let known = self.known_function(&name, args.len());
                if name != "size" {
                    // Misuse outranks a wrong operand count: checked whatever the count.
                    if CONDITION_FUNCTIONS.contains(&name.as_str()) {
                        self.defer(Slot::MisusedFunction, || {
                            format!(
                                "The function is not allowed to be used this way in an expression; function: {name}"
                            )
                        });
                    }
                    return Operand::Value(AttributeValue::Null);
                }
                if !known {
                    return Operand::Value(AttributeValue::Null);
                }
                let arg = args.into_iter().next().map(|a| self.operand(a));
                match arg {
                    Some(Operand::Path(p)) => Operand::Size(p),
                    // The size of a constant is known now.
                    Some(Operand::Value(v)) => match super::eval::size_of(&v) {
                        Some(n) => Operand::Value(AttributeValue::N(Number::from_i64(n as i64))),
                        None => {
                            self.bad_operand_type("size", v.type_name());
                            Operand::Value(AttributeValue::Null)
                        }
                    },
                    Some(Operand::Size(_)) => {
                        self.bad_operand_type("size", "N");
                        Operand::Value(AttributeValue::Null)
                    }
                    None => Operand::Value(AttributeValue::Null),
                }
            }
        }
    }

    /// The type an operand is known to have before any item is read.
    fn known_type(op: &Operand) -> Option<&'static str> {
        match op {
            Operand::Value(v) => Some(v.type_name()),
            Operand::Size(_) => Some("N"),
            Operand::Path(_) => None,
        }
    }

    fn bad_operand_type(&mut self, function: &str, t: &str) {
        self.defer(Slot::Function, || {
            format!(
                "Incorrect operand type for operator or function; operator or function: {function}, operand type: {t}"
            )
        });
    }

    fn require_path(&mut self, function: &str, op: Operand) -> Path {
        match op {
            Operand::Path(p) => p,
            _ => {
                self.defer(Slot::Function, || {
                    format!("Operator or function requires a document path; operator or function: {function}")
                });
                Path(vec![])
            }
        }
    }

    fn condition_function(&mut self, name: String, args: Vec<Term>) -> Result<Cond> {
        let placeholder = Cond::Exists(Path(vec![]));
        if !self.known_function(&name, args.len()) {
            return Ok(placeholder);
        }
        if name == "size" {
            self.defer(Slot::MisusedFunction, || {
                "The function is not allowed to be used this way in an expression; function: size".into()
            });
            return Ok(placeholder);
        }
        let mut ops: Vec<Operand> = args.into_iter().map(|a| self.operand(a)).collect();
        let second = if ops.len() == 2 { ops.pop() } else { None };
        let first = ops.pop().unwrap_or(Operand::Value(AttributeValue::Null));
        Ok(match (name.as_str(), second) {
            ("attribute_exists", _) => Cond::Exists(self.require_path(&name, first)),
            ("attribute_not_exists", _) => Cond::NotExists(self.require_path(&name, first)),
            ("attribute_type", Some(t)) => {
                self.check_distinct(&name, &first, &t);
                match &t {
                    Operand::Size(_) => self.bad_operand_type(&name, "N"),
                    Operand::Value(AttributeValue::S(s)) => {
                        if !["S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"].contains(&s.as_str()) {
                            self.defer(Slot::Function, || {
                                format!("Invalid attribute type name found; type: {s}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}")
                            });
                        }
                    }
                    Operand::Value(v) => self.bad_operand_type(&name, v.type_name()),
                    _ => self.bad_operand_type(&name, "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"),
                }
                // Unlike attribute_exists(), the first operand may be a value.
                Cond::Type(first, t)
            }
            ("begins_with", Some(prefix)) => {
                self.check_distinct(&name, &first, &prefix);
                for op in [&first, &prefix] {
                    if let Some(t) = Self::known_type(op).filter(|t| !matches!(*t, "S" | "B")) {
                        self.bad_operand_type(&name, t);
                    }
                }
                Cond::BeginsWith(first, prefix)
            }
            ("contains", Some(needle)) => {
                self.check_distinct(&name, &first, &needle);
                Cond::Contains(first, needle)
            }
            _ => placeholder,
        })
    }

    /// Only numbers, strings and binaries are ordered: any other constant in
    /// an ordering comparison is an operand type error. (An item attribute
    /// of another type only makes the comparison false.)
    fn check_orderable(&mut self, operator: &str, operands: &[&Operand]) {
        for op in operands {
            if let Operand::Value(v) = op {
                if !matches!(v, AttributeValue::N(_) | AttributeValue::S(_) | AttributeValue::B(_)) {
                    self.bad_operand_type(operator, v.type_name());
                }
            }
        }
    }

    fn check_distinct(&mut self, operator: &str, a: &Operand, b: &Operand) {
        if let (Operand::Path(p), Operand::Path(q)) = (a, b) {
            if p == q {
                self.defer(Slot::Distinct, || {
                    format!("The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {p}")
                });
            }
        }
    }

    fn check_between(&mut self, low: &Operand, high: &Operand) {
        let (Operand::Value(l), Operand::Value(h)) = (low, high) else {
            return;
        };
        let show = |v: &AttributeValue| format!("AttributeValue: {{{}:{}}}", v.type_name(), v.display_scalar());
        if l.type_name() != h.type_name() {
            self.defer(Slot::Function, || {
                format!(
                    "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: {}, upper bound operand: {}",
                    show(l),
                    show(h)
                )
            });
        } else if super::eval::compare(l, h) == Some(std::cmp::Ordering::Greater) {
            self.defer(Slot::Function, || {
                format!(
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: {}, upper bound operand: {}",
                    show(l),
                    show(h)
                )
            });
        }
    }
}

/// Parse a condition, filter or key-condition expression.
pub fn condition(src: &str, kind: Kind, attrs: &mut Attrs) -> Result<Cond> {
    let mut p = Parser::new(src, kind, attrs)?;
    let cond = p.or()?;
    p.finish()?;
    Ok(cond)
}

/// Parse a projection expression: a comma-separated list of paths.
pub fn projection(src: &str, attrs: &mut Attrs) -> Result<Vec<Path>> {
    let mut p = Parser::new(src, Kind::Projection, attrs)?;
    let mut paths = vec![p.path()?];
    while p.at_punct(",") {
        p.advance();
        paths.push(p.path()?);
    }
    p.finish()?;
    check_overlaps(&paths, Kind::Projection)?;
    Ok(paths)
}

/// AWS rejects two paths where one contains the other (overlap) or where
/// they treat the same step as both map key and list index (conflict).
pub fn check_overlaps(paths: &[Path], kind: Kind) -> Result<()> {
    match path_problem(paths) {
        Some(problem) => Err(kind.error(problem)),
        None => Ok(()),
    }
}

/// The first overlap among `paths` (in the order written), or failing
/// that the first conflict: AWS reports an overlap before any conflict.
pub(crate) fn path_problem(paths: &[Path]) -> Option<String> {
    let mut conflict = None;
    for (i, p) in paths.iter().enumerate() {
        for q in &paths[..i] {
            let common = p.0.iter().zip(&q.0).take_while(|(a, b)| a == b).count();
            if common == p.0.len().min(q.0.len()) {
                return Some(format!(
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {q}, path two: {p}"
                ));
            }
            let kinds_differ = matches!(
                (&p.0[common], &q.0[common]),
                (PathElem::Name(_), PathElem::Index(_)) | (PathElem::Index(_), PathElem::Name(_))
            );
            if kinds_differ && conflict.is_none() {
                conflict = Some(format!(
                    "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {q}, path two: {p}"
                ));
            }
        }
    }
    conflict
}
