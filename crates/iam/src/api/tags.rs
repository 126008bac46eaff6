//! Tags of users and roles: TagRole/UntagRole/ListRoleTags and the User
//! forms. Principal tags are also condition keys (`aws:PrincipalTag/<key>`).

use nimbus_core::{AwsError, AwsResponse};

use super::inline::Holder;
use super::{limit_exceeded, Call};
use crate::model::{name_key, Dirty, State};
use crate::wire::{page, truncation, validation, Xml};

const MAX_TAGS: usize = 50;

/// Tags as given, checked against IAM's limits and duplicate keys.
pub(crate) fn checked(tags: Vec<(String, String)>) -> Result<Vec<(String, String)>, AwsError> {
    for (i, (key, value)) in tags.iter().enumerate() {
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(validation(format!(
                "1 validation error detected: Value at 'tags.{}.member' failed to satisfy constraint: Member must have a key of 1 to 128 characters and a value of at most 256",
                i + 1
            )));
        }
        if tags[..i].iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(AwsError::new(
                400,
                "InvalidInput",
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(limit_exceeded("The number of tags has reached the maximum limit."));
    }
    Ok(tags)
}

fn tags_mut<'s>(state: &'s mut State, holder: Holder, name: &str) -> Result<&'s mut Vec<(String, String)>, AwsError> {
    let key = name_key(name);
    let found = match holder {
        Holder::Role => state.roles.get_mut(&key).map(|r| &mut r.tags),
        _ => state.users.get_mut(&key).map(|u| &mut u.tags),
    };
    found.ok_or_else(|| holder.not_found(name))
}

fn mark(holder: Holder, name: &str, dirty: &mut Vec<Dirty>) {
    let key = name_key(name);
    dirty.push(if holder == Holder::Role { Dirty::Role(key) } else { Dirty::User(key) });
}

pub(crate) async fn tag(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?.to_owned();
    let new = checked(call.params.tags())?;
    call.authorize(&holder.arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            let tags = tags_mut(state, holder, &name)?;
            let mut merged = tags.clone();
            for (key, value) in new {
                // Tag keys are case-insensitive: a new value replaces the old.
                match merged.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                    Some(existing) => *existing = (key, value),
                    None => merged.push((key, value)),
                }
            }
            if merged.len() > MAX_TAGS {
                return Err(limit_exceeded("The number of tags has reached the maximum limit."));
            }
            *tags = merged;
            mark(holder, &name, dirty);
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) async fn untag(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?.to_owned();
    let keys: Vec<String> = call.params.list("TagKeys").into_iter().map(str::to_owned).collect();
    call.authorize(&holder.arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            let tags = tags_mut(state, holder, &name)?;
            tags.retain(|(k, _)| !keys.iter().any(|gone| gone.eq_ignore_ascii_case(k)));
            mark(holder, &name, dirty);
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) fn list(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?;
    call.authorize(&holder.arn(call, name))?;
    let tags = {
        let state = call.model.read();
        let key = name_key(name);
        let found = match holder {
            Holder::Role => state.roles.get(&key).map(|r| r.tags.clone()),
            _ => state.users.get(&key).map(|u| u.tags.clone()),
        };
        found.ok_or_else(|| holder.not_found(name))?
    };
    let (tags, marker) = page(tags, &call.params)?;
    let mut x = Xml::default();
    x.tags(&tags);
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}
