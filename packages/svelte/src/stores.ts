import {
  type ConnectionState,
  createStore,
  type GroupSnapshot,
  type ItemSnapshot,
  type JsonValue,
  type Readable,
  type StreamClient,
  type StreamEventMessage,
  type WritableStore,
} from '@iii-streams/client'
import { BROWSER } from 'esm-env'
import { getStreamClient } from './context.ts'

/**
 * In the browser, `store` itself. In server rendering, which subscribes to every `$store` and lets
 * go when the page is rendered, a store that shows what it holds (a loading snapshot) and joins
 * nothing: a join there would reach the stream server, fire its join triggers, and be left unread.
 */
function live<T>(store: Readable<T>): Readable<T> {
  if (BROWSER) return store
  return {
    get: store.get,
    subscribe(listener) {
      listener(store.get())
      return () => {}
    },
  }
}

/**
 * A store of one group's snapshot (`{ status, items, byId, error }`), for `$store` in components.
 * The first subscriber joins the group; the last one leaves it after the client's `lingerMs`.
 * The client comes from `setStreamClient`, unless given as the last argument.
 *
 * @example
 * <script>
 *   import { streamGroup } from '@iii-streams/svelte'
 *   const messages = streamGroup('chat', 'room-1')
 * </script>
 *
 * {#each $messages.items as message (message.id)}<p>{message.text}</p>{/each}
 */
export function streamGroup<TItem = JsonValue>(
  stream: string,
  group: string,
  client: StreamClient = getStreamClient(),
): Readable<GroupSnapshot<TItem>> {
  return live(client.group<TItem>(stream, group))
}

/**
 * A store of one item's snapshot (`{ status, data, error }`; `data` is null while loading and when
 * the item does not exist). Reads from its group's subscription when that is already held.
 *
 * @example
 * <script>
 *   import { streamItem } from '@iii-streams/svelte'
 *   const user = streamItem('presence', 'room-1', 'u1')
 * </script>
 *
 * {$user.data?.name ?? '…'}
 */
export function streamItem<TItem = JsonValue>(
  stream: string,
  group: string,
  id: string,
  client: StreamClient = getStreamClient(),
): Readable<ItemSnapshot<TItem>> {
  return live(client.item<TItem>(stream, group, id))
}

/**
 * A store of the latest custom event (`stream::send`) of a group, or null before the first. It
 * listens (`client.onEvent`, which holds the group's join) only while it has subscribers, and
 * forgets its event after the last one leaves. `$store` shows the latest event; `.subscribe()`
 * sees every event, even several in one tick.
 *
 * @example
 * <script>
 *   import { streamEvents } from '@iii-streams/svelte'
 *   const events = streamEvents('chat', 'room-1')
 * </script>
 *
 * {#if $events?.type === 'typing'}{$events.data.user} is typing…{/if}
 */
export function streamEvents<TData = unknown>(
  stream: string,
  group: string,
  client: StreamClient = getStreamClient(),
): Readable<StreamEventMessage<TData> | null> {
  if (!BROWSER) return live(createStore<StreamEventMessage<TData> | null>(null))
  let stop: (() => void) | undefined
  const latest: WritableStore<StreamEventMessage<TData> | null> =
    createStore<StreamEventMessage<TData> | null>(null, {
      onStart: () => {
        stop = client.onEvent<TData>(stream, group, (event) => latest.set(event))
      },
      onStop: () => {
        stop?.()
        stop = undefined
        // The next subscriber is called at once: it must not take an old event for a new one.
        latest.set(null)
      },
    })
  return { get: latest.get, subscribe: latest.subscribe }
}

/**
 * The client's connection store: `{ status: 'connecting' | 'open' | 'reconnecting' | 'closed',
 * extensions, attempt, error }`.
 *
 * @example
 * <script>
 *   import { connectionStatus } from '@iii-streams/svelte'
 *   const connection = connectionStatus()
 * </script>
 *
 * {#if $connection.status !== 'open'}<p class="banner">Reconnecting…</p>{/if}
 */
export function connectionStatus(
  client: StreamClient = getStreamClient(),
): Readable<ConnectionState> {
  return client.connection
}
