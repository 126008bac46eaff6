//! Term patterns: `ERROR "disk full" -DEBUG ?WARN ?FATAL`.
//!
//! Plain terms and quoted phrases must all appear (case-sensitive
//! substrings); `-term` must not appear; when `?term`s are present at least
//! one of them must appear.

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Terms {
    required: Vec<String>,
    excluded: Vec<String>,
    any_of: Vec<String>,
}

pub fn parse(source: &str) -> Result<Terms, String> {
    let mut terms = Terms::default();
    let mut chars = source.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let list = match first {
            '-' => {
                chars.next();
                &mut terms.excluded
            }
            '?' => {
                chars.next();
                &mut terms.any_of
            }
            _ => &mut terms.required,
        };
        let mut term = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => term.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => term.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated quoted term \"{term}"));
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                term.push(c);
            }
        }
        if term.is_empty() {
            return Err("empty term".into());
        }
        list.push(term);
    }
    Ok(terms)
}

impl Terms {
    pub fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|t| message.contains(t.as_str()))
            && !self.excluded.iter().any(|t| message.contains(t.as_str()))
            && (self.any_of.is_empty() || self.any_of.iter().any(|t| message.contains(t.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn all_terms_must_match_case_sensitively() {
        assert!(m("ERROR disk", "ERROR: disk full"));
        assert!(!m("ERROR disk", "ERROR: memory"));
        assert!(!m("error", "ERROR"));
    }

    #[test]
    fn quoted_phrases_match_as_a_whole() {
        assert!(m("\"disk full\"", "ERROR: disk full"));
        assert!(!m("\"disk full\"", "full disk"));
        assert!(m("\"say \\\"hi\\\"\"", "they say \"hi\""));
        assert!(parse("\"open").is_err());
    }

    #[test]
    fn exclusions_and_alternatives() {
        assert!(m("ERROR -Retry", "ERROR failed"));
        assert!(!m("ERROR -Retry", "ERROR Retry later"));
        assert!(m("?WARN ?FATAL", "FATAL boom"));
        assert!(!m("?WARN ?FATAL", "INFO ok"));
        assert!(m("app ?WARN ?FATAL -test", "app WARN x"));
        assert!(!m("app ?WARN ?FATAL -test", "app WARN test"));
    }
}
