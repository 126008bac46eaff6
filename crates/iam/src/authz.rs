//! The policy check behind every non-root request (`core::Authorizer`).
//!
//! A principal's policies (inline, attached, its groups'; a role session's
//! role policies and session policies) are parsed once into a `Compiled`
//! set, cached by access key id and valid for one model generation, so a
//! check is a walk over pre-parsed statements with no parsing and no store
//! access. Resource-based policies (Lambda's AddPermission) are registered
//! through `put_resource_policy` and combined as AWS combines them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use nimbus_core::request::PrincipalKind;
use nimbus_core::{Authorizer, AuthzRequest, AwsError, Principal};
use serde::Serialize;

use crate::managed;
use crate::model::{name_key, Model, State};
use crate::policy::eval::{evaluate_with_principal, CallerPrincipal, PrincipalMatch};
use crate::policy::{Caller, Decision, EvalContext, Policy, PolicyKind, PolicySet};

/// A principal's policies, parsed.
pub struct Compiled {
    generation: u64,
    pub caller: Caller,
    identity: PolicySet,
    /// Role sessions created with a session policy: the intersection applies.
    session: Option<PolicySet>,
    /// The user's or role's permissions boundary: the intersection applies.
    boundary: Option<PolicySet>,
}

/// Why a request was denied, worded as AWS's message tails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    NoIdentityAllow,
    NoSessionAllow,
    NoBoundaryAllow,
    ExplicitIdentity,
    ExplicitBoundary,
    ExplicitSession,
    ExplicitResource,
}

impl Denial {
    fn tail(self, action: &str) -> String {
        match self {
            Denial::NoIdentityAllow => format!("because no identity-based policy allows the {action} action"),
            Denial::NoSessionAllow => format!("because no session policy allows the {action} action"),
            Denial::NoBoundaryAllow => format!("because no permissions boundary allows the {action} action"),
            Denial::ExplicitBoundary => "with an explicit deny in a permissions boundary".into(),
            Denial::ExplicitIdentity => "with an explicit deny in an identity-based policy".into(),
            Denial::ExplicitSession => "with an explicit deny in a session policy".into(),
            Denial::ExplicitResource => "with an explicit deny in a resource-based policy".into(),
        }
    }
}

/// AWS's AccessDenied for `principal_arn`, in the shape of the action's service.
pub fn access_denied(principal_arn: &str, action: &str, resource: &str, denial: Denial) -> AwsError {
    let message = format!(
        "User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {}",
        denial.tail(action)
    );
    match action.split(':').next().unwrap_or("") {
        "iam" | "sts" => AwsError::new(403, "AccessDenied", message),
        "dynamodb" => {
            AwsError::new(400, "AccessDeniedException", message).with_namespace(nimbus_core::error::CORAL_SERVICE)
        }
        _ => AwsError::new(403, "AccessDeniedException", message),
    }
}

pub struct IamAuthorizer {
    model: Arc<Model>,
    compiled: RwLock<HashMap<String, Arc<Compiled>>>,
    resource_policies: RwLock<HashMap<String, Arc<Policy>>>,
    activity: Activity,
}

/// Most compiled principals kept before the cache starts over.
const MAX_COMPILED: usize = 10_000;

impl IamAuthorizer {
    pub fn new(model: Arc<Model>) -> Self {
        IamAuthorizer {
            model,
            compiled: RwLock::new(HashMap::new()),
            resource_policies: RwLock::new(HashMap::new()),
            activity: Activity::default(),
        }
    }

    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// Attach a resource-based policy to `resource_arn` (a Lambda function's
    /// policy after AddPermission). Qualified ARNs (`…:function:f:alias`)
    /// fall back to the unqualified one's policy.
    pub fn put_resource_policy(&self, resource_arn: &str, document: &str) -> Result<(), String> {
        let policy = Policy::parse(document, PolicyKind::Resource)?;
        self.resource_policies
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(resource_arn.to_owned(), Arc::new(policy));
        Ok(())
    }

