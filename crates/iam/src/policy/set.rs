//! A principal's policies compiled for fast checks: statements flattened and
//! indexed by the exact actions they name, so a check examines only the
//! statements that can match its action plus those with wildcards.

use std::collections::HashMap;

use super::document::{Effect, Policy, Statement};
use super::eval::{statement_applies, Decision, EvalContext};
use super::pattern::Pattern;

#[derive(Default)]
pub struct PolicySet {
    statements: Vec<Statement>,
    /// Lower-cased exact action → statements naming it.
    by_action: HashMap<String, Vec<usize>>,
    /// Statements with wildcard actions, templates or NotAction: always checked.
    always: Vec<usize>,
}

impl PolicySet {
    pub fn new(policies: Vec<Policy>) -> Self {
        let mut set = PolicySet::default();
        for statement in policies.into_iter().flat_map(|p| p.statements) {
            let i = set.statements.len();
            let exact: Option<Vec<&str>> = if statement.actions.negated {
                None
            } else {
                statement
                    .actions
                    .patterns
                    .iter()
                    .map(|p| match p {
                        Pattern::Exact(a) => Some(a.as_str()),
                        _ => None,
                    })
                    .collect()
            };
            match exact {
                Some(actions) => {
                    for action in actions {
                        let list = set.by_action.entry(action.to_owned()).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                }
                None => set.always.push(i),
            }
            set.statements.push(statement);
        }
        set
    }

    /// Deny beats Allow beats nothing, as `eval::evaluate`.
    pub fn evaluate(&self, ctx: &EvalContext<'_>) -> Decision {
        let indexed = self.by_action.get(ctx.action).map(Vec::as_slice).unwrap_or_default();
        let mut allowed = false;
        for &i in indexed.iter().chain(&self.always) {
            let st = &self.statements[i];
            // Allowed already: only a Deny can change the outcome.
            if allowed && st.effect == Effect::Allow {
                continue;
            }
            if statement_applies(st, ctx) {
                match st.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::PolicyKind;
    use super::super::eval::{evaluate, Caller};
    use super::*;

    #[test]
    fn agrees_with_the_plain_evaluator() {
        let docs = [
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:*:*:table/A"},{"Effect":"Deny","Action":"dynamodb:Delete*","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Action":"DynamoDB:PutItem","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"dynamodb:PutItem","Resource":"arn:aws:dynamodb:*:*:table/Locked"}}"#,
        ];
        let policies: Vec<Policy> = docs.iter().map(|d| Policy::parse(d, PolicyKind::Identity).unwrap()).collect();
        let set = PolicySet::new(policies.clone());
        let caller = Caller::default();
        let cases = [
            ("dynamodb:getitem", "arn:aws:dynamodb:us-east-1:0:table/A"),
            ("dynamodb:getitem", "arn:aws:dynamodb:us-east-1:0:table/B"),
            ("dynamodb:deleteitem", "arn:aws:dynamodb:us-east-1:0:table/A"),
            ("dynamodb:putitem", "arn:aws:dynamodb:us-east-1:0:table/X"),
            ("dynamodb:putitem", "arn:aws:dynamodb:us-east-1:0:table/Locked"),
            ("s3:getobject", "arn:aws:s3:::b/k"),
            ("iam:getuser", "arn:aws:s3:::b/k"),
        ];
        for (action, resource) in cases {
            let ctx = EvalContext {
                action,
                resource,
                caller: &caller,
                source_ip: "127.0.0.1".parse().unwrap(),
                now_millis: Some(0),
                context_keys: &[],
            };
            assert_eq!(set.evaluate(&ctx), evaluate(&policies, &ctx), "{action} {resource}");
        }
    }
}
