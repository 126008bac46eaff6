//! CreateAccessKey, ListAccessKeys, UpdateAccessKey (Active/Inactive), DeleteAccessKey.

use nimbus_core::request::PrincipalKind;
use nimbus_core::{AwsError, AwsResponse};

use super::users::{find_user, user_arn};
use super::{limit_exceeded, no_such_entity, now_ms, Call};
use crate::model::{ids, name_key, AccessKey, Dirty};
use crate::wire::{date, page, truncation, validation, Xml};

/// Keys act on the named user, or on the calling user when none is named.
fn target_user(call: &Call<'_>) -> Result<String, AwsError> {
    if let Some(name) = call.params.get("UserName") {
        return Ok(name.to_owned());
    }
    let principal = &call.request.principal;
    match principal.kind {
        PrincipalKind::User => Ok(principal.arn.rsplit('/').next().unwrap_or_default().to_owned()),
        _ => Err(validation("Must specify userName when calling with non-User credentials")),
    }
}

fn status_of(key: &AccessKey) -> &'static str {
    if key.active {
        "Active"
    } else {
        "Inactive"
    }
}

pub(crate) async fn create_access_key(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let user = target_user(call)?;
    call.authorize(&user_arn(call, &user))?;
    let key = call
        .model
        .mutate(move |state, dirty| {
            let canonical = find_user(state, &user)?.name.clone();
            let count = state.keys.values().filter(|k| name_key(&k.user) == name_key(&user)).count();
            if count >= 2 {
                return Err(limit_exceeded("Cannot exceed quota for AccessKeysPerUser: 2"));
            }
            let key = AccessKey {
                id: ids::access_key_id("AKIA"),
                secret: ids::secret(),
                user: canonical,
                active: true,
                created: now_ms(),
            };
            state.keys.insert(key.id.clone(), key.clone());
            dirty.push(Dirty::Key(key.id.clone()));
            Ok(key)
        })
        .await?;
    let mut x = Xml::default();
    x.open("AccessKey")
        .leaf("UserName", &key.user)
        .leaf("AccessKeyId", &key.id)
        .leaf("Status", status_of(&key))
        .leaf("SecretAccessKey", &key.secret)
        .leaf("CreateDate", &date(key.created))
        .close("AccessKey");
    Ok(call.reply(Some(x)))
}

pub(crate) fn list_access_keys(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let user = target_user(call)?;
    call.authorize(&user_arn(call, &user))?;
    let mut keys: Vec<AccessKey> = {
        let state = call.model.read();
        find_user(&state, &user)?;
        state.keys.values().filter(|k| name_key(&k.user) == name_key(&user)).cloned().collect()
    };
    keys.sort_by_key(|k| k.created);
    let (keys, marker) = page(keys, &call.params)?;
    let mut x = Xml::default();
    x.members("AccessKeyMetadata", &keys, |x, k| {
        x.leaf("UserName", &k.user)
            .leaf("AccessKeyId", &k.id)
            .leaf("Status", status_of(k))
            .leaf("CreateDate", &date(k.created));
    });
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}

pub(crate) async fn update_access_key(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let user = target_user(call)?;
    let id = call.params.required("AccessKeyId")?.to_owned();
    let active = match call.params.required("Status")? {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )))
        }
    };
    call.authorize(&user_arn(call, &user))?;
    call.model
        .mutate(move |state, dirty| {
            find_user(state, &user)?;
            match state.keys.get_mut(&id).filter(|k| name_key(&k.user) == name_key(&user)) {
                Some(key) => key.active = active,
                None => return Err(no_such_entity(format!("The Access Key with id {id} cannot be found."))),
            }
            dirty.push(Dirty::Key(id));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) async fn delete_access_key(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let user = target_user(call)?;
    let id = call.params.required("AccessKeyId")?.to_owned();
    call.authorize(&user_arn(call, &user))?;
    call.model
        .mutate(move |state, dirty| {
            find_user(state, &user)?;
            if state.keys.get(&id).is_none_or(|k| name_key(&k.user) != name_key(&user)) {
                return Err(no_such_entity(format!("The Access Key with id {id} cannot be found.")));
            }
            state.keys.remove(&id);
            dirty.push(Dirty::Key(id));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}
