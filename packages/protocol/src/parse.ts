import type {
  ClientFrame,
  ErrorFrame,
  HelloFrame,
  JoinData,
  LeaveData,
  ResumePoint,
  ServerFrame,
  StreamEvent,
  StreamFrame,
} from './frames.ts'
import { hasOwn, isJsonObject, type JsonValue, jsonTypeName } from './json.ts'
import { validateUpdateOps } from './update-ops.ts'

/**
 * Why a frame was refused:
 * - `empty_frame`: empty or only whitespace (the engine skips these silently);
 * - `invalid_json`: not JSON text;
 * - `not_an_object`: JSON, but not an object;
 * - `unknown_type`: a `type` (or `event.type`) this side does not accept, wrong case included;
 * - `missing_field`: a required field is absent;
 * - `invalid_field`: a field has the wrong type or an impossible value.
 */
export type FrameErrorCode =
  | 'empty_frame'
  | 'invalid_json'
  | 'not_an_object'
  | 'unknown_type'
  | 'missing_field'
  | 'invalid_field'

/**
 * A refused frame: a code, one sentence for humans and, where one field is at fault, its path.
 *
 * @example
 * { code: 'missing_field', field: 'data.groupId', message: 'data.groupId is required.' }
 */
export interface FrameError {
  readonly code: FrameErrorCode
  readonly message: string
  readonly field?: string
}

/** The result of a parse: never an exception. */
export type ParseResult<TFrame> =
  | { readonly ok: true; readonly frame: TFrame }
  | { readonly ok: false; readonly error: FrameError }

/** Options shared by the frame parsers. */
export interface ParseOptions {
  /**
   * Parses the frame's JSON text. Defaults to `JSON.parse`, which holds integers beyond
   * ±(2^53 − 1) inexactly; pass a lossless parser (for example `lossless-json` with a number
   * parser that makes such integers `bigint`) where exact big integers matter.
   */
  readonly parseJson?: (text: string) => unknown
  /**
   * Accept the iii-streams extensions (EXTENSIONS.md). `false` accepts exactly what a plain engine
   * accepts and drops the extension fields. Default `true`.
   */
  readonly extensions?: boolean
}

/** Options of `serializeFrame`. */
export interface SerializeOptions {
  /** Defaults to `JSON.stringify`, which throws on a `bigint`; pass a lossless stringifier for those. */
  readonly stringifyJson?: (value: unknown) => string
}

/** Thrown inside the parsers only, and always caught there. */
class Refusal {
  constructor(
    readonly code: FrameErrorCode,
    readonly message: string,
    readonly field?: string,
  ) {}
}

/**
 * Parses and validates a frame a client sent to the stream port. Accepts what the engine accepts:
 * lowercase `join` / `leave` with camelCase `data`; unknown extra fields are tolerated and dropped.
 * With extensions (the default) it also accepts `ping` and a join's `since`. Never throws.
 *
 * @example
 * const parsed = parseClientFrame('{"type":"join","data":{"subscriptionId":"s1","streamName":"chat","groupId":"room-1"}}')
 * if (parsed.ok && parsed.frame.type === 'join') subscribe(parsed.frame.data)
 * else if (!parsed.ok) console.warn(parsed.error.code, parsed.error.message)
 */
export function parseClientFrame(text: string, options?: ParseOptions): ParseResult<ClientFrame> {
  return parseWith(text, options, readClientFrame)
}

/**
 * Parses and validates a frame the server sent: the `stream` wrapper with its events and, with
 * extensions (the default), `hello`, `ping`, `pong`, `error`, `seq` / `epoch` / `subscriptionId`,
 * sync `ids`, `patch` (whose ops must pass `validateUpdateOps`) and `resumed`. Never throws. A
 * `stream` frame is the parsed object itself, checked in place (unknown fields stay on it).
 *
 * @example
 * socket.onmessage = (message) => {
 *   const parsed = parseServerFrame(message.data)
 *   if (!parsed.ok) return reportBadFrame(parsed.error)
 *   if (parsed.frame.type === 'stream') applyChange(parsed.frame)
 * }
 */
export function parseServerFrame(text: string, options?: ParseOptions): ParseResult<ServerFrame> {
  return parseWith(text, options, readServerFrame)
}

