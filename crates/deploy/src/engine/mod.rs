//! The deploy engine: prepare a template (SAM transform, parameters,
//! conditions, graph, supported types — all before anything is touched),
//! then create or update each resource in dependency order, roll back on
//! failure, delete what the template no longer has, and record the stack.

pub mod graph;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

pub use graph::Graph;
pub use state::{FileStates, MemoryStates, OutputState, ResourceState, StackState, StateStore, StoreStates};

use crate::api::AwsApi;
use crate::resources::{self, Ctx, Existing, Provisioned};
use crate::sam::{self, SamOptions};
use crate::template::intrinsics::{evaluate_conditions, ValueSource};
use crate::template::{resolve_parameters, resource_path, PseudoParams, Scope, Template, TemplateError};

/// What a resource is going through, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    /// Undoing a create or update after a failure.
    Rollback,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Create => "CREATE",
            Action::Update => "UPDATE",
            Action::Replace => "REPLACE",
            Action::Delete => "DELETE",
            Action::Rollback => "ROLLBACK",
        })
    }
}

/// One step of a deploy, reported as it starts and ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub logical_id: String,
    pub resource_type: String,
    pub action: Action,
    /// `None` while in progress; `Some(Ok)` done; `Some(Err(reason))` failed.
    pub outcome: Option<Result<(), String>>,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How to deploy one stack.
#[derive(Clone)]
pub struct DeployOptions {
    pub stack_name: String,
    /// Where relative `CodeUri`s are (the template's folder).
    pub base_dir: PathBuf,
    pub parameter_overrides: BTreeMap<String, String>,
    pub progress: Option<ProgressFn>,
}

/// Why a deploy or delete failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployError {
    /// The template is wrong: nothing was created, changed or deleted.
    Template(TemplateError),
    /// A resource failed; what had been done was rolled back.
    Resource {
        logical_id: String,
        resource_type: String,
        action: Action,
        line: Option<usize>,
        reason: String,
        /// Rollback steps that failed in turn (those resources may be left behind).
        rollback_failures: Vec<String>,
    },
    /// Deleting a stack left some resources behind.
    Delete {
        failures: Vec<String>,
    },
    NoSuchStack(String),
    State(String),
}

impl fmt::Display for DeployError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployError::Template(e) => write!(f, "template error: {e}"),
            DeployError::Resource { logical_id, resource_type, action, line, reason, rollback_failures } => {
                let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
                write!(
                    f,
                    "{action} of {logical_id} [{resource_type}]{at} failed: {reason}; the stack was rolled back"
                )?;
                if !rollback_failures.is_empty() {
                    write!(f, ", but these rollback steps failed: {}", rollback_failures.join("; "))?;
                }
                Ok(())
            }
            DeployError::Delete { failures } => {
                write!(f, "some resources could not be deleted: {}", failures.join("; "))
            }
            DeployError::NoSuchStack(name) => write!(f, "Stack with id {name} does not exist"),
            DeployError::State(e) => write!(f, "stack record: {e}"),
        }
    }
}

impl std::error::Error for DeployError {}

impl From<TemplateError> for DeployError {
    fn from(e: TemplateError) -> Self {
        DeployError::Template(e)
    }
}

/// What a successful deploy did.
#[derive(Clone, Debug)]
pub struct DeployOutcome {
    pub stack: StackState,
    /// Resources touched, in the order they were.
    pub changes: Vec<(String, String, Action)>,
    /// Deletes of removed resources that failed: the stack is updated, these are left behind.
    pub cleanup_failures: Vec<String>,
}

/// A template ready to deploy: transformed, resolved, ordered.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub template: Template,
    pub parameters: BTreeMap<String, Value>,
    pub conditions: BTreeMap<String, bool>,
    /// Resources whose Condition holds.
    pub included: BTreeSet<String>,
    pub graph: Graph,
}

