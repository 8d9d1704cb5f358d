import {
  EXTENSIONS_QUERY_PARAM,
  type JsonValue,
  MISSING,
  parseServerFrame,
  type ServerFrame,
  type StreamFrame,
  type UpdateOp,
  validateUpdateOps,
} from '@iii-streams/protocol'
import { BACKOFF, backoffDelay } from './backoff.ts'
import { StreamsError } from './errors.ts'
import { applyOps } from './group-cache.ts'
import { freezeDeep, reconcile } from './reconcile.ts'
import {
  appCode,
  callEach,
  checkedListener,
  createStore,
  type Readable,
  reportAppError,
} from './store.ts'
import {
  type GroupSnapshot,
  type ItemSnapshot,
  type StreamEventMessage,
  Subscription,
  type SubscriptionHost,
  UNJOINED_GROUP,
  UNJOINED_ITEM,
} from './subscription.ts'
import {
  type CreateTransport,
  createReconnectingTransport,
  type Transport,
  type WebSocketConstructor,
} from './transport.ts'

/** The state of the client's one socket. */
export interface ConnectionState {
  readonly status: 'connecting' | 'open' | 'reconnecting' | 'closed'
  /** True when the server speaks the iii-streams extensions (exact ordering, resume, liveness). */
  readonly extensions: boolean
  /** Reconnect attempts since the last stable connection. */
  readonly attempt: number
  readonly error: StreamsError | null
}

/**
 * Options of `createStreamClient`.
 *
 * @example
 * createStreamClient({ url: 'ws://127.0.0.1:3112', auth: async () => session.token })
 */
export interface StreamClientOptions {
  /**
   * The stream port, `ws://host:3112` (path `/`); or the ports of several server instances that
   * share one store (the Redis adapter): each connection attempt takes the next, starting from a
   * random one, so clients spread over the instances and move on when one is down.
   */
  readonly url: string | readonly string[]
  /** A WebSocket constructor; defaults to `globalThis.WebSocket` (pass `ws` in Node 20). */
  readonly WebSocket?: WebSocketConstructor | undefined
  /** Called on every (re)connect; the token is sent as `?token=…`. */
  readonly auth?: (() => Promise<string | null | undefined> | string | null | undefined) | undefined
  /** The id of a group item, used only when the server sends no ids and the item has no `id`. */
  readonly getItemId?: ((item: unknown) => string | number | null | undefined) | undefined
  /** Non-fatal problems: bad frames, server errors, failed commits. */
  readonly onError?: ((error: StreamsError) => void) | undefined
  /** How long a subscription stays joined after its last listener leaves. Default 1000 ms. */
  readonly lingerMs?: number | undefined
  /** How long a committed optimistic change waits for the server's change. Default 3000 ms. */
  readonly commitGraceMs?: number | undefined
  /**
   * How long a connection attempt may take to open (the server's auth function included) before
   * it is given up and retried. Default 10,000 ms.
   */
  readonly connectTimeoutMs?: number | undefined
  /** Replaces the socket (tests). */
  readonly transport?: CreateTransport | undefined
  /** Runs a batch of store notifications; default `setTimeout(flush, 0)`, so bursts coalesce. */
  readonly schedule?: ((flush: () => void) => void) | undefined
}

/**
 * An iii-streams client: one socket to an iii stream port, any number of subscriptions.
 *
 * @example
 * const client = createStreamClient({ url: 'ws://127.0.0.1:3112' })
 * const messages = client.group<Message>('chat', 'room-1')
 * const stop = messages.subscribe(({ status, items }) => render(status, items))
 */
export interface StreamClient {
  group<TItem = JsonValue>(stream: string, group: string): Readable<GroupSnapshot<TItem>>
  /** `id`: a non-empty string, or a finite number (taken as its text). */
  item<TItem = JsonValue>(
    stream: string,
    group: string,
    id: string | number,
  ): Readable<ItemSnapshot<TItem>>
  onEvent<TData = unknown>(
    stream: string,
    group: string,
    handler: (event: StreamEventMessage<TData>) => void,
  ): () => void
  /**
   * Applies `ops` to the cached item at once, then calls `commit` (the app's call to its backend,
   * which performs the real `stream::update`). Resolves when the commit does; on rejection the
   * change is rolled back and the promise rejects with a `commit_failed` StreamsError.
   */
  mutate(
    stream: string,
    group: string,
    itemId: string | number,
    ops: readonly UpdateOp[],
    commit: () => unknown,
  ): Promise<void>
  readonly connection: Readable<ConnectionState>
  /** Bad server frames seen so far (each also went to `onError`). */
  readonly badFrames: number
  close(): void
}

interface Pending {
  readonly ops: readonly UpdateOp[]
  /** The client's step (see `#steps`) at which `commit` resolved; null while it runs. */
  resolvedAt: number | null
}

const DEFAULT_HEARTBEAT_MS = 15_000

/** How long the answer to the client's own ping may take (see `#probe`). */
export const PROBE_TIMEOUT_MS = 5000

/**
 * Development deep-freezes snapshots. Bundlers replace `process.env.NODE_ENV` (Vite, webpack,
 * esbuild), Node has it; like immer (which reads it the same way) this module needs one or the other.
 */
const isDevelopment = process.env.NODE_ENV !== 'production'

/**
 * Creates a client and starts connecting.
 *
 * @example
 * const client = createStreamClient({ url: 'ws://127.0.0.1:3112', WebSocket })
 */
export function createStreamClient(options: StreamClientOptions): StreamClient {
  return new Client(options)
}

