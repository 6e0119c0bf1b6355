//! `verify()`: every file of a collection read back and checked, like SQLite's
//! `integrity_check`. Segments, manifest and WAL against their own checksums; vector and
//! link chunks against the per-chunk CRCs the last checkpoint recorded.

use std::path::PathBuf;

use libravdb_storage::{StorageError, Wal, segment};

use super::Collection;
use super::persist::{
    FORMAT_VERSION, GRAPH_MAGIC, IVF_MAGIC, PAYLOAD_MAGIC, QUANT_MAGIC, ROWS_MAGIC, TEXT_MAGIC, WAL_FILE, graph_path,
    ivf_path, manifest_path, payload_path, quant_path, read_manifest, rows_path, text_path,
};
use crate::error::{Error, Result};

/// One damaged file found by [`Collection::verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    pub file: PathBuf,
    pub reason: String,
}

/// What [`Collection::verify`] read and found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    /// Manifest, segments and WAL read whole and checked.
    pub files_checked: usize,
    /// Vector and link chunks whose bytes matched (or not) their checkpoint checksum.
    pub chunks_checked: usize,
    /// Chunks written since the last checkpoint (or from a build that kept no checksums):
    /// their files are checked against the next checkpoint's checksums.
    pub chunks_skipped: usize,
    pub damaged: Vec<Damage>,
}

impl Collection {
    /// Reads every file of the collection and reports each damaged one (as SQLite's
    /// `integrity_check`): the manifest, the current checkpoint's segments and the WAL
    /// (their checksums), and the vector and link chunks against the checksums the last
    /// checkpoint recorded. Searches go on meanwhile; writes wait. In memory: nothing to read.
    pub fn verify(&self) -> Result<VerifyReport> {
        let w = self.writer.lock();
        let st = self.read_state()?;
        let mut report = VerifyReport::default();
        let Some(dir) = &self.dir else { return Ok(report) };
        let mut file = |path: PathBuf, outcome: Result<()>| {
            report.files_checked += 1;
            if let Err(e) = outcome {
                let reason = match e {
                    Error::Storage(StorageError::Corrupted { reason, .. }) => reason,
                    other => other.to_string(),
                };
                report.damaged.push(Damage { file: path, reason });
            }
        };
        file(manifest_path(dir), read_manifest(dir).map(drop));
        let g = w.generation;
        for (path, magic) in [
            (rows_path(dir, g), ROWS_MAGIC),
            (graph_path(dir, g), GRAPH_MAGIC),
            (quant_path(dir, g), QUANT_MAGIC),
            (payload_path(dir, g), PAYLOAD_MAGIC),
            (ivf_path(dir, g), IVF_MAGIC),
            (text_path(dir, g), TEXT_MAGIC),
        ] {
            // Which segments a checkpoint writes depends on the configuration; the rows file
            // it always writes.
            if path.exists() || (g > 0 && magic == ROWS_MAGIC) {
                let outcome = segment::read(&path, magic, FORMAT_VERSION).map(drop).map_err(Error::from);
                file(path, outcome);
            }
        }
        let wal = dir.join(WAL_FILE);
        file(wal.clone(), Wal::read_records(&wal).map(drop).map_err(Error::from));
        if let Some(path) = st.metadata.path() {
            // Every live record's metadata must read back as the JSON text it was written as.
            let outcome = match st.metadata.damaged(st.ids.live_rows().iter()) {
                Some(row) => Err(super::persist::corrupted(
                    path.to_path_buf(),
                    format!("the metadata of record '{}' does not read back as JSON", st.ids.id(row)),
                )),
                None => Ok(()),
            };
            file(path.to_path_buf(), outcome);
        }

        let mut chunks = |table_chunks: usize, (checked, damaged): (usize, Vec<PathBuf>)| {
            report.chunks_checked += checked;
            report.chunks_skipped += table_chunks - checked;
            for file in damaged {
                report
                    .damaged
                    .push(Damage { file, reason: "chunk contents differ from the checkpoint's checksum".into() });
            }
        };
        chunks(st.vectors.occupied_chunks(), st.vectors.verify(&w.vector_crcs));
        if let Some(links) = st.index.links() {
            // Linking rewrites lists across the whole graph: links are checkable only while
            // nothing has been written since the checkpoint.
            let unchanged = w.wal.as_ref().is_some_and(Wal::is_empty);
            chunks(links.occupied_chunks(), if unchanged { links.verify(&w.link_crcs) } else { (0, Vec::new()) });
        }
        Ok(report)
    }
}
