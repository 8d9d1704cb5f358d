import { type JsonValue, MISSING, parseJsonNumber } from '@iii-streams/protocol'
import { beforeValue, loadUpdateOpCases } from '@iii-streams/test-utils'
import { expect } from 'vitest'
import { isInvocationError, type StreamServer } from '../index.ts'

/** The code and message of a call that must fail. */
export async function failure(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string }> {
  try {
    await promise
  } catch (error) {
    if (isInvocationError(error)) return { code: error.code, message: error.message }
    throw error
  }
  throw new Error('expected the call to fail')
}

/**
 * Runs every engine op vector through `stream::update` on `server` (whatever its adapter), checks
 * the results and what is stored, and returns how many ran (all 121, or it fails).
 */
export async function runUpdateConformance(server: StreamServer): Promise<number> {
  const cases = loadUpdateOpCases(parseJsonNumber)
  let ran = 0
  for (const [index, testCase] of cases.entries()) {
    const target = { stream_name: 'conformance', group_id: 'g', item_id: `case-${index}` }
    const before = beforeValue(testCase, MISSING)
    if (before !== MISSING) {
      await server.trigger({ function_id: 'stream::set', payload: { ...target, data: before } })
    }
    const call = server.trigger({
      function_id: 'stream::update',
      payload: { ...target, ops: testCase.ops },
    })
    if (testCase.rejected !== undefined) {
      expect((await failure(call)).code, testCase.name).toBe('deserialization_error')
      const stored = await server.trigger({ function_id: 'stream::get', payload: target })
      expect(stored ?? MISSING, testCase.name).toEqual(before)
    } else {
      const result = (await call) as {
        old_value: JsonValue
        new_value: JsonValue
        errors?: { op_index: number; code: string }[]
      }
      expect(result.new_value, testCase.name).toEqual(testCase.after)
      expect(result.old_value, testCase.name).toEqual(testCase.old_value)
      expect(
        (result.errors ?? []).map(({ op_index, code }) => ({ op_index, code })),
        testCase.name,
      ).toEqual(testCase.errors)
      if (result.errors) expect(result.errors.length).toBeGreaterThan(0)
      expect(
        await server.trigger({ function_id: 'stream::get', payload: target }),
        testCase.name,
      ).toEqual(testCase.after)
    }
    ran++
  }
  expect(ran).toBe(121)
  return ran
}
