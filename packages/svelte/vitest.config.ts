import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { svelteTesting } from '@testing-library/svelte/vite'
import { configDefaults, defineProject, mergeConfig } from 'vitest/config'
import { sharedConfig } from '../../vitest.shared.ts'

// jsdom tests resolve with the `browser` condition (Svelte's client runtime), which would give `ws`
// its browser stub; the real server and the client's socket need its Node build.
const WS_NODE_ENTRY = join(
  dirname(createRequire(import.meta.url).resolve('ws/package.json')),
  'wrapper.mjs',
)

export default mergeConfig(
  sharedConfig,
  defineProject({
    // svelteTesting(): Svelte's browser build (the source condition stays first), and cleanup.
    plugins: [svelte({ configFile: false }), svelteTesting()],
    resolve: { alias: [{ find: /^ws$/, replacement: WS_NODE_ENTRY }] },
    test: {
      name: 'svelte',
      environment: 'jsdom',
      include: ['src/**/*.test.ts'],
      exclude: [...configDefaults.exclude, 'src/**/*.ssr.test.ts'],
    },
  }),
)