/// Everything that can be known wrong about a template without calling any
/// service: syntax, SAM transform, unsupported types, parameters, conditions,
/// references, cycles.
pub fn prepare(
    text: &str,
    base_dir: &std::path::Path,
    pseudo: &PseudoParams,
    overrides: &BTreeMap<String, String>,
) -> Result<Prepared, TemplateError> {
    let source = Template::parse(text)?;
    let template = sam::transform(&source, &SamOptions { base_dir: base_dir.to_path_buf() })?;
    for (id, resource) in template.resources() {
        let ty = resource.get("Type").and_then(Value::as_str).unwrap_or_default();
        if !resources::SUPPORTED.contains(&ty) {
            return Err(template.error(
                &format!("{}/Type", resource_path(id)),
                format!("resource type {ty} ({id}) is not supported by Nimbus; nothing was deployed"),
            ));
        }
    }
    let parameters = resolve_parameters(&template, overrides)?;
    let conditions = evaluate_conditions(&template, pseudo, &parameters)?;
    let mut included = BTreeSet::new();
    for (id, resource) in template.resources() {
        match resource.get("Condition") {
            None => {
                included.insert(id.clone());
            }
            Some(Value::String(c)) => match conditions.get(c) {
                Some(true) => {
                    included.insert(id.clone());
                }
                Some(false) => {}
                None => {
                    return Err(template
                        .error(&format!("{}/Condition", resource_path(id)), format!("{id}: unknown condition '{c}'")))
                }
            },
            Some(_) => return Err(template.error(&resource_path(id), format!("{id}: Condition must name a condition"))),
        }
    }
    let graph = Graph::build(&template, &included)?;
    Ok(Prepared { template, parameters, conditions, included, graph })
}

/// Resource values for intrinsics, from what this deploy has made so far.
struct Made<'a> {
    made: &'a BTreeMap<String, ResourceState>,
    template: &'a Template,
    included: &'a BTreeSet<String>,
}

impl ValueSource for Made<'_> {
    fn resource_ref(&self, id: &str) -> Option<Result<Value, String>> {
        self.template.resource_type(id)?;
        Some(match self.made.get(id) {
            Some(r) => Ok(r.reference.clone()),
            None if !self.included.contains(id) => Err(format!("resource {id} is not created: its Condition is false")),
            None => Err(format!("resource {id} is not created yet")),
        })
    }

    fn resource_attr(&self, id: &str, attribute: &str) -> Option<Result<Value, String>> {
        let ty = self.template.resource_type(id)?;
        Some(match self.made.get(id) {
            Some(r) => r
                .attributes
                .get(attribute)
                .filter(|_| !attribute.starts_with("Nimbus::"))
                .cloned()
                .ok_or_else(|| format!("{id} ({ty}) has no attribute {attribute} in Nimbus")),
            None if !self.included.contains(id) => Err(format!("resource {id} is not created: its Condition is false")),
            None => Err(format!("resource {id} is not created yet")),
        })
    }
}

/// One create, update or replacement to make.
struct Step {
    id: String,
    ty: String,
    properties: Value,
    depends_on: Vec<String>,
    retain: bool,
    before: Option<ResourceState>,
    action: Action,
}

fn resource_failure(template: &Template, id: &str, ty: &str, action: Action, reason: String) -> DeployError {
    DeployError::Resource {
        logical_id: id.to_owned(),
        resource_type: ty.to_owned(),
        action,
        line: template.line_of(&resource_path(id)),
        reason,
        rollback_failures: Vec::new(),
    }
}

/// A step to undo if a later one fails.
enum Undo {
    Created(String, ResourceState),
    Updated { id: String, before: ResourceState, after: ResourceState },
}

pub struct Engine {
    api: Arc<dyn AwsApi>,
    states: Arc<dyn StateStore>,
    region: String,
    account_id: String,
    /// One deploy at a time: a watcher's redeploy waits for a running one.
    lock: tokio::sync::Mutex<()>,
}

impl Engine {
    pub fn new(api: Arc<dyn AwsApi>, states: Arc<dyn StateStore>, region: &str, account_id: &str) -> Self {
        Engine {
            api,
            states,
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn ctx<'a>(&'a self, stack_name: &'a str, logical_id: &'a str) -> Ctx<'a> {
        Ctx { api: self.api.as_ref(), region: &self.region, account_id: &self.account_id, stack_name, logical_id }
    }

