import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['__test__/**/*.spec.ts'],
    // Separate processes: a native crash kills one worker, not the runner.
    pool: 'forks',
    // One file at a time: on a 2-core machine, files running side by side would make the
    // event-loop probe measure CPU contention rather than blocking.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
})