class Client implements StreamClient, SubscriptionHost {
  readonly lingerMs: number
  readonly freeze = isDevelopment ? freezeDeep : <T>(value: T) => value
  readonly #options: StreamClientOptions
  readonly #urls: readonly string[]
  /** Connection attempts so far (from a random start): which of `#urls` comes next. */
  #attempts: number
  readonly #subscriptions = new Map<string, Subscription>()
  readonly #bySubscriptionId = new Map<string, Subscription>()
  readonly #pending = new Map<string, Pending[]>()
  readonly #overlays = new Map<string, { base: JsonValue | undefined; value: JsonValue }>()
  readonly #dirty = new Set<Subscription>()
  /** Counts joins sent and commits resolved, to tell which came first. */
  #steps = 0
  /** Change frames whose landing of optimistic changes was settled (a group and an item share one). */
  readonly #settled = new WeakSet<StreamFrame>()
  readonly #connection = createStore<ConnectionState>({
    status: 'connecting',
    extensions: false,
    attempt: 0,
    error: null,
  })
  readonly #transport: Transport
  #badFrames = 0
  #open = false
  #extended = false
  #firstFrame = true
  /** The socket has been asked to open (by the first join). */
  #started = false
  #heartbeatMs = DEFAULT_HEARTBEAT_MS
  /** Wall-clock time of the last hello, ping or pong: the server's heartbeat and its answers. */
  #lastHeartbeatAt = 0
  /**
   * Wall-clock time of the last frame as the watchdog knows it. A frame only raises `#heard` (a
   * clock read costs about 5 % of a change frame); a check that finds it raised stamps its own
   * time, which is late by at most the time between checks and so never too early.
   */
  #lastFrameAt = 0
  #heard = false
  #closed = false
  /** Plain connections get one copy of a change per matching subscription: later copies are skipped. */
  #lastText = ''
  #copiesToSkip = 0
  #lastGroup = { stream: '', group: '', key: '' }
  /** Item subscriptions joined (most apps have none: the per-frame lookup is then skipped). */
  #joinedItems = 0
  #flushScheduled = false
  readonly #stopWatchdog: () => void
  /** Ends the wait before `auth` is asked again (on close). */
  #stopAuthWait: (() => void) | null = null
  readonly #removeBrowserListeners: () => void
  #cancelStable = () => {}
  /** Ends the wait for the answer to the client's own ping (see `#probe`), if one is on. */
  #cancelProbe: (() => void) | null = null
  /** Set while `#replace` drops the socket. */
  #replacedBecause: StreamsError | null = null
  /** What `later` has pending (lingers, commit graces, retries): a closed client leaves none. */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  /** What reads of keys nobody subscribed to give once the client is closed. */
  #closedSnapshots: ReturnType<typeof closedSnapshots> | undefined

  constructor(options: StreamClientOptions) {
    this.#options = options
    // (Options left out altogether are a missing url.)
    this.#urls = checkedUrls(options?.url)
    if (!options.transport && typeof (options.WebSocket ?? globalThis.WebSocket) !== 'function') {
      throw new TypeError(
        'WebSocket: this runtime has none (Node 20): pass one, such as the ws package, as the WebSocket option',
      )
    }
    this.#attempts = Math.floor(Math.random() * this.#urls.length)
    this.lingerMs = options.lingerMs ?? 1000
    const create = options.transport ?? createReconnectingTransport
    this.#transport = create(
      () => this.#url(),
      {
        open: () => this.#onOpen(),
        message: (text) => this.#onMessage(text),
        unreadable: (why) => this.#badFrame(`The server sent an unreadable frame: ${why}`),
        close: (code, reason) => this.#onClose(code, reason),
      },
      options.WebSocket,
      { connectTimeoutMs: options.connectTimeoutMs },
    )
    this.#stopWatchdog = this.#every(1000, () => this.#checkLiveness())
    this.#removeBrowserListeners = this.#listenToBrowser()
  }

  get connection(): Readable<ConnectionState> {
    return this.#connection
  }

  get hasPending(): boolean {
    return this.#pending.size > 0
  }

  pendingNewItems(subscription: Subscription): [string, JsonValue][] {
    if (!subscription.isGroup) return []
    const created: [string, JsonValue][] = []
    for (const id of this.#pendingIds(subscription)) {
      if (subscription.cache.has(id)) continue
      const value = this.overlay(subscription, id, undefined)
      if (value !== undefined) created.push([id, value])
    }
    return created
  }

  get badFrames(): number {
    return this.#badFrames
  }

  group<TItem>(stream: string, group: string): Readable<GroupSnapshot<TItem>> {
    checkNames(stream, group)
    return this.#readable(stream, group, null)
  }

  item<TItem>(
    stream: string,
    group: string,
    itemId: string | number,
  ): Readable<ItemSnapshot<TItem>> {
    checkNames(stream, group)
    const id = checkedId(itemId)
    const own = this.#readable<ItemSnapshot<TItem>>(stream, group, id)
    // Weakly: a store the app keeps does not keep a group that has left, nor its cache.
    const served = new WeakMap<Subscription, Readable<ItemSnapshot<TItem>>>()
    // Decided when read, not when created: a group already held serves its items without a second
    // join (frameworks create stores before they subscribe to them).
    const source = () => {
      const held = this.#subscriptions.get(keyOf(stream, group, null))
      if (!held?.joined || this.#subscriptions.get(keyOf(stream, group, id))?.joined) return own
      let view = served.get(held)
      if (view === undefined) {
        view = this.#itemOfGroup<TItem>(held, id)
        served.set(held, view)
      }
      return view
    }
    return {
      get: () => source().get(),
      subscribe: (listener) => source().subscribe(checkedListener(listener)),
    }
  }

  /**
   * The app's face of one subscription key. It looks the subscription up on every use: the one in
   * use leaves the client's table after its last user and linger, and the next use starts anew (so
   * stores an app creates and drops cost nothing once unused).
   */
  #readable<TSnapshot>(stream: string, group: string, id: string | null): Readable<TSnapshot> {
    const key = keyOf(stream, group, id)
    const unjoined = id === null ? UNJOINED_GROUP : UNJOINED_ITEM
    return {
      get: () =>
        (this.#subscriptions.get(key)?.store.get() ??
          this.#closedSnapshots?.[id === null ? 'group' : 'item'] ??
          unjoined) as TSnapshot,
      subscribe: (listener) => {
        const subscription = this.#subscription(stream, group, id)
        return this.#listen(subscription, () =>
          subscription.store.subscribe(listener as (value: unknown) => void),
        )
      },
    }
  }

  onEvent<TData>(
    stream: string,
    group: string,
    handler: (event: StreamEventMessage<TData>) => void,
  ): () => void {
    checkNames(stream, group)
    if (typeof handler !== 'function')
      throw new TypeError('onEvent: the handler must be a function')
    if (this.#closed)
      this.#report(
        new StreamsError(
          'closed',
          `onEvent(${stream}, ${group}) on a closed client: no event will arrive.`,
        ),
      )
    const subscription = this.#subscription(stream, group, null)
    const entry = handler as (event: StreamEventMessage) => void
    subscription.events.add(entry)
    subscription.retain()
    return once(() => {
      subscription.events.delete(entry)
      subscription.release()
    })
  }

  async mutate(
    stream: string,
    group: string,
    itemId: string | number,
    ops: readonly UpdateOp[],
    commit: () => unknown,
  ): Promise<void> {
    checkNames(stream, group)
    itemId = checkedId(itemId)
    const checked = validateUpdateOps(ops)
    if (!checked.ok)
      throw new TypeError(`mutate: ops the server would refuse: ${checked.error.message}`)
    if (typeof commit !== 'function')
      throw new TypeError(
        'mutate: commit must be a function that performs the change on your backend',
      )
    if (this.#closed) throw closedError()
    const key = keyOf(stream, group, itemId)
    // A copy: the caller may reuse its array; the ops are replayed on every server change.
    const entry: Pending = { ops: structuredClone(checked.ops), resolvedAt: null }
    this.#pending.set(key, [...(this.#pending.get(key) ?? []), entry])
    this.#touchItem(stream, group, itemId)
    try {
      await commit()
    } catch (cause) {
      this.#dropPending(key, entry)
      this.#touchItem(stream, group, itemId)
      const error = new StreamsError(
        'commit_failed',
        `The change to ${stream}/${group}/${itemId} was rolled back: ${messageOf(cause)}`,
        { cause },
      )
      this.#report(error)
      throw error
    }
    entry.resolvedAt = ++this.#steps
    // The server's change usually arrives before or just after the commit resolves; until then the
    // optimistic value stays, so nothing flickers back.
    this.later(this.#options.commitGraceMs ?? 3000, () => {
      if (this.#dropPending(key, entry)) this.#touchItem(stream, group, itemId)
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#closedSnapshots = closedSnapshots()
    this.#stopWatchdog()
    this.#cancelStable()
    this.#stopAuthWait?.()
    this.#removeBrowserListeners()
    this.#transport.close()
    // What was still loading never will: it ends with `closed`. What was ready keeps its state.
    for (const subscription of this.#subscriptions.values())
      if (subscription.status === 'loading') subscription.fail(closedError())
    this.#setConnection({ status: 'closed' })
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }

  // ----- SubscriptionHost -----

  join(subscription: Subscription): void {
    if (!subscription.isGroup) this.#joinedItems++
    this.#bySubscriptionId.set(subscription.subscriptionId, subscription)
    if (this.#closed) subscription.fail(closedError())
    else if (this.#open) this.#sendJoin(subscription)
    else if (!this.#started) {
      // The first join opens the socket (its open sends every join): a client that is created
      // and never used, on a server rendering a page for one, connects nowhere.
      this.#started = true
      this.#transport.start()
    }
  }

  /**
   * A plain engine sends one copy of a change per matching subscription and never says when a
   * leave has taken effect, so while a group's subscription and an item's own are both joined the
   * copies counted could differ from those sent for a moment, and an event be delivered twice.
   * There, a group and its items' own subscriptions leave together: one unused stays joined until
   * none of the others is used.
   */
  mayLeave(subscription: Subscription): boolean {
    return (
      this.#extended || !this.#open || this.#siblings(subscription).every((each) => !each.inUse)
    )
  }

  /**
   * Leaves the subscriptions kept joined, unused, for a sibling's sake (see `mayLeave`), once that
   * no longer matters: the connection is gone, or it turned out to be extended.
   */
  #leaveParked(): void {
    for (const subscription of [...this.#bySubscriptionId.values()]) subscription.leaveIfUnused()
  }

  /** The joined subscriptions whose changes overlap `subscription`'s (its group, or its items). */
  #siblings(subscription: Subscription): Subscription[] {
    if (this.#joinedItems === 0) return []
    const { stream, group } = subscription
    if (!subscription.isGroup) {
      const held = this.#subscriptions.get(keyOf(stream, group, null))
      return held?.joined ? [held] : []
    }
    const prefix = `${keyOf(stream, group, null)}\u0000`
    const items: Subscription[] = []
    for (const [key, each] of this.#subscriptions)
      if (each.joined && key.startsWith(prefix)) items.push(each)
    return items
  }

  leave(subscription: Subscription): void {
    const siblings = this.#extended ? [] : this.#siblings(subscription)
    if (!subscription.isGroup) this.#joinedItems--
    this.#bySubscriptionId.delete(subscription.subscriptionId)
    if (this.#open) {
      this.#transport.send(
        JSON.stringify({
          type: 'leave',
          data: {
            subscriptionId: subscription.subscriptionId,
            streamName: subscription.stream,
            groupId: subscription.group,
            id: subscription.id,
          },
        }),
      )
    }
    // Retired: the next user of this key gets a new subscription that starts from its own sync.
    subscription.disconnected()
    const key = keyOf(subscription.stream, subscription.group, subscription.id)
    if (this.#subscriptions.get(key) === subscription) this.#subscriptions.delete(key)
    for (const sibling of siblings) sibling.leaveIfUnused()
  }

  schedule(subscription: Subscription): void {
    this.#dirty.add(subscription)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    const flush = () => {
      this.#flushScheduled = false
      const dirty = [...this.#dirty]
      this.#dirty.clear()
      appCode(() => callEach(dirty, (each) => each.publish()))
    }
    try {
      ;(this.#options.schedule ?? ((run) => setTimeout(run, 0)))(flush)
    } catch (error) {
      // Not scheduled: the next change asks again, and nothing dirty is forgotten.
      this.#flushScheduled = false
      reportAppError(error)
    }
  }

  later(ms: number, task: () => void): () => void {
    // A closed client starts nothing (views let go after it, commits resolve late).
    if (this.#closed) return () => {}
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      task()
    }, ms)
    this.#timers.add(timer)
    return () => {
      clearTimeout(timer)
      this.#timers.delete(timer)
    }
  }

  overlay(
    subscription: Subscription,
    itemId: string,
    base: JsonValue | undefined,
  ): JsonValue | undefined {
    if (this.#pending.size === 0) return undefined
    const key = keyOf(subscription.stream, subscription.group, itemId)
    const pending = this.#pending.get(key)
    if (pending === undefined) return undefined
    const cached = this.#overlays.get(key)
    if (cached && cached.base === base) return cached.value
    let value: JsonValue = base === undefined ? (MISSING as never) : base
    for (const { ops } of pending) value = applyOps(value as JsonValue, ops)
    this.#overlays.set(key, { base, value })
    return value
  }

  // ----- connection -----

  async #url(): Promise<string> {
    const url = new URL(this.#urls[this.#attempts++ % this.#urls.length] as string)
    url.searchParams.set(EXTENSIONS_QUERY_PARAM, '1')
    if (this.#options.auth) {
      const token = await this.#token(this.#options.auth)
      url.searchParams.delete('token')
      // Not with searchParams, whose form encoding makes a space `+`: the server's
      // decodeURIComponent (the engine does not decode) must give the token back whole.
      if (token) url.search += `&token=${encodeURIComponent(token)}`
    }
    return url.toString()
  }

  /**
   * The app's token for this connection attempt. While `auth` throws or rejects, each failure is
   * reported (`auth_failed`, in `onError` and the connection's error) and `auth` is asked again
   * after the backoff: the socket has no URL to open until then.
   */
  async #token(auth: NonNullable<StreamClientOptions['auth']>): Promise<string | null | undefined> {
    for (let failures = 1; !this.#closed; failures++) {
      try {
        return await auth()
      } catch (cause) {
        if (this.#closed) break
        const error = new StreamsError(
          'auth_failed',
          `auth() failed, so the client cannot connect; trying again (${messageOf(cause)})`,
          { cause },
        )
        this.#setConnection({ error })
        this.#report(error)
        await new Promise<void>((resolve) => {
          const cancel = this.later(backoffDelay(failures), resolve)
          this.#stopAuthWait = () => {
            cancel()
            resolve()
          }
        })
      }
    }
    return null
  }

  #onOpen(): void {
    this.#open = true
    this.#firstFrame = true
    this.#extended = false
    this.#lastText = ''
    this.#copiesToSkip = 0
    this.#setConnection({
      status: 'open',
      extensions: false,
      attempt: this.#transport.attempt,
      error: null,
    })
    for (const subscription of this.#bySubscriptionId.values()) this.#sendJoin(subscription)
    // A connection open this long is stable: the attempts count from zero again.
    this.#cancelStable = this.later(BACKOFF.stableMs, () => this.#setConnection({ attempt: 0 }))
  }

  #onClose(code: number, reason: string): void {
    const wasOpen = this.#open
    this.#open = false
    this.#cancelStable()
    this.#endProbe()
    for (const subscription of this.#bySubscriptionId.values()) subscription.disconnected()
    this.#leaveParked()
    if (this.#closed) return
    const error =
      this.#replacedBecause ??
      (wasOpen
        ? new StreamsError(
            'connection',
            `The connection closed (${code}${reason ? `: ${reason}` : ''}); reconnecting.`,
          )
        : new StreamsError(
            'connection',
            `Could not connect${reason ? ` (${reason})` : ''}; retrying.`,
          ))
    this.#setConnection({
      status: 'reconnecting',
      extensions: this.#extended,
      attempt: this.#transport.attempt,
      error,
    })
  }

  /** Listeners of the connection run inside the client's own steps: their errors stop none. */
  #setConnection(change: Partial<ConnectionState>): void {
    appCode(() => this.#connection.set({ ...this.#connection.get(), ...change }))
  }

  #sendJoin(subscription: Subscription): void {
    const { subscriptionId, stream, group, id, seq, epoch } = subscription
    // Sent whenever the subscription knows its place: a plain engine ignores the field.
    const since = seq !== null && epoch !== null ? { epoch, seq } : undefined
    subscription.since = since ?? null
    subscription.synced = false
    subscription.refused = false
    subscription.awaitingSync = true
    subscription.joinedAt = ++this.#steps
    this.#transport.send(
      JSON.stringify({
        type: 'join',
        data: {
          subscriptionId,
          streamName: stream,
          groupId: group,
          ...(id === null ? {} : { id }),
          ...(since ? { since } : {}),
        },
      }),
    )
  }

  /** A heartbeat's exact time is the last frame's too, whatever came before it. */
  #sawHeartbeat(): void {
    this.#lastFrameAt = this.#lastHeartbeatAt = Date.now()
    this.#heard = false
  }

  /**
   * Replaces a socket that has gone quiet, judged by wall clock (background tabs throttle timers).
   * `waking`: the page has just come back (visible, online), after checks that a background tab
   * may have spaced a minute apart; frames stamped by such a check may be long past, so only the
   * heartbeat counts, which the server sends every `heartbeatMs` whatever else it sends.
   */
  #checkLiveness(waking = false): void {
    if (!this.#open || !this.#extended) return
    const now = Date.now()
    if (this.#heard) {
      this.#heard = false
      this.#lastFrameAt = now
    }
    const last = waking ? this.#lastHeartbeatAt : this.#lastFrameAt
    if (now - last > 2 * this.#heartbeatMs + 1000) this.#replace('The server went quiet')
  }

  #listenToBrowser(): () => void {
    const target = globalThis as unknown as {
      addEventListener?: (type: string, listener: () => void) => void
      removeEventListener?: (type: string, listener: () => void) => void
      document?: {
        visibilityState?: string
        addEventListener?: (type: string, listener: () => void) => void
        removeEventListener?: (type: string, listener: () => void) => void
      }
    }
    if (typeof target.addEventListener !== 'function') return () => {}
    const wake = () => {
      if (this.#closed || !this.#started) return
      if (!this.#open) {
        this.#stopAuthWait?.()
        this.#transport.reconnect()
      } else {
        this.#probe()
        this.#checkLiveness(true)
      }
    }
    const onVisible = () => {
      if (target.document?.visibilityState === 'visible') wake()
    }
    const onOffline = () => this.#probe()
    target.addEventListener('online', wake)
    target.addEventListener('offline', onOffline)
    target.document?.addEventListener?.('visibilitychange', onVisible)
    return () => {
      target.removeEventListener?.('online', wake)
      target.removeEventListener?.('offline', onOffline)
      target.document?.removeEventListener?.('visibilitychange', onVisible)
    }
  }

  /**
   * Pings the server and replaces the socket unless the answer comes within `PROBE_TIMEOUT_MS`:
   * when the page comes back or the network changes, a socket may have died with nothing to tell
   * (a heartbeat queued before it died still arrives, and looks fresh).
   */
  #probe(): void {
    if (this.#closed || !this.#open || !this.#extended || this.#cancelProbe !== null) return
    this.#transport.send('{"type":"ping"}')
    this.#cancelProbe = this.later(PROBE_TIMEOUT_MS, () => {
      this.#cancelProbe = null
      this.#replace('The server did not answer a ping')
    })
  }

  /** Drops a socket judged dead and connects again; the connection's error says why. */
  #replace(why: string): void {
    // The close this causes (at once) reports this error, not the normal close (1000) it looks like.
    this.#replacedBecause = new StreamsError('connection', `${why}; reconnecting.`)
    this.#transport.reconnect()
    this.#replacedBecause = null
  }

  #endProbe(): void {
    this.#cancelProbe?.()
    this.#cancelProbe = null
  }

  #every(ms: number, task: () => void): () => void {
    const timer = setInterval(task, ms)
    ;(timer as { unref?: () => void }).unref?.()
    return () => clearInterval(timer)
  }

  // ----- frames -----

  #onMessage(text: string): void {
    this.#heard = true
    if (this.#copiesToSkip > 0 && text === this.#lastText) {
      this.#copiesToSkip--
      return
    }
    this.#copiesToSkip = 0
    // The first frame tells the connection's protocol: a `hello` opens an extended one; anything
    // else must be a plain engine's frame, as must every later one on that connection.
    const first = this.#firstFrame
    this.#firstFrame = false
    let parsed = parseServerFrame(text, { extensions: first || this.#extended })
    if (first && parsed.ok) {
      const frame = parsed.frame
      if (frame.type === 'hello') {
        this.#extended = true
        this.#leaveParked()
        this.#sawHeartbeat()
        this.#heartbeatMs = frame.heartbeatMs
        this.#setConnection({ extensions: true })
        return
      }
      parsed = parseServerFrame(text, { extensions: false })
    }
    if (!parsed.ok) {
      const error = this.#badFrame(`The server sent an unreadable frame: ${parsed.error.message}`)
      this.#unreadableSync(text)?.fail(error)
      return
    }
    this.#handle(parsed.frame, text)
  }

  /**
   * The subscription waiting for `text`, when it is an unreadable sync: it will not come again.
   * Found by `subscriptionId`, or (a plain engine sends none) by the names it answers.
   */
  #unreadableSync(text: string): Subscription | undefined {
    let frame: Record<string, unknown> | null = null
    try {
      frame = JSON.parse(text)
    } catch {
      return undefined
    }
    if ((frame?.event as { type?: unknown } | undefined)?.type !== 'sync') return undefined
    const { subscriptionId, streamName, groupId, id = null } = frame as Record<string, unknown>
    if (typeof subscriptionId === 'string') return this.#bySubscriptionId.get(subscriptionId)
    if (typeof streamName !== 'string' || typeof groupId !== 'string') return undefined
    if (id !== null && typeof id !== 'string') return undefined
    const subscription = this.#subscriptions.get(keyOf(streamName, groupId, id))
    return subscription?.awaitingSync ? subscription : undefined
  }

  #handle(frame: ServerFrame, text: string): void {
    switch (frame.type) {
      case 'pong':
        this.#endProbe()
        this.#sawHeartbeat()
        return
      case 'ping':
        this.#sawHeartbeat()
        return
      case 'hello':
        this.#badFrame('The server sent a second hello on one connection.')
        return
      case 'error': {
        const subscription = frame.subscriptionId
          ? this.#bySubscriptionId.get(frame.subscriptionId)
          : undefined
        const error = new StreamsError(
          frame.code === 'sync_failed' ? 'sync_failed' : 'server_error',
          frame.message,
        )
        this.#report(error)
        if (subscription === undefined) return
        subscription.fail(error)
        // The server keeps the subscription after a failed read: ask again, later.
        if (frame.code === 'sync_failed')
          this.later(1000, () => subscription.joined && this.#open && this.#sendJoin(subscription))
        return
      }
      case 'stream':
        this.#handleStream(frame, text)
    }
  }

  #handleStream(frame: StreamFrame, text: string): void {
    const event = frame.event
    if (event.type === 'sync' || event.type === 'unauthorized' || event.type === 'resumed') {
      const subscription = this.#target(frame)
      if (subscription === undefined) return
      if (event.type === 'unauthorized') {
        subscription.refused = true
        // What it showed may no longer be the user's to see (access taken away on a reconnect),
        // optimistic changes to it included.
        subscription.cache.replace([], [])
        // Nothing is kept to resume from: the next join asks for a whole sync.
        subscription.seq = subscription.epoch = null
        for (const id of this.#pendingIds(subscription)) {
          const key = keyOf(subscription.stream, subscription.group, id)
          this.#pending.delete(key)
          this.#overlays.delete(key)
        }
        subscription.fail(
          new StreamsError(
            'unauthorized',
            `Not allowed to subscribe to ${frame.streamName}/${frame.groupId}.`,
          ),
          'unauthorized',
        )
      } else if (event.type === 'sync') this.#applySync(subscription, frame)
      else this.#resumed(subscription, frame)
      return
    }
    if (frame.id === null && event.type !== 'event') {
      this.#badFrame(
        `The server sent a ${event.type} of ${frame.streamName}/${frame.groupId} without an item id.`,
      )
      return
    }
    // A change goes to the group's subscription and to the item's own, when joined.
    const group = this.#joinedGroup(frame)
    const item = frame.id === null ? undefined : this.#joinedItem(frame.id)
    if (!this.#extended && group !== undefined && item !== undefined) {
      this.#lastText = text
      this.#copiesToSkip = 1
    }
    if (event.type === 'event') {
      const message = { type: event.event.type, data: event.event.data, id: frame.id }
      const handlers = [...(group?.events ?? []), ...(item?.events ?? [])]
      appCode(() => callEach(handlers, (handler) => handler(message)))
      return
    }
    if (this.#extended && frame.seq === undefined) {
      // Its place among the group's changes is unknown: ask for the group's state again.
      this.#badFrame(
        `The server sent a ${event.type} of ${frame.streamName}/${frame.groupId} without its seq.`,
      )
      if (group !== undefined) this.#resync(group)
      if (item !== undefined) this.#resync(item)
      return
    }
    // With one target the frame's data is held by nobody else: it can be reconciled in place.
    if (group !== undefined) this.#applyChange(group, frame, item === undefined)
    if (item !== undefined) this.#applyChange(item, frame, group === undefined)
  }

  /** The subscription a sync, unauthorized or resumed answers. */
  #target(frame: StreamFrame): Subscription | undefined {
    if (frame.subscriptionId !== undefined) return this.#bySubscriptionId.get(frame.subscriptionId)
    const subscription = this.#subscriptions.get(keyOf(frame.streamName, frame.groupId, frame.id))
    return subscription?.joined ? subscription : undefined
  }

  /** The joined subscription of the frame's group, if any. */
  #joinedGroup(frame: StreamFrame): Subscription | undefined {
    // Frames of one group come in runs: keep its key rather than build it per frame.
    if (frame.streamName !== this.#lastGroup.stream || frame.groupId !== this.#lastGroup.group) {
      this.#lastGroup = {
        stream: frame.streamName,
        group: frame.groupId,
        key: keyOf(frame.streamName, frame.groupId, null),
      }
    }
    const group = this.#subscriptions.get(this.#lastGroup.key)
    return group?.joined && !group.refused ? group : undefined
  }

  /** The joined subscription of one item of the group `#joinedGroup` last looked at, if any. */
  #joinedItem(id: string): Subscription | undefined {
    if (this.#joinedItems === 0) return undefined
    const item = this.#subscriptions.get(`${this.#lastGroup.key}\u0000${id}`)
    return item?.joined && !item.refused ? item : undefined
  }

  #applySync(subscription: Subscription, frame: StreamFrame): void {
    const event = frame.event as { data: JsonValue; ids?: readonly string[] }
    // The items with optimistic changes, as they were before the sync.
    const pendingIds = this.#pending.size > 0 ? this.#pendingIds(subscription) : []
    const before = pendingIds.map((id) => subscription.cache.get(id))
    if (subscription.isGroup) {
      const name = `${subscription.stream}/${subscription.group}`
      if (!Array.isArray(event.data)) {
        subscription.fail(this.#badFrame(`The sync of the group ${name} did not carry an array.`))
        return
      }
      let ids: readonly string[] | null
      try {
        ids = event.ids ?? this.#idsOf(event.data)
      } catch (cause) {
        const message = `getItemId threw for an item of ${name}: ${messageOf(cause)}`
        subscription.fail(new StreamsError('no_item_id', message, { cause }))
        return
      }
      if (ids === null) {
        subscription.fail(
          new StreamsError(
            'no_item_id',
            `The items of ${name} carry no id: give them an "id" field or pass getItemId.`,
          ),
        )
        return
      }
      if (new Set(ids).size !== ids.length) {
        const twice = ids.find((id, index) => ids?.indexOf(id) !== index)
        subscription.fail(
          new StreamsError(
            'no_item_id',
            `Two items of ${name} have the id ${JSON.stringify(twice)}: ids must be unique (pass getItemId).`,
          ),
        )
        return
      }
      subscription.cache.replace(ids, event.data, true)
    } else if (event.data === null) subscription.cache.delete(subscription.id as string)
    else subscription.cache.set(subscription.id as string, event.data, true)
    subscription.synced = true
    subscription.seq = frame.seq ?? null
    subscription.epoch = frame.epoch ?? null
    for (const [index, id] of pendingIds.entries())
      this.#settle(subscription, id, before[index], true)
    this.#ready(subscription)
  }

  /** The ids of this subscription's items that have optimistic changes pending. */
  #pendingIds(subscription: Subscription): string[] {
    if (!subscription.isGroup) {
      const id = subscription.id as string
      return this.#pending.has(keyOf(subscription.stream, subscription.group, id)) ? [id] : []
    }
    const prefix = `${keyOf(subscription.stream, subscription.group, null)}\u0000`
    const ids: string[] = []
    for (const key of this.#pending.keys())
      if (key.startsWith(prefix)) ids.push(key.slice(prefix.length))
    return ids
  }

  #resumed(subscription: Subscription, frame: StreamFrame): void {
    const name = `${frame.streamName}/${frame.groupId}`
    const since = subscription.since
    if (since === null) {
      // No state to resume: the sync this join asked for will not come.
      subscription.fail(this.#badFrame(`The server resumed ${name}, whose join asked for a sync.`))
      return
    }
    if (frame.epoch !== undefined && frame.epoch !== since.epoch) {
      this.#badFrame(`The server resumed ${name} in epoch ${frame.epoch}, not ${since.epoch}.`)
      // The cache belongs to another timeline: ask for a whole sync.
      subscription.seq = subscription.epoch = null
      this.#resync(subscription)
      return
    }
    subscription.synced = true
    this.#ready(subscription)
    // (A gap among the buffered frames has already asked for a resync.)
    if (frame.seq === undefined || !subscription.synced) return
    // A group must have reached the group's seq through the replay; an item sees only its own
    // changes, so it simply takes the group's seq.
    if (subscription.isGroup && subscription.seq !== frame.seq) this.#resync(subscription)
    else subscription.seq = frame.seq
  }

  /** Ready: applies what came before the sync, in arrival order, then publishes. */
  #ready(subscription: Subscription): void {
    subscription.status = 'ready'
    subscription.error = null
    const buffered = subscription.buffer
    subscription.buffer = []
    // On an extended connection seq orders a group's changes: an item's own replay, which comes
    // before its group's, holds some of them, and in arrival order would look like a gap.
    if (this.#extended) buffered.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
    for (const frame of buffered) this.#applyChange(subscription, frame)
    this.schedule(subscription)
  }

  /** `fresh`: no other subscription received this frame (see `reconcile`). */
  #applyChange(subscription: Subscription, frame: StreamFrame, fresh = false): void {
    if (!subscription.synced) {
      // Kept only for a sync that is coming: a failed subscription has none until it joins again.
      if (subscription.awaitingSync) subscription.buffer.push(frame)
      return
    }
    const id = frame.id
    if (id === null || (!subscription.isGroup && id !== subscription.id)) return
    if (frame.seq !== undefined && this.#extended) {
      const last = subscription.seq
      if (last !== null && frame.seq <= last) return
      // seq counts the changes of the whole group: only a group subscription sees every one of
      // them, so only it can tell a gap. An item's changes skip the numbers of its siblings.
      if (subscription.isGroup && last !== null && frame.seq > last + 1) {
        this.#resync(subscription)
        return
      }
      subscription.seq = frame.seq
    }
    const event = frame.event
    const pending = this.#pending.size > 0 && !this.#settled.has(frame)
    const before = pending ? subscription.cache.get(id) : undefined
    if (event.type === 'create' || event.type === 'update')
      subscription.cache.set(id, event.data, fresh)
    else if (event.type === 'delete') subscription.cache.delete(id)
    else if (event.type === 'patch' && !subscription.cache.patch(id, event.ops)) {
      this.#resync(subscription)
      return
    }
    if (pending) {
      this.#settled.add(frame)
      this.#settle(subscription, id, before)
    }
    this.schedule(subscription)
  }

  /** A gap, or a patch without its base: join again (resuming when possible). */
  #resync(subscription: Subscription): void {
    subscription.synced = false
    subscription.buffer = []
    if (this.#open) this.#sendJoin(subscription)
  }

  /**
   * After a server change to an item with optimistic changes pending (`before`: the item's value
   * until then): when the server's value is `before` with the first k pending changes applied,
   * those k have landed and are dropped; the rest stay, rebased on the new value (another writer's
   * change lands none). A sync read after a commit resolved holds that change: it is dropped too.
   */
  #settle(
    subscription: Subscription,
    itemId: string,
    before: JsonValue | undefined,
    sync = false,
  ): void {
    const key = keyOf(subscription.stream, subscription.group, itemId)
    const pending = this.#pending.get(key)
    if (pending === undefined) return
    let remaining = pending.filter(
      ({ resolvedAt }) => resolvedAt === null || (sync && resolvedAt > subscription.joinedAt),
    )
    const base = subscription.cache.get(itemId)
    if (base !== undefined) {
      let value = before === undefined ? (MISSING as never) : before
      let landed = 0
      for (const [index, { ops }] of remaining.entries()) {
        value = applyOps(value, ops)
        if (reconcile(value, base) === value) landed = index + 1
      }
      remaining = remaining.slice(landed)
    }
    // What was shown (when a snapshot computed it): an equal new value keeps its identity, so
    // a landing notifies nobody.
    const cached = this.#overlays.get(key)
    const shown = cached?.base === before ? cached?.value : undefined
    this.#overlays.delete(key)
    if (remaining.length === 0) {
      this.#pending.delete(key)
      if (shown !== undefined && base !== undefined && reconcile(shown, base) === shown)
        subscription.cache.adopt(itemId, shown)
      return
    }
    this.#pending.set(key, remaining)
    if (shown !== undefined && base !== undefined) {
      // The rebased value, sharing what it can with the shown one.
      const rebased = this.overlay(subscription, itemId, base) as JsonValue
      this.#overlays.set(key, { base, value: reconcile(shown, rebased) })
    }
  }

  #idsOf(items: readonly JsonValue[]): string[] | null {
    const ids: string[] = []
    for (const item of items) {
      const own =
        typeof item === 'object' && item !== null && !Array.isArray(item)
          ? (item as { id?: unknown }).id
          : undefined
      const id =
        typeof own === 'string' || typeof own === 'number' ? own : this.#options.getItemId?.(item)
      if (!((typeof id === 'string' && id !== '') || Number.isFinite(id))) return null
      ids.push(String(id))
    }
    return ids
  }

  /**
   * Hands `error` to `onError`. An `onError` that throws is reported on its own (`reportError`,
   * else the console) and never stops the client mid-way: a throw while `auth` is retried would
   * otherwise stall the connection for good.
   */
  #report(error: StreamsError): void {
    appCode(() => this.#options.onError?.(error))
  }

  #badFrame(message: string): StreamsError {
    this.#badFrames++
    const error = new StreamsError('bad_frame', message)
    this.#report(error)
    return error
  }

  // ----- helpers -----

  #subscription(stream: string, group: string, id: string | null): Subscription {
    const key = keyOf(stream, group, id)
    let subscription = this.#subscriptions.get(key)
    if (subscription === undefined) {
      subscription = new Subscription(stream, group, id, this)
      this.#subscriptions.set(key, subscription)
    }
    return subscription
  }

  /**
   * Holds `subscription` while `subscribe`'s listener listens; returns the stop. A listener that
   * throws on its first call holds nothing.
   */
  #listen(subscription: Subscription, subscribe: () => () => void): () => void {
    const release = this.#hold(subscription)
    let stop: () => void
    try {
      stop = subscribe()
    } catch (error) {
      release()
      throw error
    }
    return once(() => {
      stop()
      release()
    })
  }

  #hold(subscription: Subscription): () => void {
    subscription.retain()
    return once(() => subscription.release())
  }

  /** The view of one item of a held group (kept by its `item()` store, so its snapshots stay stable). */
  #itemOfGroup<TItem>(group: Subscription, id: string): Readable<ItemSnapshot<TItem>> {
    let last: ItemSnapshot<TItem> | undefined
    const view = (snapshot: GroupSnapshot<TItem>): ItemSnapshot<TItem> => {
      const data = (this.overlay(group, id, group.cache.get(id)) ??
        group.cache.get(id) ??
        null) as TItem | null
      if (
        last &&
        last.status === snapshot.status &&
        last.error === snapshot.error &&
        last.data === data
      )
        return last
      last = Object.freeze({ status: snapshot.status, data, error: snapshot.error })
      return last
    }
    const readable: Readable<ItemSnapshot<TItem>> = {
      get: () => view(group.store.get() as GroupSnapshot<TItem>),
      subscribe: (listener) => {
        let previous: ItemSnapshot<TItem> | undefined
        return this.#listen(group, () =>
          group.store.subscribe((snapshot) => {
            const next = view(snapshot as GroupSnapshot<TItem>)
            if (next === previous) return
            previous = next
            listener(next)
          }),
        )
      },
    }
    return readable
  }

  #touchItem(stream: string, group: string, itemId: string): void {
    this.#overlays.delete(keyOf(stream, group, itemId))
    for (const id of [null, itemId]) {
      const subscription = this.#subscriptions.get(keyOf(stream, group, id))
      if (subscription) this.schedule(subscription)
    }
  }

  #dropPending(key: string, entry: Pending): boolean {
    const pending = this.#pending.get(key)
    if (pending === undefined || !pending.includes(entry)) return false
    const remaining = pending.filter((each) => each !== entry)
    if (remaining.length === 0) this.#pending.delete(key)
    else this.#pending.set(key, remaining)
    this.#overlays.delete(key)
    return true
  }
}

