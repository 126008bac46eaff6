//! The AWS SDK for JavaScript v3 for the nodejs runtimes.
//!
//! Lambda's nodejs18.x and later runtimes ship the SDK v3 in
//! /var/runtime/node_modules, so handlers import `@aws-sdk/*` without
//! bundling it. All ~400 of its clients would take minutes and hundreds of
//! MB to install, so Nimbus provides what each function's code names: the
//! `@aws-sdk/<name>` specifiers in its files (minus those it bundles, which
//! win anyway), installed with npm once per package set under the cache dir
//! (`<cache>/lambda/node-sdk/<set>/node_modules`), and shared by every
//! function, and every Nimbus on the host, whose packages a set covers. The
//! install starts when the code arrives (CreateFunction, UpdateFunctionCode)
//! and ends, at the latest, before the init phase of the first cold start.
//!
//! Sets are written aside and renamed into place, so a set directory never
//! changes once it exists: concurrent servers and running functions never
//! see half an install. A failed install (no npm, no registry) is not
//! remembered, so the next cold start tries again; the function's log says
//! why its imports fail.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// The package scope the runtime's SDK lives in.
const SCOPE: &str = "@aws-sdk/";
/// A set's manifest, written last: a set directory without it is not one.
const MANIFEST: &str = "packages.txt";
/// The versions installed: the latest v3 when the set is first needed.
const VERSION_RANGE: &str = "^3";
/// An install that takes longer is stopped (a registry that accepts
/// connections but never answers must not hold cold starts forever).
const INSTALL_LIMIT: Duration = Duration::from_secs(180);
/// Bounds of the code scan: bigger files are bundles, not handler code
/// naming packages to provide; a package with more files is not scanned
/// further.
const SCAN_MAX_FILE: u64 = 8 * 1024 * 1024;
const SCAN_MAX_FILES: usize = 20_000;

/// What an environment gets: the SDK's node_modules (if its code needs one
/// and it could be provided) and a line for the function's log.
#[derive(Debug, Default)]
pub struct Provision {
    pub node_modules: Option<PathBuf>,
    pub note: Option<String>,
}

pub struct NodeSdk {
    /// `<cache>/lambda/node-sdk`: one directory per package set.
    root: PathBuf,
    /// The packages each code directory imports (code never changes).
    scans: Mutex<HashMap<PathBuf, Arc<Vec<String>>>>,
    /// The set directory found or installed for each list of packages.
    sets: Mutex<HashMap<Vec<String>, PathBuf>>,
    /// One install at a time per list of packages; others wait for it.
    installing: Mutex<HashMap<Vec<String>, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl NodeSdk {
    pub fn new(cache_dir: &Path) -> Self {
        NodeSdk {
            root: cache_dir.join("lambda").join("node-sdk"),
            scans: Mutex::default(),
            sets: Mutex::default(),
            installing: Mutex::default(),
        }
    }

    /// The SDK packages the function in `code_dir` imports, provided for a
    /// `runtime` that includes the SDK v3.
    pub async fn provide(&self, runtime: &str, code_dir: &Path) -> Provision {
        if !includes_sdk_v3(runtime) {
            return Provision::default();
        }
        let packages = self.scan(code_dir).await;
        if packages.is_empty() {
            return Provision::default();
        }
        match self.set_for(&packages).await {
            Ok((dir, installed)) => Provision {
                node_modules: Some(dir.join("node_modules")),
                note: installed.then(|| {
                    format!(
                        "Nimbus: installed the AWS SDK for JavaScript v3 ({}) with npm into {}; reused from now on\n",
                        installed_versions(&dir, &packages),
                        dir.display()
                    )
                }),
            },
            Err(reason) => Provision {
                node_modules: None,
                note: Some(format!(
                    "Nimbus: could not install the AWS SDK for JavaScript v3 ({}): {reason}; importing it will fail\n",
                    packages.join(", ")
                )),
            },
        }
    }

    async fn scan(&self, code_dir: &Path) -> Arc<Vec<String>> {
        if let Some(found) = lock(&self.scans).get(code_dir) {
            return found.clone();
        }
        let dir = code_dir.to_owned();
        let found = tokio::task::spawn_blocking(move || sdk_imports(&dir)).await.unwrap_or_default();
        let found = Arc::new(found);
        lock(&self.scans).insert(code_dir.to_owned(), found.clone());
        found
    }

    /// A set directory holding `packages`, and whether it was installed now.
    async fn set_for(&self, packages: &[String]) -> Result<(PathBuf, bool), String> {
        // (Unless someone removed it from the cache since.)
        if let Some(dir) = lock(&self.sets).get(packages).filter(|d| d.join(MANIFEST).is_file()) {
            return Ok((dir.clone(), false));
        }
        let gate = lock(&self.installing).entry(packages.to_vec()).or_default().clone();
        let _turn = gate.lock().await;
        let found = match covering_set(&self.root, packages) {
            Some(dir) => (dir, false),
            None => (self.install(packages).await?, true),
        };
        lock(&self.sets).insert(packages.to_vec(), found.0.clone());
        Ok(found)
    }

    async fn install(&self, packages: &[String]) -> Result<PathBuf, String> {
        let npm = on_path("npm").ok_or("npm is not installed on this host")?;
        let target = self.root.join(set_name(packages));
        let partial = self.root.join(format!(".partial-{}-{}", set_name(packages), crate::util::random_hex(6)));
        tracing::warn!(
            "lambda: installing the AWS SDK for JavaScript v3 ({}) with npm into {}, once",
            packages.join(", "),
            target.display()
        );
        remove_abandoned(&self.root);
        let result = npm_install(&npm, &partial, packages).await;
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&partial);
            tracing::warn!("lambda: could not install the AWS SDK for JavaScript v3: {e}");
            return Err(e);
        }
        // Another server may have finished the same set first: keep theirs.
        if std::fs::rename(&partial, &target).is_err() {
            let _ = std::fs::remove_dir_all(&partial);
            if !target.join(MANIFEST).is_file() {
                return Err(format!("cannot move the installation into {}", target.display()));
            }
        }
        Ok(target)
    }
}

