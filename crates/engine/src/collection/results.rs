//! What a query's candidates become before they are returned: cut at a range search's bound,
//! and re-ranked for diversity (maximal marginal relevance).

use libravdb_core::distance::kernels;
use libravdb_core::{Metric, Neighbor, VectorRows};

use super::params::SearchParams;
use crate::config::MAX_K;

/// Candidates an MMR search fetches when `fetchK` is not given: 4 per hit, at least 20 (as
/// LangChain's default), at most [`MAX_K`].
const DEFAULT_FETCH_PER_HIT: usize = 4;
const MIN_FETCH: usize = 20;

impl SearchParams {
    /// Candidates the index is asked for: `k`, or for an MMR search `fetch_k` (default:
    /// 4 x k, at least 20), never fewer than `k`.
    pub(super) fn candidates(&self) -> usize {
        match self.diversity {
            Some(_) => {
                let default = (self.k * DEFAULT_FETCH_PER_HIT).clamp(MIN_FETCH, MAX_K);
                self.fetch_k.unwrap_or(default).max(self.k)
            }
            None => self.k,
        }
    }

    /// A query's candidates (best first, `candidates()` of them at most) turned into its
    /// hits: those outside the range bound dropped, then `k` picked for diversity when asked.
    pub(super) fn finish<V: VectorRows + ?Sized>(
        &self,
        metric: Metric,
        vectors: &V,
        query: &[f32],
        mut found: Vec<Neighbor>,
    ) -> Vec<Neighbor> {
        if let Some(bound) = self.score_bound {
            let inside = |n: &Neighbor| match metric {
                Metric::L2 => metric.score(n.distance) <= bound,
                Metric::Cosine | Metric::Dot => metric.score(n.distance) >= bound,
            };
            found.truncate(found.iter().position(|n| !inside(n)).unwrap_or(found.len()));
        }
        match self.diversity {
            Some(diversity) => mmr(vectors, query, found, self.k, diversity),
            None => found,
        }
    }
}

/// Maximal marginal relevance (Carbonell & Goldstein, 1998): picks `k` of `found` one at a
/// time, each maximising `(1 - diversity) * cos(query, d) - diversity * max cos(d, picked)`,
/// in the order picked (the first is the most similar to the query). Cosine similarity
/// whatever the collection's metric, as LangChain's `maximalMarginalRelevance` measures it.
fn mmr<V: VectorRows + ?Sized>(
    vectors: &V,
    query: &[f32],
    found: Vec<Neighbor>,
    k: usize,
    diversity: f32,
) -> Vec<Neighbor> {
    let dot = kernels().dot;
    let norm = |v: &[f32]| dot(v, v).sqrt().max(f32::MIN_POSITIVE);
    let rows: Vec<&[f32]> = found.iter().map(|n| vectors.row(n.row)).collect();
    let norms: Vec<f32> = rows.iter().map(|r| norm(r)).collect();
    let q_norm = norm(query);
    let relevance: Vec<f32> = rows.iter().zip(&norms).map(|(r, n)| dot(query, r) / (q_norm * n)).collect();
    // Highest similarity of each candidate to those picked so far.
    let mut redundancy = vec![f32::NEG_INFINITY; found.len()];
    let mut picked: Vec<usize> = Vec::with_capacity(k.min(found.len()));
    let mut taken = vec![false; found.len()];
    while picked.len() < k.min(found.len()) {
        let mut best: Option<(usize, f32)> = None;
        for i in (0..found.len()).filter(|&i| !taken[i]) {
            let penalty = if picked.is_empty() { 0.0 } else { redundancy[i] };
            let value = (1.0 - diversity) * relevance[i] - diversity * penalty;
            if best.is_none_or(|(_, b)| value > b) {
                best = Some((i, value));
            }
        }
        let Some((p, _)) = best else { break };
        taken[p] = true;
        picked.push(p);
        for i in (0..found.len()).filter(|&i| !taken[i]) {
            let similarity = dot(rows[i], rows[p]) / (norms[i] * norms[p]);
            redundancy[i] = redundancy[i].max(similarity);
        }
    }
    picked.into_iter().map(|i| found[i]).collect()
}