    pub fn remove_resource_policy(&self, resource_arn: &str) {
        self.resource_policies.write().unwrap_or_else(|e| e.into_inner()).remove(resource_arn);
    }

    fn resource_policy(&self, resource: &str) -> Option<Arc<Policy>> {
        let policies = self.resource_policies.read().unwrap_or_else(|e| e.into_inner());
        if policies.is_empty() {
            return None;
        }
        if let Some(p) = policies.get(resource) {
            return Some(p.clone());
        }
        // arn:aws:lambda:r:a:function:name:qualifier → arn:…:function:name
        let parts: Vec<&str> = resource.split(':').collect();
        if parts.len() == 8 {
            return policies.get(&parts[..7].join(":")).cloned();
        }
        None
    }

    /// The principal's compiled policies, from the cache when still current.
    pub fn compiled(&self, principal: &Principal) -> Arc<Compiled> {
        let generation = self.model.generation();
        if let Some(c) = self.compiled.read().unwrap_or_else(|e| e.into_inner()).get(&principal.access_key_id) {
            if c.generation == generation {
                return c.clone();
            }
        }
        let compiled = Arc::new(compile(&self.model.read(), principal, generation));
        let mut cache = self.compiled.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_COMPILED {
            cache.clear();
        }
        cache.insert(principal.access_key_id.clone(), compiled.clone());
        compiled
    }

    /// The decision for one request, without recording it.
    pub fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        source_ip: IpAddr,
        context_keys: &[(&str, &[String])],
    ) -> Result<(), Denial> {
        let compiled = self.compiled(principal);
        let action_lower = action.to_ascii_lowercase();
        let ctx = EvalContext {
            action: &action_lower,
            resource,
            caller: &compiled.caller,
            source_ip,
            now_millis: None,
            context_keys,
        };
        let identity = compiled.identity.evaluate(&ctx);
        let session = compiled.session.as_ref().map(|s| s.evaluate(&ctx));
        let boundary = compiled.boundary.as_ref().map(|b| b.evaluate(&ctx));
        let resource_policy = self.resource_policy(resource);
        let (resource_decision, named) = match &resource_policy {
            Some(p) => evaluate_with_principal(p, &CallerPrincipal::Aws(&compiled.caller), &ctx),
            None => (Decision::NotApplicable, PrincipalMatch::No),
        };
        if identity == Decision::ExplicitDeny {
            return Err(Denial::ExplicitIdentity);
        }
        if session == Some(Decision::ExplicitDeny) {
            return Err(Denial::ExplicitSession);
        }
        if boundary == Some(Decision::ExplicitDeny) {
            return Err(Denial::ExplicitBoundary);
        }
        if resource_decision == Decision::ExplicitDeny {
            return Err(Denial::ExplicitResource);
        }
        // Same account: a resource policy naming the caller grants on its own.
        if resource_decision == Decision::Allow && named == PrincipalMatch::Direct {
            return Ok(());
        }
        if identity != Decision::Allow {
            return Err(Denial::NoIdentityAllow);
        }
        if boundary.is_some_and(|b| b != Decision::Allow) {
            return Err(Denial::NoBoundaryAllow);
        }
        match session {
            Some(Decision::Allow) | None => Ok(()),
            Some(_) => Err(Denial::NoSessionAllow),
        }
    }
}

impl nimbus_core::ResourcePolicies for IamAuthorizer {
    fn put_resource_policy(&self, resource_arn: &str, policy_json: &str) -> Result<(), AwsError> {
        IamAuthorizer::put_resource_policy(self, resource_arn, policy_json)
            .map_err(|m| AwsError::new(400, "MalformedPolicyDocumentException", m))
    }

    fn remove_resource_policy(&self, resource_arn: &str) {
        IamAuthorizer::remove_resource_policy(self, resource_arn)
    }
}