/// nodejs18.x and later include the SDK v3 (earlier ones the v2, which
/// Nimbus does not provide).
fn includes_sdk_v3(runtime: &str) -> bool {
    runtime
        .strip_prefix("nodejs")
        .and_then(|v| v.strip_suffix(".x"))
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 18)
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// A set's directory name: a digest of its sorted package list.
fn set_name(packages: &[String]) -> String {
    let digest = Sha256::digest(packages.join("\n").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The smallest complete set under `root` holding all of `packages`.
fn covering_set(root: &Path, packages: &[String]) -> Option<PathBuf> {
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let dir = entry.path();
        let Ok(manifest) = std::fs::read_to_string(dir.join(MANIFEST)) else { continue };
        let held: BTreeSet<&str> = manifest.lines().collect();
        let covers = packages.iter().all(|p| held.contains(p.as_str()));
        if covers && best.as_ref().is_none_or(|(size, d)| (held.len(), &dir) < (*size, d)) {
            best = Some((held.len(), dir));
        }
    }
    best.map(|(_, dir)| dir)
}

/// Remove what installs stopped midway (a server killed during one) left:
/// partial directories older than any install may run.
fn remove_abandoned(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let partial = entry.file_name().to_string_lossy().starts_with(".partial-");
        let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if partial && age.is_some_and(|age| age > 2 * INSTALL_LIMIT) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Run `npm install` of `packages` into the fresh directory `dir` and write
/// the manifest; npm's own errors (offline, unknown package) come back.
async fn npm_install(npm: &Path, dir: &Path, packages: &[String]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("package.json"), "{\"private\": true}\n").map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new(npm);
    command
        .current_dir(dir)
        .args(["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--omit=dev"])
        // One quick retry: an unreachable registry must fail in seconds.
        .args(["--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-timeout=30000", "--loglevel=error"])
        .args(packages.iter().map(|p| format!("{p}@{VERSION_RANGE}")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| format!("cannot run npm: {e}"))?;
    let out = match tokio::time::timeout(INSTALL_LIMIT, child.wait_with_output()).await {
        Err(_) => return Err(format!("npm install did not finish within {} s", INSTALL_LIMIT.as_secs())),
        Ok(out) => out.map_err(|e| format!("npm install: {e}"))?,
    };
    if !out.status.success() {
        return Err(npm_error(&String::from_utf8_lossy(&out.stderr)));
    }
    std::fs::write(dir.join(MANIFEST), packages.join("\n") + "\n").map_err(|e| e.to_string())
}

/// npm's error lines, in one line.
fn npm_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("npm error") || l.starts_with("npm ERR!"))
        .filter(|l| !l.contains("A complete log of this run"))
        .take(4)
        .collect();
    if lines.is_empty() {
        "npm install failed".to_owned()
    } else {
        lines.join(" | ")
    }
}

/// "name@version, …" for the packages as installed.
fn installed_versions(dir: &Path, packages: &[String]) -> String {
    let version = |package: &str| -> Option<String> {
        let manifest = std::fs::read(dir.join("node_modules").join(package).join("package.json")).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&manifest).ok()?;
        Some(value.get("version")?.as_str()?.to_owned())
    };
    let named: Vec<String> =
        packages.iter().map(|p| format!("{p}@{}", version(p).unwrap_or_else(|| "?".into()))).collect();
    named.join(", ")
}

/// The `@aws-sdk/*` packages the JavaScript files under `code_dir` name,
/// sorted, except those the package bundles in its own node_modules.
fn sdk_imports(code_dir: &Path) -> Vec<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![code_dir.to_owned()];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            let path = entry.path();
            if kind.is_dir() {
                if entry.file_name() != "node_modules" {
                    pending.push(path);
                }
                continue;
            }
            let script = matches!(path.extension().and_then(|e| e.to_str()), Some("js" | "mjs" | "cjs"));
            if !kind.is_file() || !script || entry.metadata().map_or(true, |m| m.len() > SCAN_MAX_FILE) {
                continue;
            }
            files += 1;
            if files > SCAN_MAX_FILES {
                break;
            }
            if let Ok(text) = std::fs::read(&path) {
                found.extend(specifiers_in(&text));
            }
        }
    }
    let bundled = |package: &String| code_dir.join("node_modules").join(package).join("package.json").is_file();
    found.into_iter().filter(|p| !bundled(p)).collect()
}

