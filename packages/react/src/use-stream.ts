import type { GroupSnapshot, ItemSnapshot } from '@iii-streams/client'
import { useMemo } from 'react'
import { useStreamClient } from './provider.tsx'
import { type SelectOptions, useReadable } from './use-readable.ts'

/** Options of `useStream`: a selector, and what server rendering shows. */
export interface UseStreamOptions<TSnapshot, TSelected>
  extends SelectOptions<TSnapshot, TSelected> {
  /** Data for server rendering (and hydration) instead of an empty `loading` snapshot. */
  readonly initialData?: TSnapshot extends GroupSnapshot<infer TItem>
    ? readonly TItem[]
    : TSnapshot extends ItemSnapshot<infer TItem>
      ? TItem | null
      : never
}

const EMPTY: readonly never[] = Object.freeze([])

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
  const serverSnapshot = useMemo(() => {
    const ready = initial !== undefined
    const status = ready ? 'ready' : 'loading'
    if (itemId !== null) return { status, data: initial ?? null, error: null }
    const items = (initial as readonly unknown[] | undefined) ?? EMPTY
    return { status, items, byId: new Map(), error: null }
  }, [itemId, initial])
  return useReadable(store as never, serverSnapshot as never, options as never)
}
