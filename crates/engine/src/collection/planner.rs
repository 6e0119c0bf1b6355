//! The planner of filtered searches: it picks how a filtered search runs from what the
//! payload indexes (`payload.rs`) count (DESIGN §6).
//!
//! Plans: `exact` computes the distance to every allowed row (chosen when that costs no more
//! than the graph walk would); `graph` walks the HNSW graph through every node but returns
//! only allowed ones: it runs until its beam holds `ef` matches, visiting about
//! `ef / selectivity` nodes, and the beam widens by `1 / sqrt(selectivity)` (at most 2x);
//! `probe` scans the IVF lists nearest the query, `1 / selectivity` more of them (at most 8x),
//! returning only allowed rows; `scan` is the flat index's full scan with the filter. Filters
//! the indexes cannot answer (unindexed fields, ranges over strings) are evaluated record by
//! record.

use libravdb_filter::{Filter, matches};
use roaring::RoaringBitmap;

use super::State;
use super::payload::parse_meta;
use super::route::{PlanKind, Planned, QueryPlan, counted_plan, knob_fields, searching};

impl State {
    /// Plans a filtered search for `k` results; `breadth` is the unfiltered search's beam
    /// width (HNSW) or lists probed (IVF-PQ).
    pub(super) fn plan(&self, filter: &Filter, k: usize, breadth: usize) -> Planned {
        let live = self.ids.live_count();
        // A filter that matches every record or none is recognised from a count where one is
        // possible, without building its row set (1.7 ms for a range over all of 1M rows).
        let counted = self.filterable.as_ref().and_then(|f| f.index.count(filter)).map(|n| n as usize);
        let answered = match counted {
            Some(n) if n == 0 || n == live => Some((None, n)),
            _ => self.filterable.as_ref().and_then(|f| f.index.evaluate(filter, &f.live)).map(|rows| {
                let n = rows.len() as usize;
                (Some(rows), n)
            }),
        };
        let Some((allowed, estimate)) = answered else {
            let missing: Vec<&str> = filter
                .fields()
                .into_iter()
                .filter(|n| self.filterable.as_ref().is_none_or(|f| !f.index.has(n)))
                .collect();
            let building = self.filterable.as_ref().and_then(|f| f.building.as_ref()).map(|b| b.name.as_str());
            let why = if missing.is_empty() {
                "an operator the indexes cannot answer (a range over strings)".to_owned()
            } else if let Some(name) = building.filter(|b| missing.contains(b)) {
                format!("field {name} being added to the schema (its index is not ready yet)")
            } else {
                format!("fields without a payload index ({}: text, or outside the schema)", missing.join(", "))
            };
            let index = self.space.index.active();
            let (plan, (ef, nprobe)) = match index.unplanned_filter_breadth(k, breadth) {
                Some(b) => (searching(index), knob_fields(index, b)),
                None => (PlanKind::Scan, (None, None)),
            };
            return Planned {
                allowed: None,
                plan: QueryPlan {
                    plan,
                    estimate: None,
                    live,
                    selectivity: None,
                    ef,
                    nprobe,
                    reason: format!("{why}: evaluated record by record"),
                },
            };
        };
        let plan = counted_plan(&self.space, k, breadth, estimate, live);
        // Every record matches: a plain search, no set to test rows against.
        let allowed = allowed.filter(|_| plan.plan != PlanKind::Unfiltered);
        Planned { allowed, plan }
    }

    /// Live rows passing `filter`, ascending (payload indexes when they can answer).
    pub(super) fn matching_rows(&self, filter: &Filter) -> Vec<u32> {
        self.matching_set(filter).iter().collect()
    }

    /// [`State::matching_rows`] as a set.
    pub(super) fn matching_set(&self, filter: &Filter) -> RoaringBitmap {
        if let Some(allowed) = self.filterable.as_ref().and_then(|f| f.index.evaluate(filter, &f.live)) {
            return allowed;
        }
        (0..self.ids.rows() as u32).filter(|&r| self.row_matches(filter, r)).collect()
    }

    /// Whether `row` passes `filter`, evaluated on its stored metadata.
    pub(super) fn row_matches(&self, filter: &Filter, row: u32) -> bool {
        // A damaged record matches nothing (reading it fails; `verify()` reports it).
        self.ids.is_live(row)
            && self.metadata.checked(row).is_ok_and(|text| matches(filter, parse_meta(text.as_deref()).as_ref()))
    }
}

impl super::Collection {
    /// Of `fields`, those that no live record's metadata holds (looked up as filters do).
    /// Reads every record's metadata until all are found: for telling a misspelt filter
    /// field from one that merely matched nothing, not for hot paths.
    pub fn fields_never_seen(&self, fields: &[String]) -> crate::error::Result<Vec<String>> {
        let st = self.read_state()?;
        let mut missing: Vec<&String> = fields.iter().collect();
        for row in 0..st.ids.rows() as u32 {
            if missing.is_empty() {
                break;
            }
            if !st.ids.is_live(row) {
                continue;
            }
            if let Some(meta) = parse_meta(st.metadata.text(row).as_deref()) {
                missing.retain(|f| libravdb_filter::eval::lookup(&meta, f).is_none());
            }
        }
        Ok(missing.into_iter().cloned().collect())
    }
}
