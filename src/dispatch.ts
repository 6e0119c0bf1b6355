/**
 * Where an awaited lean search (ids and scores, no filter) runs. Sending it to a libuv
 * worker costs a hop there and back: 45-60 us on a 2-core machine, a quarter of a 200 us
 * HNSW query on 384-d embeddings. So when the pool has no awaited search of ours in flight,
 * this collection's searches have been cheap, and the current turn of the event loop has
 * not used up its budget, the search runs on the JS thread (the promise it returns is
 * already settled) unless a write holds the collection's lock (then it goes to the pool
 * after all, as it would if any condition failed). Concurrent callers find a search in
 * flight and go to the pool, so they still use every core.
 *
 * What that may cost the event loop: one inline search at most about {@link INLINE_MAX_US}
 * (a moving average of this collection's searches, inline and pooled, so a collection whose
 * searches grow slow stops being inlined), and at most {@link TURN_BUDGET_US} of inline
 * searching per turn of the loop: past that, the next search first waits for the next turn
 * (`setImmediate`), so a loop of awaited searches still yields to timers and I/O.
 */

/** An inline search is allowed while the collection's searches average at most this. */
const INLINE_MAX_US = 400
/** Inline searching allowed per event-loop turn (reset by `setImmediate`). */
const TURN_BUDGET_US = 2000

/** Awaited searches of any collection on the pool now. */
let pooled = 0
/** Searches waiting for the next turn of the loop to run inline. */
let yielding = 0
/** Inline searching done this turn, in microseconds. */
let spentThisTurn = 0
let resetQueued = false

function spend(us: number): void {
  spentThisTurn += us
  if (!resetQueued) {
    resetQueued = true
    setImmediate(() => {
      spentThisTurn = 0
      resetQueued = false
    })
  }
}

/** One collection's record of what its searches cost, and the choice it makes from it. */
export class SearchDispatch {
  /** Moving average of a search's cost in microseconds (pooled ones include the hop);
   * unknown until the first, which goes to the pool. */
  #costUs = Number.POSITIVE_INFINITY

  #observe(us: number): void {
    this.#costUs = Number.isFinite(this.#costUs) ? this.#costUs * 0.8 + us * 0.2 : us
  }

  /** Runs `inline` on the JS thread when that is allowed now and it does not decline (returns
   * `null`: it would wait for a lock); otherwise awaits `onPool`. */
  async run<T>(inline: () => T | null, onPool: () => Promise<T>): Promise<T> {
    if (pooled === 0 && yielding === 0 && this.#costUs <= INLINE_MAX_US) {
      if (spentThisTurn >= TURN_BUDGET_US) {
        // This turn's budget is spent: let timers and I/O run first. (A caller arriving
        // meanwhile finds one waiting, as concurrent callers do, and goes to the pool.)
        yielding++
        try {
          await new Promise<void>((resolve) => setImmediate(resolve))
        } finally {
          yielding--
        }
      }
    }
    if (pooled === 0 && this.#costUs <= INLINE_MAX_US && spentThisTurn < TURN_BUDGET_US) {
      const t0 = performance.now()
      const result = inline()
      const us = (performance.now() - t0) * 1000
      spend(us)
      if (result !== null) {
        this.#observe(us)
        return result
      }
    }
    pooled++
    const t0 = performance.now()
    try {
      return await onPool()
    } finally {
      pooled--
      this.#observe((performance.now() - t0) * 1000)
    }
  }
}
