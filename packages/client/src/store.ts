/**
 * Anything observable in iii-streams: read the value, or listen to it. `subscribe` calls the
 * listener at once with the current value (Svelte's store contract) and then on every change;
 * it returns the function that stops listening.
 *
 * @example
 * const stop = client.connection.subscribe((state) => console.log(state.status))
 */
export interface Readable<T> {
  get(): T
  subscribe(listener: (value: T) => void): () => void
}

/** A readable store that its owner can set, with hooks for the first and the last listener. */
export interface WritableStore<T> extends Readable<T> {
  set(value: T): void
}

/**
 * Creates a store with the contract every iii-streams store has, for an app's or a binding's own
 * state. `onStart` runs when the first listener arrives, `onStop` when the last leaves. Setting a
 * value `===` to the current one notifies nobody.
 *
 * @example
 * const count = createStore(0)
 * count.subscribe((n) => console.log(n)) // 0 at once, then every change
 * count.set(1)
 */
export function createStore<T>(
  initial: T,
  hooks: { onStart?: () => void; onStop?: () => void } = {},
): WritableStore<T> {
  let value = initial
  const listeners = new Set<(value: T) => void>()
  // A `set` made by a listener waits for the round it interrupts: every listener then hears
  // the values in order and ends on the last (as Svelte's stores do).
  let notifying = false
  let again = false
  return {
    get: () => value,
    set(next) {
      if (next === value) return
      value = next
      if (notifying) {
        again = true
        return
      }
      notifying = true
      let failed = false
      let first: unknown
      try {
        do {
          again = false
          const current = value
          try {
            callEach(listeners, (listener) => listener(current))
          } catch (error) {
            if (!failed) first = error
            failed = true
          }
        } while (again)
      } finally {
        notifying = false
      }
      if (failed) throw first
    },
    subscribe(listener) {
      checkedListener(listener)
      const entry = (next: T) => listener(next)
      listeners.add(entry)
      if (listeners.size === 1) hooks.onStart?.()
      const stop = () => {
        if (!listeners.delete(entry)) return
        if (listeners.size === 0) hooks.onStop?.()
      }
      try {
        listener(value)
      } catch (error) {
        stop()
        throw error
      }
      return stop
    },
  }
}

/**
 * Calls `call` on each of `items` (a copy: a call may change the collection). One that throws does
 * not keep the others from their call: the first error is thrown after the last, so a failing
 * listener is seen and no other is skipped.
 */
export function callEach<T>(items: Iterable<T>, call: (item: T) => void): void {
  let failed = false
  let first: unknown
  for (const item of [...items]) {
    try {
      call(item)
    } catch (error) {
      if (!failed) first = error
      failed = true
    }
  }
  if (failed) throw first
}

/**
 * Runs app code (a listener, a handler, `onError`) from inside the client's own steps: an error it
 * throws is reported, never thrown into the step, which goes on.
 */
export function appCode(run: () => void): void {
  try {
    run()
  } catch (error) {
    reportAppError(error)
  }
}

/** Reports an error of app code as the page reports an uncaught one (`reportError`), else logs it. */
export function reportAppError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError
  if (report) report(error)
  else console.error(error)
}

/** `listener`, once checked to be a function (a store would otherwise fail on its first call). */
export function checkedListener<T>(listener: T): T {
  if (typeof listener !== 'function')
    throw new TypeError('subscribe: the listener must be a function')
  return listener
}
