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
  if (Array.isArray(previous) !== Array.isArray(next)) return next
  if (Array.isArray(previous)) {
    const nextArray = next as unknown[]
    let same = previous.length === nextArray.length
    const merged = nextArray.map((value, index) => {
      const kept = index < previous.length ? reconcile(previous[index], value) : value
      if (kept !== previous[index]) same = false
      return kept
    })
    return (same ? previous : merged) as T
  }
  const before = previous as Record<string, unknown>
  const after = next as Record<string, unknown>
  const keys = Object.keys(after)
  let same = keys.length === Object.keys(before).length
  const merged: Record<string, unknown> = {}
  for (const key of keys) {
    const kept = Object.hasOwn(before, key) ? reconcile(before[key], after[key]) : after[key]
    if (kept !== before[key] || !Object.hasOwn(before, key)) same = false
    // defineProperty keeps a `__proto__` key as data.
    Object.defineProperty(merged, key, {
      value: kept,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return (same ? previous : merged) as T
}

/** Freezes a value deeply (immer's freeze), so a snapshot cannot be changed by accident. */
export function freezeDeep<T>(value: T): T {
  return freeze(value, true)
}
