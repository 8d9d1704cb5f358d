import { applyUpdateOps, type JsonValue, MISSING, type UpdateOp } from '@iii-streams/protocol'
import { createDraft, finishDraft, freeze } from 'immer'
import { reconcile } from './reconcile.ts'

/** A deleted item's place in the list until the next compaction. */
const HOLE: unique symbol = Symbol('hole')

/**
 * The items of one group by id, in the server's order (insertion order; an overwrite keeps its
 * place, as the engine's store does). A change costs O(1) whatever the group's size, and so does
 * handing out the lists: they are arrays kept in order (an id's position in a map), copied only
 * when a change follows a hand-out (one `slice`, a memory copy) and compacted only after deletes.
 */
export class GroupCache<TItem> {
  #positions = new Map<string, number>()
  #ids: string[] = []
  #items: (TItem | typeof HOLE)[] = []
  /** `#ids` / `#items` were handed out: copy before the next write. */
  #idsShared = false
  #itemsShared = false
  /** Deleted places in `#items` and `#ids`, removed by the next hand-out. */
  #holes = 0

  get size(): number {
    return this.#positions.size
  }

  get(id: string): TItem | undefined {
    const position = this.#positions.get(id)
    return position === undefined ? undefined : (this.#items[position] as TItem)
  }

  has(id: string): boolean {
    return this.#positions.has(id)
  }

  /**
   * Replaces everything with a sync's content; unchanged items keep their identity. `fresh`: the
   * values are held by nobody else, so they may be reconciled in place (see `reconcile`).
   */
  replace(ids: readonly string[], values: readonly TItem[], fresh = false): void {
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
    this.#compact()
    // Nothing changed (a resync, typically): keep the lists, so no new snapshot goes out.
    if (sameList(order, this.#ids) && sameList(items, this.#items)) return
    this.#positions = positions
    this.#ids = order
    this.#items = items
    this.#idsShared = false
    this.#itemsShared = false
  }

  /** Stores a full value (`fresh` as in `replace`); returns false when nothing changed. */
  set(id: string, value: TItem, fresh = false): boolean {
    const position = this.#positions.get(id)
    if (position === undefined) {
      this.#positions.set(id, this.#items.length)
      this.#writableIds().push(id)
      this.#writableItems().push(value)
      return true
    }
    const previous = this.#items[position] as TItem
    const kept = reconcile(previous, value, fresh)
    if (kept === previous) return false
    this.#writableItems()[position] = kept
    return true
  }

  delete(id: string): boolean {
    const position = this.#positions.get(id)
    if (position === undefined) return false
    this.#positions.delete(id)
    this.#writableItems()[position] = HOLE
    this.#holes++
    return true
  }

  /**
   * Applies ops to the cached item with the engine's semantics (inside immer, so untouched parts
   * stay `===`). `false` when the item is not cached: the caller must resync.
   */
  patch(id: string, ops: readonly UpdateOp[]): boolean {
    const position = this.#positions.get(id)
    if (position === undefined) return false
    const previous = this.#items[position] as TItem
    const next = applyOps(previous as JsonValue, ops) as TItem
    if (next !== previous) {
      this.#writableItems()[position] = next
    }
    return true
  }

  /** The ids in order; the same array until an item is added or removed. */
  idList(): readonly string[] {
    this.#compact()
    this.#idsShared = true
    return this.#ids
  }

  /** The items in order; the same array until something changes. */
  list(): readonly TItem[] {
    this.#compact()
    this.#itemsShared = true
    return this.#items as TItem[]
  }

  #writableItems(): (TItem | typeof HOLE)[] {
    if (this.#itemsShared) {
      this.#items = this.#items.slice()
      this.#itemsShared = false
    }
    return this.#items
  }

  #writableIds(): string[] {
    if (this.#idsShared) {
      this.#ids = this.#ids.slice()
      this.#idsShared = false
    }
    return this.#ids
  }

  /** Removes deleted places, renumbering the positions after them (O(n), once per hand-out). */
  #compact(): void {
    if (this.#holes === 0) return
    const items = this.#items
    const ids = this.#ids
    const keptItems: TItem[] = []
    const keptIds: string[] = []
    for (let index = 0; index < items.length; index++) {
      const item = items[index] as TItem | typeof HOLE
      if (item === HOLE) continue
      const id = ids[index] as string
      if (keptItems.length !== index) this.#positions.set(id, keptItems.length)
      keptIds.push(id)
      keptItems.push(item)
    }
    this.#items = keptItems
    this.#ids = keptIds
    this.#itemsShared = false
    this.#idsShared = false
    this.#holes = 0
  }
}

/** Two lists with the same elements (`===`), in the same order. */
export function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

/** `applyUpdateOps` through immer: a structurally shared, frozen result. */
export function applyOps(value: JsonValue | typeof MISSING, ops: readonly UpdateOp[]): JsonValue {
  if (value === MISSING || typeof value !== 'object' || value === null) {
    return freeze(applyUpdateOps(value, ops).value, true)
  }
  const draft = createDraft(value)
  const result = applyUpdateOps(draft as JsonValue, ops).value
  const finished = finishDraft(draft) as JsonValue
  // An op that replaced the root (`set ''`, `remove ''`) leaves the draft behind: its result is
  // plain data built by the op engine.
  return result === draft ? finished : freeze(result, true)
}
