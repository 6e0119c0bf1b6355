//! The lean single-query search: scores written into the caller's buffer, the hits' ids
//! joined by NUL, no hit objects (what the facade's `searchSync` and awaited `search` use
//! when they ask for ids and scores only), on the unnamed vector or a named field.

use super::params::SearchParams;
use super::read::check_params;
use super::{Collection, State};
use crate::error::Result;

impl Collection {
    /// One query, the lean way: writes up to `scores.len()` scores into `scores` and returns
    /// the ids of the hits, best first, joined by NUL (ids cannot contain NUL). For callers
    /// that cross a language boundary per query, where building result objects costs more
    /// than the search.
    /// `params.k` is taken from `scores.len()`; metadata and vectors are not returned.
    /// `using`: a named vector field to search instead of the unnamed vector.
    pub fn search_into(
        &self,
        query: &[f32],
        params: SearchParams,
        using: Option<&str>,
        scores: &mut [f32],
    ) -> Result<String> {
        let (query, params) = self.lean_query(query, params, using, scores.len())?;
        self.search_into_locked(&*self.read_state()?, &query, params, using, scores)
    }

    /// [`Collection::search_into`] unless it would wait: `None` when a write holds (or
    /// waits for) the state's lock, so that a caller on an event loop can go elsewhere.
    pub fn search_into_now(
        &self,
        query: &[f32],
        params: SearchParams,
        using: Option<&str>,
        scores: &mut [f32],
    ) -> Result<Option<String>> {
        let (query, params) = self.lean_query(query, params, using, scores.len())?;
        self.check_open()?;
        let Some(st) = self.state.try_read() else { return Ok(None) };
        self.check_open()?;
        self.search_into_locked(&st, &query, params, using, scores).map(Some)
    }

    /// The checked, prepared query of a lean search for `k` hits (of field `using`).
    fn lean_query(
        &self,
        query: &[f32],
        params: SearchParams,
        using: Option<&str>,
        k: usize,
    ) -> Result<(Vec<f32>, SearchParams)> {
        let params = SearchParams { k, include_metadata: false, include_vectors: false, ..params };
        let Some(field) = using else {
            self.check_search(query, params)?;
            return Ok((self.prepare_queries(query)?, params));
        };
        check_params(params)?;
        let mut prepared = self.prepare_field_queries(&[(field.to_owned(), query.to_vec())])?;
        Ok((prepared.pop().expect("one query").1, params))
    }

    fn search_into_locked(
        &self,
        st: &State,
        query: &[f32],
        params: SearchParams,
        using: Option<&str>,
        scores: &mut [f32],
    ) -> Result<String> {
        let (found, metric, record_of): (_, _, &dyn Fn(u32) -> u32) = match using {
            None => {
                let breadth = params.breadth(st.space.index.active());
                let found = st.knn(query, params.candidates(), breadth, self.metric, &|r| st.ids.is_live(r));
                (params.finish(self.metric, &st.space.vectors, query, found), self.metric, &|row| row)
            }
            Some(name) => {
                let field = st.present_field(name)?;
                let found = field.knn(query, params.candidates(), params.breadth(field.space.index.active()));
                let found = params.finish(field.metric, &field.space.vectors, query, found);
                (found, field.metric, &|row| field.owner(row).expect("a live row of the field"))
            }
        };
        let mut ids = String::with_capacity(found.len() * 12);
        for (i, n) in found.iter().enumerate() {
            if i > 0 {
                ids.push('\0');
            }
            ids.push_str(st.ids.id(record_of(n.row)));
            scores[i] = metric.score(n.distance);
        }
        Ok(ids)
    }
}
