import type { Readable } from '@iii-streams/client'

/** A store with the client's contract (`get`, and `subscribe` that calls the listener at once). */
export interface ValueStore<T> extends Readable<T> {
  set(value: T): void
}

/**
 * A minimal store for the app's own state, shaped like the client's so `$store` works on both.
 *
 * @example
 * const count = createValueStore(0)
 * count.set(count.get() + 1)
 */
export function createValueStore<T>(initial: T): ValueStore<T> {
  let value = initial
  const listeners = new Set<(value: T) => void>()
  return {
    get: () => value,
    set(next) {
      if (next === value) return
      value = next
      for (const listener of [...listeners]) listener(value)
    },
    subscribe(listener) {
      const entry = (next: T) => listener(next)
      listeners.add(entry)
      listener(value)
      return () => {
        listeners.delete(entry)
      }
    },
  }
}
