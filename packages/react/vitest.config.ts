import { defaultServerConditions } from 'vite'
import { defineProject, mergeConfig } from 'vitest/config'
import { SOURCE_CONDITION, sharedConfig } from '../../vitest.shared.ts'

const config = mergeConfig(
  sharedConfig,
  defineProject({
    test: { name: 'react', environment: 'jsdom', include: ['src/**/*.test.{ts,tsx}'] },
  }),
)
// The tests run a real server (ws in Node) beside the components: resolve as Node does, not as a
// browser bundle would.
config.resolve = { ...config.resolve, conditions: [SOURCE_CONDITION, ...defaultServerConditions] }
export default config
