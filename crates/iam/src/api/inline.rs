//! Inline policies of roles, users and groups: Put/Get/Delete/List
//! {Role,User,Group}Policy share one implementation.

use std::collections::BTreeMap;

use nimbus_core::{AwsError, AwsResponse};

use super::{check_name, limit_exceeded, malformed, no_such_entity, policy_size, Call};
use crate::model::{name_key, Dirty, State};
use crate::policy::{Policy, PolicyKind};
use crate::wire::{encode_document, page, truncation, Xml};

/// Which kind of identity an operation's policies hang off.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    Role,
    User,
    Group,
}

impl Holder {
    /// From the operation name: `PutRolePolicy`, `ListAttachedUserPolicies`…
    pub fn of(action: &str) -> Holder {
        if action.contains("Role") {
            Holder::Role
        } else if action.contains("Group") {
            Holder::Group
        } else {
            Holder::User
        }
    }

    /// `RoleName`, `UserName`, `GroupName`.
    pub fn param(self) -> &'static str {
        match self {
            Holder::Role => "RoleName",
            Holder::User => "UserName",
            Holder::Group => "GroupName",
        }
    }

    /// IAM's quota on the total size of a holder's inline policies.
    fn inline_quota(self) -> usize {
        match self {
            Holder::Role => 10_240,
            Holder::User => 2_048,
            Holder::Group => 5_120,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Holder::Role => "role",
            Holder::User => "user",
            Holder::Group => "group",
        }
    }

    /// The holder's ARN (or where it would be), for authorization.
    pub fn arn(self, call: &Call<'_>, name: &str) -> String {
        let state = call.model.read();
        let key = name_key(name);
        let found = match self {
            Holder::Role => state.roles.get(&key).map(|r| r.arn.clone()),
            Holder::User => state.users.get(&key).map(|u| u.arn.clone()),
            Holder::Group => state.groups.get(&key).map(|g| g.arn.clone()),
        };
        found.unwrap_or_else(|| call.arn(self.word(), "/", name))
    }

    pub fn not_found(self, name: &str) -> AwsError {
        no_such_entity(format!("The {} with name {name} cannot be found.", self.word()))
    }

    fn dirty(self, key: String) -> Dirty {
        match self {
            Holder::Role => Dirty::Role(key),
            Holder::User => Dirty::User(key),
            Holder::Group => Dirty::Group(key),
        }
    }

    /// The holder's inline policies and attached ARNs, mutably.
    pub fn policies_mut<'s>(
        self,
        state: &'s mut State,
        name: &str,
    ) -> Result<(&'s mut BTreeMap<String, String>, &'s mut Vec<String>), AwsError> {
        let key = name_key(name);
        let found = match self {
            Holder::Role => state.roles.get_mut(&key).map(|r| (&mut r.inline, &mut r.attached)),
            Holder::User => state.users.get_mut(&key).map(|u| (&mut u.inline, &mut u.attached)),
            Holder::Group => state.groups.get_mut(&key).map(|g| (&mut g.inline, &mut g.attached)),
        };
        found.ok_or_else(|| self.not_found(name))
    }

    pub fn policies<'s>(
        self,
        state: &'s State,
        name: &str,
    ) -> Result<(&'s BTreeMap<String, String>, &'s Vec<String>), AwsError> {
        let key = name_key(name);
        let found = match self {
            Holder::Role => state.roles.get(&key).map(|r| (&r.inline, &r.attached)),
            Holder::User => state.users.get(&key).map(|u| (&u.inline, &u.attached)),
            Holder::Group => state.groups.get(&key).map(|g| (&g.inline, &g.attached)),
        };
        found.ok_or_else(|| self.not_found(name))
    }

    /// Record the holder as changed.
    pub fn mark(self, dirty: &mut Vec<Dirty>, name: &str) {
        dirty.push(self.dirty(name_key(name)));
    }
}

pub(crate) async fn put(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?.to_owned();
    let policy_name = call.params.required("PolicyName")?.to_owned();
    check_name(&policy_name, "policyName", 128)?;
    let document = call.params.required("PolicyDocument")?.to_owned();
    call.authorize(&holder.arn(call, &name))?;
    Policy::parse(&document, PolicyKind::Identity).map_err(malformed)?;
    call.model
        .mutate(move |state, dirty| {
            let (inline, _) = holder.policies_mut(state, &name)?;
            let others: usize = inline.iter().filter(|(n, _)| **n != policy_name).map(|(_, d)| policy_size(d)).sum();
            let quota = holder.inline_quota();
            if others + policy_size(&document) > quota {
                return Err(limit_exceeded(format!(
                    "Maximum policy size of {quota} bytes exceeded for {} {name}",
                    holder.word()
                )));
            }
            inline.insert(policy_name, document);
            holder.mark(dirty, &name);
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) fn get(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?;
    let policy_name = call.params.required("PolicyName")?;
    call.authorize(&holder.arn(call, name))?;
    let state = call.model.read();
    let (inline, _) = holder.policies(&state, name)?;
    let document = inline.get(policy_name).ok_or_else(|| {
        no_such_entity(format!("The {} policy with name {policy_name} cannot be found.", holder.word()))
    })?;
    let mut x = Xml::default();
    x.leaf(holder.param(), name).leaf("PolicyName", policy_name).leaf("PolicyDocument", &encode_document(document));
    Ok(call.reply(Some(x)))
}

pub(crate) async fn delete(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?.to_owned();
    let policy_name = call.params.required("PolicyName")?.to_owned();
    call.authorize(&holder.arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            let (inline, _) = holder.policies_mut(state, &name)?;
            if inline.remove(&policy_name).is_none() {
                return Err(no_such_entity(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    holder.word()
                )));
            }
            holder.mark(dirty, &name);
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) fn list(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?;
    call.authorize(&holder.arn(call, name))?;
    let names: Vec<String> = {
        let state = call.model.read();
        holder.policies(&state, name)?.0.keys().cloned().collect()
    };
    let (names, marker) = page(names, &call.params)?;
    let mut x = Xml::default();
    x.string_members("PolicyNames", &names);
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}
