import type { JsonValue, Missing, StreamFrame, UpdateOp } from '@iii-streams/protocol'
import { messageOf } from '../errors.ts'
import { consoleLogger, type Logger } from '../logger.ts'

/** A group: the unit of ordering (`seq`), history and fan-out. */
export interface GroupRef {
  readonly stream: string
  readonly group: string
}

/** What is stored for an item: its value, or `MISSING` when there is none. */
export type Stored = JsonValue | Missing

/**
 * One message as every adapter carries it: the engine's wrapper frame (with `seq` for stored
 * changes, without for `stream::send`), plus the ops of an update so that extended connections can
 * be sent a `patch` instead of the whole value.
 */
export interface ChangeMessage {
  readonly frame: StreamFrame
  readonly ops?: readonly UpdateOp[]
}

/**
 * What one atomic write does, decided from the item's current value (the adapter may call the
 * planner more than once, for example when an optimistic transaction retries, so it must be pure).
 */
export interface WritePlan<TResult> {
  /** The value to store; `MISSING` deletes the item; absent leaves the store as it is. */
  readonly store?: Stored
  /**
   * The change to emit, built from the `seq` the adapter allocates for it. Absent: no change,
   * no `seq`, nothing emitted (a delete of a missing item).
   */
  readonly change?: (seq: number) => ChangeMessage
  /** What the write returns to its caller. */
  readonly result: TResult
}

/** One stream with its groups, as `stream::list_all` reports it. */
export interface StreamSummary {
  readonly id: string
  readonly groups: readonly string[]
}

/**
 * The storage and fan-out behind a stream server. An adapter owns three guarantees:
 * - a write is atomic with the `seq` it allocates for the group (no two changes share a `seq`,
 *   none is skipped);
 * - a write resolves only once it is durable (as durable as the adapter promises), and its change is
 *   delivered to `subscribe` listeners after that, in `seq` order within the group;
 * - every listener, including the instance that wrote, receives each message once.
 *
 * `memory` and `file` live in one process; an out-of-process store (Redis) implements the same
 * interface.
 */
export interface StreamAdapter {
  /** The timeline of this adapter's `seq` values; changes when its history is lost. */
  readonly epoch: string
  /** The stored value of one item, with the group's `seq` at the time of the read. */
  get(ref: GroupRef, id: string): Promise<{ value: Stored; seq: number }>
  /** Every item of a group in insertion order (overwrites keep their place), with the group's `seq`. */
  list(ref: GroupRef): Promise<{ ids: string[]; values: JsonValue[]; seq: number }>
  /** The group ids of a stream. */
  listGroups(stream: string): Promise<string[]>
  /** Every stream and its groups, both sorted. */
  listAll(): Promise<StreamSummary[]>
  /** Reads the item, applies `plan` atomically, allocates a `seq` when it emits a change. */
  write<TResult>(
    ref: GroupRef,
    id: string,
    plan: (current: Stored) => WritePlan<TResult>,
  ): Promise<TResult>
  /** Delivers an ephemeral message (`stream::send`) to every listener; nothing is stored. */
  publish(message: ChangeMessage): Promise<void>
  /**
   * The changes of a group after `afterSeq`, in order, when the adapter still holds all of them in
   * this epoch; `null` when it does not (the client must resync).
   */
  history(ref: GroupRef, afterSeq: number): Promise<ChangeMessage[] | null>
  /** Receives every message: stored changes and ephemeral ones. */
  subscribe(listener: (message: ChangeMessage) => void): () => void
  /**
   * An adapter whose messages cross a network (Redis) can miss some, or lose its history: it then
   * calls `listener`, and the server makes every client resync (they resume where they can).
   */
  onGap?(listener: (reason: string) => void): () => void
  /** Makes everything acknowledged durable and releases resources. */
  close(): Promise<void>
}

/** How long and how much history each group keeps for resume (EXTENSIONS.md §7). */
export const HISTORY_LIMITS = {
  /** Changes kept whatever their age. */
  minChanges: 1000,
  /** Age under which changes are kept whatever their number. */
  minAgeMs: 120_000,
  /** A hard cap per group, so a burst cannot grow memory without bound. */
  maxChanges: 10_000,
} as const

/** Hands a message to every listener; one that throws is logged and keeps it from no other. */
export function deliverToAll(
  listeners: Iterable<(message: ChangeMessage) => void>,
  message: ChangeMessage,
  logger: Logger = consoleLogger,
): void {
  for (const listener of listeners) {
    try {
      listener(message)
    } catch (error) {
      logger.error(`a change listener failed: ${messageOf(error)}`)
    }
  }
}
