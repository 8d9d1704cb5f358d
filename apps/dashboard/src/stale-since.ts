import { type ConnectionState, createStore, type Readable } from '@iii-streams/client'
import { useSyncExternalStore } from 'react'
import { client } from './client.ts'

/**
 * When the connection last left `open` (epoch ms), or null while it is open. Before the first
 * `open` it is null too: there is no data yet that could be stale.
 *
 * @example
 * const staleSince = createStaleSince(client.connection)
 * staleSince.subscribe((since) => console.log(since === null ? 'live' : `stale since ${since}`))
 */
export function createStaleSince(connection: Readable<ConnectionState>): Readable<number | null> {
  const since = createStore<number | null>(null)
  let wasOpen = false
  // Subscribed for the page's life, like the client itself: the moment the socket drops is
  // recorded even while no component happens to be listening.
  connection.subscribe(({ status }) => {
    if (status === 'open') {
      wasOpen = true
      since.set(null)
    } else if (wasOpen && since.get() === null) {
      since.set(Date.now())
    }
  })
  return { get: since.get, subscribe: since.subscribe }
}

const staleSince = createStaleSince(client.connection)
const subscribe = (onChange: () => void) => staleSince.subscribe(onChange)
const getServerSnapshot = () => null

/** The app-wide "stale since" moment of `createStaleSince`, read in React. */
export function useStaleSince(): number | null {
  return useSyncExternalStore(subscribe, staleSince.get, getServerSnapshot)
}
