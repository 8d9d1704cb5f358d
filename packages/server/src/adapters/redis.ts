import { randomUUID } from 'node:crypto'
import {
  type JsonValue,
  MISSING,
  parseServerFrame,
  type StreamFrame,
  type UpdateOp,
  validateUpdateOps,
} from '@iii-streams/protocol'
import { Redis } from 'ioredis'
import { messageOf } from '../errors.ts'
import { consoleLogger, type Logger } from '../logger.ts'
import { parseWireJson, toWireJson } from '../wire-json.ts'
import {
  type ChangeMessage,
  deliverToAll,
  type GroupRef,
  HISTORY_LIMITS,
  type Stored,
  type StreamAdapter,
  type StreamSummary,
} from './adapter.ts'

/** Options of the Redis adapter. */
export interface RedisAdapterOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  readonly url: string
  /** Connections for writes, each running one optimistic transaction at a time. Default 4. */
  readonly writeConnections?: number
  /** How long the first connection may take before the server refuses to start. Default 5000 ms. */
  readonly connectTimeoutMs?: number
  /** Changes kept per group for resume. Default `HISTORY_LIMITS.maxChanges`. */
  readonly historyLength?: number
  /**
   * How long the history of a group outlives its last change (then a client resumes with a full
   * sync), so idle groups do not hold memory in Redis. Default 24 h.
   */
  readonly historyTtlMs?: number
  readonly logger?: Logger
}

/** The engine's channel: every change and event, as the wrapper frame's JSON text. */
export const REDIS_CHANNEL = 'stream::events'

/** The engine's hash of one group: one field per item id, holding the item's JSON text. */
export const redisItemsKey = (ref: GroupRef): string => `stream:${ref.stream}:${ref.group}`

/**
 * This server's own keys, beside the engine's (which it never changes in shape): the shared
 * epoch, and per group its `seq`, its history, the `seq` at which an engine's unsequenced change
 * was last seen, and the order of its items (a sorted set scored by the `seq` that created each:
 * Redis's hash order is lost past ~128 fields). Names are JSON-encoded so that `:` in them cannot make two groups collide.
 */
const EPOCH_KEY = 'iii-streams:epoch'
const metaKey = (kind: 'seq' | 'history' | 'unsequenced' | 'order', ref: GroupRef): string =>
  `iii-streams:${kind}:${JSON.stringify([ref.stream, ref.group])}`

/** An optimistic transaction retries when another writer got there first; this many at most. */
const MAX_ATTEMPTS = 100

/** Raises the `unsequenced` mark of a group to its current `seq` (never lowers it). */
const MARK_UNSEQUENCED = `
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local mark = tonumber(redis.call('GET', KEYS[2]) or '-1')
if seq > mark then redis.call('SET', KEYS[2], seq) end
return seq`

/** Thrown (and named in error messages) when Redis cannot be reached. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError'
}

/**
 * Items in Redis, shared by any number of server instances (and by iii engines on the same Redis):
 * the engine's hash per group and its `stream::events` channel, in the engine's formats.
 *
 * - A write is an optimistic transaction (WATCH, read, plan, MULTI … EXEC, retried on conflict):
 *   the item, the group's `seq`, its history and the published message change together or not
 *   at all, so `stream::update` runs the same op engine as every other adapter, atomically across
 *   instances.
 * - Nothing is delivered locally: every instance, the writer included, delivers what comes back
 *   on the channel, so each client gets each change once.
 * - The epoch lives in Redis; a Redis that lost it (lost its data) gets a new one, and every
 *   instance tells its clients to resync. So does an instance whose subscription was cut.
 */
