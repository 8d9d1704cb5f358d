import type { ConnectionState, Readable } from '@iii-streams/client'
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
  let since: number | null = null
  let wasOpen = false
  const listeners = new Set<(value: number | null) => void>()
  // Subscribed for the page's life, like the client itself: the moment the socket drops is
  // recorded even while no component happens to be listening.
  connection.subscribe(({ status }) => {
    let next = since
    if (status === 'open') {
      wasOpen = true
      next = null
    } else if (wasOpen && since === null) {
      next = Date.now()
    }
    if (next === since) return
    since = next
    for (const listener of [...listeners]) listener(since)
  })
  return {
    get: () => since,
    subscribe(listener) {
      listeners.add(listener)
      listener(since)
      return () => listeners.delete(listener)
    },
  }
}

const staleSince = createStaleSince(client.connection)
const subscribe = (onChange: () => void) => staleSince.subscribe(onChange)
const getServerSnapshot = () => null

/** The app-wide "stale since" moment of `createStaleSince`, read in React. */
export function useStaleSince(): number | null {
  return useSyncExternalStore(subscribe, staleSince.get, getServerSnapshot)
}