impl Authorizer for IamAuthorizer {
    fn authorize(&self, request: &AuthzRequest<'_>) -> Result<(), AwsError> {
        let result =
            self.decide(request.principal, request.action, request.resource, request.source_ip, request.context_keys);
        self.activity.record(&request.principal.arn, request.action, request.resource, result.is_ok());
        result.map_err(|denial| access_denied(&request.principal.arn, request.action, request.resource, denial))
    }
}

/// The caller's identity as conditions see it.
pub fn caller_of(state: &State, principal: &Principal) -> Caller {
    let mut caller = Caller {
        arn: principal.arn.clone(),
        account_id: principal.account_id.clone(),
        user_id: principal.user_id.clone(),
        username: None,
        principal_type: "Account",
        role_arn: None,
        tags: Vec::new(),
    };
    match principal.kind {
        PrincipalKind::User => {
            caller.principal_type = "User";
            caller.username = principal.arn.rsplit('/').next().map(str::to_owned);
            let user = state.keys.get(&principal.access_key_id).and_then(|k| state.users.get(&name_key(&k.user)));
            caller.tags = user.map(|u| u.tags.clone()).unwrap_or_default();
        }
        PrincipalKind::AssumedRole => {
            caller.principal_type = "AssumedRole";
            let session = state.sessions.get(&principal.access_key_id);
            caller.role_arn = session.map(|s| s.role_arn.clone());
            let role = session.and_then(|s| state.roles.get(&name_key(&s.role_name)));
            caller.tags = role.map(|r| r.tags.clone()).unwrap_or_default();
        }
        PrincipalKind::Root | PrincipalKind::Anonymous => {}
    }
    caller
}

/// The document behind a managed policy ARN: customer or AWS managed.
pub fn managed_document<'a>(state: &'a State, arn: &str) -> Option<&'a str> {
    match state.policies.get(arn) {
        Some(p) => p.default_document(),
        None => managed::find(arn).map(|p| p.document),
    }
}

fn parse_all<'a>(docs: impl Iterator<Item = &'a str>) -> PolicySet {
    // Stored documents were validated on the way in; one that no longer
    // parses grants nothing.
    PolicySet::new(docs.filter_map(|d| Policy::parse(d, PolicyKind::Identity).ok()).collect())
}

/// The identity documents of a user (its own and its groups') and its boundary.
fn user_documents<'s>(state: &'s State, user: &'s crate::model::User) -> (Vec<&'s str>, Option<&'s str>) {
    let mut docs: Vec<&str> = user.inline.values().map(String::as_str).collect();
    docs.extend(user.attached.iter().filter_map(|a| managed_document(state, a)));
    for group in state.groups_of(&name_key(&user.name)) {
        docs.extend(group.inline.values().map(String::as_str));
        docs.extend(group.attached.iter().filter_map(|a| managed_document(state, a)));
    }
    (docs, user.boundary.as_deref())
}

/// The identity documents of a role and its boundary.
fn role_documents<'s>(state: &'s State, role: &'s crate::model::Role) -> (Vec<&'s str>, Option<&'s str>) {
    let mut docs: Vec<&str> = role.inline.values().map(String::as_str).collect();
    docs.extend(role.attached.iter().filter_map(|a| managed_document(state, a)));
    (docs, role.boundary.as_deref())
}