export async function createRedisAdapter(options: RedisAdapterOptions): Promise<StreamAdapter> {
  const logger = options.logger ?? consoleLogger
  const where = describeUrl(options.url)
  const historyLength = options.historyLength ?? HISTORY_LIMITS.maxChanges
  const historyTtlMs = options.historyTtlMs ?? 24 * 60 * 60 * 1000
  const connectTimeout = options.connectTimeoutMs ?? 5000
  await probe(options.url, where, connectTimeout)

  const open = (name: string): Redis =>
    new Redis(options.url, {
      connectionName: `iii-streams-${name}`,
      connectTimeout,
      // A command while Redis is away fails at once (a clear error) instead of waiting in a queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    })
  const commands = open('commands')
  const subscriber = open('subscriber')
  const writers = new ConnectionPool(
    Array.from({ length: options.writeConnections ?? 4 }, (_, index) => open(`writer-${index}`)),
  )
  const groupQueue = new KeyedQueue()
  const all = [commands, subscriber, ...writers.connections]
  for (const redis of all) redis.on('error', () => {}) // reported through the calls that fail
  let epoch: string
  try {
    await Promise.all(all.map((redis) => ready(redis, where, connectTimeout)))
    epoch = await guard(where, () => readEpoch(commands))
  } catch (error) {
    // Nothing stays open behind a start that failed (it would keep the process alive).
    for (const redis of all) redis.disconnect()
    throw error
  }

  const listeners = new Set<(message: ChangeMessage) => void>()
  const gapListeners = new Set<(reason: string) => void>()
  let closed = false

  /** Adopts the epoch Redis holds now (creating one when it lost it); tells of a change. */
  async function refreshEpoch(redis: Redis): Promise<void> {
    const now = await readEpoch(redis)
    if (now === epoch) return
    logger.warn(`Redis at ${where} holds a new epoch (its data was lost or reset): clients resync`)
    epoch = now
    gap('the stream store lost its history')
  }

  function gap(reason: string): void {
    for (const listener of gapListeners) listener(reason)
  }

  // ----- the channel -----

  let subscribedOnce = false
  let lost = false
  subscriber.on('ready', () => {
    if (!subscribedOnce || !lost) return
    lost = false
    logger.info(`the subscription to Redis at ${where} is back: clients resync`)
    // Messages may have been missed while it was away.
    void refreshEpoch(commands)
      .catch(() => {})
      .finally(() => gap('the stream store connection was restored'))
  })
  subscriber.on('close', () => {
    if (subscribedOnce && !closed) lost = true
  })
  // Messages are handled one after the other (an epoch check may have to wait for Redis).
  let handling = Promise.resolve()
  subscriber.on('message', (channel: string, text: string) => {
    if (channel !== REDIS_CHANNEL) return
    handling = handling.then(() => handleMessage(text)).catch(() => {})
  })
  try {
    await guard(where, () => subscriber.subscribe(REDIS_CHANNEL))
  } catch (error) {
    for (const redis of all) redis.disconnect()
    throw error
  }
  subscribedOnce = true

  async function handleMessage(text: string): Promise<void> {
    const read = readChannelMessage(text)
    if (typeof read === 'string') {
      logger.warn(`skipped a message on ${REDIS_CHANNEL}: ${read}`)
      return
    }
    if (read.epoch !== undefined && read.epoch !== epoch) {
      await refreshEpoch(commands).catch(() => {})
      // A message of another timeline: its seq means nothing to this one's clients.
      if (read.epoch !== epoch) return
    }
    const { frame } = read.message
    if (frame.seq === undefined && frame.event.type !== 'event') {
      // An engine's change (no seq): it is not in the history, so no resume may skip it.
      const ref = { stream: frame.streamName, group: frame.groupId }
      commands
        .eval(MARK_UNSEQUENCED, 2, metaKey('seq', ref), metaKey('unsequenced', ref))
        .catch((error: unknown) =>
          logger.warn(`could not mark an engine change: ${messageOf(error)}`),
        )
    }
    deliverToAll(listeners, read.message, logger)
  }

  // ----- reads -----

  const readStored = (text: string): JsonValue => parseWireJson(text) as JsonValue

  return {
    get epoch() {
      return epoch
    },

    async get(ref, id) {
      const [raw, seq] = await transaction(where, commands, (tx) =>
        tx.hget(redisItemsKey(ref), id).get(metaKey('seq', ref)),
      )
      return { value: raw === null ? MISSING : readStored(raw as string), seq: toSeq(seq) }
    },

    async list(ref) {
      const [hash, order, seq] = await transaction(where, commands, (tx) =>
        tx
          .hgetall(redisItemsKey(ref))
          .zrange(metaKey('order', ref), '0', '-1')
          .get(metaKey('seq', ref)),
      )
      const fields = hash as Record<string, string>
      // In creation order; items an engine created (not in the order) after them, in hash order.
      const ids = (order as string[]).filter((id) => Object.hasOwn(fields, id))
      const stored = Object.keys(fields)
      if (ids.length < stored.length) {
        const placed = new Set(ids)
        for (const id of stored) if (!placed.has(id)) ids.push(id)
      }
      return {
        ids,
        values: ids.map((id) => readStored(fields[id] as string)),
        seq: toSeq(seq),
      }
    },

    async listGroups(stream) {
      const prefix = `stream:${stream}:`
      const keys = await scan(where, commands, `${escapeGlob(prefix)}*`)
      return keys.map((key) => key.slice(prefix.length)).sort()
    },

    async listAll() {
      // As the engine does: `stream:{stream}:{group}` split on `:` (names holding `:` are cut).
      const streams = new Map<string, Set<string>>()
      for (const key of await scan(where, commands, 'stream:*')) {
        const [, stream, group] = key.split(':')
        if (stream === undefined || group === undefined) continue
        let groups = streams.get(stream)
        if (groups === undefined) {
          groups = new Set()
          streams.set(stream, groups)
        }
        groups.add(group)
      }
      return [...streams.entries()]
        .map(([id, groups]): StreamSummary => ({ id, groups: [...groups].sort() }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    },

    // ----- writes -----

    write(ref, id, plan) {
      const items = redisItemsKey(ref)
      const seqKey = metaKey('seq', ref)
      const historyKey = metaKey('history', ref)
      const orderKey = metaKey('order', ref)
      // Every write of a group changes its seq, so two of them always collide: one instance runs
      // them one after the other, and only other instances' writes can make a transaction retry.
      return groupQueue.run(seqKey, () =>
        writers.run((redis) =>
          guard(where, async () => {
            for (let attempt = 1; ; attempt++) {
              // WATCH and the reads in one round trip, then MULTI … EXEC in a second.
              const [, raw, seqText, epochNow] = await batch(redis, (pipe) =>
                pipe.watch(items, seqKey, EPOCH_KEY).hget(items, id).get(seqKey).get(EPOCH_KEY),
              )
              if (epochNow !== epoch) {
                await redis.unwatch()
                await refreshEpoch(redis)
                continue
              }
              const current: Stored = raw === null ? MISSING : readStored(raw as string)
              const planned = plan(current)
              if (planned.store === undefined && planned.change === undefined) {
                await redis.unwatch()
                return planned.result
              }
              const tx = redis.multi()
              const seq = toSeq(seqText) + 1
              if (planned.store === MISSING) tx.hdel(items, id).zrem(orderKey, id)
              else if (planned.store !== undefined) {
                // A new item takes its place at the end; an overwrite keeps it.
                tx.hset(items, id, toWireJson(planned.store)).zadd(orderKey, 'NX', seq, id)
              }
              if (planned.change) {
                const text = channelText(planned.change(seq), epoch)
                tx.set(seqKey, seq)
                  .rpush(historyKey, text)
                  .ltrim(historyKey, -historyLength, -1)
                  .pexpire(historyKey, historyTtlMs)
                  .publish(REDIS_CHANNEL, text)
              }
              const done = await tx.exec()
              if (done !== null) {
                results(done) // throws the first command's error, if any
                return planned.result
              }
              if (attempt >= MAX_ATTEMPTS) {
                throw new Error(`gave up after ${attempt} attempts: other writers kept changing it`)
              }
              // Another instance got there first: step aside for a moment (jittered), then retry.
              await new Promise((resolve) =>
                setTimeout(resolve, Math.random() * Math.min(attempt, 20)),
              )
            }
          }).catch(async (error: unknown) => {
            await redis.unwatch().catch(() => {})
            throw error
          }),
        ),
      )
    },

    async publish(message) {
      await guard(where, () => commands.publish(REDIS_CHANNEL, channelText(message, undefined)))
    },

    async history(ref, afterSeq) {
      const historyKey = metaKey('history', ref)
      const [seqText, mark, first] = await transaction(where, commands, (tx) =>
        tx.get(metaKey('seq', ref)).get(metaKey('unsequenced', ref)).lindex(historyKey, 0),
      )
      const current = toSeq(seqText)
      // An engine changed the group after this point, outside the history.
      if (mark !== null && Number(mark) >= afterSeq) return null
      if (afterSeq > current) return null
      if (afterSeq === current) return []
      const firstSeq = first === null ? undefined : readChannelMessage(first as string)
      if (typeof firstSeq !== 'object' || firstSeq.message.frame.seq === undefined) return null
      const offset = afterSeq + 1 - firstSeq.message.frame.seq
      if (offset < 0) return null
      const texts = await guard(where, () => commands.lrange(historyKey, offset, -1))
      const changes: ChangeMessage[] = []
      let expected = afterSeq + 1
      for (const text of texts) {
        const read = readChannelMessage(text)
        // Trimmed or appended meanwhile: only an unbroken run from `afterSeq + 1` will do.
        if (typeof read === 'string' || read.message.frame.seq !== expected) return null
        changes.push(read.message)
        expected++
      }
      return expected > current ? changes : null
    },

    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    onGap(listener) {
      gapListeners.add(listener)
      return () => gapListeners.delete(listener)
    },

    async close() {
      closed = true
      await Promise.all(all.map((redis) => redis.quit().catch(() => redis.disconnect())))
    },
  }
}

// ----- messages on the channel -----

/**
 * The JSON text published for a message: the engine's wrapper (an engine reads it, ignoring the
 * rest), plus `seq`, the `epoch` it belongs to and the update's `ops` for other iii-streams servers.
 */
function channelText(message: ChangeMessage, epoch: string | undefined): string {
  const { frame, ops } = message
  return toWireJson({
    ...frame,
    ...(epoch !== undefined && frame.seq !== undefined ? { epoch } : {}),
    ...(ops !== undefined ? { ops } : {}),
  })
}

/** A message from the channel, or why it cannot be delivered. */
function readChannelMessage(
  text: string,
): { message: ChangeMessage; epoch: string | undefined } | string {
  const parsed = parseServerFrame(text, { parseJson: parseWireJson })
  if (!parsed.ok) return parsed.error.message
  const frame = parsed.frame
  if (frame.type !== 'stream') return `a "${frame.type}" frame is not a change`
  const { event } = frame
  if (event.type !== 'create' && event.type !== 'update' && event.type !== 'delete') {
    if (event.type !== 'event') return `a "${event.type}" event is not a change`
  }
  const extra = frame as unknown as { epoch?: unknown; ops?: unknown }
  let ops: readonly UpdateOp[] | undefined
  if (extra.ops !== undefined && event.type === 'update') {
    const checked = validateUpdateOps(extra.ops)
    if (checked.ok) ops = checked.ops
  }
  // A clean frame: the fields another server added for its peers go no further.
  const clean: StreamFrame = {
    type: 'stream',
    timestamp: frame.timestamp,
    streamName: frame.streamName,
    groupId: frame.groupId,
    id: frame.id,
    event,
    ...(frame.seq !== undefined ? { seq: frame.seq } : {}),
  }
  return {
    message: ops === undefined ? { frame: clean } : { frame: clean, ops },
    epoch: typeof extra.epoch === 'string' ? extra.epoch : undefined,
  }
}

// ----- Redis helpers -----

/** Connections used one task at a time (WATCH belongs to a connection). */
class ConnectionPool {
  readonly #free: Redis[]
  readonly #waiting: ((redis: Redis) => void)[] = []

  constructor(readonly connections: readonly Redis[]) {
    this.#free = [...connections]
  }

  async run<T>(task: (redis: Redis) => Promise<T>): Promise<T> {
    const redis =
      this.#free.pop() ?? (await new Promise<Redis>((resolve) => this.#waiting.push(resolve)))
    try {
      return await task(redis)
    } finally {
      const next = this.#waiting.shift()
      if (next) next(redis)
      else this.#free.push(redis)
    }
  }
}

/** Tasks of one key run one at a time, in order; tasks of different keys run side by side. */
class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const result = previous.then(task, task)
    const tail = result.catch(() => {})
    this.#tails.set(key, tail)
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    })
    return result
  }
}

