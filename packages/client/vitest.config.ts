import { defineProject, mergeConfig } from 'vitest/config'
import { sharedConfig } from '../../vitest.shared.ts'

export default mergeConfig(
  sharedConfig,
  defineProject({
    test: {
      name: 'client',
      environment: 'node',
      include: ['src/**/*.test.ts'],
      // The memory tests collect garbage to check what the client lets go.
      execArgv: ['--expose-gc'],
      typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    },
  }),
)
