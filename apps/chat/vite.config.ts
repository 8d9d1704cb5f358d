import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defaultClientConditions, defineConfig } from 'vite'

const PORT = 5174
const HOST = '127.0.0.1'

export default defineConfig({
  // Svelte 5 reads `<script lang="ts">` itself: no preprocessing, so no svelte.config.js.
  plugins: [svelte({ configFile: false })],
  // Workspace packages run from their `src/`, so the app needs no build of them first.
  resolve: { conditions: ['@iii-streams/source', ...defaultClientConditions] },
  server: { port: PORT, strictPort: true, host: HOST },
  preview: { port: PORT, strictPort: true, host: HOST },
})
