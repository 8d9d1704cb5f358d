import { deepFreeze } from '@iii-streams/test-utils'
import { produce } from 'immer'
import { parse } from 'lossless-json'
import { describe, expect, it } from 'vitest'
import {
  applyUpdateOps,
  InvalidUpdateOpsError,
  type JsonObject,
  type JsonValue,
  MISSING,
  parseJsonNumber,
  type UpdateOp,
  validateUpdateOps,
} from '../index.ts'

const apply = (current: JsonValue | typeof MISSING, ops: UpdateOp[]) => applyUpdateOps(current, ops)

describe('structural sharing outside a draft', () => {
  it('copies only the containers on the changed path', () => {
    const before = deepFreeze({
      stats: { visits: 1, series: [1, 2] },
      profile: { name: 'Ada' },
      tags: ['a'],
    }) as JsonObject
    const { value } = apply(before, [
      { type: 'append', path: ['stats', 'series'], value: 3 },
      { type: 'increment', path: 'count', by: 1 },
    ])
    const next = value as typeof before
    expect(next).toEqual({
      stats: { visits: 1, series: [1, 2, 3] },
      profile: { name: 'Ada' },
      tags: ['a'],
      count: 1,
    })
    expect(next).not.toBe(before)
    expect(next.stats).not.toBe(before.stats)
    expect(next.profile).toBe(before.profile)
    expect(next.tags).toBe(before.tags)
  })

  it('returns the very same value when no op changed anything', () => {
    const before = deepFreeze({ a: { b: 'x' }, list: [1] }) as JsonObject
    expect(apply(before, []).value).toBe(before)
    const failed = apply(before, [
      { type: 'increment', path: 'a', by: 1 },
      { type: 'append', path: ['a', 'b'], value: {} },
      { type: 'set', path: 'prototype', value: 1 },
    ])
    expect(failed.errors.map((e) => e.code)).toEqual([
      'increment.not_number',
      'append.type_mismatch',
      'set.path.proto_polluted',
    ])
    expect(failed.value).toBe(before)
  })

  it('copies each container once, however many ops touch it', () => {
    const before = deepFreeze({ n: 0, log: [] }) as JsonObject
    const ops: UpdateOp[] = Array.from({ length: 50 }, (_, i) =>
      i % 2 ? { type: 'increment', path: 'n', by: 1 } : { type: 'append', path: 'log', value: i },
    )
    const next = apply(before, ops).value as { n: number; log: number[] }
    expect(next.n).toBe(25)
    expect(next.log).toHaveLength(25)
  })

  it('never shares op values with the result', () => {
    const ops: UpdateOp[] = [
      { type: 'merge', path: 'x', value: { list: [] } },
      { type: 'append', path: ['x', 'list'], value: 1 },
      { type: 'set', path: 'y', value: { deep: { a: 1 } } },
    ]
    const frozenOps = deepFreeze(structuredClone(ops))
    const next = apply({}, frozenOps).value as { x: { list: number[] }; y: JsonObject }
    expect(next.x.list).toEqual([1])
    expect(next.y).not.toBe((frozenOps[2] as { value: JsonValue }).value)
    expect(frozenOps).toEqual(ops)
  })
})

describe('inside an immer draft', () => {
  it('changes the draft in place so untouched items and fields stay ===', () => {
    const base = deepFreeze({
      items: {
        a: { count: 1, meta: { owner: 'u1' }, log: ['x'] },
        b: { count: 5 },
      },
    }) as { items: Record<string, JsonObject> }
    const next = produce(base, (draft) => {
      draft.items.a = applyUpdateOps(draft.items.a as JsonObject, [
        { type: 'increment', path: 'count', by: 2 },
        { type: 'append', path: 'log', value: 'y' },
      ]).value as JsonObject
    })
    expect(next.items.a).toEqual({ count: 3, meta: { owner: 'u1' }, log: ['x', 'y'] })
    expect(next.items.b).toBe(base.items.b)
    expect(next.items.a!.meta).toBe(base.items.a!.meta)
    expect(base.items.a).toEqual({ count: 1, meta: { owner: 'u1' }, log: ['x'] })
  })

  it('leaves the state === when every op fails', () => {
    const base = deepFreeze({ items: { a: { name: 'x' } } }) as { items: Record<string, JsonValue> }
    const next = produce(base, (draft) => {
      draft.items.a = applyUpdateOps(draft.items.a as JsonValue, [
        { type: 'increment', path: 'name', by: 1 },
      ]).value
    })
    expect(next).toBe(base)
  })

  it('gives the same result as on plain JSON for a mixed batch', () => {
    const before = { a: { b: [1] }, s: 'x', n: 1.5 }
    const ops: UpdateOp[] = [
      { type: 'merge', path: ['a', 'c'], value: { d: 1 } },
      { type: 'append', path: 's', value: 'y' },
      { type: 'decrement', path: 'n', by: 2 },
      { type: 'remove', path: 'a' },
      { type: 'merge', value: { a: 'back' } },
    ]
    const plain = applyUpdateOps(before, ops)
    const drafted = produce({ it: before as JsonValue }, (draft) => {
      draft.it = applyUpdateOps(draft.it, ops).value
    })
    expect(drafted.it).toEqual(plain.value)
    expect(plain.value).toEqual({ s: 'xy', n: -0.5, a: 'back' })
  })
})

