import ReconnectingWebSocket from 'reconnecting-websocket'
import { BACKOFF, backoffDelay } from './backoff.ts'

/** What the client needs of a socket: the one module that knows `reconnecting-websocket`. */
export interface Transport {
  /** Opens the first socket: a transport starts closed, so a client nobody uses opens none. */
  start(): void
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
  /** A frame that is not text and not UTF-8 either. */
  unreadable(why: string): void
  close(code: number, reason: string): void
}

/**
 * A WebSocket constructor: the browser's, or `ws` in Node, whose sockets are not DOM WebSockets (so
 * only what every WebSocket has is asked for here).
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** The constructor as reconnecting-websocket and the transport use it. */
type DomWebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket

/** Makes a transport; tests inject their own. */
export type CreateTransport = (
  url: () => Promise<string>,
  events: TransportEvents,
  WebSocketImpl: WebSocketConstructor | undefined,
  options?: { connectTimeoutMs?: number },
) => Transport

/** How long an attempt may take to open by default: the server's upgrade and its auth included. */
export const CONNECT_TIMEOUT_MS = 10_000

/**
 * A `reconnecting-websocket` that never queues frames (`maxEnqueuedMessages: 0`) and asks for the
 * URL on every attempt (so auth runs again). The delay before an attempt is ours, not its own (which
 * is fixed once per page load and cannot be cut short): it waits a jittered, capped, exponential
 * delay inside the URL callback, and `reconnect()` during that wait ends it at once (the browser is
 * back online), as `close()` does (no timer left behind).
 */
export const createReconnectingTransport: CreateTransport = (
  url,
  events,
  WebSocketImpl,
  { connectTimeoutMs = CONNECT_TIMEOUT_MS } = {},
) => {
  let endWait: (() => void) | null = null
  let closed = false
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => endWait?.(), ms)
      endWait = () => {
        endWait = null
        clearTimeout(timer)
        resolve()
      }
    })
  // Read when the library asks for a URL: `socket` is assigned by then (the first attempt waits
  // for a resolved promise).
  const nextUrl = async () => {
    const attempt = socket.retryCount
    // (Asked for after `close()` when it came from inside a close event: nothing to wait for.)
    if (attempt > 0 && !closed) await wait(backoffDelay(attempt))
    return url()
  }
  // The newest socket, and why it failed, if it did: reconnecting-websocket reports a failed socket
  // as closed normally (1000), whatever the cause.
  let current: WebSocket | null = null
  let failure: string | null = null
  const options = {
    WebSocket: watched(WebSocketImpl ?? globalThis.WebSocket, (created) => {
      current = created
      failure = null
      // (Also keeps a Node process alive: see `watched`.)
      created.addEventListener('error', (event) => {
        if (current === created) failure = (event as ErrorEvent).message || 'the connection failed'
      })
    }),
    maxEnqueuedMessages: 0,
    startClosed: true,
    connectionTimeout: connectTimeoutMs,
    minUptime: BACKOFF.stableMs,
    minReconnectionDelay: 0,
    maxReconnectionDelay: 0,
  }
  const socket: ReconnectingWebSocket = new ReconnectingWebSocket(nextUrl, undefined, options)
  socket.onopen = () => events.open()
  // A binary frame is read as UTF-8 text, as the engine reads its clients' binary frames.
  socket.binaryType = 'arraybuffer'
  socket.onmessage = (event) => {
    if (typeof event.data === 'string') return events.message(event.data)
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(event.data as ArrayBuffer)
    } catch {
      return events.unreadable('a binary frame that is not UTF-8')
    }
    events.message(text)
  }
  socket.onclose = (event) => {
    if (failure === null) events.close(event.code, event.reason)
    // 1006: closed without a close frame, as a browser reports a failed socket.
    else events.close(1006, failure)
    failure = null
  }
  return {
    start() {
      if (!closed) socket.reconnect()
    },
    send(text) {
      if (socket.readyState !== socket.OPEN) return false
      socket.send(text)
      return true
    },
    reconnect() {
      // Resets the library's attempt count (it starts nothing while a wait is on), then ends the wait.
      socket.reconnect()
      endWait?.()
    },
    close() {
      closed = true
      socket.close(1000, 'client closed')
      endWait?.()
      if (current) letGo(current)
    },
    get attempt() {
      return socket.retryCount
    },
  }
}

/**
 * The WebSocket class, reporting each socket it makes. The `error` listener the transport adds
 * also keeps a Node process alive: reconnecting-websocket removes its own listeners before it
 * closes a socket that timed out while connecting, and `ws` then emits `error` on an emitter with
 * no listener, which ends the process. Browsers only log it.
 */
function watched(
  Base: WebSocketConstructor,
  onCreate: (socket: WebSocket) => void,
): DomWebSocketConstructor {
  // (Whatever the app passed: the WebSocket API in practice; checked by the client to be a function.)
  const Socket = Base as unknown as DomWebSocketConstructor
  if (typeof Socket !== 'function') return Socket
  return class extends Socket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols)
      onCreate(this)
    }
  }
}

/** How long a closed socket may wait for the server's answer before it is let go (`ws` only). */
const CLOSE_GRACE_MS = 1000

/**
 * Ends a socket that was closed, if the server has not answered within `CLOSE_GRACE_MS`: `ws`
 * (Node) waits 30 s for that answer, which on a network gone silent held the process as long.
 * Browsers let go of a closed socket themselves.
 */
function letGo(socket: WebSocket): void {
  const { terminate } = socket as { terminate?: () => void }
  if (typeof terminate !== 'function' || socket.readyState === socket.CLOSED) return
  const timer = setTimeout(() => terminate.call(socket), CLOSE_GRACE_MS)
  ;(timer as { unref?: () => void }).unref?.()
  socket.addEventListener('close', () => clearTimeout(timer))
}