/// The policies of the user, role or group `arn` names, with `extra`
/// identity policies added (SimulatePrincipalPolicy's PolicyInputList).
/// `None` when no such entity exists.
pub fn compile_entity(state: &State, arn: &str, extra: &[String]) -> Option<Compiled> {
    let (_, resource) = arn.strip_prefix("arn:aws:iam::")?.split_once(':')?;
    let key = name_key(resource.rsplit('/').next()?);
    let mut caller = Caller { arn: arn.to_owned(), principal_type: "User", ..Caller::default() };
    caller.account_id = arn.split(':').nth(4).unwrap_or_default().to_owned();
    let (mut docs, boundary_arn) = if resource.starts_with("user/") {
        let user = state.users.get(&key).filter(|u| u.arn == arn)?;
        caller.user_id = user.id.clone();
        caller.username = Some(user.name.clone());
        caller.tags = user.tags.clone();
        user_documents(state, user)
    } else if resource.starts_with("role/") {
        let role = state.roles.get(&key).filter(|r| r.arn == arn)?;
        caller.user_id = role.id.clone();
        caller.principal_type = "AssumedRole";
        caller.role_arn = Some(role.arn.clone());
        caller.tags = role.tags.clone();
        role_documents(state, role)
    } else if resource.starts_with("group/") {
        let group = state.groups.get(&key).filter(|g| g.arn == arn)?;
        let mut docs: Vec<&str> = group.inline.values().map(String::as_str).collect();
        docs.extend(group.attached.iter().filter_map(|a| managed_document(state, a)));
        (docs, None)
    } else {
        return None;
    };
    docs.extend(extra.iter().map(String::as_str));
    let boundary = boundary_arn.map(|arn| parse_all(managed_document(state, arn).into_iter()));
    Some(Compiled { generation: 0, caller, identity: parse_all(docs.into_iter()), session: None, boundary })
}

/// Policies given as text (SimulateCustomPolicy), for a caller.
pub fn compile_documents(documents: &[String], caller: Caller) -> Compiled {
    let identity = parse_all(documents.iter().map(String::as_str));
    Compiled { generation: 0, caller, identity, session: None, boundary: None }
}

impl Compiled {
    /// IAM's simulator verdict: `allowed`, `explicitDeny` or `implicitDeny`.
    /// Context entries may set the global keys a real request would carry.
    pub fn simulate(&self, action: &str, resource: &str, context_keys: &[(&str, &[String])]) -> &'static str {
        let action = action.to_ascii_lowercase();
        let mut caller = self.caller.clone();
        let mut source_ip: IpAddr = std::net::Ipv4Addr::LOCALHOST.into();
        for (key, values) in context_keys {
            let Some(value) = values.first() else { continue };
            match key.to_ascii_lowercase().as_str() {
                "aws:username" => caller.username = Some(value.clone()),
                "aws:userid" => caller.user_id = value.clone(),
                "aws:principalarn" => caller.arn = value.clone(),
                "aws:principalaccount" => caller.account_id = value.clone(),
                "aws:sourceip" => source_ip = value.parse().unwrap_or(source_ip),
                _ => {}
            }
        }
        let ctx = EvalContext { action: &action, resource, caller: &caller, source_ip, now_millis: None, context_keys };
        let identity = self.identity.evaluate(&ctx);
        let boundary = self.boundary.as_ref().map(|b| b.evaluate(&ctx));
        if identity == Decision::ExplicitDeny || boundary == Some(Decision::ExplicitDeny) {
            "explicitDeny"
        } else if identity == Decision::Allow && boundary.is_none_or(|b| b == Decision::Allow) {
            "allowed"
        } else {
            "implicitDeny"
        }
    }
}

fn compile(state: &State, principal: &Principal, generation: u64) -> Compiled {
    let caller = caller_of(state, principal);
    let mut docs: Vec<&str> = Vec::new();
    let mut session = None;
    let mut boundary_arn: Option<&str> = None;
    match principal.kind {
        PrincipalKind::User => {
            let user = state.keys.get(&principal.access_key_id).and_then(|k| state.users.get(&name_key(&k.user)));
            if let Some(user) = user {
                (docs, boundary_arn) = user_documents(state, user);
            }
        }
        PrincipalKind::AssumedRole => {
            if let Some(s) = state.sessions.get(&principal.access_key_id) {
                if let Some(role) = state.roles.get(&name_key(&s.role_name)) {
                    (docs, boundary_arn) = role_documents(state, role);
                }
                if s.has_session_policy() {
                    let mut session_docs: Vec<&str> = s.policy.iter().map(String::as_str).collect();
                    session_docs.extend(s.policy_arns.iter().filter_map(|a| managed_document(state, a)));
                    session = Some(parse_all(session_docs.into_iter()));
                }
            }
        }
        PrincipalKind::Root | PrincipalKind::Anonymous => {
            docs.push(managed::ALL[0].document);
        }
    }
    // A boundary whose policy has gone allows nothing, as on AWS.
    let boundary = boundary_arn.map(|arn| parse_all(managed_document(state, arn).into_iter()));
    Compiled { generation, caller, identity: parse_all(docs.into_iter()), session, boundary }
}

