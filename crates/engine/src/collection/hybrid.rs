//! Search by several signals at once: a query vector, a full-text query (BM25 over the
//! `text` fields) and a sparse vector (inner product over a `sparse` field), each run on its
//! own with the filter applied, then fused into one list.
//!
//! Fusion:
//! - `rrf` (reciprocal rank fusion, Cormack et al. 2009; Qdrant's, zvec's and LanceDB's
//!   default): a hit scores `sum over signals of weight / (k + rank)`, rank from 1 in that
//!   signal's list, k = 60 unless given; weights 1 unless given.
//! - `weighted` (relative score fusion): each signal's scores are scaled to [0, 1] over its
//!   list (best 1, worst 0; all 1 when they are equal; l2 distances inverted first), and a hit
//!   scores `sum of weight x scaled score`; a hit missing from a list gets 0 for it.
//!
//! Ties fall to the lower row. Each signal returns `fetch_k` candidates (default 2 x k, at
//! least 50, at most [`MAX_K`]); a hit carries each signal's own score (distance or
//! similarity; BM25; inner product), NaN where that signal did not return it.

use libravdb_text::TextSearch;

use super::params::{SearchParams, SignalScores, relevance};
use super::{Collection, QueryPlan, State};
use crate::cancel::Cancel;
use crate::config::MAX_K;
use crate::error::{Error, Result};
use libravdb_filter::Filter;

/// Default `k` of reciprocal rank fusion.
pub const RRF_K: f32 = 60.0;
/// Candidates each signal returns by default: 2 per hit, at least this many.
const MIN_FETCH: usize = 50;

/// A full-text query: BM25 over `fields` (every text field when empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextQuery {
    pub query: String,
    pub fields: Vec<String>,
}

/// A sparse query vector: (dimension, weight) pairs, against sparse field `field` (the
/// schema's only one when None).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseQuery {
    pub pairs: Vec<(u32, f32)>,
    pub field: Option<String>,
}

/// Each signal's weight in a fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub vector: f32,
    pub text: f32,
    pub sparse: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { vector: 1.0, text: 1.0, sparse: 1.0 }
    }
}

/// How the signals' lists become one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    Rrf { k: f32, weights: Weights },
    Weighted { weights: Weights },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: RRF_K, weights: Weights::default() }
    }
}

impl Fusion {
    pub fn as_str(&self) -> &'static str {
        match self {
            Fusion::Rrf { .. } => "rrf",
            Fusion::Weighted { .. } => "weighted",
        }
    }

    fn weights(&self) -> [f32; SIGNALS] {
        match *self {
            Fusion::Rrf { weights: w, .. } | Fusion::Weighted { weights: w } => [w.vector, w.text, w.sparse],
        }
    }

    fn check(&self) -> Result<()> {
        let w = self.weights();
        if !(w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f32>() > 0.0) {
            return Err(Error::invalid("fusion weights must be finite, at least 0, and not all 0"));
        }
        if let Fusion::Rrf { k, .. } = self
            && !(k.is_finite() && *k >= 0.0)
        {
            return Err(Error::invalid("fusion k (RRF) must be a finite number at least 0"));
        }
        Ok(())
    }
}

/// The signals, in the order of [`Fusion::weights`] and [`SignalScores`].
const SIGNALS: usize = 3;

/// One query of a hybrid search: any of a vector, a text query and a sparse vector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HybridQuery {
    pub vector: Option<Vec<f32>>,
    pub text: Option<TextQuery>,
    pub sparse: Option<SparseQuery>,
    /// Named vector fields' query vectors (each field's list takes the vector's weight).
    pub fields: Vec<(String, Vec<f32>)>,
}

impl HybridQuery {
    fn signals(&self) -> usize {
        usize::from(self.vector.is_some())
            + usize::from(self.text.is_some())
            + usize::from(self.sparse.is_some())
            + self.fields.len()
    }
}

