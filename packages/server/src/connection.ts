import {
  type JoinData,
  type LeaveData,
  parseClientFrame,
  type ServerErrorCode,
  type StreamEvent,
  utf8ByteLength,
} from '@iii-streams/protocol'
import type { WebSocket } from 'ws'
import type { GroupRef } from './adapters/adapter.ts'
import { CLOSE_CODES } from './close-codes.ts'
import { messageOf } from './errors.ts'
import { MessageTexts } from './message-texts.ts'
import type { ServerCore } from './server-core.ts'
import { MAX_NAME_BYTES, streamFrame } from './stream-service.ts'
import { type JoinLeavePayload, runJoinTriggers, runLeaveTriggers } from './triggers.ts'
import { parseWireJson, toWireJson } from './wire-json.ts'

/** A held subscription of one connection. */
export interface Subscription {
  readonly ref: GroupRef
  readonly key: string
  readonly id: string | null
  /**
   * The group's `seq` its sync (or resume) brought it to: a change numbered at or below it is
   * already in what the client holds. (Over Redis such a change can arrive after the sync.)
   */
  syncedSeq: number | undefined
}

/** The key of a group in fan-out maps (NUL cannot appear in a name that matters here). */
export function groupKey(ref: GroupRef): string {
  return `${ref.stream}\u0000${ref.group}`
}

/** How long a slow consumer has to read up to its close frame before its socket is cut. */
const SLOW_CONSUMER_GRACE_MS = 10_000

/** What a connection knows about itself when it opens. */
export interface ConnectionInit {
  readonly extended: boolean
  /** The auth function's context, `null` without one. */
  readonly context: unknown
  /** Peer address `ip:port`, for log lines. */
  readonly addr: string
  /** A path-addressed socket (`/stream/{s}/{g}[/{id}]`) joins this at once. */
  readonly pathJoin?: { readonly ref: GroupRef; readonly id: string | null }
}

/**
 * One socket on the stream port: its subscriptions, the sequential handling of its frames (as the
 * engine handles them, one after another), and delivery in the plain engine form or the extended
 * form (EXTENSIONS.md).
 */
export class Connection {
  readonly subscriptions = new Map<string, Subscription>()
  readonly extended: boolean
  /** Wall-clock time of the last frame or pong from the peer. */
  lastSeen = Date.now()
  #closed = false
  #cleanedUp = false
  #queue: Promise<void> = Promise.resolve()
  /** The group a join is reading right now (extended): its live changes wait until the sync is out. */
  #joining: string | null = null
  #held: MessageTexts[] = []

