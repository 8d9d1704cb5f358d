import {
  applyUpdateOps,
  cloneJson,
  findNonJson,
  type JsonValue,
  MISSING,
  type StreamEvent,
  type StreamFrame,
  type UpdateOp,
  type UpdateOpError,
  utf8ByteLength,
  validateUpdateOps,
} from '@iii-streams/protocol'
import type { ChangeMessage, GroupRef, Stored, StreamAdapter } from './adapters/adapter.ts'
import { InvocationError, messageOf } from './errors.ts'
import type { Logger } from './logger.ts'
import type { Registry } from './registry.ts'
import { fireStreamTriggers } from './triggers.ts'

/** The longest stream name, group id or item id accepted, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 256

/** `{ old_value, new_value }` of `stream::set`. */
export interface SetResult {
  readonly old_value: JsonValue
  readonly new_value: JsonValue
}

/** `{ old_value, new_value, errors? }` of `stream::update` (`errors` omitted when empty). */
export interface UpdateResult extends SetResult {
  readonly errors?: readonly UpdateOpError[]
}

/** `{ old_value }` of `stream::delete`. */
export interface DeleteResult {
  readonly old_value: JsonValue
}

/** `stream::list_all`'s result. */
export interface ListAllResult {
  readonly stream: readonly { id: string; groups: readonly string[] }[]
  readonly count: number
}

type Input = Record<string, unknown>

/** Builds the engine's wrapper frame for one event of a group. */
export function streamFrame(
  ref: GroupRef,
  id: string | null,
  event: StreamEvent,
  seq?: number,
): StreamFrame {
  const frame = {
    type: 'stream' as const,
    timestamp: Date.now(),
    streamName: ref.stream,
    groupId: ref.group,
    id,
    event,
  }
  return seq === undefined ? frame : { ...frame, seq }
}

/**
 * The built-in `stream::*` functions (STREAM-PROTOCOL.md §3), with the engine's inputs, results,
 * error codes and per-stream overrides, over one adapter. Registered into the server's registry,
 * so workers and in-process callers reach them the same way.
 */
export class StreamService {
  constructor(
    private readonly adapter: StreamAdapter,
    private readonly registry: Registry,
    private readonly logger: Logger,
  ) {}

  /** Registers every built-in function. */
  register(): void {
    const functions: Record<string, (input: Input) => Promise<unknown>> = {
      'stream::set': (input) => this.set(input),
      'stream::get': (input) => this.get(input),
      'stream::delete': (input) => this.delete(input),
      'stream::list': (input) => this.list(input),
      'stream::list_groups': (input) => this.listGroups(input),
      'stream::list_all': (input) => this.listAll(input),
      'stream::send': (input) => this.send(input),
      'stream::update': (input) => this.update(input),
    }
    for (const [id, body] of Object.entries(functions)) {
      this.registry.registerFunction(id, (input: unknown) => body(decodeObject(id, input)))
    }
  }

