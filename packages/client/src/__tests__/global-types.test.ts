import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const PACKAGE = resolve(import.meta.dirname, '../..')

/** Type-checks `code` as a page's script would be, resolving `@iii-streams/client` to this package. */
async function diagnostics(code: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'iii-streams-global-'))
  try {
    const file = join(dir, 'page.ts')
    writeFileSync(file, code)
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      allowImportingTsExtensions: true,
      customConditions: ['@iii-streams/source'],
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      // (The sources read process.env.NODE_ENV, which a bundler replaces.)
      types: ['node'],
      paths: { '@iii-streams/client/*': [`${PACKAGE}/src/*.ts`] },
    })
    return ts
      .getPreEmitDiagnostics(program)
      .map((each) => ts.flattenDiagnosticMessageText(each.messageText, '\n'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const PAGE = `
const client = IIIStreams.createStreamClient({ url: 'ws://127.0.0.1:3112' })
const status: 'loading' | 'ready' | 'unauthorized' | 'error' = client.group<{ id: string }>('chat', 'room').get().status
export {}
`

describe('the script-tag global', () => {
  it('is typed for a page that imports @iii-streams/client/global, and unknown without it', async () => {
    expect(await diagnostics(`import type {} from '@iii-streams/client/global'\n${PAGE}`)).toEqual(
      [],
    )
    expect(await diagnostics(PAGE)).toContain("Cannot find name 'IIIStreams'.")
  }, 30_000)
})
