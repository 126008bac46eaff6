//! Finding the host's Python installation for the python runtimes, once.
//!
//! `python3` on PATH is often a shim (pyenv) or a virtualenv's link, and a
//! sandbox can only mount the real installation, so the probe asks the
//! interpreter where it really lives and which site-packages it has. That
//! costs two interpreter starts (a shim alone takes a few hundred ms on a
//! busy host), and the first cold start waits for it, so the answer is kept
//! in the data dir, valid while the `python3` found on PATH and the real
//! interpreter are the same files (path and modification time). Whether boto3
//! is there is read from the site-packages directories, without importing it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// The cache file, under the runtime dir.
const CACHE_FILE: &str = "python-probe.json";

/// What the probe found about the host's interpreter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// The real interpreter (shims and links resolved).
    pub exe: PathBuf,
    /// The installation prefix holding `exe`, if it does.
    pub prefix: Option<PathBuf>,
    /// The installation's site-packages directories.
    pub site_packages: Vec<PathBuf>,
}

impl Interpreter {
    /// Whether boto3 is installed in the installation's site-packages (the
    /// runtime adds exactly these to sys.path, without site hooks, so a
    /// package directory there is what an import would find).
    pub fn has_boto3(&self) -> bool {
        self.site_packages.iter().any(|dir| dir.join("boto3").join("__init__.py").is_file())
    }
}

/// The cache record: the answer and the files it was read from.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    launcher: PathBuf,
    launcher_mtime_ns: u64,
    exe_mtime_ns: u64,
    interpreter: Interpreter,
}

/// The first `python3` on PATH.
pub fn launcher_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("python3")).find(|p| p.is_file())
}

/// Probe `launcher` (a `python3` on PATH), or reuse what an earlier probe of
/// the same files stored under `runtime_dir`.
pub async fn find(launcher: &Path, runtime_dir: &Path) -> Result<Interpreter, String> {
    let cache = runtime_dir.join(CACHE_FILE);
    if let Some(found) = load(&cache, launcher) {
        return Ok(found);
    }
    let found = probe(launcher).await?;
    store(&cache, launcher, &found);
    Ok(found)
}

fn mtime_ns(path: &Path) -> Option<u64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_nanos() as u64)
}

/// The cached answer, if it is for these very files.
fn load(cache: &Path, launcher: &Path) -> Option<Interpreter> {
    let cached: Cached = serde_json::from_slice(&std::fs::read(cache).ok()?).ok()?;
    let same = cached.launcher == launcher
        && Some(cached.launcher_mtime_ns) == mtime_ns(launcher)
        && Some(cached.exe_mtime_ns) == mtime_ns(&cached.interpreter.exe);
    same.then_some(cached.interpreter)
}

/// Remember the answer; a cache that cannot be written only costs the next
/// start another probe.
fn store(cache: &Path, launcher: &Path, found: &Interpreter) {
    let (Some(launcher_mtime_ns), Some(exe_mtime_ns)) = (mtime_ns(launcher), mtime_ns(&found.exe)) else { return };
    let record = Cached { launcher: launcher.to_owned(), launcher_mtime_ns, exe_mtime_ns, interpreter: found.clone() };
    let Ok(bytes) = serde_json::to_vec(&record) else { return };
    // Written aside and renamed, so a concurrent reader never sees half a file.
    let partial = cache.with_extension("json.partial");
    if std::fs::write(&partial, bytes).is_ok() && std::fs::rename(&partial, cache).is_err() {
        let _ = std::fs::remove_file(&partial);
    }
}

/// Ask the interpreters: through the launcher, where the real one lives; the
/// real one, its site-packages (a virtualenv's would not be mountable).
async fn probe(launcher: &Path) -> Result<Interpreter, String> {
    let out = tokio::process::Command::new(launcher)
        .args(["-c", "import os, sys; print(os.path.realpath(sys.executable)); print(sys.base_prefix)"])
        .output()
        .await
        .map_err(|e| format!("python3 not found on this host: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let exe = PathBuf::from(lines.next().unwrap_or_default().trim());
    let prefix = lines.next().map(|p| PathBuf::from(p.trim())).filter(|p| exe.starts_with(p));
    if !out.status.success() || exe.as_os_str().is_empty() {
        return Err("python3 on this host does not run".to_owned());
    }
    let out = tokio::process::Command::new(&exe)
        .args(["-c", "import os, site; print(*[os.path.realpath(p) for p in site.getsitepackages()], sep='\\n')"])
        .stderr(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("python3 on this host does not run: {e}"))?;
    if !out.status.success() {
        return Err("python3 on this host cannot list its site-packages".to_owned());
    }
    let site_packages = String::from_utf8_lossy(&out.stdout).lines().map(|p| PathBuf::from(p.trim())).collect();
    Ok(Interpreter { exe, prefix, site_packages })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nimbus-probe-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A stand-in `python3` that fails if run: a cache hit must not run it.
    fn failing_launcher(dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("python3");
        std::fs::write(&path, "#!/bin/sh\nexit 1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn interpreter_in(dir: &Path) -> Interpreter {
        let exe = dir.join("python3.11");
        std::fs::write(&exe, "").unwrap();
        Interpreter { exe, prefix: Some(dir.to_owned()), site_packages: vec![dir.join("site-packages")] }
    }

    #[tokio::test]
    async fn a_stored_probe_is_reused_without_running_python() {
        let dir = scratch("hit");
        let launcher = failing_launcher(&dir);
        let interpreter = interpreter_in(&dir);
        store(&dir.join(CACHE_FILE), &launcher, &interpreter);
        assert_eq!(find(&launcher, &dir).await, Ok(interpreter));
    }

    #[tokio::test]
    async fn a_changed_launcher_or_interpreter_is_probed_again() {
        let dir = scratch("miss");
        let launcher = failing_launcher(&dir);
        let interpreter = interpreter_in(&dir);
        let cache = dir.join(CACHE_FILE);
        store(&cache, &launcher, &interpreter);
        // A newer interpreter binary: the record no longer matches.
        let later = std::fs::File::options().write(true).open(&interpreter.exe).unwrap();
        later.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60)).unwrap();
        assert_eq!(load(&cache, &launcher), None);
        // So the launcher runs, and this one fails.
        assert!(find(&launcher, &dir).await.is_err());
        // Another launcher path never matches the record either.
        store(&cache, &launcher, &interpreter);
        assert_eq!(load(&cache, &dir.join("elsewhere")), None);
        assert_eq!(load(&cache, &launcher), Some(interpreter));
    }

    #[tokio::test]
    async fn the_host_python_is_probed_once_and_cached() {
        let launcher = launcher_on_path().expect("python3 on PATH (the python runtimes need it)");
        let dir = scratch("host");
        let found = find(&launcher, &dir).await.expect("the host python3 probes");
        assert!(found.exe.is_file(), "{found:?}");
        assert!(!found.site_packages.is_empty(), "{found:?}");
        assert_eq!(load(&dir.join(CACHE_FILE), &launcher), Some(found));
    }

    #[test]
    fn boto3_is_found_by_its_package_directory() {
        let dir = scratch("boto3");
        let interpreter = interpreter_in(&dir);
        assert!(!interpreter.has_boto3());
        std::fs::create_dir_all(dir.join("site-packages").join("boto3")).unwrap();
        std::fs::write(dir.join("site-packages").join("boto3").join("__init__.py"), "").unwrap();
        assert!(interpreter.has_boto3());
    }
}