/// How a hybrid search would run: each signal's plan (`explain()`).
#[derive(Debug, Clone, PartialEq)]
pub struct HybridPlan {
    pub vector: Option<QueryPlan>,
    pub text: Option<TextSearch>,
    pub sparse: Option<libravdb_text::SparsePlan>,
    /// Candidates per signal when several run.
    pub fetch: usize,
    pub fusion: Fusion,
}

/// Fuses per-signal lists (rows best first, with each signal's relevance: higher is better)
/// into the best `k` rows and their fused scores; see the module docs.
pub fn fuse(lists: &[&[(u32, f32)]], weights: &[f32], fusion: Fusion, k: usize) -> Vec<(u32, f32)> {
    let mut fused: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
    for (list, &w) in lists.iter().zip(weights) {
        let (lo, hi) = list.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(_, s)| (lo.min(s), hi.max(s)));
        for (rank, &(row, s)) in list.iter().enumerate() {
            let part = match fusion {
                Fusion::Rrf { k, .. } => w / (k + rank as f32 + 1.0),
                Fusion::Weighted { .. } if hi > lo => w * (s - lo) / (hi - lo),
                Fusion::Weighted { .. } => w,
            };
            *fused.entry(row).or_default() += part;
        }
    }
    let mut out: Vec<(u32, f32)> = fused.into_iter().collect();
    out.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(k);
    out
}

impl SearchParams {
    /// Candidates each signal of `query` returns: `k` for one signal; to be fused, `fetch_k`
    /// (default 2 x k, at least 50).
    fn per_signal(&self, query: &HybridQuery) -> usize {
        match query.signals() {
            0 | 1 => self.k,
            _ => self.fetch_k.unwrap_or((self.k * 2).max(MIN_FETCH)).clamp(self.k, MAX_K),
        }
    }
}

