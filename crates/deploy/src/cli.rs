//! What `nimbus up`, `nimbus deploy`, `nimbus delete` and `nimbus stacks`
//! do, ready for the binary to call: find the project, deploy it with a
//! progress display, print Outputs and API URLs, and (for `up`) watch the
//! template and the functions' code and redeploy on change.
//!
//! The watcher polls (every 250 ms, comparing file names, sizes and
//! modification times) rather than using inotify/FSEvents through the
//! `notify` crate: it needs no dependency or platform code, works on bind
//! mounts and network filesystems where change events do not arrive, and a
//! project's few hundred files cost microseconds per scan, well within the
//! one-second budget for a redeploy.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nimbus_core::Prewarmer;
use serde_json::Value;

use crate::api::http::HttpApi;
use crate::api::sigv4::Credentials;
use crate::engine::{
    Action, DeployError, DeployOptions, DeployOutcome, Engine, FileStates, Progress, ProgressFn, StackState,
};

/// Where a line of output goes (stdout in the binary, a buffer in tests).
pub type Print = Arc<dyn Fn(&str) + Send + Sync>;

/// A SAM/CloudFormation project on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub template: PathBuf,
    pub stack_name: String,
}

impl Project {
    /// `DIR/template.yaml` (or `.yml`, `.json`) unless a template is named;
    /// the stack is named after the folder unless told otherwise.
    pub fn locate(dir: &Path, template: Option<&Path>, stack_name: Option<&str>) -> Result<Project, String> {
        let template = match template {
            Some(t) => t.to_path_buf(),
            None => ["template.yaml", "template.yml", "template.json"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| format!("no template.yaml in {}", dir.display()))?,
        };
        if !template.is_file() {
            return Err(format!("template {} not found", template.display()));
        }
        let stack_name = match stack_name {
            Some(s) => s.to_owned(),
            None => {
                let folder =
                    dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
                stack_name_from(folder.as_deref().unwrap_or(""))
            }
        };
        Ok(Project { template, stack_name })
    }

    pub fn base_dir(&self) -> PathBuf {
        self.template.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
    }
}

/// A valid stack name from a folder name: `todo-api` stays, `my_app` becomes `my-app`.
pub fn stack_name_from(folder: &str) -> String {
    let cleaned: String = folder.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let cleaned = cleaned.trim_matches('-').to_owned();
    match cleaned.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => cleaned.chars().take(128).collect(),
        Some(_) => format!("app-{cleaned}").chars().take(128).collect(),
        None => "nimbus-app".into(),
    }
}

/// CloudFormation-style progress lines: `CREATE_IN_PROGRESS  AWS::IAM::Role  HelloWorldFunctionRole`.
pub fn progress_printer(print: Print) -> ProgressFn {
    Arc::new(move |p: &Progress| {
        let verb = match p.action {
            Action::Create | Action::Replace => "CREATE",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
            Action::Rollback => "ROLLBACK",
        };
        let status = match &p.outcome {
            None => format!("{verb}_IN_PROGRESS"),
            Some(Ok(())) => format!("{verb}_COMPLETE"),
            Some(Err(_)) => format!("{verb}_FAILED"),
        };
        let reason = match &p.outcome {
            Some(Err(e)) => format!("  {e}"),
            _ => String::new(),
        };
        print(&format!("  {status:<22} {:<32} {}{reason}", p.resource_type, p.logical_id));
    })
}

/// Local URLs of every API in the stack, one per stage:
/// `(logical id, http://{api}.execute-api.localhost:{port}/{stage/})`.
pub fn api_urls(stack: &StackState, port: u16) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (id, r) in &stack.resources {
        let (stage_type, api_key) = match r.resource_type.as_str() {
            "AWS::ApiGatewayV2::Api" => ("AWS::ApiGatewayV2::Stage", "ApiId"),
            "AWS::ApiGateway::RestApi" => ("AWS::ApiGateway::Stage", "RestApiId"),
            _ => continue,
        };
        for stage in stack.resources.values().filter(|s| s.resource_type == stage_type) {
            if stage.properties.get(api_key).and_then(Value::as_str) != Some(r.physical_id.as_str()) {
                continue;
            }
            let name = stage.physical_id.as_str();
            let prefix = if name == "$default" { String::new() } else { format!("{name}/") };
            out.push((id.clone(), format!("http://{}.execute-api.localhost:{port}/{prefix}", r.physical_id)));
        }
    }
    out
}

