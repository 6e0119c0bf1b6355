//! Durable file operations.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Flushes a directory entry table so that renames and creations inside it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Replaces `path` with `bytes` atomically: write a temp file beside it, fsync, rename over,
/// fsync the directory. A crash leaves either the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    fs::rename(&tmp, path).at(path)?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Creates `dir` and its parents.
pub fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).at(dir)
}

/// Bytes resident in this process of the mappings starting at `starts` (their `Rss` in
/// `/proc/self/smaps`; 0 where that file does not exist). Page-cache pages the process no
/// longer maps do not count: they belong to the kernel and are reclaimable.
pub fn resident_bytes_of(starts: &[usize]) -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return 0 };
    let mut resident = 0;
    let mut in_mapping = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ')
            && let Some((start, _)) = range.split_once('-')
            && let Ok(start) = usize::from_str_radix(start, 16)
        {
            in_mapping = starts.contains(&start);
        } else if in_mapping && let Some(kb) = line.strip_prefix("Rss:") {
            resident += kb.trim().trim_end_matches("kB").trim().parse::<usize>().unwrap_or(0) * 1024;
        }
    }
    resident
}
