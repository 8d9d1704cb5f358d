import { readFileSync } from 'node:fs'
import { builtinModules, createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const PACKAGE = resolve(import.meta.dirname, '../..')
const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>
}

/** The declarations tsc emits for the package, by path, built in memory as the build does. */
function emitDeclarations(): Map<string, string> {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(PACKAGE, 'tsconfig.build.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  )
  if (config === undefined) throw new Error('tsconfig.build.json is unreadable')
  const emitted = new Map<string, string>()
  const program = ts.createProgram(config.fileNames, {
    ...config.options,
    noEmit: false,
    emitDeclarationOnly: true,
    declarationMap: false,
  })
  program.emit(undefined, (file, text) => emitted.set(resolve(file), text))
  return emitted
}

/** The modules named by the declarations a user's program reads from `index.d.ts`, outside the package. */
function publicTypeImports(declarations: Map<string, string>): Set<string> {
  const outside = new Set<string>()
  const seen = new Set<string>()
  const pending = [...declarations.keys()].filter((file) => file.endsWith('/dist/index.d.ts'))
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue
    seen.add(file)
    const text = declarations.get(file)
    if (text === undefined) throw new Error(`no declaration emitted for ${file}`)
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (fileName.startsWith('.')) {
        pending.push(resolve(dirname(file), fileName.replace(/\.ts$/, '.d.ts')))
      } else outside.add(fileName)
    }
  }
  return outside
}

/** Whether installing `name` brings its types (a `types`/`typings` field or typed exports). */
function shipsTypes(name: string): boolean {
  const require = createRequire(join(PACKAGE, 'package.json'))
  const own = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8'))
  return (
    typeof own.types === 'string' ||
    typeof own.typings === 'string' ||
    JSON.stringify(own.exports ?? {}).includes('"types"')
  )
}

describe('the published types', () => {
  it("need nothing a user's install lacks: only Node's modules and dependencies that carry types", () => {
    const named = [...publicTypeImports(emitDeclarations())]
    expect(named.length).toBeGreaterThan(0)
    const unusable = named.filter(
      (name) =>
        !name.startsWith('node:') &&
        !builtinModules.includes(name) &&
        !(name in manifest.dependencies && shipsTypes(name)),
    )
    // `ws` carries no types (they are @types/ws): a user's `tsc` would fail on them.
    expect(unusable).toEqual([])
  }, 60_000)
})
