import { deepFreeze } from '@iii-streams/test-utils'
import fc from 'fast-check'
import { produce } from 'immer'
import { describe, expect, it } from 'vitest'
import { applyUpdateOps, type JsonValue, MISSING, validateUpdateOps } from '../index.ts'
import { jsonValue, updateOp } from './_arbitraries.ts'

describe('applyUpdateOps on generated values and ops', () => {
  it('agrees between plain JSON and immer drafts, never mutates its input, never pollutes', () => {
    const protoNames = Object.getOwnPropertyNames(Object.prototype).sort()
    fc.assert(
      fc.property(
        fc.option(jsonValue, { nil: undefined }),
        fc.array(updateOp, { maxLength: 8 }),
        (stored, ops) => {
          expect(validateUpdateOps(ops).ok).toBe(true)
          const current = stored === undefined ? MISSING : deepFreeze(stored)
          const snapshot = stored === undefined ? undefined : structuredClone(stored)
          const plain = applyUpdateOps(current, ops)
          const drafted = produce({ it: stored ?? null } as { it: JsonValue }, (draft) => {
            const result = applyUpdateOps(stored === undefined ? MISSING : draft.it, ops)
            draft.it = result.value
            expect(result.errors).toEqual(plain.errors)
          })
          expect(drafted.it).toEqual(plain.value)
          if (snapshot !== undefined) expect(stored).toEqual(snapshot)
          expect(
            plain.errors.every((e, i, all) => i === 0 || all[i - 1]!.op_index < e.op_index),
          ).toBe(true)
        },
      ),
      { numRuns: 500 },
    )
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoNames)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
