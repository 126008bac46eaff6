//! Permissions boundaries of users and roles: a managed policy that caps
//! what their identity policies can grant.

use nimbus_core::{AwsError, AwsResponse};

use super::inline::Holder;
use super::{no_such_entity, Call};
use crate::managed;
use crate::model::{name_key, Dirty, State};
use crate::wire::Xml;

/// A boundary must be an existing managed policy (customer or AWS).
pub(crate) fn check(state: &State, arn: &str) -> Result<(), AwsError> {
    if state.policies.contains_key(arn) || managed::find(arn).is_some() {
        Ok(())
    } else {
        Err(no_such_entity(format!("Policy {arn} does not exist or is not attachable.")))
    }
}

/// `<PermissionsBoundary>` of a User or Role, when set.
pub(crate) fn write(x: &mut Xml, boundary: Option<&str>) {
    if let Some(arn) = boundary {
        x.open("PermissionsBoundary")
            .leaf("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .leaf("PermissionsBoundaryArn", arn)
            .close("PermissionsBoundary");
    }
}

async fn set(call: &Call<'_>, boundary: Option<String>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?.to_owned();
    call.authorize(&holder.arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            if let Some(b) = &boundary {
                check(state, b)?;
            }
            let key = name_key(&name);
            match holder {
                Holder::Role => match state.roles.get_mut(&key) {
                    Some(r) => r.boundary = boundary,
                    None => return Err(holder.not_found(&name)),
                },
                _ => match state.users.get_mut(&key) {
                    Some(u) => u.boundary = boundary,
                    None => return Err(holder.not_found(&name)),
                },
            }
            dirty.push(if holder == Holder::Role { Dirty::Role(key) } else { Dirty::User(key) });
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) async fn put(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PermissionsBoundary")?.to_owned();
    set(call, Some(arn)).await
}

pub(crate) async fn delete(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    set(call, None).await
}
