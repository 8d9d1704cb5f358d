import ReconnectingWebSocket from 'reconnecting-websocket'
import { BACKOFF, backoffDelay } from './backoff.ts'

/** What the client needs of a socket: the one module that knows `reconnecting-websocket`. */
export interface Transport {
  /** Sends when open; false (nothing queued) otherwise: the client re-sends what matters on open. */
  send(text: string): boolean
  /** Drops the current socket, if any, and connects again now (attempt count reset). */
  reconnect(): void
  close(): void
  /** Reconnect attempts since the last stable connection. */
  readonly attempt: number
}

/** What a transport reports. */
export interface TransportEvents {
  open(): void
  message(text: string): void
  close(code: number, reason: string): void
}

/** A WebSocket constructor (the browser's, or `ws` in Node). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket

/** Makes a transport; tests inject their own. */
export type CreateTransport = (
  url: () => Promise<string>,
  events: TransportEvents,
  WebSocketImpl: WebSocketConstructor | undefined,
) => Transport

/**
 * A `reconnecting-websocket` that never queues frames (`maxEnqueuedMessages: 0`), asks for the URL
 * on every attempt (so auth runs again), and waits a jittered, capped, exponential delay per
 * attempt: its own delay is fixed once per page load, so it is fed ours through a getter.
 */
export const createReconnectingTransport: CreateTransport = (url, events, WebSocketImpl) => {
  // Read by the constructor itself (first attempt, no delay) before `socket` is assigned.
  let attempt = () => 0
  const options = {
    ...(WebSocketImpl ? { WebSocket: WebSocketImpl } : {}),
    maxEnqueuedMessages: 0,
    connectionTimeout: 4000,
    minUptime: BACKOFF.stableMs,
    maxReconnectionDelay: BACKOFF.maxMs,
    reconnectionDelayGrowFactor: 1,
    get minReconnectionDelay() {
      return backoffDelay(attempt())
    },
  }
  const socket: ReconnectingWebSocket = new ReconnectingWebSocket(url, undefined, options)
  attempt = () => socket.retryCount
  socket.onopen = () => events.open()
  socket.onmessage = (event) => {
    if (typeof event.data === 'string') events.message(event.data)
    else events.message(new TextDecoder().decode(event.data as ArrayBuffer))
  }
  socket.onclose = (event) => events.close(event.code, event.reason)
  return {
    send(text) {
      if (socket.readyState !== socket.OPEN) return false
      socket.send(text)
      return true
    },
    reconnect: () => socket.reconnect(),
    close: () => socket.close(1000, 'client closed'),
    get attempt() {
      return socket.retryCount
    },
  }
}
