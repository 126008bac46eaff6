//! The sandbox an execution environment runs in, built from util-linux's
//! `unshare` and `setpriv` (the workspace forbids the unsafe code that
//! `pre_exec` would need):
//!
//! - new mount, pid, ipc and uts namespaces (`unshare`), with a fresh /proc,
//!   so the function sees only its own processes;
//! - the package bind-mounted read-only at /var/task, the runtime at
//!   /var/runtime and the interpreter's prefix at /var/lang (as on Lambda);
//!   the AWS SDK a Node function imports at /var/runtime/node_modules (as on
//!   Lambda, for NODE_PATH) and again at /var/node_modules, where ES modules
//!   in /var/task find it (they ignore NODE_PATH and look only in their
//!   ancestors' node_modules, after the function's own);
//! - a private /tmp limited to EphemeralStorage, and Nimbus's data directory
//!   hidden under an empty tmpfs, so no function reads another's code;
//! - an unprivileged uid of its own (from 20000 up; gid 990), named in an
//!   /etc/passwd of its own as Lambda's `sbx_user1051` (so the home
//!   directory lookups of SDKs, e.g. Node's `os.homedir()`, answer), no
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

/// The script that runs as root inside the new namespaces: join the
/// environment's cgroups, mount everything listed in the environment's fstab
/// with one `mount` (one exec instead of one per mount: each costs a cold
/// start ~2 ms), then drop to the sandbox user and become the runtime.
const SETUP: &str = r#"set -e
fstab=$1; uid=$2; shift 2
"#;
const SETUP_TAIL: &str = r#"mount --all --fstab "$fstab"
echo localhost > /proc/sys/kernel/hostname
cd /var/task
exec setpriv --reuid="$uid" --regid=990 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
"#;

const FIRST_UID: u32 = 20000;
const UID_COUNT: u32 = 40000;

pub struct Sandbox {
    data_dir: PathBuf,
    /// Where each environment's fstab is written (inside the data directory,
    /// which the sandbox hides).
    fstab_dir: PathBuf,
    next: std::sync::atomic::AtomicU32,
}

/// What an environment mounts; see `Sandbox::wrap`.
pub struct Mounts<'a> {
    pub code: &'a Path,
    pub runtime: &'a Path,
    pub lang: Option<&'a Path>,
    /// The AWS SDK for JavaScript a Node function imports (see `node_sdk`).
    pub node_sdk: Option<&'a Path>,
    pub tmp_mb: u32,
}

/// Files removed when the environment that needed them goes.
pub struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Lambda's sandbox user, as its /etc/passwd names it.
const SANDBOX_USER: &str = "sbx_user1051";

