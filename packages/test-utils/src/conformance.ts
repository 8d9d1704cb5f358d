import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type JsonValue, MISSING, type Missing, parseJsonNumber } from '@iii-streams/protocol'
import { parse } from 'lossless-json'

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

/** The vectors, parsed losslessly: integers beyond ±(2^53 − 1) arrive as exact bigints. */
export function loadUpdateOpCases(): ConformanceCase[] {
  const text = readFileSync(conformanceFile('update-ops.json'), 'utf8')
  const file = parse(text, null, parseJsonNumber) as { cases: ConformanceCase[] }
  return file.cases
}

export function beforeValue(testCase: ConformanceCase): JsonValue | Missing {
  return testCase.before === '__MISSING__' ? MISSING : testCase.before
}

/** Freezes a value all the way down, so that any mutation of it throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
