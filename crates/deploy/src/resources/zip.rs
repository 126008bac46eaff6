//! A minimal zip writer (stored, no compression) for function code. Code is
//! zipped in memory and handed to Lambda on the same machine, where
//! compressing it would only cost time; a zip crate would bring deflate for
//! nothing. File modes are kept so a `bootstrap` stays executable.

use std::path::Path;

/// One file to put in the archive.
pub struct Entry {
    pub name: String,
    pub data: Vec<u8>,
    /// Unix permission bits.
    pub mode: u32,
}

/// Zip every file under a folder (see `sam::code::list_files` for what is skipped).
pub fn zip_folder(root: &Path) -> std::io::Result<Vec<u8>> {
    let mut entries = Vec::new();
    for (name, path) in crate::sam::code::list_files(root)? {
        let data = std::fs::read(&path)?;
        entries.push(Entry { name, data, mode: file_mode(&path) });
    }
    Ok(write(&entries))
}

#[cfg(unix)]
fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o644)
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> u32 {
    0o644
}

/// The bytes of a zip archive holding `entries`.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    // 1980-01-01 00:00, zip's epoch: archives of the same files are identical.
    let (time, date) = (0u16, (1u16 << 5) | 1);
    for entry in entries {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(&entry.data);
        let size = entry.data.len() as u32;
        let name = entry.name.as_bytes();
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&time.to_le_bytes());
        out.extend_from_slice(&date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&entry.data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by Unix
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&time.to_le_bytes());
        central.extend_from_slice(&date.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        central.extend_from_slice(&((0o100000 | entry.mode) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let central_offset = out.len() as u32;
    let count = entries.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reads_what_we_write() {
        let bytes = write(&[
            Entry { name: "app.py".into(), data: b"print('hi')\n".to_vec(), mode: 0o644 },
            Entry { name: "lib/bootstrap".into(), data: b"#!/bin/sh\n".to_vec(), mode: 0o755 },
        ]);
        let dir = std::env::temp_dir().join(format!("nimbus-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.zip");
        std::fs::write(&path, &bytes).unwrap();
        let script = "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(','.join(i.filename+':'+oct(i.external_attr>>16 & 0o777) for i in z.infolist()))\nprint(z.read('app.py').decode(), end='')";
        match std::process::Command::new("python3").arg("-c").arg(script).arg(&path).output() {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(text.starts_with("app.py:0o644,lib/bootstrap:0o755\nprint('hi')"), "{text}");
            }
            // No python on this machine: the structure checks below still run.
            _ => {}
        }
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        assert_eq!(&bytes[bytes.len() - 22..bytes.len() - 18], b"PK\x05\x06");
        std::fs::remove_dir_all(&dir).ok();
    }
}
