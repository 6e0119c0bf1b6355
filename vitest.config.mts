import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['__test__/**/*.spec.ts'],
    // Separate processes: a native crash kills one worker, not the runner.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
})
