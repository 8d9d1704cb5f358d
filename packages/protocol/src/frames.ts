import type { JsonValue } from './json.ts'
import type { UpdateOp } from './update-ops.ts'

// ---------------------------------------------------------------------------------------------
// Client → server (STREAM-PROTOCOL.md §2.1, EXTENSIONS.md §5 and §7)
// ---------------------------------------------------------------------------------------------

/**
 * The last state a client holds for a group, sent with a join to resume instead of resyncing
 * (extension).
 *
 * @example
 * const since: ResumePoint = { epoch: 'e-1f3a', seq: 42 }
 */
export interface ResumePoint {
  readonly epoch: string
  readonly seq: number
}

/**
 * The payload of a `join`: camelCase, as the engine reads it. `id` absent or `null` subscribes to
 * the whole group; a string subscribes to one item.
 *
 * @example
 * const data: JoinData = { subscriptionId: 'sub-1', streamName: 'chat', groupId: 'room-1' }
 */
export interface JoinData {
  readonly subscriptionId: string
  readonly streamName: string
  readonly groupId: string
  readonly id?: string | null
  /** Extension: resume from this point when the server still holds the changes after it. */
  readonly since?: ResumePoint
}

/** The payload of a `leave`; the engine fires its leave triggers with these names. */
export interface LeaveData {
  readonly subscriptionId: string
  readonly streamName: string
  readonly groupId: string
  readonly id?: string | null
}

/** `{"type":"join","data":{...}}`. */
export interface JoinFrame {
  readonly type: 'join'
  readonly data: JoinData
}

/** `{"type":"leave","data":{...}}`. */
export interface LeaveFrame {
  readonly type: 'leave'
  readonly data: LeaveData
}

/** Extension: a liveness probe from the client; the server answers `pong`. */
export interface ClientPingFrame {
  readonly type: 'ping'
}

/**
 * Every frame a client sends on the stream port.
 *
 * @example
 * const frame: ClientFrame = { type: 'leave', data: { subscriptionId: 's', streamName: 'chat', groupId: 'r' } }
 */
export type ClientFrame = JoinFrame | LeaveFrame | ClientPingFrame

// ---------------------------------------------------------------------------------------------
// Server → client (STREAM-PROTOCOL.md §2.2, EXTENSIONS.md)
// ---------------------------------------------------------------------------------------------

/** The reply to a join: an array for a group (with `ids` on extended connections), a value or null for an item. */
export interface SyncEvent {
  readonly type: 'sync'
  readonly data: JsonValue
  /** Extension: the item ids, parallel to a group's `data` array. */
  readonly ids?: readonly string[]
}

/** An item that did not exist was written (`stream::set` or `stream::update`). */
export interface CreateEvent {
  readonly type: 'create'
  readonly data: JsonValue
}

/** An existing item was written; `data` is its new value. */
export interface UpdateEvent {
  readonly type: 'update'
  readonly data: JsonValue
}

/** An item was deleted; `data` is its **old** value. */
export interface DeleteEvent {
  readonly type: 'delete'
  readonly data: JsonValue
}

/** The custom event of `stream::send`: ephemeral, not stored. */
export interface CustomEvent {
  readonly type: string
  readonly data: JsonValue
}

/** A `stream::send` delivery. */
export interface SendEvent {
  readonly type: 'event'
  readonly event: CustomEvent
}

/** A join rejected by a `stream:join` handler. */
export interface UnauthorizedEvent {
  readonly type: 'unauthorized'
}

/** Extension: an update of a cached item, as the ops given to `stream::update`. */
export interface PatchEvent {
  readonly type: 'patch'
  readonly ops: readonly UpdateOp[]
}

/** Extension: a resume replay is complete; the wrapper's `seq` is the group's current one. */
export interface ResumedEvent {
  readonly type: 'resumed'
}

/** The `event` of a stream wrapper frame, tagged on its own `type`. */
export type StreamEvent =
  | SyncEvent
  | CreateEvent
  | UpdateEvent
  | DeleteEvent
  | SendEvent
  | UnauthorizedEvent
  | PatchEvent
  | ResumedEvent

/** The `type` of every stream event. */
export type StreamEventType = StreamEvent['type']

/**
 * The wrapper every stream message comes in. `id` is the item id, or `null` for a group sync and an
 * id-less `stream::send`.
 *
 * @example
 * const frame: StreamFrame = {
 *   type: 'stream', timestamp: 1766000000200, streamName: 'chat', groupId: 'room-1', id: 'msg-3',
 *   event: { type: 'create', data: { text: 'new' } }, seq: 7,
 * }
 */
export interface StreamFrame<TEvent extends StreamEvent = StreamEvent> {
  readonly type: 'stream'
  /** Milliseconds since the epoch, when the server built the message. */
  readonly timestamp: number
  readonly streamName: string
  readonly groupId: string
  readonly id: string | null
  readonly event: TEvent
  /** Extension: the group's change counter (on changes, `sync` and `resumed`). */
  readonly seq?: number
  /** Extension: the timeline `seq` belongs to (on `sync` and `resumed`). */
  readonly epoch?: string
  /** Extension: the join this frame answers (`sync`, `unauthorized`). */
  readonly subscriptionId?: string
}

/** Extension: the first frame of an extended connection. */
export interface HelloFrame {
  readonly type: 'hello'
  readonly version: number
  readonly epoch: string
  readonly heartbeatMs: number
  readonly limits: {
    readonly maxFrameBytes: number
    readonly maxSubscriptions: number
  }
}

/** Extension: the server's heartbeat. */
export interface ServerPingFrame {
  readonly type: 'ping'
  readonly timestamp: number
}

/** Extension: the answer to a client `ping`. */
export interface PongFrame {
  readonly type: 'pong'
  readonly timestamp: number
}

/** The error codes of EXTENSIONS.md §6. */
export const SERVER_ERROR_CODES = [
  'bad_frame',
  'invalid_name',
  'too_many_subscriptions',
  'frame_too_large',
  'rate_limited',
  'sync_failed',
  'unauthorized',
] as const
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number]

/**
 * Extension: a frame the server could not accept. Unknown codes from newer servers are kept as
 * strings.
 */
export interface ErrorFrame {
  readonly type: 'error'
  readonly code: ServerErrorCode | (string & {})
  readonly message: string
  readonly subscriptionId?: string
}

/**
 * Every frame a server sends on the stream port.
 *
 * @example
 * function handle(frame: ServerFrame) {
 *   if (frame.type === 'stream' && frame.event.type === 'create') console.log(frame.id, frame.event.data)
 * }
 */
export type ServerFrame = StreamFrame | HelloFrame | ServerPingFrame | PongFrame | ErrorFrame

/** The version of the extensions this package speaks (`hello.version`). */
export const EXTENSIONS_VERSION = 1

/** The query parameter a client adds to ask for the extensions. */
export const EXTENSIONS_QUERY_PARAM = 'iii-streams'
