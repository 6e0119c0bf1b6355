//! `verify()`: every file of a collection read back and checked, like SQLite's
//! `integrity_check`. Each concern checks its own files ([`super::format::Persistent`]); here
//! the manifest and the WAL against their own checksums, and the vector and link chunks
//! against the per-chunk CRCs the last checkpoint recorded in the manifest.

use libravdb_storage::Wal;

use super::Collection;
use super::format::{VerifyReport, WAL_FILE, manifest_path};
use super::persist::read_manifest;
use crate::error::{Error, Result};

impl Collection {
    /// Reads every file of the collection and reports each damaged one (as SQLite's
    /// `integrity_check`): the manifest, the current checkpoint's segments and the WAL
    /// (their checksums), the logs kept for the change feed, and the vector and link chunks against the checksums the last
    /// checkpoint recorded. Searches go on meanwhile; writes wait. In memory: nothing to read.
    pub fn verify(&self) -> Result<VerifyReport> {
        let w = self.writer.lock();
        let st = self.read_state()?;
        let mut report = VerifyReport::default();
        let Some(dir) = &self.dir else { return Ok(report) };
        report.file(manifest_path(dir), read_manifest(dir).map(drop));
        st.check(dir, w.generation, &mut report);
        let wal = dir.join(WAL_FILE);
        report.file(wal.clone(), Wal::read_records(&wal).map(drop).map_err(Error::from));
        super::changes::check_archives(dir, &mut report);
        // Linking rewrites lists across the whole graph: links are checkable only while
        // nothing has been written since the checkpoint.
        let unchanged = w.wal.as_ref().is_some_and(Wal::is_empty);
        let fields = st.fields.iter().zip(&w.fields).map(|(f, m)| (&f.space, &m.vector_crcs[..], &m.link_crcs[..]));
        for (space, vector_crcs, link_crcs) in
            std::iter::once((&st.space, &w.vector_crcs[..], &w.link_crcs[..])).chain(fields)
        {
            report.chunks(space.vectors.occupied_chunks(), space.vectors.verify(vector_crcs));
            if let Some(links) = space.index.links() {
                report
                    .chunks(links.occupied_chunks(), if unchanged { links.verify(link_crcs) } else { (0, Vec::new()) });
            }
        }
        Ok(report)
    }
}
