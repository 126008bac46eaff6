//! AWS's evaluation logic over compiled policies: an explicit Deny anywhere
//! wins, otherwise an Allow is needed, otherwise the request is implicitly
//! denied.

use std::borrow::Cow;
use std::net::IpAddr;

use super::document::{Effect, PatternSet, Policy, Principals, Statement};

/// The outcome of evaluating one set of policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    /// Nothing matched.
    NotApplicable,
}

/// Who is asking, as condition keys and policy variables see them.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// `arn:aws:iam::…:user/alice`, `arn:aws:sts::…:assumed-role/R/s`, `…:root`.
    pub arn: String,
    pub account_id: String,
    /// `AIDA…` for users, `AROA…:session` for role sessions, the account for root.
    pub user_id: String,
    /// Users only: `aws:username`.
    pub username: Option<String>,
    /// `User`, `AssumedRole`, `Account`.
    pub principal_type: &'static str,
    /// Role sessions: the role's own ARN, which resource policies may name.
    pub role_arn: Option<String>,
    /// The user's or role's tags (`aws:PrincipalTag/<key>`).
    pub tags: Vec<(String, String)>,
}

/// One authorization question with everything conditions may ask about.
pub struct EvalContext<'a> {
    /// The action lower-cased once (actions compare case-insensitively).
    pub action: &'a str,
    pub resource: &'a str,
    pub caller: &'a Caller,
    pub source_ip: IpAddr,
    /// The request's time; `None` reads the clock when a condition asks
    /// (most checks never do, and the clock is not free).
    pub now_millis: Option<i64>,
    /// Service keys (`dynamodb:LeadingKeys`), names compared case-insensitively.
    pub context_keys: &'a [(&'a str, &'a [String])],
}

impl EvalContext<'_> {
    /// The request's values of condition key `key` (lower-cased).
    pub fn values(&self, key: &str) -> Option<Cow<'_, [String]>> {
        let one = |v: String| Some(Cow::Owned(vec![v]));
        match key {
            "aws:sourceip" => one(self.source_ip.to_string()),
            "aws:currenttime" => one(nimbus_core::time::format_iso8601_millis(self.now())),
            "aws:epochtime" => one((self.now() / 1000).to_string()),
            "aws:principalarn" => one(self.caller.role_arn.clone().unwrap_or_else(|| self.caller.arn.clone())),
            "aws:principalaccount" => one(self.caller.account_id.clone()),
            "aws:userid" => one(self.caller.user_id.clone()),
            "aws:username" => self.caller.username.clone().and_then(one),
            "aws:principaltype" => one(self.caller.principal_type.to_owned()),
            "aws:securetransport" => one("false".to_owned()),
            "aws:requestedregion" => None,
            _ if key.starts_with("aws:principaltag/") => {
                let tag = &key["aws:principaltag/".len()..];
                let value = self.caller.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag))?;
                one(value.1.clone())
            }
            _ => self.context_keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| Cow::Borrowed(*v)),
        }
    }

    fn now(&self) -> i64 {
        self.now_millis.unwrap_or_else(|| nimbus_core::time::now_epoch_millis() as i64)
    }

    /// A policy variable's value, single-valued keys only.
    pub fn variable(&self, key: &str) -> Option<String> {
        let key = key.to_ascii_lowercase();
        let values = self.values(&key)?;
        match values.as_ref() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }
}

fn set_matches(set: &PatternSet, text: &str, ctx: &EvalContext<'_>) -> bool {
    let expand = |k: &str| ctx.variable(k);
    let hit = set.patterns.iter().any(|p| p.matches(text, &expand));
    hit != set.negated
}

/// Do the statement's Action, Resource and Condition all apply?
pub fn statement_applies(st: &Statement, ctx: &EvalContext<'_>) -> bool {
    if !set_matches(&st.actions, ctx.action, ctx) {
        return false;
    }
    if let Some(resources) = &st.resources {
        if !set_matches(resources, ctx.resource, ctx) {
            return false;
        }
    }
    if st.conditions.is_empty() {
        return true;
    }
    let expand = |k: &str| ctx.variable(k);
    st.conditions.iter().all(|c| c.holds(ctx.values(&c.key).as_deref(), &expand))
}

/// Evaluate identity-style policies (no principals): Deny beats Allow.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = &'p Policy>, ctx: &EvalContext<'_>) -> Decision {
    let mut allowed = false;
    for policy in policies {
        for st in &policy.statements {
            if statement_applies(st, ctx) {
                match st.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::NotApplicable
    }
}

/// How a resource or trust policy's principal names the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalMatch {
    No,
    /// By its own ARN (or its role's), or `*`: the policy alone grants.
    Direct,
    /// By its account: the caller's identity policy must allow as well.
    Account,
}

