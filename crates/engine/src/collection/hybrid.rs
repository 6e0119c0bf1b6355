//! Search by several signals at once: a query vector and a full-text query (BM25 over the
//! `text` fields), each run on its own with the filter applied, then fused into one list.
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
//! similarity; BM25), NaN where that signal did not return it.

use libravdb_text::TextSearch;

use super::read::SearchParams;
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

/// How the signals' lists become one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    Rrf { k: f32, vector: f32, text: f32 },
    Weighted { vector: f32, text: f32 },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: RRF_K, vector: 1.0, text: 1.0 }
    }
}

impl Fusion {
    pub fn as_str(&self) -> &'static str {
        match self {
            Fusion::Rrf { .. } => "rrf",
            Fusion::Weighted { .. } => "weighted",
        }
    }

    fn weights(&self) -> [f32; 2] {
        match *self {
            Fusion::Rrf { vector, text, .. } | Fusion::Weighted { vector, text } => [vector, text],
        }
    }

    fn check(&self) -> Result<()> {
        let [v, t] = self.weights();
        if !(v.is_finite() && t.is_finite() && v >= 0.0 && t >= 0.0 && v + t > 0.0) {
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

/// One query of a hybrid search: a vector, a text query, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HybridQuery {
    pub vector: Option<Vec<f32>>,
    pub text: Option<TextQuery>,
}

/// Each hit's score per signal, NaN where the signal did not return the hit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalScores {
    /// Distance (l2) or similarity (cosine, dot).
    pub vector: Vec<f32>,
    /// BM25.
    pub text: Vec<f32>,
}

/// How a hybrid search would run: each signal's plan (`explain()`).
#[derive(Debug, Clone, PartialEq)]
pub struct HybridPlan {
    pub vector: Option<QueryPlan>,
    pub text: Option<TextSearch>,
    /// Candidates per signal when both run.
    pub fetch: usize,
    pub fusion: Fusion,
}

/// Fuses per-signal lists (rows best first, with each signal's relevance: higher is better)
/// into the best `k` rows and their fused scores; see the module docs.
pub fn fuse(lists: &[Vec<(u32, f32)>], weights: &[f32], fusion: Fusion, k: usize) -> Vec<(u32, f32)> {
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
    /// Candidates each signal of a two-signal search returns.
    fn per_signal(&self) -> usize {
        self.fetch_k.unwrap_or((self.k * 2).max(MIN_FETCH)).clamp(self.k, MAX_K)
    }
}

impl Collection {
    /// Searches by a vector, a text query, or both fused (see the module docs); `filter`
    /// applies to every signal before fusion. A query with only a vector is a plain
    /// [`Collection::search_cancellable`].
    pub fn hybrid_search(
        &self,
        query: &HybridQuery,
        params: SearchParams,
        fusion: Fusion,
        filter: Option<&Filter>,
        cancel: &Cancel,
    ) -> Result<super::Hits> {
        let Some(text) = &query.text else {
            let Some(v) = &query.vector else {
                return Err(Error::invalid("a search needs a vector, a text query, or both"));
            };
            return self.search_cancellable(v, params, filter, cancel);
        };
        self.check_hybrid(query, params, fusion)?;
        let vector = query.vector.as_deref().map(|v| self.prepare_queries(v)).transpose()?;
        let fetch = if vector.is_some() { params.per_signal() } else { params.k };
        let st = self.read_state()?;
        let planned = filter.map(|f| st.plan(f, fetch, st.breadth(SearchParams { k: fetch, ..params })));
        cancel.check()?;
        let metric = self.metric;
        // Relevance, higher is better: l2 distances are negated, then shown as distances.
        let vector_list: Option<Vec<(u32, f32)>> = vector.as_deref().map(|q| {
            let breadth = params.breadth(st.index.active());
            st.nearest(q, fetch, breadth, metric, planned.as_ref(), filter)
                .into_iter()
                .map(|n| (n.row, relevance(metric, metric.score(n.distance))))
                .collect()
        });
        cancel.check()?;
        let text_list = st.text_search(text, fetch, planned.as_ref().map(|p| (p, filter)))?;
        let (rows, signals) = match vector_list {
            None => (text_list.clone(), None),
            Some(v) => {
                let lists = [v, text_list];
                let fused = fuse(&lists, &fusion.weights(), fusion, params.k);
                let by_row: Vec<std::collections::HashMap<u32, f32>> =
                    lists.iter().map(|l| l.iter().copied().collect()).collect();
                let score_in = |signal: usize, row: u32| by_row[signal].get(&row).copied().unwrap_or(f32::NAN);
                let signals = SignalScores {
                    vector: fused.iter().map(|&(r, _)| relevance(metric, score_in(0, r))).collect(),
                    text: fused.iter().map(|&(r, _)| score_in(1, r)).collect(),
                };
                (fused, Some(signals))
            }
        };
        let mut hits = self.hits_of(&st, &[rows], params);
        hits.signals = signals;
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
        let both = query.vector.is_some() && query.text.is_some();
        let fetch = if both { params.per_signal() } else { params.k };
        let vector = match query.vector {
            Some(_) => Some(self.explain(filter, SearchParams { k: fetch, ..params })?),
            None => None,
        };
        let text = match &query.text {
            Some(t) => {
                let st = self.read_state()?;
                let index = st.text_index()?;
                Some(index.plan(&t.query, &t.fields).map_err(Error::invalid)?)
            }
            None => None,
        };
        Ok(HybridPlan { vector, text, fetch, fusion })
    }

