//! One execution environment: a runtime process started for one function
//! version and configuration, its Runtime API listener, and its output.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nimbus_core::LogEvent;
use tokio::sync::{oneshot, watch, OnceCell};

use crate::model::FunctionRecord;
use crate::node_sdk::NodeSdk;
use crate::output::Output;
use crate::python_probe::{self, Interpreter};
use crate::runtime_api::{Reply, RuntimeApi};
use crate::sandbox;

/// The bootstraps, embedded in the binary and written out at startup.
const PYTHON_BOOTSTRAP: &str = include_str!("../../../runtimes/python/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("../../../runtimes/node/bootstrap.js");

/// How long the output pipes must stay quiet for a settling drain to end.
const QUIET: Duration = Duration::from_micros(200);

/// Never used: a sandbox always hands out a uid.
const FALLBACK_UID: u32 = 993;

/// Which environments may share: same function, version and revision (a new
/// revision — new code or configuration — never reuses an old environment).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PoolKey {
    pub function: String,
    pub version: String,
    pub revision: String,
}

impl PoolKey {
    /// The key of `function`'s current code and configuration as `version`.
    pub fn of(function: &FunctionRecord, version: &str) -> Self {
        PoolKey { function: function.name.clone(), version: version.to_owned(), revision: function.revision_id.clone() }
    }
}

/// What starting an environment needs.
pub struct EnvSpec {
    pub key: PoolKey,
    pub function: FunctionRecord,
    pub code_dir: PathBuf,
    pub provisioned: bool,
    /// The execution role's session (None: the launcher's static keys).
    pub credentials: Option<nimbus_core::TemporaryCredentials>,
}

/// How the host's interpreters were found.
struct Python {
    exe: PathBuf,
    /// The installation prefix holding `exe` (bind-mounted at /var/lang in
    /// the sandbox, since it may sit under an unreadable home directory).
    prefix: Option<PathBuf>,
    /// The installation's site-packages directories: the runtime starts with
    /// -S (no site hooks, see runtimes/python) and appends these itself.
    site_packages: Vec<PathBuf>,
    /// Where Nimbus installed boto3, when the host python lacks it.
    packages: Option<PathBuf>,
}

/// Starts runtime processes with Lambda's environment.
pub struct Launcher {
    runtime_dir: PathBuf,
    endpoint_url: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    python: OnceCell<Result<Python, String>>,
    node: OnceCell<Option<PathBuf>>,
    node_sdk: NodeSdk,
    cgroups: Option<crate::cgroup::Cgroups>,
    sandbox: Option<crate::sandbox::Sandbox>,
}

impl Launcher {
    /// Write the bootstraps under `data_dir/lambda/runtime`; probe for
    /// cgroups and (when `sandbox`) namespaces.
    pub fn new(
        data_dir: &Path,
        cache_dir: &Path,
        sandbox: bool,
        endpoint_url: String,
        region: String,
        access_key_id: String,
        secret_access_key: String,
    ) -> std::io::Result<Self> {
        let runtime_dir = data_dir.join("lambda").join("runtime");
        std::fs::create_dir_all(runtime_dir.join("python"))?;
        std::fs::create_dir_all(runtime_dir.join("node"))?;
        // The mount point of the SDK a sandboxed Node function imports.
        std::fs::create_dir_all(runtime_dir.join("node_modules"))?;
        std::fs::write(runtime_dir.join("python").join("bootstrap.py"), PYTHON_BOOTSTRAP)?;
        std::fs::write(runtime_dir.join("node").join("bootstrap.js"), NODE_BOOTSTRAP)?;
        Ok(Launcher {
            runtime_dir,
            endpoint_url,
            region,
            access_key_id,
            secret_access_key,
            python: OnceCell::new(),
            node: OnceCell::new(),
            node_sdk: NodeSdk::new(cache_dir),
            cgroups: {
                let found = crate::cgroup::Cgroups::detect();
                if found.is_none() {
                    tracing::warn!(
                        "lambda: cannot create cgroups here; functions run without memory, CPU and pids limits"
                    );
                }
                found
            },
            sandbox: if sandbox {
                match crate::sandbox::Sandbox::detect(data_dir) {
                    Ok(s) => Some(s),
                    Err(reason) => {
                        tracing::warn!("lambda: functions run as plain processes, not sandboxed: {reason}");
                        None
                    }
                }
            } else {
                tracing::warn!("lambda: sandboxing is switched off; functions run as plain processes");
                None
            },
        })
    }

