//! Runtime versions as Lambda names them in the `INIT_START` line it logs
//! when an environment initialises:
//! `INIT_START Runtime Version: python:3.12.v1\tRuntime Version ARN: arn:aws:lambda:<region>::runtime:<hex>`.
//! Nimbus's version of a runtime is its embedded bootstrap: the ARN's hex is
//! the sha256 of the runtime identifier and that bootstrap, so it changes
//! exactly when what runs the handler changes.

use sha2::{Digest, Sha256};

/// Nimbus's runtime revision (bumped by hand when runtimes change in ways
/// the bootstrap hash does not show).
const REVISION: u32 = 1;

/// `python3.12` → `python:3.12`, `nodejs20.x` → `nodejs:20`,
/// `provided.al2023` → `provided:al2023`, `provided` → `provided:al`.
fn family(runtime: &str) -> String {
    if let Some(version) = runtime.strip_prefix("python") {
        format!("python:{version}")
    } else if let Some(version) = runtime.strip_prefix("nodejs") {
        format!("nodejs:{}", version.trim_end_matches(".x"))
    } else if let Some(os) = runtime.strip_prefix("provided.") {
        format!("provided:{os}")
    } else {
        "provided:al".to_owned()
    }
}

/// The `INIT_START` line for an environment of `runtime` whose bootstrap
/// source is `bootstrap` (empty for `provided.*`, whose bootstrap is the
/// function's own).
pub fn init_start_line(runtime: &str, bootstrap: &str, region: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(runtime.as_bytes());
    hash.update([0]);
    hash.update(bootstrap.as_bytes());
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "INIT_START Runtime Version: {}.v{REVISION}\tRuntime Version ARN: arn:aws:lambda:{region}::runtime:{hex}\n",
        family(runtime)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_as_lambda_names_them() {
        assert_eq!(family("python3.12"), "python:3.12");
        assert_eq!(family("nodejs20.x"), "nodejs:20");
        assert_eq!(family("provided.al2023"), "provided:al2023");
        assert_eq!(family("provided"), "provided:al");
    }

    #[test]
    fn line_shape() {
        let line = init_start_line("python3.12", "print()", "us-east-1");
        assert!(line.starts_with(
            "INIT_START Runtime Version: python:3.12.v1\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:"
        ));
        assert_eq!(line.trim_end().rsplit(':').next().unwrap().len(), 64);
        assert_ne!(line, init_start_line("python3.12", "print(1)", "us-east-1"));
    }
}