/// Paths as the runtime sees them inside the sandbox.
pub const TASK_ROOT: &str = "/var/task";
pub const RUNTIME_DIR: &str = "/var/runtime";
pub const LANG_DIR: &str = "/var/lang";
/// The SDK's second mount point, on /var/task's resolution path.
const NODE_MODULES_DIR: &str = "/var/node_modules";

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
        for dir in [TASK_ROOT, RUNTIME_DIR, LANG_DIR, NODE_MODULES_DIR] {
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
        let fstab_dir = data_dir.join("lambda").join("sandbox");
        std::fs::create_dir_all(&fstab_dir).map_err(|e| format!("cannot create {}: {e}", fstab_dir.display()))?;
        Ok(Sandbox { data_dir, fstab_dir, next: Default::default() })
    }

    /// A uid for a new environment: each has its own.
    pub fn next_uid(&self) -> u32 {
        FIRST_UID + self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % UID_COUNT
    }

    /// Wrap `argv` (which uses the in-sandbox paths) so it runs sandboxed as
    /// `uid`, first joining the cgroups whose `cgroup.procs` files are given.
    /// The returned files must live until the runtime has started.
    pub fn wrap(
        &self,
        argv: Vec<OsString>,
        name: &str,
        mounts: &Mounts,
        uid: u32,
        cgroup_procs: Vec<PathBuf>,
    ) -> std::io::Result<(Vec<OsString>, RemoveOnDrop)> {
        let fstab = self.fstab_dir.join(format!("{name}.fstab"));
        let passwd = self.fstab_dir.join(format!("{name}.passwd"));
        let files = RemoveOnDrop(vec![fstab.clone(), passwd.clone()]);
        std::fs::write(&passwd, passwd_for(uid))?;
        std::fs::write(&fstab, self.fstab(mounts, &passwd))?;
        let (join, join_args) = crate::cgroup::join_script(cgroup_procs);
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
        ]
        .iter()
        .map(OsString::from)
        .collect();
        out.push(format!("{SETUP}{join}{SETUP_TAIL}").into());
        out.push("nimbus-sandbox".into());
        out.push(fstab.clone().into());
        out.push(uid.to_string().into());
        out.extend(join_args);
        out.extend(argv);
        Ok((out, files))
    }

    /// The environment's mounts in fstab(5) form, in order: the code, the
    /// runtime and the interpreter read-only where Lambda has them, the data
    /// directory hidden, a private /tmp of EphemeralStorage size.
    fn fstab(&self, m: &Mounts, passwd: &Path) -> String {
        let mut table = String::new();
        let mut line = |source: &str, target: &str, kind: &str, options: &str| {
            table.push_str(&format!("{source} {target} {kind} {options} 0 0\n"));
        };
        const READ_ONLY: &str = "bind,ro,nosuid,nodev";
        line(&fstab_escape(m.code), TASK_ROOT, "none", READ_ONLY);
        line(&fstab_escape(m.runtime), RUNTIME_DIR, "none", READ_ONLY);
        if let Some(lang) = m.lang {
            line(&fstab_escape(lang), LANG_DIR, "none", READ_ONLY);
        }
        if let Some(sdk) = m.node_sdk {
            // Onto the runtime's empty node_modules, where Lambda keeps it.
            line(&fstab_escape(sdk), &format!("{RUNTIME_DIR}/node_modules"), "none", READ_ONLY);
            line(&fstab_escape(sdk), NODE_MODULES_DIR, "none", READ_ONLY);
        }
        line(&fstab_escape(passwd), "/etc/passwd", "none", READ_ONLY);
        line("nimbus-hidden", &fstab_escape(&self.data_dir), "tmpfs", "size=1m,mode=0755");
        line("nimbus-tmp", "/tmp", "tmpfs", &format!("size={}m,mode=1777,nosuid,nodev", m.tmp_mb));
        table
    }
}

/// The sandbox's /etc/passwd: root and the sandbox user as `uid`.
fn passwd_for(uid: u32) -> String {
    format!("root:x:0:0:root:/root:/bin/sh\n{SANDBOX_USER}:x:{uid}:990::/home/{SANDBOX_USER}:/sbin/nologin\n")
}

/// A path as an fstab field: whitespace and backslashes as octal escapes.
fn fstab_escape(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_and_passwd_are_mounted_before_the_data_dir_is_hidden() {
        let sandbox =
            Sandbox { data_dir: "/data".into(), fstab_dir: "/data/lambda/sandbox".into(), next: Default::default() };
        let mounts = Mounts {
            code: Path::new("/data/lambda/code/abc"),
            runtime: Path::new("/data/lambda/runtime"),
            lang: None,
            node_sdk: Some(Path::new("/cache/lambda/node-sdk/set/node_modules")),
            tmp_mb: 512,
        };
        let table = sandbox.fstab(&mounts, Path::new("/data/lambda/sandbox/env.passwd"));
        let targets: Vec<&str> = table.lines().map(|l| l.split(' ').nth(1).unwrap_or_default()).collect();
        assert_eq!(
            targets,
            [
                "/var/task",
                "/var/runtime",
                "/var/runtime/node_modules",
                "/var/node_modules",
                "/etc/passwd",
                "/data",
                "/tmp"
            ]
        );
        assert!(table.contains("/cache/lambda/node-sdk/set/node_modules /var/node_modules none bind,ro"), "{table}");
        assert!(passwd_for(20001).contains("sbx_user1051:x:20001:990::/home/sbx_user1051:"));
    }

    #[test]
    fn fstab_fields_escape_whitespace() {
        assert_eq!(fstab_escape(Path::new("/a b/c\td")), "/a\\040b/c\\011d");
        assert_eq!(fstab_escape(Path::new("/plain")), "/plain");
    }
}