  async set(input: Input): Promise<SetResult> {
    const fn = 'stream::set'
    const ref = groupOf(fn, input)
    const id = name(fn, input, 'item_id')
    const data = requireJson(fn, input, 'data')
    const overridden = await this.#overriddenWrite<SetResult>(fn, ref, id, input)
    if (overridden) return overridden
    return this.#write('STREAM_SET_ERROR', 'set value', ref, id, (current) => ({
      store: data,
      change: (seq) => ({
        frame: streamFrame(ref, id, { type: current === MISSING ? 'create' : 'update', data }, seq),
      }),
      result: { old_value: current === MISSING ? null : current, new_value: data },
    }))
  }

  async update(input: Input): Promise<UpdateResult> {
    const fn = 'stream::update'
    const ref = groupOf(fn, input)
    const id = name(fn, input, 'item_id')
    if (input.ops === undefined) throw deserialization(fn, 'missing field `ops`')
    const checked = validateUpdateOps(input.ops)
    if (!checked.ok) throw deserialization(fn, checked.error.message)
    const ops = cloneJson(checked.ops as unknown as JsonValue) as unknown as UpdateOp[]
    const overridden = await this.#overriddenWrite<UpdateResult>(fn, ref, id, input)
    if (overridden) return overridden
    return this.#write('STREAM_UPDATE_ERROR', 'update value', ref, id, (current) => {
      const { value, errors } = applyUpdateOps(current, ops)
      const existed = current !== MISSING
      const change = (seq: number): ChangeMessage => ({
        frame: streamFrame(ref, id, { type: existed ? 'update' : 'create', data: value }, seq),
        ...(existed ? { ops } : {}),
      })
      const result: UpdateResult = {
        old_value: existed ? current : null,
        new_value: value,
        ...(errors.length > 0 ? { errors } : {}),
      }
      return { store: value, change, result }
    })
  }

  async delete(input: Input): Promise<DeleteResult> {
    const fn = 'stream::delete'
    const ref = groupOf(fn, input)
    const id = name(fn, input, 'item_id')
    const override = await this.#override(fn, ref, input)
    if (override.found) {
      const result = parseWriteResult(fn, override.result, false) as DeleteResult
      if (result.old_value !== null && result.old_value !== undefined) {
        await this.#emitWithoutStore(ref, id, 'delete', result.old_value)
      }
      return result
    }
    return this.#write('STREAM_DELETE_ERROR', 'delete value', ref, id, (current) =>
      current === MISSING
        ? { result: { old_value: null } }
        : {
            store: MISSING,
            change: (seq) => ({
              frame: streamFrame(ref, id, { type: 'delete', data: current }, seq),
            }),
            result: { old_value: current },
          },
    )
  }

  /** The stored value, or `undefined` for a missing item (the engine's result is then absent). */
  async get(input: Input): Promise<JsonValue | undefined> {
    const fn = 'stream::get'
    const ref = groupOf(fn, input)
    const id = name(fn, input, 'item_id')
    const override = await this.#override(fn, ref, input)
    if (override.found) return override.result as JsonValue | undefined
    const { value } = await this.#read('STREAM_GET_ERROR', 'get value', () =>
      this.adapter.get(ref, id),
    )
    return value === MISSING ? undefined : value
  }

  async list(input: Input): Promise<JsonValue[]> {
    const fn = 'stream::list'
    const ref = groupOf(fn, input)
    const override = await this.#override(fn, ref, input)
    if (override.found) return override.result as JsonValue[]
    return (await this.#read('STREAM_GET_GROUP_ERROR', 'get group', () => this.adapter.list(ref)))
      .values
  }

  async listGroups(input: Input): Promise<string[]> {
    const fn = 'stream::list_groups'
    const stream = name(fn, input, 'stream_name')
    const override = await this.#override(fn, { stream, group: '' }, input)
    if (override.found) return override.result as string[]
    return this.#read('STREAM_LIST_GROUPS_ERROR', 'list groups', () =>
      this.adapter.listGroups(stream),
    )
  }

  async listAll(_input: Input): Promise<ListAllResult> {
    const streams = await this.#read('STREAM_LIST_ALL_ERROR', 'list streams', () =>
      this.adapter.listAll(),
    )
    return {
      stream: streams.map(({ id, groups }) => ({ id, groups: [...groups] })),
      count: streams.length,
    }
  }

  async send(input: Input): Promise<null> {
    const fn = 'stream::send'
    const ref = groupOf(fn, input)
    const type = requireString(fn, input, 'type')
    const data = requireJson(fn, input, 'data')
    const id = input.id === undefined || input.id === null ? null : name(fn, input, 'id')
    const frame = streamFrame(ref, id, { type: 'event', event: { type, data } })
    // The engine fires `stream` triggers for sends too (event.type "event").
    void fireStreamTriggers(this.registry, frame, this.logger)
    try {
      await this.adapter.publish({ frame })
    } catch (error) {
      throw new InvocationError({
        code: 'STREAM_SEND_ERROR',
        message: `Failed to send event: ${messageOf(error)}`,
        function_id: fn,
      })
    }
    return null
  }

  /**
   * The state a join's `sync` shows, with the group's `seq`: an item's value (null when missing) or a
   * group's values with their ids. Per-stream `stream::get(<name>)` / `stream::list(<name>)`
   * overrides answer instead of the adapter when registered (their lists carry no ids).
   */
  async readSync(
    ref: GroupRef,
    id: string | null,
  ): Promise<{ data: JsonValue; ids?: string[]; seq: number }> {
    const input = {
      stream_name: ref.stream,
      group_id: ref.group,
      ...(id === null ? {} : { item_id: id }),
    }
    const override = await this.#override(id === null ? 'stream::list' : 'stream::get', ref, input)
    if (id !== null) {
      const { value, seq } = await this.adapter.get(ref, id)
      if (override.found) return { data: (override.result ?? null) as JsonValue, seq }
      return { data: value === MISSING ? null : value, seq }
    }
    const { ids, values, seq } = await this.adapter.list(ref)
    if (override.found) return { data: (override.result ?? []) as JsonValue, seq }
    return { data: values, ids, seq }
  }

  /** Calls `<fn>(<stream_name>)` when it is registered, with the parsed input (no `_caller_worker_id`). */
  async #override(
    fn: string,
    ref: GroupRef,
    input: Input,
  ): Promise<{ found: false } | { found: true; result: unknown }> {
    const id = `${fn}(${ref.stream})`
    if (!this.registry.has(id)) return { found: false }
    const { _caller_worker_id: _, ...forwarded } = input
    return { found: true, result: await this.registry.invoke(id, forwarded) }
  }

  async #write<TResult>(
    code: string,
    verb: string,
    ref: GroupRef,
    id: string,
    plan: Parameters<StreamAdapter['write']>[2],
  ): Promise<TResult> {
    let frame: StreamFrame | undefined
    const result = await this.#read(code, verb, () =>
      this.adapter.write(ref, id, (current: Stored) => {
        const planned = plan(current)
        const change = planned.change
        if (change === undefined) return planned
        return {
          ...planned,
          change: (seq: number) => {
            const message = change(seq)
            frame = message.frame
            return message
          },
        }
      }),
    )
    if (frame) {
      const { seq: _seq, ...engineFrame } = frame
      void fireStreamTriggers(this.registry, engineFrame, this.logger)
    }
    return result as TResult
  }

  /**
   * A set or update answered by a `<fn>(<stream>)` override, or undefined when none is registered:
   * the change it reports is still numbered and emitted (create when it reports no old value).
   */
  async #overriddenWrite<TResult extends SetResult>(
    fn: string,
    ref: GroupRef,
    id: string,
    input: Input,
  ): Promise<TResult | undefined> {
    const override = await this.#override(fn, ref, input)
    if (!override.found) return undefined
    const result = parseWriteResult(fn, override.result, true) as TResult
    const type = result.old_value === null ? 'create' : 'update'
    await this.#emitWithoutStore(ref, id, type, result.new_value)
    return result
  }

  /** A change decided by an override function: numbered and emitted, but not stored here. */
  async #emitWithoutStore(
    ref: GroupRef,
    id: string,
    type: 'create' | 'update' | 'delete',
    data: JsonValue,
  ): Promise<void> {
    await this.#write('STREAM_SET_ERROR', 'emit change', ref, id, () => ({
      change: (seq) => ({ frame: streamFrame(ref, id, { type, data }, seq) }),
      result: null,
    }))
  }

  async #read<T>(code: string, verb: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body()
    } catch (error) {
      throw new InvocationError({ code, message: `Failed to ${verb}: ${messageOf(error)}` })
    }
  }
}

