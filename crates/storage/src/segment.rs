//! Small checksummed files (id tables, metadata, manifest), written whole and atomically.
//!
//! Layout: magic (8 bytes) | format version (u32) | body length (u64) | CRC32 of body (u32) |
//! body. A wrong magic, a version newer than this build, a short file or a CRC mismatch is
//! reported as corruption naming the file.

use std::fs;
use std::path::Path;

use crate::error::{IoContext, Result, StorageError};
use crate::fsutil::write_atomic;

const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Writes `body` to `path` atomically under a checksummed header.
pub fn write(path: &Path, magic: &[u8; 8], version: u32, body: &[u8]) -> Result<()> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    bytes.extend_from_slice(body);
    write_atomic(path, &bytes)
}

/// Reads and verifies a file written by [`write`]; returns its version and body.
/// `max_version` is the newest format this build understands.
/// A missing file is corruption too: whoever reads a segment was told by the manifest (or
/// is the manifest) that it exists.
pub fn read(path: &Path, magic: &[u8; 8], max_version: u32) -> Result<(u32, Vec<u8>)> {
    let corrupted = |reason: String| StorageError::Corrupted { path: path.to_path_buf(), reason };
    let mut bytes = match fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(corrupted("the file is missing".into())),
        read => read.at(path)?,
    };
    if bytes.len() < HEADER_LEN {
        return Err(corrupted(format!("{} bytes, shorter than the {HEADER_LEN}-byte header", bytes.len())));
    }
    if &bytes[..8] != magic {
        return Err(corrupted("wrong magic number: not a file of this kind".into()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > max_version {
        return Err(StorageError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: max_version,
        });
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    if len != (bytes.len() - HEADER_LEN) as u64 {
        return Err(corrupted(format!("header says {len} body bytes, file has {}", bytes.len() - HEADER_LEN)));
    }
    let body = bytes.split_off(HEADER_LEN);
    if crc32fast::hash(&body) != crc {
        return Err(corrupted("checksum mismatch".into()));
    }
    Ok((version, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_kind_of_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ids.bin");
        write(&p, b"LVDBTEST", 1, b"hello world").unwrap();
        assert_eq!(read(&p, b"LVDBTEST", 1).unwrap(), (1, b"hello world".to_vec()));

        assert!(matches!(read(&p, b"LVDBELSE", 1), Err(StorageError::Corrupted { .. })));
        assert!(matches!(read(&p, b"LVDBTEST", 0), Err(StorageError::UnsupportedVersion { found: 1, .. })));

        let mut bytes = fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&p, &bytes).unwrap();
        let err = read(&p, b"LVDBTEST", 1).unwrap_err();
        assert!(err.to_string().contains("ids.bin") && err.to_string().contains("checksum"), "{err}");

        fs::write(&p, &bytes[..10]).unwrap();
        assert!(matches!(read(&p, b"LVDBTEST", 1), Err(StorageError::Corrupted { .. })));

        fs::remove_file(&p).unwrap();
        let err = read(&p, b"LVDBTEST", 1).unwrap_err();
        assert!(matches!(err, StorageError::Corrupted { .. }) && err.to_string().contains("missing"), "{err}");
    }
}
