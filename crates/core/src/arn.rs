//! Amazon Resource Names.

/// Build `arn:aws:{service}:{region}:{account}:{resource}`.
pub fn arn(service: &str, region: &str, account_id: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{region}:{account_id}:{resource}")
}

/// The parts of an ARN.
#[derive(Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account_id: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty()).then_some(arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = arn("dynamodb", "us-east-1", "000000000000", "table/T/index/I");
        let parsed = Arn::parse(&text).unwrap();
        assert_eq!(parsed.service, "dynamodb");
        assert_eq!(parsed.resource, "table/T/index/I");
        assert!(Arn::parse("nope:aws:x").is_none());
    }
}
