//! CreateRole, GetRole, ListRoles, UpdateAssumeRolePolicy, UpdateRole, DeleteRole.

use nimbus_core::{AwsError, AwsResponse};

use super::{already_exists, check_name, check_path, delete_conflict, malformed, no_such_entity, now_ms, Call};
use crate::model::{ids, name_key, Dirty, Role, State};
use crate::policy::{Policy, PolicyKind};
use crate::wire::{date, encode_document, page, truncation, validation, Xml};

pub(crate) fn write_role(x: &mut Xml, r: &Role) {
    x.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", &r.id)
        .leaf("Arn", &r.arn)
        .leaf("CreateDate", &date(r.created))
        .leaf("AssumeRolePolicyDocument", &encode_document(&r.trust_policy))
        .opt("Description", r.description.as_deref())
        .leaf("MaxSessionDuration", &r.max_session_duration.to_string());
    super::boundaries::write(x, r.boundary.as_deref());
    if !r.tags.is_empty() {
        x.tags(&r.tags);
    }
}

pub(crate) fn role_arn(call: &Call<'_>, name: &str) -> String {
    match call.model.read().roles.get(&name_key(name)) {
        Some(r) => r.arn.clone(),
        None => call.arn("role", "/", name),
    }
}

pub(crate) fn find_role<'s>(state: &'s State, name: &str) -> Result<&'s Role, AwsError> {
    state
        .roles
        .get(&name_key(name))
        .ok_or_else(|| no_such_entity(format!("The role with name {name} cannot be found.")))
}

/// A trust policy: valid, within IAM's 2,048-character quota, and naming
/// only users and roles of this account that exist (IAM resolves principal
/// ARNs when the policy is saved).
fn trust_policy(call: &Call<'_>, text: &str) -> Result<(), AwsError> {
    if super::policy_size(text) > 2_048 {
        return Err(super::limit_exceeded("Cannot exceed quota for ACLSizePerRole: 2048"));
    }
    let policy = Policy::parse(text, PolicyKind::Trust).map_err(malformed)?;
    let own = format!("arn:aws:iam::{}:", call.account());
    let state = call.model.read();
    for principal in policy.statements.iter().filter_map(|s| s.principals.as_ref()).flat_map(|p| &p.aws) {
        let Some(resource) = principal.strip_prefix(&own) else { continue };
        let name = name_key(resource.rsplit('/').next().unwrap_or_default());
        let exists = if resource.starts_with("user/") {
            state.users.get(&name).is_some_and(|u| u.arn == *principal)
        } else if resource.starts_with("role/") {
            state.roles.get(&name).is_some_and(|r| r.arn == *principal)
        } else {
            true
        };
        if !exists {
            return Err(malformed(format!("Invalid principal in policy: \"AWS\":\"{principal}\"")));
        }
    }
    Ok(())
}

fn max_session_duration(call: &Call<'_>) -> Result<Option<i64>, AwsError> {
    let Some(text) = call.params.get("MaxSessionDuration") else { return Ok(None) };
    let value: i64 = text.parse().map_err(|_| validation(format!("Invalid MaxSessionDuration: {text}")))?;
    let bound = if value < 3600 {
        Some("greater than or equal to 3600")
    } else if value > 43200 {
        Some("less than or equal to 43200")
    } else {
        None
    };
    match bound {
        Some(bound) => Err(validation(format!(
            "1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value {bound}"
        ))),
        None => Ok(Some(value)),
    }
}

pub(crate) async fn create_role(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("RoleName")?.to_owned();
    check_name(&name, "roleName", 64)?;
    let trust = call.params.required("AssumeRolePolicyDocument")?.to_owned();
    let path = call.params.get("Path").unwrap_or("/").to_owned();
    check_path(&path)?;
    let description = call.params.get("Description").map(str::to_owned);
    let max = max_session_duration(call)?.unwrap_or(3600);
    let arn = call.arn("role", &path, &name);
    let boundary = call.params.get("PermissionsBoundary").map(str::to_owned);
    let tags = super::tags::checked(call.params.tags())?;
    call.authorize(&arn)?;
    trust_policy(call, &trust)?;
    let role = call
        .model
        .mutate(move |state, dirty| {
            let key = name_key(&name);
            if state.roles.contains_key(&key) {
                return Err(already_exists(format!("Role with name {name} already exists.")));
            }
            if let Some(b) = &boundary {
                super::boundaries::check(state, b)?;
            }
            let role = Role {
                name,
                path,
                id: ids::unique_id("AROA"),
                arn,
                created: now_ms(),
                trust_policy: trust,
                description,
                max_session_duration: max,
                inline: Default::default(),
                attached: Vec::new(),
                boundary,
                tags,
            };
            state.roles.insert(key.clone(), role.clone());
            dirty.push(Dirty::Role(key));
            Ok(role)
        })
        .await?;
    let mut x = Xml::default();
    x.open("Role");
    write_role(&mut x, &role);
    x.close("Role");
    Ok(call.reply(Some(x)))
}

pub(crate) fn get_role(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("RoleName")?;
    call.authorize(&role_arn(call, name))?;
    let state = call.model.read();
    let role = find_role(&state, name)?;
    let mut x = Xml::default();
    x.open("Role");
    write_role(&mut x, role);
    x.close("Role");
    Ok(call.reply(Some(x)))
}

pub(crate) fn list_roles(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    call.authorize(&call.arn("role", "/", ""))?;
    let prefix = call.params.get("PathPrefix").unwrap_or("/");
    let roles: Vec<Role> = call.model.read().roles.values().filter(|r| r.path.starts_with(prefix)).cloned().collect();
    let (roles, marker) = page(roles, &call.params)?;
    let mut x = Xml::default();
    x.members("Roles", &roles, write_role);
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}

pub(crate) async fn update_assume_role_policy(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("RoleName")?.to_owned();
    let document = call.params.required("PolicyDocument")?.to_owned();
    call.authorize(&role_arn(call, &name))?;
    trust_policy(call, &document)?;
    call.model
        .mutate(move |state, dirty| {
            find_role(state, &name)?;
            let key = name_key(&name);
            if let Some(role) = state.roles.get_mut(&key) {
                role.trust_policy = document;
            }
            dirty.push(Dirty::Role(key));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) async fn update_role(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("RoleName")?.to_owned();
    let description = call.params.get("Description").map(str::to_owned);
    let max = max_session_duration(call)?;
    call.authorize(&role_arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            find_role(state, &name)?;
            let key = name_key(&name);
            if let Some(role) = state.roles.get_mut(&key) {
                if description.is_some() {
                    role.description = description;
                }
                if let Some(max) = max {
                    role.max_session_duration = max;
                }
            }
            dirty.push(Dirty::Role(key));
            Ok(())
        })
        .await?;
    Ok(call.reply(Some(Xml::default())))
}

pub(crate) async fn delete_role(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("RoleName")?.to_owned();
    call.authorize(&role_arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            let role = find_role(state, &name)?;
            if !role.inline.is_empty() {
                return Err(delete_conflict("Cannot delete entity, must delete policies first."));
            }
            if !role.attached.is_empty() {
                return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
            }
            let key = name_key(&name);
            state.roles.remove(&key);
            dirty.push(Dirty::Role(key));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}
