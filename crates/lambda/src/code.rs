//! The code store: deployment packages on disk, content-addressed.
//!
//! Packages live under `<data>/lambda/code/<sha256 hex>.zip`, unpacked beside
//! them in `<sha256 hex>/`. Why on disk rather than in the Store: packages are
//! up to 50 MB zipped (250 MB unpacked), environments need real files to run
//! (and to bind-mount read-only at /var/task), and content addressing makes a
//! published version or an unchanged update free while guaranteeing that a
//! directory, once written, never changes — so stale code can never be served
//! from it. Metadata (sha, size) lives in the Store with the function.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use nimbus_core::AwsError;
use sha2::{Digest, Sha256};

use crate::util::base64_encode;
use crate::zip;

/// Zipped package limit for direct upload.
pub const MAX_ZIPPED: usize = 50 * 1024 * 1024;
/// Unzipped package limit.
pub const MAX_UNZIPPED: u64 = 262_144_000;

/// What the control plane records about a stored package.
pub struct StoredCode {
    /// Hex sha256: the directory name.
    pub id: String,
    /// Base64 sha256, as `CodeSha256` reports it.
    pub sha256: String,
    pub size: u64,
}

/// How long a `Code.Location` link stays valid (as AWS's presigned URL).
pub const LINK_SECONDS: u64 = 600;

pub struct CodeStore {
    root: PathBuf,
    /// Signs `Code.Location` links; random per server start.
    link_key: [u8; 32],
}

impl CodeStore {
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("lambda").join("code");
        std::fs::create_dir_all(&root)?;
        let mut link_key = [0u8; 32];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut link_key)?;
        Ok(CodeStore { root, link_key })
    }

    fn link_signature(&self, id: &str, expires: u64) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.link_key) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(format!("{id}\n{expires}").as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The query string of a link to `id` valid for `LINK_SECONDS`.
    pub fn link_query(&self, id: &str) -> String {
        let expires = nimbus_core::time::now_epoch_millis() / 1000 + LINK_SECONDS;
        format!("Expires={expires}&Signature={}", self.link_signature(id, expires))
    }

    /// Is this link to `id` genuine and unexpired?
    pub fn link_valid(&self, id: &str, expires: Option<&str>, signature: Option<&str>) -> bool {
        let (Some(expires), Some(signature)) = (expires.and_then(|e| e.parse::<u64>().ok()), signature) else {
            return false;
        };
        let expected = self.link_signature(id, expires);
        let fresh = expires >= nimbus_core::time::now_epoch_millis() / 1000;
        // Constant-time comparison: the signature is a secret of sorts.
        let same = expected.len() == signature.len()
            && expected.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        fresh && same
    }

    /// The unpacked package directory of `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn zip_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.zip"))
    }

    /// Validate, store and unpack a zip (blocking file I/O: call from
    /// `spawn_blocking`).
    pub fn put(&self, zip_bytes: &[u8]) -> Result<StoredCode, AwsError> {
        let digest = Sha256::digest(zip_bytes);
        let id: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let stored = StoredCode { sha256: base64_encode(&digest), size: zip_bytes.len() as u64, id: id.clone() };
        if self.dir(&id).is_dir() {
            return Ok(stored);
        }
        let entries = zip::read_all(zip_bytes, MAX_UNZIPPED).map_err(|e| {
            tracing::debug!(error = %e, "rejected deployment package");
            if e.contains("too large") {
                AwsError::new(
                    400,
                    "InvalidParameterValueException",
                    format!("Unzipped size must be smaller than {MAX_UNZIPPED} bytes"),
                )
            } else {
                AwsError::new(
                    400,
                    "InvalidParameterValueException",
                    "Could not unzip uploaded file. Please check your file, then try to upload again.",
                )
            }
        })?;
        // Unpack into a scratch directory, then rename: readers see all or nothing.
        let scratch = self.root.join(format!(".tmp-{id}-{}", crate::util::random_hex(4)));
        let result = unpack(&scratch, &entries)
            .and_then(|()| std::fs::write(self.zip_path(&id), zip_bytes))
            .and_then(|()| std::fs::rename(&scratch, self.dir(&id)));
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&scratch);
            if !self.dir(&id).is_dir() {
                return Err(crate::util::internal(format!("storing code: {e}")));
            }
        }
        Ok(stored)
    }

    /// The zip of `id`, for `Code.Location` downloads.
    pub fn read_zip(&self, id: &str) -> Option<Vec<u8>> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        std::fs::read(self.zip_path(id)).ok()
    }
}

fn unpack(dir: &Path, entries: &[zip::Entry]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    for entry in entries {
        let path = dir.join(&entry.path);
        if entry.is_dir {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&entry.data)?;
        // Lambda makes every file world-readable; execute bits survive.
        let exec = entry.mode.map(|m| m & 0o111 != 0).unwrap_or(false);
        let mode = if exec { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}