    /// Remove what the launcher set up on the host (cgroup parents); false
    /// while environment groups are still emptying.
    pub fn cleanup(&self) -> bool {
        self.cgroups.as_ref().is_none_or(|c| c.remove())
    }

    /// Probe the interpreters ahead of the first cold start (and install
    /// boto3 if it must be), so no invocation waits for it.
    pub async fn prepare(&self) {
        if let Err(e) = self.python().await {
            tracing::warn!("lambda: python runtimes unavailable: {e}");
        }
        self.node().await;
    }

    /// Install the AWS SDK a Node function's code imports when the code
    /// arrives, so its first cold start rarely waits for npm.
    pub async fn prepare_node_sdk(&self, runtime: &str, code_dir: &Path) {
        self.node_sdk.provide(runtime, code_dir).await;
    }

    /// Find the host python (see `python_probe`) and make sure boto3 is
    /// there, installing it once under the runtime dir if needed.
    async fn python(&self) -> Result<&Python, String> {
        let found = self
            .python
            .get_or_init(|| async {
                let launcher = python_probe::launcher_on_path().ok_or("python3 not found on this host")?;
                let found = python_probe::find(&launcher, &self.runtime_dir).await?;
                let Interpreter { exe, prefix, site_packages } = found.clone();
                if found.has_boto3() {
                    return Ok(Python { exe, prefix, site_packages, packages: None });
                }
                let target = self.runtime_dir.join("python-packages");
                if target.join("boto3").is_dir() {
                    return Ok(Python { exe, prefix, site_packages, packages: Some(target) });
                }
                tracing::warn!(
                    "lambda: the host python lacks boto3; installing it once with pip into {}",
                    target.display()
                );
                let status = tokio::process::Command::new(&exe)
                    .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
                    .arg(&target)
                    .arg("boto3")
                    .status()
                    .await;
                match status {
                    Ok(s) if s.success() => Ok(Python { exe, prefix, site_packages, packages: Some(target) }),
                    _ => {
                        tracing::warn!("lambda: could not install boto3; functions importing it will fail");
                        Ok(Python { exe, prefix, site_packages, packages: None })
                    }
                }
            })
            .await;
        found.as_ref().map_err(|e| e.clone())
    }

    async fn node(&self) -> Option<&PathBuf> {
        self.node
            .get_or_init(|| async {
                let path = std::env::var_os("PATH")?;
                std::env::split_paths(&path).map(|dir| dir.join("node")).find(|p| p.is_file())
            })
            .await
            .as_ref()
    }

