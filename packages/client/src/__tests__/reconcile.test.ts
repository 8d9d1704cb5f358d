import { describe, expect, it } from 'vitest'
import { reconcile } from '../reconcile.ts'

const parse = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

describe.each([
  ['copying', false],
  ['in place (fresh)', true],
])('reconcile, %s', (_name, fresh) => {
  it('returns the previous value when nothing changed, however deep', () => {
    const previous = { a: 1, list: [1, { b: [true, null, 'x'] }], meta: { c: { d: -1.5 } } }
    expect(reconcile(previous, parse(previous), fresh)).toBe(previous)
  })

  it('keeps every unchanged part and takes the changed ones, leaving previous as it was', () => {
    const previous = { count: 1, tags: ['a', 'b'], meta: { a: 'x', b: 2 }, deep: { x: { y: 1 } } }
    const before = parse(previous)
    const next = parse({ ...previous, count: 2, deep: { x: { y: 2 } } })
    const result = reconcile(previous, next, fresh)
    expect(result).toEqual({ ...before, count: 2, deep: { x: { y: 2 } } })
    expect(result).not.toBe(previous)
    expect(result.tags).toBe(previous.tags)
    expect(result.meta).toBe(previous.meta)
    expect(result.deep).not.toBe(previous.deep)
    expect(previous).toEqual(before)
    // In place: the fresh value itself is the result; copying: it is left alone.
    if (fresh) expect(result).toBe(next)
    else expect(next.tags).not.toBe(previous.tags)
  })

  it('sees a change in a string alone, and none when only strings are there and equal', () => {
    const previous = { id: 'a', text: 'a long message', n: 1, meta: { by: 'me', at: 'noon' } }
    expect(reconcile(previous, parse(previous), fresh)).toBe(previous)
    const edited = reconcile(previous, parse({ ...previous, text: 'edited' }), fresh)
    expect(edited).toEqual({ ...previous, text: 'edited' })
    expect(edited.meta).toBe(previous.meta)
    const moved = reconcile(previous, parse({ ...previous, meta: { by: 'me', at: 'one' } }), fresh)
    expect(moved.meta).toEqual({ by: 'me', at: 'one' })
    expect(moved).not.toBe(previous)
    // A string where a number was, and a string key the previous value lacks.
    expect(reconcile<unknown>(previous, parse({ ...previous, n: '1' }), fresh)).not.toBe(previous)
    const { text: _, ...withoutText } = previous
    expect(reconcile(withoutText, parse(previous), fresh)).toEqual(previous)
  })

  it('sees added, removed and renamed keys, and arrays that grow or shrink', () => {
    const previous: Record<string, unknown> = { a: 1, b: 2, list: [1, 2, 3] }
    expect(reconcile(previous, parse({ a: 1, b: 2, c: 3, list: [1, 2, 3] }), fresh)).toEqual({
      a: 1,
      b: 2,
      c: 3,
      list: [1, 2, 3],
    })
    expect(reconcile(previous, parse({ a: 1, list: [1, 2, 3] }), fresh)).toEqual({
      a: 1,
      list: [1, 2, 3],
    })
    expect(reconcile(previous, parse({ a: 1, c: 2, list: [1, 2, 3] }), fresh)).toEqual({
      a: 1,
      c: 2,
      list: [1, 2, 3],
    })
    const shorter = reconcile(previous, parse({ a: 1, b: 2, list: [1, 2] }), fresh)
    expect(shorter.list).toEqual([1, 2])
    const longer = reconcile(previous, parse({ a: 1, b: 2, list: [1, 2, 3, 4] }), fresh)
    expect(longer.list).toEqual([1, 2, 3, 4])
    expect(previous).toEqual({ a: 1, b: 2, list: [1, 2, 3] })
  })

  it('tells a key named like an inherited member from its absence', () => {
    const previous = { a: 1 } as Record<string, unknown>
    const next = JSON.parse('{"a":1,"constructor":{},"toString":1}') as Record<string, unknown>
    const result = reconcile(previous, next, fresh)
    expect(result).not.toBe(previous)
    expect(Object.keys(result)).toEqual(['a', 'constructor', 'toString'])
  })

  it('keeps `__proto__` as plain data, never as a prototype', () => {
    const previous = JSON.parse('{"__proto__":{"x":1},"a":1}') as Record<string, unknown>
    const same = JSON.parse('{"__proto__":{"x":1},"a":1}') as Record<string, unknown>
    expect(reconcile(previous, same, fresh)).toBe(previous)
    const changed = reconcile(
      previous,
      JSON.parse('{"__proto__":{"x":2},"a":1}') as Record<string, unknown>,
      fresh,
    )
    expect(Object.getPrototypeOf(changed)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(changed, '__proto__')?.value).toEqual({ x: 2 })
    // A `__proto__` key that only the new value has is a change, not the prototype object.
    const added = reconcile(
      { a: 1 } as Record<string, unknown>,
      JSON.parse('{"a":1,"__proto__":{}}') as Record<string, unknown>,
      fresh,
    )
    expect(Object.hasOwn(added, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(added)).toBe(Object.prototype)
  })
  it('tells -0 from 0, as JSON.parse does, and compares big integers by value', () => {
    const previous = JSON.parse('{"a":0,"list":[0]}') as { a: number; list: number[] }
    const negative = reconcile(previous, JSON.parse('{"a":-0,"list":[0]}'), fresh)
    expect(Object.is(negative.a, -0)).toBe(true)
    expect(negative.list).toBe(previous.list)
    expect(reconcile(previous, JSON.parse('{"a":0,"list":[-0]}'), fresh).list).not.toBe(
      previous.list,
    )
    // What a lossless parser hands over.
    const big = { n: 2n ** 64n, list: [1n] }
    expect(reconcile(big, { n: 2n ** 64n, list: [1n] }, fresh)).toBe(big)
    expect(reconcile(big, { n: 2n ** 64n + 1n, list: [1n] }, fresh).list).toBe(big.list)
  })

  it('is not fooled by an enumerable key a library added to Object.prototype', () => {
    const previous = { a: 1, meta: { b: 2 } }
    Object.defineProperty(Object.prototype, 'polluted', {
      value: 1,
      enumerable: true,
      configurable: true,
      writable: true,
    })
    try {
      expect(reconcile(previous, parse(previous), fresh)).toBe(previous)
      const changed = reconcile(previous, parse({ a: 2, meta: { b: 2 } }), fresh)
      expect(changed).toEqual({ a: 2, meta: { b: 2 } })
      expect(changed.meta).toBe(previous.meta)
      expect(Object.keys(changed)).toEqual(['a', 'meta'])
      expect(reconcile(previous, parse({ a: 1 }), fresh)).not.toBe(previous)
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted
    }
  })
})