    /// The terms text field `field`'s analyzer makes of `text`.
    pub fn analyze(&self, field: &str, text: &str) -> Result<Vec<String>> {
        let st = self.read_state()?;
        st.text_index()?
            .analyze(field, text)
            .ok_or_else(|| Error::invalid(format!("'{field}' is not a text field of the schema")))
    }

    fn check_hybrid(&self, query: &HybridQuery, params: SearchParams, fusion: Fusion) -> Result<()> {
        if query.vector.is_none() && query.text.is_none() {
            return Err(Error::invalid("a search needs a vector, a text query, or both"));
        }
        if let Some(v) = &query.vector {
            self.check_search(v, params)?;
            if v.len() != self.dimension() {
                return Err(Error::invalid("a hybrid search takes one query vector"));
            }
        } else if params.k == 0 || params.k > MAX_K {
            return Err(Error::invalid(format!("k must be an integer from 1 to {MAX_K}, got {}", params.k)));
        }
        if query.text.is_some() && (params.score_bound.is_some() || params.diversity.is_some()) {
            return Err(Error::invalid(
                "a text query cannot be combined with a range bound (maxDistance, minScore) or diversity",
            ));
        }
        if params.fetch_k.is_some_and(|f| f == 0 || f > MAX_K) {
            return Err(Error::invalid(format!("fetchK must be an integer from 1 to {MAX_K}")));
        }
        fusion.check()
    }
}

/// A vector signal's score as relevance (higher is better) and back: l2 distances negate.
fn relevance(metric: libravdb_core::Metric, score: f32) -> f32 {
    match metric {
        libravdb_core::Metric::L2 => -score,
        _ => score,
    }
}

impl State {
    /// The full-text indexes (Err when the collection has no text field).
    pub(super) fn text_index(&self) -> Result<&libravdb_text::TextIndex> {
        match &self.filterable {
            Some(f) if !f.text.is_empty() => Ok(&f.text),
            _ => Err(Error::invalid("this collection has no text field: declare one in its schema ({ body: 'text' })")),
        }
    }

    /// The best `k` rows for a text query by BM25, passing the filter as `planned`.
    fn text_search(
        &self,
        q: &TextQuery,
        k: usize,
        planned: Option<(&super::filter::Planned, Option<&Filter>)>,
    ) -> Result<Vec<(u32, f32)>> {
        use super::filter::PlanKind;
        let index = self.text_index()?;
        if let Some(f) = q.fields.iter().find(|f| !index.has(f)) {
            return Err(Error::invalid(format!("'{f}' is not a text field of the schema")));
        }
        let run = |allowed: &dyn Fn(u32) -> bool| index.search(&q.query, &q.fields, k, allowed).map_err(Error::invalid);
        // Postings hold live rows only: without a filter every row they list may be returned.
        let found = match planned {
            None => run(&|_| true)?,
            Some((p, filter)) => match (p.plan.plan, &p.allowed, filter) {
                (PlanKind::Empty, ..) => return Ok(Vec::new()),
                (PlanKind::Unfiltered, ..) => run(&|_| true)?,
                (_, Some(allowed), _) => run(&|r| allowed.contains(r))?,
                (_, None, Some(f)) => run(&|r| self.row_matches(f, r))?,
                (_, None, None) => run(&|_| true)?,
            },
        };
        Ok(found.0)
    }
}