    /// Start an environment for `spec`: its Runtime API, then the runtime process.
    pub async fn start(
        &self,
        spec: &EnvSpec,
    ) -> Result<(Arc<Environment>, oneshot::Receiver<Result<(), Reply>>), String> {
        // The SDK a Node function imports is installed (once) before its
        // init begins: that wait is Nimbus's, not the function's init.
        let node_sdk = self.node_sdk.provide(&spec.function.runtime, &spec.code_dir).await;
        // Init Duration counts from here: the cgroup, the sandbox's fstab and
        // the Runtime API listener are part of what a cold start costs.
        let started = Instant::now();
        let f = &spec.function;
        let uid = self.sandbox.as_ref().map(|s| s.next_uid());
        let (api, init) = RuntimeApi::start(uid).await.map_err(|e| format!("starting the Runtime API: {e}"))?;
        let now = nimbus_core::time::now_epoch_millis();
        let (y, m, d) = nimbus_core::time::civil_from_days((now / 86_400_000) as i64);
        let log_stream = format!("{y:04}/{m:02}/{d:02}/[{}]{}", spec.key.version, crate::util::random_hex(16));

        // Paths as the runtime sees them: Lambda's inside the sandbox, the
        // host's without one.
        let sandbox = self.sandbox.as_ref();
        let (task_root, runtime_dir) = match sandbox {
            Some(_) => (PathBuf::from(sandbox::TASK_ROOT), PathBuf::from(sandbox::RUNTIME_DIR)),
            None => (spec.code_dir.clone(), self.runtime_dir.clone()),
        };
        let task_root = task_root.to_string_lossy().into_owned();
        let mut lang_dir: Option<PathBuf> = None;
        // The runtime's command line; environment variables are set below.
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        let mut vars: Vec<(String, String)> = Vec::new();
        if f.runtime.starts_with("python") {
            let python = self.python().await?;
            match (sandbox, &python.prefix) {
                (Some(_), Some(prefix)) => {
                    let relative = python.exe.strip_prefix(prefix).unwrap_or(&python.exe);
                    argv.push(Path::new(sandbox::LANG_DIR).join(relative).into());
                    vars.push(("LD_LIBRARY_PATH".into(), format!("{}/lib", sandbox::LANG_DIR)));
                    lang_dir = Some(prefix.clone());
                }
                _ => argv.push(python.exe.clone().into()),
            }
            argv.push("-S".into());
            argv.push("-u".into());
            argv.push(runtime_dir.join("python").join("bootstrap.py").into());
            argv.extend(["--runtime-api-socket".into(), api.unix_name.clone().into()]);
            for dir in &python.site_packages {
                // Inside the sandbox the prefix is mounted at /var/lang.
                let seen = match (sandbox, &python.prefix) {
                    (Some(_), Some(prefix)) => match dir.strip_prefix(prefix) {
                        Ok(relative) => Path::new(sandbox::LANG_DIR).join(relative),
                        Err(_) => continue,
                    },
                    _ => dir.clone(),
                };
                argv.push("--site-packages".into());
                argv.push(seen.into());
            }
            let mut path = vec![task_root.clone(), runtime_dir.join("python").to_string_lossy().into_owned()];
            if python.packages.is_some() {
                path.push(runtime_dir.join("python-packages").to_string_lossy().into_owned());
            }
            vars.push(("PYTHONPATH".into(), path.join(":")));
            vars.push(("PYTHONUNBUFFERED".into(), "1".into()));
            vars.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        } else if f.runtime.starts_with("nodejs") {
            let node = self.node().await.ok_or("node is not installed on this host")?;
            argv.push(node.clone().into());
            argv.push(runtime_dir.join("node").join("bootstrap.js").into());
            let mut node_path = format!("{task_root}/node_modules:{task_root}");
            if let Some(host_dir) = &node_sdk.node_modules {
                // CommonJS finds the SDK through NODE_PATH. ES modules ignore
                // it: the sandbox mounts it on their resolution path too (see
                // `sandbox`); without one the bootstrap hooks their resolution.
                match sandbox {
                    Some(_) => node_path = format!("{node_path}:{}/node_modules", sandbox::RUNTIME_DIR),
                    None => {
                        node_path = format!("{node_path}:{}", host_dir.display());
                        argv.push("--esm-fallback".into());
                        argv.push(host_dir.into());
                    }
                }
            }
            vars.push(("NODE_PATH".into(), node_path));
        } else {
            if !spec.code_dir.join("bootstrap").is_file() {
                return Err("Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]".into());
            }
            argv.push(Path::new(&task_root).join("bootstrap").into());
        }
        let env_name = format!("env-{}", crate::util::random_hex(8));
        let cgroup = self.cgroups.as_ref().and_then(|c| c.create(&env_name, f.memory));
        if self.cgroups.is_some() && cgroup.is_none() {
            tracing::debug!("lambda: could not create a cgroup for {env_name}; running it unlimited");
        }
        let procs_files = cgroup.as_ref().map(|cg| cg.procs_files()).unwrap_or_default();
        let mut fstab = None;
        if let Some(sandbox) = sandbox {
            let mounts = sandbox::Mounts {
                code: &spec.code_dir,
                runtime: &self.runtime_dir,
                lang: lang_dir.as_deref(),
                node_sdk: node_sdk.node_modules.as_deref(),
                tmp_mb: f.ephemeral_storage,
            };
            let (wrapped, file) = sandbox
                .wrap(argv, &env_name, &mounts, uid.unwrap_or(FALLBACK_UID), procs_files)
                .map_err(|e| format!("preparing the sandbox: {e}"))?;
            argv = wrapped;
            fstab = Some(file);
        } else if !procs_files.is_empty() {
            // Join the groups, then become the runtime: nothing runs uncharged.
            let (join, join_args) = crate::cgroup::join_script(procs_files);
            let mut wrapped: Vec<std::ffi::OsString> =
                vec!["/bin/sh".into(), "-c".into(), format!("{join}exec \"$@\"").into(), "nimbus-env".into()];
            wrapped.extend(join_args);
            wrapped.append(&mut argv);
            argv = wrapped;
        }
        let mut command = tokio::process::Command::new(&argv[0]);
        // Only Lambda's variables reach the function, never Nimbus's own.
        command.args(&argv[1..]).env_clear().envs(vars);
        let host_path = std::env::var("PATH").unwrap_or_default();
        let execution_env = match f.runtime.as_str() {
            r if r.starts_with("provided") => None,
            r => Some(format!("AWS_Lambda_{r}")),
        };
        command
            .current_dir(&spec.code_dir)
            .env("PATH", format!("/usr/local/bin:/usr/bin:/bin:/opt/bin:{host_path}"))
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("LAMBDA_RUNTIME_DIR", &runtime_dir)
            .env("_HANDLER", &f.handler)
            .env("AWS_LAMBDA_FUNCTION_NAME", &f.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", &spec.key.version)
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", f.timeout.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group())
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &log_stream)
            .env(
                "AWS_LAMBDA_INITIALIZATION_TYPE",
                if spec.provisioned { "provisioned-concurrency" } else { "on-demand" },
            )
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_REGION", &self.region)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_ENDPOINT_URL", &self.endpoint_url)
            .env("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so a kill reaches whatever it spawned.
            .process_group(0);
        if let Some(env) = &execution_env {
            command.env("AWS_EXECUTION_ENV", env);
        }
        match &spec.credentials {
            Some(c) => command
                .env("AWS_ACCESS_KEY_ID", &c.access_key_id)
                .env("AWS_SECRET_ACCESS_KEY", &c.secret_access_key)
                .env("AWS_SESSION_TOKEN", &c.session_token),
            None => command
                .env("AWS_ACCESS_KEY_ID", &self.access_key_id)
                .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
        };
        // The function's own variables come last and win, except the
        // reserved ones Lambda refuses at configuration time.
        if let Some(vars) = &f.environment {
            command.envs(vars);
        }
        let mut child = command.spawn().map_err(|e| format!("starting the runtime: {e}"))?;
        let pid = child.id();
        // Lambda logs INIT_START as each environment begins its init phase.
        let bootstrap = match f.runtime.as_str() {
            r if r.starts_with("python") => PYTHON_BOOTSTRAP,
            r if r.starts_with("nodejs") => NODE_BOOTSTRAP,
            _ => "",
        };
        // Platform lines come first, before anything the runtime prints.
        let mut platform = vec![crate::runtime_version::init_start_line(&f.runtime, bootstrap, &self.region)];
        platform.extend(node_sdk.note);
        let stdout = child.stdout.take().map(|pipe| pipe.into_owned_fd());
        let stderr = child.stderr.take().map(|pipe| pipe.into_owned_fd());
        let output = Output::start(platform, [stdout, stderr].into_iter().flatten().flatten().collect());
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    kill_group(pid);
                    child.wait().await
                }
            };
            // Whatever it left behind in its group goes too.
            kill_group(pid);
            let _ = exit_tx.send(Some(describe_exit(status)));
        });
        let env = Arc::new(Environment {
            key: spec.key.clone(),
            log_stream,
            api,
            pid,
            output,
            exit: exit_rx,
            kill: Mutex::new(Some(kill_tx)),
            started,
            init_duration: Mutex::new(None),
            last_used: Mutex::new(Instant::now()),
            provisioned: std::sync::atomic::AtomicBool::new(spec.provisioned),
            cgroup,
            retire_at: spec
                .credentials
                .as_ref()
                .map(|c| Instant::now() + crate::iam::retire_after(c.expires_at, f.timeout)),
            _fstab: fstab,
        });
        Ok((env, init))
    }
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // No safe signal API in std: util-linux/procps `kill` does it.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|mut c| std::thread::spawn(move || c.wait()));
    }
}

