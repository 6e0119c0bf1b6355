//! HNSW: Hierarchical Navigable Small World graphs (Malkov & Yashunin, 2016,
//! <https://arxiv.org/abs/1603.09320>).
//!
//! Layout: level-0 neighbour lists live in a [`LinkTable`] of fixed-width rows
//! (`count, n_1 .. n_M0`, `M0 = 2M`), which the engine backs with mmap'd chunk files; the
//! sparse upper levels (a node reaches level L with probability `M^-L`) are small boxed
//! slices in RAM. Every slot is an `AtomicU32`: builders update lists under a per-node
//! mutex, searches read them without locks (the count is published with Release after the
//! ids), so searches run while a batch is being linked and always see valid row ids.
//!
//! - [`build`]: parallel insertion (rayon) with the neighbour-selection heuristic.
//! - [`search`]: greedy descent through the upper levels, beam search at level 0.
//! - [`repair`]: reconnects the neighbourhoods of deleted nodes (`optimize()`).

mod build;
mod repair;
mod search;
mod visited;

pub use search::{CodeScorer, Scorer, VectorScorer, code_walk_beam};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::codec::{ByteReader, ByteWriter, DecodeError};
use crate::distance::{DistanceFn, Metric};
use crate::index::{Accept, BreadthKnob, FilteredRoute, IndexKind, Neighbor, VectorIndex, Walk, selectivity};
use crate::vectors::VectorRows;

/// Parameters of an HNSW graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per node on the upper levels; level 0 keeps `2 * m`. Memory: about
    /// `(2m + 1) * 4` bytes per vector for level 0. Typical 8-48, default 16.
    pub m: usize,
    /// Beam width while inserting: higher builds a better graph, slower. Default 200.
    pub ef_construction: usize,
    /// Default beam width of a query (raised to `k` when smaller). Default 64.
    pub ef_search: usize,
    /// Seed of the level generator; a node's level depends only on the seed and its row.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self { m: 16, ef_construction: 200, ef_search: 64, seed: 0x5eed }
    }
}

impl HnswParams {
    /// Level-0 capacity.
    pub fn m0(&self) -> usize {
        2 * self.m
    }

    /// Neighbours a node keeps at `level`: `m0` at level 0, `m` above. A new node selects up
    /// to this many for its own list too (as faiss does; hnswlib takes `m` at every level):
    /// the denser level 0 costs 0-16% more build time and gains recall at every efSearch on
    /// 100k real embeddings (0.917 -> 0.929 at efSearch 16, 0.983 -> 0.987 at 64).
    pub fn capacity(&self, level: u8) -> usize {
        if level == 0 { self.m0() } else { self.m }
    }

    /// Slots per level-0 row in the [`LinkTable`]: the count, then `m0` neighbours.
    pub fn level0_width(&self) -> usize {
        1 + self.m0()
    }
}

/// Fixed-width rows of atomics holding level-0 neighbour lists: `[count, n_1, ..]`.
pub trait LinkTable: Send + Sync {
    /// The slots of `row` (at least `level0_width` of them).
    fn links(&self, row: u32) -> &[AtomicU32];
}

/// A heap-allocated [`LinkTable`] (tests, in-memory use).
#[derive(Debug, Default)]
pub struct VecLinks {
    width: usize,
    slots: Vec<AtomicU32>,
}

impl VecLinks {
    pub fn new(width: usize) -> Self {
        Self { width, slots: Vec::new() }
    }

    /// Makes rows `0..rows` addressable (new rows empty).
    pub fn grow_to(&mut self, rows: usize) {
        let n = rows * self.width;
        if self.slots.len() < n {
            self.slots.resize_with(n, || AtomicU32::new(0));
        }
    }
}

impl LinkTable for VecLinks {
    fn links(&self, row: u32) -> &[AtomicU32] {
        let s = row as usize * self.width;
        &self.slots[s..s + self.width]
    }
}