/// Who calls, as a principal element sees it.
pub enum CallerPrincipal<'a> {
    Aws(&'a Caller),
    Service(&'a str),
}

pub fn principal_matches(principals: &Principals, caller: &CallerPrincipal<'_>) -> PrincipalMatch {
    let found = match caller {
        CallerPrincipal::Service(name) => {
            if principals.any || principals.services.iter().any(|s| s == name) {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            }
        }
        CallerPrincipal::Aws(c) => {
            let root = format!("arn:aws:iam::{}:root", c.account_id);
            if principals.any
                || principals.aws.iter().any(|p| *p == c.arn || Some(p) == c.role_arn.as_ref())
                || (c.principal_type == "Account" && principals.aws.contains(&root))
            {
                PrincipalMatch::Direct
            } else if principals.aws.contains(&root) {
                PrincipalMatch::Account
            } else {
                PrincipalMatch::No
            }
        }
    };
    if principals.negated {
        // NotPrincipal: applies to everyone not named.
        if found == PrincipalMatch::No {
            PrincipalMatch::Direct
        } else {
            PrincipalMatch::No
        }
    } else {
        found
    }
}

/// Evaluate a policy with principals (trust or resource-based). Returns the
/// decision and, for an Allow, how the caller was named.
pub fn evaluate_with_principal(
    policy: &Policy,
    caller: &CallerPrincipal<'_>,
    ctx: &EvalContext<'_>,
) -> (Decision, PrincipalMatch) {
    let mut best = PrincipalMatch::No;
    for st in &policy.statements {
        let Some(principals) = &st.principals else { continue };
        let named = principal_matches(principals, caller);
        if named == PrincipalMatch::No || !statement_applies(st, ctx) {
            continue;
        }
        match st.effect {
            Effect::Deny => return (Decision::ExplicitDeny, named),
            Effect::Allow => {
                if best != PrincipalMatch::Direct {
                    best = named;
                }
            }
        }
    }
    if best == PrincipalMatch::No {
        (Decision::NotApplicable, best)
    } else {
        (Decision::Allow, best)
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::PolicyKind;
    use super::*;

    fn ctx<'a>(action: &'a str, resource: &'a str, caller: &'a Caller) -> EvalContext<'a> {
        EvalContext {
            action,
            resource,
            caller,
            source_ip: "127.0.0.1".parse().unwrap(),
            now_millis: Some(1_700_000_000_000),
            context_keys: &[],
        }
    }

    fn alice() -> Caller {
        Caller {
            arn: "arn:aws:iam::000000000000:user/alice".into(),
            account_id: "000000000000".into(),
            user_id: "AIDAALICE".into(),
            username: Some("alice".into()),
            principal_type: "User",
            role_arn: None,
            tags: vec![("team".into(), "blue".into())],
        }
    }

    fn policy(json: &str) -> Policy {
        Policy::parse(json, PolicyKind::Identity).unwrap()
    }

    #[test]
    fn deny_beats_allow_beats_nothing() {
        let admin = policy(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
        let deny = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"dynamodb:Delete*","Resource":"arn:aws:dynamodb:*:*:table/A"}}"#,
        );
        let c = alice();
        let t = "arn:aws:dynamodb:us-east-1:000000000000:table/A";
        assert_eq!(evaluate([&admin, &deny], &ctx("dynamodb:deleteitem", t, &c)), Decision::ExplicitDeny);
        assert_eq!(evaluate([&admin, &deny], &ctx("dynamodb:getitem", t, &c)), Decision::Allow);
        assert_eq!(evaluate([&deny], &ctx("dynamodb:getitem", t, &c)), Decision::NotApplicable);
    }

    #[test]
    fn not_action_not_resource_and_variables() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"},
                {"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}]}"#,
        );
        let c = alice();
        assert_eq!(evaluate([&p], &ctx("s3:getobject", "arn:aws:s3:::public/x", &c)), Decision::Allow);
        assert_eq!(evaluate([&p], &ctx("s3:getobject", "arn:aws:s3:::secret/x", &c)), Decision::NotApplicable);
        assert_eq!(evaluate([&p], &ctx("iam:getuser", "arn:aws:iam::000000000000:user/alice", &c)), Decision::Allow);
        assert_eq!(
            evaluate([&p], &ctx("iam:getuser", "arn:aws:iam::000000000000:user/bob", &c)),
            Decision::NotApplicable
        );
    }

    #[test]
    fn leading_keys_condition() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",
                "Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${aws:username}"]}}}}"#,
        );
        let c = alice();
        let own = ["alice".to_owned()];
        let other = ["bob".to_owned()];
        let mut context = ctx("dynamodb:getitem", "arn:aws:dynamodb:us-east-1:0:table/T", &c);
        let keys: [(&str, &[String]); 1] = [("dynamodb:LeadingKeys", &own)];
        context.context_keys = &keys;
        assert_eq!(evaluate([&p], &context), Decision::Allow);
        let keys: [(&str, &[String]); 1] = [("dynamodb:LeadingKeys", &other)];
        context.context_keys = &keys;
        assert_eq!(evaluate([&p], &context), Decision::NotApplicable);
    }

    #[test]
    fn principal_tags_are_condition_keys() {
        let p = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:PrincipalTag/team}/*",
                "Condition":{"StringEquals":{"aws:PrincipalTag/Team":"blue"}}}}"#,
        );
        let c = alice();
        assert_eq!(evaluate([&p], &ctx("s3:getobject", "arn:aws:s3:::blue/k", &c)), Decision::Allow);
        assert_eq!(evaluate([&p], &ctx("s3:getobject", "arn:aws:s3:::red/k", &c)), Decision::NotApplicable);
        let untagged = Caller { tags: Vec::new(), ..alice() };
        assert_eq!(evaluate([&p], &ctx("s3:getobject", "arn:aws:s3:::blue/k", &untagged)), Decision::NotApplicable);
    }

    #[test]
    fn trust_policies_name_principals() {
        let trust = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice","Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let c = alice();
        let cx = ctx("sts:assumerole", "arn:aws:iam::000000000000:role/R", &c);
        assert_eq!(
            evaluate_with_principal(&trust, &CallerPrincipal::Aws(&c), &cx),
            (Decision::Allow, PrincipalMatch::Direct)
        );
        let svc = CallerPrincipal::Service("lambda.amazonaws.com");
        assert_eq!(evaluate_with_principal(&trust, &svc, &cx).0, Decision::Allow);
        let bob = Caller { arn: "arn:aws:iam::000000000000:user/bob".into(), ..alice() };
        assert_eq!(evaluate_with_principal(&trust, &CallerPrincipal::Aws(&bob), &cx).0, Decision::NotApplicable);
    }
}
