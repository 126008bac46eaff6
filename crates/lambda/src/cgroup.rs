//! Resource limits for execution environments through cgroups, v1 or v2.
//!
//! Each environment gets its own group under the group Nimbus runs in: memory
//! limited to the function's MemorySize (so exceeding it is an OOM kill, as on
//! Lambda), pids limited to Lambda's 1024, CPU weighted by memory above one
//! vCPU's worth as Lambda allocates CPU in proportion to memory (see
//! `cpu_weight`). The process joins its group before it execs the runtime (a
//! `sh` snippet writes its own pid to `cgroup.procs`),
//! so everything it allocates is charged. Where groups cannot be created,
//! environments run unlimited and Nimbus says so once.

use std::path::{Path, PathBuf};

const PIDS_MAX: u32 = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// Where environment groups are created.
pub struct Cgroups {
    version: Version,
    /// v1: one parent per controller (memory, pids, cpu); v2: one parent.
    parents: Vec<(String, PathBuf)>,
}

/// One environment's groups; removed on drop.
pub struct EnvCgroup {
    version: Version,
    dirs: Vec<(String, PathBuf)>,
    /// The peak-memory file, kept open: every REPORT reads it, and a pread
    /// costs one syscall where open, stat, read and close cost five.
    peak: Option<std::fs::File>,
}

impl Cgroups {
    /// Find (and create) Nimbus's parent groups, or `None` where the host
    /// does not let us.
    pub fn detect() -> Option<Cgroups> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let tag = format!("nimbus-lambda-{}", std::process::id());
        let root = Path::new("/sys/fs/cgroup");
        if root.join("cgroup.controllers").is_file() {
            // v2: a child of our own group, with memory and pids delegated to
            // its children (our group itself may not hold processes and
            // delegate, so the parent is a sibling subtree we create).
            let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
            let parent = root.join(path.trim_start_matches('/')).join(&tag);
            Self::sweep_stale(&parent);
            std::fs::create_dir_all(&parent).ok()?;
            std::fs::write(parent.join("cgroup.subtree_control"), "+memory +pids +cpu").ok()?;
            return Some(Cgroups { version: Version::V2, parents: vec![("unified".into(), parent)] });
        }
        let mut parents = Vec::new();
        for controller in ["memory", "pids", "cpu"] {
            let path = own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
                names.split(',').any(|n| n == controller).then(|| path.to_owned())
            });
            let Some(path) = path else { continue };
            let parent = root.join(controller).join(path.trim_start_matches('/')).join(&tag);
            Self::sweep_stale(&parent);
            if std::fs::create_dir_all(&parent).is_ok() {
                parents.push((controller.to_owned(), parent));
            }
        }
        parents.iter().any(|(c, _)| c == "memory").then_some(Cgroups { version: Version::V1, parents })
    }

    /// Remove groups left by Nimbus processes that died without cleaning up
    /// (a `kill -9`): `nimbus-lambda-<pid>` beside `parent` with no such pid.
    fn sweep_stale(parent: &Path) {
        let Some(dir) = parent.parent() else { return };
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix("nimbus-lambda-") else { continue };
            if Path::new("/proc").join(pid).exists() {
                continue;
            }
            if let Ok(children) = std::fs::read_dir(entry.path()) {
                for child in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = std::fs::remove_dir(child.path());
                }
            }
            let _ = std::fs::remove_dir(entry.path());
        }
    }

    /// A group for one environment limited to `memory_mb`.
    pub fn create(&self, name: &str, memory_mb: u32) -> Option<EnvCgroup> {
        let bytes = u64::from(memory_mb) * 1024 * 1024;
        let mut dirs = Vec::new();
        for (controller, parent) in &self.parents {
            let dir = parent.join(name);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            let ok = match (self.version, controller.as_str()) {
                (Version::V2, _) => {
                    let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                    let _ = std::fs::write(dir.join("pids.max"), PIDS_MAX.to_string());
                    let _ = std::fs::write(dir.join("cpu.weight"), cpu_weight(memory_mb, 100).min(10_000).to_string());
                    std::fs::write(dir.join("memory.max"), bytes.to_string()).is_ok()
                }
                (Version::V1, "memory") => {
                    let ok = std::fs::write(dir.join("memory.limit_in_bytes"), bytes.to_string()).is_ok();
                    let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), bytes.to_string());
                    let _ = std::fs::write(dir.join("memory.swappiness"), "0");
                    ok
                }
                (Version::V1, "pids") => std::fs::write(dir.join("pids.max"), PIDS_MAX.to_string()).is_ok(),
                (Version::V1, _) => {
                    std::fs::write(dir.join("cpu.shares"), cpu_weight(memory_mb, 1024).to_string()).is_ok()
                }
            };
            if ok {
                dirs.push((controller.clone(), dir));
            } else {
                let _ = std::fs::remove_dir(&dir);
            }
        }
        if dirs.is_empty() {
            return None;
        }
        let mut group = EnvCgroup { version: self.version, dirs, peak: None };
        let peak_file = match self.version {
            Version::V1 => "memory.max_usage_in_bytes",
            Version::V2 => "memory.peak",
        };
        group.peak = group.memory_dir().and_then(|dir| std::fs::File::open(dir.join(peak_file)).ok());
        Some(group)
    }
}

