import { type JsonObject, type JsonValue, setOwn } from '@iii-streams/protocol'
import { freeze } from 'immer'

/**
 * How deep reconcile compares. The engine reads JSON with serde_json, whose default limit is 128
 * levels; JSON.parse takes tens of thousands, which would overflow the call stack.
 */
const MAX_DEPTH = 1000

/**
 * `next`, with every object or array that deep-equals the matching part of `previous` replaced by
 * that part, so unchanged items and sub-objects keep their identity (`===`) and memoised views do
 * not re-render. Returns `previous` itself when nothing changed.
 *
 * Scalars are compared only while no difference is known at their level (once one is, the result
 * is new whatever they are), an object's strings after everything else in it, and never written
 * back: an equal string is as good as the cached one. All three spare reading the cached value,
 * which in a large group is rarely in the processor's cache.
 *
 * `fresh`: `next` is held by nobody else (just parsed from a frame), so its parts are replaced in
 * place rather than copied into new objects.
 *
 * Keys are walked with `for…in` and no own-property check: an enumerable key that a polluted
 * `Object.prototype` adds shows up in both objects' walks (both are plain objects), so the counts
 * still match; only the copy made when `next` is not fresh leaves such keys out.
 *
 * Below `MAX_DEPTH` levels (`depth` counts them), parts are taken as they come, unshared.
 */
export function reconcile<T>(previous: T, next: T, fresh = false, depth = 0): T {
  if (previous === next) return previous
  if (
    typeof previous !== 'object' ||
    previous === null ||
    typeof next !== 'object' ||
    next === null
  ) {
    return next
  }
  const isArray = Array.isArray(previous)
  if (isArray !== Array.isArray(next) || depth > MAX_DEPTH) return next
  if (isArray) {
    const before = previous as unknown as unknown[]
    const after = next as unknown as unknown[]
    let same = before.length === after.length
    const merged = fresh ? after : new Array<unknown>(after.length)
    for (let index = 0; index < after.length; index++) {
      const value = after[index]
      if (typeof value === 'object' && value !== null) {
        const old = before[index]
        const kept = index < before.length ? reconcile(old, value, fresh, depth + 1) : value
        if (kept !== old) same = false
        if (!fresh || kept !== value) merged[index] = kept
      } else {
        if (same && !sameScalar(before[index], value)) same = false
        if (!fresh) merged[index] = value
      }
    }
    return (same ? previous : merged) as T
  }
  const before = previous as Record<string, unknown>
  const after = next as Record<string, unknown>
  let same = true
  let strings = false
  let count = 0
  const merged: Record<string, unknown> = fresh ? after : {}
  for (const key in after) {
    count++
    const value = after[key]
    if (typeof value === 'object' && value !== null) {
      const old = before[key]
      const had = old !== undefined && key !== '__proto__' ? true : Object.hasOwn(before, key)
      const kept = had ? reconcile(old, value, fresh, depth + 1) : value
      if (!had || kept !== old) same = false
      if (fresh ? kept !== value : Object.hasOwn(after, key)) {
        setOwn(merged as JsonObject, key, kept as JsonValue)
      }
    } else {
      // Strings are compared last (below), and only when nothing else differs: their characters
      // are one more read of the cached item, often out of the processor's cache.
      if (typeof value === 'string') strings = true
      // A key `previous` lacks reads as undefined (no JSON scalar) or, for __proto__, as an object.
      else if (same && !sameScalar(before[key], value)) same = false
      if (!fresh && Object.hasOwn(after, key)) setOwn(merged as JsonObject, key, value as JsonValue)
    }
  }
  if (same && strings) {
    for (const key in after) {
      const value = after[key]
      if (typeof value === 'string' && before[key] !== value) {
        same = false
        break
      }
    }
  }
  if (same) {
    for (const _ in before) if (--count < 0) break
    if (count === 0) return previous
  }
  return merged as T
}

/** `Object.is` for JSON scalars (no NaN in JSON; `-0` is not `0`), at the cost of `===`. */
function sameScalar(a: unknown, b: unknown): boolean {
  return a === b && (a !== 0 || 1 / a === 1 / (b as number))
}

/**
 * Freezes a value deeply (immer's freeze), so a snapshot cannot be changed by accident; a value
 * nested deeper than the call stack goes stays unfrozen below the levels reached.
 */
export function freezeDeep<T>(value: T): T {
  try {
    return freeze(value, true)
  } catch {
    return value
  }
}
