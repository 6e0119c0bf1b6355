import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Document } from '@langchain/core/documents'
import { Embeddings } from '@langchain/core/embeddings'
import { SyntheticEmbeddings } from '@langchain/core/utils/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError, LibraVDB, NotFoundError } from '../index'
import { LibraVDBStore } from '../langchain'

/** Deterministic embeddings where shared words mean closeness: one dimension per vocabulary
 * word (its count) plus a constant, so similarity rankings are known in advance. */
class WordEmbeddings extends Embeddings {
  static readonly VOCAB = ['apple', 'banana', 'cherry', 'rust', 'node', 'vector', 'database', 'fruit']
  constructor() {
    super({})
  }
  embed(text: string): number[] {
    const words = text.toLowerCase().split(/\W+/)
    return [...WordEmbeddings.VOCAB.map((w) => words.filter((x) => x === w).length), 0.1]
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.embed(t))
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.embed(text)
  }
}

const DOCS = [
  new Document({ pageContent: 'apple fruit', metadata: { kind: 'fruit', year: 2021 } }),
  new Document({ pageContent: 'apple apple fruit', metadata: { kind: 'fruit', year: 2023 } }),
  new Document({ pageContent: 'banana fruit', metadata: { kind: 'fruit', year: 2024 } }),
  new Document({ pageContent: 'rust vector database', metadata: { kind: 'tech', year: 2024 } }),
  new Document({ pageContent: 'node vector database', metadata: { kind: 'tech', year: 2025 } }),
]

const cosine = (a: number[], b: number[]) => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]
    na += a[i] * a[i]
    nb += b[i] * b[i]
  }
  return dot / Math.sqrt(na * nb)
}

