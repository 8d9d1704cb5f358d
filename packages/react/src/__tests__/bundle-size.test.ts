import { resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build, type Rolldown } from 'vite'
import { describe, expect, it } from 'vitest'

const PACKAGE = resolve(import.meta.dirname, '../..')
/** The binding's own cost on top of the client, min+gzip. */
const BUDGET_BYTES = 1536

describe('the React binding', () => {
  it(`adds at most ${BUDGET_BYTES} bytes min+gzip on top of the client`, async () => {
    const result = (await build({
      configFile: false,
      root: PACKAGE,
      logLevel: 'silent',
      resolve: { conditions: ['@iii-streams/source'] },
      define: { 'process.env.NODE_ENV': JSON.stringify('production') },
      build: {
        write: false,
        minify: true,
        lib: { entry: 'src/index.ts', formats: ['es'], fileName: () => 'index.js' },
        rolldownOptions: { external: [/^react(\/.*)?$/, /^react-dom/, /^@iii-streams\//] },
      },
    })) as Rolldown.RolldownOutput[]
    const chunk = result[0]?.output.find((file) => file.type === 'chunk') as { code: string }
    expect(chunk.code).toMatch(/from\s*["']@iii-streams\/client["']|from\s*["']react["']/)
    const size = gzipSync(chunk.code, { level: 9 }).length
    console.log(
      `@iii-streams/react: ${chunk.code.length} bytes minified, ${size} bytes min+gzip (budget ${BUDGET_BYTES})`,
    )
    expect(size).toBeLessThanOrEqual(BUDGET_BYTES)
  })
})
