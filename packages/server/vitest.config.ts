import { defineProject, mergeConfig } from 'vitest/config'
import { SOURCE_CONDITION, sharedConfig } from '../../vitest.shared.ts'

const config = mergeConfig(
  sharedConfig,
  defineProject({
    test: { name: 'server', environment: 'node', include: ['src/**/*.test.ts'] },
  }),
)
// Resolve dependencies as Node does. Vite's default "module" condition would hand Node the ESM
// builds of iii-sdk's OpenTelemetry dependencies, whose directory imports Node refuses.
config.ssr = {
  ...config.ssr,
  resolve: {
    ...config.ssr?.resolve,
    conditions: [SOURCE_CONDITION, 'node', 'development|production'],
  },
}
export default config