/// action → resource → tally.
type ActionsByResource = HashMap<String, HashMap<String, Tally>>;

/// Principals are spread over this many locks, so requests of different
/// principals do not queue behind one another.
const SHARDS: usize = 16;

/// What each principal was allowed and denied, for `suggest-policy`:
/// bounded in principals and in entries per principal.
pub struct Activity {
    shards: [Mutex<HashMap<String, ActionsByResource>>; SHARDS],
}

impl Default for Activity {
    fn default() -> Self {
        Activity { shards: std::array::from_fn(|_| Mutex::default()) }
    }
}

#[derive(Clone, Copy, Default, Debug, Serialize)]
pub struct Tally {
    pub allowed: u64,
    pub denied: u64,
}

#[derive(Debug, Serialize)]
pub struct ActivityEntry {
    pub action: String,
    pub resource: String,
    pub allowed: u64,
    pub denied: u64,
}

const MAX_PRINCIPALS: usize = 1024;

/// `arn:aws:iam::A:role/path/R` → `arn:aws:sts::A:assumed-role/R/`.
fn role_sessions_prefix(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let role_path = resource.strip_prefix("role/")?;
    let name = role_path.rsplit('/').next()?;
    Some(format!("arn:aws:sts::{account}:assumed-role/{name}/"))
}

const MAX_ENTRIES_PER_PRINCIPAL: usize = 4096;

