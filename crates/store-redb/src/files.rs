//! Small file-system helpers shared by the store file and the log file.

use std::path::Path;

use nimbus_store::StoreError;

pub fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// Make the directory entries of a new file durable, or a power loss could
/// drop the file with every write acknowledged in it: fsync the file's
/// directory and each directory above it up to `existing`, the deepest one
/// that existed before.
pub fn sync_new_entries(path: &Path, existing: Option<&Path>) -> nimbus_store::Result<()> {
    if cfg!(unix) {
        for dir in path.ancestors().skip(1) {
            let name = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            std::fs::File::open(name).and_then(|d| d.sync_all()).map_err(err)?;
            if Some(dir) == existing {
                break;
            }
        }
    }
    Ok(())
}
