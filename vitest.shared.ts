import { defaultClientConditions, defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

/** The export condition that points every workspace package at its `src/index.ts`. */
export const SOURCE_CONDITION = '@iii-streams/source'

/**
 * The base every package's Vitest project extends: tests run from source (no build step),
 * with the `@iii-streams/source` condition first for client and server resolution alike.
 */
export const sharedConfig = defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
  test: {
    // 2 cores: keep parallelism modest.
    maxWorkers: 2,
    testTimeout: 20_000,
  },
})
