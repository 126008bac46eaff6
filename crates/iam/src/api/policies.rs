//! Managed policies and their versions; attaching them to roles, users and
//! groups. AWS managed policies (`arn:aws:iam::aws:policy/…`) are read-only
//! views over `crate::managed`.

use nimbus_core::{AwsError, AwsResponse};

use super::inline::Holder;
use super::{
    already_exists, check_name, check_path, delete_conflict, limit_exceeded, malformed, no_such_entity, now_ms, Call,
};
use crate::managed;
use crate::model::{ids, Dirty, ManagedPolicy, PolicyVersion, State};
use crate::policy::{Policy, PolicyKind};
use crate::wire::{date, encode_document, page, truncation, validation, Xml};

/// What GetPolicy and ListPolicies show, for both kinds of managed policy.
struct PolicyView {
    name: String,
    id: String,
    arn: String,
    path: String,
    default_version: String,
    attachments: usize,
    boundaries: usize,
    description: Option<String>,
    created: i64,
    updated: i64,
}

/// AWS managed policies show one fixed creation date.
const AWS_POLICY_CREATED: i64 = 1_423_247_640_000; // 2015-02-06T18:40:40Z

fn view(state: &State, arn: &str) -> Option<PolicyView> {
    if let Some(p) = state.policies.get(arn) {
        return Some(PolicyView {
            name: p.name.clone(),
            id: p.id.clone(),
            arn: p.arn.clone(),
            path: p.path.clone(),
            default_version: format!("v{}", p.default_version),
            attachments: state.attachment_count(arn),
            boundaries: state.boundary_count(arn),
            description: p.description.clone(),
            created: p.created,
            updated: p.updated,
        });
    }
    managed::find(arn).map(|m| PolicyView {
        name: m.name.to_owned(),
        id: m.id(),
        arn: m.arn(),
        path: m.path.to_owned(),
        default_version: m.version.to_owned(),
        attachments: state.attachment_count(arn),
        boundaries: state.boundary_count(arn),
        description: Some(m.description.to_owned()),
        created: AWS_POLICY_CREATED,
        updated: AWS_POLICY_CREATED,
    })
}

fn write_policy(x: &mut Xml, p: &PolicyView, with_description: bool) {
    x.leaf("PolicyName", &p.name)
        .leaf("PolicyId", &p.id)
        .leaf("Arn", &p.arn)
        .leaf("Path", &p.path)
        .leaf("DefaultVersionId", &p.default_version)
        .leaf("AttachmentCount", &p.attachments.to_string())
        .leaf("PermissionsBoundaryUsageCount", &p.boundaries.to_string())
        .leaf("IsAttachable", "true");
    if with_description {
        x.opt("Description", p.description.as_deref());
    }
    x.leaf("CreateDate", &date(p.created)).leaf("UpdateDate", &date(p.updated));
}

fn not_found(arn: &str) -> AwsError {
    no_such_entity(format!("Policy {arn} was not found."))
}

fn is_aws_managed(arn: &str) -> bool {
    arn.starts_with("arn:aws:iam::aws:policy/")
}

fn customer<'s>(state: &'s mut State, arn: &str) -> Result<&'s mut ManagedPolicy, AwsError> {
    state.policies.get_mut(arn).ok_or_else(|| not_found(arn))
}

/// A managed policy version: valid, and within IAM's 6,144-character quota.
fn identity_document(text: &str) -> Result<(), AwsError> {
    if super::policy_size(text) > 6_144 {
        return Err(limit_exceeded("Cannot exceed quota for PolicySize: 6144"));
    }
    Policy::parse(text, PolicyKind::Identity).map(|_| ()).map_err(malformed)
}

/// `v3` → 3.
fn version_number(id: &str) -> Result<u32, AwsError> {
    id.strip_prefix('v').and_then(|n| n.parse().ok()).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value '{id}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
        ))
    })
}

fn no_such_version(arn: &str, id: &str) -> AwsError {
    no_such_entity(format!("Policy {arn} version {id} does not exist or is not attachable."))
}

