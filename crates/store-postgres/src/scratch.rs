//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a
//! temporary directory, a `postgres` on a free local port, removed on drop.
//!
//! PostgreSQL refuses to run as root, so as root the server runs as
//! `nobody` (through `setpriv`, which execs in place: the child we hold is
//! the postmaster itself).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The user the throwaway cluster's superuser is called.
const SUPERUSER: &str = "nimbus";

pub struct ScratchCluster {
    dir: PathBuf,
    server: Child,
    url: String,
}

impl ScratchCluster {
    /// Start a fresh cluster (fsync on: as durable as a real one).
    pub fn start() -> Result<Self, String> {
        let bin = find_bin_dir().ok_or(
            "PostgreSQL server binaries not found (initdb, postgres, pg_isready): \
             install PostgreSQL (Debian: apt-get install postgresql) or set NIMBUS_PG_BIN",
        )?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nimbus-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let as_root = is_root();
        if as_root {
            // The unprivileged server must create its data dir and socket here.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).map_err(|e| e.to_string())?;
        }
        let data = dir.join("data");
        let initdb = unprivileged(as_root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !initdb.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr).trim()));
        }
        let port = free_port()?;
        let server = unprivileged(as_root, &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        let url = format!("postgres://{SUPERUSER}@127.0.0.1:{port}/postgres");
        let mut cluster = ScratchCluster { dir, server, url };
        cluster.wait_ready(&bin, port)?;
        Ok(cluster)
    }

    /// `postgres://nimbus@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn wait_ready(&mut self, bin: &Path, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .map_err(|e| format!("running pg_isready: {e}"))?;
            if ready.success() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.server.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                return Err(format!("postgres exited ({status}): {}", log.trim()));
            }
            if Instant::now() > deadline {
                return Err("postgres did not accept connections within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ScratchCluster {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, stop.
        let _ = Command::new("kill").args(["-INT", &self.server.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.server.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `NIMBUS_PG_BIN`, else the directory of `initdb` on PATH, else the newest
/// Debian layout `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| ["initdb", "postgres", "pg_isready"].iter().all(|b| dir.join(b).is_file());
    if let Some(dir) = std::env::var_os("NIMBUS_PG_BIN").map(PathBuf::from) {
        return complete(&dir).then_some(dir);
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| complete(dir));
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, dir)| complete(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|out| out.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// `program`, run as `nobody` when we are root.
fn unprivileged(as_root: bool, program: &Path) -> Command {
    if !as_root {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]).arg(program);
    command
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// For tests: a scratch cluster, or `None` (with a loud note) when this
/// machine has no PostgreSQL. Under `CI` a missing PostgreSQL fails instead.
pub fn start_or_skip(test: &str) -> Option<ScratchCluster> {
    match ScratchCluster::start() {
        Ok(cluster) => Some(cluster),
        Err(e) if std::env::var_os("CI").is_none() && e.contains("not found") => {
            eprintln!("SKIPPED {test}: {e} (under CI=1 this fails)");
            None
        }
        Err(e) => panic!("{test}: cannot start a scratch PostgreSQL: {e}"),
    }
}