/// An Output value as it would be reachable here: AWS's execute-api host
/// becomes the local one.
pub fn localize(value: &str, stack: &StackState, port: u16) -> String {
    let mut text = value.to_owned();
    for r in stack.resources.values().filter(|r| r.resource_type.starts_with("AWS::ApiGateway")) {
        let aws = format!("https://{}.execute-api.", r.physical_id);
        if let Some(start) = text.find(&aws) {
            let after = &text[start + aws.len()..];
            let end = after.find('/').unwrap_or(after.len());
            text = format!("{}http://{}.execute-api.localhost:{port}{}", &text[..start], r.physical_id, &after[end..]);
        }
    }
    text
}

/// The stack's Outputs and API URLs, for the terminal.
pub fn summary(stack: &StackState, port: u16) -> String {
    let mut lines = vec![format!("Stack {} {}", stack.name, stack.status)];
    if !stack.outputs.is_empty() {
        lines.push("Outputs:".into());
        for (k, o) in &stack.outputs {
            let text = crate::template::intrinsics::to_text(&o.value).unwrap_or_else(|| o.value.to_string());
            let local = localize(&text, stack, port);
            if local == text {
                lines.push(format!("  {k} = {text}"));
            } else {
                lines.push(format!("  {k} = {text}\n  {:width$}   (here: {local})", "", width = k.len()));
            }
        }
    }
    let urls = api_urls(stack, port);
    if !urls.is_empty() {
        lines.push("APIs:".into());
        for (id, url) in urls {
            lines.push(format!("  {id:<28} {url}"));
        }
    }
    lines.join("\n")
}

/// Deploy a project's template.
pub async fn deploy_project(
    engine: &Engine,
    project: &Project,
    overrides: &BTreeMap<String, String>,
    progress: Option<ProgressFn>,
) -> Result<DeployOutcome, DeployError> {
    let text = std::fs::read_to_string(&project.template).map_err(|e| {
        DeployError::Template(crate::template::TemplateError::new(format!(
            "reading {}: {e}",
            project.template.display()
        )))
    })?;
    let options = DeployOptions {
        stack_name: project.stack_name.clone(),
        base_dir: project.base_dir(),
        parameter_overrides: overrides.clone(),
        progress,
    };
    engine.deploy(&text, &options).await
}