/**
 * The JSON text of a frame, as it goes on the wire.
 *
 * @example
 * socket.send(serializeFrame({ type: 'join', data: { subscriptionId: 's1', streamName: 'chat', groupId: 'room-1' } }))
 */
export function serializeFrame(
  frame: ClientFrame | ServerFrame,
  options?: SerializeOptions,
): string {
  return (options?.stringifyJson ?? JSON.stringify)(frame)
}

function parseWith<TFrame>(
  text: string,
  options: ParseOptions | undefined,
  read: (value: Record<string, unknown>, extensions: boolean) => TFrame,
): ParseResult<TFrame> {
  try {
    if (typeof text !== 'string') {
      throw new Refusal('invalid_json', `A frame must be JSON text, got ${typeof text}.`)
    }
    let value: unknown
    try {
      value = (options?.parseJson ?? JSON.parse)(text)
    } catch (cause) {
      if (text.trim() === '') throw new Refusal('empty_frame', 'The frame is empty.')
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new Refusal('invalid_json', `The frame is not valid JSON (${reason}).`)
    }
    if (!isJsonObject(value)) {
      throw new Refusal(
        'not_an_object',
        `A frame must be a JSON object, got ${jsonTypeName(value)}.`,
      )
    }
    return { ok: true, frame: read(value, options?.extensions ?? true) }
  } catch (caught) {
    if (caught instanceof Refusal) {
      const error: FrameError =
        caught.field === undefined
          ? { code: caught.code, message: caught.message }
          : { code: caught.code, message: caught.message, field: caught.field }
      return { ok: false, error }
    }
    const reason = caught instanceof Error ? caught.message : String(caught)
    return {
      ok: false,
      error: { code: 'invalid_field', message: `The frame is unreadable (${reason}).` },
    }
  }
}

function readClientFrame(frame: Record<string, unknown>, extensions: boolean): ClientFrame {
  const type = requireType(frame, 'type')
  switch (type) {
    case 'join':
    case 'leave': {
      const data = requireObject(frame, 'data', 'data')
      const names = {
        subscriptionId: requireString(data, 'subscriptionId', 'data.subscriptionId'),
        streamName: requireString(data, 'streamName', 'data.streamName'),
        groupId: requireString(data, 'groupId', 'data.groupId'),
      }
      const id = optionalNullableString(data, 'id', 'data.id')
      const withId = id === undefined ? names : { ...names, id }
      if (type === 'leave') return { type, data: withId satisfies LeaveData }
      const since = extensions ? optionalResumePoint(data) : undefined
      return { type, data: (since ? { ...withId, since } : withId) satisfies JoinData }
    }
    case 'ping':
      if (extensions) return { type }
      break
  }
  throw unknownType('type', type, extensions ? ['join', 'leave', 'ping'] : ['join', 'leave'])
}

function readServerFrame(frame: Record<string, unknown>, extensions: boolean): ServerFrame {
  const type = requireType(frame, 'type')
  if (type === 'stream') return readStreamFrame(frame, extensions)
  if (extensions) {
    switch (type) {
      case 'hello':
        return readHello(frame)
      case 'ping':
      case 'pong':
        return { type, timestamp: requireInteger(frame, 'timestamp', 'timestamp') }
      case 'error':
        return readError(frame)
    }
  }
  throw unknownType(
    'type',
    type,
    extensions ? ['stream', 'hello', 'ping', 'pong', 'error'] : ['stream'],
  )
}

/**
 * Checks a stream frame field by field and returns it as parsed: the object is fresh from the JSON
 * parser, so the frame every live group receives most costs no copy. A plain reader leaves the
 * extension fields out (that rare case is a copy).
 */