impl Collection {
    /// Searches by a vector, a text query, a sparse vector, or several fused (see the module
    /// docs); `filter` applies to every signal before fusion. A query with only a vector is
    /// a plain [`Collection::search_cancellable`].
    pub fn hybrid_search(
        &self,
        query: &HybridQuery,
        params: SearchParams,
        fusion: Fusion,
        filter: Option<&Filter>,
        cancel: &Cancel,
    ) -> Result<super::Hits> {
        if let (Some(v), 1) = (&query.vector, query.signals()) {
            return self.search_cancellable(v, params, filter, cancel);
        }
        if let ([(field, q)], 1) = (&query.fields[..], query.signals()) {
            // One vector of the field's dimension (search_field takes a block of several).
            self.config.read().vector_field_for(field, q.len(), || format!("query vector for field '{field}'"))?;
            return self.search_field(field, q, params, filter, cancel);
        }
        self.check_hybrid(query, params, fusion)?;
        let vector = query.vector.as_deref().map(|v| self.prepare_queries(v)).transpose()?;
        let field_queries = self.prepare_field_queries(&query.fields)?;
        let fetch = params.per_signal(query);
        let st = self.read_state()?;
        let planned = filter.map(|f| st.plan(f, fetch, st.space.breadth(SearchParams { k: fetch, ..params })));
        let planned = planned.as_ref().map(|p| (p, filter));
        cancel.check()?;
        let metric = self.metric;
        // Each signal's list, relevance higher is better: l2 distances are negated (and shown
        // as distances again in the hit's signal scores).
        let mut lists: [Option<Vec<(u32, f32)>>; SIGNALS] = [None, None, None];
        lists[0] = vector.as_deref().map(|q| {
            let breadth = params.breadth(st.space.index.active());
            st.nearest(q, fetch, breadth, metric, planned.map(|p| p.0), filter)
                .into_iter()
                .map(|n| (n.row, relevance(metric, metric.score(n.distance))))
                .collect()
        });
        cancel.check()?;
        if let Some(text) = &query.text {
            lists[1] = Some(st.text_search(text, fetch, planned)?);
        }
        if let Some(sparse) = &query.sparse {
            lists[2] = Some(st.sparse_search(sparse, fetch, planned)?);
        }
        let field_lists = st.field_lists(&field_queries, fetch, params, filter)?;
        if query.signals() == 1 {
            let only = lists.into_iter().flatten().next().unwrap_or_default();
            return self.hits_of(&st, vec![only.len() as u32], only.into_iter(), params);
        }
        let weights = fusion.weights();
        let ran: Vec<(&[(u32, f32)], f32)> = lists
            .iter()
            .zip(weights)
            .filter_map(|(l, w)| l.as_deref().map(|l| (l, w)))
            .chain(field_lists.iter().map(|(_, l)| (&l[..], weights[0])))
            .collect();
        let (ran, ran_weights): (Vec<_>, Vec<_>) = ran.into_iter().unzip();
        let fused = fuse(&ran, &ran_weights, fusion, params.k);
        let by_row: Vec<Option<std::collections::HashMap<u32, f32>>> =
            lists.iter().map(|l| l.as_ref().map(|l| l.iter().copied().collect())).collect();
        let score_in =
            |signal: usize, row: u32| by_row[signal].as_ref().and_then(|m| m.get(&row).copied()).unwrap_or(f32::NAN);
        let field_scores = field_lists.iter().map(|(field_metric, l)| {
            let by_row: std::collections::HashMap<u32, f32> = l.iter().copied().collect();
            let score = |r: u32| by_row.get(&r).map_or(f32::NAN, |&s| relevance(*field_metric, s));
            fused.iter().map(|&(r, _)| score(r)).collect()
        });
        let signals = SignalScores {
            vector: fused.iter().map(|&(r, _)| relevance(metric, score_in(0, r))).collect(),
            text: fused.iter().map(|&(r, _)| score_in(1, r)).collect(),
            sparse: fused.iter().map(|&(r, _)| score_in(2, r)).collect(),
            fields: field_scores.collect(),
        };
        let mut hits = self.hits_of(&st, vec![fused.len() as u32], fused.into_iter(), params)?;
        hits.signals = Some(signals);
        Ok(hits)
    }

    /// How [`Collection::hybrid_search`] would run each signal, without searching.
    pub fn explain_hybrid(
        &self,
        query: &HybridQuery,
        params: SearchParams,
        fusion: Fusion,
        filter: Option<&Filter>,
    ) -> Result<HybridPlan> {
        self.check_hybrid(query, params, fusion)?;
        let fetch = params.per_signal(query);
        let vector = match query.vector {
            Some(_) => Some(self.explain(filter, SearchParams { k: fetch, ..params })?),
            None => None,
        };
        let text = match &query.text {
            Some(t) => {
                let st = self.read_state()?;
                Some(st.text_index()?.plan(&t.query, &t.fields).map_err(Error::invalid)?)
            }
            None => None,
        };
        let sparse = match &query.sparse {
            Some(q) => {
                let st = self.read_state()?;
                Some(st.retrieval_index().plan_sparse(&q.pairs, q.field.as_deref()).map_err(Error::invalid)?)
            }
            None => None,
        };
        Ok(HybridPlan { vector, text, sparse, fetch, fusion })
    }

    /// The terms text field `field`'s analyzer makes of `text`.
    pub fn analyze(&self, field: &str, text: &str) -> Result<Vec<String>> {
        let st = self.read_state()?;
        st.text_index()?
            .analyze(field, text)
            .ok_or_else(|| Error::invalid(format!("'{field}' is not a text field of the schema")))
    }

