import type {
  ConnectionState,
  GroupSnapshot,
  ItemSnapshot,
  JsonValue,
  Readable,
  StreamClient,
  StreamEventMessage,
} from '@iii-streams/client'
import { createSubscriber } from 'svelte/reactivity'
import { connectionStatus, streamEvents, streamGroup, streamItem } from './stores.ts'

/**
 * A store seen through a reactive `current` property (Svelte 5 runes).
 *
 * @example
 * const room = useStreamGroup<Message>('chat', 'room-1')
 * const count = $derived(room.current.items.length)
 */
export interface Current<T> {
  readonly current: T
}

/**
 * Not `fromStore` from `svelte/store`: read outside an effect, that subscribes and unsubscribes at
 * once, which would join and (after the linger) leave. `get()` reads without joining.
 */
function toCurrent<T>(store: Readable<T>): Current<T> {
  const track = createSubscriber((update) => {
    let started = false
    // `subscribe` calls the listener at once: that first value is already what `get()` returns.
    const stop = store.subscribe(() => started && update())
    started = true
    return stop
  })
  return {
    get current() {
      track()
      return store.get()
    },
  }
}

/**
 * `streamGroup` for runes: `.current` is the group's snapshot, and reading it in the template or in
 * an effect holds the join while that lives. Svelte 5.7 or later.
 *
 * @example
 * <script>
 *   import { useStreamGroup } from '@iii-streams/svelte/runes'
 *   const messages = useStreamGroup('chat', 'room-1')
 * </script>
 *
 * {#each messages.current.items as message (message.id)}<p>{message.text}</p>{/each}
 */
export function useStreamGroup<TItem = JsonValue>(
  stream: string,
  group: string,
  client?: StreamClient,
): Current<GroupSnapshot<TItem>> {
  return toCurrent(streamGroup<TItem>(stream, group, client))
}

/**
 * `streamItem` for runes: `.current` is the item's snapshot.
 *
 * @example
 * <script>
 *   import { useStreamItem } from '@iii-streams/svelte/runes'
 *   const user = useStreamItem('presence', 'room-1', 'u1')
 * </script>
 *
 * {user.current.data?.name ?? '…'}
 */
export function useStreamItem<TItem = JsonValue>(
  stream: string,
  group: string,
  id: string,
  client?: StreamClient,
): Current<ItemSnapshot<TItem>> {
  return toCurrent(streamItem<TItem>(stream, group, id, client))
}

/**
 * `streamEvents` for runes: `.current` is the latest custom event while read in an effect, else null.
 *
 * @example
 * <script>
 *   import { useStreamEvents } from '@iii-streams/svelte/runes'
 *   const events = useStreamEvents('chat', 'room-1')
 *   $effect(() => {
 *     if (events.current?.type === 'ping') toast('ping!')
 *   })
 * </script>
 */
export function useStreamEvents<TData = unknown>(
  stream: string,
  group: string,
  client?: StreamClient,
): Current<StreamEventMessage<TData> | null> {
  return toCurrent(streamEvents<TData>(stream, group, client))
}

/**
 * `connectionStatus` for runes: `.current` is the connection state.
 *
 * @example
 * <script>
 *   import { useConnectionStatus } from '@iii-streams/svelte/runes'
 *   const connection = useConnectionStatus()
 * </script>
 *
 * {#if connection.current.status !== 'open'}<p class="banner">Reconnecting…</p>{/if}
 */
export function useConnectionStatus(client?: StreamClient): Current<ConnectionState> {
  return toCurrent(connectionStatus(client))
}
