/** The streams, item shapes and event types of the demo backend's chat. */

export const STREAMS = {
  /** Group = room; items are messages. Typing events are sent on the same group. */
  chat: 'chat',
  /** Group = room; one item per user in the room, kept by the backend's join/leave triggers. */
  presence: 'presence',
} as const

export const TYPING_EVENT = 'typing'

/** A type, not an interface, so that it is a `JsonValue` (the value of a `set` op). */
export type Message = {
  readonly id: string
  readonly author: string
  readonly text: string
  /** Milliseconds since the epoch. */
  readonly at: number
}

export type PresenceUser = {
  readonly id: string
  readonly name: string
}

export type TypingData = {
  readonly user: string
}
