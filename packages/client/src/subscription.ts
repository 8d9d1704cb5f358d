import type { JsonValue, StreamFrame } from '@iii-streams/protocol'
import type { StreamsError } from './errors.ts'
import { GroupCache, sameList } from './group-cache.ts'
import { createStore, type WritableStore } from './store.ts'

/** Where a subscription is in its life. */
export type SubscriptionStatus = 'loading' | 'ready' | 'unauthorized' | 'error'

/**
 * A group as the app sees it: immutable, structurally shared between snapshots.
 *
 * @example
 * const { status, items, byId, error } = messages.get()
 */
export interface GroupSnapshot<TItem> {
  readonly status: SubscriptionStatus
  readonly items: readonly TItem[]
  readonly byId: ReadonlyMap<string, TItem>
  readonly error: StreamsError | null
}

/**
 * One item as the app sees it (`data` is null while loading or when the item does not exist).
 *
 * @example
 * const { status, data } = client.item<User>('presence', 'room-1', 'u1').get()
 */
export interface ItemSnapshot<TItem> {
  readonly status: SubscriptionStatus
  readonly data: TItem | null
  readonly error: StreamsError | null
}

/** A custom event of `stream::send`. */
export interface StreamEventMessage<TData = unknown> {
  readonly type: string
  readonly data: TData
  /** The item id the event was sent to, or null. */
  readonly id: string | null
}

/** What a subscription asks of its client. */
export interface SubscriptionHost {
  /** Sends the join for this subscription (with `since` when it can resume). */
  join(subscription: Subscription): void
  /** False while the subscription must stay joined, unused, for a sibling's sake. */
  mayLeave(subscription: Subscription): boolean
  leave(subscription: Subscription): void
  /** Publishes the subscription's snapshot soon (batched with others). */
  schedule(subscription: Subscription): void
  /** Runs `task` after `ms` (injectable timers); returns a cancel function. */
  later(ms: number, task: () => void): () => void
  /** The optimistic value of an item, or `undefined` when no mutation is pending on it. */
  overlay(
    subscription: Subscription,
    itemId: string,
    base: JsonValue | undefined,
  ): JsonValue | undefined
  /** True while some optimistic change is pending anywhere (else overlays are skipped). */
  readonly hasPending: boolean
  /** Items of this group that exist only as pending optimistic changes (not cached yet). */
  pendingNewItems(subscription: Subscription): [string, JsonValue][]
  readonly lingerMs: number
  readonly freeze: <T>(value: T) => T
}

/** The snapshots of a key nobody has subscribed to yet (and a new subscription's first). */
export const UNJOINED_GROUP: GroupSnapshot<never> = Object.freeze({
  status: 'loading',
  items: Object.freeze([]),
  byId: new Map<string, never>(),
  error: null,
})
export const UNJOINED_ITEM: ItemSnapshot<never> = Object.freeze({
  status: 'loading',
  data: null,
  error: null,
})

let nextSubscriptionId = 1

/**
 * One join on the socket (a group, or an item): its listeners (ref-counted, with a linger after
 * the last), its cache, and what it knows of the server's timeline (`seq`, `epoch`).
 */
export class Subscription {
  readonly subscriptionId = `s${nextSubscriptionId++}`
  readonly cache = new GroupCache<JsonValue>()
  status: SubscriptionStatus = 'loading'
  error: StreamsError | null = null
  /** True once a sync (or a resume) has given this subscription its state on this connection. */
  synced = false
  /** Refused by the server's `stream:join` on this connection: it sends this one nothing. */
  refused = false
  /** True from a join until its sync (or its failure): changes before the sync are buffered. */
  awaitingSync = false
  /** The client's step at which the last join was sent (see `Client#steps`). */
  joinedAt = 0
  /** The last change applied, on an extended connection. */
  seq: number | null = null
  epoch: string | null = null
  /** Where the last join asked to resume from; null when it asked for a whole sync. */
  since: { readonly epoch: string; readonly seq: number } | null = null
  /** Changes that came before the sync, in arrival order. */
  buffer: StreamFrame[] = []
  readonly events = new Set<(event: StreamEventMessage) => void>()
  readonly store: WritableStore<GroupSnapshot<JsonValue> | ItemSnapshot<JsonValue>>
  #refs = 0
  #cancelLinger: (() => void) | null = null
  #joined = false
  /** The snapshot shown holds a list that is not the cache's (optimistic values). */
  #overlaid = false

  constructor(
    readonly stream: string,
    readonly group: string,
    /** null for a group subscription. */
    readonly id: string | null,
    private readonly host: SubscriptionHost,
  ) {
    this.store = createStore<GroupSnapshot<JsonValue> | ItemSnapshot<JsonValue>>(
      id === null ? UNJOINED_GROUP : UNJOINED_ITEM,
    )
  }

  get isGroup(): boolean {
    return this.id === null
  }

  get joined(): boolean {
    return this.#joined
  }

