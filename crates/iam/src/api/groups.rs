//! CreateGroup, GetGroup, ListGroups, DeleteGroup, AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser.

use nimbus_core::{AwsError, AwsResponse};

use super::users::{find_user, user_arn, write_user};
use super::{already_exists, check_name, check_path, delete_conflict, no_such_entity, now_ms, Call};
use crate::model::{ids, name_key, Dirty, Group, State, User};
use crate::wire::{date, page, truncation, Xml};

fn write_group(x: &mut Xml, g: &Group) {
    x.leaf("Path", &g.path)
        .leaf("GroupName", &g.name)
        .leaf("GroupId", &g.id)
        .leaf("Arn", &g.arn)
        .leaf("CreateDate", &date(g.created));
}

fn group_arn(call: &Call<'_>, name: &str) -> String {
    match call.model.read().groups.get(&name_key(name)) {
        Some(g) => g.arn.clone(),
        None => call.arn("group", "/", name),
    }
}

fn find_group<'s>(state: &'s State, name: &str) -> Result<&'s Group, AwsError> {
    state
        .groups
        .get(&name_key(name))
        .ok_or_else(|| no_such_entity(format!("The group with name {name} cannot be found.")))
}

pub(crate) async fn create_group(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("GroupName")?.to_owned();
    check_name(&name, "groupName", 128)?;
    let path = call.params.get("Path").unwrap_or("/").to_owned();
    check_path(&path)?;
    let arn = call.arn("group", &path, &name);
    call.authorize(&arn)?;
    let group = call
        .model
        .mutate(move |state, dirty| {
            let key = name_key(&name);
            if state.groups.contains_key(&key) {
                return Err(already_exists(format!("Group with name {name} already exists.")));
            }
            let group = Group {
                name,
                path,
                id: ids::unique_id("AGPA"),
                arn,
                created: now_ms(),
                inline: Default::default(),
                attached: Vec::new(),
                members: Default::default(),
            };
            state.groups.insert(key.clone(), group.clone());
            dirty.push(Dirty::Group(key));
            Ok(group)
        })
        .await?;
    let mut x = Xml::default();
    x.open("Group");
    write_group(&mut x, &group);
    x.close("Group");
    Ok(call.reply(Some(x)))
}

pub(crate) fn get_group(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("GroupName")?;
    call.authorize(&group_arn(call, name))?;
    let (group, users) = {
        let state = call.model.read();
        let group = find_group(&state, name)?.clone();
        let users: Vec<User> = group.members.iter().filter_map(|m| state.users.get(m)).cloned().collect();
        (group, users)
    };
    let (users, marker) = page(users, &call.params)?;
    let mut x = Xml::default();
    x.open("Group");
    write_group(&mut x, &group);
    x.close("Group");
    x.members("Users", &users, write_user);
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}

pub(crate) fn list_groups(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    call.authorize(&call.arn("group", "/", ""))?;
    let prefix = call.params.get("PathPrefix").unwrap_or("/");
    let groups: Vec<Group> =
        call.model.read().groups.values().filter(|g| g.path.starts_with(prefix)).cloned().collect();
    let (groups, marker) = page(groups, &call.params)?;
    let mut x = Xml::default();
    x.members("Groups", &groups, write_group);
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}

pub(crate) async fn delete_group(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("GroupName")?.to_owned();
    call.authorize(&group_arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            let group = find_group(state, &name)?;
            if !group.members.is_empty() {
                return Err(delete_conflict("Cannot delete entity, must remove users from group first."));
            }
            if !group.inline.is_empty() {
                return Err(delete_conflict("Cannot delete entity, must delete policies first."));
            }
            if !group.attached.is_empty() {
                return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
            }
            let key = name_key(&name);
            state.groups.remove(&key);
            dirty.push(Dirty::Group(key));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

async fn membership(call: &Call<'_>, add: bool) -> Result<AwsResponse, AwsError> {
    let group = call.params.required("GroupName")?.to_owned();
    let user = call.params.required("UserName")?.to_owned();
    call.authorize(&group_arn(call, &group))?;
    call.model
        .mutate(move |state, dirty| {
            find_group(state, &group)?;
            find_user(state, &user)?;
            let key = name_key(&group);
            if let Some(g) = state.groups.get_mut(&key) {
                if add {
                    g.members.insert(name_key(&user));
                } else if !g.members.remove(&name_key(&user)) {
                    return Err(no_such_entity(format!("The user with name {user} cannot be found in group {group}.")));
                }
            }
            dirty.push(Dirty::Group(key));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) async fn add_user_to_group(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    membership(call, true).await
}

pub(crate) async fn remove_user_from_group(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    membership(call, false).await
}

pub(crate) fn list_groups_for_user(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let user = call.params.required("UserName")?;
    call.authorize(&user_arn(call, user))?;
    let groups: Vec<Group> = {
        let state = call.model.read();
        let name = find_user(&state, user)?.name.clone();
        state.groups_of(&name_key(&name)).cloned().collect()
    };
    let (groups, marker) = page(groups, &call.params)?;
    let mut x = Xml::default();
    x.members("Groups", &groups, write_group);
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}
