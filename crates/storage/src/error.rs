use std::path::PathBuf;

/// Errors raised by the storage layer. Every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is corrupted: {reason}")]
    Corrupted { path: PathBuf, reason: String },
    #[error("{path} is locked by another open database (this or another process); close it first")]
    Locked { path: PathBuf },
    #[error("{path} has format version {found}, this build reads versions up to {supported}")]
    UnsupportedVersion { path: PathBuf, found: u32, supported: u32 },
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Attaches the path to an `io::Error` (`fs::rename(a, b).at(a)?`).
pub trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| StorageError::Io { path: path.to_path_buf(), source })
    }
}