  constructor(
    private readonly ws: WebSocket,
    private readonly core: ServerCore,
    private readonly init: ConnectionInit,
  ) {
    this.extended = init.extended
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary))
    ws.on('pong', () => {
      this.lastSeen = Date.now()
    })
    ws.on('close', () => this.#cleanup())
    ws.on('error', (error) => core.logger.warn(`socket ${init.addr}: ${messageOf(error)}`))
    if (this.extended) this.#send(toWireJson(core.hello()))
    if (init.pathJoin) {
      const { ref, id } = init.pathJoin
      const data: JoinData = {
        subscriptionId: 'path',
        streamName: ref.stream,
        groupId: ref.group,
        id,
      }
      this.#enqueue(() => this.#join(data))
    }
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Delivers one message of the adapter, once per matching subscription (plain) or once (extended). */
  deliver(texts: MessageTexts, key: string): void {
    // While a subscription of this group reads its sync, the group's messages wait for it.
    if (this.#joining === key) {
      this.#held.push(texts)
      return
    }
    const frame = texts.message.frame
    let matching = 0
    for (const subscription of this.subscriptions.values()) {
      if (subscription.key !== key) continue
      // Item subscriptions get only the frames of their item; id-less sends go to groups only.
      if (subscription.id !== null && subscription.id !== frame.id) continue
      // Already in what its sync gave the client.
      if (frame.seq !== undefined && frame.seq <= (subscription.syncedSeq ?? -1)) continue
      matching++
    }
    if (matching === 0) return
    if (!this.extended) {
      for (let i = 0; i < matching; i++) this.#send(texts.plain)
      return
    }
    this.#send(texts.extended)
  }

  /** Sends a heartbeat (extended) or closes the socket when the peer has gone quiet. */
  heartbeat(now: number, heartbeatMs: number): void {
    if (!this.extended || this.#closed) return
    if (now - this.lastSeen > 2 * heartbeatMs) {
      this.core.logger.info(`closing ${this.init.addr}: no answer for ${now - this.lastSeen} ms`)
      this.ws.terminate()
      return
    }
    this.ws.ping()
    this.#send(toWireJson({ type: 'ping', timestamp: now }))
  }

  /** Closes with a code and a short reason (never a stack or a path). */
  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(code, reason)
    }
  }

  /** Cuts the socket at once. */
  terminate(): void {
    this.ws.terminate()
  }

  #receive(data: unknown, isBinary: boolean): void {
    this.lastSeen = Date.now()
    // ws has checked that a text frame is UTF-8; a binary frame is read as UTF-8 JSON, as the engine does.
    const text = isBinary ? decode(data) : String(data)
    if (text === null) this.#refuse('bad_frame', 'A frame must be UTF-8 JSON text.')
    else this.#enqueue(() => this.#handle(text))
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error) => {
      this.core.logger.error(`connection ${this.init.addr}: ${messageOf(error)}`)
    })
  }

  async #handle(text: string): Promise<void> {
    if (this.#closed) return
    const parsed = parseClientFrame(text, { extensions: this.extended, parseJson: parseWireJson })
    if (!parsed.ok) {
      // The engine skips empty frames silently and ignores malformed ones with a log line.
      if (parsed.error.code === 'empty_frame') return
      return this.#refuse('bad_frame', parsed.error.message, subscriptionIdOf(text))
    }
    const frame = parsed.frame
    switch (frame.type) {
      case 'join':
        return this.#join(frame.data)
      case 'leave':
        return this.#leave(frame.data)
      case 'ping':
        this.#send(toWireJson({ type: 'pong', timestamp: Date.now() }))
        return
    }
  }

  async #join(data: JoinData): Promise<void> {
    const { subscriptionId } = data
    const id = data.id ?? null
    const badName = invalidName(data)
    if (badName) return this.#refuse('invalid_name', badName, subscriptionId)
    const { maxSubscriptions } = this.core.limits
    if (!this.subscriptions.has(subscriptionId) && this.subscriptions.size >= maxSubscriptions) {
      return this.#refuse(
        'too_many_subscriptions',
        `A connection holds at most ${maxSubscriptions} subscriptions; leave one first.`,
        subscriptionId,
      )
    }
    const ref = { stream: data.streamName, group: data.groupId }
    const allowed = await runJoinTriggers(this.core.registry, this.#payload(data), this.core.logger)
    if (this.#closed) return
    if (!allowed) {
      this.#sendEvent(ref, id, { type: 'unauthorized' }, { subscriptionId })
      return
    }
    const key = groupKey(ref)
    // A second join with the same id replaces the first, with no leave (as the engine does).
    const previous = this.subscriptions.get(subscriptionId)
    if (previous) this.core.hub.remove(previous.key, this)
    const subscription: Subscription = { ref, key, id, syncedSeq: undefined }
    this.subscriptions.set(subscriptionId, subscription)
    this.core.hub.add(key, this)
    this.#joining = key
    try {
      if (this.extended && data.since) {
        const resumedAt = await this.#resume(ref, id, data.since, subscriptionId)
        if (resumedAt !== undefined) {
          subscription.syncedSeq = resumedAt
          return
        }
      }
      const sync = await this.core.service.readSync(ref, id)
      if (this.#closed) return
      subscription.syncedSeq = sync.seq
      const event: StreamEvent =
        sync.ids && this.extended
          ? { type: 'sync', data: sync.data, ids: sync.ids }
          : { type: 'sync', data: sync.data }
      this.#sendEvent(ref, id, event, {
        seq: sync.seq,
        epoch: this.core.adapter.epoch,
        subscriptionId,
      })
    } catch (error) {
      // The engine logs a failed read, sends no sync and keeps the subscription.
      this.core.logger.warn(`sync of ${ref.stream}/${ref.group} failed: ${messageOf(error)}`)
      this.#refuse(
        'sync_failed',
        'The store could not be read; join again to retry.',
        subscriptionId,
      )
    } finally {
      if (this.#joining === key) {
        this.#joining = null
        const held = this.#held
        this.#held = []
        for (const texts of held) this.deliver(texts, key)
      }
    }
  }

  /**
   * Replays the changes after `since` and sends `resumed`; returns the `seq` reached, or undefined
   * when a full sync is needed.
   */
  async #resume(
    ref: GroupRef,
    id: string | null,
    since: { epoch: string; seq: number },
    subscriptionId: string,
  ): Promise<number | undefined> {
    if (since.epoch !== this.core.adapter.epoch) return undefined
    const changes = await this.core.adapter.history(ref, since.seq)
    if (changes === null || this.#closed) return undefined
    let seq = since.seq
    for (const change of changes) {
      seq = change.frame.seq ?? seq
      if (id === null || change.frame.id === id) this.#send(new MessageTexts(change).extended)
    }
    this.#sendEvent(
      ref,
      id,
      { type: 'resumed' },
      { seq, epoch: this.core.adapter.epoch, subscriptionId },
    )
    return seq
  }

  async #leave(data: LeaveData): Promise<void> {
    // The engine fires leave triggers with the names of the frame, even for an unknown id.
    await runLeaveTriggers(this.core.registry, this.#payload(data), this.core.logger)
    const held = this.subscriptions.get(data.subscriptionId)
    if (held) {
      this.subscriptions.delete(data.subscriptionId)
      this.core.hub.remove(held.key, this)
    }
  }

  #cleanup(): void {
    this.#closed = true
    if (this.#cleanedUp) return
    this.#cleanedUp = true
    this.core.connections.delete(this)
    const held = [...this.subscriptions.entries()]
    this.subscriptions.clear()
    for (const [, subscription] of held) this.core.hub.remove(subscription.key, this)
    // Leave triggers for every subscription still held, after the frames already queued.
    this.#queue = this.#queue.then(async () => {
      for (const [subscriptionId, { ref, id }] of held) {
        const payload: JoinLeavePayload = {
          subscription_id: subscriptionId,
          stream_name: ref.stream,
          group_id: ref.group,
          id,
          context: this.init.context ?? null,
        }
        await runLeaveTriggers(this.core.registry, payload, this.core.logger)
      }
    })
  }

  #payload(data: JoinData | LeaveData): JoinLeavePayload {
    return {
      subscription_id: data.subscriptionId,
      stream_name: data.streamName,
      group_id: data.groupId,
      id: data.id ?? null,
      context: this.init.context ?? null,
    }
  }

  #sendEvent(
    ref: GroupRef,
    id: string | null,
    event: StreamEvent,
    extensions: { seq?: number; epoch?: string; subscriptionId?: string },
  ): void {
    const frame = streamFrame(ref, id, event)
    this.#send(toWireJson(this.extended ? { ...frame, ...extensions } : frame))
  }

  /** An error frame on an extended connection; a log line on a plain one (the engine sends nothing). */
  #refuse(code: ServerErrorCode, message: string, subscriptionId?: string): void {
    if (!this.extended) {
      this.core.logger.warn(`ignored a frame from ${this.init.addr}: ${message}`)
      return
    }
    this.#send(
      toWireJson(
        subscriptionId === undefined
          ? { type: 'error', code, message }
          : { type: 'error', code, message, subscriptionId },
      ),
    )
  }

  #send(text: string): void {
    if (this.#closed || this.ws.readyState !== this.ws.OPEN) return
    this.ws.send(text)
    if (this.ws.bufferedAmount > this.core.limits.maxBufferedBytes) {
      // A consumer this slow would hold memory without bound: drop it, never slow the others.
      this.core.logger.warn(
        `closing slow consumer ${this.init.addr} (${this.ws.bufferedAmount} bytes buffered)`,
      )
      this.ws.close(CLOSE_CODES.slowConsumer, 'slow consumer')
      // Nothing more is queued, so memory stays bounded while the peer gets a chance to read up to
      // the close frame; a peer that still reads nothing is cut after the grace.
      setTimeout(() => this.ws.terminate(), SLOW_CONSUMER_GRACE_MS).unref()
      // Its close event may come much later: stop sending and release its subscriptions now.
      this.#cleanup()
    }
  }
}