  /** One more user (a listener, an item view, an event handler): joins on the first. */
  retain(): void {
    this.#refs++
    this.#cancelLinger?.()
    this.#cancelLinger = null
    if (!this.#joined) {
      this.#joined = true
      this.host.join(this)
    }
  }

  /** One user fewer: after the last, leaves once the linger has passed with no new user. */
  release(): void {
    this.#refs--
    if (this.#refs > 0 || !this.#joined) return
    this.#cancelLinger = this.host.later(this.host.lingerMs, () => {
      this.#cancelLinger = null
      this.leaveIfUnused()
    })
  }

  /** Used, or lingering after its last user. */
  get inUse(): boolean {
    return this.#refs > 0 || this.#cancelLinger !== null
  }

  /** Leaves when nobody uses it and the host lets it go now (see `SubscriptionHost.mayLeave`). */
  leaveIfUnused(): void {
    if (this.inUse || !this.#joined || !this.host.mayLeave(this)) return
    this.#joined = false
    this.host.leave(this)
  }

  /** The socket is gone: everything must come again from a join. */
  disconnected(): void {
    this.synced = false
    this.awaitingSync = false
    this.buffer = []
  }

  /** Ends the subscription's state on this connection: it applies nothing until its next sync. */
  fail(error: StreamsError, status: SubscriptionStatus = 'error'): void {
    this.synced = false
    this.awaitingSync = false
    this.buffer = []
    this.status = status
    this.error = error
    this.host.schedule(this)
  }

  /** Builds and publishes the snapshot (called by the host's batch). */
  publish(): void {
    this.store.set(this.#snapshot())
  }

  #snapshot(): GroupSnapshot<JsonValue> | ItemSnapshot<JsonValue> {
    const { status, error } = this
    if (this.id !== null) {
      const base = this.cache.get(this.id)
      const data = this.host.overlay(this, this.id, base) ?? base ?? null
      const previous = this.store?.get() as ItemSnapshot<JsonValue> | undefined
      if (
        previous &&
        previous.status === status &&
        previous.error === error &&
        previous.data === data
      ) {
        return previous
      }
      return this.host.freeze({ status, data, error })
    }
    let items = this.cache.list()
    let ids = this.cache.idList()
    // The cache hands out a new list exactly when its content changed.
    let fromCache = true
    if (this.host.hasPending) {
      let overlaid = false
      const withOverlay = items.map((item, index) => {
        const value = this.host.overlay(this, ids[index] as string, item)
        if (value === undefined) return item
        overlaid = true
        return value
      })
      // An optimistic create shows at once, after the items the server sent.
      const created = this.host.pendingNewItems(this)
      if (overlaid || created.length > 0) {
        items = [...withOverlay, ...created.map(([, value]) => value)]
        ids = [...ids, ...created.map(([id]) => id)]
        fromCache = false
      }
    }
    const previous = this.store?.get() as GroupSnapshot<JsonValue> | undefined
    // A list with optimistic values is not the cache's: compare it item by item, and the first
    // cache list after one (the changes landed, as the same objects).
    const compare = !fromCache || this.#overlaid
    if (
      previous &&
      previous.status === status &&
      previous.error === error &&
      (previous.items === items || (compare && sameList(previous.items, items)))
    ) {
      // (Still showing a list that is not the cache's.)
      this.#overlaid = previous.items !== items
      return previous
    }
    this.#overlaid = !fromCache
    // The cache never changes a list it handed out (it copies it first), so the snapshot can
    // share it; in development it is deep-frozen, items included.
    return groupSnapshot(status, this.host.freeze(items), ids, error)
  }
}

/** Where a group snapshot keeps its ids, for `byId` on first read. */
const INDEX = Symbol('iii-streams.index')

interface Index {
  readonly ids: readonly string[]
  byId?: ReadonlyMap<string, JsonValue>
}

type IndexedSnapshot = GroupSnapshot<JsonValue> & { readonly [INDEX]: Index }

/**
 * `byId`, built on first read (most views use `items`). One getter shared by every snapshot: with
 * a getter closure per snapshot (holding the list and the ids), young collections in a steady
 * stream of bursts took about 3x longer (`--trace-gc-nvp`, 10,000 items) and each frame about
 * 20 % more.
 */
function readById(this: IndexedSnapshot): ReadonlyMap<string, JsonValue> {
  const index = this[INDEX]
  index.byId ??= new Map(index.ids.map((id, position) => [id, this.items[position] as JsonValue]))
  return index.byId
}

const BY_ID: PropertyDescriptor = { get: readById, enumerable: true }

function groupSnapshot(
  status: SubscriptionStatus,
  items: readonly JsonValue[],
  ids: readonly string[],
  error: StreamsError | null,
): GroupSnapshot<JsonValue> {
  const index: Index = { ids }
  const snapshot = Object.defineProperties(
    { status, items, error },
    { [INDEX]: { value: index }, byId: BY_ID },
  )
  return Object.freeze(snapshot) as GroupSnapshot<JsonValue>
}
