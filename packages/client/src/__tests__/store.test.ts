import { describe, expect, it } from 'vitest'
import { createStore } from '../index.ts'

describe('createStore', () => {
  it('calls a listener at once and on every change, not for an equal value', () => {
    const count = createStore(0)
    const seen: number[] = []
    const stop = count.subscribe((n) => seen.push(n))
    count.set(1)
    count.set(1)
    stop()
    count.set(2)
    expect(seen).toEqual([0, 1])
  })

  it('lets a listener set the store: every listener hears the values in order and ends on the last', () => {
    const store = createStore(0)
    const first: number[] = []
    const second: number[] = []
    store.subscribe((n) => {
      first.push(n)
      if (n === 1) store.set(2)
    })
    store.subscribe((n) => second.push(n))
    store.set(1)
    expect(store.get()).toBe(2)
    expect(first).toEqual([0, 1, 2])
    expect(second).toEqual([0, 1, 2])
  })

  it('runs every listener when one throws, then throws its error', () => {
    const store = createStore(0)
    const seen: number[] = []
    store.subscribe((n) => {
      if (n === 1) throw new Error('boom')
    })
    store.subscribe((n) => seen.push(n))
    expect(() => store.set(1)).toThrow('boom')
    store.set(2)
    expect(seen).toEqual([0, 1, 2])
  })

  it('runs onStart for the first listener and onStop after the last', () => {
    const calls: string[] = []
    const store = createStore(0, {
      onStart: () => calls.push('start'),
      onStop: () => calls.push('stop'),
    })
    const a = store.subscribe(() => {})
    const b = store.subscribe(() => {})
    a()
    a()
    b()
    expect(calls).toEqual(['start', 'stop'])
  })
})