type Multi = ReturnType<Redis['multi']>
type Pipeline = ReturnType<Redis['pipeline']>

/** Runs commands in one MULTI … EXEC (an atomic read); their results, or the first error. */
async function transaction(
  where: string,
  redis: Redis,
  build: (tx: Multi) => Multi,
): Promise<unknown[]> {
  return guard(where, async () => {
    const done = await build(redis.multi()).exec()
    if (done === null) throw new Error('the transaction was aborted')
    return results(done)
  })
}

/** Runs commands in one round trip (no atomicity); their results, or the first error. */
async function batch(redis: Redis, build: (pipe: Pipeline) => Pipeline): Promise<unknown[]> {
  const done = await build(redis.pipeline()).exec()
  return results(done ?? [])
}

function results(done: [Error | null, unknown][]): unknown[] {
  return done.map(([error, value]) => {
    if (error) throw error
    return value
  })
}

/** Every key matching `pattern`, by SCAN (never KEYS, which blocks Redis). */
async function scan(where: string, redis: Redis, pattern: string): Promise<string[]> {
  return guard(where, async () => {
    const keys = new Set<string>()
    let cursor = '0'
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
      for (const key of found) keys.add(key)
      cursor = next
    } while (cursor !== '0')
    return [...keys]
  })
}