    fn check_hybrid(&self, query: &HybridQuery, params: SearchParams, fusion: Fusion) -> Result<()> {
        if query.signals() == 0 {
            return Err(Error::invalid("a search needs a vector, a text query or a sparse vector"));
        }
        if let Some(v) = &query.vector {
            self.check_search(v, params)?;
            if v.len() != self.dimension() {
                return Err(Error::invalid("a hybrid search takes one query vector"));
            }
        } else if params.k == 0 || params.k > MAX_K {
            return Err(Error::invalid(format!("k must be an integer from 1 to {MAX_K}, got {}", params.k)));
        }
        if (query.text.is_some() || query.sparse.is_some())
            && (params.score_bound.is_some() || params.diversity.is_some())
        {
            return Err(Error::invalid(
                "a text or sparse query cannot be combined with a range bound (maxDistance, minScore) or diversity",
            ));
        }
        if let Some(sparse) = &query.sparse
            && let Some((i, w)) = sparse.pairs.iter().find(|p| !p.1.is_finite())
        {
            return Err(Error::invalid(format!(
                "the sparse query's weight at index {i} is {w}; weights must be finite"
            )));
        }
        if params.fetch_k.is_some_and(|f| f == 0 || f > MAX_K) {
            return Err(Error::invalid(format!("fetchK must be an integer from 1 to {MAX_K}")));
        }
        fusion.check()
    }
}

impl State {
    /// The text and sparse indexes (empty ones without a schema).
    fn retrieval_index(&self) -> &libravdb_text::TextIndex {
        static NONE: libravdb_text::TextIndex = libravdb_text::TextIndex::EMPTY;
        self.filterable.as_ref().map_or(&NONE, |f| &f.text)
    }

    /// The full-text indexes (Err when the collection has no text field).
    pub(super) fn text_index(&self) -> Result<&libravdb_text::TextIndex> {
        match &self.filterable {
            Some(f) if f.text.has_text() => Ok(&f.text),
            _ => Err(Error::invalid("this collection has no text field: declare one in its schema ({ body: 'text' })")),
        }
    }

    /// Runs `search` with the rows `planned` allows: all (postings hold live rows only),
    /// none, the planned row set, or those passing the filter record by record.
    fn with_allowed<T: Default>(
        &self,
        planned: Option<(&super::route::Planned, Option<&Filter>)>,
        search: impl Fn(&dyn Fn(u32) -> bool) -> Result<T>,
    ) -> Result<T> {
        use super::route::PlanKind;
        match planned {
            None => search(&|_| true),
            Some((p, filter)) => match (p.plan.plan, &p.allowed, filter) {
                (PlanKind::Empty, ..) => Ok(T::default()),
                (PlanKind::Unfiltered, ..) | (_, None, None) => search(&|_| true),
                (_, Some(allowed), _) => search(&|r| allowed.contains(r)),
                (_, None, Some(f)) => search(&|r| self.row_matches(f, r)),
            },
        }
    }

    /// The best `k` rows for a sparse query by inner product, passing the filter as planned.
    fn sparse_search(
        &self,
        q: &SparseQuery,
        k: usize,
        planned: Option<(&super::route::Planned, Option<&Filter>)>,
    ) -> Result<Vec<(u32, f32)>> {
        let index = self.retrieval_index();
        // Checked before a plan can answer "nothing".
        index.check_sparse_field(q.field.as_deref()).map_err(Error::invalid)?;
        self.with_allowed(planned, |allowed| {
            index.search_sparse(&q.pairs, q.field.as_deref(), k, allowed).map(|r| r.0).map_err(Error::invalid)
        })
    }

    /// The best `k` rows for a text query by BM25, passing the filter as planned.
    fn text_search(
        &self,
        q: &TextQuery,
        k: usize,
        planned: Option<(&super::route::Planned, Option<&Filter>)>,
    ) -> Result<Vec<(u32, f32)>> {
        let index = self.text_index()?;
        index.check_fields(&q.fields).map_err(Error::invalid)?;
        self.with_allowed(planned, |allowed| {
            index.search(&q.query, &q.fields, k, allowed).map(|r| r.0).map_err(Error::invalid)
        })
    }
}