/// Go-style exit descriptions, as Lambda's errors quote them.
fn describe_exit(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Err(e) => format!("wait failed: {e}"),
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(9)) => "signal: killed".into(),
            (None, Some(11)) => "signal: segmentation fault".into(),
            (None, Some(6)) => "signal: aborted".into(),
            (None, Some(15)) => "signal: terminated".into(),
            (None, Some(n)) => format!("signal: {n}"),
            (None, None) => "exited".into(),
        },
    }
}

pub struct Environment {
    pub key: PoolKey,
    pub log_stream: String,
    pub api: RuntimeApi,
    pub pid: Option<u32>,
    output: Arc<Output>,
    exit: watch::Receiver<Option<String>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    pub started: Instant,
    /// Set when init completes; taken by the first invocation's REPORT.
    pub init_duration: Mutex<Option<Duration>>,
    pub last_used: Mutex<Instant>,
    /// Kept warm by a provisioned-concurrency config (never reaped).
    pub provisioned: std::sync::atomic::AtomicBool,
    cgroup: Option<crate::cgroup::EnvCgroup>,
    /// When its role credentials get too close to expiry to take work.
    retire_at: Option<Instant>,
    _fstab: Option<sandbox::RemoveOnDrop>,
}

impl Environment {
    /// Did the runtime die for exceeding its memory limit?
    pub fn oom_killed(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|c| c.oom_killed())
    }

    /// Resolves with a description of how the process ended.
    pub async fn exited(&self) -> String {
        let mut rx = self.exit.clone();
        let status = match rx.wait_for(|s| s.is_some()).await {
            Ok(s) => s.clone().unwrap_or_default(),
            Err(_) => "exited".into(),
        };
        status
    }

    /// Initialised but not yet invoked, with its Init Duration to report
    /// (started ahead of traffic, see `prewarm`).
    pub fn init_pending(&self) -> bool {
        self.init_duration.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    pub fn is_alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Alive, and its credentials last through another invocation.
    pub fn can_serve(&self) -> bool {
        self.is_alive() && self.retire_at.is_none_or(|t| Instant::now() < t)
    }

    pub fn kill(&self) {
        if let Some(tx) = self.kill.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(());
        }
    }

    /// A platform line for the environment's log (e.g. INIT_REPORT), in
    /// order with what the runtime printed.
    pub fn note(&self, line: String) {
        self.output.push(line);
    }

    /// Everything printed so far. What the runtime wrote before its last
    /// Runtime API call is already in the pipes; with `settle`, output that
    /// may still be on its way (from processes the handler started) gets
    /// until the pipes stay quiet for a moment, at most `settle`.
    pub async fn drain_output(&self, settle: Duration) -> Vec<LogEvent> {
        let mut lines = self.output.collect();
        let deadline = Instant::now() + settle;
        while Instant::now() < deadline {
            let before = self.output.seen();
            tokio::time::sleep(QUIET.min(deadline.saturating_duration_since(Instant::now()))).await;
            lines.extend(self.output.collect());
            if self.output.seen() == before {
                break;
            }
        }
        lines
    }

    /// Peak resident memory of the runtime process, in MB.
    pub fn max_memory_mb(&self) -> Option<u64> {
        if let Some(peak) = self.cgroup.as_ref().and_then(|c| c.peak_mb()) {
            return Some(peak);
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb.div_ceil(1024))
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.kill();
    }
}