/// What to watch: the template and every local code folder or zip of the stack's functions.
pub fn watched_paths(project: &Project, stack: &StackState) -> Vec<PathBuf> {
    let mut paths = vec![project.template.clone()];
    for r in stack.resources.values().filter(|r| r.resource_type == "AWS::Lambda::Function") {
        if let Some(p) = r.properties.get("Code").and_then(|c| c.get("LocalPath")).and_then(Value::as_str) {
            paths.push(PathBuf::from(p));
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// A fingerprint of names, sizes and modification times under `paths`.
pub fn scan(paths: &[PathBuf]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for path in paths {
        let files = if path.is_dir() {
            crate::sam::code::list_files(path).unwrap_or_default()
        } else {
            vec![(String::new(), path.clone())]
        };
        for (_, file) in files {
            file.hash(&mut hasher);
            if let Ok(meta) = std::fs::metadata(&file) {
                meta.len().hash(&mut hasher);
                meta.modified().ok().hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

/// `nimbus up` after the server is running: deploy, print the summary,
/// then redeploy on every change until `shutdown` resolves. A failed
/// redeploy is reported and the previous version keeps serving.
pub async fn up(
    engine: Arc<Engine>,
    project: Project,
    overrides: BTreeMap<String, String>,
    port: u16,
    print: Print,
    prewarmer: Arc<dyn Prewarmer>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let started = Instant::now();
    print(&format!("Deploying {} as stack {}", project.template.display(), project.stack_name));
    let outcome = deploy_project(&engine, &project, &overrides, Some(progress_printer(print.clone())))
        .await
        .map_err(|e| e.to_string())?;
    prewarm_functions(prewarmer.as_ref(), &outcome.stack, |_| true);
    print(&format!("Deployed in {} ms", started.elapsed().as_millis()));
    print(&summary(&outcome.stack, port));
    let mut stack = outcome.stack;
    let mut paths = watched_paths(&project, &stack);
    print(&format!("Watching {} path(s) for changes; Ctrl-C stops", paths.len()));
    let mut seen = scan(&paths);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        let now = scan(&paths);
        if now == seen {
            continue;
        }
        // Editors write in several steps: wait for the files to settle.
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = scan(&paths);
        let started = Instant::now();
        match deploy_project(&engine, &project, &overrides, Some(progress_printer(print.clone()))).await {
            Ok(outcome) => {
                prewarm_functions(prewarmer.as_ref(), &outcome.stack, |id| {
                    outcome.changes.iter().any(|(changed, _, action)| changed == id && *action != Action::Delete)
                });
                let changed: Vec<String> =
                    outcome.changes.iter().map(|(id, _, action)| format!("{action} {id}")).collect();
                if changed.is_empty() {
                    print("No changes");
                } else {
                    print(&format!("Redeployed in {} ms: {}", started.elapsed().as_millis(), changed.join(", ")));
                }
                for failure in &outcome.cleanup_failures {
                    print(&format!("  left behind: {failure}"));
                }
                if outcome.stack.outputs != stack.outputs || api_urls(&outcome.stack, port) != api_urls(&stack, port) {
                    print(&summary(&outcome.stack, port));
                }
                stack = outcome.stack;
                paths = watched_paths(&project, &stack);
                seen = scan(&paths);
            }
            Err(e) => print(&format!("Redeploy failed, still serving the previous version: {e}")),
        }
    }
}

/// Start the first environment of the stack's functions that `deployed`
/// (by logical id) now, while the URLs are printed and the first request is
/// on its way, instead of in that request (Lambda's proactive initialization).
fn prewarm_functions(prewarmer: &dyn Prewarmer, stack: &StackState, deployed: impl Fn(&str) -> bool) {
    for (id, resource) in &stack.resources {
        if resource.resource_type == "AWS::Lambda::Function" && deployed(id) {
            prewarmer.prewarm(&resource.physical_id);
        }
    }
}

/// The engine `nimbus up` uses: the server's own services called
/// in-process as root; stack records in `<data_dir>/stacks`.
pub fn in_process_engine(
    services: &[Arc<dyn nimbus_core::Service>],
    region: &str,
    account_id: &str,
    data_dir: &Path,
) -> Arc<Engine> {
    let api = crate::api::InProcessApi::new(services.to_vec(), region, account_id);
    Arc::new(Engine::new(Arc::new(api), Arc::new(FileStates::new(data_dir.join("stacks"))), region, account_id))
}

/// The region and account of a running Nimbus, from `/_nimbus/health`.
pub async fn discover(endpoint: &str) -> Result<(String, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = endpoint.strip_prefix("http://").unwrap_or(endpoint).trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot reach Nimbus at {endpoint}: {e} (is `nimbus serve` running?)"))?;
    let request = format!("GET /_nimbus/health HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let (status, body) = crate::api::http::parse_response(&raw)?;
    let health: Value = serde_json::from_slice(&body).map_err(|e| format!("health answer from {endpoint}: {e}"))?;
    match (status, health.get("region").and_then(Value::as_str), health.get("account_id").and_then(Value::as_str)) {
        (200, Some(region), Some(account)) => Ok((region.to_owned(), account.to_owned())),
        _ => Err(format!("{endpoint} did not answer as Nimbus does (status {status})")),
    }
}

/// The engine `nimbus deploy`, `nimbus delete` and `nimbus stacks` use
/// against a running server: calls over HTTP, signed with `credentials`;
/// stack records in `<data_dir>/stacks`.
pub async fn remote_engine(endpoint: &str, credentials: Credentials, data_dir: &Path) -> Result<Engine, String> {
    let (region, account_id) = discover(endpoint).await?;
    let api = HttpApi::new(endpoint, &region, credentials)?;
    Ok(Engine::new(Arc::new(api), Arc::new(FileStates::new(data_dir.join("stacks"))), &region, &account_id))
}

/// `nimbus stacks`: one line per stack.
pub fn stacks_table(stacks: &[StackState]) -> String {
    if stacks.is_empty() {
        return "No stacks".into();
    }
    let mut lines = vec![format!("{:<32} {:<20} {:>9}  UPDATED", "NAME", "STATUS", "RESOURCES")];
    for s in stacks {
        let updated = nimbus_core::time::format_iso8601_millis(s.updated_at as i64);
        lines.push(format!("{:<32} {:<20} {:>9}  {updated}", s.name, s.status, s.resources.len()));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{MemoryStates, ResourceState};
    use serde_json::json;

    fn resource(ty: &str, id: &str, props: Value) -> ResourceState {
        ResourceState {
            resource_type: ty.into(),
            physical_id: id.into(),
            reference: json!(id),
            attributes: Default::default(),
            properties: props,
            depends_on: vec![],
            retain: false,
        }
    }

    fn stack() -> StackState {
        let mut resources = BTreeMap::new();
        resources.insert("Http".into(), resource("AWS::ApiGatewayV2::Api", "abc123", json!({})));
        resources
            .insert("HttpStage".into(), resource("AWS::ApiGatewayV2::Stage", "$default", json!({"ApiId": "abc123"})));
        resources.insert("Rest".into(), resource("AWS::ApiGateway::RestApi", "r1", json!({})));
        resources.insert("RestStage".into(), resource("AWS::ApiGateway::Stage", "Prod", json!({"RestApiId": "r1"})));
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "Url".into(),
            crate::engine::OutputState {
                value: json!("https://abc123.execute-api.us-east-1.amazonaws.com/hello"),
                description: None,
            },
        );
        StackState {
            name: "app".into(),
            stack_id: "id".into(),
            status: "CREATE_COMPLETE".into(),
            parameters: BTreeMap::new(),
            resources,
            outputs,
            updated_at: 0,
            created_at: 0,
            template_body: None,
        }
    }

    #[test]
    fn urls_and_summary() {
        let s = stack();
        assert_eq!(
            api_urls(&s, 4566),
            [
                ("Http".to_owned(), "http://abc123.execute-api.localhost:4566/".to_owned()),
                ("Rest".to_owned(), "http://r1.execute-api.localhost:4566/Prod/".to_owned())
            ]
        );
        assert_eq!(
            localize("https://abc123.execute-api.us-east-1.amazonaws.com/hello", &s, 4566),
            "http://abc123.execute-api.localhost:4566/hello"
        );
        let text = summary(&s, 4566);
        assert!(text.contains("(here: http://abc123.execute-api.localhost:4566/hello)"), "{text}");
    }

    #[test]
    fn projects_and_stack_names() {
        assert_eq!(stack_name_from("todo-api"), "todo-api");
        assert_eq!(stack_name_from("my_app"), "my-app");
        assert_eq!(stack_name_from("1app"), "app-1app");
        assert_eq!(stack_name_from(""), "nimbus-app");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
        let p = Project::locate(&dir, None, None).unwrap();
        assert_eq!(p.stack_name, "hello");
        assert!(p.template.ends_with("template.yaml"));
        assert!(Project::locate(Path::new("/nonexistent"), None, None).is_err());
    }

    #[test]
    fn scans_notice_edits() {
        let dir = std::env::temp_dir().join(format!("nimbus-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.py"), "1").unwrap();
        let paths = vec![dir.clone()];
        let before = scan(&paths);
        assert_eq!(before, scan(&paths));
        std::fs::write(dir.join("a.py"), "22").unwrap();
        assert_ne!(before, scan(&paths));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// `up` deploys, then redeploys when a handler changes, and stops on shutdown.
    #[tokio::test]
    async fn up_redeploys_on_change() {
        struct Quiet;
        impl crate::api::AwsApi for Quiet {
            fn call<'a>(
                &'a self,
                _: &'a str,
                call: crate::api::ApiCall,
            ) -> nimbus_core::BoxFuture<'a, Result<Value, crate::api::ApiError>> {
                Box::pin(async move {
                    Ok(match call.path_and_query.as_str() {
                        "/v2/apis" => json!({"apiId": "api1"}),
                        _ => json!({"CreateRoleResult": {"Role": {"Arn": "arn:aws:iam::0:role/r"}}}),
                    })
                })
            }
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
        let dir = std::env::temp_dir().join(format!("nimbus-up-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("hello_world")).unwrap();
        std::fs::copy(src.join("template.yaml"), dir.join("template.yaml")).unwrap();
        std::fs::copy(src.join("hello_world/app.py"), dir.join("hello_world/app.py")).unwrap();
        let engine =
            Arc::new(Engine::new(Arc::new(Quiet), Arc::new(MemoryStates::default()), "us-east-1", "000000000000"));
        let lines: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        let print: Print = Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned()));
        let project = Project::locate(&dir, None, Some("hello")).unwrap();
        let edit_dir = dir.clone();
        let shutdown = async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            std::fs::write(edit_dir.join("hello_world/app.py"), "def lambda_handler(e, c):\n    return 'changed'\n")
                .unwrap();
            tokio::time::sleep(Duration::from_millis(2500)).await;
        };
        /// Which functions `up` asked to start ahead of traffic.
        #[derive(Default)]
        struct Recorded(std::sync::Mutex<Vec<String>>);
        impl Prewarmer for Recorded {
            fn prewarm(&self, function_name: &str) {
                self.0.lock().unwrap().push(function_name.to_owned());
            }
        }
        let prewarmed = Arc::new(Recorded::default());
        up(engine, project, BTreeMap::new(), 4566, print, prewarmed.clone(), shutdown).await.unwrap();
        let text = lines.lock().unwrap().join("\n");
        assert!(text.contains("CREATE_COMPLETE        AWS::Lambda::Function"), "{text}");
        assert!(text.contains("http://api1.execute-api.localhost:4566/"), "{text}");
        assert!(text.contains("Redeployed in") && text.contains("UPDATE HelloWorldFunction"), "{text}");
        // The function after the deploy, and again after its update; nothing else.
        let prewarmed = prewarmed.0.lock().unwrap().clone();
        assert_eq!(prewarmed.len(), 2, "{prewarmed:?}");
        assert!(prewarmed[0].contains("HelloWorldFunction") && prewarmed[0] == prewarmed[1], "{prewarmed:?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
