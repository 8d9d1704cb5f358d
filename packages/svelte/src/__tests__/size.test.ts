// @vitest-environment node
import { resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build, type Rolldown } from 'vite'
import { expect, it } from 'vitest'

const PACKAGE = resolve(import.meta.dirname, '../..')
const BUDGET_BYTES = 1536

it(`keeps the binding's own code within ${BUDGET_BYTES} bytes min+gzip`, async () => {
  const result = (await build({
    configFile: false,
    root: PACKAGE,
    logLevel: 'silent',
    build: {
      write: false,
      minify: true,
      sourcemap: false,
      lib: { entry: ['src/index.ts', 'src/runes.ts'], formats: ['es'] },
      // The client and svelte are the app's to ship.
      rolldownOptions: { external: [/^@iii-streams\/client/, /^svelte(\/|$)/] },
    },
  })) as Rolldown.RolldownOutput[]
  const chunks = result.flatMap(({ output }) => output.filter((file) => file.type === 'chunk'))
  const sizes = chunks.map(
    (chunk) => `${chunk.fileName} ${gzipSync(chunk.code, { level: 9 }).length}`,
  )
  const size = gzipSync(chunks.map((chunk) => chunk.code).join('\n'), { level: 9 }).length
  console.log(
    `@iii-streams/svelte: ${size} bytes min+gzip (budget ${BUDGET_BYTES}); ${sizes.join(', ')}`,
  )
  expect(chunks.map((chunk) => chunk.code).join()).not.toMatch(/createStreamClient|reconnecting/)
  expect(size).toBeLessThanOrEqual(BUDGET_BYTES)
})