    pub async fn stacks(&self) -> Result<Vec<StackState>, DeployError> {
        self.states.list().await.map_err(DeployError::State)
    }

    pub async fn stack(&self, name: &str) -> Result<Option<StackState>, DeployError> {
        self.states.load(name).await.map_err(DeployError::State)
    }

    /// Create or update a stack from template text.
    pub async fn deploy(&self, text: &str, options: &DeployOptions) -> Result<DeployOutcome, DeployError> {
        let _one_at_a_time = self.lock.lock().await;
        let name = options.stack_name.as_str();
        check_stack_name(name)?;
        let previous = self.states.load(name).await.map_err(DeployError::State)?;
        let stack_id = match &previous {
            Some(p) => p.stack_id.clone(),
            None => format!(
                "arn:aws:cloudformation:{}:{}:stack/{name}/{}",
                self.region,
                self.account_id,
                nimbus_core::request::new_request_id()
            ),
        };
        let uuid = stack_id.rsplit('/').next().unwrap_or_default().to_owned();
        let pseudo = PseudoParams::new(&self.region, &self.account_id, name, &uuid);
        let prepared = prepare(text, &options.base_dir, &pseudo, &options.parameter_overrides)?;
        let template = &prepared.template;
        // A service this server does not run stops the deploy before anything
        // is made (IAM aside: without it, roles exist in name only).
        for id in &prepared.included {
            let ty = template.resource_type(id).unwrap_or_default();
            let service = resources::service_of(ty);
            if service != "iam" && self.api.has_service(service) == Some(false) {
                return Err(DeployError::Template(template.error(
                    &format!("{}/Type", resource_path(id)),
                    format!("resource type {ty} ({id}) needs the {service} service, which this server does not run; nothing was deployed"),
                )));
            }
        }
        let old = previous.as_ref().map(|p| p.resources.clone()).unwrap_or_default();
        let report = |id: &str, ty: &str, action: Action, outcome: Option<Result<(), String>>| {
            if let Some(progress) = &options.progress {
                progress(&Progress { logical_id: id.to_owned(), resource_type: ty.to_owned(), action, outcome });
            }
        };

        let mut made: BTreeMap<String, ResourceState> = BTreeMap::new();
        let mut undo: Vec<Undo> = Vec::new();
        let mut replaced: Vec<(String, ResourceState)> = Vec::new();
        let mut changes = Vec::new();
        let mut pending: Vec<String> = prepared.graph.order.clone();
        // Resources whose dependencies are all in place go together, as
        // CloudFormation provisions independent resources in parallel.
        while !pending.is_empty() {
            let ready: Vec<String> = pending
                .iter()
                .filter(|id| {
                    prepared.graph.depends_on.get(*id).is_none_or(|deps| deps.iter().all(|d| made.contains_key(d)))
                })
                .cloned()
                .collect();
            if ready.is_empty() {
                // Unreachable with an acyclic graph; never spin.
                return Err(DeployError::State(format!("no resource is ready among {}", pending.join(", "))));
            }
            pending.retain(|id| !ready.contains(id));
            let mut steps = Vec::new();
            for id in &ready {
                let resource = &template.body["Resources"][id];
                let ty = resource.get("Type").and_then(Value::as_str).unwrap_or_default().to_owned();
                let depends_on: Vec<String> =
                    prepared.graph.depends_on.get(id).map(|d| d.iter().cloned().collect()).unwrap_or_default();
                let retain = resource.get("DeletionPolicy").and_then(Value::as_str) == Some("Retain");
                let properties = {
                    let source = Made { made: &made, template, included: &prepared.included };
                    let scope = Scope {
                        pseudo: &pseudo,
                        params: &prepared.parameters,
                        mappings: template.section("Mappings"),
                        conditions: &prepared.conditions,
                        resources: &source,
                    };
                    let empty = json!({});
                    let raw = resource.get("Properties").unwrap_or(&empty);
                    scope.eval(raw, &format!("{}/Properties", resource_path(id)))
                };
                let properties = match properties {
                    Ok(p) => p.unwrap_or_else(|| json!({})),
                    Err(e) => {
                        let err = e.into_template_error(template);
                        let action = if old.contains_key(id) { Action::Update } else { Action::Create };
                        let failure = resource_failure(template, id, &ty, action, err.message);
                        return Err(self.roll_back(name, previous.as_ref(), undo, failure, &report).await);
                    }
                };
                let before = old.get(id).filter(|b| b.resource_type == ty).cloned();
                let action = match &before {
                    Some(b) if b.properties == properties => {
                        made.insert(id.clone(), ResourceState { depends_on, retain, ..b.clone() });
                        continue;
                    }
                    Some(b) if !resources::needs_replacement(&ty, &b.properties, &properties) => Action::Update,
                    _ if old.contains_key(id) => Action::Replace,
                    _ => Action::Create,
                };
                if let (Action::Replace, Some(b)) = (action, old.get(id).filter(|b| b.resource_type == ty)) {
                    if let Some(custom) = resources::kept_custom_name(&ty, &b.properties, &properties) {
                        let reason = format!("CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename {custom} and update the stack again.");
                        let failure = resource_failure(template, id, &ty, action, reason);
                        return Err(self.roll_back(name, previous.as_ref(), undo, failure, &report).await);
                    }
                }
                let before = old.get(id).cloned();
                steps.push(Step { id: id.clone(), ty, properties, depends_on, retain, before, action });
            }
            let results =
                futures_util::future::join_all(steps.iter().map(|step| self.apply(name, step, &report))).await;
            let mut failure = None;
            for (step, result) in steps.into_iter().zip(results) {
                match result {
                    Ok(after) => {
                        match (step.action, step.before) {
                            (Action::Update, Some(before)) => {
                                undo.push(Undo::Updated { id: step.id.clone(), before, after: after.clone() })
                            }
                            (_, before) => {
                                undo.push(Undo::Created(step.id.clone(), after.clone()));
                                if let Some(b) = before {
                                    replaced.push((step.id.clone(), b));
                                }
                            }
                        }
                        made.insert(step.id.clone(), after);
                        changes.push((step.id, step.ty, step.action));
                    }
                    Err(reason) => {
                        failure
                            .get_or_insert_with(|| resource_failure(template, &step.id, &step.ty, step.action, reason));
                    }
                }
            }
            if let Some(failure) = failure {
                return Err(self.roll_back(name, previous.as_ref(), undo, failure, &report).await);
            }
        }

        let outputs = {
            let source = Made { made: &made, template, included: &prepared.included };
            let scope = Scope {
                pseudo: &pseudo,
                params: &prepared.parameters,
                mappings: template.section("Mappings"),
                conditions: &prepared.conditions,
                resources: &source,
            };
            evaluate_outputs(template, &scope)
        };
        let outputs = match outputs {
            Ok(o) => o,
            Err(e) => {
                let failure = DeployError::Template(e);
                return Err(self.roll_back(name, previous.as_ref(), undo, failure, &report).await);
            }
        };

        // Cleanup: what the template dropped, and what was replaced, goes last
        // and in reverse dependency order; a failure here does not undo the update.
        let mut doomed: BTreeMap<String, ResourceState> =
            old.iter().filter(|(id, _)| !made.contains_key(*id)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut cleanup_failures = Vec::new();
        for (id, before) in &replaced {
            doomed.insert(format!("{id}\u{0}old"), before.clone());
        }
        for (key, r) in deletion_order(&doomed) {
            let id = key.split('\u{0}').next().unwrap_or(&key).to_owned();
            if r.retain {
                continue;
            }
            report(&id, &r.resource_type, Action::Delete, None);
            let ctx = self.ctx(name, &id);
            let existing =
                Existing { physical_id: &r.physical_id, properties: &r.properties, attributes: &r.attributes };
            match resources::delete(&r.resource_type, &ctx, &existing).await {
                Ok(()) => {
                    report(&id, &r.resource_type, Action::Delete, Some(Ok(())));
                    if !made.contains_key(&id) {
                        changes.push((id.clone(), r.resource_type.clone(), Action::Delete));
                    }
                }
                Err(e) => {
                    report(&id, &r.resource_type, Action::Delete, Some(Err(e.to_string())));
                    cleanup_failures.push(format!("{id} [{}]: {e}", r.resource_type));
                }
            }
        }

        let stack = StackState {
            name: name.to_owned(),
            stack_id,
            status: if previous.is_some() { "UPDATE_COMPLETE" } else { "CREATE_COMPLETE" }.to_owned(),
            parameters: prepared.parameters.iter().map(|(k, v)| (k.clone(), param_text(v))).collect(),
            resources: made,
            outputs,
            updated_at: nimbus_core::time::now_epoch_millis(),
            created_at: previous.as_ref().map_or_else(nimbus_core::time::now_epoch_millis, |p| p.created_at),
            template_body: Some(text.to_owned()),
        };
        self.states.save(&stack).await.map_err(DeployError::State)?;
        Ok(DeployOutcome { stack, changes, cleanup_failures })
    }

    async fn apply(
        &self,
        stack: &str,
        step: &Step,
        report: &impl Fn(&str, &str, Action, Option<Result<(), String>>),
    ) -> Result<ResourceState, String> {
        let ctx = self.ctx(stack, &step.id);
        report(&step.id, &step.ty, step.action, None);
        let result = match (&step.action, &step.before) {
            (Action::Update, Some(before)) => {
                let existing = Existing {
                    physical_id: &before.physical_id,
                    properties: &before.properties,
                    attributes: &before.attributes,
                };
                resources::update(&step.ty, &ctx, &existing, &step.properties).await
            }
            _ => resources::create(&step.ty, &ctx, &step.properties).await,
        };
        report(&step.id, &step.ty, step.action, Some(result.as_ref().map(drop).map_err(|e| e.to_string())));
        result.map_err(|e| e.to_string()).map(|p: Provisioned| ResourceState {
            resource_type: step.ty.clone(),
            physical_id: p.physical_id,
            reference: p.reference,
            attributes: p.attributes,
            properties: step.properties.clone(),
            depends_on: step.depends_on.clone(),
            retain: step.retain,
        })
    }

    /// Undo, newest first. The previous record of an updated stack is kept,
    /// marked UPDATE_ROLLBACK_COMPLETE (or _FAILED) as CloudFormation does.
    async fn roll_back(
        &self,
        stack: &str,
        previous: Option<&StackState>,
        undo: Vec<Undo>,
        mut failure: DeployError,
        report: &impl Fn(&str, &str, Action, Option<Result<(), String>>),
    ) -> DeployError {
        let mut failures = Vec::new();
        for step in undo.into_iter().rev() {
            match step {
                Undo::Created(id, r) => {
                    report(&id, &r.resource_type, Action::Rollback, None);
                    let existing =
                        Existing { physical_id: &r.physical_id, properties: &r.properties, attributes: &r.attributes };
                    let result = resources::delete(&r.resource_type, &self.ctx(stack, &id), &existing).await;
                    if let Err(e) = &result {
                        failures.push(format!("deleting {id}: {e}"));
                    }
                    report(&id, &r.resource_type, Action::Rollback, Some(result.map_err(|e| e.to_string())));
                }
                Undo::Updated { id, before, after } => {
                    report(&id, &after.resource_type, Action::Rollback, None);
                    let existing = Existing {
                        physical_id: &after.physical_id,
                        properties: &after.properties,
                        attributes: &after.attributes,
                    };
                    let result =
                        resources::update(&after.resource_type, &self.ctx(stack, &id), &existing, &before.properties)
                            .await;
                    if let Err(e) = &result {
                        failures.push(format!("restoring {id}: {e}"));
                    }
                    report(
                        &id,
                        &after.resource_type,
                        Action::Rollback,
                        Some(result.map(drop).map_err(|e| e.to_string())),
                    );
                }
            }
        }
        if let Some(previous) = previous {
            let status = if failures.is_empty() { "UPDATE_ROLLBACK_COMPLETE" } else { "UPDATE_ROLLBACK_FAILED" };
            let marked = StackState {
                status: status.into(),
                updated_at: nimbus_core::time::now_epoch_millis(),
                ..previous.clone()
            };
            if let Err(e) = self.states.save(&marked).await {
                failures.push(format!("recording the rollback: {e}"));
            }
        }
        if let DeployError::Resource { rollback_failures, .. } = &mut failure {
            *rollback_failures = failures;
        }
        failure
    }

    /// Delete a stack's resources, dependents first, and its record.
    pub async fn delete(
        &self,
        name: &str,
        progress: Option<ProgressFn>,
    ) -> Result<Vec<(String, String, Action)>, DeployError> {
        let _one_at_a_time = self.lock.lock().await;
        let Some(mut stack) = self.states.load(name).await.map_err(DeployError::State)? else {
            return Err(DeployError::NoSuchStack(name.to_owned()));
        };
        let mut failures = Vec::new();
        let mut changes = Vec::new();
        for (id, r) in deletion_order(&stack.resources) {
            if r.retain {
                stack.resources.remove(&id);
                continue;
            }
            let report = |outcome| {
                if let Some(p) = &progress {
                    p(&Progress {
                        logical_id: id.clone(),
                        resource_type: r.resource_type.clone(),
                        action: Action::Delete,
                        outcome,
                    });
                }
            };
            report(None);
            let existing =
                Existing { physical_id: &r.physical_id, properties: &r.properties, attributes: &r.attributes };
            match resources::delete(&r.resource_type, &self.ctx(name, &id), &existing).await {
                Ok(()) => {
                    report(Some(Ok(())));
                    stack.resources.remove(&id);
                    changes.push((id.clone(), r.resource_type.clone(), Action::Delete));
                }
                Err(e) => {
                    report(Some(Err(e.to_string())));
                    failures.push(format!("{id} [{}]: {e}", r.resource_type));
                }
            }
        }
        if failures.is_empty() {
            self.states.remove(name).await.map_err(DeployError::State)?;
            Ok(changes)
        } else {
            stack.status = "DELETE_FAILED".into();
            stack.updated_at = nimbus_core::time::now_epoch_millis();
            self.states.save(&stack).await.map_err(DeployError::State)?;
            Err(DeployError::Delete { failures })
        }
    }
}

/// CloudFormation's rule for stack names.
fn check_stack_name(name: &str) -> Result<(), DeployError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(DeployError::Template(TemplateError::new(format!(
            "stack name '{name}' must start with a letter and hold only letters, digits and hyphens (at most 128)"
        ))))
    }
}

fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(param_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Resources in an order that deletes dependents before what they depend on.
pub fn deletion_order(resources: &BTreeMap<String, ResourceState>) -> Vec<(String, ResourceState)> {
    let base = |k: &str| k.split('\u{0}').next().unwrap_or(k).to_owned();
    let deps: BTreeMap<String, BTreeSet<String>> = resources
        .iter()
        .map(|(k, r)| {
            // Keys of replaced resources carry a suffix; their dependencies are by logical id.
            let d =
                resources.keys().filter(|other| r.depends_on.contains(&base(other)) && *other != k).cloned().collect();
            (k.clone(), d)
        })
        .collect();
    let order = graph::topological_order(&deps).unwrap_or_else(|_| deps.keys().cloned().collect());
    order.into_iter().rev().filter_map(|k| resources.get(&k).map(|r| (k, r.clone()))).collect()
}

fn evaluate_outputs(template: &Template, scope: &Scope<'_>) -> Result<BTreeMap<String, OutputState>, TemplateError> {
    let mut out = BTreeMap::new();
    for (name, output) in template.section("Outputs").into_iter().flatten() {
        let path = format!("/Outputs/{}", crate::template::yaml::escape(name));
        if let Some(Value::String(c)) = output.get("Condition") {
            if !scope.condition(c, &path).map_err(|e| e.into_template_error(template))? {
                continue;
            }
        }
        let Some(value) = output.get("Value") else {
            return Err(template.error(&path, format!("output {name} has no Value")));
        };
        let value = scope.eval_some(value, &format!("{path}/Value")).map_err(|e| e.into_template_error(template))?;
        let description = output.get("Description").and_then(Value::as_str).map(str::to_owned);
        out.insert(name.clone(), OutputState { value, description });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