function readStreamFrame(frame: Record<string, unknown>, extensions: boolean): StreamFrame {
  if (isPlainChange(frame, extensions)) return frame as unknown as StreamFrame
  const timestamp = requireInteger(frame, 'timestamp', 'timestamp')
  const streamName = requireString(frame, 'streamName', 'streamName')
  const groupId = requireString(frame, 'groupId', 'groupId')
  // The engine's `id` is an Option: absent reads as null.
  if (optionalNullableString(frame, 'id', 'id') === undefined) frame.id = null
  const event = readEvent(requireObject(frame, 'event', 'event'), extensions)
  if (event !== frame.event) frame.event = event
  if (extensions) {
    optionalSeq(frame, 'seq', 'seq')
    optionalString(frame, 'epoch', 'epoch')
    optionalString(frame, 'subscriptionId', 'subscriptionId')
  } else if (present(frame, 'seq') || present(frame, 'epoch') || present(frame, 'subscriptionId')) {
    return { type: 'stream', timestamp, streamName, groupId, id: frame.id as string | null, event }
  }
  return frame as unknown as StreamFrame
}

/**
 * The frame every live group receives most (a well-formed create, update or delete, with at most a
 * `seq`), checked with direct reads: a JSON object holds no inherited fields of these names. Any
 * other frame goes through the readers above, which also name what is wrong.
 */
function isPlainChange(frame: Record<string, unknown>, extensions: boolean): boolean {
  const { timestamp, streamName, groupId, id, event, seq } = frame
  if (
    typeof timestamp !== 'number' ||
    !Number.isSafeInteger(timestamp) ||
    typeof streamName !== 'string' ||
    typeof groupId !== 'string' ||
    (id !== null && typeof id !== 'string') ||
    typeof event !== 'object' ||
    event === null ||
    frame.epoch !== undefined ||
    frame.subscriptionId !== undefined
  ) {
    return false
  }
  if (seq !== undefined && (!extensions || !Number.isSafeInteger(seq) || (seq as number) < 0))
    return false
  const { type, data } = event as Record<string, unknown>
  return (type === 'update' || type === 'create' || type === 'delete') && data !== undefined
}

function readEvent(event: Record<string, unknown>, extensions: boolean): StreamEvent {
  const type = requireType(event, 'event.type')
  switch (type) {
    case 'sync': {
      const data = requireValue(event, 'data', 'event.data')
      if (!extensions || event.ids === undefined) return { type, data }
      const ids = requireIdArray(event, 'ids', 'event.ids')
      if (!Array.isArray(data) || data.length !== ids.length) {
        throw new Refusal(
          'invalid_field',
          `event.ids must be parallel to an array event.data (${ids.length} ids for ${Array.isArray(data) ? `${data.length} items` : jsonTypeName(data)}).`,
          'event.ids',
        )
      }
      return { type, data, ids }
    }
    case 'create':
    case 'update':
    case 'delete':
      requireValue(event, 'data', 'event.data')
      return event as unknown as StreamEvent
    case 'event': {
      const custom = requireObject(event, 'event', 'event.event')
      return {
        type,
        event: {
          type: requireString(custom, 'type', 'event.event.type'),
          data: requireValue(custom, 'data', 'event.event.data'),
        },
      }
    }
    case 'unauthorized':
      return { type }
  }
  if (extensions) {
    if (type === 'resumed') return { type }
    if (type === 'patch') {
      if (event.ops === undefined) throw missing('event.ops')
      const checked = validateUpdateOps(event.ops)
      if (!checked.ok) {
        throw new Refusal('invalid_field', `event.ops: ${checked.error.message}.`, 'event.ops')
      }
      return { type, ops: checked.ops }
    }
  }
  const known = ['sync', 'create', 'update', 'delete', 'event', 'unauthorized']
  throw unknownType('event.type', type, extensions ? [...known, 'patch', 'resumed'] : known)
}

function readHello(frame: Record<string, unknown>): HelloFrame {
  const version = requireInteger(frame, 'version', 'version')
  const epoch = requireString(frame, 'epoch', 'epoch')
  const heartbeatMs = requirePositive(frame, 'heartbeatMs', 'heartbeatMs')
  const limits = requireObject(frame, 'limits', 'limits')
  return {
    type: 'hello',
    version,
    epoch,
    heartbeatMs,
    limits: {
      maxFrameBytes: requirePositive(limits, 'maxFrameBytes', 'limits.maxFrameBytes'),
      maxSubscriptions: requirePositive(limits, 'maxSubscriptions', 'limits.maxSubscriptions'),
    },
  }
}

