import { applyUpdateOps, type JsonValue, MISSING, type UpdateOp } from '@iii-streams/protocol'
import { createDraft, finishDraft, freeze } from 'immer'
import { reconcile } from './reconcile.ts'

/**
 * The items of one group by id, in the server's order (insertion order; an overwrite keeps its
 * place, as the engine's store does). Every change costs O(1) whatever the group's size; the
 * `items` array of a snapshot is built once per published snapshot.
 */
export class GroupCache<TItem> {
  #items = new Map<string, TItem>()
  #list: readonly TItem[] | null = null
  #ids: readonly string[] | null = null

  get size(): number {
    return this.#items.size
  }

  get(id: string): TItem | undefined {
    return this.#items.get(id)
  }

  has(id: string): boolean {
    return this.#items.has(id)
  }

  /**
   * Replaces everything with a sync's content; unchanged items keep their identity. `fresh`: the
   * values are held by nobody else, so they may be reconciled in place (see `reconcile`).
   */
  replace(ids: readonly string[], values: readonly TItem[], fresh = false): void {
    const next = new Map<string, TItem>()
    ids.forEach((id, index) => {
      const previous = this.#items.get(id)
      const value = values[index] as TItem
      next.set(id, previous === undefined ? value : reconcile(previous, value, fresh))
    })
    this.#items = next
    this.#list = null
    this.#ids = null
  }

  /** Stores a full value (`fresh` as in `replace`); returns false when nothing changed. */
  set(id: string, value: TItem, fresh = false): boolean {
    const previous = this.#items.get(id)
    const kept = previous === undefined ? value : reconcile(previous, value, fresh)
    // Stored values are JSON (null at most, never undefined): undefined means not cached.
    const isNew = previous === undefined
    if (kept === previous && !isNew) return false
    if (isNew) this.#ids = null
    this.#items.set(id, kept)
    this.#list = null
    return true
  }

  delete(id: string): boolean {
    if (!this.#items.delete(id)) return false
    this.#list = null
    this.#ids = null
    return true
  }

  /**
   * Applies ops to the cached item with the engine's semantics (inside immer, so untouched parts
   * stay `===`). `false` when the item is not cached: the caller must resync.
   */
  patch(id: string, ops: readonly UpdateOp[]): boolean {
    if (!this.#items.has(id)) return false
    const previous = this.#items.get(id) as TItem
    const next = applyOps(previous as JsonValue, ops) as TItem
    if (next !== previous) {
      this.#items.set(id, next)
      this.#list = null
    }
    return true
  }

  /** The ids in order; the same array until an item is added or removed. */
  idList(): readonly string[] {
    this.#ids ??= [...this.#items.keys()]
    return this.#ids
  }

  /** The items in order; the same array until something changes. */
  list(): readonly TItem[] {
    this.#list ??= [...this.#items.values()]
    return this.#list
  }
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
