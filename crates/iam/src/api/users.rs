//! CreateUser, GetUser, ListUsers, DeleteUser.

use nimbus_core::request::PrincipalKind;
use nimbus_core::{AwsError, AwsResponse};

use super::{already_exists, check_name, check_path, delete_conflict, no_such_entity, now_ms, Call};
use crate::model::{ids, name_key, Dirty, State, User};
use crate::wire::{date, page, truncation, Xml};

pub(crate) fn write_user(x: &mut Xml, u: &User) {
    x.leaf("Path", &u.path)
        .leaf("UserName", &u.name)
        .leaf("UserId", &u.id)
        .leaf("Arn", &u.arn)
        .leaf("CreateDate", &date(u.created));
    super::boundaries::write(x, u.boundary.as_deref());
    if !u.tags.is_empty() {
        x.tags(&u.tags);
    }
}

/// The ARN a user operation is authorized on (the user's, or where it would be).
pub(crate) fn user_arn(call: &Call<'_>, name: &str) -> String {
    match call.model.read().users.get(&name_key(name)) {
        Some(u) => u.arn.clone(),
        None => call.arn("user", "/", name),
    }
}

pub(crate) fn no_such_user(name: &str) -> AwsError {
    no_such_entity(format!("The user with name {name} cannot be found."))
}

pub(crate) fn find_user<'s>(state: &'s State, name: &str) -> Result<&'s User, AwsError> {
    state.users.get(&name_key(name)).ok_or_else(|| no_such_user(name))
}

pub(crate) async fn create_user(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("UserName")?.to_owned();
    check_name(&name, "userName", 64)?;
    let path = call.params.get("Path").unwrap_or("/").to_owned();
    check_path(&path)?;
    let arn = call.arn("user", &path, &name);
    let boundary = call.params.get("PermissionsBoundary").map(str::to_owned);
    let tags = super::tags::checked(call.params.tags())?;
    call.authorize(&arn)?;
    let user = call
        .model
        .mutate(move |state, dirty| {
            let key = name_key(&name);
            if state.users.contains_key(&key) {
                return Err(already_exists(format!("User with name {name} already exists.")));
            }
            if let Some(b) = &boundary {
                super::boundaries::check(state, b)?;
            }
            let user = User {
                name,
                path,
                id: ids::unique_id("AIDA"),
                arn,
                created: now_ms(),
                inline: Default::default(),
                attached: Vec::new(),
                boundary,
                tags,
            };
            state.users.insert(key.clone(), user.clone());
            dirty.push(Dirty::User(key));
            Ok(user)
        })
        .await?;
    let mut x = Xml::default();
    x.open("User");
    write_user(&mut x, &user);
    x.close("User");
    Ok(call.reply(Some(x)))
}

pub(crate) fn get_user(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let principal = &call.request.principal;
    let name = match call.params.get("UserName") {
        Some(name) => name.to_owned(),
        // Without a name, GetUser describes the caller.
        None => match principal.kind {
            PrincipalKind::User => principal.arn.rsplit('/').next().unwrap_or_default().to_owned(),
            PrincipalKind::Root | PrincipalKind::Anonymous => {
                call.authorize(&principal.arn)?;
                let mut x = Xml::default();
                x.open("User")
                    .leaf("UserId", call.account())
                    .leaf("Arn", &principal.arn)
                    .leaf("CreateDate", &date(0))
                    .close("User");
                return Ok(call.reply(Some(x)));
            }
            PrincipalKind::AssumedRole => {
                return Err(crate::wire::validation("Must specify userName when calling with non-User credentials"))
            }
        },
    };
    call.authorize(&user_arn(call, &name))?;
    let state = call.model.read();
    let user = find_user(&state, &name)?;
    let mut x = Xml::default();
    x.open("User");
    write_user(&mut x, user);
    x.close("User");
    Ok(call.reply(Some(x)))
}

pub(crate) fn list_users(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    call.authorize(&call.arn("user", "/", ""))?;
    let prefix = call.params.get("PathPrefix").unwrap_or("/");
    let users: Vec<User> = call.model.read().users.values().filter(|u| u.path.starts_with(prefix)).cloned().collect();
    let (users, marker) = page(users, &call.params)?;
    let mut x = Xml::default();
    x.members("Users", &users, write_user);
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}

pub(crate) async fn delete_user(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("UserName")?.to_owned();
    call.authorize(&user_arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            let key = name_key(&name);
            let user = find_user(state, &name)?;
            // IAM refuses to delete a user that still has subordinate entities.
            if state.keys.values().any(|k| name_key(&k.user) == key) {
                return Err(delete_conflict("Cannot delete entity, must delete access keys first."));
            }
            if !user.inline.is_empty() {
                return Err(delete_conflict("Cannot delete entity, must delete policies first."));
            }
            if !user.attached.is_empty() {
                return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
            }
            if state.groups_of(&key).next().is_some() {
                return Err(delete_conflict("Cannot delete entity, must remove users from group first."));
            }
            state.users.remove(&key);
            dirty.push(Dirty::User(key));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}
