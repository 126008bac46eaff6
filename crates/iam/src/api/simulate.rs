//! SimulatePrincipalPolicy and SimulateCustomPolicy: ask the evaluator what
//! it would decide, without making the calls ("why is my function denied?").

use nimbus_core::{AwsError, AwsResponse};

use super::{malformed, no_such_entity, Call};
use crate::authz::{compile_documents, compile_entity, Compiled};
use crate::policy::{Caller, Policy, PolicyKind};
use crate::wire::{page, truncation, validation, Xml};

/// `ContextEntries.member.N.ContextKeyName` / `.ContextKeyValues.member.M`.
fn context_entries(call: &Call<'_>) -> Vec<(String, Vec<String>)> {
    (1..)
        .map_while(|i| {
            let name = call.params.get(&format!("ContextEntries.member.{i}.ContextKeyName"))?;
            let values = call.params.list(&format!("ContextEntries.member.{i}.ContextKeyValues"));
            Some((name.to_owned(), values.into_iter().map(str::to_owned).collect()))
        })
        .collect()
}

/// Policies passed inline must be valid identity policies.
fn input_policies(call: &Call<'_>) -> Result<Vec<String>, AwsError> {
    let docs: Vec<String> = call.params.list("PolicyInputList").into_iter().map(str::to_owned).collect();
    for doc in &docs {
        Policy::parse(doc, PolicyKind::Identity).map_err(malformed)?;
    }
    Ok(docs)
}

fn respond(call: &Call<'_>, compiled: &Compiled) -> Result<AwsResponse, AwsError> {
    let actions = call.params.list("ActionNames");
    if actions.is_empty() {
        return Err(validation(
            "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null",
        ));
    }
    let mut resources = call.params.list("ResourceArns");
    if resources.is_empty() {
        resources.push("*");
    }
    let context = context_entries(call);
    let keys: Vec<(&str, &[String])> = context.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    let mut results = Vec::with_capacity(actions.len() * resources.len());
    for action in &actions {
        for resource in &resources {
            results.push((*action, *resource, compiled.simulate(action, resource, &keys)));
        }
    }
    let (results, marker) = page(results, &call.params)?;
    let mut x = Xml::default();
    x.members("EvaluationResults", &results, |x, (action, resource, decision)| {
        x.leaf("EvalActionName", action)
            .leaf("EvalResourceName", resource)
            .leaf("EvalDecision", decision)
            .leaf("MatchedStatements", "")
            .leaf("MissingContextValues", "");
    });
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}

pub(crate) fn simulate_principal_policy(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let source = call.params.required("PolicySourceArn")?;
    call.authorize(source)?;
    let extra = input_policies(call)?;
    let compiled = compile_entity(&call.model.read(), source, &extra)
        .ok_or_else(|| no_such_entity(format!("Entity {source} does not exist.")))?;
    respond(call, &compiled)
}

pub(crate) fn simulate_custom_policy(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    call.authorize("*")?;
    let docs = input_policies(call)?;
    if docs.is_empty() {
        return Err(validation(
            "1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null",
        ));
    }
    let caller = Caller {
        arn: call.params.get("CallerArn").unwrap_or_default().to_owned(),
        account_id: call.account().to_owned(),
        principal_type: "User",
        ..Caller::default()
    };
    respond(call, &compile_documents(&docs, caller))
}
