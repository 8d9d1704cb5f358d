import { applyUpdateOps, type JsonValue, MISSING, type UpdateOp } from '@iii-streams/protocol'
import { Immer } from 'immer'
import { freezeDeep, reconcile } from './reconcile.ts'

/** A deleted item's place, until the next compaction. */
const HOLE: unique symbol = Symbol('hole')

/** Compaction renumbers the places after the first hole: it waits for this share of holes. */
const COMPACT_AT = 1 / 4

/** Values queued by `set` at most; the next one applies them (see `set`). */
export const QUEUE_LIMIT = 1024

/**
 * The items of one group by id, in the server's order (insertion order; an overwrite keeps its
 * place, as the engine's store does). Items sit in an array in that order, each id's place in a
 * map, so a change costs O(1) whatever the group's size. The lists handed out for snapshots are
 * never changed afterwards: with no deleted places the items array itself is handed out and copied
 * (one `slice`, a memory copy) by the next write; with some, a copy without them. Deleted places
 * are compacted once they are a quarter of the array, so deletes cost O(1) amortized too. Full
 * values wait in a queue until the cache is next read (see `set`).
 */
export class GroupCache<TItem> {
  #positions = new Map<string, number>()
  #ids: string[] = []
  #items: (TItem | typeof HOLE)[] = []
  /** `#items` / `#ids` themselves were handed out: copy before the next write. */
  #itemsShared = false
  #idsShared = false
  /** The lists last handed out, until the next change. */
  #itemList: readonly TItem[] | null = null
  #idList: readonly string[] | null = null
  #holes = 0
  /** What `set` stored since the cache was last read, in arrival order: id, value, fresh, id… */
  #queue: unknown[] = []
  /** Per place, where in the queue its last value sits (scratch of `#applyQueued`). */
  #lastQueued = new Int32Array(0)

  get size(): number {
    this.#applyQueued()
    return this.#positions.size
  }

