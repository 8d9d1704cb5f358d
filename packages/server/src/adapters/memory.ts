import { randomUUID } from 'node:crypto'
import { type JsonValue, MISSING } from '@iii-streams/protocol'
import {
  type ChangeMessage,
  deliverToAll,
  type GroupRef,
  type Stored,
  type StreamAdapter,
  type StreamSummary,
  type WritePlan,
} from './adapter.ts'
import { ChangeHistory } from './history.ts'

/** One group held in this process: its items in insertion order, its `seq` and its history. */
export class GroupState {
  readonly items = new Map<string, JsonValue>()
  seq = 0
  readonly history = new ChangeHistory()
}

/**
 * The groups of every stream, in this process: the part the memory and file adapters share.
 * Writes are synchronous, hence atomic; listeners are called in `seq` order.
 */
export class InProcessStore {
  readonly #streams = new Map<string, Map<string, GroupState>>()
  readonly #listeners = new Set<(message: ChangeMessage) => void>()

  group(ref: GroupRef): GroupState | undefined {
    return this.#streams.get(ref.stream)?.get(ref.group)
  }

  /** The group, created (empty) when missing. */
  ensureGroup(ref: GroupRef): GroupState {
    let groups = this.#streams.get(ref.stream)
    if (groups === undefined) {
      groups = new Map()
      this.#streams.set(ref.stream, groups)
    }
    let group = groups.get(ref.group)
    if (group === undefined) {
      group = new GroupState()
      groups.set(ref.group, group)
    }
    return group
  }

  get(ref: GroupRef, id: string): { value: Stored; seq: number } {
    const group = this.group(ref)
    const items = group?.items
    return { value: items?.has(id) ? (items.get(id) as JsonValue) : MISSING, seq: group?.seq ?? 0 }
  }

  list(ref: GroupRef): { ids: string[]; values: JsonValue[]; seq: number } {
    const group = this.group(ref)
    if (group === undefined) return { ids: [], values: [], seq: 0 }
    return { ids: [...group.items.keys()], values: [...group.items.values()], seq: group.seq }
  }

  listGroups(stream: string): string[] {
    return [...(this.#streams.get(stream)?.keys() ?? [])]
  }

  listAll(): StreamSummary[] {
    return [...this.#streams.entries()]
      .map(([id, groups]) => ({ id, groups: [...groups.keys()].sort() }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /**
   * Plans and applies one write in a single synchronous step. Returns the change it made (with its
   * `seq`) so the caller can make it durable before `deliver`ing it.
   */
  apply<TResult>(
    ref: GroupRef,
    id: string,
    plan: (current: Stored) => WritePlan<TResult>,
  ): { result: TResult; change: ChangeMessage | undefined; group: GroupState } {
    const existing = this.group(ref)
    const current = existing?.items.has(id) ? (existing.items.get(id) as JsonValue) : MISSING
    const planned = plan(current)
    // The engine creates a group on any write (an update of a missing group included), and keeps an
    // emptied group listed until restart.
    const group = existing ?? this.ensureGroup(ref)
    if (planned.store === MISSING) group.items.delete(id)
    else if (planned.store !== undefined) group.items.set(id, planned.store)
    let change: ChangeMessage | undefined
    if (planned.change) {
      group.seq += 1
      change = planned.change(group.seq)
      group.history.record(group.seq, change)
    }
    return { result: planned.result, change, group }
  }

  deliver(message: ChangeMessage): void {
    deliverToAll(this.#listeners, message)
  }

  subscribe(listener: (message: ChangeMessage) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  streams(): ReadonlyMap<string, ReadonlyMap<string, GroupState>> {
    return this.#streams
  }
}

/**
 * Items in this process's memory. Fast, and gone at exit: each start takes a new epoch, so clients
 * resync rather than trust `seq` values of a past life.
 */
export function createMemoryAdapter(): StreamAdapter {
  const store = new InProcessStore()
  const epoch = randomUUID()
  return {
    epoch,
    get: async (ref, id) => store.get(ref, id),
    list: async (ref) => store.list(ref),
    listGroups: async (stream) => store.listGroups(stream),
    listAll: async () => store.listAll(),
    async write(ref, id, plan) {
      const { result, change } = store.apply(ref, id, plan)
      if (change) store.deliver(change)
      return result
    },
    async publish(message) {
      store.deliver(message)
    },
    async history(ref, afterSeq) {
      const group = store.group(ref)
      return group ? group.history.after(afterSeq, group.seq) : afterSeq === 0 ? [] : null
    },
    subscribe: (listener) => store.subscribe(listener),
    async close() {},
  }
}
