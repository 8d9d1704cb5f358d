import { createServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { createReconnectingTransport, type WebSocketConstructor } from '../transport.ts'
import { hold, startClient, startRelay, startServer, until } from './_harness.ts'

/** A socket whose every connection attempt fails at once (the server is down). */
function refusedSockets(): { Socket: WebSocketConstructor; opened: string[] } {
  const opened: string[] = []
  class Refused extends EventTarget {
    static readonly CONNECTING = 0
    static readonly OPEN = 1
    static readonly CLOSING = 2
    static readonly CLOSED = 3
    readyState = 0
    binaryType = 'blob'
    constructor(url: string) {
      super()
      opened.push(url)
      queueMicrotask(() => {
        this.readyState = 3
        this.dispatchEvent(new Event('close'))
      })
    }
    close() {
      this.readyState = 3
    }
  }
  return { Socket: Refused as unknown as WebSocketConstructor, opened }
}

const events = { open() {}, message() {}, unreadable() {}, close() {} }

describe('the reconnecting transport', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  /** Runs timers until `count` attempts were made; the transport is then waiting out a backoff. */
  async function attempts(opened: string[], count: number): Promise<void> {
    while (opened.length < count) await vi.advanceTimersByTimeAsync(10)
  }

  it('ends a backoff at once when asked to reconnect (the browser is back online)', async () => {
    vi.useFakeTimers()
    const { Socket, opened } = refusedSockets()
    const transport = createReconnectingTransport(async () => 'ws://down.test/', events, Socket)
    transport.start()
    await attempts(opened, 4)
    // The fourth retry waits 1–2 s: a reconnect starts it now.
    await vi.advanceTimersByTimeAsync(100)
    expect(opened).toHaveLength(4)
    transport.reconnect()
    await vi.advanceTimersByTimeAsync(0)
    expect(opened.length).toBeGreaterThanOrEqual(5)
    // And the backoff starts again from its shortest delays (1 s and more before the reset).
    const before = opened.length
    await vi.advanceTimersByTimeAsync(800)
    expect(opened.length).toBeGreaterThanOrEqual(before + 2)
    expect(transport.attempt).toBeLessThanOrEqual(3)
    transport.close()
  })

  it('leaves no timer and opens no socket once closed during a backoff', async () => {
    vi.useFakeTimers()
    const { Socket, opened } = refusedSockets()
    const transport = createReconnectingTransport(async () => 'ws://down.test/', events, Socket)
    transport.start()
    await attempts(opened, 3)
    transport.close()
    // The library's own zero-delay step (between a failed attempt and asking for the next URL)
    // may still be due: past it, nothing is left.
    await vi.advanceTimersByTimeAsync(1)
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(opened).toHaveLength(3)
  })

  it('leaves no timer when closed from inside a close event', async () => {
    vi.useFakeTimers()
    const { Socket, opened } = refusedSockets()
    let transport: ReturnType<typeof createReconnectingTransport> | undefined
    transport = createReconnectingTransport(
      async () => 'ws://down.test/',
      { ...events, close: () => opened.length >= 2 && transport?.close() },
      Socket,
    )
    transport.start()
    await attempts(opened, 2)
    await vi.advanceTimersByTimeAsync(1)
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(opened).toHaveLength(2)
  })

  it('gives up an attempt that never opens and tries again, without an uncaught error (ws in Node)', async () => {
    // Accepts TCP, never answers the upgrade: a server stuck in its auth function, or a half-open
    // network. `ws` emits `error` when such a socket is closed; nobody listening ended the process.
    const held = new Set<Socket>()
    const silent = createServer((socket) => held.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = silent.address() as { port: number }
      const client = startClient(`ws://127.0.0.1:${port}`, { connectTimeoutMs: 200 })
      hold(client.group('chat', 'room-1'))
      const state = await until(client.connection, (s) => s.attempt >= 2, 5000)
      expect(state.status).toBe('reconnecting')
      expect(state.error?.code).toBe('connection')
    } finally {
      for (const socket of held) socket.destroy()
      silent.close()
    }
  })

  it('lets go of its socket soon after close() when the network has gone silent (ws in Node)', async () => {
    const server = await startServer()
    const relay = await startRelay(server.port)
    const sockets: WebSocket[] = []
    class Recorded extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args)
        sockets.push(this)
      }
    }
    const client = startClient(`ws://127.0.0.1:${relay.port}`, { WebSocket: Recorded as never })
    const room = client.group('chat', 'room-1')
    hold(room)
    await until(room, (s) => s.status === 'ready')
    relay.silence()
    client.close()
    // ws waits 30 s for the server's answer to its close frame, holding a Node process that long.
    const closedAt = Date.now()
    while (sockets.at(-1)?.readyState !== WebSocket.CLOSED && Date.now() - closedAt < 5000)
      await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sockets.at(-1)?.readyState).toBe(WebSocket.CLOSED)
    expect(Date.now() - closedAt).toBeLessThan(2000)
  })

  it('says why an attempt could not connect, where the WebSocket says', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as { port: number }
    await new Promise((resolve) => closed.close(resolve))
    const client = startClient(`ws://127.0.0.1:${port}`)
    hold(client.group('chat', 'room-1'))
    const { error } = await until(client.connection, (s) => s.error !== null, 5000)
    expect(error?.message).toBe(
      `Could not connect (connect ECONNREFUSED 127.0.0.1:${port}); retrying.`,
    )
  })

  it('reports a socket that failed as failed, not as closed normally (1000)', async () => {
    // The server sends a frame no WebSocket may carry: the client's socket fails with an error.
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    server.on('connection', (ws) => {
      ;(ws as unknown as { _socket: Socket })._socket.write(Buffer.from([0x8f, 0x00]))
    })
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const { port } = server.address() as { port: number }
      const client = startClient(`ws://127.0.0.1:${port}`)
      hold(client.group('chat', 'room-1'))
      const state = await until(client.connection, (s) => s.error !== null, 5000)
      expect(state.error?.message).toBe(
        'The connection closed (1006: Invalid WebSocket frame: invalid opcode 15); reconnecting.',
      )
    } finally {
      for (const ws of server.clients) ws.terminate()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('reads binary frames as UTF-8 text, as the engine reads its clients, and reports bytes that are not', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    const binary = (frame: unknown) => Buffer.from(JSON.stringify(frame))
    const change = (type: string, data: unknown, id: string | null) => ({
      type: 'stream',
      timestamp: 1,
      streamName: 'chat',
      groupId: 'room-1',
      id,
      event: { type, data },
    })
    server.on('connection', (ws) => {
      ws.once('message', () => {
        ws.send(binary(change('sync', [{ id: 'a', text: 'héllo' }], null)), { binary: true })
        ws.send(Buffer.from([0xff, 0xfe, 0x7b]), { binary: true })
        ws.send(binary(change('create', { id: 'b', text: 'ok' }, 'b')), { binary: true })
      })
    })
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const { port } = server.address() as { port: number }
      const errors: string[] = []
      const client = startClient(`ws://127.0.0.1:${port}`, {
        onError: (error) => errors.push(error.message),
      })
      const room = client.group<{ id: string; text: string }>('chat', 'room-1')
      hold(room)
      const { items } = await until(room, (s) => s.items.length === 2, 5000)
      expect(items).toEqual([
        { id: 'a', text: 'héllo' },
        { id: 'b', text: 'ok' },
      ])
      expect(errors).toEqual([
        'The server sent an unreadable frame: a binary frame that is not UTF-8',
      ])
      expect(client.badFrames).toBe(1)
    } finally {
      for (const ws of server.clients) ws.terminate()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
