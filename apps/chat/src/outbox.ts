import {
  createStore,
  type GroupSnapshot,
  isStreamsError,
  type Readable,
  type StreamClient,
} from '@iii-streams/client'
import { type Message, STREAMS } from './chat-types.ts'

/**
 * How long a message the backend accepted stays shown while the server's copy has not arrived: the
 * client's own default `commitGraceMs`, after which it drops its optimistic value too.
 */
export const SETTLE_TIMEOUT_MS = 3000

/** A message this tab sent that the group may not show yet. */
export interface OutboxEntry {
  readonly message: Message
  /** True until the backend answered the send. */
  readonly inFlight: boolean
}

export interface OutboxState {
  /** In send order. */
  readonly entries: ReadonlyMap<string, OutboxEntry>
  /** The last failed send, as a sentence for the user. */
  readonly error: string | null
}

/** The messages one room's composer sent, from the optimistic update until the server's copy. */
export interface Outbox extends Readable<OutboxState> {
  /** Shows `text` at once and sends it; never rejects (a failure lands in `error`). */
  send(text: string): Promise<void>
  dismissError(): void
  /** Stops watching the room and forgets what is pending. */
  dispose(): void
}

export interface OutboxOptions {
  readonly client: StreamClient
  readonly room: string
  readonly author: string
  /** The backend call that really stores the message. */
  readonly commit: (message: Message) => Promise<void>
  readonly newId?: () => string
  readonly now?: () => number
}

/**
 * Sends messages with `client.mutate` and keeps each one listed until the group holds the server's
 * copy. Needed because a group snapshot lists only the items the server has sent: the optimistic
 * value of a brand-new item overlays nothing there (it shows only in `client.item(…)`).
 *
 * @example
 * const outbox = createOutbox({ client, room: 'lobby', author: 'alice', commit: backend.send })
 * await outbox.send('hello')
 */
export function createOutbox(options: OutboxOptions): Outbox {
  const { client, room, author, commit } = options
  const newId = options.newId ?? (() => crypto.randomUUID())
  const now = options.now ?? Date.now
  const group = client.group<Message>(STREAMS.chat, room)
  const entries = new Map<string, OutboxEntry>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const state = createStore<OutboxState>({ entries: new Map(), error: null })

  const publish = (error = state.get().error) => state.set({ entries: new Map(entries), error })

  // Sent messages leave the outbox once the group has them; only those the backend answered, so
  // that `pending` stays true until then.
  const prune = ({ byId }: GroupSnapshot<Message>) => {
    let changed = false
    for (const [id, entry] of entries)
      if (!entry.inFlight && byId.has(id)) changed = entries.delete(id) || changed
    if (changed) publish()
  }
  const stopGroup = group.subscribe(prune)

  return {
    get: state.get,
    subscribe: state.subscribe,
    async send(text) {
      const message: Message = { id: newId(), author, text, at: now() }
      entries.set(message.id, { message, inFlight: true })
      publish(null)
      try {
        await client.mutate(
          STREAMS.chat,
          room,
          message.id,
          [{ type: 'set', path: '', value: message }],
          () => commit(message),
        )
      } catch (error) {
        entries.delete(message.id)
        publish(`Message not sent: ${reasonOf(error)}`)
        return
      }
      entries.set(message.id, { message, inFlight: false })
      publish()
      prune(group.get())
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (entries.delete(message.id)) publish()
      }, SETTLE_TIMEOUT_MS)
      timers.add(timer)
    },
    dismissError: () => publish(null),
    dispose() {
      stopGroup()
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      entries.clear()
    },
  }
}

/** One row of the message list. */
export interface MessageRow {
  readonly message: Message
  /** Shown as "sending…" until the backend answered and the server's copy is in the group. */
  readonly pending: boolean
}

/**
 * The group's messages in server order, then this tab's sent messages the server has not sent back.
 *
 * @example
 * const rows = $derived(messageRows($messages, $outbox))
 */
export function messageRows(
  group: GroupSnapshot<Message>,
  outbox: OutboxState,
): readonly MessageRow[] {
  const rows: MessageRow[] = group.items.map((message) => ({
    message,
    pending: outbox.entries.has(message.id),
  }))
  for (const [id, { message }] of outbox.entries)
    if (!group.byId.has(id)) rows.push({ message, pending: true })
  return rows
}

/** A commit failure's own words, not the wrapper's "The change to chat/… was rolled back: …". */
function reasonOf(error: unknown): string {
  const cause = isStreamsError(error) ? error.cause : error
  if (cause instanceof Error) return cause.message
  return String(cause ?? error)
}