pub(crate) async fn create_policy(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let name = call.params.required("PolicyName")?.to_owned();
    check_name(&name, "policyName", 128)?;
    let document = call.params.required("PolicyDocument")?.to_owned();
    let path = call.params.get("Path").unwrap_or("/").to_owned();
    check_path(&path)?;
    let description = call.params.get("Description").map(str::to_owned);
    let arn = call.arn("policy", &path, &name);
    call.authorize(&arn)?;
    identity_document(&document)?;
    let view = call
        .model
        .mutate(move |state, dirty| {
            if state.policies.values().any(|p| p.name.eq_ignore_ascii_case(&name)) {
                return Err(already_exists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            let now = now_ms();
            let policy = ManagedPolicy {
                name,
                path,
                id: ids::unique_id("ANPA"),
                arn: arn.clone(),
                description,
                created: now,
                updated: now,
                default_version: 1,
                next_version: 2,
                versions: [(1, PolicyVersion { document, created: now })].into(),
            };
            state.policies.insert(arn.clone(), policy);
            dirty.push(Dirty::Policy(arn.clone()));
            view(state, &arn).ok_or_else(|| AwsError::internal("policy vanished"))
        })
        .await?;
    let mut x = Xml::default();
    x.open("Policy");
    write_policy(&mut x, &view, false);
    x.close("Policy");
    Ok(call.reply(Some(x)))
}

pub(crate) fn get_policy(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PolicyArn")?;
    call.authorize(arn)?;
    let view = view(&call.model.read(), arn).ok_or_else(|| not_found(arn))?;
    let mut x = Xml::default();
    x.open("Policy");
    write_policy(&mut x, &view, true);
    x.close("Policy");
    Ok(call.reply(Some(x)))
}

pub(crate) fn list_policies(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    call.authorize(&call.arn("policy", "/", ""))?;
    let scope = call.params.get("Scope").unwrap_or("All");
    let only_attached = call.params.get("OnlyAttached") == Some("true");
    let prefix = call.params.get("PathPrefix").unwrap_or("/");
    let views: Vec<PolicyView> = {
        let state = call.model.read();
        let mut arns: Vec<String> = Vec::new();
        if scope != "Local" {
            arns.extend(managed::ALL.iter().map(|m| m.arn()));
        }
        if scope != "AWS" {
            arns.extend(state.policies.keys().cloned());
        }
        arns.iter()
            .filter_map(|arn| view(&state, arn))
            .filter(|v| v.path.starts_with(prefix) && (!only_attached || v.attachments > 0))
            .collect()
    };
    let (views, marker) = page(views, &call.params)?;
    let mut x = Xml::default();
    x.members("Policies", &views, |x, v| write_policy(x, v, false));
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}

pub(crate) async fn delete_policy(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PolicyArn")?.to_owned();
    call.authorize(&arn)?;
    call.model
        .mutate(move |state, dirty| {
            if state.attachment_count(&arn) + state.boundary_count(&arn) > 0 {
                customer(state, &arn)?;
                return Err(delete_conflict("Cannot delete a policy attached to entities."));
            }
            let policy = customer(state, &arn)?;
            if policy.versions.len() > 1 {
                return Err(delete_conflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
                ));
            }
            state.policies.remove(&arn);
            dirty.push(Dirty::Policy(arn));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

fn write_version(x: &mut Xml, id: u32, version: &PolicyVersion, default: bool, with_document: bool) {
    if with_document {
        x.leaf("Document", &encode_document(&version.document));
    }
    x.leaf("VersionId", &format!("v{id}"))
        .leaf("IsDefaultVersion", if default { "true" } else { "false" })
        .leaf("CreateDate", &date(version.created));
}

pub(crate) async fn create_policy_version(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PolicyArn")?.to_owned();
    let document = call.params.required("PolicyDocument")?.to_owned();
    let set_default = call.params.get("SetAsDefault") == Some("true");
    call.authorize(&arn)?;
    identity_document(&document)?;
    let (id, version) = call
        .model
        .mutate(move |state, dirty| {
            let policy = customer(state, &arn)?;
            if policy.versions.len() >= 5 {
                return Err(limit_exceeded(
                    "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
                ));
            }
            let id = policy.next_version;
            let now = now_ms();
            let version = PolicyVersion { document, created: now };
            policy.versions.insert(id, version.clone());
            policy.next_version += 1;
            policy.updated = now;
            if set_default {
                policy.default_version = id;
            }
            dirty.push(Dirty::Policy(arn));
            Ok((id, version))
        })
        .await?;
    let mut x = Xml::default();
    x.open("PolicyVersion");
    write_version(&mut x, id, &version, set_default, false);
    x.close("PolicyVersion");
    Ok(call.reply(Some(x)))
}

pub(crate) fn get_policy_version(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PolicyArn")?;
    let version_id = call.params.required("VersionId")?;
    call.authorize(arn)?;
    let number = version_number(version_id)?;
    let mut x = Xml::default();
    x.open("PolicyVersion");
    let state = call.model.read();
    match state.policies.get(arn) {
        Some(p) => {
            let v = p.versions.get(&number).ok_or_else(|| no_such_version(arn, version_id))?;
            write_version(&mut x, number, v, number == p.default_version, true);
        }
        None => {
            let m = managed::find(arn).ok_or_else(|| not_found(arn))?;
            if m.version != version_id {
                return Err(no_such_version(arn, version_id));
            }
            x.leaf("Document", &encode_document(m.document))
                .leaf("VersionId", m.version)
                .leaf("IsDefaultVersion", "true")
                .leaf("CreateDate", &date(AWS_POLICY_CREATED));
        }
    }
    x.close("PolicyVersion");
    Ok(call.reply(Some(x)))
}

pub(crate) fn list_policy_versions(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PolicyArn")?;
    call.authorize(arn)?;
    let mut x = Xml::default();
    let state = call.model.read();
    match state.policies.get(arn) {
        Some(p) => {
            // Newest first, as IAM lists them.
            let versions: Vec<(u32, &PolicyVersion)> = p.versions.iter().rev().map(|(k, v)| (*k, v)).collect();
            let (versions, marker) = page(versions, &call.params)?;
            x.members("Versions", &versions, |x, (id, v)| write_version(x, *id, v, *id == p.default_version, false));
            truncation(&mut x, marker);
        }
        None => {
            let m = managed::find(arn).ok_or_else(|| not_found(arn))?;
            x.members("Versions", &[m], |x, m| {
                x.leaf("VersionId", m.version)
                    .leaf("IsDefaultVersion", "true")
                    .leaf("CreateDate", &date(AWS_POLICY_CREATED));
            });
            truncation(&mut x, None);
        }
    }
    Ok(call.reply(Some(x)))
}

pub(crate) async fn delete_policy_version(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PolicyArn")?.to_owned();
    let version_id = call.params.required("VersionId")?.to_owned();
    call.authorize(&arn)?;
    let number = version_number(&version_id)?;
    call.model
        .mutate(move |state, dirty| {
            let policy = customer(state, &arn)?;
            if !policy.versions.contains_key(&number) {
                return Err(no_such_version(&arn, &version_id));
            }
            if policy.default_version == number {
                return Err(delete_conflict("Cannot delete the default version of a policy."));
            }
            policy.versions.remove(&number);
            dirty.push(Dirty::Policy(arn));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) async fn set_default_policy_version(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let arn = call.params.required("PolicyArn")?.to_owned();
    let version_id = call.params.required("VersionId")?.to_owned();
    call.authorize(&arn)?;
    let number = version_number(&version_id)?;
    call.model
        .mutate(move |state, dirty| {
            let policy = customer(state, &arn)?;
            if !policy.versions.contains_key(&number) {
                return Err(no_such_version(&arn, &version_id));
            }
            policy.default_version = number;
            policy.updated = now_ms();
            dirty.push(Dirty::Policy(arn));
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

/// Most managed policies one role, user or group may have attached.
const MAX_ATTACHED: usize = 10;

pub(crate) async fn attach(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?.to_owned();
    let arn = call.params.required("PolicyArn")?.to_owned();
    call.authorize(&holder.arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            holder.policies(state, &name)?;
            let attachable =
                state.policies.contains_key(&arn) || (is_aws_managed(&arn) && managed::find(&arn).is_some());
            if !attachable {
                return Err(no_such_entity(format!("Policy {arn} does not exist or is not attachable.")));
            }
            let (_, attached) = holder.policies_mut(state, &name)?;
            if attached.contains(&arn) {
                return Ok(());
            }
            if attached.len() >= MAX_ATTACHED {
                let kind = match holder {
                    Holder::Role => "PoliciesPerRole",
                    Holder::User => "PoliciesPerUser",
                    Holder::Group => "PoliciesPerGroup",
                };
                return Err(limit_exceeded(format!("Cannot exceed quota for {kind}: {MAX_ATTACHED}")));
            }
            attached.push(arn);
            holder.mark(dirty, &name);
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) async fn detach(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?.to_owned();
    let arn = call.params.required("PolicyArn")?.to_owned();
    call.authorize(&holder.arn(call, &name))?;
    call.model
        .mutate(move |state, dirty| {
            let (_, attached) = holder.policies_mut(state, &name)?;
            let before = attached.len();
            attached.retain(|a| *a != arn);
            if attached.len() == before {
                return Err(not_found(&arn));
            }
            holder.mark(dirty, &name);
            Ok(())
        })
        .await?;
    Ok(call.reply(None))
}

pub(crate) fn list_attached(call: &Call<'_>) -> Result<AwsResponse, AwsError> {
    let holder = Holder::of(call.action);
    let name = call.params.required(holder.param())?;
    call.authorize(&holder.arn(call, name))?;
    let prefix = call.params.get("PathPrefix").unwrap_or("/");
    let attached: Vec<(String, String)> = {
        let state = call.model.read();
        let (_, attached) = holder.policies(&state, name)?;
        attached
            .iter()
            .filter_map(|arn| view(&state, arn))
            .filter(|v| v.path.starts_with(prefix))
            .map(|v| (v.name, v.arn))
            .collect()
    };
    let (attached, marker) = page(attached, &call.params)?;
    let mut x = Xml::default();
    x.members("AttachedPolicies", &attached, |x, (name, arn)| {
        x.leaf("PolicyName", name).leaf("PolicyArn", arn);
    });
    truncation(&mut x, marker);
    Ok(call.reply(Some(x)))
}
