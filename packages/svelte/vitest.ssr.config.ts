import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineProject, mergeConfig } from 'vitest/config'
import { sharedConfig } from '../../vitest.shared.ts'

/**
 * Server rendering: components compiled for `svelte/server`, packages resolved as a server
 * resolves them (no `browser` condition, so esm-env's BROWSER is false), in Node.
 */
export default mergeConfig(
  sharedConfig,
  defineProject({
    plugins: [svelte({ configFile: false })],
    test: { name: 'svelte-ssr', environment: 'node', include: ['src/**/*.ssr.test.ts'] },
  }),
)