/// Entry point of the graph: a node on the top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub row: u32,
    pub level: u8,
}

/// What a checkpoint persists besides the level-0 table: each row's level, the entry point,
/// and the upper lists as `(row, slots)` (slots as in the live graph: per level a count, then
/// `m` ids), sorted by row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphParts {
    pub levels: Vec<u8>,
    pub entry: Option<Entry>,
    pub upper: Vec<(u32, Vec<u32>)>,
}

impl GraphParts {
    /// Checkpoint form: row count (u64), one level byte per row, the entry point (flag byte,
    /// then row u32 and level u8), then the upper lists as (row u32, slot count u32, slots).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = ByteWriter::with_capacity(self.levels.len() + self.upper.len() * 80 + 32);
        w.u64(self.levels.len() as u64);
        w.buf.extend_from_slice(&self.levels);
        match self.entry {
            Some(e) => {
                w.u8(1);
                w.u32(e.row);
                w.u8(e.level);
            }
            None => w.u8(0),
        }
        w.u32(self.upper.len() as u32);
        for (row, slots) in &self.upper {
            w.u32(*row);
            w.u32(slots.len() as u32);
            for s in slots {
                w.u32(*s);
            }
        }
        w.buf
    }

    /// Reads [`GraphParts::encode`] of a graph over `rows` rows ([`HnswIndex::import`] checks
    /// the lists against the levels).
    pub fn decode(bytes: &[u8], rows: usize) -> Result<Self, DecodeError> {
        let mut r = ByteReader::new(bytes);
        let n = r.u64()? as usize;
        if n != rows {
            return Err(DecodeError(format!("{n} rows, the rows file has {rows}")));
        }
        let levels = r.take(n)?.to_vec();
        let entry = match r.u8()? {
            0 => None,
            _ => Some(Entry { row: r.u32()?, level: r.u8()? }),
        };
        let count = r.u32()? as usize;
        let mut upper = Vec::with_capacity(count.min(rows));
        for _ in 0..count {
            let row = r.u32()?;
            let len = r.u32()? as usize;
            let slots = (0..len).map(|_| r.u32()).collect::<Result<Vec<u32>, _>>()?;
            upper.push((row, slots));
        }
        if !r.is_empty() {
            return Err(DecodeError("trailing bytes after the graph".into()));
        }
        Ok(GraphParts { levels, entry, upper })
    }
}

/// Highest level a node can get (the level distribution makes more than ~8 vanishingly rare).
const MAX_LEVEL: u8 = 16;

/// An HNSW graph over rows `0..len()` of a vector table.
pub struct HnswIndex<L: LinkTable> {
    params: HnswParams,
    metric: Metric,
    distance: DistanceFn,
    level0: L,
    /// Level of each row.
    levels: Vec<u8>,
    /// Row -> lists for levels 1..=level, each `1 + m` slots.
    upper: HashMap<u32, Box<[AtomicU32]>>,
    /// Serialises writers of one node's lists.
    locks: Vec<Mutex<()>>,
    entry: RwLock<Option<Entry>>,
}

impl<L: LinkTable> std::fmt::Debug for HnswIndex<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex").field("params", &self.params).field("rows", &self.levels.len()).finish()
    }
}

