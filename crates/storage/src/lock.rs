//! One writer per directory: an exclusive advisory lock (flock) on `<dir>/LOCK`.
//!
//! The lock belongs to the open file description, so a second open from the same process
//! fails too, and the kernel releases it when the process dies (even by SIGKILL).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, StorageError};

/// Holds the directory lock until dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock on `dir`, or fails with [`StorageError::Locked`] at once.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).at(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StorageError::Locked { path: dir.to_path_buf() }),
            Err(TryLockError::Error(e)) => return Err(e).at(&path),
        }
        // The holder's pid, for people looking at a locked directory.
        file.set_len(0).at(&path)?;
        writeln!(file, "{}", std::process::id()).at(&path)?;
        Ok(DirLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        assert!(matches!(DirLock::acquire(dir.path()), Err(StorageError::Locked { .. })));
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