describe('LibraVDBStore (libravdb/langchain)', () => {
  const open: LibraVDB[] = []
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close()
  })
  async function memoryDb() {
    const db = await LibraVDB.open()
    open.push(db)
    return db
  }

  it('addDocuments returns ids (a document id is kept), similaritySearch ranks by the embeddings', async () => {
    const db = await memoryDb()
    const store = await LibraVDBStore.fromDocuments([], new WordEmbeddings(), { db, collectionName: 'docs' })
    const withId = new Document({ id: 'fixed-id', pageContent: 'cherry fruit', metadata: { kind: 'fruit', year: 2020 } })
    const ids = await store.addDocuments([...DOCS, withId])
    expect(ids).toHaveLength(6)
    expect(ids[5]).toBe('fixed-id')
    expect(new Set(ids).size).toBe(6)

    const top = await store.similaritySearch('apple', 2)
    expect(top.map((d) => d.pageContent)).toEqual(['apple apple fruit', 'apple fruit'])
    expect(top[0].metadata).toEqual({ kind: 'fruit', year: 2023 })
    expect(top[0].id).toBe(ids[1])

    // scores are cosine similarities, best first, equal to the exact ones
    const emb = new WordEmbeddings()
    const scored = await store.similaritySearchWithScore('rust database', 3)
    expect(scored[0][0].pageContent).toBe('rust vector database')
    for (const [doc, score] of scored) expect(score).toBeCloseTo(cosine(emb.embed('rust database'), emb.embed(doc.pageContent)), 5)
    expect(scored[0][1]).toBeGreaterThanOrEqual(scored[1][1])
  })

  it('filters use the object syntax on the documents metadata', async () => {
    const db = await memoryDb()
    const store = await LibraVDBStore.fromDocuments(DOCS, new WordEmbeddings(), { db, collectionName: 'docs' })
    const tech = await store.similaritySearch('apple', 5, { kind: 'tech' })
    expect(tech.map((d) => d.metadata.kind)).toEqual(['tech', 'tech'])
    const recent = await store.similaritySearch('fruit', 5, { kind: 'fruit', year: { $gte: 2023 } })
    expect(recent.map((d) => d.pageContent).sort()).toEqual(['apple apple fruit', 'banana fruit'])
    const retriever = store.asRetriever({ k: 1, filter: { kind: 'tech', year: 2025 } })
    const got = await retriever.invoke('database')
    expect(got.map((d) => d.pageContent)).toEqual(['node vector database'])
  })

  it('delete by ids and by filter; re-adding an id replaces the document', async () => {
    const db = await memoryDb()
    const store = await LibraVDBStore.fromDocuments(DOCS, new WordEmbeddings(), { db, collectionName: 'docs' })
    const ids = (await store.similaritySearch('apple', 5)).map((d) => d.id!)
    await store.delete({ ids: [ids[0]] })
    expect((await store.similaritySearch('apple', 5)).map((d) => d.id)).not.toContain(ids[0])
    await store.delete({ filter: { kind: 'tech' } })
    expect(await store.collection.count()).toBe(2)
    await expect(store.delete({})).rejects.toBeInstanceOf(InvalidArgumentError)

    await store.addDocuments([new Document({ pageContent: 'rust node', metadata: { kind: 'tech' } })], { ids: [ids[1]] })
    expect(await store.collection.count()).toBe(2)
    const [replaced] = await store.similaritySearch('rust node', 1)
    expect(replaced.id).toBe(ids[1])
    expect(replaced.metadata).toEqual({ kind: 'tech' })
  })

  it('maxMarginalRelevanceSearch equals a reference MMR over the exact neighbours', async () => {
    const db = await memoryDb()
    const emb = new SyntheticEmbeddings({ vectorSize: 24 })
    const texts = Array.from({ length: 60 }, (_, i) => `document number ${i % 20} variant ${Math.floor(i / 20)}`)
    const store = await LibraVDBStore.fromTexts(texts, { source: 'synthetic' }, emb, { db, collectionName: 'mmr' })
    const query = 'document number 3'
    const q = await emb.embedQuery(query)
    const vectors = await emb.embedDocuments(texts)

    for (const lambda of [1, 0.5, 0.1]) {
      const got = await store.maxMarginalRelevanceSearch(query, { k: 5, fetchK: 20, lambda })
      // reference: the exact 20 nearest by cosine, then greedy MMR with the same lambda
      const candidates = texts.map((t, i) => ({ t, v: vectors[i], s: cosine(q, vectors[i]) })).sort((a, b) => b.s - a.s).slice(0, 20)
      const picked: typeof candidates = []
      while (picked.length < 5) {
        let best = -1
        let bestScore = -Infinity
        candidates.forEach((c, i) => {
          if (picked.includes(c)) return
          const redundancy = picked.length ? Math.max(...picked.map((p) => cosine(c.v, p.v))) : 0
          const score = lambda * c.s - (1 - lambda) * redundancy
          if (score > bestScore) [best, bestScore] = [i, score]
        })
        picked.push(candidates[best])
      }
      expect(got.map((d) => d.pageContent)).toEqual(picked.map((p) => p.t))
      expect(got.every((d) => d.metadata.source === 'synthetic')).toBe(true)
    }
    const relevanceOnly = await store.maxMarginalRelevanceSearch(query, { k: 5, fetchK: 20, lambda: 1 })
    expect(relevanceOnly.map((d) => d.pageContent)).toEqual((await store.similaritySearch(query, 5)).map((d) => d.pageContent))
  })

  it('fromTexts with one metadata per text; fromExistingCollection after a reopen on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'libravdb-langchain-'))
    const emb = new WordEmbeddings()
    let db = await LibraVDB.open(dir)
    const store = await LibraVDBStore.fromTexts(
      ['apple', 'banana', 'rust database'],
      [{ n: 1 }, { n: 2 }, { n: 3 }],
      emb,
      { db, collectionName: 'kb', collectionConfig: { metric: 'cosine', index: { type: 'hnsw' } } },
    )
    expect(store.collection.stats().activeIndex).toBe('hnsw')
    const before = await store.similaritySearchWithScore('banana', 3)
    await db.close()

    db = await LibraVDB.open(dir)
    open.push(db)
    const again = await LibraVDBStore.fromExistingCollection(emb, { db, collectionName: 'kb' })
    const after = await again.similaritySearchWithScore('banana', 3)
    expect(after.map(([d, s]) => [d.id, d.pageContent, d.metadata, s])).toEqual(before.map(([d, s]) => [d.id, d.pageContent, d.metadata, s]))
    expect(after[0][0].metadata).toEqual({ n: 2 })
    await expect(LibraVDBStore.fromExistingCollection(emb, { db, collectionName: 'missing' })).rejects.toBeInstanceOf(NotFoundError)
  })

  it('rejects a document whose metadata uses the text field, and mismatched ids, changing nothing', async () => {
    const db = await memoryDb()
    const store = await LibraVDBStore.fromDocuments(DOCS, new WordEmbeddings(), { db, collectionName: 'docs' })
    const bad = new Document({ pageContent: 'apple', metadata: { text: 'clash' } })
    await expect(store.addDocuments([DOCS[0], bad])).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(store.addDocuments(DOCS, { ids: ['only-one'] })).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(await store.collection.count()).toBe(DOCS.length)
    const custom = await LibraVDBStore.fromDocuments([bad], new WordEmbeddings(), { db, collectionName: 'custom', textKey: 'body' })
    const [doc] = await custom.similaritySearch('apple', 1)
    expect(doc.pageContent).toBe('apple')
    expect(doc.metadata).toEqual({ text: 'clash' })
  })

  it('vectorField: two embedding models side by side in one collection, each store on its field', async () => {
    const db = await memoryDb()
    // A second "model": the same words, reversed vocabulary order (a different space).
    class Reversed extends WordEmbeddings {
      override embed(text: string): number[] {
        return super.embed(text).reverse()
      }
    }
    const docs = DOCS.map((d, i) => new Document({ ...d, id: `d${i}` }))
    const v1 = await LibraVDBStore.fromDocuments(docs, new WordEmbeddings(), { db, collectionName: 'docs', vectorField: 'v1' })
    const c = v1.collection
    await c.addVectorField('v2', { dimension: 9, metric: 'cosine' })
    const v2 = new LibraVDBStore(new Reversed(), { collection: c, vectorField: 'v2' })
    await v2.addDocuments(docs) // stored ids: v2 is set, v1 kept
    expect(Object.keys((await c.get('d1'))!.vectors!).sort()).toEqual(['v1', 'v2'])
    expect((await v2.similaritySearch('apple', 2)).map((d) => d.pageContent)).toEqual(['apple apple fruit', 'apple fruit'])
    expect((await v1.similaritySearch('rust database', 1))[0].pageContent).toBe('rust vector database')
    const mmr = await v2.maxMarginalRelevanceSearch('fruit', { k: 2, fetchK: 5 })
    expect(mmr).toHaveLength(2)
    await expect(new LibraVDBStore(new WordEmbeddings(), { collection: c, vectorField: 'nope' }).similaritySearch('apple', 1)).rejects.toThrow(InvalidArgumentError)
  })
})