/// splitmix64: a well-mixed hash of the seed and a row.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<L: LinkTable> HnswIndex<L> {
    /// An empty graph whose level-0 lists live in `level0`.
    pub fn new(params: HnswParams, metric: Metric, level0: L) -> Self {
        Self {
            params,
            metric,
            distance: metric.kernel(),
            level0,
            levels: Vec::new(),
            upper: HashMap::new(),
            locks: Vec::new(),
            entry: RwLock::new(None),
        }
    }

    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Sets the default beam width of a query (`tune()`).
    pub fn set_ef_search(&mut self, ef: usize) {
        self.params.ef_search = ef.max(1);
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Rows known to the graph (linked or waiting to be linked).
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    pub fn entry(&self) -> Option<Entry> {
        *self.entry.read()
    }

    /// The level-0 table, for the owner to grow before [`HnswIndex::add_rows`].
    pub fn level0_mut(&mut self) -> &mut L {
        &mut self.level0
    }

    pub fn level0(&self) -> &L {
        &self.level0
    }

    /// The level drawn for `row`: `floor(-ln(u) / ln(m))`, `u` uniform from the seed and row.
    pub fn level_for(&self, row: u32) -> u8 {
        let u = ((mix(self.params.seed ^ mix(row as u64)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let ml = 1.0 / (self.params.m.max(2) as f64).ln();
        ((-u.ln() * ml).floor() as u64).min(MAX_LEVEL as u64) as u8
    }

    /// Registers rows `len()..rows` (their level-0 rows must be addressable in the table):
    /// draws their levels and allocates their lists, all empty. Link them with
    /// [`HnswIndex::link`].
    pub fn add_rows(&mut self, rows: usize) {
        let width = 1 + self.params.m;
        for row in self.levels.len()..rows {
            let row = row as u32;
            let level = self.level_for(row);
            self.level0.links(row)[0].store(0, Ordering::Relaxed);
            if level > 0 {
                let slots: Box<[AtomicU32]> = (0..level as usize * width).map(|_| AtomicU32::new(0)).collect();
                self.upper.insert(row, slots);
            }
            self.levels.push(level);
            self.locks.push(Mutex::new(()));
        }
    }

    /// Level of `row`.
    pub fn level(&self, row: u32) -> u8 {
        self.levels[row as usize]
    }

    /// The slots of `row`'s list at `level`: `[count, ids..]`.
    #[inline]
    fn slots(&self, row: u32, level: u8) -> &[AtomicU32] {
        if level == 0 {
            &self.level0.links(row)[..self.params.level0_width()]
        } else {
            let width = 1 + self.params.m;
            let s = (level as usize - 1) * width;
            &self.upper[&row][s..s + width]
        }
    }

    /// Hints the CPU to load `row`'s level-0 list (the walk's next node, while it scores this
    /// node's neighbours; hnswlib does the same).
    #[inline]
    fn prefetch_level0(&self, row: u32) {
        if (row as usize) < self.levels.len() {
            crate::vectors::prefetch_slice(&self.level0.links(row)[..self.params.level0_width()]);
        }
    }

    /// Copies `row`'s neighbours at `level` into `out` (cleared first). Lock-free: may mix a
    /// list being rewritten with its previous version, but every id is a valid row.
    #[inline]
    fn neighbors_into(&self, row: u32, level: u8, out: &mut Vec<u32>) {
        out.clear();
        let slots = self.slots(row, level);
        let count = (slots[0].load(Ordering::Acquire) as usize).min(slots.len() - 1);
        // Rows past the graph's nodes can be linked in a table another process (the writer,
        // seen through a read-only handle's mapping) or damage wrote: never follow them.
        let nodes = self.levels.len() as u32;
        out.extend(slots[1..=count].iter().map(|s| s.load(Ordering::Relaxed)).filter(|&n| n < nodes));
    }

    /// Replaces `row`'s list at `level`; the caller holds `row`'s lock.
    fn write_list(&self, row: u32, level: u8, ids: &[u32]) {
        let slots = self.slots(row, level);
        let n = ids.len().min(slots.len() - 1);
        for (slot, &id) in slots[1..=n].iter().zip(ids) {
            slot.store(id, Ordering::Relaxed);
        }
        slots[0].store(n as u32, Ordering::Release);
    }

    /// Bytes of graph structure per row: level-0 row, level byte, lock, and upper lists.
    pub fn bytes(&self) -> usize {
        let upper: usize = self.upper.values().map(|s| s.len() * 4 + 16).sum();
        self.levels.len() * (self.params.level0_width() * 4 + 1 + 1) + upper
    }

    /// The parts a checkpoint persists outside the level-0 table.
    pub fn export(&self) -> GraphParts {
        let mut upper: Vec<(u32, Vec<u32>)> =
            self.upper.iter().map(|(&r, s)| (r, s.iter().map(|a| a.load(Ordering::Relaxed)).collect())).collect();
        upper.sort_unstable_by_key(|(r, _)| *r);
        GraphParts { levels: self.levels.clone(), entry: self.entry(), upper }
    }

    /// Rebuilds a graph from [`HnswIndex::export`]ed parts and a level-0 table whose rows
    /// `0..levels.len()` are mapped. Lists are sanitised: ids outside the graph, repeats and
    /// self-links are dropped (level-0 pages written after the checkpoint may hold them).
    pub fn import(params: HnswParams, metric: Metric, level0: L, parts: GraphParts) -> Result<Self, String> {
        let GraphParts { levels, entry, upper } = parts;
        let rows = levels.len();
        let width = 1 + params.m;
        let mut g = Self::new(params, metric, level0);
        for (row, slots) in upper {
            let level = *levels.get(row as usize).ok_or_else(|| format!("upper list of unknown row {row}"))?;
            if slots.len() != level as usize * width {
                return Err(format!("row {row}: {} upper slots for level {level}", slots.len()));
            }
            g.upper.insert(row, slots.into_iter().map(AtomicU32::new).collect());
        }
        if let Some(e) = entry
            && (e.row as usize >= rows || levels[e.row as usize] != e.level)
        {
            return Err(format!("entry point {e:?} does not match the levels"));
        }
        if let Some((row, _)) = levels.iter().enumerate().find(|(r, l)| **l > 0 && !g.upper.contains_key(&(*r as u32)))
        {
            return Err(format!("row {row} has a level but no upper lists"));
        }
        g.locks = (0..rows).map(|_| Mutex::new(())).collect();
        g.levels = levels;
        *g.entry.write() = entry;
        let mut buf = Vec::new();
        for row in 0..rows as u32 {
            for level in 0..=g.levels[row as usize] {
                g.neighbors_into(row, level, &mut buf);
                let before = buf.len();
                let mut seen = std::collections::HashSet::with_capacity(buf.len());
                buf.retain(|&n| (n as usize) < rows && n != row && seen.insert(n) && g.levels[n as usize] >= level);
                if buf.len() != before || g.slots(row, level)[0].load(Ordering::Relaxed) as usize != before {
                    g.write_list(row, level, &buf);
                }
            }
        }
        Ok(g)
    }
}

/// The filter planner's cost model, calibrated by `examples/filtered_calibration.rs
/// --target=0.98` on real sentence embeddings (debpkg100k and debpkg20k, 384-d, cosine; one
/// thread), where the unfiltered walk reaches recall@10 0.98 at ef 64 and 48:
/// - the beam a walk returning only matches needs for that recall, as a share of the
///   unfiltered beam: 3/8 + 3/4 x selectivity. Measured (100k): ef 24 (0.375) from 5% to 20%,
///   32 at 30%, 48 at 50%, 64 at 80%; (20k, of 48) 16 at 15%, 24 at 20-30%, 32 at 50%. It falls
///   slower than the selectivity: the beam holds matches only, but near the query the walk
///   still needs a few dozen of them to steer by. (Synthetic clusters need less, ef 10 at
///   3-15%: real embeddings are the harder case.)
const FILTERED_BEAM_FLOOR: f64 = 0.375;
const FILTERED_BEAM_SLOPE: f64 = 0.75;
/// - rows an unfiltered walk reads per link slot of its beam (0.47 at 100k, 0.51 at 20k);
const WALK_ROWS_PER_LINK: f64 = 0.5;
/// - the extra rows a walk reads under a filter of selectivity s: x (1 + 0.15 / s) (measured
///   at recall 0.98, 100k: 4,564 rows at 5%, 2,659 at 10%, 1,513 at 20%, 1,123 unfiltered);
const THIN_GRAPH_ROWS: f64 = 0.15;
/// - the cost of a row read at random in a walk, in rows scored in order (231 ns vs 80 ns
///   at 100k, 125 vs 82 at 20k). With these, at 100k exact scoring wins up to ~7% (0.68 ms vs
///   1.01 for the walk) and the walk from 10% (0.75 vs 1.92 ms).
const WALK_ROW_COST: f64 = 2.5;

impl<L: LinkTable, V: VectorRows + ?Sized> VectorIndex<V> for HnswIndex<L> {
    fn kind(&self) -> IndexKind {
        IndexKind::Hnsw
    }

    fn breadth_knob(&self) -> Option<BreadthKnob> {
        Some(BreadthKnob::EfSearch)
    }

    fn breadth(&self, requested: Option<usize>, k: usize) -> usize {
        requested.unwrap_or(self.params.ef_search).max(k)
    }

    fn search(
        &self,
        vectors: &V,
        query: &[f32],
        k: usize,
        breadth: usize,
        walk: Walk,
        accept: &Accept,
    ) -> Vec<Neighbor> {
        HnswIndex::search_walk(self, &self.vector_scorer(vectors, query), k, breadth, walk, accept)
    }

    fn search_scored(
        &self,
        scorer: &dyn Scorer,
        _rows: usize,
        k: usize,
        breadth: usize,
        walk: Walk,
        accept: &Accept,
    ) -> Option<Vec<Neighbor>> {
        // Codes walk a beam an eighth wider, so they keep full precision's recall.
        Some(HnswIndex::search_walk(self, scorer, k, code_walk_beam(breadth).max(k), walk, accept))
    }

    fn add(&self, vectors: &V, rows: &[u32]) {
        self.link(vectors, rows)
    }

    fn repair(&self, vectors: &V, deleted: &Accept) -> usize {
        HnswIndex::repair(self, vectors, deleted)
    }

    fn bytes(&self) -> usize {
        HnswIndex::bytes(self)
    }

    fn filtered_route(&self, k: usize, breadth: usize, matches: usize, live: usize) -> FilteredRoute {
        let selectivity = selectivity(matches, live).max(1e-9);
        let breadth = breadth.max(k);
        // A walk whose beam holds only matches expands the non-matching nodes too on its way
        // to fill it: it explores more widely than an unfiltered walk of the same beam, so its
        // beam can be a share of the unfiltered one (the constants above).
        let share = FILTERED_BEAM_FLOOR + FILTERED_BEAM_SLOPE * selectivity;
        let ef = ((share * breadth as f64).ceil() as usize).clamp(k, breadth);
        // Rows such a walk reads: an unfiltered walk's (~WALK_ROWS_PER_LINK x breadth x 2m),
        // plus what tight filters add as the graph thins out to the matches.
        let walk_rows =
            WALK_ROWS_PER_LINK * (breadth * self.params.m0()) as f64 * (1.0 + THIN_GRAPH_ROWS / selectivity);
        // A walk reads rows at random; scoring the matches reads them in row order.
        let walk_cost = (WALK_ROW_COST * walk_rows).min(live as f64) as usize;
        if matches <= walk_cost {
            FilteredRoute::Exact {
                reason: format!("{matches} matches <= the ~{walk_cost} row reads a graph walk would cost: exact"),
            }
        } else {
            FilteredRoute::Search {
                breadth: ef,
                reason: format!(
                    "selectivity {selectivity:.3}: graph walk returning only matches, beam {ef} (explores like {breadth} unfiltered)"
                ),
            }
        }
    }

    fn unplanned_filter_breadth(&self, k: usize, breadth: usize) -> Option<usize> {
        Some(breadth.max(k) * 4)
    }
}

#[cfg(test)]
mod tests;