/// `@aws-sdk/<name>` in string literals (`require("…")`, `from '…'`,
/// `import(`…`)`), subpaths cut to their package.
fn specifiers_in(text: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let scope = SCOPE.as_bytes();
    let mut at = 0;
    while let Some(offset) = text[at..].windows(scope.len()).position(|w| w == scope) {
        let start = at + offset;
        at = start + scope.len();
        let quoted = start > 0 && matches!(text[start - 1], b'"' | b'\'' | b'`');
        let name_len = text[at..]
            .iter()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_'))
            .count();
        let name = &text[at..at + name_len];
        let ends = text.get(at + name_len).is_some_and(|c| matches!(c, b'"' | b'\'' | b'`' | b'/'));
        // npm names start with a letter or digit and are at most 214 bytes.
        let valid = name.first().is_some_and(|c| c.is_ascii_alphanumeric()) && scope.len() + name_len <= 214;
        if quoted && ends && valid {
            out.push(format!("{SCOPE}{}", String::from_utf8_lossy(name)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nimbus-node-sdk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn specifiers_are_found_in_string_literals_only() {
        let code = br#"
            const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
            import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
            const s3 = await import(`@aws-sdk/client-s3`);
            import { fromIni } from "@aws-sdk/credential-providers/dist-cjs/index.js";
            // see @aws-sdk/client-sqs in the docs
            require("@aws-sdk/Bad"); require("@aws-sdk/"); require("@aws-sdk/-x");
        "#;
        assert_eq!(
            specifiers_in(code),
            [
                "@aws-sdk/client-dynamodb",
                "@aws-sdk/lib-dynamodb",
                "@aws-sdk/client-s3",
                "@aws-sdk/credential-providers"
            ]
        );
    }

    #[test]
    fn a_package_is_scanned_outside_its_node_modules_and_bundled_packages_are_skipped() {
        let dir = scratch("scan");
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(dir.join("index.mjs"), "import x from '@aws-sdk/lib-dynamodb';").unwrap();
        std::fs::write(dir.join("lib").join("db.js"), "require('@aws-sdk/client-dynamodb')").unwrap();
        std::fs::write(dir.join("lib").join("notes.txt"), "require('@aws-sdk/client-sns')").unwrap();
        std::fs::write(dir.join("bundled.cjs"), "require('@aws-sdk/client-s3')").unwrap();
        let bundled = dir.join("node_modules").join("@aws-sdk").join("client-s3");
        std::fs::create_dir_all(&bundled).unwrap();
        std::fs::write(bundled.join("package.json"), "{}").unwrap();
        std::fs::write(bundled.join("index.js"), "require('@aws-sdk/client-sqs')").unwrap();
        assert_eq!(sdk_imports(&dir), ["@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb"]);
    }

    #[test]
    fn only_nodejs18_and_later_include_the_sdk_v3() {
        for runtime in ["nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"] {
            assert!(includes_sdk_v3(runtime), "{runtime}");
        }
        for runtime in ["nodejs16.x", "nodejs", "nodejs4.3-edge", "python3.12", "provided.al2023"] {
            assert!(!includes_sdk_v3(runtime), "{runtime}");
        }
    }

    #[test]
    fn the_smallest_complete_covering_set_is_reused() {
        let root = scratch("sets");
        let set = |name: &str, manifest: Option<&str>| {
            std::fs::create_dir_all(root.join(name)).unwrap();
            if let Some(m) = manifest {
                std::fs::write(root.join(name).join(MANIFEST), m).unwrap();
            }
        };
        set("big", Some("@aws-sdk/client-dynamodb\n@aws-sdk/client-s3\n@aws-sdk/lib-dynamodb\n"));
        set("small", Some("@aws-sdk/client-dynamodb\n@aws-sdk/lib-dynamodb\n"));
        set(".partial-x", None);
        let wanted = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(covering_set(&root, &wanted(&["@aws-sdk/client-dynamodb"])), Some(root.join("small")));
        assert_eq!(covering_set(&root, &wanted(&["@aws-sdk/client-s3"])), Some(root.join("big")));
        assert_eq!(covering_set(&root, &wanted(&["@aws-sdk/client-sqs"])), None);
        assert_ne!(set_name(&wanted(&["@aws-sdk/a"])), set_name(&wanted(&["@aws-sdk/b"])));
    }

    #[test]
    fn npm_errors_are_kept_short() {
        let stderr = "npm error code ECONNREFUSED\nnpm error syscall connect\nnpm error A complete log of this run can be found in: /x\n";
        assert_eq!(npm_error(stderr), "npm error code ECONNREFUSED | npm error syscall connect");
        assert_eq!(npm_error(""), "npm install failed");
    }
}
