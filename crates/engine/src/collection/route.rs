//! How one vector space's search runs: the plan kinds, the route an index takes for a
//! counted selectivity, and the search of the allowed rows as planned. Below the planner
//! (which counts matches over the records: planner.rs) and below the named fields (which
//! count them among the records that have the field: fields.rs).

use libravdb_core::index::{BreadthKnob, FilteredRoute, VectorIndex, Walk};
use libravdb_core::{FlatIndex, Metric, Neighbor, VectorRows};
use roaring::RoaringBitmap;

use super::space::VectorSpace;

/// The strategy of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// No filter, or every record matches: a plain search.
    Unfiltered,
    /// Distances to the matching records only.
    Exact,
    /// HNSW walk returning only matches.
    Graph,
    /// IVF-PQ probing more lists, returning only matches.
    Probe,
    /// The index searches as usual and the filter is evaluated record by record.
    Scan,
    /// No record matches.
    Empty,
}

impl PlanKind {
    /// The name `explain()` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanKind::Unfiltered => "unfiltered",
            PlanKind::Exact => "exact",
            PlanKind::Graph => "graph",
            PlanKind::Probe => "probe",
            PlanKind::Scan => "scan",
            PlanKind::Empty => "empty",
        }
    }
}

/// How a filtered search will run, and why (`explain()`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub plan: PlanKind,
    /// Matching rows counted by the payload indexes (None: not answerable by them).
    pub estimate: Option<usize>,
    pub live: usize,
    /// estimate / live.
    pub selectivity: Option<f64>,
    /// Beam width of a graph walk.
    pub ef: Option<usize>,
    /// IVF lists probed.
    pub nprobe: Option<usize>,
    pub reason: String,
}

impl QueryPlan {
    /// How wide the planned search runs (beam width or lists probed), if the plan says.
    pub(crate) fn breadth(&self) -> Option<usize> {
        self.ef.or(self.nprobe)
    }
}

/// The plan of a search that runs the index (rather than scoring matches directly).
pub(super) fn searching<V: VectorRows + ?Sized>(index: &dyn VectorIndex<V>) -> PlanKind {
    match index.breadth_knob() {
        Some(BreadthKnob::EfSearch) => PlanKind::Graph,
        Some(BreadthKnob::Nprobe) => PlanKind::Probe,
        None => PlanKind::Scan,
    }
}

/// `breadth` as the plan reports it: `(ef, nprobe)`.
pub(super) fn knob_fields<V: VectorRows + ?Sized>(
    index: &dyn VectorIndex<V>,
    breadth: usize,
) -> (Option<usize>, Option<usize>) {
    match index.breadth_knob() {
        Some(BreadthKnob::EfSearch) => (Some(breadth), None),
        Some(BreadthKnob::Nprobe) => (None, Some(breadth)),
        None => (None, None),
    }
}

impl QueryPlan {
    /// The plan of a search without a filter over `live` rows of `space`.
    pub(super) fn unfiltered(space: &VectorSpace, breadth: usize, live: usize) -> QueryPlan {
        let (ef, nprobe) = knob_fields(space.index.active(), breadth);
        QueryPlan {
            plan: PlanKind::Unfiltered,
            estimate: Some(live),
            live,
            selectivity: Some(1.0),
            ef,
            nprobe,
            reason: "no filter".into(),
        }
    }
}

/// The plan of a search of `space` for `k` results when `estimate` of its `live` rows match
/// (counted): none, all, or the index's route for that selectivity (`breadth`: the
/// unfiltered search's).
pub(super) fn counted_plan(space: &VectorSpace, k: usize, breadth: usize, estimate: usize, live: usize) -> QueryPlan {
    let selectivity = if live == 0 { 0.0 } else { estimate as f64 / live as f64 };
    let base = |plan, ef, reason: String| QueryPlan {
        plan,
        estimate: Some(estimate),
        live,
        selectivity: Some(selectivity),
        ef,
        nprobe: None,
        reason,
    };
    if estimate == 0 {
        return base(PlanKind::Empty, None, "no record matches".into());
    }
    if estimate == live {
        return base(PlanKind::Unfiltered, None, "every record matches: plain search".into());
    }
    let index = space.index.active();
    match index.filtered_route(k, breadth, estimate, live) {
        FilteredRoute::Exact { reason } => base(PlanKind::Exact, None, reason),
        FilteredRoute::Search { breadth, reason } => {
            let (ef, nprobe) = knob_fields(index, breadth);
            QueryPlan { nprobe, ..base(searching(index), ef, reason) }
        }
    }
}

/// The allowed rows and the plan for one filtered search.
pub(crate) struct Planned {
    pub allowed: Option<RoaringBitmap>,
    pub plan: QueryPlan,
}

/// The `k` nearest to the prepared query `q` of the rows of `space` (`rows` of them) that
/// `allowed` holds, run as `plan` says: each allowed row scored, or the index searched
/// returning only allowed rows.
pub(super) fn nearest_allowed(
    space: &VectorSpace,
    rows: usize,
    q: &[f32],
    k: usize,
    metric: Metric,
    plan: &QueryPlan,
    allowed: &RoaringBitmap,
) -> Vec<Neighbor> {
    match plan.plan {
        PlanKind::Empty => Vec::new(),
        PlanKind::Exact => FlatIndex::new(metric).search_rows(&space.vectors, allowed.iter(), q, k),
        _ => space.knn_walk(q, k, plan.breadth(), metric, rows, Walk::Through, &|r| allowed.contains(r)),
    }
}
