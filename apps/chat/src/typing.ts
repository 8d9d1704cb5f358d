import { createStore, type Readable } from '@iii-streams/client'

/** Timing of the typing indicator. */
export const TYPING_TIMING = {
  /** At most one "typing" call per this long while the user types. */
  throttleMs: 1500,
  /** A user shows as typing for this long after their last event. */
  showMs: 3000,
} as const

/** Timers, injectable for tests. */
export interface Timers {
  setTimeout(task: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const REAL_TIMERS: Timers = {
  setTimeout: (task, ms) => setTimeout(task, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/**
 * Calls `task` at most once per `intervalMs` (the first call runs at once, later ones inside the
 * interval are dropped: a typing signal needs no trailing call).
 *
 * @example
 * const typing = throttle(() => backend.typing(room, user), TYPING_TIMING.throttleMs)
 * input.addEventListener('input', typing)
 */
export function throttle(task: () => void, intervalMs: number, now: () => number = Date.now) {
  let last = Number.NEGATIVE_INFINITY
  return () => {
    const time = now()
    if (time - last < intervalMs) return
    last = time
    task()
  }
}

/** Who else is typing, in the order they started. */
export interface TypingTracker extends Readable<readonly string[]> {
  /** Records a typing event from `user` (the tracker's own user is ignored). */
  saw(user: string): void
  dispose(): void
}

/**
 * Tracks typing events: each user stays listed for `showMs` after their latest event.
 *
 * @example
 * const typing = createTypingTracker('alice')
 * client.onEvent('chat', 'lobby', (e) => e.type === 'typing' && typing.saw(e.data.user))
 */
export function createTypingTracker(
  self: string,
  showMs: number = TYPING_TIMING.showMs,
  timers: Timers = REAL_TIMERS,
): TypingTracker {
  const expiries = new Map<string, unknown>()
  const state = createStore<readonly string[]>([])
  const publish = () => state.set([...expiries.keys()])
  return {
    get: state.get,
    subscribe: state.subscribe,
    saw(user) {
      if (user === self || user === '') return
      const known = expiries.has(user)
      if (known) timers.clearTimeout(expiries.get(user))
      expiries.set(
        user,
        timers.setTimeout(() => {
          expiries.delete(user)
          publish()
        }, showMs),
      )
      if (!known) publish()
    },
    dispose() {
      for (const handle of expiries.values()) timers.clearTimeout(handle)
      expiries.clear()
      publish()
    },
  }
}

/**
 * The indicator's sentence, or null when nobody is typing.
 *
 * @example
 * typingSentence(['bob']) // 'bob is typing…'
 */
export function typingSentence(users: readonly string[]): string | null {
  if (users.length === 0) return null
  if (users.length === 1) return `${users[0]} is typing…`
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`
  return `${users.length} people are typing…`
}
