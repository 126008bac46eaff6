//! IAM's persisted state: users, access keys, roles, groups, customer
//! managed policies and STS sessions.
//!
//! The whole state is small and read on every request (credential lookups,
//! policy compilation), so it lives in memory behind a lock and every change
//! is written through to the store, one JSON value per entity, in keyspace
//! `iam`. Changes are serialised by one async writer lock so the store sees
//! them in the order memory did. `generation` counts changes to identities
//! and policies: compiled policies are valid for one generation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use nimbus_core::AwsError;
use nimbus_store::{prefix_end, Direction, Store, WriteBatch};
use serde::{Deserialize, Serialize};

pub const KEYSPACE: &str = "iam";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    /// Epoch milliseconds.
    pub created: i64,
    /// Inline policies by name: the document as given.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs, in attachment order.
    pub attached: Vec<String>,
    /// Permissions boundary: a managed policy ARN capping what identity policies grant.
    #[serde(default)]
    pub boundary: Option<String>,
    /// Tags in insertion order; keys unique case-insensitively.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub user: String,
    pub active: bool,
    pub created: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub created: i64,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
    /// Permissions boundary: a managed policy ARN capping what identity policies grant.
    #[serde(default)]
    pub boundary: Option<String>,
    /// Tags in insertion order; keys unique case-insensitively.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub created: i64,
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
    /// Member user names (lower-cased keys of `State::users`).
    pub members: BTreeSet<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub document: String,
    pub created: i64,
}

/// A customer managed policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub description: Option<String>,
    pub created: i64,
    pub updated: i64,
    pub default_version: u32,
    pub next_version: u32,
    pub versions: BTreeMap<u32, PolicyVersion>,
}

impl ManagedPolicy {
    pub fn default_document(&self) -> Option<&str> {
        self.versions.get(&self.default_version).map(|v| v.document.as_str())
    }
}

/// Temporary credentials from `sts:AssumeRole`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    pub role_name: String,
    pub role_arn: String,
    pub role_id: String,
    pub session_name: String,
    /// Epoch seconds.
    pub expires_at: i64,
    /// Inline session policy, if one was passed.
    pub policy: Option<String>,
    /// Managed session policies (`PolicyArns`).
    pub policy_arns: Vec<String>,
}

impl Session {
    pub fn arn(&self, account_id: &str) -> String {
        format!("arn:aws:sts::{account_id}:assumed-role/{}/{}", self.role_name, self.session_name)
    }

    pub fn has_session_policy(&self) -> bool {
        self.policy.is_some() || !self.policy_arns.is_empty()
    }
}

/// Everything IAM knows. Names are keyed lower-cased: IAM names are unique
/// and looked up case-insensitively.
#[derive(Default, Debug)]
pub struct State {
    pub users: BTreeMap<String, User>,
    pub roles: BTreeMap<String, Role>,
    pub groups: BTreeMap<String, Group>,
    /// Customer managed policies by ARN.
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub keys: HashMap<String, AccessKey>,
    pub sessions: HashMap<String, Session>,
}

pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// An entity changed by a mutation, to be written through.
#[derive(Debug, Clone)]
pub enum Dirty {
    User(String),
    Role(String),
    Group(String),
    Policy(String),
    Key(String),
    Session(String),
}

impl State {
    /// The groups `user` (a name key) belongs to.
    pub fn groups_of(&self, user: &str) -> impl Iterator<Item = &Group> {
        let user = user.to_owned();
        self.groups.values().filter(move |g| g.members.contains(&user))
    }

    /// How many users, groups and roles a managed policy is attached to.
    pub fn attachment_count(&self, arn: &str) -> usize {
        let has = |list: &Vec<String>| list.iter().any(|a| a == arn);
        self.users.values().filter(|u| has(&u.attached)).count()
            + self.roles.values().filter(|r| has(&r.attached)).count()
            + self.groups.values().filter(|g| has(&g.attached)).count()
    }

    /// How many users and roles use a managed policy as their permissions boundary.
    pub fn boundary_count(&self, arn: &str) -> usize {
        let is = |b: &Option<String>| b.as_deref() == Some(arn);
        self.users.values().filter(|u| is(&u.boundary)).count()
            + self.roles.values().filter(|r| is(&r.boundary)).count()
    }

    fn encode(&self, dirty: &Dirty) -> (Vec<u8>, Option<Vec<u8>>) {
        fn json<T: Serialize>(v: Option<&T>) -> Option<Vec<u8>> {
            v.and_then(|v| serde_json::to_vec(v).ok())
        }
        match dirty {
            Dirty::User(k) => (key("user", k), json(self.users.get(k))),
            Dirty::Role(k) => (key("role", k), json(self.roles.get(k))),
            Dirty::Group(k) => (key("group", k), json(self.groups.get(k))),
            Dirty::Policy(k) => (key("policy", k), json(self.policies.get(k))),
            Dirty::Key(k) => (key("key", k), json(self.keys.get(k))),
            Dirty::Session(k) => (key("session", k), json(self.sessions.get(k))),
        }
    }
}

