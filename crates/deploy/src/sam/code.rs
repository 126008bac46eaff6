//! Where a function's code is: a local folder or zip (`CodeUri`), inline
//! (`InlineCode`). Local code is fingerprinted so that an edit is a change
//! the engine sees (and a new `AWS::Lambda::Version` when an alias is published).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Files and folders never shipped in a function's code.
const SKIPPED: &[&str] = &[".git", ".aws-sam", ".nimbus", "__pycache__", "node_modules/.cache", ".DS_Store"];

/// The `Code` property for a local `CodeUri`: Nimbus's `LocalPath` form
/// (an absolute path) with the SHA-256 of its contents.
pub fn local_code(base_dir: &Path, code_uri: &str) -> Result<Value, String> {
    if code_uri.starts_with("s3://") {
        return Err(format!("CodeUri {code_uri}: code in S3 is not supported; point CodeUri at a local folder or zip"));
    }
    let path = base_dir.join(code_uri);
    let path = path.canonicalize().map_err(|e| format!("CodeUri {code_uri}: {} ({e})", path.display()))?;
    let digest = fingerprint(&path).map_err(|e| format!("CodeUri {code_uri}: {e}"))?;
    Ok(json!({"LocalPath": path.to_string_lossy(), "Sha256": digest}))
}

/// SHA-256 over the relative names and contents of every file, in name order.
pub fn fingerprint(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    if path.is_file() {
        hasher.update(std::fs::read(path)?);
    } else {
        for (rel, abs) in list_files(path)? {
            hasher.update(rel.as_bytes());
            hasher.update([0]);
            hasher.update(std::fs::read(&abs)?);
            hasher.update([0]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Every file under a folder, as (relative name with `/`, absolute path), sorted.
pub fn list_files(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let abs = entry.path();
            let rel = abs.strip_prefix(root).unwrap_or(&abs).to_string_lossy().replace('\\', "/");
            if SKIPPED.iter().any(|s| rel == *s || rel.ends_with(&format!("/{s}"))) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(abs);
            } else if kind.is_file() || abs.is_file() {
                out.push((rel, abs));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The first ten hex digits of a SHA-256, as SAM suffixes generated ids.
pub fn short_hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    hex::encode(digest)[..10].to_owned()
}
