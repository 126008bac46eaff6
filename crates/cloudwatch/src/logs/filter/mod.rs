//! The CloudWatch Logs filter-pattern language, parsed once per request and
//! evaluated against each event's message.
//!
//! Three kinds, told apart by their first character:
//! - `{ … }` JSON patterns (`json`): selectors, comparisons, `&&`/`||`.
//! - `[ … ]` space-delimited patterns (`delimited`): named fields, `...`.
//! - anything else: terms (`text`): words and quoted phrases that must all
//!   appear, `-term` exclusions, `?term` alternatives.
//!
//! The empty pattern matches every event.

mod delimited;
mod json;
mod lex;
mod text;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    All,
    Terms(text::Terms),
    Json(json::Expr),
    Delimited(delimited::Fields),
}

impl Pattern {
    /// Parse a pattern; the error is the message of AWS's
    /// InvalidParameterException.
    pub fn parse(source: &str) -> Result<Pattern, String> {
        let trimmed = source.trim();
        let invalid = |detail: String| format!("Invalid filter pattern: {detail}");
        if trimmed.is_empty() {
            Ok(Pattern::All)
        } else if trimmed.starts_with('{') {
            json::parse(trimmed).map(Pattern::Json).map_err(invalid)
        } else if trimmed.starts_with('[') {
            delimited::parse(trimmed).map(Pattern::Delimited).map_err(invalid)
        } else {
            text::parse(trimmed).map(Pattern::Terms).map_err(invalid)
        }
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms(terms) => terms.matches(message),
            Pattern::Json(expr) => json::matches(expr, message),
            Pattern::Delimited(fields) => fields.matches(message),
        }
    }
}

impl Pattern {
    /// A metric filter's value reference in a matching message: `$.a.b`
    /// (JSON), `$field` (a named field of a space-delimited pattern), or a
    /// number literal. `None` when absent or not a number.
    pub fn extract_number(&self, message: &str, reference: &str) -> Option<f64> {
        let text = self.extract(message, reference)?;
        text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
    }

    /// As `extract_number`, as text (dimension values).
    pub fn extract(&self, message: &str, reference: &str) -> Option<String> {
        if reference.starts_with("$.") {
            return match json::select_in(message, reference)? {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            };
        }
        if let Some(name) = reference.strip_prefix('$') {
            let Pattern::Delimited(fields) = self else { return None };
            return fields.bindings(message)?.into_iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
        }
        Some(reference.to_owned())
    }

    /// Named fields of a space-delimited match, as TestMetricFilter shows
    /// them (`$ip` → value); empty for other kinds.
    pub fn extracted_values(&self, message: &str) -> Vec<(String, String)> {
        match self {
            Pattern::Delimited(fields) => {
                fields.bindings(message).unwrap_or_default().into_iter().map(|(k, v)| (format!("${k}"), v)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Glob match where `*` stands for any run of characters (the only wildcard
/// filter patterns have).
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("5*", "503"));
        assert!(wildcard_match("*html*", "/index.html?x"));
        assert!(wildcard_match("a*c*e", "abcde"));
        assert!(!wildcard_match("a*c*e", "abcd"));
        assert!(!wildcard_match("ab*ba", "aba"));
        assert!(wildcard_match("exact", "exact"));
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert!(Pattern::parse("  ").unwrap().matches("anything"));
    }

    #[test]
    fn metric_values_are_extracted() {
        let json = Pattern::parse("{ $.latency > 0 }").unwrap();
        assert_eq!(json.extract_number(r#"{"latency": 42, "user": {"id": "u1"}}"#, "$.latency"), Some(42.0));
        assert_eq!(json.extract(r#"{"latency": 42, "user": {"id": "u1"}}"#, "$.user.id"), Some("u1".into()));
        assert_eq!(json.extract_number("{}", "1"), Some(1.0));
        let delimited = Pattern::parse("[ip, status, size]").unwrap();
        assert_eq!(delimited.extract_number("1.2.3.4 200 512", "$size"), Some(512.0));
        assert_eq!(delimited.extract_number("1.2.3.4 200 x", "$size"), None);
        assert_eq!(delimited.extracted_values("1.2.3.4 200 512")[0], ("$ip".to_owned(), "1.2.3.4".to_owned()));
    }

    #[test]
    fn kinds_are_told_apart() {
        assert!(matches!(Pattern::parse("{ $.a = 1 }").unwrap(), Pattern::Json(_)));
        assert!(matches!(Pattern::parse("[a, b]").unwrap(), Pattern::Delimited(_)));
        assert!(matches!(Pattern::parse("ERROR").unwrap(), Pattern::Terms(_)));
        assert!(Pattern::parse("{ $.a = ").is_err());
    }
}
