import {
  beforeValue,
  type ConformanceCase,
  deepFreeze,
  loadUpdateOpCases,
} from '@iii-streams/test-utils'
import { produce } from 'immer'
import { afterAll, describe, expect, it } from 'vitest'
import {
  applyUpdateOps,
  InvalidUpdateOpsError,
  type JsonValue,
  MISSING,
  parseJsonNumber,
  UPDATE_OP_DOC_URL,
  type UpdateOp,
  type UpdateOpError,
  validateUpdateOps,
} from '../index.ts'

const cases = loadUpdateOpCases(parseJsonNumber)
const ran = { plain: 0, draft: 0, bigint: new Set<string>() }

function expectEngineResult(
  testCase: ConformanceCase,
  result: { value: JsonValue; errors: readonly UpdateOpError[] },
) {
  expect(result.value).toEqual(testCase.after)
  expect(result.errors.map(({ op_index, code }) => ({ op_index, code }))).toEqual(testCase.errors)
  for (const error of result.errors) {
    expect(error).toMatchObject({ doc_url: UPDATE_OP_DOC_URL, message: expect.any(String) })
    expect(error.message.length).toBeGreaterThan(10)
  }
  if (testCase.bigint) ran.bigint.add(testCase.name)
}

describe('stream::update conformance (../shared/conformance/update-ops.json)', () => {
  it('has the 121 engine vectors', () => {
    expect(cases).toHaveLength(121)
  })

  describe.each(cases)('$name', (testCase) => {
    if (testCase.rejected !== undefined) {
      it('rejects the whole call before any op runs', () => {
        const checked = validateUpdateOps(testCase.ops)
        expect(checked.ok).toBe(false)
        if (!checked.ok) {
          expect(checked.error.code).toBe('deserialization_error')
          expect(checked.error.message).toMatch(/^ops\[\d+\]: /)
        }
        const before = deepFreeze(beforeValue(testCase, MISSING))
        expect(() => applyUpdateOps(before, testCase.ops as UpdateOp[])).toThrow(
          InvalidUpdateOpsError,
        )
        ran.plain++
        ran.draft++
      })
      return
    }

    it('on plain JSON, without mutating its input', () => {
      expect(validateUpdateOps(testCase.ops).ok).toBe(true)
      const stored = beforeValue(testCase, MISSING)
      const before = stored === MISSING ? MISSING : deepFreeze(structuredClone(stored))
      const result = applyUpdateOps(before, testCase.ops as UpdateOp[])
      expectEngineResult(testCase, result)
      // Frozen input: a mutation would have thrown; the stored value is still the old one.
      expect(before === MISSING ? null : before).toEqual(testCase.old_value)
      ran.plain++
    })

    it('inside an immer draft', () => {
      const before = beforeValue(testCase, MISSING)
      const base = deepFreeze(before === MISSING ? { items: {} } : { items: { it: before } })
      let errors: readonly UpdateOpError[] = []
      const next = produce(base, (draft: { items: Record<string, JsonValue> }) => {
        const current = 'it' in draft.items ? (draft.items.it as JsonValue) : MISSING
        const result = applyUpdateOps(current, testCase.ops as UpdateOp[])
        draft.items.it = result.value
        errors = result.errors
      })
      expectEngineResult(testCase, { value: next.items.it as JsonValue, errors })
      ran.draft++
    })
  })

  afterAll(() => {
    const bigint = [...ran.bigint]
    console.log(
      `update-ops conformance: ${cases.length} cases; ${ran.plain} ran on plain JSON, ${ran.draft} inside immer drafts; ` +
        `0 skipped; ${bigint.length} bigint cases ran exactly (${bigint.join(', ')})`,
    )
  })
})