/** The shared epoch, created by whichever instance finds none. */
async function readEpoch(redis: Redis): Promise<string> {
  await redis.set(EPOCH_KEY, randomUUID(), 'NX')
  const epoch = await redis.get(EPOCH_KEY)
  if (epoch === null) throw new Error('the epoch vanished as it was written')
  return epoch
}

/** Runs a call; a connection problem becomes a `RedisUnavailableError` that names the server. */
async function guard<T>(where: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (error instanceof RedisUnavailableError) throw error
    const message = messageOf(error)
    if (
      /writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|max retries/i.test(
        message,
      )
    ) {
      throw new RedisUnavailableError(`Redis at ${where} is unavailable (${message})`)
    }
    throw error
  }
}

/** Fails fast, with a clear message, when Redis cannot be reached at start. */
async function probe(url: string, where: string, connectTimeout: number): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    throw new RedisUnavailableError(`Cannot reach Redis at ${where}: ${messageOf(error)}`)
  } finally {
    redis.disconnect()
  }
}

function ready(redis: Redis, where: string, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.disconnect()
      reject(new RedisUnavailableError(`Cannot reach Redis at ${where} within ${timeoutMs} ms`))
    }, timeoutMs)
    redis.once('ready', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

const toSeq = (text: unknown): number => (typeof text === 'string' ? Number(text) : 0)

/** Glob characters of SCAN MATCH, escaped so that a name matches only itself. */
const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&')

/** The URL without its password, for messages. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port || '6379'}`
  } catch {
    return 'an unreadable URL'
  }
}
