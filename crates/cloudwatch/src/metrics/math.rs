//! Metric math for GetMetricData: `(errors / invocations) * 100`,
//! `SUM([m1, m2])`, `AVG(METRICS())`, `m1 - AVG(m1)`.
//!
//! Values are scalars, time series (timestamp → value) or arrays of time
//! series. Arithmetic between series keeps the timestamps both have;
//! division by zero drops the point. SUM/AVG/MIN/MAX of an array give one
//! series (per timestamp, over the series that have it); of a single
//! series, a scalar. METRICS() is every MetricStat query's series
//! (METRICS("x"): those whose id or label contains x). Also: ABS, CEIL,
//! FLOOR, SQRT, LOG, LOG10, EXP (per value), DIFF and RATE (change from
//! the previous point, RATE per second), PERIOD (the period in seconds),
//! and FILL(x, value | REPEAT) over every period of the range.

use std::collections::BTreeMap;

pub type Series = BTreeMap<i64, f64>;

#[derive(Clone, Debug, PartialEq)]
pub enum MathValue {
    Scalar(f64),
    Series(Series),
    Array(Vec<Series>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number(f64),
    Text(String),
    Id(String),
    Neg(Box<Expr>),
    Binary(char, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    List(Vec<Expr>),
}

/// What expressions can refer to: query results by id, and the MetricStat
/// results for METRICS() (id, label, series).
pub trait Env {
    fn lookup(&self, id: &str) -> Option<MathValue>;
    fn metrics(&self) -> Vec<(String, String, Series)>;
    /// The start of every period in the query's range (FILL fills these).
    fn grid(&self) -> Vec<i64> {
        Vec::new()
    }
    /// The period in seconds (PERIOD, RATE).
    fn period_seconds(&self) -> i64 {
        60
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Str(String),
    Sym(char),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(s.parse().map_err(|_| format!("Invalid number {s}"))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..].iter().position(|&d| d == c).ok_or("Unterminated string")?;
            out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if "+-*/^()[],".contains(c) {
            out.push(Tok::Sym(c));
            i += 1;
        } else {
            return Err(format!("Unexpected character '{c}'"));
        }
    }
    Ok(out)
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.sum()?;
    if parser.at != parser.tokens.len() {
        return Err("Unexpected text at the end of the expression".into());
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek_sym(&self) -> Option<char> {
        match self.tokens.get(self.at) {
            Some(Tok::Sym(c)) => Some(*c),
            _ => None,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek_sym() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("Expected '{c}'"))
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek_sym() {
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.power()?;
        while let Some(op @ ('*' | '/')) = self.peek_sym() {
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.power()?));
        }
        Ok(left)
    }

    fn power(&mut self) -> Result<Expr, String> {
        let base = self.unary()?;
        if self.peek_sym() == Some('^') {
            self.at += 1;
            return Ok(Expr::Binary('^', Box::new(base), Box::new(self.power()?)));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_sym() == Some('-') {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let token = self.tokens.get(self.at).cloned().ok_or("Unexpected end of the expression")?;
        self.at += 1;
        match token {
            Tok::Num(n) => Ok(Expr::Number(n)),
            Tok::Str(s) => Ok(Expr::Text(s)),
            Tok::Sym('(') => {
                let inner = self.sum()?;
                self.expect(')')?;
                Ok(inner)
            }
            Tok::Sym('[') => Ok(Expr::List(self.items(']')?)),
            Tok::Ident(name) if self.peek_sym() == Some('(') => {
                self.at += 1;
                Ok(Expr::Call(name.to_ascii_uppercase(), self.items(')')?))
            }
            Tok::Ident(name) => Ok(Expr::Id(name)),
            Tok::Sym(c) => Err(format!("Unexpected '{c}'")),
        }
    }

    fn items(&mut self, close: char) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        if self.peek_sym() == Some(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.sum()?);
            match self.peek_sym() {
                Some(',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => return Err(format!("Expected ',' or '{close}'")),
            }
        }
    }
}

/// The ids an expression refers to (for ordering and cycle checks).
pub fn references(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Id(id) => out.push(id.clone()),
        Expr::Neg(e) => references(e, out),
        Expr::Binary(_, a, b) => {
            references(a, out);
            references(b, out);
        }
        Expr::Call(_, args) | Expr::List(args) => args.iter().for_each(|a| references(a, out)),
        Expr::Number(_) | Expr::Text(_) => {}
    }
}

pub fn eval(expr: &Expr, env: &dyn Env) -> Result<MathValue, String> {
    match expr {
        Expr::Number(n) => Ok(MathValue::Scalar(*n)),
        Expr::Text(_) => Err("A string is only allowed as a function argument".into()),
        Expr::Id(id) => env.lookup(id).ok_or_else(|| format!("Unknown metric id {id}")),
        Expr::Neg(e) => binary('*', MathValue::Scalar(-1.0), eval(e, env)?),
        Expr::Binary(op, a, b) => binary(*op, eval(a, env)?, eval(b, env)?),
        Expr::List(items) => {
            let mut array = Vec::new();
            for item in items {
                match eval(item, env)? {
                    MathValue::Series(s) => array.push(s),
                    MathValue::Array(more) => array.extend(more),
                    MathValue::Scalar(_) => return Err("An array may only hold time series".into()),
                }
            }
            Ok(MathValue::Array(array))
        }
        Expr::Call(name, args) => call(name, args, env),
    }
}

fn call(name: &str, args: &[Expr], env: &dyn Env) -> Result<MathValue, String> {
    match name {
        "METRICS" => {
            let filter = match args {
                [] => None,
                [Expr::Text(s)] => Some(s.as_str()),
                _ => return Err("METRICS takes no argument or one string".into()),
            };
            let series = env
                .metrics()
                .into_iter()
                .filter(|(id, label, _)| filter.is_none_or(|f| id.contains(f) || label.contains(f)))
                .map(|(_, _, s)| s)
                .collect();
            Ok(MathValue::Array(series))
        }
        "SUM" | "AVG" | "MIN" | "MAX" => {
            let [arg] = args else { return Err(format!("{name} takes one argument")) };
            let fold = |values: &[f64]| -> f64 {
                match name {
                    "SUM" => values.iter().sum(),
                    "AVG" => values.iter().sum::<f64>() / values.len() as f64,
                    "MIN" => values.iter().copied().fold(f64::INFINITY, f64::min),
                    _ => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                }
            };
            match eval(arg, env)? {
                MathValue::Scalar(v) => Ok(MathValue::Scalar(v)),
                MathValue::Series(s) => {
                    let values: Vec<f64> = s.values().copied().collect();
                    Ok(MathValue::Scalar(if values.is_empty() { 0.0 } else { fold(&values) }))
                }
                MathValue::Array(array) => {
                    let mut by_time: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
                    for series in &array {
                        for (t, v) in series {
                            by_time.entry(*t).or_default().push(*v);
                        }
                    }
                    Ok(MathValue::Series(by_time.into_iter().map(|(t, vs)| (t, fold(&vs))).collect()))
                }
            }
        }
        "ABS" | "CEIL" | "FLOOR" | "SQRT" | "LOG" | "LOG10" | "EXP" => {
            let [arg] = args else { return Err(format!("{name} takes one argument")) };
            let f: fn(f64) -> f64 = match name {
                "ABS" => f64::abs,
                "CEIL" => f64::ceil,
                "FLOOR" => f64::floor,
                "SQRT" => f64::sqrt,
                "LOG" => f64::ln,
                "LOG10" => f64::log10,
                _ => f64::exp,
            };
            Ok(drop_non_finite(map(eval(arg, env)?, f)))
        }
        "DIFF" | "RATE" => {
            let [arg] = args else { return Err(format!("{name} takes one argument")) };
            let rate = name == "RATE";
            let change = |s: Series| -> Series {
                let points: Vec<(i64, f64)> = s.into_iter().collect();
                points
                    .windows(2)
                    .filter_map(|w| {
                        let (t0, v0) = w[0];
                        let (t1, v1) = w[1];
                        let dt = (t1 - t0) as f64 / 1000.0;
                        let value = if rate { (v1 - v0) / dt } else { v1 - v0 };
                        value.is_finite().then_some((t1, value))
                    })
                    .collect()
            };
            match eval(arg, env)? {
                MathValue::Series(s) => Ok(MathValue::Series(change(s))),
                MathValue::Array(a) => Ok(MathValue::Array(a.into_iter().map(change).collect())),
                MathValue::Scalar(_) => Err(format!("{name} needs a time series")),
            }
        }
        "PERIOD" => {
            let [arg] = args else { return Err("PERIOD takes one argument".into()) };
            let period = env.period_seconds() as f64;
            Ok(map(eval(arg, env)?, |_| period))
        }
        "FILL" => {
            let [arg, fill] = args else { return Err("FILL takes two arguments".into()) };
            let grid = env.grid();
            let repeat = matches!(fill, Expr::Id(word) if word.eq_ignore_ascii_case("REPEAT"));
            let value = if repeat {
                None
            } else {
                match eval(fill, env)? {
                    MathValue::Scalar(v) => Some(v),
                    _ => return Err("FILL's second argument is a number or REPEAT".into()),
                }
            };
            let fill_series = |s: Series| -> Series {
                let mut out = Series::new();
                let mut last: Option<f64> = None;
                for t in &grid {
                    match s.get(t) {
                        Some(v) => {
                            last = Some(*v);
                            out.insert(*t, *v);
                        }
                        None => {
                            if let Some(v) = value.or(last) {
                                out.insert(*t, v);
                            }
                        }
                    }
                }
                // Points off the grid (another period) are kept as they are.
                for (t, v) in s {
                    out.entry(t).or_insert(v);
                }
                out
            };
            match eval(arg, env)? {
                MathValue::Series(s) => Ok(MathValue::Series(fill_series(s))),
                MathValue::Array(a) => Ok(MathValue::Array(a.into_iter().map(fill_series).collect())),
                MathValue::Scalar(v) => Ok(MathValue::Scalar(v)),
            }
        }
        other => Err(format!("Unsupported function {other}")),
    }
}

fn map(value: MathValue, f: impl Fn(f64) -> f64 + Copy) -> MathValue {
    match value {
        MathValue::Scalar(v) => MathValue::Scalar(f(v)),
        MathValue::Series(s) => MathValue::Series(s.into_iter().map(|(t, v)| (t, f(v))).collect()),
        MathValue::Array(a) => {
            MathValue::Array(a.into_iter().map(|s| s.into_iter().map(|(t, v)| (t, f(v))).collect()).collect())
        }
    }
}

fn drop_non_finite(value: MathValue) -> MathValue {
    let clean = |s: Series| -> Series { s.into_iter().filter(|(_, v)| v.is_finite()).collect() };
    match value {
        MathValue::Series(s) => MathValue::Series(clean(s)),
        MathValue::Array(a) => MathValue::Array(a.into_iter().map(clean).collect()),
        scalar => scalar,
    }
}

fn apply(op: char, a: f64, b: f64) -> Option<f64> {
    let v = match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '/' if b == 0.0 => return None,
        '/' => a / b,
        _ => a.powf(b),
    };
    v.is_finite().then_some(v)
}

fn binary(op: char, left: MathValue, right: MathValue) -> Result<MathValue, String> {
    use MathValue::*;
    let series_scalar = |s: self::Series, x: f64, scalar_left: bool| -> self::Series {
        s.into_iter()
            .filter_map(|(t, v)| if scalar_left { apply(op, x, v) } else { apply(op, v, x) }.map(|r| (t, r)))
            .collect()
    };
    Ok(match (left, right) {
        (Scalar(a), Scalar(b)) => Scalar(apply(op, a, b).unwrap_or(f64::NAN)),
        (Series(s), Scalar(x)) => Series(series_scalar(s, x, false)),
        (Scalar(x), Series(s)) => Series(series_scalar(s, x, true)),
        (Series(a), Series(b)) => {
            Series(a.iter().filter_map(|(t, x)| b.get(t).and_then(|y| apply(op, *x, *y)).map(|r| (*t, r))).collect())
        }
        (Array(items), other) => {
            let mut out = Vec::new();
            for s in items {
                match binary(op, Series(s), other.clone())? {
                    Series(r) => out.push(r),
                    _ => return Err("Cannot combine two arrays".into()),
                }
            }
            Array(out)
        }
        (other, Array(items)) => {
            let mut out = Vec::new();
            for s in items {
                match binary(op, other.clone(), Series(s))? {
                    Series(r) => out.push(r),
                    _ => return Err("Cannot combine two arrays".into()),
                }
            }
            Array(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestEnv(Vec<(String, Series)>);

    impl Env for TestEnv {
        fn lookup(&self, id: &str) -> Option<MathValue> {
            self.0.iter().find(|(i, _)| i == id).map(|(_, s)| MathValue::Series(s.clone()))
        }
        fn metrics(&self) -> Vec<(String, String, Series)> {
            self.0.iter().map(|(i, s)| (i.clone(), i.clone(), s.clone())).collect()
        }
        fn grid(&self) -> Vec<i64> {
            vec![0, 60, 120, 180]
        }
    }

    fn series(points: &[(i64, f64)]) -> Series {
        points.iter().copied().collect()
    }

    fn env() -> TestEnv {
        TestEnv(vec![
            ("errors".into(), series(&[(0, 1.0), (60, 0.0), (120, 2.0)])),
            ("invocations".into(), series(&[(0, 10.0), (60, 0.0), (120, 4.0)])),
        ])
    }

    fn run(text: &str) -> MathValue {
        eval(&parse(text).unwrap(), &env()).unwrap()
    }

    #[test]
    fn arithmetic_aligns_timestamps_and_drops_division_by_zero() {
        assert_eq!(run("errors / invocations * 100"), MathValue::Series(series(&[(0, 10.0), (120, 50.0)])));
        assert_eq!(run("-errors + 1"), MathValue::Series(series(&[(0, 0.0), (60, 1.0), (120, -1.0)])));
        assert_eq!(run("2 ^ 3 * (1 + 1)"), MathValue::Scalar(16.0));
    }

    #[test]
    fn functions_over_arrays_and_series() {
        assert_eq!(run("SUM(METRICS())"), MathValue::Series(series(&[(0, 11.0), (60, 0.0), (120, 6.0)])));
        assert_eq!(run("MAX([errors, invocations])"), MathValue::Series(series(&[(0, 10.0), (60, 0.0), (120, 4.0)])));
        assert_eq!(run("AVG(errors)"), MathValue::Scalar(1.0));
        assert_eq!(run("errors - AVG(errors)"), MathValue::Series(series(&[(0, 0.0), (60, -1.0), (120, 1.0)])));
        assert_eq!(run("MIN(METRICS(\"inv\"))"), MathValue::Series(series(&[(0, 10.0), (60, 0.0), (120, 4.0)])));
        assert!(matches!(run("METRICS() * 2"), MathValue::Array(a) if a.len() == 2));
    }

    #[test]
    fn fill_diff_rate_period() {
        assert_eq!(run("FILL(errors, 0)"), MathValue::Series(series(&[(0, 1.0), (60, 0.0), (120, 2.0), (180, 0.0)])));
        assert_eq!(
            run("FILL(errors, REPEAT)"),
            MathValue::Series(series(&[(0, 1.0), (60, 0.0), (120, 2.0), (180, 2.0)]))
        );
        assert_eq!(run("DIFF(invocations)"), MathValue::Series(series(&[(60, -10.0), (120, 4.0)])));
        assert_eq!(run("RATE(invocations)"), MathValue::Series(series(&[(60, -10.0 / 0.06), (120, 4.0 / 0.06)])));
        assert_eq!(run("PERIOD(errors)"), MathValue::Series(series(&[(0, 60.0), (60, 60.0), (120, 60.0)])));
        assert_eq!(run("SQRT(invocations)"), MathValue::Series(series(&[(0, 10f64.sqrt()), (60, 0.0), (120, 2.0)])));
        assert_eq!(run("LOG10(invocations)"), MathValue::Series(series(&[(0, 1.0), (120, 4f64.log10())])));
    }

    #[test]
    fn errors_are_reported() {
        assert!(parse("errors +").is_err());
        assert!(parse("(errors").is_err());
        assert!(eval(&parse("nope * 2").unwrap(), &env()).is_err());
        assert!(eval(&parse("FOO(errors)").unwrap(), &env()).is_err());
    }
}