fn key(kind: &str, name: &str) -> Vec<u8> {
    nimbus_store::KeyWriter::new().str(kind).str(name).finish()
}

pub struct Model {
    store: Arc<dyn Store>,
    state: RwLock<State>,
    writer: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    pub account_id: String,
}

impl Model {
    /// Load the state from the store.
    pub fn open(store: Arc<dyn Store>, account_id: &str) -> Result<Model, String> {
        let mut state = State::default();
        let mut problems = Vec::new();
        for kind in ["user", "role", "group", "policy", "key", "session"] {
            let prefix = nimbus_store::KeyWriter::new().str(kind).finish();
            let end = prefix_end(&prefix);
            let upper = end.as_deref().map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
            store
                .scan(KEYSPACE, (std::ops::Bound::Included(&prefix[..]), upper), Direction::Forward, &mut |_, v| {
                    let loaded = match kind {
                        "user" => serde_json::from_slice::<User>(v).map(|u| {
                            state.users.insert(name_key(&u.name), u);
                        }),
                        "role" => serde_json::from_slice::<Role>(v).map(|r| {
                            state.roles.insert(name_key(&r.name), r);
                        }),
                        "group" => serde_json::from_slice::<Group>(v).map(|g| {
                            state.groups.insert(name_key(&g.name), g);
                        }),
                        "policy" => serde_json::from_slice::<ManagedPolicy>(v).map(|p| {
                            state.policies.insert(p.arn.clone(), p);
                        }),
                        "key" => serde_json::from_slice::<AccessKey>(v).map(|k| {
                            state.keys.insert(k.id.clone(), k);
                        }),
                        _ => serde_json::from_slice::<Session>(v).map(|s| {
                            state.sessions.insert(s.access_key_id.clone(), s);
                        }),
                    };
                    if let Err(e) = loaded {
                        problems.push(format!("{kind}: {e}"));
                    }
                    ControlFlow::Continue(())
                })
                .map_err(|e| e.to_string())?;
        }
        for problem in problems {
            tracing::warn!(%problem, "skipping an unreadable IAM record");
        }
        Ok(Model {
            store,
            state: RwLock::new(state),
            writer: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(1),
            account_id: account_id.to_owned(),
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes so far; compiled caches compare against it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Apply `change` to the state and write what it marked dirty through to
    /// the store. The change is visible in memory as soon as it is applied;
    /// the reply waits for durability.
    pub async fn mutate<T>(
        &self,
        change: impl FnOnce(&mut State, &mut Vec<Dirty>) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let _writer = self.writer.lock().await;
        let mut dirty = Vec::new();
        let (value, batch) = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            let value = change(&mut state, &mut dirty)?;
            let mut batch = WriteBatch::new();
            for d in &dirty {
                match state.encode(d) {
                    (k, Some(v)) => batch.put(KEYSPACE, k, v),
                    (k, None) => batch.delete(KEYSPACE, k),
                };
            }
            (value, batch)
        };
        if batch.is_empty() {
            return Ok(value);
        }
        // Keys and sessions never change a principal's policies (a new one is
        // a new cache entry): only identity and policy changes invalidate, so
        // Lambda starting environments does not recompile everyone.
        let policies_changed =
            dirty.iter().any(|d| matches!(d, Dirty::User(_) | Dirty::Role(_) | Dirty::Group(_) | Dirty::Policy(_)));
        if policies_changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.store.write(batch).await.map_err(|e| AwsError::new(500, "ServiceFailure", e.to_string()))?;
        Ok(value)
    }
}

/// Random ids in AWS's shapes.
pub mod ids {
    const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    fn random(alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| alphabet[fastrand::usize(..alphabet.len())] as char).collect()
    }

    /// `AIDA…` (user), `AROA…` (role), `AGPA…` (group), `ANPA…` (policy): 21 characters.
    pub fn unique_id(prefix: &str) -> String {
        format!("{prefix}{}", random(ID_ALPHABET, 17))
    }

    /// `AKIA…` or `ASIA…`: 20 characters.
    pub fn access_key_id(prefix: &str) -> String {
        format!("{prefix}{}", random(ID_ALPHABET, 16))
    }

    /// fastrand is not a CSPRNG: good enough for an emulator's credentials,
    /// to be replaced by an OS-random source before Nimbus guards real data.
    pub fn secret() -> String {
        random(SECRET_ALPHABET, 40)
    }

    pub fn session_token() -> String {
        format!("FwoGZXIvYXdzE{}", random(SECRET_ALPHABET, 300))
    }
}