describe('numbers', () => {
  it('moves past 2^53 − 1 into an exact bigint and back', () => {
    const up = apply({ c: Number.MAX_SAFE_INTEGER }, [{ type: 'increment', path: 'c', by: 2 }])
    expect(up.value).toEqual({ c: 9007199254740993n })
    const down = apply(up.value, [{ type: 'decrement', path: 'c', by: 2 }])
    expect(down.value).toEqual({ c: Number.MAX_SAFE_INTEGER })
  })

  it('reports not_number past u64::MAX and below i64::MIN, leaving the field', () => {
    const top = apply({ c: 2n ** 64n - 1n }, [{ type: 'increment', path: 'c', by: 1 }])
    expect(top.errors.map((e) => e.code)).toEqual(['increment.not_number'])
    expect(top.value).toEqual({ c: 2n ** 64n - 1n })
    const bottom = apply({ c: -(2n ** 63n) }, [{ type: 'decrement', path: 'c', by: 1 }])
    expect(bottom.errors.map((e) => e.code)).toEqual(['decrement.not_number'])
  })

  it('uses f64 for floats and for unsafe integers JS already holds as floats', () => {
    expect(apply({ f: 0.5 }, [{ type: 'increment', path: 'f', by: 1 }]).value).toEqual({ f: 1.5 })
    // 2^60 as a JS number may stand for any of 2^60 ± 128: it is a float, as in the engine.
    expect(apply({ c: 2 ** 60 }, [{ type: 'increment', path: 'c', by: 1 }]).value).toEqual({
      c: 2 ** 60,
    })
  })

  it('never produces -0', () => {
    const { value } = apply(MISSING, [{ type: 'decrement', path: 'z', by: 0 }])
    expect(Object.is((value as { z: number }).z, 0)).toBe(true)
    const root = apply(MISSING, [{ type: 'decrement', path: '', by: 0 }])
    expect(Object.is(root.value, 0)).toBe(true)
  })

  it('keeps big integers exact end to end with a lossless parser', () => {
    const stored = parse(
      '{"id":18446744073709551615,"n":9223372036854775806}',
      null,
      parseJsonNumber,
    )
    const ops = parse('[{"type":"increment","path":"n","by":1}]', null, parseJsonNumber)
    const { value, errors } = applyUpdateOps(stored as JsonValue, ops as UpdateOp[])
    expect(errors).toEqual([])
    expect(value).toEqual({ id: 18446744073709551615n, n: 9223372036854775807n })
  })

  it('reads number text the way the engine does', () => {
    expect(parseJsonNumber('42')).toBe(42)
    expect(parseJsonNumber('-9223372036854775808')).toBe(-(2n ** 63n))
    expect(parseJsonNumber('18446744073709551616')).toBe(2 ** 64)
    expect(parseJsonNumber('2.5')).toBe(2.5)
    expect(parseJsonNumber('1e2')).toBe(100)
  })
})

