//! Wildcard patterns of policies: `*` matches any run of characters, `?`
//! exactly one. Actions compare case-insensitively (patterns and actions are
//! lower-cased once), ARNs case-sensitively.

/// A compiled pattern; the common shapes get a fast path.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// `*`
    Any,
    Exact(String),
    /// `prefix*`
    Prefix(String),
    /// Any other mix of `*` and `?`.
    Glob(String),
    /// Contains `${…}` policy variables: expanded per request, then globbed.
    Template(String),
}

impl Pattern {
    pub fn new(text: &str) -> Self {
        if text == "*" {
            return Pattern::Any;
        }
        if text.contains("${") {
            return Pattern::Template(text.to_owned());
        }
        match text.find(['*', '?']) {
            None => Pattern::Exact(text.to_owned()),
            Some(i) if i == text.len() - 1 && text.ends_with('*') => Pattern::Prefix(text[..i].to_owned()),
            Some(_) => Pattern::Glob(text.to_owned()),
        }
    }

    /// An action pattern: case-insensitive, so lower-case it now.
    pub fn action(text: &str) -> Self {
        Pattern::new(&text.to_ascii_lowercase())
    }

    /// Does `text` match? `expand` resolves policy variables of templates;
    /// an unresolvable variable means no match, as in AWS.
    pub fn matches(&self, text: &str, expand: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(p) => p == text,
            Pattern::Prefix(p) => text.starts_with(p.as_str()),
            Pattern::Glob(p) => glob(p.as_bytes(), text.as_bytes()),
            Pattern::Template(t) => match expand_template(t, expand) {
                Some(expanded) => glob(expanded.as_bytes(), text.as_bytes()),
                None => false,
            },
        }
    }
}

/// Replace `${key}` with its value; `${*}`, `${?}` and `${$}` stand for
/// those characters (which then still act as wildcards in the glob).
pub fn expand_template(template: &str, expand: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = after[..end].trim();
        match name {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => {
                // `${aws:username, 'default'}` carries a fallback.
                let (key, default) = match name.split_once(',') {
                    Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\'').to_owned())),
                    None => (name, None),
                };
                out.push_str(&expand(key).or(default)?);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Iterative wildcard match with single-star backtracking: linear in
/// practice, never recursive.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn wildcards() {
        assert!(glob(b"a*c", b"abbbc"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"abbc"));
        assert!(glob(b"*", b""));
        assert!(glob(b"arn:aws:dynamodb:*:*:table/A*", b"arn:aws:dynamodb:us-east-1:0:table/Alpha"));
        assert!(!glob(b"table/A", b"table/a"));
        assert!(glob(b"*a*b*", b"xxaxxbxx"));
        assert!(!glob(b"*a*b", b"xxaxxbxxc"));
    }

    #[test]
    fn shapes_and_actions() {
        assert_eq!(Pattern::new("*"), Pattern::Any);
        assert_eq!(Pattern::new("s3:Get*"), Pattern::Prefix("s3:Get".into()));
        assert!(Pattern::action("DynamoDB:Get*").matches("dynamodb:getitem", &none));
        assert!(!Pattern::new("table/A").matches("table/a", &none));
    }

    #[test]
    fn templates_expand_variables() {
        let vars = |k: &str| (k == "aws:username").then(|| "alice".to_owned());
        let p = Pattern::new("arn:aws:s3:::bucket/${aws:username}/*");
        assert!(p.matches("arn:aws:s3:::bucket/alice/x", &vars));
        assert!(!p.matches("arn:aws:s3:::bucket/bob/x", &vars));
        assert!(!p.matches("arn:aws:s3:::bucket/alice/x", &none));
        assert_eq!(expand_template("${aws:x, 'd'}", &none).as_deref(), Some("d"));
    }
}