function decode(data: unknown): string | null {
  const chunks = Array.isArray(data) ? data : [data]
  try {
    const buffer = Buffer.concat(chunks.map((chunk) => Buffer.from(chunk as ArrayBuffer)))
    return new TextDecoder('utf-8', { fatal: true }).decode(buffer)
  } catch {
    return null
  }
}

/** The names rule of the stream port: 1 to 256 UTF-8 bytes each. */
function invalidName(data: JoinData): string | null {
  const names: [string, string | null | undefined][] = [
    ['subscriptionId', data.subscriptionId],
    ['streamName', data.streamName],
    ['groupId', data.groupId],
    ['id', data.id],
  ]
  for (const [field, value] of names) {
    if (value === null || value === undefined) continue
    const bytes = utf8ByteLength(value)
    if (bytes === 0 || bytes > MAX_NAME_BYTES) {
      return `data.${field} must be 1 to ${MAX_NAME_BYTES} bytes, got ${bytes}.`
    }
  }
  return null
}

/** The subscriptionId of a refused frame, when it can be read. */
function subscriptionIdOf(text: string): string | undefined {
  try {
    const value = JSON.parse(text) as { data?: { subscriptionId?: unknown } }
    const id = value?.data?.subscriptionId
    return typeof id === 'string' ? id : undefined
  } catch {
    return undefined
  }
}
