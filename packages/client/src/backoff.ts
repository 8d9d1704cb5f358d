/** Reconnect delays: exponential from `baseMs`, capped at `maxMs`, with full jitter per attempt. */
export const BACKOFF = {
  baseMs: 250,
  maxMs: 10_000,
  factor: 2,
  /** A connection that stays open this long resets the attempt count. */
  stableMs: 5_000,
} as const

/**
 * The delay before reconnect attempt `attempt` (1 for the first retry): a random value between half
 * and all of `min(maxMs, baseMs × factor^(attempt − 1))`, so that many clients cut at once do not
 * come back at once.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(
    BACKOFF.maxMs,
    BACKOFF.baseMs * BACKOFF.factor ** Math.max(0, attempt - 1),
  )
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