function deserialization(fn: string, reason: string): InvocationError {
  return new InvocationError({
    code: 'deserialization_error',
    message: `Failed to deserialize input for ${fn}: ${reason}`,
    function_id: fn,
  })
}

function decodeObject(fn: string, input: unknown): Input {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw deserialization(
      fn,
      `invalid type: ${input === null ? 'null' : Array.isArray(input) ? 'sequence' : typeof input}, expected an object`,
    )
  }
  return input as Input
}

function requireString(fn: string, input: Input, field: string): string {
  const value = input[field]
  if (value === undefined) throw deserialization(fn, `missing field \`${field}\``)
  if (typeof value !== 'string')
    throw deserialization(fn, `invalid type for \`${field}\`: expected a string`)
  return value
}

/** A stream name, group id or item id: a string of 1 to 256 UTF-8 bytes. */
function name(fn: string, input: Input, field: string): string {
  const value = requireString(fn, input, field)
  const bytes = utf8ByteLength(value)
  if (bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw deserialization(fn, `\`${field}\` must be 1 to ${MAX_NAME_BYTES} bytes, got ${bytes}`)
  }
  return value
}

function groupOf(fn: string, input: Input): GroupRef {
  return { stream: name(fn, input, 'stream_name'), group: name(fn, input, 'group_id') }
}

/** A required JSON value, copied so that the caller's object and the store never share state. */
function requireJson(fn: string, input: Input, field: string): JsonValue {
  if (!(field in input) || input[field] === undefined)
    throw deserialization(fn, `missing field \`${field}\``)
  const problem = findNonJson(input[field], field, { omitUndefined: true })
  if (problem !== null) throw deserialization(fn, problem)
  return cloneJson(input[field] as JsonValue)
}

/** Reads an override's result as the engine does: null or absent fails, a wrong shape is JSON_ERROR. */
function parseWriteResult(
  fn: string,
  result: unknown,
  needsNewValue: boolean,
): SetResult | DeleteResult {
  const code = `STREAM_${fn.slice('stream::'.length).toUpperCase()}_ERROR`
  if (result === null || result === undefined) {
    throw new InvocationError({ code, message: 'Function returned no result', function_id: fn })
  }
  if (
    typeof result !== 'object' ||
    Array.isArray(result) ||
    (needsNewValue && !('new_value' in result))
  ) {
    throw new InvocationError({
      code: 'JSON_ERROR',
      message: `The result of ${fn} override is not ${needsNewValue ? '{ old_value?, new_value }' : '{ old_value? }'}`,
      function_id: fn,
    })
  }
  const fields = result as Record<string, unknown>
  return {
    ...fields,
    old_value: (fields.old_value ?? null) as JsonValue,
  } as SetResult
}
