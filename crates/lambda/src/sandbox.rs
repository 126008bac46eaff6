//! The sandbox an execution environment runs in, built from util-linux's
//! `unshare` and `setpriv` (the workspace forbids the unsafe code that
//! `pre_exec` would need):
//!
//! - new mount, pid, ipc and uts namespaces (`unshare`), with a fresh /proc,
//!   so the function sees only its own processes;
//! - the package bind-mounted read-only at /var/task, the runtime at
//!   /var/runtime and the interpreter's prefix at /var/lang (as on Lambda);
//! - a private /tmp limited to EphemeralStorage, and Nimbus's data directory
//!   hidden under an empty tmpfs, so no function reads another's code;
//! - an unprivileged uid of its own (from 20000 up; gid 990), no
//!   supplementary groups, no capabilities, no new privileges (`setpriv`) —
//!   its own uid lets the Runtime API tell its runtime from any other local
//!   process (see `runtime_api`).
//!
//! Where the host forbids namespaces (not root, no util-linux, a container
//! without CAP_SYS_ADMIN) environments run as plain processes and Nimbus
//! says so once at startup.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The script that runs as root inside the new namespaces: mounts, then
/// drops to the sandbox user and becomes the runtime.
const SETUP: &str = r#"set -e
code=$1; runtime=$2; lang=$3; data=$4; tmp_mb=$5; uid=$6; shift 6
ro_bind() { mount --bind "$1" "$2"; mount -o remount,bind,ro,nosuid,nodev "$2"; }
ro_bind "$code" /var/task
ro_bind "$runtime" /var/runtime
if [ -n "$lang" ]; then ro_bind "$lang" /var/lang; fi
mount -t tmpfs -o size=1m,mode=0755 nimbus-hidden "$data"
mount -t tmpfs -o size=${tmp_mb}m,mode=1777,nosuid,nodev nimbus-tmp /tmp
hostname localhost 2>/dev/null || true
cd /var/task
exec setpriv --reuid="$uid" --regid=990 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
"#;

const FIRST_UID: u32 = 20000;
const UID_COUNT: u32 = 40000;

pub struct Sandbox {
    data_dir: PathBuf,
    next: std::sync::atomic::AtomicU32,
}

/// Paths as the runtime sees them inside the sandbox.
pub const TASK_ROOT: &str = "/var/task";
pub const RUNTIME_DIR: &str = "/var/runtime";
pub const LANG_DIR: &str = "/var/lang";

impl Sandbox {
    /// Probe once whether this host lets us build the sandbox.
    pub fn detect(data_dir: &Path) -> Result<Sandbox, String> {
        let data_dir = data_dir.canonicalize().map_err(|e| format!("data dir: {e}"))?;
        for tool in ["unshare", "setpriv", "mount"] {
            let found = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
                .unwrap_or(false);
            if !found {
                return Err(format!("util-linux `{tool}` is not installed"));
            }
        }
        for dir in [TASK_ROOT, RUNTIME_DIR, LANG_DIR] {
            // Mount points; empty directories on the host.
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the mount point {dir}: {e}"))?;
        }
        let probe = Command::new("unshare")
            .args(["--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "--"])
            .args(["sh", "-c", "mount -t tmpfs -o size=1m nimbus-probe /var/task && setpriv --reuid=993 --regid=990 --clear-groups --no-new-privs -- true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        if !probe.success() {
            return Err("this host does not allow new namespaces (unshare failed)".into());
        }
        Ok(Sandbox { data_dir, next: Default::default() })
    }

    /// A uid for a new environment: each has its own.
    pub fn next_uid(&self) -> u32 {
        FIRST_UID + self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % UID_COUNT
    }

    /// Wrap `argv` (which uses the in-sandbox paths) so it runs sandboxed as `uid`.
    pub fn wrap(
        &self,
        argv: Vec<OsString>,
        code: &Path,
        runtime: &Path,
        lang: Option<&Path>,
        tmp_mb: u32,
        uid: u32,
    ) -> Vec<OsString> {
        let mut out: Vec<OsString> = [
            "unshare",
            "--mount",
            "--pid",
            "--ipc",
            "--uts",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            SETUP,
            "nimbus-sandbox",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        out.push(code.into());
        out.push(runtime.into());
        out.push(lang.map(OsString::from).unwrap_or_default());
        out.push(self.data_dir.clone().into());
        out.push(tmp_mb.to_string().into());
        out.push(uid.to_string().into());
        out.extend(argv);
        out
    }
}