/** The instance URLs, each a ws:// or wss:// URL (http:// and https:// are taken as the same). */
function checkedUrls(url: string | readonly string[] | undefined): readonly string[] {
  const urls: unknown = typeof url === 'string' ? [url] : url
  if (!Array.isArray(urls) || urls.length === 0) {
    throw new TypeError('url: give the stream port, as in ws://127.0.0.1:3112, or a list of them')
  }
  for (const each of urls) {
    let protocol = ''
    try {
      protocol = new URL(each as string).protocol
    } catch {}
    if (!['ws:', 'wss:', 'http:', 'https:'].includes(protocol)) {
      throw new TypeError(
        `url: ${JSON.stringify(each)} is not a WebSocket URL (ws://host:3112 or wss://host/…)`,
      )
    }
  }
  return urls as readonly string[]
}

/**
 * Stream and group names are non-empty strings without NUL (the client's keys join them with it).
 * Anything else would be ignored by the engine, never answered.
 */
function checkNames(stream: unknown, group: unknown): void {
  const parts: [string, unknown][] = [
    ['stream', stream],
    ['group', group],
  ]
  for (const [what, name] of parts) {
    if (typeof name !== 'string' || name === '' || name.includes('\u0000'))
      throw new TypeError(
        `${what}: ${JSON.stringify(name) ?? String(name)} is not a stream or group name (a non-empty string)`,
      )
  }
}