describe('validateUpdateOps', () => {
  it.each([
    ['not an array', { type: 'set', path: 'a' }, /ops must be an array/],
    ['a non-object op', [1], /ops\[0\]: an op must be an object/],
    ['a wrong-case tag', [{ type: 'Set', path: 'a' }], /unknown op type 'Set'/],
    ['a fractional by', [{ type: 'increment', path: 'a', by: 0.5 }], /integer/],
    ['a -0 by (a float in the engine)', [{ type: 'increment', path: 'a', by: -0 }], /-0/],
    ['an unsafe number by', [{ type: 'decrement', path: 'a', by: 2 ** 60 }], /bigint/],
    ['a by beyond i64', [{ type: 'increment', path: 'a', by: 2n ** 63n }], /i64/],
    ['a number path segment', [{ type: 'append', path: ['a', 2], value: 1 }], /segment/],
    ['a NaN value', [{ type: 'set', path: 'a', value: Number.NaN }], /NaN/],
    ['a Date value', [{ type: 'append', path: 'a', value: new Date(0) }], /Date/],
    ['an undefined nested value', [{ type: 'merge', value: { a: undefined } }], /undefined/],
  ])('rejects %s with a sentence naming the op', (_, ops, message) => {
    const checked = validateUpdateOps(ops)
    expect(checked.ok).toBe(false)
    if (!checked.ok) {
      expect(checked.error.code).toBe('deserialization_error')
      expect(checked.error.message).toMatch(message)
    }
  })

  it('rejects a cyclic value instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const checked = validateUpdateOps([{ type: 'set', path: 'a', value: cyclic }])
    expect(checked.ok).toBe(false)
    expect(() =>
      applyUpdateOps({}, [{ type: 'set', path: 'a', value: cyclic as JsonValue }]),
    ).toThrow(InvalidUpdateOpsError)
  })

  it('accepts bigint by within i64 and ignores unknown fields', () => {
    expect(
      validateUpdateOps([
        { type: 'increment', path: 'a', by: -(2n ** 63n), note: 'x' },
        { type: 'set', path: 'a', value: null, extra: [1] },
      ]).ok,
    ).toBe(true)
  })
})

describe('engine messages', () => {
  it('words errors as the engine does', () => {
    const { errors } = apply({ bad: 'x', list: {} }, [
      { type: 'increment', path: 'bad', by: 1 },
      { type: 'append', path: 'list', value: 1 },
      { type: 'append', path: 'bad', value: 1 },
      { type: 'merge', path: ['a', ''], value: {} },
    ])
    expect(errors.map((e) => e.message)).toEqual([
      "Expected number at path 'bad', got string.",
      "Cannot append at path 'list': target is object, expected array, string, null, or missing field.",
      "Expected string append value at path 'bad', got number.",
      'Path contains an empty segment',
    ])
    const root = apply('leaf', [{ type: 'append', path: ['a', 'b'], value: 1 }])
    expect(root.errors[0]!.message).toBe(
      "Cannot append at path '[a, b]': target is string, expected object.",
    )
  })
})

describe('prototype pollution', () => {
  const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort()

  it('keeps every __proto__ key as data and never touches Object.prototype', () => {
    const before = protoNames()
    const polluting = JSON.parse(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    )
    const ops = [
      { type: 'set', path: 'a', value: polluting },
      { type: 'append', path: 'list', value: polluting },
      { type: 'merge', path: 'm', value: { inner: polluting } },
      { type: 'merge', value: JSON.parse('{"__proto__":{"polluted":true}}') },
      { type: 'set', path: '__proto__', value: { polluted: true } },
      { type: 'increment', path: 'constructor', by: 1 },
      { type: 'append', path: ['x', '__proto__'], value: 1 },
      { type: 'merge', path: ['prototype'], value: { polluted: true } },
      { type: 'increment', path: 'toString', by: 1 },
    ] as UpdateOp[]
    const plain = applyUpdateOps(JSON.parse('{"__proto__":{"old":true}}'), ops)
    const drafted = produce({ it: JSON.parse('{"__proto__":{"old":true}}') as JsonValue }, (d) => {
      d.it = applyUpdateOps(d.it, ops).value
    })
    for (const value of [plain.value, drafted.it] as JsonObject[]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ old: true })
      expect(Object.getPrototypeOf((value.a as JsonObject) ?? {})).toBe(Object.prototype)
      expect(Object.hasOwn(value.a as JsonObject, '__proto__')).toBe(true)
      expect(value.toString).toBe(1)
    }
    expect(plain.errors.map((e) => e.code)).toEqual([
      'merge.value.proto_polluted',
      'set.path.proto_polluted',
      'increment.path.proto_polluted',
      'append.path.proto_polluted',
      'merge.path.proto_polluted',
    ])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(({} as Record<string, unknown>).old).toBeUndefined()
    expect(protoNames()).toEqual(before)
  })
})