  get(id: string): TItem | undefined {
    this.#applyQueued()
    const position = this.#positions.get(id)
    return position === undefined ? undefined : (this.#items[position] as TItem)
  }

  has(id: string): boolean {
    this.#applyQueued()
    return this.#positions.has(id)
  }

  /**
   * Replaces everything with a sync's content; unchanged items keep their identity. `fresh`: the
   * values are held by nobody else, so they may be reconciled in place (see `reconcile`).
   */
  replace(ids: readonly string[], values: readonly TItem[], fresh = false): void {
    this.#applyQueued()
    const positions = new Map<string, number>()
    const order: string[] = []
    const items: TItem[] = []
    ids.forEach((id, index) => {
      const previous = this.get(id)
      const value = values[index] as TItem
      const kept = previous === undefined ? value : reconcile(previous, value, fresh)
      const position = positions.get(id)
      // A repeated id keeps its first place and its last value, as a map would.
      if (position !== undefined) items[position] = kept
      else {
        positions.set(id, items.length)
        order.push(id)
        items.push(kept)
      }
    })
    // Nothing changed (a resync, typically): keep the lists, so no new snapshot goes out.
    if (sameList(order, this.idList()) && sameList(items, this.list())) return
    this.#positions = positions
    this.#ids = order
    this.#items = items
    this.#itemsShared = false
    this.#idsShared = false
    this.#holes = 0
    this.#itemList = null
    this.#idList = null
  }

  /**
   * Stores a full value (`fresh` as in `replace`). The value waits in a queue that the next read
   * or other write of the cache applies, all of it in one pass: frames that arrive together are
   * parsed one after the other and then applied back to back, and in a large group the
   * processor overlaps the memory accesses of looking up and comparing many items (see the
   * README's Benchmark).
   */
  set(id: string, value: TItem, fresh = false): void {
    // Bounded: a flush that does not come (animation frames in a hidden tab) holds no more.
    if (this.#queue.push(id, value, fresh) >= 3 * QUEUE_LIMIT) this.#applyQueued()
  }

  /**
   * Applies what `set` queued, in order. Every other method calls it first. A place given several
   * values takes only the last (a full value replaces the one before): a hot item updated many
   * times in a burst is reconciled once.
   */
  #applyQueued(): void {
    const queue = this.#queue
    if (queue.length === 0) return
    this.#queue = []
    // Every lookup first: they do not depend on each other, so their cache misses overlap.
    const positions: (number | undefined)[] = []
    if (this.#lastQueued.length < this.#items.length) {
      this.#lastQueued = new Int32Array(2 * this.#items.length)
    }
    const lastQueued = this.#lastQueued
    for (let index = 0; index < queue.length; index += 3) {
      const position = this.#positions.get(queue[index] as string)
      positions.push(position)
      if (position !== undefined) lastQueued[position] = index
    }
    for (let index = 0; index < queue.length; index += 3) {
      const id = queue[index] as string
      const value = queue[index + 1] as TItem
      const known = positions[index / 3]
      if (known !== undefined && lastQueued[known] !== index) continue
      // An id new to the cache may have been added by an earlier value of the same batch.
      const position = known ?? this.#positions.get(id)
      if (position === undefined) {
        this.#positions.set(id, this.#items.length)
        this.#writableIds().push(id)
        this.#writableItems().push(value)
        this.#idList = null
        continue
      }
      const previous = this.#items[position] as TItem
      const kept = reconcile(previous, value, queue[index + 2] as boolean)
      if (kept !== previous) this.#writableItems()[position] = kept
    }
  }

  /** Stores `value` as it is for a cached item it deep-equals (the caller knows), for its identity. */
  adopt(id: string, value: TItem): void {
    this.#applyQueued()
    const position = this.#positions.get(id)
    if (position !== undefined && this.#items[position] !== value)
      this.#writableItems()[position] = value
  }

  delete(id: string): boolean {
    this.#applyQueued()
    const position = this.#positions.get(id)
    if (position === undefined) return false
    this.#positions.delete(id)
    this.#writableItems()[position] = HOLE
    this.#idList = null
    if (++this.#holes > COMPACT_AT * this.#items.length) this.#compact()
    return true
  }

  /**
   * Applies ops to the cached item with the engine's semantics (inside immer, so untouched parts
   * stay `===`). `false` when the item is not cached: the caller must resync.
   */
  patch(id: string, ops: readonly UpdateOp[]): boolean {
    this.#applyQueued()
    const position = this.#positions.get(id)
    if (position === undefined) return false
    const previous = this.#items[position] as TItem
    const next = applyOps(previous as JsonValue, ops) as TItem
    if (next !== previous) this.#writableItems()[position] = next
    return true
  }

  /** The ids in order; the same array until an item is added or removed. */
  idList(): readonly string[] {
    this.#applyQueued()
    if (this.#idList === null) this.#handOut()
    return this.#idList as readonly string[]
  }

  /** The items in order; the same array until something changes. */
  list(): readonly TItem[] {
    this.#applyQueued()
    if (this.#itemList === null) this.#handOut()
    return this.#itemList as readonly TItem[]
  }

  /** Sets the lists to hand out: the arrays themselves, or copies without the deleted places. */
  #handOut(): void {
    if (this.#holes === 0) {
      this.#itemList = this.#items as TItem[]
      this.#idList = this.#ids
      this.#itemsShared = this.#idsShared = true
    } else {
      const [items, ids] = this.#withoutHoles()
      this.#itemList ??= items
      this.#idList ??= ids
    }
  }

  #withoutHoles(): [TItem[], string[]] {
    const size = this.#positions.size
    const items = new Array<TItem>(size)
    const ids = new Array<string>(size)
    const all = this.#items
    let kept = 0
    for (let index = 0; index < all.length; index++) {
      const item = all[index] as TItem | typeof HOLE
      if (item === HOLE) continue
      items[kept] = item
      ids[kept++] = this.#ids[index] as string
    }
    return [items, ids]
  }

  /** Every write to the items goes through here: a handed-out array is copied first. */
  #writableItems(): (TItem | typeof HOLE)[] {
    if (this.#itemsShared) {
      this.#items = this.#items.slice()
      this.#itemsShared = false
    }
    this.#itemList = null
    return this.#items
  }

  #writableIds(): string[] {
    if (this.#idsShared) {
      this.#ids = this.#ids.slice()
      this.#idsShared = false
    }
    return this.#ids
  }

  /** Removes the deleted places and renumbers the rest. */
  #compact(): void {
    ;[this.#items, this.#ids] = this.#withoutHoles()
    this.#positions = new Map(this.#ids.map((id, index) => [id, index]))
    this.#itemsShared = this.#idsShared = false
    this.#holes = 0
  }
}

/** Two lists with the same elements (`===`), in the same order. */
export function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

/**
 * The client's own immer, which freezes nothing itself: its automatic freeze recurses as deep as
 * the value goes and would throw on an item nested deeper than the call stack (`freezeDeep` stops
 * there instead). Its own, so the app's immer settings stay the app's.
 */
const immer = new Immer({ autoFreeze: false })

/** `applyUpdateOps` through immer: a structurally shared, frozen result. */
export function applyOps(value: JsonValue | typeof MISSING, ops: readonly UpdateOp[]): JsonValue {
  if (value === MISSING || typeof value !== 'object' || value === null) {
    return freezeDeep(applyUpdateOps(value, ops).value)
  }
  const draft = immer.createDraft(value)
  const result = applyUpdateOps(draft as JsonValue, ops).value
  const finished = immer.finishDraft(draft) as JsonValue
  // An op that replaced the root (`set ''`, `remove ''`) leaves the draft behind: its result is
  // plain data built by the op engine.
  return freezeDeep(result === draft ? finished : result)
}
