/**
 * `npm run example:query`: filtered search over a product catalogue with the fluent
 * QueryBuilder, beside the same filters as plain objects; `explain()` shows how each runs.
 *
 *   npm run example:query [-- --products 50000]
 *
 * Every builder query is checked against its object-filter twin and against a brute-force
 * evaluation of the filter over the catalogue, so the example fails loudly if they disagree.
 */
import { parseArgs } from 'node:util'
import { type Filter, LibraVDB, QueryBuilder } from '../index'

const DIM = 32
const CATEGORIES = ['book', 'film', 'music', 'game', 'toy']
const TAGS = ['sale', 'new', 'gift', 'bestseller']

type Product = {
  category: string
  price: number
  tags: string[]
  releasedAt: Date
}

function catalogue(n: number): { vectors: Float32Array; products: Product[] } {
  let seed = 7
  const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647
  const vectors = new Float32Array(n * DIM).map(() => random() * 2 - 1)
  const products = Array.from({ length: n }, () => ({
    category: CATEGORIES[Math.floor(random() * CATEGORIES.length)],
    price: Math.round(random() * 10_000) / 100,
    tags: TAGS.filter(() => random() < 0.25),
    releasedAt: new Date(Date.UTC(2015 + Math.floor(random() * 11), Math.floor(random() * 12), 1)),
  }))
  return { vectors, products }
}

async function main() {
  const { values } = parseArgs({ options: { products: { type: 'string' } } })
  const n = Number(values.products ?? 50_000)
  const { vectors, products } = catalogue(n)

  await using db = await LibraVDB.open()
  const shop = await db.createCollection('products', {
    dimension: DIM,
    index: { type: 'hnsw' },
    schema: { category: 'string', price: 'float', tags: 'string[]', releasedAt: 'date' },
  })
  await shop.insertBatch({ ids: products.map((_, i) => `p${i}`), vectors, metadata: products })
  console.log(`${await shop.count()} products`)

  const query = vectors.subarray(0, DIM)
  const cases: { name: string; build: (q: QueryBuilder) => QueryBuilder; filter: Filter; matches: (p: Product) => boolean }[] = [
    {
      name: 'books under 20',
      build: (q) => q.where('category').eq('book').where('price').lt(20),
      filter: { category: 'book', price: { $lt: 20 } },
      matches: (p) => p.category === 'book' && p.price < 20,
    },
    {
      name: 'films or games on sale, 2023 or later',
      build: (q) =>
        q
          .where('category')
          .in(['film', 'game'])
          .where('tags')
          .contains('sale')
          .where('releasedAt')
          .gte(new Date('2023-01-01')),
      filter: { category: { $in: ['film', 'game'] }, tags: { $contains: 'sale' }, releasedAt: { $gte: new Date('2023-01-01') } },
      matches: (p) => ['film', 'game'].includes(p.category) && p.tags.includes('sale') && p.releasedAt >= new Date('2023-01-01'),
    },
    {
      name: 'toys between 10 and 12, or any gift bestseller',
      build: (q) => q.where('category').eq('toy').where('price').between(10, 12).or((g) => g.where('tags').containsAll(['gift', 'bestseller'])),
      filter: { $or: [{ category: 'toy', price: { $between: [10, 12] } }, { tags: { $containsAll: ['gift', 'bestseller'] } }] },
      matches: (p) => (p.category === 'toy' && p.price >= 10 && p.price <= 12) || (p.tags.includes('gift') && p.tags.includes('bestseller')),
    },
  ]

  for (const c of cases) {
    const builder = c.build(shop.query(query)).limit(5).withMetadata()
    const plan = await builder.explain()
    const viaBuilder = await builder.execute()
    const viaObject = await shop.search(query, { k: 5, filter: c.filter, includeMetadata: true })
    const matching = products.filter(c.matches).length
    console.log(`\n${c.name}: ${matching} match (${((100 * matching) / n).toFixed(2)}%); plan '${plan.plan}': ${plan.reason}`)
    for (const hit of viaBuilder) {
      const m = hit.metadata as unknown as Product
      console.log(`  ${hit.id.padEnd(7)} ${hit.score.toFixed(3)}  ${m.category} ${m.price} [${m.tags.join(", ")}] ${m.releasedAt.toISOString().slice(0, 10)}`)
    }
    if (plan.estimate !== undefined && plan.estimate !== matching) throw new Error(`${c.name}: planner counted ${plan.estimate}, brute force ${matching}`)
    if (viaBuilder.some((h) => !c.matches(products[Number(h.id.slice(1))]))) throw new Error(`${c.name}: a hit does not match`)
    if (JSON.stringify(viaBuilder.map((h) => h.id)) !== JSON.stringify(viaObject.map((h) => h.id))) {
      throw new Error(`${c.name}: builder and object filter disagree`)
    }
    if (viaBuilder.length !== Math.min(5, matching)) throw new Error(`${c.name}: ${viaBuilder.length} hits for ${matching} matches`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