impl Cgroups {
    /// Remove the parent groups; false while some still hold environment groups.
    pub fn remove(&self) -> bool {
        self.parents.iter().all(|(_, parent)| std::fs::remove_dir(parent).is_ok() || !parent.exists())
    }
}

/// Lambda gives a function one vCPU per 1,769 MB. A cgroup's CPU weight is
/// relative to everything else on the host, though, not to a dedicated
/// vCPU: weighting a 128 MB function at 128/1769 of an ordinary process
/// starves it whenever the host is busy (measured: `import boto3` took 5–10 s
/// instead of 0.5 s at load 30). So functions up to 1,769 MB weigh as much as
/// any process (`normal`: 1024 shares on v1, weight 100 on v2) and larger
/// ones proportionally more, as Lambda gives them more vCPUs.
fn cpu_weight(memory_mb: u32, normal: u64) -> u64 {
    (u64::from(memory_mb) * normal / 1769).max(normal)
}

/// A shell fragment that moves the shell into the groups whose `cgroup.procs`
/// files follow as arguments (a count, then the files), and those arguments:
/// the runtime it then execs is charged from its first allocation.
pub fn join_script(procs_files: Vec<PathBuf>) -> (&'static str, Vec<std::ffi::OsString>) {
    const JOIN: &str = r#"n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 126; shift; n=$((n-1)); done
"#;
    let mut args: Vec<std::ffi::OsString> = vec![procs_files.len().to_string().into()];
    args.extend(procs_files.into_iter().map(Into::into));
    (JOIN, args)
}

impl EnvCgroup {
    /// The `cgroup.procs` files a starting process writes its pid to.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.join("cgroup.procs")).collect()
    }

    fn memory_dir(&self) -> Option<&Path> {
        self.dirs.iter().find(|(c, _)| c == "memory" || self.version == Version::V2).map(|(_, d)| d.as_path())
    }

    /// Was a process of this group killed for exceeding the memory limit?
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = self.memory_dir() else { return false };
        let file = match self.version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let counted = text.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|n| n.trim().parse::<u64>().ok());
        match counted {
            Some(n) => n > 0,
            // Older v1 kernels do not count kills: hitting the limit is the sign.
            None => std::fs::read_to_string(dir.join("memory.failcnt"))
                .ok()
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0),
        }
    }

    /// Peak memory of the group, in MB.
    pub fn peak_mb(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 32];
        // A cgroup file is regenerated on every read from offset 0.
        let n = self.peak.as_ref()?.read_at(&mut buf, 0).ok()?;
        let bytes: u64 = std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()?;
        Some(bytes.div_ceil(1024 * 1024))
    }
}

impl Drop for EnvCgroup {
    fn drop(&mut self) {
        self.peak = None;
        // The group empties once its processes are reaped; retry briefly.
        let mut dirs: Vec<PathBuf> = self.dirs.drain(..).map(|(_, d)| d).collect();
        dirs.retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
        if dirs.is_empty() {
            return;
        }
        std::thread::spawn(move || {
            for _ in 0..50 {
                if dirs.iter().all(|d| std::fs::remove_dir(d).is_ok() || !d.exists()) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_weight_is_never_below_an_ordinary_process() {
        assert_eq!(cpu_weight(128, 1024), 1024);
        assert_eq!(cpu_weight(1769, 1024), 1024);
        assert_eq!(cpu_weight(10240, 1024), 10240 * 1024 / 1769);
        assert_eq!(cpu_weight(128, 100), 100);
        assert_eq!(cpu_weight(3538, 100), 200);
    }
}