function readError(frame: Record<string, unknown>): ErrorFrame {
  const code = requireString(frame, 'code', 'code')
  const message = requireString(frame, 'message', 'message')
  const subscriptionId = optionalString(frame, 'subscriptionId', 'subscriptionId')
  return subscriptionId === undefined
    ? { type: 'error', code, message }
    : { type: 'error', code, message, subscriptionId }
}

function optionalResumePoint(data: Record<string, unknown>): ResumePoint | undefined {
  if (data.since === undefined || data.since === null) return undefined
  const since = requireObject(data, 'since', 'data.since')
  return {
    epoch: requireString(since, 'epoch', 'data.since.epoch'),
    seq: requireSeq(since, 'seq', 'data.since.seq'),
  }
}

// ----- field readers: each returns the typed value or throws a Refusal naming the field -----

function missing(field: string): Refusal {
  return new Refusal('missing_field', `${field} is required.`, field)
}

function wrongType(field: string, expected: string, value: unknown): Refusal {
  return new Refusal(
    'invalid_field',
    `${field} must be ${expected}, got ${jsonTypeName(value)}.`,
    field,
  )
}

function unknownType(field: string, type: string, accepted: readonly string[]): Refusal {
  return new Refusal(
    'unknown_type',
    `Unknown ${field} "${type}": expected one of ${accepted.join(', ')} (lowercase).`,
    field,
  )
}

function present(object: Record<string, unknown>, key: string): boolean {
  return hasOwn(object, key) && object[key] !== undefined
}

function requireType(object: Record<string, unknown>, field: string): string {
  return requireString(object, 'type', field)
}

function requireValue(object: Record<string, unknown>, key: string, field: string): JsonValue {
  if (!present(object, key)) throw missing(field)
  return object[key] as JsonValue
}

function requireString(object: Record<string, unknown>, key: string, field: string): string {
  const value = requireValue(object, key, field)
  if (typeof value !== 'string') throw wrongType(field, 'a string', value)
  return value
}

function optionalString(
  object: Record<string, unknown>,
  key: string,
  field: string,
): string | undefined {
  return present(object, key) ? requireString(object, key, field) : undefined
}

function optionalNullableString(
  object: Record<string, unknown>,
  key: string,
  field: string,
): string | null | undefined {
  if (!present(object, key)) return undefined
  const value = object[key]
  if (value === null) return null
  if (typeof value !== 'string') throw wrongType(field, 'a string or null', value)
  return value
}

function requireObject(
  object: Record<string, unknown>,
  key: string,
  field: string,
): Record<string, unknown> {
  const value = requireValue(object, key, field)
  if (!isJsonObject(value)) throw wrongType(field, 'an object', value)
  return value
}

/** Item ids: non-empty strings, as the engine refuses an empty name or id. */
function requireIdArray(
  object: Record<string, unknown>,
  key: string,
  field: string,
): readonly string[] {
  const value = requireValue(object, key, field)
  if (!Array.isArray(value)) throw wrongType(field, 'an array of strings', value)
  value.forEach((item, index) => {
    if (typeof item !== 'string') throw wrongType(`${field}[${index}]`, 'a string', item)
    if (item === '') {
      throw new Refusal('invalid_field', `${field}[${index}] is empty.`, `${field}[${index}]`)
    }
  })
  return value as string[]
}

function requireInteger(object: Record<string, unknown>, key: string, field: string): number {
  const value = requireValue(object, key, field)
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw wrongType(field, 'an integer', value)
  }
  return value
}

function requirePositive(object: Record<string, unknown>, key: string, field: string): number {
  const value = requireInteger(object, key, field)
  if (value <= 0) {
    throw new Refusal('invalid_field', `${field} must be a positive integer, got ${value}.`, field)
  }
  return value
}

function requireSeq(object: Record<string, unknown>, key: string, field: string): number {
  const value = requireInteger(object, key, field)
  if (value < 0) {
    throw new Refusal('invalid_field', `${field} must not be negative, got ${value}.`, field)
  }
  return value
}

function optionalSeq(
  object: Record<string, unknown>,
  key: string,
  field: string,
): number | undefined {
  return present(object, key) ? requireSeq(object, key, field) : undefined
}
