import type { GroupSnapshot, ItemSnapshot, Readable } from '@iii-streams/client'
import { useMemo, useRef } from 'react'
import { useStreamClient } from './provider.tsx'
import { type SelectOptions, useReadable } from './use-readable.ts'

/** Options of `useStream`: a selector, and what server rendering shows. */
export interface UseStreamOptions<TSnapshot, TSelected>
  extends SelectOptions<TSnapshot, TSelected> {
  /**
   * Data shown, as a `ready` snapshot, instead of a `loading` one: in server rendering, hydration,
   * and until the first sync arrives.
   */
  readonly initialData?: TSnapshot extends GroupSnapshot<infer TItem>
    ? readonly TItem[]
    : TSnapshot extends ItemSnapshot<infer TItem>
      ? TItem | null
      : never
}

/**
 * A group of a stream, or one item (with an item id), kept live.
 *
 * @example
 * const { status, items } = useStream<Message>('chat', 'room-1')
 * const count = useStream<Message, number>('chat', 'room-1', { select: (s) => s.items.length })
 * const { data: user } = useStream<User>('presence', 'room-1', 'u1')
 */
export function useStream<TItem, TSelected = GroupSnapshot<TItem>>(
  stream: string,
  group: string,
  options?: UseStreamOptions<GroupSnapshot<TItem>, TSelected>,
): TSelected
export function useStream<TItem, TSelected = ItemSnapshot<TItem>>(
  stream: string,
  group: string,
  itemId: string,
  options?: UseStreamOptions<ItemSnapshot<TItem>, TSelected>,
): TSelected
export function useStream(
  stream: string,
  group: string,
  idOrOptions?: string | UseStreamOptions<never, unknown>,
  itemOptions?: UseStreamOptions<never, unknown>,
): unknown {
  const client = useStreamClient()
  const itemId = typeof idOrOptions === 'string' ? idOrOptions : null
  const options = (typeof idOrOptions === 'string' ? itemOptions : idOrOptions) ?? {}
  const store = useMemo(
    () => (itemId === null ? client.group(stream, group) : client.item(stream, group, itemId)),
    [client, stream, group, itemId],
  )
  const initial = options.initialData as unknown
  const placeholder = useMemo(
    () => (initial === undefined ? undefined : readySnapshot(itemId, initial)),
    [itemId, initial],
  )
  // Read through a ref, so that a new initialData (an inline array) re-subscribes nothing.
  const latestPlaceholder = useRef(placeholder)
  latestPlaceholder.current = placeholder
  const shown = useMemo<Readable<unknown>>(
    () => ({
      subscribe: (listener) => store.subscribe(listener),
      get: () => {
        const snapshot = store.get()
        return snapshot.status === 'loading' ? (latestPlaceholder.current ?? snapshot) : snapshot
      },
    }),
    [store],
  )
  const serverSnapshot = placeholder ?? (itemId === null ? LOADING_GROUP : LOADING_ITEM)
  return useReadable(shown as never, serverSnapshot as never, options as never)
}

const LOADING_GROUP = { status: 'loading', items: [], byId: new Map(), error: null }
const LOADING_ITEM = { status: 'loading', data: null, error: null }

/**
 * The snapshot `initialData` stands for: ready, with `byId` keyed by the items' `id` fields (the
 * ids a sync without ids gives them).
 */
function readySnapshot(itemId: string | null, initial: unknown) {
  if (itemId !== null) return { status: 'ready', data: initial ?? null, error: null }
  const items = initial as readonly unknown[]
  const byId = new Map<string, unknown>()
  for (const item of items) {
    const id = (item as { id?: unknown } | null)?.id
    if (typeof id === 'string' || typeof id === 'number') byId.set(String(id), item)
  }
  return { status: 'ready', items, byId, error: null }
}
