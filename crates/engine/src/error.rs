//! The engine's error type and the stable codes the JS API exposes.

use libravdb_storage::StorageError;

/// Stable error codes, as seen by JS (`err.code`). The list is exported to the binding and a
/// test checks it against `src/errors.ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidArgument,
    DimensionMismatch,
    Schema,
    NotFound,
    AlreadyExists,
    DuplicateId,
    MemoryLimit,
    Quantization,
    Corrupted,
    Locked,
    ReadOnly,
    Closed,
    Aborted,
    Io,
    Internal,
    ChangesExpired,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::InvalidArgument,
        ErrorCode::DimensionMismatch,
        ErrorCode::Schema,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::DuplicateId,
        ErrorCode::MemoryLimit,
        ErrorCode::Quantization,
        ErrorCode::Corrupted,
        ErrorCode::Locked,
        ErrorCode::ReadOnly,
        ErrorCode::Closed,
        ErrorCode::Aborted,
        ErrorCode::Io,
        ErrorCode::Internal,
        ErrorCode::ChangesExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "ERR_INVALID_ARGUMENT",
            ErrorCode::DimensionMismatch => "ERR_DIMENSION_MISMATCH",
            ErrorCode::Schema => "ERR_SCHEMA",
            ErrorCode::NotFound => "ERR_NOT_FOUND",
            ErrorCode::AlreadyExists => "ERR_ALREADY_EXISTS",
            ErrorCode::DuplicateId => "ERR_DUPLICATE_ID",
            ErrorCode::MemoryLimit => "ERR_MEMORY_LIMIT",
            ErrorCode::Quantization => "ERR_QUANTIZATION",
            ErrorCode::Corrupted => "ERR_CORRUPTED",
            ErrorCode::Locked => "ERR_LOCKED",
            ErrorCode::ReadOnly => "ERR_READ_ONLY",
            ErrorCode::Closed => "ERR_CLOSED",
            ErrorCode::Aborted => "ERR_ABORTED",
            ErrorCode::Io => "ERR_IO",
            ErrorCode::Internal => "ERR_INTERNAL",
            ErrorCode::ChangesExpired => "ERR_CHANGES_EXPIRED",
        }
    }
}

/// An engine error: what went wrong, with the value involved and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed input or configuration (user error).
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{what} has dimension {got}, the collection's dimension is {expected}")]
    DimensionMismatch { what: String, expected: usize, got: usize },
    #[error("{0}")]
    Schema(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("id '{id}' {reason}")]
    DuplicateId { id: String, reason: &'static str },
    #[error("{0}")]
    Closed(String),
    /// A write through a read-only handle.
    #[error("{0}")]
    ReadOnly(String),
    #[error("the operation was cancelled before it committed; nothing was changed")]
    Aborted,
    /// A write that would pass the database's or the collection's memory limit.
    #[error("{0}")]
    MemoryLimit(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A bug: an invariant broke or a panic was caught.
    #[error("internal error: {0}")]
    Internal(String),
    /// A change-feed position older than the changes the collection still keeps.
    #[error("{0}")]
    ChangesExpired(String),
    /// An item of a batch, rejected with its code, raised as the error of a larger operation
    /// (an import stops at its first invalid row).
    #[error("{message}")]
    Item { code: ErrorCode, message: String },
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::DimensionMismatch { .. } => ErrorCode::DimensionMismatch,
            Error::Schema(_) => ErrorCode::Schema,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Error::DuplicateId { .. } => ErrorCode::DuplicateId,
            Error::Closed(_) => ErrorCode::Closed,
            Error::ReadOnly(_) => ErrorCode::ReadOnly,
            Error::Aborted => ErrorCode::Aborted,
            Error::MemoryLimit(_) => ErrorCode::MemoryLimit,
            Error::Storage(StorageError::Corrupted { .. } | StorageError::UnsupportedVersion { .. }) => {
                ErrorCode::Corrupted
            }
            Error::Storage(StorageError::Locked { .. }) => ErrorCode::Locked,
            Error::Storage(StorageError::Io { .. }) => ErrorCode::Io,
            Error::Internal(_) => ErrorCode::Internal,
            Error::ChangesExpired(_) => ErrorCode::ChangesExpired,
            Error::Item { code, .. } => *code,
        }
    }

    /// An `ERR_INVALID_ARGUMENT` error.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