/// FNV-1a: a principal's shard.
fn shard_of(principal: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in principal.bytes() {
        hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    (hash % SHARDS as u64) as usize
}

impl Activity {
    pub fn record(&self, principal: &str, action: &str, resource: &str, allowed: bool) {
        let mut all = self.shards[shard_of(principal)].lock().unwrap_or_else(|e| e.into_inner());
        if !all.contains_key(principal) {
            if all.len() >= MAX_PRINCIPALS / SHARDS {
                return;
            }
            all.insert(principal.to_owned(), HashMap::new());
        }
        let Some(actions) = all.get_mut(principal) else { return };
        let bump = |tally: &mut Tally| {
            if allowed {
                tally.allowed += 1;
            } else {
                tally.denied += 1;
            }
        };
        // Repeat visits (the common case) allocate nothing.
        if let Some(tally) = actions.get_mut(action).and_then(|r| r.get_mut(resource)) {
            bump(tally);
            return;
        }
        if actions.values().map(HashMap::len).sum::<usize>() >= MAX_ENTRIES_PER_PRINCIPAL {
            return;
        }
        bump(actions.entry(action.to_owned()).or_default().entry(resource.to_owned()).or_default());
    }

    /// Everything recorded for `principal`, sorted by action then resource.
    /// A role ARN (`arn:aws:iam::…:role/R`) gathers all of its sessions
    /// (`arn:aws:sts::…:assumed-role/R/…`): a function's environments each
    /// run as their own session of the function's role.
    pub fn entries(&self, principal: &str) -> Vec<ActivityEntry> {
        let sessions = role_sessions_prefix(principal);
        let mut merged: std::collections::BTreeMap<(String, String), Tally> = Default::default();
        for shard in &self.shards {
            let all = shard.lock().unwrap_or_else(|e| e.into_inner());
            let matching = all
                .iter()
                .filter(|(p, _)| p.as_str() == principal || sessions.as_deref().is_some_and(|s| p.starts_with(s)));
            for (_, actions) in matching {
                for (action, resources) in actions {
                    for (resource, t) in resources {
                        let m = merged.entry((action.clone(), resource.clone())).or_default();
                        m.allowed += t.allowed;
                        m.denied += t.denied;
                    }
                }
            }
        }
        merged
            .into_iter()
            .map(|((action, resource), t)| ActivityEntry { action, resource, allowed: t.allowed, denied: t.denied })
            .collect()
    }

    /// The smallest identity policy covering everything `principal` did or
    /// tried: one statement per resource, listing its actions.
    pub fn suggest_policy(&self, principal: &str) -> serde_json::Value {
        let mut by_resource: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for e in self.entries(principal) {
            by_resource.entry(e.resource).or_default().insert(e.action);
        }
        let statements: Vec<serde_json::Value> = by_resource
            .into_iter()
            .map(|(resource, actions)| {
                let actions: Vec<String> = actions.into_iter().collect();
                serde_json::json!({"Effect": "Allow", "Action": actions, "Resource": resource})
            })
            .collect();
        serde_json::json!({"Version": "2012-10-17", "Statement": statements})
    }
}

#[cfg(test)]
mod tests {
    use nimbus_store::NullStore;

    use super::*;
    use crate::model::{AccessKey, Dirty, User};

    const ALICE: &str = "arn:aws:iam::000000000000:user/alice";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

    fn setup(inline: &str) -> (IamAuthorizer, Principal) {
        let model = Arc::new(Model::open(Arc::new(NullStore), "000000000000").unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let inline = inline.to_owned();
        runtime
            .block_on(model.mutate(move |state, dirty: &mut Vec<Dirty>| {
                state.users.insert(
                    "alice".into(),
                    User {
                        name: "alice".into(),
                        path: "/".into(),
                        id: "AIDAALICE".into(),
                        arn: ALICE.into(),
                        created: 0,
                        inline: [("p".to_owned(), inline)].into(),
                        attached: vec![],
                        boundary: None,
                        tags: Vec::new(),
                    },
                );
                state.keys.insert(
                    "AKIAALICE".into(),
                    AccessKey {
                        id: "AKIAALICE".into(),
                        secret: "s".into(),
                        user: "alice".into(),
                        active: true,
                        created: 0,
                    },
                );
                dirty.push(Dirty::User("alice".into()));
                Ok(())
            }))
            .unwrap();
        let principal = Principal {
            kind: PrincipalKind::User,
            account_id: "000000000000".into(),
            arn: ALICE.into(),
            user_id: "AIDAALICE".into(),
            access_key_id: "AKIAALICE".into(),
        };
        (IamAuthorizer::new(model), principal)
    }

    fn check(authz: &IamAuthorizer, p: &Principal, action: &str, resource: &str) -> Result<(), AwsError> {
        authz.authorize(&AuthzRequest {
            principal: p,
            action,
            resource,
            source_ip: "127.0.0.1".parse().unwrap(),
            context_keys: &[],
        })
    }

    #[test]
    fn denial_messages_and_shapes_follow_aws() {
        let (authz, alice) = setup(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/A"},{"Effect":"Deny","Action":"dynamodb:DeleteTable","Resource":"*"}]}"#,
        );
        let a = "arn:aws:dynamodb:us-east-1:000000000000:table/A";
        let b = "arn:aws:dynamodb:us-east-1:000000000000:table/B";
        assert!(check(&authz, &alice, "dynamodb:GetItem", a).is_ok());
        let err = check(&authz, &alice, "dynamodb:PutItem", b).unwrap_err();
        assert_eq!(err.type_name(), "com.amazon.coral.service#AccessDeniedException");
        assert_eq!(
            err.message,
            "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/B because no identity-based policy allows the dynamodb:PutItem action"
        );
        let err = check(&authz, &alice, "dynamodb:DeleteTable", a).unwrap_err();
        assert!(err.message.ends_with("on resource: arn:aws:dynamodb:us-east-1:000000000000:table/A with an explicit deny in an identity-based policy"));
        let err = check(&authz, &alice, "lambda:InvokeFunction", FUNCTION).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code.as_ref()), (403, "AccessDeniedException"));
    }

    #[test]
    fn resource_policies_grant_and_deny() {
        let (authz, alice) =
            setup(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#);
        assert!(check(&authz, &alice, "lambda:InvokeFunction", FUNCTION).is_err());
        authz
            .put_resource_policy(
                FUNCTION,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f"}]}"#,
            )
            .unwrap();
        assert!(check(&authz, &alice, "lambda:InvokeFunction", FUNCTION).is_ok());
        // A qualified ARN falls back to the function's policy; its Resource must still match.
        assert!(check(&authz, &alice, "lambda:InvokeFunction", &format!("{FUNCTION}:live")).is_err());
        authz
            .put_resource_policy(
                FUNCTION,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"lambda:*","Resource":"*"}]}"#,
            )
            .unwrap();
        let err = check(&authz, &alice, "lambda:InvokeFunction", FUNCTION).unwrap_err();
        assert!(err.message.ends_with("with an explicit deny in a resource-based policy"));
        authz.remove_resource_policy(FUNCTION);
        assert!(check(&authz, &alice, "lambda:InvokeFunction", FUNCTION).is_err());
        assert!(authz
            .put_resource_policy(FUNCTION, r#"{"Statement":{"Effect":"Allow","Action":"x:y","Resource":"*"}}"#)
            .is_err());
    }

    #[test]
    fn activity_is_recorded_and_bounded() {
        let (authz, alice) =
            setup(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#);
        for _ in 0..3 {
            let _ = check(&authz, &alice, "iam:GetUser", ALICE);
        }
        let _ = check(&authz, &alice, "iam:ListUsers", "arn:aws:iam::000000000000:user/");
        let entries = authz.activity().entries(ALICE);
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].action.as_str(), entries[0].allowed, entries[0].denied), ("iam:GetUser", 3, 0));
        assert_eq!((entries[1].action.as_str(), entries[1].allowed, entries[1].denied), ("iam:ListUsers", 0, 1));
        for i in 0..(MAX_ENTRIES_PER_PRINCIPAL + 10) {
            authz.activity().record("p", "a:b", &i.to_string(), true);
        }
        assert_eq!(authz.activity().entries("p").len(), MAX_ENTRIES_PER_PRINCIPAL);
    }

    #[test]
    fn a_role_gathers_the_activity_of_its_sessions() {
        let activity = Activity::default();
        let table = "arn:aws:dynamodb:us-east-1:0:table/T";
        activity.record("arn:aws:sts::0:assumed-role/fn-role/env-1", "dynamodb:GetItem", table, true);
        activity.record("arn:aws:sts::0:assumed-role/fn-role/env-2", "dynamodb:GetItem", table, true);
        activity.record("arn:aws:sts::0:assumed-role/fn-role/env-2", "dynamodb:PutItem", table, false);
        activity.record("arn:aws:sts::0:assumed-role/fn-role-2/env", "dynamodb:Scan", table, true);
        let entries = activity.entries("arn:aws:iam::0:role/service/fn-role");
        let got: Vec<_> = entries.iter().map(|e| (e.action.as_str(), e.allowed, e.denied)).collect();
        assert_eq!(got, [("dynamodb:GetItem", 2, 0), ("dynamodb:PutItem", 0, 1)]);
        let policy = activity.suggest_policy("arn:aws:iam::0:role/fn-role");
        assert_eq!(policy["Statement"][0]["Action"], serde_json::json!(["dynamodb:GetItem", "dynamodb:PutItem"]));
    }
}
