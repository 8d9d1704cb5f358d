import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'lossless-json'

/** A JSON value, bigints included (this package stays free of the packages it tests). */
// biome-ignore lint/suspicious/noExplicitAny: vectors hold any JSON.
type JsonValue = any

/** The `before` of a vector whose item does not exist. */
export const MISSING_MARKER = '__MISSING__'

/** One vector of `update-ops.json`. */
export interface ConformanceCase {
  name: string
  before: JsonValue
  ops: unknown
  after?: JsonValue
  errors?: { op_index: number; code: string }[]
  old_value?: JsonValue
  rejected?: string
  bigint?: boolean
  ref: string
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** `../shared/conformance` beside the repository, or `IIIS_CONFORMANCE_DIR`. */
export function conformanceFile(name: string): string {
  const dir = process.env.IIIS_CONFORMANCE_DIR ?? resolve(REPO_ROOT, '../shared/conformance')
  const file = resolve(dir, name)
  if (!existsSync(file)) {
    throw new Error(
      `Conformance vectors not found at ${file}: check out shared/ beside the repository or set IIIS_CONFORMANCE_DIR.`,
    )
  }
  return file
}

/**
 * The vectors, parsed losslessly with `parseNumber` (the protocol's `parseJsonNumber`): integers
 * beyond ±(2^53 − 1) arrive as exact bigints.
 */
export function loadUpdateOpCases(parseNumber: (text: string) => unknown): ConformanceCase[] {
  const text = readFileSync(conformanceFile('update-ops.json'), 'utf8')
  const file = parse(text, null, parseNumber) as { cases: ConformanceCase[] }
  return file.cases
}

/** A vector's stored value, with `missing` standing for an item that does not exist. */
export function beforeValue<TMissing>(
  testCase: ConformanceCase,
  missing: TMissing,
): JsonValue | TMissing {
  return testCase.before === MISSING_MARKER ? missing : testCase.before
}

/** Freezes a value all the way down, so that any mutation of it throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
