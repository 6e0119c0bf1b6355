//! Schema changes on a live collection (DESIGN §13): `add_field` indexes a new payload, text
//! or sparse field over the records already stored, beside the serving indexes, while
//! searches and writes go on; `drop_field` removes one.
//!
//! Adding a field:
//! 1. Under the writer lock: check the field against the configuration and start its index
//!    ([`Building`]) covering no row. From then on writes are checked against the field's
//!    type, and writes to covered rows keep its index in step.
//! 2. Rows are indexed in slices of [`SLICE`], each under the state's write lock (a search
//!    waits for one slice at most; writes go on between slices). A stored value of another
//!    type ends the change with `ERR_SCHEMA` naming the record, and nothing has changed.
//! 3. Under the writer lock: the last rows; then the field joins the serving indexes and the
//!    configuration, and a checkpoint commits both (the manifest names the new schema).
//!
//! Until step 3 the planner does not see the field (filters on it are evaluated record by
//! record, and `explain()` says its index is being built), no checkpoint saves its index,
//! and an abort, an error or a crash leaves the schema as it was. Dropping a field commits
//! the same way, at once. Values stay in the records' metadata either way: a schema field
//! is a type check and an index over them.

use std::sync::atomic::Ordering;

use libravdb_filter::FieldType;

use super::payload::{Building, Filterable};
use super::{Collection, State};
use crate::cancel::Cancel;
use crate::error::{Error, Result};

/// Rows indexed per hold of the state's write lock (about a millisecond of JSON parsing).
const SLICE: u32 = 1024;

impl Collection {
    /// Adds field `name` of type `kind` to the schema (`text_options`: a text field's options
    /// as JSON) and indexes it over the stored records; returns once the planner uses it.
    pub fn add_field(&self, name: &str, kind: &str, text_options: Option<&str>, cancel: &Cancel) -> Result<()> {
        self.check_writable()?;
        // One schema change or rebuild at a time; closing waits for it.
        let _only = self.rebuild_lock.lock();
        self.check_open()?;
        {
            let _w = self.writer.lock();
            let config = self.config().with_field(name, kind, text_options)?;
            let building = Building::new(&config, name).expect("the field was just added");
            let mut st = self.state.write();
            let live = st.ids.live_rows();
            let current = self.config();
            let f = st.filterable.get_or_insert_with(|| Filterable { live, ..Filterable::new(&current) });
            f.building = Some(building);
        }
        let result = self.index_new_field(name, kind, text_options, cancel);
        if result.is_err() {
            let schemaless = self.config.read().schema.is_empty();
            let mut st = self.state.write();
            if schemaless {
                st.filterable = None;
            } else if let Some(f) = &mut st.filterable {
                f.building = None;
            }
        }
        result
    }

    /// Steps 2 and 3 of [`Collection::add_field`].
    fn index_new_field(&self, name: &str, kind: &str, text_options: Option<&str>, cancel: &Cancel) -> Result<()> {
        loop {
            cancel.check()?;
            self.background.check()?; // closing
            if self.index_slice(name, false)? {
                break;
            }
        }
        let mut w = self.writer.lock();
        self.check_open()?;
        let config = self.config().with_field(name, kind, text_options)?;
        self.index_slice(name, true)?;
        self.state.write().filterable.as_mut().expect("a field is being built").finish_building();
        *self.config.write() = config;
        self.schema_version.fetch_add(1, Ordering::AcqRel);
        self.account(&self.state.read()); // the new index's memory
        self.force_checkpoint_locked(&mut w)
    }

    /// Indexes the next slice of rows (`all`: every row left) for the field being added;
    /// true when it covers every row there is.
    fn index_slice(&self, name: &str, all: bool) -> Result<bool> {
        let mut st = self.state.write();
        self.check_open()?;
        let rows = st.ids.rows() as u32;
        let upto = building(&st).upto;
        let end = if all { rows } else { upto.saturating_add(SLICE).min(rows) };
        for row in upto..end {
            let meta = if st.ids.is_live(row) { st.metadata_of(row)? } else { None };
            let b = st.filterable.as_mut().and_then(|f| f.building.as_mut()).expect("a field is being built");
            b.index_next(meta.as_deref()).map_err(|why| {
                Error::Schema(format!(
                    "cannot add schema field '{name}': record '{}' has {why}; change or clear that value, then add the field again",
                    st.ids.id(row)
                ))
            })?;
        }
        Ok(end == rows)
    }

    /// Removes field `name` from the schema and drops its index (the records keep their
    /// values); `ERR_INVALID_ARGUMENT` when the schema has no such field.
    pub fn drop_field(&self, name: &str) -> Result<()> {
        self.check_writable()?;
        let _only = self.rebuild_lock.lock();
        self.check_open()?;
        let mut w = self.writer.lock();
        let config = self.config().without_field(name)?;
        {
            let mut st = self.state.write();
            if config.schema.is_empty() {
                st.filterable = None;
            } else if let Some(f) = &mut st.filterable {
                f.index.drop_field(name);
                f.text.drop_field(name);
            }
        }
        *self.config.write() = config;
        self.schema_version.fetch_add(1, Ordering::AcqRel);
        self.account(&self.state.read());
        self.force_checkpoint_locked(&mut w)
    }

    /// The fields writes are checked against: the schema's, and one being added. Read under
    /// the writer lock (which a field's addition and its commit hold).
    pub(super) fn checked_fields(&self, st: &State) -> Vec<(String, FieldType)> {
        let mut fields = self.config.read().field_types();
        if let Some(b) = st.filterable.as_ref().and_then(|f| f.building.as_ref()) {
            fields.push((b.name.clone(), b.kind));
        }
        fields
    }
}

/// The field being added.
fn building(st: &State) -> &Building {
    st.filterable.as_ref().and_then(|f| f.building.as_ref()).expect("a field is being built")
}
