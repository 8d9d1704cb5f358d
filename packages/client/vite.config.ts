import { defineConfig } from 'vite'

/**
 * The script-tag build: one IIFE that defines the global `IIIStreams`, with immer and
 * reconnecting-websocket inside. (The ESM build is tsc's, in the same dist/.)
 */
export default defineConfig({
  resolve: { conditions: ['@iii-streams/source'] },
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