/** An item id: a non-empty string, or a finite number (as items' own `id` fields may be). */
function checkedId(id: unknown): string {
  if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  if (typeof id === 'string' && id !== '') return id
  throw new TypeError(
    `id: ${JSON.stringify(id) ?? String(id)} is not an item id (a non-empty string or a number)`,
  )
}

/** The snapshots of keys nobody subscribed to, once the client is closed. */
function closedSnapshots() {
  const ended = { status: 'error', error: closedError() } as const
  return {
    group: Object.freeze({ ...UNJOINED_GROUP, ...ended }) as GroupSnapshot<never>,
    item: Object.freeze({ ...UNJOINED_ITEM, ...ended }) as ItemSnapshot<never>,
  }
}

function closedError(): StreamsError {
  return new StreamsError('closed', 'The client is closed: create a new one to read streams again.')
}

/**
 * `run`, on the first call only; then it is let go: a stop function the app keeps after calling it
 * holds nothing (no subscription, no cache).
 */
function once(run: () => void): () => void {
  let pending: (() => void) | null = run
  return () => {
    const task = pending
    pending = null
    task?.()
  }
}

function keyOf(stream: string, group: string, id: string | null): string {
  return id === null ? `${stream}\u0000${group}` : `${stream}\u0000${group}\u0000${id}`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
