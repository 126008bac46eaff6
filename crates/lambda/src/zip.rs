//! Just enough of the ZIP format to unpack a deployment package: the central
//! directory, stored and deflated entries, Unix permission bits (so a
//! `provided.*` `bootstrap` stays executable). Paths that would escape the
//! target directory are refused.

use std::path::{Component, Path, PathBuf};

/// One file or directory of an archive.
pub struct Entry {
    pub path: PathBuf,
    pub is_dir: bool,
    /// Unix mode bits when the archive recorded them.
    pub mode: Option<u32>,
    pub data: Vec<u8>,
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// Unpack every entry of `archive`, refusing to inflate beyond `max_total` bytes.
pub fn read_all(archive: &[u8], max_total: u64) -> Result<Vec<Entry>, String> {
    const EOCD: u32 = 0x0605_4b50;
    const CENTRAL: u32 = 0x0201_4b50;
    const LOCAL: u32 = 0x0403_4b50;
    if archive.len() < 22 {
        return Err("too short to be a zip archive".into());
    }
    // The end-of-central-directory record sits in the last 22 + 65535 bytes.
    let lowest = archive.len().saturating_sub(22 + 65535);
    let eocd = (lowest..=archive.len() - 22)
        .rev()
        .find(|&i| u32_at(archive, i) == Some(EOCD))
        .ok_or("no end of central directory")?;
    let count = u16_at(archive, eocd + 10).ok_or("truncated")? as usize;
    let mut at = u32_at(archive, eocd + 16).ok_or("truncated")? as usize;
    let mut entries = Vec::with_capacity(count);
    let mut total = 0u64;
    for _ in 0..count {
        if u32_at(archive, at) != Some(CENTRAL) {
            return Err("bad central directory entry".into());
        }
        let made_by_unix = u16_at(archive, at + 4).ok_or("truncated")? >> 8 == 3;
        let method = u16_at(archive, at + 10).ok_or("truncated")?;
        let crc = u32_at(archive, at + 16).ok_or("truncated")?;
        let compressed = u32_at(archive, at + 20).ok_or("truncated")? as usize;
        let size = u32_at(archive, at + 24).ok_or("truncated")? as u64;
        let name_len = u16_at(archive, at + 28).ok_or("truncated")? as usize;
        let extra_len = u16_at(archive, at + 30).ok_or("truncated")? as usize;
        let comment_len = u16_at(archive, at + 32).ok_or("truncated")? as usize;
        let external = u32_at(archive, at + 38).ok_or("truncated")?;
        let local = u32_at(archive, at + 42).ok_or("truncated")? as usize;
        let name = archive.get(at + 46..at + 46 + name_len).ok_or("truncated")?;
        let name = String::from_utf8_lossy(name).replace('\\', "/");
        at += 46 + name_len + extra_len + comment_len;

        if compressed == u32::MAX as usize || size == u32::MAX as u64 {
            return Err("ZIP64 archives are not supported".into());
        }
        let path = safe_path(&name).ok_or_else(|| format!("unsafe path in archive: {name}"))?;
        let is_dir = name.ends_with('/');
        let mode = made_by_unix.then_some(external >> 16).filter(|m| *m != 0);
        if is_dir {
            entries.push(Entry { path, is_dir, mode, data: Vec::new() });
            continue;
        }
        total += size;
        if total > max_total {
            return Err("unzipped size too large".into());
        }
        if u32_at(archive, local) != Some(LOCAL) {
            return Err("bad local header".into());
        }
        let local_name = u16_at(archive, local + 26).ok_or("truncated")? as usize;
        let local_extra = u16_at(archive, local + 28).ok_or("truncated")? as usize;
        let start = local + 30 + local_name + local_extra;
        let raw = archive.get(start..start + compressed).ok_or("truncated entry")?;
        let data = match method {
            0 => raw.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec_with_limit(raw, size as usize)
                .map_err(|e| format!("corrupt deflate stream in {name}: {e:?}"))?,
            other => return Err(format!("unsupported compression method {other} for {name}")),
        };
        if data.len() as u64 != size || crc32fast::hash(&data) != crc {
            return Err(format!("checksum mismatch for {name}"));
        }
        entries.push(Entry { path, is_dir, mode, data });
    }
    Ok(entries)
}

/// A relative path with no `..`, root or prefix components.
fn safe_path(name: &str) -> Option<PathBuf> {
    let path = Path::new(name.trim_end_matches('/'));
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Build a stored (uncompressed) archive, for tests.
    pub fn stored_zip(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, mode) in files {
            let offset = out.len() as u32;
            let crc = crc32fast::hash(data);
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&(mode << 16).to_le_bytes());
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_stored_entries_with_modes() {
        let zip = stored_zip(&[("a.py", b"print(1)", 0o100644), ("bin/bootstrap", b"#!/bin/sh", 0o100755)]);
        let entries = read_all(&zip, 1 << 20).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].path, PathBuf::from("a.py"));
        assert_eq!(entries[1].mode, Some(0o100755));
        assert_eq!(entries[1].data, b"#!/bin/sh");
    }

    #[test]
    fn refuses_escapes_and_garbage() {
        assert!(read_all(&stored_zip(&[("../x", b"1", 0o644)]), 1 << 20).is_err());
        assert!(read_all(&stored_zip(&[("/etc/x", b"1", 0o644)]), 1 << 20).is_err());
        assert!(read_all(b"not a zip at all, not at all, no", 1 << 20).is_err());
        assert!(read_all(&stored_zip(&[("big", &[0; 100], 0o644)]), 10).is_err());
    }
}
