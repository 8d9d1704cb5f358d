import { freeze } from 'immer'

/**
 * `next`, with every part that deep-equals the matching part of `previous` replaced by that part,
 * so unchanged items and sub-objects keep their identity (`===`) and memoised views do not
 * re-render. Returns `previous` itself when nothing changed.
 */
export function reconcile<T>(previous: T, next: T): T {
  if (Object.is(previous, next)) return previous
  if (
    typeof previous !== 'object' ||
    previous === null ||
    typeof next !== 'object' ||
    next === null
  ) {
    return next
  }
  const isArray = Array.isArray(previous)
  if (isArray !== Array.isArray(next)) return next
  if (isArray) {
    const before = previous as unknown as unknown[]
    const after = next as unknown as unknown[]
    let same = before.length === after.length
    const merged = new Array<unknown>(after.length)
    for (let index = 0; index < after.length; index++) {
      const kept = index < before.length ? reconcile(before[index], after[index]) : after[index]
      if (kept !== before[index]) same = false
      merged[index] = kept
    }
    return (same ? previous : merged) as T
  }
  const before = previous as Record<string, unknown>
  const after = next as Record<string, unknown>
  let same = true
  let count = 0
  const merged: Record<string, unknown> = {}
  for (const key in after) {
    if (!Object.hasOwn(after, key)) continue
    count++
    const had = Object.hasOwn(before, key)
    const kept = had ? reconcile(before[key], after[key]) : after[key]
    if (!had || kept !== before[key]) same = false
    // Plain assignment is fast; `__proto__` needs a data property so it stays data.
    if (key === '__proto__') {
      Object.defineProperty(merged, key, {
        value: kept,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else merged[key] = kept
  }
  if (same) {
    for (const key in before) if (Object.hasOwn(before, key) && --count < 0) break
    if (count === 0) return previous
  }
  return merged as T
}

/** Freezes a value deeply (immer's freeze), so a snapshot cannot be changed by accident. */
export function freezeDeep<T>(value: T): T {
  return freeze(value, true)
}
