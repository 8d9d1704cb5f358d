import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { defineConfig } from 'vite'

/**
 * reconnecting-websocket publishes its TypeScript source beside its builds, which are ES5 (classes,
 * spreads and iterators written out long-hand). Compiled for today's browsers with the rest of
 * the bundle, the same code takes 1.5 KB of it min+gzip instead of 2.1 KB.
 */
const reconnectingWebSocketSource = join(
  dirname(createRequire(import.meta.url).resolve('reconnecting-websocket/package.json')),
  'reconnecting-websocket.ts',
)

/**
 * The script-tag build: one IIFE that defines the global `IIIStreams`, with immer and
 * reconnecting-websocket inside. (The ESM build is tsc's, in the same dist/.)
 */
export default defineConfig({
  resolve: {
    conditions: ['@iii-streams/source'],
    alias: { 'reconnecting-websocket': reconnectingWebSocketSource },
  },
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    emptyOutDir: false,
    sourcemap: true,
    minify: true,
    lib: {
      entry: 'src/index.ts',
      name: 'IIIStreams',
      formats: ['iife'],
      fileName: () => 'iii-streams.iife.js',
    },
  },
})
