//! Applying a logged write to the state: each record's vector, code, metadata, payload-index
//! entries and id, for a write being committed (`write.rs`) or replayed (`persist.rs`).

use super::State;
use super::state::Written;
use crate::ops::{MetadataChange, Op};

impl State {
    /// Applies a validated (or replayed) op and registers new rows with the index; returns
    /// the rows the caller must link. Fails only if `op` does not fit the state, which for a
    /// replayed op means the log and the checkpoint disagree.
    pub(super) fn apply(&mut self, op: &Op, dim: usize) -> std::result::Result<Written, String> {
        self.apply_items(op, 0..op.len(), dim)
    }

    /// [`State::apply`] of the op's items in `items` only: a large batch is applied in slices
    /// so that readers (and synchronous calls such as `stats()`) wait for one slice at most.
    pub(super) fn apply_items(
        &mut self,
        op: &Op,
        items: std::ops::Range<usize>,
        dim: usize,
    ) -> std::result::Result<Written, String> {
        let io = |e: crate::error::Error| e.to_string();
        let appends = self.appends_on_update();
        let mut written = Written { rows: Vec::new(), fields: vec![Vec::new(); self.fields.len()] };
        match op {
            Op::Put { upsert, ids, vectors, metadata, named } => {
                // Per named field of the collection: each record's vector of it, if it has one.
                let mut per_field: Vec<Vec<Option<&[f32]>>> = vec![Vec::new(); self.fields.len()];
                for block in named {
                    let f = self.field_position(&block.field)?;
                    per_field[f] = block.per_record().collect();
                }
                for i in items {
                    let (id, meta) = (&ids[i], metadata[i].as_deref());
                    let v = &vectors[i * dim..(i + 1) * dim];
                    let (old, row) = match self.ids.get(id) {
                        Some(_) if !*upsert => return Err(format!("insert of existing id '{id}'")),
                        Some(row) if !appends => {
                            self.rewrite(row, Some(v), Some(meta)).map_err(io)?;
                            (Some(row), row)
                        }
                        Some(old) => {
                            // The record's fields follow below (kept in place where they can).
                            self.remove(id);
                            let row = self.append(id, v, meta).map_err(io)?;
                            written.rows.push(row);
                            (Some(old), row)
                        }
                        None => {
                            let row = self.append(id, v, meta).map_err(io)?;
                            written.rows.push(row);
                            (None, row)
                        }
                    };
                    // The record is replaced whole: a field it does not carry now, it lacks.
                    for (f, field) in self.fields.iter_mut().enumerate() {
                        match (old, per_field[f].get(i).copied().flatten()) {
                            (old, Some(v)) => {
                                if let Some(old) = old.filter(|&o| o != row) {
                                    field.moved(old, row);
                                }
                                // In place (flat), or a new row of the field (HNSW).
                                written.fields[f].extend(field.set(row, v).map_err(io)?);
                            }
                            (Some(old), None) => field.remove(old),
                            (None, None) => {}
                        }
                    }
                }
            }
            Op::Update { items: all } => {
                for item in &all[items] {
                    let row = self.ids.get(&item.id).ok_or_else(|| format!("update of missing id '{}'", item.id))?;
                    let meta = match &item.metadata {
                        MetadataChange::Keep => None,
                        MetadataChange::Set(s) => Some(Some(s.as_str())),
                        MetadataChange::Clear => Some(None),
                    };
                    let row = match &item.vector {
                        Some(v) if appends => {
                            // The record moves to a new row: its kept metadata and named
                            // vectors move with it.
                            let kept = self.metadata.text(row).map(|t| t.into_owned());
                            let meta = meta.unwrap_or(kept.as_deref());
                            self.remove(&item.id);
                            let moved = self.append(&item.id, v, meta).map_err(io)?;
                            written.rows.push(moved);
                            for field in &mut self.fields {
                                field.moved(row, moved);
                            }
                            moved
                        }
                        v => {
                            self.rewrite(row, v.as_deref(), meta).map_err(io)?;
                            row
                        }
                    };
                    for (name, v) in &item.named {
                        let f = self.field_position(name)?;
                        match v {
                            Some(v) => written.fields[f].extend(self.fields[f].set(row, v).map_err(io)?),
                            None => self.fields[f].remove(row),
                        }
                    }
                }
            }
            Op::Delete { ids } => {
                for id in &ids[items] {
                    self.remove_record(id).ok_or_else(|| format!("delete of missing id '{id}'"))?;
                }
            }
            // Not an item write: `optimize()` runs it, and so does replay.
            Op::Repair => return Err("a repair has no records to apply".into()),
        }
        self.register_rows().map_err(|e| e.to_string())?;
        Ok(written)
    }

    /// Rewrites a live row in place: its vector (and code) when given, its metadata when given
    /// (`Some(None)` clears it), and its payload-index entries.
    fn rewrite(&mut self, row: u32, v: Option<&[f32]>, meta: Option<Option<&str>>) -> crate::error::Result<()> {
        if let Some(v) = v {
            self.space.set_row(row, v)?;
        }
        let Some(meta) = meta else { return Ok(()) };
        if let Some(f) = &mut self.filterable {
            f.remove(row, self.metadata.text(row).as_deref());
            f.insert(row, meta);
        }
        self.metadata.set(row, meta)
    }

    /// Gives `id` a row (a reclaimed one, or a new one at the end) holding `v` and `meta`.
    fn append(&mut self, id: &str, v: &[f32], meta: Option<&str>) -> crate::error::Result<u32> {
        let row = self.ids.push(id);
        self.metadata.set(row, meta)?;
        self.space.set_row(row, v)?;
        if let Some(f) = &mut self.filterable {
            f.insert(row, meta);
        }
        Ok(row)
    }

    /// Position of named vector field `name` in `fields` (an error naming it when there is
    /// none: the op does not fit the state).
    fn field_position(&self, name: &str) -> std::result::Result<usize, String> {
        self.fields.iter().position(|f| f.name == name).ok_or_else(|| format!("no vector field '{name}'"))
    }

    /// Deletes the record of `id`: its row and its named fields' vectors.
    fn remove_record(&mut self, id: &str) -> Option<u32> {
        let row = self.remove(id)?;
        for field in &mut self.fields {
            field.remove(row);
        }
        Some(row)
    }

    /// Tombstones the row of `id` (its named fields' vectors are the caller's).
    fn remove(&mut self, id: &str) -> Option<u32> {
        let row = self.ids.get(id)?;
        if let Some(f) = &mut self.filterable {
            f.remove(row, self.metadata.text(row).as_deref());
        }
        self.ids.remove(id);
        // Cannot fail: clearing a row writes nothing to the record file.
        let _ = self.metadata.set(row, None);
        Some(row)
    }
}
