import { defineConfig } from 'vitest/config'

// `npm run test:milvus` only: needs the Milvus server scripts/test-milvus.js starts.
export default defineConfig({
  test: {
    include: ['__test__/milvus/*.milvus-spec.ts'],
    pool: 'forks',
    testTimeout: 300_000,
  },
})
