/** WebSocket close codes this server uses. */
export const CLOSE_CODES = {
  goingAway: 1001,
  /** Service restart: reconnect (and resync). */
  resync: 1012,
  slowConsumer: 4008,
} as const
