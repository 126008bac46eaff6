//! Stage access logs: the stage's format with `$context.*` variables filled
//! in, one line per request, written to its CloudWatch log group.

/// The log group an access-log destination ARN names
/// (`arn:aws:logs:{region}:{account}:log-group:{name}[:*]`).
pub fn log_group(destination_arn: &str) -> Option<&str> {
    let name = destination_arn.split_once(":log-group:")?.1;
    Some(name.strip_suffix(":*").unwrap_or(name))
}

/// Replace each `$context.name` in `format` by its value (`-` if unknown).
pub fn render(format: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(format.len() + 64);
    let mut rest = format;
    while let Some(pos) = rest.find("$context.") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + "$context.".len()..];
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_')).unwrap_or(after.len());
        let name = after[..end].trim_end_matches('.');
        let value = vars.iter().find(|(k, _)| *k == name).map_or("-", |(_, v)| v.as_str());
        out.push_str(value);
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_context_variables() {
        let vars =
            [("requestId", "r1".to_owned()), ("status", "200".to_owned()), ("identity.sourceIp", "1.2.3.4".to_owned())];
        assert_eq!(
            render(
                r#"{"id":"$context.requestId","s":$context.status,"ip":"$context.identity.sourceIp","x":"$context.nope"}"#,
                &vars
            ),
            r#"{"id":"r1","s":200,"ip":"1.2.3.4","x":"-"}"#
        );
        assert_eq!(render("$context.requestId.", &vars), "r1.");
        assert_eq!(log_group("arn:aws:logs:us-east-1:000000000000:log-group:my-logs:*"), Some("my-logs"));
    }
}
