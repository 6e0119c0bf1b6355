//! libravdb-storage: everything that touches files.
//!
//! - [`wal`]: the write-ahead log, CRC per record, torn tails truncated on open.
//! - [`wal_reader`]: reads a log from an offset while another handle appends (the change feed).
//! - [`segment`]: small checksummed files written atomically (temp, fsync, rename).
//! - [`chunked`]: vectors in fixed-size chunk files mapped with memmap2; growth adds a chunk
//!   and never moves existing rows. All `unsafe` for mmap lives there.
//! - [`records`]: an append-only file of variable-length records (metadata), mapped.
//! - [`lock`]: one writer per directory.

pub mod chunked;
mod error;
pub mod fsutil;
pub mod lock;
pub mod records;
pub mod segment;
pub mod wal;
pub mod wal_reader;

pub use chunked::{ChunkedLinks, ChunkedTable, ChunkedVectors};
pub use error::{IoContext, Result, StorageError};
pub use lock::DirLock;
pub use records::RecordFile;
pub use wal::Wal;
pub use wal_reader::{FIRST_RECORD, WalReader};
